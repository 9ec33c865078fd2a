"""Input maps for decoding: tails, sign flips, top-percentile ROIs, binary masks.

NiCLIP decodes group maps, subject maps and ROI masks. :func:`prepare_map` cleans
one map before it is projected on an image space: non-finite values, which tail
of the distribution to keep, an optional sign flip, an optional top-percentile
ROI and binarisation, with a clear error for every map that would decode to
nothing.
"""

from __future__ import annotations

import warnings
from typing import Any

import nibabel as nib
import numpy as np

from brainlm_decode.base import Interval, Options, validate_params
from brainlm_decode.imaging.atlas import (
    AtlasWarning,
    load_niimg,
    same_grid,
    user_stacklevel,
)

__all__ = ["prepare_map"]


def _as_3d(img: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Data, affine and header of a 3D image (4D with one volume accepted)."""
    img = load_niimg(img, "img")
    shape = img.shape
    if len(shape) == 4:
        if shape[3] != 1:
            raise ValueError(
                f"The 'img' argument must be one 3D map. Got a 4D image with "
                f"{shape[3]} volumes; select one with "
                "nilearn.image.index_img(img, i)."
            )
        data = np.asarray(img.dataobj, dtype=np.float64)[..., 0]
    elif len(shape) == 3:
        data = np.asarray(img.dataobj, dtype=np.float64)
    else:
        raise ValueError(
            f"The 'img' argument must be a 3D map. Got an image of shape {shape}."
        )
    return data, img.affine, img


def _mask_for(mask_img: Any, img: Any) -> np.ndarray | None:
    if mask_img is None:
        return None
    mask = load_niimg(mask_img, "mask_img")
    if not same_grid(mask, img):  # e.g. the atlas mask for a map in another grid
        from nilearn.image import resample_to_img

        mask = resample_to_img(
            mask, img, interpolation="nearest", force_resample=True, copy_header=True
        )
    data = np.asanyarray(mask.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    return data != 0


def prepare_map(
    img: Any,
    *,
    tail: str = "positive",
    flip_sign: bool = False,
    percentile: float | None = None,
    binarize: bool = False,
    mask_img: Any = None,
) -> nib.Nifti1Image:
    """Clean a brain map before decoding.

    Steps, in order: NaN/inf become 0 (with a warning), a map whose largest
    magnitude is above 1e30 or below 1e-30 is rescaled to a maximum of 1 (float32
    could not hold it; decoding does not depend on the scale), voxels outside
    ``mask_img`` become 0, the sign is flipped (``flip_sign``), one tail is kept
    (``tail``), the top ``percentile`` % voxels are kept as a binary ROI, the map is
    binarised (``binarize``). A binary 0/1 map (an ROI mask) is returned as is
    (after masking).

    Parameters
    ----------
    img : niimg-like
        One 3D map (a 4D image with a single volume is accepted).
    tail : {"positive", "negative", "both", "abs"}, default="positive"
        ``"positive"``: keep values > 0. ``"negative"``: keep values < 0, returned
        as positive magnitudes (decode the deactivations). ``"both"``: keep the
        signed map. ``"abs"``: absolute values.
    flip_sign : bool, default=False
        Multiply the map by -1 first (for contrasts written the other way round).
    percentile : float in (0, 100] or None, default=None
        Keep the ``percentile`` % of non-zero voxels with the highest value (of
        the magnitude for ``tail="both"``) as a binary ROI; e.g. 10 keeps the top
        10 %. Ties at the threshold are kept.
    binarize : bool, default=False
        Turn every non-zero voxel into 1.
    mask_img : niimg-like or None, default=None
        Voxels outside it are set to 0 (resampled to the grid of ``img``, nearest
        neighbour, when needed).

    Returns
    -------
    img : nibabel.Nifti1Image
        The cleaned 3D map, float32, same grid as ``img``.

    Raises
    ------
    ValueError
        A 4D image with several volumes; a map that is all NaN; a map that is
        empty (all zero) before or after thresholding; an all-negative map with
        ``tail="positive"`` (use ``flip_sign=True`` or ``tail="negative"``).
    TypeError
        ``img`` is not niimg-like.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> data = np.zeros((4, 4, 4)); data[1, 1, 1] = 3.0; data[2, 2, 2] = -1.0
    >>> out = prepare_map(nib.Nifti1Image(data, np.eye(4)))
    >>> float(out.get_fdata().sum())
    3.0
    """
    validate_params(
        "prepare_map",
        {
            "tail": tail,
            "flip_sign": flip_sign,
            "percentile": percentile,
            "binarize": binarize,
        },
        {
            "tail": [Options("positive", "negative", "both", "abs")],
            "flip_sign": [bool],
            "percentile": [None, Interval(float, 0, 100, closed="right")],
            "binarize": [bool],
        },
        kind="argument",
    )
    data, affine, source = _as_3d(img)
    finite = np.isfinite(data)
    if not finite.any():
        raise ValueError("The 'img' argument contains only NaN or infinite values.")
    if not finite.all():
        warnings.warn(
            f"The 'img' argument has {int((~finite).sum())} NaN or infinite "
            "value(s); they are replaced by 0.",
            AtlasWarning,
            stacklevel=user_stacklevel(),
        )
        data = np.where(finite, data, 0.0)
    data = safe_scale(data)
    mask = _mask_for(mask_img, source)
    if mask is not None:
        data = np.where(mask, data, 0.0)
    data = clean_values(
        data,
        tail=tail,
        flip_sign=flip_sign,
        percentile=percentile,
        binarize=binarize,
        masked=mask is not None,
    )
    return _to_img(data, affine)


def clean_values(
    data: np.ndarray,
    *,
    tail: str,
    flip_sign: bool,
    percentile: float | None,
    binarize: bool,
    masked: bool,
) -> np.ndarray:
    """The steps of :func:`prepare_map` after masking, on any array of values.

    The decoder's fast path runs them on the mask voxels only (a vector), the
    same operations as on the masked volume: each step is voxel-wise or depends
    on the non-zero values only.

    Parameters
    ----------
    data : ndarray, float64
        Finite values, already rescaled and masked.
    tail, flip_sign, percentile, binarize
        As in :func:`prepare_map` (already validated).
    masked : bool
        Whether a mask was applied (for the message of an empty map).

    Returns
    -------
    ndarray, float64
        The cleaned values, same shape.
    """
    if not data.any():
        raise ValueError(
            "The 'img' argument is empty: all its voxels are 0"
            + (" inside 'mask_img'." if masked else ".")
        )
    # a binary ROI mask (every non-zero value is 1; its maximum is then 1): as is
    if data.max() == 1 and np.all(data[data != 0] == 1):
        return data
    if flip_sign:
        data = -data
    data = _keep_tail(data, tail)
    if percentile is not None:
        data = _top_percentile(data, float(percentile))
    if binarize:
        data = (data != 0).astype(np.float64)
    if not data.any():
        raise ValueError(
            f"The map is empty after thresholding (tail={tail!r}, "
            f"percentile={percentile!r}): no voxel is left."
        )
    return data


def safe_scale(data: np.ndarray, peak: float | None = None) -> np.ndarray:
    """Rescale to a maximum magnitude of 1 when float32 cannot hold the map.

    Decoding is invariant to the scale of a map; a map beyond 1e30 (or with all
    magnitudes below 1e-30) would overflow or underflow in float32.

    Parameters
    ----------
    data : ndarray
        The map's values (a volume, or the mask voxels of one).
    peak : float or None, default=None
        The largest magnitude of the whole map when already known (the decoder's
        fast path passes it with the mask voxels only); computed from ``data``
        otherwise.

    Returns
    -------
    ndarray
        ``data``, divided by ``peak`` when float32 could not hold it.
    """
    peak = float(np.abs(data).max()) if peak is None else float(peak)
    if peak > 1e30 or 0 < peak < 1e-30:
        return data / peak
    return data


def _keep_tail(data: np.ndarray, tail: str) -> np.ndarray:
    if tail == "positive":
        keep = data > 0
        if not keep.any():
            raise ValueError(
                "The map has no positive value, so tail='positive' leaves it empty. "
                "If its effects are negative, pass flip_sign=True or "
                "tail='negative' (or tail='both'/'abs')."
            )
        return np.where(keep, data, 0.0)
    if tail == "negative":
        keep = data < 0
        if not keep.any():
            raise ValueError(
                "The map has no negative value, so tail='negative' leaves it empty; "
                "use tail='positive'."
            )
        return np.where(keep, -data, 0.0)
    if tail == "abs":
        return np.abs(data)
    return data


def _top_percentile(data: np.ndarray, percentile: float) -> np.ndarray:
    magnitude = np.abs(data)
    values = magnitude[magnitude > 0]
    threshold = np.percentile(values, 100.0 - percentile, method="higher")
    return (magnitude >= threshold).astype(np.float64) * (magnitude > 0)


def _to_img(data: np.ndarray, affine: np.ndarray) -> nib.Nifti1Image:
    img = nib.Nifti1Image(data.astype(np.float32), affine)
    img.header.set_data_dtype(np.float32)
    return img
