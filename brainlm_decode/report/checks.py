"""Checks of an uploaded map before decoding: NIfTI, one 3D volume, MNI space.

The MNI test is :func:`brainlm_decode.imaging.coverage.map_coverage` (the
decoder's own coverage check) against a dilated MNI152 mask; only the error
type differs (:class:`MapCheckError`, shown on the web app's error page).
"""

from __future__ import annotations

import functools
import gzip
from typing import Any

import nibabel as nib
import numpy as np

__all__ = ["MapCheckError", "check_map", "load_map_bytes"]


class MapCheckError(ValueError):
    """A map that cannot be decoded (the message says why, for an error page)."""


def load_map_bytes(data: bytes, filename: str = "upload") -> nib.Nifti1Image:
    """A NIfTI image from the bytes of a ``.nii`` or ``.nii.gz`` file.

    Raises
    ------
    MapCheckError
        When the bytes are not a NIfTI-1/2 image.
    """
    if not data:
        raise MapCheckError(f"The file {filename!r} is empty.")
    try:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError) as exc:
        raise MapCheckError(f"The file {filename!r} is a broken gzip file.") from exc
    for cls in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            img = cls.from_bytes(raw)
            np.asanyarray(img.dataobj)  # force reading the data block
            return img
        except Exception:
            continue
    raise MapCheckError(
        f"The file {filename!r} is not a NIfTI image (.nii or .nii.gz): upload a "
        "statistical map in MNI space."
    )


def check_map(img: Any, *, min_mni_fraction: float = 0.5) -> nib.Nifti1Image:
    """Validate one brain map for decoding and return it as a 3D image.

    Parameters
    ----------
    img : niimg-like
        The map.
    min_mni_fraction : float, default=0.5
        Fraction of its non-zero voxels that must fall inside nilearn's MNI152
        brain mask (dilated by 2 voxels) for the map to count as MNI.

    Returns
    -------
    nibabel.Nifti1Image
        A 3D image (a 4D image with one volume is squeezed).

    Raises
    ------
    MapCheckError
        4D with several volumes, no finite non-zero value, or not in MNI space.
    """
    from brainlm_decode.imaging.atlas import load_niimg
    from brainlm_decode.imaging.coverage import map_coverage

    img = load_niimg(img, "img")
    data = np.asanyarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise MapCheckError(
            f"The map has shape {data.shape}: decode one 3D map at a time (a 4D "
            "image holds several volumes; split it first)."
        )
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), img.affine)
    fraction, _, n_nonzero = map_coverage(img, _dilated_mni_mask())
    if n_nonzero == 0:
        raise MapCheckError("The map has no finite non-zero value: nothing to decode.")
    if fraction < min_mni_fraction:
        raise MapCheckError(
            f"Only {100 * fraction:.0f}% of the map's non-zero voxels fall inside the "
            "MNI152 brain: the map does not look like it is in MNI space. Normalise "
            "it to MNI152 first."
        )
    return img


@functools.cache
def _dilated_mni_mask() -> nib.Nifti1Image:
    """nilearn's 2 mm MNI152 brain mask dilated by 2 voxels (loaded once)."""
    from nilearn.datasets import load_mni152_brain_mask
    from scipy import ndimage

    mask_img = load_mni152_brain_mask(resolution=2)
    mask = ndimage.binary_dilation(np.asanyarray(mask_img.dataobj) > 0, iterations=2)
    return nib.Nifti1Image(mask.astype(np.uint8), mask_img.affine)
