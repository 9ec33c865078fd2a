"""Seed ensembles of NiCLIP training: held-out retrieval, ensemble vs single models.

Companion of ``bench_retrieval.py`` (same corpora, splits, cache and training
settings; read its docstring first). The issue-10 lever "seed ensembles": one
variant (default ``ns-add``, the shipped bundle's setting) is trained with
``--n-seeds`` seeds; the similarity matrices of every model (1,000 validation
maps x 1,000 validation texts, the same for the fixed test split) are cached.
An ensemble of ``--size`` models scores a map against a text by the mean of its
members' cosine similarities; the seeds are cut into disjoint ensembles
(0-2, 3-5, 6-8 for 9 seeds and size 3), so the ensemble rows have a spread over
independent ensembles to compare with the spread over single models.

The choice is made on validation: the ensemble is kept only if its mean
validation Recall@10 exceeds the single models' by more than the larger of the
two sds; the test split is scored for both in the same run either way (it is
cached with the validation figures, so reporting it costs nothing), and the
choice rule is printed with it.

Usage::

    nice -n 10 env OMP_NUM_THREADS=2 python benchmarks/retrieval_ensemble.py \\
        [--variant ns-add] [--n-seeds 9] [--size 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import bench_retrieval as br
import numpy as np


def similarities(data: br.Data, variant: br.Variant, seed: int) -> dict:
    """Validation and test similarity matrices of one trained model (cached)."""
    from brainlm_decode import CLIPDecoder

    folder = data.cache / "sims"
    paths = {s: folder / f"{variant.name}_seed{seed}_{s}.npy" for s in ("val", "test")}
    if all(p.is_file() for p in paths.values()):
        return {s: np.load(p) for s, p in paths.items()}
    text, image, groups = data.training_set(variant)
    start = time.perf_counter()
    model, _ = br.train_model(text, image, groups, seed, **variant.train)
    decoder = CLIPDecoder()
    decoder.model_ = model.cpu().eval()
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, path in paths.items():
        text_emb, image_emb = data.eval_set(variant, split)
        sim = decoder._encode_image(image_emb) @ decoder._encode_text(text_emb).T
        out[split] = np.asarray(sim, dtype=np.float32)
        np.save(path, out[split])
    print(
        f"  {variant.name} seed {seed}: {time.perf_counter() - start:.0f} s", flush=True
    )
    return out


def metrics(similarity: np.ndarray) -> dict[str, float]:
    from brainlm_decode.metrics import mix_and_match, recall_at_k

    return {
        "recall_at_10": recall_at_k(similarity, k=10),
        "recall_at_100": recall_at_k(similarity, k=100),
        "mix_and_match": mix_and_match(similarity),
    }


def spread(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        key: {
            "mean": float(np.mean([r[key] for r in rows])),
            "sd": float(np.std([r[key] for r in rows], ddof=1)),
        }
        for key in rows[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="ns-add")
    parser.add_argument("--n-seeds", type=int, default=9)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument(
        "--cache-dir", default=str(Path.home() / ".cache" / "brainlm_decode" / "bench")
    )
    parser.add_argument(
        "--out", default=str(br.ROOT / "benchmarks" / "results" / "retrieval_ensemble")
    )
    args = parser.parse_args()
    start = time.perf_counter()
    data = br.Data(Path(args.cache_dir))
    variant = br.VARIANTS[args.variant]
    sims = [similarities(data, variant, seed) for seed in range(args.n_seeds)]
    groups = [
        list(range(i, i + args.size))
        for i in range(0, args.n_seeds - args.size + 1, args.size)
    ]
    result: dict = {"variant": args.variant, "ensembles": groups}
    for split in ("val", "test"):
        single = [metrics(s[split]) for s in sims]
        ensemble = [
            metrics(np.mean([sims[k][split] for k in group], axis=0))
            for group in groups
        ]
        result[split] = {
            "single": spread(single),
            "ensemble": spread(ensemble),
            "single_runs": single,
            "ensemble_runs": ensemble,
        }
    val = result["val"]
    gain = (
        val["ensemble"]["recall_at_10"]["mean"] - val["single"]["recall_at_10"]["mean"]
    )
    noise = max(
        val["ensemble"]["recall_at_10"]["sd"], val["single"]["recall_at_10"]["sd"]
    )
    result["chosen"] = "ensemble" if gain > noise else "single"
    result["elapsed_s"] = round(time.perf_counter() - start)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    lines = [
        f"NiCLIP seed ensembles ({args.variant}): Recall@k of the true text among "
        "1,000 held-out NeuroQuery studies; single = mean +- sd over "
        f"{args.n_seeds} seeds, ensemble = mean +- sd over {len(groups)} disjoint "
        f"ensembles of {args.size} (mean cosine similarity of the members)",
        "",
        f"{'split / model':<20} {'R@10':>14} {'R@100':>14} {'mix&match':>14}",
    ]
    for split in ("val", "test"):
        for kind in ("single", "ensemble"):
            stats = result[split][kind]
            lines.append(
                f"{split + ' ' + kind:<20} "
                + " ".join(f"{br._fmt(stats[k]):>14}" for k in stats)
            )
    lines += [
        "",
        f"validation R@10 gain of the ensemble {100 * gain:+.1f} points against a "
        f"seed sd of {100 * noise:.1f}: chosen on validation: {result['chosen']}",
        f"elapsed {result['elapsed_s']} s",
    ]
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
