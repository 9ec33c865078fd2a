"""Tests of the causal-LM backbone plugins (tiny GPT-2 through the ``hf`` path)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from brainlm_decode.lm import GemmaBackbone, HFBackbone, lora_defaults
from brainlm_decode.plugins import get_plugin, list_plugins

pytest.importorskip("transformers")


def test_backbones_are_plugins():
    assert {"hf", "gemma-3-270m"} <= set(list_plugins("backbones"))
    assert isinstance(get_plugin("backbones", "hf"), HFBackbone)
    assert isinstance(get_plugin("backbones", "gemma-3-270m"), GemmaBackbone)


def test_hf_backbone_loads_tiny_gpt2(tiny_causal_lm_dir):
    backbone = HFBackbone(tiny_causal_lm_dir)
    assert backbone.hidden_size == 32
    tokenizer, model = backbone.load()
    assert tokenizer.pad_token is not None
    assert tokenizer.padding_side == "right"
    assert not model.training
    # every call gives independent weights
    _, other = backbone.load()
    with np.errstate(all="ignore"):
        first = next(model.parameters())
        first.data.add_(1.0)
    assert not np.allclose(
        first.detach().numpy(), next(other.parameters()).detach().numpy()
    )
    assert clone(backbone).get_params() == backbone.get_params()


def test_tokenizer_is_read_once_per_folder(tiny_causal_lm_dir, tmp_path):
    import os
    import shutil

    folder = tmp_path / "lm"
    shutil.copytree(tiny_causal_lm_dir, folder)
    backbone = HFBackbone(folder)
    first, model = backbone.load()
    second, other = backbone.load()
    assert second is first  # parsed once, shared
    assert other is not model  # weights are still fresh per call
    assert clone(backbone).load()[0] is first
    ids = first("hello world")["input_ids"]
    # a rewritten folder (new modification time) is read again
    (folder / "extra.txt").write_text("x")
    os.utime(folder, ns=(1, 1))
    third, _ = backbone.load()
    assert third is not first
    assert third("hello world")["input_ids"] == ids
    assert third.pad_token is not None and third.padding_side == "right"


def test_lora_defaults_follow_the_paper(tiny_causal_lm_dir):
    assert HFBackbone(tiny_causal_lm_dir).lora_defaults() == {
        "r": 16,
        "lora_alpha": 32,
        "target_modules": ["c_attn", "c_proj"],
    }
    assert lora_defaults("qwen3")["r"] == 8
    assert lora_defaults("gemma3_text")["lora_alpha"] == 16
    with pytest.raises(ValueError, match="lora_target_modules"):
        lora_defaults("mamba")


def test_text_token_embeddings_are_input_embedding_rows(tiny_causal_lm_dir):
    backbone = HFBackbone(tiny_causal_lm_dir)
    tokenizer, model = backbone.load()
    texts = ["default mode network", "visual network strength"]
    rows = backbone.text_token_embeddings(texts, model=model, tokenizer=tokenizer)
    ids = [i for t in texts for i in tokenizer(t, add_special_tokens=False).input_ids]
    expected = model.get_input_embeddings().weight.detach().numpy()[ids]
    np.testing.assert_allclose(rows, expected)
    sample = backbone.text_token_embeddings(
        texts, max_tokens=3, random_state=0, model=model, tokenizer=tokenizer
    )
    assert sample.shape == (3, 32)
    assert sample.dtype == np.float32
    with pytest.raises(TypeError):
        backbone.text_token_embeddings("one string", model=model, tokenizer=tokenizer)


def test_missing_model_error_says_how_to_place_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="place the weights by hand"):
        HFBackbone("no-such-org/no-such-model").load()
    with pytest.raises(FileNotFoundError, match="config.json"):
        HFBackbone(tmp_path).load()


def test_not_a_causal_lm(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=8,
            vocab_size=20,
        )
    ).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="causal language model"):
        HFBackbone(tmp_path).load()


def test_bad_parameters():
    with pytest.raises((TypeError, ValueError), match="torch_dtype"):
        HFBackbone("gpt2", torch_dtype="float8").load_config()
