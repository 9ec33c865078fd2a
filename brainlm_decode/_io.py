"""Internal file helpers shared by every module that writes to disk.

Writes go through a temporary file (or folder) in the destination's folder, are
flushed, then moved in place with :func:`os.replace`, so readers see the old
content or the new one, never a partial one, and nothing already written is lost
when a write fails. Files get the mode :func:`open` would give them
(``0o666 & ~umask``), not the ``0o600`` of :func:`tempfile.mkstemp`.

Saved objects (folders with a configuration, format version, manifest and
checksums) are the business of :mod:`brainlm_decode.persistence`, built on these.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process umask: from ``/proc`` on Linux, else by setting and restoring it."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_temp(path: Path) -> tuple[int, str]:
    """``mkstemp`` beside ``path``, with the mode :func:`open` would give."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file, then move it onto ``path``.

    Use for writers that take a file name (``safetensors.save_file``, ``nib.save``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _make_temp(path)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_stream(
    path: str | os.PathLike, write: Callable[[IO[bytes]], None]
) -> Path:
    """Call ``write(handle)`` on a temporary binary file, fsync it, move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _make_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write_stream(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling; swap it in place when the block ends.

    An existing folder at ``path`` is replaced only once the new one is complete;
    on error the temporary folder is removed and ``path`` is untouched.

    Yields
    ------
    Path
        The temporary folder to fill.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            backup = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_json(path: str | os.PathLike, what: str = "JSON file") -> object:
    """Parse a JSON file; every failure names the file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    what : str, default="JSON file"
        What the file holds, for messages (``"saved ontology"``).

    Returns
    -------
    object
        The parsed document.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    IsADirectoryError
        When ``path`` is a folder.
    ValueError
        When the file is truncated, not UTF-8 or not valid JSON.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"The {what} {str(path)!r} is a directory, not a file.")
    if not path.is_file():
        raise FileNotFoundError(f"The {what} {str(path)!r} does not exist.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"The {what} {str(path)!r} is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}); expected a JSON file."
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"The {what} {str(path)!r} is not valid JSON (truncated or corrupt?): "
            f"{exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None


def load_image(path: str | os.PathLike, argname: str = "img") -> object:
    """Load a NIfTI (or other nibabel) image from a file, data read eagerly.

    nibabel reads lazily, so a truncated ``.nii.gz`` would fail later with a bare
    ``EOFError``; here the data are read at once and every failure names the
    file and the argument.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    argname : str, default="img"
        Argument name for messages.

    Returns
    -------
    nibabel.spatialimages.SpatialImage
        The image with its data in memory.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    IsADirectoryError
        When ``path`` is a folder.
    ValueError
        When the file is not a readable image (unknown format, truncated, corrupt).
    """
    import nibabel as nib
    import numpy as np

    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(
            f"The {argname!r} argument {str(path)!r} is a directory; expected a "
            "NIfTI file (.nii or .nii.gz)."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"The {argname!r} argument is a path that does not exist: {str(path)!r}."
        )
    try:
        img = nib.load(path)
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types (EOFError, zlib.error, ...)
        raise ValueError(
            f"The {argname!r} argument {str(path)!r} could not be read as a NIfTI "
            f"image (truncated or corrupt file?): {type(exc).__name__}: {exc}"
        ) from None
    return img.__class__(data, img.affine, img.header)
