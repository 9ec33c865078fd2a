"""Tests of the ICA descriptors: group ICA, dual regression, dynamics, Nyquist."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors.ica import ICA_METRICS, ICA_NETWORKS, ICADescriptors

# The synthetic cohort's latent signals are band-limited Gaussian processes, on
# which FastICA rarely meets its tolerance; convergence is not what is tested.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = {"n_components": 10, "max_iter": 300, "random_state": 0}


@pytest.fixture(scope="module")
def cohort():
    return make_fmri_cohort(
        n_subjects=10, n_rois=100, n_timepoints=160, t_r=2.0, random_state=0
    )


@pytest.fixture(scope="module")
def fitted(cohort):
    ica = ICADescriptors(networks=cohort.networks, t_r=cohort.t_r, **FAST)
    return ica.fit(cohort.timeseries[:8])


def _matched_correlations(estimated: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Best absolute correlation of each true column with an estimated column."""
    k = truth.shape[1]
    corr = np.corrcoef(truth.T, estimated.T)[:k, k:]
    return np.abs(corr).max(axis=1)


# ----------------------------------------------------------------- outputs


def test_feature_names_and_shapes(fitted, cohort):
    table = fitted.transform(cohort.timeseries[8:])
    n_pairs = len(ICA_NETWORKS) * (len(ICA_NETWORKS) - 1) // 2
    n_expected = len(ICA_NETWORKS) * len(ICA_METRICS) + n_pairs + len(ICA_METRICS) + 2
    assert isinstance(table, pd.DataFrame)
    assert table.shape == (2, n_expected)
    assert list(table.columns) == list(fitted.get_feature_names_out())
    assert all(name.startswith("ica__") for name in table.columns)
    assert set(fitted.feature_descriptions_) == set(table.columns)
    assert all(isinstance(v, str) and v for v in fitted.feature_descriptions_.values())
    assert "ica__default_mode__amplitude" in table.columns
    assert "ica__fnc__visual__default_mode" in table.columns
    assert fitted.family == "ica"
    assert fitted.n_features_in_ == 100
    assert fitted.components_.shape == (10, 100)
    assert set(fitted.component_networks_) <= set(ICA_NETWORKS)


def test_absent_networks_are_nan(fitted, cohort):
    table = fitted.transform(cohort.timeseries[8:])
    # Yeo-7 without subcortex: no subcortical, auditory or cerebellar components.
    for net in ("subcortical", "auditory", "cerebellar"):
        assert table.filter(like=f"ica__{net}__").isna().all().all()
        assert np.isnan(fitted.component_correlations_[net]).all()
    present = sorted(set(fitted.component_networks_))
    assert present  # at least one network labelled
    for net in present:
        slug = net.replace(" ", "_")
        assert table.filter(like=f"ica__{slug}__").notna().all().all()
    assert table.filter(like="ica__global__").notna().all().all()


def test_labels_positively_correlated(fitted):
    corr = fitted.component_correlations_
    for i, net in enumerate(fitted.component_networks_):
        assert corr.loc[i, net] > 0
        assert corr.loc[i, net] == pytest.approx(corr.loc[i].abs().max())


def test_falff_in_unit_interval(fitted, cohort):
    table = fitted.transform(cohort.timeseries)
    falff = table.filter(like="__falff").to_numpy()
    falff = falff[np.isfinite(falff)]
    assert falff.size > 0
    assert np.all((falff >= 0) & (falff <= 1))
    transient = table.filter(like="transient_frequency").to_numpy()
    transient = transient[np.isfinite(transient)]
    assert np.all((transient >= 0) & (transient <= 1))


def test_reproducible_with_seed(cohort):
    train, test = cohort.timeseries[:4], cohort.timeseries[8:]
    first = ICADescriptors(networks=cohort.networks, **FAST).fit(train)
    second = ICADescriptors(networks=cohort.networks, **FAST).fit(train)
    np.testing.assert_array_equal(first.components_, second.components_)
    pd.testing.assert_frame_equal(first.transform(test), second.transform(test))


