"""The one torch training runtime shared by :mod:`~brainlm_decode.clip`,
:mod:`~brainlm_decode.tokenizer` and :mod:`~brainlm_decode.lm`.

Torch and ``accelerate`` are imported lazily, on first access to a public name.

- ``training.runtime``: :func:`make_accelerator` (one accelerator for ``device``,
  warning in the caller's name when the process state disagrees),
  :func:`shared_seed` (one seed broadcast to every process), :func:`seeded_torch`
  (seeded torch RNG that does not leak), :func:`device_context`.
- ``training.batches``: :func:`shuffled_batches` and :func:`local_shards`, each
  process's equal share of every global batch.
- ``training.optim``: :func:`make_optimizer` (AdamW, weight decay on weight matrices
  only) and :func:`cosine_schedule`, the one learning-rate schedule.
- ``training.distributed``: :func:`gather_features` and :func:`gather_rows`, the
  all-gathers across processes.
- ``training.checkpoint``: :class:`BestWeights`, a snapshot of the best weights
  (early stopping).
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

# public name -> submodule that defines it
_LAZY_NAMES: dict[str, str] = {
    "make_accelerator": "runtime",
    "shared_seed": "runtime",
    "seeded_torch": "runtime",
    "device_context": "runtime",
    "shuffled_batches": "batches",
    "local_shards": "batches",
    "make_optimizer": "optim",
    "cosine_schedule": "optim",
    "gather_features": "distributed",
    "gather_rows": "distributed",
    "BestWeights": "checkpoint",
}

_SUBMODULES = ("batches", "checkpoint", "distributed", "optim", "runtime")

# A runtime for the package's own training loops (clip, tokenizer, lm): its
# names are importable, documented in docs/api.rst, and not star-exported.
__all__: list[str] = []

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES, _SUBMODULES)
