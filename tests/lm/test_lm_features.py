"""FMRILMFeatures, network_series and the shipped pretrained tokenizer.

The LM is the tiny random GPT-2 of ``tiny_causal_lm_dir`` and the tokenizer a
tiny one fitted on synthetic network channels: these tests check the code
path, the statelessness the cohort benchmark relies on, and errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from brainlm_decode.lm import HFBackbone
from brainlm_decode.lm.features import NETWORK_CHANNELS, FMRILMFeatures, network_series

pytest.importorskip("transformers")

CHANNELS = ("A", "B", "C")
NETWORKS = ["A", "A", "B", "C", "C", "C", "Cerebellum"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    """12 subjects, 64 points, 7 ROIs (one cerebellar, left out by the pooling)."""
    return np.random.default_rng(0).standard_normal((12, 64, 7)).astype(np.float32)


@pytest.fixture(scope="module")
def tokenizer(series: np.ndarray) -> Any:
    from brainlm_decode import FMRITokenizer

    channels = network_series(series[:6], NETWORKS, channels=CHANNELS)
    return FMRITokenizer(
        size={"n_layers": 1, "embed_dim": 16, "n_heads": 2},
        quantizer_params={"codebook_size": 16},
        decoder_layers=1,
        backbone=None,
        text_encoder=None,
        n_epochs=2,
        device="cpu",
        random_state=0,
    ).fit(list(channels))


def make_features(tiny_causal_lm_dir: Any, tokenizer: Any, **params: Any) -> Any:
    from sklearn.frozen import FrozenEstimator

    defaults = {
        "tokenizer": tokenizer
        if isinstance(tokenizer, str)
        else FrozenEstimator(tokenizer),
        "backbone": HFBackbone(tiny_causal_lm_dir),
        "networks": NETWORKS,
        "channels": CHANNELS,
        "device": "cpu",
        "batch_size": 4,
    }
    return FMRILMFeatures(**{**defaults, **params})


def test_network_series_hand_checked():
    X = np.arange(12, dtype=float).reshape(1, 3, 4)  # columns 0..3
    out = network_series(
        X, ["A", "A", "B", "C"], channels=["A", "B"], standardize=False
    )
    np.testing.assert_allclose(out[0], [[0.5, 2.0], [4.5, 6.0], [8.5, 10.0]])
    z = network_series(X, ["A", "A", "B", "C"], channels=["B", "A"])
    np.testing.assert_allclose(z[0, :, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])
    np.testing.assert_allclose(z[0, :, 0], z[0, :, 1])
    flat = network_series(np.ones((2, 5, 2)), ["A", "B"], channels=["A", "B"])
    assert flat.dtype == np.float32 and not flat.any()


def test_network_series_by_table_name_and_errors():
    X = np.random.default_rng(1).standard_normal((2, 20, 200))
    out = network_series(X, "cc200")
    assert out.shape == (2, 20, len(NETWORK_CHANNELS))
    with pytest.raises(ValueError, match="each of the 200 ROIs"):
        network_series(X, ["A"] * 3)
    with pytest.raises(ValueError, match=r"no ROI of the networks \['Z'\]"):
        network_series(X[:, :, :2], ["A", "B"], channels=["A", "Z"])


def test_features_shape_and_statelessness(tiny_causal_lm_dir, tokenizer, series):
    a = make_features(tiny_causal_lm_dir, tokenizer).fit(series[:6])
    b = make_features(tiny_causal_lm_dir, tokenizer).fit(series[6:])
    Za, Zb = a.transform(series), b.transform(series)
    assert Za.shape == (12, a.n_features_out_) and Za.dtype == np.float32
    assert a.layout_.n_tokens == len(CHANNELS) * 2  # 3 channels x 2 patches
    # fit learns nothing from the data: same features whatever it was fitted on
    np.testing.assert_array_equal(Za, Zb)
    # a subject's features do not depend on the other subjects of the batch
    np.testing.assert_allclose(a.transform(series[[5]]), Za[[5]], atol=1e-5)
    assert len(a.get_feature_names_out()) == a.n_features_out_
    c = clone(a).set_params(question="What is the sex of this participant?")
    Zc = c.fit(series).transform(series)
    half = a.n_features_out_ // 2
    np.testing.assert_allclose(Zc[:, :half], Za[:, :half], atol=1e-5)  # causal
    assert not np.allclose(Zc[:, half:], Za[:, half:])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_features_descriptor_context(tiny_causal_lm_dir, tokenizer, series):
    """A fitted descriptor transformer is used as is; its text, between the
    fMRI tokens and the question, changes the last-token half only (causal)."""
    from brainlm_decode import FMRIDescriptorTransformer

    yeo = ["Visual", "Visual", "Default", "Limbic", "Limbic", "Limbic", "Default"]
    descriptors = FMRIDescriptorTransformer(
        ["connectivity"], networks=yeo, top_k=1, random_state=0
    ).fit(list(series))
    plain = make_features(tiny_causal_lm_dir, tokenizer).fit(series[:6])
    ctx = make_features(tiny_causal_lm_dir, tokenizer, descriptors=descriptors)
    ctx.fit(series[:6])
    assert ctx.descriptors_ is descriptors  # fitted: not refitted on fit's X
    Zp, Zc = plain.transform(series), ctx.transform(series)
    half = plain.n_features_out_ // 2
    np.testing.assert_allclose(Zc[:, :half], Zp[:, :half], atol=1e-5)
    assert not np.allclose(Zc[:, half:], Zp[:, half:])
    # stateless with the fitted descriptors: one subject alone, same features
    np.testing.assert_allclose(ctx.transform(series[[3]]), Zc[[3]], atol=1e-5)


def test_features_in_a_pipeline(tiny_causal_lm_dir, tokenizer, series):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    y = np.arange(12) % 2
    pipe = make_pipeline(
        make_features(tiny_causal_lm_dir, tokenizer), LogisticRegression()
    )
    proba = pipe.fit(series, y).predict_proba(series)
    assert proba.shape == (12, 2)


def test_features_errors(tiny_causal_lm_dir, tokenizer, series):
    from brainlm_decode import FMRITokenizer

    with pytest.raises(ValueError, match="must be fitted"):
        make_features(tiny_causal_lm_dir, FMRITokenizer()).fit(series)
    with pytest.raises(ValueError, match="reads 3 columns; X gives 7"):
        make_features(tiny_causal_lm_dir, tokenizer, networks=None).fit(series)
    fitted = make_features(tiny_causal_lm_dir, tokenizer).fit(series)
    with pytest.raises(ValueError, match="7 ROIs"):
        fitted.transform(series[:, :, :5])


def test_features_from_a_saved_tokenizer_folder(
    tiny_causal_lm_dir, tokenizer, series, tmp_path
):
    tokenizer.save(tmp_path / "tok")
    by_path = make_features(tiny_causal_lm_dir, str(tmp_path / "tok")).fit(series)
    by_object = make_features(tiny_causal_lm_dir, tokenizer).fit(series)
    np.testing.assert_allclose(
        by_path.transform(series[:4]), by_object.transform(series[:4]), atol=1e-5
    )


def test_shipped_pretrained_tokenizer():
    from brainlm_decode import FMRITokenizer
    from brainlm_decode.tokenizer.pretrained import (
        available_pretrained_tokenizers,
        pretrained_tokenizer_info,
    )

    assert "hcp-rest-networks" in available_pretrained_tokenizers()
    info = pretrained_tokenizer_info("hcp-rest-networks")
    assert info["channels"] == list(NETWORK_CHANNELS)
    assert info["data"]["labels_used"] == "none"
    tok = FMRITokenizer.from_pretrained("hcp-rest-networks")
    assert tok.n_rois_ == len(NETWORK_CHANNELS) and tok.n_patches_ == 5
    X = np.random.default_rng(0).standard_normal((2, 160, 8)).astype(np.float32)
    assert tok.transform(X).shape == (2, 8, 5)
    with pytest.raises(ValueError, match="Unknown pretrained tokenizer"):
        FMRITokenizer.from_pretrained("nope")
