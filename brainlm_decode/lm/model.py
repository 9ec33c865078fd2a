"""The fMRI-LM network: a causal LM reading fMRI tokens between text segments.

:class:`FMRILanguageModel` holds

- the pretrained causal LM (Hugging Face, optionally wrapped by peft LoRA),
- :class:`FMRIInputModule`, projecting the tokenizer's continuous features to
  the LM width (plus group and time embeddings),
- the fMRI head, a linear layer from the LM's hidden states to the tokenizer's
  codebook (Stage 2 F2F targets).

One forward pass embeds the text tokens, writes the projected fMRI tokens at
their positions (``inputs_embeds``), runs the LM's decoder under a
block-causal attention mask (:func:`attention_mask_4d`), and returns the
weighted text loss (instruction answers, F2T descriptions, T2T text) and the
F2F loss. Logits are computed only at the positions that have a target, in
checkpointed chunks, so a 262k-token vocabulary (Gemma) does not fill memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "FMRIInputModule",
    "FMRILanguageModel",
    "apply_lora",
    "attention_mask_4d",
    "text_embedding_scale",
]

_IGNORE = -100
_LOGIT_CHUNK = 512


class FMRIInputModule(nn.Module):
    """Projection of tokenizer features to the LM's input-embedding space.

    ``scale * (LayerNorm(W x + b) + group_embedding[g] + time_embedding[t])``,
    tokens returned time-major (see :mod:`brainlm_decode.lm.fmri_input`).

    Parameters
    ----------
    embed_dim : int
        Width of the tokenizer features.
    hidden_size : int
        Width of the LM's input embeddings.
    n_groups : int
        Number of groups (ROIs, networks, parcel groups) of the layout.
    n_patches : int
        Temporal patches per group.
    scale : float, default=1.0
        Root-mean-square of the LM's text-token embeddings, so that fMRI tokens
        enter at the scale the LM expects.
    """

    def __init__(
        self,
        embed_dim: int,
        hidden_size: int,
        n_groups: int,
        n_patches: int,
        *,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(embed_dim, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.group_embedding = nn.Parameter(torch.zeros(n_groups, hidden_size))
        self.time_embedding = nn.Parameter(torch.zeros(n_patches, hidden_size))
        nn.init.normal_(self.group_embedding, std=0.1)
        nn.init.normal_(self.time_embedding, std=0.1)
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.n_groups, self.n_patches = int(n_groups), int(n_patches)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map features to LM-width tokens.

        Parameters
        ----------
        features : Tensor of shape (batch, n_groups, n_patches, embed_dim)

        Returns
        -------
        Tensor of shape (batch, n_patches * n_groups, hidden_size)
            Token ``t * n_groups + g`` is group ``g`` at patch ``t``.
        """
        x = self.norm(self.proj(features))
        x = x + self.group_embedding[None, :, None, :] + self.time_embedding[None, None]
        x = x.transpose(1, 2).reshape(x.shape[0], -1, x.shape[-1])
        return x * self.scale


def text_embedding_scale(lm: Any, n_rows: int = 4096) -> float:
    """Root-mean-square of the LM's text-token input embeddings.

    Parameters
    ----------
    lm : transformers.PreTrainedModel
        The causal LM.
    n_rows : int, default=4096
        Token ids sampled (evenly spaced) to estimate it.

    Returns
    -------
    float
    """
    table = lm.get_input_embeddings()
    vocab = table.weight.shape[0]
    ids = torch.linspace(0, vocab - 1, min(n_rows, vocab)).long()
    with torch.no_grad():
        rows = table(ids.to(table.weight.device)).float()
    return float(rows.pow(2).mean().sqrt())


