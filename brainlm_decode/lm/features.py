"""Frozen fMRI-LM features: a stateless transformer for cohort-scale evaluation.

:class:`FMRILMFeatures` turns ROI time series into the pooled hidden states of
a frozen language model reading fMRI tokens (the representation that
:class:`~brainlm_decode.FMRILMClassifier` ``head="probe"`` feeds its logistic
probe), with a tokenizer that is **already fitted** (e.g. pretrained on
unlabelled HCP rest series, :meth:`FMRITokenizer.from_pretrained
<brainlm_decode.FMRITokenizer.from_pretrained>`). Nothing in ``fit`` depends
on the values of the training series or on labels: ``fit`` only checks the
number of ROIs and loads the (frozen, seeded) model; a subject's features are
a function of that subject's series alone. So the features of a whole cohort
can be computed once, and a linear model fitted per fold on them gives the
same result as fitting the whole pipeline per fold, at the cost of one LM pass
per subject instead of one per subject and fold.

Atlas independence: with ``networks`` (the network of each ROI, or a packaged
table name such as ``"cc200"``), the ROI series are first averaged into the
network channels (:data:`NETWORK_CHANNELS`: the seven Yeo-2011 networks and the
subcortex) and z-scored over time (:func:`network_series`), so a tokenizer
pretrained on one atlas (HCP's AAL2) reads another (ABIDE's CC200).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import BaseBrainLMEstimator, Options, Satisfies
from brainlm_decode.datasets.networks import SUBCORTEX_NETWORK, YEO7_NETWORKS
from brainlm_decode.timeseries.checks import stack_timeseries

__all__ = ["NETWORK_CHANNELS", "FMRILMFeatures", "network_series"]

#: Channels of :func:`network_series`: the Yeo-2011 7 networks, then subcortex.
NETWORK_CHANNELS = (*YEO7_NETWORKS, SUBCORTEX_NETWORK)


def network_series(
    X: Any,
    networks: Any,
    *,
    channels: Sequence[str] = NETWORK_CHANNELS,
    standardize: bool = True,
) -> np.ndarray:
    """Average ROI time series into network channels.

    Parameters
    ----------
    X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
        ROI time series (one length for all subjects).
    networks : str or sequence of str
        Network of each ROI, or a packaged table name (``"cc200"``, ``"ho"``,
        ``"aal2"``...; see :func:`~brainlm_decode.datasets.load_network_labels`).
        ROIs of networks not in ``channels`` (``Cerebellum``, ``Unassigned``)
        are left out.
    channels : sequence of str, default=NETWORK_CHANNELS
        Output channels, in order; each must have at least one ROI.
    standardize : bool, default=True
        z-score each channel over time, per subject (a flat channel becomes
        zeros). Per subject only: nothing is learned across subjects.

    Returns
    -------
    ndarray of shape (n_subjects, n_timepoints, n_channels), float32

    Raises
    ------
    ValueError
        If ``networks`` does not have one entry per ROI, or a channel has no ROI.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12, dtype=float).reshape(1, 3, 4)
    >>> network_series(X, ["A", "A", "B", "C"], channels=["A", "B"],
    ...                standardize=False)[0]
    array([[ 0.5,  2. ],
           [ 4.5,  6. ],
           [ 8.5, 10. ]], dtype=float32)
    """
    from brainlm_decode.datasets.networks import resolve_networks

    series = stack_timeseries(X, owner="network_series", dtype=np.float64)
    names = np.asarray([str(n) for n in resolve_networks(networks)])
    if names.size != series.shape[2]:
        raise ValueError(
            f"The 'networks' argument of network_series must name the network of "
            f"each of the {series.shape[2]} ROIs. Got {names.size} names."
        )
    empty = [c for c in channels if not np.any(names == c)]
    if empty:
        raise ValueError(
            f"network_series: no ROI of the networks {empty}; the channels must "
            f"each have at least one ROI (networks present: {sorted(set(names))})."
        )
    out = np.stack([series[:, :, names == c].mean(axis=2) for c in channels], axis=2)
    if standardize:
        out = out - out.mean(axis=1, keepdims=True)
        sd = out.std(axis=1, keepdims=True)
        out = np.divide(out, sd, out=np.zeros_like(out), where=sd > 1e-12)
    return out.astype(np.float32)


def _is_tokenizer(value: Any) -> bool:
    return isinstance(value, str) or hasattr(value, "encode")


class FMRILMFeatures(TransformerMixin, BaseBrainLMEstimator):
    """Pooled hidden states of a frozen fMRI-LM, per subject (stateless).

    The series (averaged into network channels when ``networks`` is given) go
    through a fitted tokenizer; its continuous features, pooled by the token
    layout and projected by the seeded input module, are read by the frozen
    language model after an optional text context and before ``question``.
    The output is the mean hidden state of the fMRI tokens concatenated with
    the hidden state of the last prompt token (as
    :meth:`FMRILMClassifier.embed <brainlm_decode.FMRILMClassifier.embed>`).

    ``fit`` learns nothing from the data: it checks the ROI count and loads
    the model; a subject's features depend on its own series only (and on
    ``descriptors`` when given fitted). Features of a cohort can therefore be
    computed once, outside cross-validation, without leaking held-out
    information (see :mod:`brainlm_decode.lm.features`).

    Parameters
    ----------
    tokenizer : str, FMRITokenizer or FrozenEstimator, default="hcp-rest-networks"
        The name of a pretrained tokenizer shipped with the package
        (:func:`~brainlm_decode.tokenizer.pretrained.available_pretrained_tokenizers`),
        the folder of one saved by :meth:`FMRITokenizer.save
        <brainlm_decode.FMRITokenizer.save>`, or a fitted tokenizer (wrap it in
        :class:`sklearn.frozen.FrozenEstimator` to keep it through ``clone``,
        e.g. inside cross-validation). An unfitted tokenizer is an error (it
        would learn from X).
    backbone : str or backbone, default="gemma-3-270m"
        ``brainlm_decode.backbones`` plugin name or instance (frozen).
    networks : str, sequence of str or None, default=None
        Network of each ROI of X (or a packaged table name): the series are
        averaged into ``channels`` first (:func:`network_series`). ``None``:
        X goes to the tokenizer as is (its columns must match the tokenizer's).
    channels : sequence of str, default=NETWORK_CHANNELS
        Network channels of the pooling, in the tokenizer's column order.
    token_layout : {"patch", "roi", "network", "parcel_groups"}, default="patch"
        Tokens the LM reads (:func:`~brainlm_decode.lm.fmri_input.make_layout`):
        on network channels, ``"patch"`` gives one token per channel and
        temporal patch (8 x 5 for 160 points), ``"roi"`` one per channel.
    n_token_groups : int, default=8
        Groups of the ``"parcel_groups"`` layout.
    question : str or None, default=None
        Text after the fMRI tokens, e.g. ``questions_for("diagnosis")[0]``;
        ``None``: the open-ended description question.
    descriptors : FMRIDescriptorTransformer or None, default=None
        Its text (``to_text`` of X's ROI series) is put before the question.
        Used as is when fitted (stateless); an unfitted one is fitted on the X
        of ``fit`` (then the features depend on the subjects of ``fit``).
    block_causal : bool, default=True
        Block-causal attention over time within the fMRI tokens.
    device : str or torch.device, default="auto"
        Where the model runs.
    batch_size : int, default=8
        Subjects per forward pass.
    random_state : int, default=0
        Seed of the input module's initialisation (the only random part).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    tokenizer_ : FMRITokenizer
        The fitted tokenizer used.
    descriptors_ : FMRIDescriptorTransformer or None
        The fitted descriptors (prompt context).
    layout_ : TokenLayout
        Token layout over the tokenizer's columns.
    model_ : FMRILanguageModel
        The frozen LM with its input module.
    n_features_in_ : int
        Number of ROIs of X.
    n_features_out_ : int
        Width of the output (twice the LM width).

    See Also
    --------
    brainlm_decode.FMRILMClassifier : the same representation with a probe
        fitted inside (``head="probe"``), or LoRA instruction tuning.

    Examples
    --------
    >>> from brainlm_decode.lm.features import FMRILMFeatures
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> features = FMRILMFeatures(networks="cc200")  # doctest: +SKIP
    >>> Z = features.fit_transform(series)  # once, all subjects  # doctest: +SKIP
    >>> LogisticRegression().fit(Z[train], y[train])  # doctest: +SKIP
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "tokenizer": [Satisfies(_is_tokenizer, "a fitted FMRITokenizer or a name")],
        "backbone": [
            Satisfies(
                lambda v: isinstance(v, str) or hasattr(v, "load"),
                "a backbone plugin name or instance",
            )
        ],
        "networks": [None, Satisfies(lambda v: len(v) > 0, "network names")],
        "channels": [Satisfies(lambda v: len(v) > 0, "a non-empty list of str")],
        "token_layout": [Options("patch", "roi", "network", "parcel_groups")],
        "question": [None, str],
        "block_causal": [bool],
    }

    def __init__(
        self,
        tokenizer: Any = "hcp-rest-networks",
        backbone: Any = "gemma-3-270m",
        *,
        networks: Any = None,
        channels: Sequence[str] = NETWORK_CHANNELS,
        token_layout: str = "patch",
        n_token_groups: int = 8,
        question: str | None = None,
        descriptors: Any = None,
        block_causal: bool = True,
        device: Any = "auto",
        batch_size: int = 8,
        random_state: Any = 0,
        verbose: int = 0,
    ) -> None:
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.networks = networks
        self.channels = channels
        self.token_layout = token_layout
        self.n_token_groups = n_token_groups
        self.question = question
        self.descriptors = descriptors
        self.block_causal = block_causal
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of (n_timepoints, n_rois) arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags

    # -- helpers -----------------------------------------------------------------------
    def _load_tokenizer(self) -> Any:
        from pathlib import Path

        from sklearn.frozen import FrozenEstimator

        from brainlm_decode.lm.core import _is_fitted

        tok = self.tokenizer
        if isinstance(tok, str):
            if Path(tok).is_dir():
                from brainlm_decode.tokenizer.serialization import load_tokenizer

                return load_tokenizer(tok)
            from brainlm_decode.tokenizer.pretrained import load_pretrained_tokenizer

            return load_pretrained_tokenizer(tok)
        if isinstance(tok, FrozenEstimator):
            tok = tok.estimator
        if not _is_fitted(tok):
            raise ValueError(
                "The 'tokenizer' parameter of FMRILMFeatures must be fitted (or the "
                "name of a pretrained one): an unfitted tokenizer would be fitted on "
                "X and the features would no longer be stateless."
            )
        return tok

    def _tokenizer_input(self, series: np.ndarray) -> np.ndarray:
        if self.networks is None:
            return series
        return network_series(series, self.networks, channels=self.channels)

    # -- fit / transform ---------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> FMRILMFeatures:
        """Check X's ROI count and load the frozen model (nothing is learned).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series (only their shape is read, and the
            descriptors' fit when ``descriptors`` is unfitted).
        y : None
            Ignored.

        Returns
        -------
        self
        """
        from sklearn.base import clone

        from brainlm_decode.lm.classifier import FMRILMClassifier
        from brainlm_decode.lm.core import _is_fitted
        from brainlm_decode.lm.fmri_input import make_layout
        from brainlm_decode.training.runtime import device_context, seeded_torch

        self._validate_params()
        series = stack_timeseries(X, owner=type(self).__name__)
        self.n_features_in_ = int(series.shape[2])
        tok = self._load_tokenizer()
        width = len(self.channels) if self.networks is not None else series.shape[2]
        if self.networks is not None:
            network_series(series[:1, :2], self.networks, channels=self.channels)
        if int(tok.n_rois_) != width:
            raise ValueError(
                f"The tokenizer of FMRILMFeatures reads {tok.n_rois_} columns; X gives "
                f"{width} ({'network channels' if self.networks is not None else 'ROIs'}"
                "). Pass 'networks' to pool ROIs into the tokenizer's channels, or a "
                "tokenizer fitted on this atlas."
            )
        self.tokenizer_ = tok
        self.descriptors_ = None
        if self.descriptors is not None:
            self.descriptors_ = (
                self.descriptors
                if _is_fitted(self.descriptors)
                else clone(self.descriptors).fit(list(series))
            )
        inner = FMRILMClassifier(
            tokenizer=tok,
            backbone=self.backbone,
            token_layout=self.token_layout,
            n_token_groups=self.n_token_groups,
            block_causal=self.block_causal,
            lora=False,
            device=self.device,
            batch_size=self.batch_size,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        inner.tokenizer_ = tok
        inner.descriptors_ = None
        inner.n_features_in_ = int(tok.n_rois_)
        inner.layout_ = make_layout(
            self.token_layout,
            int(tok.n_rois_),
            int(tok.n_patches_),
            networks=list(self.channels) if self.networks is not None else None,
            n_token_groups=self.n_token_groups,
        )
        accelerator, seeds = inner._accelerator()
        with (
            device_context(self.device, accelerator),
            seeded_torch(int(seeds[3]), accelerator.device),
        ):
            inner._setup_model(accelerator, int(seeds[0]), lora=False)
        for param in inner.model_.parameters():
            param.requires_grad_(False)
        self._lm = inner
        self.layout_ = inner.layout_
        self.model_ = inner.model_
        hidden = int(inner.model_.hf_model.get_input_embeddings().weight.shape[1])
        self.n_features_out_ = 2 * hidden
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Pooled hidden states of each subject.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series (the tokenizer's length and TR).

        Returns
        -------
        ndarray of shape (n_subjects, n_features_out_), float32
        """
        import torch

        from brainlm_decode.lm.instruction import Example
        from brainlm_decode.lm.prompts import OPEN_QUESTIONS, format_question

        check_is_fitted(self, "model_")
        series = stack_timeseries(X, owner=type(self).__name__)
        if series.shape[2] != self.n_features_in_:
            raise ValueError(
                f"The 'X' argument of FMRILMFeatures must have {self.n_features_in_} "
                f"ROIs (columns) as in fit. Got {series.shape[2]} instead."
            )
        lm = self._lm
        features = lm._token_features(self._tokenizer_input(series))
        contexts = None
        if self.descriptors_ is not None:
            contexts = list(self.descriptors_.to_text(list(series)))
        prompt = format_question(self.question or OPEN_QUESTIONS[0])
        collator = lm._collator()
        device = next(self.model_.parameters()).device
        out = []
        n_tokens = self.layout_.n_tokens
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
            fmri = hidden[:, t0 : t0 + n_tokens].mean(dim=1)
            last = (batch["blocks"] < 2**40).sum(1) - 1
            final = hidden[torch.arange(len(idx)), last]
            out.append(torch.cat([fmri, final], dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``fmri_0...`` (mean fMRI-token state) then ``prompt_0...`` (last token).

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "model_")
        half = self.n_features_out_ // 2
        return np.array(
            [f"fmri_{i}" for i in range(half)] + [f"prompt_{i}" for i in range(half)],
            dtype=object,
        )
