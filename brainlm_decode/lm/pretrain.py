"""Stage 2 of fMRI-LM: aligning the LM with fMRI tokens (F2F, F2T, T2T).

- **F2F** (fMRI to fMRI): from the hidden state of each fMRI token, the fMRI head
  predicts the tokenizer's code of the *next temporal patch of the same ROI
  (group)*; the block-causal mask lets a token see every group up to its own
  patch and nothing later (:func:`next_patch_targets`).
- **F2T** (fMRI to text): after the fMRI tokens, the LM writes the subject's
  descriptor text (``### Description: ...``); the loss counts the text tokens
  only.
- **T2T** (text to text): plain language modelling on the descriptor corpus and
  any text the user gives, which keeps the LM's language ability.

Each optimiser step sees, for every subject of the batch, one sequence with its
fMRI tokens and description (F2F and F2T in one forward pass) and one text-only
sequence drawn from the corpus (T2T); the loss is
``f2f_weight * F2F + f2t_weight * F2T + t2t_weight * T2T``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brainlm_decode.lm.fmri_input import TokenLayout, time_major
from brainlm_decode.lm.instruction import Example, description_examples

__all__ = ["layout_codes", "next_patch_targets", "stage2_examples"]

_IGNORE = -100


def next_patch_targets(codes: np.ndarray) -> np.ndarray:
    """F2F target of each fMRI token: the code of the same group's next patch.

    Parameters
    ----------
    codes : ndarray of int of shape (n_subjects, n_groups, n_patches)
        Tokenizer codes of the layout's tokens.

    Returns
    -------
    ndarray of int64 of shape (n_subjects, n_patches * n_groups)
        Time-major like the token sequence; -100 for the last patch (no next
        patch) and everywhere when there is a single patch.

    Examples
    --------
    >>> codes = np.array([[[1, 2, 3], [4, 5, 6]]])  # 2 groups, 3 patches
    >>> next_patch_targets(codes).tolist()
    [[2, 5, 3, 6, -100, -100]]
    """
    codes = np.asarray(codes, dtype=np.int64)
    shifted = np.full_like(codes, _IGNORE)
    shifted[:, :, :-1] = codes[:, :, 1:]
    return time_major(shifted)


def layout_codes(
    tokenizer: Any, series: Any, pooled: np.ndarray, layout: TokenLayout
) -> np.ndarray:
    """Tokenizer codes of the layout's tokens.

    Parameters
    ----------
    tokenizer : FMRITokenizer
        Fitted tokenizer.
    series : array-like
        The subjects' series (used by the ``"patch"`` layout).
    pooled : ndarray of shape (n_subjects, n_groups, n_patches, embed_dim)
        Token features (pooled layouts are quantised again).
    layout : TokenLayout
        The layout.

    Returns
    -------
    ndarray of int64 of shape (n_subjects, n_groups, n_patches)
    """
    if layout.kind == "patch":
        return np.asarray(tokenizer.transform(series), dtype=np.int64)
    return np.asarray(tokenizer.quantize_features(pooled), dtype=np.int64)


def stage2_examples(
    texts: Sequence[str] | None,
    corpus: Sequence[str],
    n_subjects: int,
    rng: np.random.RandomState,
    *,
    weights: dict[str, float],
) -> list[list[Example]]:
    """The examples of one Stage 2 epoch.

    Parameters
    ----------
    texts : sequence of str or None
        Descriptor text of each subject (F2T); ``None`` without descriptors.
    corpus : sequence of str
        Texts for T2T (descriptor texts and user texts).
    n_subjects : int
        Number of subjects.
    rng : numpy.random.RandomState
        Draws the T2T texts.
    weights : dict
        ``{"f2f": w, "f2t": w, "t2t": w}``.

    Returns
    -------
    list of list of Example
        One unit per subject, kept together in a batch: the fMRI sequence and
        (with T2T) one text-only sequence.
    """
    f2t = texts is not None and weights["f2t"] > 0
    fmri = description_examples(
        texts if f2t else [""] * n_subjects, f2f=weights["f2f"] > 0, f2t=f2t
    )
    if not corpus or weights["t2t"] <= 0:
        return [[example] for example in fmri]
    picks = rng.randint(len(corpus), size=n_subjects)
    return [
        [example, Example(-1, "", corpus[pick], "t2t", False)]
        for example, pick in zip(fmri, picks, strict=True)
    ]
