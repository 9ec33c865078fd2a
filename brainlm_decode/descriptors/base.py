"""Base class of descriptor families (``brainlm_decode.descriptors`` plugins).

A descriptor family turns preprocessed ROI time series into named numeric
features, one row per subject. Group-level references (a reference gradient, an
ICA decomposition) are learned in ``fit`` on training subjects only, so that a
descriptor never sees test subjects before ``transform``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import BaseBrainLMEstimator
from brainlm_decode.datasets.networks import YEO7_NETWORKS

# the fMRI input contract lives in the time-series layer (re-exported here)
from brainlm_decode.timeseries.checks import (  # noqa: F401
    MIN_TIMEPOINTS,
    check_preprocessed,
    check_timeseries,
    stack_timeseries,
)

#: The Yeo-7 network names (:data:`brainlm_decode.datasets.YEO7_NETWORKS`).
YEO7 = YEO7_NETWORKS


def check_networks(networks: Any, n_rois: int, *, owner: str) -> np.ndarray:
    """Network name per ROI (or a packaged table name), checked against the ROI count."""
    if isinstance(networks, str):
        from brainlm_decode.datasets.networks import load_network_labels

        networks = load_network_labels(networks)
    if networks is None:
        raise ValueError(
            f"The 'networks' parameter of {owner} must give one network name per ROI "
            "(e.g. from Schaefer label names); got None."
        )
    array = np.asarray([str(n) for n in networks])
    if array.shape != (n_rois,):
        raise ValueError(
            f"The 'networks' parameter of {owner} must have one entry per ROI "
            f"({n_rois}, the columns of each subject of X). Got {array.shape[0]} "
            "entries instead."
            + (
                " Is X transposed? Each subject must be (n_timepoints, n_rois)."
                if n_rois > array.shape[0]
                else ""
            )
        )
    return array


class Descriptor(BaseBrainLMEstimator):
    """Base of descriptor families: ``fit`` on training subjects, ``transform`` to a table.

    ``fit``, ``transform`` and ``fit_transform`` are template methods: they
    validate the parameters and the time series
    (:func:`~brainlm_decode.timeseries.check_timeseries`, against the ROI count
    of ``fit`` in ``transform``), compute each subject's Pearson correlation
    matrix once when the family reads it, loop over the subjects (joblib,
    ``n_jobs``) and keep the fitted state (``n_features_in_``,
    ``feature_names_out_``, ``feature_descriptions_``). A family implements
    small hooks:

    - ``_feature_descriptions()`` (required): an ordered dict feature name ->
      human phrase, after ``_fit_group``; its keys are ``feature_names_out_``,
      the columns of ``transform``;
    - ``_subject_task()`` (required): ``(function, kwargs)``, where
      ``function(ts, matrix, **kwargs)`` returns the feature dict of one subject
      (``matrix`` is its correlation matrix, ``None`` when the family does not
      read it);
    - ``_fit_group(series, matrices, n_rois)``: learn group references and
      check parameters against the data (default: nothing);
    - ``_uses_matrices(fitting)``: whether ``fit`` (``fitting=True``) or
      ``transform`` read the correlation matrices (default: no), and
      ``_takes_shared_matrices()``: whether the subject task accepts them from
      the transformer (default: when ``transform`` reads them);
    - ``_check_transform_input(series)``: extra checks before ``transform``.

    ``family`` names the family in descriptor texts. A plugin may instead
    override ``fit`` (setting ``n_features_in_`` and ``feature_names_out_``) and
    ``transform(X) -> pandas.DataFrame``; ``_transform_shared`` then calls its
    ``transform``.

    :class:`~brainlm_decode.descriptors.FMRIDescriptorTransformer` calls
    ``_transform_shared(X, matrices)`` with validated series and their
    correlation matrices
    (:func:`~brainlm_decode.descriptors.connectivity.connectivity_matrix`), so
    that each subject's matrix is computed once for all families.
    """

    family: str = "descriptor"

    # -- hooks ----------------------------------------------------------------------------

    def _fit_group(
        self, series: list[np.ndarray], matrices: list[np.ndarray] | None, n_rois: int
    ) -> None:
        """Learn group references from the training subjects (default: nothing)."""

    def _uses_matrices(self, fitting: bool) -> bool:
        """Whether ``fit`` / ``transform`` read the subjects' correlation matrices."""
        return False

    def _feature_descriptions(self) -> dict[str, str]:
        """Feature name -> human phrase, in output column order."""
        raise NotImplementedError

    def _subject_task(self) -> tuple[Callable[..., dict[str, float]], dict[str, Any]]:
        """``(function, kwargs)``: ``function(ts, matrix, **kwargs)`` is one row."""
        raise NotImplementedError

    def _takes_shared_matrices(self) -> bool:
        """Whether ``_transform_shared`` passes its matrices to the subject task."""
        return self._uses_matrices(False)

    def _check_transform_input(self, series: list[np.ndarray]) -> None:
        """Checks of validated series before ``transform`` (default: nothing)."""

    # -- template methods -----------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> Descriptor:
        """Learn the group references, if any, and set the feature names.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Training subjects' ROI time series.
        y : None
            Ignored.

        Returns
        -------
        self : Descriptor
            The fitted descriptor.
        """
        self._validate_params()
        series = check_timeseries(X, owner=type(self).__name__)
        return self._fit_checked(series, self._matrices(series, fitting=True))

    def transform(self, X: Any) -> pd.DataFrame:
        """Features of each subject.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            ROI time series, with the ROI count seen in ``fit``.

        Returns
        -------
        pandas.DataFrame of shape (n_subjects, n_features)
            Columns ``feature_names_out_``.
        """
        check_is_fitted(self, "feature_names_out_")
        series = check_timeseries(
            X, owner=type(self).__name__, n_rois=self.n_features_in_
        )
        return self._transform_checked(series, self._matrices(series, fitting=False))

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> pd.DataFrame:
        """Fit on ``X`` and transform it, computing each correlation matrix once.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Training subjects' ROI time series.
        y : None
            Ignored.
        **fit_params : dict
            Ignored.

        Returns
        -------
        pandas.DataFrame of shape (n_subjects, n_features)
        """
        self._validate_params()
        series = check_timeseries(X, owner=type(self).__name__)
        fitting, transforming = self._uses_matrices(True), self._uses_matrices(False)
        matrices = self._matrices(series) if fitting or transforming else None
        self._fit_checked(series, matrices if fitting else None)
        return self._transform_checked(series, matrices if transforming else None)

    def _transform_shared(
        self, X: list[np.ndarray], matrices: list[np.ndarray]
    ) -> pd.DataFrame:
        """Transform validated series whose correlation matrices are given.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois)
            Validated ROI time series.
        matrices : list of ndarray of shape (n_rois, n_rois)
            Their Pearson correlation matrices, in the same order.

        Returns
        -------
        pandas.DataFrame of shape (n_subjects, n_features)
        """
        if type(self).transform is not Descriptor.transform:  # a plugin's own
            return self.transform(X)
        check_is_fitted(self, "feature_names_out_")
        shared = matrices if self._takes_shared_matrices() else None
        return self._transform_checked(X, shared)

    def _matrices(
        self, series: list[np.ndarray], fitting: bool | None = None
    ) -> list[np.ndarray] | None:
        """Pearson correlation matrices of the subjects (``None`` when not read)."""
        if fitting is not None and not self._uses_matrices(fitting):
            return None
        from brainlm_decode.descriptors.connectivity import connectivity_matrix

        return [connectivity_matrix(ts) for ts in series]

    def _fit_checked(
        self, series: list[np.ndarray], matrices: list[np.ndarray] | None
    ) -> Descriptor:
        """Fit on validated series: group references, then the fitted state."""
        n_rois = series[0].shape[1]
        self._fit_group(series, matrices, n_rois)
        self.n_features_in_ = n_rois
        descriptions = self._feature_descriptions()
        self.feature_names_out_ = list(descriptions)
        self.feature_descriptions_ = descriptions
        return self

    def _transform_checked(
        self, series: list[np.ndarray], matrices: list[np.ndarray] | None
    ) -> pd.DataFrame:
        """One row per validated subject, in parallel over subjects."""
        self._check_transform_input(series)
        function, kwargs = self._subject_task()
        pairs = zip(series, matrices or [None] * len(series), strict=True)
        rows = Parallel(n_jobs=getattr(self, "n_jobs", None))(
            delayed(function)(ts, matrix, **kwargs)
            for ts, matrix in self._progress(pairs, desc=self.family, total=len(series))
        )
        return self._frame(list(rows))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output features (after ``fit``)."""
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def _frame(self, rows: list[dict[str, float]]) -> pd.DataFrame:
        names = list(self.feature_names_out_)
        # one float array then one DataFrame: much cheaper than a frame of dicts
        values = np.array(
            [[row.get(name, np.nan) for name in names] for row in rows],
            dtype=np.float64,
        ).reshape(len(rows), len(names))
        return pd.DataFrame(values, columns=names)

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of 2D time-series arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
