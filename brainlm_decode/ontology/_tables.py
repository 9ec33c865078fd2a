"""Validated building blocks of :class:`CognitiveAtlas`: entity tables, incidence."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from brainlm_decode.ontology._utils import (
    NameIndex,
    as_frame,
    mapping_pairs,
    normalize_name,
    plain_text,
    preview,
    report,
)
from brainlm_decode.persistence import check_format_version

#: The ten Cognitive Atlas concept classes ("domains"), as in the official export.
COGNITIVE_ATLAS_DOMAINS: dict[str, str] = {
    "ctp_C1": "Perception",
    "ctp_C2": "Attention",
    "ctp_C3": "Reasoning and Decision Making",
    "ctp_C4": "Executive/Cognitive Control",
    "ctp_C5": "Learning and Memory",
    "ctp_C6": "Language",
    "ctp_C7": "Action",
    "ctp_C8": "Emotion",
    "ctp_C9": "Social Function",
    "ctp_C10": "Motivation",
}
FORMAT_NAME = "brainlm_decode.CognitiveAtlas"
FORMAT_VERSION = 1

_PLURAL = {"task": "tasks", "concept": "concepts", "domain": "domains"}
_COLUMN_ALIASES = {
    "definition": ("definition", "definition_text", "description"),
    "domain": ("domain", "id_concept_class", "concept_class"),
}


def pick_column(frame: pd.DataFrame, name: str) -> str | None:
    """Column of ``frame`` holding ``name`` (or one of its aliases), if any."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for alias in _COLUMN_ALIASES.get(name, (name,)):
        if alias in lower:
            return lower[alias]
    return None


def entity_frame(
    table: Any, argname: str, level: str, on_invalid: str
) -> tuple[pd.DataFrame, list[str] | None]:
    """Validated ``id, name, definition`` frame and the raw domain column if any."""
    frame = as_frame(table, argname)
    name_col = pick_column(frame, "name")
    if name_col is None:
        raise ValueError(
            f"{argname} must have a 'name' column (and ideally 'id' and "
            f"'definition'); got columns {list(frame.columns)}."
        )
    names = [plain_text(v) for v in frame[name_col]]
    id_col = pick_column(frame, "id")
    ids = [plain_text(v) for v in frame[id_col]] if id_col is not None else names
    def_col = pick_column(frame, "definition")
    definitions = (
        [plain_text(v) for v in frame[def_col]]
        if def_col is not None
        else [""] * len(ids)
    )
    dom_col = pick_column(frame, "domain") if level == "concept" else None
    domains = [plain_text(v) for v in frame[dom_col]] if dom_col is not None else None

    empty = [i for i, id_ in enumerate(ids) if not id_]
    if empty:
        raise ValueError(f"{argname} has rows with an empty id: rows {preview(empty)}.")
    dup_ids = sorted(id_ for id_, n in Counter(ids).items() if n > 1)
    if dup_ids:
        raise ValueError(f"{argname} has duplicate ids: {preview(dup_ids)}.")
    unnamed = [id_ for id_, name in zip(ids, names, strict=True) if not name]
    if unnamed:
        report(
            f"{argname} has {len(unnamed)} {level}(s) without a name; their id is used "
            f"as name: {preview(unnamed)}.",
            on_invalid,
        )
        names = [name or id_ for id_, name in zip(ids, names, strict=True)]
    groups: dict[str, list[str]] = {}
    for id_, name in zip(ids, names, strict=True):
        groups.setdefault(normalize_name(name), []).append(id_)
    shared = {k: v for k, v in groups.items() if len(v) > 1}
    if shared:
        listing = "; ".join(f"{k!r} -> {v}" for k, v in list(shared.items())[:10])
        report(
            f"{argname} has {len(shared)} name(s) shared by several {_PLURAL[level]} "
            f"(compared case-insensitively); look these up by id: {listing}.",
            on_invalid,
        )
    undefined = [id_ for id_, d in zip(ids, definitions, strict=True) if not d]
    if undefined:
        report(
            f"{argname} has {len(undefined)} {level}(s) with an empty definition "
            f"(vocabulary() uses the name instead): {preview(undefined)}.",
            on_invalid,
        )
    out = pd.DataFrame({"id": ids, "name": names, "definition": definitions})
    return out, domains


def incidence(
    rows: list[int], cols: list[int], shape: tuple[int, int]
) -> sparse.csr_array:
    """Read-only 0/1 CSR incidence matrix (float64, sorted, no duplicates)."""
    matrix = sparse.csr_array(
        (np.ones(len(rows)), (np.asarray(rows, dtype=np.int64), np.asarray(cols))),
        shape=shape,
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    for array in (matrix.data, matrix.indices, matrix.indptr):
        array.flags.writeable = False
    return matrix


def coo_lists(matrix: sparse.csr_array) -> tuple[list[int], list[int]]:
    """Row and column numbers of the non-zero entries of ``matrix``."""
    coo = matrix.tocoo()
    return coo.row.tolist(), coo.col.tolist()


def non_empty(values: pd.Series) -> np.ndarray:
    """Boolean mask of non-empty strings (works on empty, all-missing columns)."""
    return np.array([isinstance(v, str) and len(v) > 0 for v in values], dtype=bool)


def link_matrix(
    table: Any,
    indexes: dict[str, NameIndex],
    left: str,
    right: str,
    argname: str,
) -> sparse.csr_array:
    """0/1 incidence of a mapping table, entries resolved by id or name."""
    shape = (len(indexes[left].ids), len(indexes[right].ids))
    if table is None:
        return incidence([], [], shape)
    pairs, _ = mapping_pairs(table, left, right, argname)
    rows = indexes[left].resolve((a for a, _ in pairs), f"{argname} ({left} column)")
    cols = indexes[right].resolve((b for _, b in pairs), f"{argname} ({right} column)")
    return incidence(rows, cols, shape)


def check_snapshot(data: Any) -> None:
    """Raise a ``ValueError`` unless ``data`` is a readable atlas snapshot."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"data must be a {FORMAT_NAME!r} snapshot (from to_dict or save); "
            f"got format {got!r}."
        )
    check_format_version(
        data.get("format_version"), FORMAT_VERSION, "snapshot data", required=True
    )
