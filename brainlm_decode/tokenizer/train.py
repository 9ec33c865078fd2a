"""Training loop of the fMRI tokenizer, one code path for CPU, GPU and DDP.

:func:`train_tokenizer` runs AdamW with a cosine learning-rate decay (``learning_rate`` to
``min_learning_rate`` over all steps) and gradient clipping on

    ``w_rec * reconstruction + w_q * quantizer + w_adv * adversarial
    + w_con * contrastive``

(fMRI-LM: 1, 1, 0.5, 0.5). The loop goes through :class:`accelerate.Accelerator`:
under ``torchrun`` / ``accelerate launch`` every global batch is shared equally
between processes, gradients are averaged by DDP, the SigLIP term contrasts each
process's rows against the texts of the whole global batch and the VQ codebook
statistics are summed over processes, so that every process keeps the same
weights and codebook. Seeding, batching, the optimiser, the schedule and the
accelerator set-up come from :mod:`brainlm_decode.training`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from brainlm_decode.base import log, progress
from brainlm_decode.tokenizer.alignment import grl_schedule
from brainlm_decode.training.batches import local_shards, shuffled_batches
from brainlm_decode.training.optim import cosine_schedule, make_optimizer

__all__ = ["HISTORY_KEYS", "LOSS_TERMS", "train_tokenizer"]

_OWNER = "FMRITokenizer"

#: Loss terms, in the order of the total loss.
LOSS_TERMS = ("reconstruction", "quantizer", "adversarial", "contrastive")
#: Per-epoch records of ``FMRITokenizer.history_``.
HISTORY_KEYS = ("loss", *LOSS_TERMS, "grl_coefficient", "lr", "epoch_time")


def _steps_per_epoch(n: int, batch_size: int, world_size: int) -> int:
    """Number of global batches that give every process at least one row."""
    sizes = [len(b) for b in np.array_split(np.arange(n), math.ceil(n / batch_size))]
    return sum(1 for s in sizes if (s // world_size) * world_size >= 2)


def _sample(n: int, m: int, generator: torch.Generator) -> torch.Tensor:
    """``m`` indices in ``[0, n)``: without replacement when possible."""
    if n >= m:
        return torch.randperm(n, generator=generator)[:m]
    return torch.randint(0, n, (m,), generator=generator)


def _step_inputs(
    data: dict[str, Any], index: torch.Tensor, params: dict[str, Any], gen: Any
) -> dict[str, Any]:
    """Batch tensors of one step, on the training device."""
    device = data["device"]
    x = data["series"][index].to(device, non_blocking=True)
    inputs: dict[str, Any] = {"x": x}
    if data["text_embeddings"] is not None:
        inputs["text_embeddings"] = data["text_embeddings"][index].to(device)
    pool = data["text_tokens"]
    if pool is not None:
        n_fmri = x.shape[0] * x.shape[2] * (x.shape[1] // data["patch_size"])
        m = min(params["adversarial_tokens"], n_fmri)
        inputs["token_index"] = _sample(n_fmri, m, gen).to(device)
        inputs["text_tokens"] = pool[_sample(pool.shape[0], m, gen)].to(device)
    return inputs


def _total(terms: dict[str, torch.Tensor], params: dict[str, Any]) -> torch.Tensor:
    loss = torch.zeros((), device=terms["reconstruction"].device)
    for name in LOSS_TERMS:
        if name in terms:
            loss = loss + params[f"{name}_weight"] * terms[name]
    return loss


def _train_epoch(
    loop: tuple[Any, Any, Any],
    data: dict[str, Any],
    shards: Any,
    params: dict[str, Any],
    state: dict[str, Any],
) -> dict[str, float]:
    """One pass over the local shards; returns global means of each term."""
    model, optimizer, accelerator = loop
    model.train()
    sums = {name: torch.zeros((), device=accelerator.device) for name in HISTORY_KEYS}
    n_steps = 0
    for index in shards:
        progress_ = state["step"] / max(state["total_steps"], 1)
        coefficient = grl_schedule(
            progress_, schedule=params["grl_schedule"], gamma=params["grl_gamma"]
        )
        lr = cosine_schedule(
            state["step"],
            state["total_steps"],
            params["learning_rate"],
            params["min_learning_rate"],
        )
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs = _step_inputs(data, index, params, state["sampler"])
        optimizer.zero_grad(set_to_none=True)
        terms = model(
            inputs.pop("x"),
            grl_coefficient=coefficient,
            rank=accelerator.process_index,
            world_size=accelerator.num_processes,
            **inputs,
        )
        loss = _total(terms, params)
        accelerator.backward(loss)
        if params["max_grad_norm"] is not None:
            accelerator.clip_grad_norm_(model.parameters(), params["max_grad_norm"])
        optimizer.step()
        sums["loss"] += loss.detach()
        for name in LOSS_TERMS:
            if name in terms:
                sums[name] += terms[name].detach().float()
                state["terms"].add(name)
        sums["grl_coefficient"] += coefficient
        sums["lr"] += lr
        state["step"] += 1
        n_steps += 1
    return {
        name: float(accelerator.reduce(value / max(n_steps, 1), reduction="mean"))
        for name, value in sums.items()
        if name != "epoch_time"
    }


def train_tokenizer(
    model: Any,
    series: np.ndarray,
    *,
    text_embeddings: np.ndarray | None,
    text_tokens: np.ndarray | None,
    params: dict[str, Any],
    accelerator: Any,
    shuffle_seed: int,
) -> tuple[Any, dict[str, list[float]]]:
    """Train a :class:`~brainlm_decode.tokenizer.model.TokenizerModel`.

    Torch's global generator must already be seeded (dropout, k-means, dead-code
    re-seeding); batch order comes from ``shuffle_seed`` (the same on every
    process), the sampling of adversarial tokens from ``shuffle_seed + 1 + rank``.

    Parameters
    ----------
    model : TokenizerModel
        The model to train (moved to the accelerator's device).
    series : ndarray of shape (n_subjects, n_patches * patch_size, n_rois)
        float32 ROI time series.
    text_embeddings : ndarray of shape (n_subjects, text_dim) or None
        Unit-norm descriptor-text embeddings (contrastive term).
    text_tokens : ndarray of shape (n_tokens, backbone_dim) or None
        Language-model text-token embeddings (adversarial term).
    params : dict
        ``batch_size``, ``learning_rate``, ``min_learning_rate``, ``weight_decay``,
        ``n_epochs``, ``max_grad_norm``, ``<term>_weight`` for each of :data:`LOSS_TERMS`,
        ``grl_schedule``, ``grl_gamma``, ``adversarial_tokens``, ``verbose``.
    accelerator : accelerate.Accelerator
        The accelerator (one or several processes).
    shuffle_seed : int
        Seed of the batch order.

    Returns
    -------
    model : TokenizerModel
        The unwrapped trained model, in eval mode.
    history : dict of str to list of float
        Per-epoch means (over steps and processes) of each key of
        :data:`HISTORY_KEYS`; terms not trained are absent.
    """
    world = accelerator.num_processes
    n = series.shape[0]
    data = {
        "series": torch.from_numpy(series),
        "text_embeddings": None
        if text_embeddings is None
        else torch.from_numpy(text_embeddings),
        "text_tokens": None if text_tokens is None else torch.from_numpy(text_tokens),
        "device": accelerator.device,
        "patch_size": model.config["patch_size"],
    }
    optimizer = make_optimizer(model, params["learning_rate"], params["weight_decay"])
    model, optimizer = accelerator.prepare(model, optimizer)
    state = {
        "step": 0,
        "total_steps": params["n_epochs"]
        * _steps_per_epoch(n, params["batch_size"], world),
        "sampler": torch.Generator().manual_seed(
            shuffle_seed + 1 + accelerator.process_index
        ),
        "terms": set(),
    }
    generator = torch.Generator().manual_seed(shuffle_seed)
    verbose = params["verbose"] if accelerator.is_main_process else 0
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
    for epoch in progress(range(params["n_epochs"]), verbose=verbose, desc=_OWNER):
        start = time.perf_counter()
        shards = local_shards(
            shuffled_batches(n, params["batch_size"], generator),
            accelerator.process_index,
            world,
        )
        record = _train_epoch(
            (model, optimizer, accelerator), data, shards, params, state
        )
        record["epoch_time"] = time.perf_counter() - start
        for key in HISTORY_KEYS:
            history[key].append(record[key])
        log(
            f"epoch {epoch + 1}/{params['n_epochs']}: "
            + ", ".join(f"{k} {record[k]:.4f}" for k in ("loss", *LOSS_TERMS)),
            verbose=verbose,
            level=2,
            owner=_OWNER,
        )
    for name in set(LOSS_TERMS) - state["terms"]:
        del history[name]
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.eval()
    return unwrapped, history
