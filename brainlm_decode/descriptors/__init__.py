"""fMRI-LM descriptors of resting-state fMRI: numbers, norms and text.

- :class:`ROITimeSeriesPreprocessor`: the preprocessing contract (resampling,
  length, robust z-score, site-wise variance normalisation), defined in the
  time-series layer (:mod:`brainlm_decode.timeseries`) and re-exported here.
- Descriptor families (``brainlm_decode.descriptors`` plugins):
  :class:`FunctionalConnectivity`, :class:`FunctionalGradients`,
  :class:`GraphMetrics`, :class:`ICADescriptors`.
- :class:`NormativeModel`: z-scores against training subjects only.
- :class:`FMRIDescriptorTransformer`: everything together, as z-scores and text.

Names are imported on first access so that ``import brainlm_decode.descriptors``
stays light.
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "ROITimeSeriesPreprocessor": "brainlm_decode.timeseries.preprocessing",
    "resample_timeseries": "brainlm_decode.timeseries.preprocessing",
    "ATLAS_NAMES": "brainlm_decode.timeseries.preprocessing",
    "Descriptor": "base",
    "FunctionalConnectivity": "connectivity",
    "networks_from_labels": "connectivity",
    "networks_from_yeo_image": "connectivity",
    "FunctionalGradients": "gradients",
    "GraphMetrics": "graph",
    "ICADescriptors": "ica",
    "NormativeModel": "normative",
    "FMRIDescriptorTransformer": "transformer",
    "describe_z": "templates",
    "render_descriptor_text": "templates",
    "render_subject_text": "templates",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "Descriptor",
    "FMRIDescriptorTransformer",
    "FunctionalConnectivity",
    "FunctionalGradients",
    "GraphMetrics",
    "ICADescriptors",
    "NormativeModel",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
