"""Former home of :class:`~brainlm_decode.ROITimeSeriesPreprocessor`.

It lives in the time-series layer, :mod:`brainlm_decode.timeseries.preprocessing`;
the names stay importable from here.
"""

from __future__ import annotations

from brainlm_decode.timeseries.preprocessing import (
    ATLAS_NAMES,
    ROITimeSeriesPreprocessor,
    resample_timeseries,
)

__all__ = ["ATLAS_NAMES", "ROITimeSeriesPreprocessor", "resample_timeseries"]
