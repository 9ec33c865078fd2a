"""The on-disk embedding cache, alone and behind an encoder."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from brainlm_decode.text import (
    EmbeddingCache,
    EmbeddingCacheWarning,
    HFEncoder,
    text_key,
)

TEXTS = ["working memory task", "pain in the brain", "visual cortex attention"]


def _vectors(n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_put_get_round_trip(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    assert cache.get("ns", TEXTS) == [None, None, None]
    vectors = _vectors(2)
    cache.put("ns", TEXTS[:2], vectors)
    found = cache.get("ns", TEXTS)
    np.testing.assert_array_equal(found[0], vectors[0])
    np.testing.assert_array_equal(found[1], vectors[1])
    assert found[2] is None
    assert found[0].dtype == np.float32
    assert len(cache) == 2
    assert cache.namespaces() == ["ns"]
    # a new instance (another process) sees the same vectors
    again = EmbeddingCache(tmp_path / "cache").get("ns", TEXTS[:1])[0]
    np.testing.assert_array_equal(again, vectors[0])


def test_namespaces_do_not_collide(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put('{"model_id": "org/model-a"}', TEXTS[:1], _vectors(1, seed=1))
    cache.put('{"model_id": "org/model-b"}', TEXTS[:1], _vectors(1, dim=6, seed=2))
    a = cache.get('{"model_id": "org/model-a"}', TEXTS[:1])[0]
    b = cache.get('{"model_id": "org/model-b"}', TEXTS[:1])[0]
    assert a.shape == (4,) and b.shape == (6,)
    assert cache.namespace_dir('{"model_id": "org/model-a"}').name.startswith(
        "model-a-"
    )
    assert len(cache.namespaces()) == 2
    cache.clear('{"model_id": "org/model-a"}')
    assert cache.get('{"model_id": "org/model-a"}', TEXTS[:1]) == [None]
    assert cache.get('{"model_id": "org/model-b"}', TEXTS[:1])[0] is not None
    cache.clear()
    assert len(cache) == 0


def test_compact_merges_shards(tmp_path):
    cache = EmbeddingCache(tmp_path, max_shards=2)
    vectors = _vectors(3)
    for i in range(3):
        cache.put("ns", [TEXTS[i]], vectors[i : i + 1])
    folder = cache.namespace_dir("ns")
    assert len(list(folder.glob("shard-*.npz"))) == 1
    np.testing.assert_array_equal(np.stack(cache.get("ns", TEXTS)), vectors)


def test_put_validates(tmp_path):
    cache = EmbeddingCache(tmp_path)
    with pytest.raises(ValueError, match="shape"):
        cache.put("ns", TEXTS, _vectors(2))
    with pytest.raises(ValueError, match="NaN"):
        cache.put("ns", TEXTS[:1], np.full((1, 3), np.nan))
    with pytest.raises(TypeError, match="'directory'"):
        EmbeddingCache(None)
    with pytest.raises(TypeError, match="'namespace'"):
        cache.get("", TEXTS)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "mismatch", "nan"])
def test_damaged_shards_are_set_aside(tmp_path, damage):
    cache = EmbeddingCache(tmp_path)
    cache.put("ns", TEXTS[:2], _vectors(2))
    cache.put("ns", TEXTS[2:], _vectors(1, seed=3))
    folder = cache.namespace_dir("ns")
    shard = sorted(folder.glob("shard-*.npz"))[0]
    if damage == "garbage":
        shard.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        shard.write_bytes(shard.read_bytes()[:200])
    elif damage == "mismatch":
        with shard.open("wb") as handle:
            np.savez(handle, keys=np.array(["a", "b"]), vectors=_vectors(3))
    else:
        keys = np.array([text_key(t) for t in TEXTS[:2]])
        with shard.open("wb") as handle:
            np.savez(handle, keys=keys, vectors=np.full((2, 4), np.nan, np.float32))
    # a temporary file left by a crashed writer is ignored
    (folder / ".shard-x.npz.tmp").write_bytes(b"partial")
    fresh = EmbeddingCache(tmp_path)
    with pytest.warns(EmbeddingCacheWarning, match="cannot be read"):
        found = fresh.get("ns", TEXTS)
    assert found[0] is None and found[1] is None and found[2] is not None
    assert (folder / (shard.name + ".corrupt")).exists()
    # the texts can be stored again
    fresh.put("ns", TEXTS[:2], _vectors(2))
    assert all(v is not None for v in fresh.get("ns", TEXTS))


@pytest.fixture
def tiny_bert(tiny_bert_dir, tmp_path):
    return HFEncoder(tiny_bert_dir, device="cpu", cache_dir=tmp_path / "emb")


def _count_calls(monkeypatch, encoder):
    calls = []
    original = encoder._forward_batch

    def counting(*args, **kwargs):
        calls.append(args[0].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(encoder, "_forward_batch", counting)
    return calls


def test_second_encode_makes_no_model_calls(tiny_bert, monkeypatch):
    calls = _count_calls(monkeypatch, tiny_bert)
    first = tiny_bert.encode(TEXTS)
    assert sum(calls) == 3
    calls.clear()
    second = tiny_bert.encode(TEXTS[::-1] + TEXTS[:1])
    assert calls == []
    np.testing.assert_array_equal(second, np.concatenate([first[::-1], first[:1]]))
    # only the new text is embedded
    third = tiny_bert.encode([*TEXTS, "reward and decision"])
    assert sum(calls) == 1
    np.testing.assert_array_equal(third[:3], first)
    # cached vectors equal uncached ones
    uncached = HFEncoder(tiny_bert.model_name_or_path, device="cpu").encode(TEXTS)
    np.testing.assert_allclose(first, uncached, rtol=0, atol=1e-6)


def test_corrupted_cache_is_re_embedded(tiny_bert, monkeypatch):
    first = tiny_bert.encode(TEXTS)
    folder = EmbeddingCache(tiny_bert.cache_dir).namespace_dir(
        tiny_bert.cache_namespace
    )
    for shard in folder.glob("shard-*.npz"):
        shard.write_bytes(shard.read_bytes()[:-50])
    calls = _count_calls(monkeypatch, tiny_bert)
    with pytest.warns(EmbeddingCacheWarning):
        again = tiny_bert.encode(TEXTS)
    assert sum(calls) == 3
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_models_do_not_collide(tiny_bert_dir, tiny_gpt2_dir, tmp_path):
    bert = HFEncoder(tiny_bert_dir, device="cpu", cache_dir=tmp_path)
    gpt2 = HFEncoder(tiny_gpt2_dir, device="cpu", cache_dir=tmp_path)
    no_special = HFEncoder(
        tiny_bert_dir, device="cpu", cache_dir=tmp_path, include_special_tokens=False
    )
    a, b, c = bert.encode(TEXTS), gpt2.encode(TEXTS), no_special.encode(TEXTS)
    assert len(EmbeddingCache(tmp_path).namespaces()) == 3
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(bert.encode(TEXTS), a)
    np.testing.assert_array_equal(gpt2.encode(TEXTS), b)
    np.testing.assert_array_equal(no_special.encode(TEXTS), c)


def test_memory_parameter_places_the_cache(tiny_bert_dir, tmp_path):
    joblib = pytest.importorskip("joblib")
    encoder = HFEncoder(tiny_bert_dir, device="cpu", memory=joblib.Memory(tmp_path))
    encoder.encode(TEXTS[:1])
    assert len(EmbeddingCache(tmp_path / "brainlm_decode_text_embeddings")) == 1
    encoder = HFEncoder(tiny_bert_dir, device="cpu", memory=str(tmp_path / "m"))
    encoder.encode(TEXTS[:1])
    assert len(EmbeddingCache(tmp_path / "m" / "brainlm_decode_text_embeddings")) == 1


def test_cache_instance_and_pickle(tiny_bert_dir, tmp_path):
    cache = EmbeddingCache(tmp_path)
    encoder = HFEncoder(tiny_bert_dir, device="cpu", cache_dir=cache)
    vectors = encoder.encode(TEXTS)
    assert len(cache) == 3
    clone = pickle.loads(pickle.dumps(encoder))
    assert not hasattr(clone, "model_")
    np.testing.assert_array_equal(clone.encode(TEXTS), vectors)


def test_unwritable_cache_warns_and_encodes(tiny_bert, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(EmbeddingCache, "put", refuse)
    with pytest.warns(EmbeddingCacheWarning, match="could not be written"):
        vectors = tiny_bert.encode(TEXTS)
    assert vectors.shape == (3, 32)
