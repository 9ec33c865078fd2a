"""NiCLIP's CLIP model over text and brain-map embeddings: model, loss, trainer, I/O.

Torch is imported lazily: ``import brainlm_decode.clip`` is cheap, and the torch
submodules load on first access to a public name.

- :class:`CLIPModel` (``clip.model``): text tower (projection block + 2 residual
  blocks) and image tower (3 residual blocks) with one learnable ``logit_scale``,
  the log inverse temperature used the same way in training and decoding.
- :class:`ClipLoss` (``clip.loss``): symmetric InfoNCE on ``scale * cos``, with
  features gathered across processes.
- :func:`train_clip` (``clip.train``): AdamW, early stopping on the validation loss,
  best weights restored; one loop for CPU, GPU and DDP through ``accelerate``.
- :func:`save_clip` / :func:`load_clip` (``clip.serialization``): safetensors weights
  and a versioned JSON config, written atomically.

Multi-process training from the command line::

    torchrun --nproc_per_node 2 -m brainlm_decode.cli train-clip \\
        --text text.npy --image image.npy --out model_dir
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

# public name -> submodule that defines it
_LAZY_NAMES: dict[str, str] = {
    "CLIPModel": "brainlm_decode.clip.model",
    "ProjectionBlock": "brainlm_decode.clip.model",
    "ResidualBlock": "brainlm_decode.clip.model",
    "ClipLoss": "brainlm_decode.clip.loss",
    "clip_loss": "brainlm_decode.clip.loss",
    "TrainingHistory": "brainlm_decode.clip.train",
    "train_clip": "brainlm_decode.clip.train",
    "save_clip": "brainlm_decode.clip.serialization",
    "load_clip": "brainlm_decode.clip.serialization",
}

_SUBMODULES = ("cli_train", "loss", "model", "serialization", "train")

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "CLIPModel",
    "TrainingHistory",
    "load_clip",
    "save_clip",
    "train_clip",
]

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES, _SUBMODULES)
