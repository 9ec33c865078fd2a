"""Tests of the NumPy image tower and the lazily built CLIP model."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from brainlm_decode.clip import CLIPModel, save_clip
from brainlm_decode.clip.inference import LazyCLIPModel, encode_image, load_clip_lazy


def _model(image_dim: int = 10, embed_dim: int = 8, **kwargs) -> CLIPModel:
    torch.manual_seed(0)
    model = CLIPModel(text_dim=12, image_dim=image_dim, embed_dim=embed_dim, **kwargs)
    return model.eval()


def _torch_features(model: CLIPModel, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model.encode_image(torch.as_tensor(x, dtype=torch.float32))
    return out.numpy().astype(np.float64)


@pytest.mark.parametrize(
    "dims, normalize",
    [((10, 8), True), ((8, 8), True), ((10, 8), False), ((512, 512), True)],
)
def test_numpy_tower_matches_torch(dims, normalize):
    model = _model(*dims, normalize_inputs=normalize)
    x = np.random.default_rng(0).normal(size=(7, dims[0])) * 3
    got = encode_image(model, x)
    assert got.dtype == np.float64 and got.shape == (7, dims[1])
    np.testing.assert_allclose(got, _torch_features(model, x), rtol=0, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-12)


def test_lazy_model_decodes_without_building_torch_module(tmp_path):
    model = _model()
    lazy = load_clip_lazy(save_clip(model, tmp_path / "clip"))
    x = np.random.default_rng(1).normal(size=(3, 10))
    np.testing.assert_array_equal(encode_image(lazy, x), encode_image(model, x))
    assert not lazy.loaded and lazy.normalize_inputs
    assert lazy.scale == model.scale
    assert not lazy.loaded
    assert "not loaded" in repr(lazy)


def test_lazy_model_behaves_as_the_torch_module(tmp_path):
    model = _model()
    lazy = load_clip_lazy(save_clip(model, tmp_path / "clip"))
    assert isinstance(lazy, CLIPModel) and lazy.loaded
    assert type(lazy) is LazyCLIPModel
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, lazy.state_dict()[name]), name
    assert not lazy.training and lazy.get_config() == model.get_config()
    for other in (pickle.loads(pickle.dumps(lazy)), copy.deepcopy(lazy)):
        assert type(other) is CLIPModel
        assert torch.equal(other.logit_scale, model.logit_scale)
    # re-saving a lazy model works (save_clip checks isinstance)
    again = load_clip_lazy(save_clip(lazy, tmp_path / "again"))
    x = np.random.default_rng(2).normal(size=(2, 10))
    np.testing.assert_array_equal(encode_image(again, x), encode_image(model, x))


def test_lazy_model_follows_in_place_edits_of_the_module(tmp_path):
    lazy = load_clip_lazy(save_clip(_model(), tmp_path / "clip"))
    x = np.random.default_rng(3).normal(size=(2, 10))
    before = encode_image(lazy, x)
    with torch.no_grad():
        lazy.image_tower[0].fc1.weight.mul_(2.0)
    after = encode_image(lazy, x)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, _torch_features(lazy.materialize(), x), atol=2e-6)


def test_training_mode_and_subclasses_use_torch():
    model = _model(dropout=0.5).train()
    x = np.ones((4, 10))
    torch.manual_seed(5)
    got = encode_image(model, x)
    torch.manual_seed(5)
    np.testing.assert_array_equal(got, _torch_features(model, x))


def test_bad_shape_and_corrupted_weights(tmp_path):
    model = _model()
    with pytest.raises(ValueError, match=r"shape \(n, 10\)"):
        encode_image(model, np.ones((2, 9)))
    folder = save_clip(model, tmp_path / "clip")
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="checksum"):
        LazyCLIPModel(folder)


def test_pretrained_decoder_numpy_matches_torch_forward(monkeypatch):
    """The shipped decoder decodes (NumPy) as its torch module would, to ~1e-7."""
    from nilearn.datasets import load_sample_motor_activation_image

    from brainlm_decode import CLIPDecoder
    from brainlm_decode.clip import inference
    from brainlm_decode.decode.persistence import list_pretrained

    if not list_pretrained():
        pytest.skip("no pretrained bundle")
    decoder = CLIPDecoder.from_pretrained()
    assert type(decoder.model_) is LazyCLIPModel
    with pytest.warns(UserWarning, match="resampled"):
        emb = decoder.embed_imgs(load_sample_motor_activation_image())
    got = decoder.decode_embeddings(emb)
    assert not decoder.model_.loaded  # decoding built no torch module
    monkeypatch.setattr(inference, "_weights", lambda model: None)  # torch forward
    ref = decoder.decode_embeddings(emb)
    assert decoder.model_.loaded
    for name, values in got.items():
        if name == "similarity":  # cosines, some near 0
            np.testing.assert_allclose(values, ref[name], rtol=0, atol=1e-6)
        else:  # probabilities
            np.testing.assert_allclose(values, ref[name], rtol=1e-5, atol=1e-12)
        order = np.argsort(-ref[name][0])[:10]
        np.testing.assert_array_equal(np.argsort(-values[0])[:10], order)
