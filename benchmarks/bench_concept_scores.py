"""Concept scores: noisy-OR over tasks vs concept text, on held-out NeuroQuery studies.

The issue-10 lever "concept scores from concept text directly, combined with the
task noisy-OR, so that one task's links cannot dominate". The pretrained
decoder scores the 915 Cognitive Atlas concepts of a map in three ways:

- ``noisy-OR`` (the default): ``1 - prod_{t measures C} (1 - P(t|A))`` over the
  task posterior;
- ``concept text``: the task likelihood's recipe applied to concepts: softmax
  over concepts of ``scale * cos(image, concept)``, a concept embedded as
  ``alpha * emb(name) + (1 - alpha) * emb(definition)`` through the CLIP text
  tower (definitions from the shipped Cognitive Atlas snapshot);
- ``mixture``: ``w * text + (1 - w) * noisy-OR`` after scaling each to sum 1
  over the concepts of the map, ``w`` chosen on the validation split.

Ground truth: a concept is *reported* by a study when its name occurs as a
whole phrase (case-insensitive) in the study's NeuroQuery text (title and
terms), the text the CLIP model was trained to retrieve. Maps: the fixed
1,000-study test split of the bundle and the 1,000 validation studies of
``bench_retrieval.py`` (both held out from the bundle's training), studies with
peaks in the space and at least one reported concept. Two views:

- *concept AUC* (the choice criterion): for each concept reported by at least
  10 maps of the split, the ROC AUC across maps of its score (do maps of
  studies about the concept score higher?), mean over concepts, paired
  differences by concept. It measures what the map adds, free of how common
  a concept's name is;
- *within-map* ranking: ROC AUC of reported vs other concepts, and Recall@10
  (share of reported concepts among the top 10), mean over maps, paired by
  map. This view rewards common names: a map-independent ranking by how often
  each concept is reported in the training studies' texts is the baseline
  in the same run.

Paired differences with a 95 % bootstrap CI (10,000 resamples).

Usage::

    OMP_NUM_THREADS=2 python benchmarks/bench_concept_scores.py \
        [--cache-dir /tmp/retr_cache]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import bench_retrieval as br
import numpy as np

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_POS = 10  # concepts reported by at least this many maps of a split


def reported(texts: list[str], names: list[str]) -> np.ndarray:
    """(n_texts, n_concepts) bool: the concept's name occurs in the text."""
    patterns = [
        re.compile(r"(?<![\w-])" + re.escape(n.lower()) + r"(?![\w-])") for n in names
    ]
    out = np.zeros((len(texts), len(names)), dtype=bool)
    for i, text in enumerate(texts):
        low = text.lower()
        for j, pattern in enumerate(patterns):
            if pattern.search(low):
                out[i, j] = True
    return out


