"""Targets of the fMRI-LM estimators: checks, answer scoring and generation.

:class:`TargetsMixin` holds what :class:`~brainlm_decode.lm.FMRILMClassifier` and
:class:`~brainlm_decode.lm.FMRILMRegressor` share over a DataFrame of
categorical targets: Stage 3 instruction tuning, log-probability answer scoring,
zero-shot targets, open-ended generation and its rule-based scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from brainlm_decode.lm.instruction import Collator, Example
from brainlm_decode.lm.prompts import (
    OPEN_QUESTIONS,
    answer_texts,
    format_question,
    questions_for,
    score_structured,
)
from brainlm_decode.timeseries.checks import stack_timeseries

__all__ = ["TargetsMixin", "check_targets", "ordinal_bins", "softmax", "BIN_WORDS"]


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def check_targets(y: Any, n: int, owner: str) -> pd.DataFrame:
    """y as a DataFrame of targets (one column per target), without NaN."""
    if y is None:
        raise ValueError(f"{owner}.fit needs targets: the 'y' argument is None.")
    if isinstance(y, pd.DataFrame):
        frame = y.reset_index(drop=True)
    elif isinstance(y, pd.Series):
        frame = y.reset_index(drop=True).to_frame(name=y.name or "target")
    else:
        array = np.asarray(y)
        if array.ndim == 1:
            frame = pd.DataFrame({"target": array})
        elif array.ndim == 2:
            frame = pd.DataFrame(
                array, columns=[f"target_{j}" for j in range(array.shape[1])]
            )
        else:
            raise ValueError(
                f"The 'y' argument of {owner} must be 1D (one target) or 2D / a "
                f"DataFrame (several). Got shape {array.shape} instead."
            )
    if len(frame) != n:
        raise ValueError(
            f"The 'y' argument of {owner} must have one row per subject of X ({n}). "
            f"Got {len(frame)} instead."
        )
    missing = frame.isna()
    if missing.to_numpy().any():
        column = frame.columns[missing.any(axis=0)][0]
        rows = np.flatnonzero(missing[column].to_numpy())[:5].tolist()
        raise ValueError(
            f"The 'y' argument of {owner} has missing values (NaN) in target "
            f"{column!r} (rows {rows}). Drop these subjects or impute the target."
        )
    frame.columns = [str(c) for c in frame.columns]
    return frame


def ordinal_bins(y: Any, n_bins: int) -> np.ndarray:
    """Quantile edges cutting a continuous target into ordinal bins.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training values.
    n_bins : int
        Number of bins (at least 2).

    Returns
    -------
    ndarray of shape (n_bins - 1,)
        Inner edges; ``np.digitize(y, edges)`` gives bins ``0 .. n_bins - 1``.

    Examples
    --------
    >>> ordinal_bins([1, 2, 3, 4, 5, 6], 3).round(6).tolist()
    [2.666667, 4.333333]
    """
    values = np.asarray(y, dtype=float)
    return np.quantile(values, np.linspace(0, 1, int(n_bins) + 1)[1:-1])


BIN_WORDS = {
    2: ("low", "high"),
    3: ("low", "medium", "high"),
    4: ("very low", "low", "high", "very high"),
    5: ("very low", "low", "medium", "high", "very high"),
}


class TargetsMixin:
    """fit / predict machinery over a DataFrame of categorical targets."""

    def _fit_frame(
        self, X: Any, frame: pd.DataFrame, texts: Any, attributes: Any
    ) -> None:
        from brainlm_decode.training.runtime import device_context, seeded_torch

        self.targets_ = list(frame.columns)
        self.classes_per_target_ = {}
        self.answers_ = {}
        user_answers = dict(self.answers or {})
        for name in self.targets_:
            classes = np.unique(frame[name].to_numpy())
            if classes.size < 2:
                raise ValueError(
                    f"Target {name!r} of {type(self).__name__} has a single class "
                    f"({classes.tolist()}); a classifier needs at least two."
                )
            self.classes_per_target_[name] = classes
            self.answers_[name] = answer_texts(name, classes, user_answers.get(name))
        if attributes is not None:
            shared = set(map(str, pd.DataFrame(attributes).columns)) & set(
                self.targets_
            )
            if shared:
                raise ValueError(
                    f"The 'attributes' argument of {type(self).__name__} holds the "
                    f"targets {sorted(shared)}: the answer would be in the prompt."
                )
        self.attribute_columns_ = (
            None if attributes is None else list(pd.DataFrame(attributes).columns)
        )
        series, texts_, features = self._prepare(X, texts)
        contexts = self._contexts(series, attributes, texts_)
        accelerator, seeds = self._accelerator()
        history: dict[str, Any] = {}
        with (
            device_context(self.device, accelerator),
            seeded_torch(int(seeds[3]), accelerator.device),
        ):
            if not (self.warm_start and hasattr(self, "model_")):
                self._setup_model(accelerator, int(seeds[0]))
            if self.pretrain_epochs > 0:
                history["pretrain"] = self._stage2(
                    series, features, texts_, accelerator, seeds, self.pretrain_epochs
                )
            if self.n_epochs > 0 and getattr(self, "head", "answer") == "answer":
                history["instruction"] = self._stage3(
                    frame, features, contexts, accelerator, seeds
                )
        self.history_ = history

    def _stage3(
        self,
        frame: pd.DataFrame,
        features: np.ndarray,
        contexts: list[str] | None,
        accelerator: Any,
        seeds: np.ndarray,
    ) -> dict[str, list[float]]:
        """Stage 3 instruction tuning on the paradigms of ``paradigms``."""
        from brainlm_decode.lm.instruction import sample_instructions

        fraction = getattr(self, "validation_fraction", None)
        stopper, val = None, None
        if fraction:
            from brainlm_decode.lm.probe import validation_split

            first = frame[self.targets_[0]].astype(str).to_numpy()
            train, val = validation_split(first, fraction, int(seeds[2]) % 2**31)
            stopper = self._early_stopping(
                frame.iloc[val].reset_index(drop=True),
                features[val],
                None if contexts is None else [contexts[i] for i in val],
            )
            frame = frame.iloc[train].reset_index(drop=True)
            features = features[train]
            contexts = None if contexts is None else [contexts[i] for i in train]
        per_subject, weights = {}, {}
        for name in self.targets_:
            index = np.searchsorted(
                self.classes_per_target_[name], frame[name].to_numpy()
            )
            per_subject[name] = [self.answers_[name][i] for i in index]
            counts = np.bincount(index, minlength=len(self.classes_per_target_[name]))
            weights[name] = len(index) / (counts.size * counts[index])
        self.model_.fmri_head.requires_grad_(False)
        collator = self._collator({"instruction": 1.0})

        def units(epoch: int) -> list[list[Example]]:
            rng = np.random.RandomState((int(seeds[2]) + 7919 * (epoch + 1)) % 2**32)
            examples = sample_instructions(
                per_subject,
                rng,
                paradigms=self.paradigms,
                contexts=contexts,
                weights=weights if self.class_weight == "balanced" else None,
            )
            return [[ex] for ex in examples]

        history = self._train(
            units,
            lambda examples: collator(examples, features),
            n_epochs=self.n_epochs,
            accelerator=accelerator,
            seed=int(seeds[1]) + 1,
            desc="fMRI-LM stage 3",
            on_epoch_end=stopper,
        )
        if stopper is not None:
            stopper.restore()
            history["validation_loss"] = stopper.losses
            history["best_epoch"] = [stopper.best_epoch]
            self._log(
                f"early stopping: best epoch {stopper.best_epoch + 1} of "
                f"{len(stopper.losses)} (validation loss {stopper.best:.4f}, "
                f"{len(val)} subjects)"
            )
        return history

    def _early_stopping(
        self, frame: pd.DataFrame, features: np.ndarray, contexts: list[str] | None
    ) -> Any:
        """Stopper scoring the class-balanced answer log-loss on validation subjects."""
        from brainlm_decode.lm.probe import EarlyStopping

        def loss() -> float:
            values = []
            for name in self.targets_:
                index = np.searchsorted(
                    self.classes_per_target_[name], frame[name].to_numpy()
                )
                proba = self._target_proba(features, contexts, name)
                counts = np.bincount(index, minlength=proba.shape[1])
                weight = 1.0 / counts[index]
                picked = np.log(np.clip(proba[np.arange(len(index)), index], 1e-12, 1))
                values.append(-np.sum(weight * picked) / np.sum(weight))
            return float(np.mean(values))

        return EarlyStopping(self.model_, loss, getattr(self, "n_iter_no_change", 3))

    # -- prediction ---------------------------------------------------------------------
    def _inputs(self, X: Any, attributes: Any) -> tuple[np.ndarray, list[str] | None]:
        self._check_fitted()
        series = stack_timeseries(X, owner=type(self).__name__)
        columns = getattr(self, "attribute_columns_", None)
        if columns is not None and attributes is None:
            raise ValueError(
                f"{type(self).__name__} was fitted with subject attributes "
                f"{columns}; pass them as 'attributes' here too."
            )
        return self._token_features(series), self._contexts(series, attributes)

    def _target_proba(
        self, features: np.ndarray, contexts: list[str] | None, name: str
    ) -> np.ndarray:
        scores = self._answer_log_probs(
            features, contexts, questions_for(name)[0], self.answers_[name]
        )
        return softmax(scores)

    def _zero_shot(
        self,
        features: np.ndarray,
        contexts: list[str] | None,
        question: Any,
        answers: Any,
    ) -> np.ndarray:
        if question is None or answers is None:
            raise ValueError(
                "Zero-shot prediction needs both 'question' (str) and 'answers' "
                "(a list of at least two distinct answer texts)."
            )
        answers = [str(a).strip().lower() for a in answers]
        if len(answers) < 2 or len(set(answers)) != len(answers):
            raise ValueError(
                "The 'answers' argument must hold at least two distinct answer texts. "
                f"Got {answers}."
            )
        scores = self._answer_log_probs(features, contexts, str(question), answers)
        return softmax(scores)

    def _names(self, target: Any) -> list[str]:
        self._check_fitted()
        if target is None:
            if not getattr(self, "targets_", None):
                raise ValueError(
                    f"{type(self).__name__} was pretrained without targets: pass "
                    "'question' and 'answers' to predict zero-shot, or fit it."
                )
            return list(self.targets_)
        if str(target) not in self.targets_:
            raise ValueError(
                f"The 'target' argument must be one of {self.targets_}. Got {target!r}."
            )
        return [str(target)]

    def _check_labels(self, frame: pd.DataFrame) -> None:
        for name in frame.columns:
            if name not in self.classes_per_target_:
                raise ValueError(
                    f"Target {name!r} was not seen in fit; known targets: "
                    f"{self.targets_}."
                )
            unseen = sorted(
                set(frame[name].tolist())
                - set(self.classes_per_target_[name].tolist()),
                key=str,
            )
            if unseen:
                raise ValueError(
                    f"The 'y' argument has labels {unseen} for target {name!r} that "
                    f"were not seen in fit (classes: "
                    f"{self.classes_per_target_[name].tolist()})."
                )

    def generate(
        self,
        X: Any,
        question: str | None = None,
        *,
        max_new_tokens: int = 48,
        attributes: Any = None,
    ) -> list[str]:
        """Greedy text answers (open-ended paradigm by default).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        question : str or None, default=None
            Question; ``None`` asks for the structured description
            (``"diagnosis: ...; sex: ..."``), which :meth:`score_generated`
            checks field by field.
        max_new_tokens : int, default=48
            Most tokens generated per subject (stops at the end-of-sequence token).
        attributes : DataFrame or None, default=None
            Subject attributes, as in ``fit``.

        Returns
        -------
        list of str
            One answer per subject.
        """
        features, contexts = self._inputs(X, attributes)
        prompt = format_question(question or OPEN_QUESTIONS[0])
        collator = self._collator()
        return [
            self._greedy(
                collator,
                features[i : i + 1],
                (contexts[i] + " " if contexts else "") + prompt,
                max_new_tokens,
            )
            for i in range(features.shape[0])
        ]

    def _greedy(
        self, collator: Collator, features: np.ndarray, prompt: str, max_new: int
    ) -> str:
        import torch

        from brainlm_decode.lm.fmri_input import block_ids

        ids, segments, _ = collator.layout(Example(0, prompt, ""))
        device = next(self.model_.parameters()).device
        new: list[int] = []
        base = collator([Example(0, prompt, "")], features)
        for _ in range(int(max_new)):
            full = ids + new
            segs = segments[:-1] + [("text", segments[-1][1] + len(new))]
            batch = dict(base)
            batch["input_ids"] = torch.as_tensor([full])
            batch["blocks"] = torch.as_tensor(
                block_ids(segs, collator.n_groups, collator.block_causal)
            )[None]
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.no_grad():
                hidden = self.model_.hidden_states(batch)[0, -1]
                token = int(self.model_.logits(hidden).argmax())
            if token == collator.eos_id:
                break
            new.append(token)
        return self.lm_tokenizer_.decode(new, skip_special_tokens=True).strip()

    def answer_frame(self, y: Any) -> pd.DataFrame:
        """Answer text of each subject's labels (the truth of :meth:`score_generated`).

        Parameters
        ----------
        y : array-like or DataFrame
            Labels of the fitted targets.

        Returns
        -------
        DataFrame
            One column per target, answer texts.
        """
        self._check_fitted()
        frame = self._label_frame(y)
        self._check_labels(frame)
        out = {}
        for name in frame.columns:
            index = np.searchsorted(
                self.classes_per_target_[name], frame[name].to_numpy()
            )
            out[name] = [self.answers_[name][i] for i in index]
        return pd.DataFrame(out)

    def score_generated(self, texts: Sequence[str], y: Any) -> dict[str, Any]:
        """Rule-based scoring of generated descriptions against the true labels.

        Parameters
        ----------
        texts : sequence of str
            Output of :meth:`generate` (open-ended paradigm).
        y : array-like or DataFrame
            True labels of the fitted targets.

        Returns
        -------
        dict
            See :func:`~brainlm_decode.lm.prompts.score_structured`: per-field
            accuracy, parse rate and the all-fields-correct rate.
        """
        truth = self.answer_frame(y)
        schema = {name: self.answers_[name] for name in truth.columns}
        return score_structured(texts, truth, schema)
