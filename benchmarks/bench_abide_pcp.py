"""ABIDE-I PCP, 771 subjects from 15 sites: leave-one-site-out, against published figures.

Data: :func:`~brainlm_decode.datasets.load_abide_pcp` (CC200, 200 ROIs; raw series
rebuilt from z, mean and std). Folds: each of the 15 sites is held out once; every
model is fitted on the 14 other sites only. All pipelines see the same folds.

Pipelines (logistic regression, ``C=0.1``, balanced class weights, after a
``StandardScaler``, for the two classification targets; ``RidgeCV`` over
``alphas=10**[-1..5]`` for age):

- **tangent + LR**: ``nilearn`` ``ConnectivityMeasure(kind="tangent")`` (Ledoit-Wolf
  covariances; the group reference mean is learned on the training sites) on each
  subject's full-length series, z-scored per ROI;
- **correlation + LR**: the same with ``kind="correlation"`` (no learned state);
- **descriptors + LR**: :class:`~brainlm_decode.FMRIDescriptorTransformer`
  (connectivity, gradients, graph, ICA; group references and norms learned on the
  training sites) with ``networks="cc200"`` (the packaged CC200 -> Yeo-7 table), on
  the fMRI-LM input contract: :class:`~brainlm_decode.ROITimeSeriesPreprocessor`
  (per-site TR -> 2 s, first 145 points = 290 s, the shortest scan, robust
  z-score). Its site-wise variance normalisation is off: a held-out site is
  unseen by construction, and without it the preprocessor learns nothing, so it
  runs once on all subjects before the folds (no leakage).

The unsupervised part of each pipeline (connectivity, descriptors) is fitted once
per fold and shared by the three targets; only the heads differ per target.

Targets: diagnosis (autism vs control; ROC AUC, balanced accuracy), sex (female vs
male; AUC, balanced accuracy; LEUVEN_1, SBL and TRINITY have no female and give no
sex score), age (MAE in years, Pearson r).

Statistics, per pipeline and target: per-site scores; mean +- sd over sites;
pooled score over all out-of-site predictions; permutation p-value of the mean
site score (labels permuted within each site, 1,000 times, against the fixed
out-of-site predictions: a test of the association between held-out predictions
and labels, not a refit under the null); paired difference to tangent + LR (mean
over sites of the per-site difference) with a 95 % bootstrap CI over sites
(10,000 resamples).

Published anchors (other data, folds and preprocessing; shown for scale, not as
a paired comparison): Abraham et al. 2017 (NeuroImage 147: 736-745), tangent
space + l2 linear classifier, inter-site prediction on ABIDE-I (871 subjects, 16
sites): about 67 % accuracy; fMRI-LM paper, ABIDE-II ASD after UKB + ABCD
pretraining: accuracy 73-77 %, AUC 73-76 %, its baselines BrainLM 65 % / 67 % and
BrainNetCNN 56 % / 58 % (accuracy / AUC).

Also measured: the cost of the fMRI-LM Stage 1 tokenizer on CPU per
subject-epoch (``--tokenizer-only`` runs that alone).

The loop is :func:`loso_predictions`; it gives the same out-of-site predictions
a site-grouped harness would (``brainlm_decode.evaluation``, when merged), from
the estimators :func:`make_pipeline_for` builds.

Run::

    nice -n 10 python benchmarks/bench_abide_pcp.py          # ~45 min on 1 core
    python benchmarks/bench_abide_pcp.py --sites NYU,PITT,KKI   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SHARED = Path(
    os.environ.get(
        "BRAINLM_DECODE_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)
RESULTS = Path(__file__).resolve().parent / "results"
N_TIMEPOINTS = 145
C = 0.1
ALPHAS = np.logspace(-1, 5, 13)
PIPELINES = ("tangent + LR", "correlation + LR", "descriptors + LR")
REFERENCE = "tangent + LR"
TARGETS = {
    "diagnosis": ("classification", ("AUC", "bal. acc.")),
    "sex": ("classification", ("AUC", "bal. acc.")),
    "age": ("regression", ("MAE", "Pearson r")),
}
ANCHORS = [
    ("Abraham et al. 2017, tangent + linear, ABIDE-I inter-site (871 subj.)",
     "acc. ~0.67", ""),
    ("fMRI-LM paper, ABIDE-II ASD, after UKB + ABCD pretraining",
     "acc. 0.73-0.77", "AUC 0.73-0.76"),
    ("fMRI-LM paper baseline: BrainLM", "acc. 0.65", "AUC 0.67"),
    ("fMRI-LM paper baseline: BrainNetCNN", "acc. 0.56", "AUC 0.58"),
]  # fmt: skip


# --------------------------------------------------------------------------- #
# Data and pipelines
# --------------------------------------------------------------------------- #


def load(sites: list[str] | None) -> tuple[Any, dict[str, np.ndarray]]:
    """CC200 series, phenotypes and the three targets."""
    from brainlm_decode.datasets import load_abide_pcp

    data = load_abide_pcp(SHARED / "abide_pcp", atlas="cc200", sites=sites)
    pheno = data.phenotypic
    targets = {
        "diagnosis": (pheno["DX_GROUP"].to_numpy() == 1).astype(int),
        "sex": (pheno["SEX"].to_numpy() == 2).astype(int),
        "age": pheno["AGE_AT_SCAN"].to_numpy(dtype=float),
    }
    return data, targets


def preprocess_for_descriptors(data: Any) -> np.ndarray:
    """The fMRI-LM input contract, without learned state (see module docstring)."""
    from brainlm_decode import ROITimeSeriesPreprocessor

    prep = ROITimeSeriesPreprocessor(
        t_r=list(data.t_r),
        n_timepoints=N_TIMEPOINTS,
        site_normalization=False,
        constant_rois="warn",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flat ROIs of 48 subjects -> zeros
        return prep.fit_transform(data.timeseries)


def make_featurizer(name: str) -> Any:
    """Unsupervised part of a pipeline (fitted on the training sites)."""
    from nilearn.connectome import ConnectivityMeasure

    from brainlm_decode import FMRIDescriptorTransformer
    from brainlm_decode.descriptors import ICADescriptors

    if name in ("tangent + LR", "correlation + LR"):
        return ConnectivityMeasure(
            kind=name.split()[0],
            vectorize=True,
            discard_diagonal=True,
            standardize="zscore_sample",
        )
    ica = ICADescriptors(domains={"Cerebellum": "cerebellar"})
    return FMRIDescriptorTransformer(
        ["connectivity", "gradients", "graph", ica], networks="cc200", random_state=0
    )


def make_head(kind: str) -> Any:
    """Supervised head of a pipeline for a target kind."""
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "classification":
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    else:
        model = RidgeCV(alphas=ALPHAS)
    return make_pipeline(StandardScaler(), model)


def make_pipeline_for(name: str, target: str) -> Any:
    """The whole estimator of one pipeline and target (for a CV harness)."""
    from sklearn.pipeline import make_pipeline

    return make_pipeline(make_featurizer(name), make_head(TARGETS[target][0]))


# --------------------------------------------------------------------------- #
# Leave-one-site-out loop
# --------------------------------------------------------------------------- #


def _predict(head: Any, kind: str, train: Any, y: np.ndarray, test: Any) -> np.ndarray:
    """Fit a head on the training rows, return scores of the test rows."""
    head.fit(train, y)
    if kind == "classification":
        return head.predict_proba(test)[:, 1]
    return head.predict(test)


def loso_predictions(
    inputs: dict[str, Any],
    targets: dict[str, np.ndarray],
    sites: np.ndarray,
    featurizer: Callable[[str], Any] = make_featurizer,
) -> dict[tuple[str, str], np.ndarray]:
    """Out-of-site predictions of every pipeline and target.

    Parameters
    ----------
    inputs : dict
        Pipeline name -> per-subject inputs of its featurizer.
    targets : dict
        Target name -> per-subject values.
    sites : ndarray
        Site of each subject (the groups of the folds).
    featurizer : callable
        Pipeline name -> unsupervised transformer, fitted once per fold.

    Returns
    -------
    dict
        ``(pipeline, target)`` -> prediction of each subject by the model that
        did not see its site (probability of the positive class, or the value).
    """
    out = {(p, t): np.full(len(sites), np.nan) for p in inputs for t in targets}
    for k, site in enumerate(np.unique(sites)):
        test = np.flatnonzero(sites == site)
        train = np.flatnonzero(sites != site)
        for name, X in inputs.items():
            start = time.perf_counter()
            feat = featurizer(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # FastICA convergence, nilearn notes
                f_train = np.asarray(feat.fit_transform([X[i] for i in train]))
                f_test = np.asarray(feat.transform([X[i] for i in test]))
            for target, y in targets.items():
                kind = TARGETS[target][0]
                if kind == "classification" and len(np.unique(y[train])) < 2:
                    continue
                out[name, target][test] = _predict(
                    make_head(kind), kind, f_train, y[train], f_test
                )
            print(
                f"  fold {k + 1:>2} ({site:<8} n={len(test):>3}) {name:<18} "
                f"{time.perf_counter() - start:6.0f} s",
                flush=True,
            )
    return out


# --------------------------------------------------------------------------- #
# Scores and statistics
# --------------------------------------------------------------------------- #


def score(target: str, y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """The two scores of a target on one set of subjects (NaN when undefined)."""
    from scipy.stats import pearsonr
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    if TARGETS[target][0] == "classification":
        if len(np.unique(y)) < 2:
            return np.nan, np.nan
        return roc_auc_score(y, pred), balanced_accuracy_score(y, pred >= 0.5)
    r = pearsonr(y, pred)[0] if np.std(y) > 0 and np.std(pred) > 0 else np.nan
    return float(np.mean(np.abs(y - pred))), float(r)


def site_scores(
    target: str, y: np.ndarray, pred: np.ndarray, sites: np.ndarray
) -> np.ndarray:
    """Array (n_sites, 2) of the two scores per held-out site."""
    return np.array(
        [score(target, y[sites == s], pred[sites == s]) for s in np.unique(sites)]
    )


def permutation_p(
    target: str, y: np.ndarray, pred: np.ndarray, sites: np.ndarray, n: int, rng: Any
) -> float:
    """p-value of the mean site score (first score), labels permuted within sites."""
    observed = np.nanmean(site_scores(target, y, pred, sites)[:, 0])
    lower_better = TARGETS[target][0] == "regression"  # MAE
    groups = [np.flatnonzero(sites == s) for s in np.unique(sites)]
    hits = 0
    for _ in range(n):
        perm = y.copy()
        for g in groups:
            perm[g] = y[rng.permutation(g)]
        null = np.nanmean(site_scores(target, perm, pred, sites)[:, 0])
        hits += null <= observed if lower_better else null >= observed
    return (hits + 1) / (n + 1)


def paired_ci(diff: np.ndarray, n: int, rng: Any) -> tuple[float, float, float]:
    """Mean of per-site differences and its 95 % bootstrap CI over sites."""
    diff = diff[np.isfinite(diff)]
    boot = rng.choice(diff, size=(n, len(diff)), replace=True).mean(axis=1)
    return float(diff.mean()), *map(float, np.percentile(boot, [2.5, 97.5]))


def summarise(preds, targets, sites, n_perm: int, n_boot: int, seed: int = 0) -> dict:
    """All statistics, as a JSON-ready dict."""
    rng = np.random.default_rng(seed)
    site_names = [str(s) for s in np.unique(sites)]
    results: dict[str, Any] = {}
    for target, y in targets.items():
        names = TARGETS[target][1]
        per_pipe = {
            p: site_scores(target, y, preds[p, target], sites) for p in PIPELINES
        }
        for pipe in PIPELINES:
            per_site = per_pipe[pipe]
            entry = {
                "per_site": {
                    s: dict(zip(names, map(float, row), strict=True))
                    for s, row in zip(site_names, per_site, strict=True)
                },
                "n_sites_scored": int(np.isfinite(per_site[:, 0]).sum()),
                "mean": dict(zip(names, map(float, np.nanmean(per_site, 0)), strict=True)),
                "sd": dict(zip(names, map(float, np.nanstd(per_site, 0, ddof=1)), strict=True)),
                "pooled": dict(zip(names, map(float, score(target, y, preds[pipe, target])), strict=True)),
                "permutation_p": permutation_p(target, y, preds[pipe, target], sites, n_perm, rng),
            }  # fmt: skip
            if pipe != REFERENCE:
                entry["paired_vs_tangent"] = {
                    name: dict(
                        zip(
                            ("mean", "ci_low", "ci_high"),
                            paired_ci(per_site[:, j] - per_pipe[REFERENCE][:, j], n_boot, rng),
                            strict=True,
                        )
                    )
                    for j, name in enumerate(names)
                }  # fmt: skip
            results.setdefault(target, {})[pipe] = entry
    return results


# --------------------------------------------------------------------------- #
# Report
# --------------------------------------------------------------------------- #


def markdown(results: dict, meta: dict) -> str:
    """The summary, per-site and anchor tables as Markdown."""
    lines = [
        f"# ABIDE-I PCP, leave-one-site-out ({meta['n_subjects']} subjects, "
        f"{meta['n_sites']} sites, CC200)",
        "",
        "| target | pipeline | score 1 (mean ± sd over sites) | score 2 | pooled | "
        "perm. p | Δ vs tangent, score 1 [95 % CI] | Δ score 2 [95 % CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, by_pipe in results.items():
        n1, n2 = TARGETS[target][1]
        for pipe, e in by_pipe.items():
            deltas = ["—", "—"]
            if "paired_vs_tangent" in e:
                deltas = [
                    f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
                    for d in e["paired_vs_tangent"].values()
                ]
            lines.append(
                f"| {target} ({e['n_sites_scored']} sites) | {pipe} | "
                f"{n1} {e['mean'][n1]:.3f} ± {e['sd'][n1]:.3f} | "
                f"{n2} {e['mean'][n2]:.3f} ± {e['sd'][n2]:.3f} | "
                f"{e['pooled'][n1]:.3f} / {e['pooled'][n2]:.3f} | "
                f"{e['permutation_p']:.4f} | {deltas[0]} | {deltas[1]} |"
            )
    lines += ["", "## Diagnosis per held-out site (AUC / balanced accuracy)", ""]
    diag = results["diagnosis"]
    lines.append("| site | n | " + " | ".join(diag) + " |")
    lines.append("|---|---|" + "---|" * len(diag))
    for site, n in meta["site_sizes"].items():
        cells = [
            f"{diag[p]['per_site'][site]['AUC']:.3f} / "
            f"{diag[p]['per_site'][site]['bal. acc.']:.3f}"
            for p in diag
        ]
        lines.append(f"| {site} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "## Published anchors (other data and folds; for scale)", ""]
    lines += ["| source | accuracy | AUC |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in ANCHORS]
    ours = diag[REFERENCE]["mean"]
    lines.append(
        f"| this run, tangent + LR, ABIDE-I leave-one-site-out | bal. acc. "
        f"{ours['bal. acc.']:.3f} | AUC {ours['AUC']:.3f} |"
    )
    if meta.get("tokenizer"):
        tok = meta["tokenizer"]
        lines += [
            "",
            "## Stage 1 tokenizer cost on CPU",
            "",
            f"{tok['description']}: **{tok['s_per_subject_epoch']:.3f} s per "
            f"subject-epoch** ({tok['n_subjects']} subjects x {tok['n_epochs']} "
            f"epochs in {tok['fit_s']:.1f} s, {tok['threads']} thread(s)); "
            f"{tok['full_cohort_epoch_min']:.1f} min per epoch over 14 training "
            "sites (about 720 subjects).",
        ]
    lines += ["", f"Wall time {meta['wall_min']:.1f} min; {meta['machine']}."]
    return "\n".join(lines) + "\n"


def tokenizer_cost(data: Any, n_subjects: int = 16, n_epochs: int = 2) -> dict:
    """Seconds per subject-epoch of a Stage 1 tokenizer fit (paper ``small``) on CPU.

    The fMRI-LM contract input (TR 2 s, 160 points: 5 patches of 32 per ROI, so
    1,000 tokens per CC200 subject), reconstruction + VQ losses only
    (``backbone=None, text_encoder=None``: the alignment terms would add the
    LLM/text encoder forward passes). The first epoch includes the k-means
    initialisation of the codebook.
    """
    import torch

    from brainlm_decode import FMRITokenizer, ROITimeSeriesPreprocessor

    prep = ROITimeSeriesPreprocessor(
        t_r=list(data.t_r[:n_subjects]), site_normalization=False, constant_rois="warn"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = prep.fit_transform(data.timeseries[:n_subjects])
    tok = FMRITokenizer(
        size="small",
        backbone=None,
        text_encoder=None,
        n_epochs=n_epochs,
        device="cpu",
        batch_size=8,
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok.fit(list(X))
    fit_s = time.perf_counter() - start
    per = fit_s / (n_subjects * n_epochs)
    return {
        "description": (
            f"FMRITokenizer(size='small': 12 layers, width 384), {X.shape[2]} CC200 "
            f"ROIs x {X.shape[1]} points, batch 8, reconstruction + VQ losses"
        ),
        "n_subjects": n_subjects,
        "n_epochs": n_epochs,
        "fit_s": fit_s,
        "s_per_subject_epoch": per,
        "full_cohort_epoch_min": per * 720 / 60,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    """Load, run the folds, print and save the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=None, help="comma-separated subset")
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument("--n-bootstrap", type=int, default=10000)
    parser.add_argument("--tokenizer-only", action="store_true")
    parser.add_argument("--no-tokenizer", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "abide_pcp_loso"))
    args = parser.parse_args()
    if not (SHARED / "abide_pcp").is_dir():
        print(f"SKIP: {SHARED / 'abide_pcp'} is missing")
        return
    start = time.perf_counter()
    data, targets = load(args.sites.split(",") if args.sites else None)
    sites = data.site
    X_desc = preprocess_for_descriptors(data)
    print(f"{len(sites)} subjects, {len(np.unique(sites))} sites, CC200", flush=True)
    tok = None if args.no_tokenizer else tokenizer_cost(data)
    if tok:
        print(
            f"Stage 1 tokenizer: {tok['s_per_subject_epoch']:.3f} s per subject-epoch"
        )
    if args.tokenizer_only:
        return
    inputs = {
        "tangent + LR": data.timeseries,
        "correlation + LR": data.timeseries,
        "descriptors + LR": list(X_desc),
    }
    preds = loso_predictions(inputs, targets, sites)
    results = summarise(preds, targets, sites, args.n_permutations, args.n_bootstrap)
    import platform

    meta = {
        "n_subjects": len(sites),
        "n_sites": len(np.unique(sites)),
        "site_sizes": {str(s): int((sites == s).sum()) for s in np.unique(sites)},
        "wall_min": (time.perf_counter() - start) / 60,
        "machine": f"{platform.processor() or platform.machine()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "tokenizer": tok,
        "settings": {"C": C, "n_timepoints": N_TIMEPOINTS,
                     "n_permutations": args.n_permutations,
                     "n_bootstrap": args.n_bootstrap},
    }  # fmt: skip
    text = markdown(results, meta)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    pred_table = pd.DataFrame({"SUB_ID": data.subject_ids, "site": sites})
    for (pipe, target), p in preds.items():
        pred_table[f"{pipe}|{target}"] = p
    payload = {
        "meta": meta,
        "results": results,
        "predictions": pred_table.to_dict("list"),
    }
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=float))


if __name__ == "__main__":
    main()
