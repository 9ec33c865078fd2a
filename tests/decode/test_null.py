"""Null-tested term scores: spun-map nulls, permutation p-values, BH q-values."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from brainlm_decode.decode.null import (
    _RadialBrain,
    bh_fdr,
    displaced_maps,
    empirical_pvalues,
)
from brainlm_decode.decode.persistence import list_pretrained
from brainlm_decode.imaging import load_mni152_brain_mask

needs_bundle = pytest.mark.skipif(
    not list_pretrained(), reason="the pretrained bundle is not built in this checkout"
)
SENSORIMOTOR = (
    "motor",
    "tapping",
    "finger",
    "somatosensory",
    "tactile",
    "vibrotactile",
)


def test_bh_fdr_matches_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(0).uniform(size=50) ** 2
    expected = multitest.multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(bh_fdr(p), expected)
    with pytest.raises(ValueError, match="pvalues"):
        bh_fdr([0.5, 1.5])


def test_empirical_pvalues_counts_ties_and_floor():
    null = np.array([[0.1, 0.5], [0.2, 0.5], [0.3, 0.5]])
    p = empirical_pvalues([0.25, 0.5], null)
    np.testing.assert_allclose(p, [2 / 4, 4 / 4])
    assert empirical_pvalues([9.0, 9.0], null).min() == 1 / 4
    with pytest.raises(ValueError, match="'null'"):
        empirical_pvalues([0.1], null)


def test_spun_maps_fill_the_mask_and_keep_values():
    mask_img = load_mni152_brain_mask()
    mask = np.asanyarray(mask_img.dataobj) > 0
    brain = _RadialBrain(mask_img)
    identity = brain.source_offsets(np.eye(3))
    flat_mask = np.flatnonzero(mask.reshape(-1))
    # the identity spin reads (almost) every voxel from itself
    assert np.mean(identity == flat_mask) > 0.99
    data = np.where(mask, np.random.default_rng(0).uniform(1, 2, mask.shape), 0)
    for null in displaced_maps(data, mask_img, 3, random_state=0):
        assert np.mean(null > 0) > 0.9  # a spun map covers the mask (~96 %)
        assert null.min() >= 0 and null.max() <= 2


def test_fast_offsets_match_the_plain_arithmetic():
    from scipy.spatial.transform import Rotation

    mask_img = load_mni152_brain_mask()
    brain = _RadialBrain(mask_img)
    rotation = Rotation.random(random_state=3).as_matrix()
    # the spin written out plainly (float32 like the fast path, as before)
    source = brain.direction @ rotation.astype(np.float32)
    radius = brain.relative * brain.cell_bound[brain._cells(source)]
    world = source * radius[:, None]
    linear = brain.inverse[:3, :3].astype(np.float32)
    shift = brain.inverse[:3, :3] @ brain.centre + brain.inverse[:3, 3]
    index = np.rint(world @ linear.T + shift.astype(np.float32)).astype(np.int64)
    inside = np.all((index >= 0) & (index < brain.shape), axis=1)
    expected = np.where(inside, index @ brain.strides, -1)
    assert np.mean(brain.source_offsets(rotation) == expected) > 0.9999


@pytest.fixture(scope="module")
def pretrained():
    from brainlm_decode import CLIPDecoder

    return CLIPDecoder.from_pretrained().set_params(random_state=0)


@needs_bundle
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_noise_map_has_no_significant_term(pretrained):
    mask_img = load_mni152_brain_mask()
    rng = np.random.default_rng(0)
    noise = nib.Nifti1Image(
        rng.standard_normal(mask_img.shape).astype(np.float32), mask_img.affine
    )
    tail = pretrained.decode(noise, n_null=100)
    empirical = pretrained.decode(noise, n_null=100, null_pvalues="empirical")
    for level in ("task", "concept", "domain"):
        assert {"p", "q"} <= set(tail[level].columns)
        assert empirical[level]["p"].between(1 / 101, 1).all()
        p = tail[level]["p"]
        assert ((p > 0) & (p <= 1)).all()
        # same seed, same nulls: the tail changes only the rarest terms
        same = empirical[level]["p"] > 10.5 / 101  # >= 10 exceedances
        np.testing.assert_allclose(p[same], empirical[level]["p"][same])
        for result in (tail, empirical):
            assert (result[level]["q"] >= 0.05).all(), level


def test_bad_null_pvalues_is_named():
    from brainlm_decode import CLIPDecoder
    from brainlm_decode.decode.null import null_test

    with pytest.raises(ValueError, match="'null_pvalues'"):
        null_test(None, None, 10, null_pvalues="gpd")
    with pytest.raises(ValueError, match="'null_pvalues'"):
        CLIPDecoder().decode(None, n_null=10, null_pvalues="exact")


@needs_bundle
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_null_test_returns_null_scores(pretrained):
    from brainlm_decode.decode.null import null_test
    from brainlm_decode.imaging import mkda_map

    img = mkda_map(np.array([[-38, -22, 56], [38, -22, 56]]))
    result, null = null_test(pretrained, img, 30, random_state=0, return_null=True)
    n_terms = {"task": 853, "concept": None, "domain": None}
    for level in ("task", "concept", "domain"):
        assert null[level].shape == (30, result[level]["p"].size)
        assert null["observed"][level].shape == result[level]["p"].shape
        if n_terms[level]:
            assert null[level].shape[1] == n_terms[level]
        expected = empirical_pvalues(null["observed"][level], null[level])
        again = null_test(pretrained, img, 30, random_state=0, null_pvalues="empirical")
        np.testing.assert_allclose(again[level]["p"], expected)


@needs_bundle
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_motor_map_top_tasks_are_sensorimotor(pretrained):
    from nilearn.datasets import load_sample_motor_activation_image

    table = pretrained.transform(load_sample_motor_activation_image(), n_null=100)
    top = [name.lower() for name in table.index[:5]]
    assert sum(any(word in name for word in SENSORIMOTOR) for name in top) >= 4
    # the top task beats most spun copies of the map (measured p ~ 0.02-0.05)
    assert table["p"].iloc[:5].min() < 0.1


@needs_bundle
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_n_null_prints_p_and_q(tmp_path, capsys):
    from brainlm_decode.cli import main
    from brainlm_decode.imaging import mkda_map

    path = tmp_path / "map.nii.gz"
    mkda_map(np.array([[-38, -22, 56], [38, -22, 56]])).to_filename(path)
    argv = ["decode", str(path), "--level", "domain", "--n-null", "20", "--top", "2"]
    assert main(argv) == 0
    assert "q=" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"p", "q"} <= set(payload["domain"][0])
    assert main([*argv, "--json", "--null-pvalues", "empirical"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert min(row["p"] for row in payload["domain"]) >= 1 / 21
    assert main([*argv, "--null-pvalues", "gpd"]) == 2
    assert "--null-pvalues" in capsys.readouterr().err
