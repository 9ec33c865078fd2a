"""Tests of the functional connectivity descriptor family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors.base import YEO7
from brainlm_decode.descriptors.connectivity import (
    FunctionalConnectivity,
    connectivity_matrix,
    extreme_pairs,
    fc_feature_name,
    fisher_z,
    network_pair_means,
    networks_from_labels,
    networks_from_yeo_image,
)


@pytest.fixture(scope="module")
def cohort():
    return make_fmri_cohort(n_subjects=12, n_rois=100, random_state=0)


@pytest.fixture(scope="module")
def fitted(cohort):
    fc = FunctionalConnectivity(networks=cohort.networks).fit(cohort.timeseries)
    return fc, fc.transform(cohort.timeseries)


def test_shapes_names_descriptions(fitted):
    fc, table = fitted
    assert isinstance(table, pd.DataFrame)
    assert table.shape == (12, 28)
    assert list(table.columns) == fc.feature_names_out_
    assert fc.n_features_in_ == 100
    assert all(name.startswith("fc__") for name in fc.feature_names_out_)
    assert set(fc.feature_descriptions_) == set(fc.feature_names_out_)
    assert fc.family == "connectivity"
    assert "fc__Cont__Default" in fc.feature_names_out_
    assert fc.feature_descriptions_["fc__Cont__Default"] == (
        "mean connectivity between the frontoparietal control and default mode networks"
    )
    assert "within the visual" in fc.feature_descriptions_["fc__Vis__Vis"]
    assert np.isfinite(table.to_numpy()).all()
    np.testing.assert_array_equal(fc.get_feature_names_out(), fc.feature_names_out_)


def test_planted_pair_difference(cohort, fitted):
    _, table = fitted
    group = cohort.phenotypes["group"].to_numpy()
    diff = table[group == 1].mean() - table[group == 0].mean()
    planted = fc_feature_name(*cohort.effect["networks"])
    assert planted == "fc__Cont__Default"
    assert diff[planted] > 0.1
    assert diff.abs().idxmax() == planted


def test_network_pair_means_by_hand():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(9, 9))
    m = (m + m.T) / 2
    networks = ["Vis"] * 3 + ["Default"] * 2 + ["Subcortex"] * 2 + ["Cont"] * 2
    out = network_pair_means(m, networks)
    assert len(out) == 28
    vis = m[:3, :3][np.triu_indices(3, 1)].mean()
    assert out["fc__Vis__Vis"] == pytest.approx(vis)
    assert out["fc__Vis__Default"] == pytest.approx(m[:3, 3:5].mean())
    assert out["fc__Cont__Default"] == pytest.approx(m[7:9, 3:5].mean())
    assert np.isnan(out["fc__Limbic__Limbic"])


def test_fisher_z_and_correlation(cohort):
    ts = cohort.timeseries[0]
    r = connectivity_matrix(ts)
    np.testing.assert_allclose(r, np.corrcoef(ts.T), atol=1e-12)
    z = connectivity_matrix(ts, fisher=True)
    np.testing.assert_allclose(z, np.arctanh(np.clip(r, -1 + 1e-7, 1 - 1e-7)))
    assert np.isfinite(fisher_z(np.array([1.0, -1.0]))).all()
    duplicated = np.column_stack([ts[:, 0], ts[:, 0], ts[:, 1]])
    assert np.isfinite(connectivity_matrix(duplicated, fisher=True)).all()


def test_correlation_matches_nilearn(cohort):
    from nilearn.connectome import ConnectivityMeasure
    from sklearn.covariance import EmpiricalCovariance, LedoitWolf

    ts = cohort.timeseries[1]
    expected = ConnectivityMeasure(
        cov_estimator=EmpiricalCovariance(),
        kind="correlation",
        standardize="zscore_sample",
    ).fit_transform([ts])[0]
    np.testing.assert_allclose(connectivity_matrix(ts), expected, atol=1e-10)
    nilearn_path = connectivity_matrix(
        ts, kind="correlation", cov_estimator=EmpiricalCovariance()
    )
    np.testing.assert_allclose(nilearn_path, expected, atol=1e-12)
    partial = ConnectivityMeasure(
        cov_estimator=LedoitWolf(store_precision=False),
        kind="partial correlation",
        standardize="zscore_sample",
    ).fit_transform([ts])[0]
    np.testing.assert_allclose(
        connectivity_matrix(ts, kind="partial correlation"), partial, atol=1e-12
    )
    fc = FunctionalConnectivity(networks=cohort.networks, kind="partial correlation")
    assert fc.fit(cohort.timeseries[:2]).transform(cohort.timeseries[:2]).shape == (
        2,
        28,
    )


def test_non_yeo_rois_are_left_out(cohort):
    ts = cohort.timeseries[:3]
    rng = np.random.default_rng(1)
    extra = [np.column_stack([t, rng.normal(size=(len(t), 4))]) for t in ts]
    networks = list(cohort.networks) + ["Subcortex"] * 4
    base = FunctionalConnectivity(networks=cohort.networks).fit(ts).transform(ts)
    more = FunctionalConnectivity(networks=networks).fit(extra).transform(extra)
    pd.testing.assert_frame_equal(base, more)


def test_extreme_pairs(fitted):
    fc, table = fitted
    row = table.iloc[0]
    pairs = fc.extreme_pairs(row, k=3)
    values = row.sort_values()
    assert [n for n, _ in pairs["top"]] == list(values.index[::-1][:3])
    assert [n for n, _ in pairs["bottom"]] == list(values.index[:3])
    between = extreme_pairs(row, k=2, between_only=True)
    assert all(len(set(n.split("__")[1:])) == 2 for n, _ in between["top"])
    with pytest.raises(ValueError, match="'k'"):
        extreme_pairs(row, k=0)


def test_networks_from_labels(cohort):
    assert networks_from_labels(cohort.roi_labels) == list(cohort.networks)
    out = networks_from_labels(
        ["7Networks_LH_Vis_1", "PCC", "Thal"], mapping={"PCC": "Default"}
    )
    assert out == ["Vis", "Default", "Subcortex"]
    assert fc_feature_name("Default", "Cont") == fc_feature_name("Cont", "Default")
    with pytest.raises(ValueError, match="Unknown network"):
        fc_feature_name("Default", "Nope")


def test_networks_from_yeo_image():
    import nibabel as nib

    atlas = np.zeros((6, 4, 3), dtype=np.int16)
    atlas[0:2] = 5  # ROI 5: mostly Vis (1), one voxel column of Default (7)
    atlas[2:4] = 9  # ROI 9: Default
    atlas[4:5] = 11  # ROI 11: outside the Yeo mask
    yeo = np.zeros_like(atlas)
    yeo[0:2] = 1
    yeo[1, 0] = 7
    yeo[2:4] = 7
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    atlas_img = nib.Nifti1Image(atlas, affine)
    yeo_img = nib.Nifti1Image(yeo, affine)
    out = networks_from_yeo_image(atlas_img, yeo_img)
    assert out == ["Vis", "Default", "Unassigned"]
    out = networks_from_yeo_image(atlas_img, yeo_img, roi_values=[9, 5])
    assert out == ["Default", "Vis"]


def test_networks_from_yeo_image_min_overlap():
    import nibabel as nib

    atlas = np.zeros((8, 2, 2), dtype=np.int16)
    atlas[0:4] = 1  # ROI 1: one voxel row in 4 inside the Yeo mask (25 %)
    atlas[4:8] = 2  # ROI 2: three rows in 4 inside (75 %)
    yeo = np.zeros_like(atlas)
    yeo[0] = 3
    yeo[4:7] = 6
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    atlas_img, yeo_img = nib.Nifti1Image(atlas, affine), nib.Nifti1Image(yeo, affine)
    assert networks_from_yeo_image(atlas_img, yeo_img) == ["DorsAttn", "Cont"]
    out = networks_from_yeo_image(
        atlas_img, yeo_img, min_overlap=0.5, unassigned="Subcortex"
    )
    assert out == ["Subcortex", "Cont"]
    assert networks_from_yeo_image(atlas_img, yeo_img, min_overlap=0.25) == [
        "DorsAttn",
        "Cont",
    ]
    with pytest.raises(ValueError, match="min_overlap"):
        networks_from_yeo_image(atlas_img, yeo_img, min_overlap=1.5)


def test_errors(cohort):
    ts = cohort.timeseries[:3]
    fc = FunctionalConnectivity(networks=cohort.networks).fit(ts)
    with pytest.raises(ValueError, match="100"):
        fc.transform([t[:, :50] for t in ts])
    with pytest.raises(ValueError, match="one entry per ROI"):
        FunctionalConnectivity(networks=cohort.networks[:10]).fit(ts)
    with pytest.raises(ValueError, match="got None"):
        FunctionalConnectivity().fit(ts)
    bad = [t.copy() for t in ts]
    bad[1][3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fc.transform(bad)
    with pytest.raises(ValueError, match="'kind'"):
        FunctionalConnectivity(networks=cohort.networks, kind="tangent").fit(ts)
    with pytest.raises(TypeError, match="list"):
        fc.transform("subject.nii")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FunctionalConnectivity(networks=cohort.networks).transform(ts)


def test_small_network_warns_and_clone(cohort):
    networks = ["Vis"] * 99 + ["Default"]
    with pytest.warns(UserWarning, match="fewer than 2 ROIs"):
        fc = FunctionalConnectivity(networks=networks).fit(cohort.timeseries[:2])
    table = fc.transform(cohort.timeseries[:2])
    assert np.isnan(table["fc__Default__Default"]).all()
    assert np.isfinite(table["fc__Vis__Default"]).all()
    assert table.columns.tolist()[:7] == [f"fc__Vis__{n}" for n in YEO7]
    copy = clone(fc)
    assert copy.get_params()["networks"] == networks
    assert not hasattr(copy, "feature_names_out_")


def test_n_jobs_gives_same_result(cohort, fitted):
    _, table = fitted
    from joblib import parallel_config

    fc = FunctionalConnectivity(networks=cohort.networks, n_jobs=2)
    with parallel_config(backend="threading"):
        out = fc.fit(cohort.timeseries).transform(cohort.timeseries)
    pd.testing.assert_frame_equal(out, table)
