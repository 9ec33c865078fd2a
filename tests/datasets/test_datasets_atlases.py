"""Tests of the atlas fetchers (offline: local folders, cache, fake files)."""

from __future__ import annotations

import shutil
import urllib.error

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainlm_decode.datasets import (
    FILE_REGISTRY,
    SUBCORTEX_NETWORK,
    YEO7_NETWORKS,
    DataUnavailableError,
    _fetch,
    atlases,
    fetch_atlas_difumo,
    fetch_atlas_schaefer_tian,
    parse_network_names,
    read_label_lut,
)


def test_parse_network_names():
    labels = [
        "7Networks_LH_Vis_1",
        "7Networks_RH_SalVentAttn_FrOperIns_2",
        "17Networks_LH_DefaultA_PFCm_1",
        "HIP-head-m-rh",
        "Cerebellum",
    ]
    assert parse_network_names(labels) == [
        "Vis",
        "SalVentAttn",
        "DefaultA",
        SUBCORTEX_NETWORK,
        SUBCORTEX_NETWORK,
    ]
    assert parse_network_names(["CAU-lh"], default="Other") == ["Other"]


def test_read_label_lut(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text(
        "HIP-rh\n1 171 243 85 255\n\n7Networks_LH_Vis_1\n2 120 18 131 255\n"
    )
    lut = read_label_lut(path)
    assert list(lut.columns) == ["index", "name", "network", "hemisphere", "color"]
    assert lut["index"].tolist() == [0, 1, 2]
    assert lut["name"].tolist() == ["Background", "HIP-rh", "7Networks_LH_Vis_1"]
    assert lut["network"].tolist() == ["Background", SUBCORTEX_NETWORK, "Vis"]
    assert lut["hemisphere"].tolist() == ["", "R", "L"]
    assert lut["color"].iloc[1] == "#abf355"


@pytest.mark.parametrize(
    "text, match",
    [
        ("HIP-rh\n1 171 243 85 255\nAMY-rh\n", "odd number"),
        ("HIP-rh\nAMY-rh\n", "index R G B A"),
    ],
)
def test_read_label_lut_malformed(tmp_path, text, match):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_label_lut(path)


def test_every_schaefer_tian_atlas_is_registered():
    for n_rois in atlases._SCHAEFER_TIAN:
        for name in atlases._schaefer_tian_filenames(n_rois):
            url, sha256 = FILE_REGISTRY[f"schaefer_tian/{name}"]
            assert url.endswith(name) and "yetianmed/subcortex" in url
            assert sha256 is not None


@pytest.mark.shared_data
@pytest.mark.parametrize("n_rois, n_subcortex", [(450, 50), (116, 16)])
def test_schaefer_tian_from_local_folder(shared_data_dir, n_rois, n_subcortex):
    atlas = fetch_atlas_schaefer_tian(n_rois, data_dir=shared_data_dir / "atlases")
    assert len(atlas.labels) == n_rois
    assert len(atlas.networks) == n_rois
    assert atlas.n_subcortex == n_subcortex
    assert atlas.networks.count(SUBCORTEX_NETWORK) == n_subcortex
    assert set(atlas.networks[:n_subcortex]) == {SUBCORTEX_NETWORK}
    assert set(atlas.networks[n_subcortex:]) == set(YEO7_NETWORKS)
    assert atlas.labels[n_subcortex] == "7Networks_LH_Vis_1"
    assert len(atlas.lut) == n_rois + 1 and atlas.lut["name"].iloc[0] == "Background"
    img = nib.load(atlas.maps)
    assert img.shape == (91, 109, 91)
    assert atlas.atlas_type == "deterministic"


@pytest.mark.shared_data
def test_schaefer_tian_from_cache_is_checksummed(shared_data_dir, tmp_path):
    # files placed by hand in the cache pass the registered checksums, offline
    cache = tmp_path / "schaefer_tian"
    cache.mkdir()
    for name in atlases._schaefer_tian_filenames(450):
        shutil.copy(shared_data_dir / "atlases" / name, cache / name)
    atlas = fetch_atlas_schaefer_tian(450, data_dir=tmp_path, verbose=0)
    assert atlas.maps == str(cache / atlases._schaefer_tian_filenames(450)[0])
    assert len(atlas.labels) == 450


def test_schaefer_tian_offline_error(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(_fetch.urllib.request, "urlopen", no_network)
    with pytest.raises(DataUnavailableError) as excinfo:
        fetch_atlas_schaefer_tian(450, data_dir=tmp_path, verbose=0)
    message = str(excinfo.value)
    assert "github" in message
    assert str(tmp_path / "schaefer_tian") in message


@pytest.mark.parametrize("n_rois", [100, 400, "450", True])
def test_schaefer_tian_bad_n_rois(n_rois):
    with pytest.raises(ValueError, match="'n_rois' parameter"):
        fetch_atlas_schaefer_tian(n_rois)


def test_schaefer_tian_mismatched_image(tmp_path):
    names = atlases._schaefer_tian_filenames(116)
    lines = []
    for i in range(1, 117):
        lines += [f"7Networks_LH_Vis_{i}", f"{i} 1 2 3 255"]
    (tmp_path / names[1]).write_text("\n".join(lines))
    data = np.zeros((4, 4, 4), dtype="int16")
    data[0, 0, :3] = [1, 2, 3]
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / names[0])
    with pytest.raises(ValueError, match="must contain the labels 1..116"):
        fetch_atlas_schaefer_tian(116, data_dir=tmp_path)


def _fake_difumo(root, dimension=64):
    folder = root / "difumo_atlases" / str(dimension)
    (folder / "2mm").mkdir(parents=True)
    maps = np.zeros((3, 3, 3, dimension), dtype="float32")
    nib.save(nib.Nifti1Image(maps, np.eye(4)), folder / "2mm" / "maps.nii.gz")
    pd.DataFrame(
        {"Component": np.arange(1, dimension + 1), "Difumo_names": ["x"] * dimension}
    ).to_csv(folder / f"labels_{dimension}_dictionary.csv", index=False)
    return folder


def test_difumo_cached_files_load_offline(tmp_path):
    folder = _fake_difumo(tmp_path, 64)
    atlas = fetch_atlas_difumo(64, data_dir=tmp_path, verbose=0)
    assert atlas.maps.endswith("maps.nii.gz")
    assert str(folder) in str(atlas.maps)
    assert len(atlas.labels) == 64
    assert (tmp_path / "difumo_atlases" / "README.md").is_file()


def test_difumo_offline_error(tmp_path, monkeypatch):
    import nilearn.datasets

    def offline(**kwargs):
        raise OSError("Failed to resolve 'osf.io'")

    monkeypatch.setattr(nilearn.datasets, "fetch_atlas_difumo", offline)
    with pytest.raises(DataUnavailableError) as excinfo:
        fetch_atlas_difumo(512, data_dir=tmp_path, verbose=0)
    message = str(excinfo.value)
    assert "https://osf.io/9b76y/download" in message
    assert str(tmp_path / "difumo_atlases") in message
    assert "512/2mm/maps.nii.gz" in message


@pytest.mark.parametrize(
    "kwargs, match",
    [({"dimension": 100}, "'dimension'"), ({"resolution_mm": 1}, "'resolution_mm'")],
)
def test_difumo_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fetch_atlas_difumo(**kwargs)
