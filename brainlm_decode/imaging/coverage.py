"""Is a map in the space of the decoder? Share of its voxels inside the brain mask.

A map with a wrong affine (an identity affine, a map in native space, a map
shifted by centimetres) still resamples onto the MNI grid, and the part that
lands in the brain decodes to a confident but meaningless answer. The check
here maps the non-zero voxels of the map to the grid of the brain mask (world
coordinates through both affines) and measures the share that falls inside it.
"""

from __future__ import annotations

import warnings
import weakref
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
    data, mask, to_mask = _grids(img, mask_img)
    nonzero = np.isfinite(data) & (data != 0)
    return _coverage(nonzero, img, mask_img, mask, to_mask, need_covered=True)


def _coverage(
    nonzero: np.ndarray,
    img: Any,
    mask_img: Any,
    mask: np.ndarray,
    to_mask: np.ndarray,
    *,
    need_covered: bool,
) -> tuple[float, float, int]:
    """:func:`map_coverage` from the non-zero voxels; ``covered`` is NaN when not
    ``need_covered`` and the map is mostly inside (then it decides nothing)."""
    n_nonzero = int(np.count_nonzero(nonzero))
    if not n_nonzero:
        return 0.0, 0.0, 0
    axes = _axis_indices(nonzero.shape, mask, to_mask)
    if axes is None:  # rotated or sheared grids: voxel by voxel
        hits = _mask_hits(nonzero, mask, to_mask)
        inside = len(hits) / n_nonzero
        seen = np.zeros(mask.size, dtype=bool)  # distinct mask voxels hit (np.unique
        seen[np.ravel_multi_index(hits.T, mask.shape)] = True  # is 50x slower)
        touched = int(np.count_nonzero(seen))
    else:  # per-axis scaling and shift: the same numbers, axis by axis
        # Fortran-ordered data (NIfTI files): work on the transpose, C-ordered
        transposed = nonzero.flags.f_contiguous and not nonzero.flags.c_contiguous
        box, view, poolers = _cached_mask_on_map_grid(
            mask_img, mask, img, axes, transposed
        )
        # outside the bounding box of the mask's view no voxel can hit it
        hit = (nonzero.T if transposed else nonzero)[box] & view
        inside = int(np.count_nonzero(hit)) / n_nonzero
        if not need_covered and inside >= WARN_COVERAGE:
            return inside, float("nan"), n_nonzero
        touched = int(np.count_nonzero(_pool(hit, poolers)))
    # a map coarser than the mask touches fewer mask voxels: scale by voxel volumes
    ratio = abs(
        np.linalg.det(img.affine[:3, :3]) / np.linalg.det(mask_img.affine[:3, :3])
    )
    covered = min(1.0, touched * max(ratio, 1.0) / max(int(mask.sum()), 1))
    return inside, covered, n_nonzero


#: mask image -> {(map shape, map affine): the mask seen from the map's voxels};
#: weak keys: an entry lives as long as its image space's mask.
_MASK_VIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_mask_on_map_grid(
    mask_img: Any, mask: np.ndarray, img: Any, axes: list, transposed: bool = False
) -> tuple[tuple[slice, ...], np.ndarray, list]:
    """:func:`_view_and_poolers`, cached per mask image and map grid."""
    key = (
        tuple(img.shape[:3]),
        np.asarray(img.affine, dtype=np.float64).tobytes(),
        transposed,
    )
    try:
        views = _MASK_VIEWS.setdefault(mask_img, {})
    except TypeError:  # not weak-referenceable: no cache
        return _view_and_poolers(mask, axes, transposed)
    if key not in views:
        if len(views) >= 8:  # a few input grids per space (1, 2, 3 mm ...)
            views.pop(next(iter(views)))
        views[key] = _view_and_poolers(mask, axes, transposed)
    return views[key]


def _view_and_poolers(
    mask: np.ndarray, axes: list, transposed: bool
) -> tuple[tuple[slice, ...], np.ndarray, list]:
    """The bounding box of the mask seen from the map's voxels, that view cropped
    to it (C-ordered) and the per-axis poolers of the box; the map's axes
    reversed when ``transposed`` (a Fortran-ordered map read as its transpose)."""
    view = _mask_on_map_grid(mask, axes)
    if transposed:
        view, axes = view.T, axes[::-1]
    from brainlm_decode.imaging.resampling import bounding_box

    # an empty view (the mask is outside the map's field of view): an empty box
    box = bounding_box(view) or (slice(0, 0),) * 3
    cropped = [(index[rows], None) for (index, _), rows in zip(axes, box, strict=True)]
    return box, np.ascontiguousarray(view[box]), _poolers(cropped)


def _poolers(axes: list[tuple[np.ndarray, Any]]) -> list:
    """Per axis, None (one map voxel per mask index) or the index arrays whose
    ``take`` ORed together merge the map voxels sharing a mask index.

    Map voxels with the same mask index along an axis are contiguous (the index
    is monotone): with runs ``[start, end)`` of at most ``w`` voxels, the OR of
    ``take(min(start + k, end - 1))`` for ``k < w`` is the OR over each run
    (``numpy.logical_or.reduceat``, several times faster).
    """
    poolers = []
    for index, _ in axes:
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        if len(starts) >= len(index):  # (an empty box has one start)
            poolers.append(None)
            continue
        ends = np.r_[starts[1:], len(index)]
        width = int((ends - starts).max())
        poolers.append([np.minimum(starts + k, ends - 1) for k in range(width)])
    return poolers


