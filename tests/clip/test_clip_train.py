"""Tests of the CLIP trainer: learning, early stopping, seeding, input checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from brainlm_decode.clip import CLIPModel, TrainingHistory, train_clip
from brainlm_decode.clip import train as train_module
from brainlm_decode.metrics import mix_and_match, recall_at_k

FAST = {"embed_dim": 16, "batch_size": 64, "device": "cpu"}


def _weights_equal(a: CLIPModel, b: CLIPModel) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_training_learns_held_out_pairs(pairs) -> None:
    text, image = pairs
    model, history = train_clip(
        text[:300],
        image[:300],
        learning_rate=3e-3,
        dropout=0.1,
        n_epochs=10,
        random_state=0,
        **FAST,
    )
    assert isinstance(model, CLIPModel) and not model.training
    assert isinstance(history, TrainingHistory)
    assert history.n_train == 270 and history.n_val == 30
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    assert history.train_loss[-1] < history.train_loss[0]
    assert len(history.logit_scale) == history.n_epochs == 10
    assert len(history.epoch_time) == 10 and min(history.epoch_time) > 0
    with torch.no_grad():
        similarity = model.similarity(
            torch.from_numpy(text[300:]), torch.from_numpy(image[300:])
        ).numpy()
    # images query texts among 60 held-out candidates: chance is 1/60
    assert recall_at_k(similarity.T, k=1) > 0.5
    assert mix_and_match(similarity.T) > 0.95
    assert history.to_dict()["best_val_loss"] == history.best_val_loss


def test_early_stopping_restores_best_weights(pairs, monkeypatch) -> None:
    scripted = iter([5.0, 4.0, 3.0, 3.5, 3.0, 3.2, 1.0, 0.5])
    snapshots: list[dict] = []

    def fake_evaluate(model, data, batches, device):
        snapshots.append(copy.deepcopy(model.state_dict()))
        return next(scripted)

    monkeypatch.setattr(train_module, "_evaluate", fake_evaluate)
    text, image = pairs
    model, history = train_clip(
        text[:120], image[:120], patience=3, n_epochs=8, random_state=0, **FAST
    )
    # best at epoch 2; epochs 3, 4 (equal is no improvement) and 5 do not improve
    assert history.val_loss == [5.0, 4.0, 3.0, 3.5, 3.0, 3.2]
    assert history.best_epoch == 2 and history.best_val_loss == 3.0
    assert history.stopped_early and history.n_epochs == 6
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][name])
    assert not torch.equal(
        model.state_dict()["logit_scale"], snapshots[-1]["logit_scale"]
    )


def test_patience_none_runs_all_epochs_and_keeps_best(pairs, monkeypatch) -> None:
    scripted = iter([2.0, 1.0, 3.0, 4.0, 5.0])
    monkeypatch.setattr(train_module, "_evaluate", lambda *a: next(scripted))
    text, image = pairs
    _, history = train_clip(
        text[:100], image[:100], patience=None, n_epochs=5, random_state=0, **FAST
    )
    assert history.n_epochs == 5 and not history.stopped_early
    assert history.best_epoch == 1


def test_same_seed_same_weights_different_seed_differs(pairs) -> None:
    text, image = pairs
    kwargs = {"n_epochs": 2, **FAST}
    a, history_a = train_clip(text[:150], image[:150], random_state=3, **kwargs)
    b, history_b = train_clip(text[:150], image[:150], random_state=3, **kwargs)
    c, _ = train_clip(text[:150], image[:150], random_state=4, **kwargs)
    assert _weights_equal(a, b)
    assert history_a.val_loss == history_b.val_loss
    assert history_a.train_loss == history_b.train_loss
    assert not _weights_equal(a, c)


def test_global_torch_state_is_left_alone(pairs) -> None:
    text, image = pairs
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    train_clip(text[:80], image[:80], n_epochs=1, random_state=0, **FAST)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_explicit_validation_and_unnormalised_inputs(pairs) -> None:
    text, image = pairs
    _, history = train_clip(
        10 * text[:100],
        image[:100],
        validation=(text[100:120], image[100:120]),
        n_epochs=1,
        random_state=0,
        **FAST,
    )
    assert history.n_train == 100 and history.n_val == 20


def test_grouped_split_keeps_studies_together() -> None:
    groups = np.repeat(np.arange(30), 4)
    train_idx, val_idx = train_module._split_indices(120, 0.2, groups, seed=0)
    assert len(train_idx) + len(val_idx) == 120
    assert not set(groups[train_idx]) & set(groups[val_idx])
    assert len(set(groups[val_idx])) == 6


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t, i: (t[:-1], i), "same number of rows"),
        (lambda t, i: (np.where(np.eye(*t.shape) > 0, np.nan, t), i), "NaN"),
        (lambda t, i: (t[:, 0], i), "'text_embeddings'.*2-D"),
        (lambda t, i: (t, np.zeros_like(i)), "'image_embeddings'.*all-zero"),
        (lambda t, i: ([["a"] * 3] * len(i), i), "'text_embeddings'.*numeric"),
    ],
)
def test_bad_arrays(pairs, change, match) -> None:
    text, image = change(*pairs)
    with pytest.raises(ValueError, match=match):
        train_clip(text, image, n_epochs=1, **FAST)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"validation": (np.ones((5, 31)), np.ones((5, 20)))}, r"validation\[0\]"),
        ({"validation": (np.ones((5, 32)),)}, "'validation'.*pair"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"groups": np.arange(7)}, "'groups'"),
        ({"groups": np.zeros(360)}, "'groups'.*2 distinct"),
        ({"batch_size": 1}, "batch_size"),
        ({"learning_rate": -1.0}, "'learning_rate'"),
        ({"patience": 0}, "patience"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments(pairs, kwargs, match) -> None:
    options = {**FAST, "n_epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        train_clip(*pairs, **options)


def test_too_few_pairs(make_pairs) -> None:
    text, image = make_pairs(n=20)
    with pytest.raises(ValueError, match="at least 2 validation pairs"):
        train_clip(text, image, validation_fraction=0.05, **FAST)
    with pytest.raises(ValueError, match="at least 2 training pairs"):
        train_clip(text[:1], image[:1], validation=(text, image), **FAST)


def test_verbose_logs_epochs(pairs, capsys) -> None:
    text, image = pairs
    train_clip(text[:80], image[:80], n_epochs=2, verbose=2, random_state=0, **FAST)
    err = capsys.readouterr().err
    assert "[train_clip] epoch 2/2" in err and "kept epoch" in err


def test_train_clip_former_argument_names():
    rng = np.random.default_rng(0)
    text = rng.normal(size=(40, 6))
    image = text @ rng.normal(size=(6, 5))
    options = dict(embed_dim=4, batch_size=16, patience=None, device="cpu")
    with pytest.warns(FutureWarning, match="'max_epochs' argument of train_clip"):
        _, history = train_clip(text, image, max_epochs=2, random_state=0, **options)
    assert history.n_epochs == 2
    with pytest.warns(FutureWarning, match="'lr' argument of train_clip"):
        train_clip(text, image, lr=1e-3, n_epochs=1, random_state=0, **options)
    with (
        pytest.warns(FutureWarning),
        pytest.raises(ValueError, match="'learning_rate' argument"),
    ):
        train_clip(text, image, lr=-1.0, n_epochs=1, **options)
