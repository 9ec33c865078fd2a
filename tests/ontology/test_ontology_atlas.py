"""CognitiveAtlas on a hand-made ontology: matrices, lookups, reduced, validation, I/O."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from brainlm_decode.ontology import (
    COGNITIVE_ATLAS_DOMAINS,
    CognitiveAtlas,
    CognitiveAtlasWarning,
)

TASKS = [
    {"id": "t1", "name": "n-back task", "definition": "Say whether the item matches."},
    {"id": "t2", "name": "stop-signal task", "definition": "Stop a started response."},
    {"id": "t3", "name": "Stroop task", "definition": "Name the ink colour of words."},
    {"id": "t4", "name": "rest", "definition": "Lie still with eyes open."},
]
CONCEPTS = [
    {
        "id": "c1",
        "name": "working memory",
        "definition": "Hold items.",
        "domain": "ctp_C5",
    },
    {
        "id": "c2",
        "name": "updating",
        "definition": "Refresh items.",
        "domain": "ctp_C4",
    },
    {
        "id": "c3",
        "name": "response inhibition",
        "definition": "Stop.",
        "domain": "ctp_C4",
    },
    {
        "id": "c4",
        "name": "conflict",
        "definition": "Competing responses.",
        "domain": "",
    },
    {"id": "c5", "name": "mind wandering", "definition": "Drift.", "domain": "ctp_C2"},
]
LINKS = {"t1": ["c1", "c2"], "t2": ["c3"], "t3": ["c4", "c3"]}


@pytest.fixture
def atlas() -> CognitiveAtlas:
    return CognitiveAtlas(TASKS, CONCEPTS, task_concepts=LINKS, source="hand-made")


def test_tables_orders_and_flags(atlas: CognitiveAtlas) -> None:
    assert (atlas.n_tasks, atlas.n_concepts, atlas.n_domains) == (4, 5, 10)
    assert list(atlas.task_ids) == ["t1", "t2", "t3", "t4"]
    assert list(atlas.concept_ids) == ["c1", "c2", "c3", "c4", "c5"]
    assert list(atlas.domain_ids) == list(COGNITIVE_ATLAS_DOMAINS)
    assert list(atlas.task_names)[:2] == ["n-back task", "stop-signal task"]
    tasks = atlas.tasks
    assert list(tasks.columns) == [
        "id",
        "name",
        "definition",
        "has_definition",
        "has_concepts",
    ]
    assert tasks["has_concepts"].tolist() == [True, True, True, False]
    concepts = atlas.concepts
    assert concepts["domain"].tolist()[:3] == ["ctp_C5", "ctp_C4", "ctp_C4"]
    assert pd.isna(concepts["domain"].iloc[3])
    assert concepts["has_tasks"].tolist() == [True, True, True, True, False]
    # returned tables are copies
    tasks.loc[0, "name"] = "changed"
    assert atlas.tasks.loc[0, "name"] == "n-back task"


def test_incidence_matrices(atlas: CognitiveAtlas) -> None:
    tc = atlas.task_concept_matrix
    assert isinstance(tc, sparse.csr_array) and tc.format == "csr"
    assert tc.shape == (4, 5) and tc.dtype == np.float64
    expected = np.zeros((4, 5))
    for t, cs in LINKS.items():
        for c in cs:
            expected[int(t[1]) - 1, int(c[1]) - 1] = 1
    np.testing.assert_array_equal(tc.toarray(), expected)
    cd = atlas.concept_domain_matrix
    assert cd.shape == (5, 10)
    assert cd.toarray().sum(axis=1).tolist() == [1, 1, 1, 0, 1]
    assert cd[[0], :].toarray()[0, list(COGNITIVE_ATLAS_DOMAINS).index("ctp_C5")] == 1
    # cached, read-only
    assert atlas.task_concept_matrix is tc
    with pytest.raises(ValueError):
        tc.data[0] = 5.0
    links = atlas.task_concept_links
    assert list(links.columns) == ["task", "concept"]
    assert links.values.tolist() == [
        ["t1", "c1"],
        ["t1", "c2"],
        ["t2", "c3"],
        ["t3", "c3"],
        ["t3", "c4"],
    ]


def test_noisy_or_with_matrices(atlas: CognitiveAtlas) -> None:
    rng = np.random.default_rng(0)
    p_task = rng.dirichlet(np.ones(atlas.n_tasks), size=3)
    p_concept = 1 - np.exp(np.log1p(-p_task) @ atlas.task_concept_matrix)
    for j, cid in enumerate(atlas.concept_ids):
        rows = [i for i, t in enumerate(atlas.task_ids) if cid in LINKS.get(t, [])]
        expected = 1 - np.prod(1 - p_task[:, rows], axis=1)
        np.testing.assert_allclose(p_concept[:, j], expected)
    p_domain = 1 - np.exp(np.log1p(-p_concept) @ atlas.concept_domain_matrix)
    assert p_domain.shape == (3, 10)


def test_lookups(atlas: CognitiveAtlas) -> None:
    assert atlas.lookup_ids("n-back task") == "t1"
    assert atlas.lookup_ids(["  STROOP   task ", "t2"]) == ["t3", "t2"]
    assert atlas.lookup_names(["c3", "c1"], level="concept") == [
        "response inhibition",
        "working memory",
    ]
    assert atlas.lookup_names("ctp_C6", level="domain") == "Language"
    with pytest.raises(ValueError, match="did you mean.*n-back task"):
        atlas.lookup_ids("n-bak task")
    with pytest.raises(
        ValueError, match="'level' argument of CognitiveAtlas must be a str among"
    ):
        atlas.lookup_ids("t1", level="disorder")
    assert atlas.concepts_of("n-back task")["id"].tolist() == ["c1", "c2"]
    assert atlas.tasks_of("response inhibition")["id"].tolist() == ["t2", "t3"]
    assert atlas.domains_of("c1")["name"].tolist() == ["Learning and Memory"]


def test_vocabulary_and_repr() -> None:
    tasks = [*TASKS[:3], {"id": "t4", "name": "rest", "definition": ""}]
    with pytest.warns(CognitiveAtlasWarning, match="empty definition.*t4"):
        atlas = CognitiveAtlas(tasks, CONCEPTS, task_concepts=LINKS, on_invalid="warn")
    vocab = atlas.vocabulary()
    assert list(vocab.columns) == ["id", "name", "definition"]
    assert vocab["definition"].iloc[3] == "rest"
    assert atlas.vocabulary(fill_empty=False)["definition"].iloc[3] == ""
    assert not atlas.tasks["has_definition"].iloc[3]
    assert atlas.vocabulary("domain").shape == (10, 3)
    text = repr(atlas)
    assert "4 tasks (1 without concepts)" in text and "5 concepts" in text
    assert "10 domains" in text and "5 task-concept links" in text


def test_reduced_with_list(atlas: CognitiveAtlas) -> None:
    small = atlas.reduced(["Stroop task", "t2"])
    assert list(small.task_ids) == ["t3", "t2"]
    assert list(small.concept_ids) == ["c3", "c4"]  # order of the full ontology
    assert list(small.domain_ids) == ["ctp_C4"]  # c4 has no domain
    np.testing.assert_array_equal(small.task_concept_matrix.toarray(), [[1, 1], [1, 0]])
    np.testing.assert_array_equal(small.concept_domain_matrix.toarray(), [[1], [0]])
    assert small.source == "hand-made (reduced)"
    # the original is untouched
    assert atlas.task_concept_matrix.shape == (4, 5)


def test_reduced_with_csv_table(atlas: CognitiveAtlas, tmp_path) -> None:
    table = tmp_path / "reduced_tasks.csv"
    table.write_text(
        "task,concept_1,concept_2\n"
        "n-back task,working memory,\n"
        "Stroop task,response inhibition,conflict\n"
    )
    small = atlas.reduced(task_concepts=table)
    assert list(small.task_ids) == ["t1", "t3"]
    assert list(small.concept_ids) == ["c1", "c3", "c4"]
    np.testing.assert_array_equal(
        small.task_concept_matrix.toarray(), [[1, 0, 0], [0, 1, 1]]
    )
    assert list(small.domain_ids) == ["ctp_C4", "ctp_C5"]
    # same with a DataFrame, a task list fixing the order and a task without concepts
    frame = pd.read_csv(table)
    with pytest.warns(CognitiveAtlasWarning, match="no concept.*t2"):
        small = atlas.reduced(["t3", "t2", "t1"], task_concepts=frame)
    assert list(small.task_ids) == ["t3", "t2", "t1"]
    assert small.tasks["has_concepts"].tolist() == [True, False, True]
    # a long table (one row per link) gives the same as the wide one
    long = pd.DataFrame(
        {"task": ["t1", "t3", "t3"], "concept": ["c1", "response inhibition", "c4"]}
    )
    assert atlas.reduced(task_concepts=long).equals(atlas.reduced(task_concepts=table))


def test_reduced_errors(atlas: CognitiveAtlas) -> None:
    with pytest.raises(ValueError, match="needs tasks"):
        atlas.reduced()
    with pytest.raises(TypeError, match="not a string"):
        atlas.reduced("n-back task")
    with pytest.raises(ValueError, match="tasks has 1 task.*'flanker task'"):
        atlas.reduced(["n-back task", "flanker task"])
    with pytest.raises(ValueError, match="same task twice.*t1"):
        atlas.reduced(["n-back task", "t1"])
    with pytest.raises(ValueError, match="not in tasks.*t2"):
        atlas.reduced(["t1"], task_concepts={"t1": ["c1"], "t2": ["c3"]})
    with pytest.raises(ValueError, match="task_concepts \\(concept column\\).*'c9'"):
        atlas.reduced(task_concepts={"t1": ["c1", "c9"]})


def test_validation_errors() -> None:
    dup_ids = [TASKS[0], {**TASKS[1], "id": "t1"}]
    with pytest.raises(ValueError, match="tasks has duplicate ids.*'t1'"):
        CognitiveAtlas(dup_ids)
    dup_names = [TASKS[0], {**TASKS[1], "name": "N-Back  Task"}]
    with pytest.raises(
        ValueError, match="tasks has 1 name.*'n-back task' -> \\['t1', 't2'\\]"
    ):
        CognitiveAtlas(dup_names)
    with pytest.warns(CognitiveAtlasWarning, match="shared by several tasks"):
        kept = CognitiveAtlas(dup_names, on_invalid="warn")
    assert kept.n_tasks == 2
    with pytest.raises(ValueError, match="pass ids instead.*\\['t1', 't2'\\]"):
        kept.lookup_ids("N-BACK TASK")
    # an exact name is unique, so it still resolves
    assert kept.lookup_ids("N-Back Task") == "t2"  # whitespace collapsed on load
    assert kept.lookup_ids("n-back task") == "t1"
    with pytest.raises(ValueError, match="task_concepts \\(concept column\\).*'c42'"):
        CognitiveAtlas(TASKS, CONCEPTS, task_concepts={"t1": ["c1", "c42"]})
    with pytest.raises(ValueError, match="task_concepts \\(task column\\).*'t9'"):
        CognitiveAtlas(TASKS, CONCEPTS, task_concepts=[("t9", "c1")])
    with pytest.raises(
        ValueError, match="concept_domains \\(domain column\\).*'ctp_C99'"
    ):
        CognitiveAtlas(TASKS, CONCEPTS, concept_domains=[("c1", "ctp_C99")])
    empty_def = [TASKS[0], {**TASKS[1], "definition": "  "}]
    with pytest.raises(
        ValueError, match="tasks has 1 task\\(s\\) with an empty definition.*t2"
    ):
        CognitiveAtlas(empty_def)
    with pytest.raises(ValueError, match="concepts must have a 'name' column"):
        CognitiveAtlas(TASKS, [{"id": "c1", "label": "x"}])
    with pytest.raises(ValueError, match="empty id"):
        CognitiveAtlas([{"id": "", "name": "x", "definition": "y"}])
    with pytest.raises(
        ValueError, match="'on_invalid' argument of CognitiveAtlas must be a str among"
    ):
        CognitiveAtlas(TASKS, on_invalid="maybe")
    with pytest.raises(TypeError, match="tasks must be a pandas DataFrame"):
        CognitiveAtlas(42)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = CognitiveAtlas(
            [*dup_names, {**empty_def[1], "id": "t3"}], on_invalid="ignore"
        )
    assert quiet.n_tasks == 3


def test_unnamed_task_uses_id() -> None:
    tasks = [*TASKS[:2], {"id": "t9", "name": "", "definition": "x"}]
    with pytest.warns(CognitiveAtlasWarning, match="without a name.*t9"):
        atlas = CognitiveAtlas(tasks, on_invalid="warn")
    assert atlas.task_names[2] == "t9"


def test_ids_default_to_names_and_domain_tables() -> None:
    tasks = pd.DataFrame({"name": ["a task", "b task"], "definition_text": ["A", "B"]})
    concepts = pd.DataFrame({"name": ["x"], "definition": ["X"]})
    domains = pd.DataFrame({"id": ["d1"], "name": ["Memory"]})
    with pytest.warns(CognitiveAtlasWarning, match="empty definition"):
        atlas = CognitiveAtlas(
            tasks,
            concepts,
            domains,
            task_concepts=[("a task", "x")],
            concept_domains={"x": "Memory"},
            on_invalid="warn",
        )
    assert list(atlas.task_ids) == ["a task", "b task"]
    assert atlas.tasks["definition"].tolist() == ["A", "B"]
    assert atlas.concept_domain_matrix.toarray().tolist() == [[1.0]]


def test_save_load_round_trip(atlas: CognitiveAtlas, tmp_path) -> None:
    path = atlas.save(tmp_path / "bundle" / "ontology.json")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["ontology.json"]  # no temp left
    loaded = CognitiveAtlas.load(path)
    assert loaded.equals(atlas) and loaded.source == "hand-made"
    np.testing.assert_array_equal(
        loaded.task_concept_matrix.toarray(), atlas.task_concept_matrix.toarray()
    )
    pd.testing.assert_frame_equal(loaded.concepts, atlas.concepts)
    # a folder gets the default file name
    folder = tmp_path / "folder"
    folder.mkdir()
    assert atlas.save(folder).name == "cognitive_atlas.json"
    assert CognitiveAtlas.load(folder).equals(atlas)
    # JSON string round trip, reduced atlas too
    small = atlas.reduced(["t3"])
    assert CognitiveAtlas.from_json(small.to_json()).equals(small)
    assert not small.equals(atlas) and not atlas.equals("atlas")


def test_load_errors(atlas: CognitiveAtlas, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="No CognitiveAtlas snapshot"):
        CognitiveAtlas.load(tmp_path / "missing.json")
    data = atlas.to_dict()
    with pytest.raises(ValueError, match="format version 99"):
        CognitiveAtlas.from_dict({**data, "format_version": 99})
    with pytest.raises(ValueError, match="snapshot"):
        CognitiveAtlas.from_json(json.dumps({"entries": []}))
