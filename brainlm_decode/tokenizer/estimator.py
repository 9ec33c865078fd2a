"""FMRITokenizer: fMRI-LM's text-aligned tokenizer as a scikit-learn transformer.

Stage 1 of fMRI-LM: ROI time series in, discrete tokens out, one per (ROI,
temporal patch), with continuous features aligned to language for the LM stage.
torch is imported on first use (``fit``, ``transform``...), never at import.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    Satisfies,
    fill_doc,
)
from brainlm_decode.timeseries.checks import stack_timeseries

__all__ = ["FMRITokenizer"]

_OWNER = "FMRITokenizer"
_PAD_OPTIONS = ("error", "zero", "edge", "crop")


def _is_size(value: Any) -> bool:
    from brainlm_decode.tokenizer.model import resolve_size

    resolve_size(value)
    return True


def _is_plugin(value: Any) -> bool:
    return isinstance(value, (str, type)) or hasattr(value, "get_params")


def _is_text_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and all(
        isinstance(t, str) for t in value
    )


def _pad_time(series: np.ndarray, patch_size: int, pad: str, owner: str) -> np.ndarray:
    """Make the length a multiple of ``patch_size`` as ``pad`` says."""
    length = series.shape[1]
    rest = length % patch_size
    if rest == 0:
        return series
    if pad == "error" or (pad == "crop" and length < patch_size):
        raise ValueError(
            f"The 'X' argument of {owner} has {length} time points, not a multiple "
            f"of patch_size={patch_size}"
            + (" (and shorter than one patch)" if pad == "crop" else "")
            + ". Pass pad='zero' or 'edge' to pad the end, pad='crop' to drop the "
            f"last {rest} points, or resample to a multiple (fMRI-LM: 160 points)."
        )
    if pad == "crop":
        return np.ascontiguousarray(series[:, : length - rest])
    width = ((0, 0), (0, patch_size - rest), (0, 0))
    mode = "constant" if pad == "zero" else "edge"
    return np.pad(series, width, mode=mode)


@fill_doc
class FMRITokenizer(TransformerMixin, BaseBrainLMEstimator):
    """Text-aligned vector-quantised tokenizer of ROI time series (fMRI-LM stage 1).

    Each ROI's series is cut into patches of ``patch_size`` time points; a
    Transformer encoder over all (ROI x patch) tokens of a subject (learned ROI
    and temporal-position embeddings, full attention) gives continuous
    features, a quantizer maps them to code indices, and a light Transformer
    decoder reconstructs the patches from the codes. Training minimises

    ``reconstruction_weight * MSE + quantizer_weight * quantizer loss
    + adversarial_weight * adversarial + contrastive_weight * SigLIP``

    (fMRI-LM: 1, 1, 0.5, 0.5): the adversarial term makes the features,
    projected to the language model's width, indistinguishable from its
    text-token embeddings (gradient reversal with the DANN schedule); the SigLIP
    term matches each subject's pooled features with the embedding of its
    descriptor paragraph (learnable temperature, init ``log 10``, and bias, init
    -10). See :mod:`brainlm_decode.tokenizer` for the pieces.

    Parameters
    ----------
    size : {"small", "base", "large"} or dict, default="small"
        Encoder size of the paper (12/12/24 layers, width 384/768/1024, 6/12/16
        heads) or a dict ``{"n_layers", "embed_dim", "n_heads"}``.
    patch_size : int, default=32
        Time points per patch (temporal only, no mixing across ROIs).
    quantizer : str, class or Quantizer, default="vq"
        ``brainlm_decode.quantizers`` plugin: ``"vq"``
        (:class:`~brainlm_decode.tokenizer.quantizers.VectorQuantizer`, cosine
        codebook of 8192 codes, EMA, k-means init) or ``"fsq"``
        (:class:`~brainlm_decode.tokenizer.quantizers.FiniteScalarQuantizer`),
        or an instance (its ``dim`` is set to the encoder width on a copy).
    quantizer_params : dict or None, default=None
        Keyword arguments of the quantizer, e.g. ``{"codebook_size": 1024}``.
    decoder_layers : int, default=2
        Depth of the decoder (width and heads of the encoder).
    dropout : float, default=0.0
        Dropout in the Transformer layers.
    backbone : str, HFBackbone or None, default="gemma-3-270m"
        ``brainlm_decode.backbones`` plugin whose frozen text-token embeddings
        are the discriminator's "text" class (the LM stage's backbone). ``None``
        drops the adversarial term.
    text_encoder : str, TextEncoder or None, default="minilm"
        ``brainlm_decode.text_encoders`` plugin embedding the descriptor texts for
        the SigLIP term. ``None`` drops the contrastive term.
    text_corpus : sequence of str or None, default=None
        Extra texts whose tokens join those of the descriptor texts in the
        adversarial term.
    max_text_tokens : int, default=20000
        Text-token embeddings sampled (once, in ``fit``) from the texts.
    adversarial_tokens : int, default=1024
        fMRI tokens (and as many text tokens) fed to the discriminator per step.
    reconstruction_weight, quantizer_weight : float, default=1.0
        Weights of the reconstruction and quantizer (commitment) losses.
    adversarial_weight, contrastive_weight : float, default=0.5
        Weights of the alignment terms (fMRI-LM's ``lambda = 0.5``); 0 drops one.
    grl_schedule : {"dann", "constant"}, default="dann"
        Coefficient of the gradient reversal layer over training (see
        :func:`~brainlm_decode.tokenizer.alignment.grl_schedule`).
    grl_gamma : float, default=10.0
        Steepness of the ``"dann"`` schedule.
    learning_rate, min_learning_rate : float, default=1e-4, 1e-5
        AdamW learning rate, decayed by a cosine to ``min_learning_rate`` at the
        last step (formerly ``lr``, ``min_lr``).
    weight_decay : float, default=0.05
        AdamW weight decay of weight matrices and embeddings.
    n_epochs : int, default=50
        Training epochs (formerly ``max_epochs``).
    max_grad_norm : float or None, default=1.0
        Maximum gradient norm; ``None`` disables clipping (formerly
        ``grad_clip``).
    pad : {"error", "zero", "edge", "crop"}, default="error"
        What to do when the number of time points is not a multiple of
        ``patch_size``: raise, pad the end with zeros or with the last value, or
        drop the last points. :meth:`inverse_transform` returns the padded
        length cropped back to the training length.
    %(device)s
    batch_size : int, default=8
        Subjects per training step (global batch, shared by the processes) and
        per inference batch.
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    model_ : TokenizerModel
        The trained torch model (eval mode, on the training device).
    n_rois_, n_features_in_ : int
        Number of ROIs.
    n_timepoints_ : int
        Time points of the training series (before padding).
    n_patches_ : int
        Patches per ROI (after padding or cropping).
    embed_dim_ : int
        Width of the features returned by :meth:`encode`.
    codebook_size_ : int
        Number of codes (token ids lie in ``[0, codebook_size_)``).
    text_dim_, backbone_dim_ : int or None
        Widths of the SigLIP text embeddings and of the language model's
        token embeddings (``None`` when the term is off).
    alignment_terms_ : list of str
        Alignment terms trained (``"adversarial"``, ``"contrastive"``).
    history_ : dict of str to list of float
        Per-epoch means of the total loss, of each term, the reversal
        coefficient, the learning rate and the epoch time (seconds).
    codebook_perplexity_ : float
        Effective number of codes used on the training data (``exp`` entropy).
    dead_code_fraction_ : float
        Share of codes used by no token of the training data.

    See Also
    --------
    brainlm_decode.ROITimeSeriesPreprocessor : the preprocessing contract.
    brainlm_decode.FMRIDescriptorTransformer : descriptor texts (``to_text``).

    Notes
    -----
    Training goes through :mod:`accelerate`: a script calling ``fit`` launched
    with ``torchrun --nproc_per_node N`` or ``accelerate launch`` trains on N
    processes (each shares every global batch; gradients averaged, codebook
    statistics summed, SigLIP over the global batch).

    Examples
    --------
    >>> from brainlm_decode import FMRITokenizer
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> cohort = make_fmri_cohort(n_subjects=4, n_rois=8, n_timepoints=64,
    ...                           random_state=0)
    >>> tok = FMRITokenizer(size={"n_layers": 1, "embed_dim": 16, "n_heads": 2},
    ...                     quantizer_params={"codebook_size": 32}, backbone=None,
    ...                     n_epochs=2, device="cpu", random_state=0)
    >>> tok.fit(cohort.timeseries).transform(cohort.timeseries).shape
    (4, 8, 2)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "size": [Satisfies(_is_size, "'small', 'base', 'large' or a size dict")],
        "patch_size": [Interval(int, 1, None)],
        "quantizer": [Satisfies(_is_plugin, "a quantizer name, class or instance")],
        "quantizer_params": [None, dict],
        "decoder_layers": [Interval(int, 1, None)],
        "dropout": [Interval(float, 0.0, 1.0, closed="left")],
        "backbone": [None, Satisfies(_is_plugin, "a backbone name or instance")],
        "text_encoder": [
            None,
            Satisfies(_is_plugin, "a text encoder name or instance"),
        ],
        "text_corpus": [None, Satisfies(_is_text_list, "a list of str")],
        "max_text_tokens": [Interval(int, 1, None)],
        "adversarial_tokens": [Interval(int, 1, None)],
        "reconstruction_weight": [Interval(float, 0.0, None, closed="neither")],
        "quantizer_weight": [Interval(float, 0.0, None)],
        "adversarial_weight": [Interval(float, 0.0, None)],
        "contrastive_weight": [Interval(float, 0.0, None)],
        "grl_schedule": [Options("dann", "constant")],
        "grl_gamma": [Interval(float, 0.0, None, closed="neither")],
        "learning_rate": [Interval(float, 0.0, None, closed="neither")],
        "min_learning_rate": [Interval(float, 0.0, None)],
        "weight_decay": [Interval(float, 0.0, None)],
        "n_epochs": [Interval(int, 1, None)],
        "max_grad_norm": [None, Interval(float, 0.0, None, closed="neither")],
        "pad": [Options(*_PAD_OPTIONS)],
    }

    def __init__(
        self,
        size: str | dict[str, int] = "small",
        *,
        patch_size: int = 32,
        quantizer: Any = "vq",
        quantizer_params: dict[str, Any] | None = None,
        decoder_layers: int = 2,
        dropout: float = 0.0,
        backbone: Any = "gemma-3-270m",
        text_encoder: Any = "minilm",
        text_corpus: Sequence[str] | None = None,
        max_text_tokens: int = 20000,
        adversarial_tokens: int = 1024,
        reconstruction_weight: float = 1.0,
        quantizer_weight: float = 1.0,
        adversarial_weight: float = 0.5,
        contrastive_weight: float = 0.5,
        grl_schedule: str = "dann",
        grl_gamma: float = 10.0,
        learning_rate: float = 1e-4,
        min_learning_rate: float = 1e-5,
        weight_decay: float = 0.05,
        n_epochs: int = 50,
        max_grad_norm: float | None = 1.0,
        pad: str = "error",
        device: Any = "auto",
        batch_size: int = 8,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.size = size
        self.patch_size = patch_size
        self.quantizer = quantizer
        self.quantizer_params = quantizer_params
        self.decoder_layers = decoder_layers
        self.dropout = dropout
        self.backbone = backbone
        self.text_encoder = text_encoder
        self.text_corpus = text_corpus
        self.max_text_tokens = max_text_tokens
        self.adversarial_tokens = adversarial_tokens
        self.reconstruction_weight = reconstruction_weight
        self.quantizer_weight = quantizer_weight
        self.adversarial_weight = adversarial_weight
        self.contrastive_weight = contrastive_weight
        self.grl_schedule = grl_schedule
        self.grl_gamma = grl_gamma
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.weight_decay = weight_decay
        self.n_epochs = n_epochs
        self.max_grad_norm = max_grad_norm
        self.pad = pad
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of (n_timepoints, n_rois) arrays or 3D arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- input checks ------------------------------------------------------------------
    def _check_X(self, X: Any, *, fitting: bool = False) -> tuple[np.ndarray, int]:
        """Validated, padded float32 series and the original number of time points."""
        series = stack_timeseries(X, owner=_OWNER)
        if not fitting and series.shape[2] != self.n_rois_:
            raise ValueError(
                f"The 'X' argument of {_OWNER} must have {self.n_rois_} ROIs (columns) "
                f"as in fit. Got {series.shape[2]} instead."
            )
        length = series.shape[1]
        series = _pad_time(series, self.patch_size, self.pad, _OWNER)
        n_patches = series.shape[1] // self.patch_size
        if not fitting and n_patches > self.n_patches_:
            raise ValueError(
                f"The 'X' argument of {_OWNER} has {length} time points "
                f"({n_patches} patches of {self.patch_size}); the tokenizer was "
                f"fitted on {self.n_timepoints_} ({self.n_patches_} patches) and "
                "accepts at most that many patches."
            )
        return series, length

    @staticmethod
    def _check_texts(texts: Any, n_subjects: int) -> list[str] | None:
        if texts is None:
            return None
        from brainlm_decode.text.chunking import check_texts

        texts = check_texts(texts, name="texts")
        if len(texts) != n_subjects:
            raise ValueError(
                f"The 'texts' argument of {_OWNER}.fit must hold one descriptor text "
                f"per subject of X ({n_subjects}). Got {len(texts)} texts instead."
            )
        return texts

    # -- building blocks of fit --------------------------------------------------------
    def _make_quantizer(self, dim: int) -> Any:
        from brainlm_decode.plugins import get_plugin

        params = dict(self.quantizer_params or {})
        params.pop("dim", None)
        if isinstance(self.quantizer, (str, type)):
            quantizer = get_plugin("quantizers", self.quantizer, **params)
        else:
            quantizer = clone(self.quantizer)
            if params:
                quantizer.set_params(**params)
        if not hasattr(quantizer, "with_dim"):
            raise TypeError(
                f"The 'quantizer' parameter of {_OWNER} must be a Quantizer (with "
                f"with_dim, forward and decode). Got {type(quantizer).__name__}."
            )
        return quantizer.with_dim(dim)

    def _text_embeddings(self, texts: list[str] | None) -> np.ndarray | None:
        """Unit-norm descriptor-text embeddings, or None when SigLIP is off."""
        if texts is None or self.text_encoder is None or self.contrastive_weight == 0:
            return None
        from brainlm_decode.plugins import get_plugin

        encoder = clone(get_plugin("text_encoders", self.text_encoder))
        self._log(f"embedding {len(texts)} descriptor texts")
        vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))

    def _text_tokens(self, texts: list[str] | None, seed: int) -> np.ndarray | None:
        """Sampled text-token embeddings of the backbone, or None when off."""
        if self.backbone is None or self.adversarial_weight == 0:
            return None
        corpus = list(texts or []) + list(self.text_corpus or [])
        if not corpus:
            warnings.warn(
                f"{_OWNER}: no texts (neither 'texts' nor 'text_corpus') for the "
                "adversarial term; it is skipped. Pass texts, a text_corpus, or "
                "backbone=None to silence this warning.",
                UserWarning,
                stacklevel=3,
            )
            return None
        from brainlm_decode.plugins import get_plugin

        backbone = get_plugin("backbones", self.backbone)
        self._log(f"sampling text-token embeddings of {type(backbone).__name__}")
        tokens = backbone.text_token_embeddings(
            corpus, max_tokens=self.max_text_tokens, random_state=seed
        )
        return np.ascontiguousarray(tokens, dtype=np.float32)

    def _train_params(self) -> dict[str, Any]:
        names = (
            "batch_size learning_rate min_learning_rate weight_decay n_epochs "
            "max_grad_norm grl_schedule "
            "grl_gamma adversarial_tokens reconstruction_weight quantizer_weight "
            "adversarial_weight contrastive_weight verbose"
        ).split()
        return {name: getattr(self, name) for name in names}

    # -- fit ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, texts: Sequence[str] | None = None) -> Any:
        """Train the tokenizer on preprocessed ROI time series.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed series of the training subjects (all of one length), e.g.
            the output of :class:`~brainlm_decode.ROITimeSeriesPreprocessor`.
        y : None
            Ignored.
        texts : sequence of str or None, default=None
            Descriptor paragraph of each subject (e.g.
            :meth:`FMRIDescriptorTransformer.to_text`), for the SigLIP term and
            as text of the adversarial term. ``None`` drops the contrastive term.

        Returns
        -------
        self : FMRITokenizer
            The fitted tokenizer.

        Raises
        ------
        ValueError
            Bad shapes, NaN/inf, a length that is not a multiple of ``patch_size``
            with ``pad="error"``, a number of texts that differs from the number
            of subjects, fewer than 2 subjects per process, bad parameters.
        """
        from brainlm_decode.tokenizer.model import resolve_size

        if isinstance(self.size, dict):
            resolve_size(self.size)  # its message says which key is wrong and why
        self._validate_params()
        size = resolve_size(self.size)
        series, length = self._check_X(X, fitting=True)
        texts = self._check_texts(texts, series.shape[0])
        model, history = self._train(series, texts, size)
        self.model_ = model
        self.n_rois_ = self.n_features_in_ = int(series.shape[2])
        self.n_timepoints_ = int(length)
        self.n_patches_ = int(series.shape[1] // self.patch_size)
        self.embed_dim_ = int(size["embed_dim"])
        self.codebook_size_ = int(model.quantizer.codebook_size)
        self.text_dim_ = model.config["text_dim"]
        self.backbone_dim_ = model.config["backbone_dim"]
        self.alignment_terms_ = [
            t for t in ("adversarial", "contrastive") if t in history
        ]
        self.history_ = history
        self._set_usage(series)
        return self

    def _train(
        self, series: np.ndarray, texts: list[str] | None, size: dict[str, int]
    ) -> tuple[Any, dict[str, list[float]]]:
        from brainlm_decode.tokenizer.model import TokenizerModel
        from brainlm_decode.tokenizer.train import train_tokenizer
        from brainlm_decode.training.runtime import (
            device_context,
            make_accelerator,
            seeded_torch,
            shared_seed,
        )

        accelerator = make_accelerator(self.device, owner=_OWNER)
        if series.shape[0] < 2 * accelerator.num_processes:
            raise ValueError(
                f"{_OWNER}.fit needs at least {2 * accelerator.num_processes} "
                f"subjects (2 per process). Got {series.shape[0]}."
            )
        seed = shared_seed(self.random_state, accelerator)
        init_seed, shuffle_seed, token_seed = np.random.SeedSequence(
            seed
        ).generate_state(3)
        text_embeddings = self._text_embeddings(texts)
        text_tokens = self._text_tokens(texts, int(token_seed))
        with (
            device_context(self.device, accelerator),
            seeded_torch(int(init_seed), accelerator.device),
        ):
            model = TokenizerModel(
                series.shape[2],
                series.shape[1] // self.patch_size,
                self._make_quantizer(size["embed_dim"]),
                patch_size=self.patch_size,
                decoder_layers=self.decoder_layers,
                dropout=self.dropout,
                text_dim=None if text_embeddings is None else text_embeddings.shape[1],
                backbone_dim=None if text_tokens is None else text_tokens.shape[1],
                **size,
            )
            self._log(f"training {model.n_parameters():,} parameters")
            return train_tokenizer(
                model,
                series,
                text_embeddings=text_embeddings,
                text_tokens=text_tokens,
                params=self._train_params(),
                accelerator=accelerator,
                shuffle_seed=int(shuffle_seed),
            )

    def _set_usage(self, series: np.ndarray) -> None:
        from brainlm_decode.tokenizer.quantizers import codebook_usage

        ids = self._batched(series, lambda m, x: m.quantizer(m.encode(x))[1])
        self.codebook_perplexity_, self.dead_code_fraction_ = codebook_usage(
            ids, self.codebook_size_
        )

    # -- inference ---------------------------------------------------------------------
    def _batched(
        self, array: np.ndarray, fn: Any, batch_size: int | None = None
    ) -> np.ndarray:
        """Apply ``fn(model, batch_tensor)`` in eval mode, batch by batch."""
        import torch

        step = batch_size or self.batch_size
        model = self.model_
        device = next(model.parameters()).device
        model.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, array.shape[0], step):
                batch = torch.as_tensor(array[start : start + step])
                parts.append(fn(model, batch.to(device)).cpu().numpy())
        return np.concatenate(parts)

    def encode(self, X: Any) -> np.ndarray:
        """Continuous pre-quantisation features (what the LM stage consumes).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.

        Returns
        -------
        ndarray of shape (n_subjects, n_rois, n_patches, embed_dim_), float32
        """
        check_is_fitted(self, "model_")
        series, _ = self._check_X(X)
        return self._batched(series, lambda m, x: m.encode(x)).astype(np.float32)

    def transform(self, X: Any) -> np.ndarray:
        """Token ids of each (ROI, temporal patch).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.

        Returns
        -------
        ndarray of shape (n_subjects, n_rois, n_patches), int64
            Ids in ``[0, codebook_size_)``.
        """
        check_is_fitted(self, "model_")
        series, _ = self._check_X(X)
        ids = self._batched(series, lambda m, x: m.quantizer(m.encode(x))[1])
        return ids.astype(np.int64)

    def quantize(self, X: Any) -> np.ndarray:
        """Quantised features (the code vectors of the tokens of ``X``).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.

        Returns
        -------
        ndarray of shape (n_subjects, n_rois, n_patches, embed_dim_), float32
        """
        check_is_fitted(self, "model_")
        series, _ = self._check_X(X)
        codes = self._batched(series, lambda m, x: m.quantizer(m.encode(x))[0])
        return codes.astype(np.float32)

    def quantize_features(self, features: Any) -> np.ndarray:
        """Token ids of arbitrary continuous features (nearest code).

        Parameters
        ----------
        features : array-like of shape (..., embed_dim_)
            Features in the space of :meth:`encode` (e.g. pooled over patches).

        Returns
        -------
        ndarray of shape ``features.shape[:-1]``, int64
        """
        check_is_fitted(self, "model_")
        array = np.asarray(features, dtype=np.float32)
        if array.ndim < 1 or array.shape[-1] != self.embed_dim_:
            raise ValueError(
                f"The 'features' argument of {_OWNER}.quantize_features must have "
                f"last axis of width {self.embed_dim_} (embed_dim_). Got shape "
                f"{array.shape} instead."
            )
        if not np.isfinite(array).all():
            raise ValueError(
                f"The 'features' argument of {_OWNER}.quantize_features has NaN or inf."
            )
        flat = array.reshape(-1, self.embed_dim_)
        if flat.shape[0] == 0:
            return np.zeros(array.shape[:-1], dtype=np.int64)
        # rows are independent: quantise them in large chunks
        ids = self._batched(flat, lambda m, x: m.quantizer(x)[1], batch_size=65536)
        return ids.astype(np.int64).reshape(array.shape[:-1])

    def _check_ids(self, ids: Any) -> np.ndarray:
        array = np.asarray(ids)
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(
                f"The 'ids' argument of {_OWNER} must be an integer array. Got dtype "
                f"{array.dtype} instead."
            )
        if array.ndim != 3 or array.shape[1] != self.n_rois_ or array.shape[0] == 0:
            raise ValueError(
                f"The 'ids' argument of {_OWNER} must have shape (n_subjects, "
                f"{self.n_rois_}, n_patches). Got {array.shape} instead."
            )
        if not 1 <= array.shape[2] <= self.n_patches_:
            raise ValueError(
                f"The 'ids' argument of {_OWNER} must have 1 to {self.n_patches_} "
                f"patches. Got {array.shape[2]} instead."
            )
        if array.min() < 0 or array.max() >= self.codebook_size_:
            raise ValueError(
                f"The 'ids' argument of {_OWNER} must lie in [0, {self.codebook_size_})"
                f". Got values in [{array.min()}, {array.max()}]."
            )
        return array.astype(np.int64)

    def token_embeddings(self, ids: Any) -> np.ndarray:
        """Code vectors of token ids.

        Parameters
        ----------
        ids : array-like of int of shape (n_subjects, n_rois, n_patches)
            Token ids from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_subjects, n_rois, n_patches, embed_dim_), float32
        """
        check_is_fitted(self, "model_")
        array = self._check_ids(ids)
        return self._batched(array, lambda m, x: m.quantizer.decode(x))

    def inverse_transform(self, ids: Any) -> np.ndarray:
        """Reconstruct ROI time series from token ids.

        Parameters
        ----------
        ids : array-like of int of shape (n_subjects, n_rois, n_patches)
            Token ids from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_subjects, n_timepoints, n_rois), float32
            ``n_timepoints = n_patches * patch_size``, cropped to
            ``n_timepoints_`` when the ids have ``n_patches_`` patches and
            ``fit`` padded the series.
        """
        check_is_fitted(self, "model_")
        array = self._check_ids(ids)
        recon = self._batched(array, lambda m, x: m.decode(m.quantizer.decode(x)))
        if array.shape[2] == self.n_patches_:
            recon = recon[:, : self.n_timepoints_]
        return np.ascontiguousarray(recon, dtype=np.float32)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Tokenise and reconstruct ``X`` (same shape as ``X``; cropped padding).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.

        Returns
        -------
        ndarray of shape (n_subjects, n_timepoints_used, n_rois), float32
            ``n_timepoints_used`` is the input length (minus the dropped points
            with ``pad="crop"``).
        """
        check_is_fitted(self, "model_")
        series, length = self._check_X(X)
        recon = self._batched(
            series, lambda m, x: m.decode(m.quantizer(m.encode(x))[0])
        )
        return np.ascontiguousarray(recon[:, : min(length, recon.shape[1])])

    def score(self, X: Any, y: Any = None) -> float:
        """Reconstruction R^2 of ``X`` through the tokens.

        ``1 - sum((x - x_hat)^2) / sum((x - mean_t x)^2)``, pooled over subjects,
        ROIs and time points, each ROI series centred on its own temporal mean.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        y : None
            Ignored.

        Returns
        -------
        float
        """
        recon = self.reconstruct(X).astype(np.float64)
        series = stack_timeseries(X, owner=_OWNER, dtype=np.float64)[
            :, : recon.shape[1]
        ]
        centred = series - series.mean(axis=1, keepdims=True)
        return float(1.0 - ((series - recon) ** 2).sum() / (centred**2).sum())

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Any:
        """Save the fitted tokenizer to a folder (safetensors + JSON, atomic).

        Parameters
        ----------
        path : str or path-like
            Destination folder.
        overwrite : bool, default=False
            Replace an existing saved tokenizer (as a whole, once the new one is
            written).

        Returns
        -------
        pathlib.Path
            The folder.
        """
        from brainlm_decode.tokenizer.serialization import save_tokenizer

        return save_tokenizer(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: Any = "cpu") -> FMRITokenizer:
        """Load a tokenizer saved by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            Folder written by :meth:`save`.
        device : str or torch.device, default="cpu"
            Device of the model.

        Returns
        -------
        FMRITokenizer
            A fitted tokenizer giving the same tokens as the saved one.
        """
        from brainlm_decode.tokenizer.serialization import load_tokenizer

        return load_tokenizer(path, device=device)

    @classmethod
    def from_pretrained(cls, name: str, *, device: Any = "cpu") -> FMRITokenizer:
        """Load a tokenizer shipped with the package (e.g. ``"hcp-rest-networks"``).

        Parameters
        ----------
        name : str
            One of :func:`~brainlm_decode.tokenizer.pretrained.available_pretrained_tokenizers`;
            its input contract: :func:`~brainlm_decode.tokenizer.pretrained.pretrained_tokenizer_info`.
        device : str or torch.device, default="cpu"
            Device of the model.

        Returns
        -------
        FMRITokenizer
            Fitted.
        """
        from brainlm_decode.tokenizer.pretrained import load_pretrained_tokenizer

        return load_pretrained_tokenizer(name, device=device)
