"""Tests of the fMRI-LM preprocessing contract (ROITimeSeriesPreprocessor)."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.timeseries.preprocessing import (
    ROITimeSeriesPreprocessor,
    resample_timeseries,
)

OWNER = "ROITimeSeriesPreprocessor"


@pytest.fixture(scope="module")
def cohort():
    """Twelve subjects, two sites, 300 points at TR 0.8 s (240 s)."""
    return make_fmri_cohort(
        n_subjects=12, n_rois=14, n_timepoints=300, t_r=0.8, n_sites=2, random_state=0
    )


def _rng_series(n_timepoints=200, n_rois=5, seed=0):
    return np.random.RandomState(seed).standard_normal((n_timepoints, n_rois))


def _amplitude(x, t, freq):
    """Least-squares amplitude of a sinusoid of ``freq`` in ``x`` sampled at ``t``."""
    design = np.column_stack(
        [np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)]
    )
    coef, *_ = np.linalg.lstsq(design, x - x.mean(), rcond=None)
    return float(np.hypot(*coef))


# ----------------------------------------------------------------------- resampling


def test_resample_sine_keeps_frequency_and_amplitude():
    t = np.arange(1200) * 0.72
    x = 1.5 * np.sin(2 * np.pi * 0.05 * t) + 3.0
    y = resample_timeseries(x, 0.72, 2.0)
    assert y.shape == (432,)
    t_new = np.arange(y.size) * 2.0
    expected = 1.5 * np.sin(2 * np.pi * 0.05 * t_new) + 3.0
    np.testing.assert_allclose(y[10:-10], expected[10:-10], atol=1e-3)
    spectrum = np.abs(np.fft.rfft(y - y.mean()))
    freqs = np.fft.rfftfreq(y.size, d=2.0)
    assert freqs[np.argmax(spectrum)] == pytest.approx(0.05, abs=1.0 / (y.size * 2.0))
    assert _amplitude(y[10:-10], t_new[10:-10], 0.05) == pytest.approx(1.5, rel=1e-3)


def test_resample_attenuates_instead_of_aliasing():
    t = np.arange(1200) * 0.72
    x = np.sin(2 * np.pi * 0.4 * t)  # above the new Nyquist (0.25 Hz)
    y = resample_timeseries(x[:, None], 0.72, 2.0)[:, 0]
    t_new = np.arange(y.size) * 2.0
    alias = abs(0.4 - 0.5)  # naive sampling at 2 s folds 0.4 Hz onto 0.1 Hz
    naive = np.interp(t_new, t, x)
    assert _amplitude(naive, t_new, alias) > 0.5
    assert np.std(y[10:-10]) < 0.02
    assert _amplitude(y[10:-10], t_new[10:-10], alias) < 0.02


def test_resample_same_tr_and_errors():
    x = _rng_series()
    out = resample_timeseries(x, 2.0, 2.0)
    np.testing.assert_array_equal(out, x)
    assert out is not x
    assert resample_timeseries(x, 1.5, 2.0).shape == (150, 5)
    with pytest.raises(ValueError, match="'t_r' argument of resample_timeseries"):
        resample_timeseries(x, -1.0, 2.0)
    with pytest.raises(ValueError, match="1D or 2D"):
        resample_timeseries(np.zeros((4, 3, 2)), 1.0, 2.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        resample_timeseries(np.array([1.0, np.nan, 2.0]), 1.0, 2.0)


# ----------------------------------------------------------------------- whole chain


def test_synthetic_cohort_whole_chain(cohort):
    prep = ROITimeSeriesPreprocessor(t_r=cohort.t_r, roi_labels=cohort.roi_labels)
    sites = cohort.phenotypes["site"]
    out = prep.fit_transform(cohort.timeseries, sites=sites)
    assert out.shape == (12, 160, 14)
    assert out.dtype == np.float32
    assert prep.n_rois_ == prep.n_features_in_ == 14
    assert prep.roi_labels_ == list(cohort.roi_labels)
    np.testing.assert_allclose(prep.t_r_, 0.8)
    assert list(prep.site_stats_.index) == list(sites.unique())
    assert list(prep.site_stats_.columns) == list(cohort.roi_labels)
    assert prep.site_counts_.sum() == 12
    np.testing.assert_allclose(prep.transform(cohort.timeseries, sites=sites), out)
    # 3D array input and n_jobs give the same result
    stacked = np.stack(cohort.timeseries)
    with parallel_config(backend="threading"):
        again = clone(prep).set_params(n_jobs=2).fit_transform(stacked, sites=sites)
    np.testing.assert_allclose(again, out, atol=1e-6)


def test_no_length_matching_returns_list():
    series = [_rng_series(120, seed=0), _rng_series(150, seed=1)]
    prep = ROITimeSeriesPreprocessor(t_r=1.0, n_timepoints=None, min_timepoints=20)
    out = prep.fit_transform(series)
    assert isinstance(out, list)
    assert [o.shape for o in out] == [(60, 5), (75, 5)]
    assert all(o.dtype == np.float32 for o in out)


def test_clip_start_center_and_interpolate():
    ramp = np.tile(np.arange(200.0)[:, None], (1, 3)) + np.arange(3)
    common = {"target_t_r": None, "standardize": None, "site_normalization": False}
    start = ROITimeSeriesPreprocessor(n_timepoints=160, **common).fit_transform([ramp])
    np.testing.assert_array_equal(start[0], ramp[:160])
    center = ROITimeSeriesPreprocessor(n_timepoints=160, clip="center", **common)
    np.testing.assert_array_equal(center.fit_transform([ramp])[0], ramp[20:180])
    short = ramp[:80]
    longer = ROITimeSeriesPreprocessor(n_timepoints=159, min_timepoints=50, **common)
    out = longer.fit_transform([short])[0]
    assert out.shape == (159, 3)
    # linear in time: a ramp stays a ramp from the first to the last point
    np.testing.assert_allclose(out[:, 0], np.linspace(0, 79, 159), atol=1e-5)
    np.testing.assert_allclose(out[::2, 1], short[:, 1], atol=1e-5)


def test_robust_and_zscore_standardization():
    rng = np.random.RandomState(0)
    x = rng.standard_t(3, size=(160, 6)) * rng.uniform(1, 50, 6) + 100
    common = {"target_t_r": None, "site_normalization": False}
    robust = ROITimeSeriesPreprocessor(**common).fit_transform([x])[0]
    np.testing.assert_allclose(np.median(robust, axis=0), 0, atol=1e-5)
    q75, q25 = np.percentile(robust, [75, 25], axis=0)
    np.testing.assert_allclose(q75 - q25, 1, atol=1e-5)
    zscore = ROITimeSeriesPreprocessor(standardize="zscore", **common)
    z = zscore.fit_transform([x])[0]
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    raw = ROITimeSeriesPreprocessor(standardize=None, **common).fit_transform([x])[0]
    np.testing.assert_allclose(raw, x, rtol=1e-6)


# ----------------------------------------------------------------------- sites


def _two_site_data(n_per_site=4, seed=0):
    base = [_rng_series(160, 4, seed=seed + i) for i in range(n_per_site)]
    train = base + [2.0 * ts for ts in base]
    sites = ["A"] * n_per_site + ["B"] * n_per_site
    return base, train, sites


def test_site_normalization_learned_on_training_subjects():
    base, train, sites = _two_site_data()
    prep = ROITimeSeriesPreprocessor(target_t_r=None, standardize=None)
    prep.fit(train, sites=sites)
    np.testing.assert_allclose(
        prep.site_stats_.loc["B"].to_numpy(), 4 * prep.site_stats_.loc["A"].to_numpy()
    )
    np.testing.assert_allclose(
        prep.pooled_variance_, prep.site_stats_.mean(axis=0).to_numpy()
    )
    test = _rng_series(160, 4, seed=99)
    at_a = prep.transform([test], sites=["A"])[0]
    at_b = prep.transform([2.0 * test], sites=["B"])[0]
    # a doubled amplitude at site B maps onto the same output as at site A
    np.testing.assert_allclose(at_b, at_a, rtol=1e-5)
    factor = np.sqrt(prep.pooled_variance_ / prep.site_stats_.loc["A"].to_numpy())
    np.testing.assert_allclose(at_a, test * factor, rtol=1e-5)
    # test subjects do not change the statistics: batch or alone, same output
    batch = prep.transform([2.0 * test, 10.0 * test], sites=["B", "B"])
    np.testing.assert_allclose(batch[0], at_b, rtol=1e-6)
    # one site: site normalisation is the identity
    single = ROITimeSeriesPreprocessor(target_t_r=None, standardize=None).fit(base)
    np.testing.assert_allclose(single.transform([test])[0], test, rtol=1e-6)


def test_unseen_site_warns_and_uses_pooled_statistics():
    _, train, sites = _two_site_data()
    prep = ROITimeSeriesPreprocessor(target_t_r=None, standardize=None)
    prep.fit(train, sites=sites)
    test = _rng_series(160, 4, seed=7)
    with pytest.warns(UserWarning, match=r"site\(s\) \['C'\] were not seen in fit"):
        out = prep.transform([test, test], sites=["C", "A"])
    np.testing.assert_allclose(out[0], test, rtol=1e-6)  # pooled: factor 1
    assert not np.allclose(out[1], test)
    with pytest.warns(UserWarning, match="not seen in fit"):
        prep.transform([test])  # sites=None after named sites in fit
    off = ROITimeSeriesPreprocessor(target_t_r=None, site_normalization=False)
    off.fit(train, sites=sites)
    assert off.site_stats_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        off.transform([test], sites=["C"])


# ----------------------------------------------------------------------- errors


def test_nan_and_inf_name_the_subject():
    series = [_rng_series(seed=i) for i in range(4)]
    series[3][10, 2] = np.nan
    prep = ROITimeSeriesPreprocessor(t_r=2.0)
    with pytest.raises(ValueError, match=f"'X' argument of {OWNER}: subject 3 has NaN"):
        prep.fit(series)
    series[3][10, 2] = np.inf
    with pytest.raises(ValueError, match="subject 3 has NaN or inf"):
        prep.fit(series)


def test_constant_rois_error_or_warn():
    series = [_rng_series(seed=i) for i in range(3)]
    series[1][:, 4] = 7.0
    with pytest.raises(ValueError, match=r"subject 1 has 1 constant .* indices \[4\]"):
        ROITimeSeriesPreprocessor(t_r=2.0, constant_rois="error").fit(series)
    prep = ROITimeSeriesPreprocessor(t_r=1.0)  # default: warn
    with pytest.warns(UserWarning, match=r"constant .*\{1: \[4\]\}"):
        out = prep.fit_transform(series)
    assert np.all(out[1, :, 4] == 0)
    assert np.all(np.isfinite(out))
    raw = ROITimeSeriesPreprocessor(
        t_r=1.0, constant_rois="warn", standardize=None, site_normalization=False
    )
    with pytest.warns(UserWarning, match="constant"):
        assert np.all(raw.fit_transform(series)[1, :, 4] == 7.0)


def test_too_short_series():
    series = [_rng_series(300, seed=0), _rng_series(90, seed=1)]
    with pytest.raises(
        ValueError, match=r"subject 1 has 45 time points at TR 2.0 s \(90 given\)"
    ):
        ROITimeSeriesPreprocessor(t_r=1.0).fit(series)
    ROITimeSeriesPreprocessor(t_r=1.0, min_timepoints=40).fit(series)


def test_t_r_errors_and_per_subject_list():
    series = [_rng_series(200, seed=i) for i in range(3)]
    with pytest.raises(ValueError, match=r"'t_r' parameter .* one repetition time per"):
        ROITimeSeriesPreprocessor(t_r=[1.0, 1.0]).fit(series)
    with pytest.raises(ValueError, match=r"'t_r' parameter .* is needed to resample"):
        ROITimeSeriesPreprocessor().fit(series)
    prep = ROITimeSeriesPreprocessor(t_r=[1.0, 2.0, 1.0], n_timepoints=None)
    out = prep.fit_transform(series)
    assert [o.shape[0] for o in out] == [100, 200, 100]
    np.testing.assert_allclose(prep.t_r_, [1.0, 2.0, 1.0])
    # the t_r argument of transform overrides the parameter (list length of X)
    assert prep.transform(series[:1], t_r=[1.0])[0].shape == (100, 5)
    with pytest.raises(ValueError, match=r"'t_r' argument .* Got 2 values"):
        prep.transform(series[:1], t_r=[1.0, 2.0])
    with pytest.raises(ValueError, match="'t_r' argument"):
        prep.transform(series[:1], t_r=[1.0, -2.0])
    # no TR needed without resampling
    ROITimeSeriesPreprocessor(target_t_r=None).fit(series)


def test_roi_count_mismatches():
    series = [_rng_series(n_rois=5, seed=i) for i in range(2)]
    labels = [f"roi{i}" for i in range(6)]
    prep = ROITimeSeriesPreprocessor(t_r=2.0, roi_labels=labels)
    with pytest.raises(ValueError, match=r"subject 0 has 5 ROIs, expected 6 \(the len"):
        prep.fit(series)
    prep = ROITimeSeriesPreprocessor(t_r=2.0).fit(series)
    with pytest.raises(ValueError, match=r"subject 0 has 4 ROIs, expected 5 .*fit"):
        prep.transform([_rng_series(n_rois=4)])
    with pytest.raises(ValueError, match="subject 1 has 4 ROIs, expected 5"):
        ROITimeSeriesPreprocessor(t_r=2.0).fit([series[0], _rng_series(n_rois=4)])
    # a named atlas is checked by its ROI count without being fetched for arrays
    atlas = ROITimeSeriesPreprocessor(t_r=2.0, atlas="schaefer400_tian_s3")
    with pytest.raises(ValueError, match=r"expected 450 \(the number of ROIs of the"):
        atlas.fit(series)
    with pytest.raises(ValueError, match="'roi_labels' parameter .* every ROI of"):
        ROITimeSeriesPreprocessor(atlas="schaefer100_tian_s1", roi_labels=labels).fit(
            series
        )


def test_dataframe_columns_order_is_checked():
    pd = pytest.importorskip("pandas")
    names = ["a", "b", "c", "d", "e"]
    frames = [pd.DataFrame(_rng_series(seed=i), columns=names) for i in range(2)]
    prep = ROITimeSeriesPreprocessor(t_r=2.0).fit(frames)
    assert prep.roi_labels_ == names
    swapped = frames[0][["b", "a", "c", "d", "e"]]
    with pytest.raises(ValueError, match="subject 0 has ROI columns that differ"):
        prep.transform([swapped])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"target_t_r": 0}, "'target_t_r' parameter"),
        ({"n_timepoints": 1}, "'n_timepoints' parameter"),
        ({"clip": "end"}, "'clip' parameter"),
        ({"standardize": "minmax"}, "'standardize' parameter"),
        ({"site_normalization": "yes"}, "'site_normalization' parameter"),
        ({"constant_rois": "ignore"}, "'constant_rois' parameter"),
        ({"min_timepoints": 0}, "'min_timepoints' parameter"),
        ({"t_r": "fast"}, "'t_r' parameter"),
        ({"t_r": [1.0, 0.0]}, "'t_r' parameter"),
        ({"roi_labels": "abc"}, "'roi_labels' parameter"),
        ({"atlas": "no_such_atlas"}, "'atlas' parameter"),
        ({"masker": object()}, "'masker' parameter"),
        ({"atlas": "schaefer400_tian_s3", "masker": "m"}, "'masker' parameter"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ROITimeSeriesPreprocessor(**params).fit([_rng_series()])


def test_bad_inputs_and_sites():
    prep = ROITimeSeriesPreprocessor(t_r=2.0)
    with pytest.raises(TypeError, match="wrap a single subject in a list"):
        prep.fit(_rng_series())
    with pytest.raises(ValueError, match="is empty"):
        prep.fit([])
    with pytest.raises(ValueError, match=r"subject 1 must be a 2D"):
        prep.fit([_rng_series(), np.zeros(100)])
    with pytest.raises(ValueError, match=r"'sites' argument of .*fit .* Got 1 labels"):
        prep.fit([_rng_series()] * 2, sites=["A"])
    with pytest.raises(TypeError, match="'sites' argument"):
        prep.fit([_rng_series()] * 2, sites="AB")
    with pytest.raises(NotFittedError):
        ROITimeSeriesPreprocessor().transform([_rng_series()])
    with pytest.raises(ValueError, match="subject 0 is an image, but no 'atlas'"):
        prep.fit([nib.Nifti1Image(np.zeros((2, 2, 2, 10), np.float32), np.eye(4))])


# ----------------------------------------------------------------------- images


@pytest.fixture(scope="module")
def tiny_images():
    """A 10x10x10 labels image with 4 labels and two 4D images (TR 1.0 s)."""
    labels = np.zeros((10, 10, 10), dtype=np.int16)
    labels[:5, :5] = 1
    labels[5:, :5] = 2
    labels[:5, 5:] = 3
    labels[5:, 5:, :5] = 4
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    labels_img = nib.Nifti1Image(labels, affine)
    rng = np.random.RandomState(0)
    images = []
    for _ in range(2):
        data = rng.standard_normal((10, 10, 10, 120)).astype(np.float32) + 100
        img = nib.Nifti1Image(data, affine)
        img.header.set_zooms((3.0, 3.0, 3.0, 1.0))
        images.append(img)
    return labels_img, images


def test_image_inputs_equal_array_path(tiny_images):
    from nilearn.maskers import NiftiLabelsMasker

    labels_img, images = tiny_images
    masker = NiftiLabelsMasker(labels_img)
    from_images = ROITimeSeriesPreprocessor(masker=masker, min_timepoints=50)
    out = from_images.fit_transform(images, sites=["A", "B"])  # TR from header
    assert out.shape == (2, 160, 4)
    np.testing.assert_allclose(from_images.t_r_, 1.0)
    assert from_images.roi_labels_ == ["1", "2", "3", "4"]
    assert from_images.masker_ is not masker  # unfitted masker: cloned, fitted
    arrays = [from_images.masker_.transform(img) for img in images]
    from_arrays = ROITimeSeriesPreprocessor(t_r=1.0, min_timepoints=50)
    np.testing.assert_allclose(
        from_arrays.fit_transform(arrays, sites=["A", "B"]), out, atol=1e-5
    )
    by_atlas = ROITimeSeriesPreprocessor(atlas=labels_img, t_r=1.0, min_timepoints=50)
    np.testing.assert_allclose(by_atlas.fit_transform(images, sites=["A", "B"]), out)
    np.testing.assert_allclose(by_atlas.transform(images[:1], sites=["A"]), out[:1])
    # arrays against the atlas: ROI count checked
    with pytest.raises(ValueError, match=r"has 3 ROIs, expected 4 \(the number of"):
        by_atlas.fit([a[:, :3] for a in arrays])


def test_named_atlas_resolved_for_images(shared_data_dir, tiny_images):
    _, images = tiny_images
    prep = ROITimeSeriesPreprocessor(
        atlas="schaefer100_tian_s1", data_dir=shared_data_dir / "atlases"
    )
    # the tiny images do not overlap the MNI atlas: most labels vanish on resampling
    with pytest.raises(ValueError, match=r"expected 116 \(the number of ROIs of the"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prep.fit(images)


# ----------------------------------------------------------------------- real data


@pytest.mark.filterwarnings("ignore:ROITimeSeriesPreprocessor. constant")
def test_real_abide_and_hcp_become_160_timepoints(shared_data_dir):
    from scipy.io import loadmat

    abide = sorted(
        (shared_data_dir / "abide_pitt" / "roi_timeseries_aal116").glob("*.mat")
    )
    hcp = sorted((shared_data_dir / "hcp_rest").glob("*_rest1_lr.mat"))
    if not abide or not hcp:
        pytest.skip("ABIDE PITT or HCP time series are missing")
    abide_ts = [loadmat(f)["ROISignals"] for f in abide[:4]]
    assert abide_ts[0].shape == (195, 116)
    out = ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn").fit_transform(
        abide_ts, sites=["PITT"] * len(abide_ts)
    )
    assert out.shape == (4, 160, 116)
    assert np.all(np.isfinite(out))
    hcp_ts = [loadmat(f)["tc"].T for f in hcp[:2]]
    assert hcp_ts[0].shape == (1200, 94)
    prep = ROITimeSeriesPreprocessor(t_r=0.72).fit(hcp_ts)
    out = prep.transform(hcp_ts)
    assert out.shape == (2, 160, 94)
    q75, q25 = np.percentile(out, [75, 25], axis=1)
    np.testing.assert_allclose(q75 - q25, 1, atol=1e-4)


# ----------------------------------------------------------------------- sklearn API


@pytest.mark.parametrize(
    "check",
    [
        ec.check_estimator_cloneable,
        ec.check_estimator_repr,
        ec.check_no_attributes_set_in_init,
        ec.check_do_not_raise_errors_in_init_or_set_params,
        ec.check_parameters_default_constructible,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_mixin_order,
    ],
    ids=lambda check: check.__name__,
)
def test_sklearn_api_checks(check):
    check(OWNER, ROITimeSeriesPreprocessor())


def test_tags():
    tags = ROITimeSeriesPreprocessor().__sklearn_tags__()
    assert tags.input_tags.two_d_array is False
