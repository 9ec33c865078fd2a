"""Loading Hugging Face checkpoints for the text encoders (offline-aware).

:func:`load_hf_backbone` returns a tokenizer and the model that gives hidden
states: the base model of a causal LM (no language-model head), the encoder of an
encoder-decoder, the model itself for an encoder. A checkpoint that is neither a
local folder nor in the Hugging Face cache gives a :class:`FileNotFoundError`
naming the id, the cache folder and how to place the weights by hand.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "context_length",
    "dtype_kwargs",
    "is_causal_lm",
    "load_hf_backbone",
    "missing_model_error",
    "source_id",
]

_SANE_MAX_LENGTH = 1_000_000  # tokenizers without a limit report ~1e30


def source_id(value: Any) -> str:
    """A model id as given, or the absolute path of an existing local folder.

    Parameters
    ----------
    value : str or os.PathLike
        Hugging Face model id or folder.

    Returns
    -------
    str
        The id used in cache keys and messages.
    """
    text = os.fspath(value)
    return os.path.abspath(text) if os.path.isdir(text) else text


def context_length(config: Any, tokenizer: Any) -> int | None:
    """The largest number of tokens the model accepts, when known.

    Parameters
    ----------
    config : transformers.PretrainedConfig
        Model configuration (``max_position_embeddings``, ``n_positions``...).
    tokenizer : transformers tokenizer
        Its ``model_max_length`` counts when it is a real limit.

    Returns
    -------
    int or None
        The smaller of the known limits, or None when none is known.
    """
    limits = []
    for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < _SANE_MAX_LENGTH:
        limits.append(value)
    return min(limits) if limits else None


def dtype_kwargs(torch_dtype: str | None) -> dict[str, Any]:
    """Keyword arguments of ``from_pretrained`` for a dtype name.

    Parameters
    ----------
    torch_dtype : str or None
        ``"float32"``, ``"bfloat16"``, ``"auto"``... or ``None``.

    Returns
    -------
    dict
    """
    import torch
    import transformers

    if torch_dtype == "auto":
        value: Any = "auto"
    else:
        value = getattr(torch, torch_dtype or "float32")
    major = int(transformers.__version__.split(".")[0])
    return {"dtype": value} if major >= 5 else {"torch_dtype": value}


def is_causal_lm(config: Any) -> bool:
    """Whether a Hugging Face config describes a causal (decoder) language model.

    Parameters
    ----------
    config : transformers.PretrainedConfig

    Returns
    -------
    bool
    """
    names = getattr(config, "architectures", None) or []
    return any(n.endswith(("ForCausalLM", "LMHeadModel")) for n in names) or bool(
        getattr(config, "is_decoder", False)
    )


def load_hf_backbone(
    source: str, *, adapter: str | None = None, torch_dtype: str | None = None
) -> tuple[Any, Any]:
    """Load a tokenizer and the hidden-state model of a Hugging Face checkpoint.

    Parameters
    ----------
    source : str
        Model id or local folder.
    adapter : str or None, default=None
        peft adapter id or folder, applied and merged.
    torch_dtype : {"float32", "float16", "bfloat16", "auto"} or None
        Weight dtype (None is float32).

    Returns
    -------
    tokenizer, model
        The tokenizer and the base model returning hidden states (for a causal LM,
        the decoder without its head; for an encoder-decoder, the encoder).

    Raises
    ------
    FileNotFoundError
        When the model or adapter is not available locally and cannot be
        downloaded; the message says how to place the files by hand.
    ImportError
        When ``adapter`` is given and peft is not installed.
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    kwargs = dtype_kwargs(torch_dtype)
    if os.path.isdir(source) and not os.path.isfile(
        os.path.join(source, "config.json")
    ):
        raise missing_model_error(
            source, FileNotFoundError("no config.json in the folder"), what="model"
        )
    try:
        config = AutoConfig.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
        causal = is_causal_lm(config)
        loader = AutoModelForCausalLM if (adapter and causal) else AutoModel
        model = loader.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise missing_model_error(source, exc, what="model") from exc
    if adapter is not None:
        model = _apply_adapter(model, adapter)
    if getattr(config, "is_encoder_decoder", False):
        model = model.get_encoder()
    model = getattr(model, "base_model", model)
    if hasattr(model, "config"):
        model.config.use_cache = False
    return tokenizer, model


def _apply_adapter(model: Any, adapter: str) -> Any:
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise ImportError(
            "The 'adapter' parameter needs peft, which comes with the optional "
            "extra 'llm': `pip install 'brainlm_decode[llm]'`."
        ) from exc
    try:
        peft_model = PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError) and "adapter_config" not in str(exc):
            raise
        raise missing_model_error(adapter, exc, what="peft adapter") from exc
    try:
        return peft_model.merge_and_unload()
    except (AttributeError, NotImplementedError, ValueError):
        return peft_model.get_base_model()


def missing_model_error(source: str, exc: BaseException, *, what: str) -> OSError:
    """A FileNotFoundError naming the id, the cache and the manual fix.

    Parameters
    ----------
    source : str
        Model id or folder.
    exc : BaseException
        The error raised by ``from_pretrained``.
    what : str
        What was being loaded (e.g. ``"backbone"``).

    Returns
    -------
    OSError
    """
    try:
        from huggingface_hub import constants

        cache = constants.HF_HUB_CACHE
        offline = bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - a transformers dependency
        cache, offline = "~/.cache/huggingface/hub", False
    if os.path.isdir(source):
        return FileNotFoundError(
            f"The folder {source!r} is not a complete Hugging Face {what}: it needs "
            "config.json (adapter_config.json for an adapter), the tokenizer files "
            f"and the weights (*.safetensors or *.bin). Original error: {exc}"
        )
    mode = " and downloads are disabled (HF_HUB_OFFLINE=1)" if offline else ""
    cache_name = "models--" + source.replace("/", "--")
    return FileNotFoundError(
        f"The Hugging Face {what} {source!r} could not be loaded: it is not a local "
        f"folder and not in the Hugging Face cache {cache}{mode}. To place the "
        "weights by hand: on a machine with internet run "
        f"`huggingface-cli download {source} --local-dir <folder>` (or "
        f"`git clone https://huggingface.co/{source}`), copy <folder> to this "
        "machine and pass its path instead of the id; or copy the cache folder "
        f"{cache_name!r} into {cache}. Original error: {type(exc).__name__}: {exc}"
    )
