"""Compare estimators on identical folds: scores, CIs, p-values, differences.

:func:`compare_estimators` fits every estimator on the same repeated or
group-held-out splits (:func:`~brainlm_decode.evaluation.make_splits`), keeps the
out-of-fold predictions, and derives from them per-fold scores (mean +- sd),
stratified-bootstrap confidence intervals, permutation p-values and paired
differences against a reference estimator
(:class:`~brainlm_decode.evaluation.ComparisonResult`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from brainlm_decode.base import log
from brainlm_decode.evaluation.result import ComparisonResult
from brainlm_decode.evaluation.splits import Split, make_splits
from brainlm_decode.evaluation.stats import (
    METRICS,
    bootstrap_indices,
    percentile_ci,
    permutation_pvalue,
    score,
)

__all__ = ["compare_estimators"]

_OWNER = "compare_estimators"
_PERMUTATION_MODES = ("refit", "fixed")
_STATISTICS = ("pooled", "mean")
_SKIP_TRAIN = "training fold holds one class"
_SKIP_TEST = "test fold holds one class"


def _take(X: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a list, array or DataFrame of subjects."""
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[index]
    if isinstance(X, np.ndarray):
        return X[index]
    return [X[i] for i in index]


class _Task:
    """Label encoding: binary (0/1 with the positive class), multiclass, regression."""

    def __init__(self, y: np.ndarray, classification: bool, pos_label: Any) -> None:
        self.classification = classification
        self.classes = np.unique(y) if classification else None
        self.binary = classification and self.classes.size == 2
        if self.binary:
            self.pos_label = self.classes[-1] if pos_label is None else pos_label
            if self.pos_label not in set(self.classes.tolist()):
                raise ValueError(
                    f"The 'pos_label' argument of {_OWNER} must be one of "
                    f"{self.classes.tolist()}. Got {pos_label!r}."
                )

    def encode(self, labels: Any) -> np.ndarray:
        labels = np.asarray(labels)
        if not self.classification:
            return labels.astype(float)
        if self.binary:
            return (labels == self.pos_label).astype(int)
        return np.searchsorted(self.classes, labels)

    def value(self, estimator: Any, X: Any) -> np.ndarray | None:
        """Positive-class probability (binary), class probabilities, or None."""
        if not self.classification:
            return None
        if hasattr(estimator, "predict_proba"):
            proba = np.asarray(estimator.predict_proba(X), dtype=float)
            classes = list(np.asarray(estimator.classes_).tolist())
            if self.binary:
                return proba[:, classes.index(self.pos_label)]
            out = np.zeros((proba.shape[0], self.classes.size))
            for j, c in enumerate(classes):
                out[:, int(np.searchsorted(self.classes, c))] = proba[:, j]
            return out
        if hasattr(estimator, "decision_function") and self.binary:
            value = np.asarray(estimator.decision_function(X), dtype=float)
            classes = list(np.asarray(estimator.classes_).tolist())
            return value if classes[-1] == self.pos_label else -value
        return None


def _check_estimators(estimators: Any) -> dict[str, Any]:
    if not isinstance(estimators, Mapping) or not estimators:
        raise TypeError(
            f"The 'estimators' argument of {_OWNER} must be a non-empty dict of "
            f"name -> estimator. Got {type(estimators).__name__}."
        )
    for name, est in estimators.items():
        if not hasattr(est, "fit") or not hasattr(est, "predict"):
            raise TypeError(
                f"Estimator {name!r} of {_OWNER} must have fit and predict methods. "
                f"Got {type(est).__name__}."
            )
    return {str(k): v for k, v in estimators.items()}


def _modes(permutation: Any, names: Sequence[str]) -> dict[str, str]:
    if isinstance(permutation, str):
        permutation = dict.fromkeys(names, permutation)
    modes = {name: str(permutation.get(name, "refit")) for name in names}
    bad = {k: v for k, v in modes.items() if v not in _PERMUTATION_MODES}
    if bad:
        raise ValueError(
            f"The 'permutation' argument of {_OWNER} must be one of "
            f"{_PERMUTATION_MODES} (or a dict of them per estimator). Got {bad}."
        )
    return modes


