"""Loaders: user tables, Cognitive Atlas JSON records/export, live API (mocked)."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import cognitiveatlas.api
import numpy as np
import pandas as pd
import pytest

from brainlm_decode.ontology import (
    API_URL,
    CognitiveAtlas,
    CognitiveAtlasDownloadError,
    CognitiveAtlasWarning,
    cognitive_atlas_from_records,
    fetch_cognitive_atlas,
    get_data_dir,
    load_cognitive_atlas_dump,
    load_cognitive_atlas_tables,
)

# --------------------------------------------------------------------- user tables


def _write_tables(folder: Path) -> dict[str, Path]:
    paths = {
        "tasks": folder / "tasks.csv",
        "concepts": folder / "concepts.tsv",
        "task_concepts": folder / "mapping.csv",
    }
    paths["tasks"].write_text(
        "id,name,definition\n"
        "t1,n-back task,Say whether the item matches the one n back.\n"
        't2,stop-signal task,"Stop a response, sometimes."\n'
        "t3,resting state,Lie still.\n"
    )
    paths["concepts"].write_text(
        "id\tname\tdefinition\tdomain\n"
        "c1\tworking memory\tHold items.\tLearning and Memory\n"
        "c2\tresponse inhibition\tStop.\tctp_C4\n"
        "c3\tupdating\tRefresh.\t\n"
    )
    paths["task_concepts"].write_text(
        "task,concept_1,concept_2\nn-back task,working memory,c3\nt2,c2,\n"
    )
    return paths


def test_user_tables_csv(tmp_path: Path) -> None:
    paths = _write_tables(tmp_path)
    atlas = load_cognitive_atlas_tables(**paths)
    assert (atlas.n_tasks, atlas.n_concepts, atlas.n_domains) == (3, 3, 10)
    assert atlas.tasks["definition"].iloc[1] == "Stop a response, sometimes."
    np.testing.assert_array_equal(
        atlas.task_concept_matrix.toarray(), [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    )
    assert atlas.tasks["has_concepts"].tolist() == [True, True, False]
    # the domain column takes ids or names
    assert atlas.concepts["domain"].tolist()[:2] == ["ctp_C5", "ctp_C4"]
    assert "tasks.csv" in atlas.source
    assert CognitiveAtlas.from_tables(**paths).equals(atlas)


def test_user_tables_json_round_trip(tmp_path: Path) -> None:
    atlas = load_cognitive_atlas_tables(**_write_tables(tmp_path))
    out = {}
    for name, frame in {
        "tasks": atlas.tasks[["id", "name", "definition"]],
        "concepts": atlas.concepts[["id", "name", "definition"]],
        "domains": atlas.domains,
        "task_concepts": atlas.task_concept_links,
        "concept_domains": atlas.concept_domain_links,
    }.items():
        out[name] = tmp_path / f"{name}.json"
        out[name].write_text(json.dumps(frame.to_dict("records")))
    again = load_cognitive_atlas_tables(**out)
    assert again.equals(atlas)
    # {"entries": [...]} files and CSV written back by pandas give the same
    (tmp_path / "tasks_entries.json").write_text(
        json.dumps(
            {"entries": atlas.tasks[["id", "name", "definition"]].to_dict("records")}
        )
    )
    atlas.task_concept_links.to_csv(tmp_path / "links.csv", index=False)
    third = load_cognitive_atlas_tables(
        tmp_path / "tasks_entries.json",
        out["concepts"],
        tmp_path / "links.csv",
        concept_domains=out["concept_domains"],
    )
    assert third.equals(atlas)


def test_user_tables_errors(tmp_path: Path) -> None:
    paths = _write_tables(tmp_path)
    bad = tmp_path / "bad_mapping.csv"
    bad.write_text("task,concept_1\nn-back task,working memroy\n")
    with pytest.raises(
        ValueError, match="task_concepts.*'working memroy'.*working memory"
    ):
        load_cognitive_atlas_tables(paths["tasks"], paths["concepts"], bad)
    no_task_col = tmp_path / "no_task.csv"
    no_task_col.write_text("paradigm,concept\nx,y\n")
    with pytest.raises(ValueError, match="must have a 'task' column"):
        load_cognitive_atlas_tables(paths["tasks"], paths["concepts"], no_task_col)
    with pytest.raises(ValueError, match="does not exist"):
        load_cognitive_atlas_tables(tmp_path / "nope.csv")


# ------------------------------------------------------------------ export records

EXPORT_TASKS = {
    "entries": [
        {
            "id": "tsk_1",
            "name": "n-back task",
            "definition_text": "An individual&#39;s memory is tested.",
            "asserts": ["trm_1", "trm_2", "trm_missing"],
        },
        {"id": "tsk_2", "name": "stop signal task", "definition_text": "Stop."},
        {"id": "trm_3", "name": "Rest ", "definition_text": "None"},
    ]
}
EXPORT_CONCEPTS = {
    "entries": [
        {
            "id": "trm_1",
            "name": "working memory",
            "definition_text": "individual\u00e2\u0080\u0099s store",
            "id_concept_class": "ctp_C5",
        },
        {
            "id": "trm_2",
            "name": "updating",
            "definition_text": "refresh",
            "id_concept_class": "",
            "classified_under": ["ctp_C4"],
        },
        {"id": "trm_4", "name": "inhibition", "definition_text": "stop"},
    ]
}
EXPORT_DOMAINS = {
    "entries": [
        {"id": "ctp_C4", "name": "Executive/Cognitive Control", "description": "EC"},
        {"id": "ctp_C5", "name": "Learning and Memory", "description": "LM"},
    ]
}
EXPORT_ASSERTIONS = {
    "entries": [
        # concept "is measured by" task: a link not in tsk_2's asserts
        {
            "id": "a1",
            "subject": ["trm_4"],
            "predicate": ["tsk_2"],
            "truth_value": "positive",
        },
        # repeats a link of the tasks' asserts
        {"id": "a2", "subject": ["trm_1"], "predicate": ["tsk_1"]},
        # negative, concept-concept, task-task and empty assertions are ignored
        {
            "id": "a3",
            "subject": ["trm_2"],
            "predicate": ["tsk_2"],
            "truth_value": "negative",
        },
        {"id": "a4", "subject": ["trm_2"], "predicate": ["trm_1"]},
        {"id": "a5", "subject": ["tsk_1"], "predicate": ["tsk_2"]},
        {"id": "a6", "name": "central executive is a part of executive function"},
    ]
}


def _write_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in {
        "TaskCollection.json": EXPORT_TASKS,
        "ConceptCollection.json": EXPORT_CONCEPTS,
        "ConceptClassCollection.json": EXPORT_DOMAINS,
        "AssertionCollection.json": EXPORT_ASSERTIONS,
    }.items():
        (folder / name).write_text(json.dumps(data))
    return folder


def test_records_links_domains_and_cleaning() -> None:
    with pytest.warns(CognitiveAtlasWarning) as record:
        atlas = cognitive_atlas_from_records(
            EXPORT_TASKS, EXPORT_CONCEPTS, EXPORT_DOMAINS, EXPORT_ASSERTIONS
        )
    messages = " ".join(str(w.message) for w in record)
    assert "tsk_1->trm_missing" in messages and "empty definition" in messages
    links = set(map(tuple, atlas.task_concept_links.values.tolist()))
    assert links == {("tsk_1", "trm_1"), ("tsk_1", "trm_2"), ("tsk_2", "trm_4")}
    assert atlas.concepts["domain"].tolist()[:2] == ["ctp_C5", "ctp_C4"]
    assert pd.isna(atlas.concepts["domain"].iloc[2])
    assert list(atlas.domain_ids) == ["ctp_C4", "ctp_C5"]
    tasks = atlas.tasks.set_index("id")
    assert tasks.loc["tsk_1", "definition"] == "An individual's memory is tested."
    assert (
        tasks.loc["trm_3", "definition"] == "" and tasks.loc["trm_3", "name"] == "Rest"
    )
    assert atlas.concepts["definition"].iloc[0] == "individual\u2019s store"
    # without assertions only the asserts links remain
    with pytest.warns(CognitiveAtlasWarning):
        plain = cognitive_atlas_from_records(EXPORT_TASKS, EXPORT_CONCEPTS)
    assert plain.task_concept_matrix.nnz == 2 and plain.n_domains == 10


def test_dump_loader_on_folder(tmp_path: Path) -> None:
    folder = _write_export(tmp_path / "dump")
    with pytest.warns(CognitiveAtlasWarning):
        atlas = load_cognitive_atlas_dump(folder)
    assert (atlas.n_tasks, atlas.n_concepts, atlas.n_domains) == (3, 3, 2)
    assert atlas.task_concept_matrix.nnz == 3
    with pytest.warns(CognitiveAtlasWarning):
        no_assert = load_cognitive_atlas_dump(
            folder / "TaskCollection.json", include_assertions=False
        )
    assert no_assert.task_concept_matrix.nnz == 2
    with pytest.raises(ValueError, match="unknown|not concepts"):
        load_cognitive_atlas_dump(folder, on_invalid="raise")
    with pytest.raises(FileNotFoundError, match="ConceptCollection.json"):
        load_cognitive_atlas_dump(tmp_path)


# ------------------------------------------------------------------------- live API

API_TASKS = [
    {"id": "tsk_1", "name": "n-back task", "definition_text": "Match n back."},
    {"id": "tsk_2", "name": "stop signal task", "definition_text": "Stop."},
    {"id": "tsk_3", "name": "rest", "definition_text": "Lie still."},
]
API_CONCEPTS = [
    {
        "id": "trm_1",
        "name": "working memory",
        "definition_text": "Hold.",
        "id_concept_class": "ctp_C5",
    },
    {
        "id": "trm_2",
        "name": "response inhibition",
        "definition_text": "Stop.",
        "id_concept_class": "ctp_C4",
    },
]
API_DETAILS = {
    "tsk_1": {
        "id": "tsk_1",
        "concepts": [{"concept_id": "trm_1", "concept_name": "wm"}],
    },
    "tsk_2": [{"id": "tsk_2", "concepts": [{"concept_id": "trm_2"}]}],
    "tsk_3": {"id": "tsk_3", "concepts": []},
}


class _Result:
    """Stand-in for cognitiveatlas.utils.DataJson."""

    def __init__(self, data: object) -> None:
        self.json = data


class FakeAPI:
    """Records calls; fails on request when ``fail_on`` matches."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.fail_on = fail_on

    def _check(self, key: str) -> None:
        if self.fail_on == key or self.fail_on == "all":
            raise urllib.error.URLError(
                "[Errno -3] Temporary failure in name resolution"
            )

    def get_task(
        self, id: str | None = None, name: str | None = None, silent: bool = False
    ):
        self.calls.append(("task", id))
        self._check(id or "tasks")
        return _Result(API_DETAILS[id] if id else [dict(t) for t in API_TASKS])

    def get_concept(
        self,
        id: str | None = None,
        name: str | None = None,
        contrast_id=None,
        silent: bool = False,
    ):
        self.calls.append(("concept", id))
        self._check("concepts")
        return _Result([dict(c) for c in API_CONCEPTS])

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeAPI:
        monkeypatch.setattr(cognitiveatlas.api, "get_task", self.get_task)
        monkeypatch.setattr(cognitiveatlas.api, "get_concept", self.get_concept)
        return self


