"""Per-term explanations: exact (complete) integrated gradients on planted maps."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest

from brainlm_decode import CLIPDecoder
from brainlm_decode.decode.explain import (
    Explanation,
    explain_term,
    region_names,
    resolve_term,
)


@pytest.fixture(scope="module")
def decoder():
    return CLIPDecoder.from_pretrained()


@pytest.fixture(scope="module")
def labels(decoder):
    return np.asanyarray(decoder.image_space_.maps_img_.dataobj)


def parcel_map(decoder, labels, values: dict[int, float]) -> nib.Nifti1Image:
    """A map on the decoder's grid made of whole parcels (label value -> height)."""
    data = np.zeros(labels.shape, dtype=np.float32)
    for label, height in values.items():
        data[labels == label] = height
    return nib.Nifti1Image(data, decoder.image_space_.mask_img_.affine)


@pytest.fixture(scope="module")
def motor_img():
    from nilearn.datasets import load_sample_motor_activation_image

    return load_sample_motor_activation_image()


@pytest.mark.parametrize("label", [11, 151, 247])
def test_map_of_one_parcel_explains_through_that_parcel(decoder, labels, label):
    img = parcel_map(decoder, labels, {label: 3.0})
    term = decoder.transform(img).index[0]
    result = decoder.explain(img, term)
    name = decoder.image_space_.region_names_[label - 1]
    assert result.table["region"].iloc[0] == name
    others = result.contributions.drop(name)
    assert np.all(others == 0.0)  # zero baseline: no activation, no contribution
    np.testing.assert_allclose(
        result.contributions[name], result.score - result.baseline_score, atol=1e-12
    )
    uniform = decoder.explain(img, term, baseline="uniform")
    assert uniform.table["region"].iloc[0] == name
    assert uniform.completeness_error < 1e-8


def test_two_parcel_map_splits_between_its_parcels(decoder, labels):
    img = parcel_map(decoder, labels, {247: 2.0, 40: 1.0})
    result = decoder.explain(img, "motor fMRI task paradigm", top=5)
    names = decoder.image_space_.region_names_
    nonzero = set(result.contributions[result.contributions != 0].index)
    assert nonzero <= {names[246], names[39]}
    assert set(result.table["region"].iloc[:2]) == nonzero


