"""Tests of the symmetric InfoNCE loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainlm_decode.clip import ClipLoss


def _numpy_clip_loss(text: np.ndarray, image: np.ndarray, scale: float) -> float:
    """Reference: mean of the row-wise and column-wise cross-entropies."""
    logits = scale * text.astype(np.float64) @ image.astype(np.float64).T

    def cross_entropy(matrix: np.ndarray) -> float:
        top = matrix.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(matrix - top).sum(axis=1)) + top[:, 0]
        return float(np.mean(log_sum - np.diag(matrix)))

    return (cross_entropy(logits) + cross_entropy(logits.T)) / 2


def _unit(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(("n", "scale"), [(2, 1.0), (9, 14.3), (33, 100.0)])
def test_loss_matches_numpy(n: int, scale: float) -> None:
    rng = np.random.default_rng(n)
    text, image = _unit(rng, (n, 5)), _unit(rng, (n, 5))
    loss = ClipLoss()(torch.from_numpy(text), torch.from_numpy(image), scale)
    assert float(loss) == pytest.approx(_numpy_clip_loss(text, image, scale), rel=1e-5)


def test_loss_is_symmetric() -> None:
    rng = np.random.default_rng(1)
    text = torch.from_numpy(_unit(rng, (12, 6)))
    image = torch.from_numpy(_unit(rng, (12, 6)))
    loss = ClipLoss()
    torch.testing.assert_close(loss(text, image, 7.0), loss(image, text, 7.0))


def test_perfect_alignment_gives_low_loss_and_random_about_log_n() -> None:
    features = torch.eye(8)
    assert float(ClipLoss()(features, features, torch.tensor(100.0))) < 1e-6
    assert float(ClipLoss()(features, features, 0.0)) == pytest.approx(np.log(8))


def test_gradient_reaches_scale_and_features() -> None:
    rng = np.random.default_rng(2)
    text = torch.from_numpy(_unit(rng, (6, 4))).requires_grad_()
    image = torch.from_numpy(_unit(rng, (6, 4))).requires_grad_()
    logit_scale = torch.tensor(2.0, requires_grad=True)
    ClipLoss()(text, image, logit_scale.exp()).backward()
    assert logit_scale.grad is not None and text.grad is not None
    assert image.grad is not None and torch.isfinite(image.grad).all()


def test_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        ClipLoss()(torch.randn(3, 2), torch.randn(4, 2), 1.0)
    with pytest.raises(ValueError, match="rank"):
        ClipLoss(rank=2, world_size=2)
    with pytest.raises(RuntimeError, match="not initialised"):
        ClipLoss(rank=0, world_size=2)(torch.randn(3, 2), torch.randn(3, 2), 1.0)
