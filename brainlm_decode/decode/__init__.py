"""Decoding brain maps into ontology terms (NiCLIP).

:class:`CLIPDecoder` is the estimator; the arithmetic it uses is available as pure
functions (:func:`task_likelihood`, :func:`corpus_prior`, :func:`task_posterior`,
:func:`noisy_or`).
"""

from __future__ import annotations

from brainlm_decode._lazy import attach
from brainlm_decode.decode.posterior import (
    corpus_prior,
    noisy_or,
    softmax,
    task_likelihood,
    task_posterior,
)

_LAZY = {
    "CLIPDecoder": "brainlm_decode.decode.decoder",
    "Explanation": "brainlm_decode.decode.explain",
    "explain_term": "brainlm_decode.decode.explain",
    "list_pretrained": "brainlm_decode.decode.persistence",
    "save_decoder": "brainlm_decode.decode.persistence",
    "load_decoder": "brainlm_decode.decode.persistence",
}

__all__ = [
    "CLIPDecoder",
    "Explanation",
    "corpus_prior",
    "explain_term",
    "list_pretrained",
    "load_decoder",
    "noisy_or",
    "save_decoder",
    "softmax",
    "task_likelihood",
    "task_posterior",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
