"""ABIDE-I PCP, 771 subjects from 15 sites: leave-one-site-out, against published figures.

Data: :func:`~brainlm_decode.datasets.load_abide_pcp` (CC200, 200 ROIs; raw series
rebuilt from z, mean and std). Folds: each of the 15 sites is held out once; every
model is fitted on the 14 other sites only. Everything runs through the package's
harness, :func:`brainlm_decode.evaluation.compare_estimators` with ``cv="logo"``
(groups = sites), so all methods see the same folds and the statistics are those
of ``bench_lm.py``.

Methods (``--methods``; logistic regression ``C=0.1``, balanced class weights,
after a ``StandardScaler``, for the classification targets; ``RidgeCV`` over
``alphas=10**[-1..5]`` for age, through the baselines' ``head=``):

- ``tangent``: :func:`~brainlm_decode.evaluation.tangent_baseline`, nilearn
  ``ConnectivityMeasure(kind="tangent")`` (Ledoit-Wolf covariances; the group
  reference mean is learned on the training sites) on each subject's full-length
  series, z-scored per ROI; the reference of the paired differences;
- ``correlation``: :func:`~brainlm_decode.evaluation.correlation_baseline`, the
  same with ``kind="correlation"``;
- ``descriptors``: :func:`~brainlm_decode.evaluation.descriptor_baseline` with
  :class:`~brainlm_decode.FMRIDescriptorTransformer` (connectivity, gradients,
  graph, ICA; group references and norms learned on the training sites),
  ``networks="cc200"``, on the fMRI-LM input contract:
  :class:`~brainlm_decode.ROITimeSeriesPreprocessor` (per-site TR -> 2 s, first
  145 points = 290 s, the shortest scan, robust z-score). Its site-wise variance
  normalisation is off: a held-out site is unseen by construction, and without it
  the preprocessor learns nothing, so it runs once on all subjects before the
  folds (no leakage);
- ``lm-probe`` (optional, off by default, never run so far): the frozen fMRI-LM,
  :class:`~brainlm_decode.FMRILMClassifier` ``head="probe"`` (Gemma-3-270M frozen,
  ``network`` layout over the CC200 -> Yeo-7 table, logistic probe on pooled
  hidden states), with a per-fold Stage 1 tokenizer (2 layers, width 64, 10
  epochs: ``bench_lm.py``'s settings) on the same contract at 160 points.
  Classification targets only; needs the Gemma and MiniLM weights in the local
  Hugging Face cache. Cost, not measured on this cohort: on ABIDE PITT one fit
  took about 40 s for 45 training subjects (116 ROIs); a fold here trains on
  about 720 subjects with 200 ROIs, so expect tens of minutes per fold on CPU
  and several hours for 15 folds per target (use a GPU: ``--device cuda``).

Targets (``--targets``): diagnosis (autism vs control; ROC AUC, balanced
accuracy), sex (female vs male; AUC, balanced accuracy; LEUVEN_1, SBL and TRINITY
have no female: the harness skips these test folds and reports them), age (MAE
in years, Pearson r). Each target is one harness run (the unsupervised part is
refitted per target; the old loop shared it, same numbers).

Statistics (harness, ``statistic="mean"``): per-site scores; mean +- sd over
sites; 95 % CI of the mean site score by bootstrap over sites; pooled score over
all out-of-site predictions; permutation p-value of the mean site score (labels
permuted within sites against the fixed out-of-site predictions,
``permutation="fixed"``: a test of the association between held-out predictions
and labels, not a refit under the null); paired difference to tangent + LR
(mean over sites of the per-site difference) with a 95 % bootstrap CI over sites.

Published anchors (other data, folds and preprocessing; shown for scale, not as
a paired comparison): Abraham et al. 2017 (NeuroImage 147: 736-745), tangent
space + l2 linear classifier, inter-site prediction on ABIDE-I (871 subjects, 16
sites): about 67 % accuracy; fMRI-LM paper, ABIDE-II ASD after UKB + ABCD
pretraining: accuracy 73-77 %, AUC 73-76 %, its baselines BrainLM 65 % / 67 % and
BrainNetCNN 56 % / 58 % (accuracy / AUC).

Also measured: the cost of the fMRI-LM Stage 1 tokenizer on CPU per
subject-epoch (``--tokenizer-only`` runs that alone; ``--no-tokenizer`` skips it).

Run::

    nice -n 10 python benchmarks/bench_abide_pcp.py --no-tokenizer   # ~45 min, 1 core
    nice -n 10 python benchmarks/bench_abide_pcp.py --targets diagnosis --no-tokenizer
    python benchmarks/bench_abide_pcp.py --sites NYU,PITT,KKI --n-permutations 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
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
METHODS = {
    "tangent": "tangent + LR",
    "correlation": "correlation + LR",
    "descriptors": "descriptors + LR",
    "lm-probe": "fMRI-LM probe (Gemma frozen)",
}
DEFAULT_METHODS = ("tangent", "correlation", "descriptors")
REFERENCE = "tangent + LR"
#: target -> (kind, harness metrics, display names)
TARGETS = {
    "diagnosis": ("classification", ("roc_auc", "balanced_accuracy"), ("AUC", "bal. acc.")),
    "sex": ("classification", ("roc_auc", "balanced_accuracy"), ("AUC", "bal. acc.")),
    "age": ("regression", ("neg_mean_absolute_error", "pearson_r"), ("MAE", "Pearson r")),
}  # fmt: skip
#: classification targets as words (0, 1): what the fMRI-LM reads and answers
WORDS = {"diagnosis": ("control", "autism"), "sex": ("male", "female")}
ANCHORS = [
    ("Abraham et al. 2017, tangent + linear, ABIDE-I inter-site (871 subj.)",
     "acc. ~0.67", ""),
    ("fMRI-LM paper, ABIDE-II ASD, after UKB + ABCD pretraining",
     "acc. 0.73-0.77", "AUC 0.73-0.76"),
    ("fMRI-LM paper baseline: BrainLM", "acc. 0.65", "AUC 0.67"),
    ("fMRI-LM paper baseline: BrainNetCNN", "acc. 0.56", "AUC 0.58"),
]  # fmt: skip


# --------------------------------------------------------------------------- #
# Data and estimators
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


def lm_contract(data: Any, n_timepoints: int = N_TIMEPOINTS) -> np.ndarray:
    """The fMRI-LM input contract, without learned state (see module docstring)."""
    from brainlm_decode import ROITimeSeriesPreprocessor

    prep = ROITimeSeriesPreprocessor(
        t_r=list(data.t_r),
        n_timepoints=n_timepoints,
        site_normalization=False,
        constant_rois="warn",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flat ROIs of 48 subjects -> zeros
        return prep.fit_transform(data.timeseries)


def _pick(X: list[dict[str, np.ndarray]], key: str) -> list[np.ndarray]:
    return [x[key] for x in X]


def pick(key: str) -> Any:
    """First step of every pipeline: the input it reads from each subject's dict."""
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(_pick, kw_args={"key": key})


