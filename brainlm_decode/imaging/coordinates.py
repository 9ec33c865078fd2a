"""MKDA modeled-activation maps from peak coordinates, dense and at corpus scale.

The MKDA kernel (Wager et al. 2007) turns the peaks of one study into a binary map:
every voxel within ``r`` mm of at least one peak is 1 (the union, i.e. the maximum,
of one sphere per peak). This module reproduces NiMARE's
:class:`nimare.meta.kernel.MKDAKernel` voxel for voxel:

- peaks in mm become voxel indices with the inverse affine of the mask, rounded to
  the nearest voxel (``numpy.round``, as ``nimare.utils.mm2vox`` does);
- the sphere is the set of integer voxel offsets ``o`` with ``|diag(zooms) o| <= r``
  (as ``nimare.meta.utils.sphere_kernel_offsets``);
- sphere voxels outside the grid or outside the mask are dropped; peaks outside
  the mask keep the part of their sphere that lies inside it.

At corpus scale nothing dense is built: a :class:`SphereGrid` precomputes the
sphere offsets as flat indices in a padded grid and a lookup table from padded
voxels to mask columns, so that the union of the spheres of a study is one
addition, one gather and one de-duplication (:meth:`SphereGrid.study_matrix`).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import sparse

from brainlm_decode.base import Interval, Options, validate_params

__all__ = [
    "DEFAULT_RADIUS",
    "CoordinateWarning",
    "FociIndex",
    "SphereGrid",
    "load_mni152_brain_mask",
    "mkda_map",
    "mkda_matrix",
    "prepare_coordinates",
    "sphere_offsets",
    "xyz_to_ijk",
]

#: Default MKDA sphere radius in mm (NiMARE's and NiCLIP's default).
DEFAULT_RADIUS = 10.0

_MASK_FILE = "tpl-MNI152NLin6Asym_res-02_desc-brain_mask.nii.gz"
_MNI_WORDS = ("mni", "icbm", "ale")
_UNKNOWN_SPACES = ("", "unknown", "none", "nan")


class CoordinateWarning(UserWarning):
    """Warning about peaks that are dropped, moved or assumed to be in MNI space."""


# --------------------------------------------------------------------------------------
# Grid helpers
# --------------------------------------------------------------------------------------


def load_mni152_brain_mask() -> nib.Nifti1Image:
    """NiMARE's MNI152 2 mm brain mask (91 x 109 x 91), the default analysis mask.

    The file ships in the NiMARE wheel (``nimare/resources/templates``); it is the
    mask of a default :class:`nimare.dataset.Dataset` (``target="mni152_2mm"``) and
    is read without importing NiMARE.

    Returns
    -------
    mask_img : nibabel.Nifti1Image
        Binary mask, 228,483 voxels, affine with 2 mm voxels.

    Raises
    ------
    FileNotFoundError
        When NiMARE is not installed.
    """
    spec = importlib.util.find_spec("nimare")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The default mask is NiMARE's MNI152 2 mm brain mask, but NiMARE is not "
            "installed. Install it (`pip install nimare`) or pass 'mask_img'."
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "resources" / "templates" / _MASK_FILE
    img = nib.load(path)
    data = np.asanyarray(img.dataobj) > 0
    return nib.Nifti1Image(data.astype(np.uint8), img.affine, img.header)


def sphere_offsets(r: float, zooms: Sequence[float]) -> np.ndarray:
    """Integer voxel offsets of a sphere of radius ``r`` mm.

    Same set, in the same order, as ``nimare.meta.utils.sphere_kernel_offsets``.

    Parameters
    ----------
    r : float
        Radius in mm (> 0).
    zooms : sequence of 3 floats
        Voxel sizes in mm.

    Returns
    -------
    offsets : ndarray of shape (n_offsets, 3), dtype int32
        Offsets ``o`` with ``sqrt(sum((zooms * o) ** 2)) <= r``.

    Examples
    --------
    >>> sphere_offsets(10, (2, 2, 2)).shape
    (515, 3)
    """
    vox = np.asarray(zooms, dtype=np.float64)[:3]
    slices = [slice(-r // vox[i], r // vox[i] + 0.01, 1) for i in range(3)]
    cube = np.vstack([row.ravel() for row in np.mgrid[tuple(slices)].astype(np.int32)])
    inside = np.sum(np.dot(np.diag(vox), cube) ** 2, axis=0) ** 0.5 <= r
    return np.ascontiguousarray(cube[:, inside].T, dtype=np.int32)


def xyz_to_ijk(xyz: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Convert mm coordinates to voxel indices, rounded to the nearest voxel.

    Identical to ``nimare.utils.mm2vox`` (``numpy.round`` rounds halves to even).

    Parameters
    ----------
    xyz : array-like of shape (n_peaks, 3)
        Coordinates in mm.
    affine : ndarray of shape (4, 4)
        Voxel-to-mm affine of the grid.

    Returns
    -------
    ijk : ndarray of shape (n_peaks, 3), dtype int64
    """
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    with np.errstate(invalid="ignore"):
        return np.round(nib.affines.apply_affine(np.linalg.inv(affine), xyz)).astype(
            int
        )


