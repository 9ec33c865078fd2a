"""Descriptors on real data (skipped without ../shared/data).

Sanity checks on HCP (brainspace's group connectivity and 7 resting-state runs) and
ABIDE PITT: outputs are finite and in their ranges, and the group connectivity
shows the network structure every resting-state study reports (within-network
connectivity above between-network connectivity).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.io import loadmat

from brainlm_decode import ROITimeSeriesPreprocessor
from brainlm_decode.datasets import fetch_atlas_schaefer_tian
from brainlm_decode.descriptors import FunctionalGradients, GraphMetrics
from brainlm_decode.descriptors.base import YEO7
from brainlm_decode.descriptors.connectivity import network_pair_means


def test_hcp_group_connectivity_is_stronger_within_networks(shared_data_dir):
    from brainspace.datasets import load_group_fc

    matrix = load_group_fc("schaefer", scale=400)
    atlas = fetch_atlas_schaefer_tian(
        450, data_dir=shared_data_dir / "atlases", verbose=0
    )
    networks = atlas.networks[atlas.n_subcortex :]  # Schaefer 1-400 follow Tian S3
    assert len(networks) == 400
    means = network_pair_means(np.arctanh(np.clip(matrix, -0.999, 0.999)), networks)
    within = [means[f"fc__{n}__{n}"] for n in YEO7]
    between = [v for k, v in means.items() if k.split("__")[1] != k.split("__")[2]]
    assert np.mean(within) > np.mean(between) + 0.1
    # and for every network, its own block beats its average link to the others;
    # except the limbic network (orbitofrontal cortex and temporal poles), whose
    # low-SNR, signal-dropout regions are known to give weak within-network coupling
    for net in [n for n in YEO7 if n != "Limbic"]:
        others = [
            v
            for k, v in means.items()
            if net in k.split("__")[1:] and k != f"fc__{net}__{net}"
        ]
        assert means[f"fc__{net}__{net}"] > np.mean(others), net


def _hcp_series(folder):
    files = sorted(folder.glob("*.mat"))
    if not files:
        pytest.skip(f"no HCP runs in {folder}")
    return [np.asarray(loadmat(f)["tc"], dtype=np.float64).T for f in files]


def test_hcp_runs_through_preprocessing_graph_and_gradients(shared_data_dir):
    series = _hcp_series(shared_data_dir / "hcp_rest")
    prep = ROITimeSeriesPreprocessor(t_r=0.72, constant_rois="warn")
    data = prep.fit_transform(series)
    assert data.shape == (len(series), 160, 94) and np.isfinite(data).all()
    graph = GraphMetrics(random_state=0).fit(data).transform(data)
    assert np.isfinite(graph.to_numpy()).all()
    assert graph["graph__global_efficiency"].between(0, 1).all()
    assert graph["graph__modularity"].between(0, 1).all()
    gradients = FunctionalGradients(random_state=0).fit(data[:5]).transform(data[5:])
    assert np.isfinite(gradients.to_numpy()).all()
    assert (gradients["gradients__g1_range"] > 0).all()


def test_abide_runs_through_preprocessing_and_graph(shared_data_dir):
    folder = shared_data_dir / "abide_pitt" / "roi_timeseries_aal116"
    files = sorted(folder.glob("*.mat"))[:12]
    if not files:
        pytest.skip(f"no ABIDE runs in {folder}")
    series = [np.asarray(loadmat(f)["ROISignals"], dtype=np.float64) for f in files]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some ABIDE runs have a constant ROI
        data = ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn").fit_transform(
            series
        )
    assert data.shape == (len(files), 160, 116) and np.isfinite(data).all()
    graph = GraphMetrics(random_state=0).fit(data).transform(data)
    assert np.isfinite(graph.to_numpy()).all()
