"""NiCLIP's CLIP model: a text tower and an image tower over precomputed embeddings.

The model follows the habits of open_clip's ``model.py``: ``encode_text`` and
``encode_image`` return L2-normalised features, and ``forward`` returns the two
feature matrices with the exponentiated logit scale so that a separate loss module
(:class:`~brainlm_decode.clip.loss.ClipLoss`) turns them into a scalar.

Temperature semantics
---------------------
The model holds **one** learnable scalar, :attr:`CLIPModel.logit_scale`, the natural
log of the inverse temperature: ``scale = exp(logit_scale) = 1 / temperature``. It is
initialised at ``log(1 / 0.07)`` (scale 14.29, CLIP's value) and kept in
``[0, log(100)]`` (scale at most 100, as CLIP and open_clip clamp it) by
:meth:`CLIPModel.clamp_logit_scale_`, which the trainer calls after every optimiser
step. The *same* scale multiplies the cosine similarity in the contrastive loss and in
:meth:`CLIPModel.similarity`, which decoding uses, so a softmax over
``similarity`` at decoding time is the very distribution the model was trained to
produce. (NiCLIP's reference code trains with one temperature and decodes with
another; here there is only one.)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainlm_decode.base import Interval, check_param

__all__ = ["CLIPModel", "ProjectionBlock", "ResidualBlock"]

#: Initial logit scale of CLIP: ``log(1 / 0.07)`` (temperature 0.07, scale 14.29).
DEFAULT_LOGIT_SCALE = math.log(1 / 0.07)
#: Upper bound of the logit scale: ``log(100)`` (temperature 0.01, scale 100).
MAX_LOGIT_SCALE = math.log(100.0)


class ResidualBlock(nn.Module):
    """Residual MLP block: ``LayerNorm(skip(x) + Dropout(Linear(GELU(Linear(x)))))``.

    Parameters
    ----------
    in_dim : int
        Width of the input.
    out_dim : int or None, default=None
        Width of the output; ``None`` keeps ``in_dim``. When it differs from
        ``in_dim`` the skip connection is a bias-free linear map (a ResNet-style
        shortcut); otherwise it is the identity.
    dropout : float, default=0.5
        Dropout probability after the second linear layer (NiCLIP: 0.5).

    Attributes
    ----------
    fc1, fc2 : torch.nn.Linear
        The two linear layers (``in_dim -> out_dim -> out_dim``).
    act : torch.nn.GELU
        Activation between them.
    dropout : torch.nn.Dropout
        Dropout before the residual sum.
    shortcut : torch.nn.Module
        Identity or bias-free :class:`~torch.nn.Linear` (``in_dim -> out_dim``).
    norm : torch.nn.LayerNorm
        Normalisation after the residual sum.
    """

    def __init__(self, in_dim: int, out_dim: int | None = None, dropout: float = 0.5):
        super().__init__()
        out_dim = in_dim if out_dim is None else out_dim
        self.fc1 = nn.Linear(in_dim, out_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(out_dim, out_dim)
        self.dropout = nn.Dropout(dropout)
        self.shortcut: nn.Module = (
            nn.Identity()
            if in_dim == out_dim
            else nn.Linear(in_dim, out_dim, bias=False)
        )
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(n, in_dim)``; returns ``(n, out_dim)``."""
        out = self.dropout(self.fc2(self.act(self.fc1(x))))
        return self.norm(self.shortcut(x) + out)


class ProjectionBlock(nn.Module):
    """Projection block: the residual block whose skip is the first projection.

    ``projected = Linear(x)``; ``h = Dropout(Linear(GELU(projected)))``;
    ``output = LayerNorm(projected + h)``.

    Parameters
    ----------
    in_dim : int
        Width of the input (e.g. the text encoder's embedding size).
    out_dim : int
        Width of the output (the shared embedding size).
    dropout : float, default=0.5
        Dropout probability before the residual sum.

    Attributes
    ----------
    projection, fc : torch.nn.Linear
        ``in_dim -> out_dim`` projection and ``out_dim -> out_dim`` layer.
    act : torch.nn.GELU
        Activation between them.
    dropout : torch.nn.Dropout
        Dropout before the residual sum.
    norm : torch.nn.LayerNorm
        Normalisation after the residual sum.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.5):
        super().__init__()
        self.projection = nn.Linear(in_dim, out_dim)
        self.act = nn.GELU()
        self.fc = nn.Linear(out_dim, out_dim)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(n, in_dim)``; returns ``(n, out_dim)``."""
        projected = self.projection(x)
        out = self.dropout(self.fc(self.act(projected)))
        return self.norm(projected + out)


