"""Helpers of the ontology package: text cleaning, name lookup, mapping tables, I/O.

Nothing here is public API; :mod:`brainlm_decode.ontology` re-exports what users need.
"""

from __future__ import annotations

import difflib
import html
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from brainlm_decode._io import atomic_write_text  # noqa: F401  (re-exported)
from brainlm_decode.base import Options, check_param

LEVELS: tuple[str, ...] = ("task", "concept", "domain")

OnInvalid = Literal["raise", "warn", "ignore"]
_ON_INVALID: tuple[str, ...] = ("raise", "warn", "ignore")

# strings that the Cognitive Atlas (and spreadsheets) use for "no value"
_NULL_STRINGS = frozenset({"", "none", "nan", "null", "n/a", "na"})
# UTF-8 text decoded as Latin-1 ("individualâ\x80\x99s"): a lead byte then a
# continuation byte
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")


class CognitiveAtlasWarning(UserWarning):
    """Warning about questionable ontology content that is kept (see messages)."""


def check_level(level: str, argname: str = "level") -> str:
    """Return ``level`` if it is one of ``task``, ``concept``, ``domain``."""
    return check_param(
        level, argname, "CognitiveAtlas", [Options(*LEVELS)], kind="argument"
    )


def check_on_invalid(on_invalid: str) -> str:
    """Return ``on_invalid`` if it is ``raise``, ``warn`` or ``ignore``."""
    return check_param(
        on_invalid,
        "on_invalid",
        "CognitiveAtlas",
        [Options(*_ON_INVALID)],
        kind="argument",
    )


def report(message: str, on_invalid: str) -> None:
    """Raise a ``ValueError``, warn, or stay silent, following ``on_invalid``.

    Warnings point at the first caller outside this package folder.
    """
    if on_invalid == "raise":
        raise ValueError(message)
    if on_invalid == "warn":
        here = os.path.dirname(os.path.abspath(__file__))
        frame, stacklevel = sys._getframe(0), 1
        while frame is not None and os.path.abspath(
            frame.f_code.co_filename
        ).startswith(here):
            frame, stacklevel = frame.f_back, stacklevel + 1
        warnings.warn(message, CognitiveAtlasWarning, stacklevel=stacklevel)


