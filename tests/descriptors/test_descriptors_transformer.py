"""FMRIDescriptorTransformer: four families, leak-free norms, text, pipelines."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from brainlm_decode import FMRIDescriptorTransformer, ROITimeSeriesPreprocessor
from brainlm_decode.datasets import make_fmri_cohort


@pytest.fixture(scope="module")
def cohort():
    return make_fmri_cohort(n_subjects=24, n_rois=60, random_state=0, effect_size=0.4)


@pytest.fixture(scope="module")
def fitted(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA convergence on Gaussian-like data
        return FMRIDescriptorTransformer(
            networks=cohort.networks, t_r=cohort.t_r, random_state=0
        ).fit(cohort.timeseries[:16])


def test_all_families_and_names(fitted, cohort):
    z = fitted.transform(cohort.timeseries[16:])
    names = fitted.get_feature_names_out()
    assert z.shape == (8, len(names))
    prefixes = {name.split("__")[0] for name in names}
    assert prefixes == {"fc", "gradients", "graph", "ica"}
    assert set(fitted.feature_descriptions_) >= set(names)
    # ICA domains a Yeo-7 atlas does not cover are dropped, and the output is finite
    assert "ica__auditory__amplitude" in fitted.dropped_features_
    assert not set(fitted.dropped_features_) & set(names)
    assert np.isfinite(z).all()
    assert [d.family for d in fitted.descriptors_] == [
        "connectivity",
        "gradients",
        "graph",
        "ica",
    ]


def test_norms_come_from_training_subjects_only(fitted, cohort):
    train = fitted.transform(cohort.timeseries[:16])
    finite = np.isfinite(train).all(axis=0)
    np.testing.assert_allclose(train[:, finite].mean(axis=0), 0.0, atol=1e-8)
    alone = fitted.transform(cohort.timeseries[16:17])
    with_others = fitted.transform(cohort.timeseries[16:])
    np.testing.assert_allclose(alone[0], with_others[0], equal_nan=True)


def test_pandas_output_and_text(fitted, cohort):
    fitted.set_output(transform="pandas")
    try:
        frame = fitted.transform(cohort.timeseries[16:18])
    finally:
        fitted.set_output(transform="default")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(fitted.get_feature_names_out())
    texts = fitted.to_text(cohort.timeseries[16:18])
    assert len(texts) == 2
    paragraphs = texts[0].split("\n\n")
    assert [p.split(":")[0] for p in paragraphs] == [
        "Functional connectivity",
        "Functional gradients",
        "Graph organisation",
        "Intrinsic networks (ICA)",
    ]
    assert "(z=" in texts[0]
    assert texts == fitted.to_text(cohort.timeseries[16:18])


def test_pipeline_with_preprocessing_in_cross_validation(cohort):
    pipe = make_pipeline(
        ROITimeSeriesPreprocessor(t_r=cohort.t_r, n_timepoints=120),
        FMRIDescriptorTransformer(
            descriptors=("connectivity", "graph"),
            networks=cohort.networks,
            random_state=0,
        ),
        LogisticRegression(max_iter=1000),
    )
    y = cohort.phenotypes["group"].to_numpy()
    scores = cross_val_score(pipe, cohort.timeseries, y, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    # the planted connectivity difference makes the groups separable above chance
    assert scores.mean() > 0.6


def test_errors(fitted, cohort):
    with pytest.raises(ValueError, match="'networks' parameter"):
        FMRIDescriptorTransformer(descriptors=("connectivity",)).fit(cohort.timeseries)
    with pytest.raises(ValueError, match="ROIs, expected 60"):
        fitted.transform([np.random.RandomState(0).randn(160, 10)])
    with pytest.raises(ValueError, match="Unknown plugin 'spectra'"):
        FMRIDescriptorTransformer(
            descriptors=("spectra",), networks=cohort.networks
        ).fit(cohort.timeseries)
    with pytest.raises(ValueError, match="'t_r' parameter"):
        FMRIDescriptorTransformer(networks=cohort.networks, t_r=-1.0).fit(
            cohort.timeseries
        )


def test_shared_connectivity_equals_families_alone(fitted, cohort):
    """One correlation matrix per subject shared by the families changes nothing."""
    X = cohort.timeseries[16:]
    raw = fitted.transform_raw(X)
    alone = pd.concat([d.transform(X) for d in fitted.descriptors_], axis=1)
    alone = alone.loc[:, list(fitted.feature_names_out_)]
    np.testing.assert_allclose(
        raw.to_numpy(), alone.to_numpy(), rtol=0, atol=1e-12, equal_nan=True
    )
    # and chunks of subjects (joblib tasks) give the rows of the whole
    parts = pd.concat([fitted.transform_raw(X[:3]), fitted.transform_raw(X[3:])])
    np.testing.assert_allclose(parts.to_numpy(), raw.to_numpy(), equal_nan=True)


def test_flat_rois_zeroed_by_the_preprocessor_are_accepted(cohort):
    series = [ts.copy() for ts in cohort.timeseries[:12]]
    series[3][:, 5] = 7.0  # a flat ROI (e.g. out of the field of view)
    prep = ROITimeSeriesPreprocessor(t_r=cohort.t_r, n_timepoints=120)
    with pytest.warns(UserWarning, match="constant"):
        X = prep.fit_transform(series)
    assert not X[3][:, 5].any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA convergence
        features = FMRIDescriptorTransformer(
            descriptors=("connectivity", "graph"),
            networks=cohort.networks,
            random_state=0,
        ).fit_transform(X)
    assert features.shape[0] == 12 and np.isfinite(np.asarray(features)).all()
    # a constant ROI that was not zeroed is still refused
    raw = [np.c_[ts[:, :59], np.full(len(ts), 7.0)] for ts in cohort.timeseries[:3]]
    with pytest.raises(ValueError, match="constant"):
        FMRIDescriptorTransformer(
            descriptors=("connectivity",), networks=cohort.networks
        ).fit(raw)
