"""Honest evaluation: estimators compared on identical folds, with baselines.

- :func:`compare_estimators`: repeated stratified K-fold, group K-fold or
  leave-one-group-out (site-held-out) CV of any scikit-learn estimators on the
  same splits; per-split scores, mean +- sd, stratified-bootstrap CIs,
  permutation p-values and paired differences against a reference
  (:class:`ComparisonResult`: ``summary``, ``to_markdown``, ``plot``).
- Baselines users expect on ROI time series: :func:`tangent_baseline`,
  :func:`correlation_baseline` (nilearn ``ConnectivityMeasure`` + logistic
  regression) and :func:`descriptor_baseline` (descriptors + logistic
  regression).
- Few-shot adaptation to a held-out site: :class:`FewShotSiteSplit` (a
  splitter for ``cv=``).
- Pieces: :func:`make_splits`, :mod:`~brainlm_decode.evaluation.stats`
  (:func:`bootstrap_indices`, :func:`percentile_ci`, :func:`permutation_pvalue`).
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "compare_estimators": "compare",
    "ComparisonResult": "result",
    "make_splits": "splits",
    "FewShotSiteSplit": "splits",
    "Split": "splits",
    "CV_NAMES": "splits",
    "METRICS": "stats",
    "score": "stats",
    "binary_auc": "stats",
    "bootstrap_indices": "stats",
    "percentile_ci": "stats",
    "permutation_pvalue": "stats",
    "tangent_baseline": "baselines",
    "correlation_baseline": "baselines",
    "descriptor_baseline": "baselines",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "ComparisonResult",
    "FewShotSiteSplit",
    "compare_estimators",
    "correlation_baseline",
    "descriptor_baseline",
    "make_splits",
    "tangent_baseline",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