def apply_lora(
    lm: Any,
    *,
    r: int,
    alpha: float,
    target_modules: Sequence[str],
    dropout: float = 0.05,
) -> Any:
    """Wrap a causal LM with peft LoRA adapters (base weights frozen).

    Parameters
    ----------
    lm : transformers.PreTrainedModel
        The causal LM.
    r : int
        LoRA rank.
    alpha : float
        LoRA scaling numerator (``alpha / r`` multiplies the update).
    target_modules : sequence of str
        Names of the linear layers to adapt.
    dropout : float, default=0.05
        Dropout on the LoRA branch.

    Returns
    -------
    peft.PeftModel
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=int(r),
        lora_alpha=alpha,
        target_modules=list(target_modules),
        lora_dropout=float(dropout),
        bias="none",
    )
    return get_peft_model(lm, config)


def attention_mask_4d(
    blocks: torch.Tensor, dtype: torch.dtype, window: int | None = None
) -> torch.Tensor:
    """Additive (batch, 1, L, L) mask: query ``q`` sees key ``k`` when
    ``blocks[k] <= blocks[q]`` (and ``q - k < window`` when a window is given).

    Parameters
    ----------
    blocks : LongTensor of shape (batch, L)
        Non-decreasing block ids (:func:`~brainlm_decode.lm.fmri_input.block_ids`);
        padding positions carry a block larger than every real one, so no real
        query sees them.
    dtype : torch.dtype
        Dtype of the mask (the LM's).
    window : int or None, default=None
        Sliding-window size of local-attention layers.

    Returns
    -------
    Tensor
        0 where attention is allowed, the dtype's minimum elsewhere.
    """
    allowed = blocks[:, None, :] <= blocks[:, :, None]
    if window is not None:
        pos = torch.arange(blocks.shape[1], device=blocks.device)
        allowed = allowed & ((pos[:, None] - pos[None, :]) < window)[None]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=blocks.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def _chunked_cross_entropy(
    hidden: torch.Tensor,
    head: Any,
    targets: torch.Tensor,
    weights: torch.Tensor,
) -> torch.Tensor:
    """``sum(weights * CE(head(hidden), targets))`` without keeping all logits."""
    from torch.utils.checkpoint import checkpoint

    total = hidden.new_zeros(())
    for start in range(0, hidden.shape[0], _LOGIT_CHUNK):
        part = slice(start, start + _LOGIT_CHUNK)

        def chunk_loss(h: torch.Tensor, t=targets[part], w=weights[part]) -> Any:
            ce = F.cross_entropy(head(h).float(), t, reduction="none")
            return (ce * w).sum()

        if torch.is_grad_enabled() and hidden.requires_grad:
            total = total + checkpoint(chunk_loss, hidden[part], use_reentrant=False)
        else:
            total = total + chunk_loss(hidden[part])
    return total


class FMRILanguageModel(nn.Module):
    """Causal LM + fMRI input module + fMRI head, trained end to end.

    Parameters
    ----------
    lm : transformers.PreTrainedModel or peft.PeftModel
        The causal LM (LoRA-wrapped or not).
    input_module : FMRIInputModule
        Projection of the tokenizer's features.
    codebook_size : int
        Output size of the fMRI head (the tokenizer's codebook).
    """

    def __init__(self, lm: Any, input_module: FMRIInputModule, codebook_size: int):
        super().__init__()
        self.lm = lm
        self.input_module = input_module
        hidden = input_module.proj.out_features
        self.fmri_head = nn.Linear(hidden, int(codebook_size))

    # -- access to the Hugging Face pieces ---------------------------------------------
    @property
    def hf_model(self) -> Any:
        """The Hugging Face causal LM (LoRA layers injected when peft wraps it)."""
        get = getattr(self.lm, "get_base_model", None)
        return get() if get is not None else self.lm

    @property
    def is_lora(self) -> bool:
        """Whether the LM carries peft LoRA adapters."""
        return hasattr(self.lm, "peft_config")

    def _attention_masks(self, blocks: torch.Tensor, dtype: torch.dtype) -> Any:
        config = self.hf_model.config
        mask = attention_mask_4d(blocks, dtype)
        layer_types = getattr(config, "layer_types", None) or []
        window = getattr(config, "sliding_window", None)
        if "sliding_attention" in layer_types and window:
            if blocks.shape[1] > window:
                local = attention_mask_4d(blocks, dtype, window=window)
            else:
                local = mask
            return {"full_attention": mask, "sliding_attention": local}
        return mask

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits of hidden states (with the LM's soft-capping).

        Parameters
        ----------
        hidden : Tensor of shape (..., hidden_size)

        Returns
        -------
        Tensor of shape (..., vocab_size)
        """
        out = self.hf_model.get_output_embeddings()(hidden)
        cap = getattr(self.hf_model.config, "final_logit_softcapping", None)
        if cap:
            out = torch.tanh(out / cap) * cap
        return out

    # -- forward -----------------------------------------------------------------------
    def embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Input embeddings of a batch: text tokens with the fMRI tokens written in.

        Parameters
        ----------
        batch : dict of str to Tensor
            See :meth:`forward`.

        Returns
        -------
        Tensor of shape (batch, L, hidden_size)
        """
        embeddings = self.hf_model.get_input_embeddings()(batch["input_ids"])
        features = batch.get("fmri_features")
        if features is None or features.shape[0] == 0:
            return embeddings
        tokens = self.input_module(features.to(embeddings.dtype))
        positions = batch["fmri_start"][:, None] + torch.arange(
            tokens.shape[1], device=tokens.device
        )
        rows = batch["fmri_rows"][:, None].expand_as(positions)
        return embeddings.index_put((rows, positions), tokens)

    def hidden_states(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Last hidden states of the LM's decoder.

        Parameters
        ----------
        batch : dict of str to Tensor
            See :meth:`forward`.

        Returns
        -------
        Tensor of shape (batch, L, hidden_size)
        """
        embeddings = self.embed(batch)
        masks = self._attention_masks(batch["blocks"], embeddings.dtype)
        decoder = self.hf_model.base_model
        out = decoder(inputs_embeds=embeddings, attention_mask=masks, use_cache=False)
        return out.last_hidden_state

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted losses of a collated batch.

        Parameters
        ----------
        batch : dict of str to Tensor
            ``input_ids`` and ``blocks`` (batch, L); ``labels`` (batch, L) with
            the token to predict *at* each position (-100 elsewhere) and
            ``label_weights`` (batch, L); ``fmri_rows``, ``fmri_start`` (n_fmri,)
            and ``fmri_features`` (n_fmri, n_groups, n_patches, embed_dim);
            optionally ``fmri_targets`` (n_fmri, n_tokens), code of the next
            patch of each token (-100 where none), and ``f2f_weight``.

        Returns
        -------
        dict of str to Tensor
            ``"loss"`` (the sum), ``"text"`` and ``"f2f"`` (weighted terms).
        """
        hidden = self.hidden_states(batch)
        labels = batch["labels"]
        keep = labels[:, 1:] != _IGNORE
        text = _chunked_cross_entropy(
            hidden[:, :-1][keep],
            self.logits,
            labels[:, 1:][keep],
            batch["label_weights"][:, 1:][keep],
        )
        f2f = hidden.new_zeros(())
        targets = batch.get("fmri_targets")
        if targets is not None and targets.numel() and bool((targets != _IGNORE).any()):
            positions = batch["fmri_start"][:, None] + torch.arange(
                targets.shape[1], device=hidden.device
            )
            states = hidden[batch["fmri_rows"][:, None], positions]
            f2f = F.cross_entropy(
                self.fmri_head(states).flatten(0, 1).float(),
                targets.flatten(),
                ignore_index=_IGNORE,
            ) * batch["f2f_weight"].to(hidden.dtype)
        return {"loss": text + f2f, "text": text.detach(), "f2f": f2f.detach()}

    @torch.no_grad()
    def sequence_log_probs(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row summed log-probabilities of the labelled tokens.

        Parameters
        ----------
        batch : dict of str to Tensor
            Collated rows whose ``labels`` mark the answer tokens.

        Returns
        -------
        Tensor of shape (batch,), and the number of labelled tokens per row
        """
        hidden = self.hidden_states(batch)
        labels = batch["labels"][:, 1:]
        keep = labels != _IGNORE
        rows = keep.nonzero(as_tuple=True)[0]
        logp = torch.log_softmax(self.logits(hidden[:, :-1][keep]).float(), dim=-1)
        picked = logp.gather(1, labels[keep][:, None])[:, 0]
        totals = torch.zeros(labels.shape[0], dtype=torch.float64, device=hidden.device)
        totals.index_add_(0, rows, picked.double())
        counts = keep.sum(dim=1)
        return totals, counts

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters that require gradients.

        Returns
        -------
        list of torch.nn.Parameter
        """
        return [p for p in self.parameters() if p.requires_grad]
