"""Decoding brain maps into ontology terms (NiCLIP).

:class:`CLIPDecoder` is the estimator; the arithmetic it uses is available as pure
functions (:func:`task_likelihood`, :func:`corpus_prior`, :func:`task_posterior`,
:func:`noisy_or`, :func:`concept_mixture`).
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "concept_mixture": "brainlm_decode.decode.posterior",
    "corpus_prior": "brainlm_decode.decode.posterior",
    "noisy_or": "brainlm_decode.decode.posterior",
    "softmax": "brainlm_decode.decode.posterior",
    "task_likelihood": "brainlm_decode.decode.posterior",
    "task_posterior": "brainlm_decode.decode.posterior",
    "CLIPDecoder": "brainlm_decode.decode.decoder",
    "Explanation": "brainlm_decode.decode.explain",
    "explain_term": "brainlm_decode.decode.explain",
    "list_pretrained": "brainlm_decode.decode.persistence",
    "save_decoder": "brainlm_decode.decode.persistence",
    "load_decoder": "brainlm_decode.decode.persistence",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "CLIPDecoder",
    "Explanation",
    "explain_term",
    "list_pretrained",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
