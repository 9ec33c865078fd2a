"""On-disk cache of text embeddings keyed by (encoder configuration, text hash).

Layout of a cache directory::

    <directory>/
        <slug>-<sha256(namespace)[:16]>/   one folder per encoder configuration
            namespace.json                the full namespace string (model id and
                                          pooling/chunking parameters)
            shard-<time>-<uuid>.npz       immutable shards: ``keys`` (sha256 hex of
                                          each text) and ``vectors`` (float32)

Every shard is written to a temporary file in the same folder and moved into place
with :func:`os.replace`, so readers see either a whole shard or none. Several
processes can share a cache: each writes its own shards and no lock is needed.
Shards that cannot be read (truncated, corrupted, wrong shapes) are renamed
``*.corrupt`` with a warning, and their texts are embedded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from brainlm_decode._io import atomic_write_bytes, atomic_write_stream

__all__ = ["EmbeddingCache", "EmbeddingCacheWarning", "text_key"]

_SHARD_GLOB = "shard-*.npz"
_FORMAT_VERSION = 1


class EmbeddingCacheWarning(UserWarning):
    """Warning raised when a cache shard cannot be read and is set aside."""


def text_key(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes, as 64 hex digits.

    Parameters
    ----------
    text : str
        The text, exactly as given to the encoder.

    Returns
    -------
    str
        Hex digest.

    Examples
    --------
    >>> text_key("n-back")[:12]
    '3eae2258e852'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Directory of cached text embeddings, one namespace per encoder setting.

    Parameters
    ----------
    directory : str or os.PathLike
        Root folder; created on the first write.
    max_shards : int, default=64
        When a namespace holds more shards than this after a write, they are merged
        into one (:meth:`compact`).

    Attributes
    ----------
    directory : pathlib.Path
        The root folder.

    Notes
    -----
    A namespace is any string that identifies how embeddings were made; the
    encoders of :mod:`brainlm_decode.text` use a JSON string of the model id and
    the pooling and chunking parameters. Vectors are stored as given (not
    normalised). Two namespaces never share vectors, even for the same text.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> cache.put("demo-model", ["a text"], np.ones((1, 3), dtype=np.float32))
    >>> cache.get("demo-model", ["a text", "another"])[1] is None
    True
    """

    def __init__(self, directory: str | os.PathLike, *, max_shards: int = 64) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(
                "The 'directory' argument of EmbeddingCache must be a str or "
                f"os.PathLike. Got {directory!r} instead."
            )
        if isinstance(max_shards, bool) or not isinstance(max_shards, int):
            raise TypeError(
                "The 'max_shards' argument of EmbeddingCache must be an int. "
                f"Got {max_shards!r} instead."
            )
        if max_shards < 1:
            raise ValueError(
                "The 'max_shards' argument of EmbeddingCache must be an int in the "
                f"range [1, inf). Got {max_shards!r} instead."
            )
        self.directory = Path(directory).expanduser()
        self.max_shards = max_shards
        # namespace folder -> {shard file name: keys}, filled lazily
        self._index: dict[Path, dict[str, dict[str, int]]] = {}

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    # ---------------------------------------------------------------- namespaces

    def namespace_dir(self, namespace: str) -> Path:
        """Folder holding the shards of ``namespace`` (it may not exist yet).

        Parameters
        ----------
        namespace : str
            Encoder configuration string.

        Returns
        -------
        pathlib.Path
        """
        if not isinstance(namespace, str) or not namespace:
            raise TypeError(
                "The 'namespace' argument must be a non-empty str. "
                f"Got {namespace!r} instead."
            )
        digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:16]
        try:
            model = str(json.loads(namespace).get("model_id", ""))
        except (ValueError, AttributeError):
            model = namespace
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model.rstrip("/").split("/")[-1])
        return self.directory / f"{slug[:40] or 'ns'}-{digest}"

    def namespaces(self) -> list[str]:
        """Namespaces stored in the directory.

        Returns
        -------
        list of str
            Sorted namespace strings (read from each folder's ``namespace.json``).
        """
        found = []
        for meta in sorted(self.directory.glob("*/namespace.json")):
            try:
                found.append(json.loads(meta.read_text("utf-8"))["namespace"])
            except (OSError, ValueError, KeyError):
                continue
        return sorted(found)

    # ------------------------------------------------------------------ reading

    def get(self, namespace: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Cached vectors of ``texts`` in ``namespace``.

        Parameters
        ----------
        namespace : str
            Encoder configuration string.
        texts : sequence of str
            Texts to look up.

        Returns
        -------
        list of ndarray or None
            For each text, its float32 vector, or None when it is not cached.
        """
        folder = self.namespace_dir(namespace)
        keys = [text_key(text) for text in texts]
        result: list[np.ndarray | None] = [None] * len(keys)
        for _attempt in range(2):  # a shard may vanish under a concurrent compact
            index = self._refresh(folder)
            by_shard: dict[str, list[tuple[int, int]]] = {}
            for position, key in enumerate(keys):
                if result[position] is not None:
                    continue
                for shard, rows in index.items():
                    if key in rows:
                        by_shard.setdefault(shard, []).append((position, rows[key]))
                        break
            vanished = False
            for shard, wanted in by_shard.items():
                vectors = self._read_vectors(folder, shard)
                if vectors is None:
                    vanished = True
                    continue
                for position, row in wanted:
                    result[position] = np.array(vectors[row], dtype=np.float32)
            if not vanished:
                break
        return result

    def __len__(self) -> int:
        """Number of distinct cached texts over all namespaces."""
        total = 0
        for folder in self._namespace_folders():
            index = self._refresh(folder)
            total += len(set().union(*index.values())) if index else 0
        return total

    def _namespace_folders(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_dir())

    def _refresh(self, folder: Path) -> dict[str, dict[str, int]]:
        """Index the shards of ``folder`` not seen yet; forget vanished ones."""
        index = self._index.setdefault(folder, {})
        present = (
            {p.name for p in folder.glob(_SHARD_GLOB)} if folder.is_dir() else set()
        )
        for name in list(index):
            if name not in present:
                del index[name]
        for name in sorted(present - set(index)):
            keys = self._read_keys(folder / name)
            if keys is not None:
                index[name] = {key: row for row, key in enumerate(keys)}
        return index

    def _read_keys(self, path: Path) -> list[str] | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = data["keys"]
                n_vectors = data["vectors"].shape if "vectors" in data else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            self._set_aside(path, exc)
            return None
        if (
            keys.ndim != 1
            or n_vectors is None
            or len(n_vectors) != 2
            or n_vectors[0] != keys.shape[0]
        ):
            self._set_aside(path, ValueError("keys and vectors do not match"))
            return None
        return [str(key) for key in keys.tolist()]

    def _read_vectors(self, folder: Path, shard: str) -> np.ndarray | None:
        path = folder / shard
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors = np.asarray(data["vectors"], dtype=np.float32)
        except FileNotFoundError:
            self._index.get(folder, {}).pop(shard, None)
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            self._set_aside(path, exc)
            self._index.get(folder, {}).pop(shard, None)
            return None
        if not np.all(np.isfinite(vectors)):
            self._set_aside(path, ValueError("non-finite values"))
            self._index.get(folder, {}).pop(shard, None)
            return None
        return vectors

    def _set_aside(self, path: Path, exc: BaseException) -> None:
        warnings.warn(
            f"Embedding cache shard {path} cannot be read ({type(exc).__name__}: "
            f"{exc}); it is renamed *.corrupt and its texts will be embedded again.",
            EmbeddingCacheWarning,
            stacklevel=4,
        )
        try:
            os.replace(path, path.with_name(path.name + ".corrupt"))
        except OSError:
            pass  # read-only cache or already moved: skipping it is enough

    # ------------------------------------------------------------------ writing

    def put(self, namespace: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of ``texts`` in ``namespace`` as one new shard.

        Parameters
        ----------
        namespace : str
            Encoder configuration string.
        texts : sequence of str
            Texts, one per row of ``vectors``.
        vectors : ndarray of shape (n_texts, dim)
            Finite embeddings; stored as float32.

        Raises
        ------
        ValueError
            When the shapes do not match or ``vectors`` holds NaN or inf.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                "The 'vectors' argument must have shape (len(texts), dim) = "
                f"({len(texts)}, dim). Got shape {vectors.shape} instead."
            )
        if not np.all(np.isfinite(vectors)):
            raise ValueError("The 'vectors' argument holds NaN or inf values.")
        if not len(texts):
            return
        folder = self.namespace_dir(namespace)
        folder.mkdir(parents=True, exist_ok=True)
        self._write_namespace_file(folder, namespace)
        keys = np.array([text_key(text) for text in texts], dtype="<U64")
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.npz"
        _atomic_savez(folder / name, keys=keys, vectors=vectors)
        if len(list(folder.glob(_SHARD_GLOB))) > self.max_shards:
            self.compact(namespace)

    def _write_namespace_file(self, folder: Path, namespace: str) -> None:
        meta = folder / "namespace.json"
        if meta.exists():
            return
        payload = {"namespace": namespace, "format_version": _FORMAT_VERSION}
        atomic_write_bytes(meta, json.dumps(payload, indent=1).encode("utf-8"))

    def compact(self, namespace: str) -> None:
        """Merge the shards of ``namespace`` into one (duplicates dropped).

        Parameters
        ----------
        namespace : str
            Encoder configuration string.
        """
        folder = self.namespace_dir(namespace)
        index = self._refresh(folder)
        if len(index) <= 1:
            return
        keys: list[str] = []
        blocks: list[np.ndarray] = []
        seen: set[str] = set()
        merged = []
        for shard, rows in list(index.items()):
            vectors = self._read_vectors(folder, shard)
            if vectors is None:
                continue
            merged.append(shard)
            take = [(key, row) for key, row in rows.items() if key not in seen]
            seen.update(key for key, _ in take)
            keys.extend(key for key, _ in take)
            blocks.append(vectors[[row for _, row in take]])
        if not keys:
            return
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.npz"
        _atomic_savez(
            folder / name,
            keys=np.array(keys, dtype="<U64"),
            vectors=np.concatenate(blocks, axis=0),
        )
        for shard in merged:
            try:
                (folder / shard).unlink()
            except FileNotFoundError:
                pass

    def clear(self, namespace: str | None = None) -> None:
        """Delete cached vectors.

        Parameters
        ----------
        namespace : str or None, default=None
            Namespace to delete; None deletes every namespace of the directory.
        """
        folders = (
            [self.namespace_dir(namespace)]
            if namespace is not None
            else self._namespace_folders()
        )
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.is_file():
                    path.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass
            self._index.pop(folder, None)


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` atomically (temporary file, fsync, rename)."""
    atomic_write_stream(path, lambda handle: np.savez(handle, **arrays))
