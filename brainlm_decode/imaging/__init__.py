"""Image side of NiCLIP: MKDA maps, atlas projection, map preprocessing.

- :func:`mkda_map`, :func:`mkda_matrix`: MKDA modeled-activation maps from peak
  coordinates, equal to NiMARE's ``MKDAKernel`` voxel for voxel.
- :class:`AtlasProjector`, :func:`embed_coordinates`: projection on an atlas
  (least squares for maps as ``NiftiMapsMasker``, region means for labels as
  ``NiftiLabelsMasker``), factored once and applied to sparse MKDA maps at corpus
  scale.
- Image spaces (``brainlm_decode.image_spaces`` plugins): :class:`ImageSpace`,
  :class:`DiFuMoSpace`, :class:`MNIParcelSpace`, :class:`AtlasSpace`.
- :func:`prepare_map`: tails, sign flip, top-percentile ROI for maps to decode.

Names are imported lazily: ``import brainlm_decode.imaging`` loads neither
scikit-learn, nilearn nor NiMARE.
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY_NAMES: dict[str, str] = {
    "DEFAULT_RADIUS": "coordinates",
    "CoordinateWarning": "coordinates",
    "SphereGrid": "coordinates",
    "load_mni152_brain_mask": "coordinates",
    "mkda_map": "coordinates",
    "mkda_matrix": "coordinates",
    "prepare_coordinates": "coordinates",
    "sphere_offsets": "coordinates",
    "xyz_to_ijk": "coordinates",
    "AtlasProjector": "projection",
    "embed_coordinates": "projection",
    "AtlasWarning": "atlas",
    "make_mni_parcellation": "parcellation",
    "smooth_parcellation": "parcellation",
    "ImageSpace": "spaces",
    "AtlasSpace": "spaces",
    "DiFuMoSpace": "spaces",
    "MNIParcelSpace": "spaces",
    "prepare_map": "maps",
    "GridResampler": "resampling",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "AtlasSpace",
    "AtlasWarning",
    "CoordinateWarning",
    "DiFuMoSpace",
    "ImageSpace",
    "MNIParcelSpace",
    "mkda_map",
    "prepare_map",
]

__getattr__, __dir__ = attach(__name__, _LAZY_NAMES)
