"""Tests of brainlm_decode.collection against the data shipped in NiMARE's wheel."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlm_decode.collection import Collection, CollectionSplit, load_collection

RESOURCES = Path(str(files("nimare") / "resources"))
NBACK = RESOURCES / "nback_vs_flanker_studyset_2026-07"
LAIRD = RESOURCES / "neurosynth_laird_studies.json"
PAIN = RESOURCES / "nidm_pain_dset.json"

# What the bundled n-back/flanker studyset holds (selection_summary.json agrees).
N_STUDIES, N_ANALYSES, N_FOCI = 320, 906, 9492
N_TAL, N_OTHER, N_UNKNOWN = 1159, 347, 167


def _nimads(space: str, xyz: list[float] | None = None) -> dict:
    """A one-study NIMADS dict with one focus in ``space``."""
    return {
        "id": "toy",
        "name": "toy studyset",
        "studies": [
            {
                "id": "s1",
                "name": "A title",
                "description": "An abstract.",
                "analyses": [
                    {
                        "id": "a1",
                        "name": "a1",
                        "points": [
                            {"space": space, "coordinates": xyz or [10, 20, 30]}
                        ],
                    }
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def nback_studyset():
    from nimare.studyset import Studyset

    return Studyset(source=str(NBACK))


@pytest.fixture(scope="module")
def nback(nback_studyset) -> Collection:
    return load_collection(nback_studyset)


@pytest.fixture(scope="module")
def laird_dataset():
    from nimare.dataset import Dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return Dataset(source=str(LAIRD))


@pytest.fixture(scope="module")
def laird(laird_dataset) -> Collection:
    return load_collection(laird_dataset)


@pytest.fixture(scope="module")
def laird_from_path() -> Collection:
    return load_collection(LAIRD)


@pytest.fixture(scope="module")
def pain_dataset():
    from nimare.dataset import Dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return Dataset(source=str(PAIN))


def test_import_does_not_load_heavy_packages():
    code = (
        "import sys, brainlm_decode.collection; "
        "print([m for m in ('nimare', 'torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ Studyset
def test_nback_studyset_object_and_path_agree(nback, nback_studyset):
    from_path = load_collection(NBACK)
    for collection in (nback, from_path):
        assert len(collection) == N_ANALYSES
        assert len(collection.study_ids) == N_STUDIES
        assert len(collection.coordinates) == N_FOCI
    pd.testing.assert_index_equal(nback.ids, from_path.ids)
    pd.testing.assert_index_equal(nback.ids, pd.Index(nback_studyset.ids, name="id"))
    assert set(nback.study_ids) == set(nback_studyset.study_ids)
    pd.testing.assert_frame_equal(nback.coordinates, from_path.coordinates)
    pd.testing.assert_series_equal(nback.texts("abstract"), from_path.texts("abstract"))
    pd.testing.assert_frame_equal(nback.annotations, from_path.annotations)
    assert nback.name == from_path.name == "n-back vs flanker task analysis examples"


def test_nback_texts_and_labels(nback):
    assert nback.text_sources == ("title", "abstract")
    abstracts = nback.texts("abstract", level="study")
    assert abstracts.index.equals(nback.study_ids)
    assert abstracts.notna().all() and len(abstracts) == N_STUDIES
    assert nback.texts("abstract").notna().all()
    labels = nback.annotations["comparison_task"]
    assert labels.value_counts().to_dict() == {"n-back": 500, "flanker": 406}
    per_study = labels.groupby(nback.study_of).first().value_counts().to_dict()
    assert per_study == {"n-back": 205, "flanker": 115}
    assert nback.metadata.index.equals(nback.ids)
    assert nback.images.index.equals(nback.ids)


def test_combined_text_sources(nback):
    combined = nback.texts(("title", "abstract"), sep=" || ")
    first = nback.ids[0]
    title, abstract = nback.texts("title")[first], nback.texts("abstract")[first]
    assert combined[first] == f"{title} || {abstract}"
    assert combined.name == "title+abstract"


def test_nback_coordinates_are_mni(nback, nback_studyset):
    from nimare.utils import tal2mni

    coords = nback.coordinates
    assert list(coords.columns[:7]) == [
        "id",
        "study_id",
        "x",
        "y",
        "z",
        "space",
        "reported_space",
    ]
    assert (coords["space"] == "MNI").all()
    reported = coords["reported_space"].value_counts().to_dict()
    assert reported == {
        "MNI": N_FOCI - N_TAL - N_OTHER - N_UNKNOWN,
        "TAL": N_TAL,
        "OTHER": N_OTHER,
        "UNKNOWN": N_UNKNOWN,
    }
    raw = nback_studyset.with_context(space=None).coordinates
    is_tal = (coords["reported_space"] == "TAL").to_numpy()
    xyz = coords[["x", "y", "z"]].to_numpy()
    expected = tal2mni(raw.loc[is_tal, ["x", "y", "z"]].to_numpy())
    np.testing.assert_allclose(xyz[is_tal], expected)
    assert not np.allclose(xyz[is_tal], raw.loc[is_tal, ["x", "y", "z"]].to_numpy())
    # NiMARE's own projection to its MNI template gives the same numbers.
    nimare_mni = nback_studyset.coordinates[["x", "y", "z"]].to_numpy()
    np.testing.assert_allclose(xyz, nimare_mni)


def test_unspecified_space_policies(nback_studyset):
    with pytest.raises(ValueError, match="'OTHER': 347, 'UNKNOWN': 167"):
        load_collection(nback_studyset, unspecified_space="raise")
    dropped = load_collection(nback_studyset, unspecified_space="drop")
    assert len(dropped.coordinates) == N_FOCI - N_OTHER - N_UNKNOWN
    assert len(dropped) == N_ANALYSES
    with pytest.raises(ValueError, match="'unspecified_space' argument"):
        load_collection(nback_studyset, unspecified_space="assume")


def test_empty_studyset_is_an_error(nback_studyset):
    with pytest.raises(ValueError, match="holds no analyses"):
        load_collection(nback_studyset.filter_ids(ids=[]))


# ------------------------------------------------------------------- Dataset
def test_laird_dataset_path_object_and_dict_agree(
    laird, laird_dataset, laird_from_path
):
    from_path = laird_from_path
    from_dict = load_collection(json.loads(LAIRD.read_text()))
    for collection in (laird, from_path, from_dict):
        assert len(collection) == 17
        assert len(collection.study_ids) == 17
        assert len(collection.coordinates) == 1117
        assert collection.text_sources == ("title", "abstract")
        assert collection.texts("abstract", level="study").notna().all()
        assert collection.annotations.shape == (17, 3228)
    assert set(laird.ids) == set(laird_dataset.ids)
    pd.testing.assert_index_equal(from_path.ids, laird.ids)
    pd.testing.assert_index_equal(from_dict.ids, laird.ids)
    pd.testing.assert_frame_equal(from_path.coordinates, from_dict.coordinates)
    # The Dataset object projected its foci to MNI when it was built; the path
    # is projected here. Both use NiMARE's tal2mni, so the numbers agree.
    np.testing.assert_allclose(
        laird.coordinates[["x", "y", "z"]], from_path.coordinates[["x", "y", "z"]]
    )
    assert from_path.coordinates["reported_space"].value_counts().to_dict() == {
        "MNI": 540,
        "UNKNOWN": 448,
        "TAL": 129,
    }
    assert from_path.name == "neurosynth_laird_studies"


def test_laird_talairach_contrast_converted(laird_from_path):
    from nimare.utils import tal2mni

    document = json.loads(LAIRD.read_text())
    coords = document["17029760"]["contrasts"]["1"]["coords"]
    assert coords["space"] == "TAL"
    raw = np.column_stack([coords["x"], coords["y"], coords["z"]])
    got = laird_from_path.coordinates.query("study_id == '17029760'")
    np.testing.assert_allclose(got[["x", "y", "z"]].to_numpy(), tal2mni(raw))


def test_studyset_converted_from_dataset(pain_dataset):
    from nimare.studyset import Studyset

    converted = load_collection(Studyset.from_dataset(dataset=pain_dataset))
    direct = load_collection(pain_dataset)
    from_path = load_collection(PAIN)
    pd.testing.assert_index_equal(converted.ids, direct.ids)
    pd.testing.assert_index_equal(converted.ids, from_path.ids)
    pd.testing.assert_frame_equal(converted.coordinates, direct.coordinates)
    np.testing.assert_allclose(
        converted.coordinates[["x", "y", "z"]], from_path.coordinates[["x", "y", "z"]]
    )
    assert len(converted) == 21 and len(converted.coordinates) == 267


def test_images_of_nidm_pain_dataset():
    pain = load_collection(PAIN)
    assert len(pain) == 21 and len(pain.coordinates) == 267
    assert {"beta", "se", "t", "z"} <= set(pain.images.columns)
    assert pain.text_sources == ()
    assert "4 image types" in repr(pain)


# ------------------------------------------------------------ spaces in dicts
@pytest.mark.parametrize("label", ["TAL", "talairach", "Talairach"])
def test_talairach_focus_converted(label):
    from nimare.utils import tal2mni

    collection = load_collection(_nimads(label, [10.0, -20.0, 30.0]))
    got = collection.coordinates.loc[0, ["x", "y", "z"]].to_numpy(dtype=float)
    np.testing.assert_allclose(got, tal2mni(np.array([[10.0, -20.0, 30.0]]))[0])
    assert collection.coordinates.loc[0, "reported_space"] == label
    assert collection.texts("title").tolist() == ["A title"]
    assert collection.texts("abstract").tolist() == ["An abstract."]


def test_mni_focus_untouched():
    collection = load_collection(_nimads("mni152_2mm", [1.0, 2.0, 3.0]))
    got = collection.coordinates.loc[0, ["x", "y", "z"]].to_numpy(dtype=float)
    np.testing.assert_array_equal(got, [1.0, 2.0, 3.0])


def test_unknown_space_is_an_error():
    with pytest.raises(ValueError, match="'source' argument.*'colin27'.*s1-a1"):
        load_collection(_nimads("colin27"))


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("source", "kind"),
    [(1, "int"), ([1, 2], "list"), (None, "NoneType"), (b"x", "bytes")],
)
def test_bad_source_type(source, kind):
    message = (
        "The 'source' argument of load_collection must be a NiMARE Studyset, "
        f"Dataset, dict or path; got {kind} instead."
    )
    with pytest.raises(TypeError, match=message):
        load_collection(source)


def test_bad_paths_and_dicts(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_collection(missing)
    with pytest.raises(ValueError, match="not a Studyset parquet directory"):
        load_collection(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        load_collection(tmp_path / "notes.txt")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json.*not valid JSON"):
        load_collection(str(tmp_path / "broken.json"))
    with pytest.raises(ValueError, match="empty dict"):
        load_collection({})
    with pytest.raises(ValueError, match="'studies' list.*'foo'"):
        load_collection({"foo": 1})
    with pytest.raises(ValueError, match="no studies"):
        load_collection({"id": "x", "studies": []})


def test_missing_text_source_lists_available(nback):
    with pytest.raises(ValueError, match="'body'.*available: 'title', 'abstract'"):
        nback.texts("body")
    with pytest.raises(
        ValueError, match="'text_sources' argument.*'title', 'abstract'"
    ):
        load_collection(nback, text_sources=["abstract", "body"])
    with pytest.raises(TypeError, match="'text_sources' argument"):
        load_collection(nback, text_sources=3)
    with pytest.raises(ValueError, match="'level' argument"):
        nback.texts("abstract", level="paper")
    only = load_collection(nback, text_sources="abstract")
    assert only.text_sources == ("abstract",)
    assert load_collection(nback) is nback


# ------------------------------------------------------------ split / subset
def test_split_is_grouped_reproducible_and_complete(nback):
    parts = nback.split(test_size=0.2, validation_size=0.1, random_state=0)
    assert isinstance(parts, CollectionSplit)
    studies = [set(part.study_ids) for part in parts]
    assert [len(s) for s in studies] == [224, 32, 64]
    assert not studies[0] & studies[1]
    assert not studies[0] & studies[2]
    assert not studies[1] & studies[2]
    assert set.union(*studies) == set(nback.study_ids)
    assert sum(len(part) for part in parts) == len(nback)
    for part in parts:
        # Every analysis of a study in a partition is in that partition.
        assert set(part.ids) == set(
            nback.study_of[nback.study_of.isin(part.study_ids)].index
        )
    again = nback.split(test_size=0.2, validation_size=0.1, random_state=0)
    for first, second in zip(parts, again, strict=True):
        pd.testing.assert_index_equal(first.ids, second.ids)
    other = nback.split(test_size=0.2, validation_size=0.1, random_state=1)
    assert set(other.test.study_ids) != studies[2]


def test_split_sizes(nback):
    train, validation, test = nback.split(test_size=10, validation_size=None)
    assert validation is None and len(test.study_ids) == 10
    assert len(train.study_ids) == N_STUDIES - 10
    with pytest.raises(ValueError, match="'test_size' argument"):
        nback.split(test_size=1.5)
    with pytest.raises(TypeError, match="'validation_size' argument"):
        nback.split(validation_size="10%")
    with pytest.raises(ValueError, match="no study for training"):
        nback.split(test_size=0.6, validation_size=0.5)


def test_subset(nback):
    ids = list(nback.ids[[5, 0, 3]])
    small = nback.subset(ids)
    assert list(small.ids) == [nback.ids[0], nback.ids[3], nback.ids[5]]
    assert set(small.coordinates["id"]) <= set(ids)
    expected = nback.coordinates["id"].isin(ids).sum()
    assert len(small.coordinates) == expected
    assert small.texts("abstract").index.equals(small.ids)
    study = nback.study_ids[0]
    one = nback.subset(study, level="study")
    assert list(one.study_ids) == [study]
    assert len(one) == int((nback.study_of == study).sum())
    with pytest.raises(ValueError, match="'nope'"):
        nback.subset(["nope", ids[0]])
    with pytest.raises(ValueError, match="empty"):
        nback.subset([])
    with pytest.raises(TypeError, match="'ids' argument"):
        nback.subset([1, 2])


def test_collection_is_immutable(nback):
    with pytest.raises(dataclasses.FrozenInstanceError):
        nback.name = "other"
    coords = nback.coordinates
    coords.loc[:, "x"] = 0.0
    assert not (nback.coordinates["x"] == 0.0).all()
    ids = nback.ids
    with pytest.raises(TypeError):
        ids[0] = "x"


def test_repr_and_len(nback):
    text = repr(nback)
    assert "320 studies" in text and "906 analyses" in text and "9492 foci" in text
    assert "texts: title, abstract" in text
    assert len(nback) == N_ANALYSES
