"""Our seeded Louvain against bctpy's ``community_louvain`` and a textbook Q."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import loadmat

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors.community import (
    louvain_communities,
    modularity_score,
)
from brainlm_decode.descriptors.connectivity import connectivity_matrix
from brainlm_decode.descriptors.graph import modularity, threshold_positive_density

bct = pytest.importorskip("bct")

SEEDS = range(8)


def textbook_q(W: np.ndarray, labels: np.ndarray, gamma: float = 1.0) -> float:
    """``Q = 1/(2m) sum_ij [A_ij - gamma k_i k_j / (2m)] delta(c_i, c_j)``, by loops."""
    two_m = W.sum()
    k = W.sum(axis=1)
    q = 0.0
    for i in range(len(W)):
        for j in range(len(W)):
            if labels[i] == labels[j]:
                q += W[i, j] - gamma * k[i] * k[j] / two_m
    return q / two_m


def block_graph(n: int, n_blocks: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blocks = np.repeat(np.arange(n_blocks), n // n_blocks)
    m = rng.uniform(0, 1, (len(blocks), len(blocks)))
    m += 0.6 * (blocks[:, None] == blocks[None, :])
    return threshold_positive_density((m + m.T) / 2, 0.15)


def compare_with_bct(W: np.ndarray, tol: float) -> None:
    """Our Q: the textbook Q of our partition, inside bctpy's range over seeds."""
    ours = []
    for seed in SEEDS:
        labels, q = louvain_communities(W, seed=seed)
        assert q == pytest.approx(modularity_score(W, labels), abs=1e-12)
        assert q == pytest.approx(bct.modularity_und(W, kci=labels + 1)[1], abs=1e-10)
        ours.append(q)
    theirs = [bct.community_louvain(W, seed=seed)[1] for seed in SEEDS]
    assert min(ours) >= min(theirs) - tol
    assert np.mean(ours) >= np.mean(theirs) - tol / 2
    assert max(ours) <= max(theirs) + tol  # a far higher Q would mean a wrong Q


def test_modularity_score_equals_textbook_formula():
    W = block_graph(40, 4, 0)
    rng = np.random.default_rng(1)
    for gamma in (0.5, 1.0, 2.0):
        labels = rng.integers(0, 5, size=40)
        assert modularity_score(W, labels, gamma=gamma) == pytest.approx(
            textbook_q(W, labels, gamma), abs=1e-12
        )


@pytest.mark.parametrize(
    ("n", "n_blocks", "seed"), [(60, 3, 0), (90, 6, 1), (120, 4, 2)]
)
def test_block_graphs_match_bct(n, n_blocks, seed):
    compare_with_bct(block_graph(n, n_blocks, seed), tol=0.005)


def test_synthetic_450_roi_subject_matches_bct():
    cohort = make_fmri_cohort(n_subjects=2, n_rois=450, random_state=0)
    W = threshold_positive_density(connectivity_matrix(cohort.timeseries[0]), 0.1)
    labels, q = louvain_communities(W, seed=0)
    assert q == pytest.approx(bct.community_louvain(W, seed=0)[1], abs=1e-6)
    assert q == pytest.approx(textbook_q(W, labels), abs=1e-10)


def test_hcp_group_connectome_matches_bct():
    brainspace_datasets = pytest.importorskip("brainspace.datasets")
    try:
        matrix = brainspace_datasets.load_group_fc("schaefer", scale=200)
    except Exception as exc:  # pragma: no cover - depends on the brainspace install
        pytest.skip(f"brainspace HCP matrices unavailable: {exc}")
    compare_with_bct(threshold_positive_density(matrix, 0.1), tol=0.01)


def test_real_subjects_match_bct(shared_data_dir):
    abide = sorted(
        (shared_data_dir / "abide_pitt" / "roi_timeseries_aal116").glob("*.mat")
    )
    hcp = sorted((shared_data_dir / "hcp_rest").glob("*.mat"))
    series = [loadmat(abide[0])["ROISignals"], loadmat(hcp[0])["tc"].T]
    for ts in series:
        W = threshold_positive_density(connectivity_matrix(np.asarray(ts, float)), 0.1)
        compare_with_bct(W, tol=0.015)


def test_planted_partition_seeded_and_contiguous():
    block = np.ones((5, 5)) - np.eye(5)
    W = np.kron(np.eye(3), block)
    W[4, 5] = W[5, 4] = 0.1  # a weak bridge between the first two cliques
    labels, q = louvain_communities(W, seed=3)
    assert sorted(set(labels)) == [0, 1, 2]
    for start in (0, 5, 10):
        assert len(set(labels[start : start + 5])) == 1
    assert q == pytest.approx(textbook_q(W, labels))
    again, q_again = louvain_communities(W, seed=3)
    np.testing.assert_array_equal(labels, again)
    assert q_again == q
    assert modularity(W, seed=3) == q


def test_graph_without_edges_and_bad_inputs():
    labels, q = louvain_communities(np.zeros((4, 4)))
    assert q == 0.0
    np.testing.assert_array_equal(labels, np.arange(4))
    assert modularity_score(np.zeros((3, 3)), [0, 0, 1]) == 0.0
    with pytest.raises(ValueError, match="square"):
        louvain_communities(np.ones((3, 4)))
    with pytest.raises(ValueError, match="non-negative"):
        louvain_communities(-np.ones((3, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        louvain_communities(np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="one entry per node"):
        modularity_score(np.ones((3, 3)), [0, 1])
