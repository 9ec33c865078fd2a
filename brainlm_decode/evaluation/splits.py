"""Cross-validation splits shared by every estimator of a comparison.

:func:`make_splits` turns a ``cv`` specification into an explicit list of
``(repeat, fold, train, test)`` index arrays, computed once, so that every
estimator of :func:`~brainlm_decode.evaluation.compare_estimators` is fitted
and scored on exactly the same subjects.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, NamedTuple

import numpy as np

__all__ = ["CV_NAMES", "Split", "make_splits"]

#: Named cross-validation schemes.
CV_NAMES = ("stratified", "kfold", "group", "logo")


class Split(NamedTuple):
    """One train/test split of one repeat."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def _seed(random_state: Any, repeat: int) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0]) + repeat
    if isinstance(random_state, numbers.Integral):
        return int(random_state) + repeat
    return int(np.random.RandomState(random_state).randint(2**31 - 1)) + repeat


def _splitter(cv: Any, n_splits: int, seed: int, has_groups: bool) -> Any:
    from sklearn.model_selection import (
        GroupKFold,
        KFold,
        LeaveOneGroupOut,
        StratifiedKFold,
    )

    if cv == "stratified":
        return StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    if cv == "kfold":
        return KFold(n_splits, shuffle=True, random_state=seed)
    if not has_groups:
        raise ValueError(
            f"cv={cv!r} holds out whole groups: pass 'groups' (e.g. the site of "
            "each subject). Got groups=None."
        )
    if cv == "logo":
        return LeaveOneGroupOut()
    return GroupKFold(n_splits, shuffle=True, random_state=seed)


def make_splits(
    n_samples: int,
    y: Any = None,
    *,
    cv: Any = "stratified",
    n_splits: int = 5,
    n_repeats: int = 1,
    groups: Any = None,
    stratify: Any = None,
    random_state: Any = 0,
) -> list[Split]:
    """Explicit train/test indices of repeated or group-held-out CV.

    Parameters
    ----------
    n_samples : int
        Number of subjects.
    y : array-like of shape (n_samples,) or None, default=None
        Labels (stratification of ``"stratified"``).
    cv : {"stratified", "kfold", "group", "logo"}, int or splitter, \
default="stratified"
        ``"stratified"``: :class:`~sklearn.model_selection.StratifiedKFold`
        (shuffled, reseeded each repeat); ``"kfold"``: plain shuffled K-fold;
        ``"group"``: :class:`~sklearn.model_selection.GroupKFold` (shuffled;
        whole groups, e.g. sites, held out); ``"logo"``: leave one group out
        (deterministic: one repeat). An int is ``"stratified"`` with that many
        folds; any scikit-learn splitter is used as is (its ``random_state``
        reseeded per repeat when it has one).
    n_splits : int, default=5
        Folds of the named schemes.
    n_repeats : int, default=1
        Repeats with seeds ``random_state + r`` (ignored by ``"logo"``).
    groups : array-like of shape (n_samples,) or None, default=None
        Group of each subject (``"group"``, ``"logo"``).
    stratify : array-like of shape (n_samples,) or None, default=None
        Labels to stratify on instead of ``y`` (e.g. diagnosis x sex, so that
        one set of folds serves several targets).
    random_state : int, RandomState or None, default=0
        Seed of the first repeat.

    Returns
    -------
    list of Split
        ``(repeat, fold, train, test)`` in order.

    Examples
    --------
    >>> splits = make_splits(10, [0, 1] * 5, n_splits=5, n_repeats=2)
    >>> len(splits), splits[0].test.size
    (10, 2)
    """
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv, n_splits = "stratified", int(cv)
    labels = stratify if stratify is not None else y
    if isinstance(cv, str):
        if cv not in CV_NAMES:
            raise ValueError(
                f"The 'cv' argument must be one of {CV_NAMES}, an int or a "
                f"scikit-learn splitter. Got {cv!r}."
            )
        if cv == "stratified" and labels is None:
            raise ValueError("cv='stratified' needs labels: pass 'y' or 'stratify'.")
        if cv == "logo":
            n_repeats = 1
    elif not hasattr(cv, "split"):
        raise TypeError(
            "The 'cv' argument must be a name, an int or an object with a split() "
            f"method. Got {type(cv).__name__}."
        )
    dummy = np.zeros((n_samples, 1))
    labels = None if labels is None else np.asarray(labels)
    group_array = None if groups is None else np.asarray(groups)
    out: list[Split] = []
    for repeat in range(int(n_repeats)):
        seed = _seed(random_state, repeat)
        if isinstance(cv, str):
            splitter = _splitter(cv, n_splits, seed, group_array is not None)
        else:
            splitter = cv
            if getattr(cv, "random_state", None) is not None or getattr(
                cv, "shuffle", False
            ):
                splitter = copy.copy(cv)
                splitter.random_state = seed
        for fold, (train, test) in enumerate(
            splitter.split(dummy, labels, group_array)
        ):
            out.append(Split(repeat, fold, np.asarray(train), np.asarray(test)))
    return out
