"""Cross-validation splits shared by every estimator of a comparison.

:func:`make_splits` turns a ``cv`` specification into an explicit list of
``(repeat, fold, train, test)`` index arrays, computed once, so that every
estimator of :func:`~brainlm_decode.evaluation.compare_estimators` is fitted
and scored on exactly the same subjects. :class:`FewShotSiteSplit` is
leave-one-site-out with ``k`` labelled subjects of the held-out site added to
training (few-shot adaptation to a new site), with test subjects that do not
depend on ``k``.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, NamedTuple

import numpy as np

__all__ = ["CV_NAMES", "FewShotSiteSplit", "Split", "make_splits"]

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


class FewShotSiteSplit:
    """Leave one site out, with ``n_shots`` labelled subjects of that site in training.

    For each site (group), ``n_candidates`` of its subjects are reserved as
    candidate shots and the other subjects of the site are the test set; the
    first ``n_shots`` candidates join the training set (all other sites). The
    candidates and their order depend only on ``random_state`` and the site,
    never on ``n_shots``, so for one seed **the test subjects are the same for
    every** ``n_shots`` and the shots are nested (the 2 shots are among the 4,
    the 4 among the 10): differences between values of ``n_shots`` are paired.
    ``n_shots=0`` is leave-one-site-out scored on the same reduced test sets.
    Repeats of :func:`~brainlm_decode.evaluation.compare_estimators`
    (``n_repeats``) redraw the candidates (seed ``random_state + r``).

    With labels (``y``) and ``stratify=True`` the candidates alternate between
    the classes (classes in a random order, subjects in a random order within
    each class), so any prefix of shots is as balanced as the site allows.

    Parameters
    ----------
    n_shots : int, default=0
        Labelled subjects of the held-out site added to training (at most
        ``n_candidates``).
    n_candidates : int, default=10
        Subjects reserved per site; never tested on, whatever ``n_shots``.
    stratify : bool, default=True
        Alternate classes among the candidates when ``y`` is given.
    random_state : int, default=0
        Seed of the candidate draw (reseeded per repeat by the harness).

    Raises
    ------
    ValueError
        From :meth:`split`: no groups, or a site with no more subjects than
        ``n_candidates`` (nothing would be left to test).

    Examples
    --------
    >>> import numpy as np
    >>> groups = np.repeat(["a", "b"], 5)
    >>> cv = FewShotSiteSplit(n_shots=1, n_candidates=2, random_state=0)
    >>> [(len(tr), len(te)) for tr, te in cv.split(np.zeros(10), None, groups)]
    [(6, 3), (6, 3)]
    """

    def __init__(
        self,
        n_shots: int = 0,
        n_candidates: int = 10,
        *,
        stratify: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.n_shots = n_shots
        self.n_candidates = n_candidates
        self.stratify = stratify
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"FewShotSiteSplit(n_shots={self.n_shots}, n_candidates="
            f"{self.n_candidates}, stratify={self.stratify}, "
            f"random_state={self.random_state})"
        )

    def _check(self) -> None:
        for name in ("n_shots", "n_candidates"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(
                    f"The '{name}' parameter of FewShotSiteSplit must be an int >= 0. "
                    f"Got {value!r}."
                )
        if self.n_shots > self.n_candidates:
            raise ValueError(
                f"FewShotSiteSplit: n_shots ({self.n_shots}) must be at most "
                f"n_candidates ({self.n_candidates})."
            )

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits: one per site.

        Parameters
        ----------
        X, y : ignored
        groups : array-like of shape (n_samples,)
            Site of each subject.

        Returns
        -------
        int
        """
        if groups is None:
            raise ValueError(
                "FewShotSiteSplit needs 'groups' (the site of each subject)."
            )
        return int(np.unique(np.asarray(groups)).size)

    def candidates(self, y: Any, groups: Any) -> dict[Any, np.ndarray]:
        """Reserved subjects of each site, in shot order.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or None
            Labels (class alternation with ``stratify``).
        groups : array-like of shape (n_samples,)
            Site of each subject.

        Returns
        -------
        dict of site to ndarray of int
            The ``n_candidates`` indices of each site; the first ``n_shots``
            are its shots.
        """
        self._check()
        if groups is None:
            raise ValueError(
                "FewShotSiteSplit needs 'groups' (the site of each subject)."
            )
        groups = np.asarray(groups)
        labels = None if y is None or not self.stratify else np.asarray(y)
        seed = _seed(self.random_state, 0)
        out: dict[Any, np.ndarray] = {}
        for k, site in enumerate(np.unique(groups)):
            members = np.flatnonzero(groups == site)
            if members.size <= self.n_candidates:
                raise ValueError(
                    f"FewShotSiteSplit: site '{site}' has {members.size} subjects, "
                    f"not more than n_candidates={self.n_candidates}: no subject "
                    "would be left to test."
                )
            rng = np.random.RandomState((seed + 7919 * k) % 2**32)
            if labels is None:
                order = rng.permutation(members)
            else:
                classes = rng.permutation(np.unique(labels[members]))
                queues = [
                    rng.permutation(members[labels[members] == c]) for c in classes
                ]
                order = np.array(
                    [
                        q[i]
                        for i in range(max(map(len, queues)))
                        for q in queues
                        if i < len(q)
                    ]
                )
            out[site] = order[: self.n_candidates]
        return out

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Any:
        """Yield ``(train, test)`` indices, one split per site (sorted sites).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples,) or None, default=None
            Labels (stratified candidates).
        groups : array-like of shape (n_samples,)
            Site of each subject.

        Yields
        ------
        train, test : ndarray of int
        """
        reserved = self.candidates(y, groups)
        groups = np.asarray(groups)
        index = np.arange(len(groups))
        for site, cands in reserved.items():
            in_site = groups == site
            test = np.setdiff1d(index[in_site], cands)
            train = np.sort(np.concatenate([index[~in_site], cands[: self.n_shots]]))
            yield train, test