def _fit_predict(
    estimator: Any, X: Any, y: Any, split: Split, task: _Task
) -> tuple[np.ndarray, np.ndarray | None, float, float]:
    model = clone(estimator)
    start = time.perf_counter()
    model.fit(_take(X, split.train), _take(y, split.train))
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    X_test = _take(X, split.test)
    pred = task.encode(model.predict(X_test))
    value = task.value(model, X_test)
    return pred, value, fit_time, time.perf_counter() - start


class _OOF:
    """Out-of-fold predictions of one estimator, one row per repeat."""

    def __init__(self, n_repeats: int, n: int, task: _Task) -> None:
        self.pred = np.full((n_repeats, n), np.nan)
        shape = (n_repeats, n)
        if task.classification and not task.binary:
            shape = (n_repeats, n, task.classes.size)
        self.value = np.full(shape, np.nan)
        self.has_value = True
        self.task = task

    def pooled(self, metric: str, y: np.ndarray, index: Any = slice(None)) -> float:
        """Metric of the pooled out-of-fold predictions, mean over repeats."""
        values = []
        for r in range(self.pred.shape[0]):
            pred = self.pred[r][index]
            ok = np.isfinite(pred)  # subjects of skipped folds have no prediction
            if not ok.any():
                continue
            value = self.value[r][index][ok] if self.has_value else None
            values.append(
                _split_score(self.task, metric, y[index][ok], pred[ok], value)
            )
        return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan

    def split_mean(
        self, metric: str, y: np.ndarray, splits: Sequence[Split], task: _Task
    ) -> float:
        """Mean over ``splits`` of the per-split scores (skipped splits left out)."""
        values = [
            _split_score(
                task,
                metric,
                y[s.test],
                self.pred[s.repeat, s.test],
                self.value[s.repeat, s.test] if self.has_value else None,
            )
            for s in splits
        ]
        return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan


def _skip_reason(task: _Task, y_enc: np.ndarray, split: Split) -> str | None:
    """Why a split cannot be scored (classification with one class), or None."""
    if not task.classification:
        return None
    if np.unique(y_enc[split.train]).size < 2:
        return _SKIP_TRAIN
    if np.unique(y_enc[split.test]).size < 2:
        return _SKIP_TEST
    return None


def _split_score(
    task: _Task, metric: str, y: np.ndarray, pred: np.ndarray, value: Any
) -> float:
    """Score of one test split; NaN when it holds one class or no prediction."""
    if np.isnan(pred).any() or (task.classification and np.unique(y).size < 2):
        return float("nan")
    if metric == "roc_auc" and value is None:
        return float("nan")
    return score(metric, y, pred, value)


def _group_label(groups: np.ndarray | None, split: Split) -> str | None:
    """Held-out group(s) of a split, e.g. the site of a leave-one-site-out fold."""
    if groups is None:
        return None
    return "+".join(str(g) for g in np.unique(groups[split.test]))


