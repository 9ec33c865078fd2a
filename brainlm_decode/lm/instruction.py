"""Instruction data of fMRI-LM: examples per paradigm and their collation.

An :class:`Example` is one training (or scoring) sequence::

    <bos> fMRI: <fMRI tokens> \\n <context> ### Question: ... ### Answer: <target><eos>

where the target is what the loss (or the answer score) counts. Stage 2 uses the
same structure with ``### Description:`` and the subject's descriptor text (F2T),
and text-only sequences (T2T). :func:`sample_instructions` draws, per subject and
epoch, a paradigm (single question, several questions with ``|``, open-ended
description) and paraphrased questions from the question bank;
:class:`Collator` tokenises (with a cache), lays out the fMRI tokens, builds the
block ids of the attention mask and the per-token loss weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from brainlm_decode.lm.fmri_input import block_ids
from brainlm_decode.lm.prompts import (
    ANSWER_SEPARATOR,
    OPEN_QUESTIONS,
    format_multi_question,
    format_question,
    format_structured_answer,
    questions_for,
)

__all__ = [
    "FMRI_PREFIX",
    "PARADIGMS",
    "Collator",
    "Example",
    "sample_instructions",
]

#: Paradigms of Stage 3 instruction tuning.
PARADIGMS = ("single", "multi", "open")
#: Text before the fMRI tokens.
FMRI_PREFIX = "fMRI:"
_DESCRIPTION_PROMPT = "### Description:"
_IGNORE = -100


@dataclass(frozen=True)
class Example:
    """One sequence of the LM.

    Attributes
    ----------
    subject : int
        Row of the subject's fMRI features, or -1 for a text-only sequence.
    prompt : str
        Text after the fMRI tokens (context and question), ending before the
        target.
    target : str
        Text the loss (or the answer score) counts; an end-of-sequence token is
        appended.
    task : str
        ``"instruction"``, ``"f2t"`` or ``"t2t"`` (selects the loss weight).
    f2f : bool
        Whether the fMRI tokens' next-patch codes count (Stage 2 F2F).
    weight : float
        Relative loss weight of the example within its task (class weights).
    """

    subject: int
    prompt: str
    target: str
    task: str = "instruction"
    f2f: bool = False
    weight: float = 1.0


def _context(contexts: Sequence[str] | None, i: int) -> str:
    if contexts is None or not contexts[i]:
        return ""
    return contexts[i].strip() + " "


def sample_instructions(
    answers: Mapping[str, Sequence[str]],
    rng: np.random.RandomState,
    *,
    paradigms: Sequence[str] = PARADIGMS,
    contexts: Sequence[str] | None = None,
    weights: Mapping[str, Sequence[float]] | None = None,
) -> list[Example]:
    """One instruction example per subject, paradigm and questions drawn at random.

    Parameters
    ----------
    answers : mapping of str to sequence of str
        Target name -> answer text of each subject (same length for all targets).
    rng : numpy.random.RandomState
        Random generator (paradigm, target, question paraphrase, target order).
    paradigms : sequence of {"single", "multi", "open"}, default=all
        Paradigms to draw from (uniformly); ``"multi"`` needs two targets and is
        skipped with one.
    contexts : sequence of str or None, default=None
        Text placed before the question for each subject (subject attributes,
        descriptor text).
    weights : mapping of str to sequence of float or None, default=None
        Target name -> loss weight of each subject for that target (class
        weights). An example's weight is the mean over the targets it asks
        about; ``None`` weighs every example 1.

    Returns
    -------
    list of Example

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> ex = sample_instructions({"sex": ["male"]}, rng, paradigms=["single"])[0]
    >>> ex.prompt.startswith("### Question:"), ex.target
    (True, 'male')
    """
    names = list(answers)
    n = len(answers[names[0]])
    usable = [p for p in paradigms if p != "multi" or len(names) > 1]
    if not usable:
        raise ValueError(
            f"No usable paradigm among {list(paradigms)} for {len(names)} target(s): "
            "'multi' needs at least two targets."
        )
    examples = []
    for i in range(n):
        paradigm = usable[rng.randint(len(usable))]
        if paradigm == "single":
            name = names[rng.randint(len(names))]
            asked = [name]
            bank = questions_for(name)
            prompt = format_question(bank[rng.randint(len(bank))])
            target = answers[name][i]
        elif paradigm == "multi":
            size = rng.randint(2, len(names) + 1)
            chosen = [names[j] for j in rng.permutation(len(names))[:size]]
            asked = chosen
            questions = [
                questions_for(t)[rng.randint(len(questions_for(t)))] for t in chosen
            ]
            prompt = format_multi_question(questions)
            target = ANSWER_SEPARATOR.join(answers[t][i] for t in chosen)
        else:
            prompt = format_question(OPEN_QUESTIONS[rng.randint(len(OPEN_QUESTIONS))])
            target = format_structured_answer({t: answers[t][i] for t in names})
            asked = names
        weight = (
            1.0 if weights is None else float(np.mean([weights[t][i] for t in asked]))
        )
        examples.append(
            Example(i, _context(contexts, i) + prompt, target, weight=weight)
        )
    return examples


def description_examples(
    texts: Sequence[str], *, f2f: bool, f2t: bool
) -> list[Example]:
    """Stage 2 examples with fMRI: descriptor text given fMRI (F2T), F2F codes.

    Parameters
    ----------
    texts : sequence of str
        Descriptor text of each subject.
    f2f, f2t : bool
        Whether the next-patch codes and the description count.

    Returns
    -------
    list of Example
    """
    return [
        Example(i, _DESCRIPTION_PROMPT, text if f2t else "", "f2t", f2f)
        for i, text in enumerate(texts)
    ]


class Collator:
    """Tokenise examples and lay out fMRI tokens, masks and targets.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        The LM's tokenizer (pad token set).
    n_groups : int
        fMRI tokens per temporal patch.
    n_tokens : int
        fMRI tokens per scan.
    block_causal : bool, default=True
        Block-causal attention over time within the fMRI tokens.
    max_target_tokens : int or None, default=None
        Truncate targets (descriptor texts) to this many tokens.
    max_length : int or None, default=None
        Context length of the LM; longer sequences raise a ValueError.
    task_weights : mapping of str to float or None, default=None
        Loss weight of each task (default 1).
    """

    def __init__(
        self,
        tokenizer: Any,
        n_groups: int,
        n_tokens: int,
        *,
        block_causal: bool = True,
        max_target_tokens: int | None = None,
        max_length: int | None = None,
        task_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.n_groups, self.n_tokens = int(n_groups), int(n_tokens)
        self.block_causal = block_causal
        self.max_target_tokens = max_target_tokens
        self.max_length = max_length
        self.task_weights = dict(task_weights or {})
        self._cache: dict[tuple[str, bool], list[int]] = {}
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_id = int(tokenizer.eos_token_id)
        plain = self._ids(FMRI_PREFIX)
        special = self._ids(FMRI_PREFIX, special=True)
        # the special tokens the tokenizer puts in front (Gemma: <bos>); a model
        # without any (GPT-2) starts text-only rows with its end-of-text token
        self.bos_ids = special[:1] if special[1 : len(plain) + 1] == plain else []
        self.prefix_ids = self.bos_ids + plain
        self.start_ids = self.bos_ids or [self.eos_id]
        self.newline_ids = self._ids("\n")

    def _ids(self, text: str, special: bool = False) -> list[int]:
        key = (text, special)
        if key not in self._cache:
            ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
            self._cache[key] = list(ids)
        return self._cache[key]

    def _target_ids(self, target: str) -> list[int]:
        if not target:
            return []
        ids = self._ids(" " + target)
        if self.max_target_tokens is not None:
            ids = ids[: self.max_target_tokens]
        return ids + [self.eos_id]

    def layout(self, example: Example) -> tuple[list[int], list[tuple[str, int]], int]:
        """Token ids (fMRI slots padded), segments and target length of an example.

        Parameters
        ----------
        example : Example

        Returns
        -------
        ids : list of int
        segments : list of (str, int)
            ``("text", n)`` / ``("fmri", n)`` in order.
        n_target : int
            Number of target tokens at the end of ``ids``.
        """
        target = self._target_ids(example.target)
        if example.subject < 0:
            head = self.start_ids
            body = self._ids(example.prompt) if example.prompt else []
            ids = head + body + target
            return ids, [("text", len(ids))], len(target)
        before = self.prefix_ids
        after = self.newline_ids + self._ids(example.prompt) + target
        ids = before + [self.pad_id] * self.n_tokens + after
        segments = [
            ("text", len(before)),
            ("fmri", self.n_tokens),
            ("text", len(after)),
        ]
        return ids, segments, len(target)

    def _check_length(self, length: int) -> None:
        if self.max_length is not None and length > self.max_length:
            raise ValueError(
                f"A sequence of {length} tokens exceeds the backbone's context of "
                f"{self.max_length} tokens ({self.n_tokens} of them fMRI tokens). "
                "Use a cheaper 'token_layout' ('network', 'parcel_groups', 'roi'), "
                "shorter texts ('max_text_tokens') or a backbone with a longer context."
            )

    def _weights(self, examples: Sequence[Example], n_target: list[int]) -> list[float]:
        """Per-token weight of each row.

        Task weight x example weight / the task's weighted target tokens in the
        batch (a weighted mean over the task's target tokens).
        """
        totals: dict[str, float] = {}
        for ex, n in zip(examples, n_target, strict=True):
            totals[ex.task] = totals.get(ex.task, 0.0) + n * ex.weight
        return [
            self.task_weights.get(ex.task, 1.0)
            * ex.weight
            / max(totals[ex.task], 1e-12)
            for ex in examples
        ]

    def __call__(
        self,
        examples: Sequence[Example],
        features: np.ndarray | None = None,
        fmri_targets: np.ndarray | None = None,
        f2f_weight: float = 0.0,
    ) -> dict[str, Any]:
        """Collate examples into a batch of tensors for :class:`FMRILanguageModel`.

        Parameters
        ----------
        examples : sequence of Example
        features : ndarray of shape (n_subjects, n_groups, n_patches, embed_dim)
            Token features of all subjects (rows picked by ``Example.subject``).
        fmri_targets : ndarray of shape (n_subjects, n_tokens) or None
            Next-patch code of each fMRI token (-100 where none), time-major.
        f2f_weight : float, default=0.0
            Weight of the F2F loss.

        Returns
        -------
        dict of str to Tensor
        """
        import torch

        laid = [self.layout(ex) for ex in examples]
        length = max(len(ids) for ids, _, _ in laid)
        self._check_length(length)
        n = len(examples)
        input_ids = np.full((n, length), self.pad_id, dtype=np.int64)
        labels = np.full((n, length), _IGNORE, dtype=np.int64)
        weights = np.zeros((n, length), dtype=np.float32)
        blocks = np.full((n, length), 2**40, dtype=np.int64)
        row_weights = self._weights(examples, [t for _, _, t in laid])
        rows, starts = [], []
        for r, ((ids, segments, n_target), ex) in enumerate(
            zip(laid, examples, strict=True)
        ):
            input_ids[r, : len(ids)] = ids
            blocks[r, : len(ids)] = block_ids(
                segments, self.n_groups, self.block_causal
            )
            if n_target:
                labels[r, len(ids) - n_target : len(ids)] = ids[len(ids) - n_target :]
                weights[r, len(ids) - n_target : len(ids)] = row_weights[r]
            if ex.subject >= 0:
                rows.append(r)
                starts.append(segments[0][1])
        subjects = [ex.subject for ex in examples if ex.subject >= 0]
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "labels": torch.from_numpy(labels),
            "label_weights": torch.from_numpy(weights),
            "blocks": torch.from_numpy(blocks),
            "fmri_rows": torch.as_tensor(rows, dtype=torch.long),
            "fmri_start": torch.as_tensor(starts, dtype=torch.long),
        }
        if features is not None and subjects:
            batch["fmri_features"] = torch.from_numpy(
                np.ascontiguousarray(features[subjects], dtype=np.float32)
            )
        if fmri_targets is not None and subjects and f2f_weight > 0:
            use = [ex.f2f for ex in examples if ex.subject >= 0]
            targets = np.where(
                np.asarray(use)[:, None], fmri_targets[subjects], _IGNORE
            )
            batch["fmri_targets"] = torch.from_numpy(targets.astype(np.int64))
            batch["f2f_weight"] = torch.tensor(float(f2f_weight))
        return batch
