"""Training loop of the fMRI-LM stages, one code path for CPU, GPU and DDP.

:func:`train_lm` runs AdamW (weight decay on matrices only) with a cosine decay
of the learning rate from ``learning_rate`` to ``min_learning_rate`` over all
steps, gradient-norm clipping, through :class:`accelerate.Accelerator`: the same
call trains on one CPU, one GPU, or several processes launched by ``torchrun`` /
``accelerate launch`` (each process takes an equal share of every global batch;
DDP averages the gradients). DeepSpeed and FSDP come from an ``accelerate``
configuration (``accelerate config``; ``accelerate launch script.py``), as for any
accelerate program. The loop only sees the model, a function giving the examples
of an epoch and a collator, like open_clip's trainer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from brainlm_decode.base import log, progress

__all__ = ["cosine_schedule", "train_lm"]


def cosine_schedule(
    step: int, total: int, learning_rate: float, min_learning_rate: float
) -> float:
    """Learning rate at ``step`` of a cosine decay from the maximum to the minimum.

    Parameters
    ----------
    step, total : int
        0-based step and number of steps.
    learning_rate, min_learning_rate : float
        Rates at the first and at the last step.

    Returns
    -------
    float

    Examples
    --------
    >>> cosine_schedule(0, 11, 5e-4, 5e-5), cosine_schedule(10, 11, 5e-4, 5e-5)
    (0.0005, 5e-05)
    """
    if total <= 1:
        return float(learning_rate)
    progress_ = min(step, total - 1) / (total - 1)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress_))
    return float(min_learning_rate + (learning_rate - min_learning_rate) * cosine)


def _shards(
    n: int, batch_size: int, generator: torch.Generator, rank: int, world: int
) -> Iterator[list[int]]:
    """This process's equal share of each shuffled global batch."""
    order = torch.randperm(n, generator=generator)
    for batch in torch.split(order, batch_size):
        n_local = batch.shape[0] // world
        if n_local == 0:
            continue
        yield batch[rank * n_local : (rank + 1) * n_local].tolist()


def _optimizer(model: Any, learning_rate: float, weight_decay: float) -> Any:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("The model has no trainable parameters.")
    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ],
        lr=learning_rate,
    )


def _to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}


def train_lm(
    model: Any,
    epoch_examples: Callable[[int], Sequence[Any]],
    collate: Callable[[Sequence[Any]], dict[str, Any]],
    *,
    n_epochs: int,
    batch_size: int,
    learning_rate: float = 5e-4,
    min_learning_rate: float = 5e-5,
    weight_decay: float = 0.0,
    max_grad_norm: float | None = 1.0,
    accelerator: Any,
    seed: int = 0,
    verbose: int = 0,
    desc: str = "fMRI-LM",
    on_epoch_end: Callable[[int], bool] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place on the examples of each epoch.

    Parameters
    ----------
    model : FMRILanguageModel
        The model; its parameters with ``requires_grad`` are trained.
    epoch_examples : callable
        ``epoch_examples(epoch)`` -> the examples of that epoch (same number each
        epoch; the same on every process).
    collate : callable
        ``collate(examples)`` -> batch dict for ``model(batch)``.
    n_epochs, batch_size : int
        Epochs and global batch size (examples per optimiser step).
    learning_rate, min_learning_rate : float, default=5e-4, 5e-5
        Cosine decay from the first to the second over all steps (fMRI-LM).
    weight_decay : float, default=0.0
        AdamW weight decay of weight matrices.
    max_grad_norm : float or None, default=1.0
        Gradient-norm clipping; ``None`` disables it.
    accelerator : accelerate.Accelerator
        Where and how to train (one or several processes).
    seed : int, default=0
        Seed of the shuffling.
    verbose : int, default=0
        tqdm bar over steps when >= 1 (main process only).
    desc : str, default="fMRI-LM"
        Label of the progress bar and messages.
    on_epoch_end : callable or None, default=None
        ``on_epoch_end(epoch)`` after each epoch (model in eval mode); training
        stops when it returns True (early stopping).

    Returns
    -------
    dict of str to list of float
        Per-epoch means of ``"loss"``, ``"text"``, ``"f2f"``, the learning rate
        at the end of the epoch (``"lr"``) and ``"epoch_time"`` (seconds), and
        ``"step_time"``, mean seconds per optimiser step.
    """
    n_examples = len(epoch_examples(0))
    steps_per_epoch = max(1, math.ceil(n_examples / batch_size))
    total = n_epochs * steps_per_epoch
    optimizer = _optimizer(model, learning_rate, weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            cosine_schedule(s, total, learning_rate, min_learning_rate) / learning_rate
        ),
    )
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    generator = torch.Generator().manual_seed(int(seed))
    history: dict[str, list[float]] = {
        k: [] for k in ("loss", "text", "f2f", "lr", "epoch_time", "step_time")
    }
    verbose = verbose if accelerator.is_main_process else 0
    bar = progress(range(total), verbose=verbose, desc=desc, total=total)
    bar_iter = iter(bar)
    wrapped.train()
    for epoch in range(n_epochs):
        start = time.perf_counter()
        examples = epoch_examples(epoch)
        sums = {"loss": 0.0, "text": 0.0, "f2f": 0.0}
        n_steps = 0
        for index in _shards(
            len(examples),
            batch_size,
            generator,
            accelerator.process_index,
            accelerator.num_processes,
        ):
            batch = _to_device(
                collate([examples[i] for i in index]), accelerator.device
            )
            optimizer.zero_grad(set_to_none=True)
            out = wrapped(batch)
            accelerator.backward(out["loss"])
            if max_grad_norm is not None:
                accelerator.clip_grad_norm_(wrapped.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()
            for key in sums:
                sums[key] += float(out[key].detach())
            n_steps += 1
            next(bar_iter, None)
        elapsed = time.perf_counter() - start
        means = torch.tensor(
            [sums[k] / max(n_steps, 1) for k in ("loss", "text", "f2f")],
            device=accelerator.device,
        )
        means = accelerator.reduce(means, reduction="mean").tolist()
        for key, value in zip(("loss", "text", "f2f"), means, strict=True):
            history[key].append(float(value))
        history["lr"].append(float(scheduler.get_last_lr()[0]))
        history["epoch_time"].append(elapsed)
        history["step_time"].append(elapsed / max(n_steps, 1))
        log(
            f"epoch {epoch + 1}/{n_epochs}: loss {means[0]:.4f} (text {means[1]:.4f}, "
            f"f2f {means[2]:.4f}), {elapsed:.1f} s",
            verbose=verbose,
            level=2,
            owner=desc,
        )
        if on_epoch_end is not None:
            wrapped.eval()
            stop = bool(on_epoch_end(epoch))
            wrapped.train()
            if stop:
                break
    if hasattr(bar, "close"):
        bar.close()
    model.eval()
    return history