def _run_estimator(
    name: str,
    estimator: Any,
    X: Any,
    y: Any,
    y_enc: np.ndarray,
    splits: list[Split],
    task: _Task,
    scoring: Sequence[str],
    verbose: int,
    groups: np.ndarray | None = None,
) -> tuple[_OOF, list[dict[str, Any]]]:
    n_repeats = max(s.repeat for s in splits) + 1
    oof = _OOF(n_repeats, len(y_enc), task)
    rows = []
    for k, split in enumerate(splits):
        skipped = _skip_reason(task, y_enc, split)
        group = _group_label(groups, split)
        where = f"repeat {split.repeat}, fold {split.fold}" + (
            f", {group}" if group is not None else ""
        )
        if skipped == _SKIP_TRAIN:
            value, fit_time, predict_time = None, np.nan, np.nan
            scores = dict.fromkeys(scoring, np.nan)
        else:
            pred, value, fit_time, predict_time = _fit_predict(
                estimator, X, y, split, task
            )
            oof.pred[split.repeat, split.test] = pred
            if value is None:
                oof.has_value = False
            else:
                oof.value[split.repeat, split.test] = value
            scores = {
                m: _split_score(task, m, y_enc[split.test], pred, value)
                for m in scoring
                if value is not None or m != "roc_auc"
            }
        for metric, result in scores.items():
            rows.append(
                {
                    "estimator": name,
                    "repeat": split.repeat,
                    "fold": split.fold,
                    "group": group,
                    "metric": metric,
                    "score": result,
                    "skipped": skipped,
                    "fit_time": fit_time,
                    "predict_time": predict_time,
                    "n_train": split.train.size,
                    "n_test": split.test.size,
                }
            )
        text = ", ".join(f"{m} {v:.3f}" for m, v in scores.items())
        if skipped:
            text = f"skipped ({skipped})"
        log(
            f"{name}: split {k + 1}/{len(splits)} ({where}) {text}; fit "
            f"{fit_time:.1f} s",
            verbose=verbose,
            owner=_OWNER,
        )
    return oof, rows


def _permuted_labels(
    n_permutations: int, n: int, groups: np.ndarray | None, random_state: Any
) -> list[np.ndarray]:
    """Permutations of 0..n-1 (within groups when given)."""
    rng = np.random.RandomState(random_state)
    out = []
    for _ in range(int(n_permutations)):
        if groups is None:
            out.append(rng.permutation(n))
            continue
        perm = np.arange(n)
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            perm[idx] = idx[rng.permutation(idx.size)]
        out.append(perm)
    return out


def _null_refit(
    estimator: Any,
    X: Any,
    y: Any,
    splits: list[Split],
    task: _Task,
    scoring: Sequence[str],
    perms: list[np.ndarray],
    statistic: str = "pooled",
) -> dict[str, list[float]]:
    """Statistic of each permutation, refitting on the first repeat's folds."""
    first = [s for s in splits if s.repeat == 0]
    y_enc = task.encode(y)
    null: dict[str, list[float]] = {m: [] for m in scoring}
    for perm in perms:
        y_perm = _take(y, perm)
        oof = _OOF(1, len(y), task)
        for split in first:
            if _skip_reason(task, y_enc[perm], split) == _SKIP_TRAIN:
                continue
            pred, value, _, _ = _fit_predict(estimator, X, y_perm, split, task)
            oof.pred[0, split.test] = pred
            if value is None:
                oof.has_value = False
            else:
                oof.value[0, split.test] = value
        for m in scoring:
            if m == "roc_auc" and not oof.has_value:
                continue
            if statistic == "mean":
                null[m].append(oof.split_mean(m, y_enc[perm], first, task))
            else:
                null[m].append(oof.pooled(m, y_enc[perm]))
    return null


