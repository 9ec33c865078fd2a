"""Null-tested term scores: p-values against spatially displaced copies of the map.

A decoded term score (task posterior, concept or domain probability) says how
well a map matches a term relative to the other terms, not whether the match is
better than chance. :func:`null_test` answers the second question with a null
of maps that keep the input's spatial structure (blob sizes, smoothness, number
and shape of clusters, value distribution) but not its location: each null map is
the prepared input map spun about the centroid of the brain mask, a uniformly
random 3D rotation of directions with every voxel keeping its radius relative to
the brain boundary in its direction, so that the spun map fills the mask (a
volumetric analogue of the spin test of Alexander-Bloch et al. 2018; a plain
rigid rotation would push parts of the map out of the brain and bias the null
towards smaller maps).

Every null map is decoded with the same model; the empirical p-value of a term
is the fraction of null maps scoring at least as high, ``(1 + #{null >=
observed}) / (1 + n_null)`` (Phipson & Smyth 2010), and q-values control the
false discovery rate over the terms of each level (Benjamini-Hochberg). With
``n_null`` null maps that p-value is at least ``1 / (n_null + 1)``, so passing BH
over 853 tasks would need several thousand null maps; by default
(``null_pvalues="tail"``) the p-values of terms with fewer than 10 null scores at
or above the observed one come from a generalized Pareto fit to the tail of the
null (:mod:`brainlm_decode.decode.tail`) and can go below that floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "add_null_columns",
    "bh_fdr",
    "check_null_pvalues",
    "displaced_maps",
    "empirical_pvalues",
    "exceedances",
    "null_test",
]


def bh_fdr(pvalues: Any) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis.

    Parameters
    ----------
    pvalues : array-like of shape (..., n_terms)
        p-values in [0, 1].

    Returns
    -------
    ndarray, same shape
        Adjusted p-values (monotone, at most 1).

    Examples
    --------
    >>> bh_fdr([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("The 'pvalues' argument must hold values in [0, 1].")
    n = p.shape[-1]
    order = np.argsort(p, axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1) * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=-1)
    return q


def empirical_pvalues(observed: Any, null: Any) -> np.ndarray:
    """One-sided permutation p-values ``(1 + #{null >= observed}) / (1 + n_null)``.

    Parameters
    ----------
    observed : array-like of shape (n_terms,)
        Scores of the input map.
    null : array-like of shape (n_null, n_terms)
        Scores of the null maps.

    Returns
    -------
    ndarray of shape (n_terms,)
    """
    obs = np.asarray(observed, dtype=np.float64)
    nul = np.asarray(null, dtype=np.float64)
    if nul.ndim != 2 or nul.shape[1] != obs.shape[-1]:
        raise ValueError(
            f"The 'null' argument must have shape (n_null, {obs.shape[-1]}). Got "
            f"{nul.shape} instead."
        )
    return (1.0 + exceedances(obs, nul)) / (1.0 + nul.shape[0])


def exceedances(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Null scores ``>= observed`` per term (a relative tolerance of 1e-12 for ties)."""
    return (null >= observed - 1e-12 * np.abs(observed)).sum(axis=0)


_CELLS = 96  # direction cells per axis of the boundary look-up cube


class _RadialBrain:
    """Mask voxels in radially normalised spherical coordinates about the centroid.

    A voxel ``x = c + r u`` (unit direction ``u``) gets the normalised radius
    ``r / R(u)``, ``R(u)`` the largest mask radius in the angular bin of ``u``
    (bins of ``bin_degrees`` in polar and azimuth angles, empty bins filled from
    their neighbours). Rotating ``u`` and keeping the normalised radius maps the
    mask onto itself, so a rotated map covers the whole mask (a volumetric spin).
    """

    def __init__(self, mask_img: Any, bin_degrees: float = 4.0) -> None:
        from scipy import ndimage

        mask = np.asanyarray(mask_img.dataobj) > 0
        self.affine = np.asarray(mask_img.affine, dtype=np.float64)
        self.inverse = np.linalg.inv(self.affine)
        self.shape = np.array(mask.shape)
        ijk = np.argwhere(mask)
        world = ijk @ self.affine[:3, :3].T + self.affine[:3, 3]
        self.centre = world.mean(axis=0)
        offset = world - self.centre
        radius = np.linalg.norm(offset, axis=1)
        self.direction = offset / np.where(radius > 0, radius, 1.0)[:, None]
        self.n_polar = int(np.ceil(180.0 / bin_degrees))
        self.n_azimuth = int(np.ceil(360.0 / bin_degrees))
        bins = self._bins(offset / np.where(radius > 0, radius, 1.0)[:, None])
        table = np.zeros(self.n_polar * self.n_azimuth)
        np.maximum.at(table, bins, radius)
        table = table.reshape(self.n_polar, self.n_azimuth)
        while np.any(table == 0):  # fill empty bins (poles) from neighbours
            grown = ndimage.maximum_filter(table, size=3, mode="wrap")
            table = np.where(table == 0, grown, table)
        bound = table.reshape(-1)
        # boundary radius on a cube of direction cells: no trigonometry per null
        axis = (np.arange(_CELLS) + 0.5) / _CELLS * 2.0 - 1.0
        cells = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
        cells = cells.reshape(-1, 3)
        cells /= np.linalg.norm(cells, axis=1, keepdims=True)
        self.cell_bound = bound[self._bins(cells)].astype(np.float32)
        self.direction = self.direction.astype(np.float32)
        own = self.cell_bound[self._cells(self.direction)]
        self.relative = (radius / own).astype(np.float32)
        self.strides = np.array([self.shape[1] * self.shape[2], self.shape[2], 1])
        # fast path (padded_offsets): directions as rows, a grid padded by one
        # voxel so that out-of-grid reads clip onto a zero border
        self._direction_rows = np.ascontiguousarray(self.direction.T)
        self._linear = self.inverse[:3, :3]
        self._shift = (self.inverse[:3, :3] @ self.centre + self.inverse[:3, 3])[
            :, None
        ]
        padded = self.shape + 2
        self.padded_shape = tuple(int(n) for n in padded)
        exact = np.float32 if np.prod(padded) < 2**24 else np.float64
        self._padded_strides = np.array(
            [[padded[1] * padded[2], padded[2], 1]], dtype=exact
        )
        self._upper = padded[:, None].astype(np.float32) - 1.0

    def _bins(self, direction: np.ndarray) -> np.ndarray:
        polar = np.arccos(np.clip(direction[:, 2], -1.0, 1.0))
        azimuth = np.arctan2(direction[:, 1], direction[:, 0]) + np.pi
        i = np.minimum(
            (polar / np.pi * self.n_polar).astype(np.int64), self.n_polar - 1
        )
        j = np.minimum(
            (azimuth / (2 * np.pi) * self.n_azimuth).astype(np.int64),
            self.n_azimuth - 1,
        )
        return i * self.n_azimuth + j

    @staticmethod
    def _cells(direction: np.ndarray) -> np.ndarray:
        cell = ((direction + 1.0) * (_CELLS / 2.0)).astype(np.int64)
        np.clip(cell, 0, _CELLS - 1, out=cell)
        return (cell[:, 0] * _CELLS + cell[:, 1]) * _CELLS + cell[:, 2]

    def padded_offsets(self, rotation: np.ndarray) -> np.ndarray:
        """Flat offsets into the one-voxel-padded grid each mask voxel reads from.

        Same arithmetic as :meth:`source_offsets`, in rows of float32 (one BLAS
        product gives the source directions and their grid coordinates), with
        reads outside the grid clipped onto the zero border of the padded grid.
        """
        rotation = np.asarray(rotation, dtype=np.float64)
        both = np.vstack([rotation.T, self._linear @ rotation.T]).astype(np.float32)
        rows = both @ self._direction_rows  # (6, n): source direction, grid direction
        cell = rows[:3] + 1.0
        cell *= _CELLS / 2.0
        np.floor(cell, out=cell)
        np.clip(cell, 0, _CELLS - 1, out=cell)
        flat_cell = (cell[0] * _CELLS + cell[1]) * _CELLS + cell[2]  # exact in float32
        radius = self.cell_bound[flat_cell.astype(np.intp)]
        radius *= self.relative
        index = rows[3:] * radius
        index += self._shift.astype(np.float32)
        np.rint(index, out=index)
        index += 1.0  # the padding
        np.clip(index, 0.0, self._upper, out=index)
        return (self._padded_strides @ index).astype(np.intp).ravel()

    def source_offsets(self, rotation: np.ndarray) -> np.ndarray:
        """Flat grid offsets each mask voxel reads from under ``rotation`` (-1: none)."""
        padded = np.unravel_index(self.padded_offsets(rotation), self.padded_shape)
        index = np.stack(padded, axis=1) - 1
        inside = np.all((index >= 0) & (index < self.shape), axis=1)
        return np.where(inside, index @ self.strides, -1)


def displaced_maps(
    data: np.ndarray,
    mask_img: Any,
    n_null: int,
    *,
    random_state: Any = None,
) -> Any:
    """Yield null maps: ``data`` spun about the brain centroid, at the mask voxels.

    Each null map is ``data`` under a uniformly random 3D rotation of the
    directions about the centroid of the mask, with every voxel keeping its
    radius relative to the brain boundary in its direction (so the rotated map
    fills the mask, as a spin test fills the sphere). Nearest-neighbour sampling.

    Parameters
    ----------
    data : ndarray of shape ``mask_img.shape``
        The prepared map on the mask grid.
    mask_img : nibabel image
        Brain mask on the grid of ``data``.
    n_null : int
        Number of null maps.
    random_state : int, RandomState or None, default=None
        Seed of the rotations.

    Yields
    ------
    ndarray of shape (n_mask_voxels,)
        One null map's values at the mask voxels (C order of the mask).
    """
    for batch in _null_batches(data, mask_img, n_null, random_state, 1):
        yield batch[0].copy()


def _null_batches(
    data: np.ndarray, mask_img: Any, n_null: int, random_state: Any, batch_size: int
) -> Any:
    """Spun maps of :func:`displaced_maps` in batches (one reused buffer)."""
    from scipy.spatial.transform import Rotation

    rng = check_random_state(random_state)
    brain = _RadialBrain(mask_img)
    mask = np.asanyarray(mask_img.dataobj) > 0
    padded = np.zeros(brain.padded_shape)
    padded[1:-1, 1:-1, 1:-1] = np.where(mask, data, 0.0)
    flat = padded.reshape(-1)
    buffer = np.empty((min(int(batch_size), int(n_null)), brain.relative.size))
    done = 0
    while done < int(n_null):
        size = min(len(buffer), int(n_null) - done)
        for row in buffer[:size]:
            rotation = Rotation.random(random_state=rng).as_matrix()
            np.take(flat, brain.padded_offsets(rotation), out=row)
        done += size
        yield buffer[:size]


NULL_PVALUES = ("tail", "empirical")


def check_null_pvalues(null_pvalues: Any) -> str:
    """Validate the ``null_pvalues`` argument (``"tail"`` or ``"empirical"``)."""
    if not isinstance(null_pvalues, str) or null_pvalues not in NULL_PVALUES:
        raise ValueError(
            f"The 'null_pvalues' argument must be one of {list(NULL_PVALUES)}. "
            f"Got {null_pvalues!r} instead."
        )
    return null_pvalues


def null_test(
    decoder: Any,
    img: Any,
    n_null: int = 1000,
    *,
    random_state: Any = None,
    batch_size: int = 64,
    null_pvalues: str = "tail",
    return_null: bool = False,
) -> Any:
    """p- and q-values of every term of one map against displaced-map nulls.

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder.
    img : niimg-like
        One brain map.
    n_null : int, default=1000
        Number of null maps.
    random_state : int, RandomState or None, default=None
        Seed of the null maps.
    batch_size : int, default=64
        Null maps decoded at once.
    null_pvalues : {"tail", "empirical"}, default="tail"
        ``"empirical"``: ``(1 + #{null >= observed}) / (1 + n_null)``, at least
        ``1 / (n_null + 1)``. ``"tail"``: the same for terms with at least 10
        null scores at or above the observed one, and a generalized Pareto
        approximation of the tail below that (:func:`~brainlm_decode.decode.tail.
        tail_pvalues`), which can go below ``1 / (n_null + 1)``.
    return_null : bool, default=False
        Also return the null scores.

    Returns
    -------
    result : dict
        For ``"task"``, ``"concept"`` and ``"domain"``: ``{"p": ..., "q": ...}``
        arrays in the ontology's order (``ontology_.task_ids`` and so on).
    null : dict
        Only with ``return_null=True``: for each level, the null scores, an
        array of shape (n_null, n_terms) (task posteriors, concept and domain
        probabilities), and ``"observed"``: the input map's scores by level.
    """
    from brainlm_decode.decode._inputs import on_grid as _on_grid
    from brainlm_decode.decode.tail import tail_pvalues
    from brainlm_decode.imaging import prepare_map

    check_null_pvalues(null_pvalues)
    if int(n_null) < 1:
        raise ValueError(f"The 'n_null' argument must be >= 1. Got {n_null!r}.")
    space = decoder.image_space_
    prepared = prepare_map(
        _on_grid(img, space),
        tail=decoder.tail,
        flip_sign=decoder.flip_sign,
        percentile=decoder.percentile,
        mask_img=space.mask_img_,
    )
    data = np.asarray(prepared.dataobj, dtype=np.float64)
    keys = {"task": "posterior", "concept": "concept", "domain": "domain"}
    scores = decoder.decode_embeddings(space.transform_imgs(prepared))
    observed = {level: scores[key][0] for level, key in keys.items()}
    null = {level: np.empty((int(n_null), observed[level].size)) for level in keys}
    done = 0
    for batch in _null_batches(data, space.mask_img_, n_null, random_state, batch_size):
        embeddings = space.projector_.project(batch).astype(np.float32)
        scores = decoder.decode_embeddings(embeddings)
        for level, key in keys.items():
            null[level][done : done + len(batch)] = scores[key]
        done += len(batch)
    out = {}
    for level in keys:
        if null_pvalues == "tail":
            p = tail_pvalues(observed[level], null[level])
        else:
            p = empirical_pvalues(observed[level], null[level])
        out[level] = {"p": p, "q": bh_fdr(p)}
    if return_null:
        return out, {**null, "observed": observed}
    return out


def add_null_columns(
    decoder: Any,
    imgs: list[Any],
    tables: dict[str, list[Any]],
    n_null: int,
    *,
    random_state: Any = None,
    null_pvalues: str = "tail",
) -> None:
    """Add columns ``p`` and ``q`` (:func:`null_test`) to decoded tables, in place.

    Parameters
    ----------
    decoder : CLIPDecoder
        The fitted decoder that made ``tables``.
    imgs : list of niimg-like
        The decoded maps.
    tables : dict
        ``{"task": [...], "concept": [...], "domain": [...]}``, one DataFrame per
        map (with an ``id`` column), as built by ``CLIPDecoder.decode``.
    n_null : int
        Null maps per input map.
    random_state : int, RandomState or None, default=None
        Seed of the null maps.
    null_pvalues : {"tail", "empirical"}, default="tail"
        How p-values are computed (see :func:`null_test`).
    """
    import pandas as pd

    atlas = decoder.ontology_
    ids = {
        "task": atlas.task_ids,
        "concept": atlas.concept_ids,
        "domain": atlas.domain_ids,
    }
    rng = check_random_state(random_state)
    for i, img in enumerate(imgs):
        result = null_test(
            decoder, img, n_null, random_state=rng, null_pvalues=null_pvalues
        )
        for level, values in result.items():
            table = tables[level][i]
            for column in ("p", "q"):
                series = pd.Series(values[column], index=list(ids[level]))
                table[column] = series.reindex(table["id"]).to_numpy()
