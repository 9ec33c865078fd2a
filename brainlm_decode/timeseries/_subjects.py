"""Input checks of :class:`~brainlm_decode.ROITimeSeriesPreprocessor`.

One subject at a time: what ``X`` may hold beyond the shared contract of
:mod:`brainlm_decode.timeseries.checks` (4D images, DataFrames with ROI names),
the minimal length, site labels, and the repetition time and regions that an
image or a fitted masker tell. Errors name the subject, with the same words as
every other estimator for the same mistake.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from brainlm_decode.base import Interval
from brainlm_decode.imaging.atlas import is_masker as is_masker
from brainlm_decode.imaging.atlas import is_niimg_like as is_niimg
from brainlm_decode.timeseries import checks

OWNER = "ROITimeSeriesPreprocessor"
POSITIVE = Interval(float, 0, None, closed="neither")


def x_error(index: int, text: str, kind: type = ValueError) -> Exception:
    """An error about subject ``index`` of the ``X`` argument."""
    return checks.x_error(OWNER, index, text, kind)


def subject_array(index: int, item: Any, masker: Any, labels: Any) -> np.ndarray:
    """The (n_timepoints, n_rois) float64 array of one subject, checked for shape."""
    if is_niimg(item):
        if masker is None:
            raise x_error(index, "is an image, but no 'atlas' or 'masker' is set.")
        return np.asarray(masker.transform(item), dtype=np.float64)
    if isinstance(item, pd.DataFrame) and labels is not None:
        columns = [str(c) for c in item.columns]
        if columns != list(labels):
            raise x_error(
                index,
                "has ROI columns that differ from 'roi_labels_' (names or order): "
                f"expected {list(labels)[:3]}... ({len(labels)} columns), got "
                f"{columns[:3]}... ({len(columns)} columns).",
            )
    return checks.subject_array(OWNER, index, item)


def check_values(index: int, array: np.ndarray, n_rois: Any, source: str) -> None:
    """Finiteness, ROI count and minimal length of one subject's array."""
    checks.check_finite(OWNER, index, array)
    checks.check_n_rois(OWNER, index, array, n_rois, source)
    if array.shape[0] < 2:
        raise x_error(index, f"has {array.shape[0]} time point(s), expected >= 2.")


def check_subjects(X: Any) -> list[Any]:
    """Split ``X`` into one item (array, DataFrame or image) per subject."""
    if is_niimg(X):
        return [X]
    return checks.split_subjects(X, owner=OWNER)


def is_list(value: Any) -> bool:
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str)


def is_t_r_list(value: Any) -> bool:
    return is_list(value) and len(value) > 0 and all(map(POSITIVE.accepts, value))


def is_label_list(value: Any) -> bool:
    return is_list(value) and all(isinstance(v, str) for v in value)


def header_t_r(img: Any) -> float | None:
    """Repetition time (s) from a 4D image header, or None when absent."""
    image = nib.load(img) if isinstance(img, (str, os.PathLike)) else img
    zooms = image.header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    units = getattr(image.header, "get_xyzt_units", lambda: ("", ""))()
    return float(zooms[3]) * {"msec": 1e-3, "usec": 1e-6}.get(units[1], 1.0)


def is_hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def masker_rois(masker: Any) -> tuple[int | None, list[str] | None]:
    """Number of regions and their names (by region order) of a fitted masker."""
    count = getattr(masker, "n_elements_", None)
    names = getattr(masker, "region_names_", None)
    if not isinstance(names, dict) or count is None:
        return (None if count is None else int(count)), None
    names = [str(names[k]) for k in sorted(k for k in names if isinstance(k, int))]
    return int(count), (names if len(names) == count else None)