def make_descriptors() -> Any:
    """The four descriptor families on CC200 (ICA cerebellar domain named)."""
    from brainlm_decode import FMRIDescriptorTransformer
    from brainlm_decode.descriptors import ICADescriptors

    ica = ICADescriptors(domains={"Cerebellum": "cerebellar"})
    return FMRIDescriptorTransformer(
        ["connectivity", "gradients", "graph", ica], networks="cc200", random_state=0
    )


def make_lm_probe(device: str = "cpu") -> Any:
    """fMRI-LM, frozen Gemma + logistic probe (``bench_lm.py``'s tokenizer)."""
    from brainlm_decode import FMRILMClassifier, FMRITokenizer

    tokenizer = FMRITokenizer(
        size={"n_layers": 2, "embed_dim": 64, "n_heads": 4},
        patch_size=32,
        quantizer_params={"codebook_size": 256},
        decoder_layers=1,
        n_epochs=10,
        learning_rate=1e-3,
        min_learning_rate=1e-4,
        batch_size=8,
        backbone="gemma-3-270m",
        text_encoder="minilm",
        device=device,
        random_state=0,
    )
    return FMRILMClassifier(
        tokenizer=tokenizer,
        descriptors=make_descriptors(),
        backbone="gemma-3-270m",
        token_layout="network",
        networks="cc200",
        head="probe",
        t_r=2.0,
        device=device,
        random_state=0,
        verbose=0,
    )


