"""An offline MNI parcellation built by our own code, and its probabilistic version.

:func:`make_mni_parcellation` splits the grey matter of nilearn's bundled MNI152
2 mm grey-matter mask (within NiMARE's MNI152 2 mm brain mask, on its
91 x 109 x 91 grid) into compact parcels by k-means on the voxel coordinates,
each hemisphere separately. Everything is seeded and sorted, so the same
parameters give the same atlas on every run. :func:`smooth_parcellation` turns
the parcels into overlapping probabilistic maps (each parcel's indicator
smoothed by a Gaussian), a stand-in for DiFuMo when DiFuMo cannot be downloaded.
"""

from __future__ import annotations

import functools
from typing import Any

import nibabel as nib
import numpy as np
from scipy import ndimage, sparse

from brainlm_decode.base import Interval, Satisfies, is_random_state, validate_params
from brainlm_decode.base import seed_from_random_state as _seed

__all__ = ["make_mni_parcellation", "smooth_parcellation"]


@functools.lru_cache(maxsize=1)
def _mni152_gm_mask() -> nib.Nifti1Image:
    """nilearn's bundled MNI152 2 mm grey-matter mask (loaded once per process)."""
    from nilearn.datasets import load_mni152_gm_mask

    return load_mni152_gm_mask(resolution=2)


def _grey_matter_mask(mask_img: nib.Nifti1Image) -> np.ndarray:
    """nilearn's MNI152 2 mm grey-matter mask on the grid of ``mask_img``, within it."""
    from nilearn.image import resample_to_img

    grey = resample_to_img(
        _mni152_gm_mask(),
        mask_img,
        interpolation="nearest",
        force_resample=True,
        copy_header=True,
    )
    return (np.asanyarray(grey.dataobj) > 0) & (np.asanyarray(mask_img.dataobj) > 0)


