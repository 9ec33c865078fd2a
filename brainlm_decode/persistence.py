"""The one persistence layer: saved folders, format versions, checksums, plugins.

Every fitted object that brainlm_decode saves (decoders, image spaces, tokenizers,
CLIP models, fMRI-LM adapters) goes through this module:

- **Layout.** A saved object is a folder holding a JSON configuration (its
  ``"format"`` name and ``"format_version"``), its data files, and
  ``manifest.json``, the sha256 of every file (:func:`save_folder`).
- **Checksums, always.** :func:`load_folder` verifies every file against the
  manifest before anything is read. Folders written before manifests load only
  when their configuration records the checksum of their weights
  (``"weights": {"file", "sha256"}``, CLIP models and tokenizers); other folders
  without a manifest are refused (:func:`write_manifest` adds one to a folder
  you trust). A folder nested in a verified folder (the image space of a
  decoder) is covered by the outer manifest.
- **One version scheme** (:func:`check_format_version`): each format has a
  positive int ``FORMAT_VERSION``, bumped only when a reader of the previous
  version could not read the new files; newer files are refused with a message
  to upgrade.
- **Atomic writes.** The folder is built beside the destination and swapped in
  place once complete; an existing folder is replaced only with
  ``overwrite=True``, only when it is a saved object, and is kept when the
  write fails.
- **Nested estimators by registered plugin name only** (:func:`plugin_to_json`,
  :func:`plugin_from_json`): a file never names a class to import. Class paths
  (``"module:Class"``) are refused, except the paths of built-in plugins that
  earlier versions wrote (:data:`LEGACY_CLASS_PATHS`), which map to plugin names
  without importing anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainlm_decode._io import (
    atomic_directory,
    atomic_write_text,
    read_json,
    sha256_file,
)

__all__ = [
    "CONFIG_NAME",
    "LEGACY_CLASS_PATHS",
    "MANIFEST_NAME",
    "check_format_version",
    "check_save_path",
    "checked_file",
    "load_folder",
    "plugin_class",
    "plugin_from_json",
    "plugin_to_json",
    "read_config",
    "save_folder",
    "verify_manifest",
    "write_json",
    "write_manifest",
]

#: Default name of the configuration file of a saved folder.
CONFIG_NAME = "config.json"
#: Name of the checksum table of a saved folder.
MANIFEST_NAME = "manifest.json"

#: Import paths of built-in plugins written by earlier versions (image spaces as
#: ``"class"``, tokenizer estimators as ``"__estimator__"``), per group, mapped to
#: their plugin names. Nothing is imported; any other class path is refused.
LEGACY_CLASS_PATHS: dict[str, dict[str, str]] = {
    "image_spaces": {
        "brainlm_decode.imaging.spaces:MNIParcelSpace": "mni-parcels",
        "brainlm_decode.imaging.spaces:AtlasSpace": "atlas",
        "brainlm_decode.imaging.spaces:DiFuMoSpace": "difumo",
    },
    "quantizers": {
        "brainlm_decode.tokenizer.quantizers:VectorQuantizer": "vq",
        "brainlm_decode.tokenizer.quantizers:FiniteScalarQuantizer": "fsq",
    },
    "text_encoders": {
        "brainlm_decode.text.encoders:MiniLMEncoder": "minilm",
        "brainlm_decode.text.encoders:HFEncoder": "hf",
        "brainlm_decode.text.gemma:GemmaEncoder": "gemma-3-270m",
    },
    "descriptors": {
        "brainlm_decode.descriptors.connectivity:FunctionalConnectivity": (
            "connectivity"
        ),
        "brainlm_decode.descriptors.gradients:FunctionalGradients": "gradients",
        "brainlm_decode.descriptors.graph:GraphMetrics": "graph",
        "brainlm_decode.descriptors.ica:ICADescriptors": "ica",
    },
    "backbones": {
        "brainlm_decode.lm.backbones:HFBackbone": "hf",
        "brainlm_decode.lm.backbones:GemmaBackbone": "gemma-3-270m",
    },
}


# -- format versions ------------------------------------------------------------------


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

    Examples
    --------
    >>> from brainlm_decode.persistence import check_format_version
    >>> check_format_version(1, 2, "decoder")
    1
    >>> check_format_version(None, 2, "decoder")  # written before versions
    0
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


# -- configuration files --------------------------------------------------------------


def write_json(path: str | os.PathLike, document: Any) -> Path:
    """Write a configuration or manifest as indented, key-sorted JSON (UTF-8).

    Parameters
    ----------
    path : str or os.PathLike
        The file (inside a folder being built by :func:`save_folder`).
    document : object
        JSON-serialisable content.

    Returns
    -------
    Path
    """
    path = Path(path)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def read_config(
    folder: str | os.PathLike,
    name: str = CONFIG_NAME,
    *,
    format_name: str,
    supported: int,
    what: str,
    required: tuple[str, ...] = (),
    unnamed_ok: bool = False,
) -> dict:
    """Read and check the JSON configuration of a saved object.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder written by the object's ``save``.
    name : str, default="config.json"
        File name of the configuration in ``folder``.
    format_name : str
        Expected value of its ``"format"`` entry.
    supported : int
        Newest ``"format_version"`` this version reads.
    what : str
        What was saved, for messages (``"saved FMRITokenizer"``).
    required : tuple of str, default=()
        Entries the configuration must have.
    unnamed_ok : bool, default=False
        Accept a configuration without a ``"format"`` entry (files written
        before the format was named).

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
    config = read_json(path, f"{what} configuration")
    found = config.get("format") if isinstance(config, dict) else None
    if not isinstance(config, dict) or (
        found != format_name and not (unnamed_ok and found is None)
    ):
        raise ValueError(
            f"{path} does not describe a {what} (format {found!r}, expected "
            f"{format_name!r})."
        )
    check_format_version(config.get("format_version"), supported, what, path)
    missing = set(required) - set(config)
    if missing:
        raise ValueError(
            f"{path} lacks the entries {sorted(missing)}; the file is incomplete "
            "or was edited."
        )
    return config


