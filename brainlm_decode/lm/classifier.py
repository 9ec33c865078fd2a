"""FMRILMClassifier and FMRILMRegressor: fMRI-LM Stages 2-3 as sklearn estimators.

A pretrained causal LM (Gemma-3-270M by default, any Hugging Face causal LM
through the ``hf`` backbone) reads the fMRI tokenizer's features as input
embeddings between text segments, is aligned to them (Stage 2: F2F, F2T, T2T)
and instruction-tuned with LoRA (Stage 3) on questions about the subjects.
Predictions score each allowed answer by its log-probability, so
``predict_proba`` gives real probabilities (and AUCs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, RegressorMixin

from brainlm_decode.base import Interval, Options, Satisfies, fill_doc
from brainlm_decode.lm.core import FMRILMBase
from brainlm_decode.lm.instruction import PARADIGMS
from brainlm_decode.lm.prompts import questions_for
from brainlm_decode.lm.targets import (
    BIN_WORDS,
    TargetsMixin,
    check_targets,
    ordinal_bins,
)
from brainlm_decode.timeseries.checks import stack_timeseries
from brainlm_decode.timeseries.tr import check_t_r, fitted_t_r

__all__ = ["FMRILMClassifier", "FMRILMRegressor", "ordinal_bins"]


_SHARED_DOC = """
    Parameters
    ----------
    tokenizer : FMRITokenizer or None, default=None
        Stage 1 tokenizer. A fitted one is used as is (its ROI count must match
        X); an unfitted one is fitted on the training X inside ``fit`` (with the
        descriptor texts). ``None`` fits ``FMRITokenizer(backbone=backbone)``
        with its paper defaults. To keep a fitted tokenizer through ``clone``
        (``cross_val_score``), wrap it in :class:`sklearn.frozen.FrozenEstimator`.
    descriptors : FMRIDescriptorTransformer or None, default=None
        Fitted on the training X only; its texts (``to_text``) are the F2T
        targets and T2T corpus of Stage 2, the tokenizer's SigLIP texts, and
        the prompt context with ``descriptor_context=True``. Its ``networks``
        serve the ``"network"`` layout.
    backbone : str or backbone, default="gemma-3-270m"
        ``brainlm_decode.backbones`` plugin: ``"gemma-3-270m"`` (offline,
        extra ``llm``), ``"hf"`` (GPT-2) or an instance such as
        ``HFBackbone("Qwen/Qwen3-0.6B")``.
    token_layout : {"network", "parcel_groups", "roi", "patch"}, default="network"
        fMRI tokens the LM reads (see :mod:`brainlm_decode.lm.fmri_input`):
        pooled per network x patch (CPU default), per contiguous ROI group x
        patch, one per ROI (the paper's patch-160), or every ROI x patch (the
        paper's patch-32; GPU).
    networks : str, list of str or None, default=None
        Network of each ROI for ``"network"``, or a packaged table name such as
        ``"cc200"`` (default: ``descriptors.networks``).
    n_token_groups : int, default=8
        Groups of the ``"parcel_groups"`` layout.
    block_causal : bool, default=True
        Block-causal attention over time within the fMRI tokens (all ROIs of
        patches up to ``t`` visible from patch ``t``); ``False`` is plain causal.
    lora : bool, default=True
        LoRA adapters through peft; ``False`` fine-tunes the whole LM.
    lora_r, lora_alpha, lora_target_modules : optional
        LoRA rank, alpha and layers; ``None`` takes the paper's values for the
        backbone family (GPT-2 16/32 on c_attn, c_proj; Qwen, Gemma 8/16 on
        q, k, v, o projections).
    lora_dropout : float, default=0.05
        Dropout of the LoRA branch.
    pretrain_epochs : int, default=0
        Stage 2 epochs run at the start of ``fit`` (also :meth:`pretrain`).
    f2f_weight, f2t_weight, t2t_weight : float, default=1.0, 1.0, 0.5
        Weights of the Stage 2 terms.
    text_corpus : list of str or None, default=None
        Extra texts for T2T.
    max_text_tokens : int, default=128
        Descriptor texts are cut to this many tokens as F2T/T2T targets.
    n_epochs : int, default=%(n_epochs)s
        Stage 3 epochs (0 skips instruction tuning).
    learning_rate, min_learning_rate : float, default=5e-4, 5e-5
        AdamW learning rate, cosine-decayed to the minimum (fMRI-LM).
    weight_decay : float, default=0.0
        AdamW weight decay of weight matrices.
    max_grad_norm : float or None, default=1.0
        Gradient clipping.
    paradigms : tuple of {"single", "multi", "open"}
        Default: all three for the classifier, ``("single",)`` for the regressor.
        Instruction paradigms sampled per example: single question, several
        questions answered with ``|`` (needs two targets), open-ended
        structured description.
    answers : dict or None, default=None
        ``{target: {label: answer text}}``; default words otherwise
        (``"M"`` -> ``"male"``, other labels as text).
    descriptor_context : bool, default=False
        Put the descriptor text before the question (long prompts).
    answer_scoring : {"sum", "mean"}, default="sum"
        Score of an answer: sum of its tokens' log-probabilities (the sequence
        probability, end token included) or their mean.
    class_weight : {"balanced"} or None, default=%(class_weight)s
        ``"balanced"`` weighs each Stage 3 example's answer loss by
        ``n_subjects / (n_classes * n_subjects_of_its_class)`` (the mean over
        the targets it asks about), as scikit-learn's ``class_weight``, so that
        a rare class (e.g. 8 women of 56) is not answered away by the majority
        (and balances the probe's logistic regression). ``None``: every example
        weighs 1 (fMRI-LM; on ABIDE PITT it answered "male" for everyone).
    warm_start : bool, default=False
        Continue from the current model (after :meth:`pretrain` or a previous
        fit, same tokenizer and layout): few-shot adaptation.
    %(device)s
    batch_size : int, default=8
        Subjects per optimiser step and per inference batch.
    %(random_state)s
        It also seeds an unfitted ``tokenizer`` or ``descriptors`` left at
        ``random_state=None`` (as scikit-learn ensembles seed their members; an
        explicit seed of theirs wins), so a seeded classifier is reproducible
        as a whole.
    %(verbose)s
"""


def _shared_init(self: Any, params: dict[str, Any]) -> None:
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(self, name, value)


class FMRILMClassifier(TargetsMixin, ClassifierMixin, FMRILMBase):
    """Predict phenotypes from resting-state fMRI with a language model (fMRI-LM).

    ``fit(X, y)``: fits the descriptors and the tokenizer on the training
    subjects when needed, loads the causal LM, adds LoRA adapters, an fMRI
    input module and an fMRI head, runs Stage 2 alignment (``pretrain_epochs``)
    and Stage 3 instruction tuning on paraphrased questions about the targets.
    ``predict_proba`` scores each allowed answer by its log-probability after
    the prompt and normalises over the answers (no free-text parsing).

    With ``head="probe"`` (the default) the LM stays frozen: no Stage 3; a
    logistic regression per target reads the pooled hidden states
    (:meth:`embed`), which on small cohorts is both better and far more stable
    than LoRA instruction tuning (measured in docs/evaluation.rst).
    %(shared)s
    head : {"probe", "answer"}, default="probe"
        ``"probe"``: frozen backbone (LoRA and ``n_epochs`` unused), logistic
        probe on the pooled hidden states of the fMRI tokens and the last
        prompt token (the descriptor text joins the prompt with
        ``descriptor_context=True``); Stage 2 still runs with
        ``pretrain_epochs``. ``"answer"``: Stage 3 instruction tuning (LoRA or
        full) and answers scored by log-probability (fMRI-LM).
    probe_C : float or None, default=None
        Inverse L2 penalty of the probe; ``None`` chooses it among
        ``(1e-4, ..., 1)`` by inner 3-fold cross-validation (log-loss).
    validation_fraction : float or None, default=None
        ``head="answer"``: hold out this fraction of the training subjects
        (stratified on the first target), score the class-balanced answer
        log-loss after each Stage 3 epoch and keep the best epoch's weights
        (early stopping); ``None`` trains ``n_epochs``.
    n_iter_no_change : int, default=3
        Epochs without validation improvement before stopping.
    t_r : float or None, default=None
        TR of the series in seconds (after preprocessing); the ``t_r``
        argument of ``fit`` overrides it. Remembered as ``t_r_``; a different
        ``t_r`` passed at prediction warns.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Classes of the target (a list, one per target, for several targets).
    targets_ : list of str
        Target names (columns of y).
    answers_ : dict of str to list of str
        Answer text of each class, per target.
    tokenizer_ : FMRITokenizer
        The fitted tokenizer used.
    descriptors_ : FMRIDescriptorTransformer or None
        The fitted descriptors.
    layout_ : TokenLayout
        fMRI token layout (``layout_.n_tokens`` tokens per scan).
    model_ : FMRILanguageModel
        LM + LoRA + fMRI input module + fMRI head.
    lm_tokenizer_ : transformers tokenizer
        The backbone's tokenizer.
    history_ : dict
        ``"pretrain"`` and ``"instruction"`` per-epoch losses and timings
        (with ``validation_loss`` and ``best_epoch`` under early stopping).
    probes_ : dict of str to Pipeline
        ``head="probe"``: StandardScaler + logistic regression per target.
    t_r_ : float or None
        TR of the training series.
    n_features_in_ : int
        Number of ROIs.

    See Also
    --------
    FMRILMRegressor : continuous targets (ridge probe + ordinal bins).
    brainlm_decode.FMRITokenizer : Stage 1.

    Examples
    --------
    Not run in the doctests: it needs a cohort's series and the backbone weights.

    >>> from brainlm_decode import FMRILMClassifier
    >>> clf = FMRILMClassifier(token_layout="network", n_epochs=5)  # doctest: +SKIP
    >>> clf.fit(train_series, phenotypes["diagnosis"])  # doctest: +SKIP
    >>> clf.predict_proba(test_series)[:, 1]  # doctest: +SKIP
    """

    def __init__(
        self,
        tokenizer: Any = None,
        descriptors: Any = None,
        backbone: Any = "gemma-3-270m",
        *,
        token_layout: str = "network",
        networks: Sequence[str] | None = None,
        n_token_groups: int = 8,
        block_causal: bool = True,
        lora: bool = True,
        lora_r: int | None = None,
        lora_alpha: float | None = None,
        lora_target_modules: Sequence[str] | None = None,
        lora_dropout: float = 0.05,
        pretrain_epochs: int = 0,
        f2f_weight: float = 1.0,
        f2t_weight: float = 1.0,
        t2t_weight: float = 0.5,
        text_corpus: Sequence[str] | None = None,
        max_text_tokens: int = 128,
        n_epochs: int = 10,
        learning_rate: float = 5e-4,
        min_learning_rate: float = 5e-5,
        weight_decay: float = 0.0,
        max_grad_norm: float | None = 1.0,
        paradigms: Sequence[str] = PARADIGMS,
        answers: dict[str, Any] | None = None,
        descriptor_context: bool = False,
        answer_scoring: str = "sum",
        class_weight: str | None = "balanced",
        warm_start: bool = False,
        head: str = "probe",
        probe_C: float | None = None,
        validation_fraction: float | None = None,
        n_iter_no_change: int = 3,
        t_r: float | None = None,
        device: Any = "auto",
        batch_size: int = 8,
        random_state: Any = None,
        verbose: int = 1,
    ) -> None:
        _shared_init(self, locals())

    _parameter_constraints: dict[str, list[Any]] = {
        "head": [Options("probe", "answer")],
        "probe_C": [None, Interval(float, 0, None, closed="neither")],
        "validation_fraction": [None, Interval(float, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(int, 1, None)],
        "t_r": [None, Interval(float, 0, None, closed="neither")],
    }

    def _label_frame(self, y: Any) -> pd.DataFrame:
        n = len(y)
        frame = check_targets(y, n, type(self).__name__)
        if len(self.targets_) == 1 and frame.shape[1] == 1:
            frame.columns = list(self.targets_)
        return frame

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        texts: Sequence[str] | None = None,
        attributes: Any = None,
        t_r: float | None = None,
    ) -> FMRILMClassifier:
        """Fit the chain on labelled subjects (Stage 2 when asked, then Stage 3).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series (e.g. from ROITimeSeriesPreprocessor).
        y : array-like of shape (n_subjects,) or DataFrame
            One target, or one column per target (sex, age group, diagnosis...).
        texts : sequence of str or None, default=None
            Extra text per subject for Stage 2 (appended to descriptor texts).
        attributes : DataFrame or None, default=None
            Subject attributes (age, sex...) rendered as semantic text before the
            question; needed again at prediction. Must not hold a target.
        t_r : float or None, default=None
            TR of X in seconds (overrides the ``t_r`` parameter; scikit-learn
            metadata, routable with ``set_fit_request(t_r=True)``).

        Returns
        -------
        self
        """
        from brainlm_decode.lm.probe import fit_probes

        self._validate_params()
        self.t_r_ = fitted_t_r(type(self).__name__, t_r, self.t_r)
        X = stack_timeseries(X, owner=type(self).__name__)
        frame = check_targets(y, len(X), type(self).__name__)
        self._fit_frame(X, frame, texts, attributes)
        if self.head == "probe":
            self._log("fitting the probe(s) on pooled hidden states")
            self.probes_ = fit_probes(self, X, frame, attributes)
        classes = [self.classes_per_target_[t] for t in self.targets_]
        self.classes_ = classes[0] if len(classes) == 1 else classes
        return self

    def predict_proba(
        self,
        X: Any,
        *,
        target: str | None = None,
        question: str | None = None,
        answers: Sequence[str] | None = None,
        attributes: Any = None,
        t_r: float | None = None,
    ) -> Any:
        """Probability of each class, from the log-probability of its answer.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        target : str or None, default=None
            One of ``targets_`` (default: all).
        question : str or None, default=None
            Zero-shot: a question about any target, with ``answers``.
        answers : sequence of str or None, default=None
            Zero-shot: the allowed answers; columns of the result in this order.
        attributes : DataFrame or None, default=None
            Subject attributes when fitted with them.
        t_r : float or None, default=None
            TR of X (scikit-learn metadata); a warning when it differs from the
            training TR ``t_r_``.

        Returns
        -------
        ndarray of shape (n_subjects, n_classes) or list of such arrays
            A list (one array per target) for several targets.
        """
        from brainlm_decode.lm.probe import probe_proba

        self._check_fitted()
        check_t_r(type(self).__name__, getattr(self, "t_r_", None), t_r)
        if getattr(self, "probes_", None) and question is None and answers is None:
            names = self._names(target)
            probas = [probe_proba(self, X, n, attributes) for n in names]
            return probas[0] if len(names) == 1 else probas
        features, contexts = self._inputs(X, attributes)
        if question is not None or answers is not None:
            return self._zero_shot(features, contexts, question, answers)
        names = self._names(target)
        probas = [self._target_proba(features, contexts, n) for n in names]
        return probas[0] if len(names) == 1 else probas

    def predict(
        self,
        X: Any,
        *,
        target: str | None = None,
        attributes: Any = None,
        t_r: float | None = None,
    ) -> np.ndarray:
        """Most probable class per subject (and target).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        target : str or None, default=None
            One of ``targets_`` (default: all).
        attributes : DataFrame or None, default=None
            Subject attributes when fitted with them.

        t_r : float or None, default=None
            TR of X; a warning when it differs from ``t_r_``.

        Returns
        -------
        ndarray of shape (n_subjects,) or (n_subjects, n_targets)
        """
        names = self._names(target)
        probas = self.predict_proba(X, target=target, attributes=attributes, t_r=t_r)
        probas = probas if isinstance(probas, list) else [probas]
        columns = [
            self.classes_per_target_[n][p.argmax(axis=1)]
            for n, p in zip(names, probas, strict=True)
        ]
        return columns[0] if len(columns) == 1 else np.column_stack(columns)

    def score(
        self, X: Any, y: Any, sample_weight: Any = None, *, attributes: Any = None
    ) -> float:
        """Accuracy (mean over targets for several targets).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        y : array-like or DataFrame
            True labels; labels unseen in fit raise a ValueError.
        sample_weight : array-like or None, default=None
            Weights of the subjects.
        attributes : DataFrame or None, default=None
            Subject attributes when fitted with them.

        Returns
        -------
        float
        """
        from sklearn.metrics import accuracy_score

        self._check_fitted()
        frame = self._label_frame(y)
        self._check_labels(frame)
        pred = self.predict(X, attributes=attributes)
        pred = pred.reshape(len(frame), -1)
        return float(
            np.mean(
                [
                    accuracy_score(
                        frame[n].to_numpy(), pred[:, j], sample_weight=sample_weight
                    )
                    for j, n in enumerate(self.targets_)
                ]
            )
        )


def _document(cls: type, class_weight: str = "None") -> type:
    """Insert the shared parameter list, then the shared fragments."""
    shared = _SHARED_DOC.replace("%(n_epochs)s", "10")
    shared = shared.replace("%(class_weight)s", class_weight)
    cls.__doc__ = cls.__doc__.replace("%(shared)s", shared.rstrip("\n "))
    fill_doc(cls)
    if cls.__init__.__kwdefaults__["verbose"] == 1:
        cls.__doc__ = cls.__doc__.replace(
            "verbose : int, default=0", "verbose : int, default=1"
        )
    return cls


_document(FMRILMClassifier, class_weight='"balanced"')


class FMRILMRegressor(TargetsMixin, RegressorMixin, FMRILMBase):
    """Continuous phenotypes from fMRI-LM: ordinal bins + a ridge probe.

    ``fit`` cuts the target into ``n_bins`` quantile bins (``"low"``,
    ``"medium"``, ``"high"``...), instruction-tunes the LM on them like
    :class:`FMRILMClassifier` (``n_epochs=0`` skips it: a probe of the frozen
    or Stage 2 model), then fits a ridge regression (cross-validated alpha) on
    the pooled hidden states (:meth:`embed`) of the training subjects.
    %(shared)s
    n_bins : int, default=3
        Ordinal bins of the instruction target.
    alphas : tuple of float, default=(0.1, 1, 10, 100, 1000)
        Ridge penalties tried by :class:`sklearn.linear_model.RidgeCV`.

    Attributes
    ----------
    bin_edges_ : ndarray
        Inner quantile edges of the bins.
    probe_ : Pipeline
        StandardScaler + RidgeCV on the pooled hidden states.
    model_, tokenizer_, layout_, history_ : see FMRILMClassifier
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "n_bins": [Interval(int, 2, None)],
        "alphas": [Satisfies(lambda a: len(a) > 0, "a non-empty list of floats")],
    }

    def __init__(
        self,
        tokenizer: Any = None,
        descriptors: Any = None,
        backbone: Any = "gemma-3-270m",
        *,
        token_layout: str = "network",
        networks: Sequence[str] | None = None,
        n_token_groups: int = 8,
        block_causal: bool = True,
        lora: bool = True,
        lora_r: int | None = None,
        lora_alpha: float | None = None,
        lora_target_modules: Sequence[str] | None = None,
        lora_dropout: float = 0.05,
        pretrain_epochs: int = 0,
        f2f_weight: float = 1.0,
        f2t_weight: float = 1.0,
        t2t_weight: float = 0.5,
        text_corpus: Sequence[str] | None = None,
        max_text_tokens: int = 128,
        n_epochs: int = 10,
        learning_rate: float = 5e-4,
        min_learning_rate: float = 5e-5,
        weight_decay: float = 0.0,
        max_grad_norm: float | None = 1.0,
        paradigms: Sequence[str] = ("single",),
        answers: dict[str, Any] | None = None,
        descriptor_context: bool = False,
        answer_scoring: str = "sum",
        class_weight: str | None = None,
        warm_start: bool = False,
        n_bins: int = 3,
        alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0),
        device: Any = "auto",
        batch_size: int = 8,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        _shared_init(self, locals())

    def _label_frame(self, y: Any) -> pd.DataFrame:
        return check_targets(y, len(y), type(self).__name__)

    def _bin_frame(self, y: np.ndarray) -> pd.DataFrame:
        words = BIN_WORDS.get(self.n_bins) or tuple(
            f"bin {k + 1}" for k in range(self.n_bins)
        )
        index = np.digitize(y, self.bin_edges_)
        return pd.DataFrame({self.target_name_: [words[i] for i in index]})

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        texts: Sequence[str] | None = None,
        attributes: Any = None,
    ) -> FMRILMRegressor:
        """Instruction-tune on ordinal bins of y, then fit the ridge probe.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        y : array-like of shape (n_subjects,)
            Continuous target (age, IQ...).
        texts : sequence of str or None, default=None
            Extra text per subject for Stage 2.
        attributes : DataFrame or None, default=None
            Subject attributes rendered as context.

        Returns
        -------
        self
        """
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self._validate_params()
        X = stack_timeseries(X, owner=type(self).__name__)
        frame = check_targets(y, len(X), type(self).__name__)
        if frame.shape[1] != 1:
            raise ValueError(
                f"The 'y' argument of {type(self).__name__} must be one continuous "
                f"target (1D). Got {frame.shape[1]} columns: {list(frame.columns)}."
            )
        values = pd.to_numeric(frame.iloc[:, 0], errors="raise").to_numpy(float)
        self.target_name_ = str(getattr(y, "name", None) or "score")
        self.bin_edges_ = ordinal_bins(values, self.n_bins)
        self._fit_frame(X, self._bin_frame(values), texts, attributes)
        embedded = self.embed(
            X, question=questions_for(self.target_name_)[0], attributes=attributes
        )
        self.probe_ = make_pipeline(StandardScaler(), RidgeCV(alphas=list(self.alphas)))
        self.probe_.fit(embedded, values)
        return self

    def predict(self, X: Any, *, attributes: Any = None) -> np.ndarray:
        """Ridge prediction from the pooled hidden states.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        attributes : DataFrame or None, default=None
            Subject attributes when fitted with them.

        Returns
        -------
        ndarray of shape (n_subjects,)
        """
        self._check_fitted()
        embedded = self.embed(
            X, question=questions_for(self.target_name_)[0], attributes=attributes
        )
        return self.probe_.predict(embedded)

    def predict_bins(self, X: Any, *, attributes: Any = None) -> np.ndarray:
        """Most probable ordinal bin (answer scoring, like the classifier).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        attributes : DataFrame or None, default=None
            Subject attributes when fitted with them.

        Returns
        -------
        ndarray of str of shape (n_subjects,)
        """
        features, contexts = self._inputs(X, attributes)
        name = self.target_name_
        proba = self._target_proba(features, contexts, name)
        return self.classes_per_target_[name][proba.argmax(axis=1)]


_document(FMRILMRegressor)
