"""Per-term explanations: how much each region of a map adds to a term's score.

The score of a term is what the decoder reports for it: the posterior ``P(T|A)`` of
a task, the concept score (noisy-OR mixed with the concept's own text, see
``CLIPDecoder(concept_text_weight=...)``) or the noisy-OR probability ``P(D|A)``
of a domain.
It is a smooth, non-linear function of the map's region values (the image tower
is a residual MLP with LayerNorm), so no exact linear decomposition over parcels
exists. :func:`explain_term` uses **integrated gradients** (Sundararajan et al.
2017) through the very function the decoder computes:

- the tower's input is the unit-norm vector ``u`` of region values (the model
  L2-normalises its input; the norm of a map carries no information), so region
  ``k`` of ``u`` is region ``k`` of the map up to one positive factor per map;
- the path runs from a baseline ``b`` to ``u``: ``"zero"`` (no activation
  anywhere; regions where the map is 0 get exactly 0) or ``"uniform"`` (the same
  activation everywhere);
- attributions ``a_k = (u_k - b_k) * integral_0^1 dS/du_k(b + t (u - b)) dt``
  computed with Gauss-Legendre quadrature in float64; by the gradient theorem
  they sum to ``S(u) - S(b)`` (completeness), which is checked: the number of
  nodes doubles until the sum matches within ``rtol``;
- concepts and domains go through the same noisy-OR (and concept mixture) as
  :meth:`~brainlm_decode.CLIPDecoder.decode`, inside the differentiated function.

Region names come from Harvard-Oxford (cortical and subcortical maximum
probability atlases, largest overlap) when nilearn has those files on disk already
(nothing is downloaded), else from the decoder's own atlas labels.
"""

from __future__ import annotations

import copy
import difflib
import warnings
from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["Explanation", "explain_term", "region_names", "resolve_term"]

_LEVELS = ("task", "concept", "domain")
_HO_ATLASES = ("cort-maxprob-thr25-2mm", "sub-maxprob-thr25-2mm")


@dataclass
class Explanation:
    """Contribution of each region of a map to the score of one term.

    Unpacks as ``img, table = decoder.explain(map, term)``.

    Attributes
    ----------
    term, term_id, level : str
        The explained term, its ontology id and level.
    score : float
        The term's score for the map (posterior or noisy-OR probability).
    baseline_score : float
        The score of the baseline map.
    contributions : pandas.Series
        One value per region of the image space (indexed by region name); they
        sum to ``score - baseline_score`` up to ``completeness_error``.
    img : nibabel.Nifti1Image
        ``contributions`` painted on the regions (the explanation map).
    table : pandas.DataFrame
        The ``top`` regions by absolute contribution (see :func:`explain_term`).
    completeness_error : float
        ``|sum(contributions) - (score - baseline_score)|``.
    n_steps : int
        Quadrature nodes used.
    baseline : str
        ``"zero"`` or ``"uniform"``.
    """

    term: str
    term_id: str
    level: str
    score: float
    baseline_score: float
    contributions: pd.Series
    img: nib.Nifti1Image
    table: pd.DataFrame
    completeness_error: float
    n_steps: int
    baseline: str
    region_atlas: str = field(default="own labels")

    def __iter__(self):
        """Yield ``img`` then ``table``."""
        yield self.img
        yield self.table


# --------------------------------------------------------------------------- terms


