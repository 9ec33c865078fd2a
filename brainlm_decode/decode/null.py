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

Every null map is decoded with the same model; the p-value of a term is the
fraction of null maps scoring at least as high, ``(1 + #{null >= observed}) /
(1 + n_null)`` (Phipson & Smyth 2010), and q-values control the false discovery
rate over the terms of each level (Benjamini-Hochberg). With ``n_null`` null
maps the smallest p-value is ``1 / (n_null + 1)``, so passing BH over 853 tasks
needs several thousand null maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "add_null_columns",
    "bh_fdr",
    "displaced_maps",
    "empirical_pvalues",
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
    # relative tolerance: a null equal to the observed score counts as >=
    exceed = (nul >= obs - 1e-12 * np.abs(obs)).sum(axis=0)
    return (1.0 + exceed) / (1.0 + nul.shape[0])


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

    def source_offsets(self, rotation: np.ndarray) -> np.ndarray:
        """Flat grid offsets each mask voxel reads from under ``rotation`` (-1: none)."""
        # target direction u takes the value at direction R^T u, same relative radius
        source_dir = self.direction @ rotation.astype(np.float32)
        radius = self.relative * self.cell_bound[self._cells(source_dir)]
        source = source_dir * radius[:, None]
        linear = self.inverse[:3, :3].astype(np.float32)
        shift = (self.inverse[:3, :3] @ self.centre + self.inverse[:3, 3]).astype(
            np.float32
        )
        index = np.rint(source @ linear.T + shift).astype(np.int64)
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
    from scipy.spatial.transform import Rotation

    rng = check_random_state(random_state)
    brain = _RadialBrain(mask_img)
    mask = np.asanyarray(mask_img.dataobj) > 0
    flat = np.append(np.where(mask, data, 0.0).reshape(-1), 0.0)  # [-1] reads 0
    for _ in range(int(n_null)):
        rotation = Rotation.random(random_state=rng).as_matrix()
        yield flat[brain.source_offsets(rotation)]


def null_test(
    decoder: Any,
    img: Any,
    n_null: int = 1000,
    *,
    random_state: Any = None,
    batch_size: int = 64,
) -> dict[str, dict[str, np.ndarray]]:
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

    Returns
    -------
    dict
        For ``"task"``, ``"concept"`` and ``"domain"``: ``{"p": ..., "q": ...}``
        arrays in the ontology's order (``ontology_.task_ids`` and so on).
    """
    from brainlm_decode.decode._inputs import on_grid as _on_grid
    from brainlm_decode.imaging import prepare_map

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
    observed = decoder.decode_embeddings(space.transform_imgs(prepared))
    exceed = {level: np.zeros(observed[key].shape[1]) for level, key in keys.items()}
    batch: list[np.ndarray] = []

    def flush() -> None:
        embeddings = space.projector_.project(np.vstack(batch)).astype(np.float32)
        scores = decoder.decode_embeddings(embeddings)
        for level, key in keys.items():
            obs = observed[key][0]
            exceed[level] += (scores[key] >= obs - 1e-12 * np.abs(obs)).sum(axis=0)
        batch.clear()

    for values in displaced_maps(
        data, space.mask_img_, n_null, random_state=random_state
    ):
        batch.append(values)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    out = {}
    for level in keys:
        p = (1.0 + exceed[level]) / (1.0 + int(n_null))
        out[level] = {"p": p, "q": bh_fdr(p)}
    return out


def add_null_columns(
    decoder: Any,
    imgs: list[Any],
    tables: dict[str, list[Any]],
    n_null: int,
    *,
    random_state: Any = None,
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
        result = null_test(decoder, img, n_null, random_state=rng)
        for level, values in result.items():
            table = tables[level][i]
            for column in ("p", "q"):
                series = pd.Series(values[column], index=list(ids[level]))
                table[column] = series.reindex(table["id"]).to_numpy()
