"""The real Cognitive Atlas export in ../shared/data (skipped when it is missing)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from brainlm_decode.ontology import CognitiveAtlas, load_cognitive_atlas_dump

pytestmark = pytest.mark.shared_data


def _dump_dir() -> Path:
    env = os.environ.get("BRAINLM_DECODE_SHARED_DATA")
    base = (
        Path(env)
        if env
        else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    )
    folder = base / "cognitive_atlas"
    if not (folder / "TaskCollection.json").is_file():
        pytest.skip(f"Cognitive Atlas export not available in {folder}")
    return folder


@pytest.fixture(scope="module")
def dump_dir() -> Path:
    return _dump_dir()


@pytest.fixture(scope="module")
def raw(dump_dir: Path) -> dict[str, list[dict]]:
    out = {}
    for key in ("Task", "Concept", "ConceptClass", "Assertion"):
        with open(dump_dir / f"{key}Collection.json", encoding="utf-8") as f:
            out[key] = json.load(f)["entries"]
    return out


@pytest.fixture(scope="module")
def atlas(dump_dir: Path) -> CognitiveAtlas:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_cognitive_atlas_dump(dump_dir)


def test_counts_and_shapes(atlas: CognitiveAtlas) -> None:
    assert (atlas.n_tasks, atlas.n_concepts, atlas.n_domains) == (853, 915, 10)
    assert atlas.task_concept_matrix.shape == (853, 915)
    assert atlas.concept_domain_matrix.shape == (915, 10)
    assert list(atlas.domain_ids) == [f"ctp_C{i}" for i in range(1, 11)]
    assert atlas.lookup_names("ctp_C4", level="domain") == "Executive/Cognitive Control"
    assert set(np.unique(atlas.task_concept_matrix.data)) == {1.0}
    # 480 tasks measure at least one concept; the others are kept and flagged
    assert int(atlas.tasks["has_concepts"].sum()) == 480
    assert len(atlas.tasks) == 853


def test_warnings_name_the_known_problems(dump_dir: Path) -> None:
    with pytest.warns(Warning) as record:
        load_cognitive_atlas_dump(dump_dir)
    text = " ".join(str(w.message) for w in record)
    assert "'boston naming test' -> ['tsk_4a57abb9498ef', 'tsk_ovuQxhbAPPMLs']" in text
    assert "'risk aversion'" in text and "trm_4f244f46ebf58" in text


def test_links_union_of_asserts_and_assertions(
    atlas: CognitiveAtlas, raw: dict
) -> None:
    concept_ids = {c["id"] for c in raw["Concept"]}
    task_ids = {t["id"] for t in raw["Task"]}
    asserts = {(t["id"], c) for t in raw["Task"] for c in t.get("asserts", [])}
    assertions = {
        (a["predicate"][0], a["subject"][0])
        for a in raw["Assertion"]
        if a.get("subject")
        and a.get("predicate")
        and a["subject"][0] in concept_ids
        and a["predicate"][0] in task_ids
        and a.get("truth_value") != "negative"
    }
    only_assertions = assertions - asserts
    assert only_assertions, "the export has links only in AssertionCollection"
    links = set(map(tuple, atlas.task_concept_links.values.tolist()))
    assert links == asserts | assertions
    assert only_assertions <= links
    # hand-checked: "selective attention is measured by Stroop task" is only an assertion
    stroop = atlas.lookup_ids("Stroop task")
    assert (stroop, "trm_4a3fd79d0b043") in only_assertions
    assert "selective attention" in atlas.concepts_of(stroop)["name"].tolist()


def test_n_back_concepts(atlas: CognitiveAtlas, raw: dict) -> None:
    nback = atlas.lookup_ids("n-back task")
    assert nback == "tsk_4a57abb949bcd"
    entry = next(t for t in raw["Task"] if t["id"] == nback)
    row = atlas.task_ids.get_loc(nback)
    cols = atlas.task_concept_matrix[[row]].indices
    measured = set(atlas.concept_ids[cols])
    assert set(entry["asserts"]) <= measured
    names = set(atlas.lookup_names(sorted(measured), level="concept"))
    assert {"working memory", "updating", "active maintenance"} <= names
    wm = atlas.lookup_ids("working memory", level="concept")
    assert nback in atlas.tasks_of(wm)["id"].tolist()


def test_concept_domains(atlas: CognitiveAtlas, raw: dict) -> None:
    from_class = {
        c["id"]: c["id_concept_class"]
        for c in raw["Concept"]
        if c.get("id_concept_class")
    }
    assert len(from_class) == 505
    concepts = atlas.concepts.set_index("id")
    for cid, dom in from_class.items():
        assert concepts.loc[cid, "domain"] == dom
    # 18 more from classified_under where id_concept_class is empty
    assert int(concepts["domain"].notna().sum()) == 523
    assert atlas.concept_domain_matrix.nnz == 523
    assert (
        concepts.loc[atlas.lookup_ids("numerosity", level="concept"), "domain"]
        == "ctp_C1"
    )
    assert (
        concepts.loc["trm_4a3fd79d096be", "domain"] == "ctp_C3"
    )  # abductive reasoning


def test_text_is_clean(atlas: CognitiveAtlas) -> None:
    texts = list(atlas.tasks["definition"]) + list(atlas.concepts["definition"])
    assert not any("&#39;" in t or "\u00e2\u0080" in t or t == "None" for t in texts)
    vocab = atlas.vocabulary("task")
    assert (vocab["definition"].str.len() > 0).all()
    assert vocab.shape == (853, 3)


def test_reduced_and_round_trip(atlas: CognitiveAtlas, tmp_path: Path) -> None:
    small = atlas.reduced(["n-back task", "stop signal task", "Stroop task"])
    assert small.n_tasks == 3
    assert small.n_concepts == int(
        (
            atlas.task_concept_matrix[
                [atlas.task_ids.get_loc(t) for t in small.task_ids]
            ].sum(axis=0)
            > 0
        ).sum()
    )
    assert small.n_domains <= 10
    loaded = CognitiveAtlas.load(atlas.save(tmp_path / "atlas.json"))
    assert loaded.equals(atlas)
    assert loaded.tasks["has_concepts"].equals(atlas.tasks["has_concepts"])
