"""Saving, loading and shipping fitted :class:`CLIPDecoder` objects.

A saved decoder is a folder::

    config.json           format name and version, parameters, learned scalars
    clip/                 CLIP weights (safetensors) + model config
    image_space/          the fitted image space (NIfTI + JSON)
    ontology.json         the ontology (names, ids, links; definitions optional)
    arrays.safetensors    task embeddings, prior, vocabulary embeddings (tasks and
                          concepts)
    manifest.json         sha256 of every file (+ provenance and licences)

Folders are written, checked and read by the one persistence layer
(:mod:`brainlm_decode.persistence`): built next to the destination and moved in
place only once complete, so an existing decoder is never left half-overwritten;
every file is checked against the manifest before anything is read.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainlm_decode import persistence
from brainlm_decode._version import __version__
from brainlm_decode.base import DEPRECATED

FORMAT = "brainlm_decode.CLIPDecoder"
FORMAT_VERSION = 1
DEFAULT_PRETRAINED = "niclip-neuroquery-minilm"
_ARRAYS = ("task_embeddings_", "prior_", "vocabulary_embeddings_")
#: Arrays saved when present (``None`` otherwise; absent in earlier versions' files).
_OPTIONAL_ARRAYS = ("concept_embeddings_",)
_SCALARS = ("logit_scale_", "n_studies_", "n_features_in_")

#: Former parameter names -> current names. Files saved before a rename (such as
#: the packaged bundle) load with the value under the current name; decoders are
#: saved under the current names only.
_RENAMED = {"max_epochs": "n_epochs"}
#: Plugin parameters -> their plugin groups (saved by registered name only).
_PLUGIN_PARAMS = {"text_encoder": "text_encoders", "image_space": "image_spaces"}


def _json_params(decoder: Any) -> dict[str, Any]:
    """Parameters as JSON; plugin instances become their registered names."""
    params: dict[str, Any] = {}
    for name, value in decoder.get_params(deep=False).items():
        if name in _PLUGIN_PARAMS and not isinstance(value, str):
            value = persistence.plugin_to_json(value, _PLUGIN_PARAMS[name]) or {
                "plugin": None,
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


def _restore_params(params: dict[str, Any], source: Any) -> dict[str, Any]:
    out = dict(params)
    for old, new in _RENAMED.items():
        if old in out:
            value = out.pop(old)
            if value != DEPRECATED and new not in out:
                out[new] = value
    for name, group in _PLUGIN_PARAMS.items():
        value = out.get(name)
        if isinstance(value, dict):
            kept = {
                k: v for k, v in (value.get("params") or {}).items() if v is not None
            }
            out[name] = (
                persistence.plugin_from_json(
                    {**value, "params": kept}, group, source=source
                )
                if value.get("plugin")
                else None
            )
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

    def write(tmp: Path) -> dict[str, Any]:
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
            + tuple(
                n for n in _OPTIONAL_ARRAYS if getattr(decoder, n, None) is not None
            )
        }
        save_file(arrays, str(tmp / "arrays.safetensors"))
        return {
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

    return persistence.save_folder(
        path,
        write,
        format_name=FORMAT,
        format_version=FORMAT_VERSION,
        overwrite=overwrite,
        what="saved decoder",
        manifest_extra=manifest_extra,
    )


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
    return persistence.check_save_path(path, overwrite=overwrite, what="saved decoder")


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
        When the manifest or a file is missing or a checksum differs.
    """
    persistence.verify_manifest(path, "saved decoder")


def load_decoder(cls: type, path: str | os.PathLike) -> Any:
    """Read a folder written by :func:`save_decoder` into a fitted ``cls``."""
    from safetensors.numpy import load_file

    from brainlm_decode.clip.inference import load_clip_lazy
    from brainlm_decode.imaging.spaces import ImageSpace
    from brainlm_decode.ontology import CognitiveAtlas

    path = Path(path)
    config = persistence.load_folder(
        path,
        format_name=FORMAT,
        supported=FORMAT_VERSION,
        what="saved decoder",
        required=("params", "fitted"),
    )
    missing = [k for k in ("params", "fitted") if not isinstance(config.get(k), dict)]
    if missing:
        raise ValueError(
            f"The decoder configuration {str(path / 'config.json')!r} lacks the "
            f"entries {missing}; the file is incomplete or was edited."
        )
    decoder = cls(**_restore_params(config["params"], path / "config.json"))
    decoder.model_ = load_clip_lazy(path / "clip", _verified=True)  # torch: on use
    decoder.image_space_ = ImageSpace.load(path / "image_space", _verified=True)
    decoder.ontology_ = CognitiveAtlas.load(path / "ontology.json")
    arrays = load_file(str(path / "arrays.safetensors"))
    for name in _ARRAYS:
        setattr(decoder, name, arrays[name.rstrip("_")].astype(np.float64))
    for name in _OPTIONAL_ARRAYS:
        value = arrays.get(name.rstrip("_"))
        setattr(decoder, name, None if value is None else value.astype(np.float64))
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
