"""The time-series layer: the fMRI input contract and ROI time-series preprocessing.

Below the descriptors, the tokenizer and the fMRI-LM estimators, which all read
ROI time series through it:

- :mod:`~brainlm_decode.timeseries.checks`: the input contract (a list of
  ``(n_timepoints, n_rois)`` arrays, one per subject), one message per mistake
  for every estimator (:func:`check_timeseries`, :func:`stack_timeseries`,
  :func:`check_preprocessed`);
- :mod:`~brainlm_decode.timeseries.tr`: repetition-time honesty
  (:func:`check_t_r`, :func:`fitted_t_r`, :func:`warn_stretch`);
- :mod:`~brainlm_decode.timeseries.preprocessing`:
  :class:`ROITimeSeriesPreprocessor` (extraction from images, resampling,
  length, robust z-score, site-wise variance) and :func:`resample_timeseries`.

Names are imported on first access.
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "ROITimeSeriesPreprocessor": "preprocessing",
    "resample_timeseries": "preprocessing",
    "ATLAS_NAMES": "preprocessing",
    "check_timeseries": "checks",
    "stack_timeseries": "checks",
    "check_preprocessed": "checks",
    "check_t_r": "tr",
    "fitted_t_r": "tr",
    "warn_stretch": "tr",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "ROITimeSeriesPreprocessor",
    "check_timeseries",
    "resample_timeseries",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
