"""Graph-theory descriptors of the thresholded functional connectivity graph.

Per subject, the Pearson correlation matrix is turned into a weighted undirected
graph that keeps the strongest ``density`` fraction of all ``n (n - 1) / 2``
possible edges among the **positive** correlations (all positive edges when
there are fewer; negative and zero correlations are never edges). Weights are
the correlations themselves, in (0, 1], which is the range the Brain
Connectivity Toolbox expects; no further normalisation is applied (bctpy's
``efficiency_wei`` and ``clustering_coef_wu`` do not rescale ``W`` by its
maximum either, and our functions match them exactly on the same ``W``).

Features (prefix ``"graph__"``):

- ``strength__<network>``: mean node strength (sum of the node's edge
  weights) over the ROIs of each Yeo-7 network (only when ``networks`` is
  given; ROIs outside the Yeo-7 networks are kept out of these means);
- ``modularity``: Louvain modularity ``Q`` (resolution ``gamma``, seeded from
  ``random_state``) of :func:`~brainlm_decode.descriptors.community.louvain_communities`,
  which optimises the objective of ``bct.community_louvain`` several times
  faster; its ``Q`` lies in the range bctpy reaches over seeds;
- ``global_efficiency``: weighted global efficiency (Latora & Marchiori),
  mean over ordered node pairs of ``1 / d_ij``, ``d`` the shortest path length
  with edge lengths ``1 / w`` (:func:`global_efficiency`, equal to
  ``bct.efficiency_wei(W)``);
- ``clustering``: mean weighted clustering coefficient (Onnela et al.),
  :func:`clustering_coefficient`, equal to ``bct.clustering_coef_wu(W)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from brainlm_decode.base import Interval, Satisfies, fill_doc, seed_from_random_state
from brainlm_decode.descriptors.base import (
    YEO7,
    Descriptor,
    check_networks,
)
from brainlm_decode.descriptors.connectivity import NETWORK_PHRASES

__all__ = [
    "GraphMetrics",
    "clustering_coefficient",
    "global_efficiency",
    "graph_features",
    "modularity",
    "threshold_positive_density",
]

_GLOBAL_DESCRIPTIONS = {
    "graph__modularity": "modularity of the functional network (Louvain Q)",
    "graph__global_efficiency": "global efficiency of the functional network",
    "graph__clustering": "average clustering of the functional network",
}


def threshold_positive_density(matrix: np.ndarray, density: float = 0.1) -> np.ndarray:
    """Keep the strongest positive edges of a symmetric matrix, by density.

    Parameters
    ----------
    matrix : ndarray of shape (n, n)
        Symmetric connectivity matrix (the diagonal is ignored).
    density : float, default=0.1
        Fraction of the ``n (n - 1) / 2`` possible edges kept: the
        ``round(density * n (n - 1) / 2)`` largest positive values (half-up
        rounding, as ``bct.threshold_proportional``); fewer when there are fewer
        positive values.

    Returns
    -------
    ndarray of shape (n, n)
        Symmetric weighted adjacency matrix with a zero diagonal. Without ties,
        equal to ``bct.threshold_proportional(np.clip(matrix, 0, None), density)``.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    n = matrix.shape[0]
    rows, cols = np.triu_indices(n, k=1)
    values = matrix[rows, cols]
    n_keep = int(np.floor(density * n * (n - 1) / 2 + 0.5))
    positive = np.flatnonzero(values > 0)
    if 0 < n_keep < positive.size:
        # the n_keep largest values without a full sort; ties at the cut-off go to
        # the lowest upper-triangle positions, as a stable descending sort would
        cut = np.partition(values[positive], positive.size - n_keep)[
            positive.size - n_keep
        ]
        above = positive[values[positive] > cut]
        tied = positive[values[positive] == cut][: n_keep - above.size]
        order = np.concatenate([above, tied])
    else:
        order = positive[:n_keep]
    out = np.zeros_like(matrix)
    out[rows[order], cols[order]] = values[order]
    return out + out.T


