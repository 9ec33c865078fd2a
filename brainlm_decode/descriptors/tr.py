"""Former home of the repetition-time checks.

They live in the time-series layer, :mod:`brainlm_decode.timeseries.tr`; the
names stay importable from here.
"""

from __future__ import annotations

from brainlm_decode.timeseries.tr import (
    MAX_STRETCH,
    check_t_r,
    fitted_t_r,
    warn_stretch,
)

__all__ = ["MAX_STRETCH", "check_t_r", "fitted_t_r", "warn_stretch"]
