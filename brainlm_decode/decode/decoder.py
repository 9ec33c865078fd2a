"""NiCLIP decoder: a CLIP model of texts and MKDA maps that decodes brain maps.

:class:`CLIPDecoder` is trained from a NiMARE collection (texts paired with the
modeled-activation maps of their peaks) and decodes any brain map into Cognitive
Atlas tasks (Bayesian posterior), concepts and domains (noisy-OR), returning pandas
DataFrames like NiMARE's decoders.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import (
    DEPRECATED,
    BaseBrainLMEstimator,
    Interval,
    Options,
    Satisfies,
    fill_doc,
    renamed,
)
from brainlm_decode.decode._fast import fast_embedding
from brainlm_decode.decode._inputs import (
    LEVELS,
    is_ontology,
    is_plugin_value,
    is_text_source,
    prepare_maps,
    resolve_plugin,
    result_table,
    study_inputs,
)
from brainlm_decode.decode.posterior import (
    concept_mixture,
    corpus_prior,
    noisy_or,
    task_likelihood,
    task_posterior,
)
from brainlm_decode.decode.vocabulary import embed_terms, fit_vocabularies


@fill_doc
class CLIPDecoder(BaseBrainLMEstimator):
    """Decode brain maps into tasks, concepts and domains with a CLIP model (NiCLIP).

    ``fit`` embeds each study's text with a pretrained text encoder and its peak
    coordinates as an MKDA map (10 mm binary spheres) projected on an image space,
    then trains a CLIP model (text tower: projection + 2 residual blocks; image
    tower: 3 residual blocks) with the symmetric InfoNCE loss and early stopping on
    a study-grouped validation split. The vocabulary of an ontology (Cognitive
    Atlas tasks) is embedded as ``alpha * emb(name) + (1 - alpha) * emb(definition)``
    through the text tower.

    ``transform`` projects a brain map on the same image space and returns, per
    task, the likelihood ``P(A|T)`` (softmax over tasks of the scaled cosine, with
    the temperature learned in training), the prior ``P(T)`` and the posterior
    ``P(T|A)``; concepts follow by noisy-OR mixed with each concept's own text
    (``concept_text_weight``) and domains by noisy-OR.

    Parameters
    ----------
    text_encoder : str or TextEncoder, default="minilm"
        A ``brainlm_decode.text_encoders`` plugin name or instance (e.g.
        ``"minilm"``, ``"hf"``, ``"gemma-3-270m"``).
    image_space : str or ImageSpace, default="mni-parcels"
        A ``brainlm_decode.image_spaces`` plugin name or instance (e.g.
        ``"mni-parcels"`` offline, ``"difumo"`` as in the paper, ``"atlas"``).
    ontology : CognitiveAtlas, {"snapshot", "live"}, callable, path or None, \
            default=None
        Vocabulary to decode into. ``None`` or ``"snapshot"``: the Cognitive Atlas
        snapshot shipped with the package (export of 2020-05-22, CC BY-SA 3.0,
        checksummed; offline, see
        :func:`~brainlm_decode.ontology.load_cognitive_atlas_snapshot`).
        ``"live"``: the current Cognitive Atlas API (cached on disk). A loader
        called without arguments, a saved
        :class:`~brainlm_decode.ontology.CognitiveAtlas` or a folder with the
        Cognitive Atlas JSON export.
    text_source : str or sequence of str, default=("title", "abstract")
        Text fields of the collection joined into each study's text.
    alpha : float, default=0.5
        Weight of the term name against its definition in vocabulary embeddings.
    prior : {"corpus", "uniform"}, default="corpus"
        ``"corpus"``: mean over training documents of the softmax over tasks of the
        document-task similarity. ``"uniform"``: posterior equals likelihood.
    concept_text_weight : float, default=0.75
        Concept score = ``w * P_text(C|A) + (1 - w) * noisy-OR(C|A)`` scaled to a
        distribution over concepts (:func:`~brainlm_decode.decode.concept_mixture`):
        ``P_text`` is the softmax over concepts of the scaled cosine between the
        map and the concept's own name + definition, so that a task linked to
        many concepts does not lift them all. ``0``: noisy-OR probabilities only
        (the previous behaviour; also used when the decoder has no concept
        embeddings). 0.75 was chosen on held-out validation studies
        (``benchmarks/bench_concept_scores.py``). Domains stay the noisy-OR of
        the noisy-OR concept probabilities.
    embed_dim : int, default=512
        Width of the shared CLIP space.
    learning_rate : float, default=5e-4
        AdamW learning rate.
    weight_decay : float, default=0.1
        AdamW weight decay.
    n_epochs : int, default=50
        Maximum number of training epochs (early stopping may stop sooner);
        formerly ``max_epochs``.
    patience : int, default=10
        Early stopping patience on the validation loss.
    dropout : float, default=0.5
        Dropout of every residual block.
    validation_fraction : float, default=0.1
        Fraction of studies held out for early stopping.
    tail : {"positive", "negative", "both", "abs"}, default="positive"
        Part of input maps that is decoded (see
        :func:`~brainlm_decode.imaging.prepare_map`).
    flip_sign : bool, default=False
        Multiply input maps by -1 before decoding.
    percentile : float or None, default=None
        Decode the top ``percentile`` %% voxels of each map as a binary ROI.
    n_jobs : int or None, default=None
        Parallel jobs (joblib) of the MKDA embedding of the studies in ``fit``,
        given to the image space when ``image_space`` is a plugin name; an
        image-space instance keeps its own ``n_jobs``.
    %(device)s
    batch_size : int, default=128
        Contrastive batch size (NiCLIP: 128).
    %(random_state)s
    %(verbose)s
    max_epochs : int or "deprecated", default="deprecated"
        Deprecated name of ``n_epochs`` (FutureWarning in ``fit``); removed in
        the next release.

    Attributes
    ----------
    model_ : brainlm_decode.clip.CLIPModel
        Trained CLIP model (eval mode, CPU).
    history_ : dict
        Per-epoch training and validation losses, logit scale, best epoch.
    logit_scale_ : float
        Learned inverse temperature ``exp(logit_scale)`` used in decoding.
    image_space_ : ImageSpace
        Fitted image space.
    ontology_ : CognitiveAtlas
        Ontology decoded into; ``ontology_.metadata`` holds the version, date,
        licence and attribution of the shipped snapshot.
    task_embeddings_ : ndarray of shape (n_tasks, embed_dim)
        Unit-norm task embeddings in the CLIP space.
    concept_embeddings_ : ndarray of shape (n_concepts, embed_dim) or None
        Unit-norm concept embeddings in the CLIP space (``None`` when fitted
        from given task embeddings only, or saved by an earlier version).
    prior_ : ndarray of shape (n_tasks,)
        ``P(T)``.
    n_studies_ : int
        Studies used for training (train and validation).

    See Also
    --------
    nimare.decode.CorrelationDecoder : correlation-based decoding of meta-analytic maps.

    Examples
    --------
    Not run in the doctests: it needs a statistical map (``zmap.nii.gz``) and the
    text encoder's weights.

    >>> from brainlm_decode import CLIPDecoder
    >>> decoder = CLIPDecoder.from_pretrained()  # doctest: +SKIP
    >>> decoder.transform("zmap.nii.gz").head()  # doctest: +SKIP
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "text_encoder": [Satisfies(is_plugin_value, "a text encoder name or instance")],
        "image_space": [Satisfies(is_plugin_value, "an image space name or instance")],
        "ontology": [
            Satisfies(
                is_ontology,
                "a CognitiveAtlas, 'snapshot', 'live', a loader, a path or None",
            )
        ],
        "text_source": [
            Satisfies(is_text_source, "a text field name or a list of them")
        ],
        "alpha": [Interval(float, 0, 1)],
        "prior": [Options("corpus", "uniform")],
        "concept_text_weight": [Interval(float, 0, 1, closed="both")],
        "embed_dim": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "weight_decay": [Interval(float, 0, None)],
        "n_epochs": [Interval(int, 1, None)],
        "max_epochs": [Interval(int, 1, None), Options(DEPRECATED)],
        "patience": [Interval(int, 1, None), None],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "tail": [Options("positive", "negative", "both", "abs")],
        "flip_sign": [bool],
        "percentile": [Interval(float, 0, 100, closed="right"), None],
    }

    def __init__(
        self,
        text_encoder: Any = "minilm",
        image_space: Any = "mni-parcels",
        ontology: Any = None,
        *,
        text_source: str | Sequence[str] = ("title", "abstract"),
        alpha: float = 0.5,
        prior: str = "corpus",
        concept_text_weight: float = 0.75,
        embed_dim: int = 512,
        learning_rate: float = 5e-4,
        weight_decay: float = 0.1,
        n_epochs: int = 50,
        patience: int | None = 10,
        dropout: float = 0.5,
        validation_fraction: float = 0.1,
        tail: str = "positive",
        flip_sign: bool = False,
        percentile: float | None = None,
        n_jobs: int | None = None,
        device: Any = "auto",
        batch_size: int = 128,
        random_state: Any = None,
        verbose: int = 0,
        max_epochs: int | str = DEPRECATED,
    ) -> None:
        self.text_encoder = text_encoder
        self.image_space = image_space
        self.ontology = ontology
        self.text_source = text_source
        self.alpha = alpha
        self.prior = prior
        self.concept_text_weight = concept_text_weight
        self.embed_dim = embed_dim
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.n_epochs = n_epochs
        self.patience = patience
        self.dropout = dropout
        self.validation_fraction = validation_fraction
        self.tail = tail
        self.flip_sign = flip_sign
        self.percentile = percentile
        self.n_jobs = n_jobs
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.max_epochs = max_epochs

    def __sklearn_tags__(self) -> Any:
        """Tags: fitted on a collection of studies, transforms brain images."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fitting

    def _validate_params(self) -> None:
        super()._validate_params()
        self._n_epochs = renamed(  # warns at the caller of fit / fit_embeddings
            "CLIPDecoder",
            "max_epochs",
            "n_epochs",
            self.max_epochs,
            self.n_epochs,
            stacklevel=4,
        )

    def fit(self, collection: Any, y: Any = None) -> CLIPDecoder:
        """Train the CLIP model on a collection of studies and embed the ontology.

        Parameters
        ----------
        collection : NiMARE Studyset or Dataset, dict, path or Collection
            Studies with texts (``text_source``) and peak coordinates; anything
            :func:`~brainlm_decode.collection.load_collection` accepts.
        y : None
            Ignored.

        Returns
        -------
        self : CLIPDecoder
        """
        self._validate_params()
        self.text_encoder_ = None  # built from the current text_encoder parameter
        from brainlm_decode.collection import load_collection

        # what can fail fast fails before minutes of embedding
        ontology, space = self._preflight()
        coll = load_collection(collection)
        texts, coordinates, study_ids = self._study_inputs(coll)
        self._log(f"embedding {len(study_ids)} study texts")
        text_emb = self._text_encoder().encode(list(texts))
        self._log("embedding study peaks as MKDA maps")
        image_emb = space.transform_coordinates(coordinates, ids=study_ids)
        keep = np.abs(image_emb).sum(axis=1) > 0
        if not np.all(keep):
            warnings.warn(
                f"{int((~keep).sum())} studies have no peak inside the brain mask and "
                "are left out of training.",
                UserWarning,
                stacklevel=2,
            )
        return self._fit_embeddings(
            text_emb[keep],
            image_emb[keep],
            groups=np.asarray(study_ids)[keep],
            image_space=space,
            ontology=ontology,
        )

    def fit_embeddings(
        self,
        text_embeddings: Any,
        image_embeddings: Any,
        *,
        groups: Any = None,
        vocabulary_embeddings: Any = None,
        concept_vocabulary_embeddings: Any = None,
        image_space: Any = None,
    ) -> CLIPDecoder:
        """Train from precomputed text and image embeddings.

        Parameters
        ----------
        text_embeddings : array-like of shape (n_studies, text_dim)
            Text encoder outputs, one row per study.
        image_embeddings : array-like of shape (n_studies, n_regions)
            Study maps projected on ``image_space`` (one row per study).
        groups : array-like of shape (n_studies,) or None, default=None
            Study ids; validation never splits a group.
        vocabulary_embeddings : array-like of shape (n_tasks, text_dim) or None
            Text-encoder embeddings of the ontology tasks (already mixed by
            ``alpha``); ``None`` computes them, and those of the concepts, with
            ``text_encoder``.
        concept_vocabulary_embeddings : array-like of shape (n_concepts, \
                text_dim) or None
            The same for the ontology concepts. ``None`` with given
            ``vocabulary_embeddings``: no concept embeddings, concepts are
            scored by noisy-OR only.
        image_space : ImageSpace or None, default=None
            Fitted image space the image embeddings come from (needed by
            ``transform``); ``None`` fits ``self.image_space``.

        Returns
        -------
        self : CLIPDecoder
        """
        self._validate_params()
        self.text_encoder_ = None  # built from the current text_encoder parameter
        ontology = self._load_ontology()
        space = image_space if image_space is not None else self._fit_image_space()
        return self._fit_embeddings(
            text_embeddings,
            image_embeddings,
            groups=groups,
            vocabulary_embeddings=vocabulary_embeddings,
            concept_vocabulary_embeddings=concept_vocabulary_embeddings,
            image_space=space,
            ontology=ontology,
        )

    def _fit_embeddings(
        self,
        text_emb,
        image_emb,
        *,
        groups,
        image_space,
        ontology,
        vocabulary_embeddings=None,
        concept_vocabulary_embeddings=None,
    ) -> CLIPDecoder:
        from brainlm_decode.clip.train import train_clip

        text_emb = np.asarray(text_emb, dtype=np.float32)
        image_emb = np.asarray(image_emb, dtype=np.float32)
        n_regions = getattr(image_space, "n_regions_", image_emb.shape[1])
        if image_emb.ndim != 2 or image_emb.shape[1] != n_regions:
            raise ValueError(
                "The 'image_embeddings' argument must have one column per region of "
                f"the image space ({n_regions}). Got shape {image_emb.shape} instead."
            )
        vocab, concept_vocab = fit_vocabularies(
            self,
            ontology,
            vocabulary_embeddings,
            concept_vocabulary_embeddings,
            text_emb.shape[1],
        )
        model, history = train_clip(
            text_emb,
            image_emb,
            groups=groups,
            validation_fraction=self.validation_fraction,
            embed_dim=self.embed_dim,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            n_epochs=self._n_epochs,
            patience=self.patience,
            dropout=self.dropout,
            random_state=self.random_state,
            device=self.device,
            verbose=self.verbose,
        )
        self.model_ = model.cpu().eval()
        self.history_ = history.to_dict()
        self.image_space_ = image_space
        self.ontology_ = ontology
        self.vocabulary_embeddings_ = vocab
        self.task_embeddings_ = self._encode_text(vocab)
        self.concept_embeddings_ = (
            None if concept_vocab is None else self._encode_text(concept_vocab)
        )
        self.logit_scale_ = float(self.model_.scale)
        if self.prior == "corpus":
            docs = self._encode_text(text_emb)
            self.prior_ = corpus_prior(
                self.logit_scale_ * docs @ self.task_embeddings_.T
            )
        else:
            self.prior_ = np.full(ontology.n_tasks, 1.0 / ontology.n_tasks)
        self.n_studies_ = int(text_emb.shape[0])
        self.n_features_in_ = int(image_emb.shape[1])
        return self

    def embed_vocabulary(self, ontology: Any = None, level: str = "task") -> np.ndarray:
        """Text-encoder embeddings of the ontology tasks (or concepts).

        ``alpha * unit(emb(name)) + (1 - alpha) * unit(emb(definition))``; a term
        without definition uses its name for both.

        Parameters
        ----------
        ontology : CognitiveAtlas or None, default=None
            ``None`` uses the ``ontology`` parameter.
        level : {"task", "concept"}, default="task"
            Terms to embed.

        Returns
        -------
        ndarray of shape (n_tasks, text_dim) or (n_concepts, text_dim)
        """
        atlas = self._load_ontology() if ontology is None else ontology
        return embed_terms(self._text_encoder(), atlas, level, self.alpha)

    # ------------------------------------------------------------------ helpers

    def _study_inputs(self, coll: Any) -> tuple[pd.Series, pd.DataFrame, list[str]]:
        return study_inputs(coll, self.text_source)

    def _text_encoder(self) -> Any:
        if getattr(self, "text_encoder_", None) is None:
            encoder = resolve_plugin("text_encoders", self.text_encoder, "text_encoder")
            if encoder is self.text_encoder:
                encoder = clone(encoder)
            self.text_encoder_ = encoder
        return self.text_encoder_

    def _preflight(self) -> tuple[Any, Any]:
        """Ontology, text-encoder weights and image space, checked before embedding."""
        ontology = self._load_ontology()
        # reading the dimension loads the weights: a missing model fails here
        getattr(self._text_encoder(), "embedding_dim", None)
        return ontology, self._fit_image_space()

    def _fit_image_space(self) -> Any:
        space = resolve_plugin("image_spaces", self.image_space, "image_space")
        if isinstance(self.image_space, str) and "n_jobs" in space.get_params():
            space.set_params(n_jobs=self.n_jobs)  # a new instance: ours to set
        if space is self.image_space:
            if hasattr(space, "n_regions_"):
                return space  # already fitted (as nilearn uses fitted maskers): reuse
            space = clone(space)
        return space.fit()

    def _load_ontology(self) -> Any:
        from brainlm_decode.ontology import resolve_ontology

        return resolve_ontology(self.ontology, verbose=self.verbose)

    def _encode_text(self, embeddings: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.model_.encode_text(
                torch.as_tensor(embeddings, dtype=torch.float32)
            )
        return out.numpy().astype(np.float64)

    def _encode_image(self, embeddings: np.ndarray) -> np.ndarray:
        from brainlm_decode.clip.inference import encode_image  # NumPy, no torch

        if getattr(self.model_, "normalize_inputs", False):
            # The tower sees unit-norm rows, so the scale of a map is irrelevant;
            # rescale in float64 first so that float32 neither overflows (x1e30)
            # nor underflows (x1e-30) while normalising.
            peak = np.abs(np.asarray(embeddings, dtype=np.float64)).max(axis=1)
            embeddings = embeddings / np.where(peak > 0, peak, 1.0)[:, None]
        return encode_image(self.model_, embeddings)

    # ------------------------------------------------------------------ decoding

    def embed_imgs(self, imgs: Any) -> np.ndarray:
        """Image embeddings of brain maps (after the decoding options), as an array.

        ``decoder.decode_embeddings(decoder.embed_imgs(imgs))`` gives the scores of
        many maps as arrays (maps x terms) instead of one table per map.

        Parameters
        ----------
        imgs : niimg-like or list of niimg-like
            Brain maps.

        Returns
        -------
        ndarray of shape (n_maps, n_regions)
            Maps projected on ``image_space_``.
        """
        return self._image_embeddings(imgs)

    def _image_embeddings(self, imgs: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        items = imgs if isinstance(imgs, (list, tuple)) else [imgs]
        # one pass over the mask voxels per map; any map with something to
        # report (NaN, coverage, ...) sends the whole input down the reference path
        rows = [fast_embedding(item, self) for item in items]
        if rows and all(row is not None for row in rows):
            return np.concatenate(rows, axis=0)
        return self.image_space_.transform_imgs(prepare_maps(imgs, self))

    def decode_embeddings(self, image_embeddings: Any) -> dict[str, np.ndarray]:
        """Probabilities of every term for image embeddings (arrays, no tables).

        Parameters
        ----------
        image_embeddings : array-like of shape (n_maps, n_regions)
            Maps projected on ``image_space_``.

        Returns
        -------
        dict
            ``similarity`` (cosine), ``likelihood``, ``posterior`` of shape
            (n_maps, n_tasks); ``concept`` (n_maps, n_concepts) scores (see
            ``concept_text_weight``), ``concept_noisy_or`` the noisy-OR
            probabilities, and ``domain`` (n_maps, n_domains) noisy-OR
            probabilities.
        """
        check_is_fitted(self, "model_")
        emb = np.asarray(image_embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[1] != self.n_features_in_:
            raise ValueError(
                "The 'image_embeddings' argument must have shape (n_maps, "
                f"{self.n_features_in_}). Got {emb.shape} instead."
            )
        image = self._encode_image(emb)
        cosine = image @ self.task_embeddings_.T
        scale = self.logit_scale_ / getattr(self, "temperature_", 1.0)
        likelihood = task_likelihood(scale * cosine)
        posterior = task_posterior(likelihood, self.prior_)
        noisy = noisy_or(posterior, self.ontology_.task_concept_matrix)
        domain = noisy_or(noisy, self.ontology_.concept_domain_matrix)
        concept = noisy
        concepts = getattr(self, "concept_embeddings_", None)
        if self.concept_text_weight > 0 and concepts is not None:
            text = task_likelihood(scale * (image @ concepts.T))
            concept = concept_mixture(noisy, text, self.concept_text_weight)
        return {
            "similarity": cosine,
            "likelihood": likelihood,
            "posterior": posterior,
            "concept": concept,
            "concept_noisy_or": noisy,
            "domain": domain,
        }

    def decode(
        self,
        imgs: Any,
        *,
        map_name: str | None = None,
        n_null: int = 0,
        null_pvalues: str = "tail",
    ) -> dict[str, Any]:
        """Decode maps at the three levels at once.

        Parameters
        ----------
        imgs : niimg-like, list of niimg-like, MetaResult, Studyset or Dataset
            Brain maps (statistical maps, subject maps or ROI masks), a NiMARE
            ``MetaResult`` (its corrected z map when present, else ``z``) or a
            NiMARE collection whose analyses carry images (decoded analysis by
            analysis); see :mod:`brainlm_decode.imaging.inputs`.
        map_name : str or None, default=None
            Map of a ``MetaResult`` or image type of a collection to decode.
        n_null : int, default=0
            When > 0, add columns ``p`` (against ``n_null`` rotated and shifted
            copies of each map, seeded by ``random_state``) and ``q``
            (Benjamini-Hochberg over the terms of the level); see
            :func:`~brainlm_decode.decode.null.null_test`.
        null_pvalues : {"tail", "empirical"}, default="tail"
            ``"tail"``: p-values below ``10 / n_null`` from a generalized Pareto
            fit to the null's upper tail (they can go below ``1 / (n_null +
            1)``); ``"empirical"``: the fraction of null maps scoring at least
            as high (:func:`~brainlm_decode.decode.tail.tail_pvalues`).

        Returns
        -------
        dict
            ``{"task": ..., "concept": ..., "domain": ...}``: DataFrames for one
            map, lists of DataFrames for a list, one table indexed by
            ``(analysis_id, term)`` for a collection. ``DataFrame.attrs`` holds
            the provenance of NiMARE inputs (estimator, corrector, map name).
        """
        from brainlm_decode.decode.null import check_null_pvalues
        from brainlm_decode.imaging.inputs import resolve_maps

        check_null_pvalues(null_pvalues)
        nimare_maps = resolve_maps(imgs, map_name=map_name)
        if nimare_maps is not None:
            return nimare_maps.finish(
                self.decode(nimare_maps.imgs, n_null=n_null, null_pvalues=null_pvalues)
            )
        scores = self.decode_embeddings(self._image_embeddings(imgs))
        n_maps = scores["posterior"].shape[0]
        tables = {
            level: [self._table(scores, i, level) for i in range(n_maps)]
            for level in LEVELS
        }
        if n_null:
            from brainlm_decode.decode.null import add_null_columns

            items = list(imgs) if isinstance(imgs, (list, tuple)) else [imgs]
            add_null_columns(
                self,
                items,
                tables,
                n_null,
                random_state=self.random_state,
                null_pvalues=null_pvalues,
            )
        if not isinstance(imgs, (list, tuple)):
            return {level: tables[level][0] for level in LEVELS}
        return tables

    def transform(
        self,
        imgs: Any,
        level: str = "task",
        *,
        map_name: str | None = None,
        n_null: int = 0,
        null_pvalues: str = "tail",
    ) -> Any:
        """Decode brain maps into one level of the ontology.

        Parameters
        ----------
        imgs : niimg-like, list of niimg-like, MetaResult, Studyset or Dataset
            Brain maps in MNI space (resampled to the image-space grid with a
            warning when needed), or NiMARE objects as in :meth:`decode`.
        level : {"task", "concept", "domain"}, default="task"
            Which terms.
        map_name : str or None, default=None
            Map of a ``MetaResult`` or image type of a collection to decode.
        n_null : int, default=0
            Null maps per map for the ``p`` and ``q`` columns (see :meth:`decode`).
        null_pvalues : {"tail", "empirical"}, default="tail"
            How the ``p`` column is computed (see :meth:`decode`).

        Returns
        -------
        DataFrame or list of DataFrame
            Indexed by term name, sorted by decreasing probability. Tasks:
            columns ``id``, ``posterior``, ``likelihood``, ``prior``,
            ``similarity`` (cosine in the CLIP space). Concepts and domains:
            ``id`` and ``probability``. A collection gives one table indexed by
            ``(analysis_id, term)`` with a ``rank`` column.
        """
        if level not in LEVELS:
            raise ValueError(
                f"The 'level' argument of CLIPDecoder.transform must be one of "
                f"{list(LEVELS)}. Got {level!r} instead."
            )
        return self.decode(
            imgs, map_name=map_name, n_null=n_null, null_pvalues=null_pvalues
        )[level]

    def _table(self, scores: dict[str, np.ndarray], i: int, level: str) -> pd.DataFrame:
        return result_table(self.ontology_, self.prior_, scores, i, level)

    def calibrate(self, X: Any, y: Any, *, n_bins: int = 15) -> CLIPDecoder:
        """Temperature-scale the task posteriors on held-out labelled maps.

        Fits ``temperature_`` (likelihood ``softmax(logit_scale * cos / T)``) by
        minimising the negative log-likelihood of the true tasks (the likelihood
        ranking does not change; its weight against the prior does). ``calibration_`` holds the expected calibration error and NLL
        before and after, and reliability tables. Saved and loaded with the
        decoder. See :mod:`brainlm_decode.decode.calibration`.

        Parameters
        ----------
        X : niimg-like, list of niimg-like or ndarray of shape (n_maps, n_regions)
            Held-out maps (never the training studies), or their embeddings.
        y : sequence of str
            True Cognitive Atlas task (id or name) of each map.
        n_bins : int, default=15
            Bins of the expected calibration error.

        Returns
        -------
        self : CLIPDecoder
        """
        from brainlm_decode.decode.calibration import calibrate_decoder

        check_is_fitted(self, "model_")
        return calibrate_decoder(self, X, y, n_bins=n_bins)

    def explain(self, img: Any, term: str, **kwargs: Any) -> Any:
        """Contribution of each region of ``img`` to the score of ``term``.

        Integrated gradients through the image tower, checked for completeness;
        see :func:`~brainlm_decode.decode.explain.explain_term` for the options.

        Returns
        -------
        Explanation
            Unpacks as ``(img, table)``: a Nifti map and the top regions.
        """
        from brainlm_decode.decode.explain import explain_term

        check_is_fitted(self, "model_")
        return explain_term(self, img, term, **kwargs)

    def report(self, img: Any, path: Any = None, **kwargs: Any) -> Any:
        """Self-contained HTML report of the decoding of ``img`` (opens offline).

        See :func:`~brainlm_decode.report.html.build_report` for the options.

        Returns
        -------
        str or Path
            The HTML text, or the file written when ``path`` is given.
        """
        from brainlm_decode.report.html import build_report, write_report

        check_is_fitted(self, "model_")
        if path is None:
            return build_report(self, img, **kwargs)
        return write_report(self, img, path, **kwargs)

    def decode_many(self, inputs: Any, out: Any = None, **kwargs: Any) -> Any:
        """Decode many maps (files, folders, globs) into one long table.

        Parallel (joblib), resumable by file sha256 when ``out`` is given, per-map
        errors recorded; see :func:`~brainlm_decode.decode.batch.decode_many`.

        Returns
        -------
        DataFrame
        """
        from brainlm_decode.decode.batch import decode_many

        check_is_fitted(self, "model_")
        return decode_many(self, inputs, out, **kwargs)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted decoder to a folder (safetensors + JSON, atomic).

        Parameters
        ----------
        path : str or path-like
            Destination folder.
        overwrite : bool, default=False
            Replace an existing folder (only once the new one is complete).

        Returns
        -------
        Path
            The folder written.
        """
        from brainlm_decode.decode.persistence import save_decoder

        check_is_fitted(self, "model_")
        return save_decoder(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CLIPDecoder:
        """Read a decoder written by :meth:`save` (format version checked).

        Parameters
        ----------
        path : str or path-like
            Folder written by :meth:`save`.

        Returns
        -------
        CLIPDecoder
        """
        from brainlm_decode.decode.persistence import load_decoder

        return load_decoder(cls, path)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike | None = None
    ) -> CLIPDecoder:
        """Load a pretrained decoder by name (packaged bundles) or from a folder.

        Parameters
        ----------
        name_or_path : str, path-like or None, default=None
            A bundle name from :func:`~brainlm_decode.decode.list_pretrained` or
            a folder written by :meth:`save`; ``None`` is the default bundle
            shipped with the package (NeuroQuery, Cognitive Atlas, MiniLM).

        Returns
        -------
        CLIPDecoder
        """
        from brainlm_decode.decode.persistence import resolve_pretrained

        return cls.load(resolve_pretrained(name_or_path))
