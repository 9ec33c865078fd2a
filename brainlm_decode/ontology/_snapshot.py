"""The Cognitive Atlas snapshot shipped with the package, and ontology resolution.

``brainlm_decode/data/cognitive_atlas/`` holds a gzip JSON
:class:`~brainlm_decode.ontology.CognitiveAtlas` built from the Cognitive Atlas
JSON export by ``scripts/build_cognitive_atlas_snapshot.py``, and a
``manifest.json`` with its version, date, sha256 and CC BY-SA attribution. It is
the default ontology of every decoder, so training works offline out of the box;
the live API is used only when asked (``ontology="live"``).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainlm_decode.ontology._atlas import CognitiveAtlas

#: Names accepted by :func:`resolve_ontology` besides objects, loaders and paths.
ONTOLOGY_KEYWORDS = ("snapshot", "live")
_MANIFEST = "manifest.json"
#: Manifest entries copied onto ``CognitiveAtlas.metadata``.
_METADATA_KEYS = (
    "name",
    "version",
    "date",
    "license",
    "license_url",
    "attribution",
    "citation",
    "source_url",
    "sha256",
)


def snapshot_dir() -> Path:
    """Folder of the shipped Cognitive Atlas snapshot.

    Returns
    -------
    Path
        ``brainlm_decode/data/cognitive_atlas`` inside the installed package.
    """
    root = importlib.resources.files("brainlm_decode") / "data" / "cognitive_atlas"
    return Path(str(root))


def cognitive_atlas_snapshot_info() -> dict[str, Any]:
    """Manifest of the shipped snapshot: version, date, sha256, licence, attribution.

    Returns
    -------
    dict
        The content of ``manifest.json`` (keys include ``version``, ``date``,
        ``file``, ``sha256``, ``license``, ``attribution`` and ``citation``).

    Raises
    ------
    FileNotFoundError
        When the package was installed without its data files.
    """
    path = snapshot_dir() / _MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"The Cognitive Atlas snapshot manifest {str(path)!r} is missing: the "
            "package data was not installed. Reinstall brainlm_decode, or pass "
            "ontology='live' or a Cognitive Atlas export folder."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_cognitive_atlas_snapshot(*, verify: bool = True) -> CognitiveAtlas:
    """Load the Cognitive Atlas snapshot shipped with the package (offline).

    Parameters
    ----------
    verify : bool, default=True
        Check the file's sha256 against ``manifest.json`` first.

    Returns
    -------
    atlas : CognitiveAtlas
        853 tasks, 915 concepts and 10 domains of the Cognitive Atlas export, with
        definitions. ``atlas.metadata`` holds ``version`` (e.g.
        ``"cogat-export-2020-05-22"``), ``date``, ``license`` (CC BY-SA 3.0),
        ``attribution``, ``citation`` and ``sha256``.

    Raises
    ------
    ValueError
        When the file does not match its checksum (a corrupted installation).

    See Also
    --------
    brainlm_decode.ontology.fetch_cognitive_atlas : the live API, cached on disk.

    Examples
    --------
    >>> from brainlm_decode.ontology import load_cognitive_atlas_snapshot
    >>> atlas = load_cognitive_atlas_snapshot()
    >>> atlas.metadata["version"]  # doctest: +SKIP
    'cogat-export-2020-05-22'
    """
    info = cognitive_atlas_snapshot_info()
    path = snapshot_dir() / info["file"]
    data = path.read_bytes()
    if verify and hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError(
            f"The Cognitive Atlas snapshot {str(path)!r} does not match the sha256 of "
            "its manifest: the installation is corrupted. Reinstall brainlm_decode."
        )
    atlas = CognitiveAtlas.from_dict(json.loads(gzip.decompress(data)))
    atlas.metadata = {k: info[k] for k in _METADATA_KEYS if k in info}
    return atlas


def _is_atlas(value: Any) -> bool:
    return hasattr(value, "task_concept_matrix") and hasattr(value, "vocabulary")


def resolve_ontology(
    ontology: Any = None, *, verbose: int = 0, argument: str = "ontology"
) -> CognitiveAtlas:
    """The ontology an estimator decodes into, from its ``ontology`` parameter.

    Parameters
    ----------
    ontology : CognitiveAtlas, {"snapshot", "live"}, callable, path or None
        ``None`` or ``"snapshot"``: the snapshot shipped with the package
        (offline). ``"live"``: the live Cognitive Atlas API through
        :func:`~brainlm_decode.ontology.fetch_cognitive_atlas` (cached on disk;
        a clear error when offline without a cache). A callable: a loader called
        without arguments that returns a :class:`CognitiveAtlas`. A path: a
        Cognitive Atlas JSON export folder or a saved :class:`CognitiveAtlas`.
    verbose : int, default=0
        Verbosity of the live download.
    argument : str, default="ontology"
        Name used in error messages.

    Returns
    -------
    atlas : CognitiveAtlas

    Raises
    ------
    FileNotFoundError
        When a path does not exist.
    TypeError
        When a loader does not return an ontology.
    """
    from brainlm_decode.ontology._loaders import (
        fetch_cognitive_atlas,
        load_cognitive_atlas_dump,
    )

    if ontology is None or (isinstance(ontology, str) and ontology == "snapshot"):
        return load_cognitive_atlas_snapshot()
    if isinstance(ontology, str) and ontology == "live":
        return fetch_cognitive_atlas(verbose=verbose)
    if _is_atlas(ontology):
        return ontology
    if isinstance(ontology, (str, os.PathLike)):
        path = Path(ontology)
        if not path.exists():
            raise FileNotFoundError(
                f"The {argument!r} parameter is {str(ontology)!r}, which is neither "
                f"one of {list(ONTOLOGY_KEYWORDS)} nor an existing Cognitive Atlas "
                "export folder or saved ontology file."
            )
        if path.is_dir() and (path / "TaskCollection.json").exists():
            return load_cognitive_atlas_dump(path)
        return CognitiveAtlas.load(path)
    if callable(ontology):
        return _call_loader(ontology, argument)
    raise TypeError(
        f"The {argument!r} parameter must be a CognitiveAtlas, one of "
        f"{list(ONTOLOGY_KEYWORDS)}, a loader, a path or None. Got "
        f"{type(ontology).__name__} instead."
    )


def _call_loader(loader: Callable[[], Any], argument: str) -> CognitiveAtlas:
    atlas = loader()
    if not _is_atlas(atlas):
        raise TypeError(
            f"The loader given as {argument!r} must return a CognitiveAtlas. Got "
            f"{type(atlas).__name__} from {getattr(loader, '__name__', loader)!r}."
        )
    return atlas


__all__ = [
    "ONTOLOGY_KEYWORDS",
    "cognitive_atlas_snapshot_info",
    "load_cognitive_atlas_snapshot",
    "resolve_ontology",
    "snapshot_dir",
]
