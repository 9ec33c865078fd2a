"""Training loop of NiCLIP's CLIP model, one code path for CPU, GPU and DDP.

:func:`train_clip` validates the paired embeddings, splits off a validation set
(grouped by study when ``groups`` is given), and runs AdamW with early stopping on the
**validation** loss, keeping a copy of the best weights, as in the NiCLIP paper. The
loop goes through :class:`accelerate.Accelerator`, so the same function trains on one
CPU, one GPU, or several processes launched by ``torchrun`` / ``accelerate launch``
(features are then gathered across processes by
:class:`~brainlm_decode.clip.loss.ClipLoss`, so every pair meets the global batch).
Like open_clip's trainer, the loop only sees a model and a loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from brainlm_decode.base import (
    SHARED_CONSTRAINTS,
    Interval,
    fill_doc,
    log,
    progress,
    renamed,
    validate_params,
)
from brainlm_decode.clip.loss import ClipLoss
from brainlm_decode.clip.model import CLIPModel
from brainlm_decode.training.batches import local_shards, shuffled_batches
from brainlm_decode.training.checkpoint import BestWeights
from brainlm_decode.training.optim import make_optimizer
from brainlm_decode.training.runtime import (
    device_context,
    make_accelerator,
    seeded_torch,
    shared_seed,
)

__all__ = ["TrainingHistory", "train_clip"]

_OWNER = "train_clip"

_CONSTRAINTS: dict[str, list[Any]] = {
    **SHARED_CONSTRAINTS,
    "validation_fraction": [Interval(float, 0.0, 1.0, closed="neither")],
    "embed_dim": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 2, None)],
    "learning_rate": [Interval(float, 0.0, None, closed="neither")],
    "weight_decay": [Interval(float, 0.0, None)],
    "n_epochs": [Interval(int, 1, None)],
    "patience": [Interval(int, 1, None), None],
    "dropout": [Interval(float, 0.0, 1.0, closed="left")],
}


@dataclass
class TrainingHistory:
    """Per-epoch record of a :func:`train_clip` run.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each epoch (global-batch loss, averaged over steps).
    val_loss : list of float
        Validation loss after each epoch (dropout off).
    logit_scale : list of float
        ``logit_scale`` (log inverse temperature) after each epoch.
    epoch_time : list of float
        Wall-clock seconds of each epoch (training and validation).
    best_epoch : int
        0-based index of the epoch whose weights were kept (lowest ``val_loss``).
    stopped_early : bool
        Whether training stopped before ``n_epochs`` because ``patience`` epochs
        passed without improvement.
    n_train, n_val : int
        Number of training and validation pairs.
    n_processes : int
        Number of processes that trained together.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    logit_scale: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    n_train: int = 0
    n_val: int = 0
    n_processes: int = 1

    @property
    def n_epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss)

    @property
    def best_val_loss(self) -> float:
        """Validation loss of the kept weights."""
        return self.val_loss[self.best_epoch] if self.val_loss else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable copy of the record.

        Returns
        -------
        dict
        """
        return {**asdict(self), "best_val_loss": self.best_val_loss}


# --------------------------------------------------------------------------------------
# Input checks and split
# --------------------------------------------------------------------------------------


def _check_matrix(value: Any, name: str, width: int | None = None) -> np.ndarray:
    """A finite 2-D float32 array with non-zero rows, or a ValueError naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The {name!r} argument of {_OWNER} must be a 2-D numeric array. "
            f"Could not convert it: {exc}"
        ) from None
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"The {name!r} argument of {_OWNER} must be a non-empty 2-D array "
            f"(n_samples, n_features). Got shape {array.shape} instead."
        )
    if width is not None and array.shape[1] != width:
        raise ValueError(
            f"The {name!r} argument of {_OWNER} must have {width} columns like the "
            f"training embeddings. Got shape {array.shape} instead."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"The {name!r} argument of {_OWNER} contains NaN or inf.")
    if (np.linalg.norm(array, axis=1) == 0).any():
        bad = int(np.flatnonzero(np.linalg.norm(array, axis=1) == 0)[0])
        raise ValueError(
            f"The {name!r} argument of {_OWNER} has an all-zero row (row {bad}); "
            "it cannot be L2-normalised."
        )
    return np.ascontiguousarray(array)


def _check_pairs(
    text: Any, image: Any, names: tuple[str, str], widths: tuple[int | None, ...]
) -> tuple[np.ndarray, np.ndarray]:
    text = _check_matrix(text, names[0], widths[0])
    image = _check_matrix(image, names[1], widths[1])
    if text.shape[0] != image.shape[0]:
        raise ValueError(
            f"The {names[0]!r} and {names[1]!r} arguments of {_OWNER} must have the "
            f"same number of rows (one text per image). Got {text.shape[0]} and "
            f"{image.shape[0]}."
        )
    return text, image


