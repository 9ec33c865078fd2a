"""Base class of descriptor families (``brainlm_decode.descriptors`` plugins).

A descriptor family turns preprocessed ROI time series into named numeric
features, one row per subject. Group-level references (a reference gradient, an
ICA decomposition) are learned in ``fit`` on training subjects only, so that a
descriptor never sees test subjects before ``transform``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainlm_decode.base import BaseBrainLMEstimator

YEO7 = ("Vis", "SomMot", "DorsAttn", "SalVentAttn", "Limbic", "Cont", "Default")


def check_timeseries(
    X: Any, *, owner: str, n_rois: int | None = None
) -> list[np.ndarray]:
    """Validate a list of ROI time series of shape (n_timepoints, n_rois).

    Parameters
    ----------
    X : sequence of array-like or 3D array
        One (n_timepoints, n_rois) array per subject (a 3D array is split on its
        first axis).
    owner : str
        Estimator name for error messages.
    n_rois : int or None, default=None
        Expected number of ROIs (e.g. learned in ``fit``).

    Returns
    -------
    list of ndarray
        float64 arrays.

    Raises
    ------
    ValueError
        Empty input, wrong dimensions, NaN/inf, ROI count mismatch.
    TypeError
        Input that is not a sequence of arrays.
    """
    if isinstance(X, np.ndarray) and X.ndim == 3:
        X = list(X)
    if isinstance(X, np.ndarray) and X.ndim == 2:
        raise ValueError(
            f"The 'X' argument of {owner} must be a list of (n_timepoints, n_rois) "
            f"arrays, one per subject. Got one 2D array of shape {X.shape}; for a "
            "single subject pass [X]."
        )
    if isinstance(X, (str, bytes)) or not isinstance(X, (Sequence, np.ndarray)):
        raise TypeError(
            f"The 'X' argument of {owner} must be a list of (n_timepoints, n_rois) "
            f"arrays, one per subject. Got {type(X).__name__} instead."
        )
    if len(X) == 0:
        raise ValueError(f"The 'X' argument of {owner} is empty.")
    out = []
    for i, ts in enumerate(X):
        if np.iscomplexobj(ts):
            raise TypeError(
                f"The 'X' argument of {owner}: subject {i} is complex-valued; "
                "expected real numbers."
            )
        try:
            array = np.asarray(ts, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"The 'X' argument of {owner} must hold numeric (n_timepoints, "
                f"n_rois) arrays. Subject {i} is a {type(ts).__name__} that is not "
                f"numeric ({exc})."
            ) from None
        if array.ndim != 2:
            raise ValueError(
                f"The 'X' argument of {owner} must hold 2D (n_timepoints, n_rois) "
                f"arrays. Subject {i} has shape {array.shape}."
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(
                f"The 'X' argument of {owner}: subject {i} has NaN or inf."
            )
        expected = n_rois if n_rois is not None else out[0].shape[1] if out else None
        if expected is not None and array.shape[1] != expected:
            hint = (
                " Is it transposed? Each subject must be (n_timepoints, n_rois)."
                if array.shape[0] == expected
                else ""
            )
            raise ValueError(
                f"The 'X' argument of {owner}: subject {i} has {array.shape[1]} ROIs, "
                f"expected {expected} (shape {array.shape}).{hint}"
            )
        out.append(array)
    return out


def stack_timeseries(
    X: Any, *, owner: str, n_rois: int | None = None, dtype: Any = np.float32
) -> np.ndarray:
    """Validate ROI time series of one length and stack them.

    :func:`check_timeseries`, then a check that every subject has the same
    number of time points (the tokenizer and the language model cut them into
    the same patches).

    Parameters
    ----------
    X : sequence of array-like or 3D array
        One (n_timepoints, n_rois) array per subject.
    owner : str
        Estimator name for error messages.
    n_rois : int or None, default=None
        Expected number of ROIs.
    dtype : numpy dtype, default=numpy.float32
        dtype of the stacked array.

    Returns
    -------
    ndarray of shape (n_subjects, n_timepoints, n_rois)

    Raises
    ------
    ValueError
        As :func:`check_timeseries`, and subjects of different lengths.
    TypeError
        Input that is not a sequence of arrays.
    """
    series = check_timeseries(X, owner=owner, n_rois=n_rois)
    for i, array in enumerate(series):
        if array.shape != series[0].shape:
            raise ValueError(
                f"The 'X' argument of {owner} must hold subjects of one shape "
                f"(n_timepoints, n_rois); subject 0 has {series[0].shape}, subject "
                f"{i} has {array.shape}. Bring them to one length with "
                "ROITimeSeriesPreprocessor(n_timepoints=...)."
            )
    return np.stack(series).astype(dtype, copy=False)


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


#: Fewest time points a subject may have (as ``ROITimeSeriesPreprocessor``).
MIN_TIMEPOINTS = 50


def check_preprocessed(
    series: list[np.ndarray], *, owner: str, min_timepoints: int = MIN_TIMEPOINTS
) -> None:
    """The checks of ``ROITimeSeriesPreprocessor`` on already preprocessed series.

    Parameters
    ----------
    series : list of ndarray of shape (n_timepoints, n_rois)
        Output of :func:`check_timeseries`.
    owner : str
        Estimator name for error messages.
    min_timepoints : int, default=50
        Fewest time points per subject.

    Raises
    ------
    ValueError
        A subject shorter than ``min_timepoints``, all zero, or with constant
        (zero-variance) ROIs other than all-zero ones (the preprocessor's output
        for flat ROIs with ``constant_rois="warn"``).
    """
    for i, array in enumerate(series):
        if array.shape[0] < min_timepoints:
            raise ValueError(
                f"The 'X' argument of {owner}: subject {i} has {array.shape[0]} time "
                f"points, expected at least {min_timepoints} (as "
                "ROITimeSeriesPreprocessor(min_timepoints=...))."
                + (
                    " Is it transposed? Each subject must be (n_timepoints, n_rois)."
                    if array.shape[0] < array.shape[1]
                    else ""
                )
            )
        if not array.any():
            raise ValueError(
                f"The 'X' argument of {owner}: subject {i} is all zero; expected "
                "preprocessed ROI time series."
            )
        # flat ROIs zeroed by ROITimeSeriesPreprocessor(constant_rois="warn") pass
        constant = np.flatnonzero((np.ptp(array, axis=0) == 0) & array.any(axis=0))
        if constant.size:
            raise ValueError(
                f"The 'X' argument of {owner}: subject {i} has {constant.size} "
                f"constant (zero-variance) ROI(s) at indices "
                f"{constant[:10].tolist()}; expected every ROI to vary (run "
                "ROITimeSeriesPreprocessor(constant_rois='warn') to zero them)."
            )


class Descriptor(BaseBrainLMEstimator):
    """Base of descriptor families: ``fit`` on training subjects, ``transform`` to a table.

    Subclasses implement ``fit(X, y=None)`` (learn group references, set
    ``n_features_in_`` to the ROI count and ``feature_names_out_``) and
    ``transform(X) -> pandas.DataFrame`` with one row per subject and columns
    ``feature_names_out_``. ``family`` names the family in descriptor texts.

    Families computed from the Pearson correlation matrix of each subject can
    also implement ``_transform_shared(X, matrices)``, which receives validated
    series together with their correlation matrices
    (:func:`~brainlm_decode.descriptors.connectivity.connectivity_matrix`), so
    that :class:`~brainlm_decode.descriptors.FMRIDescriptorTransformer` computes
    each subject's matrix once for all families. The default calls
    ``transform(X)``.
    """

    family: str = "descriptor"

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
        return self.transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output features (after ``fit``)."""
        from sklearn.utils.validation import check_is_fitted

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
