"""Atlases: resolved from a name, an image or a masker; region weights over a mask.

:func:`resolve_atlas` is the one reader of an atlas given as a name
(:data:`ATLAS_NAMES`), a niimg-like image (or path) or a nilearn masker, shared by
:class:`~brainlm_decode.imaging.spaces.AtlasSpace` and
:class:`~brainlm_decode.ROITimeSeriesPreprocessor`, so the same mistake gives the
same message in both.

An atlas (label image or 4D probabilistic maps, in any grid) becomes a sparse
``(n_mask_voxels, n_regions)`` weight matrix on the grid of the analysis mask:

- the atlas is resampled to the mask grid when needed (nearest for labels,
  continuous for maps, as nilearn maskers do with ``resampling_target="mask"``);
- regions with no voxel in the mask are dropped with a warning (nilearn drops them
  too: ``keep_masked_labels=False``, ``keep_masked_maps=False``);
- for maps, voxels where no map is positive are ignored (zero rows), as in
  nilearn's ``img_to_signals_maps``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import sparse

from brainlm_decode._io import load_image

__all__ = [
    "ATLAS_NAMES",
    "AtlasWarning",
    "ResolvedAtlas",
    "atlas_masker",
    "clean_map_weights",
    "infer_kind",
    "is_atlas_like",
    "is_masker",
    "is_niimg_like",
    "load_niimg",
    "resolve_atlas",
    "same_grid",
    "weights_from_img",
    "weights_to_img",
]


class AtlasWarning(UserWarning):
    """Warning about regions dropped or images resampled."""


def load_niimg(img: Any, argname: str) -> nib.spatialimages.SpatialImage:
    """Load a niimg-like object (image or path), with a clear error otherwise.

    Parameters
    ----------
    img : nibabel image, str or path-like
        The image or the path of a NIfTI file.
    argname : str
        Argument name used in error messages.

    Returns
    -------
    nibabel.spatialimages.SpatialImage

    Raises
    ------
    TypeError
        When ``img`` is neither an image nor a path.
    ValueError
        When the path does not exist, is a folder or is not a readable image
        (a truncated ``.nii.gz``: the message names the file).
    """
    if isinstance(img, (str, Path)):
        path = Path(img).expanduser()
        if not path.exists():
            raise ValueError(
                f"The {argname!r} argument is a path that does not exist: {str(path)!r}."
            )
        if path.is_dir():
            raise ValueError(
                f"The {argname!r} argument {str(path)!r} is a directory; expected a "
                "NIfTI file (.nii or .nii.gz)."
            )
        return _real_valued(load_image(path, argname), argname)
    if isinstance(img, nib.spatialimages.SpatialImage):
        return _real_valued(img, argname)
    raise TypeError(
        f"The {argname!r} argument must be a niimg-like object (a nibabel image or "
        f"a path to a NIfTI file). Got an object of type {type(img).__name__} instead."
    )


def user_stacklevel() -> int:
    """``stacklevel`` of the first frame outside brainlm_decode, for warnings.

    A warning raised deep inside the package then points at the user's line,
    not at an internal one, whatever the call depth.
    """
    import sys

    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _real_valued(img: Any, argname: str) -> Any:
    """Refuse complex-valued images (their imaginary part would be dropped)."""
    if np.dtype(img.get_data_dtype()).kind == "c" or (
        isinstance(img.dataobj, np.ndarray) and np.iscomplexobj(img.dataobj)
    ):
        raise TypeError(
            f"The {argname!r} argument is a complex-valued image (dtype "
            f"{img.get_data_dtype()}); expected a real-valued map. Pass its real "
            "part or magnitude explicitly (np.real / np.abs)."
        )
    return img


def same_grid(img: Any, reference: Any) -> bool:
    """Whether two images share shape (first 3 axes) and affine.

    Parameters
    ----------
    img, reference : nibabel images
        Images to compare (affines within 1e-4).

    Returns
    -------
    bool
    """
    return tuple(img.shape[:3]) == tuple(reference.shape[:3]) and np.allclose(
        img.affine, reference.affine, atol=1e-4
    )


def _resample(img: Any, mask_img: Any, interpolation: str) -> Any:
    from nilearn.image import resample_to_img

    return resample_to_img(
        img,
        mask_img,
        interpolation=interpolation,
        force_resample=True,
        copy_header=True,
    )


def infer_kind(img: Any, kind: str, argname: str = "atlas") -> str:
    """Resolve ``kind="auto"``: 4D with several volumes is maps, integer 3D is labels.

    Parameters
    ----------
    img : nibabel image
        The atlas.
    kind : {"auto", "labels", "maps"}
        Requested kind; checked against the image.
    argname : str, default="atlas"
        Argument name used in error messages.

    Returns
    -------
    kind : {"labels", "maps"}

    Raises
    ------
    ValueError
        A label atlas with several volumes, or a 3D non-integer image with
        ``kind="auto"``.
    """
    n_volumes = img.shape[3] if len(img.shape) == 4 else 1
    if len(img.shape) not in (3, 4):
        raise ValueError(
            f"The {argname!r} argument must be a 3D label image or a 4D image of "
            f"maps. Got an image of shape {img.shape} instead."
        )
    if kind != "auto":
        if kind == "labels" and n_volumes > 1:
            raise ValueError(
                f"The {argname!r} argument has {n_volumes} volumes but kind='labels' "
                "expects a 3D label image; use kind='maps'."
            )
        return kind
    if n_volumes > 1:
        return "maps"
    data = np.asanyarray(img.dataobj)
    finite = data[np.isfinite(data)]
    if np.issubdtype(data.dtype, np.integer) or np.array_equal(
        finite, np.round(finite)
    ):
        return "labels"
    raise ValueError(
        f"The {argname!r} argument is a 3D image with non-integer values, so it is "
        "neither a label atlas nor a set of maps. Pass kind='maps' to use it as one "
        "probabilistic map, or give integer labels."
    )


def _names_for_labels(values: np.ndarray, labels: Any) -> list[str]:
    """Region names of label values from a list, dict or LUT DataFrame."""
    if labels is None:
        return [f"region_{int(v)}" for v in values]
    if isinstance(labels, pd.DataFrame):
        if not {"index", "name"} <= set(labels.columns):
            raise ValueError(
                "The 'labels' argument as a DataFrame must be a look-up table with "
                f"columns 'index' and 'name'. Got columns {list(labels.columns)}."
            )
        labels = dict(
            zip(labels["index"].astype(int), labels["name"].astype(str), strict=True)
        )
    if isinstance(labels, Mapping):
        return [str(labels.get(int(v), f"region_{int(v)}")) for v in values]
    names = [str(name) for name in labels]
    return names


def weights_from_img(
    atlas_img: Any,
    mask_img: nib.Nifti1Image,
    kind: str,
    *,
    labels: Any = None,
    block_size: int = 64,
) -> tuple[sparse.csr_array, list[str], np.ndarray]:
    """Sparse region weights of an atlas over the voxels of a mask.

    Parameters
    ----------
    atlas_img : nibabel image
        3D label image or 4D maps.
    mask_img : nibabel.Nifti1Image
        Binary mask defining the grid and the voxels (columns in C order).
    kind : {"labels", "maps"}
        How to read the atlas.
    labels : list, dict, DataFrame or None, default=None
        Region names: for labels a list (one per non-background label, in
        increasing label order; a leading "Background" entry is skipped), a dict
        label -> name or a look-up table (columns ``index``, ``name``); for maps a
        list with one name per map.
    block_size : int, default=64
        Maps resampled and read per block (bounds memory).

    Returns
    -------
    weights : scipy.sparse.csr_array of shape (n_mask_voxels, n_regions)
        One-hot memberships (labels) or map values (maps).
    names : list of str
        Region names.
    values : ndarray of shape (n_regions,)
        Label values (labels) or map indices (maps) of the kept regions.
    """
    mask = np.asanyarray(mask_img.dataobj) > 0
    if kind == "labels":
        weights, names, values = _label_weights(atlas_img, mask_img, mask, labels)
    else:
        weights, names, values = _map_weights(
            atlas_img, mask_img, mask, labels, block_size
        )
    return weights, names, values


def _label_weights(atlas_img, mask_img, mask, labels):
    if not same_grid(atlas_img, mask_img):
        atlas_img = _resample(atlas_img, mask_img, "nearest")
    data = np.asanyarray(atlas_img.dataobj)
    if data.ndim == 4:
        data = data[..., 0]
    finite = np.isfinite(data)
    if not np.array_equal(data[finite], np.round(data[finite])):
        raise ValueError(
            "The 'atlas' argument is read as a label image but has non-integer "
            "values; pass kind='maps' for probabilistic maps."
        )
    data = np.where(finite, data, 0).astype(np.int64)
    all_values = np.unique(data[data != 0])
    names = _names_for_labels(all_values, labels)
    if labels is not None and not isinstance(labels, (Mapping, pd.DataFrame)):
        if len(names) == len(all_values) + 1 and names[0].lower() == "background":
            names = names[1:]
        if len(names) != len(all_values):
            raise ValueError(
                f"The 'labels' argument must name the {len(all_values)} regions of "
                f"the atlas (one name per non-zero label). Got {len(names)} names."
            )
    in_mask = data[mask]
    present = np.isin(all_values, np.unique(in_mask))
    if not present.all():
        warnings.warn(
            f"{int((~present).sum())} region(s) of the atlas have no voxel in the "
            f"mask and are dropped (labels {all_values[~present][:10].tolist()}...), "
            "as NiftiLabelsMasker does.",
            AtlasWarning,
            stacklevel=4,
        )
    values = all_values[present]
    if values.size == 0:
        raise ValueError("The 'atlas' argument has no region inside the mask.")
    names = [n for n, keep in zip(names, present, strict=True) if keep]
    rows = np.flatnonzero(in_mask != 0)
    cols = np.searchsorted(values, in_mask[rows])
    weights = sparse.csr_array(
        (np.ones(rows.size), (rows, cols)), shape=(int(mask.sum()), values.size)
    )
    return weights, names, values


def _map_weights(atlas_img, mask_img, mask, labels, block_size):
    from nilearn.image import index_img

    n_maps = atlas_img.shape[3] if len(atlas_img.shape) == 4 else 1
    resample = not same_grid(atlas_img, mask_img)
    blocks = []
    for start in range(0, n_maps, block_size):
        stop = min(start + block_size, n_maps)
        if len(atlas_img.shape) == 3:
            block = atlas_img
        else:
            block = index_img(atlas_img, slice(start, stop))
        if resample:
            block = _resample(block, mask_img, "continuous")
        data = np.asarray(block.dataobj, dtype=np.float64)
        if data.ndim == 3:
            data = data[..., None]
        values = data[mask]
        del data
        values[~np.isfinite(values)] = 0.0
        blocks.append(sparse.csc_array(values))
    weights = sparse.hstack(blocks, format="csr")
    names = (
        [f"component_{k + 1:03d}" for k in range(n_maps)]
        if labels is None
        else [str(name) for name in labels]
    )
    if len(names) != n_maps:
        raise ValueError(
            f"The 'labels' argument must name the {n_maps} maps of the atlas. Got "
            f"{len(names)} names."
        )
    weights, keep = clean_map_weights(weights)
    return (
        weights,
        [n for n, k in zip(names, keep, strict=True) if k],
        np.flatnonzero(keep),
    )


def clean_map_weights(weights: Any) -> tuple[sparse.csr_array, np.ndarray]:
    """Drop maps empty in the mask; zero the voxels where no map is positive.

    Parameters
    ----------
    weights : scipy.sparse matrix of shape (n_mask_voxels, n_maps)

    Returns
    -------
    weights : scipy.sparse.csr_array
        Kept maps, nilearn's voxel support.
    keep : ndarray of bool of shape (n_maps,)
        Which maps were kept.
    """
    weights = sparse.csr_array(weights)
    keep = np.asarray(abs(weights).sum(axis=0)).ravel() > 0
    if not keep.all():
        warnings.warn(
            f"{int((~keep).sum())} map(s) of the atlas are empty inside the mask and "
            f"are dropped (indices {np.flatnonzero(~keep)[:10].tolist()}...), as "
            "NiftiMapsMasker does.",
            AtlasWarning,
            stacklevel=4,
        )
        weights = sparse.csr_array(weights[:, np.flatnonzero(keep)])
    positive = np.asarray((weights > 0).sum(axis=1)).ravel() > 0
    if not positive.all():
        weights = sparse.csr_array(sparse.diags_array(positive.astype(float)) @ weights)
    weights.eliminate_zeros()
    if weights.shape[1] == 0:
        raise ValueError("The 'atlas' argument has no map with values in the mask.")
    return weights, keep


def weights_to_img(
    weights: Any,
    mask_img: nib.Nifti1Image,
    kind: str,
    values: np.ndarray | None = None,
) -> nib.Nifti1Image:
    """Atlas image from region weights over the mask voxels.

    Parameters
    ----------
    weights : scipy.sparse matrix of shape (n_mask_voxels, n_regions)
        One-hot memberships (labels) or map values (maps).
    mask_img : nibabel.Nifti1Image
        The mask of the weights' rows.
    kind : {"labels", "maps"}
        Output a 3D label image or a 4D float32 image of maps.
    values : ndarray or None, default=None
        Label value of each region (labels); ``None`` is ``1..n_regions``.

    Returns
    -------
    nibabel.Nifti1Image
    """
    mask = np.asanyarray(mask_img.dataobj) > 0
    flat = np.flatnonzero(mask.ravel())
    weights = sparse.csr_array(weights)
    n_regions = weights.shape[1]
    if kind == "labels":
        values = np.arange(1, n_regions + 1) if values is None else np.asarray(values)
        coo = weights.tocoo()
        data = np.zeros(mask.size, dtype=np.int32)
        data[flat[coo.row]] = values[coo.col]
        img = nib.Nifti1Image(data.reshape(mask.shape), mask_img.affine)
        img.header.set_data_dtype(np.int32)
        return img
    data = np.zeros((mask.size, n_regions), dtype=np.float32)
    coo = weights.tocoo()
    data[flat[coo.row], coo.col] = coo.data
    img = nib.Nifti1Image(data.reshape(*mask.shape, n_regions), mask_img.affine)
    img.header.set_data_dtype(np.float32)
    return img


# -- atlas resolution: a name, an image or a masker ------------------------------------

#: Atlas names accepted wherever an atlas is, with their number of regions. They
#: are fetched with :func:`brainlm_decode.datasets.fetch_atlas_schaefer_tian`.
ATLAS_NAMES: dict[str, int] = {"schaefer400_tian_s3": 450, "schaefer100_tian_s1": 116}

#: What an ``atlas`` argument may be, for parameter constraints and messages.
ATLAS_DOC = (
    f"an atlas name among {sorted(ATLAS_NAMES)}, a niimg-like atlas (image or "
    "path) or a nilearn NiftiLabelsMasker/NiftiMapsMasker"
)
#: The same, without maskers (for estimators that take a masker separately).
ATLAS_IMAGE_DOC = (
    f"an atlas name among {sorted(ATLAS_NAMES)} or a niimg-like atlas (image or path)"
)


def is_niimg_like(value: Any) -> bool:
    """Whether ``value`` is a nibabel image or a path (not checked to exist)."""
    return isinstance(value, (str, os.PathLike, nib.spatialimages.SpatialImage))


def is_masker(value: Any) -> bool:
    """Whether ``value`` looks like a nilearn labels or maps masker."""
    return hasattr(value, "labels_img") or hasattr(value, "maps_img")


def is_atlas_like(value: Any) -> bool:
    """Whether ``value`` has a type :func:`resolve_atlas` reads (see ``ATLAS_DOC``).

    Content (an existing file, a known name, a masker with an image) is checked
    by :func:`resolve_atlas`, which gives the message.
    """
    return is_niimg_like(value) or is_masker(value)


@dataclass(frozen=True)
class ResolvedAtlas:
    """An atlas read by :func:`resolve_atlas`.

    Attributes
    ----------
    img : nibabel image
        3D label image or 4D maps.
    kind : {"labels", "maps"}
        How to read ``img``.
    labels : list of str or None
        Region names known from the source (a named atlas), else ``None``.
    mask_img : niimg-like or None
        The mask of a masker given as the atlas, else ``None``.
    """

    img: Any
    kind: str
    labels: list[str] | None = None
    mask_img: Any = None


def resolve_atlas(
    atlas: Any,
    *,
    kind: str = "auto",
    data_dir: str | os.PathLike | None = None,
    verbose: int = 0,
    argname: str = "atlas",
) -> ResolvedAtlas:
    """Read an atlas given as a name, a niimg-like image or a nilearn masker.

    Parameters
    ----------
    atlas : str, path-like, nibabel image, NiftiLabelsMasker or NiftiMapsMasker
        A name among :data:`ATLAS_NAMES` (fetched with
        :func:`~brainlm_decode.datasets.fetch_atlas_schaefer_tian`), a label
        image or 4D maps (or the path of one), or a masker (its ``maps_img`` or
        ``labels_img``, and its ``mask_img``).
    kind : {"auto", "labels", "maps"}, default="auto"
        How to read the image (:func:`infer_kind`); a masker sets it.
    data_dir : str, path-like or None, default=None
        ``data_dir`` of the fetcher, for a named atlas.
    verbose : int, default=0
        Verbosity of the fetcher.
    argname : str, default="atlas"
        Parameter name used in error messages.

    Returns
    -------
    ResolvedAtlas

    Raises
    ------
    TypeError
        ``atlas`` is none of the above.
    ValueError
        An unknown name or a path that does not exist, a folder or unreadable
        file, a masker without an image, or an image that is neither labels nor
        maps (:func:`infer_kind`).
    """
    labels, mask_img = None, None
    if isinstance(atlas, str) and atlas in ATLAS_NAMES:
        from brainlm_decode.datasets import fetch_atlas_schaefer_tian

        bunch = fetch_atlas_schaefer_tian(
            n_rois=ATLAS_NAMES[atlas], data_dir=data_dir, verbose=int(verbose)
        )
        atlas, labels = bunch.maps, list(bunch.labels)
    elif is_masker(atlas) and not is_niimg_like(atlas):
        mask_img = getattr(atlas, "mask_img", None)
        if getattr(atlas, "maps_img", None) is not None:
            atlas, kind = atlas.maps_img, "maps"
        elif getattr(atlas, "labels_img", None) is not None:
            atlas, kind = atlas.labels_img, "labels"
        else:
            raise ValueError(
                f"The {argname!r} parameter is a masker without labels_img or maps_img."
            )
    elif not is_niimg_like(atlas):
        raise TypeError(
            f"The {argname!r} parameter must be {ATLAS_DOC}. Got an object of type "
            f"{type(atlas).__name__} instead."
        )
    if isinstance(atlas, (str, os.PathLike)) and not Path(atlas).expanduser().exists():
        raise ValueError(
            f"The {argname!r} parameter must be {ATLAS_DOC}. Got {str(atlas)!r}: "
            "no atlas has this name and the path does not exist."
        )
    img = load_niimg(atlas, argname)
    return ResolvedAtlas(img, infer_kind(img, kind, argname), labels, mask_img)


def atlas_masker(atlas: ResolvedAtlas, **kwargs: Any) -> Any:
    """A fitted nilearn masker that extracts the regions of a resolved atlas.

    Parameters
    ----------
    atlas : ResolvedAtlas
        From :func:`resolve_atlas`.
    **kwargs
        Other parameters of the masker.

    Returns
    -------
    nilearn.maskers.NiftiLabelsMasker or nilearn.maskers.NiftiMapsMasker
        Fitted; a labels masker for a label atlas, a maps masker for maps.
    """
    from nilearn.maskers import NiftiLabelsMasker, NiftiMapsMasker

    if atlas.mask_img is not None:
        kwargs.setdefault("mask_img", atlas.mask_img)
    if atlas.kind == "maps":
        return NiftiMapsMasker(maps_img=atlas.img, **kwargs).fit()
    return NiftiLabelsMasker(labels_img=atlas.img, **kwargs).fit()
