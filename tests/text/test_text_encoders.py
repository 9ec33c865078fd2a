"""MiniLMEncoder against sentence-transformers; HFEncoder on tiny local models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from brainlm_decode.plugins import get_plugin, get_plugin_class, register_plugin
from brainlm_decode.text import GemmaEncoder, HFEncoder, MiniLMEncoder, chunk_token_ids

SHORT = [
    "working memory n-back",
    "n-back task",
    "pain perception",
    "Neural correlates of face processing in the fusiform gyrus.",
]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module", autouse=True)
def _plugins():
    """Register the built-ins when the entry points are not installed yet."""
    for name, cls in (
        ("minilm", MiniLMEncoder),
        ("hf", HFEncoder),
        ("gemma-3-270m", GemmaEncoder),
    ):
        try:
            get_plugin_class("text_encoders", name)
        except ValueError:
            register_plugin("text_encoders", name, cls)


def test_plugins_resolve():
    assert isinstance(get_plugin("text_encoders", "minilm"), MiniLMEncoder)
    encoder = get_plugin("text_encoders", "hf", model_name_or_path="some/model")
    assert isinstance(encoder, HFEncoder)
    assert isinstance(get_plugin("text_encoders", "gemma-3-270m"), GemmaEncoder)


# ----------------------------------------------------------------------- MiniLM


def test_minilm_matches_sentence_transformers(minilm_encoder, sentence_transformer):
    vectors = minilm_encoder.encode(SHORT)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert minilm_encoder.embedding_dim == 384
    reference = sentence_transformer.encode(SHORT)
    cosine = (_unit(vectors) * _unit(reference)).sum(axis=1)
    assert np.all(cosine > 0.9999)
    # not normalised: the caller normalises
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_minilm_is_semantically_sensible(minilm_encoder):
    query, close, far = _unit(minilm_encoder.encode(SHORT[:3]))
    assert query @ close > query @ far


def test_minilm_long_text_averages_chunks(minilm_encoder, sentence_transformer):
    tokenizer = minilm_encoder.tokenizer_
    words = [w for w in ("memory", "brain", "task", "cortex", "attention", "pain")]
    assert all(len(tokenizer.tokenize(w)) == 1 for w in words)
    content = minilm_encoder.max_length_ - 2  # [CLS] and [SEP]
    tokens = [words[i % len(words)] for i in range(3 * content)]
    text = " ".join(tokens)
    vector = minilm_encoder.encode([text])[0]
    # expected: token-count weighted mean of the three chunk embeddings, i.e. the
    # mean of all token states of the three 256-token chunks
    chunks = [" ".join(tokens[k * content : (k + 1) * content]) for k in range(3)]
    states = sentence_transformer.encode(chunks, output_value="token_embeddings")
    assert all(s.shape[0] == content + 2 for s in states)
    expected = np.concatenate([s.numpy() for s in states]).mean(axis=0)
    np.testing.assert_allclose(vector, expected, atol=1e-4)
    truncated = sentence_transformer.encode([text])[0]
    assert _unit(vector) @ truncated < 0.9999


def test_minilm_stride_and_max_length(minilm_encoder):
    text = " ".join(["memory task"] * 200)
    base = minilm_encoder.encode([text])[0]
    shorter = clone(minilm_encoder).set_params(max_length=64, device="cpu")
    overlap = clone(minilm_encoder).set_params(max_length=64, stride=16, device="cpu")
    a, b = shorter.encode([text])[0], overlap.encode([text])[0]
    assert shorter.max_length_ == 64
    assert not np.allclose(a, base) and not np.allclose(a, b)
    with pytest.raises(ValueError, match="'max_length' parameter of MiniLMEncoder"):
        MiniLMEncoder(max_length=4096, device="cpu").encode(["x"])


def test_minilm_rejects_bad_texts(minilm_encoder):
    with pytest.raises(ValueError, match="'texts' argument holds 1 empty"):
        minilm_encoder.encode(["n-back", " "])
    with pytest.raises(TypeError, match="'texts' argument must hold only str"):
        minilm_encoder.encode(["n-back", None])
    with pytest.raises(TypeError, match="wrap it in a list"):
        minilm_encoder.encode("n-back")
    with pytest.raises(ValueError, match="is empty"):
        minilm_encoder.encode([])


def test_encoder_parameters():
    encoder = MiniLMEncoder(batch_size=0)
    with pytest.raises(ValueError, match="'batch_size' parameter of MiniLMEncoder"):
        encoder.fit()
    assert MiniLMEncoder().fit() is not None
    with pytest.raises(ValueError, match="'model_name_or_path' parameter"):
        HFEncoder().encode(["x"])
    with pytest.raises(ValueError, match="'torch_dtype'"):
        HFEncoder("m", torch_dtype="float64").fit()
    import inspect

    for cls in (MiniLMEncoder, HFEncoder, GemmaEncoder):
        names = list(inspect.signature(cls).parameters)
        assert names[-5:] == ["cache_dir", "memory", "device", "batch_size", "verbose"]
        assert set(names) == set(cls().get_params())


# ----------------------------------------------------------------- HF encoders


def _manual_embedding(folder, text, *, specials=True, max_len=None):
    """Mean of last hidden states, one chunk at a time, without padding."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    full = tokenizer(text)["input_ids"]
    n_prefix = len(full) - len(ids) if full[-len(ids) :] == ids else 1
    n_suffix = len(full) - len(ids) - n_prefix
    prefix, suffix = full[:n_prefix], full[len(full) - n_suffix :]
    content = (max_len or len(full)) - n_prefix - n_suffix
    total, count = 0.0, 0
    for window in chunk_token_ids(ids, content):
        chunk = prefix + window + suffix
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([chunk])).last_hidden_state[0]
        if not specials:
            hidden = hidden[len(prefix) : len(prefix) + len(window)]
        total = total + hidden.sum(0).numpy()
        count += hidden.shape[0]
    return total / count