def _split_matrix(rows: pd.DataFrame, name: str, metric: str) -> np.ndarray:
    """Per-split scores of one estimator and metric, in split order."""
    part = rows[(rows.estimator == name) & (rows.metric == metric)]
    return part.sort_values(["repeat", "fold"])["score"].to_numpy(dtype=float)


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN (NaN where a row holds none)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _summarise(
    oofs: dict[str, _OOF],
    rows: pd.DataFrame,
    y_enc: np.ndarray,
    task: _Task,
    settings: dict[str, Any],
    nulls: dict[str, dict[str, list[float]]],
    observed_refit: dict[str, dict[str, float]],
) -> pd.DataFrame:
    statistic = settings["statistic"]
    rng_seed = settings["random_state"]
    if statistic == "mean":
        n_splits = rows.groupby(["estimator", "metric"]).size().max()
        boot = np.random.RandomState(rng_seed).randint(
            0, n_splits, size=(int(settings["n_bootstrap"]), n_splits)
        )
    else:
        strata = y_enc if task.classification else np.zeros(len(y_enc))
        boot = bootstrap_indices(settings["n_bootstrap"], strata, rng_seed)
    level, reference = settings["confidence_level"], settings["reference"]
    records = []
    replicates: dict[tuple[str, str], np.ndarray] = {}
    for (name, metric), part in rows.groupby(["estimator", "metric"], sort=False):
        oof = oofs[name]
        if statistic == "mean":
            reps = _nanmean_rows(_split_matrix(rows, name, metric)[boot])
        else:
            reps = np.array([oof.pooled(metric, y_enc, idx) for idx in boot])
        replicates[name, metric] = reps
        scored = part[part["skipped"].isna()]
        repeat_means = scored.groupby("repeat")["score"].mean()
        low, high = percentile_ci(reps, level)
        null = nulls.get(name, {}).get(metric)
        default = scored["score"].mean() if statistic == "mean" else None
        if default is None:
            default = oof.pooled(metric, y_enc)
        observed = observed_refit.get(name, {}).get(metric, default)
        records.append(
            {
                "estimator": name,
                "metric": metric,
                "mean": scored["score"].mean(),
                "sd": scored["score"].std(ddof=1) if len(scored) > 1 else np.nan,
                "sd_repeats": repeat_means.std(ddof=1)
                if len(repeat_means) > 1
                else np.nan,
                "pooled": oof.pooled(metric, y_enc),
                "ci_low": low,
                "ci_high": high,
                "p_value": permutation_pvalue(observed, null) if null else np.nan,
                "permutation": settings["modes"][name] if null else None,
                "n_splits": len(scored),
                "n_skipped": len(part) - len(scored),
                "fit_time": part["fit_time"].mean(),
            }
        )
    summary = pd.DataFrame(records)
    if statistic == "mean":
        return _add_differences(summary, rows, None, reference, level, boot)
    return _add_differences(summary, rows, replicates, reference, level)


def _add_differences(
    summary: pd.DataFrame,
    rows: pd.DataFrame,
    replicates: dict[tuple[str, str], np.ndarray] | None,
    reference: str,
    level: float,
    split_boot: np.ndarray | None = None,
) -> pd.DataFrame:
    """Paired per-fold differences to the reference, with bootstrap CIs.

    With ``replicates`` (pooled statistic) the CI is that of the difference of
    the pooled scores over the shared subject resamples; otherwise the per-split
    differences are resampled with ``split_boot`` (mean statistic).
    """
    diff = {"diff_mean": [], "diff_sd": [], "diff_ci_low": [], "diff_ci_high": []}
    metrics_of_ref = set(rows.loc[rows.estimator == reference, "metric"])
    for _, rec in summary.iterrows():
        name, metric = rec["estimator"], rec["metric"]
        if name == reference or metric not in metrics_of_ref:
            for key in diff:
                diff[key].append(np.nan)
            continue
        own = rows[(rows.estimator == name) & (rows.metric == metric)]
        ref = rows[(rows.estimator == reference) & (rows.metric == metric)]
        paired = own.merge(ref, on=["repeat", "fold"], suffixes=("", "_ref"))
        paired = paired.sort_values(["repeat", "fold"])
        d = (paired["score"] - paired["score_ref"]).to_numpy(dtype=float)
        if replicates is None:
            low, high = percentile_ci(_nanmean_rows(d[split_boot]), level)
        else:
            low, high = percentile_ci(
                replicates[name, metric] - replicates[reference, metric], level
            )
        finite = d[np.isfinite(d)]
        diff["diff_mean"].append(finite.mean() if finite.size else np.nan)
        diff["diff_sd"].append(finite.std(ddof=1) if finite.size > 1 else np.nan)
        diff["diff_ci_low"].append(low)
        diff["diff_ci_high"].append(high)
    for key, values in diff.items():
        summary[key] = values
    return summary