def global_efficiency(W: np.ndarray) -> float:
    """Weighted global efficiency, with edge lengths ``1 / w``.

    Parameters
    ----------
    W : ndarray of shape (n, n)
        Symmetric non-negative weighted adjacency matrix (zero: no edge).

    Returns
    -------
    float
        ``sum_{i != j} 1 / d_ij / (n (n - 1))`` with ``d`` the shortest path
        lengths (Dijkstra, :func:`scipy.sparse.csgraph.dijkstra`);
        unreachable pairs count 0. Equal to ``bct.efficiency_wei(W)``, which does
        not normalise ``W`` (it documents weights in [0, 1]).
    """
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0]
    if n < 2:
        return 0.0
    lengths = np.zeros_like(W)
    edges = W != 0
    lengths[edges] = 1.0 / W[edges]
    # W is symmetric, so the directed graph of its stored entries is the
    # undirected graph (directed=False would symmetrise a copy first)
    dist = dijkstra(csr_matrix(lengths), directed=True)
    np.fill_diagonal(dist, np.inf)
    return float((1.0 / dist).sum() / (n * n - n))


def clustering_coefficient(W: np.ndarray) -> np.ndarray:
    """Weighted clustering coefficient of each node (Onnela et al., 2005).

    Parameters
    ----------
    W : ndarray of shape (n, n)
        Symmetric weighted adjacency matrix with a zero diagonal.

    Returns
    -------
    ndarray of shape (n,)
        ``diag(W^(1/3) @ W^(1/3) @ W^(1/3)) / (k (k - 1))`` with ``k`` the
        degree (0 for nodes in no triangle). Equal to
        ``bct.clustering_coef_wu(W)``, computed with one matrix product
        instead of two (``W`` symmetric).
    """
    W = np.asarray(W, dtype=np.float64)
    degree = np.count_nonzero(W, axis=1).astype(np.float64)
    root = np.cbrt(W)
    cycles = np.einsum("ij,ij->i", root @ root, root)
    denom = degree * (degree - 1.0)
    out = np.zeros_like(cycles)
    has = cycles != 0
    out[has] = cycles[has] / denom[has]
    return out


def modularity(W: np.ndarray, *, gamma: float = 1.0, seed: Any = None) -> float:
    """Louvain modularity ``Q`` of a weighted graph.

    Parameters
    ----------
    W : ndarray of shape (n, n)
        Symmetric non-negative weighted adjacency matrix.
    gamma : float, default=1.0
        Resolution parameter.
    seed : int or None, default=None
        Seed of the node order; the same seed gives the same ``Q``.

    Returns
    -------
    float
        Modularity of the final partition of
        :func:`~brainlm_decode.descriptors.community.louvain_communities`
        (the objective of ``bct.community_louvain``; the value lies in the range
        bctpy reaches over seeds), 0 for a graph without edges.
    """
    from brainlm_decode.descriptors.community import louvain_communities

    if not np.any(W):
        return 0.0
    return louvain_communities(W, gamma=gamma, seed=seed)[1]


def graph_features(
    matrix: np.ndarray,
    networks: np.ndarray | None,
    *,
    density: float = 0.1,
    gamma: float = 1.0,
    seed: int | None = None,
) -> dict[str, float]:
    """Graph features of one subject from its correlation matrix.

    Parameters
    ----------
    matrix : ndarray of shape (n_rois, n_rois)
        Pearson correlation matrix (:func:`connectivity_matrix`).
    networks : ndarray of str or None
        Network of each ROI; ``None`` skips the per-network strengths.
    density : float, default=0.1
        Fraction of edges kept (:func:`threshold_positive_density`).
    gamma : float, default=1.0
        Louvain resolution parameter.
    seed : int or None, default=None
        Louvain seed.

    Returns
    -------
    dict of str to float
        The features of :class:`GraphMetrics` (see the module docstring).
    """
    W = threshold_positive_density(matrix, density)
    row: dict[str, float] = {}
    if networks is not None:
        strength = W.sum(axis=1)
        for name in YEO7:
            members = networks == name
            row[f"graph__strength__{name}"] = (
                float(strength[members].mean()) if members.any() else np.nan
            )
    row["graph__modularity"] = modularity(W, gamma=gamma, seed=seed)
    row["graph__global_efficiency"] = global_efficiency(W)
    row["graph__clustering"] = float(clustering_coefficient(W).mean())
    return row


