"""Decoding without torch: a saved CLIP model's image tower in NumPy.

Decoding a map needs only the image tower of :class:`~brainlm_decode.clip.model.
CLIPModel` (three residual blocks of 512 x 512 linear layers): the task embeddings
are stored with the decoder. Importing torch to run it costs more than a second of
a fresh process, most of the time of a cold ``brainlm-decode decode``. This module
runs the tower with NumPy, and defers torch until something needs the module:

- :func:`encode_image` evaluates the image tower of a model in eval mode in
  float64 from its float32 weights, for a :class:`CLIPModel` (its ``state_dict``,
  read without a copy) or a :class:`LazyCLIPModel` (weights read with
  ``safetensors.numpy``). Every decoder decodes through it, fitted or loaded, so
  both give the same numbers. They agree with torch's float32 forward to about
  1e-7 (torch's own results differ by as much between CPU instruction sets, e.g.
  ``ATEN_CPU_CAPABILITY=default`` against AVX-512).
- :class:`LazyCLIPModel` stands for a saved model: it reads the config and the
  checksummed weights, and builds the torch module the first time an attribute
  other than its own is used (``state_dict()``, ``encode_text``, ``to`` ...).
  ``isinstance(lazy, CLIPModel)`` holds (it builds the module); pickling or
  copying it gives the torch module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LazyCLIPModel", "encode_image", "load_clip_lazy"]

#: ``eps`` of the blocks' ``torch.nn.LayerNorm`` (torch's default).
LAYER_NORM_EPS = 1e-5
#: ``eps`` of ``torch.nn.functional.normalize`` (its default).
NORMALIZE_EPS = 1e-12


def _identity(value: Any) -> Any:
    return value


class LazyCLIPModel:
    """A saved :class:`~brainlm_decode.clip.model.CLIPModel`, torch loaded on use.

    Parameters
    ----------
    folder : str or path-like
        Folder written by :func:`~brainlm_decode.clip.serialization.save_clip`.

    Attributes
    ----------
    config : dict
        Constructor arguments of the model.
    weights : dict of str to ndarray
        The ``state_dict`` as float32 arrays (read-only use).
    normalize_inputs : bool
        Whether the towers L2-normalise their inputs.
    """

    def __init__(self, folder: str | os.PathLike, *, _verified: bool = False):
        from safetensors.numpy import load_file

        from brainlm_decode.clip.serialization import _read_config

        self._folder = Path(folder)
        config = _read_config(self._folder, verified=_verified)
        weights = self._folder / config["weights"]["file"]
        self.config: dict[str, Any] = dict(config["model"])
        self.weights: dict[str, np.ndarray] = load_file(str(weights))
        self._module: Any = None
        self._float64: dict[str, np.ndarray] | None = None

    @property
    def normalize_inputs(self) -> bool:
        """Whether the towers L2-normalise their inputs (from the config)."""
        return bool(self.config.get("normalize_inputs", True))

    @property
    def scale(self) -> float:
        """Inverse temperature ``exp(logit_scale)``, as the module computes it."""
        if self._module is not None:
            return self._module.scale
        return float(np.exp(np.asarray(self.weights["logit_scale"], np.float32)))

    @property
    def loaded(self) -> bool:
        """Whether the torch module has been built."""
        return self._module is not None

    def materialize(self) -> Any:
        """The torch module (built on the first call, in eval mode, on CPU).

        Returns
        -------
        CLIPModel
        """
        if self._module is None:
            import torch

            from brainlm_decode.clip.model import CLIPModel

            model = CLIPModel.from_config(self.config)
            state = {k: torch.from_numpy(np.array(v)) for k, v in self.weights.items()}
            model.load_state_dict(state, strict=True)
            self._module = model.eval()
        return self._module

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(lazy, CLIPModel) holds
        return type(self.materialize())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("config", "weights"):
            raise AttributeError(name)
        return getattr(self.materialize(), name)

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        # pickle / copy / deepcopy give the torch module, as before
        return _identity, (self.materialize(),)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"LazyCLIPModel({str(self._folder)!r}, torch module {state})"


def load_clip_lazy(
    folder: str | os.PathLike, *, _verified: bool = False
) -> LazyCLIPModel:
    """A saved CLIP model whose torch module is built on first use.

    Parameters
    ----------
    folder : str or path-like
        Folder written by :func:`~brainlm_decode.clip.serialization.save_clip`.

    Returns
    -------
    LazyCLIPModel
    """
    return LazyCLIPModel(folder, _verified=_verified)


def _float64(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        name: np.asarray(value, dtype=np.float64)
        for name, value in weights.items()
        if name.startswith("image_tower.")
    }


def _weights(model: Any) -> dict[str, np.ndarray] | None:
    """Image tower weights as float64, or None when NumPy cannot run the tower."""
    if type(model) is LazyCLIPModel and not model.loaded:
        if model._float64 is None:  # the weights cannot change before loading
            model._float64 = _float64(model.weights)
        return model._float64
    if type(model) is LazyCLIPModel:
        model = model.materialize()
    from brainlm_decode.clip.model import CLIPModel

    if type(model) is not CLIPModel or model.training:
        return None  # subclasses and dropout: torch's forward
    import torch

    if model.logit_scale.dtype != torch.float32:
        return None
    return _float64(
        {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()}
    )


def _normalize(x: np.ndarray) -> np.ndarray:
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return x / np.maximum(norm, NORMALIZE_EPS)


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    out = x @ w[f"{name}.weight"].T
    bias = w.get(f"{name}.bias")
    return out if bias is None else out + bias


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    centred = x - x.mean(axis=1, keepdims=True)
    var = np.mean(centred * centred, axis=1, keepdims=True)
    out = centred / np.sqrt(var + LAYER_NORM_EPS)
    return out * w[f"{name}.weight"] + w[f"{name}.bias"]


def _image_tower(x: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    i = 0
    while f"image_tower.{i}.fc1.weight" in weights:
        block = f"image_tower.{i}"
        out = _linear(
            _gelu(_linear(x, weights, f"{block}.fc1")), weights, f"{block}.fc2"
        )
        skip = (
            _linear(x, weights, f"{block}.shortcut")
            if f"{block}.shortcut.weight" in weights
            else x
        )
        x = _layer_norm(skip + out, weights, f"{block}.norm")
        i += 1
    return x


def encode_image(model: Any, embeddings: np.ndarray) -> np.ndarray:
    """Unit-norm image features of a CLIP model in eval mode, as float64.

    Equivalent to ``model.encode_image(torch.as_tensor(embeddings,
    dtype=torch.float32))`` (dropout off), evaluated with NumPy in float64 from the
    float32 weights. Falls back to torch for a model in training mode, a subclass
    of ``CLIPModel`` or non-float32 weights.

    Parameters
    ----------
    model : CLIPModel or LazyCLIPModel
        The model.
    embeddings : array-like of shape (n, image_dim)
        Image embeddings; cast to float32 first, as torch's forward does.

    Returns
    -------
    ndarray of shape (n, embed_dim)
    """
    x = np.asarray(embeddings, dtype=np.float32)
    weights = _weights(model)
    if weights is None:
        import torch

        with torch.no_grad():
            out = model.encode_image(torch.as_tensor(x, dtype=torch.float32))
        return out.cpu().numpy().astype(np.float64)
    image_dim = weights["image_tower.0.fc1.weight"].shape[1]
    if x.ndim != 2 or x.shape[1] != image_dim:
        raise ValueError(
            f"The 'image' argument of CLIPModel must have shape (n, {image_dim}). "
            f"Got shape {tuple(x.shape)} instead."
        )
    x = x.astype(np.float64)
    if getattr(model, "normalize_inputs", True):
        x = _normalize(x)
    return _normalize(_image_tower(x, weights))
