"""Text encoders (plugins), token chunking and the on-disk embedding cache.

Encoders turn texts into one float32 vector each (not normalised)::

    from brainlm_decode.text import MiniLMEncoder
    vectors = MiniLMEncoder(cache_dir="embeddings").encode(["n-back task"])

Plugins of the ``brainlm_decode.text_encoders`` entry-point group:

========================  ===============================================  ==========
name                      class                                            extra
========================  ===============================================  ==========
``"minilm"`` (default)    :class:`MiniLMEncoder` (all-MiniLM-L6-v2, 384-d)
``"hf"``                  :class:`HFEncoder` (any Hugging Face model)
``"gemma-3-270m"``        :class:`GemmaEncoder` (Gemma-3-270M, 640-d)      ``llm``
========================  ===============================================  ==========

Names are imported lazily: ``import brainlm_decode.text`` loads neither torch nor
transformers.
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY_NAMES: dict[str, str] = {
    "TextEncoder": "brainlm_decode.text.encoders",
    "MiniLMEncoder": "brainlm_decode.text.encoders",
    "HFEncoder": "brainlm_decode.text.encoders",
    "load_hf_backbone": "brainlm_decode.text.hf",
    "GemmaEncoder": "brainlm_decode.text.gemma",
    "convert_gemma_gguf": "brainlm_decode.text.gemma",
    "EmbeddingCache": "brainlm_decode.text.cache",
    "EmbeddingCacheWarning": "brainlm_decode.text.cache",
    "text_key": "brainlm_decode.text.cache",
    "check_texts": "brainlm_decode.text.chunking",
    "chunk_token_ids": "brainlm_decode.text.chunking",
    "special_tokens_template": "brainlm_decode.text.chunking",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "EmbeddingCache",
    "GemmaEncoder",
    "HFEncoder",
    "MiniLMEncoder",
    "TextEncoder",
]

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
