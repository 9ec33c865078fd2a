"""Gradient reversal, its schedule, the discriminator loss and SigLIP."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from brainlm_decode.tokenizer.alignment import (
    DomainDiscriminator,
    GradientReversal,
    SigLIPLoss,
    adversarial_loss,
    grad_reverse,
    grl_schedule,
    siglip_loss,
)


@pytest.mark.parametrize("progress", [0.0, 0.1, 0.5, 1.0])
def test_gradient_reversal_flips_sign_with_scheduled_coefficient(progress):
    coefficient = grl_schedule(progress)
    assert coefficient == pytest.approx(2 / (1 + math.exp(-10 * progress)) - 1)
    x = torch.randn(5, 3, requires_grad=True)
    weights = torch.randn(5, 3)
    out = GradientReversal(coefficient)(x)
    torch.testing.assert_close(out, x)  # identity forward
    (out * weights).sum().backward()
    torch.testing.assert_close(x.grad, -coefficient * weights)


def test_grad_reverse_reverses_only_the_branch_it_wraps():
    x = torch.ones(3, requires_grad=True)
    (grad_reverse(x, 0.25).sum() + x.sum()).backward()
    torch.testing.assert_close(x.grad, torch.full((3,), 0.75))


def test_grl_schedule_shapes_and_errors():
    values = [grl_schedule(p) for p in np.linspace(0, 1, 11)]
    assert values[0] == 0.0 and np.all(np.diff(values) > 0) and values[-1] < 1
    assert grl_schedule(0.3, schedule="constant") == 1.0
    assert grl_schedule(2.0) == grl_schedule(1.0)  # clipped progress
    with pytest.raises(ValueError, match="'schedule' argument"):
        grl_schedule(0.5, schedule="linear")


def _numpy_siglip(f, t, scale, bias, offset=0):
    logits = np.exp(scale) * f @ t.T + bias
    labels = -np.ones_like(logits)
    for i in range(f.shape[0]):
        labels[i, i + offset] = 1
    return -np.log(1 / (1 + np.exp(-labels * logits))).sum() / f.shape[0]


def test_siglip_loss_equals_direct_numpy_computation():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(6, 5))
    t = rng.normal(size=(6, 5))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    for scale, bias in [(math.log(10), -10.0), (1.3, 0.4)]:
        loss = siglip_loss(
            torch.from_numpy(f),
            torch.from_numpy(t),
            torch.tensor(scale, dtype=torch.float64),
            torch.tensor(bias, dtype=torch.float64),
        )
        assert float(loss) == pytest.approx(_numpy_siglip(f, t, scale, bias), 1e-10)
    # a local shard against gathered columns: positives shifted by the offset
    shard = siglip_loss(
        torch.from_numpy(f[3:]),
        torch.from_numpy(t),
        torch.tensor(0.5, dtype=torch.float64),
        torch.tensor(-1.0, dtype=torch.float64),
        offset=3,
    )
    assert float(shard) == pytest.approx(_numpy_siglip(f[3:], t, 0.5, -1.0, 3))


def test_siglip_module_initial_temperature_and_bias_are_learnable():
    module = SigLIPLoss()
    assert float(module.logit_scale.detach()) == pytest.approx(math.log(10))
    assert float(module.logit_bias.detach()) == -10.0
    f = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)
    module(f, f).backward()
    assert module.logit_scale.grad is not None and module.logit_bias.grad is not None


def test_adversarial_loss_is_log2_at_chance_and_discriminator_shapes():
    zeros = torch.zeros(7)
    assert float(adversarial_loss(zeros, torch.zeros(3))) == pytest.approx(math.log(2))
    logits = DomainDiscriminator(8, hidden=4)(torch.randn(5, 8))
    assert logits.shape == (5,)