def _pool(hit: np.ndarray, poolers: list) -> np.ndarray:
    """``hit`` (C-ordered) with the map voxels of each mask voxel merged (OR)."""
    for axis, takes in enumerate(poolers):
        if takes is None:
            continue
        if axis == hit.ndim - 1:  # gathers along the contiguous axis are slow:
            hit, axis = np.ascontiguousarray(np.moveaxis(hit, axis, 0)), 0  # slabs
        pooled = hit.take(takes[0], axis=axis)
        for take in takes[1:]:
            pooled |= hit.take(take, axis=axis)
        hit = pooled
    return hit


def _grids(img: Any, mask_img: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    mask = np.asanyarray(mask_img.dataobj) != 0
    if mask.ndim == 4:
        mask = mask[..., 0]
    return data, mask, np.linalg.inv(mask_img.affine) @ img.affine


def _axis_indices(
    shape: tuple[int, ...], mask: np.ndarray, to_mask: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per axis, the mask index of every map index (nearest voxel centre) and
    whether it is inside the mask grid, when the grids differ by a per-axis
    scaling and shift (every MNI grid); else None."""
    linear = to_mask[:3, :3]
    if np.any(linear[~np.eye(3, dtype=bool)] != 0):
        return None
    axes = []
    for axis in range(3):
        index = np.rint(linear[axis, axis] * np.arange(shape[axis]) + to_mask[axis, 3])
        index = index.astype(np.int64)
        axes.append((index, (index >= 0) & (index < mask.shape[axis])))
    return axes


def _mask_on_map_grid(
    mask: np.ndarray, axes: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """The mask seen from every voxel of the map (False outside the mask grid)."""
    clipped = [np.clip(i, 0, n - 1) for (i, _), n in zip(axes, mask.shape, strict=True)]
    (_, v0), (_, v1), (_, v2) = axes
    return mask[np.ix_(*clipped)] & v0[:, None, None] & v1[None, :, None] & v2


def _mask_hits(nonzero: np.ndarray, mask: np.ndarray, to_mask: np.ndarray):
    """Mask-grid indices of the non-zero map voxels whose centre is in the mask."""
    ijk = np.argwhere(nonzero)
    target = np.rint(ijk @ to_mask[:3, :3].T + to_mask[:3, 3]).astype(np.int64)
    in_grid = np.all((target >= 0) & (target < mask.shape), axis=1)
    hits = target[in_grid]
    return hits[mask[hits[:, 0], hits[:, 1], hits[:, 2]]]


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
    data, mask, to_mask = _grids(img, mask_img)
    nonzero = np.isfinite(data) & (data != 0)
    _check_field_of_view(img, argname, nonzero)
    inside, covered, n_nonzero = _coverage(
        nonzero, img, mask_img, mask, to_mask, need_covered=False
    )
    if n_nonzero == 0 or inside >= WARN_COVERAGE or covered >= 0.5:
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


def coverage_is_clean(img: Any, mask_img: Any, data: np.ndarray) -> bool:
    """Whether :func:`check_map_coverage` would pass ``img`` silently.

    The cheap test of the decoder's fast path: ``data`` (the map's 3D values,
    already loaded) must be finite. ``False`` means the full check has something
    to say (an error or a warning) and should be run.

    Parameters
    ----------
    img : nibabel image
        The 3D map (its shape and affine are used).
    mask_img : nibabel image
        The brain mask.
    data : ndarray
        The finite values of ``img``.

    Returns
    -------
    bool
    """
    nonzero = data != 0
    zooms = np.sqrt((np.asarray(img.affine)[:3, :3] ** 2).sum(axis=0))
    if (zooms * np.asarray(img.shape[:3])).min() < MIN_EXTENT_MM:
        return False  # the field-of-view check may warn: let it
    mask = np.asanyarray(mask_img.dataobj) != 0
    if mask.ndim == 4:
        mask = mask[..., 0]
    to_mask = np.linalg.inv(mask_img.affine) @ img.affine
    inside, covered, n_nonzero = _coverage(
        nonzero, img, mask_img, mask, to_mask, need_covered=False
    )
    return n_nonzero == 0 or inside >= WARN_COVERAGE or covered >= 0.5


def _check_field_of_view(img: Any, argname: str, nonzero: np.ndarray) -> None:
    """Warn when the image is smaller than a brain but filled like a brain map."""
    zooms = np.sqrt((np.asarray(img.affine)[:3, :3] ** 2).sum(axis=0))
    extent = zooms * np.asarray(img.shape[:3])
    if extent.min() >= MIN_EXTENT_MM:
        return
    filled = float(np.mean(nonzero))
    if filled > 0.2:
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
