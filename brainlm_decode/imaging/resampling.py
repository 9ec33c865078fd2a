"""Cached continuous resampling between two voxel grids, built once per grid pair.

Maps to decode arrive on many grids (1, 2 or 3 mm MNI, flipped axes, other field
of view). :func:`nilearn.image.resample_to_img` with ``interpolation="continuous"``
(cubic B-spline through :func:`scipy.ndimage.affine_transform`) costs about 100 ms
per 3 mm map because it rebuilds the interpolation every call. When the source and
target grids differ by a scaling, a flip and a shift per axis (a diagonal voxel
mapping, which is the case of every MNI template grid), that interpolation is
separable and linear: it is the product of three small per-axis matrices, each
computed once from scipy's own 1D interpolation of unit impulses, so the result is
nilearn's to floating-point rounding.

:class:`GridResampler` builds those matrices once per (source grid, target grid)
and applies them either as one sparse matrix (when each output voxel depends on
few input voxels, e.g. 1 mm to 2 mm where the samples fall on input voxels and the
interpolating spline returns them exactly) or as three dense matrix products
(fractional sampling, e.g. 3 mm to 2 mm). Grids with rotations or shears are not
separable: :func:`is_separable` says so and callers keep nilearn's path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage, sparse

__all__ = ["GridResampler", "is_separable", "voxel_mapping"]

#: Largest number of input voxels per output voxel for the one-sparse-matrix form.
MAX_SPARSE_SUPPORT = 8


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding every True voxel of a 3D ``mask``.

    Parameters
    ----------
    mask : ndarray of bool, 3D

    Returns
    -------
    tuple of 3 slices, or None when ``mask`` has no True voxel
    """
    spans = [np.flatnonzero(mask.any(axis=other)) for other in ((1, 2), (0, 2), (0, 1))]
    if not all(span.size for span in spans):
        return None
    return tuple(slice(int(s[0]), int(s[-1]) + 1) for s in spans)


def voxel_mapping(source_affine: Any, target_affine: Any) -> np.ndarray:
    """Matrix taking target voxel indices to source voxel indices.

    Parameters
    ----------
    source_affine, target_affine : array-like of shape (4, 4)
        Voxel-to-world affines.

    Returns
    -------
    ndarray of shape (4, 4)
        ``inv(source_affine) @ target_affine``, what nilearn gives
        :func:`scipy.ndimage.affine_transform`.
    """
    source = np.asarray(source_affine, dtype=np.float64)
    target = np.asarray(target_affine, dtype=np.float64)
    return np.linalg.inv(source) @ target


def is_separable(source_affine: Any, target_affine: Any, atol: float = 1e-8) -> bool:
    """Whether resampling between two grids is separable (diagonal voxel mapping).

    Parameters
    ----------
    source_affine, target_affine : array-like of shape (4, 4)
        Voxel-to-world affines.
    atol : float, default=1e-8
        Tolerance on the off-diagonal terms of the voxel mapping.

    Returns
    -------
    bool
    """
    linear = voxel_mapping(source_affine, target_affine)[:3, :3]
    off_diagonal = linear - np.diag(np.diag(linear))
    return bool(np.all(np.abs(off_diagonal) <= atol) and np.all(np.diag(linear) != 0))


def _axis_operator(n_in: int, n_out: int, zoom: float, shift: float) -> np.ndarray:
    """Dense (n_out, n_in) matrix of scipy's 1D cubic interpolation (mode constant).

    Column ``i`` is the interpolation of the ``i``-th unit impulse, computed by
    the same :func:`scipy.ndimage.affine_transform` call nilearn makes, so the
    matrix is exactly scipy's (linear) operator.
    """
    operator = np.empty((n_out, n_in))
    impulse = np.zeros(n_in)
    for i in range(n_in):
        impulse[i] = 1.0
        operator[:, i] = ndimage.affine_transform(
            impulse,
            np.array([zoom]),
            offset=shift,
            output_shape=(n_out,),
            order=3,
            cval=0.0,
        )
        impulse[i] = 0.0
    return operator