def test_group_model_learned_on_fit_subjects_only(fitted, cohort):
    components = fitted.components_.copy()
    labels = fitted.component_networks_.copy()
    alone = fitted.transform(cohort.timeseries[9:])
    together = fitted.transform(cohort.timeseries[:10])
    np.testing.assert_array_equal(fitted.components_, components)
    np.testing.assert_array_equal(fitted.component_networks_, labels)
    # A subject's descriptors do not depend on the subjects transformed with it.
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True), together.iloc[[9]].reset_index(drop=True)
    )


def test_n_jobs_gives_same_table(fitted, cohort):
    parallel = copy.deepcopy(fitted).set_params(n_jobs=2)
    with parallel_config(backend="threading"):
        table = parallel.transform(cohort.timeseries[8:])
    pd.testing.assert_frame_equal(table, fitted.transform(cohort.timeseries[8:]))


# ------------------------------------------------------------ dual regression


def _planted(n_subjects=6, n_rois=30, n_components=4, n_timepoints=200, seed=0):
    """Data = known time courses x known maps (non-Gaussian sources)."""
    rng = np.random.RandomState(seed)
    maps = rng.normal(size=(n_components, n_rois))
    sources = [
        rng.laplace(size=(n_timepoints, n_components)) for _ in range(n_subjects)
    ]
    data = [s @ maps for s in sources]
    networks = [("Vis", "Default", "Cont", "SomMot")[i % 4] for i in range(n_rois)]
    return data, sources, maps, networks


def test_dual_regression_recovers_time_courses():
    data, sources, maps, networks = _planted()
    ica = ICADescriptors(
        n_components=4, networks=networks, standardize=False, random_state=0
    )
    ica.fit(data[:5])
    # The group maps span the planted maps (up to order, sign and scale).
    assert _matched_correlations(ica.components_.T, maps.T).min() > 0.99
    time_courses, spatial_maps = ica.dual_regression(data[5:])
    held_out = sources[5] - sources[5].mean(axis=0)
    assert _matched_correlations(time_courses[0], held_out).min() > 0.99
    # Noise-free data are reconstructed exactly by time courses x group maps.
    centred = data[5] - data[5].mean(axis=0)
    np.testing.assert_allclose(time_courses[0] @ ica.components_, centred, atol=1e-8)
    assert spatial_maps[0].shape == (4, 30)
    assert _matched_correlations(spatial_maps[0].T, maps.T).min() > 0.99


def test_stage2_adds_map_similarity():
    data, _, _, networks = _planted()
    ica = ICADescriptors(
        n_components=4,
        networks=networks,
        standardize=False,
        stage2=True,
        random_state=0,
    ).fit(data[:5])
    table = ica.transform(data[5:])
    similarity = table.filter(like="map_similarity")
    assert similarity.shape[1] == len(ICA_NETWORKS) + 1
    values = similarity.to_numpy()
    assert np.all(values[np.isfinite(values)] > 0.99)
    _, maps = ica.dual_regression(data[5:], stage2=False)
    assert maps is None


# ---------------------------------------------------------------- spectra


@pytest.mark.parametrize(
    ("frequency", "slow"), [(0.03, True), (0.2, False)], ids=["slow", "fast"]
)
def test_spectral_ratio_of_sines(fitted, frequency, slow):
    t = np.arange(160) * 2.0
    pattern = np.random.RandomState(1).normal(size=100)
    subject = np.outer(np.sin(2 * np.pi * frequency * t), pattern)
    table = fitted.transform([subject])
    ratios = table.filter(like="__spectral_ratio").to_numpy()
    ratios = ratios[np.isfinite(ratios)]
    assert ratios.size > 0
    if slow:
        assert ratios.min() > 100
        assert table["ica__global__mean_autocorrelation"].iloc[0] > 0.9
    else:
        assert ratios.max() < 0.01
        assert table["ica__global__mean_falff"].iloc[0] < 0.01


def test_nyquist_clip_warns_and_gives_nan(cohort):
    ica = ICADescriptors(networks=cohort.networks, t_r=6.0, **FAST)
    with pytest.warns(UserWarning, match="Nyquist") as record:
        ica.fit(cohort.timeseries[:8])
    messages = " ".join(str(w.message) for w in record)
    assert "slow_band" in messages and "fast_band" in messages
    assert ica.bands_["slow"] == pytest.approx((0.01, 1 / 12))
    assert ica.bands_["fast"] is None
    assert ica.bands_["falff"] == (0.01, 0.08)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # transform does not warn again
        table = ica.transform(cohort.timeseries[8:])
    assert table.filter(like="__spectral_ratio").isna().all().all()
    assert table["ica__global__mean_falff"].notna().all()