def _split_indices(
    n: int, validation_fraction: float, groups: Any, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices, grouped by ``groups`` when given (sklearn splitters)."""
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

    if groups is None:
        splitter: Any = ShuffleSplit(
            1, test_size=validation_fraction, random_state=seed
        )
        return next(splitter.split(np.zeros(n)))
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n:
        raise ValueError(
            f"The 'groups' argument of {_OWNER} must be 1-D with one study id per "
            f"pair ({n}). Got shape {groups.shape} instead."
        )
    if np.unique(groups).size < 2:
        raise ValueError(
            f"The 'groups' argument of {_OWNER} needs at least 2 distinct groups to "
            "hold out a grouped validation set."
        )
    splitter = GroupShuffleSplit(1, test_size=validation_fraction, random_state=seed)
    return next(splitter.split(np.zeros(n), groups=groups))


def _prepare_data(
    text: Any,
    image: Any,
    validation: Sequence[Any] | None,
    validation_fraction: float,
    groups: Any,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated (train_text, train_image, val_text, val_image)."""
    text, image = _check_pairs(
        text, image, ("text_embeddings", "image_embeddings"), (None, None)
    )
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError(
                f"The 'validation' argument of {_OWNER} must be a pair "
                f"(text_val, image_val). Got {type(validation).__name__} instead."
            )
        val_text, val_image = _check_pairs(
            validation[0],
            validation[1],
            ("validation[0]", "validation[1]"),
            (text.shape[1], image.shape[1]),
        )
        return text, image, val_text, val_image
    train_idx, val_idx = _split_indices(
        text.shape[0], validation_fraction, groups, seed
    )
    return text[train_idx], image[train_idx], text[val_idx], image[val_idx]


def _check_sizes(n_train: int, n_val: int, n_processes: int) -> None:
    if n_val < 2:
        raise ValueError(
            f"{_OWNER} needs at least 2 validation pairs for a contrastive validation "
            f"loss; got {n_val}. Pass more data, a larger 'validation_fraction', or "
            "an explicit 'validation' pair."
        )
    if n_train < 2 * n_processes:
        raise ValueError(
            f"{_OWNER} needs at least {2 * n_processes} training pairs (2 per "
            f"process, {n_processes} processes); got {n_train}. Pass more data or "
            "a smaller 'validation_fraction'."
        )


# --------------------------------------------------------------------------------------
# Loop pieces: one epoch, evaluation
# --------------------------------------------------------------------------------------


def _train_epoch(
    model: Any,
    loss_fn: ClipLoss,
    optimizer: Any,
    data: tuple[torch.Tensor, torch.Tensor],
    shards: Iterator[torch.Tensor],
    accelerator: Any,
) -> float:
    """One pass over the local shards; returns the global mean training loss."""
    unwrapped = accelerator.unwrap_model(model)
    model.train()
    total = torch.zeros((), device=accelerator.device)
    n_steps = 0
    for index in shards:
        text = data[0][index].to(accelerator.device, non_blocking=True)
        image = data[1][index].to(accelerator.device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*model(text, image))
        accelerator.backward(loss)
        optimizer.step()
        unwrapped.clamp_logit_scale_()
        total += loss.detach()
        n_steps += 1
    mean = total / max(n_steps, 1)
    return float(accelerator.reduce(mean, reduction="mean"))


@torch.no_grad()
def _evaluate(
    model: CLIPModel,
    data: tuple[torch.Tensor, torch.Tensor],
    batches: list[torch.Tensor],
    device: Any,
) -> float:
    """Size-weighted mean of the CLIP loss over fixed validation batches (eval mode)."""
    was_training = model.training
    model.eval()
    loss_fn = ClipLoss()
    total, count = 0.0, 0
    for index in batches:
        if index.shape[0] < 2:
            continue
        text, image = data[0][index].to(device), data[1][index].to(device)
        total += float(loss_fn(*model(text, image))) * index.shape[0]
        count += index.shape[0]
    model.train(was_training)
    return total / count


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


@fill_doc
def train_clip(
    text_embeddings: Any,
    image_embeddings: Any,
    *,
    validation: Sequence[Any] | None = None,
    validation_fraction: float = 0.1,
    groups: Any = None,
    embed_dim: int = 512,
    batch_size: int = 128,
    learning_rate: float = 5e-4,
    weight_decay: float = 0.1,
    n_epochs: int = 50,
    patience: int | None = 10,
    dropout: float = 0.5,
    random_state: Any = None,
    device: Any = "auto",
    verbose: int = 0,
    accelerator: Any = None,
    lr: float | None = None,
    max_epochs: int | None = None,
) -> tuple[CLIPModel, TrainingHistory]:
    """Train NiCLIP's CLIP model on paired text and image embeddings.

    AdamW on the symmetric InfoNCE loss (:class:`~brainlm_decode.clip.loss.ClipLoss`)
    with the paper's defaults (batch 128, learning rate 5e-4, weight decay 0.1, up to 50 epochs,
    dropout 0.5), early stopping after ``patience`` epochs without improvement of
    the **validation** loss, and the best weights restored at the end. Weight decay
    applies to weight matrices only (not to biases, LayerNorm or ``logit_scale``,
    as in open_clip): decaying ``logit_scale`` would pull the temperature to 1.

    Each epoch the training pairs are shuffled (seeded torch generator) and split
    into ``ceil(n_train / batch_size)`` batches of nearly equal size (at most
    ``batch_size``), so no pair is dropped and the contrastive task is equally hard
    in every batch. With several processes each global batch is shared equally
    between them (up to ``n_processes - 1`` leftover pairs are skipped in that
    epoch) and features are gathered, so the loss is that of the global batch.
    The validation loss uses fixed batches of the same size with dropout off.

    Parameters
    ----------
    text_embeddings : array-like of shape (n_pairs, text_dim)
        Text embeddings, one per study. Converted to float32; they need not be
        L2-normalised (the model normalises its inputs, so training and decoding
        agree), but must be finite with no all-zero row.
    image_embeddings : array-like of shape (n_pairs, image_dim)
        Image embeddings paired row by row with ``text_embeddings``.
    validation : tuple (text_val, image_val) or None, default=None
        Explicit validation pairs; when given, ``validation_fraction`` and
        ``groups`` are not used.
    validation_fraction : float, default=0.1
        Fraction of pairs (of groups, with ``groups``) held out for validation.
    groups : array-like of shape (n_pairs,) or None, default=None
        Study ids: the validation split keeps all pairs of a group on one side
        (:class:`sklearn.model_selection.GroupShuffleSplit`).
    embed_dim : int, default=512
        Width of the shared space (NiCLIP: 512).
    batch_size : int, default=128
        Global number of pairs per contrastive batch (at least 2).
    learning_rate : float, default=5e-4
        AdamW learning rate.
    weight_decay : float, default=0.1
        AdamW weight decay of the weight matrices.
    n_epochs : int, default=50
        Maximum number of epochs (fewer when early stopping stops training).
    patience : int or None, default=10
        Stop after this many epochs without a lower validation loss; ``None``
        trains for ``n_epochs`` (the best weights are still restored).
    dropout : float, default=0.5
        Dropout probability of every block.
    %(random_state)s
    %(device)s
        Ignored when ``accelerator`` is given.
    %(verbose)s
    accelerator : accelerate.Accelerator or None, default=None
        Accelerator to train with (e.g. one configured for mixed precision or
        launched by ``torchrun``); ``None`` builds one for ``device``
        (``cpu=True`` on CPU; under ``torchrun`` it joins the process group).
    lr, max_epochs : float, int or None, default=None
        Deprecated names of ``learning_rate`` and ``n_epochs`` (FutureWarning);
        removed in the next release.

    Returns
    -------
    model : CLIPModel
        The model with the best validation weights, in eval mode, on the training
        device. Its ``logit_scale`` is the temperature to decode with.
    history : TrainingHistory
        Per-epoch training and validation losses, logit scales and the best epoch.

    Raises
    ------
    ValueError
        On mismatched row counts, NaN/inf, wrong widths, all-zero rows, too few
        pairs for a batch or a validation set, or an out-of-range parameter.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> text = rng.normal(size=(60, 8))
    >>> image = text @ rng.normal(size=(8, 6))
    >>> model, history = train_clip(
    ...     text, image, embed_dim=4, batch_size=16, n_epochs=2, random_state=0,
    ...     device="cpu")
    >>> history.n_epochs, model.embed_dim
    (2, 4)
    """
    learning_rate = renamed(
        _OWNER, "lr", "learning_rate", lr, learning_rate, kind="argument", unset=None
    )
    n_epochs = renamed(
        _OWNER,
        "max_epochs",
        "n_epochs",
        max_epochs,
        n_epochs,
        kind="argument",
        unset=None,
    )
    params = {
        "validation_fraction": validation_fraction,
        "embed_dim": embed_dim,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "n_epochs": n_epochs,
        "patience": patience,
        "dropout": dropout,
        "random_state": random_state,
        "device": device,
        "verbose": verbose,
    }
    validate_params(_OWNER, params, _CONSTRAINTS, kind="argument")
    accelerator = make_accelerator(device, accelerator, owner=_OWNER)
    seed = shared_seed(random_state, accelerator)
    split_seed, init_seed, shuffle_seed = np.random.SeedSequence(seed).generate_state(3)
    arrays = _prepare_data(
        text_embeddings,
        image_embeddings,
        validation,
        validation_fraction,
        groups,
        int(split_seed),
    )
    _check_sizes(arrays[0].shape[0], arrays[2].shape[0], accelerator.num_processes)
    with (
        device_context(device, accelerator),
        seeded_torch(int(init_seed), accelerator.device),
    ):
        return _fit(arrays, params, accelerator, int(shuffle_seed))


def _fit(
    arrays: tuple[np.ndarray, ...],
    params: dict[str, Any],
    accelerator: Any,
    shuffle_seed: int,
) -> tuple[CLIPModel, TrainingHistory]:
    """Build model, optimiser and loss, then run the epochs (torch already seeded)."""
    train = (torch.from_numpy(arrays[0]), torch.from_numpy(arrays[1]))
    val = (torch.from_numpy(arrays[2]), torch.from_numpy(arrays[3]))
    model = CLIPModel(
        text_dim=train[0].shape[1],
        image_dim=train[1].shape[1],
        embed_dim=params["embed_dim"],
        dropout=params["dropout"],
    )
    optimizer = make_optimizer(model, params["learning_rate"], params["weight_decay"])
    model, optimizer = accelerator.prepare(model, optimizer)
    loss_fn = ClipLoss(
        rank=accelerator.process_index, world_size=accelerator.num_processes
    )
    history = TrainingHistory(
        n_train=int(train[0].shape[0]),
        n_val=int(val[0].shape[0]),
        n_processes=accelerator.num_processes,
    )
    generator = torch.Generator().manual_seed(shuffle_seed)
    val_batches = shuffled_batches(
        history.n_val, params["batch_size"], torch.Generator().manual_seed(shuffle_seed)
    )
    unwrapped = accelerator.unwrap_model(model)
    best_state = _run_epochs(
        (model, loss_fn, optimizer, accelerator),
        (train, val, val_batches, generator),
        params,
        history,
    )
    unwrapped.load_state_dict(best_state)
    unwrapped.eval()
    return unwrapped, history


def _agree(value: float, accelerator: Any) -> float:
    """The processes' mean of ``value``: each process computes the same validation
    loss (same weights, same data); averaging makes the early-stopping decision
    bit-identical across processes regardless of floating-point noise."""
    if accelerator.num_processes == 1:
        return value
    tensor = torch.tensor(value, dtype=torch.float64, device=accelerator.device)
    return float(accelerator.reduce(tensor, reduction="mean"))


def _run_epochs(
    loop: tuple[Any, ClipLoss, Any, Any],
    data: tuple[Any, Any, list[torch.Tensor], torch.Generator],
    params: dict[str, Any],
    history: TrainingHistory,
) -> dict[str, torch.Tensor]:
    """Epoch loop with early stopping; fills ``history``, returns the best weights."""
    model, loss_fn, optimizer, accelerator = loop
    train, val, val_batches, generator = data
    unwrapped = accelerator.unwrap_model(model)
    verbose = params["verbose"] if accelerator.is_main_process else 0
    best = BestWeights(params["patience"])
    epochs = progress(range(params["n_epochs"]), verbose=verbose, desc=_OWNER)
    for epoch in epochs:
        start = time.perf_counter()
        batches = shuffled_batches(history.n_train, params["batch_size"], generator)
        shards = local_shards(
            batches, accelerator.process_index, accelerator.num_processes
        )
        train_loss = _train_epoch(model, loss_fn, optimizer, train, shards, accelerator)
        val_loss = _agree(
            _evaluate(unwrapped, val, val_batches, accelerator.device), accelerator
        )
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.logit_scale.append(float(unwrapped.logit_scale.detach()))
        history.epoch_time.append(time.perf_counter() - start)
        log(
            f"epoch {epoch + 1}/{params['n_epochs']}: train {train_loss:.4f}, "
            f"validation {val_loss:.4f}, scale {unwrapped.scale:.2f}",
            verbose=verbose,
            level=2,
            owner=_OWNER,
        )
        if best.update(val_loss, unwrapped):
            history.best_epoch = epoch
        elif best.should_stop:
            history.stopped_early = True
            break
    log(
        f"kept epoch {history.best_epoch + 1} of {history.n_epochs} "
        f"(validation loss {history.best_val_loss:.4f})",
        verbose=verbose,
        owner=_OWNER,
    )
    if best.state is None:
        raise RuntimeError(
            f"{_OWNER}: the validation loss was never finite (training diverged); "
            "try a smaller 'learning_rate'."
        )
    return best.state