class GridResampler:
    """Continuous resampling from one voxel grid to another, factored once.

    Equal to :func:`nilearn.image.resample_to_img` with
    ``interpolation="continuous"`` (cubic B-spline, ``fill_value=0``,
    ``clip=False``) for finite data, up to floating-point rounding.

    Parameters
    ----------
    source_shape : tuple of int
        Shape (3 axes) of the input grid.
    source_affine : array-like of shape (4, 4)
        Affine of the input grid.
    target_shape : tuple of int
        Shape (3 axes) of the output grid.
    target_affine : array-like of shape (4, 4)
        Affine of the output grid.
    target_mask : ndarray of bool of shape ``target_shape`` or None, default=None
        Only these output voxels are computed (others are 0): the sparse form
        keeps their rows, the separable form the products over their bounding
        box; ``None`` computes every voxel.
    tol : float, default=1e-12
        Per-axis weights smaller than ``tol`` times the largest are dropped
        (they are rounding noise of scipy's spline prefilter).

    Attributes
    ----------
    method_ : {"sparse", "separable"}
        One sparse matrix (few input voxels per output voxel) or three dense
        per-axis products.
    axis_operators_ : list of ndarray
        The per-axis (n_out, n_in) matrices.
    support_ : int
        Input voxels per output voxel (product of the per-axis row supports).

    Raises
    ------
    ValueError
        When the voxel mapping is not diagonal (see :func:`is_separable`).

    Examples
    --------
    >>> import numpy as np
    >>> resampler = GridResampler((4, 4, 4), np.eye(4), (2, 2, 2), np.diag([2, 2, 2, 1]))
    >>> data = np.arange(64.0).reshape(4, 4, 4)
    >>> bool(np.allclose(resampler.resample(data), data[::2, ::2, ::2]))
    True
    """

    def __init__(
        self,
        source_shape: tuple[int, ...],
        source_affine: Any,
        target_shape: tuple[int, ...],
        target_affine: Any,
        *,
        target_mask: Any = None,
        tol: float = 1e-12,
    ) -> None:
        if not is_separable(source_affine, target_affine):
            raise ValueError(
                "GridResampler needs grids related by a per-axis scaling, flip and "
                "shift (a diagonal voxel mapping); these affines involve a rotation "
                "or shear. Use nilearn.image.resample_to_img instead."
            )
        self.source_shape = tuple(int(n) for n in source_shape[:3])
        self.target_shape = tuple(int(n) for n in target_shape[:3])
        mapping = voxel_mapping(source_affine, target_affine)
        operators = []
        for axis in range(3):
            operator = _axis_operator(
                self.source_shape[axis],
                self.target_shape[axis],
                float(mapping[axis, axis]),
                float(mapping[axis, 3]),
            )
            scale = np.abs(operator).max(initial=0.0)
            operator[np.abs(operator) <= tol * scale] = 0.0
            operators.append(operator)
        self.axis_operators_ = operators
        supports = [int((op != 0).sum(axis=1).max(initial=0)) for op in operators]
        self.support_ = int(np.prod(supports))
        if self.support_ <= MAX_SPARSE_SUPPORT:
            self.method_ = "sparse"
            matrix = self._kron(operators)
            self._rows = None
            if target_mask is not None:
                self._rows = np.flatnonzero(np.asarray(target_mask, dtype=bool))
                matrix = matrix[self._rows]
            # gather only the input voxels some output uses, then one small product
            self._inputs, inverse = np.unique(matrix.indices, return_inverse=True)
            # the same voxels as Fortran-order offsets (NIfTI data usually is)
            self._inputs_f = np.ravel_multi_index(
                np.unravel_index(self._inputs, self.source_shape),
                self.source_shape,
                order="F",
            )
            matrix.indices = inverse.astype(matrix.indices.dtype)
            self._matrix = sparse.csr_array(
                (matrix.data, matrix.indices, matrix.indptr),
                shape=(matrix.shape[0], self._inputs.size),
            )
        else:
            self.method_ = "separable"
            self._set_separable(operators, target_mask)

    def _set_separable(self, operators: list[np.ndarray], target_mask: Any) -> None:
        """Per-axis products restricted to the bounding box of ``target_mask``."""
        self._rows = None
        box = tuple(slice(0, n) for n in self.target_shape)
        if target_mask is not None:
            mask = np.asarray(target_mask, dtype=bool)
            self._rows = np.flatnonzero(mask)
            box = bounding_box(mask) or box
            # the mask voxels, as C-order offsets inside the box
            self._box_rows = np.flatnonzero(mask[box])
        self._box = box
        operators = [op[rows] for op, rows in zip(operators, box, strict=True)]
        # keep only the input columns some output uses (smaller products)
        self._columns = [np.flatnonzero(np.any(op != 0, axis=0)) for op in operators]
        self._compact = [
            np.ascontiguousarray(op[:, cols])
            for op, cols in zip(operators, self._columns, strict=True)
        ]
        # (OpenBLAS is several times slower on the transposed view)
        self._mz_t = np.ascontiguousarray(self._compact[2].T)
        # contiguous column ranges (the usual case): a slice instead of np.ix_
        self._slices = None
        if all(c.size and c[-1] - c[0] + 1 == c.size for c in self._columns):
            self._slices = tuple(
                slice(int(c[0]), int(c[-1]) + 1) for c in self._columns
            )

    @staticmethod
    def _kron(operators: list[np.ndarray]) -> sparse.csr_array:
        mx, my, mz = (sparse.csr_array(op) for op in operators)
        matrix = sparse.csr_array(sparse.kron(mx, sparse.kron(my, mz, format="csr")))
        matrix.sum_duplicates()
        return matrix

    def resample(self, data: Any) -> np.ndarray:
        """Resample one 3D array (or a 4D stack, volume by volume).

        Parameters
        ----------
        data : ndarray of shape ``source_shape`` or ``source_shape + (n,)``
            Finite values on the input grid.

        Returns
        -------
        ndarray of shape ``target_shape`` (+ ``(n,)``), float64
            With a ``target_mask``, voxels outside it are 0.
        """
        array = self._check(data, allow_4d=True)
        if array.ndim == 4:
            return np.stack(
                [self.resample(array[..., i]) for i in range(array.shape[3])], axis=-1
            )
        if self._rows is None:
            if self.method_ == "sparse":
                return (self._matrix @ self._gather(array)).reshape(self.target_shape)
            return self._separable(array)
        out = np.zeros(int(np.prod(self.target_shape)))
        out[self._rows] = self.resample_masked(array)
        return out.reshape(self.target_shape)

    def resample_masked(self, data: Any) -> np.ndarray:
        """Values of the ``target_mask`` voxels only (what decoding projects).

        Parameters
        ----------
        data : ndarray of shape ``source_shape``
            Finite values on the input grid.

        Returns
        -------
        ndarray of shape (n_mask_voxels,), float64
            ``resample(data)[target_mask]`` (C order), without building the
            output volume.

        Raises
        ------
        ValueError
            When the resampler was built without a ``target_mask``.
        """
        if self._rows is None:
            raise ValueError(
                "resample_masked needs a GridResampler built with a 'target_mask'."
            )
        array = self._check(data, allow_4d=False)
        if self.method_ == "sparse":
            return self._matrix @ self._gather(array)
        return self._separable(array).reshape(-1)[self._box_rows]

    def _check(self, data: Any, *, allow_4d: bool) -> np.ndarray:
        array = np.asarray(data)
        ndims = (3, 4) if allow_4d else (3,)
        if tuple(array.shape[:3]) != self.source_shape or array.ndim not in ndims:
            stack = " (or a 4D stack of them)" if allow_4d else ""
            raise ValueError(
                f"The 'data' argument must have shape {self.source_shape}{stack}. "
                f"Got shape {array.shape} instead."
            )
        return array

    def _gather(self, array: np.ndarray) -> np.ndarray:
        """The input voxels the sparse matrix uses, float64, in its column order."""
        if array.flags.f_contiguous and not array.flags.c_contiguous:
            used = array.reshape(-1, order="F")[self._inputs_f]
        else:
            used = array.reshape(-1)[self._inputs]
        return used.astype(np.float64)

    def _separable(self, array: np.ndarray) -> np.ndarray:
        """Three dense per-axis products (over the mask's bounding box, if any)."""
        mx, my, _ = self._compact
        if self._slices is not None:
            sub = np.ascontiguousarray(array[self._slices], dtype=np.float64)
        else:
            sub = np.ascontiguousarray(array[np.ix_(*self._columns)], dtype=np.float64)
        nx, ny, _ = sub.shape
        out = sub.reshape(nx * ny, -1) @ self._mz_t  # (nx*ny, nz_out)
        out = np.matmul(my, out.reshape(nx, ny, -1))  # (nx, ny_out, nz_out)
        out = mx @ out.reshape(nx, -1)  # (nx_out, ny_out*nz_out)
        # the whole target grid, or the mask's bounding box (resample_masked gathers)
        return out.reshape(tuple(op.shape[0] for op in self._compact))
