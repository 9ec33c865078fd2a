"""Save and load a fitted :class:`~brainlm_decode.FMRITokenizer` (safetensors + JSON).

A saved tokenizer is a folder with two files:

- ``model.safetensors``: the torch weights and codebook buffers;
- ``config.json``: format name and version, package version, the estimator's
  parameters (plugin instances by registered plugin name and parameters), the
  model configuration, the fitted attributes (shapes, usage statistics,
  history) and the SHA-256 of the weights;
- ``manifest.json``: the SHA-256 of every file.

The folder is written and read by the one persistence layer
(:mod:`brainlm_decode.persistence`): built beside the destination and swapped in
place when complete, so a reader sees the old tokenizer or the new one, never a
mix; checksums are verified before anything is read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from brainlm_decode import persistence
from brainlm_decode._io import sha256_file
from brainlm_decode._version import __version__

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_tokenizer", "save_tokenizer"]

#: Name of the format written in ``config.json``.
FORMAT_NAME = "brainlm_decode.tokenizer.FMRITokenizer"
#: Version of the on-disk format; :func:`load_tokenizer` refuses newer versions.
#: 2: nested estimators as ``{"plugin", "group", "params"}`` (1: ``"__plugin__"``
#: or ``"__estimator__"`` entries, still read).
FORMAT_VERSION = 2
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

#: Fitted attributes stored in the config (all JSON values).
_FITTED = (
    "n_rois_",
    "n_features_in_",
    "n_timepoints_",
    "n_patches_",
    "embed_dim_",
    "codebook_size_",
    "text_dim_",
    "backbone_dim_",
    "alignment_terms_",
    "history_",
    "codebook_perplexity_",
    "dead_code_fraction_",
)


#: Former parameter names of files saved before the rename -> current names.
_RENAMED = {
    "lr": "learning_rate",
    "min_lr": "min_learning_rate",
    "max_epochs": "n_epochs",
    "grad_clip": "max_grad_norm",
}


def _to_json(value: Any, dropped: list[str], name: str) -> Any:
    """JSON form of a parameter; estimators become ``{"plugin", "group", "params"}``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_to_json(v, dropped, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _to_json(v, dropped, f"{name}.{k}") for k, v in value.items()}
    if hasattr(value, "get_params") and not isinstance(value, type):
        saved = persistence.plugin_to_json(
            value, convert=lambda k, v: _to_json(v, dropped, f"{name}.{k}")
        )
        if saved is None:  # nested estimators are saved by plugin name only
            dropped.append(name)
        return saved
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    dropped.append(name)
    return None


def _from_json(value: Any, source: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v, source) for v in value]
    if isinstance(value, dict) and (
        {"__plugin__", "__estimator__"} & set(value)
        or {"plugin", "group"} <= set(value)
    ):
        return persistence.plugin_from_json(
            value, source=source, convert=lambda v: _from_json(v, source)
        )
    if isinstance(value, dict):
        return {k: _from_json(v, source) for k, v in value.items()}
    return value


def save_tokenizer(
    tokenizer: Any, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Save a fitted tokenizer to ``path`` (a folder, replaced atomically).

    Parameters
    ----------
    tokenizer : FMRITokenizer
        A fitted tokenizer.
    path : str or path-like
        Destination folder.
    overwrite : bool, default=False
        Replace an existing saved tokenizer (only once the new one is complete;
        a folder that is not a saved tokenizer is never replaced).

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the tokenizer is not fitted.
    FileExistsError
        When ``path`` exists and ``overwrite`` is False, or is not a saved
        tokenizer.
    """
    from safetensors.torch import save_file
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(tokenizer, "model_")
    dropped: list[str] = []
    params = {
        k: _to_json(v, dropped, k) for k, v in tokenizer.get_params(deep=False).items()
    }
    state = {
        name: tensor.detach().to("cpu").contiguous().clone()
        for name, tensor in tokenizer.model_.state_dict().items()
    }

    def write(folder: Path) -> dict[str, Any]:
        weights = folder / WEIGHTS_NAME
        save_file(state, str(weights), metadata={"format": "pt"})
        return {
            "library_version": __version__,
            "params": params,
            "unsaved_params": dropped,
            "model": tokenizer.model_.get_config(),
            "fitted": {name: getattr(tokenizer, name) for name in _FITTED},
            "weights": {"file": WEIGHTS_NAME, "sha256": sha256_file(weights)},
        }

    return persistence.save_folder(
        path,
        write,
        format_name=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        overwrite=overwrite,
        what="saved FMRITokenizer",
    )


def _read_config(folder: Path) -> dict[str, Any]:
    return persistence.load_folder(
        folder,
        format_name=FORMAT_NAME,
        supported=FORMAT_VERSION,
        what="saved FMRITokenizer",
        required=("params", "model", "fitted", "weights"),
    )


def load_tokenizer(path: str | os.PathLike, *, device: Any = "cpu") -> Any:
    """Load a tokenizer saved by :func:`save_tokenizer`.

    Parameters
    ----------
    path : str or path-like
        The saved folder.
    device : str or torch.device, default="cpu"
        Device of the model (``"auto"`` picks CUDA, MPS, then CPU).

    Returns
    -------
    FMRITokenizer
        Fitted, with the saved parameters (those that could not be saved, such as
        a ``numpy.random.RandomState``, are the defaults).

    Raises
    ------
    FileNotFoundError
        Missing config or weights.
    ValueError
        Not a tokenizer folder, a newer format version, or weights that do not
        match the recorded checksum.
    """
    from safetensors.torch import load_file

    from brainlm_decode.base import resolve_device
    from brainlm_decode.tokenizer.estimator import FMRITokenizer
    from brainlm_decode.tokenizer.model import TokenizerModel

    folder = Path(path)
    config = _read_config(folder)
    weights = persistence.checked_file(folder, config["weights"], CONFIG_NAME)
    source = folder / CONFIG_NAME
    params = {
        _RENAMED.get(k, k): _from_json(v, source) for k, v in config["params"].items()
    }
    for name in config.get("unsaved_params", []):
        params.pop(name.split(".")[0], None)
    tokenizer = FMRITokenizer(**params)
    model = TokenizerModel.from_config(config["model"])
    model.load_state_dict(load_file(str(weights), device="cpu"), strict=True)
    tokenizer.model_ = model.to(resolve_device(device)).eval()
    for name, value in config["fitted"].items():
        setattr(tokenizer, name, value)
    return tokenizer
