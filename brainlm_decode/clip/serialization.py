"""Save and load :class:`~brainlm_decode.clip.model.CLIPModel` (safetensors + JSON).

A saved model is a folder written by the one persistence layer
(:func:`brainlm_decode.persistence.save_folder`), like every saved object of the
package:

- ``model.safetensors``: the weights (``state_dict``), safetensors format;
- ``config.json``: a format name and version, the package version, the model's
  constructor arguments (:meth:`CLIPModel.get_config`) and the SHA-256 of the
  weights file;
- ``history.json`` (optional): the training history;
- ``manifest.json``: the SHA-256 of every file, verified before anything is read.

The folder is written in full beside its destination and moved into place, so an
interrupted save never leaves a half-written model, and an existing model is
replaced only with ``overwrite=True``. Folders written before the manifest
(weights checksum in the config only) still load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from brainlm_decode._io import sha256_file
from brainlm_decode._version import __version__
from brainlm_decode.persistence import (
    load_folder,
    save_folder,
    write_json,
)

__all__ = [
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HISTORY_NAME",
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
HISTORY_NAME = "history.json"


def save_clip(
    model: Any,
    folder: str | os.PathLike,
    *,
    overwrite: bool = False,
    history: dict[str, Any] | None = None,
) -> Path:
    """Save a CLIP model to ``folder`` (written in full, then moved into place).

    Parameters
    ----------
    model : CLIPModel
        The model to save (any device; weights are written from CPU copies).
    folder : str or path-like
        Destination folder.
    overwrite : bool, default=False
        Replace an existing saved model (only once the new one is complete).
    history : dict or None, default=None
        Training history written as ``history.json`` beside the model.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    TypeError
        When ``model`` is not a :class:`~brainlm_decode.clip.model.CLIPModel`.
    FileExistsError
        When ``folder`` exists and ``overwrite`` is False, or exists and is not a
        saved model (never overwritten).
    """
    from safetensors.torch import save_file

    from brainlm_decode.clip.model import CLIPModel

    if not isinstance(model, CLIPModel):
        raise TypeError(
            "The 'model' argument of save_clip must be a CLIPModel. "
            f"Got {type(model).__name__} instead."
        )

    def write(tmp: Path) -> dict[str, Any]:
        state = {
            name: tensor.detach().to("cpu").contiguous().clone()
            for name, tensor in model.state_dict().items()
        }
        weights = tmp / WEIGHTS_NAME
        save_file(state, str(weights), metadata={"format": "pt"})
        if history is not None:
            write_json(tmp / HISTORY_NAME, history)
        return {
            "library_version": __version__,
            "model": model.get_config(),
            # read by versions before the manifest, and by checked_file
            "weights": {"file": WEIGHTS_NAME, "sha256": sha256_file(weights)},
        }

    return save_folder(
        folder,
        write,
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        overwrite=overwrite,
        config_name=CONFIG_NAME,
        what="saved CLIPModel",
    )


def _read_config(folder: Path, *, verified: bool = False) -> dict[str, Any]:
    """The checked configuration; every file's checksum verified unless ``verified``
    (the folder lies in a saved decoder whose manifest was verified)."""
    config = load_folder(
        folder,
        format_name=FORMAT_NAME,
        supported=FORMAT_VERSION,
        what="saved CLIPModel",
        config_name=CONFIG_NAME,
        required=("model", "weights"),
        verified=verified,
    )
    weights = config["weights"]
    if not isinstance(config["model"], dict) or not (
        isinstance(weights, dict) and {"file", "sha256"} <= set(weights)
    ):
        raise ValueError(
            f"{folder / CONFIG_NAME} has malformed 'model' or 'weights' entries."
        )
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
    weights = folder / config["weights"]["file"]
    model = CLIPModel.from_config(config["model"])
    model.load_state_dict(load_file(str(weights), device="cpu"), strict=True)
    return model.to(resolve_device(device)).eval()
