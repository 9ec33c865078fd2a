"""Torch model of the fMRI tokenizer: patching, encoder, quantizer, decoder, heads.

Input: ROI time series of shape ``(batch, n_timepoints, n_rois)`` with
``n_timepoints = n_patches * patch_size``. Each ROI's series is cut into
non-overlapping temporal patches of ``patch_size`` points (time only: no mixing
across ROIs inside a patch), giving ``n_rois * n_patches`` tokens per subject.
A token is ``Linear(patch) + roi_embedding[roi] + time_embedding[patch]``; a
pre-norm Transformer encoder with full attention over all tokens of a subject
gives the continuous features ``(batch, n_rois, n_patches, embed_dim)``, which a
quantizer (:mod:`brainlm_decode.tokenizer.quantizers`) turns into code indices.
A light Transformer decoder reconstructs the patches from the quantised tokens.

Sizes follow the fMRI-LM paper (:data:`SIZES`); any other size is a dict with the
same keys, so tests run the same code at a tiny width.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from brainlm_decode.tokenizer.alignment import (
    DomainDiscriminator,
    SigLIPLoss,
    adversarial_loss,
    grad_reverse,
)

__all__ = ["SIZES", "TokenizerModel", "patchify", "resolve_size", "unpatchify"]

#: Encoder sizes of the fMRI-LM paper.
SIZES: dict[str, dict[str, int]] = {
    "small": {"n_layers": 12, "embed_dim": 384, "n_heads": 6},
    "base": {"n_layers": 12, "embed_dim": 768, "n_heads": 12},
    "large": {"n_layers": 24, "embed_dim": 1024, "n_heads": 16},
}


def resolve_size(size: Any, owner: str = "FMRITokenizer") -> dict[str, int]:
    """Encoder depth, width and heads from a size name or dict.

    Parameters
    ----------
    size : {"small", "base", "large"} or dict
        A name of :data:`SIZES` or a dict with int ``n_layers``, ``embed_dim`` and
        ``n_heads`` (``embed_dim`` divisible by ``n_heads``).
    owner : str, default="FMRITokenizer"
        Name used in error messages.

    Returns
    -------
    dict
        ``{"n_layers": int, "embed_dim": int, "n_heads": int}``.

    Raises
    ------
    ValueError
        Unknown name, missing or extra keys, non-positive values, or a width that
        the heads do not divide.

    Examples
    --------
    >>> resolve_size("small")
    {'n_layers': 12, 'embed_dim': 384, 'n_heads': 6}
    """
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(
                f"The 'size' parameter of {owner} must be one of {sorted(SIZES)} or a "
                f"dict with keys n_layers, embed_dim, n_heads. Got {size!r} instead."
            )
        return dict(SIZES[size])
    keys = {"n_layers", "embed_dim", "n_heads"}
    if not isinstance(size, dict) or set(size) != keys:
        raise ValueError(
            f"The 'size' parameter of {owner} must be one of {sorted(SIZES)} or a dict "
            f"with exactly the keys {sorted(keys)}. Got {size!r} instead."
        )
    for key in sorted(keys):
        value = size[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"The 'size' parameter of {owner}: {key!r} must be an int >= 1. "
                f"Got {value!r} instead."
            )
    if size["embed_dim"] % size["n_heads"]:
        raise ValueError(
            f"The 'size' parameter of {owner}: embed_dim ({size['embed_dim']}) must "
            f"be divisible by n_heads ({size['n_heads']})."
        )
    return {key: int(size[key]) for key in ("n_layers", "embed_dim", "n_heads")}


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(batch, n_patches * patch_size, n_rois)`` -> ``(batch, n_rois, n_patches, patch_size)``."""
    batch, length, n_rois = x.shape
    return x.transpose(1, 2).reshape(batch, n_rois, length // patch_size, patch_size)


def unpatchify(patches: torch.Tensor) -> torch.Tensor:
    """``(batch, n_rois, n_patches, patch_size)`` -> ``(batch, n_patches * patch_size, n_rois)``."""
    batch, n_rois, n_patches, patch_size = patches.shape
    return patches.reshape(batch, n_rois, n_patches * patch_size).transpose(1, 2)


def _transformer(
    width: int, n_heads: int, n_layers: int, dropout: float
) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        d_model=width,
        nhead=n_heads,
        dim_feedforward=4 * width,
        dropout=dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(
        layer, n_layers, norm=nn.LayerNorm(width), enable_nested_tensor=False
    )


def quantizer_spec(quantizer: nn.Module) -> dict[str, Any]:
    """JSON description of a quantizer: its plugin name and parameters."""
    from brainlm_decode.persistence import plugin_to_json

    spec = plugin_to_json(quantizer, "quantizers", lambda _, v: _jsonable(v))
    if spec is None:
        raise TypeError(
            f"{type(quantizer).__name__} is not a registered quantizer plugin; "
            "register it to save the tokenizer (nested estimators are saved by "
            "plugin name only)."
        )
    return spec


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def quantizer_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a quantizer from :func:`quantizer_spec` output (by plugin name;
    the import path of a built-in in older files is mapped to its name, never
    imported)."""
    from brainlm_decode.persistence import plugin_from_json

    quantizer = plugin_from_json(spec, "quantizers", source="the tokenizer model")
    return quantizer.build() if hasattr(quantizer, "build") else quantizer


class TokenizerModel(nn.Module):
    """Encoder, quantizer, decoder and alignment heads of the fMRI tokenizer.

    Parameters
    ----------
    n_rois : int
        Number of ROIs (rows of the learned ROI embedding).
    n_patches : int
        Maximum number of temporal patches (rows of the time embedding).
    quantizer : Quantizer
        A quantizer built for width ``embed_dim``.
    patch_size : int, default=32
        Time points per patch.
    embed_dim, n_layers, n_heads : int, default=384, 12, 6
        Encoder width, depth and attention heads (``"small"``).
    decoder_layers : int, default=2
        Depth of the decoder (same width and heads as the encoder).
    dropout : float, default=0.0
        Dropout inside the Transformer layers.
    text_dim : int or None, default=None
        Width of the descriptor-text embeddings: adds the SigLIP head
        (``Linear(embed_dim, text_dim)`` on the mean-pooled features).
    backbone_dim : int or None, default=None
        Width of the language model's token embeddings: adds the adversarial head
        (``Linear(embed_dim, backbone_dim)``, gradient reversal, discriminator).
    discriminator_hidden : int, default=256
        Hidden width of the discriminator.

    Attributes
    ----------
    patch_embed : torch.nn.Linear
        ``patch_size -> embed_dim``.
    roi_embed, time_embed : torch.nn.Parameter
        Learned ROI and temporal-position embeddings.
    encoder, decoder : torch.nn.TransformerEncoder
        Pre-norm Transformers with full attention over a subject's tokens.
    head : torch.nn.Linear
        ``embed_dim -> patch_size`` reconstruction head.
    text_proj, contrastive : torch.nn.Module or None
        SigLIP projection and loss (learnable temperature and bias).
    token_proj, discriminator : torch.nn.Module or None
        Adversarial projection and domain discriminator.
    """

    def __init__(
        self,
        n_rois: int,
        n_patches: int,
        quantizer: nn.Module,
        *,
        patch_size: int = 32,
        embed_dim: int = 384,
        n_layers: int = 12,
        n_heads: int = 6,
        decoder_layers: int = 2,
        dropout: float = 0.0,
        text_dim: int | None = None,
        backbone_dim: int | None = None,
        discriminator_hidden: int = 256,
    ) -> None:
        super().__init__()
        self.config = {
            "n_rois": int(n_rois),
            "n_patches": int(n_patches),
            "patch_size": int(patch_size),
            "embed_dim": int(embed_dim),
            "n_layers": int(n_layers),
            "n_heads": int(n_heads),
            "decoder_layers": int(decoder_layers),
            "dropout": float(dropout),
            "text_dim": None if text_dim is None else int(text_dim),
            "backbone_dim": None if backbone_dim is None else int(backbone_dim),
            "discriminator_hidden": int(discriminator_hidden),
        }
        self.patch_embed = nn.Linear(patch_size, embed_dim)
        self.roi_embed = nn.Parameter(torch.randn(n_rois, embed_dim) * 0.02)
        self.time_embed = nn.Parameter(torch.randn(n_patches, embed_dim) * 0.02)
        self.encoder = _transformer(embed_dim, n_heads, n_layers, dropout)
        if hasattr(quantizer, "ensure_built"):
            quantizer.ensure_built()
        self.quantizer = quantizer
        self.decoder_roi_embed = nn.Parameter(torch.randn(n_rois, embed_dim) * 0.02)
        self.decoder_time_embed = nn.Parameter(torch.randn(n_patches, embed_dim) * 0.02)
        self.decoder = _transformer(embed_dim, n_heads, decoder_layers, dropout)
        self.head = nn.Linear(embed_dim, patch_size)
        self.text_proj = nn.Linear(embed_dim, text_dim) if text_dim else None
        self.contrastive = SigLIPLoss() if text_dim else None
        self.token_proj = nn.Linear(embed_dim, backbone_dim) if backbone_dim else None
        self.discriminator = (
            DomainDiscriminator(backbone_dim, discriminator_hidden)
            if backbone_dim
            else None
        )

    # -- configuration -----------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values (quantizer included)."""
        return {**self.config, "quantizer": quantizer_spec(self.quantizer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TokenizerModel:
        """Build an (untrained) model from :meth:`get_config` output."""
        config = dict(config)
        quantizer = quantizer_from_spec(config.pop("quantizer"))
        n_rois, n_patches = config.pop("n_rois"), config.pop("n_patches")
        return cls(n_rois, n_patches, quantizer, **config)

    # -- the three stages --------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous features of ``x`` (batch, n_patches * patch_size, n_rois).

        Returns
        -------
        torch.Tensor of shape (batch, n_rois, n_patches, embed_dim)
        """
        patches = patchify(x, self.config["patch_size"])
        batch, n_rois, n_patches, _ = patches.shape
        tokens = (
            self.patch_embed(patches)
            + self.roi_embed[None, :, None, :]
            + self.time_embed[None, None, :n_patches, :]
        )
        hidden = self.encoder(tokens.reshape(batch, n_rois * n_patches, -1))
        return hidden.reshape(batch, n_rois, n_patches, -1)

    def decode(self, quantized: torch.Tensor) -> torch.Tensor:
        """Reconstruct ROI time series from quantised tokens.

        Parameters
        ----------
        quantized : torch.Tensor of shape (batch, n_rois, n_patches, embed_dim)

        Returns
        -------
        torch.Tensor of shape (batch, n_patches * patch_size, n_rois)
        """
        batch, n_rois, n_patches, width = quantized.shape
        tokens = (
            quantized
            + self.decoder_roi_embed[None, :, None, :]
            + self.decoder_time_embed[None, None, :n_patches, :]
        )
        hidden = self.decoder(tokens.reshape(batch, n_rois * n_patches, width))
        patches = self.head(hidden).reshape(batch, n_rois, n_patches, -1)
        return unpatchify(patches)

    def pooled_text_embedding(self, features: torch.Tensor) -> torch.Tensor:
        """Unit-norm projection of mean-pooled features into the text space."""
        if self.text_proj is None:
            raise RuntimeError("This tokenizer model has no contrastive head.")
        return F.normalize(self.text_proj(features.mean(dim=(1, 2))), dim=-1)

    # -- training forward --------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        *,
        text_embeddings: torch.Tensor | None = None,
        text_tokens: torch.Tensor | None = None,
        token_index: torch.Tensor | None = None,
        grl_coefficient: float = 0.0,
        rank: int = 0,
        world_size: int = 1,
    ) -> dict[str, torch.Tensor]:
        """Loss terms of one batch (everything in one forward, as DDP wants).

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_patches * patch_size, n_rois)
            ROI time series.
        text_embeddings : torch.Tensor of shape (batch, text_dim) or None
            Unit-norm descriptor-text embeddings, paired with the rows of ``x``
            (needed when the model has a contrastive head).
        text_tokens : torch.Tensor of shape (n, backbone_dim) or None
            Text-token embeddings of the language model (the discriminator's
            "text" class; needed with an adversarial head).
        token_index : torch.Tensor of shape (n_sampled,) or None
            Flat indices of the fMRI tokens fed to the discriminator; ``None``
            uses every token.
        grl_coefficient : float, default=0.0
            Gradient reversal coefficient of this step.
        rank, world_size : int
            Process index and count (SigLIP gathers texts across processes).

        Returns
        -------
        dict of str to torch.Tensor
            ``"reconstruction"`` (MSE), ``"quantizer"`` (auxiliary loss) and, with
            the heads, ``"adversarial"`` and ``"contrastive"``, all scalars;
            ``"indices"`` (batch, n_rois, n_patches).
        """
        features = self.encode(x)
        quantized, indices, aux = self.quantizer(features)
        recon = self.decode(quantized)
        out = {
            "reconstruction": F.mse_loss(recon, x),
            "quantizer": aux,
            "indices": indices,
        }
        if self.token_proj is not None and text_tokens is not None:
            flat = features.reshape(-1, features.shape[-1])
            if token_index is not None:
                flat = flat[token_index]
            # the projection belongs to the feature side: it is trained to fool
            fmri = grad_reverse(self.token_proj(flat), grl_coefficient)
            out["adversarial"] = adversarial_loss(
                self.discriminator(fmri), self.discriminator(text_tokens)
            )
        if self.contrastive is not None and text_embeddings is not None:
            out["contrastive"] = self.contrastive(
                self.pooled_text_embedding(features),
                text_embeddings,
                rank=rank,
                world_size=world_size,
            )
        return out

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        """Summary shown in ``repr``."""
        c = self.config
        return (
            f"n_rois={c['n_rois']}, n_patches={c['n_patches']}, "
            f"patch_size={c['patch_size']}, embed_dim={c['embed_dim']}, "
            f"n_layers={c['n_layers']}, n_heads={c['n_heads']}, "
            f"decoder_layers={c['decoder_layers']}"
        )