# -- checksums ------------------------------------------------------------------------


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


def write_manifest(
    folder: str | os.PathLike,
    format_name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``manifest.json``: the sha256 of every file of ``folder``.

    :func:`save_folder` calls it; call it yourself only to add a manifest to a
    folder you trust that was written before brainlm_decode recorded checksums.

    Parameters
    ----------
    folder : str or os.PathLike
        The saved folder.
    format_name : str or None, default=None
        Format recorded in the manifest (default: the ``"format"`` of
        ``config.json``, if any).
    extra : dict or None, default=None
        More entries (provenance, licences); by default, those of the existing
        manifest, if any.

    Returns
    -------
    Path
        The manifest file.
    """
    folder = Path(folder)
    if format_name is None and (folder / CONFIG_NAME).is_file():
        config = read_json(folder / CONFIG_NAME, "configuration")
        format_name = config.get("format") if isinstance(config, dict) else None
    if extra is None and (folder / MANIFEST_NAME).is_file():  # keep provenance
        old = read_json(folder / MANIFEST_NAME, "manifest")
        extra = {
            k: v
            for k, v in (old if isinstance(old, dict) else {}).items()
            if k not in ("format", "files")
        }
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_NAME
    )
    manifest = {
        "format": format_name,
        "files": {p.relative_to(folder).as_posix(): sha256_file(p) for p in files},
        **(extra or {}),
    }
    # not key-sorted: provenance entries keep the order they were given in
    text = json.dumps(manifest, indent=1) + "\n"
    return atomic_write_text(folder / MANIFEST_NAME, text)


def verify_manifest(folder: str | os.PathLike, what: str = "saved object") -> dict:
    """Check every file of a saved folder against its manifest sha256.

    Parameters
    ----------
    folder : str or os.PathLike
        The saved folder.
    what : str, default="saved object"
        What was saved, for messages.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    ValueError
        When the manifest is missing or has no checksum table, or a file is
        missing or its checksum differs.
    """
    folder = Path(folder)
    file = folder / MANIFEST_NAME
    if not file.is_file():
        raise ValueError(
            f"The {what} at {str(folder)!r} has no {MANIFEST_NAME}: its files "
            "cannot be checked against their sha256 checksums, which are required. "
            "Save it again (save writes the manifest); for a folder you trust that "
            "was written before checksums were recorded, "
            "brainlm_decode.persistence.write_manifest(path) adds one."
        )
    manifest = read_json(file, f"{what} manifest")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ValueError(
            f"The {what} manifest {str(file)!r} has no 'files' table of checksums."
        )
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise ValueError(f"The {what} at {str(folder)!r} lacks {name!r}.")
        if sha256_file(path) != digest:
            raise ValueError(
                f"The file {str(path)!r} does not match its manifest checksum: the "
                f"{what} is corrupted or was edited."
            )
    return manifest


def _verify(folder: Path, config: dict, config_name: str, what: str) -> None:
    """Checksums of a loaded folder: the manifest, else the legacy weights entry."""
    weights = config.get("weights")
    if (folder / MANIFEST_NAME).is_file() or not (
        isinstance(weights, dict) and {"file", "sha256"} <= set(weights)
    ):
        verify_manifest(folder, what)
    else:  # written before manifests: the config records the weights' checksum
        checked_file(folder, weights, config_name)


# -- folders --------------------------------------------------------------------------


def check_save_path(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    config_name: str = CONFIG_NAME,
    what: str = "saved object",
) -> Path:
    """Check, before any work, that an object can be saved to ``path``.

    Parameters
    ----------
    path : str or path-like
        Destination folder.
    overwrite : bool, default=False
        Whether an existing saved object may be replaced.
    config_name : str, default="config.json"
        Configuration file that marks a folder as a saved object.
    what : str, default="saved object"
        What is saved, for messages.

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False, or exists and is not a
        saved object (never overwritten). An empty folder is always replaced.
    """
    path = Path(path)
    if path.is_dir() and not any(path.iterdir()):
        return path  # an empty folder: nothing to lose
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"The 'path' argument {str(path)!r} exists; pass overwrite=True to replace it."
        )
    if path.exists() and (path.is_file() or not (path / config_name).exists()):
        raise FileExistsError(
            f"Refusing to overwrite {str(path)!r}: it is not a {what}."
        )
    return path


def save_folder(
    path: str | os.PathLike,
    write: Callable[[Path], dict[str, Any]],
    *,
    format_name: str,
    format_version: int,
    overwrite: bool = False,
    config_name: str = CONFIG_NAME,
    what: str = "saved object",
    manifest_extra: dict[str, Any] | None = None,
) -> Path:
    """Write a saved folder atomically: data files, configuration, manifest.

    Parameters
    ----------
    path : str or path-like
        Destination folder.
    write : callable
        ``write(tmp)`` writes the data files into the temporary folder ``tmp``
        and returns the configuration (a JSON-serialisable dict); its
        ``"format"`` and ``"format_version"`` entries are set here.
    format_name : str
        Format recorded in the configuration and the manifest.
    format_version : int
        Version of the format written.
    overwrite : bool, default=False
        Replace an existing saved object (only once the new one is complete).
    config_name : str, default="config.json"
        File name of the configuration.
    what : str, default="saved object"
        What is saved, for messages.
    manifest_extra : dict or None, default=None
        More manifest entries (provenance, licences).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    FileExistsError
        See :func:`check_save_path`.
    """
    path = check_save_path(
        path, overwrite=overwrite, config_name=config_name, what=what
    )
    with atomic_directory(path) as tmp:
        config = {
            **write(tmp),
            "format": format_name,
            "format_version": format_version,
        }
        write_json(tmp / config_name, config)
        write_manifest(tmp, format_name, manifest_extra)
    return path


def load_folder(
    path: str | os.PathLike,
    *,
    format_name: str,
    supported: int,
    what: str,
    config_name: str = CONFIG_NAME,
    required: tuple[str, ...] = (),
    verified: bool = False,
    unnamed_ok: bool = False,
) -> dict:
    """Read the configuration of a saved folder and verify its checksums.

    Parameters
    ----------
    path : str or path-like
        Folder written by :func:`save_folder`.
    format_name, supported, what, config_name, required, unnamed_ok
        See :func:`read_config`.
    verified : bool, default=False
        The folder lies in a folder whose manifest was verified (it covers
        these files too).

    Returns
    -------
    dict
        The configuration.

    Raises
    ------
    FileNotFoundError
        When the configuration is missing.
    ValueError
        Another format, a newer version, missing entries, or a file whose
        checksum is missing or differs.
    """
    folder = Path(path)
    manifest_first = not verified and (folder / MANIFEST_NAME).is_file()
    if manifest_first:  # nothing is read before its checksum is verified
        verify_manifest(folder, what)
    config = read_config(
        folder,
        config_name,
        format_name=format_name,
        supported=supported,
        what=what,
        required=required,
        unnamed_ok=unnamed_ok,
    )
    if not verified and not manifest_first:
        _verify(folder, config, config_name, what)
    return config


# -- nested estimators ----------------------------------------------------------------


def plugin_class(group: str, spec: Any, *, source: Any = "the file") -> type:
    """Class of a nested estimator named in a file: by registered plugin name only.

    Parameters
    ----------
    group : str
        Plugin group.
    spec : str
        Plugin name (or the import path of a built-in plugin written by earlier
        versions, see :data:`LEGACY_CLASS_PATHS`).
    source : str or path-like, default="the file"
        Where ``spec`` was read, for the message.

    Returns
    -------
    type

    Raises
    ------
    ValueError
        When ``spec`` is a class path, or not a registered plugin name.

    Examples
    --------
    >>> from brainlm_decode.persistence import plugin_class
    >>> plugin_class("quantizers", "vq").__name__
    'VectorQuantizer'
    """
    from brainlm_decode.plugins import _check_group, get_plugin_class, list_plugins

    group = _check_group(group)
    if isinstance(spec, str):
        spec = LEGACY_CLASS_PATHS.get(group, {}).get(spec, spec)
    if isinstance(spec, str) and spec and ":" not in spec:
        # unknown names: the registry's message (available names, extra to install)
        return get_plugin_class(group, spec)
    what = "a class path, not" if isinstance(spec, str) else "not"
    raise ValueError(
        f"{source} names the {group} estimator {spec!r}, which is {what} "
        f"a registered plugin name (available: {list_plugins(group)}). "
        "brainlm_decode loads nested estimators by registered plugin name only and "
        "never imports a class named in a file; register the plugin (entry point "
        "or register_plugin) and save the object again."
    )


def plugin_to_json(
    value: Any,
    group: str | None = None,
    convert: Callable[[str, Any], Any] | None = None,
) -> dict[str, Any] | None:
    """JSON form of a nested estimator: ``{"plugin", "group", "params"}``.

    Parameters
    ----------
    value : estimator
        A plugin instance.
    group : str or None, default=None
        Its plugin group (default: the first group where its class is registered).
    convert : callable or None, default=None
        ``convert(name, value)`` turns each parameter into JSON (default: kept
        when JSON-serialisable, else ``None``).

    Returns
    -------
    dict or None
        ``None`` when the class is not a registered plugin (nested estimators are
        saved by plugin name only).
    """
    from brainlm_decode.plugins import GROUPS, plugin_name

    for candidate in [group] if group else list(GROUPS):
        name = plugin_name(candidate, value)
        if name is not None:
            convert = convert or (lambda _, v: _jsonable(v))
            params = {k: convert(k, v) for k, v in value.get_params(deep=False).items()}
            return {"plugin": name, "group": candidate, "params": params}
    return None


def plugin_from_json(
    spec: dict[str, Any],
    group: str | None = None,
    *,
    source: Any = "the file",
    convert: Callable[[Any], Any] | None = None,
) -> Any:
    """Rebuild a nested estimator from :func:`plugin_to_json` output.

    Also reads the shapes of earlier versions: ``{"__plugin__": [group, name]}``
    and ``{"__estimator__": path}`` (a built-in's path only).

    Parameters
    ----------
    spec : dict
        The saved entry.
    group : str or None, default=None
        Plugin group (default: the one recorded in ``spec``).
    source : str or path-like, default="the file"
        Where ``spec`` was read, for messages.
    convert : callable or None, default=None
        Applied to each saved parameter value (to rebuild nested values).

    Returns
    -------
    estimator

    Raises
    ------
    ValueError
        See :func:`plugin_class`.
    """
    if "__plugin__" in spec:
        group, name = spec["__plugin__"]
    elif "__estimator__" in spec:
        name = spec["__estimator__"]
        group = group or _legacy_group(name)
    else:
        name = spec.get("plugin", spec.get("class"))
        group = group or spec.get("group")
    if group is None:
        raise ValueError(
            f"{source} names the nested estimator {name!r}, which is not a registered "
            "plugin name. brainlm_decode loads nested estimators by registered "
            "plugin name only and never imports a class named in a file."
        )
    cls = plugin_class(group, name, source=source)
    convert = convert or (lambda v: v)
    return cls(**{k: convert(v) for k, v in (spec.get("params") or {}).items()})


def _legacy_group(path: Any) -> str | None:
    for group, paths in LEGACY_CLASS_PATHS.items():
        if path in paths:
            return group
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    try:
        json.dumps(value)
    except TypeError:
        return None
    return value
