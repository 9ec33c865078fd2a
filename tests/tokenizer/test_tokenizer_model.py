"""Patching, sizes and the torch model of the tokenizer."""

from __future__ import annotations

import pytest
import torch

from brainlm_decode.tokenizer.model import (
    SIZES,
    TokenizerModel,
    patchify,
    resolve_size,
    unpatchify,
)
from brainlm_decode.tokenizer.quantizers import VectorQuantizer


def test_patches_are_temporal_only_and_round_trip():
    x = torch.arange(2 * 64 * 3, dtype=torch.float32).reshape(2, 64, 3)
    patches = patchify(x, 32)
    assert patches.shape == (2, 3, 2, 32)
    # patch (roi 1, patch 1) holds time points 32..63 of ROI 1 only
    torch.testing.assert_close(patches[0, 1, 1], x[0, 32:64, 1])
    torch.testing.assert_close(unpatchify(patches), x)


def test_paper_sizes_and_custom_sizes():
    assert SIZES["small"] == {"n_layers": 12, "embed_dim": 384, "n_heads": 6}
    assert SIZES["base"] == {"n_layers": 12, "embed_dim": 768, "n_heads": 12}
    assert SIZES["large"] == {"n_layers": 24, "embed_dim": 1024, "n_heads": 16}
    custom = {"n_layers": 1, "embed_dim": 8, "n_heads": 2}
    assert resolve_size(custom) == custom
    with pytest.raises(ValueError, match="divisible"):
        resolve_size({"n_layers": 1, "embed_dim": 10, "n_heads": 3})
    with pytest.raises(ValueError, match="'size' parameter"):
        resolve_size("huge")
    with pytest.raises(ValueError, match="exactly the keys"):
        resolve_size({"n_layers": 1, "embed_dim": 8})


def _model(**kwargs):
    return TokenizerModel(
        5,
        2,
        VectorQuantizer(dim=8, codebook_size=16),
        patch_size=4,
        embed_dim=8,
        n_layers=1,
        n_heads=2,
        decoder_layers=1,
        **kwargs,
    )


def test_forward_returns_every_term_and_shapes():
    torch.manual_seed(0)
    model = _model(text_dim=6, backbone_dim=10).train()
    x = torch.randn(3, 8, 5)
    out = model(
        x,
        text_embeddings=torch.nn.functional.normalize(torch.randn(3, 6)),
        text_tokens=torch.randn(7, 10),
        token_index=torch.arange(7),
        grl_coefficient=0.5,
    )
    assert set(out) == {
        "reconstruction",
        "quantizer",
        "adversarial",
        "contrastive",
        "indices",
    }
    assert out["indices"].shape == (3, 5, 2)
    assert model.encode(x).shape == (3, 5, 2, 8)
    assert model.decode(model.encode(x)).shape == x.shape
    loss = sum(v for k, v in out.items() if k != "indices")
    loss.backward()
    assert model.patch_embed.weight.grad is not None
    assert model.discriminator.net[0].weight.grad is not None


def test_config_round_trip():
    model = _model(text_dim=6)
    rebuilt = TokenizerModel.from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    assert set(rebuilt.state_dict()) == set(model.state_dict())
    assert rebuilt.discriminator is None and rebuilt.text_proj is not None
