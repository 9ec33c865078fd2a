"""Data directory resolution, checksummed downloads and the remote-file registry.

Every download of the package goes through :func:`fetch_file`: the cache is
checked first (no network access on a cache hit), a download is streamed into a
temporary file beside its destination, verified against its SHA-256 checksum and
only then moved in place with :func:`os.replace`, so an interrupted or corrupted
download never replaces a good file. When the network cannot be reached the
error names the file, its URL and the exact local path where it can be placed
by hand.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import BinaryIO

from brainlm_decode._io import sha256_file
from brainlm_decode.base import log

__all__ = [
    "DATA_DIR_ENV_VAR",
    "FILE_REGISTRY",
    "ChecksumError",
    "DataUnavailableError",
    "fetch_file",
    "fetch_registered",
    "get_data_dir",
]

#: Environment variable that overrides the default data directory.
DATA_DIR_ENV_VAR = "BRAINLM_DECODE_DATA"

#: Name of the default data directory, created in the user's home folder.
_DEFAULT_DIR_NAME = "brainlm_decode_data"

#: Seconds to wait for the server before giving up.
_TIMEOUT = 30.0

#: Bytes read at a time while streaming a download.
_CHUNK_SIZE = 1 << 16

_URL_SCHEMES = ("http", "https", "ftp")

_OWNER = "brainlm_decode.datasets"

_TIAN_URL = "https://raw.githubusercontent.com/yetianmed/subcortex/master/Group-Parcellation/3T/Cortex-Subcortex"
_COGAT_URL = (
    "https://raw.githubusercontent.com/CognitiveAtlas/legacy_cogat_linkml/"
    "69e98a3002cd952b965b2b347571ea501b48d9d9/src/data"
)

#: Registry of remote files: ``{name: (url, sha256)}``.
#:
#: ``name`` is the path, relative to the data directory (see
#: :func:`get_data_dir`), where the file is cached, with ``/`` as separator.
#: ``sha256`` is the hexadecimal SHA-256 checksum of the file, or ``None`` when
#: the file is not checksummed. Add entries (e.g. pretrained bundles) to fetch
#: them with :func:`fetch_registered`.
FILE_REGISTRY: dict[str, tuple[str, str | None]] = {
    # Schaefer-2018 (400 parcels, 7 networks) + Tian S3 subcortex: 450 ROIs.
    "schaefer_tian/Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_MNI152NLin6Asym_2mm.nii.gz": (
        f"{_TIAN_URL}/MNIvolumetric/"
        "Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_MNI152NLin6Asym_2mm.nii.gz",
        "a6568b75ec7920bc60262d8b10dfaf9bb9fdbddd518c7313b48ae7465b687d7f",
    ),
    "schaefer_tian/Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_label.txt": (
        f"{_TIAN_URL}/Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_label.txt",
        "98653ec054aacf4513fa828e49c9e22991b2d15f4200ecf134ba31c7e5af6869",
    ),
    # Schaefer-2018 (100 parcels, 7 networks) + Tian S1 subcortex: 116 ROIs.
    "schaefer_tian/Schaefer2018_100Parcels_7Networks_order_Tian_Subcortex_S1_MNI152NLin6Asym_2mm.nii.gz": (
        f"{_TIAN_URL}/MNIvolumetric/"
        "Schaefer2018_100Parcels_7Networks_order_Tian_Subcortex_S1_MNI152NLin6Asym_2mm.nii.gz",
        "c569d92097f389e6f98ae379b75c9d26c2a48b9056fa4cbea9fc3c08e0d32ba0",
    ),
    "schaefer_tian/Schaefer2018_100Parcels_7Networks_order_Tian_Subcortex_S1_label.txt": (
        f"{_TIAN_URL}/Schaefer2018_100Parcels_7Networks_order_Tian_Subcortex_S1_label.txt",
        "7ef4c82f6fcc3901bef0286af486c586eb91412878c6fcaa7d231a8d345badbc",
    ),
    # Cognitive Atlas JSON export (legacy LinkML dump, pinned commit).
    "cognitive_atlas/TaskCollection.json": (
        f"{_COGAT_URL}/TaskCollection.json",
        "8e3b7d75967dcf4d5c4df8ccfda9528264bb91001ca07a9b5f2917a99aef3e8a",
    ),
    "cognitive_atlas/ConceptCollection.json": (
        f"{_COGAT_URL}/ConceptCollection.json",
        "fa682fee0e603b14b710541110cee9048d27255ef3a10a11818d94a7d3c4a164",
    ),
    "cognitive_atlas/ConceptClassCollection.json": (
        f"{_COGAT_URL}/ConceptClassCollection.json",
        "2b205056215e56ee1b64c6755c059c60be0b71260ca2b87e99af12f9f85e28aa",
    ),
    "cognitive_atlas/AssertionCollection.json": (
        f"{_COGAT_URL}/AssertionCollection.json",
        "58717efc9a05e8d78d27207a8badb583b2929a66735295e571d353b7a63ccac6",
    ),
    "cognitive_atlas/ContrastCollection.json": (
        f"{_COGAT_URL}/ContrastCollection.json",
        "546ec94c35504d7ec09cd5f4c888572816a15be99ffbdcdbcb4356873683cf65",
    ),
    "cognitive_atlas/DisorderCollection.json": (
        f"{_COGAT_URL}/DisorderCollection.json",
        "c28687101a55ad65f6b62f182dae09d9215fbe21483c6d6c865222fbbdbdb76b",
    ),
}


class DataUnavailableError(OSError):
    """A data file is neither cached nor downloadable.

    Raised when a download fails (no network, server error, timeout). The
    message names the file, the URL it comes from and the exact local path
    where it can be placed by hand.

    Parameters
    ----------
    filename : str
        Name of the missing file.
    url : str
        Where the file is downloaded from.
    path : str or os.PathLike
        Local path where the file is expected.
    reason : str, default=""
        Why the download failed.
    instructions : str or None, default=None
        How to install the file by hand, replacing the default "copy it to
        ``path``" (e.g. for an archive to extract).

    Attributes
    ----------
    filename : str
        Name of the missing file.
    url : str
        Where the file is downloaded from.
    path : pathlib.Path
        Local path where the file is expected.
    """

    def __init__(
        self,
        filename: str,
        url: str,
        path: str | os.PathLike,
        reason: str = "",
        *,
        instructions: str | None = None,
    ) -> None:
        self.filename = filename
        self.url = url
        self.path = Path(path)
        self.reason = reason
        self.instructions = instructions
        because = f" ({reason})" if reason else ""
        if instructions is None:
            instructions = (
                "To use the file offline, download it by hand from that URL on a "
                f"machine with internet access and copy it to:\n    {self.path}"
            )
        message = f"Could not download '{filename}' from {url}{because}. {instructions}"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple:  # keep the error picklable (joblib workers)
        return (
            _rebuild_unavailable,
            (self.filename, self.url, self.path, self.reason, self.instructions),
        )


def _rebuild_unavailable(
    filename: str, url: str, path: Path, reason: str, instructions: str | None
) -> DataUnavailableError:
    """Unpickle a :class:`DataUnavailableError`."""
    return DataUnavailableError(filename, url, path, reason, instructions=instructions)


class ChecksumError(ValueError):
    """A downloaded file does not have its expected SHA-256 checksum."""


def get_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the root directory where datasets are cached.

    The directory is not created by this function.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        Explicit data directory. When ``None``, the environment variable
        ``BRAINLM_DECODE_DATA`` is used if set and not empty, otherwise
        ``~/brainlm_decode_data``.

    Returns
    -------
    data_dir : pathlib.Path
        Absolute path of the data directory (``~`` is expanded).

    Raises
    ------
    TypeError
        If ``data_dir`` is neither ``None``, a string nor a path.

    Notes
    -----
    The directory is resolved with the following priority:

    1. the keyword argument ``data_dir``;
    2. the environment variable ``BRAINLM_DECODE_DATA``;
    3. ``brainlm_decode_data`` in the user's home folder.

    Examples
    --------
    >>> from brainlm_decode.datasets import get_data_dir
    >>> get_data_dir("/tmp/my_data")
    PosixPath('/tmp/my_data')
    """
    if data_dir is not None:
        if not isinstance(data_dir, str | os.PathLike):
            raise TypeError(
                "The 'data_dir' parameter of get_data_dir must be a str, a "
                f"path or None. Got {type(data_dir).__name__} instead."
            )
        path = Path(data_dir)
    elif os.environ.get(DATA_DIR_ENV_VAR, "").strip():
        path = Path(os.environ[DATA_DIR_ENV_VAR].strip())
    else:
        path = Path("~") / _DEFAULT_DIR_NAME
    return path.expanduser().absolute()


