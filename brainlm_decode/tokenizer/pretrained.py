"""Pretrained fMRI tokenizers shipped inside the package.

A bundle is a folder ``brainlm_decode/data/pretrained/fmri-tokenizer-<name>/``
holding a tokenizer saved by :meth:`FMRITokenizer.save
<brainlm_decode.FMRITokenizer.save>` (``model.safetensors`` + ``config.json``)
and a ``manifest.json`` with what the tokenizer expects (input columns, TR,
number of time points), its provenance (data, script, seed) and the SHA-256
of the weights. Bundles are built by our own scripts from public data (the
weights only; no data is shipped):

- ``"hcp-rest-networks"``: Stage 1 fitted on the unlabelled resting-state
  series of the 7 HCP subjects of the shared data (AAL2, averaged into the 8
  network channels of :data:`~brainlm_decode.lm.features.NETWORK_CHANNELS`,
  TR 2 s, 160-point windows); ``scripts/build_pretrained_tokenizer.py``
  rebuilds it. Reads any atlas through
  :func:`~brainlm_decode.lm.features.network_series`.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = [
    "available_pretrained_tokenizers",
    "load_pretrained_tokenizer",
    "pretrained_tokenizer_info",
]

_PREFIX = "fmri-tokenizer-"


def _root() -> Path:
    return Path(str(files("brainlm_decode") / "data" / "pretrained"))


def available_pretrained_tokenizers() -> list[str]:
    """Names of the tokenizers shipped with the package.

    Returns
    -------
    list of str
        Sorted names, e.g. ``["hcp-rest-networks"]``.
    """
    root = _root()
    if not root.is_dir():
        return []
    return sorted(
        p.name[len(_PREFIX) :]
        for p in root.iterdir()
        if p.name.startswith(_PREFIX) and (p / "manifest.json").is_file()
    )


def _folder(name: str) -> Path:
    available = available_pretrained_tokenizers()
    if name not in available:
        raise ValueError(
            f"Unknown pretrained tokenizer {name!r}; available: {available}."
        )
    return _root() / f"{_PREFIX}{name}"


def pretrained_tokenizer_info(name: str) -> dict[str, Any]:
    """Manifest of a shipped tokenizer: input contract and provenance.

    Parameters
    ----------
    name : str
        One of :func:`available_pretrained_tokenizers`.

    Returns
    -------
    dict
        ``channels``, ``t_r``, ``n_timepoints``, ``data``, ``script``,
        ``sha256``...
    """
    return json.loads((_folder(name) / "manifest.json").read_text())


def load_pretrained_tokenizer(name: str, *, device: Any = "cpu") -> Any:
    """Load a shipped tokenizer (weights checked against the manifest).

    Parameters
    ----------
    name : str
        One of :func:`available_pretrained_tokenizers`.
    device : str or torch.device, default="cpu"
        Device of the model.

    Returns
    -------
    FMRITokenizer
        Fitted.

    Raises
    ------
    ValueError
        Unknown name, or weights whose SHA-256 differs from the manifest.
    """
    from brainlm_decode._io import sha256_file
    from brainlm_decode.tokenizer.serialization import WEIGHTS_NAME, load_tokenizer

    folder = _folder(name)
    info = pretrained_tokenizer_info(name)
    digest = sha256_file(folder / "tokenizer" / WEIGHTS_NAME)
    if digest != info["sha256"]:
        raise ValueError(
            f"The weights of the pretrained tokenizer {name!r} do not match its "
            "manifest (corrupted install?)."
        )
    return load_tokenizer(folder / "tokenizer", device=device)