TINY_TEXTS = [
    "the brain",
    "working memory task in the visual cortex and attention network",
    "pain",
    "reward and decision",
]


@pytest.mark.parametrize("specials", [True, False])
def test_hf_tiny_bert_masked_mean(tiny_bert_dir, specials):
    encoder = HFEncoder(
        tiny_bert_dir, device="cpu", batch_size=3, include_special_tokens=specials
    )
    vectors = encoder.encode(TINY_TEXTS)
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    assert encoder.embedding_dim == 32
    for text, vector in zip(TINY_TEXTS, vectors, strict=True):
        expected = _manual_embedding(tiny_bert_dir, text, specials=specials)
        np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_hf_batch_size_invariance_and_determinism(tiny_bert_dir, tiny_gpt2_dir):
    for folder in (tiny_bert_dir, tiny_gpt2_dir):
        one = HFEncoder(folder, device="cpu", batch_size=1).encode(TINY_TEXTS)
        many = HFEncoder(folder, device="cpu", batch_size=4).encode(TINY_TEXTS)
        np.testing.assert_allclose(one, many, atol=1e-5)
        again = HFEncoder(folder, device="cpu", batch_size=4).encode(TINY_TEXTS)
        np.testing.assert_array_equal(many, again)


def test_hf_tiny_gpt2_chunks_long_texts(tiny_gpt2_dir):
    encoder = HFEncoder(tiny_gpt2_dir, device="cpu", batch_size=2)
    long_text = " ".join(["working memory task in the visual cortex"] * 6)  # 42
    vectors = encoder.encode([*TINY_TEXTS, long_text])
    assert encoder.max_length_ == 16  # the model's n_positions
    assert encoder.prefix_ids_ == [] and encoder.suffix_ids_ == []
    for text, vector in zip([*TINY_TEXTS, long_text], vectors, strict=True):
        expected = _manual_embedding(tiny_gpt2_dir, text, max_len=16)
        np.testing.assert_allclose(vector, expected, atol=1e-5)
    with pytest.raises(ValueError, match="at most 16"):
        HFEncoder(tiny_gpt2_dir, device="cpu", max_length=32).encode(["the brain"])
    with pytest.raises(ValueError, match="'stride' parameter of HFEncoder"):
        HFEncoder(tiny_gpt2_dir, device="cpu", stride=16).encode(["the brain"])


def test_hf_bert_chunking_keeps_special_tokens(tiny_bert_dir):
    text = " ".join(["working memory task in the visual cortex"] * 5)
    encoder = HFEncoder(tiny_bert_dir, device="cpu", max_length=12)
    vector = encoder.encode([text])[0]
    np.testing.assert_allclose(
        vector, _manual_embedding(tiny_bert_dir, text, max_len=12), atol=1e-5
    )


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_hf_peft_adapter(tiny_gpt2_dir, tmp_path):
    peft = pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir)
    config = peft.LoraConfig(
        r=2, target_modules=["c_attn"], init_lora_weights=False, fan_in_fan_out=True
    )
    torch.manual_seed(1)
    lora = peft.get_peft_model(base, config)
    lora.save_pretrained(tmp_path / "adapter")
    merged = lora.merge_and_unload().eval()

    encoder = HFEncoder(tiny_gpt2_dir, adapter=tmp_path / "adapter", device="cpu")
    vector = encoder.encode(["working memory task"])[0]
    ids = encoder.tokenizer_("working memory task")["input_ids"]
    with torch.no_grad():
        hidden = merged.transformer(input_ids=torch.tensor([ids])).last_hidden_state
    np.testing.assert_allclose(vector, hidden[0].mean(0).numpy(), atol=1e-5)
    plain = HFEncoder(tiny_gpt2_dir, device="cpu").encode(["working memory task"])[0]
    assert not np.allclose(vector, plain, atol=1e-4)
    assert encoder.cache_namespace != HFEncoder(tiny_gpt2_dir).cache_namespace


def test_hf_offline_error_names_the_model():
    with pytest.raises(FileNotFoundError) as info:
        HFEncoder("brainlm-decode-tests/no-such-model", device="cpu").encode(["x"])
    message = str(info.value)
    assert "'brainlm-decode-tests/no-such-model'" in message
    assert "huggingface-cli download brainlm-decode-tests/no-such-model" in message
    assert "models--brainlm-decode-tests--no-such-model" in message


def test_hf_incomplete_folder_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a complete Hugging Face model"):
        HFEncoder(tmp_path, device="cpu").encode(["x"])


def test_hf_offline_adapter_error(tiny_gpt2_dir):
    pytest.importorskip("peft")
    encoder = HFEncoder(
        tiny_gpt2_dir, adapter="brainlm-decode-tests/no-such-adapter", device="cpu"
    )
    with pytest.raises(FileNotFoundError, match="peft adapter 'brainlm-decode-tests"):
        encoder.encode(["x"])


def test_set_params_reloads(tiny_bert_dir, tiny_gpt2_dir):
    encoder = HFEncoder(tiny_bert_dir, device="cpu")
    assert encoder.embedding_dim == 32
    first = encoder.model_
    encoder.set_params(model_name_or_path=tiny_gpt2_dir)
    encoder.encode(["the brain"])
    assert encoder.model_ is not first
    assert "tiny-gpt2" in encoder.model_id
    assert clone(encoder).get_params() == encoder.get_params()


def test_verbose_progress(tiny_bert_dir, capsys):
    HFEncoder(tiny_bert_dir, device="cpu", verbose=1).encode(TINY_TEXTS)
    assert "loading" in capsys.readouterr().err
