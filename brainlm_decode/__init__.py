"""brainlm_decode: brain-language models as scikit-learn estimators.

Two published methods that plug into NiMARE and nilearn:

- NiCLIP-style decoding of brain maps into Cognitive Atlas tasks, concepts and
  domains (:class:`CLIPDecoder`).
- fMRI-LM-style understanding of resting-state fMRI (descriptors, tokenizer and a
  language model tuned on fMRI tokens).

Submodules and public names are imported lazily so that ``import brainlm_decode``
stays fast: torch, transformers, NiMARE and scikit-learn load only when used.
"""

from __future__ import annotations

from brainlm_decode._lazy import attach
from brainlm_decode._version import __version__

# public name -> submodule that defines it
_LAZY_NAMES: dict[str, str] = {
    "BaseBrainLMEstimator": "brainlm_decode.base",
    "list_plugins": "brainlm_decode.plugins",
    "get_plugin": "brainlm_decode.plugins",
    "register_plugin": "brainlm_decode.plugins",
    "Collection": "brainlm_decode.collection",
    "load_collection": "brainlm_decode.collection",
    "CognitiveAtlas": "brainlm_decode.ontology",
    "CLIPDecoder": "brainlm_decode.decode.decoder",
    "FMRIDescriptorTransformer": "brainlm_decode.descriptors.transformer",
    "ROITimeSeriesPreprocessor": "brainlm_decode.timeseries.preprocessing",
    "FMRITokenizer": "brainlm_decode.tokenizer.estimator",
    "FMRILMClassifier": "brainlm_decode.lm.classifier",
    "FMRILMRegressor": "brainlm_decode.lm.classifier",
    "FMRILMFeatures": "brainlm_decode.lm.features",
    "HFBackbone": "brainlm_decode.lm.backbones",
    "compare_estimators": "brainlm_decode.evaluation.compare",
}

_SUBMODULES = (
    "base",
    "cli",
    "clip",
    "collection",
    "datasets",
    "decode",
    "descriptors",
    "evaluation",
    "imaging",
    "lm",
    "metrics",
    "ontology",
    "persistence",
    "plugins",
    "text",
    "timeseries",
    "tokenizer",
)

__all__ = ["__version__", *_LAZY_NAMES]  # submodules: attributes, not star-exported

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES, _SUBMODULES)