def preview(items: Iterable[Any], limit: int = 10) -> str:
    """Short printable list of items: the first ``limit`` then a count."""
    items = list(items)
    shown = ", ".join(repr(x) for x in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return f"[{shown}]"


def is_null(value: Any) -> bool:
    """Whether ``value`` stands for a missing string (None, NaN, "", "None")."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    try:
        if pd.isna(value):
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(value, str) and value.strip().lower() in _NULL_STRINGS


def plain_text(value: Any) -> str:
    """Strip a user-given value to a string; missing values give ``""``."""
    if is_null(value):
        return ""
    return " ".join(str(value).split())


def clean_text(value: Any) -> str:
    """Clean a Cognitive Atlas string for display and embedding.

    Missing values (``None``, ``"None"``, NaN) give ``""``; HTML entities are
    unescaped, simple HTML tags removed, UTF-8 text that was decoded as Latin-1
    repaired (``"individualâ\\x80\\x99s"`` -> ``"individual’s"``) and runs of
    whitespace collapsed to one space.
    """
    if is_null(value):
        return ""
    text = str(value)
    if _MOJIBAKE.search(text):
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    text = html.unescape(text)
    text = _HTML_TAG.sub(" ", text)
    text = " ".join(text.split())
    return "" if text.lower() in _NULL_STRINGS else text


def normalize_name(name: str) -> str:
    """Key used to compare names: case-folded, whitespace collapsed."""
    return " ".join(str(name).split()).casefold()


class NameIndex:
    """Resolve names or ids of one level (tasks, concepts or domains) to row numbers.

    An entry resolves, in this order, as an id, as an exact name, or as a name
    compared case- and whitespace-insensitively. A name shared by several rows is
    ambiguous and raises a ``ValueError`` listing the candidate ids.

    Parameters
    ----------
    ids : sequence of str
        Identifiers, in row order.
    names : sequence of str
        Names, in row order.
    level : str
        ``"task"``, ``"concept"`` or ``"domain"``, used in messages.
    """

    def __init__(self, ids: Sequence[str], names: Sequence[str], level: str) -> None:
        self.ids = list(ids)
        self.names = list(names)
        self.level = level
        self.by_id = {id_: i for i, id_ in enumerate(self.ids)}
        self.by_name: dict[str, list[int]] = {}
        self.by_norm: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            if not name:
                continue
            self.by_name.setdefault(name, []).append(i)
            self.by_norm.setdefault(normalize_name(name), []).append(i)

    def find(self, item: Any) -> list[int]:
        """Candidate rows for ``item`` (empty when unknown, several if ambiguous)."""
        key = str(item)
        if key in self.by_id:
            return [self.by_id[key]]
        rows = self.by_name.get(key)
        if rows is not None and len(rows) == 1:
            return rows
        stripped = key.strip()
        if stripped in self.by_id:
            return [self.by_id[stripped]]
        return self.by_norm.get(normalize_name(key), [])

    def resolve(self, items: Iterable[Any], argname: str) -> list[int]:
        """Row numbers of ``items``; ``ValueError`` naming unknown/ambiguous ones."""
        rows: list[int] = []
        unknown: list[str] = []
        ambiguous: list[str] = []
        for item in items:
            found = self.find(item)
            if len(found) == 1:
                rows.append(found[0])
            elif not found:
                unknown.append(str(item))
            else:
                ids = [self.ids[i] for i in found]
                ambiguous.append(f"{item!r} -> {ids}")
        if unknown:
            hints = []
            for item in unknown[:5]:
                close = difflib.get_close_matches(item, self.names, n=3, cutoff=0.75)
                if close:
                    hints.append(f"{item!r}: did you mean {close}?")
            hint = (" " + " ".join(hints)) if hints else ""
            raise ValueError(
                f"{argname} has {len(unknown)} {self.level} name(s)/id(s) that are "
                f"not in the ontology: {preview(unknown)}.{hint}"
            )
        if ambiguous:
            raise ValueError(
                f"{argname} has {self.level} name(s) shared by several "
                f"{self.level}s; pass ids instead: {'; '.join(ambiguous[:10])}."
            )
        return rows


def as_frame(table: Any, argname: str) -> pd.DataFrame:
    """Read a table given as a DataFrame, a list of records or a CSV/TSV/JSON path.

    JSON files may hold a list of records, ``{"entries": [...]}`` (the Cognitive
    Atlas export) or a column-oriented object.
    """
    if isinstance(table, pd.DataFrame):
        return table.copy()
    if isinstance(table, (str, os.PathLike)):
        path = Path(table)
        if not path.is_file():
            raise ValueError(f"{argname}: file {str(path)!r} does not exist.")
        suffixes = "".join(path.suffixes).lower()
        if ".json" in suffixes:
            from brainlm_decode._io import read_json

            data = read_json(path, f"{argname} table")
            if isinstance(data, dict) and "entries" in data:
                data = data["entries"]
            return pd.DataFrame(data)
        sep = "\t" if (".tsv" in suffixes or ".tab" in suffixes) else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    if isinstance(table, Sequence) and not isinstance(table, (str, bytes)):
        return pd.DataFrame(list(table))
    raise TypeError(
        f"{argname} must be a pandas DataFrame, a list of records or a path to a "
        f"CSV, TSV or JSON file; got {type(table).__name__}."
    )


def mapping_pairs(
    table: Any, left: str, right: str, argname: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Links of a mapping table as (left, right) string pairs.

    Accepted forms: a DataFrame or file with a ``left`` column and one or more
    columns ``right``, ``right_1``, ``right_2``... (long or wide format, empty cells
    ignored); a dict ``{left: [right, ...]}``; or a list of pairs.

    Returns
    -------
    pairs : list of (str, str)
        Links in table order, duplicates kept.
    lefts : list of str
        Every ``left`` entry in table order, including those without links.
    """
    if isinstance(table, Mapping):
        pairs, lefts = [], []
        for key, values in table.items():
            lefts.append(plain_text(key))
            if isinstance(values, str) or not isinstance(values, Iterable):
                values = [values]
            pairs += [(lefts[-1], plain_text(v)) for v in values if not is_null(v)]
        return pairs, lefts
    if (
        isinstance(table, Sequence)
        and not isinstance(table, (str, bytes))
        and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in table)
    ):
        pairs = [(plain_text(a), plain_text(b)) for a, b in table]
        return pairs, list(dict.fromkeys(a for a, _ in pairs))
    frame = as_frame(table, argname)
    frame.columns = [str(c).strip() for c in frame.columns]
    pattern = re.compile(rf"^{re.escape(right)}(_?\d+)?$", re.IGNORECASE)
    right_cols = [c for c in frame.columns if pattern.match(c)]
    left_col = next((c for c in frame.columns if c.lower() == left), None)
    if left_col is None or not right_cols:
        raise ValueError(
            f"{argname} must have a {left!r} column and {right!r} or "
            f"{right}_1..{right}_n columns; got columns {list(frame.columns)}."
        )
    pairs, lefts = [], []
    for row in frame[[left_col, *right_cols]].itertuples(index=False):
        if is_null(row[0]):
            raise ValueError(f"{argname} has a row with an empty {left!r} cell.")
        lefts.append(plain_text(row[0]))
        pairs += [(lefts[-1], plain_text(v)) for v in row[1:] if not is_null(v)]
    return pairs, lefts