def resolve_term(ontology: Any, term: str, level: str | None = None) -> tuple[str, int]:
    """Level and index of a term given by name or id.

    Parameters
    ----------
    ontology : CognitiveAtlas
        The decoder's ontology.
    term : str
        Term name or id (exact, then case-insensitive).
    level : {"task", "concept", "domain"} or None, default=None
        Where to look; ``None`` tries tasks, then concepts, then domains.

    Returns
    -------
    level : str
    index : int
        Position of the term in the level's order (``task_ids`` etc.).
    """
    if not isinstance(term, str) or not term:
        raise TypeError(
            f"The 'term' argument must be a non-empty str. Got {term!r} instead."
        )
    if level is not None and level not in _LEVELS:
        raise ValueError(
            f"The 'level' argument must be one of {list(_LEVELS)} or None. Got "
            f"{level!r} instead."
        )
    levels = _LEVELS if level is None else (level,)
    for folded in (False, True):
        for lvl in levels:
            for labels in (
                getattr(ontology, f"{lvl}_names"),
                getattr(ontology, f"{lvl}_ids"),
            ):
                values = [str(v) for v in labels]
                if folded:
                    values = [v.casefold() for v in values]
                key = term.casefold() if folded else term
                if key in values:
                    return lvl, values.index(key)
    names = [str(n) for lvl in levels for n in getattr(ontology, f"{lvl}_names")]
    close = difflib.get_close_matches(term, names, n=5, cutoff=0.5)
    hint = f" Close matches: {close}." if close else ""
    raise ValueError(
        f"The 'term' argument {term!r} is not a {' or '.join(levels)} name or id of "
        f"the decoder's ontology.{hint}"
    )


def _task_weights(ontology: Any, level: str, index: int) -> np.ndarray:
    """Noisy-OR exponent of each task for one concept or domain.

    ``P(term) = 1 - prod_t (1 - P(t)) ** m_t``: ``m_t`` is 1 for the tasks of a
    concept, and for a domain the number of its concepts that task ``t`` measures
    (the noisy-OR of noisy-ORs the decoder computes).
    """
    tc = sparse.csr_array(ontology.task_concept_matrix, dtype=np.float64, copy=True)
    tc.data[:] = 1.0
    if level == "concept":
        column = tc[:, [index]]
    else:
        cd = sparse.csr_array(
            ontology.concept_domain_matrix, dtype=np.float64, copy=True
        )
        cd.data[:] = 1.0
        column = tc @ cd[:, [index]]
    return np.asarray(column.toarray()).ravel()


# --------------------------------------------------------------------------- scores


