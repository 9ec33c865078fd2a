"""Loaders of :class:`CognitiveAtlas`: JSON export, live API (cached) and user tables."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from brainlm_decode.datasets import DATA_DIR_ENV_VAR as DATA_ENV_VAR
from brainlm_decode.datasets import get_data_dir
from brainlm_decode.ontology._atlas import CognitiveAtlas
from brainlm_decode.ontology._tables import COGNITIVE_ATLAS_DOMAINS
from brainlm_decode.ontology._utils import (
    OnInvalid,
    atomic_write_text,
    check_on_invalid,
    clean_text,
    is_null,
    preview,
    report,
)

#: Base URL of the Cognitive Atlas API used by the ``cognitiveatlas`` package.
API_URL = "https://www.cognitiveatlas.org/api/v-alpha"

#: Where the Cognitive Atlas JSON export (``*Collection.json``) is published.
EXPORT_URL = "https://github.com/CognitiveAtlas/legacy_cogat_linkml"

#: File names of the Cognitive Atlas JSON export read by the dump loader.
DUMP_FILES: dict[str, str] = {
    "tasks": "TaskCollection.json",
    "concepts": "ConceptCollection.json",
    "domains": "ConceptClassCollection.json",
    "assertions": "AssertionCollection.json",
}
_API_FILES = {
    "tasks": "api_task.json",
    "concepts": "api_concept.json",
    "links": "api_task_concepts.json",
}
_PARTIAL_LINKS = "api_task_concepts.partial.json"
_SAVE_EVERY = 50
_NETWORK_ERRORS = (OSError, ValueError, http.client.HTTPException)


class CognitiveAtlasDownloadError(OSError):
    """The Cognitive Atlas could not be downloaded and no cached copy exists."""


# ---------------------------------------------------------------------- records


def _entries(data: Any, what: str) -> list[dict[str, Any]]:
    """Entries of an export collection (``{"entries": [...]}``) or an API list."""
    if isinstance(data, Mapping) and "entries" in data:
        data = data["entries"]
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(e, Mapping) for e in data):
        raise ValueError(
            f"{what} must be a list of objects or {{'entries': [...]}}; "
            f"got {type(data).__name__}."
        )
    return [dict(e) for e in data]


def _as_list(value: Any) -> list[Any]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _ref_ids(value: Any, keys: tuple[str, ...]) -> list[str]:
    """Ids in a reference list: plain ids or objects with one of ``keys``."""
    out = []
    for item in _as_list(value):
        if isinstance(item, Mapping):
            item = next((item[k] for k in keys if not is_null(item.get(k))), None)
        if not is_null(item):
            out.append(str(item).strip())
    return out


def _entity_records(
    entries: list[dict[str, Any]], what: str, on_invalid: str
) -> list[dict[str, Any]]:
    """``id, name, definition`` records; entries without id dropped, ids unique."""
    records, seen, no_id, repeated = [], set(), 0, []
    for entry in entries:
        id_ = "" if is_null(entry.get("id")) else str(entry["id"]).strip()
        if not id_:
            no_id += 1
            continue
        if id_ in seen:
            repeated.append(id_)
            continue
        seen.add(id_)
        definition = entry.get("definition_text", entry.get("description"))
        records.append(
            {
                "id": id_,
                "name": clean_text(entry.get("name")),
                "definition": clean_text(definition),
                "_entry": entry,
            }
        )
    if no_id:
        report(f"{what}: {no_id} entries without an id were skipped.", on_invalid)
    if repeated:
        report(
            f"{what}: entries repeat ids; the first one is kept: {preview(repeated)}.",
            on_invalid,
        )
    return records


def _task_links(
    tasks: list[dict[str, Any]],
    concept_ids: set[str],
    task_ids: set[str],
    assertions: list[dict[str, Any]] | None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """Union of task ``asserts``/``concepts`` and concept-task assertions."""
    pairs: dict[tuple[str, str], None] = {}
    dangling: list[str] = []
    for rec in tasks:
        entry = rec["_entry"]
        refs = _ref_ids(entry.get("asserts"), ("id",))
        refs += _ref_ids(entry.get("concepts"), ("concept_id", "id"))
        for cid in refs:
            if cid in concept_ids:
                pairs[(rec["id"], cid)] = None
            else:
                dangling.append(f"{rec['id']}->{cid}")
    # "<concept> is measured by <task>": subject is a concept, predicate a task;
    # the collection also holds concept-concept and task-task assertions (skipped)
    for entry in assertions or []:
        if str(entry.get("truth_value", "")).lower() == "negative":
            continue
        for cid in _ref_ids(entry.get("subject"), ("id",)):
            for tid in _ref_ids(entry.get("predicate"), ("id",)):
                if cid in concept_ids and tid in task_ids:
                    pairs[(tid, cid)] = None
    return list(pairs), dangling


def _concept_domains(
    concepts: list[dict[str, Any]], domain_ids: set[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Concept -> domain from ``id_concept_class``, else ``classified_under``."""
    pairs, dangling = [], []
    for rec in concepts:
        entry = rec["_entry"]
        refs = _ref_ids(entry.get("id_concept_class"), ("id",))
        if not refs:
            refs = _ref_ids(entry.get("classified_under"), ("id",))
        if not refs:
            refs = _ref_ids(entry.get("concept_class"), ("id", "id_concept_class"))
        for did in dict.fromkeys(refs):
            if did in domain_ids:
                pairs.append((rec["id"], did))
            else:
                dangling.append(f"{rec['id']}->{did}")
    return pairs, dangling


