"""Tests of the shared training runtime (brainlm_decode.training)."""

from __future__ import annotations

import pytest
import torch

from brainlm_decode.training import (
    BestWeights,
    cosine_schedule,
    gather_features,
    gather_rows,
    local_shards,
    make_accelerator,
    make_optimizer,
    seeded_torch,
    shuffled_batches,
)
from brainlm_decode.training import runtime as runtime_module


def test_batches_cover_every_pair_with_equal_sizes() -> None:
    generator = torch.Generator().manual_seed(0)
    batches = shuffled_batches(300, 128, generator)
    assert [len(b) for b in batches] == [100, 100, 100]
    assert sorted(torch.cat(batches).tolist()) == list(range(300))
    shards = list(local_shards(batches[:1], rank=1, world_size=3))
    assert torch.equal(shards[0], batches[0][33:66])


def test_fixed_size_batches_and_min_rows() -> None:
    batches = shuffled_batches(
        10, 4, torch.Generator().manual_seed(0), equal_sizes=False
    )
    assert [len(b) for b in batches] == [4, 4, 2]
    assert len(list(local_shards(batches, 0, 3, min_rows=1))) == 2
    assert len(list(local_shards(batches, 0, 1, min_rows=1))) == 3
    assert len(list(local_shards([torch.tensor([0])], 0, 1))) == 0


def test_cosine_schedule() -> None:
    assert cosine_schedule(0, 11, 1e-4, 1e-5) == 1e-4
    assert cosine_schedule(10, 11, 1e-4, 1e-5) == 1e-5
    assert cosine_schedule(20, 11, 1e-4, 1e-5) == 1e-5
    assert cosine_schedule(5, 11, 1e-4, 1e-5) == pytest.approx(5.5e-5)
    assert cosine_schedule(3, 1, 1e-4, 1e-5) == 1e-4


def test_optimizer_groups_decay_matrices_only() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    optimizer = make_optimizer(model, 1e-3, 0.1)
    decay, rest = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and len(rest["params"]) == 3
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        make_optimizer(model, 1e-3, 0.1)


def test_seeded_torch_is_reproducible_and_does_not_leak() -> None:
    torch.manual_seed(123)
    expected_outside = torch.rand(1)
    torch.manual_seed(123)
    with seeded_torch(0, torch.device("cpu")):
        first = torch.rand(2)
    assert torch.equal(torch.rand(1), expected_outside)
    with seeded_torch(0, torch.device("cpu")):
        assert torch.equal(torch.rand(2), first)


def test_best_weights_keeps_lowest_and_stops() -> None:
    model = torch.nn.Linear(2, 1)
    best = BestWeights(patience=2)
    assert best.update(1.0, model)
    kept = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not best.update(2.0, model) and not best.should_stop
    assert not best.update(float("nan"), model) and best.should_stop
    assert best.best_step == 0 and torch.equal(best.state["weight"], kept)
    assert not BestWeights().should_stop


def test_single_process_gathers_are_identity() -> None:
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    out_a, out_b = gather_features(a, b)
    assert out_a is a and out_b is b
    assert gather_rows(a, 1) is a
    with pytest.raises(RuntimeError, match="SigLIPLoss was given world_size=2"):
        gather_rows(a, 2, owner="SigLIPLoss")


def test_accelerator_warning_names_the_caller(monkeypatch) -> None:
    monkeypatch.setattr(
        runtime_module, "resolve_device", lambda d: torch.device("meta")
    )
    with pytest.warns(RuntimeWarning, match="FMRILMClassifier: device='cpu'"):
        make_accelerator("cpu", owner="FMRILMClassifier")
    sentinel = object()
    assert make_accelerator("cpu", sentinel, owner="x") is sentinel
