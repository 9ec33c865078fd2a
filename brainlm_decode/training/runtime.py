"""Accelerator set-up, seeding and device selection of every training loop."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from brainlm_decode.base import resolve_device, seed_from_random_state

__all__ = ["device_context", "make_accelerator", "seeded_torch", "shared_seed"]


def make_accelerator(device: Any, accelerator: Any = None, *, owner: str) -> Any:
    """The given accelerator, or a new one for ``device`` (``cpu=True`` on CPU).

    Parameters
    ----------
    device : str or torch.device
        Requested device (``"auto"``, ``"cpu"``, ``"cuda:1"``...).
    accelerator : accelerate.Accelerator or None, default=None
        Returned unchanged when given.
    owner : str
        Name of the caller (``"train_clip"``, ``"FMRITokenizer"``...), used in the
        warning.

    Returns
    -------
    accelerate.Accelerator

    Warns
    -----
    RuntimeWarning
        When accelerate's process state was already set up for another device
        type, so training runs there and not on ``device``.
    """
    if accelerator is not None:
        return accelerator
    from accelerate import Accelerator

    resolved = resolve_device(device)
    accelerator = Accelerator(cpu=resolved.type == "cpu")
    if accelerator.device.type != resolved.type:
        warnings.warn(
            f"{owner}: device={device!r} was requested but accelerate's process "
            f"state was already set up for {accelerator.device} in this process, so "
            "training runs there. Pass an 'accelerator' or start a new process.",
            RuntimeWarning,
            stacklevel=3,
        )
    return accelerator


def shared_seed(random_state: Any, accelerator: Any) -> int:
    """One seed, drawn on the main process and broadcast to the others.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        Source of the seed.
    accelerator : accelerate.Accelerator

    Returns
    -------
    int
    """
    seed = seed_from_random_state(random_state)
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        seed = int(broadcast_object_list([seed], from_process=0)[0])
    return seed


@contextlib.contextmanager
def seeded_torch(seed: int, device: Any) -> Iterator[None]:
    """Seed torch's global RNG (dropout, init) without leaking the change.

    On CPU deterministic algorithms are also switched on for the duration.

    Parameters
    ----------
    seed : int
        Seed of torch's global generator (and of ``device``'s when CUDA).
    device : torch.device
        Training device.

    Yields
    ------
    None
    """
    devices = [device] if getattr(device, "type", "cpu") == "cuda" else []
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if getattr(device, "type", "cpu") == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def device_context(device: Any, accelerator: Any) -> Any:
    """Make ``cuda:k`` the current device when one process trains on it.

    Parameters
    ----------
    device : str or torch.device
        Requested device.
    accelerator : accelerate.Accelerator

    Returns
    -------
    context manager
    """
    if accelerator.num_processes == 1 and isinstance(device, str) and ":" in device:
        resolved = resolve_device(device)
        if resolved.type == "cuda":
            return torch.cuda.device(resolved)
    return contextlib.nullcontext()