def cognitive_atlas_from_records(
    tasks: Any,
    concepts: Any,
    domains: Any = None,
    assertions: Any = None,
    *,
    on_invalid: OnInvalid = "warn",
    source: str | None = None,
) -> CognitiveAtlas:
    """Build a :class:`CognitiveAtlas` from Cognitive Atlas JSON records.

    Reads both the JSON export (``*Collection.json``) and the API format.

    Parameters
    ----------
    tasks : list of dict or dict
        Task entries (or ``{"entries": [...]}``): ``id``, ``name``,
        ``definition_text``, and concept ids in ``asserts`` (export) or
        ``concepts`` (API: objects with ``concept_id``).
    concepts : list of dict or dict
        Concept entries: ``id``, ``name``, ``definition_text``, and the domain in
        ``id_concept_class`` or, when that is empty, ``classified_under``.
    domains : list of dict, dict or None, default=None
        Concept-class entries (``id``, ``name``, ``description``). ``None`` uses
        :data:`COGNITIVE_ATLAS_DOMAINS`.
    assertions : list of dict, dict or None, default=None
        Assertion entries; those whose ``subject`` is a concept and ``predicate``
        a task ("concept is measured by task") add task -> concept links, unless
        ``truth_value`` is ``"negative"``.
    on_invalid : {"raise", "warn", "ignore"}, default="warn"
        Handling of duplicate names, empty names or definitions and references to
        unknown entries (dropped); see :class:`CognitiveAtlas`.
    source : str or None, default=None
        Description stored on the result.

    Returns
    -------
    atlas : CognitiveAtlas
        Task -> concept links are the union, without duplicates, of the tasks'
        concept lists and the assertions.
    """
    check_on_invalid(on_invalid)
    task_recs = _entity_records(_entries(tasks, "tasks"), "tasks", on_invalid)
    concept_recs = _entity_records(
        _entries(concepts, "concepts"), "concepts", on_invalid
    )
    if domains is None:
        domain_recs = [
            {"id": k, "name": v, "definition": v}
            for k, v in COGNITIVE_ATLAS_DOMAINS.items()
        ]
    else:
        domain_recs = _entity_records(
            _entries(domains, "domains"), "domains", on_invalid
        )
    assertion_entries = (
        None if assertions is None else _entries(assertions, "assertions")
    )
    concept_ids = {r["id"] for r in concept_recs}
    task_ids = {r["id"] for r in task_recs}
    links, dangling = _task_links(task_recs, concept_ids, task_ids, assertion_entries)
    if dangling:
        report(
            f"tasks list {len(dangling)} concept id(s) that are not concepts; these "
            f"links are dropped: {preview(dangling)}.",
            on_invalid,
        )
    domain_links, dangling = _concept_domains(
        concept_recs, {r["id"] for r in domain_recs}
    )
    if dangling:
        report(
            f"concepts name {len(dangling)} domain id(s) that are not domains; these "
            f"links are dropped: {preview(dangling)}.",
            on_invalid,
        )

    def strip(records: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{k: r[k] for k in ("id", "name", "definition")} for r in records]

    return CognitiveAtlas(
        tasks=strip(task_recs),
        concepts=strip(concept_recs),
        domains=strip(domain_recs),
        task_concepts=links,
        concept_domains=domain_links,
        on_invalid=on_invalid,
        source=source,
    )


