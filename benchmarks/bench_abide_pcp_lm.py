"""ABIDE-I PCP, 771 subjects, 15 sites: the frozen fMRI-LM, leave-one-site-out and few-shot.

Companion of ``bench_abide_pcp.py`` (same data, contract, folds and harness
statistics; read its docstring first). The fMRI-LM rows here use
:class:`~brainlm_decode.lm.features.FMRILMFeatures`: ROI series (contract: TR
2 s, first 160 points, robust z-score) averaged into 8 network channels (the
seven Yeo-2011 networks + subcortex, ``networks="cc200"``), a frozen Stage 1
tokenizer, the frozen Gemma-3-270M reading the 8 x 5 fMRI tokens and the
target's question; features = mean hidden state of the fMRI tokens and the
last prompt token (1,280 values). Then the package's probe: StandardScaler +
logistic regression (balanced), ``C`` chosen among ``PROBE_CS`` by inner
3-fold CV (log-loss) on the training sites of each fold.

Why the features are computed once for all 771 subjects without leakage: the
features of a subject are a function of that subject's series alone (the
transformer's ``fit`` learns nothing; the input module is a seeded random
projection; the LM and tokenizer are frozen; checked by
``tests/lm/test_lm_features.py``), so computing them before the folds equals
computing them inside each fold. Everything fitted on labels (scaler, C, the
logistic regression) is fitted inside the folds by the harness. The tokenizers:

- ``HCP tok.``: shipped ``FMRITokenizer.from_pretrained("hcp-rest-networks")``,
  fitted on 7 unlabelled HCP rest runs (``scripts/build_pretrained_tokenizer.py``):
  nothing from ABIDE;
- ``ABIDE tok. (transductive)``: the same recipe fitted here on the network
  series of **all** 771 ABIDE subjects, without labels. Unsupervised but
  transductive: the held-out site's series shaped the tokenizer (not its
  labels). Stated as such in the tables.
- ``+ desc. context`` (``--descriptor-context``): the descriptor text of each
  subject (:class:`~brainlm_decode.FMRIDescriptorTransformer` on CC200, its
  group references and norms fitted on all 771 subjects without labels:
  transductive too) is put before the question.

Leave-one-site-out (``--targets``): one harness call per target with tangent
+ LR (the reference of the paired differences), correlation + LR and the LM
rows; descriptors + LR is not re-run (same folds, ``--reuse`` copies its rows
from ``results/abide_pcp_loso_harness_<target>.json``, marked as another call).

Few-shot (``--fewshot``): :class:`~brainlm_decode.evaluation.FewShotSiteSplit`,
10 candidates reserved per site, k = 0, 2, 4, 10 of them added to training,
the other subjects of the site tested (the same for every k), 3 draws
(``n_repeats``); statistic: mean over site x draw splits.

Run::

    nice -n 10 python benchmarks/bench_abide_pcp_lm.py --targets diagnosis,sex
    nice -n 10 python benchmarks/bench_abide_pcp_lm.py --fewshot --targets diagnosis
    nice -n 10 python benchmarks/bench_abide_pcp_lm.py --levers   # issue 17

``--levers`` (``abide_pcp_lm_levers.py``): one call on diagnosis with the HCP
tokenizer, an untrained tokenizer of the same shape, the ``roi`` layout, a
short descriptor context, and the descriptor text alone.
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

CACHE = Path(os.environ.get("BRAINLM_BENCH_CACHE", "/tmp/brainlm_abide_lm_cache"))
TOKENIZER_PARAMS = None  # filled from the shipped manifest (same recipe)
LM = {
    "lm_hcp": "fMRI-LM frozen, HCP tok. + LR",
    "lm_abide": "fMRI-LM frozen, ABIDE tok. (transductive) + LR",
    "lm_hcp_desc": "fMRI-LM frozen, HCP tok. + desc. context (transductive) + LR",
}
SHOTS = (0, 2, 4, 10)


def abide_tokenizer(channels: np.ndarray) -> Path:
    """Fit the shipped recipe on all ABIDE network series (no labels); its folder."""
    from brainlm_decode import FMRITokenizer
    from brainlm_decode.tokenizer.pretrained import pretrained_tokenizer_info

    folder = CACHE / "tokenizer-abide-transductive"
    if (folder / "config.json").is_file():
        return folder
    params = dict(pretrained_tokenizer_info("hcp-rest-networks")["params"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = FMRITokenizer(**params).fit(list(channels))
    print(
        f"ABIDE tokenizer: {time.perf_counter() - start:.0f} s, training R2 "
        f"{tok.score(list(channels)):.3f}",
        flush=True,
    )
    tok.save(folder)
    return folder


def lm_features(
    variant: str, target: str, lm160: np.ndarray, channels: np.ndarray
) -> tuple[np.ndarray, float]:
    """Features of all subjects (cached), and seconds per subject."""
    from brainlm_decode.lm.features import FMRILMFeatures
    from brainlm_decode.lm.prompts import questions_for

    path = CACHE / f"{variant}_{target}.npy"
    timing = CACHE / f"{variant}_{target}.json"
    if path.is_file() and timing.is_file():
        return np.load(path), json.loads(timing.read_text())["s_per_subject"]
    tokenizer: Any = "hcp-rest-networks"
    if variant == "lm_abide":
        tokenizer = str(abide_tokenizer(channels))
    descriptors = None
    if variant == "lm_hcp_desc":
        print("  fitting descriptors on all subjects (no labels)", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            descriptors = base.make_descriptors().fit(list(lm160))
    features = FMRILMFeatures(
        tokenizer=tokenizer,
        networks="cc200",
        question=questions_for(target)[0],
        descriptors=descriptors,
        device="cpu",
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Z = features.fit(lm160).transform(lm160)
    per = (time.perf_counter() - start) / len(lm160)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, Z)
    timing.write_text(json.dumps({"s_per_subject": per}))
    print(f"  {variant} / {target}: {per:.3f} s per subject", flush=True)
    return Z, per


def probe() -> Any:
    """The package's probe: scaler + balanced LR, C by inner 3-fold CV (log-loss)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from brainlm_decode.lm.probe import PROBE_CS

    search = GridSearchCV(
        LogisticRegression(class_weight="balanced", max_iter=2000),
        {"C": list(PROBE_CS)},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="neg_log_loss",
    )
    return make_pipeline(StandardScaler(), search)


