"""SeedEnsembleClassifier: average a classifier's probabilities over seeds.

Small cohorts make an LM fit depend on its seed (LoRA and fMRI input module
initialisation, question sampling, tokenizer): on ABIDE PITT one site's AUC went
from 0.586 to 0.333 between two seeds. Averaging the probabilities of fits with
several ``random_state`` values trades fit time for that variance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import BaseBrainLMEstimator, Interval, Satisfies

__all__ = ["SeedEnsembleClassifier"]


class SeedEnsembleClassifier(ClassifierMixin, BaseBrainLMEstimator):
    """Mean of a classifier's probabilities over several random seeds.

    Parameters
    ----------
    estimator : classifier
        Any classifier with ``random_state`` and ``predict_proba`` (e.g.
        :class:`~brainlm_decode.FMRILMClassifier`); cloned once per seed.
    n_seeds : int, default=5
        Number of fits, with ``random_state = seeds[k]``.
    random_state : int or None, default=0
        The seeds are ``random_state + k`` (``0 .. n_seeds - 1`` when None).
    verbose : int, default=1
        1 prints one line per fit.

    Attributes
    ----------
    estimators_ : list of classifier
        The fitted copies.
    classes_ : ndarray
        Classes (from the first copy).
    seeds_ : list of int
        Their seeds.
    n_features_in_ : int
        As the wrapped estimator's, when it has one.
    feature_names_in_ : ndarray of str
        As the wrapped estimator's, when it has one.

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(40, random_state=0)
    >>> ens = SeedEnsembleClassifier(SGDClassifier(loss="log_loss"), n_seeds=3,
    ...                              verbose=0).fit(X, y)
    >>> ens.predict_proba(X).shape, ens.seeds_
    ((40, 2), [0, 1, 2])
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "estimator": [
            Satisfies(
                lambda e: hasattr(e, "fit") and hasattr(e, "predict_proba"),
                "a classifier with predict_proba",
            )
        ],
        "n_seeds": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        estimator: Any,
        n_seeds: int = 5,
        *,
        random_state: Any = 0,
        verbose: int = 1,
    ) -> None:
        self.estimator = estimator
        self.n_seeds = n_seeds
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any, **fit_params: Any) -> SeedEnsembleClassifier:
        """Fit one copy of ``estimator`` per seed.

        Parameters
        ----------
        X, y
            As the estimator's ``fit``.
        **fit_params
            Passed to each ``fit`` (e.g. ``t_r``, ``attributes``).

        Returns
        -------
        self
        """
        self._validate_params()
        base = 0 if self.random_state is None else int(self.random_state)
        self.seeds_ = [base + k for k in range(self.n_seeds)]
        self.estimators_ = []
        for k, seed in enumerate(self.seeds_):
            self._log(f"fit {k + 1}/{self.n_seeds} (random_state={seed})")
            model = clone(self.estimator).set_params(random_state=seed)
            self.estimators_.append(model.fit(X, y, **fit_params))
        first = self.estimators_[0]
        self.classes_ = first.classes_
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))
        return self

    def predict_proba(self, X: Any, **params: Any) -> np.ndarray:
        """Mean of the copies' probabilities.

        Parameters
        ----------
        X
            As the estimator's ``predict_proba``.
        **params
            Passed to each ``predict_proba`` (e.g. ``t_r``).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimators_")
        return np.mean([m.predict_proba(X, **params) for m in self.estimators_], axis=0)

    def predict(self, X: Any, **params: Any) -> np.ndarray:
        """Class of the highest mean probability.

        Parameters
        ----------
        X
            As the estimator's ``predict``.
        **params
            Passed to each ``predict_proba``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X, **params)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    def __sklearn_tags__(self) -> Any:
        """Tags of the wrapped estimator's inputs."""
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.input_tags = inner.input_tags
        return tags
