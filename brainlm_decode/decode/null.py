"""Null-tested term scores: p-values against spatially displaced copies of the map.

A decoded term score (task posterior, concept or domain probability) says how
well a map matches a term relative to the other terms, not whether the match is
better than chance. :func:`null_test` answers the second question with a null
of maps that keep the input's spatial structure (blob sizes, smoothness, number
and shape of clusters) but not its location: each null map is the prepared input
map moved rigidly, by a uniformly random 3D rotation about the centroid of the
brain mask followed by a random shift (Gaussian, ``shift_mm`` per axis), sampled
at the mask voxels by nearest neighbour (parts moved outside the mask are lost,
as the volumetric analogue of the spin test of Alexander-Bloch et al. 2018).

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

__all__ = ["bh_fdr", "displaced_maps", "empirical_pvalues", "null_test"]


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


def displaced_maps(
    data: np.ndarray,
    mask_img: Any,
    n_null: int,
    *,
    shift_mm: float = 5.0,
    random_state: Any = None,
) -> Any:
    """Yield null maps: ``data`` rotated and shifted, at the mask voxels.

    Parameters
    ----------
    data : ndarray of shape ``mask_img.shape``
        The prepared map on the mask grid.
    mask_img : nibabel image
        Brain mask on the grid of ``data``.
    n_null : int
        Number of null maps.
    shift_mm : float, default=5.0
        Standard deviation (mm, per axis) of the random shift after the rotation.
    random_state : int, RandomState or None, default=None
        Seed of the rotations and shifts.

    Yields
    ------
    ndarray of shape (n_mask_voxels,)
        One null map's values at the mask voxels (C order of the mask).
    """
    from scipy.spatial.transform import Rotation

    rng = check_random_state(random_state)
    mask = np.asanyarray(mask_img.dataobj) > 0
    affine = np.asarray(mask_img.affine, dtype=np.float64)
    inverse = np.linalg.inv(affine)
    ijk = np.argwhere(mask)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    centre = world.mean(axis=0)
    shape = np.array(mask.shape)
    values = np.where(mask, data, 0.0).astype(np.float64)
    flat = values.reshape(-1)
    strides = np.array([shape[1] * shape[2], shape[2], 1])
    for _ in range(int(n_null)):
        rotation = Rotation.random(random_state=rng).as_matrix()
        shift = rng.normal(scale=shift_mm, size=3)
        # target voxel x takes the value found at R^T (x - c - s) + c
        source = (world - centre - shift) @ rotation + centre
        index = np.rint(source @ inverse[:3, :3].T + inverse[:3, 3]).astype(np.int64)
        inside = np.all((index >= 0) & (index < shape), axis=1)
        out = np.zeros(len(world))
        out[inside] = flat[index[inside] @ strides]
        yield out


def null_test(
    decoder: Any,
    img: Any,
    n_null: int = 1000,
    *,
    shift_mm: float = 5.0,
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
    shift_mm : float, default=5.0
        See :func:`displaced_maps`.
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
    from brainlm_decode.decode.decoder import _on_grid
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
        data, space.mask_img_, n_null, shift_mm=shift_mm, random_state=random_state
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
