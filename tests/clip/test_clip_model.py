"""Tests of the CLIP towers, blocks and temperature."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from brainlm_decode.clip import CLIPModel, ProjectionBlock, ResidualBlock


@pytest.fixture
def model() -> CLIPModel:
    torch.manual_seed(0)
    return CLIPModel(text_dim=32, image_dim=20, embed_dim=16).eval()


def test_import_is_lazy() -> None:
    code = (
        "import sys, brainlm_decode.clip as c; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'train_clip' in dir(c)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tower_shapes_and_unit_norm(model: CLIPModel) -> None:
    text, image = torch.randn(7, 32), torch.randn(5, 20)
    text_features, image_features, scale = model(text, image)
    assert text_features.shape == (7, 16)
    assert image_features.shape == (5, 16)
    torch.testing.assert_close(text_features.norm(dim=1), torch.ones(7))
    torch.testing.assert_close(image_features.norm(dim=1), torch.ones(5))
    assert scale.shape == ()
    assert scale.requires_grad
    raw = model.encode_text(text, normalize=False)
    assert not torch.allclose(raw.norm(dim=1), torch.ones(7))


def test_tower_structure(model: CLIPModel) -> None:
    text_blocks, image_blocks = list(model.text_tower), list(model.image_tower)
    assert [type(b) for b in text_blocks] == [ProjectionBlock] + [ResidualBlock] * 2
    assert [type(b) for b in image_blocks] == [ResidualBlock] * 3
    assert text_blocks[0].projection.in_features == 32
    assert image_blocks[0].fc1.in_features == 20
    assert isinstance(image_blocks[0].shortcut, nn.Linear)  # 20 -> 16
    for block in text_blocks[1:] + image_blocks[1:]:
        assert isinstance(block.shortcut, nn.Identity)
    for block in text_blocks + image_blocks:
        assert isinstance(block.act, nn.GELU)
        assert isinstance(block.dropout, nn.Dropout) and block.dropout.p == 0.5
        assert isinstance(block.norm, nn.LayerNorm)
        assert block.norm.normalized_shape == (16,)


def test_identity_skip_when_widths_match() -> None:
    model = CLIPModel(text_dim=8, image_dim=16, embed_dim=16)
    assert isinstance(model.image_tower[0].shortcut, nn.Identity)


def test_residual_block_formula() -> None:
    torch.manual_seed(0)
    block = ResidualBlock(6, dropout=0.5).eval()
    x = torch.randn(4, 6)
    expected = block.norm(x + block.fc2(nn.functional.gelu(block.fc1(x))))
    torch.testing.assert_close(block(x), expected)
    proj = ProjectionBlock(6, 3).eval()
    projected = proj.projection(x)
    expected = proj.norm(projected + proj.fc(nn.functional.gelu(projected)))
    torch.testing.assert_close(proj(x), expected)


def test_dropout_active_in_train_mode_only(model: CLIPModel) -> None:
    text = torch.randn(4, 32)
    a, b = model.encode_text(text), model.encode_text(text)
    torch.testing.assert_close(a, b)
    model.train()
    assert not torch.allclose(model.encode_text(text), model.encode_text(text))


def test_inputs_are_normalised(model: CLIPModel) -> None:
    text = torch.randn(3, 32)
    torch.testing.assert_close(model.encode_text(text), model.encode_text(5 * text))
    unnormalised = CLIPModel(32, 20, 16, normalize_inputs=False).eval()
    assert not torch.allclose(
        unnormalised.encode_text(text), unnormalised.encode_text(5 * text)
    )


def test_temperature_semantics(model: CLIPModel) -> None:
    assert model.scale == pytest.approx(1 / 0.07, rel=1e-6)
    assert model.temperature == pytest.approx(0.07, rel=1e-6)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.clamp_logit_scale_()
    assert model.scale == pytest.approx(100.0, rel=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(-1.0)
    model.clamp_logit_scale_()
    assert model.scale == pytest.approx(1.0)


def test_similarity_is_scale_times_cosine(model: CLIPModel) -> None:
    text, image = torch.randn(4, 32), torch.randn(6, 20)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(20.0))
        similarity = model.similarity(text, image)
        cos = nn.functional.cosine_similarity(
            model.encode_text(text)[:, None], model.encode_image(image)[None], dim=-1
        )
    assert similarity.shape == (4, 6)
    torch.testing.assert_close(similarity, 20.0 * cos)


def test_config_round_trip(model: CLIPModel) -> None:
    clone = CLIPModel.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert "embed_dim=16" in repr(model)


def test_paper_defaults() -> None:
    model = CLIPModel(text_dim=384, image_dim=512)
    assert model.embed_dim == 512 and model.dropout == 0.5
    assert isinstance(model.image_tower[0].shortcut, nn.Identity)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text_dim": 0, "image_dim": 4}, "text_dim"),
        ({"text_dim": 4, "image_dim": 2.5}, "image_dim"),
        ({"text_dim": 4, "image_dim": 4, "embed_dim": True}, "embed_dim"),
        ({"text_dim": 4, "image_dim": 4, "dropout": 1.0}, "dropout"),
        ({"text_dim": 4, "image_dim": 4, "n_image_blocks": 0}, "n_image_blocks"),
        ({"text_dim": 4, "image_dim": 4, "init_logit_scale": 9.0}, "init_logit_scale"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CLIPModel(**kwargs)


def test_wrong_input_width(model: CLIPModel) -> None:
    with pytest.raises(ValueError, match=r"'text'.*\(n, 32\)"):
        model.encode_text(torch.randn(3, 31))
    with pytest.raises(ValueError, match="'image'"):
        model.encode_image(torch.randn(20))
