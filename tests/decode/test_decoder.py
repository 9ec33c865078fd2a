"""CLIPDecoder: NiMARE-style fit/transform, levels, persistence and bad input."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from brainlm_decode import CLIPDecoder
from brainlm_decode.datasets import make_studies_collection
from brainlm_decode.decode import noisy_or
from brainlm_decode.imaging import mkda_map
from brainlm_decode.imaging.spaces import MNIParcelSpace
from brainlm_decode.ontology import CognitiveAtlas

TASKS = [
    (
        "t1",
        "checkerboard viewing task",
        "participants view flickering visual gratings",
        "c1",
    ),
    (
        "t2",
        "finger tapping task",
        "participants tap their fingers in a motor movement",
        "c2",
    ),
    (
        "t3",
        "sentence reading task",
        "participants read sentences for their meaning",
        "c3",
    ),
    (
        "t4",
        "memory encoding task",
        "participants encode and retrieve episodic memories",
        "c4",
    ),
]
CONCEPTS = [
    ("c1", "visual perception", "d1"),
    ("c2", "motor control", "d2"),
    ("c3", "language comprehension", "d3"),
    ("c4", "episodic memory", "d3"),
]
MOTOR_PEAK = [[-38, -22, 56]]


def small_atlas() -> CognitiveAtlas:
    return CognitiveAtlas(
        tasks=[{"id": i, "name": n, "definition": d} for i, n, d, _ in TASKS],
        concepts=[
            {"id": i, "name": n, "definition": n, "domain": d} for i, n, d in CONCEPTS
        ],
        domains=[
            {"id": "d1", "name": "Perception", "definition": "perception"},
            {"id": "d2", "name": "Action", "definition": "action"},
            {"id": "d3", "name": "Memory and language", "definition": "memory"},
        ],
        task_concepts=[(t, c) for t, _, _, c in TASKS],
    )


def small_decoder(**params) -> CLIPDecoder:
    defaults = dict(
        image_space=MNIParcelSpace(n_parcels=64),
        ontology=small_atlas(),
        embed_dim=32,
        n_epochs=15,
        patience=5,
        batch_size=32,
        device="cpu",
        random_state=0,
    )
    return CLIPDecoder(**{**defaults, **params})


@pytest.fixture(scope="module")
def studies():
    return make_studies_collection(
        n_studies=160, n_topics=4, random_state=0, return_type="dataset"
    )


@pytest.fixture(scope="module")
def fitted(studies):
    return small_decoder().fit(studies)


@pytest.fixture(scope="module")
def motor_img():
    return mkda_map(np.array(MOTOR_PEAK))


def test_nimare_script_usage_decodes_the_planted_topic(fitted, motor_img):
    table = fitted.transform(motor_img)
    assert isinstance(table, pd.DataFrame)
    assert table.index.name == "task"
    assert list(table.columns) == [
        "id",
        "posterior",
        "likelihood",
        "prior",
        "similarity",
    ]
    assert table.index[0] == "finger tapping task"
    assert np.isclose(table["posterior"].sum(), 1.0)
    assert np.isclose(table["likelihood"].sum(), 1.0)
    assert table["posterior"].is_monotonic_decreasing


def test_levels_follow_noisy_or(fitted, motor_img):
    from brainlm_decode.decode.posterior import concept_mixture, softmax

    results = fitted.decode(motor_img)
    tasks = results["task"].set_index("id")["posterior"]
    posterior = tasks.loc[list(fitted.ontology_.task_ids)].to_numpy()
    concepts = noisy_or(posterior, fitted.ontology_.task_concept_matrix)
    # concepts: the noisy-OR mixed with the concepts' own text (by hand)
    assert fitted.concept_embeddings_.shape == (fitted.ontology_.n_concepts, 32)
    image = fitted._encode_image(fitted.embed_imgs(motor_img))[0]
    text = softmax(fitted.logit_scale_ * fitted.concept_embeddings_ @ image)
    weight = fitted.concept_text_weight
    expected = weight * text + (1 - weight) * concepts / concepts.sum()
    np.testing.assert_allclose(concept_mixture(concepts, text, weight), expected)
    got = results["concept"].set_index("id")["probability"]
    ids = list(fitted.ontology_.concept_ids)
    np.testing.assert_allclose(got.loc[ids], expected, rtol=1e-5)
    # domains: noisy-OR of the noisy-OR concept probabilities, whatever the weight
    domain = results["domain"]
    assert domain.index[0] == "Action"
    assert fitted.transform(motor_img, level="domain").equals(domain)
    fitted.set_params(concept_text_weight=0.0)  # the noisy-OR alone, unscaled
    try:
        alone = fitted.decode(motor_img)
        got = alone["concept"].set_index("id")["probability"]
        np.testing.assert_allclose(got.loc[ids], concepts)
        assert alone["domain"].equals(domain)
    finally:
        fitted.set_params(concept_text_weight=0.75)


def test_posterior_is_likelihood_times_prior(fitted, motor_img):
    table = fitted.transform(motor_img)
    joint = table["likelihood"] * table["prior"]
    np.testing.assert_allclose(table["posterior"], joint / joint.sum())
    np.testing.assert_allclose(fitted.prior_.sum(), 1.0)


def test_list_of_maps_gives_list_of_tables(fitted, motor_img):
    visual = mkda_map(np.array([[-10, -94, 2], [12, -92, 4]]))
    tables = fitted.transform([motor_img, visual])
    assert isinstance(tables, list) and len(tables) == 2
    assert tables[1].index[0] == "checkerboard viewing task"


def test_studyset_input_gives_a_working_decoder(motor_img):
    studyset = make_studies_collection(
        n_studies=80, n_topics=4, random_state=1, return_type="studyset"
    )
    decoder = small_decoder(n_epochs=3, prior="uniform").fit(studyset)
    table = decoder.transform(motor_img)
    np.testing.assert_allclose(table["posterior"], table["likelihood"])


def test_save_load_round_trip(fitted, motor_img, tmp_path):
    folder = fitted.save(tmp_path / "decoder")
    loaded = CLIPDecoder.load(folder)
    pd.testing.assert_frame_equal(
        loaded.transform(motor_img), fitted.transform(motor_img)
    )
    np.testing.assert_allclose(
        loaded.concept_embeddings_, fitted.concept_embeddings_, rtol=1e-6
    )
    pd.testing.assert_frame_equal(
        loaded.transform(motor_img, level="concept"),
        fitted.transform(motor_img, level="concept"),
    )
    again = CLIPDecoder.from_pretrained(folder)
    assert again.n_studies_ == fitted.n_studies_
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.save(folder)
    fitted.save(folder, overwrite=True)


def test_decoder_saved_without_concept_embeddings_scores_by_noisy_or(
    fitted, motor_img, tmp_path
):
    """Folders of earlier versions: no concept array, no concept_text_weight."""
    from safetensors.numpy import load_file, save_file

    from brainlm_decode._io import sha256_file

    folder = fitted.save(tmp_path / "former")
    arrays = load_file(str(folder / "arrays.safetensors"))
    del arrays["concept_embeddings"]
    save_file(arrays, str(folder / "arrays.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    del config["params"]["concept_text_weight"]
    (folder / "config.json").write_text(json.dumps(config))
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("arrays.safetensors", "config.json"):
        manifest["files"][name] = sha256_file(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    loaded = CLIPDecoder.load(folder)
    assert loaded.concept_embeddings_ is None
    fitted.set_params(concept_text_weight=0.0)
    try:
        pd.testing.assert_frame_equal(
            loaded.transform(motor_img, level="concept"),
            fitted.transform(motor_img, level="concept"),
        )
    finally:
        fitted.set_params(concept_text_weight=0.75)


def test_load_detects_corruption_and_newer_format(fitted, tmp_path):
    folder = fitted.save(tmp_path / "decoder")
    arrays = folder / "arrays.safetensors"
    arrays.write_bytes(arrays.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="manifest checksum"):
        CLIPDecoder.load(folder)
    folder = fitted.save(tmp_path / "decoder2")
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 99
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match="format version 99"):
        CLIPDecoder.load(folder)
    # checksums are always required: a deleted manifest is an error
    folder = fitted.save(tmp_path / "decoder3")
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json"):
        CLIPDecoder.load(folder)


def test_unfitted_and_bad_calls(fitted, motor_img):
    with pytest.raises(NotFittedError):
        small_decoder().transform(motor_img)
    with pytest.raises(ValueError, match="'level' argument"):
        fitted.transform(motor_img, level="network")
    with pytest.raises(ValueError, match="empty list"):
        fitted.transform([])
    with pytest.raises(ValueError, match="image_embeddings"):
        fitted.decode_embeddings(np.zeros((1, 3)))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"alpha": 2.0},
            r"'alpha' parameter of CLIPDecoder must be a float in the range \[0, 1\]",
        ),
        ({"prior": "flat"}, "'prior' parameter of CLIPDecoder"),
        ({"text_source": ""}, "'text_source' parameter"),
        ({"ontology": 3}, "'ontology' parameter"),
        ({"tail": "left"}, "'tail' parameter"),
    ],
)
def test_bad_parameters(studies, params, match):
    with pytest.raises(ValueError, match=match):
        small_decoder(**params).fit(studies)


def test_missing_text_source_lists_available(studies):
    with pytest.raises(ValueError, match="has texts"):
        small_decoder(text_source="body").fit(studies)


def test_bad_maps_get_clear_errors(fitted):
    empty = nib.Nifti1Image(
        np.zeros((91, 109, 91), dtype=np.float32), mkda_map(np.array(MOTOR_PEAK)).affine
    )
    with pytest.raises(ValueError):
        fitted.transform(empty)
    negative = nib.Nifti1Image(
        -np.asanyarray(mkda_map(np.array(MOTOR_PEAK)).dataobj).astype(np.float32),
        empty.affine,
    )
    with pytest.raises(ValueError, match="flip_sign"):
        fitted.transform(negative)
    fitted.set_params(flip_sign=True)  # decoding options apply without refitting
    try:
        assert fitted.transform(negative).index[0] == "finger tapping task"
    finally:
        fitted.set_params(flip_sign=False)


def test_fit_embeddings_is_reproducible_and_validated():
    rng = np.random.RandomState(0)
    text = rng.randn(120, 16).astype(np.float32)
    image = (text @ rng.randn(16, 64)).astype(np.float32)
    vocab = rng.randn(4, 16).astype(np.float32)
    space = MNIParcelSpace(n_parcels=64).fit()

    def run(seed):
        decoder = small_decoder(n_epochs=3, random_state=seed)
        return decoder.fit_embeddings(
            text, image, vocabulary_embeddings=vocab, image_space=space
        )

    a, b, c = run(0), run(0), run(1)
    # given task embeddings only: no concept text, concepts by noisy-OR alone
    assert a.concept_embeddings_ is None
    concept_vocab = rng.randn(a.ontology_.n_concepts, 16)
    with_concepts = small_decoder(n_epochs=1).fit_embeddings(
        text,
        image,
        vocabulary_embeddings=vocab,
        concept_vocabulary_embeddings=concept_vocab,
        image_space=space,
    )
    assert with_concepts.concept_embeddings_.shape == (a.ontology_.n_concepts, 32)
    with pytest.raises(ValueError, match="concept_vocabulary_embeddings"):
        small_decoder(n_epochs=1).fit_embeddings(
            text,
            image,
            vocabulary_embeddings=vocab,
            concept_vocabulary_embeddings=concept_vocab[:, :3],
            image_space=space,
        )
    for name, tensor in a.model_.state_dict().items():
        assert np.array_equal(tensor.numpy(), b.model_.state_dict()[name].numpy()), name
    assert not np.array_equal(a.task_embeddings_, c.task_embeddings_)
    with pytest.raises(ValueError, match="vocabulary_embeddings"):
        small_decoder(n_epochs=1).fit_embeddings(
            text, image, vocabulary_embeddings=vocab[:, :3], image_space=space
        )
    with pytest.raises(ValueError, match="one column per region"):
        small_decoder(n_epochs=1).fit_embeddings(
            text, image[:, :10], vocabulary_embeddings=vocab, image_space=space
        )


def test_nested_plugin_parameters_and_clone():
    from sklearn.base import clone

    from brainlm_decode.text.encoders import MiniLMEncoder

    decoder = CLIPDecoder(text_encoder=MiniLMEncoder(), image_space=MNIParcelSpace())
    params = decoder.get_params(deep=True)
    assert params["text_encoder__batch_size"] == 32
    assert params["image_space__n_parcels"] == 512
    decoder.set_params(text_encoder__batch_size=8, image_space__n_parcels=64)
    copy = clone(decoder)
    assert copy.text_encoder is not decoder.text_encoder
    assert copy.get_params()["text_encoder__batch_size"] == 8
    assert copy.get_params()["image_space__n_parcels"] == 64


def test_array_route_matches_tables(fitted, motor_img):
    embeddings = fitted.embed_imgs([motor_img, motor_img])
    scores = fitted.decode_embeddings(embeddings)
    assert scores["posterior"].shape == (2, fitted.ontology_.n_tasks)
    table = fitted.transform(motor_img).set_index("id")
    np.testing.assert_allclose(
        scores["posterior"][0],
        table.loc[list(fitted.ontology_.task_ids), "posterior"],
        rtol=1e-5,  # float32 towers: a batch of 2 and a batch of 1 round differently
    )


def test_fitted_image_space_is_reused(studies):
    space = MNIParcelSpace(n_parcels=64).fit()
    decoder = small_decoder(image_space=space, n_epochs=1).fit(studies)
    assert decoder.image_space_ is space


def test_n_jobs_reaches_the_image_space_built_from_a_name(monkeypatch):
    from brainlm_decode.imaging.spaces import MNIParcelSpace

    monkeypatch.setattr(MNIParcelSpace, "fit", lambda self, *a, **k: self)
    decoder = CLIPDecoder(image_space="mni-parcels", n_jobs=2)
    assert decoder._fit_image_space().n_jobs == 2
    mine = MNIParcelSpace(n_jobs=1)
    assert CLIPDecoder(image_space=mine, n_jobs=2)._fit_image_space().n_jobs == 1