def estimators(target: str, methods: list[str], device: str = "cpu") -> dict[str, Any]:
    """The compared pipelines of one target; each reads its input by key."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline

    from brainlm_decode.evaluation import (
        correlation_baseline,
        descriptor_baseline,
        tangent_baseline,
    )

    regression = TARGETS[target][0] == "regression"

    def head() -> Any:
        return RidgeCV(alphas=ALPHAS) if regression else None

    make = {
        "tangent": lambda: tangent_baseline(C=C, preprocessor=pick("raw"), head=head()),
        "correlation": lambda: correlation_baseline(
            C=C, preprocessor=pick("raw"), head=head()
        ),
        "descriptors": lambda: descriptor_baseline(
            make_descriptors(), C=C, preprocessor=pick("lm"), head=head()
        ),
        "lm-probe": lambda: make_pipeline(pick("lm160"), make_lm_probe(device)),
    }
    out = {}
    for m in methods:
        if m == "lm-probe" and regression:
            print(f"  {METHODS[m]}: classification only, not run for {target}")
            continue
        out[method_name(m, target)] = make[m]()
    return out


def method_name(method: str, target: str) -> str:
    """Display name: ``+ LR`` for the classification targets, ``+ ridge`` for age."""
    name = METHODS[method]
    return name.replace("+ LR", "+ ridge") if target == "age" else name


def inputs(data: Any, methods: list[str]) -> list[dict[str, np.ndarray]]:
    """One dict per subject: raw series, and the LM contract where needed."""
    X = [{"raw": ts} for ts in data.timeseries]
    keys = {"descriptors": ("lm", N_TIMEPOINTS), "lm-probe": ("lm160", 160)}
    for method, (key, n) in keys.items():
        if method in methods:
            for x, series in zip(X, lm_contract(data, n), strict=True):
                x[key] = series
    return X


# --------------------------------------------------------------------------- #
# Harness runs
# --------------------------------------------------------------------------- #


def run_target(
    target: str,
    X: list[dict[str, np.ndarray]],
    y: np.ndarray,
    sites: np.ndarray,
    methods: list[str],
    args: argparse.Namespace,
) -> Any:
    """One harness run: leave-one-site-out, statistics over sites."""
    from brainlm_decode.evaluation import compare_estimators

    keep = np.flatnonzero(np.isfinite(y))
    models = estimators(target, methods, args.device)
    y_kept: Any = y[keep]
    pos_label = None
    if target in WORDS:
        # a named Series of words: the fMRI-LM asks about the target's name with
        # answer words ("autism" / "control"), not about "target" with "0" / "1"
        y_kept = pd.Series(np.asarray(WORDS[target])[y_kept.astype(int)], name=target)
        pos_label = WORDS[target][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA convergence, nilearn notes
        return compare_estimators(
            models,
            [X[i] for i in keep],
            y_kept,
            pos_label=pos_label,
            cv="logo",
            groups=sites[keep],
            scoring=TARGETS[target][1],
            reference=method_name("tangent", target) if "tangent" in methods else None,
            statistic="mean",
            n_bootstrap=args.n_bootstrap,
            n_permutations=args.n_permutations,
            permutation="fixed",
            random_state=0,
            verbose=1,
        )


def results_dict(target: str, result: Any) -> dict[str, Any]:
    """JSON-ready statistics of one target (MAE as a positive number)."""
    kind, metrics, names = TARGETS[target]
    sign = {m: -1.0 if m.startswith("neg_") else 1.0 for m in metrics}
    out: dict[str, Any] = {}
    summary = result.summary()
    for est in dict.fromkeys(summary["estimator"]):
        entry: dict[str, Any] = {"per_site": {}, "summary": {}}
        for metric, name in zip(metrics, names, strict=True):
            row = summary[(summary.estimator == est) & (summary.metric == metric)]
            row = row.iloc[0]
            s = sign[metric]
            lo, hi = sorted((s * row["ci_low"], s * row["ci_high"]))
            dlo, dhi = sorted((s * row["diff_ci_low"], s * row["diff_ci_high"]))
            entry["summary"][name] = {
                "mean": s * row["mean"],
                "sd": row["sd"],
                "ci_low": lo,
                "ci_high": hi,
                "pooled": s * row["pooled"],
                "p_value": row["p_value"],
                "n_sites_scored": int(row["n_splits"]),
                "n_sites_skipped": int(row["n_skipped"]),
                "diff_vs_reference": None
                if not np.isfinite(row["diff_mean"])
                else {"mean": s * row["diff_mean"], "ci_low": dlo, "ci_high": dhi},
            }
            table = result.split_table(metric)[est]
            for (_, _, site), value in table.items():
                entry["per_site"].setdefault(site, {})[name] = s * value
        entry["fit_s_per_fold"] = float(
            result.scores.loc[result.scores.estimator == est, "fit_time"].mean()
        )
        out[est] = entry
    return out


# --------------------------------------------------------------------------- #
# Report
# --------------------------------------------------------------------------- #


def _f(value: float, digits: int = 3) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def markdown(results: dict, meta: dict) -> str:
    """The summary, per-site and anchor tables as Markdown."""
    lines = [
        f"# ABIDE-I PCP, leave-one-site-out ({meta['n_subjects']} subjects, "
        f"{meta['n_sites']} sites, CC200), through `compare_estimators`",
        "",
        "Mean ± sd over held-out sites; 95 % CI of the mean by bootstrap over "
        "sites; p: labels permuted within sites against the fixed out-of-site "
        f"predictions ({meta['settings']['n_permutations']} permutations); Δ: "
        "paired per-site difference to tangent + LR (ridge for age), 95 % "
        "bootstrap CI over sites.",
        "",
        "| target | method | score | mean ± sd | 95 % CI | pooled | p | "
        "Δ vs tangent [95 % CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, by_est in results.items():
        for est, entry in by_est.items():
            for name, e in entry["summary"].items():
                d = e["diff_vs_reference"]
                delta = (
                    "—"
                    if d is None
                    else f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
                )
                lines.append(
                    f"| {target} ({e['n_sites_scored']} sites) | {est} | {name} | "
                    f"{_f(e['mean'])} ± {_f(e['sd'])} | [{_f(e['ci_low'])}, "
                    f"{_f(e['ci_high'])}] | {_f(e['pooled'])} | {_f(e['p_value'], 4)} "
                    f"| {delta} |"
                )
    for target, by_est in results.items():
        n1, n2 = TARGETS[target][2]
        lines += ["", f"## {target} per held-out site ({n1} / {n2})", ""]
        lines.append("| site | n | " + " | ".join(by_est) + " |")
        lines.append("|---|---|" + "---|" * len(by_est))
        for site, n in meta["site_sizes"].items():
            cells = []
            for entry in by_est.values():
                s = entry["per_site"].get(site, {})
                a, b = s.get(n1, np.nan), s.get(n2, np.nan)
                cells.append("skipped" if not np.isfinite(a) else f"{_f(a)} / {_f(b)}")
            lines.append(f"| {site} | {n} | " + " | ".join(cells) + " |")
        fits = ", ".join(
            f"{est} {entry['fit_s_per_fold']:.0f} s" for est, entry in by_est.items()
        )
        lines += [
            "",
            f"Mean fit time per fold (harness fit_time, prediction not included): {fits}.",
        ]
    if "diagnosis" in results and REFERENCE in results["diagnosis"]:
        ours = results["diagnosis"][REFERENCE]["summary"]
        lines += ["", "## Published anchors (other data and folds; for scale)", ""]
        lines += ["| source | accuracy | AUC |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in ANCHORS]
        lines.append(
            f"| this run, tangent + LR, ABIDE-I leave-one-site-out | bal. acc. "
            f"{ours['bal. acc.']['mean']:.3f} | AUC {ours['AUC']['mean']:.3f} |"
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=None, help="comma-separated subset")
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help=f"comma-separated, among {', '.join(TARGETS)}",
    )
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated, among {', '.join(METHODS)} (lm-probe: see docstring)",
    )
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument("--n-bootstrap", type=int, default=10000)
    parser.add_argument("--device", default="cpu", help="lm-probe only")
    parser.add_argument("--tokenizer-only", action="store_true")
    parser.add_argument("--no-tokenizer", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "abide_pcp_loso"))
    args = parser.parse_args(argv)
    args.targets = args.targets.split(",")
    args.methods = args.methods.split(",")
    bad = [t for t in args.targets if t not in TARGETS] + [
        m for m in args.methods if m not in METHODS
    ]
    if bad:
        parser.error(f"unknown target(s) or method(s): {bad}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Load, run the harness per target, print and save the tables."""
    args = parse_args(argv)
    if not (SHARED / "abide_pcp").is_dir():
        print(f"SKIP: {SHARED / 'abide_pcp'} is missing")
        return
    start = time.perf_counter()
    data, targets = load(args.sites.split(",") if args.sites else None)
    sites = np.asarray(data.site)
    print(f"{len(sites)} subjects, {len(np.unique(sites))} sites, CC200", flush=True)
    tok = None if args.no_tokenizer else tokenizer_cost(data)
    if tok:
        print(
            f"Stage 1 tokenizer: {tok['s_per_subject_epoch']:.3f} s per subject-epoch"
        )
    if args.tokenizer_only:
        return
    X = inputs(data, args.methods)
    results, pred_table = {}, pd.DataFrame({"SUB_ID": data.subject_ids, "site": sites})
    for target in args.targets:
        print(f"== {target}", flush=True)
        result = run_target(target, X, targets[target], sites, args.methods, args)
        results[target] = results_dict(target, result)
        print(result.to_markdown(), flush=True)
        keep = np.flatnonzero(np.isfinite(targets[target]))
        for est, part in result.predictions.groupby("estimator", sort=False):
            column = np.full(len(sites), np.nan)
            column[keep] = part["value" if part["value"].notna().any() else "y_pred"]
            pred_table[f"{est}|{target}"] = column
    meta = {
        "n_subjects": len(sites),
        "n_sites": len(np.unique(sites)),
        "site_sizes": {str(s): int((sites == s).sum()) for s in np.unique(sites)},
        "wall_min": (time.perf_counter() - start) / 60,
        "machine": f"{platform.processor() or platform.machine()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "tokenizer": tok,
        "settings": {
            "C": C,
            "n_timepoints": N_TIMEPOINTS,
            "n_permutations": args.n_permutations,
            "n_bootstrap": args.n_bootstrap,
            "targets": args.targets,
            "methods": args.methods,
            "harness": "compare_estimators(cv='logo', statistic='mean', "
            "permutation='fixed')",
        },
    }
    text = markdown(results, meta)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    payload = {
        "meta": meta,
        "results": results,
        "predictions": pred_table.to_dict("list"),
    }
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=float))


if __name__ == "__main__":
    main()
