"""Shared machinery of the fMRI-LM estimators (Stage 2 and Stage 3).

:class:`FMRILMBase` turns preprocessed ROI time series into LM inputs (the
descriptor texts, the tokenizer's features pooled by the token layout, the F2F
targets), builds the model (backbone + LoRA + fMRI input module + fMRI head),
runs Stage 2 (:meth:`FMRILMBase.pretrain`) and Stage 3 instruction tuning, and
scores answers by log-probability. :class:`~brainlm_decode.FMRILMClassifier` and
:class:`~brainlm_decode.lm.classifier.FMRILMRegressor` add the target handling.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    Satisfies,
    seed_from_random_state,
)
from brainlm_decode.lm.fmri_input import TOKEN_LAYOUTS, TokenLayout, make_layout
from brainlm_decode.lm.instruction import PARADIGMS, Collator, Example
from brainlm_decode.lm.prompts import format_question
from brainlm_decode.timeseries.checks import stack_timeseries

__all__ = ["FMRILMBase"]


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") or hasattr(value, "fit")


def _is_text_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value)


def _is_paradigms(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(p in PARADIGMS for p in value)
    )


def _seed_unseeded(estimator: Any, random_state: Any, offset: int) -> Any:
    """Seed a cloned sub-estimator left at ``random_state=None`` from the parent's.

    As scikit-learn's ensembles seed their members: an explicit seed of the
    sub-estimator wins; an unseeded one gets ``seed + offset`` (``offset`` keeps
    the tokenizer's and the descriptors' streams apart), so a seeded
    classifier is reproducible as a whole. A parent without a seed leaves it.
    """
    params = estimator.get_params(deep=False)
    if random_state is None or "random_state" not in params:
        return estimator
    if params["random_state"] is not None:
        return estimator
    seed = (seed_from_random_state(random_state) + offset) % (2**32)
    return estimator.set_params(random_state=seed)


def _is_fitted(estimator: Any) -> bool:
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


class FMRILMBase(BaseBrainLMEstimator):
    """Base of the fMRI-LM estimators (see :class:`~brainlm_decode.FMRILMClassifier`
    for the parameters)."""

    _parameter_constraints: dict[str, list[Any]] = {
        "tokenizer": [None, Satisfies(_is_estimator, "an FMRITokenizer")],
        "descriptors": [
            None,
            Satisfies(_is_estimator, "an FMRIDescriptorTransformer"),
        ],
        "backbone": [
            Satisfies(
                lambda v: isinstance(v, str) or _is_estimator(v),
                "a backbone plugin name or instance",
            )
        ],
        "token_layout": [Options(*TOKEN_LAYOUTS)],
        "networks": [None, Satisfies(lambda v: len(v) > 0, "a list of network names")],
        "n_token_groups": [Interval(int, 1, None)],
        "block_causal": [bool],
        "lora": [bool],
        "lora_r": [None, Interval(int, 1, None)],
        "lora_alpha": [None, Interval(float, 0, None, closed="neither")],
        "lora_target_modules": [None, Satisfies(_is_text_list, "a list of str")],
        "lora_dropout": [Interval(float, 0.0, 1.0, closed="left")],
        "pretrain_epochs": [Interval(int, 0, None)],
        "f2f_weight": [Interval(float, 0.0, None)],
        "f2t_weight": [Interval(float, 0.0, None)],
        "t2t_weight": [Interval(float, 0.0, None)],
        "text_corpus": [None, Satisfies(_is_text_list, "a list of str")],
        "max_text_tokens": [Interval(int, 1, None)],
        "n_epochs": [Interval(int, 0, None)],
        "learning_rate": [Interval(float, 0.0, None, closed="neither")],
        "min_learning_rate": [Interval(float, 0.0, None)],
        "weight_decay": [Interval(float, 0.0, None)],
        "max_grad_norm": [None, Interval(float, 0.0, None, closed="neither")],
        "paradigms": [Satisfies(_is_paradigms, f"a non-empty list among {PARADIGMS}")],
        "answers": [None, dict],
        "descriptor_context": [bool],
        "answer_scoring": [Options("sum", "mean")],
        "class_weight": [None, Options("balanced")],
        "warm_start": [bool],
    }

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of (n_timepoints, n_rois) arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags

    # -- inputs: descriptors, tokenizer, features ----------------------------------------
    def _fit_descriptors(self, series: np.ndarray) -> list[str] | None:
        """Fit the descriptor transformer on the training subjects; their texts."""
        if self.descriptors is None:
            self.descriptors_ = None
            return None
        self._log("fitting the descriptors")
        descriptors = _seed_unseeded(clone(self.descriptors), self.random_state, 1)
        self.descriptors_ = descriptors.fit(list(series))
        return list(self.descriptors_.to_text(list(series)))

    def _fit_tokenizer(self, series: np.ndarray, texts: list[str] | None) -> None:
        """Use a fitted tokenizer as is (ROI count checked) or fit a copy."""
        tok = self.tokenizer
        if tok is None:
            from brainlm_decode.tokenizer import FMRITokenizer

            tok = FMRITokenizer(
                backbone=self.backbone,
                device=self.device,
                random_state=self.random_state,
                verbose=self.verbose,
            )
        if _is_fitted(tok):
            if int(tok.n_rois_) != series.shape[2]:
                raise ValueError(
                    f"The 'tokenizer' parameter of {type(self).__name__} was fitted "
                    f"on {tok.n_rois_} ROIs; X has {series.shape[2]}. Pass a tokenizer "
                    "fitted on this atlas, or an unfitted one to fit on X."
                )
            self.tokenizer_ = tok
            return
        self._log("fitting the tokenizer")
        tok = _seed_unseeded(clone(tok), self.random_state, 0)
        self.tokenizer_ = tok.fit(series, texts=texts)

    def _networks(self) -> Sequence[str] | None:
        if self.networks is not None:
            return self.networks
        return getattr(self.descriptors, "networks", None)

    def _token_features(self, series: np.ndarray) -> np.ndarray:
        """Tokenizer features pooled by the layout (n, n_groups, n_patches, dim)."""
        from brainlm_decode.lm.fmri_input import pool_features

        if series.shape[2] != self.n_features_in_:
            raise ValueError(
                f"The 'X' argument of {type(self).__name__} must have "
                f"{self.n_features_in_} ROIs (columns) as in fit. Got "
                f"{series.shape[2]} instead."
            )
        return pool_features(self.tokenizer_.encode(series), self.layout_)

    def _contexts(
        self, series: np.ndarray, attributes: Any, texts: list[str] | None = None
    ) -> list[str] | None:
        """Text before the question: subject attributes and descriptor text."""
        from brainlm_decode.descriptors.templates import render_subject_text

        parts: list[list[str]] = []
        if attributes is not None:
            frame = pd.DataFrame(attributes).reset_index(drop=True)
            if len(frame) != series.shape[0]:
                raise ValueError(
                    f"The 'attributes' argument of {type(self).__name__} must have "
                    f"one row per subject ({series.shape[0]}). Got {len(frame)}."
                )
            parts.append([render_subject_text(row) for _, row in frame.iterrows()])
        if self.descriptor_context and self.descriptors_ is not None:
            parts.append(texts or list(self.descriptors_.to_text(list(series))))
        if not parts:
            return None
        return [" ".join(p) for p in zip(*parts, strict=True)]

    # -- model ---------------------------------------------------------------------------
    def _check_backbone(self) -> None:
        """Fail before any training when the backbone cannot be loaded.

        Reads the backbone's configuration only (no weights): a missing optional
        extra (Gemma-3-270M needs ``brainlm_decode[llm]``) or a model that is not
        cached offline is reported before the tokenizer is trained.
        """
        from brainlm_decode.plugins import get_plugin

        get_plugin("backbones", self.backbone).load_config()

    def _load_backbone(self) -> tuple[Any, Any]:
        from brainlm_decode.plugins import get_plugin

        self.backbone_ = get_plugin("backbones", self.backbone)
        self._log(f"loading the backbone {self.backbone_.model_id}")
        return self.backbone_.load()

    def _lora_settings(self) -> dict[str, Any] | None:
        if not self.lora:
            return None
        settings: dict[str, Any] = {}
        if (
            self.lora_r is None
            or self.lora_alpha is None
            or not self.lora_target_modules
        ):
            settings = self.backbone_.lora_defaults()
        return {
            "r": int(self.lora_r if self.lora_r is not None else settings["r"]),
            "alpha": float(
                self.lora_alpha
                if self.lora_alpha is not None
                else settings["lora_alpha"]
            ),
            "target_modules": list(
                self.lora_target_modules or settings["target_modules"]
            ),
            "dropout": float(self.lora_dropout),
        }

    def _build_model(self, lm: Any, lora: dict[str, Any] | None, scale: float) -> Any:
        from brainlm_decode.lm.model import (
            FMRIInputModule,
            FMRILanguageModel,
            apply_lora,
        )

        if lora is not None:
            lm = apply_lora(lm, **lora)
        else:
            for param in lm.parameters():
                param.requires_grad_(True)
        hidden = int(lm.get_input_embeddings().weight.shape[1])
        module = FMRIInputModule(
            int(self.tokenizer_.embed_dim_),
            hidden,
            self.layout_.n_groups,
            self.layout_.n_patches,
            scale=scale,
        )
        return FMRILanguageModel(lm, module, int(self.tokenizer_.codebook_size_))

    def _setup_model(self, accelerator: Any, init_seed: int, lora: Any = None) -> None:
        """Load the backbone and build the model (seeded LoRA / module init).

        ``lora``: saved LoRA settings (``False`` for full fine-tuning) that
        replace those of the parameters (adapter loading).
        """
        from brainlm_decode.lm.model import text_embedding_scale
        from brainlm_decode.text.hf import context_length
        from brainlm_decode.training.runtime import seeded_torch

        lm_tokenizer, lm = self._load_backbone()
        if lora is None:
            self.lora_config_ = self._lora_settings()
        else:
            self.lora_config_ = lora or None
        with seeded_torch(init_seed, accelerator.device):
            scale = text_embedding_scale(lm)
            model = self._build_model(lm, self.lora_config_, scale)
        self.model_ = model.to(accelerator.device).eval()
        self.lm_tokenizer_ = lm_tokenizer
        self.max_length_ = context_length(self.model_.hf_model.config, lm_tokenizer)

    def _collator(self, task_weights: dict[str, float] | None = None) -> Collator:
        return Collator(
            self.lm_tokenizer_,
            self.layout_.n_groups,
            self.layout_.n_tokens,
            block_causal=self.block_causal,
            max_target_tokens=self.max_text_tokens,
            max_length=self.max_length_,
            task_weights=task_weights,
        )

    # -- fit pieces ---------------------------------------------------------------------
    def _accelerator(self) -> tuple[Any, np.ndarray]:
        from brainlm_decode.training.runtime import make_accelerator, shared_seed

        accelerator = make_accelerator(self.device, owner=type(self).__name__)
        seed = shared_seed(self.random_state, accelerator)
        return accelerator, np.random.SeedSequence(seed).generate_state(4)

    def _prepare(
        self, X: Any, texts: Sequence[str] | None
    ) -> tuple[np.ndarray, list[str] | None, np.ndarray]:
        """Validate X, fit descriptors and tokenizer, make the layout and features."""
        self._validate_params()
        self._check_backbone()
        series = stack_timeseries(X, owner=type(self).__name__)
        if series.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 subjects. Got {series.shape[0]}."
            )
        descriptor_texts = self._fit_descriptors(series)
        if texts is not None:
            from brainlm_decode.text.chunking import check_texts

            texts = check_texts(texts, name="texts")
            if len(texts) != series.shape[0]:
                raise ValueError(
                    f"The 'texts' argument of {type(self).__name__} must hold one text "
                    f"per subject ({series.shape[0]}). Got {len(texts)}."
                )
            descriptor_texts = [
                " ".join(p).strip()
                for p in zip(descriptor_texts or [""] * len(texts), texts, strict=True)
            ]
        if not (self.warm_start and hasattr(self, "model_")):
            self._fit_tokenizer(series, descriptor_texts)
            self.n_features_in_ = int(series.shape[2])
            self.layout_ = make_layout(
                self.token_layout,
                self.n_features_in_,
                int(self.tokenizer_.n_patches_),
                networks=self._networks(),
                n_token_groups=self.n_token_groups,
            )
        features = self._token_features(series)
        return series, descriptor_texts, features

    def _train(
        self,
        units: Any,
        collate: Any,
        *,
        n_epochs: int,
        accelerator: Any,
        seed: int,
        desc: str,
        on_epoch_end: Any = None,
    ) -> dict[str, list[float]]:
        from brainlm_decode.lm.train import train_lm

        return train_lm(
            self.model_,
            units,
            lambda batch: collate([ex for unit in batch for ex in unit]),
            n_epochs=n_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            min_learning_rate=self.min_learning_rate,
            weight_decay=self.weight_decay,
            max_grad_norm=self.max_grad_norm,
            accelerator=accelerator,
            seed=seed,
            verbose=self.verbose,
            desc=desc,
            on_epoch_end=on_epoch_end,
        )

    def _stage2(
        self,
        series: np.ndarray,
        features: np.ndarray,
        texts: list[str] | None,
        accelerator: Any,
        seeds: np.ndarray,
        n_epochs: int,
    ) -> dict[str, list[float]]:
        """Stage 2 alignment: F2F + F2T + T2T (see :mod:`brainlm_decode.lm.pretrain`)."""
        from brainlm_decode.lm.pretrain import (
            layout_codes,
            next_patch_targets,
            stage2_examples,
        )

        weights = {
            "f2f": self.f2f_weight,
            "f2t": self.f2t_weight,
            "t2t": self.t2t_weight,
        }
        if self.layout_.n_patches < 2 and weights["f2f"] > 0:
            warnings.warn(
                f"{type(self).__name__}: F2F needs at least 2 temporal patches per "
                f"token group; token_layout={self.token_layout!r} has "
                f"{self.layout_.n_patches}. The F2F term is skipped.",
                UserWarning,
                stacklevel=3,
            )
            weights["f2f"] = 0.0
        corpus = list(texts or []) + list(self.text_corpus or [])
        if not (
            weights["f2f"] > 0
            or (texts and weights["f2t"] > 0)
            or (corpus and weights["t2t"] > 0)
        ):
            warnings.warn(
                f"{type(self).__name__}: Stage 2 has no term to train (no F2F, and "
                "no descriptor texts or corpus for F2T / T2T); it is skipped.",
                UserWarning,
                stacklevel=3,
            )
            return {}
        targets = next_patch_targets(
            layout_codes(self.tokenizer_, series, features, self.layout_)
        )
        self.model_.fmri_head.requires_grad_(weights["f2f"] > 0)
        collator = self._collator({"f2t": weights["f2t"], "t2t": weights["t2t"]})

        def collate(examples: Sequence[Example]) -> dict[str, Any]:
            return collator(examples, features, targets, weights["f2f"])

        def units(epoch: int) -> list[list[Example]]:
            rng = np.random.RandomState((int(seeds[2]) + epoch) % 2**32)
            return stage2_examples(texts, corpus, series.shape[0], rng, weights=weights)

        return self._train(
            units,
            collate,
            n_epochs=n_epochs,
            accelerator=accelerator,
            seed=int(seeds[1]),
            desc="fMRI-LM stage 2",
        )

    def pretrain(
        self,
        X: Any,
        texts: Sequence[str] | None = None,
        *,
        n_epochs: int | None = None,
    ) -> FMRILMBase:
        """Stage 2 alignment alone (F2F, F2T, T2T) on unlabelled subjects.

        Builds the model from the backbone (or continues a fitted one with
        ``warm_start=True``). A later ``fit`` with ``warm_start=True`` then
        instruction-tunes from these weights (few-shot adaptation), and
        :meth:`predict_proba` with a ``question`` and ``answers`` predicts a
        target zero-shot.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        texts : sequence of str or None, default=None
            Extra text per subject, appended to its descriptor text (F2T target
            and T2T corpus).
        n_epochs : int or None, default=None
            Stage 2 epochs; ``None`` uses ``pretrain_epochs`` (or 1 when it is 0).

        Returns
        -------
        self
        """
        series, texts_, features = self._prepare(X, texts)
        accelerator, seeds = self._accelerator()
        from brainlm_decode.training.runtime import device_context, seeded_torch

        with (
            device_context(self.device, accelerator),
            seeded_torch(int(seeds[3]), accelerator.device),
        ):
            if not (self.warm_start and hasattr(self, "model_")):
                self._setup_model(accelerator, int(seeds[0]))
            epochs = n_epochs if n_epochs is not None else max(self.pretrain_epochs, 1)
            history = self._stage2(series, features, texts_, accelerator, seeds, epochs)
        self.history_ = {"pretrain": history}
        if not hasattr(self, "targets_"):
            self.targets_ = []
            self.attribute_columns_ = None
        return self

    # -- scoring ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_is_fitted(self, "model_")

    def _answer_log_probs(
        self,
        features: np.ndarray,
        contexts: list[str] | None,
        question: str,
        answers: Sequence[str],
    ) -> np.ndarray:
        """Log-probability (sum or mean over tokens) of each answer per subject."""
        import torch

        collator = self._collator()
        prompt = format_question(question)
        n, k = features.shape[0], len(answers)
        device = next(self.model_.parameters()).device
        scores = np.zeros((n, k))
        self.model_.eval()
        for start in range(0, n, self.batch_size):
            subjects = range(start, min(start + self.batch_size, n))
            examples = [
                Example(i, (contexts[i] + " " if contexts else "") + prompt, a)
                for i in subjects
                for a in answers
            ]
            batch = collator(
                [Example(j, e.prompt, e.target) for j, e in enumerate(examples)],
                features[[e.subject for e in examples]],
            )
            batch = {key: v.to(device) for key, v in batch.items()}
            with torch.no_grad():
                totals, counts = self.model_.sequence_log_probs(batch)
            values = totals.cpu().numpy()
            if self.answer_scoring == "mean":
                values = values / np.maximum(counts.cpu().numpy(), 1)
            scores[start : start + len(subjects)] = values.reshape(-1, k)
        return scores

    def embed(
        self, X: Any, *, question: str | None = None, attributes: Any = None
    ) -> np.ndarray:
        """Pooled hidden states: mean over the fMRI tokens and the last prompt token.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        question : str or None, default=None
            Question after the fMRI tokens (default: the open-ended description).
        attributes : DataFrame or None, default=None
            Subject attributes rendered as context (as in ``fit``).

        Returns
        -------
        ndarray of shape (n_subjects, 2 * hidden_size), float32
        """
        import torch

        from brainlm_decode.lm.prompts import OPEN_QUESTIONS

        self._check_fitted()
        series = stack_timeseries(X, owner=type(self).__name__)
        features = self._token_features(series)
        contexts = self._contexts(series, attributes)
        prompt = format_question(question or OPEN_QUESTIONS[0])
        collator = self._collator()
        device = next(self.model_.parameters()).device
        out = []
        for start in range(0, len(series), self.batch_size):
            idx = list(range(start, min(start + self.batch_size, len(series))))
            examples = [
                Example(j, (contexts[i] + " " if contexts else "") + prompt, "")
                for j, i in enumerate(idx)
            ]
            batch = collator(examples, features[idx])
            batch = {key: v.to(device) for key, v in batch.items()}
            with torch.no_grad():
                hidden = self.model_.hidden_states(batch).float()
            t0 = int(batch["fmri_start"][0])
            fmri = hidden[:, t0 : t0 + self.layout_.n_tokens].mean(dim=1)
            last = (batch["blocks"] < 2**40).sum(1) - 1
            final = hidden[torch.arange(len(idx)), last]
            out.append(torch.cat([fmri, final], dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def save_adapter(self, path: str | os.PathLike, *, overwrite: bool = False) -> Any:
        """Save what training changed: the LoRA adapter (or the whole LM with
        ``lora=False``), the fMRI input module and head, the targets, and the
        probes of ``head="probe"`` (which read the LM as Stage 2 left it).

        The tokenizer and descriptors are saved by their own ``save`` methods;
        the backbone's weights are not copied. Written atomically.

        Parameters
        ----------
        path : str or path-like
            Destination folder.
        overwrite : bool, default=False
            Replace an existing saved adapter.

        Returns
        -------
        pathlib.Path
        """
        from brainlm_decode.lm.serialization import save_adapter

        return save_adapter(self, path, overwrite=overwrite)

    def load_adapter(self, path: str | os.PathLike) -> FMRILMBase:
        """Load an adapter saved by :meth:`save_adapter` into this estimator.

        The ``tokenizer`` parameter must be the fitted tokenizer the adapter was
        trained with (same ROIs, patches and codebook), and ``descriptors`` the
        fitted descriptors when ``descriptor_context`` is on; the backbone is
        loaded from ``backbone``.

        Parameters
        ----------
        path : str or path-like
            Folder written by :meth:`save_adapter`.

        Returns
        -------
        self
            Fitted: predicts as the estimator that saved the adapter.
        """
        from brainlm_decode.lm.serialization import load_adapter

        return load_adapter(self, path)

    def _restore_layout(self, layout: TokenLayout) -> None:
        self.layout_ = layout
        self.n_features_in_ = int(layout.n_rois)
