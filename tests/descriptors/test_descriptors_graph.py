"""Tests of the graph-metrics descriptor family (checked against bctpy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors.base import YEO7
from brainlm_decode.descriptors.connectivity import connectivity_matrix
from brainlm_decode.descriptors.graph import (
    GraphMetrics,
    clustering_coefficient,
    global_efficiency,
    modularity,
    threshold_positive_density,
)

bct = pytest.importorskip("bct")


@pytest.fixture(scope="module")
def cohort():
    return make_fmri_cohort(n_subjects=12, n_rois=100, random_state=0)


def _random_graph(n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.uniform(-0.5, 1.0, size=(n, n))
    return threshold_positive_density((m + m.T) / 2, density)


@pytest.mark.parametrize(
    ("n", "density", "seed"), [(30, 0.1, 0), (60, 0.05, 1), (80, 0.3, 2)]
)
def test_equal_to_bct_on_random_graphs(n, density, seed):
    W = _random_graph(n, density, seed)
    assert global_efficiency(W) == pytest.approx(bct.efficiency_wei(W), abs=1e-10)
    np.testing.assert_allclose(
        clustering_coefficient(W), bct.clustering_coef_wu(W), rtol=0, atol=1e-10
    )


def test_equal_to_bct_on_subject(cohort):
    C = connectivity_matrix(cohort.timeseries[0])
    W = threshold_positive_density(C, 0.1)
    expected = bct.threshold_proportional(np.clip(C, 0, None), 0.1)
    np.testing.assert_array_equal(W, expected)
    assert global_efficiency(W) == pytest.approx(bct.efficiency_wei(W), abs=1e-10)
    np.testing.assert_allclose(
        clustering_coefficient(W), bct.clustering_coef_wu(W), rtol=0, atol=1e-10
    )
    graph = GraphMetrics(networks=cohort.networks, random_state=3).fit(
        cohort.timeseries
    )
    row = graph.transform(cohort.timeseries[:1]).iloc[0]
    assert row["graph__global_efficiency"] == pytest.approx(
        bct.efficiency_wei(W), abs=1e-10
    )
    assert row["graph__clustering"] == pytest.approx(
        bct.clustering_coef_wu(W).mean(), abs=1e-10
    )
    # our Louvain (another random stream than bctpy's) reaches bctpy's Q here,
    # where the planted networks make the optimum clear-cut
    bct_q = [bct.community_louvain(W, gamma=1, seed=s)[1] for s in range(5)]
    assert min(bct_q) - 1e-6 <= row["graph__modularity"] <= max(bct_q) + 1e-6
    strength = W.sum(axis=1)
    networks = np.asarray(cohort.networks)
    for name in YEO7:
        assert row[f"graph__strength__{name}"] == pytest.approx(
            strength[networks == name].mean()
        )


def test_disconnected_graph_matches_bct():
    W = _random_graph(20, 0.1, 5)
    W[:5] = 0
    W[:, :5] = 0  # five isolated nodes
    assert global_efficiency(W) == pytest.approx(bct.efficiency_wei(W), abs=1e-12)
    np.testing.assert_allclose(clustering_coefficient(W), bct.clustering_coef_wu(W))
    assert global_efficiency(np.zeros((4, 4))) == 0.0
    assert modularity(np.zeros((4, 4))) == 0.0


@pytest.mark.parametrize("density", [0.02, 0.1, 0.25])
def test_density_respected(cohort, density):
    W = threshold_positive_density(connectivity_matrix(cohort.timeseries[2]), density)
    n = W.shape[0]
    n_edges = np.count_nonzero(np.triu(W, 1))
    assert n_edges == int(np.floor(density * n * (n - 1) / 2 + 0.5))
    assert (W >= 0).all()
    np.testing.assert_array_equal(W, W.T)
    assert np.all(np.diag(W) == 0)


def test_only_positive_edges_kept():
    m = -np.ones((6, 6))
    m[0, 1] = m[1, 0] = 0.4
    m[2, 3] = m[3, 2] = 0.2
    W = threshold_positive_density(m, 0.9)
    assert np.count_nonzero(np.triu(W, 1)) == 2
    assert W[0, 1] == 0.4 and W[2, 3] == 0.2


def test_modularity_seeded(cohort):
    graph = GraphMetrics(random_state=7).fit(cohort.timeseries[:4])
    first = graph.transform(cohort.timeseries[:4])
    again = graph.transform(cohort.timeseries[:4])
    pd.testing.assert_frame_equal(first, again)
    alone = graph.transform(cohort.timeseries[3:4])  # same seed for each subject
    assert alone.iloc[0]["graph__modularity"] == first.iloc[3]["graph__modularity"]
    W = threshold_positive_density(connectivity_matrix(cohort.timeseries[0]), 0.1)
    assert modularity(W, seed=1) == modularity(W, seed=1)
    assert 0.0 < modularity(W, seed=1) < 1.0


def test_shapes_names(cohort):
    graph = GraphMetrics(networks=cohort.networks, random_state=0)
    table = graph.fit(cohort.timeseries).transform(cohort.timeseries)
    assert table.shape == (12, 10)
    assert list(table.columns) == graph.feature_names_out_
    assert graph.family == "graph"
    assert all(n.startswith("graph__") for n in graph.feature_names_out_)
    assert set(graph.feature_descriptions_) == set(graph.feature_names_out_)
    assert "default mode" in graph.feature_descriptions_["graph__strength__Default"]
    assert np.isfinite(table.to_numpy()).all()
    bare = GraphMetrics(random_state=0).fit(cohort.timeseries[:2])
    assert bare.feature_names_out_ == [
        "graph__modularity",
        "graph__global_efficiency",
        "graph__clustering",
    ]
    denser = GraphMetrics(density=0.3, random_state=0).fit(cohort.timeseries[:2])
    sparse = bare.transform(cohort.timeseries[:2])
    dense = denser.transform(cohort.timeseries[:2])
    assert (
        dense["graph__global_efficiency"] > sparse["graph__global_efficiency"]
    ).all()


def test_vectorised_clustering_agrees_with_two_products():
    W = _random_graph(50, 0.2, 9)
    root = np.cbrt(W)
    direct = np.diag(root @ root @ root)
    k = np.count_nonzero(W, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(direct > 0, direct / (k * (k - 1.0)), 0.0)
    np.testing.assert_allclose(clustering_coefficient(W), expected, atol=1e-12)


def test_errors(cohort):
    ts = cohort.timeseries[:2]
    graph = GraphMetrics(networks=cohort.networks).fit(ts)
    with pytest.raises(ValueError, match="expected 100"):
        graph.transform([t[:, :-1] for t in ts])
    with pytest.raises(ValueError, match="one entry per ROI"):
        GraphMetrics(networks=cohort.networks[:-1]).fit(ts)
    bad = [ts[0].copy()]
    bad[0][0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        graph.transform(bad)
    with pytest.raises(ValueError, match="'density'"):
        GraphMetrics(density=0.0).fit(ts)
    with pytest.raises(ValueError, match="'density'"):
        GraphMetrics(density=1.5).fit(ts)
    with pytest.raises(ValueError, match="'random_state'"):
        GraphMetrics(random_state=-1).fit(ts)