def map_scores(scores: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-map ROC AUC and Recall@10 of the concept ranking."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)  # ties averaged
    n_pos = truth.sum(axis=1)
    n_neg = truth.shape[1] - n_pos
    auc = ((ranks * truth).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    hits = np.take_along_axis(truth, top, axis=1).sum(axis=1)
    return {"auc": auc, "recall_at_10": hits / n_pos}


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def concept_auc(scores: np.ndarray, truth: np.ndarray, min_pos: int) -> np.ndarray:
    """ROC AUC across maps of each concept reported by >= ``min_pos`` maps."""
    from sklearn.metrics import roc_auc_score

    cols = np.flatnonzero(truth.sum(axis=0) >= min_pos)
    return np.array([roc_auc_score(truth[:, j], scores[:, j]) for j in cols])


def scale_rows(p: np.ndarray) -> np.ndarray:
    return p / p.sum(axis=1, keepdims=True)


def bootstrap_ci(values: np.ndarray, n: int = 10000, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n, len(values)))].mean(axis=1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default="/tmp/retr_cache")
    parser.add_argument(
        "--out", default=str(br.ROOT / "benchmarks" / "results" / "concept_scores")
    )
    args = parser.parse_args()
    start = time.perf_counter()
    from brainlm_decode import CLIPDecoder
    from brainlm_decode.decode.posterior import task_likelihood
    from brainlm_decode.ontology import resolve_ontology

    decoder = CLIPDecoder.from_pretrained()  # concept_text_weight as shipped
    data = br.Data(Path(args.cache_dir))
    images = data.images("mni-parcels", "nq")
    texts = list(data.nq["text"])
    snapshot = resolve_ontology("snapshot")
    if list(snapshot.concept_ids) != list(decoder.ontology_.concept_ids):
        raise SystemExit("the snapshot's concepts differ from the bundle's")
    vocab = snapshot.vocabulary("concept")
    names = list(vocab["name"])
    encoder = decoder._text_encoder()
    concept_emb = decoder.alpha * unit_rows(encoder.encode(names)) + (
        1 - decoder.alpha
    ) * unit_rows(encoder.encode(list(vocab["definition"])))
    concepts = decoder._encode_text(np.asarray(concept_emb, dtype=np.float32))
    train_truth = reported([texts[i] for i in data.train], names)
    frequency = train_truth.mean(axis=0)

    def methods(rows: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        keep = rows[np.abs(images[rows]).sum(axis=1) > 0]
        truth = reported([texts[i] for i in keep], names)
        keep, truth = keep[truth.any(axis=1)], truth[truth.any(axis=1)]
        out = decoder.decode_embeddings(images[keep])
        image = decoder._encode_image(images[keep].astype(np.float32))
        text = task_likelihood(decoder.logit_scale_ * image @ concepts.T)
        noisy = scale_rows(out["concept_noisy_or"])
        scores = {"noisy-OR": out["concept_noisy_or"], "concept text": text}
        for w in WEIGHTS[1:-1]:
            scores[f"mixture w={w}"] = w * text + (1 - w) * noisy
        # the package computes the same mixture (decoder default weight)
        default = f"mixture w={decoder.concept_text_weight}"
        np.testing.assert_allclose(out["concept"], scores[default], rtol=1e-5)
        scores["training-text frequency"] = np.tile(frequency, (len(keep), 1))
        return scores, truth

    result: dict = {"n_concepts": len(names)}
    for split, rows in (("val", data.val), ("test", data.test)):
        scores, truth = methods(rows)
        per = {name: map_scores(s, truth) for name, s in scores.items()}
        for name, s in scores.items():
            if name != "training-text frequency":  # constant across maps
                per[name]["concept_auc"] = concept_auc(s, truth, MIN_POS)
        result[split] = {
            "n_maps": int(len(truth)),
            "reported_per_map": float(truth.sum(axis=1).mean()),
            "per_map": per,
        }
    val = result["val"]["per_map"]
    candidates = [n for n in val if n != "training-text frequency"]
    chosen = max(candidates, key=lambda n: val[n]["concept_auc"].mean())
    result["chosen_on_validation"] = chosen
    lines = [
        "Concept scores of the pretrained decoder on held-out NeuroQuery studies: "
        "ranking of the 915 concepts of each map against the concepts its text "
        "reports (name as a whole phrase in title + terms)",
        "",
    ]
    summary: dict = {}
    for split in ("val", "test"):
        block = result[split]
        lines.append(
            f"{split}: {block['n_maps']} maps, {block['reported_per_map']:.1f} "
            f"reported concepts per map; concept AUC over the "
            f"{len(block['per_map']['noisy-OR']['concept_auc'])} concepts reported "
            f"by >= {MIN_POS} maps (paired by concept)"
        )
        lines.append(
            f"{'method':<26} {'AUC':>8} {'d AUC vs noisy-OR [95% CI]':>30} "
            f"{'R@10':>8} {'d R@10 [95% CI]':>26} {'concept AUC':>12} "
            f"{'d [95% CI]':>26}"
        )
        ref = block["per_map"]["noisy-OR"]
        summary[split] = {}
        for name, per in block["per_map"].items():
            entry = {k: float(v.mean()) for k, v in per.items()}
            cells = []
            for key in ("auc", "recall_at_10", "concept_auc"):
                if key not in per:
                    cells.append((float("nan"), "-"))
                    continue
                diff = per[key] - ref[key]
                ci = bootstrap_ci(diff)
                entry[f"diff_{key}"] = {"mean": float(diff.mean()), "ci": ci}
                cells.append(
                    (
                        per[key].mean(),
                        f"{diff.mean():+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]",
                    )
                )
            summary[split][name] = entry
            lines.append(
                f"{name:<26} {cells[0][0]:>8.3f} {cells[0][1]:>30} "
                f"{cells[1][0]:>8.3f} {cells[1][1]:>26} {cells[2][0]:>12.3f} "
                f"{cells[2][1]:>26}"
            )
        lines.append("")
    lines.append(f"chosen on validation (mean concept AUC): {chosen}")
    lines.append(f"elapsed {time.perf_counter() - start:.0f} s")
    out = Path(args.out)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "summary": summary,
                "chosen_on_validation": chosen,
                "n_maps": {s: result[s]["n_maps"] for s in ("val", "test")},
            },
            indent=1,
        )
    )
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