def test_get_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRAINLM_DECODE_DATA", raising=False)
    assert get_data_dir() == Path.home() / "brainlm_decode_data"
    monkeypatch.setenv("BRAINLM_DECODE_DATA", str(tmp_path / "env"))
    assert get_data_dir() == tmp_path / "env"
    assert get_data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.setenv("BRAINLM_DECODE_DATA", "  ")
    assert get_data_dir() == Path.home() / "brainlm_decode_data"
    with pytest.raises(TypeError, match="data_dir must be"):
        get_data_dir(3)


def test_api_download_then_cache_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAINLM_DECODE_DATA", str(tmp_path))
    api = FakeAPI().install(monkeypatch)
    atlas = fetch_cognitive_atlas()
    assert (atlas.n_tasks, atlas.n_concepts, atlas.n_domains) == (3, 2, 10)
    assert set(map(tuple, atlas.task_concept_links.values.tolist())) == {
        ("tsk_1", "trm_1"),
        ("tsk_2", "trm_2"),
    }
    assert atlas.tasks["has_concepts"].tolist() == [True, True, False]
    assert API_URL in atlas.source
    cache = tmp_path / "cognitive_atlas"
    assert sorted(p.name for p in cache.iterdir()) == [
        "api_concept.json",
        "api_task.json",
        "api_task_concepts.json",
    ]
    n_calls = len(api.calls)
    assert n_calls == 5  # task list, concept list, one call per task
    # second call: read from the cache, no API call
    again = CognitiveAtlas.from_api()
    assert len(api.calls) == n_calls and again.equals(atlas)
    # refresh downloads again
    fetch_cognitive_atlas(tmp_path, refresh=True)
    assert len(api.calls) == 2 * n_calls