def make_mni_parcellation(
    n_parcels: int = 512,
    *,
    mask_img: Any = None,
    hemisphere_split: bool = True,
    random_state: Any = 0,
) -> tuple[nib.Nifti1Image, list[str]]:
    """Compact grey-matter parcels of the MNI152 2 mm grid by seeded k-means.

    Parameters
    ----------
    n_parcels : int, default=512
        Number of parcels (>= 2 with ``hemisphere_split``).
    mask_img : nibabel.Nifti1Image or None, default=None
        Brain mask and grid; ``None`` is NiMARE's MNI152 2 mm brain mask.
    hemisphere_split : bool, default=True
        Cluster each hemisphere separately (x < 0 is left), so that no parcel
        crosses the midline; the left hemisphere gets ``ceil(n_parcels / 2)``.
    random_state : int or RandomState, default=0
        Seed of k-means; the same value gives the same parcels.

    Returns
    -------
    labels_img : nibabel.Nifti1Image
        int32 labels 1..n_parcels (0 is background), ordered by hemisphere then
        by centroid (z, y, x).
    names : list of str
        ``"L_001"``, ..., ``"R_256"``: hemisphere and rank.

    Examples
    --------
    >>> img, names = make_mni_parcellation(20)  # doctest: +SKIP
    >>> len(names)  # doctest: +SKIP
    20
    """
    from sklearn.cluster import KMeans

    from brainlm_decode.imaging.coordinates import _resolve_mask

    validate_params(
        "make_mni_parcellation",
        {
            "n_parcels": n_parcels,
            "hemisphere_split": hemisphere_split,
            "random_state": random_state,
        },
        {
            "n_parcels": [Interval(int, 2 if hemisphere_split else 1, 20000)],
            "hemisphere_split": [bool],
            "random_state": [Satisfies(is_random_state, "a non-negative int")],
        },
        kind="argument",
    )
    mask_img = _resolve_mask(mask_img)
    grey = _grey_matter_mask(mask_img)
    ijk = np.argwhere(grey)
    xyz = nib.affines.apply_affine(mask_img.affine, ijk)
    if hemisphere_split:
        groups = [
            ("L", xyz[:, 0] < 0, (n_parcels + 1) // 2),
            ("R", xyz[:, 0] >= 0, n_parcels // 2),
        ]
    else:
        groups = [("B", np.ones(len(xyz), dtype=bool), n_parcels)]
    seed = _seed(random_state)
    labels = np.zeros(grey.shape, dtype=np.int32)
    names: list[str] = []
    for hemi, select, k in groups:
        points = xyz[select]
        if k > len(points):
            raise ValueError(
                f"The 'n_parcels' argument asks for {k} parcels in hemisphere {hemi} "
                f"which has only {len(points)} grey-matter voxels."
            )
        # k-means on a regular sub-grid (every 2nd voxel along each axis), then every
        # voxel joins its nearest centre: 8x less work, same compact parcels.
        sub = np.all(ijk[select] % 2 == 0, axis=1)
        if sub.sum() < 10 * k:
            sub[:] = True
        km = KMeans(n_clusters=k, n_init=1, max_iter=100, random_state=seed)
        km.fit(points[sub])
        assign = km.predict(points)
        centers = np.round(km.cluster_centers_, 3)
        order = np.lexsort((centers[:, 0], centers[:, 1], centers[:, 2]))
        rank = np.empty(k, dtype=np.int32)
        rank[order] = np.arange(k, dtype=np.int32)
        first = len(names) + 1
        sel_ijk = ijk[select]
        labels[sel_ijk[:, 0], sel_ijk[:, 1], sel_ijk[:, 2]] = first + rank[assign]
        names.extend(f"{hemi}_{i + 1:03d}" for i in range(k))
    img = nib.Nifti1Image(labels, mask_img.affine)
    img.header.set_data_dtype(np.int32)
    return img, names


def smooth_parcellation(
    labels_img: nib.Nifti1Image,
    mask_img: nib.Nifti1Image,
    *,
    fwhm: float = 6.0,
    threshold: float = 0.01,
) -> sparse.csr_array:
    """Probabilistic maps from parcels: each indicator smoothed by a Gaussian.

    Parameters
    ----------
    labels_img : nibabel.Nifti1Image
        Label atlas on the grid of ``mask_img`` (labels 1..n, 0 background).
    mask_img : nibabel.Nifti1Image
        Mask; the maps are kept inside it.
    fwhm : float, default=6.0
        Full width at half maximum of the Gaussian, in mm.
    threshold : float, default=0.01
        Values below it are set to 0 (keeps the maps sparse, as DiFuMo's are).

    Returns
    -------
    weights : scipy.sparse.csr_array of shape (n_mask_voxels, n_parcels)
        Map values over the mask voxels (C order), float64, in [0, 1].
    """
    validate_params(
        "smooth_parcellation",
        {"fwhm": fwhm, "threshold": threshold},
        {
            "fwhm": [Interval(float, 0, None, closed="neither")],
            "threshold": [Interval(float, 0, 1, closed="left")],
        },
        kind="argument",
    )
    labels = np.asanyarray(labels_img.dataobj).astype(np.int64)
    mask = np.asanyarray(mask_img.dataobj) > 0
    zooms = np.asarray(mask_img.header.get_zooms()[:3], dtype=np.float64)
    sigma = fwhm / np.sqrt(8 * np.log(2)) / zooms
    margin = np.ceil(4 * sigma).astype(int) + 1
    columns = -np.ones(mask.shape, dtype=np.int64)
    columns[mask] = np.arange(int(mask.sum()))
    n_parcels = int(labels.max())
    objects = ndimage.find_objects(labels, max_label=n_parcels)
    rows, cols, vals = [], [], []
    for parcel, box in enumerate(objects):
        if box is None:
            continue
        box = tuple(
            slice(max(s.start - m, 0), min(s.stop + m, n))
            for s, m, n in zip(box, margin, labels.shape, strict=True)
        )
        smooth = ndimage.gaussian_filter(
            (labels[box] == parcel + 1).astype(np.float64), sigma, mode="constant"
        )
        keep = (smooth >= threshold) & mask[box]
        rows.append(columns[box][keep])
        cols.append(np.full(int(keep.sum()), parcel))
        vals.append(smooth[keep])
    shape = (int(mask.sum()), n_parcels)
    if not rows:
        return sparse.csr_array(shape)
    coo = sparse.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=shape,
    )
    return coo.tocsr()
