"""Input checks and token chunking shared by every text encoder.

Pure functions (NumPy only, no torch), so they are cheap to import and to test:

- :func:`check_texts` turns the ``texts`` argument of an encoder into a list of
  non-empty strings, or raises an error naming the argument and the bad positions.
- :func:`chunk_token_ids` splits a token sequence into windows that fit a model.
- :func:`special_tokens_template` finds the special tokens a tokenizer wraps around
  a single sequence (``[CLS] ... [SEP]``, ``<bos> ...``, nothing for GPT-2), so that
  each chunk of a long text is wrapped exactly as a short text would be.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_texts", "chunk_token_ids", "special_tokens_template"]

_SHOWN = 5  # bad positions listed in error messages


def check_texts(texts: Any, *, name: str = "texts") -> list[str]:
    """Validate a collection of texts and return it as a list of strings.

    Parameters
    ----------
    texts : sequence of str
        A list, tuple, NumPy array or pandas Series of strings. A single string is
        rejected (wrap it in a list), so that a text is never iterated character by
        character.
    name : str, default="texts"
        Argument name used in error messages.

    Returns
    -------
    list of str
        The texts, in order.

    Raises
    ------
    TypeError
        When ``texts`` is None, a single string, not iterable, or holds an element
        that is not a string (None, NaN, bytes, numbers...). The message gives the
        first bad positions and their types.
    ValueError
        When ``texts`` is empty, or holds empty or whitespace-only strings. Empty
        texts carry no information and would give an embedding of special tokens
        only (or none at all for tokenizers without special tokens), so they are an
        error rather than a silent zero vector; drop or fill them before encoding.

    Examples
    --------
    >>> check_texts(["n-back task", "pain"])
    ['n-back task', 'pain']
    >>> check_texts(["n-back", ""])
    Traceback (most recent call last):
    ...
    ValueError: The 'texts' argument holds 1 empty or whitespace-only string(s), at positions [1]. Remove them or replace them with a placeholder text before encoding.
    """
    if texts is None:
        raise TypeError(
            f"The {name!r} argument must be a sequence of str. Got None instead."
        )
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"The {name!r} argument must be a sequence of str, not a single "
            f"{type(texts).__name__}; wrap it in a list: [{_short(texts)}]."
        )
    if not isinstance(texts, Iterable):
        raise TypeError(
            f"The {name!r} argument must be a sequence of str. Got an object of type "
            f"{type(texts).__name__} instead."
        )
    items = texts.tolist() if isinstance(texts, np.ndarray) else list(texts)
    if not items:
        raise ValueError(
            f"The {name!r} argument is empty: at least one text is needed."
        )
    not_str = [i for i, text in enumerate(items) if not isinstance(text, str)]
    if not_str:
        shown = ", ".join(
            f"{i} ({type(items[i]).__name__} {_short(items[i])})"
            for i in not_str[:_SHOWN]
        )
        more = f" and {len(not_str) - _SHOWN} more" if len(not_str) > _SHOWN else ""
        raise TypeError(
            f"The {name!r} argument must hold only str. Found {len(not_str)} other "
            f"value(s), at positions {shown}{more}. Missing texts (None or NaN) must "
            "be dropped or filled before encoding."
        )
    empty = [i for i, text in enumerate(items) if not text.strip()]
    if empty:
        more = f" and {len(empty) - _SHOWN} more" if len(empty) > _SHOWN else ""
        raise ValueError(
            f"The {name!r} argument holds {len(empty)} empty or whitespace-only "
            f"string(s), at positions {empty[:_SHOWN]}{more}. Remove them or "
            "replace them with a placeholder text before encoding."
        )
    return [str(text) for text in items]


def _short(value: Any, width: int = 30) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def chunk_token_ids(
    ids: Sequence[int] | np.ndarray, max_len: int, stride: int = 0
) -> list[list[int]]:
    """Split a sequence of token ids into windows of at most ``max_len`` tokens.

    Consecutive windows overlap by ``stride`` tokens (the meaning of ``stride`` in
    Hugging Face tokenizers), so window ``k`` starts at ``k * (max_len - stride)``.
    The last window ends at the last token; no token is dropped.

    Parameters
    ----------
    ids : sequence of int or 1-D array
        Token ids of one text, without special tokens.
    max_len : int
        Maximum number of tokens per window (>= 1).
    stride : int, default=0
        Number of tokens shared by consecutive windows, ``0 <= stride < max_len``.

    Returns
    -------
    list of list of int
        The windows, in order. An empty ``ids`` gives an empty list; a sequence of
        at most ``max_len`` tokens gives one window equal to it.

    Raises
    ------
    TypeError
        When ``max_len`` or ``stride`` is not an int.
    ValueError
        When ``max_len < 1``, ``stride`` is negative or ``stride >= max_len``, or
        ``ids`` is not one-dimensional.

    Examples
    --------
    >>> chunk_token_ids([1, 2, 3, 4, 5], max_len=2)
    [[1, 2], [3, 4], [5]]
    >>> chunk_token_ids([1, 2, 3, 4, 5], max_len=3, stride=1)
    [[1, 2, 3], [3, 4, 5]]
    """
    for arg, value in (("max_len", max_len), ("stride", stride)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(
                f"The {arg!r} argument of chunk_token_ids must be an int. "
                f"Got {value!r} instead."
            )
    if max_len < 1:
        raise ValueError(
            "The 'max_len' argument of chunk_token_ids must be an int in the range "
            f"[1, inf). Got {max_len!r} instead."
        )
    if not 0 <= stride < max_len:
        raise ValueError(
            "The 'stride' argument of chunk_token_ids must satisfy "
            f"0 <= stride < max_len (= {max_len}). Got {stride!r} instead."
        )
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(
            "The 'ids' argument of chunk_token_ids must be a 1-D sequence of token "
            f"ids. Got an array of shape {array.shape} instead."
        )
    values = [int(i) for i in array.tolist()]
    if len(values) <= max_len:
        return [values] if values else []
    step = max_len - stride
    windows = []
    start = 0
    while True:
        windows.append(values[start : start + max_len])
        if start + max_len >= len(values):
            return windows
        start += step


def special_tokens_template(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Special tokens a tokenizer puts before and after a single sequence.

    Compares the ids of a probe text with and without special tokens, which works
    for every Hugging Face tokenizer (BERT ``[CLS] ... [SEP]``, RoBERTa
    ``<s> ... </s>``, Llama/Gemma ``<bos> ...``, GPT-2 nothing).

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Any callable tokenizer accepting ``add_special_tokens``.

    Returns
    -------
    prefix, suffix : list of int
        Ids to put before and after the content ids of each chunk.
    """
    probe = "brain activation map"
    plain = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    if plain:
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return full[:start], full[start + len(plain) :]
    return [], []  # tokenizer with an unusual template: add nothing