def _is_url(source: str) -> bool:
    """Whether ``source`` is a remote URL (http, https or ftp)."""
    return urllib.parse.urlparse(source).scheme.lower() in _URL_SCHEMES


def _local_source(source: str | os.PathLike) -> Path:
    """Validate a local path (or ``file://`` URL) given instead of a URL."""
    text = os.fspath(source)
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme.lower() == "file":
        text = urllib.request.url2pathname(parsed.path)
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"The local file {str(path)!r} given to fetch_file does not exist "
            "(or is not a file). Pass an existing file or an http(s) URL."
        )
    return path.absolute()


def _filename_from_url(url: str) -> str:
    """Derive a file name from the path component of a URL."""
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not name:
        raise ValueError(
            f"Cannot infer a file name from the URL {url!r}; pass 'filename'."
        )
    return name


def _stream_to(
    url: str, fh: BinaryIO, filename: str, verbose: int, timeout: float
) -> None:
    """Stream the body of ``url`` into the open binary file ``fh``."""
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "brainlm_decode"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=filename,
            disable=verbose < 1,
            file=sys.stderr,
            leave=False,
        ) as progress:
            for chunk in iter(lambda: response.read(_CHUNK_SIZE), b""):
                fh.write(chunk)
                progress.update(len(chunk))


