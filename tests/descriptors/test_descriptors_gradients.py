"""Tests of the functional-gradients descriptor family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors.base import YEO7
from brainlm_decode.descriptors.connectivity import connectivity_matrix
from brainlm_decode.descriptors.gradients import (
    FunctionalGradients,
    align_gradients,
    compute_gradients,
)

pytest.importorskip("brainspace")


@pytest.fixture(scope="module")
def cohort():
    return make_fmri_cohort(n_subjects=12, n_rois=100, random_state=0)


@pytest.fixture(scope="module")
def fitted(cohort):
    grad = FunctionalGradients(networks=cohort.networks, random_state=0)
    grad.fit(cohort.timeseries)
    return grad, grad.transform(cohort.timeseries)


def test_shapes_names(fitted):
    grad, table = fitted
    assert table.shape == (12, 20)
    assert list(table.columns) == grad.feature_names_out_
    assert grad.family == "gradients"
    assert all(n.startswith("gradients__") for n in grad.feature_names_out_)
    assert set(grad.feature_descriptions_) == set(grad.feature_names_out_)
    assert grad.feature_descriptions_["gradients__g1_range"] == (
        "range of the principal functional gradient"
    )
    assert [f"gradients__g2__{n}" for n in YEO7] == grad.feature_names_out_[-7:]
    assert grad.reference_gradients_.shape == (100, 10)
    assert np.isfinite(table.to_numpy()).all()
    assert (table.filter(like="_range") > 0).all().all()


def test_without_networks(cohort):
    grad = FunctionalGradients(n_components=3, random_state=0).fit(
        cohort.timeseries[:2]
    )
    assert grad.feature_names_out_ == [
        f"gradients__g{k}_{what}" for k in (1, 2, 3) for what in ("range", "variance")
    ]


def test_subject_equal_to_reference_gives_reference(cohort):
    ts = cohort.timeseries[0]
    # reference learned from that single subject
    grad = FunctionalGradients(random_state=0).fit([ts])
    np.testing.assert_allclose(
        grad.reference_connectivity_, connectivity_matrix(ts), atol=1e-10
    )
    (aligned,) = grad.subject_gradients([ts])
    np.testing.assert_allclose(aligned, grad.reference_gradients_, atol=1e-6)
    # reference given as a connectivity matrix
    given = FunctionalGradients(reference=connectivity_matrix(ts), random_state=0)
    (aligned,) = given.fit(cohort.timeseries[1:3]).subject_gradients([ts])
    np.testing.assert_allclose(aligned, given.reference_gradients_, atol=1e-8)


def test_alignment_undoes_rotation_and_sign(cohort):
    ts = cohort.timeseries[0]
    raw = compute_gradients(connectivity_matrix(ts), random_state=0)
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(10, 10)))
    signs = np.where(np.arange(10) % 2, 1.0, -1.0)
    for target in (raw @ rotation, raw * signs):
        grad = FunctionalGradients(reference=target, random_state=0).fit([ts])
        assert grad.reference_connectivity_ is None
        (aligned,) = grad.subject_gradients([ts])
        np.testing.assert_allclose(aligned, target, atol=1e-8)
        np.testing.assert_allclose(align_gradients(raw, target), target, atol=1e-8)
    flipped = FunctionalGradients(
        reference=raw * signs, networks=cohort.networks, random_state=0
    )
    plain = FunctionalGradients(reference=raw, networks=cohort.networks, random_state=0)
    a = flipped.fit([ts]).transform([ts]).iloc[0]
    b = plain.fit([ts]).transform([ts]).iloc[0]
    np.testing.assert_allclose(a.filter(like="g1__"), -b.filter(like="g1__"), atol=1e-8)
    np.testing.assert_allclose(
        a.filter(like="_range"), b.filter(like="_range"), atol=1e-8
    )


def test_reference_learned_from_fit_subjects_only(cohort):
    train, test = cohort.timeseries[:6], cohort.timeseries[6:]
    grad = FunctionalGradients(networks=cohort.networks, random_state=0).fit(train)
    reference = grad.reference_gradients_.copy()
    first = grad.transform(test)
    np.testing.assert_array_equal(grad.reference_gradients_, reference)
    pd.testing.assert_frame_equal(grad.transform(test), first)
    again = FunctionalGradients(networks=cohort.networks, random_state=0).fit(train)
    np.testing.assert_allclose(again.reference_gradients_, reference, atol=1e-10)
    every = FunctionalGradients(networks=cohort.networks, random_state=0)
    assert not np.allclose(every.fit(cohort.timeseries).reference_gradients_, reference)


def test_hcp_reference_offline():
    from brainspace.datasets import load_group_fc

    try:
        hcp = load_group_fc("schaefer", scale=400)
    except Exception as exc:  # pragma: no cover - depends on the brainspace install
        pytest.skip(f"brainspace HCP matrices unavailable: {exc}")
    small = make_fmri_cohort(n_subjects=2, n_rois=400, n_timepoints=120, random_state=1)
    grad = FunctionalGradients(reference=hcp, random_state=0).fit(small.timeseries)
    assert grad.reference_gradients_.shape == (400, 10)
    assert grad.transform(small.timeseries).shape == (2, 6)


def test_errors(cohort):
    ts = cohort.timeseries[:2]
    grad = FunctionalGradients(n_components=3, random_state=0).fit(ts)
    with pytest.raises(ValueError, match="expected 100"):
        grad.transform([t[:, :90] for t in ts])
    with pytest.raises(ValueError, match="one entry per ROI"):
        FunctionalGradients(networks=cohort.networks[:3]).fit(ts)
    bad = [ts[0].copy()]
    bad[0][5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        grad.transform(bad)
    with pytest.raises(ValueError, match="'reference'"):
        FunctionalGradients(reference=np.ones((50, 50))).fit(ts)
    with pytest.raises(ValueError, match="'n_components'"):
        FunctionalGradients(n_components=2).fit(ts)
    with pytest.raises(ValueError, match="smaller than the number of ROIs"):
        FunctionalGradients(n_components=5).fit([t[:, :5] for t in ts])
    with pytest.raises(ValueError, match="'sparsity'"):
        FunctionalGradients(sparsity=1.0).fit(ts)


def test_fit_transform_equals_fit_then_transform(cohort, fitted):
    _, table = fitted
    grad = FunctionalGradients(networks=cohort.networks, random_state=0)
    pd.testing.assert_frame_equal(grad.fit_transform(cohort.timeseries), table)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_compute_gradients_equal_brainspace(cohort, seed):
    from brainspace.gradient import GradientMaps

    kwargs = {"approach": "dm", "kernel": "normalized_angle", "random_state": seed}
    matrix = connectivity_matrix(cohort.timeseries[seed])
    expected = GradientMaps(n_components=10, **kwargs).fit(matrix).gradients_
    np.testing.assert_allclose(
        compute_gradients(matrix, random_state=seed), expected, rtol=0, atol=1e-12
    )
    reference = compute_gradients(connectivity_matrix(cohort.timeseries[11]))
    aligned = GradientMaps(n_components=10, alignment="procrustes", **kwargs)
    aligned.fit([matrix], reference=reference, n_iter=1)
    np.testing.assert_allclose(
        compute_gradients(matrix, reference=reference, random_state=seed),
        aligned.aligned_[0],
        rtol=0,
        atol=1e-12,
    )


def test_align_gradients_equal_brainspace_procrustes():
    from brainspace.gradient.alignment import procrustes

    rng = np.random.default_rng(0)
    source, target = rng.normal(size=(50, 5)), rng.normal(size=(50, 5))
    np.testing.assert_allclose(
        align_gradients(source, target), procrustes(source, target), atol=1e-12
    )


def test_compute_gradients_bad_inputs():
    with pytest.raises(ValueError, match="square"):
        compute_gradients(np.ones((4, 5)))
    with pytest.raises(ValueError, match="n_components"):
        compute_gradients(np.eye(6), n_components=5)