def build_inputs(
    args: argparse.Namespace,
) -> tuple[Any, dict, list[dict], np.ndarray, dict]:
    """Data, targets, per-subject input dicts with the LM features, costs."""
    from brainlm_decode.lm.features import network_series

    data, targets = base.load(args.sites.split(",") if args.sites else None)
    start = time.perf_counter()
    lm160 = base.lm_contract(data, 160)
    channels = network_series(lm160, "cc200")
    costs: dict[str, Any] = {"contract_s": time.perf_counter() - start}
    X = [{"raw": ts} for ts in data.timeseries]
    for target in args.targets:
        for variant in args.variants:
            Z, per = lm_features(variant, target, lm160, channels)
            costs[f"{variant}_{target}_s_per_subject"] = per
            for x, z in zip(X, Z, strict=True):
                x[f"{variant}_{target}"] = z
    return data, targets, X, np.asarray(data.site), costs


def loso(args: argparse.Namespace) -> None:
    """Leave-one-site-out, one harness call per target."""
    from sklearn.pipeline import make_pipeline

    from brainlm_decode.evaluation import (
        compare_estimators,
        correlation_baseline,
        tangent_baseline,
    )

    start = time.perf_counter()
    data, targets, X, sites, costs = build_inputs(args)
    for target in args.targets:
        print(f"== {target}", flush=True)
        models = {
            "tangent + LR": tangent_baseline(C=base.C, preprocessor=base.pick("raw")),
            "correlation + LR": correlation_baseline(
                C=base.C, preprocessor=base.pick("raw")
            ),
        }
        for variant in args.variants:
            models[LM[variant]] = make_pipeline(
                base.pick(f"{variant}_{target}"), probe()
            )
        y = targets[target]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = compare_estimators(
                models,
                X,
                y,
                cv="logo",
                groups=sites,
                scoring=base.TARGETS[target][1],
                reference="tangent + LR",
                statistic="mean",
                n_bootstrap=args.n_bootstrap,
                n_permutations=args.n_permutations,
                permutation="fixed",
                random_state=0,
                verbose=1,
            )
        results = {target: base.results_dict(target, result)}
        reused = None
        previous = base.RESULTS / f"abide_pcp_loso_harness_{target}.json"
        if args.reuse and args.sites is None and previous.is_file():
            old = json.loads(previous.read_text())["results"][target]
            reused = {k: v for k, v in old.items() if k == "descriptors + LR"}
        meta = {
            "n_subjects": len(sites),
            "n_sites": len(np.unique(sites)),
            "site_sizes": {str(s): int((sites == s).sum()) for s in np.unique(sites)},
            "wall_min": (time.perf_counter() - start) / 60,
            "harness_min": (time.perf_counter() - t0) / 60,
            "machine": f"{platform.processor() or platform.machine()}, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
            "tokenizer": None,
            "costs": costs,
            "settings": {
                "C": base.C,
                "n_timepoints_lm": 160,
                "n_permutations": args.n_permutations,
                "n_bootstrap": args.n_bootstrap,
                "variants": args.variants,
                "harness": "compare_estimators(cv='logo', statistic='mean', "
                "permutation='fixed')",
            },
        }
        text = base.markdown(results, meta)
        text = text.replace(
            "# ABIDE-I PCP, leave-one-site-out",
            "# ABIDE-I PCP, frozen fMRI-LM features, leave-one-site-out",
        )
        text += notes(costs, reused, target)
        print(text, flush=True)
        out = Path(args.out) / f"abide_pcp_loso_harness_lm_{target}"
        out.with_suffix(".md").write_text(text)
        predictions = result.predictions.assign(
            SUB_ID=lambda d: np.asarray(data.subject_ids)[d["subject"].to_numpy()]
        )
        payload = {
            "meta": meta,
            "results": results,
            "reused_other_call": reused,
            "predictions": predictions.to_dict("list"),
        }
        out.with_suffix(".json").write_text(
            json.dumps(payload, indent=1, default=float)
        )


