"""ABIDE-I PCP: fMRI-LM with LoRA vs the frozen probe on the 4 largest held-out sites.

Companion of ``abide_pcp_lm_levers.py`` (issue 17, the LoRA lever). Held-out
sites NYU, UCLA_1, MAX_MUN, PITT (one fold each, the whole site tested); each
fold trains on ``--n-train`` subjects drawn from the 14 other sites
(stratified on site x diagnosis, seed 0), the same subjects for both methods:

- ``probe``: the HCP-tokenizer probe of ``bench_abide_pcp_lm.py`` (cached
  frozen features, scaler + balanced LR, C by inner 3-fold CV);
- ``LoRA``: :class:`~brainlm_decode.FMRILMClassifier` ``head="answer"`` on
  the same 8 network channels (same frozen HCP tokenizer, 8 x 5 tokens),
  Gemma-3-270M + LoRA (r=8), ``--epochs`` epochs of single-question
  instruction tuning, class-balanced, answers "autism" / "control" scored by
  log-probability. The target is a Series named ``diagnosis`` (the harness
  passes it through, so the LM is asked the diagnosis question).

Statistics through the harness (``statistic="mean"`` over the 4 sites, no
permutations: 4 folds say little; read the per-site scores).

Run::

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/abide_pcp_lm_lora.py --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_abide_pcp as base
import bench_abide_pcp_lm as lm

SITES = ("NYU", "UCLA_1", "MAX_MUN", "PITT")


class SubsetSiteSplit:
    """Leave-one-site-out on chosen sites, training on a stratified subset."""

    def __init__(self, sites: tuple[str, ...], n_train: int, seed: int = 0) -> None:
        self.sites, self.n_train, self.seed = sites, n_train, seed

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return len(self.sites)

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Any:
        from sklearn.model_selection import train_test_split

        groups = np.asarray(groups)
        y = np.asarray(y)
        for site in self.sites:
            test = np.flatnonzero(groups == site)
            pool = np.flatnonzero(groups != site)
            strata = np.char.add(groups[pool].astype(str), y[pool].astype(str))
            # strata with one member cannot be stratified: merge them by label
            values, counts = np.unique(strata, return_counts=True)
            rare = np.isin(strata, values[counts < 2])
            strata[rare] = y[pool][rare].astype(str)
            train, _ = train_test_split(
                pool,
                train_size=self.n_train,
                stratify=strata,
                random_state=self.seed,
            )
            yield np.sort(train), test


def lora_classifier(epochs: int) -> Any:
    """FMRILMClassifier, LoRA head, frozen HCP tokenizer on 8 network channels."""
    from sklearn.frozen import FrozenEstimator

    from brainlm_decode import FMRILMClassifier
    from brainlm_decode.tokenizer.pretrained import load_pretrained_tokenizer

    return FMRILMClassifier(
        tokenizer=FrozenEstimator(load_pretrained_tokenizer("hcp-rest-networks")),
        backbone="gemma-3-270m",
        token_layout="patch",
        head="answer",
        lora=True,
        n_epochs=epochs,
        paradigms=("single",),
        class_weight="balanced",
        t_r=2.0,
        device="cpu",
        random_state=0,
        verbose=0,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=",".join(SITES))
    parser.add_argument("--n-train", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-bootstrap", type=int, default=10000)
    parser.add_argument("--out", default=str(base.RESULTS / "abide_pcp_lm_lora"))
    args = parser.parse_args(argv)
    import torch
    from sklearn.pipeline import make_pipeline

    from brainlm_decode.evaluation import compare_estimators
    from brainlm_decode.lm.features import network_series

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    start = time.perf_counter()
    data, targets = base.load(None)
    lm160 = base.lm_contract(data, 160)
    channels = network_series(lm160, "cc200")
    Z, _ = lm.lm_features("lm_hcp", "diagnosis", lm160, channels)
    X = [{"channels": c, "lm_hcp": z} for c, z in zip(channels, Z, strict=True)]
    sites = np.asarray(data.site)
    words = np.asarray(base.WORDS["diagnosis"])
    y = pd.Series(words[targets["diagnosis"].astype(int)], name="diagnosis")
    models = {
        "fMRI-LM frozen, HCP tok. + LR (probe)": make_pipeline(
            base.pick("lm_hcp"), lm.probe()
        ),
        f"fMRI-LM HCP tok. + LoRA ({args.epochs} ep.)": make_pipeline(
            base.pick("channels"), lora_classifier(args.epochs)
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compare_estimators(
            models,
            X,
            y,
            cv=SubsetSiteSplit(tuple(args.sites.split(",")), args.n_train),
            groups=sites,
            pos_label="autism",
            reference=next(iter(models)),
            statistic="mean",
            n_bootstrap=args.n_bootstrap,
            n_permutations=0,
            random_state=0,
            verbose=1,
        )
    header = (
        f"# ABIDE-I PCP, fMRI-LM LoRA vs frozen probe, held-out sites "
        f"{args.sites.replace(',', ', ')} ({args.n_train} training subjects per "
        "fold from the other 14 sites, the same for both), diagnosis"
    )
    write_subset_results(Path(args.out), header, result, start, vars(args))


def site_table(result: Any, metric: str) -> list[str]:
    """Markdown rows: one per held-out site, one column per estimator."""
    table = result.split_table(metric)
    rows = ["| site | " + " | ".join(table.columns) + " |"]
    rows.append("|---|" + "---|" * table.shape[1])
    for key, row in table.iterrows():
        site = key[-1] if isinstance(key, tuple) else key
        rows.append(f"| {site} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return rows


def write_subset_results(
    out: Path,
    header: str,
    result: Any,
    start: float,
    settings: dict[str, Any],
    extra_lines: list[str] | None = None,
    extra_json: dict[str, Any] | None = None,
) -> None:
    """``out.md`` (harness table, per-site tables, costs) and ``out.json``."""
    wall = (time.perf_counter() - start) / 60
    fit = result.scores.groupby("estimator", sort=False)["fit_time"].mean()
    lines = [
        header,
        "",
        result.to_markdown(),
        "",
        "## Per held-out site (AUC)",
        "",
        *site_table(result, "roc_auc"),
        "",
        "## Per held-out site (bal. acc.)",
        "",
        *site_table(result, "balanced_accuracy"),
        "",
        *(extra_lines or []),
        "Mean fit time per fold: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in fit.items())
        + f". Wall {wall:.1f} min ({platform.machine()}, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, 2 cores shared).",
    ]
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "summary": result.summary().to_dict("records"),
                "scores": result.scores.to_dict("records"),
                "fit_s_per_fold": fit.to_dict(),
                "wall_min": wall,
                "settings": settings,
                **(extra_json or {}),
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
