"""fMRI-LM descriptors of resting-state fMRI: numbers, norms and text.

- :class:`ROITimeSeriesPreprocessor`: the preprocessing contract (resampling,
  length, robust z-score, site-wise variance normalisation).
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
    "ROITimeSeriesPreprocessor": "preprocessing",
    "resample_timeseries": "preprocessing",
    "ATLAS_NAMES": "preprocessing",
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

__all__ = sorted(_LAZY)

__getattr__, __dir__ = attach(__name__, _LAZY)