def notes(costs: dict, reused: dict | None, target: str) -> str:
    """Costs, the reused descriptor rows, and what the LM rows are."""
    lines = ["", "## fMRI-LM rows", ""]
    lines.append(
        "Frozen Gemma-3-270M on 8 network channels x 5 patches (40 fMRI tokens) + "
        "the target's question; pooled hidden states (1,280 values) computed once "
        "per subject (stateless transformer, no label and no held-out site used "
        "by the HCP tokenizer); probe = scaler + balanced LR, C by inner 3-fold "
        "CV inside each training fold. `transductive`: fitted on all 771 ABIDE "
        "series without labels (the held-out site's series included)."
    )
    per = {k: v for k, v in costs.items() if k.endswith("_s_per_subject")}
    if per:
        lines += [
            "",
            "Feature cost on this CPU (1 thread, model loading included): "
            + ", ".join(
                f"{k[: -len('_s_per_subject')]} {v:.3f} s/subject"
                for k, v in per.items()
            )
            + ".",
        ]
    if reused:
        lines += [
            "",
            "## descriptors + LR (other harness call, same folds: "
            f"`abide_pcp_loso_harness_{target}.md`; no paired difference here)",
            "",
            "| method | score | mean ± sd | 95 % CI | p | Δ vs tangent (that call) |",
            "|---|---|---|---|---|---|",
        ]
        for est, entry in reused.items():
            for name, e in entry["summary"].items():
                d = e["diff_vs_reference"]
                lines.append(
                    f"| {est} | {name} | {e['mean']:.3f} ± {e['sd']:.3f} | "
                    f"[{e['ci_low']:.3f}, {e['ci_high']:.3f}] | {e['p_value']:.4f} | "
                    f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] |"
                )
    return "\n".join(lines) + "\n"


