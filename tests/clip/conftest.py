"""Fixtures of the CLIP tests: one torch thread, small synthetic paired data."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and do not fight other workers)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _make_pairs(
    n: int = 360,
    text_dim: int = 32,
    image_dim: int = 20,
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Paired embeddings: image = fixed random linear map of text + noise."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, text_dim)).astype(np.float32)
    mapping = rng.normal(size=(text_dim, image_dim))
    image = text @ mapping + noise * rng.normal(size=(n, image_dim))
    return text, image.astype(np.float32)


@pytest.fixture
def make_pairs() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """Factory of paired embeddings (n, text_dim, image_dim, noise, seed)."""
    return _make_pairs


@pytest.fixture
def pairs() -> tuple[np.ndarray, np.ndarray]:
    """360 pairs of (32-d text, 20-d image) embeddings."""
    return _make_pairs()
