"""Decode many maps into one tidy table: parallel, resumable, errors recorded.

:func:`decode_many` expands folders (recursively, e.g. a BIDS derivatives tree),
glob patterns and lists into NIfTI files, keys each file by the sha256 of its
bytes, and decodes chunks of maps in parallel with joblib (any backend: ``loky``
by default, ``threading``, or Dask/Ray through their joblib backends). Each chunk
is written as its own part file (atomically: temporary name, then rename) as soon
as it is done, so a run killed half-way resumes where it stopped: maps whose
hash is already in the output or in a part file are skipped. A map that fails
(unreadable, 4D, empty...) gets one ``error`` row instead of stopping the run.

The output is one long table with columns ``map``, ``sha256``, ``level``,
``term``, ``id``, ``score``, ``rank``, ``p``, ``q`` (``NaN`` when the decoder
gives no p-values) and ``error``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "decode_many", "expand_inputs"]

COLUMNS = ["map", "sha256", "level", "term", "id", "score", "rank", "p", "q", "error"]
_SUFFIXES = (".nii", ".nii.gz")
_SCORE = {"task": "posterior", "concept": "probability", "domain": "probability"}


def expand_inputs(inputs: Any) -> list[Path]:
    """NIfTI files of folders (recursive), glob patterns and paths, sorted, unique.

    Parameters
    ----------
    inputs : str, path-like or sequence of them
        Files, folders or glob patterns (``"maps/**/*_stat-z*.nii.gz"``).

    Returns
    -------
    list of Path
    """
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += [p for p in path.rglob("*") if p.name.endswith(_SUFFIXES)]
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(str(item)):
            found += [Path(p) for p in glob.glob(str(item), recursive=True)]
        else:
            raise FileNotFoundError(
                f"The 'inputs' argument names {str(item)!r}, which is neither a file, "
                "a folder nor a glob pattern matching files."
            )
    unique = sorted({p.resolve() for p in found if p.is_file()})
    if not unique:
        raise ValueError(f"The 'inputs' argument {inputs!r} matches no NIfTI file.")
    return unique


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rows(
    decoder: Any,
    scores: dict[str, np.ndarray],
    i: int,
    levels: Sequence[str],
    top: int | None,
) -> list[pd.DataFrame]:
    frames = []
    for level in levels:
        table = decoder._table(scores, i, level)
        if top is not None:
            table = table.head(top)
        column = _SCORE[level]
        frames.append(
            pd.DataFrame(
                {
                    "level": level,
                    "term": table.index.astype(str),
                    "id": table["id"].astype(str).to_numpy(),
                    "score": table[column].to_numpy(dtype=np.float64),
                    "rank": np.arange(1, len(table) + 1),
                    "p": table["p"].to_numpy(float) if "p" in table else np.nan,
                    "q": table["q"].to_numpy(float) if "q" in table else np.nan,
                }
            )
        )
    return frames


def _decode_chunk(
    decoder: Any, chunk: list[tuple[str, str]], levels: Sequence[str], top: int | None
) -> pd.DataFrame:
    """Decode ``(path, sha256)`` pairs; a map that fails gets an error row."""
    embeddings, good, frames = [], [], []
    for path, digest in chunk:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                embeddings.append(decoder.embed_imgs(path)[0])
            good.append((path, digest))
        except Exception as exc:  # recorded in the output, never fatal
            frames.append(
                pd.DataFrame(
                    {
                        "map": [path],
                        "sha256": [digest],
                        "level": ["error"],
                        "error": [f"{type(exc).__name__}: {exc}"],
                    }
                )
            )
    if good:
        scores = decoder.decode_embeddings(np.stack(embeddings))
        for i, (path, digest) in enumerate(good):
            for frame in _rows(decoder, scores, i, levels, top):
                frames.append(frame.assign(map=path, sha256=digest, error=None))
    out = pd.concat(frames, ignore_index=True)
    return out.reindex(columns=COLUMNS)


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _done_keys(out: Path, parts: Path) -> set[str]:
    keys: set[str] = set()
    files = [out] if out.is_file() else []
    files += sorted(parts.glob("part-*.parquet")) if parts.is_dir() else []
    for file in files:
        keys.update(pd.read_parquet(file, columns=["sha256"])["sha256"].unique())
    return keys


def _progress(iterable: Iterable[Any], total: int, verbose: int) -> Iterable[Any]:
    if verbose < 1:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, unit="chunk", desc="decode-batch")


def decode_many(
    decoder: Any,
    inputs: Any,
    out: str | os.PathLike | None = None,
    *,
    levels: Sequence[str] = ("task", "concept", "domain"),
    top: int | None = None,
    n_jobs: int | None = None,
    backend: str | None = "loky",
    chunk_size: int = 32,
    verbose: int = 0,
) -> pd.DataFrame:
    """Decode many maps into one long table (resumable with ``out``).

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder (its decoding options apply to every map).
    inputs : str, path-like or sequence of them
        Files, folders (searched recursively) or glob patterns.
    out : str, path-like or None, default=None
        Parquet file of the results. Part files are written next to it
        (``<out>.parts/``) chunk by chunk and merged at the end; maps whose sha256
        is already in ``out`` or in a part file are skipped (resume). ``None``
        keeps everything in memory.
    levels : sequence of {"task", "concept", "domain"}
        Levels in the output.
    top : int or None, default=None
        Keep the ``top`` terms of each level per map; ``None`` keeps all.
    n_jobs : int or None, default=None
        joblib workers (``None``: 1, or the ``joblib.parallel_config`` value).
    backend : str or None, default="loky"
        joblib backend (``"loky"``, ``"threading"``, ``"dask"``, ``"ray"``...);
        ``None`` uses the active ``joblib.parallel_config``.
    chunk_size : int, default=32
        Maps per task (and per part file).
    verbose : int, default=0
        1 shows a progress bar.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`; the whole output (earlier runs included).
    """
    from joblib import Parallel, delayed

    bad = [lv for lv in levels if lv not in _SCORE]
    if bad or not levels:
        raise ValueError(
            f"The 'levels' argument must hold 'task', 'concept' or 'domain'. Got "
            f"{list(levels)!r}."
        )
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < 1
    ):
        raise ValueError(
            f"The 'chunk_size' argument must be an int >= 1. Got {chunk_size!r}."
        )
    paths = expand_inputs(inputs)
    keyed = [(str(p), _sha256(p)) for p in paths]
    out_path = None if out is None else Path(out)
    parts = None if out_path is None else out_path.with_name(out_path.name + ".parts")
    done = set() if out_path is None else _done_keys(out_path, parts)
    todo, seen = [], set(done)
    for path, digest in keyed:
        if digest not in seen:  # identical files are decoded once
            todo.append((path, digest))
            seen.add(digest)
    chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
    if parts is not None:
        parts.mkdir(parents=True, exist_ok=True)
    frames: list[pd.DataFrame] = []
    if chunks:
        parallel = Parallel(
            n_jobs=n_jobs, backend=backend, return_as="generator_unordered"
        )
        results = parallel(
            delayed(_decode_chunk)(decoder, chunk, tuple(levels), top)
            for chunk in chunks
        )
        for frame in _progress(results, len(chunks), verbose):
            if parts is None:
                frames.append(frame)
                continue
            name = hashlib.sha256("".join(sorted(frame["sha256"].unique())).encode())
            _write_atomic(frame, parts / f"part-{name.hexdigest()[:16]}.parquet")
    if out_path is None:
        return (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=COLUMNS)
        )
    pieces = [pd.read_parquet(out_path)] if out_path.is_file() else []
    pieces += [pd.read_parquet(f) for f in sorted(parts.glob("part-*.parquet"))]
    table = pd.concat(pieces, ignore_index=True).reindex(columns=COLUMNS)
    _write_atomic(table, out_path)
    shutil.rmtree(parts)  # all merged into out; leftovers of killed writes go too
    return table
