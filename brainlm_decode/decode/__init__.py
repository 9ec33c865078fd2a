"""Decoding brain maps into ontology terms (NiCLIP)."""

from brainlm_decode.decode.posterior import (
    corpus_prior,
    noisy_or,
    softmax,
    task_likelihood,
    task_posterior,
)

__all__ = ["corpus_prior", "noisy_or", "softmax", "task_likelihood", "task_posterior"]
