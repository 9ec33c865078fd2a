"""Base class of descriptor families (``brainlm_decode.descriptors`` plugins).

A descriptor family turns preprocessed ROI time series into named numeric
features, one row per subject. Group-level references (a reference gradient, an
ICA decomposition) are learned in ``fit`` on training subjects only, so that a
descriptor never sees test subjects before ``transform``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from brainlm_decode.base import BaseBrainLMEstimator
from brainlm_decode.datasets.networks import YEO7_NETWORKS

# the fMRI input contract lives in the time-series layer (re-exported here)
from brainlm_decode.timeseries.checks import (  # noqa: F401
    MIN_TIMEPOINTS,
    check_preprocessed,
    check_timeseries,
    stack_timeseries,
)

#: The Yeo-7 network names (:data:`brainlm_decode.datasets.YEO7_NETWORKS`).
YEO7 = YEO7_NETWORKS


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
