"""Save and load :class:`~brainlm_decode.clip.model.CLIPModel` (safetensors + JSON).

A saved model is a folder with two files:

- ``model.safetensors``: the weights (``state_dict``), safetensors format;
- ``config.json``: a format name and version, the package version, the model's
  constructor arguments (:meth:`CLIPModel.get_config`) and the SHA-256 of the
  weights file.

A CLIP model is a component (a decoder saves it in its ``clip/`` folder), so
other files of the folder are left alone: each file is written to a temporary
file in the folder and moved into place with :func:`os.replace` (atomic on POSIX
and Windows), weights first and config last; the checksum in the config lets
:func:`load_clip` detect a weights file that does not belong to the config (e.g.
an interrupted overwrite) or is corrupted. The configuration is read and the
checksum verified by the one persistence layer (:mod:`brainlm_decode.persistence`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from brainlm_decode._io import atomic_write, sha256_file
from brainlm_decode._version import __version__
from brainlm_decode.persistence import checked_file, read_config

__all__ = [
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "load_clip",
    "save_clip",
]

#: Name of the format written in ``config.json``.
FORMAT_NAME = "brainlm_decode.clip.CLIPModel"
#: Version of the on-disk format; :func:`load_clip` refuses newer versions.
FORMAT_VERSION = 1
#: File names inside a saved model folder.
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_clip(model: Any, folder: str | os.PathLike) -> Path:
    """Save a CLIP model to ``folder`` (created if needed; files replaced atomically).

    Parameters
    ----------
    model : CLIPModel
        The model to save (any device; weights are written from CPU copies).
    folder : str or path-like
        Destination folder; other files in it are left alone.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    TypeError
        When ``model`` is not a :class:`~brainlm_decode.clip.model.CLIPModel`.
    """
    from safetensors.torch import save_file

    from brainlm_decode.clip.model import CLIPModel

    if not isinstance(model, CLIPModel):
        raise TypeError(
            "The 'model' argument of save_clip must be a CLIPModel. "
            f"Got {type(model).__name__} instead."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        name: tensor.detach().to("cpu").contiguous().clone()
        for name, tensor in model.state_dict().items()
    }
    weights = folder / WEIGHTS_NAME
    atomic_write(weights, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model": model.get_config(),
        "weights": {"file": WEIGHTS_NAME, "sha256": sha256_file(weights)},
    }
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    atomic_write(
        folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text, encoding="utf-8")
    )
    return folder


def _read_config(folder: Path) -> dict[str, Any]:
    config = read_config(
        folder,
        CONFIG_NAME,
        format_name=FORMAT_NAME,
        supported=FORMAT_VERSION,
        what="saved CLIPModel",
    )
    path = folder / CONFIG_NAME
    weights = config.get("weights")
    if not isinstance(config.get("model"), dict) or not (
        isinstance(weights, dict) and {"file", "sha256"} <= set(weights)
    ):
        raise ValueError(f"{path} lacks the 'model' or 'weights' entries.")
    return config


def load_clip(folder: str | os.PathLike, device: Any = "cpu") -> Any:
    """Load a CLIP model saved by :func:`save_clip`.

    Parameters
    ----------
    folder : str or path-like
        Folder written by :func:`save_clip`.
    device : str or torch.device, default="cpu"
        Device to place the model on (``"auto"`` picks CUDA, MPS, then CPU).

    Returns
    -------
    CLIPModel
        The model, in eval mode.

    Raises
    ------
    FileNotFoundError
        When the folder has no config or weights file.
    ValueError
        When the config is not a CLIP model config, its version is newer than this
        package reads, or the weights do not match the config's checksum.
    """
    from safetensors.torch import load_file

    from brainlm_decode.base import resolve_device
    from brainlm_decode.clip.model import CLIPModel

    folder = Path(folder)
    config = _read_config(folder)
    weights = checked_file(folder, config["weights"], CONFIG_NAME)
    model = CLIPModel.from_config(config["model"])
    model.load_state_dict(load_file(str(weights), device="cpu"), strict=True)
    return model.to(resolve_device(device)).eval()
