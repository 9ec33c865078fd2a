"""fMRI-LM stage 1: a text-aligned tokenizer of ROI time series.

- :class:`FMRITokenizer`: the scikit-learn transformer (``fit``, ``transform`` to
  token ids, ``encode`` to continuous features, ``inverse_transform``,
  ``save``/``load``).
- Quantizers (``brainlm_decode.quantizers`` plugins), one call contract
  ``quantized, indices, aux_loss = q(x)``: :class:`VectorQuantizer` (``"vq"``)
  and :class:`FiniteScalarQuantizer` (``"fsq"``).
- :class:`TokenizerModel`: encoder over (ROI x temporal patch) tokens, quantizer,
  light decoder, alignment heads.
- Alignment pieces: :func:`grad_reverse` / :class:`GradientReversal` with
  :func:`grl_schedule`, :class:`DomainDiscriminator`, :class:`SigLIPLoss` /
  :func:`siglip_loss`.

Names are imported on first access, so that ``import brainlm_decode.tokenizer``
does not import torch.
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "FMRITokenizer": "estimator",
    "available_pretrained_tokenizers": "pretrained",
    "load_pretrained_tokenizer": "pretrained",
    "pretrained_tokenizer_info": "pretrained",
    "TokenizerModel": "model",
    "SIZES": "model",
    "resolve_size": "model",
    "patchify": "model",
    "unpatchify": "model",
    "Quantizer": "quantizers",
    "VectorQuantizer": "quantizers",
    "FiniteScalarQuantizer": "quantizers",
    "codebook_usage": "quantizers",
    "spherical_kmeans": "quantizers",
    "GradientReversal": "alignment",
    "grad_reverse": "alignment",
    "grl_schedule": "alignment",
    "DomainDiscriminator": "alignment",
    "adversarial_loss": "alignment",
    "SigLIPLoss": "alignment",
    "siglip_loss": "alignment",
    "train_tokenizer": "train",
    "save_tokenizer": "serialization",
    "load_tokenizer": "serialization",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "FMRITokenizer",
    "FiniteScalarQuantizer",
    "Quantizer",
    "VectorQuantizer",
    "available_pretrained_tokenizers",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
