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
from collections.abc import Callable, Sequence
from typing import Any

import torch

from brainlm_decode.base import log, progress
from brainlm_decode.training.batches import local_shards, shuffled_batches
from brainlm_decode.training.optim import cosine_schedule, make_optimizer

__all__ = ["train_lm"]


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
    optimizer = make_optimizer(model, learning_rate, weight_decay)
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
        batches = shuffled_batches(
            len(examples), batch_size, generator, equal_sizes=False
        )
        for index in local_shards(
            batches, accelerator.process_index, accelerator.num_processes, min_rows=1
        ):
            batch = _to_device(
                collate([examples[i] for i in index.tolist()]), accelerator.device
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