def _check_dim(name: str, value: Any, minimum: int = 1) -> int:
    return int(check_param(value, name, "CLIPModel", [Interval(int, minimum, None)]))


class CLIPModel(nn.Module):
    """NiCLIP's contrastive text-image model over precomputed embeddings.

    The text tower is a :class:`ProjectionBlock` (``text_dim -> embed_dim``)
    followed by ``n_text_blocks`` :class:`ResidualBlock`; the image tower is
    ``n_image_blocks`` :class:`ResidualBlock`, the first mapping
    ``image_dim -> embed_dim`` (identity skip when the two are equal, as in the
    paper where DiFuMo-512 image embeddings meet a 512-wide space). Both towers
    end in an L2 normalisation, so features lie on the unit sphere.

    See the module docstring for the temperature semantics: one learnable
    ``logit_scale = log(1 / temperature)``, clamped to ``[0, log(100)]``, used the
    same way in training and in :meth:`similarity`.

    Parameters
    ----------
    text_dim : int
        Width of the text embeddings (e.g. 384 for all-MiniLM-L6-v2, 4096 for
        BrainGPT-7B).
    image_dim : int
        Width of the image embeddings (e.g. 512 for DiFuMo-512).
    embed_dim : int, default=512
        Width of the shared space (NiCLIP: 512).
    dropout : float, default=0.5
        Dropout probability in every block (NiCLIP: 0.5).
    init_logit_scale : float, default=log(1 / 0.07)
        Initial value of :attr:`logit_scale` (log inverse temperature).
    max_logit_scale : float, default=log(100)
        Upper clamp of :attr:`logit_scale` (scale at most 100).
    n_text_blocks : int, default=2
        Residual blocks after the text projection block.
    n_image_blocks : int, default=3
        Residual blocks of the image tower.
    normalize_inputs : bool, default=True
        L2-normalise the input embeddings inside :meth:`encode_text` and
        :meth:`encode_image`, so that training and decoding see the same scale of
        inputs whatever the caller passes.

    Attributes
    ----------
    text_tower, image_tower : torch.nn.Sequential
        The two towers (without the final L2 normalisation).
    logit_scale : torch.nn.Parameter
        Scalar log inverse temperature.

    Examples
    --------
    >>> import torch
    >>> model = CLIPModel(text_dim=8, image_dim=6, embed_dim=4).eval()
    >>> text, image, scale = model(torch.randn(3, 8), torch.randn(3, 6))
    >>> tuple(text.shape), tuple(image.shape), round(model.scale, 2)
    ((3, 4), (3, 4), 14.29)
    """

    def __init__(
        self,
        text_dim: int,
        image_dim: int,
        embed_dim: int = 512,
        dropout: float = 0.5,
        init_logit_scale: float = DEFAULT_LOGIT_SCALE,
        max_logit_scale: float = MAX_LOGIT_SCALE,
        n_text_blocks: int = 2,
        n_image_blocks: int = 3,
        normalize_inputs: bool = True,
    ):
        super().__init__()
        self.text_dim = _check_dim("text_dim", text_dim)
        self.image_dim = _check_dim("image_dim", image_dim)
        self.embed_dim = _check_dim("embed_dim", embed_dim)
        self.n_text_blocks = _check_dim("n_text_blocks", n_text_blocks, minimum=0)
        self.n_image_blocks = _check_dim("n_image_blocks", n_image_blocks)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(
                "The 'dropout' parameter of CLIPModel must be a float in [0, 1). "
                f"Got {dropout!r} instead."
            )
        if not (
            math.isfinite(init_logit_scale)
            and 0.0 <= init_logit_scale <= max_logit_scale
        ):
            raise ValueError(
                "The 'init_logit_scale' parameter of CLIPModel must be finite and in "
                f"[0, max_logit_scale={max_logit_scale!r}]. Got {init_logit_scale!r}."
            )
        self.dropout = float(dropout)
        self.init_logit_scale = float(init_logit_scale)
        self.max_logit_scale = float(max_logit_scale)
        self.normalize_inputs = bool(normalize_inputs)

        text_blocks = [ProjectionBlock(self.text_dim, self.embed_dim, self.dropout)]
        text_blocks += [
            ResidualBlock(self.embed_dim, dropout=self.dropout)
            for _ in range(self.n_text_blocks)
        ]
        self.text_tower = nn.Sequential(*text_blocks)
        image_blocks = [ResidualBlock(self.image_dim, self.embed_dim, self.dropout)]
        image_blocks += [
            ResidualBlock(self.embed_dim, dropout=self.dropout)
            for _ in range(self.n_image_blocks - 1)
        ]
        self.image_tower = nn.Sequential(*image_blocks)
        self.logit_scale = nn.Parameter(torch.tensor(self.init_logit_scale))

    # ------------------------------------------------------------------ encoders
    def _encode(
        self, tower: nn.Module, x: torch.Tensor, width: int, name: str, normalize: bool
    ) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != width:
            raise ValueError(
                f"The {name!r} argument of CLIPModel must have shape (n, {width}). "
                f"Got shape {tuple(x.shape)} instead."
            )
        x = x.to(dtype=self.logit_scale.dtype)
        if self.normalize_inputs:
            x = F.normalize(x, dim=-1)
        features = tower(x)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, text: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Map text embeddings into the shared space.

        Parameters
        ----------
        text : torch.Tensor of shape (n, text_dim)
            Text embeddings.
        normalize : bool, default=True
            L2-normalise the output features.

        Returns
        -------
        torch.Tensor of shape (n, embed_dim)
        """
        return self._encode(self.text_tower, text, self.text_dim, "text", normalize)

    def encode_image(self, image: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Map image embeddings into the shared space.

        Parameters
        ----------
        image : torch.Tensor of shape (n, image_dim)
            Image (brain map) embeddings.
        normalize : bool, default=True
            L2-normalise the output features.

        Returns
        -------
        torch.Tensor of shape (n, embed_dim)
        """
        return self._encode(self.image_tower, image, self.image_dim, "image", normalize)

    def forward(
        self, text: torch.Tensor, image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode paired texts and images.

        Parameters
        ----------
        text : torch.Tensor of shape (n, text_dim)
            Text embeddings.
        image : torch.Tensor of shape (m, image_dim)
            Image embeddings (``m == n`` for training pairs).

        Returns
        -------
        text_features : torch.Tensor of shape (n, embed_dim)
            Unit-norm text features.
        image_features : torch.Tensor of shape (m, embed_dim)
            Unit-norm image features.
        scale : torch.Tensor of shape ()
            ``exp(logit_scale)``, the inverse temperature (differentiable).
        """
        return self.encode_text(text), self.encode_image(image), self.logit_scale.exp()

    # --------------------------------------------------------------- temperature
    @property
    def scale(self) -> float:
        """Inverse temperature ``exp(logit_scale)`` as a float (what decoding uses)."""
        return float(self.logit_scale.detach().exp())

    @property
    def temperature(self) -> float:
        """Softmax temperature ``1 / scale``."""
        return 1.0 / self.scale

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """Clamp :attr:`logit_scale` in place to ``[0, max_logit_scale]``.

        Called by the trainer after every optimiser step (open_clip's habit), so the
        scale never exceeds ``exp(max_logit_scale)`` (100 by default).
        """
        self.logit_scale.clamp_(0.0, self.max_logit_scale)

    def similarity(self, text: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Scaled cosine similarity between texts and images: ``scale * cos``.

        This is the logit used by the contrastive loss during training; a softmax
        over texts (rows of the transpose) gives the decoding likelihood
        ``P(text | image)``. Call ``model.eval()`` first to switch dropout off.

        Parameters
        ----------
        text : torch.Tensor of shape (n_text, text_dim)
            Text embeddings.
        image : torch.Tensor of shape (n_image, image_dim)
            Image embeddings.

        Returns
        -------
        torch.Tensor of shape (n_text, n_image)
            ``exp(logit_scale) * encode_text(text) @ encode_image(image).T``.
        """
        text_features, image_features, scale = self(text, image)
        return scale * text_features @ image_features.T

    # -------------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable (see :meth:`from_config`).

        Returns
        -------
        dict
        """
        return {
            "text_dim": self.text_dim,
            "image_dim": self.image_dim,
            "embed_dim": self.embed_dim,
            "dropout": self.dropout,
            "init_logit_scale": self.init_logit_scale,
            "max_logit_scale": self.max_logit_scale,
            "n_text_blocks": self.n_text_blocks,
            "n_image_blocks": self.n_image_blocks,
            "normalize_inputs": self.normalize_inputs,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CLIPModel:
        """Build an (untrained) model from :meth:`get_config`'s output.

        Parameters
        ----------
        config : dict
            Constructor arguments.

        Returns
        -------
        CLIPModel
        """
        return cls(**config)

    def extra_repr(self) -> str:
        """Summary shown in ``repr(model)``."""
        return (
            f"text_dim={self.text_dim}, image_dim={self.image_dim}, "
            f"embed_dim={self.embed_dim}, dropout={self.dropout}"
        )
