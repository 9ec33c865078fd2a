"""Is a map in the space of the decoder? Share of its voxels inside the brain mask.

A map with a wrong affine (an identity affine, a map in native space, a map
shifted by centimetres) still resamples onto the MNI grid, and the part that
lands in the brain decodes to a confident but meaningless answer. The check
here maps the non-zero voxels of the map to the grid of the brain mask (world
coordinates through both affines) and measures the share that falls inside it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from brainlm_decode.imaging.atlas import AtlasWarning, user_stacklevel

__all__ = ["check_map_coverage", "map_coverage"]

#: Below this share of non-zero voxels inside the mask: an error.
MIN_COVERAGE = 0.5
#: Below this share: a warning naming the share.
WARN_COVERAGE = 0.8


def map_coverage(img: Any, mask_img: Any) -> tuple[float, float, int]:
    """Share of a map's non-zero voxels inside a brain mask, and of the mask covered.

    Parameters
    ----------
    img : nibabel image
        A 3D map (4D: its first volume).
    mask_img : nibabel image
        The brain mask, in the space the map should be in.

    Returns
    -------
    inside : float
        Fraction of the non-zero finite voxels of ``img`` whose centre falls in
        ``mask_img`` (0 when there is none).
    covered : float
        Fraction of the voxels of ``mask_img`` that receive a non-zero voxel
        (about 1 for an unmasked map that fills the field of view).
    n_nonzero : int
        Number of non-zero finite voxels of ``img``.
    """
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    ijk = np.argwhere(np.isfinite(data) & (data != 0))
    if not len(ijk):
        return 0.0, 0.0, 0
    mask = np.asanyarray(mask_img.dataobj) != 0
    if mask.ndim == 4:
        mask = mask[..., 0]
    to_mask = np.linalg.inv(mask_img.affine) @ img.affine
    target = np.rint(ijk @ to_mask[:3, :3].T + to_mask[:3, 3]).astype(np.int64)
    in_grid = np.all((target >= 0) & (target < mask.shape), axis=1)
    hits = target[in_grid]
    in_mask = mask[hits[:, 0], hits[:, 1], hits[:, 2]]
    inside = float(in_mask.sum()) / len(ijk)
    seen = np.zeros(mask.size, dtype=bool)  # distinct mask voxels hit (np.unique
    seen[np.ravel_multi_index(hits[in_mask].T, mask.shape)] = True  # is 50x slower)
    touched = int(np.count_nonzero(seen))
    # a map coarser than the mask touches fewer mask voxels: scale by voxel volumes
    ratio = abs(
        np.linalg.det(img.affine[:3, :3]) / np.linalg.det(mask_img.affine[:3, :3])
    )
    covered = min(1.0, touched * max(ratio, 1.0) / max(int(mask.sum()), 1))
    return inside, covered, len(ijk)


def check_map_coverage(img: Any, mask_img: Any, argname: str = "imgs") -> None:
    """Refuse (or warn about) a map that lies mostly outside the brain mask.

    A map is refused when less than half of its non-zero voxels fall inside the
    mask, unless it covers most of the mask (an unmasked map that fills the field
    of view); it is accepted with a warning naming the share between 50 % and
    80 %.

    Parameters
    ----------
    img : nibabel image
        The map, before resampling.
    mask_img : nibabel image
        The brain mask of the image space (MNI152).
    argname : str, default="imgs"
        Argument name for messages.

    Raises
    ------
    ValueError
        When less than 50 % of the map's non-zero voxels lie inside the mask.

    Warns
    -----
    AtlasWarning
        When 50-80 % of them do.
    """
    inside, covered, n_nonzero = map_coverage(img, mask_img)
    _check_field_of_view(img, argname)
    if n_nonzero == 0 or covered >= 0.5 or inside >= WARN_COVERAGE:
        return
    where = (
        f"Only {inside:.0%} of the {n_nonzero} non-zero voxels of the {argname!r} "
        f"map fall inside the brain mask of the decoder's space (MNI152)"
    )
    center = img.affine[:3, :3] @ (np.asarray(img.shape[:3]) / 2) + img.affine[:3, 3]
    hint = (
        f"; the map's affine puts its centre at {np.round(center).tolist()} mm. "
        "Is the map in MNI space? Register it to MNI152 (e.g. with fMRIPrep or "
        "ANTs) or fix its affine."
    )
    if inside < MIN_COVERAGE:
        raise ValueError(where + " (expected at least 50 %)" + hint)
    warnings.warn(where + hint, AtlasWarning, stacklevel=user_stacklevel())


def _check_field_of_view(img: Any, argname: str) -> None:
    """Warn when the image is smaller than a brain but filled like a brain map."""
    zooms = np.sqrt((np.asarray(img.affine)[:3, :3] ** 2).sum(axis=0))
    extent = zooms * np.asarray(img.shape[:3])
    data = np.asanyarray(img.dataobj)
    filled = float(np.mean(np.isfinite(data) & (data != 0)))
    if extent.min() < MIN_EXTENT_MM and filled > 0.2:
        warnings.warn(
            f"The {argname!r} map fills {filled:.0%} of a field of view of only "
            f"{' x '.join(f'{e:.0f}' for e in extent)} mm (voxel size "
            f"{' x '.join(f'{z:g}' for z in zooms)} mm from its affine), smaller "
            "than a brain: is its affine right? Maps must be in MNI space.",
            AtlasWarning,
            stacklevel=user_stacklevel(),
        )


#: A whole-brain image spans at least this many millimetres along every axis.
MIN_EXTENT_MM = 100.0
