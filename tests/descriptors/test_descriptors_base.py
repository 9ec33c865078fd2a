"""``Descriptor`` as a template method: families implement hooks, not skeletons."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors.base import Descriptor
from brainlm_decode.descriptors.connectivity import (
    FunctionalConnectivity,
    connectivity_matrix,
)
from brainlm_decode.descriptors.gradients import FunctionalGradients
from brainlm_decode.descriptors.graph import GraphMetrics
from brainlm_decode.descriptors.ica import ICADescriptors

FAMILIES = [FunctionalConnectivity, FunctionalGradients, GraphMetrics, ICADescriptors]


def _mean_row(ts: np.ndarray, matrix: Any, scale: float) -> dict[str, float]:
    return {"toy__mean": float(ts.mean()) * scale, "toy__corr": float(matrix.mean())}


class ToyDescriptor(Descriptor):
    """A family written with the hooks only."""

    family = "toy"

    def __init__(self, scale: float = 1.0, n_jobs: Any = None) -> None:
        self.scale = scale
        self.n_jobs = n_jobs

    def _uses_matrices(self, fitting: bool) -> bool:
        return not fitting

    def _fit_group(self, series: list, matrices: Any, n_rois: int) -> None:
        self.group_mean_ = float(np.mean([ts.mean() for ts in series]))

    def _feature_descriptions(self) -> dict[str, str]:
        return {"toy__mean": "mean signal", "toy__corr": "mean correlation"}

    def _subject_task(self) -> tuple[Any, dict[str, Any]]:
        return _mean_row, {"scale": self.scale}


class OwnSkeleton(Descriptor):
    """A plugin that overrides ``fit`` and ``transform`` itself (still supported)."""

    family = "own"

    def fit(self, X: Any, y: Any = None) -> OwnSkeleton:
        self.n_features_in_ = np.shape(X[0])[1]
        self.feature_names_out_ = ["own__std"]
        self.feature_descriptions_ = {"own__std": "signal spread"}
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        return pd.DataFrame({"own__std": [float(np.std(ts)) for ts in X]})


@pytest.fixture(scope="module")
def series() -> list[np.ndarray]:
    return make_fmri_cohort(n_subjects=4, n_rois=30, random_state=0).timeseries


@pytest.mark.parametrize("family", FAMILIES)
def test_builtin_families_use_the_template(family):
    for method in ("fit", "transform", "fit_transform", "_transform_shared"):
        assert getattr(family, method) is getattr(Descriptor, method), method


def test_hooks_give_fit_transform_and_shared_path(series):
    toy = ToyDescriptor(scale=2.0)
    with pytest.raises(NotFittedError):
        toy.transform(series)
    table = toy.fit(series).transform(series)
    assert toy.n_features_in_ == 30 and toy.feature_names_out_ == list(table.columns)
    expected = [2 * ts.mean() for ts in series]
    np.testing.assert_allclose(table["toy__mean"], expected)
    matrices = [connectivity_matrix(ts) for ts in series]
    np.testing.assert_allclose(table["toy__corr"], [m.mean() for m in matrices])
    pd.testing.assert_frame_equal(toy._transform_shared(series, matrices), table)
    pd.testing.assert_frame_equal(ToyDescriptor(scale=2.0).fit_transform(series), table)
    with pytest.raises(ValueError, match="subject 0 has 29 ROIs, expected 30"):
        toy.transform([ts[:, :29] for ts in series])


def test_plugin_with_its_own_skeleton_is_called(series):
    own = OwnSkeleton().fit(series)
    shared = own._transform_shared(series, [None] * len(series))
    np.testing.assert_allclose(shared["own__std"], [np.std(ts) for ts in series])


def test_refit_after_set_params_uses_the_new_names(series):
    graph = GraphMetrics(networks=None, random_state=0).fit(series)
    assert len(graph.feature_names_out_) == 3
    networks = make_fmri_cohort(n_subjects=4, n_rois=30, random_state=0).networks
    graph.set_params(networks=networks).fit(series)
    assert list(graph.transform(series).columns) == graph.feature_names_out_
    assert len(graph.feature_names_out_) == 10
