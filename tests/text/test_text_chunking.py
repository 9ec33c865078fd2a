"""Input checks, chunking and special-token templates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brainlm_decode.text import check_texts, chunk_token_ids, special_tokens_template


def test_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, brainlm_decode.text as t; t.check_texts; t.EmbeddingCache; "
        "t.MiniLMEncoder; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "texts",
    [["a", "b"], ("a", "b"), np.array(["a", "b"]), pd.Series(["a", "b"])],
)
def test_check_texts_accepts_sequences(texts):
    assert check_texts(texts) == ["a", "b"]


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        (None, TypeError, "'texts' argument must be a sequence of str. Got None"),
        ("a text", TypeError, "not a single str; wrap it in a list"),
        (b"bytes", TypeError, "not a single bytes"),
        (42, TypeError, "Got an object of type int"),
        ([], ValueError, "'texts' argument is empty"),
        (["a", None], TypeError, r"positions 1 \(NoneType None\)"),
        (["a", float("nan"), 3], TypeError, r"Found 2 other value\(s\)"),
        (
            ["a", ""],
            ValueError,
            r"1 empty or whitespace-only string\(s\), at positions \[1\]",
        ),
        (["  \n", "b"], ValueError, r"positions \[0\]"),
    ],
)
def test_check_texts_errors(texts, error, match):
    with pytest.raises(error, match=match):
        check_texts(texts)


def test_check_texts_names_the_argument():
    with pytest.raises(ValueError, match="'definitions' argument"):
        check_texts([], name="definitions")


def test_chunk_examples():
    assert chunk_token_ids([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunk_token_ids([1, 2, 3, 4, 5], 3, stride=1) == [[1, 2, 3], [3, 4, 5]]
    assert chunk_token_ids([1, 2, 3], 3) == [[1, 2, 3]]
    assert chunk_token_ids([1, 2, 3], 10, stride=5) == [[1, 2, 3]]
    assert chunk_token_ids([], 4) == []
    assert chunk_token_ids(np.arange(4), 2) == [[0, 1], [2, 3]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_len": 0}, ValueError, "'max_len'"),
        ({"max_len": 2.0}, TypeError, "'max_len'"),
        ({"max_len": 3, "stride": 3}, ValueError, "0 <= stride < max_len"),
        ({"max_len": 3, "stride": -1}, ValueError, "'stride'"),
        ({"max_len": 3, "stride": True}, TypeError, "'stride'"),
    ],
)
def test_chunk_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        chunk_token_ids([1, 2, 3, 4], **kwargs)


def test_chunk_rejects_2d():
    with pytest.raises(ValueError, match="1-D"):
        chunk_token_ids(np.zeros((2, 2), dtype=int), 2)


@given(
    ids=st.lists(st.integers(0, 1000), max_size=60),
    max_len=st.integers(1, 12),
    data=st.data(),
)
def test_chunk_properties(ids, max_len, data):
    stride = data.draw(st.integers(0, max_len - 1))
    windows = chunk_token_ids(ids, max_len, stride)
    assert all(1 <= len(w) <= max_len for w in windows)
    if not ids:
        assert windows == []
        return
    step = max_len - stride
    for k, window in enumerate(windows):  # windows are the slices k * step
        assert window == ids[k * step : k * step + max_len]
    assert windows[-1][-1] == ids[-1] and len(windows[-1]) + (
        len(windows) - 1
    ) * step == len(ids)
    if len(windows) > 1:
        assert len(windows[-2]) == max_len


def test_special_tokens_template(minilm_path, word_tokenizer):
    from transformers import AutoTokenizer

    bert = AutoTokenizer.from_pretrained(minilm_path)
    assert special_tokens_template(bert) == ([bert.cls_token_id], [bert.sep_token_id])
    assert special_tokens_template(word_tokenizer) == ([], [])