def test_api_offline_error_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeAPI(fail_on="all").install(monkeypatch)
    with pytest.raises(CognitiveAtlasDownloadError) as info:
        fetch_cognitive_atlas(tmp_path)
    message = str(info.value)
    assert f"{API_URL}/task" in message
    assert str(tmp_path / "cognitive_atlas") in message
    assert "TaskCollection.json" in message and "BRAINLM_DECODE_DATA" in message
    assert "github.com/CognitiveAtlas/legacy_cogat_linkml" in message
    assert isinstance(info.value, OSError)


def test_api_resumes_interrupted_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeAPI(fail_on="tsk_2").install(monkeypatch)
    with pytest.raises(CognitiveAtlasDownloadError, match="task\\?id=tsk_2"):
        fetch_cognitive_atlas(tmp_path)
    partial = tmp_path / "cognitive_atlas" / "api_task_concepts.partial.json"
    assert json.loads(partial.read_text()) == {"tsk_1": ["trm_1"]}
    api = FakeAPI().install(monkeypatch)
    atlas = fetch_cognitive_atlas(tmp_path)
    assert ("task", "tsk_1") not in api.calls and ("task", "tsk_2") in api.calls
    assert atlas.task_concept_matrix.nnz == 2 and not partial.exists()


def test_api_cache_reads_dump_placed_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeAPI(fail_on="all").install(monkeypatch)
    _write_export(tmp_path / "cognitive_atlas")
    with pytest.warns(CognitiveAtlasWarning):
        atlas = fetch_cognitive_atlas(tmp_path)
    assert api.calls == [] and atlas.n_tasks == 3 and atlas.n_domains == 2