# ---------------------------------------------------------------------- export dump


def _read_json(path: Path) -> Any:
    from brainlm_decode._io import read_json

    return read_json(path, "Cognitive Atlas file")


def load_cognitive_atlas_dump(
    path: str | os.PathLike,
    *,
    include_assertions: bool = True,
    on_invalid: OnInvalid = "warn",
) -> CognitiveAtlas:
    """Load a Cognitive Atlas JSON export (a folder of ``*Collection.json`` files).

    Each file holds ``{"entries": [...]}``. Used: ``TaskCollection.json`` and
    ``ConceptCollection.json`` (required), ``ConceptClassCollection.json`` (the
    domains; the ten built-in ones when missing) and ``AssertionCollection.json``.

    Parameters
    ----------
    path : str or path-like
        The folder (or any file inside it).
    include_assertions : bool, default=True
        Add the "concept is measured by task" links of
        ``AssertionCollection.json`` to those of the tasks' ``asserts`` lists.
    on_invalid : {"raise", "warn", "ignore"}, default="warn"
        Handling of suspicious content. The public Cognitive Atlas has names
        shared by several entries (e.g. two "risk aversion" concepts), entries
        without definition and one task without a name, so the default warns and
        keeps them; see :class:`CognitiveAtlas`.

    Returns
    -------
    atlas : CognitiveAtlas
        Tasks and concepts in file order. A concept's domain is its
        ``id_concept_class``, or ``classified_under`` where that is empty. Text is
        cleaned (HTML entities, broken UTF-8, ``"None"`` placeholders).

    Raises
    ------
    FileNotFoundError
        If the folder or a required file is missing.
    """
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    missing = [
        DUMP_FILES[k]
        for k in ("tasks", "concepts")
        if not (folder / DUMP_FILES[k]).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"path {str(folder)!r} is not a Cognitive Atlas JSON export: missing "
            f"{missing}. Expected {list(DUMP_FILES.values())}, each "
            "{'entries': [...]}."
        )
    parts = {
        key: _read_json(folder / name)
        for key, name in DUMP_FILES.items()
        if (folder / name).is_file() and (include_assertions or key != "assertions")
    }
    return cognitive_atlas_from_records(
        parts["tasks"],
        parts["concepts"],
        parts.get("domains"),
        parts.get("assertions"),
        on_invalid=on_invalid,
        source=f"Cognitive Atlas JSON export ({folder})",
    )


# ---------------------------------------------------------------------- user tables


