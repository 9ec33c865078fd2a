"""Baselines on ROI time series that a comparison should always include.

Each factory returns an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`
taking a list of (n_timepoints, n_rois) arrays, so it runs in
:func:`~brainlm_decode.evaluation.compare_estimators` on the same folds as the
fMRI-LM. The logistic regression is L2, ``C=0.1``, balanced class weights
(small, imbalanced cohorts), after standardising the features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["correlation_baseline", "descriptor_baseline", "tangent_baseline"]


def _logistic(C: float, class_weight: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight=class_weight, max_iter=2000)


def _pipeline(steps: list[Any], preprocessor: Any) -> Any:
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*([preprocessor] if preprocessor is not None else []), *steps)


def _connectivity_baseline(
    kind: str, C: float, class_weight: Any, preprocessor: Any, head: Any = None
) -> Any:
    from sklearn.preprocessing import StandardScaler

    from brainlm_decode.evaluation.connectivity import ConnectivityMeasure

    measure = ConnectivityMeasure(
        kind=kind, vectorize=True, discard_diagonal=True, standardize="zscore_sample"
    )
    head = _logistic(C, class_weight) if head is None else head
    return _pipeline([measure, StandardScaler(), head], preprocessor)


def tangent_baseline(
    *,
    C: float = 0.1,
    class_weight: Any = "balanced",
    preprocessor: Any = None,
    head: Any = None,
) -> Any:
    """Tangent-space connectivity + logistic regression (Dadi et al. 2019).

    Parameters
    ----------
    C : float, default=0.1
        Inverse L2 penalty of the logistic regression.
    class_weight : "balanced", dict or None, default="balanced"
        Class weights of the logistic regression.
    preprocessor : estimator or None, default=None
        First step, e.g. :class:`~brainlm_decode.ROITimeSeriesPreprocessor`.
    head : estimator or None, default=None
        Last step instead of the logistic regression (``C`` and
        ``class_weight`` then unused), e.g. ``RidgeCV()`` for a regression
        target such as age.

    Returns
    -------
    Pipeline
        [preprocessor] -> ``ConnectivityMeasure(kind="tangent")`` (upper
        triangle) -> StandardScaler -> LogisticRegression.

    Examples
    --------
    >>> tangent_baseline().steps[0][0]
    'connectivitymeasure'
    """
    return _connectivity_baseline("tangent", C, class_weight, preprocessor, head)


def correlation_baseline(
    *,
    C: float = 0.1,
    class_weight: Any = "balanced",
    preprocessor: Any = None,
    head: Any = None,
) -> Any:
    """Pearson correlation connectivity + logistic regression.

    Parameters
    ----------
    C : float, default=0.1
        Inverse L2 penalty of the logistic regression.
    class_weight : "balanced", dict or None, default="balanced"
        Class weights of the logistic regression.
    preprocessor : estimator or None, default=None
        First step, e.g. :class:`~brainlm_decode.ROITimeSeriesPreprocessor`.
    head : estimator or None, default=None
        Last step instead of the logistic regression (``C`` and
        ``class_weight`` then unused), e.g. ``RidgeCV()`` for a regression
        target such as age.

    Returns
    -------
    Pipeline
    """
    return _connectivity_baseline("correlation", C, class_weight, preprocessor, head)


def descriptor_baseline(
    descriptors: Any = None,
    *,
    networks: Sequence[str] | None = None,
    C: float = 0.1,
    class_weight: Any = "balanced",
    preprocessor: Any = None,
    random_state: Any = 0,
    head: Any = None,
) -> Any:
    """fMRI descriptors (four families) + logistic regression.

    Parameters
    ----------
    descriptors : FMRIDescriptorTransformer or None, default=None
        Descriptor transformer; ``None`` builds
        ``FMRIDescriptorTransformer(networks=networks)``.
    networks : list of str or None, default=None
        Network of each ROI (network-level features), when ``descriptors`` is None.
    C : float, default=0.1
        Inverse L2 penalty of the logistic regression.
    class_weight : "balanced", dict or None, default="balanced"
        Class weights of the logistic regression.
    preprocessor : estimator or None, default=None
        First step, e.g. :class:`~brainlm_decode.ROITimeSeriesPreprocessor`.
    head : estimator or None, default=None
        Last step instead of the logistic regression (``C`` and
        ``class_weight`` then unused), e.g. ``RidgeCV()`` for a regression
        target such as age.
    random_state : int or None, default=0
        Seed of the default descriptors (ICA).

    Returns
    -------
    Pipeline
        [preprocessor] -> descriptors -> StandardScaler -> LogisticRegression.
    """
    from sklearn.preprocessing import StandardScaler

    if descriptors is None:
        from brainlm_decode.descriptors.transformer import FMRIDescriptorTransformer

        descriptors = FMRIDescriptorTransformer(
            networks=networks, random_state=random_state
        )
    head = _logistic(C, class_weight) if head is None else head
    return _pipeline([descriptors, StandardScaler(), head], preprocessor)
