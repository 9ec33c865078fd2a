"""Repetition-time honesty: fitted objects remember the TR of their inputs.

Estimators that read preprocessed series (descriptors, fMRI-LM) store the TR
they were fitted at (``t_r_``) and accept the TR of new series as the ``t_r``
argument of ``transform`` / ``predict*`` (routable as scikit-learn metadata,
see :doc:`/evaluation`). :func:`check_t_r` warns when the two differ, and
:func:`warn_stretch` when series are stretched or shrunk in time by more than
:data:`MAX_STRETCH`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["MAX_STRETCH", "check_t_r", "fitted_t_r", "warn_stretch"]

#: Relative change of duration above which a stretch or shrink warns (25 %).
MAX_STRETCH = 0.25


def fitted_t_r(owner: str, t_r: Any, default: Any = None) -> float | None:
    """The TR to remember at fit: the ``t_r`` argument, else ``default``."""
    value = t_r if t_r is not None else default
    if value is None:
        return None
    values = np.atleast_1d(np.asarray(value, dtype=float))
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(
            f"The 't_r' argument of {owner} must be a positive repetition time in "
            f"seconds. Got {t_r!r}."
        )
    if np.ptp(values) > 1e-6 * values.max():
        raise ValueError(
            f"{owner} reads series on one time grid: the 't_r' argument must be "
            f"one value (resample first with ROITimeSeriesPreprocessor). Got "
            f"{sorted(set(values.tolist()))}."
        )
    return float(values[0])


def check_t_r(owner: str, fitted: float | None, t_r: Any, stacklevel: int = 3) -> None:
    """Warn when the TR of new series differs from the training TR.

    Parameters
    ----------
    owner : str
        Name used in the message.
    fitted : float or None
        ``t_r_`` of the fitted object (None: unknown, nothing checked).
    t_r : float, sequence of float or None
        TR of the new series (None: assumed equal, nothing checked).
    stacklevel : int, default=3
        Passed to :func:`warnings.warn`.
    """
    if fitted is None or t_r is None:
        return
    values = np.atleast_1d(np.asarray(t_r, dtype=float))
    bad = sorted({v for v in values.tolist() if abs(v - fitted) > 1e-3 * fitted})
    if bad:
        warnings.warn(
            f"{owner} was fitted on series at TR {fitted:g} s; these are at TR "
            f"{bad} s. Time-based features (spectra, temporal patches) then mean "
            f"other durations: resample them to {fitted:g} s first "
            f"(ROITimeSeriesPreprocessor(target_t_r={fitted:g}), giving each "
            "subject's true 't_r').",
            UserWarning,
            stacklevel=stacklevel,
        )


def warn_stretch(
    owner: str, lengths: Any, n_timepoints: int, stacklevel: int = 3
) -> None:
    """Warn when series are linearly stretched or shrunk by more than 25 %.

    Parameters
    ----------
    owner : str
        Name used in the message.
    lengths : sequence of int
        Length of each series before matching (after resampling).
    n_timepoints : int
        Length they are matched to.
    stacklevel : int, default=3
        Passed to :func:`warnings.warn`.
    """
    lengths = np.asarray(lengths, dtype=float)
    factor = (n_timepoints - 1) / np.maximum(lengths - 1, 1)
    bad = np.flatnonzero(np.abs(factor - 1) > MAX_STRETCH)
    if bad.size:
        worst = bad[np.argmax(np.abs(factor[bad] - 1))]
        warnings.warn(
            f"{owner}: {bad.size} series stretched or shrunk in time by more than "
            f"{100 * MAX_STRETCH:.0f}% to {n_timepoints} points (worst: subject "
            f"{worst}, {int(lengths[worst])} points, factor {factor[worst]:.2f}); "
            "their effective TR changes by the same factor. Set n_timepoints closer "
            "to the series' length, or n_timepoints=None.",
            UserWarning,
            stacklevel=stacklevel,
        )