def compare_estimators(
    estimators: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    cv: Any = "stratified",
    n_splits: int = 5,
    n_repeats: int = 1,
    groups: Any = None,
    stratify: Any = None,
    scoring: Sequence[str] | str | None = None,
    pos_label: Any = None,
    reference: str | None = None,
    n_bootstrap: int = 1000,
    n_permutations: int = 0,
    permutation: str | Mapping[str, str] = "refit",
    statistic: str = "pooled",
    confidence_level: float = 0.95,
    random_state: Any = 0,
    verbose: int = 1,
) -> ComparisonResult:
    """Fit and score estimators on the same folds, with CIs and p-values.

    Every estimator is cloned and fitted on each training split and predicts
    its test split; the splits are computed once (:func:`make_splits`), so all
    estimators see identical folds and the comparison is paired.

    Parameters
    ----------
    estimators : dict of str to estimator
        scikit-learn estimators (pipelines included) taking ``X`` as given, e.g.
        lists of (n_timepoints, n_rois) arrays.
    X : list, ndarray or DataFrame
        Subjects (indexed by position).
    y : array-like of shape (n_subjects,)
        One target: class labels (classification: any estimator with
        ``predict_proba`` or ``decision_function`` gets ROC AUC) or values.
        A pandas Series reaches the estimators as a Series (rows taken by
        position, ``y.iloc[train]``), so its name and labels are kept: an
        :class:`~brainlm_decode.FMRILMClassifier` asks about ``y.name`` (e.g.
        "diagnosis") with its labels as answers. Pass ``labels["diagnosis"]``
        rather than ``labels["diagnosis"].to_numpy()`` (a plain array is
        target ``"target"``).
    cv : {"stratified", "kfold", "group", "logo"}, int or splitter, \
default="stratified"
        Scheme of :func:`make_splits`: repeated stratified K-fold, shuffled
        K-fold, group K-fold or leave-one-group-out (``groups`` = sites).
    n_splits : int, default=5
        Folds of the named schemes.
    n_repeats : int, default=1
        Repeats of the CV with seeds ``random_state + r``.
    groups : array-like or None, default=None
        Group (site) of each subject: group-held-out CV; permutations are then
        made within groups.
    stratify : array-like or None, default=None
        Labels to stratify the folds on (default ``y``), e.g. diagnosis x sex.
    scoring : str, list of str or None, default=None
        Among :data:`~brainlm_decode.evaluation.stats.METRICS`. Default:
        ``("roc_auc", "balanced_accuracy")`` for classes, ``("r2",
        "neg_mean_absolute_error")`` for values.
    pos_label : object or None, default=None
        Positive class of a binary target (default: the last sorted class).
        ROC AUC is symmetric in it; ``f1`` is not.
    reference : str or None, default=None
        Estimator the others are compared with (default: the first).
    n_bootstrap : int, default=1000
        Stratified bootstrap resamples (subjects resampled within each class,
        the same resamples for every estimator: paired CIs of differences).
    n_permutations : int, default=0
        Label permutations for the p-values (0: none). 1000 gives p >= 0.001.
    permutation : {"refit", "fixed"} or dict of str to str, default="refit"
        How each estimator's null distribution is made (a dict sets it per
        estimator name; missing names use ``"refit"``):

        - ``"refit"``: the estimator is refitted on permuted labels on the
          first repeat's folds (the scikit-learn ``permutation_test_score``
          test: it accounts for everything learned from the labels; costs
          ``n_permutations x n_splits`` fits).
        - ``"fixed"``: the out-of-fold predictions are kept and the labels
          permuted (no refit). It tests whether the predictions are associated
          with the labels; it is cheap enough for models that take minutes to
          fit (the fMRI-LM), and valid because each prediction comes from a
          model that never saw that subject's label.

        The statistic is set by ``statistic`` (for ``"refit"``, on the
        first repeat); p = (1 + #{null >= observed}) / (1 + n_permutations).
    statistic : {"pooled", "mean"}, default="pooled"
        What the CIs and p-values are about:

        - ``"pooled"``: the metric of the pooled out-of-fold predictions (mean
          over repeats); CIs from the stratified bootstrap of subjects.
        - ``"mean"``: the mean of the per-split scores (``mean``); CIs from the
          bootstrap of splits (paired splits for differences). Meant for
          group-held-out CV (``cv="logo"``: one split per site), where the
          sites, not the subjects, are the units that vary: it gives the mean
          +- CI over sites and p-values of the mean site score.
    confidence_level : float, default=0.95
        Coverage of the percentile bootstrap intervals.
    random_state : int or None, default=0
        Seed of the first repeat's folds, of the bootstrap and permutations.
    verbose : int, default=1
        1 prints one line per fitted split (progress of slow estimators).

    Returns
    -------
    ComparisonResult
        ``scores`` (one row per estimator, split and metric), ``predictions``
        (out-of-fold), :meth:`~ComparisonResult.summary`,
        :meth:`~ComparisonResult.to_markdown` and :meth:`~ComparisonResult.plot`.

    Notes
    -----
    ``mean`` and ``sd`` are over the scored splits (``sd_repeats``: sd of the
    repeat means, the variation due to the fold assignment); ``ci_low``/
    ``ci_high`` are the percentile bootstrap interval of the statistic
    (``pooled`` or ``mean``). Differences: ``diff_mean`` and ``diff_sd`` over
    paired splits, CI from the paired bootstrap. With ``groups``, the
    ``group`` column of ``scores`` and ``predictions`` names the held-out
    group(s) of each split (per-site scores of leave-one-site-out CV:
    :meth:`ComparisonResult.split_table`).

    Classification splits whose training part holds one class are not fitted,
    and splits whose test part holds one class are not scored (e.g. a site
    without women, for sex): their scores are NaN, the ``skipped`` column of
    ``scores`` says why, ``n_skipped`` counts them and ``mean``, ``sd`` and
    ``n_splits`` are over the scored splits.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(60, random_state=0)
    >>> result = compare_estimators(
    ...     {"dummy": DummyClassifier(), "logistic": LogisticRegression()},
    ...     X, y, n_repeats=2, n_bootstrap=200, verbose=0)
    >>> float(result.summary().set_index(["estimator", "metric"]).loc[
    ...     ("dummy", "roc_auc"), "mean"])
    0.5
    """
    from sklearn.base import is_classifier
    from sklearn.utils.multiclass import type_of_target

    estimators = _check_estimators(estimators)
    # the estimators get y as given when it is a Series (name, categories and
    # labels kept, rows taken with .iloc: an FMRILMClassifier asks about
    # "diagnosis", not "target"); the statistics use the plain array
    y_fit = y if isinstance(y, pd.Series) else None
    y = np.asarray(y)
    if y_fit is None:
        y_fit = y
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"The 'y' argument of {_OWNER} must be 1D with one label per subject "
            f"({len(X)}). Got shape {y.shape}."
        )
    kind = type_of_target(y)
    classification = kind in ("binary", "multiclass") or any(
        is_classifier(e) for e in estimators.values()
    )
    task = _Task(y, classification, pos_label)
    if scoring is None:
        scoring = (
            ("roc_auc", "balanced_accuracy")
            if classification
            else ("r2", "neg_mean_absolute_error")
        )
    scoring = [scoring] if isinstance(scoring, str) else list(scoring)
    unknown = [m for m in scoring if m not in METRICS]
    if unknown:
        raise ValueError(
            f"The 'scoring' argument of {_OWNER} must hold names among {METRICS}. "
            f"Got {unknown}."
        )
    reference = reference if reference is not None else next(iter(estimators))
    if reference not in estimators:
        raise ValueError(
            f"The 'reference' argument of {_OWNER} must be one of "
            f"{list(estimators)}. Got {reference!r}."
        )
    modes = _modes(permutation, list(estimators))
    if statistic not in _STATISTICS:
        raise ValueError(
            f"The 'statistic' argument of {_OWNER} must be one of {_STATISTICS}. "
            f"Got {statistic!r}."
        )
    group_array = None if groups is None else np.asarray(groups)
    splits = make_splits(
        len(y),
        y,
        cv=cv,
        n_splits=n_splits,
        n_repeats=n_repeats,
        groups=group_array,
        stratify=stratify,
        random_state=random_state,
    )
    y_enc = task.encode(y)
    perms = _permuted_labels(n_permutations, len(y), group_array, random_state)
    oofs, rows, nulls, observed = {}, [], {}, {}
    for name, estimator in estimators.items():
        oofs[name], est_rows = _run_estimator(
            name,
            estimator,
            X,
            y_fit,
            y_enc,
            splits,
            task,
            scoring,
            verbose,
            group_array,
        )
        rows += est_rows
        if not perms:
            continue
        if modes[name] == "refit":
            log(
                f"{name}: {len(perms)} permutations (refit)",
                verbose=verbose,
                owner=_OWNER,
            )
            nulls[name] = _null_refit(
                estimator, X, y_fit, splits, task, scoring, perms, statistic
            )
            first = _OOF(1, len(y), task)
            first.pred[0], first.value[0] = oofs[name].pred[0], oofs[name].value[0]
            first.has_value = oofs[name].has_value
            first_splits = [s for s in splits if s.repeat == 0]
            observed[name] = {
                m: first.split_mean(m, y_enc, first_splits, task)
                if statistic == "mean"
                else first.pooled(m, y_enc)
                for m in scoring
            }
        else:
            oof = oofs[name]
            nulls[name] = {
                m: [
                    oof.split_mean(m, y_enc[p], splits, task)
                    if statistic == "mean"
                    else oof.pooled(m, y_enc[p])
                    for p in perms
                ]
                for m in scoring
                if m != "roc_auc" or oof.has_value
            }
    scores = pd.DataFrame(rows)
    settings = {
        "n_bootstrap": n_bootstrap,
        "random_state": random_state,
        "confidence_level": confidence_level,
        "reference": reference,
        "modes": modes,
        "statistic": statistic,
    }
    summary = _summarise(oofs, scores, y_enc, task, settings, nulls, observed)
    predictions = _prediction_frame(oofs, y, y_enc, group_array)
    return ComparisonResult(
        scores=scores,
        predictions=predictions,
        summary_table=summary,
        reference=reference,
        settings={
            "cv": cv if isinstance(cv, (str, int)) else type(cv).__name__,
            "n_splits": n_splits,
            "n_repeats": max(s.repeat for s in splits) + 1,
            "n_bootstrap": n_bootstrap,
            "n_permutations": n_permutations,
            "confidence_level": confidence_level,
            "random_state": random_state,
            "pos_label": getattr(task, "pos_label", None),
            "statistic": statistic,
        },
    )


def _prediction_frame(
    oofs: dict[str, _OOF],
    y: np.ndarray,
    y_enc: np.ndarray,
    groups: np.ndarray | None = None,
) -> pd.DataFrame:
    """Tidy out-of-fold predictions: estimator, repeat, subject, truth, pred, value."""
    frames = []
    for name, oof in oofs.items():
        for r in range(oof.pred.shape[0]):
            value = oof.value[r] if oof.value.ndim == 2 else oof.value[r].tolist()
            frames.append(
                pd.DataFrame(
                    {
                        "estimator": name,
                        "repeat": r,
                        "subject": np.arange(len(y)),
                        "group": groups if groups is not None else None,
                        "y_true": y_enc,
                        "y_pred": oof.pred[r],
                        "value": value,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)