# --------------------------------------------------------------------------------------
# Coordinate tables
# --------------------------------------------------------------------------------------


def _space_kind(value: Any) -> str:
    """'mni', 'tal' or 'unknown' for one value of a ``space`` column."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unknown"
    text = str(value).strip().lower()
    if text in _UNKNOWN_SPACES:
        return "unknown"
    if text.startswith("tal"):
        return "tal"
    if any(word in text for word in _MNI_WORDS):
        return "mni"
    return "other"


def prepare_coordinates(
    coordinates: Any, *, talairach: str = "convert", argname: str = "coordinates"
) -> pd.DataFrame:
    """Validate a peak table and bring it to MNI space.

    Parameters
    ----------
    coordinates : pandas.DataFrame or NiMARE Dataset
        Table with columns ``id``, ``x``, ``y``, ``z`` (mm) and optionally ``space``.
        An object with a ``coordinates`` DataFrame attribute (a NiMARE
        :class:`~nimare.dataset.Dataset`) is accepted too.
    talairach : {"convert", "error"}, default="convert"
        What to do with peaks whose ``space`` is Talairach (``"TAL"``,
        ``"talairach"``, ...): convert them with NiMARE's public
        :func:`nimare.utils.tal2mni` (Lancaster transform), or raise.
    argname : str, default="coordinates"
        Argument name used in error messages.

    Returns
    -------
    coordinates : pandas.DataFrame
        Columns ``id``, ``x``, ``y``, ``z`` (float64, MNI mm), in input order.

    Raises
    ------
    TypeError
        When ``coordinates`` is not a DataFrame.
    ValueError
        Missing columns, empty table, non-numeric or non-finite coordinates,
        Talairach peaks with ``talairach="error"``.

    Warns
    -----
    CoordinateWarning
        When the ``space`` of some peaks is unknown (assumed to be MNI).
    """
    validate_params(
        "prepare_coordinates",
        {"talairach": talairach},
        {"talairach": [Options("convert", "error")]},
        kind="argument",
    )
    table = coordinates
    if not isinstance(table, pd.DataFrame) and isinstance(
        getattr(table, "coordinates", None), pd.DataFrame
    ):
        table = table.coordinates
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"The {argname!r} argument must be a pandas DataFrame with columns id, x, "
            f"y, z (and optionally space) or a NiMARE Dataset. Got an object of type "
            f"{type(coordinates).__name__} instead."
        )
    missing = [col for col in ("id", "x", "y", "z") if col not in table.columns]
    if missing:
        raise ValueError(
            f"The {argname!r} argument must have columns ['id', 'x', 'y', 'z'] (and "
            f"optionally 'space'); missing {missing}. Got columns "
            f"{list(table.columns)} instead."
        )
    if len(table) == 0:
        raise ValueError(f"The {argname!r} argument is empty: it holds no peak.")
    try:
        xyz = table[["x", "y", "z"]].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"The x, y, z columns of {argname!r} must be numeric (mm). Got dtypes "
            f"{[str(t) for t in table[['x', 'y', 'z']].dtypes]} instead."
        ) from None
    bad = ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        raise ValueError(
            f"The {argname!r} argument has {int(bad.sum())} peak(s) with NaN or "
            f"infinite x, y, z (first at row {int(np.flatnonzero(bad)[0])}); drop "
            "them first."
        )
    if "space" in table.columns:
        xyz = _to_mni(xyz, table["space"].to_numpy(), talairach, argname)
    return pd.DataFrame(
        {
            "id": table["id"].to_numpy(),
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )


def _to_mni(xyz: np.ndarray, space: np.ndarray, talairach: str, argname: str):
    """Convert Talairach rows to MNI; warn about unknown spaces."""
    values, inverse = np.unique(space.astype(str), return_inverse=True)
    kinds = np.array([_space_kind(v) for v in values])[inverse]
    odd = sorted(
        {
            str(v)
            for v, k in zip(values, map(_space_kind, values), strict=True)
            if k in ("unknown", "other")
        }
    )
    if odd:
        warnings.warn(
            f"{int(np.isin(kinds, ['unknown', 'other']).sum())} peak(s) of "
            f"{argname!r} have an unrecognised space {odd}; they are assumed to be "
            "in MNI space (as NiMARE does).",
            CoordinateWarning,
            stacklevel=3,
        )
    tal = kinds == "tal"
    if tal.any():
        if talairach == "error":
            raise ValueError(
                f"The {argname!r} argument has {int(tal.sum())} peak(s) in Talairach "
                "space; expected MNI coordinates. Pass talairach='convert' to "
                "convert them with nimare.utils.tal2mni."
            )
        from nimare.utils import tal2mni

        xyz = xyz.copy()
        xyz[tal] = tal2mni(xyz[tal])
    return xyz


# --------------------------------------------------------------------------------------
# Corpus engine
# --------------------------------------------------------------------------------------


@dataclass
class FociIndex:
    """Peaks of many studies, grouped by study, as flat indices of a padded grid.

    Attributes
    ----------
    ids : ndarray of shape (n_studies,)
        Study identifiers, in output order.
    centers : ndarray of shape (n_peaks,), dtype int32
        Flat index of every kept peak in the padded grid, grouped by study.
    indptr : ndarray of shape (n_studies + 1,), dtype int64
        Peaks of study ``s`` are ``centers[indptr[s]:indptr[s + 1]]``.
    n_input : int
        Number of peaks received.
    n_outside_grid : int
        Peaks too far outside the grid for their sphere to reach it (dropped).
    """

    ids: np.ndarray
    centers: np.ndarray
    indptr: np.ndarray
    n_input: int
    n_outside_grid: int

    @property
    def n_studies(self) -> int:
        """Number of studies (rows of the output)."""
        return len(self.ids)


class SphereGrid:
    """Precomputed sphere offsets and mask lookup for fast MKDA at corpus scale.

    Parameters
    ----------
    mask_img : nibabel.Nifti1Image
        3D analysis mask; its grid is the grid of the MKDA maps.
    r : float, default=10.0
        Sphere radius in mm.

    Attributes
    ----------
    shape : tuple of int
        Grid shape.
    affine : ndarray of shape (4, 4)
        Grid affine.
    n_voxels : int
        Number of mask voxels (columns of :meth:`study_matrix`).
    mask_flat : ndarray of shape (n_voxels,)
        Flat (C-order) grid index of every mask voxel, in column order.
    offsets : ndarray of shape (n_offsets, 3)
        Sphere offsets (:func:`sphere_offsets`).
    """

    def __init__(self, mask_img: nib.Nifti1Image, r: float = DEFAULT_RADIUS) -> None:
        mask = np.asanyarray(mask_img.dataobj)
        if mask.ndim != 3:
            raise ValueError(
                f"The 'mask_img' argument must be a 3D image. Got shape {mask.shape}."
            )
        mask = mask.astype(bool)
        self.shape = tuple(int(s) for s in mask.shape)
        self.affine = np.asarray(mask_img.affine, dtype=np.float64)
        self.r = float(r)
        self.mask_flat = np.flatnonzero(mask.ravel())
        self.n_voxels = int(self.mask_flat.size)
        self.offsets = sphere_offsets(self.r, mask_img.header.get_zooms()[:3])
        reach = np.abs(self.offsets).max(axis=0).astype(np.int64)
        self._reach = reach  # a peak further than this outside the grid reaches nothing
        self._pad = 2 * reach
        padded = tuple(
            int(s + 2 * p) for s, p in zip(self.shape, self._pad, strict=True)
        )
        self._padded_shape = padded
        # voxels outside the mask or the grid map to a dummy column n_voxels, so
        # that gathering needs no filtering pass; the dummy column is cut at the end
        lookup = np.full(padded, self.n_voxels, dtype=np.int32)
        inner = tuple(
            slice(p, p + s) for p, s in zip(self._pad, self.shape, strict=True)
        )
        cols = np.full(mask.shape, self.n_voxels, dtype=np.int32)
        cols[mask] = np.arange(self.n_voxels, dtype=np.int32)
        lookup[inner] = cols
        self._lookup = lookup.ravel()
        strides = np.array([padded[1] * padded[2], padded[2], 1], dtype=np.int64)
        self._strides = strides
        self._offsets_flat = (self.offsets.astype(np.int64) @ strides).astype(np.int32)

    # -- indexing ----------------------------------------------------------------------

    def index_foci(
        self,
        coordinates: pd.DataFrame,
        ids: Sequence[Any] | None = None,
    ) -> FociIndex:
        """Group prepared peaks by study and convert them to padded flat indices.

        Parameters
        ----------
        coordinates : pandas.DataFrame
            Output of :func:`prepare_coordinates` (columns id, x, y, z in MNI mm).
        ids : sequence or None, default=None
            Output order of the studies; ``None`` is the order of first appearance
            of ``coordinates["id"]``. Peaks of studies absent from ``ids`` are
            ignored; studies of ``ids`` without peaks get empty rows.

        Returns
        -------
        FociIndex
        """
        id_values = coordinates["id"].to_numpy()
        if ids is None:
            out_ids = pd.unique(id_values)
        else:
            out_ids = np.asarray(list(ids), dtype=object)
            if pd.Index(out_ids).has_duplicates:
                raise ValueError("The 'ids' argument must not contain duplicates.")
            if out_ids.size == 0:
                raise ValueError("The 'ids' argument is empty: give at least one id.")
        codes = pd.Index(out_ids).get_indexer(id_values)
        keep = codes >= 0
        ijk = xyz_to_ijk(coordinates[["x", "y", "z"]].to_numpy()[keep], self.affine)
        codes = codes[keep]
        lo = -self._reach
        hi = np.asarray(self.shape) + self._reach
        inside = np.all((ijk >= lo) & (ijk < hi), axis=1)
        n_outside = int((~inside).sum())
        ijk, codes = ijk[inside], codes[inside]
        centers = ((ijk + self._pad) @ self._strides).astype(np.int32)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(out_ids))
        indptr = np.zeros(len(out_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return FociIndex(
            ids=np.asarray(out_ids),
            centers=centers[order],
            indptr=indptr,
            n_input=int(keep.sum()),
            n_outside_grid=n_outside,
        )

    # -- study x voxel matrices ----------------------------------------------------------

    def study_matrix(
        self, foci: FociIndex, start: int = 0, stop: int | None = None
    ) -> tuple[sparse.csr_array, dict[str, int]]:
        """Binary MKDA maps of studies ``start:stop`` as a sparse matrix.

        Parameters
        ----------
        foci : FociIndex
            Output of :meth:`index_foci`.
        start, stop : int
            Range of studies (rows).

        Returns
        -------
        maps : scipy.sparse.csr_array of shape (stop - start, n_voxels), float64
            1 where a voxel of the mask lies within ``r`` of a peak of the study
            (duplicates from overlapping spheres count once), sorted indices.
        counts : dict
            ``outside_mask`` (peaks whose centre is outside the mask) and
            ``no_overlap`` (peaks whose sphere misses the mask entirely).
        """
        stop = foci.n_studies if stop is None else stop
        n_rows = stop - start
        width = self.n_voxels + 1  # mask columns + the dummy column
        lo, hi = foci.indptr[start], foci.indptr[stop]
        centers = foci.centers[lo:hi]
        outside = self._lookup[centers] == self.n_voxels
        key_dtype = np.int32 if n_rows * width < 2**31 else np.int64
        cols = np.take(self._lookup, centers[:, None] + self._offsets_flat[None, :])
        counts = {
            "outside_mask": int(outside.sum()),
            "no_overlap": int((cols[outside] == self.n_voxels).all(axis=1).sum()),
        }
        keys = cols.astype(key_dtype, copy=False)
        row_start = np.repeat(
            np.arange(n_rows, dtype=key_dtype) * key_dtype(width),
            np.diff(foci.indptr[start : stop + 1]),
        )
        keys += row_start[:, None]
        occupied = np.zeros(n_rows * width, dtype=bool)
        occupied[keys.ravel()] = True
        del keys, cols
        occupied = occupied.reshape(n_rows, width)
        occupied[:, self.n_voxels] = False
        flat = np.flatnonzero(occupied)
        del occupied
        indptr = np.searchsorted(flat, np.arange(n_rows + 1, dtype=flat.dtype) * width)
        flat -= np.repeat(np.arange(n_rows, dtype=flat.dtype) * width, np.diff(indptr))
        indices = flat.astype(np.int32)  # column indices < n_voxels
        if flat.size < 2**31 - 1:
            indptr = indptr.astype(np.int32)
        matrix = sparse.csr_array(
            (np.ones(flat.size), indices, indptr), shape=(n_rows, self.n_voxels)
        )
        matrix.has_sorted_indices = True
        return matrix, counts

    def chunks(self, n_studies: int, batch_size: int) -> list[tuple[int, int]]:
        """Study ranges of at most ``batch_size`` rows covering ``n_studies``.

        Parameters
        ----------
        n_studies : int
            Number of studies.
        batch_size : int
            Studies per chunk.

        Returns
        -------
        list of (start, stop) tuples
        """
        return [
            (start, min(start + batch_size, n_studies))
            for start in range(0, n_studies, batch_size)
        ]

    def to_img(self, values: np.ndarray) -> nib.Nifti1Image:
        """Dense image from one row of mask values.

        Parameters
        ----------
        values : ndarray of shape (n_voxels,)
            Values of the mask voxels (column order).

        Returns
        -------
        nibabel.Nifti1Image
            float32 image on the grid, 0 outside the mask.
        """
        data = np.zeros(int(np.prod(self.shape)), dtype=np.float32)
        data[self.mask_flat] = np.asarray(values, dtype=np.float32).ravel()
        return nib.Nifti1Image(data.reshape(self.shape), self.affine)


def warn_dropped_foci(foci: FociIndex, counts: dict[str, int], owner: str) -> None:
    """Warn once about peaks outside the grid or the mask, and empty studies.

    Parameters
    ----------
    foci : FociIndex
        The indexed peaks (gives the peaks too far outside the grid).
    counts : dict
        Sums of the ``counts`` of :meth:`SphereGrid.study_matrix`, plus
        ``empty_studies``.
    owner : str
        Function name that starts the message.
    """
    n_far = foci.n_outside_grid
    outside = counts.get("outside_mask", 0) + n_far
    if outside:
        dropped = counts.get("no_overlap", 0) + n_far
        detail = (
            f"; {dropped} of them, whose sphere misses the mask entirely, are dropped"
            if dropped
            else ""
        )
        warnings.warn(
            f"{owner}: {outside} of {foci.n_input} peak(s) lie outside the mask. As "
            "in NiMARE's MKDAKernel, only the part of their sphere inside the mask is "
            f"used{detail}.",
            CoordinateWarning,
            stacklevel=3,
        )
    empty = counts.get("empty_studies", 0)
    if empty:
        warnings.warn(
            f"{owner}: {empty} of {foci.n_studies} studies have no peak inside the "
            "mask; their rows are all zero.",
            CoordinateWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------

_KERNEL_CONSTRAINTS: dict[str, list[Any]] = {
    "r": [Interval(float, 0, None, closed="neither")],
    "value": [Interval(float, None, None)],
    "batch_size": [Interval(int, 1, None)],
    "n_jobs": [Interval(int, None, None), None],
    "verbose": [Interval(int, 0, None), bool],
}


def _resolve_mask(mask_img: Any) -> nib.Nifti1Image:
    if mask_img is None:
        return load_mni152_brain_mask()
    if isinstance(mask_img, (str, Path)):
        mask_img = nib.load(mask_img)
    if not isinstance(mask_img, nib.spatialimages.SpatialImage):
        raise TypeError(
            "The 'mask_img' argument must be a 3D niimg-like mask (image or path) or "
            f"None. Got an object of type {type(mask_img).__name__} instead."
        )
    data = np.asanyarray(mask_img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(
            f"The 'mask_img' argument must be a 3D image. Got shape {data.shape}."
        )
    if not data.any():
        raise ValueError("The 'mask_img' argument is empty (no non-zero voxel).")
    return nib.Nifti1Image((data != 0).astype(np.uint8), mask_img.affine)


def mkda_matrix(
    coordinates: Any,
    *,
    ids: Sequence[Any] | None = None,
    mask_img: Any = None,
    r: float = DEFAULT_RADIUS,
    value: float = 1.0,
    batch_size: int = 256,
    talairach: str = "convert",
) -> tuple[sparse.csr_array, np.ndarray]:
    """MKDA modeled-activation maps of many studies as a sparse study x voxel matrix.

    Equal to ``MKDAKernel(r=r, value=value).transform(coordinates, masker,
    return_type="sparse")`` of NiMARE (rows in the order of ``ids``).

    Parameters
    ----------
    coordinates : pandas.DataFrame or NiMARE Dataset
        Peaks: columns ``id``, ``x``, ``y``, ``z`` (mm), optionally ``space``.
    ids : sequence or None, default=None
        Row order; ``None`` is the order of first appearance of the ids.
    mask_img : niimg-like or None, default=None
        Analysis mask and grid; ``None`` is NiMARE's MNI152 2 mm brain mask.
    r : float, default=10.0
        Sphere radius in mm.
    value : float, default=1.0
        Value inside the spheres.
    batch_size : int, default=256
        Studies per chunk (bounds memory).
    talairach : {"convert", "error"}, default="convert"
        See :func:`prepare_coordinates`.

    Returns
    -------
    maps : scipy.sparse.csr_array of shape (n_studies, n_mask_voxels)
        Columns follow the mask voxels in C order.
    ids : ndarray of shape (n_studies,)
        Study ids of the rows.
    """
    validate_params(
        "mkda_matrix",
        {"r": r, "value": value, "batch_size": batch_size},
        _KERNEL_CONSTRAINTS,
        kind="argument",
    )
    table = prepare_coordinates(coordinates, talairach=talairach)
    grid = SphereGrid(_resolve_mask(mask_img), r=r)
    foci = grid.index_foci(table, ids)
    blocks, total = [], {"outside_mask": 0, "no_overlap": 0}
    for start, stop in grid.chunks(foci.n_studies, batch_size):
        block, counts = grid.study_matrix(foci, start, stop)
        blocks.append(block)
        for key in total:
            total[key] += counts[key]
    maps = sparse.vstack(blocks, format="csr")
    total["empty_studies"] = int((np.diff(maps.indptr) == 0).sum())
    warn_dropped_foci(foci, total, "mkda_matrix")
    if value != 1:
        maps = maps * float(value)
    return sparse.csr_array(maps), foci.ids


def mkda_map(
    coordinates: Any,
    *,
    mask_img: Any = None,
    r: float = DEFAULT_RADIUS,
    value: float = 1.0,
    ijk: bool = False,
) -> nib.Nifti1Image:
    """MKDA modeled-activation map of one study as a dense image.

    Parameters
    ----------
    coordinates : array-like of shape (n_peaks, 3) or pandas.DataFrame
        Peaks of the study: mm coordinates (``x, y, z``), or voxel indices when
        ``ijk=True``. A DataFrame with columns x, y, z (all rows are one study).
    mask_img : niimg-like or None, default=None
        Analysis mask and grid; ``None`` is NiMARE's MNI152 2 mm brain mask.
    r : float, default=10.0
        Sphere radius in mm.
    value : float, default=1.0
        Value inside the spheres.
    ijk : bool, default=False
        Whether ``coordinates`` are voxel indices of the mask grid.

    Returns
    -------
    img : nibabel.Nifti1Image
        ``value`` within ``r`` mm of any peak and inside the mask, 0 elsewhere.

    Examples
    --------
    >>> img = mkda_map([[0, -52, 26]])  # doctest: +SKIP
    >>> int(img.get_fdata().sum())  # doctest: +SKIP
    515
    """
    validate_params(
        "mkda_map", {"r": r, "value": value}, _KERNEL_CONSTRAINTS, kind="argument"
    )
    mask = _resolve_mask(mask_img)
    points = _as_points(coordinates, ijk)
    if points.ndim == 1 and points.size == 3:
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
        raise ValueError(
            "The 'coordinates' argument must have shape (n_peaks, 3) with at least "
            f"one peak. Got shape {points.shape} instead."
        )
    if not np.isfinite(points).all():
        raise ValueError("The 'coordinates' argument contains NaN or infinite values.")
    if ijk:
        points = nib.affines.apply_affine(mask.affine, np.round(points))
    table = pd.DataFrame(
        {"id": 0, "x": points[:, 0], "y": points[:, 1], "z": points[:, 2]}
    )
    grid = SphereGrid(mask, r=r)
    foci = grid.index_foci(table)
    maps, counts = grid.study_matrix(foci)
    counts["empty_studies"] = int(maps.nnz == 0)
    warn_dropped_foci(foci, counts, "mkda_map")
    return grid.to_img(maps.toarray()[0] * float(value))


def _as_points(coordinates: Any, ijk: bool) -> np.ndarray:
    """Coordinates as a float array, with a clear error for tables and strings."""
    if isinstance(coordinates, pd.DataFrame):
        cols = ["i", "j", "k"] if ijk else ["x", "y", "z"]
        missing = [c for c in cols if c not in coordinates.columns]
        if missing:
            raise ValueError(
                f"The 'coordinates' argument of mkda_map is a DataFrame without the "
                f"columns {missing}; expected columns {cols}. Got "
                f"{list(coordinates.columns)[:10]}."
            )
        coordinates = coordinates[cols]
    raw = np.asarray(coordinates, dtype=object)
    if any(isinstance(v, (str, bytes)) for v in raw.ravel()):
        raise TypeError(
            "The 'coordinates' argument of mkda_map must be numbers (MNI mm) of "
            f"shape (n_peaks, 3). Got text values such as {raw.ravel()[0]!r}."
        )
    if np.iscomplexobj(coordinates):
        raise TypeError(
            "The 'coordinates' argument of mkda_map must hold real numbers (mm). "
            "Got complex values."
        )
    try:
        return np.asarray(coordinates, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "The 'coordinates' argument of mkda_map must be numbers of shape "
            f"(n_peaks, 3). Got {type(coordinates).__name__} that is not numeric "
            f"({exc})."
        ) from None
