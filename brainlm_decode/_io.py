"""Internal file helpers shared by every module that writes to disk.

Writes go through a temporary file (or folder) in the destination's folder, are
flushed, then moved in place with :func:`os.replace`, so readers see the old
content or the new one, never a partial one, and nothing already written is lost
when a write fails.
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


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file, then move it onto ``path``.

    Use for writers that take a file name (``safetensors.save_file``, ``nib.save``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def check_format_version(
    found: object,
    supported: int,
    what: str,
    path: object = None,
    *,
    required: bool = False,
) -> int:
    """The one format-version check of every saved object.

    Each saved format records ``"format_version"`` (a positive int, bumped when
    a reader of the previous version could not read the new files). A reader
    reads every version up to the one it writes and refuses newer ones.

    Parameters
    ----------
    found : object
        The ``"format_version"`` entry of the file (``None`` when absent).
    supported : int
        Newest version this brainlm_decode reads (the one it writes).
    what : str
        What was saved, for messages (``"decoder"``, ``"saved CLIPModel"``).
    path : object, default=None
        File or folder, for messages.
    required : bool, default=False
        Whether a missing version is an error; otherwise it reads as 0 (files
        written before versions were recorded).

    Returns
    -------
    int
        The version found.

    Raises
    ------
    ValueError
        A newer version (the message says to upgrade), or an entry that is not
        a positive int (or missing, with ``required=True``).
    """
    from brainlm_decode._version import __version__

    where = f"The {what}" if path is None else f"The {what} at {str(path)!r}"
    if found is None and not required:
        return 0
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise ValueError(
            f"{where} has format version {found!r}; expected a positive integer "
            "(the file is damaged, was edited, or is not a brainlm_decode file)."
        )
    if found > supported:
        raise ValueError(
            f"{where} has format version {found}; this brainlm_decode "
            f"({__version__}) reads up to {supported}. Upgrade brainlm_decode."
        )
    return found


def read_config(
    folder: str | os.PathLike,
    name: str,
    *,
    format_name: str,
    supported: int,
    what: str,
    required: tuple[str, ...] = (),
) -> dict:
    """Read and check the JSON configuration of a saved object.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder written by the object's ``save``.
    name : str
        File name of the configuration in ``folder``.
    format_name : str
        Expected value of its ``"format"`` entry.
    supported : int
        Newest ``"format_version"`` this version reads.
    what : str
        What was saved, for messages (``"saved FMRITokenizer"``).
    required : tuple of str, default=()
        Entries the configuration must have.

    Returns
    -------
    dict
        The configuration.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        Invalid JSON, another format, a newer format version or missing entries.
    """
    path = Path(folder) / name
    if not path.is_file():
        raise FileNotFoundError(f"No {what} in {str(folder)!r}: {name} is missing.")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != format_name:
        found = config.get("format") if isinstance(config, dict) else None
        raise ValueError(
            f"{path} does not describe a {what} (format {found!r}, expected "
            f"{format_name!r})."
        )
    check_format_version(config.get("format_version"), supported, what, path)
    missing = set(required) - set(config)
    if missing:
        raise ValueError(f"{path} lacks the entries {sorted(missing)}.")
    return config


def checked_file(folder: str | os.PathLike, entry: dict, config_name: str) -> Path:
    """The file of a config ``entry`` (``{"file", "sha256"}``), checksum verified.

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When its SHA-256 differs from the one recorded in ``config_name``.
    """
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(f"Weights file {str(path)!r} is missing.")
    if sha256_file(path) != entry["sha256"]:
        raise ValueError(
            f"{path} does not match the checksum recorded in {config_name}: the "
            "files come from different saves or the weights are corrupted."
        )
    return path


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