def _download(
    url: str,
    target: Path,
    sha256: str | None,
    verbose: int,
    timeout: float,
) -> None:
    """Download ``url`` to ``target`` through a checked temporary file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                _stream_to(url, fh, target.name, verbose, timeout)
        except (OSError, http.client.HTTPException) as exc:
            # URLError, HTTPError, socket errors and timeouts are all OSErrors.
            raise DataUnavailableError(
                target.name, url, target, _describe_error(exc)
            ) from exc
        if sha256 is not None and (actual := sha256_file(tmp)) != sha256.lower():
            raise ChecksumError(
                f"The file '{target.name}' downloaded from {url} has SHA-256 "
                f"{actual}, expected {sha256.lower()}. The download was "
                "discarded: the server may have changed the file or the transfer "
                f"was corrupted. A trusted copy can be placed by hand at {target}."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _describe_error(exc: BaseException) -> str:
    """Short human-readable reason of a failed download."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code}: {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return "the connection timed out"
    return f"{type(exc).__name__}: {exc}"


def fetch_file(
    url: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    filename: str | None = None,
    sha256: str | None = None,
    overwrite: bool = False,
    verbose: int = 1,
    timeout: float = _TIMEOUT,
) -> Path:
    """Return the local path of a file, downloading it if needed.

    If the file is already cached (and, when ``sha256`` is given, its checksum
    matches) its path is returned without any network access. Otherwise the
    file is streamed into a temporary file in the destination directory, its
    checksum is verified, and it is moved in place atomically: a failed or
    corrupted download never leaves a partial file nor replaces a good one.

    Parameters
    ----------
    url : str or os.PathLike
        URL of the file (``http``, ``https`` or ``ftp``). A local path (or a
        ``file://`` URL) is also accepted: it is checked to exist and returned
        as is, without checksum verification or copy.
    data_dir : str, os.PathLike or None, default=None
        Directory where the file is cached; see :func:`get_data_dir` for the
        default.
    filename : str or None, default=None
        Name of the cached file. Defaults to the last component of the URL
        path.
    sha256 : str or None, default=None
        Expected hexadecimal SHA-256 checksum. When given, a cached file with
        another checksum is downloaded again (with a warning) and a download
        with another checksum is rejected.
    overwrite : bool, default=False
        Download the file even if it is cached. The cached copy is kept until
        the new download has succeeded.
    verbose : int, default=1
        Verbosity level: 0 is silent, 1 or more shows messages and a progress
        bar.
    timeout : float, default=30.0
        Seconds to wait for the server before giving up.

    Returns
    -------
    path : pathlib.Path
        Absolute path of the local file.

    Raises
    ------
    DataUnavailableError
        If the file must be downloaded and the download fails (no network,
        refused connection, timeout, HTTP error). The message names the file,
        the URL and the local path where to put the file by hand.
    ChecksumError
        If the downloaded file does not match ``sha256``. The download is
        discarded.
    FileNotFoundError
        If a local path is given and does not exist.

    See Also
    --------
    fetch_registered : fetch a file listed in :data:`FILE_REGISTRY`.

    Examples
    --------
    >>> from brainlm_decode.datasets import fetch_file
    >>> path = fetch_file(
    ...     "https://example.org/data/atlas.nii.gz", sha256="..."
    ... )  # doctest: +SKIP
    """
    if isinstance(url, os.PathLike) or not _is_url(str(url)):
        return _local_source(url)
    url = str(url)
    filename = filename or _filename_from_url(url)
    if Path(filename).name != filename or filename in {".", ".."}:
        raise ValueError(
            "The 'filename' parameter of fetch_file must be a plain file name "
            f"without directory. Got {filename!r} instead."
        )
    target = get_data_dir(data_dir) / filename
    if target.is_file() and not overwrite:
        if sha256 is None or sha256_file(target) == sha256.lower():
            log(f"Using cached file {target}", verbose=verbose, level=2, owner=_OWNER)
            return target
        warnings.warn(
            f"The cached file {target} does not have the expected SHA-256 "
            f"checksum {sha256}; downloading it again from {url}.",
            stacklevel=2,
        )
    log(f"Downloading {filename} from {url} ...", verbose=verbose, owner=_OWNER)
    _download(url, target, sha256, verbose, timeout)
    log(f"... saved to {target}", verbose=verbose, owner=_OWNER)
    return target


