"""Saving, loading and shipping fitted :class:`CLIPDecoder` objects.

A saved decoder is a folder::

    config.json           format name and version, parameters, learned scalars
    clip/                 CLIP weights (safetensors) + model config
    image_space/          the fitted image space (NIfTI + JSON)
    ontology.json         the ontology (names, ids, links; definitions optional)
    arrays.safetensors    task embeddings, prior, vocabulary embeddings
    manifest.json         sha256 of every file (+ provenance and licences)

Folders are written next to the destination and moved in place only once complete,
so an existing decoder is never left half-overwritten.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainlm_decode._io import (
    atomic_directory,
    check_format_version,
    read_json,
    sha256_file,
)
from brainlm_decode._version import __version__
from brainlm_decode.base import DEPRECATED

FORMAT = "brainlm_decode.CLIPDecoder"
FORMAT_VERSION = 1
DEFAULT_PRETRAINED = "niclip-neuroquery-minilm"
_ARRAYS = ("task_embeddings_", "prior_", "vocabulary_embeddings_")
_SCALARS = ("logit_scale_", "n_studies_", "n_features_in_")

#: Former parameter names -> current names. Files saved before a rename (such as
#: the packaged bundle) load with the value under the current name; decoders are
#: saved under the current names only.
_RENAMED = {"max_epochs": "n_epochs"}


def _json_params(decoder: Any) -> dict[str, Any]:
    """Parameters as JSON; plugin instances become their registered names."""
    from brainlm_decode.plugins import get_plugin_class, list_plugins

    params: dict[str, Any] = {}
    for name, value in decoder.get_params(deep=False).items():
        if name in ("text_encoder", "image_space") and not isinstance(value, str):
            group = "text_encoders" if name == "text_encoder" else "image_spaces"
            names = [
                n
                for n in list_plugins(group)
                if get_plugin_class(group, n) is type(value)
            ]
            value = {
                "plugin": names[0] if names else None,
                "params": _plain(value.get_params()),
            }
        elif name == "ontology":
            value = None  # stored as ontology.json
        params[name] = _plain(value)
    for old, new in _RENAMED.items():
        value = params.pop(old, DEPRECATED)
        if value != DEPRECATED:
            params[new] = value  # the value fit used (see CLIPDecoder.fit)
    return params


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    try:
        json.dumps(value)
    except TypeError:
        return None
    return value


def _restore_params(params: dict[str, Any]) -> dict[str, Any]:
    from brainlm_decode.plugins import get_plugin

    out = dict(params)
    for old, new in _RENAMED.items():
        if old in out:
            value = out.pop(old)
            if value != DEPRECATED and new not in out:
                out[new] = value
    for name, group in (
        ("text_encoder", "text_encoders"),
        ("image_space", "image_spaces"),
    ):
        value = out.get(name)
        if isinstance(value, dict):
            plugin = value.get("plugin")
            kept = {
                k: v for k, v in (value.get("params") or {}).items() if v is not None
            }
            out[name] = get_plugin(group, plugin, **kept) if plugin else plugin
    if isinstance(out.get("text_source"), list):
        out["text_source"] = tuple(out["text_source"])
    return out


def save_decoder(
    decoder: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    include_definitions: bool = True,
    manifest_extra: dict[str, Any] | None = None,
) -> Path:
    """Write a fitted decoder to ``path`` (see the module docstring for the layout).

    Parameters
    ----------
    decoder : CLIPDecoder
        Fitted decoder.
    path : str or path-like
        Destination folder.
    overwrite : bool, default=False
        Replace an existing saved decoder.
    include_definitions : bool, default=True
        Keep term definitions in ``ontology.json`` (bundles shipped with the
        package leave them out).
    manifest_extra : dict or None, default=None
        Provenance written into ``manifest.json`` (data sources, licences).

    Returns
    -------
    Path
    """
    from safetensors.numpy import save_file

    from brainlm_decode.clip.serialization import save_clip

    path = check_save_path(path, overwrite=overwrite)
    with atomic_directory(path) as tmp:
        save_clip(decoder.model_, tmp / "clip")
        decoder.image_space_.save(tmp / "image_space")
        atlas = (
            decoder.ontology_
            if include_definitions
            else _strip_definitions(decoder.ontology_)
        )
        atlas.save(tmp / "ontology.json")
        arrays = {
            name.rstrip("_"): np.ascontiguousarray(
                getattr(decoder, name), dtype=np.float32
            )
            for name in _ARRAYS
        }
        save_file(arrays, str(tmp / "arrays.safetensors"))
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "brainlm_decode_version": __version__,
            "params": _json_params(decoder),
            "fitted": {
                name: getattr(decoder, name)
                for name in (*_SCALARS, "temperature_")
                if hasattr(decoder, name)
            },
            "calibration": _plain(getattr(decoder, "calibration_", None)),
            "history": _plain(decoder.history_),
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT,
            "files": {str(p.relative_to(tmp)): sha256_file(p) for p in files},
            **(manifest_extra or {}),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return path


def check_save_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check, before any work, that a decoder can be saved to ``path``.

    Parameters
    ----------
    path : str or path-like
        Destination folder.
    overwrite : bool, default=False
        Whether an existing saved decoder may be replaced.

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False, or exists and is not a
        saved decoder (never overwritten).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"The 'path' argument {str(path)!r} exists; pass overwrite=True to replace it."
        )
    if path.exists() and (path.is_file() or not (path / "config.json").exists()):
        raise FileExistsError(
            f"Refusing to overwrite {str(path)!r}: it is not a saved decoder."
        )
    return path


def _strip_definitions(atlas: Any) -> Any:
    from brainlm_decode.ontology import CognitiveAtlas

    data = atlas.to_dict()
    for level in ("tasks", "concepts", "domains"):
        for entry in data[level]:
            entry["definition"] = ""
    stripped = CognitiveAtlas(
        tasks=data["tasks"],
        concepts=data["concepts"],
        domains=data["domains"],
        task_concepts=data["task_concepts"],
        concept_domains=data["concept_domains"],
        on_invalid="ignore",
        source=data.get("source"),
    )
    stripped.metadata = dict(data.get("metadata") or {})  # version, licence
    return stripped


def verify_manifest(path: str | os.PathLike) -> None:
    """Check every file of a saved decoder against its manifest sha256.

    Raises
    ------
    ValueError
        When a file is missing or its checksum differs.
    """
    path = Path(path)
    manifest = read_json(path / "manifest.json", "decoder manifest")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ValueError(
            f"The decoder manifest {str(path / 'manifest.json')!r} has no 'files' "
            "table of checksums."
        )
    for name, digest in files.items():
        file = path / name
        if not file.is_file():
            raise ValueError(f"The saved decoder at {str(path)!r} lacks {name!r}.")
        if sha256_file(file) != digest:
            raise ValueError(
                f"The file {str(file)!r} does not match its manifest checksum: the "
                "saved decoder is corrupted or was edited."
            )


def load_decoder(cls: type, path: str | os.PathLike) -> Any:
    """Read a folder written by :func:`save_decoder` into a fitted ``cls``."""
    from safetensors.numpy import load_file

    from brainlm_decode.clip.inference import load_clip_lazy
    from brainlm_decode.imaging.spaces import ImageSpace
    from brainlm_decode.ontology import CognitiveAtlas

    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"No saved CLIPDecoder at {str(path)!r}: config.json is missing."
        )
    config = read_json(config_file, "decoder configuration")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(
            f"{str(config_file)!r} holds a "
            f"{config.get('format') if isinstance(config, dict) else config!r}, not "
            f"a {FORMAT}."
        )
    check_format_version(config.get("format_version"), FORMAT_VERSION, "decoder", path)
    missing = [k for k in ("params", "fitted") if not isinstance(config.get(k), dict)]
    if missing:
        raise ValueError(
            f"The decoder configuration {str(config_file)!r} lacks the entries "
            f"{missing}; the file is incomplete or was edited."
        )
    if not (path / "manifest.json").is_file():
        raise ValueError(
            f"The saved decoder at {str(path)!r} has no manifest.json: its files "
            "cannot be checked against their sha256 checksums, which are required. "
            "Save the decoder again (CLIPDecoder.save writes the manifest)."
        )
    verify_manifest(path)
    decoder = cls(**_restore_params(config["params"]))
    decoder.model_ = load_clip_lazy(path / "clip")  # torch loads on first use
    decoder.image_space_ = ImageSpace.load(path / "image_space")
    decoder.ontology_ = CognitiveAtlas.load(path / "ontology.json")
    arrays = load_file(str(path / "arrays.safetensors"))
    for name in _ARRAYS:
        setattr(decoder, name, arrays[name.rstrip("_")].astype(np.float64))
    for name, value in config["fitted"].items():
        setattr(decoder, name, value)
    decoder.history_ = config.get("history", {})
    if config.get("calibration") is not None:
        decoder.calibration_ = config["calibration"]
    decoder.ontology = decoder.ontology_
    return decoder


def _packaged_root() -> Path:
    return Path(
        str(importlib.resources.files("brainlm_decode") / "data" / "pretrained")
    )


def list_pretrained() -> list[str]:
    """Names of the pretrained decoders shipped inside the package.

    Returns
    -------
    list of str
    """
    root = _packaged_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file())


def resolve_pretrained(name_or_path: str | os.PathLike | None) -> Path:
    """Folder of a pretrained decoder given its name or a path.

    Raises
    ------
    ValueError
        Unknown name (the message lists the packaged ones).
    """
    if name_or_path is None:
        name_or_path = DEFAULT_PRETRAINED
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path):
        raise (ValueError if isinstance(name_or_path, str) else TypeError)(
            "The 'name_or_path' argument of CLIPDecoder.from_pretrained must be a "
            f"folder written by CLIPDecoder.save or one of {list_pretrained()}. Got "
            f"{name_or_path!r} instead."
        )
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return candidate
    packaged = _packaged_root() / str(name_or_path)
    if isinstance(name_or_path, str) and (packaged / "config.json").is_file():
        return packaged
    raise ValueError(
        "The 'name_or_path' argument of CLIPDecoder.from_pretrained must be a folder "
        f"written by CLIPDecoder.save or one of {list_pretrained()}. "
        f"Got {str(name_or_path)!r} instead."
    )
