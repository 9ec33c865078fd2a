"""Seed ensembles of NiCLIP training on the n-back vs flanker protocol (issue 10).

Companion of ``retrieval_ensemble.py`` (which measures retrieval) and
``bench_decoding_nback_flanker.py`` (the protocol; read its docstring): does an
ensemble of CLIP models trained with different seeds decode held-out n-back and
flanker analyses better than its members? ``--n-seeds`` models are trained with
the shipped bundle's settings on the training set of ``bench_retrieval.py``'s
``ns-add`` variant (NeuroQuery minus its test and validation splits, plus the
Neurosynth studies not in NeuroQuery; cached embeddings), each turned into a
decoder like the bundle (same ontology, task text and image space; corpus prior
from its own training texts). Each held-out analysis of the protocol's splits
(seeds 0-4) is scored by ``log P(n-back|A) - log P(flanker|A)``; an ensemble of
``--size`` models by the mean of its members' scores (disjoint ensembles:
seeds 0-2, 3-5, ...). Balanced accuracy and ROC AUC, mean +- sd over the five
splits, for every single model, every ensemble and the shipped bundle; paired
by split, the ensemble minus the mean of its members.

Usage::

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/nback_flanker_ensemble.py \\
        [--n-seeds 6] [--size 3] [--cache-dir /tmp/retr_cache]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
from pathlib import Path

import bench_decoding_nback_flanker as nf
import bench_retrieval as br
import numpy as np


def member(pretrained, text: np.ndarray, image: np.ndarray, groups, seed: int):
    """A decoder like the bundle with a CLIP model trained under ``seed``."""
    from brainlm_decode.decode.posterior import corpus_prior

    model, _ = br.train_model(text, image, groups, seed)
    decoder = copy.copy(pretrained)
    decoder.model_ = model.cpu().eval()
    decoder.logit_scale_ = float(decoder.model_.scale)
    decoder.concept_embeddings_ = None  # the bundle's live in another CLIP space
    decoder.task_embeddings_ = decoder._encode_text(
        np.asarray(pretrained.vocabulary_embeddings_, dtype=np.float32)
    )
    docs = decoder._encode_text(np.asarray(text, dtype=np.float32))
    decoder.prior_ = corpus_prior(
        decoder.logit_scale_ * docs @ decoder.task_embeddings_.T
    )
    return decoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seeds", type=int, default=6)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--cache-dir", default="/tmp/retr_cache")
    parser.add_argument(
        "--out",
        default=str(br.ROOT / "benchmarks" / "results" / "nback_flanker_ensemble"),
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from brainlm_decode import CLIPDecoder

    start = time.perf_counter()
    data = nf.load_data()
    pretrained = CLIPDecoder.from_pretrained()
    emb = nf.analysis_features(data, pretrained.image_space_)["emb"]
    text, image, groups = br.Data(Path(args.cache_dir)).training_set(
        br.VARIANTS["ns-add"]
    )
    diffs = {"shipped bundle": nf.clip_diff(pretrained, emb)}
    for seed in range(args.n_seeds):
        t0 = time.perf_counter()
        decoder = member(pretrained, text, image, groups, seed)
        diffs[f"seed {seed}"] = nf.clip_diff(decoder, emb)
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    ensembles = [
        list(range(i, i + args.size))
        for i in range(0, args.n_seeds - args.size + 1, args.size)
    ]
    for group in ensembles:
        name = f"ensemble of seeds {group[0]}-{group[-1]}"
        diffs[name] = np.mean([diffs[f"seed {k}"] for k in group], axis=0)
    index = np.arange(len(data["ids"]))
    y = data["y"]
    scores: dict[str, list[dict]] = {name: [] for name in diffs}
    for split_seed in range(args.splits):
        _, test = nf.split(data, index, split_seed)
        for name, diff in diffs.items():
            scores[name].append(nf.score(diff[test], y[test]))
    summary = {
        name: {
            key: {
                "mean": float(np.mean([r[key] for r in rows])),
                "sd": float(np.std([r[key] for r in rows], ddof=1)),
            }
            for key in ("bacc", "auc")
        }
        for name, rows in scores.items()
    }
    lines = [
        "n-back vs flanker, held-out analyses (protocol splits 0-"
        f"{args.splits - 1}): CLIP models trained with different seeds, their "
        "ensembles, and the shipped bundle; mean +- sd over the splits",
        "",
        f"{'model':<28} {'balanced acc.':>16} {'AUC':>16}",
    ]
    for name, stats in summary.items():
        lines.append(
            f"{name:<28} "
            + " ".join(
                f"{stats[k]['mean']:.3f} +- {stats[k]['sd']:.3f}".rjust(16)
                for k in ("bacc", "auc")
            )
        )
    paired = {}
    for group in ensembles:
        name = f"ensemble of seeds {group[0]}-{group[-1]}"
        for key in ("bacc", "auc"):
            ens = np.array([r[key] for r in scores[name]])
            singles = np.mean(
                [[r[key] for r in scores[f"seed {k}"]] for k in group], axis=0
            )
            d = ens - singles
            paired[f"{name} {key}"] = {"mean": float(d.mean()), "sd": float(d.std())}
            lines.append(
                f"{name}, {key}: ensemble - mean of members {d.mean():+.3f} +- "
                f"{d.std(ddof=1):.3f} (paired by split)"
            )
    lines.append(f"elapsed {time.perf_counter() - start:.0f} s")
    out = Path(args.out)
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "summary": summary,
                "paired": paired,
                "scores": scores,
                "args": vars(args),
            },
            indent=1,
        )
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