def _score_function(decoder: Any, level: str, index: int):
    """The decoder's score of one term as a float64 torch function of ``u``."""
    import torch
    import torch.nn.functional as F

    model = copy.deepcopy(decoder.model_).double().eval()
    tasks = torch.as_tensor(np.asarray(decoder.task_embeddings_), dtype=torch.float64)
    prior = np.asarray(decoder.prior_, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_prior = torch.as_tensor(np.log(prior), dtype=torch.float64)
    scale = float(decoder.logit_scale_) / getattr(decoder, "temperature_", 1.0)
    weights = (
        None
        if level == "task"
        else torch.as_tensor(_task_weights(decoder.ontology_, level, index))
    )
    concepts = getattr(decoder, "concept_embeddings_", None)
    mix = float(decoder.concept_text_weight) if concepts is not None else 0.0
    if level == "concept" and mix > 0:
        # the mixture of CLIPDecoder.decode_embeddings: all concepts' noisy-OR
        # (for the scaling) and the concepts' own text likelihood
        links = sparse.csr_array(
            decoder.ontology_.task_concept_matrix, dtype=np.float64, copy=True
        )
        links.data[:] = 1.0
        weights = torch.as_tensor(links.toarray())
        concepts = torch.as_tensor(np.asarray(concepts), dtype=torch.float64)

    def score(u: torch.Tensor) -> torch.Tensor:
        features = F.normalize(model.image_tower(u), dim=-1)
        posterior = torch.softmax(scale * features @ tasks.T + log_prior, dim=-1)
        if weights is None:
            return posterior[:, index]
        miss = torch.log1p(-posterior.clamp(max=1.0 - 1e-16))
        noisy = -torch.expm1(miss @ weights)
        if weights.ndim == 1:
            return noisy
        text = torch.softmax(scale * features @ concepts.T, dim=-1)[:, index]
        share = noisy[:, index] / noisy.sum(dim=-1).clamp(min=1e-300)
        return mix * text + (1.0 - mix) * share

    return score


def _tower_input(decoder: Any, embedding: np.ndarray) -> np.ndarray:
    x = np.asarray(embedding, dtype=np.float64).ravel()
    if getattr(decoder.model_, "normalize_inputs", True):
        norm = np.linalg.norm(x)
        x = x / norm if norm > 0 else x
    return x


def _baseline(kind: Any, u: np.ndarray) -> tuple[np.ndarray, str]:
    if isinstance(kind, str) and kind == "zero":
        return np.zeros_like(u), "zero"
    if isinstance(kind, str) and kind == "uniform":
        return np.full_like(u, 1.0 / np.sqrt(u.size)), "uniform"
    raise ValueError(
        f"The 'baseline' argument must be 'zero' or 'uniform'. Got {kind!r} instead."
    )


def integrated_gradients(
    score: Any,
    u: np.ndarray,
    baseline: np.ndarray,
    *,
    n_steps: int = 32,
    max_steps: int = 1024,
    rtol: float = 1e-4,
    atol: float = 1e-10,
) -> tuple[np.ndarray, float, float, float, int]:
    """Integrated gradients of ``score`` from ``baseline`` to ``u``, checked.

    Parameters
    ----------
    score : callable
        Float64 torch function from ``(m, n)`` inputs to ``(m,)`` scores (rows
        independent).
    u, baseline : ndarray of shape (n,)
        End and start of the straight path.
    n_steps : int, default=32
        Gauss-Legendre nodes to start with.
    max_steps : int, default=1024
        Nodes are doubled up to this number until completeness holds.
    rtol, atol : float
        Completeness tolerance: ``|sum(a) - (S(u) - S(b))| <= atol + rtol *
        |S(u) - S(b)|``.

    Returns
    -------
    attributions : ndarray of shape (n,)
    score_u, score_b, error : float
    n_steps : int
        Nodes used.
    """
    import torch

    ends = torch.as_tensor(np.stack([u, baseline]), dtype=torch.float64)
    with torch.no_grad():
        score_u, score_b = (float(v) for v in score(ends))
    delta = score_u - score_b
    diff = torch.as_tensor(u - baseline, dtype=torch.float64)
    start = torch.as_tensor(baseline, dtype=torch.float64)
    steps = int(n_steps)
    while True:
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        t = torch.as_tensor((nodes + 1.0) / 2.0, dtype=torch.float64)[:, None]
        path = (start[None, :] + t * diff[None, :]).requires_grad_(True)
        (grads,) = torch.autograd.grad(score(path).sum(), path)
        mean_grad = (torch.as_tensor(weights / 2.0)[:, None] * grads).sum(dim=0)
        attributions = (diff * mean_grad).detach().numpy()
        error = abs(float(attributions.sum()) - delta)
        if error <= atol + rtol * abs(delta) or steps >= max_steps:
            break
        steps = min(2 * steps, int(max_steps))
    if error > atol + rtol * abs(delta):
        warnings.warn(
            f"Integrated gradients did not reach completeness with {steps} steps: "
            f"the contributions sum to {attributions.sum():.6g}, the score change "
            f"is {delta:.6g}.",
            RuntimeWarning,
            stacklevel=3,
        )
    return attributions, score_u, score_b, error, steps


# --------------------------------------------------------------------------- regions


def _region_geometry(space: Any) -> pd.DataFrame:
    """Centre of mass (mm) and size of each region of a fitted image space."""
    mask = np.asanyarray(space.mask_img_.dataobj) > 0
    ijk = np.argwhere(mask)  # C order: the row order of the weights
    xyz = nib.affines.apply_affine(space.mask_img_.affine, ijk)
    weights = sparse.csc_array(space.projector_.weights)
    mass = np.asarray(weights.sum(axis=0)).ravel()
    centres = np.asarray(weights.T @ xyz) / np.where(mass > 0, mass, 1.0)[:, None]
    sizes = np.diff(weights.indptr)
    return pd.DataFrame(
        {
            "x": centres[:, 0].round(1),
            "y": centres[:, 1].round(1),
            "z": centres[:, 2].round(1),
            "n_voxels": sizes,
        }
    )


def _harvard_oxford_offline() -> list[tuple[Any, list[str]]] | None:
    """Harvard-Oxford atlases through nilearn, only when already on disk."""
    try:
        from nilearn.datasets import fetch_atlas_harvard_oxford, get_data_dirs
    except ImportError:  # pragma: no cover - nilearn is a core dependency
        return None
    for folder in get_data_dirs():
        base = f"{folder}/fsl/data/atlases/HarvardOxford"
        files = [f"{base}/HarvardOxford-{name}.nii.gz" for name in _HO_ATLASES]
        if all(_is_file(f) for f in files):
            break
    else:
        return None
    try:
        atlases = [fetch_atlas_harvard_oxford(name, verbose=0) for name in _HO_ATLASES]
    except Exception:  # files present but unreadable: own labels
        return None
    return [(a.maps, [str(label) for label in a.labels]) for a in atlases]


def _is_file(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


def region_names(space: Any, atlas: Any = "auto") -> tuple[pd.DataFrame, str]:
    """Atlas name of each region of an image space, by largest voxel overlap.

    Parameters
    ----------
    space : ImageSpace
        A fitted image space.
    atlas : "auto", "own" or list of (labels_img, labels)
        ``"auto"``: Harvard-Oxford cortical + subcortical (nilearn's files, if
        already on disk) else the space's own region names; ``"own"``: the
        space's names; or label atlases given as ``(image, names)`` pairs, where
        ``names[v]`` names label value ``v`` (``names[0]`` is the background).

    Returns
    -------
    names : DataFrame
        Columns ``atlas_region`` and ``overlap`` (fraction of the region's
        voxels inside that atlas label), one row per region.
    source : str
        ``"Harvard-Oxford"``, ``"own labels"`` or ``"user atlas"``.
    """
    own = pd.DataFrame(
        {"atlas_region": list(space.region_names_), "overlap": 1.0},
    )
    if isinstance(atlas, str) and atlas == "own":
        return own, "own labels"
    if isinstance(atlas, str) and atlas == "auto":
        pairs = _harvard_oxford_offline()
        if pairs is None:
            return own, "own labels"
        source = "Harvard-Oxford"
    elif isinstance(atlas, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 for p in atlas
    ):
        pairs, source = list(atlas), "user atlas"
    else:
        raise ValueError(
            "The 'atlas' argument must be 'auto', 'own' or a list of (labels_img, "
            f"labels) pairs. Got {atlas!r} instead."
        )
    return _overlap_names(space, pairs), source


def _overlap_names(space: Any, pairs: list[tuple[Any, list[str]]]) -> pd.DataFrame:
    from nilearn.image import resample_to_img

    from brainlm_decode.imaging.atlas import load_niimg, same_grid

    mask = np.asanyarray(space.mask_img_.dataobj) > 0
    weights = sparse.csc_array(space.projector_.weights)
    best_name = np.array(["unlabelled"] * weights.shape[1], dtype=object)
    best_frac = np.zeros(weights.shape[1])
    mass = np.asarray(weights.sum(axis=0)).ravel()
    for img, labels in pairs:
        img = load_niimg(img, "atlas")
        if not same_grid(img, space.mask_img_):
            img = resample_to_img(
                img,
                space.mask_img_,
                interpolation="nearest",
                force_resample=True,
                copy_header=True,
            )
        codes = np.asanyarray(img.dataobj)[mask].astype(np.int64)
        n_codes = int(codes.max()) + 1
        onehot = sparse.csr_array(
            (np.ones(codes.size), (np.arange(codes.size), codes)),
            shape=(codes.size, n_codes),
        )
        overlap = (weights.T @ onehot).toarray()  # regions x codes
        overlap[:, 0] = 0.0  # background
        code = overlap.argmax(axis=1)
        frac = overlap[np.arange(overlap.shape[0]), code] / np.where(
            mass > 0, mass, 1.0
        )
        better = frac > best_frac
        for k in np.flatnonzero(better):
            c = int(code[k])
            best_name[k] = labels[c] if c < len(labels) else f"label {c}"
        best_frac = np.where(better, frac, best_frac)
    return pd.DataFrame({"atlas_region": best_name, "overlap": best_frac.round(3)})


def _paint(space: Any, values: np.ndarray) -> nib.Nifti1Image:
    """Region values on the voxels (labels: painted; maps: weighted average)."""
    weights = sparse.csr_array(space.projector_.weights)
    voxel = weights @ values
    if space.kind_ != "labels":
        total = np.asarray(weights.sum(axis=1)).ravel()
        voxel = voxel / np.where(total > 0, total, 1.0)
    mask = np.asanyarray(space.mask_img_.dataobj) > 0
    data = np.zeros(mask.shape, dtype=np.float32)
    data[mask] = voxel
    return nib.Nifti1Image(data, space.mask_img_.affine)


# --------------------------------------------------------------------------- main


def explain_term(
    decoder: Any,
    img: Any,
    term: str,
    *,
    level: str | None = None,
    baseline: str = "zero",
    top: int = 10,
    atlas: Any = "auto",
    n_steps: int = 32,
    rtol: float = 1e-4,
) -> Explanation:
    """Explain the score of one term for one map, region by region.

    Parameters
    ----------
    decoder : CLIPDecoder
        A fitted decoder; its decoding options (``tail``, ``flip_sign``,
        ``percentile``) prepare the map as in ``transform``.
    img : niimg-like
        One brain map.
    term : str
        Task, concept or domain, by name or id.
    level : {"task", "concept", "domain"} or None, default=None
        Level of ``term``; ``None`` looks in tasks, then concepts, then domains.
    baseline : {"zero", "uniform"}, default="zero"
        Reference map: no activation (regions where the map is 0 contribute
        exactly 0) or the same activation everywhere.
    top : int, default=10
        Rows of the region table.
    atlas : "auto", "own" or list of (labels_img, labels), default="auto"
        Region names (see :func:`region_names`).
    n_steps : int, default=32
        Initial quadrature nodes (doubled until completeness holds, up to 1024).
    rtol : float, default=1e-4
        Relative completeness tolerance.

    Returns
    -------
    Explanation
        ``img`` (contributions painted on the regions) and ``table`` with columns
        ``region`` (own atlas name), ``atlas_region``, ``overlap``, ``x``, ``y``,
        ``z`` (centre of mass, mm), ``n_voxels``, ``map_value`` (the region's
        value in the unit-norm input of the image tower), ``contribution`` and
        ``fraction`` (contribution over the sum of absolute contributions),
        sorted by absolute contribution.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"The 'top' argument must be an int >= 1. Got {top!r}.")
    if isinstance(img, (list, tuple)):
        raise TypeError("The 'img' argument of explain must be one map, not a list.")
    lvl, index = resolve_term(decoder.ontology_, term, level)
    u = _tower_input(decoder, decoder.embed_imgs(img)[0])
    start, kind = _baseline(baseline, u)
    score = _score_function(decoder, lvl, index)
    attributions, score_u, score_b, error, steps = integrated_gradients(
        score, u, start, n_steps=n_steps, rtol=rtol
    )
    space = decoder.image_space_
    names, source = region_names(space, atlas)
    table = pd.concat(
        [
            pd.DataFrame({"region": list(space.region_names_)}),
            names,
            _region_geometry(space),
            pd.DataFrame({"map_value": u, "contribution": attributions}),
        ],
        axis=1,
    )
    total = np.abs(attributions).sum()
    table["fraction"] = attributions / total if total > 0 else 0.0
    order = np.argsort(-np.abs(attributions), kind="stable")
    top_table = table.iloc[order[:top]].reset_index(drop=True)
    ontology = decoder.ontology_
    return Explanation(
        term=str(getattr(ontology, f"{lvl}_names")[index]),
        term_id=str(getattr(ontology, f"{lvl}_ids")[index]),
        level=lvl,
        score=score_u,
        baseline_score=score_b,
        contributions=pd.Series(
            attributions, index=pd.Index(space.region_names_, name="region")
        ),
        img=_paint(space, attributions),
        table=top_table,
        completeness_error=error,
        n_steps=steps,
        baseline=kind,
        region_atlas=source,
    )
