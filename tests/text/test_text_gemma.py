"""GemmaEncoder: missing extra, reuse of a converted folder, real conversion (slow)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from brainlm_decode.text import GemmaEncoder, HFEncoder, convert_gemma_gguf
from brainlm_decode.text.gemma import GEMMA_PACKAGE, gemma_model_dir


def test_missing_package_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, GEMMA_PACKAGE, None)  # import fails
    encoder = GemmaEncoder(data_dir=tmp_path, device="cpu")
    with pytest.raises(ImportError, match=r"pip install 'brainlm_decode\[llm\]'"):
        encoder.encode(["n-back task"])
    with pytest.raises(ImportError, match="gemma-3-270m"):
        convert_gemma_gguf(tmp_path)
    assert not gemma_model_dir(tmp_path).exists()


def test_data_dir_from_environment(tmp_data_dir):
    assert gemma_model_dir() == tmp_data_dir / "models" / "gemma-3-270m"


def test_converted_folder_is_reused(monkeypatch, tmp_path, word_tokenizer):
    """A complete folder is loaded as is: no GGUF package, same path as HFEncoder."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    folder = gemma_model_dir(tmp_path)
    config = Gemma3TextConfig(
        vocab_size=len(word_tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=64,
        sliding_window=8,
    )
    torch.manual_seed(0)
    Gemma3ForCausalLM(config).save_pretrained(folder)
    word_tokenizer.save_pretrained(folder)
    (folder / "brainlm_decode_conversion.json").write_text(json.dumps({}))

    monkeypatch.setitem(sys.modules, GEMMA_PACKAGE, None)
    texts = ["working memory task", "pain"]
    encoder = GemmaEncoder(data_dir=tmp_path, max_length=None, device="cpu")
    vectors = encoder.encode(texts)
    assert vectors.shape == (2, 32)
    reference = HFEncoder(folder, device="cpu").encode(texts)
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    assert encoder.cache_namespace != HFEncoder(folder).cache_namespace
    assert "gemma-3-270m" in encoder.model_id


@pytest.mark.slow
def test_real_gemma_conversion(tmp_path):
    pytest.importorskip(GEMMA_PACKAGE)
    pytest.importorskip("gguf")
    start = time.perf_counter()
    folder = convert_gemma_gguf(tmp_path)
    converted = time.perf_counter() - start
    assert (folder / "model.safetensors").is_file()
    assert not list(folder.parent.glob(".gemma-3-270m.tmp-*"))  # cleaned up

    start = time.perf_counter()
    encoder = GemmaEncoder(data_dir=tmp_path, device="cpu")
    vectors = encoder.encode(
        ["working memory n-back", "n-back task", "pain perception"]
    )
    loaded = time.perf_counter() - start
    print(
        f"Gemma-3-270M: conversion {converted:.1f} s, later load+encode {loaded:.1f} s"
    )
    assert vectors.shape == (3, 640) and np.all(np.isfinite(vectors))
    assert encoder.max_length_ == 2048 and encoder.prefix_ids_ == [2]  # <bos>
    assert loaded < converted
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]
    # a second call finds the folder and does not convert again
    start = time.perf_counter()
    assert convert_gemma_gguf(tmp_path) == folder
    assert time.perf_counter() - start < 1.0
