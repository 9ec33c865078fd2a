"""Quantizers of the fMRI tokenizer (``brainlm_decode.quantizers`` plugins).

Every quantizer follows one call contract, the one of ``vector-quantize-pytorch``::

    quantized, indices, aux_loss = quantizer(x)

for ``x`` of shape ``(..., dim)``: ``quantized`` has the shape of ``x`` (the code
vectors, with straight-through gradients in training), ``indices`` the shape of
``x`` without its last axis (int64, in ``[0, codebook_size)``) and ``aux_loss`` is
a scalar to add to the training loss (the commitment loss of
:class:`VectorQuantizer`, zero for :class:`FiniteScalarQuantizer`).
``quantizer.decode(indices)`` (alias ``get_codes_from_indices``) gives back the
code vectors, equal to the forward value of ``quantized``.

A quantizer is at the same time a :class:`torch.nn.Module` (its weights and
codebook buffers live in the tokenizer's ``state_dict``) and a scikit-learn
estimator (``get_params``/``set_params``/``clone``), so that it can be given as a
nested parameter of :class:`~brainlm_decode.FMRITokenizer`. The input width
``dim`` is usually left to the tokenizer, which builds a copy with its own width
(:meth:`Quantizer.with_dim`).

- :class:`VectorQuantizer` (``"vq"``): cosine-similarity codebook (L2-normalised
  codes and inputs), k-means initialisation on the first training batch,
  exponential-moving-average (EMA) updates, commitment loss, straight-through
  gradients and re-seeding of dead codes from the current batch. With several
  processes the EMA statistics are summed over processes and the k-means
  initialisation and re-seeded codes are broadcast from process 0, so every
  process keeps the same codebook.
- :class:`FiniteScalarQuantizer` (``"fsq"``): finite scalar quantisation
  (Mentzer et al. 2023): a projection to a few bounded scalars rounded to fixed
  levels; the codebook is implicit (``prod(levels)`` codes), always fully usable
  and learned only through the projections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from torch import nn

from brainlm_decode.base import Interval, check_param

__all__ = [
    "FiniteScalarQuantizer",
    "Quantizer",
    "VectorQuantizer",
    "codebook_usage",
    "spherical_kmeans",
]

#: Largest number of similarity entries computed at once (rows x codes).
_CHUNK_ELEMENTS = 1 << 24


def _distributed() -> bool:
    """Whether several processes train together (torch.distributed initialised)."""
    return bool(
        dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    )


def _check_positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    return int(check_param(value, name, owner, [Interval(int, minimum, None)]))


def nearest_code(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the most similar code (largest dot product) for each row of ``x``.

    Rows are processed in chunks, so that memory stays bounded for large
    codebooks (at most about 16 M similarity entries at a time).

    Parameters
    ----------
    x : torch.Tensor of shape (n, d)
        Unit-norm rows.
    codebook : torch.Tensor of shape (k, d)
        Unit-norm codes.

    Returns
    -------
    torch.Tensor of shape (n,), int64
    """
    step = max(1, _CHUNK_ELEMENTS // max(codebook.shape[0], 1))
    parts = [
        (chunk @ codebook.T).argmax(dim=1) for chunk in torch.split(x, step, dim=0)
    ]
    if not parts:
        return torch.zeros(0, dtype=torch.long, device=x.device)
    return torch.cat(parts)


def spherical_kmeans(
    samples: torch.Tensor, n_clusters: int, n_iter: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means with cosine similarity (unit-norm means), seeded from the samples.

    Initial means are ``n_clusters`` distinct samples drawn with torch's global
    random generator (with replacement when there are fewer samples than
    clusters); a cluster that becomes empty keeps its previous mean.

    Parameters
    ----------
    samples : torch.Tensor of shape (n, d)
        Unit-norm samples.
    n_clusters : int
        Number of means.
    n_iter : int, default=10
        Assignment / update iterations.

    Returns
    -------
    means : torch.Tensor of shape (n_clusters, d)
        Unit-norm means.
    counts : torch.Tensor of shape (n_clusters,)
        Number of samples assigned to each mean at the last iteration (float).
    """
    n = samples.shape[0]
    if n >= n_clusters:
        start = torch.randperm(n, device=samples.device)[:n_clusters]
    else:
        start = torch.randint(0, n, (n_clusters,), device=samples.device)
    means = samples[start].clone()
    counts = torch.zeros(n_clusters, device=samples.device, dtype=samples.dtype)
    for _ in range(max(int(n_iter), 1)):
        assign = nearest_code(samples, means)
        counts = torch.bincount(assign, minlength=n_clusters).to(samples.dtype)
        sums = torch.zeros_like(means).index_add_(0, assign, samples)
        updated = F.normalize(sums, dim=-1)
        means = torch.where(counts[:, None] > 0, updated, means)
    return means, counts


def codebook_usage(indices: Any, codebook_size: int) -> tuple[float, float]:
    """Perplexity and share of unused codes of a set of token indices.

    Parameters
    ----------
    indices : array-like of int
        Token indices (any shape).
    codebook_size : int
        Number of codes.

    Returns
    -------
    perplexity : float
        ``exp(H)`` of the empirical code distribution (natural log): the
        effective number of codes used, between 1 and ``codebook_size``.
    dead_fraction : float
        Share of the codebook used by no index.

    Examples
    --------
    >>> codebook_usage([0, 1, 2, 3], 8)
    (4.0, 0.5)
    """
    flat = np.asarray(indices, dtype=np.int64).ravel()
    counts = np.bincount(flat, minlength=int(codebook_size)).astype(np.float64)
    if flat.size == 0:
        return float("nan"), 1.0
    probs = counts[counts > 0] / flat.size
    perplexity = float(np.exp(-(probs * np.log(probs)).sum()))
    return round(perplexity, 10), float((counts == 0).mean())


class Quantizer(BaseEstimator, nn.Module):
    """Base class of quantizers: a torch module and a scikit-learn estimator.

    Subclasses take ``dim`` (input width; ``None`` until the owner sets it) as
    their first keyword argument; ``__init__`` only stores parameters (scikit-learn
    contract). Weights are built by :meth:`build` (called by :meth:`with_dim`, or
    on first use), so that ``set_params`` followed by ``build`` or first use gives
    weights of the new shape. Subclasses implement ``_build``, :meth:`forward`,
    :meth:`decode` and :attr:`codebook_size`.
    """

    _built: bool = False

    def build(self) -> Quantizer:
        """Validate the parameters and (re)build the weights and buffers.

        Returns
        -------
        self : Quantizer

        Raises
        ------
        ValueError
            When ``dim`` is not set or a parameter is out of range.
        """
        self._require_dim()
        self._build()
        self._built = True
        return self.train(self.training)

    def ensure_built(self) -> Quantizer:
        """Build the weights unless they are already built for the parameters.

        Returns
        -------
        self : Quantizer
        """
        return self if self._built else self.build()

    def set_params(self, **params: Any) -> Quantizer:
        """Set parameters; the weights are rebuilt by :meth:`build` or on first use.

        Parameters
        ----------
        **params
            Constructor parameters.

        Returns
        -------
        self : Quantizer
        """
        super().set_params(**params)
        self._built = False
        return self

    def with_dim(self, dim: int) -> Quantizer:
        """A fresh copy of this quantizer (same parameters) for inputs of width ``dim``.

        Parameters
        ----------
        dim : int
            Input width.

        Returns
        -------
        Quantizer
            A new, untrained instance; ``self`` is left unchanged.
        """
        params = {**self.get_params(deep=False), "dim": int(dim)}
        return type(self)(**params).build()

    @property
    def codebook_size(self) -> int:
        """Number of codes."""
        raise NotImplementedError

    def _require_dim(self) -> int:
        if self.dim is None:
            raise ValueError(
                f"{type(self).__name__} was built without 'dim'; use "
                "quantizer.with_dim(width) (the tokenizer does this) before calling it."
            )
        return int(self.dim)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors of ``indices`` (shape ``indices.shape + (dim,)``)."""
        raise NotImplementedError

    def get_codes_from_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`decode` (the name used by vector-quantize-pytorch)."""
        return self.decode(indices)

    def _check_indices(self, indices: torch.Tensor) -> torch.Tensor:
        indices = torch.as_tensor(indices, dtype=torch.long)
        if indices.numel() and (
            int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size
        ):
            raise ValueError(
                f"The 'indices' argument of {type(self).__name__}.decode must lie in "
                f"[0, {self.codebook_size}). Got values in [{int(indices.min())}, "
                f"{int(indices.max())}]."
            )
        return indices

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        """Estimator-style representation (parameters that differ from defaults)."""
        return BaseEstimator.__repr__(self, N_CHAR_MAX=N_CHAR_MAX)

    def __sklearn_tags__(self) -> Any:
        """Inputs are torch tensors of shape (..., dim), not 2D arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


class VectorQuantizer(Quantizer):
    """Cosine-similarity vector quantizer with EMA codebook updates (``"vq"``).

    Inputs are L2-normalised and matched to the nearest of ``codebook_size``
    unit-norm codes (largest cosine similarity). In training mode:

    1. on the first batch the codebook is initialised by spherical k-means of
       the batch (``kmeans_init=True``; otherwise random unit vectors are used
       from the start);
    2. the codebook follows exponential moving averages (``decay``) of the
       number of inputs assigned to each code and of their sum, renormalised
       (Laplace-smoothed counts), so it learns without gradients;
    3. codes whose EMA count falls below ``dead_code_threshold`` are replaced
       by random inputs of the current batch;
    4. the commitment loss ``commitment_weight * mean((x_n - sg[code])^2)`` pulls
       the normalised inputs ``x_n`` towards their codes, and the output is
       ``x_n + sg[code - x_n]`` (straight-through gradients).

    Outside training the output is the code itself (no straight-through
    estimator), so ``decode(indices)`` equals it exactly.

    Parameters
    ----------
    dim : int or None, default=None
        Input width; ``None`` until the tokenizer sets its embedding width.
    codebook_size : int, default=8192
        Number of codes (fMRI-LM: 8192).
    codebook_dim : int or None, default=None
        Width of the codes. ``None`` matches inputs to codes of width ``dim``
        directly; an int adds a linear projection in (``dim -> codebook_dim``)
        and out (``codebook_dim -> dim``), a factorised codebook that often
        uses more codes.
    decay : float, default=0.99
        EMA decay of the codebook statistics.
    commitment_weight : float, default=0.25
        Weight of the commitment loss returned as ``aux_loss``.
    kmeans_init : bool, default=True
        Initialise the codebook by k-means on the first training batch.
    kmeans_iters : int, default=10
        Iterations of that k-means.
    dead_code_threshold : float, default=1.0
        A code whose EMA count (expected assignments per batch) falls below this
        value is re-seeded with an input of the current batch; 0 disables it.
    eps : float, default=1e-5
        Laplace smoothing of the EMA counts.

    Attributes
    ----------
    embed : torch.Tensor of shape (codebook_size, codebook_dim)
        The unit-norm codebook (a buffer).
    cluster_size : torch.Tensor of shape (codebook_size,)
        EMA of the number of assignments per code (a buffer).
    embed_sum : torch.Tensor of shape (codebook_size, codebook_dim)
        EMA of the sum of the inputs assigned to each code (a buffer).
    initted : torch.Tensor
        Whether the codebook has been initialised (boolean buffer).

    Examples
    --------
    >>> import torch
    >>> vq = VectorQuantizer(dim=8, codebook_size=16).build().eval()
    >>> quantized, indices, aux = vq(torch.randn(4, 10, 8))
    >>> quantized.shape, indices.shape, bool((vq.decode(indices) == quantized).all())
    (torch.Size([4, 10, 8]), torch.Size([4, 10]), True)
    """

    def __init__(
        self,
        dim: int | None = None,
        *,
        codebook_size: int = 8192,
        codebook_dim: int | None = None,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        dead_code_threshold: float = 1.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.dim = dim
        self._codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.decay = decay
        self.commitment_weight = commitment_weight
        self.kmeans_init = kmeans_init
        self.kmeans_iters = kmeans_iters
        self.dead_code_threshold = dead_code_threshold
        self.eps = eps

    # ``codebook_size`` is both a constructor parameter (get_params reads it) and
    # the contract's property, so it is stored under a private name.
    @property
    def codebook_size(self) -> int:  # type: ignore[override]
        """Number of codes."""
        return self._codebook_size

    @codebook_size.setter
    def codebook_size(self, value: int) -> None:
        self._codebook_size = value

    def _build(self) -> None:
        owner = type(self).__name__
        dim = _check_positive_int(owner, "dim", self.dim)
        size = _check_positive_int(owner, "codebook_size", self._codebook_size)
        width = dim
        if self.codebook_dim is not None:
            width = _check_positive_int(owner, "codebook_dim", self.codebook_dim)
        check_param(self.decay, "decay", owner, [Interval(float, 0, 1, closed="left")])
        _check_positive_int(owner, "kmeans_iters", self.kmeans_iters)
        for name in ("commitment_weight", "dead_code_threshold", "eps"):
            check_param(getattr(self, name), name, owner, [Interval(float, 0, None)])
        projected = width != dim
        self.project_in = nn.Linear(dim, width) if projected else nn.Identity()
        self.project_out = nn.Linear(width, dim) if projected else nn.Identity()
        self.register_buffer("embed", F.normalize(torch.randn(size, width), dim=-1))
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed_sum", self.embed.clone())
        self.register_buffer("initted", torch.tensor(not self.kmeans_init))

    # -- codebook maintenance ----------------------------------------------------------
    @torch.no_grad()
    def _init_codebook(self, xn: torch.Tensor) -> None:
        means, counts = spherical_kmeans(xn, self.codebook_size, self.kmeans_iters)
        self.embed.copy_(means)
        self.cluster_size.copy_(counts)
        self.embed_sum.copy_(means * counts[:, None])
        self.initted.fill_(True)
        self._broadcast()

    @torch.no_grad()
    def _broadcast(self) -> None:
        """Make every process hold process 0's codebook (no-op in one process)."""
        if _distributed():
            for buffer in (self.embed, self.cluster_size, self.embed_sum):
                dist.broadcast(buffer, src=0)

    @torch.no_grad()
    def _ema_update(self, xn: torch.Tensor, indices: torch.Tensor) -> None:
        counts = torch.bincount(indices, minlength=self.codebook_size).to(xn.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, indices, xn)
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (
            (self.cluster_size + self.eps)
            / (total + self.codebook_size * self.eps)
            * total
        )
        means = self.embed_sum / smoothed[:, None]
        usable = means.norm(dim=-1, keepdim=True) > 1e-12
        self.embed.copy_(torch.where(usable, F.normalize(means, dim=-1), self.embed))

    @torch.no_grad()
    def _reseed_dead_codes(self, xn: torch.Tensor) -> None:
        if self.dead_code_threshold <= 0 or xn.shape[0] == 0:
            return
        dead = self.cluster_size < self.dead_code_threshold
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        if xn.shape[0] >= n_dead:
            rows = torch.randperm(xn.shape[0], device=xn.device)[:n_dead]
        else:
            rows = torch.randint(0, xn.shape[0], (n_dead,), device=xn.device)
        samples = xn[rows]
        self.embed[dead] = samples
        self.cluster_size[dead] = float(self.dead_code_threshold)
        self.embed_sum[dead] = samples * float(self.dead_code_threshold)
        self._broadcast()

    # -- the call contract -------------------------------------------------------------
    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize ``x`` of shape ``(..., dim)``.

        Parameters
        ----------
        x : torch.Tensor of shape (..., dim)
            Continuous features.

        Returns
        -------
        quantized : torch.Tensor of shape (..., dim)
            Code vectors (straight-through estimator in training).
        indices : torch.Tensor of shape (...), int64
            Code indices.
        aux_loss : torch.Tensor of shape ()
            Weighted commitment loss (zero outside training).
        """
        dim = int(self.ensure_built().dim)
        if x.shape[-1] != dim:
            raise ValueError(
                f"{type(self).__name__} expects inputs of width {dim} (last axis). "
                f"Got shape {tuple(x.shape)} instead."
            )
        lead = x.shape[:-1]
        xn = F.normalize(self.project_in(x.reshape(-1, dim)), dim=-1)
        detached = xn.detach()
        if self.training and not bool(self.initted):
            self._init_codebook(detached)
        indices = nearest_code(detached, self.embed)
        codes = self.embed[indices].clone()
        aux_loss = torch.zeros((), device=x.device, dtype=x.dtype)
        if self.training:
            if self.commitment_weight > 0 and xn.requires_grad:
                aux_loss = self.commitment_weight * F.mse_loss(xn, codes)
            self._ema_update(detached, indices)
            self._reseed_dead_codes(detached)
        if self.training and xn.requires_grad:
            codes = xn + (codes - xn).detach()  # straight-through estimator
        quantized = self.project_out(codes)
        return quantized.reshape(*lead, dim), indices.reshape(lead), aux_loss

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors of ``indices``.

        Parameters
        ----------
        indices : torch.Tensor of int, any shape
            Code indices in ``[0, codebook_size)``.

        Returns
        -------
        torch.Tensor of shape ``indices.shape + (dim,)``
        """
        dim = int(self.ensure_built().dim)
        indices = self._check_indices(indices).to(self.embed.device)
        codes = self.project_out(self.embed[indices.reshape(-1)])
        return codes.reshape(*indices.shape, dim)


class FiniteScalarQuantizer(Quantizer):
    """Finite scalar quantisation (``"fsq"``, Mentzer et al. 2023).

    ``x`` is projected to ``len(levels)`` scalars, each bounded by a shifted
    ``tanh`` and rounded to ``levels[i]`` values spread over ``[-1, 1]``
    (straight-through rounding in training), then projected back to ``dim``. The
    codebook is the grid of all combinations: ``prod(levels)`` codes, e.g.
    ``(8, 5, 5, 5)`` gives 1,000 and ``(8, 8, 8, 5, 5, 5)`` 64,000. There is no
    auxiliary loss, no codebook collapse and nothing to re-seed.

    Parameters
    ----------
    dim : int or None, default=None
        Input width; ``None`` until the tokenizer sets its embedding width.
    levels : sequence of int, default=(8, 5, 5, 5)
        Number of values of each scalar (each at least 2).
    eps : float, default=1e-3
        Margin of the bound, so that rounding never reaches a level outside the
        grid.

    Attributes
    ----------
    project_in, project_out : torch.nn.Module
        Linear maps ``dim -> len(levels)`` and back (identity when equal).

    Examples
    --------
    >>> import torch
    >>> fsq = FiniteScalarQuantizer(dim=8, levels=(8, 5, 5, 5)).eval()
    >>> quantized, indices, aux = fsq(torch.randn(4, 10, 8))
    >>> fsq.codebook_size, bool((fsq.decode(indices) == quantized).all())
    (1000, True)
    """

    def __init__(
        self,
        dim: int | None = None,
        *,
        levels: Sequence[int] = (8, 5, 5, 5),
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.levels = levels
        self.eps = eps

    def _checked_levels(self) -> list[int]:
        owner = type(self).__name__
        levels = self.levels
        if isinstance(levels, (str, bytes)) or not isinstance(
            levels, (Sequence, np.ndarray)
        ):
            raise TypeError(
                f"The 'levels' parameter of {owner} must be a sequence of ints >= 2. "
                f"Got {levels!r} instead."
            )
        if len(levels) == 0:
            raise ValueError(f"The 'levels' parameter of {owner} must not be empty.")
        return [_check_positive_int(owner, "levels", int(v), 2) for v in levels]

    @property
    def codebook_size(self) -> int:  # type: ignore[override]
        """``prod(levels)``."""
        return int(math.prod(self._checked_levels()))

    def _build(self) -> None:
        dim = _check_positive_int(type(self).__name__, "dim", self.dim)
        levels = self._checked_levels()
        width = len(levels)
        self.project_in = nn.Linear(dim, width) if width != dim else nn.Identity()
        self.project_out = nn.Linear(width, dim) if width != dim else nn.Identity()
        levels_t = torch.tensor(levels, dtype=torch.long)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]]), dim=0)
        self.register_buffer("_levels", levels_t, persistent=False)
        self.register_buffer("_basis", basis.to(torch.long), persistent=False)

    def _bound(self, z: torch.Tensor) -> torch.Tensor:
        levels = self._levels.to(z.dtype)
        half_l = (levels - 1) * (1 + self.eps) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0).to(z.dtype)
        shift = torch.atanh(offset / half_l)
        return torch.tanh(z + shift) * half_l - offset

    def _half_width(self, dtype: torch.dtype) -> torch.Tensor:
        return (self._levels // 2).to(dtype)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize ``x`` of shape ``(..., dim)``.

        Parameters
        ----------
        x : torch.Tensor of shape (..., dim)
            Continuous features.

        Returns
        -------
        quantized : torch.Tensor of shape (..., dim)
            Projected grid points (straight-through rounding with gradients).
        indices : torch.Tensor of shape (...), int64
            Code indices in ``[0, prod(levels))``.
        aux_loss : torch.Tensor of shape ()
            Zero.
        """
        dim = int(self.ensure_built().dim)
        if x.shape[-1] != dim:
            raise ValueError(
                f"{type(self).__name__} expects inputs of width {dim} (last axis). "
                f"Got shape {tuple(x.shape)} instead."
            )
        bounded = self._bound(self.project_in(x))
        rounded = bounded.round()
        if self.training and bounded.requires_grad:
            rounded = bounded + (rounded - bounded).detach()
        codes = rounded / self._half_width(x.dtype)
        digits = (rounded.detach() + self._half_width(x.dtype)).round().long()
        indices = (digits * self._basis).sum(dim=-1)
        aux_loss = torch.zeros((), device=x.device, dtype=x.dtype)
        return self.project_out(codes), indices, aux_loss

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Projected grid points of ``indices``.

        Parameters
        ----------
        indices : torch.Tensor of int, any shape
            Code indices in ``[0, prod(levels))``.

        Returns
        -------
        torch.Tensor of shape ``indices.shape + (dim,)``
        """
        self.ensure_built()
        indices = self._check_indices(indices).to(self._basis.device)
        digits = (indices[..., None] // self._basis) % self._levels
        dtype = next(iter(self.parameters()), torch.empty(0)).dtype
        half = self._half_width(dtype)
        codes = (digits.to(dtype) - half) / half
        return self.project_out(codes)
