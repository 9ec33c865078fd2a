"""Projection of voxel data on an atlas, factored once, applied to sparse MKDA maps.

Two projections, each equal to a nilearn masker:

- probabilistic maps: least squares, ``argmin_b ||W b - y||`` over the voxels of
  the mask where at least one map is positive, exactly what
  :class:`nilearn.maskers.NiftiMapsMasker` computes (``scipy.linalg.lstsq`` of the
  maps restricted to the mask against the data). Here the Gram matrix
  ``W^T W`` is factored once (Cholesky; pseudo-inverse when singular, which gives
  lstsq's minimum-norm solution), so a batch costs one sparse product ``Y W`` and
  one triangular solve;
- label atlases: region means, what :class:`nilearn.maskers.NiftiLabelsMasker`
  gives with ``strategy="mean"``: ``Y W`` divided by the region sizes.

:func:`embed_coordinates` chains :class:`~brainlm_decode.imaging.coordinates.SphereGrid`
(binary MKDA maps, sparse) and :class:`AtlasProjector` chunk by chunk, in
parallel with joblib, without building a dense volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, sparse

from brainlm_decode.base import progress
from brainlm_decode.imaging.coordinates import FociIndex, SphereGrid, warn_dropped_foci

__all__ = ["AtlasProjector", "embed_coordinates"]


class AtlasProjector:
    """An atlas factored for fast projection of voxel data.

    Parameters
    ----------
    weights : scipy.sparse matrix of shape (n_voxels, n_regions)
        Region weights over the mask voxels: one-hot memberships for a label
        atlas, map values for probabilistic maps. For maps, rows of voxels where
        no map is positive must be zero (nilearn ignores those voxels).
    kind : {"labels", "maps"}
        Region means (labels) or least squares (maps).

    Attributes
    ----------
    n_voxels : int
        Number of voxels (rows of ``weights``).
    n_regions : int
        Number of regions.
    method_ : str
        ``"mean"``, ``"cholesky"`` or ``"pinv"`` (singular Gram matrix).
    """

    def __init__(self, weights: Any, kind: str) -> None:
        if kind not in ("labels", "maps"):
            raise ValueError(
                f"The 'kind' argument must be 'labels' or 'maps'. Got {kind!r} instead."
            )
        self.kind = kind
        self.weights = _compact_csr(weights)
        self.n_voxels, self.n_regions = self.weights.shape
        if kind == "labels":
            sizes = np.asarray(self.weights.sum(axis=0)).ravel()
            if np.any(sizes <= 0):
                raise ValueError("Every region of a label atlas needs a voxel.")
            self._inv_sizes = 1.0 / sizes
            self.method_ = "mean"
            return
        gram = (self.weights.T @ self.weights).toarray()
        try:
            self._cho = linalg.cho_factor(gram, lower=False, check_finite=False)
            diag = np.diag(self._cho[0])
            # Cholesky diagonals ~ sqrt(eigenvalues): below 1e-6 the Gram matrix is
            # (numerically) singular, and pinv gives lstsq's minimum-norm solution
            if not np.all(np.isfinite(diag)) or diag.min() <= 1e-6 * diag.max():
                raise linalg.LinAlgError("ill-conditioned Gram matrix")
            self.method_ = "cholesky"
        except linalg.LinAlgError:
            self._pinv = linalg.pinvh(gram)
            self.method_ = "pinv"

    def solve(self, products: np.ndarray) -> np.ndarray:
        """Turn ``Y @ W`` into region values.

        Parameters
        ----------
        products : ndarray of shape (n_samples, n_regions)
            Data times weights.

        Returns
        -------
        values : ndarray of shape (n_samples, n_regions), float64
        """
        products = np.asarray(products, dtype=np.float64)
        if self.kind == "labels":
            return products * self._inv_sizes
        if self.method_ == "cholesky":
            return linalg.cho_solve(self._cho, products.T, check_finite=False).T
        return products @ self._pinv

    def project(self, data: Any) -> np.ndarray:
        """Project voxel data (dense or sparse) on the regions.

        Parameters
        ----------
        data : ndarray or scipy.sparse matrix of shape (n_samples, n_voxels)
            Values of the mask voxels, one row per sample.

        Returns
        -------
        values : ndarray of shape (n_samples, n_regions), float64
        """
        if sparse.issparse(data):
            products = (sparse.csr_array(data) @ self.weights).toarray()
        else:
            dense = np.asarray(data, dtype=np.float64)
            if dense.ndim != 2 or dense.shape[1] != self.n_voxels:
                raise ValueError(
                    f"Expected data of shape (n_samples, {self.n_voxels}). Got shape "
                    f"{dense.shape} instead."
                )
            products = np.asarray((self.weights.T @ dense.T).T)
        return self.solve(products)


def _compact_csr(matrix: Any) -> sparse.csr_array:
    """float64 CSR with sorted int32 indices (mixed index dtypes force copies)."""
    matrix = sparse.csr_array(matrix, dtype=np.float64)
    matrix.sum_duplicates()
    matrix.sort_indices()
    if matrix.nnz < 2**31 - 1 and max(matrix.shape) < 2**31 - 1:
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        matrix.indptr = matrix.indptr.astype(np.int32, copy=False)
    return matrix


def _embed_chunk(
    grid: SphereGrid,
    foci: FociIndex,
    projector: AtlasProjector,
    start: int,
    stop: int,
    value: float,
) -> tuple[np.ndarray, dict[str, int]]:
    """MKDA maps of studies ``start:stop`` projected on the atlas."""
    maps, counts = grid.study_matrix(foci, start, stop)
    counts["empty_studies"] = int((np.diff(maps.indptr) == 0).sum())
    values = projector.project(maps)
    if value != 1:
        values *= value
    return values.astype(np.float32), counts


def embed_coordinates(
    coordinates: pd.DataFrame,
    grid: SphereGrid,
    projector: AtlasProjector,
    *,
    ids: Sequence[Any] | None = None,
    value: float = 1.0,
    n_jobs: int | None = None,
    batch_size: int = 256,
    verbose: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Project the MKDA maps of many studies on an atlas, chunk by chunk.

    Parameters
    ----------
    coordinates : pandas.DataFrame
        Prepared peaks (see :func:`~brainlm_decode.imaging.prepare_coordinates`).
    grid : SphereGrid
        Sphere offsets and mask lookup; its mask voxels are the rows of the
        projector's weights.
    projector : AtlasProjector
        The factored atlas.
    ids : sequence or None, default=None
        Row order; ``None`` is the order of first appearance of the ids.
    value : float, default=1.0
        Value inside the spheres.
    n_jobs : int or None, default=None
        Parallel jobs over chunks (joblib; threads are preferred, any backend
        set with :func:`joblib.parallel_config` is honoured).
    batch_size : int, default=256
        Studies per chunk.
    verbose : int, default=0
        Progress bar when >= 1.

    Returns
    -------
    values : ndarray of shape (n_studies, n_regions), float32
    ids : ndarray of shape (n_studies,)
    """
    from joblib import Parallel, delayed

    if grid.n_voxels != projector.n_voxels:
        raise ValueError(
            f"The grid has {grid.n_voxels} mask voxels but the projector "
            f"{projector.n_voxels}; build both from the same mask."
        )
    foci = grid.index_foci(coordinates, ids)
    if foci.n_studies == 0:
        raise ValueError("No study to embed: 'ids' is empty.")
    chunks = grid.chunks(foci.n_studies, batch_size)
    tasks = (
        delayed(_embed_chunk)(grid, foci, projector, start, stop, value)
        for start, stop in progress(
            chunks, verbose=int(verbose), desc="MKDA + projection", total=len(chunks)
        )
    )
    results = Parallel(n_jobs=n_jobs, prefer="threads")(tasks)
    values = np.concatenate([res[0] for res in results], axis=0)
    totals: dict[str, int] = {}
    for _, counts in results:
        for key, count in counts.items():
            totals[key] = totals.get(key, 0) + count
    warn_dropped_foci(foci, totals, "transform_coordinates")
    return values, foci.ids