def load_cognitive_atlas_tables(
    tasks: Any,
    concepts: Any = None,
    task_concepts: Any = None,
    domains: Any = None,
    concept_domains: Any = None,
    *,
    on_invalid: OnInvalid = "raise",
) -> CognitiveAtlas:
    """Build an ontology from tables a user writes (CSV, TSV, JSON or DataFrames).

    Parameters
    ----------
    tasks : DataFrame, list of dict or path
        Tasks table: ``id`` (optional; names serve as ids without it), ``name``,
        ``definition``.
    concepts : DataFrame, list of dict, path or None, default=None
        Concepts table: ``id``, ``name``, ``definition`` and optionally
        ``domain`` (a domain id or name).
    task_concepts : DataFrame, dict, list of pairs, path or None, default=None
        Mapping table: ``task, concept`` (long) or ``task, concept_1, ...,
        concept_n`` (wide); entries are ids or names.
    domains : DataFrame, list of dict, path or None, default=None
        Domains table (``id``, ``name``, ``definition``); ``None`` uses the ten
        Cognitive Atlas domains.
    concept_domains : DataFrame, dict, list of pairs, path or None, default=None
        Mapping table ``concept, domain`` (overrides the ``domain`` column).
    on_invalid : {"raise", "warn", "ignore"}, default="raise"
        Handling of duplicate names and empty definitions (see
        :class:`CognitiveAtlas`). Unknown ids in mappings always raise.

    Returns
    -------
    atlas : CognitiveAtlas

    Examples
    --------
    A wide mapping CSV looks like::

        task,concept_1,concept_2
        n-back task,working memory,updating
        stop-signal task,response inhibition,
    """
    names = [
        str(t)
        for t in (tasks, concepts, task_concepts)
        if isinstance(t, (str, os.PathLike))
    ]
    return CognitiveAtlas(
        tasks,
        concepts,
        domains,
        task_concepts,
        concept_domains,
        on_invalid=on_invalid,
        source=f"user tables ({', '.join(names)})" if names else "user tables",
    )


# ---------------------------------------------------------------------- live API


def _offline_message(folder: Path, url: str, exc: BaseException) -> str:
    files = ", ".join(DUMP_FILES.values())
    return (
        f"Could not download the Cognitive Atlas from {url} ({type(exc).__name__}: "
        f"{exc}), and {folder} holds no cached copy. Connect to the internet and "
        "call again (an interrupted download resumes), or place the data by hand: "
        f"put the Cognitive Atlas JSON export ({files}; each "
        "{'entries': [...]}, from "
        f"{EXPORT_URL}) in that folder, or copy the 'cognitive_atlas' folder "
        "from a machine where fetch_cognitive_atlas() succeeded. Choose the folder "
        f"with data_dir= or the {DATA_ENV_VAR} environment variable."
    )


def _api_payload(result: Any) -> Any:
    """JSON of a ``cognitiveatlas.api`` result (``DataJson.json``) or plain data."""
    return getattr(result, "json", result)


def _api_list(result: Any) -> list[dict[str, Any]]:
    data = _api_payload(result)
    if isinstance(data, Mapping):
        data = [data]
    return [dict(e) for e in data]


def _cache_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _API_FILES.values())


def _dump_present(folder: Path) -> bool:
    return all((folder / DUMP_FILES[k]).is_file() for k in ("tasks", "concepts"))


def _load_api_cache(folder: Path, on_invalid: str) -> CognitiveAtlas:
    tasks = _read_json(folder / _API_FILES["tasks"])
    links = _read_json(folder / _API_FILES["links"])
    for task in tasks:
        task["concepts"] = links.get(str(task.get("id")), [])
    return cognitive_atlas_from_records(
        tasks,
        _read_json(folder / _API_FILES["concepts"]),
        on_invalid=on_invalid,  # type: ignore[arg-type]
        source=f"Cognitive Atlas API ({API_URL}, cached in {folder})",
    )


def _progress(items: Iterable[Any], verbose: int, total: int) -> Iterable[Any]:
    if verbose < 1:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc="Cognitive Atlas tasks", unit="task")


