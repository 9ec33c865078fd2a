"""Ontology vocabularies of :class:`~brainlm_decode.CLIPDecoder`: embedding and checks.

A term (task or concept) is embedded as
``alpha * unit(emb(name)) + (1 - alpha) * unit(emb(definition))`` by the text
encoder, then through the CLIP text tower by the decoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainlm_decode.decode._inputs import unit_rows

__all__ = ["check_vocabulary", "embed_terms", "fit_vocabularies"]

LEVELS = ("task", "concept")


def embed_terms(encoder: Any, atlas: Any, level: str, alpha: float) -> np.ndarray:
    """Text-encoder embeddings of the ``level`` terms of ``atlas``.

    Parameters
    ----------
    encoder : TextEncoder
        Has ``encode(list of str) -> ndarray``.
    atlas : CognitiveAtlas
        Terms; a term without definition uses its name for both parts.
    level : {"task", "concept"}
        Terms to embed.
    alpha : float
        Weight of the name against the definition.

    Returns
    -------
    ndarray of float32 of shape (n_terms, text_dim)
    """
    if level not in LEVELS:
        raise ValueError(
            "The 'level' argument of embed_vocabulary must be 'task' or "
            f"'concept'. Got {level!r} instead."
        )
    vocab = atlas.vocabulary(level)
    names = unit_rows(encoder.encode(list(vocab["name"])))
    definitions = unit_rows(encoder.encode(list(vocab["definition"])))
    return (alpha * names + (1.0 - alpha) * definitions).astype(np.float32)


def check_vocabulary(values: Any, n_terms: int, text_dim: int, level: str) -> Any:
    """Vocabulary embeddings as float32, shape checked against the ontology."""
    vocab = np.asarray(values, dtype=np.float32)
    if vocab.shape != (n_terms, text_dim):
        prefix = "" if level == "task" else f"{level}_"
        raise ValueError(
            f"The '{prefix}vocabulary_embeddings' argument must have shape "
            f"{(n_terms, text_dim)} ({level}s x text_dim). Got {vocab.shape} instead."
        )
    return vocab


def fit_vocabularies(
    decoder: Any, ontology: Any, tasks: Any, concepts: Any, text_dim: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Task and concept vocabulary embeddings of a fit, checked.

    Both are computed with the decoder's text encoder when ``tasks`` is
    ``None``; given task embeddings without concept embeddings leave the
    concepts without text (scored by noisy-OR only).
    """
    if tasks is None:
        tasks = decoder.embed_vocabulary(ontology)
        if concepts is None:
            concepts = decoder.embed_vocabulary(ontology, level="concept")
    task_vocab = check_vocabulary(tasks, ontology.n_tasks, text_dim, "task")
    if concepts is None:
        return task_vocab, None
    return task_vocab, check_vocabulary(
        concepts, ontology.n_concepts, text_dim, "concept"
    )