@pytest.mark.parametrize("baseline", ["zero", "uniform"])
def test_scores_match_decoder_and_contributions_are_complete(
    decoder, motor_img, baseline
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = decoder.decode(motor_img)
        for level in ("task", "concept", "domain"):
            table = results[level]
            term = table.index[0]
            column = "posterior" if level == "task" else "probability"
            result = decoder.explain(motor_img, term, level=level, baseline=baseline)
            assert isinstance(result, Explanation)
            assert result.level == level
            np.testing.assert_allclose(result.score, table[column].iloc[0], rtol=1e-4)
            total = result.contributions.sum()
            np.testing.assert_allclose(
                total, result.score - result.baseline_score, rtol=1e-4, atol=1e-10
            )
            assert result.completeness_error <= 1e-4 * abs(total) + 1e-10


def test_scores_match_a_calibrated_decoder_and_noisy_or_concepts(motor_img):
    """The explained score follows the temperature and the concept weight."""
    decoder = CLIPDecoder.from_pretrained()
    decoder.temperature_ = 2.0
    for weight in (0.75, 0.0):
        decoder.set_params(concept_text_weight=weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = decoder.decode(motor_img)
            for level, column in (("task", "posterior"), ("concept", "probability")):
                term = results[level].index[0]
                result = decoder.explain(motor_img, term, level=level)
                np.testing.assert_allclose(
                    result.score, results[level][column].iloc[0], rtol=1e-4
                )


def test_motor_task_is_explained_by_the_sensorimotor_strip(decoder, motor_img):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img, table = decoder.explain(motor_img, "motor fMRI task paradigm", top=20)
    best = table[table["contribution"] > 0].iloc[0]
    assert best["z"] > 40  # dorsal precentral / postcentral gyrus
    assert 15 < abs(best["x"]) < 60
    assert img.shape == decoder.image_space_.mask_img_.shape
    data = np.asanyarray(img.dataobj)
    assert np.isclose(data.max(), table["contribution"].max(), rtol=1e-6)
    assert list(table.columns) == [
        "region",
        "atlas_region",
        "overlap",
        "x",
        "y",
        "z",
        "n_voxels",
        "map_value",
        "contribution",
        "fraction",
    ]


def test_terms_resolve_by_name_id_and_case(decoder):
    atlas = decoder.ontology_
    assert resolve_term(atlas, "Action") == (
        "domain",
        list(atlas.domain_ids).index("ctp_C7"),
    )
    assert resolve_term(atlas, "ctp_C7")[0] == "domain"
    assert resolve_term(atlas, "MOTOR FMRI TASK PARADIGM")[0] == "task"
    with pytest.raises(ValueError, match="Close matches"):
        resolve_term(atlas, "motor fmri task paradigmm")
    with pytest.raises(ValueError, match="level"):
        resolve_term(atlas, "Action", level="network")
    with pytest.raises(TypeError, match="term"):
        resolve_term(atlas, 3)


def test_bad_arguments(decoder, labels):
    img = parcel_map(decoder, labels, {11: 1.0})
    with pytest.raises(ValueError, match="baseline"):
        decoder.explain(img, "Action", baseline="mean")
    with pytest.raises(ValueError, match="top"):
        decoder.explain(img, "Action", top=0)
    with pytest.raises(TypeError, match="one map"):
        decoder.explain([img, img], "Action")
    with pytest.raises(ValueError, match="atlas"):
        decoder.explain(img, "Action", atlas="aal")


def test_user_atlas_names_regions_by_overlap(decoder, labels):
    space = decoder.image_space_
    halves = np.zeros(labels.shape, dtype=np.int16)
    ijk = np.indices(labels.shape)[0]
    halves[(labels > 0) & (ijk < labels.shape[0] // 2)] = 1
    halves[(labels > 0) & (ijk >= labels.shape[0] // 2)] = 2
    atlas = [(nib.Nifti1Image(halves, space.mask_img_.affine), ["bg", "A", "B"])]
    names, source = region_names(space, atlas)
    assert source == "user atlas"
    assert set(names["atlas_region"]) == {"A", "B"}  # hemisphere-split parcels
    assert names["overlap"].min() == 1.0
    own, source = region_names(space, "own")
    assert source == "own labels"
    assert list(own["atlas_region"]) == space.region_names_


def test_maps_space_and_trained_model_are_complete():
    from brainlm_decode.imaging.spaces import MNIParcelSpace
    from brainlm_decode.ontology import CognitiveAtlas

    atlas = CognitiveAtlas(
        tasks=[
            {"id": f"t{i}", "name": f"task {i}", "definition": f"task {i}"}
            for i in range(3)
        ],
        concepts=[{"id": "c0", "name": "concept", "definition": "c", "domain": "d0"}],
        domains=[{"id": "d0", "name": "domain", "definition": "d"}],
        task_concepts=[("t0", "c0"), ("t1", "c0")],
    )
    rng = np.random.RandomState(0)
    space = MNIParcelSpace(n_parcels=16, kind="maps").fit()
    n = space.n_regions_
    decoder = CLIPDecoder(
        image_space=space,
        ontology=atlas,
        embed_dim=8,
        n_epochs=2,
        device="cpu",
        random_state=0,
        batch_size=16,
    ).fit_embeddings(
        rng.randn(40, 6),
        rng.rand(40, n),
        vocabulary_embeddings=rng.randn(3, 6),
        image_space=space,
    )
    img = nib.Nifti1Image(
        rng.rand(*space.mask_img_.shape).astype(np.float32), space.mask_img_.affine
    )
    for term in ("task 1", "concept", "domain"):
        result = explain_term(decoder, img, term, atlas="own")
        assert result.completeness_error < 1e-8
        assert result.img.shape == space.mask_img_.shape
