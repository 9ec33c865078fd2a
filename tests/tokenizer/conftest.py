"""Fixtures of the tokenizer tests: one torch thread, a tiny cohort and tiny sizes."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator

#: The encoder size of every tokenizer test: the paper's code at a tiny width.
TINY_SIZE = {"n_layers": 1, "embed_dim": 16, "n_heads": 2}


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and do not fight other workers).

    Package-scoped, so that module-scoped fitted tokenizers train with the same
    thread count as the tests that compare with them (reductions depend on it).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class HashTextEncoder(BaseEstimator):
    """Offline stand-in text encoder: a fixed random vector per distinct text."""

    def __init__(self, dim: int = 12) -> None:
        self.dim = dim

    def encode(self, texts: Any) -> np.ndarray:
        """One float32 vector per text, seeded by the text's CRC32."""
        return np.stack(
            [
                np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim)
                for t in texts
            ]
        ).astype(np.float32)


@pytest.fixture(scope="session")
def cohort() -> Any:
    """12 synthetic subjects, 10 ROIs, 64 time points (2 patches of 32)."""
    from brainlm_decode.datasets import make_fmri_cohort

    return make_fmri_cohort(n_subjects=12, n_rois=10, n_timepoints=64, random_state=0)


@pytest.fixture(scope="session")
def series(cohort: Any) -> np.ndarray:
    """The cohort's series as float32 (n_subjects, n_timepoints, n_rois)."""
    return np.stack(cohort.timeseries).astype(np.float32)


@pytest.fixture(scope="session")
def texts(cohort: Any) -> list[str]:
    """One short pseudo descriptor text per subject."""
    return [
        f"Subject {row.subject_id}: {row.diagnosis}, {row.sex}, age {row.age:.0f}."
        for row in cohort.phenotypes.itertuples()
    ]


@pytest.fixture(scope="session")
def make_tokenizer() -> Callable[..., Any]:
    """Factory of tiny tokenizers (VQ of 32 codes, no backbone, CPU, seeded)."""
    from brainlm_decode import FMRITokenizer

    def make(**params: Any) -> Any:
        defaults = {
            "size": dict(TINY_SIZE),
            "quantizer_params": {"codebook_size": 32},
            "decoder_layers": 1,
            "backbone": None,
            "text_encoder": HashTextEncoder(),
            "n_epochs": 3,
            "learning_rate": 1e-3,
            "min_learning_rate": 1e-4,
            "batch_size": 4,
            "device": "cpu",
            "random_state": 0,
        }
        return FMRITokenizer(**{**defaults, **params})

    return make