def _download(folder: Path, verbose: int) -> None:
    """Fetch tasks, concepts and each task's concepts into ``folder`` (resumable)."""
    try:
        from cognitiveatlas import api
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "Loading the live Cognitive Atlas needs the 'cognitiveatlas' package: "
            "pip install cognitiveatlas"
        ) from exc
    try:
        tasks = _api_list(api.get_task(silent=True))
    except _NETWORK_ERRORS as exc:
        raise CognitiveAtlasDownloadError(
            _offline_message(folder, f"{API_URL}/task", exc)
        ) from exc
    try:
        concepts = _api_list(api.get_concept(silent=True))
    except _NETWORK_ERRORS as exc:
        raise CognitiveAtlasDownloadError(
            _offline_message(folder, f"{API_URL}/concept", exc)
        ) from exc
    partial = folder / _PARTIAL_LINKS
    links: dict[str, list[str]] = _read_json(partial) if partial.is_file() else {}
    todo = []
    for task in tasks:
        tid = str(task.get("id", "")).strip()
        if tid and tid not in links:
            if "concepts" in task or "asserts" in task:
                links[tid] = _ref_ids(task.get("concepts"), ("concept_id", "id"))
                links[tid] += _ref_ids(task.get("asserts"), ("id",))
            else:
                todo.append(tid)
    for i, tid in enumerate(_progress(todo, verbose, len(todo))):
        try:
            details = _api_list(api.get_task(id=tid, silent=True))
        except _NETWORK_ERRORS as exc:
            atomic_write_text(partial, json.dumps(links))
            raise CognitiveAtlasDownloadError(
                _offline_message(folder, f"{API_URL}/task?id={tid}", exc)
            ) from exc
        links[tid] = [
            cid
            for d in details
            for cid in _ref_ids(d.get("concepts"), ("concept_id", "id"))
        ]
        if (i + 1) % _SAVE_EVERY == 0:
            atomic_write_text(partial, json.dumps(links))
    atomic_write_text(
        folder / _API_FILES["tasks"], json.dumps(tasks, ensure_ascii=False)
    )
    atomic_write_text(
        folder / _API_FILES["concepts"], json.dumps(concepts, ensure_ascii=False)
    )
    # written last: its presence marks a complete cache
    atomic_write_text(folder / _API_FILES["links"], json.dumps(links))
    partial.unlink(missing_ok=True)


def fetch_cognitive_atlas(
    data_dir: str | os.PathLike | None = None,
    *,
    refresh: bool = False,
    on_invalid: OnInvalid = "warn",
    verbose: int = 0,
) -> CognitiveAtlas:
    """Load the live Cognitive Atlas through its API, cached on disk.

    The cache folder is ``<data_dir>/cognitive_atlas``, where ``data_dir`` is the
    argument, else the ``BRAINLM_DECODE_DATA`` environment variable, else
    ``~/brainlm_decode_data``. It is read first: a complete API cache
    (``api_task.json``, ``api_concept.json``, ``api_task_concepts.json``), else a
    JSON export placed there by hand (``TaskCollection.json``... as read by
    :func:`load_cognitive_atlas_dump`). Only when neither is there are tasks and
    concepts downloaded with :mod:`cognitiveatlas.api` (one request per task for
    its concepts; an interrupted download resumes).

    Parameters
    ----------
    data_dir : str, path-like or None, default=None
        Data folder (see above).
    refresh : bool, default=False
        Download again even when a cache exists.
    on_invalid : {"raise", "warn", "ignore"}, default="warn"
        Handling of suspicious content; see :class:`CognitiveAtlas`.
    verbose : int, default=0
        Verbosity: 1 shows a progress bar while downloading.

    Returns
    -------
    atlas : CognitiveAtlas

    Raises
    ------
    CognitiveAtlasDownloadError
        When offline without a cache; the message names the URL and how to place
        the data by hand.
    """
    folder = get_data_dir(data_dir) / "cognitive_atlas"
    if not refresh:
        if _cache_complete(folder):
            return _load_api_cache(folder, on_invalid)
        if _dump_present(folder):
            return load_cognitive_atlas_dump(folder, on_invalid=on_invalid)
    _download(folder, verbose)
    return _load_api_cache(folder, on_invalid)


__all__ = [
    "API_URL",
    "DATA_ENV_VAR",
    "DUMP_FILES",
    "EXPORT_URL",
    "CognitiveAtlasDownloadError",
    "cognitive_atlas_from_records",
    "fetch_cognitive_atlas",
    "get_data_dir",
    "load_cognitive_atlas_dump",
    "load_cognitive_atlas_tables",
]