def fetch_registered(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    verbose: int = 1,
) -> Path:
    """Fetch a file listed in :data:`FILE_REGISTRY`.

    Parameters
    ----------
    name : str
        Key of the file in :data:`FILE_REGISTRY`: its path relative to the data
        directory, e.g. ``"cognitive_atlas/TaskCollection.json"``.
    data_dir : str, os.PathLike or None, default=None
        Root data directory; see :func:`get_data_dir`.
    overwrite : bool, default=False
        Download the file even if it is cached.
    verbose : int, default=1
        Verbosity level.

    Returns
    -------
    path : pathlib.Path
        Absolute path of the local file, ``get_data_dir(data_dir) / name``.

    Raises
    ------
    ValueError
        If ``name`` is not in the registry.
    DataUnavailableError
        If the file must be downloaded and cannot be.
    ChecksumError
        If the downloaded file does not have the registered checksum.
    """
    if name not in FILE_REGISTRY:
        import difflib

        close = difflib.get_close_matches(str(name), FILE_REGISTRY, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"Unknown registered file {name!r}.{hint} Available files: "
            f"{sorted(FILE_REGISTRY)}."
        )
    url, sha256 = FILE_REGISTRY[name]
    relative = Path(*name.split("/"))
    folder = get_data_dir(data_dir) / relative.parent
    return fetch_file(
        url,
        data_dir=folder,
        filename=relative.name,
        sha256=sha256,
        overwrite=overwrite,
        verbose=verbose,
    )