def test_nyquist_error_raises(cohort):
    ica = ICADescriptors(networks=cohort.networks, t_r=6.0, nyquist="error", **FAST)
    with pytest.raises(ValueError, match=r"slow_band.*Nyquist frequency 0.08333"):
        ica.fit(cohort.timeseries[:8])
    # Bands below Nyquist pass under "error".
    ok = ICADescriptors(
        networks=cohort.networks,
        t_r=6.0,
        nyquist="error",
        slow_band=(0.01, 0.05),
        fast_band=(0.05, 0.08),
        **FAST,
    )
    ok.fit(cohort.timeseries[:3])


# ---------------------------------------------------------------- domains


def test_user_domain_mapping(fitted, cohort):
    networks = np.asarray(cohort.networks)
    domains = fitted.roi_domains_
    assert set(domains[networks == "Limbic"]) == {""}
    assert set(domains[networks == "DorsAttn"]) == {"cognitive control"}
    mapped = ICADescriptors(
        networks=cohort.networks,
        domains={"Limbic": "auditory", 0: "cerebellar"},
        **FAST,
    ).fit(cohort.timeseries[:8])
    limbic = np.flatnonzero(networks == "Limbic")
    assert set(mapped.roi_domains_[limbic[limbic != 0]]) == {"auditory"}
    assert mapped.roi_domains_[0] == "cerebellar"
    assert np.isfinite(mapped.component_correlations_["auditory"]).all()


def test_domains_by_index_without_networks():
    data, _, _, _ = _planted()
    domains = {i: ("visual", "auditory")[i % 2] for i in range(30)}
    ica = ICADescriptors(n_components=4, domains=domains, random_state=0)
    ica.fit(data[:5])
    assert set(ica.component_networks_) <= {"visual", "auditory"}


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"n_components": 0}, ValueError, "n_components"),
        ({"n_components": 101}, ValueError, "at most the number of ROIs"),
        ({"nyquist": "ignore"}, ValueError, "nyquist"),
        ({"slow_band": (0.1, 0.01)}, ValueError, "slow_band"),
        ({"t_r": 0.0}, ValueError, "t_r"),
        ({"window": 1}, ValueError, "window"),
        ({"domains": {"Vis": "frontal"}}, ValueError, "domains"),
        ({"domains": {"Nope": "visual"}}, ValueError, "absent from 'networks'"),
        ({"domains": {500: "visual"}}, ValueError, "outside"),
        ({"networks": ["Vis"] * 3}, ValueError, "one entry per ROI"),
        ({"networks": None}, ValueError, "networks"),
    ],
)
def test_invalid_parameters(cohort, params, error, match):
    kwargs = {"networks": cohort.networks, **FAST, **params}
    with pytest.raises(error, match=match):
        ICADescriptors(**kwargs).fit(cohort.timeseries[:3])


def test_invalid_inputs(fitted, cohort):
    with pytest.raises(NotFittedError):
        ICADescriptors(networks=cohort.networks).transform(cohort.timeseries)
    with pytest.raises(ValueError, match="ROIs, expected 100"):
        fitted.transform([np.zeros((160, 50))])
    with pytest.raises(ValueError, match="fewer than window"):
        fitted.transform([cohort.timeseries[0][:10]])
    with pytest.raises(ValueError, match="NaN"):
        bad = cohort.timeseries[0].copy()
        bad[0, 0] = np.nan
        fitted.transform([bad])
    with pytest.raises(TypeError, match="list of"):
        fitted.transform("subject.npy")


@pytest.mark.parametrize(
    "check",
    [
        ec.check_estimator_cloneable,
        ec.check_no_attributes_set_in_init,
        ec.check_parameters_default_constructible,
        ec.check_get_params_invariance,
        ec.check_set_params,
    ],
)
def test_sklearn_api(check):
    check("ICADescriptors", ICADescriptors())
