"""nilearn's ``ConnectivityMeasure`` with single-threaded BLAS.

The connectivity baselines decompose one small (n_rois x n_rois) matrix per
subject many times (the tangent space's geometric mean iterates eigh over all
subjects). Such matrices gain nothing from BLAS threads, and on a busy machine
with few cores threaded BLAS can spin for seconds per call: one tangent fit of
the README's 30 subjects x 100 ROIs took 0.2 s with one BLAS thread and up to
31 s with two threads on two cores shared with other processes. This subclass
runs ``fit``, ``transform`` and ``fit_transform`` under
``threadpoolctl.threadpool_limits(1, "blas")``; parameters, attributes and
results are nilearn's.
"""

from __future__ import annotations

from typing import Any

from nilearn.connectome import ConnectivityMeasure as _NilearnMeasure
from threadpoolctl import threadpool_limits

__all__ = ["ConnectivityMeasure"]


class ConnectivityMeasure(_NilearnMeasure):
    """:class:`nilearn.connectome.ConnectivityMeasure` run with one BLAS thread.

    Same parameters as nilearn's; see the module docstring for why.
    """

    def fit(self, X: Any, y: Any = None) -> ConnectivityMeasure:
        """Fit as nilearn does, with one BLAS thread."""
        with threadpool_limits(limits=1, user_api="blas"):
            return super().fit(X, y)

    def transform(self, X: Any, confounds: Any = None) -> Any:
        """Transform as nilearn does, with one BLAS thread."""
        with threadpool_limits(limits=1, user_api="blas"):
            return super().transform(X, confounds=confounds)

    def fit_transform(self, X: Any, y: Any = None, confounds: Any = None) -> Any:
        """Fit and transform as nilearn does, with one BLAS thread."""
        with threadpool_limits(limits=1, user_api="blas"):
            return super().fit_transform(X, y, confounds=confounds)