def fewshot(args: argparse.Namespace) -> None:
    """k = 0, 2, 4, 10 shots of the held-out site; same test subjects for every k."""
    from sklearn.pipeline import make_pipeline

    from brainlm_decode.evaluation import (
        FewShotSiteSplit,
        compare_estimators,
        correlation_baseline,
        tangent_baseline,
    )
    from brainlm_decode.evaluation.stats import percentile_ci

    start = time.perf_counter()
    data, targets, X, sites, costs = build_inputs(args)
    rows, per_split = [], {}
    for target in args.targets:
        y = targets[target]
        for k in SHOTS:
            models: dict[str, Any] = {}
            if args.fewshot_tangent:
                models["tangent + LR"] = tangent_baseline(
                    C=base.C, preprocessor=base.pick("raw")
                )
            models["correlation + LR"] = correlation_baseline(
                C=base.C, preprocessor=base.pick("raw")
            )
            for variant in args.variants:
                models[LM[variant]] = make_pipeline(
                    base.pick(f"{variant}_{target}"), probe()
                )
            print(f"== {target}, k = {k}", flush=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = compare_estimators(
                    models,
                    X,
                    y,
                    cv=FewShotSiteSplit(k, args.n_candidates, random_state=0),
                    n_repeats=args.n_draws,
                    groups=sites,
                    scoring=("roc_auc", "balanced_accuracy"),
                    statistic="mean",
                    n_bootstrap=args.n_bootstrap,
                    n_permutations=0,
                    random_state=0,
                    verbose=0,
                )
            summary = result.summary()
            for est in models:
                for metric in ("roc_auc", "balanced_accuracy"):
                    row = summary[
                        (summary.estimator == est) & (summary.metric == metric)
                    ].iloc[0]
                    rows.append(
                        {
                            "target": target,
                            "k": k,
                            "method": est,
                            "metric": metric,
                            "mean": row["mean"],
                            "sd": row["sd"],
                            "ci_low": row["ci_low"],
                            "ci_high": row["ci_high"],
                            "n_splits": int(row["n_splits"]),
                            "fit_s": float(
                                result.scores.loc[
                                    result.scores.estimator == est, "fit_time"
                                ].mean()
                            ),
                        }
                    )
                    table = result.split_table(metric)[est]
                    per_split[(target, k, est, metric)] = table
    frame = pd.DataFrame(rows)
    # paired change from k = 0 (same test subjects): mean over splits, bootstrap CI
    rng = np.random.RandomState(0)
    deltas = []
    for (target, k, est, metric), table in per_split.items():
        if k == 0:
            continue
        ref = per_split[(target, 0, est, metric)]
        diff = (table - ref.reindex(table.index)).dropna().to_numpy()
        boots = np.array(
            [diff[rng.randint(0, len(diff), len(diff))].mean() for _ in range(2000)]
        )
        lo, hi = percentile_ci(boots, 0.95)
        deltas.append((target, k, est, metric, diff.mean(), lo, hi))
    delta = pd.DataFrame(
        deltas, columns=["target", "k", "method", "metric", "delta", "lo", "hi"]
    )
    merged = frame.merge(delta, on=["target", "k", "method", "metric"], how="left")
    lines = [
        f"# ABIDE-I PCP few-shot on a held-out site ({len(sites)} subjects, "
        f"{len(np.unique(sites))} sites, CC200)",
        "",
        f"`FewShotSiteSplit`: per site {args.n_candidates} candidates reserved "
        "(stratified by the target), k of them added to the 14 other sites' "
        "training subjects, the rest of the site tested (the same subjects for "
        f"every k); {args.n_draws} draws of the candidates. Mean ± sd over site x "
        "draw splits, 95 % CI by bootstrap over splits (harness, "
        "`statistic='mean'`); Δ k vs 0: paired per-split change (same test "
        "subjects), bootstrap CI over splits.",
        "",
        "| target | method | score | k | mean ± sd | 95 % CI | Δ vs k=0 [95 % CI] | splits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {"roc_auc": "AUC", "balanced_accuracy": "bal. acc."}
    for _, r in merged.iterrows():
        d = (
            "—"
            if not np.isfinite(r["delta"])
            else (f"{r['delta']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}]")
        )
        lines.append(
            f"| {r['target']} | {r['method']} | {names[r['metric']]} | {r['k']} | "
            f"{r['mean']:.3f} ± {r['sd']:.3f} | [{r['ci_low']:.3f}, {r['ci_high']:.3f}] "
            f"| {d} | {r['n_splits']} |"
        )
    lines += ["", f"Wall time {(time.perf_counter() - start) / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out) / "abide_pcp_fewshot_lm"
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(
        json.dumps(
            {"rows": merged.to_dict("records"), "costs": costs}, indent=1, default=float
        )
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=None)
    parser.add_argument("--targets", default="diagnosis,sex")
    parser.add_argument("--variants", default="lm_hcp,lm_abide", help=",".join(LM))
    parser.add_argument("--descriptor-context", action="store_true")
    parser.add_argument("--fewshot", action="store_true")
    parser.add_argument(
        "--levers",
        action="store_true",
        help="diagnosis: HCP vs untrained tokenizer vs roi layout vs descriptor "
        "context (abide_pcp_lm_levers.py)",
    )
    parser.add_argument("--fewshot-tangent", action="store_true")
    parser.add_argument("--n-candidates", type=int, default=10)
    parser.add_argument("--n-draws", type=int, default=3)
    parser.add_argument("--n-permutations", type=int, default=1000)
    parser.add_argument("--n-bootstrap", type=int, default=10000)
    parser.add_argument("--no-reuse", dest="reuse", action="store_false")
    parser.add_argument("--out", default=str(base.RESULTS))
    args = parser.parse_args(argv)
    args.targets = args.targets.split(",")
    args.variants = args.variants.split(",")
    if args.descriptor_context and "lm_hcp_desc" not in args.variants:
        args.variants.append("lm_hcp_desc")
    return args


def main(argv: list[str] | None = None) -> None:
    """Leave-one-site-out or few-shot."""
    args = parse_args(argv)
    if not (base.SHARED / "abide_pcp").is_dir():
        print(f"SKIP: {base.SHARED / 'abide_pcp'} is missing")
        return
    import torch

    torch.set_num_threads(1)
    if args.levers:
        import abide_pcp_lm_levers

        abide_pcp_lm_levers.run(args)
    else:
        fewshot(args) if args.fewshot else loso(args)


if __name__ == "__main__":
    main()
