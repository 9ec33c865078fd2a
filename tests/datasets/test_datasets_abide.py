"""ABIDE loaders: a synthetic PCP layout (always) and the shared data (when there)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainlm_decode.datasets import load_abide_pcp, load_abide_pitt
from brainlm_decode.datasets.abide import ABIDE_PCP_ENV_VAR


def _write_layout(root, rng):
    """Two sites, three subjects (one without HO), one flat ROI."""
    pheno = pd.DataFrame(
        {
            "SUB_ID": [1, 2, 3],
            "SITE_ID": ["A", "A", "B"],
            "TR_S": [2.0, 2.0, 1.5],
            "DX_GROUP": [1, 0, 1],
            "SEX": [1, 2, 1],
            "AGE_AT_SCAN": [10.0, 20.0, 30.0],
            "FIQ": [100.0, -9999.0, 110.0],
            "HANDEDNESS_CATEGORY": ["R", "-9999", "L"],
        }
    )
    pheno.to_csv(root / "phenotypes.csv", index=False)
    raw = {}
    for atlas, n_rois in (("cc200", 200), ("ho", 111)):
        (root / atlas).mkdir()
        for site, subs in (("A", [1, 2]), ("B", [3])):
            arrays = {}
            for sub in subs:
                if atlas == "ho" and sub == 2:
                    continue
                series = rng.normal(5.0, 2.0, size=(20, n_rois))
                series[:, 0] = 3.0  # flat ROI
                mean, std = series.mean(0), series.std(0)
                z = np.divide(
                    series - mean, std, out=np.zeros_like(series), where=std > 0
                )
                arrays[f"{sub}_z"] = z.astype(np.float16)
                arrays[f"{sub}_mean"] = mean.astype(np.float32)
                arrays[f"{sub}_std"] = std.astype(np.float32)
                raw[atlas, sub] = series
            np.savez(root / atlas / f"{site}.npz", **arrays)
    return raw


def test_load_abide_pcp_synthetic_layout(tmp_path):
    raw = _write_layout(tmp_path, np.random.default_rng(0))
    data = load_abide_pcp(tmp_path)
    assert list(data.subject_ids) == [1, 2, 3]
    assert list(data.site) == ["A", "A", "B"]
    np.testing.assert_allclose(data.t_r, [2.0, 2.0, 1.5])
    assert data.site_t_r == {"A": 2.0, "B": 1.5}
    for sub, series in zip(data.subject_ids, data.timeseries, strict=True):
        assert series.shape == (20, 200) and series.dtype == np.float64
        np.testing.assert_allclose(series, raw["cc200", sub], rtol=2e-3, atol=5e-3)
        np.testing.assert_allclose(series[:, 0], 3.0, rtol=1e-6)  # flat ROI kept
    assert np.isnan(data.phenotypic.loc[1, "FIQ"])
    assert pd.isna(data.phenotypic.loc[1, "HANDEDNESS_CATEGORY"])
    assert len(data.roi_values) == 200


def test_load_abide_pcp_atlas_sites_dtype(tmp_path):
    _write_layout(tmp_path, np.random.default_rng(0))
    data = load_abide_pcp(tmp_path, atlas="ho", dtype=np.float32)
    assert list(data.subject_ids) == [1, 3]  # subject 2 lacks HO
    assert data.timeseries[0].shape == (20, 111)
    assert data.timeseries[0].dtype == np.float32
    one = load_abide_pcp(tmp_path, sites="B")
    assert list(one.subject_ids) == [3] and one.site_t_r == {"B": 1.5}


def test_load_abide_pcp_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_abide_pcp(tmp_path / "nowhere")
    monkeypatch.setenv(ABIDE_PCP_ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        load_abide_pcp()
    _write_layout(tmp_path, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'atlas'.*'aal'"):
        load_abide_pcp(tmp_path, atlas="aal")
    with pytest.raises(ValueError, match="'sites'.*'C'"):
        load_abide_pcp(tmp_path, sites=["C"])
    with pytest.raises(FileNotFoundError, match="ABIDE PITT"):
        load_abide_pitt(tmp_path / "nowhere")


@pytest.mark.shared_data
def test_load_abide_pcp_shared(shared_data_dir):
    folder = shared_data_dir / "abide_pcp"
    if not folder.is_dir():
        pytest.skip("no abide_pcp in the shared data")
    data = load_abide_pcp(folder, sites=["PITT", "KKI"], dtype=np.float32)
    assert set(data.site_t_r) == {"PITT", "KKI"}
    assert data.site_t_r["PITT"] == 1.5
    assert all(ts.shape[1] == 200 for ts in data.timeseries)
    lengths = data.phenotypic["N_TIMEPOINTS"].to_numpy()
    assert [ts.shape[0] for ts in data.timeseries] == list(lengths)
    assert set(data.phenotypic["DX_GROUP"]) <= {0, 1}
    assert (data.phenotypic.select_dtypes("number") != -9999).all().all()
    ho = load_abide_pcp(folder, atlas="ho", sites="PITT")
    assert ho.timeseries[0].shape[1] == 111
    assert ho.roi_labels[0] == "Left Thalamus"


@pytest.mark.shared_data
def test_load_abide_pitt_shared(shared_data_dir):
    folder = shared_data_dir / "abide_pitt"
    if not folder.is_dir():
        pytest.skip("no abide_pitt in the shared data")
    data = load_abide_pitt(folder)
    assert len(data.timeseries) == 56
    assert data.timeseries[0].shape == (195, 116)
    assert data.site_t_r == {"PITT": 1.5}
