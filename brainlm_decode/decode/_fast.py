"""The decoder's fast path from one brain map to its image embedding.

:func:`~brainlm_decode.decode._inputs.prepare_maps` followed by
:meth:`ImageSpace.transform_imgs <brainlm_decode.imaging.spaces.ImageSpace.
transform_imgs>` builds three volumes per map (the map on the space's grid, the
cleaned map, the masked float64 copy) and reads the input several times. Here a
map is read once, checked with two reductions (finite? which signs?) and the
cheap coverage test, and only the mask voxels are computed: the cached
:class:`~brainlm_decode.imaging.resampling.GridResampler` gives their values
directly, :func:`~brainlm_decode.imaging.maps.clean_values` cleans them and the
projector projects them. Every cast of the reference path is kept (float32 after
resampling and after cleaning), so the embedding is the same to rounding.

Anything unusual (NaN or infinite values, a map the coverage check has
something to say about, a missing tail, integer data, rotated grids, several
volumes) returns ``None``: the caller then takes the reference path, which
gives the error or warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fast_embedding(img: Any, decoder: Any) -> np.ndarray | None:
    """Image embedding of one map as the reference path gives it, or None.

    Parameters
    ----------
    img : niimg-like
        One brain map.
    decoder : CLIPDecoder
        The fitted decoder (its ``image_space_`` and decoding options).

    Returns
    -------
    ndarray of shape (1, n_regions), float32, or None
        ``None`` when the map needs the reference path.
    """
    from brainlm_decode.imaging.atlas import load_niimg

    try:
        loaded = load_niimg(img, "imgs")
    except (TypeError, ValueError):
        return None  # the reference path raises the error, naming the map
    shape = loaded.shape
    if len(shape) == 4 and shape[3] != 1 or len(shape) not in (3, 4):
        return None
    data = np.asanyarray(loaded.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    if data.size == 0 or not np.issubdtype(data.dtype, np.floating):
        return None
    low, high = float(data.min()), float(data.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        return None  # NaN or inf: the reference path warns and replaces them
    if decoder.tail in ("positive", "negative"):
        from brainlm_decode.decode._inputs import keeps_positive

        if not (
            high > 0 if keeps_positive(decoder.tail, decoder.flip_sign) else low < 0
        ):
            return None  # no value of the kept sign: the reference path raises
    space = decoder.image_space_
    from brainlm_decode.imaging.coverage import coverage_is_clean

    if not coverage_is_clean(loaded, space.mask_img_, data):
        return None
    values = _mask_values(space, loaded, data, low, high)
    if values is None:
        return None
    values, peak = values
    from brainlm_decode.imaging.maps import clean_values, safe_scale

    percentile = decoder.percentile
    try:
        values = clean_values(
            safe_scale(values, peak),
            tail=decoder.tail,
            flip_sign=bool(decoder.flip_sign),
            percentile=None if percentile is None else float(percentile),
            binarize=False,
            masked=True,
        )
    except ValueError:
        return None  # an empty map: the reference path raises, naming the map
    # prepare_map returns float32; transform_imgs reads it back as float64
    values = values.astype(np.float32).astype(np.float64)
    return space.projector_.project(values[None, :]).astype(np.float32)


def _mask_values(
    space: Any, img: Any, data: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, float] | None:
    """float64 values of the mask voxels (C order) as the reference path reads
    them, and the largest magnitude of the map it cleans; None if it resamples
    with nilearn."""
    from brainlm_decode.imaging.atlas import same_grid

    mask = _mask_index(space)
    if same_grid(img, space.mask_img_):
        order = "F" if data.flags.f_contiguous and not data.flags.c_contiguous else "C"
        values = data.reshape(-1, order=order)[mask[order]].astype(np.float64)
        return values, max(abs(low), abs(high))
    resampler = space._resampler_for(img, True)
    if resampler is None:
        return None
    values = resampler.resample_masked(data)
    if not np.isfinite(values).all():
        return None
    space._warn_resampled(img)
    # resample_to_grid's image dtype; other voxels are 0
    dtype = np.result_type(data.dtype, np.float32)
    values = values.astype(dtype).astype(np.float64)
    return values, float(np.abs(values).max(initial=0.0))


def _mask_index(space: Any) -> dict[str, np.ndarray]:
    """Offsets of the mask voxels (C order of the mask) in C- and F-order flat
    arrays, cached on the space."""
    cache = space.__dict__.get("_mask_index")
    if cache is None or cache[0] is not space.mask_img_:
        mask = np.asanyarray(space.mask_img_.dataobj) > 0
        flat = np.flatnonzero(mask)
        index = {
            "C": flat,
            "F": np.ravel_multi_index(
                np.unravel_index(flat, mask.shape), mask.shape, order="F"
            ),
        }
        cache = (space.mask_img_, index)
        space.__dict__["_mask_index"] = cache
    return cache[1]
