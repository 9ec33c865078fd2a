"""The fMRI input contract: checks of ROI time series, one subject at a time.

Every estimator that reads ROI time series (:class:`ROITimeSeriesPreprocessor`,
the descriptor families, :class:`~brainlm_decode.FMRITokenizer`, the fMRI-LM
estimators) checks its ``X`` here, so that the same mistake gets the same
message whichever estimator sees it first:

- ``X`` is a list of ``(n_timepoints, n_rois)`` arrays, one per subject, or a
  3D array (:func:`split_subjects`);
- each subject is real, numeric, 2D (:func:`subject_array`), finite
  (:func:`check_finite`) and has the expected ROIs (:func:`check_n_rois`);
- :func:`check_timeseries` runs them all, :func:`stack_timeseries` also
  requires one length, and :func:`check_preprocessed` the output contract of
  :class:`ROITimeSeriesPreprocessor` (length, no flat ROIs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MIN_TIMEPOINTS",
    "check_finite",
    "check_n_rois",
    "check_preprocessed",
    "check_timeseries",
    "split_subjects",
    "stack_timeseries",
    "subject_array",
    "x_error",
]

#: Fewest time points a subject may have (as ``ROITimeSeriesPreprocessor``).
MIN_TIMEPOINTS = 50


def x_error(owner: str, index: int, text: str, kind: type = ValueError) -> Exception:
    """An error about subject ``index`` of the ``X`` argument of ``owner``."""
    return kind(f"The 'X' argument of {owner}: subject {index} {text}")


def split_subjects(X: Any, *, owner: str) -> list[Any]:
    """Split ``X`` into one item per subject.

    Parameters
    ----------
    X : sequence or 3D array
        One item per subject, or a 3D array split on its first axis.
    owner : str
        Estimator name for messages.

    Returns
    -------
    list

    Raises
    ------
    TypeError
        ``X`` is not a list of subjects (a single 2D array, a DataFrame, a
        string ...).
    ValueError
        ``X`` is empty.
    """
    if isinstance(X, np.ndarray) and (
        X.ndim == 3 or (X.ndim == 1 and X.dtype == object)
    ):
        return list(X)
    if (
        hasattr(X, "shape")  # one 2D array or DataFrame
        or isinstance(X, (str, bytes, os.PathLike))
        or not isinstance(X, Sequence)
    ):
        shape = getattr(X, "shape", None)
        shown = type(X).__name__ if shape is None else f"an array of shape {shape}"
        raise TypeError(
            f"The 'X' argument of {owner} must be a list of (n_timepoints, n_rois) "
            f"arrays (one per subject) or a 3D array. Got {shown} instead (wrap a "
            "single subject in a list: [X])."
        )
    if len(X) == 0:
        raise ValueError(f"The 'X' argument of {owner} is empty; expected subjects.")
    return list(X)


def subject_array(owner: str, index: int, item: Any) -> np.ndarray:
    """One subject as a float64 ``(n_timepoints, n_rois)`` array.

    Raises
    ------
    TypeError
        Complex or non-numeric values.
    ValueError
        Not two-dimensional.
    """
    if np.iscomplexobj(item):
        raise x_error(
            owner, index, "is complex-valued; expected real numbers.", TypeError
        )
    try:
        array = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        text = f"must be a numeric array. Got {type(item).__name__} ({exc})."
        raise x_error(owner, index, text, TypeError) from None
    if array.ndim != 2:
        text = f"must be a 2D (n_timepoints, n_rois) array. Got shape {array.shape}."
        raise x_error(owner, index, text)
    return array


def check_finite(owner: str, index: int, array: np.ndarray) -> None:
    """Refuse NaN or inf values, naming the first ROI that has them."""
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.all(np.isfinite(array), axis=0))
        raise x_error(
            owner,
            index,
            f"has NaN or inf values in {bad.size} ROI(s) (first: index {bad[0]}); "
            "expected finite time series.",
        )


def check_n_rois(
    owner: str, index: int, array: np.ndarray, expected: int | None, source: str
) -> None:
    """Refuse a subject whose ROI count differs from ``expected`` (from ``source``)."""
    if expected is None or array.shape[1] == expected:
        return
    hint = (
        " Is it transposed? Each subject must be (n_timepoints, n_rois)."
        if array.shape[0] == expected
        else ""
    )
    raise x_error(
        owner,
        index,
        f"has {array.shape[1]} ROIs, expected {expected} ({source}).{hint}",
    )


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
        Expected number of ROIs (e.g. learned in ``fit``); by default, that of
        the first subject.

    Returns
    -------
    list of ndarray
        float64 arrays.

    Raises
    ------
    ValueError
        Empty input, wrong dimensions, NaN/inf, ROI count mismatch.
    TypeError
        Input that is not a sequence of numeric arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from brainlm_decode.timeseries import check_timeseries
    >>> [a.shape for a in check_timeseries(np.zeros((2, 10, 3)), owner="demo")]
    [(10, 3), (10, 3)]
    """
    out: list[np.ndarray] = []
    for i, item in enumerate(split_subjects(X, owner=owner)):
        array = subject_array(owner, i, item)
        check_finite(owner, i, array)
        if n_rois is not None:
            check_n_rois(owner, i, array, n_rois, "as in fit")
        elif out:
            check_n_rois(owner, i, array, out[0].shape[1], "as subject 0")
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