def _graph_row(
    ts: np.ndarray, matrix: np.ndarray, networks: np.ndarray | None, **kwargs: Any
) -> dict[str, float]:
    """The subject task of :class:`GraphMetrics` (``ts`` is not read)."""
    return graph_features(matrix, networks, **kwargs)


@fill_doc
class GraphMetrics(Descriptor):
    """Network strength, modularity, efficiency and clustering of the FC graph.

    Each subject's correlation matrix keeps its strongest positive edges
    (``density``) as a weighted graph; see the module docstring for the graph
    and the features. Nothing is learned from the group.

    Parameters
    ----------
    density : float, default=0.1
        Fraction of all possible edges kept (strongest positive correlations).
    gamma : float, default=1.0
        Louvain resolution parameter.
    networks : sequence of str or None, default=None
        Network of each ROI; ``None`` skips the per-network strengths.
    %(n_jobs)s
    %(random_state)s
        The Louvain seed is drawn once per ``transform``: an int seed gives the
        same modularity for the same subject, whatever its position or ``n_jobs``.
    %(verbose)s

    Attributes
    ----------
    n_features_in_ : int
        Number of ROIs seen in ``fit``.
    networks_ : ndarray of str or None
        Validated networks.
    feature_names_out_ : list of str
    feature_descriptions_ : dict of str to str

    Examples
    --------
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> cohort = make_fmri_cohort(n_subjects=3, n_rois=40, random_state=0)
    >>> graph = GraphMetrics(networks=cohort.networks, random_state=0)
    >>> graph.fit(cohort.timeseries).transform(cohort.timeseries).shape
    (3, 10)
    """

    family = "graph"

    _parameter_constraints: dict[str, list[Any]] = {
        "density": [Interval(float, 0.0, 1.0, closed="right")],
        "gamma": [Interval(float, 0.0, None, closed="neither")],
        "networks": [
            None,
            Satisfies(
                lambda v: not isinstance(v, str) and len(v) > 0,
                "a sequence of network names",
            ),
        ],
    }

    def __init__(
        self,
        density: float = 0.1,
        gamma: float = 1.0,
        networks: Sequence[str] | None = None,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.density = density
        self.gamma = gamma
        self.networks = networks
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _uses_matrices(self, fitting: bool) -> bool:
        return not fitting

    def _fit_group(self, series: list[np.ndarray], matrices: Any, n_rois: int) -> None:
        self.networks_ = (
            None
            if self.networks is None
            else check_networks(self.networks, n_rois, owner=type(self).__name__)
        )

    def _feature_descriptions(self) -> dict[str, str]:
        names: dict[str, str] = {}
        if self.networks_ is not None:
            for name in YEO7:
                names[f"graph__strength__{name}"] = (
                    f"connection strength of the {NETWORK_PHRASES[name]} network"
                )
        names.update(_GLOBAL_DESCRIPTIONS)
        return names

    def _subject_task(self) -> tuple[Any, dict[str, Any]]:
        seed = None  # drawn once per transform: the same for every subject
        if self.random_state is not None:
            seed = seed_from_random_state(self.random_state)
        return _graph_row, {
            "networks": self.networks_,
            "density": self.density,
            "gamma": self.gamma,
            "seed": seed,
        }
