"""Seeded Louvain community detection for weighted undirected graphs (numpy only).

:func:`louvain_communities` optimises Newman's modularity with the resolution
parameter ``gamma``,

.. math::

    Q = \\frac{1}{s} \\sum_{ij} \\left(W_{ij} - \\gamma \\frac{k_i k_j}{s}\\right)
        \\delta(c_i, c_j),

with ``s = sum(W)`` (twice the total edge weight) and ``k`` the node strengths,
the objective of ``bct.community_louvain(W, gamma)`` (bctpy's ``B="modularity"``).
The algorithm is Louvain's (Blondel et al., 2008): local moving of single nodes
to the neighbouring community with the largest modularity gain (gain above
``1e-10``, as bctpy), then aggregation of the communities into nodes, repeated
until no node moves. Two changes make it several times faster than bctpy's
implementation without changing what is optimised:

- the node-to-community weights are updated in place (two column updates per
  move) and the gain of every community is one vector expression per visited
  node, and the aggregation is one matrix product instead of a double loop over
  community pairs;
- after the first pass over the nodes (in a random order drawn from ``seed``),
  only nodes whose neighbourhood changed are visited again (a queue, the
  "pruning" of Ozaki et al., 2016), instead of full passes until nothing moves.

The partitions differ from bctpy's for the same seed (another random stream and
visiting order), as bctpy's own partitions differ between seeds; the modularity
reached lies in the range bctpy reaches over seeds (checked in the tests on
synthetic and real connectomes). :func:`modularity_score` evaluates ``Q`` of any
partition with the formula above.

References
----------
Blondel, V. D., Guillaume, J.-L., Lambiotte, R., & Lefebvre, E. (2008). Fast
unfolding of communities in large networks. J. Stat. Mech., P10008.

Ozaki, N., Tezuka, H., & Inaba, M. (2016). A simple acceleration method for the
Louvain algorithm. Int. J. Comput. Electr. Eng., 8(3), 207-218.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

__all__ = ["louvain_communities", "modularity_score"]

#: Smallest modularity gain (in units of ``W``) that moves a node, as bctpy.
GAIN_TOL = 1e-10


def _check_graph(W: Any, name: str = "W") -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(
            f"The {name!r} argument must be a square (n, n) matrix. Got shape "
            f"{W.shape}."
        )
    if not np.all(np.isfinite(W)) or np.any(W < 0):
        raise ValueError(
            f"The {name!r} argument must hold finite, non-negative weights."
        )
    return W


def modularity_score(W: Any, labels: Any, *, gamma: float = 1.0) -> float:
    """Modularity ``Q`` of a partition of a weighted undirected graph.

    Parameters
    ----------
    W : array-like of shape (n, n)
        Symmetric non-negative weighted adjacency matrix.
    labels : array-like of int, shape (n,)
        Community of each node.
    gamma : float, default=1.0
        Resolution parameter.

    Returns
    -------
    float
        ``(sum of within-community weights - gamma * sum_c K_c^2 / s) / s`` with
        ``K_c`` the total strength of community ``c`` and ``s = W.sum()``
        (0 for a graph without edges).

    Examples
    --------
    >>> W = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0.]])
    >>> modularity_score(W, [0, 0, 1, 1])
    0.5
    """
    W = _check_graph(W)
    labels = np.asarray(labels)
    if labels.shape != (W.shape[0],):
        raise ValueError(
            f"The 'labels' argument must have one entry per node ({W.shape[0]}). "
            f"Got shape {labels.shape}."
        )
    total = W.sum()
    if total <= 0:
        return 0.0
    _, codes = np.unique(labels, return_inverse=True)
    within = W[codes[:, None] == codes[None, :]].sum()
    community_strength = np.bincount(codes, weights=W.sum(axis=1))
    return float(
        (within - gamma * np.dot(community_strength, community_strength) / total)
        / total
    )


def _local_moving(
    G: np.ndarray, gamma: float, total: float, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """One Louvain level: move single nodes while the modularity increases.

    ``G`` is the (aggregated) graph, self-loops included; returns the community
    of each node (ids in ``0..n-1``, not contiguous) and whether a node moved.
    """
    n = G.shape[0]
    strength = G.sum(axis=1)
    community_strength = strength.copy()
    # weight from each node to each community (column); Fortran order makes the
    # two column updates of a move contiguous
    to_community = np.asfortranarray(G, dtype=np.float64).copy(order="F")
    # per-node scalars as Python floats: scalar indexing of lists is the fast path
    null = (gamma * strength / total).tolist()  # gamma * k_u / s
    stay_offset = (gamma * strength * strength / total - np.diag(G)).tolist()
    strength_list = strength.tolist()
    rows, indices = np.nonzero(G)
    indptr = np.searchsorted(rows, np.arange(n + 1)).tolist()
    labels = np.arange(n)
    queue = deque(rng.permutation(n).tolist())
    queued = np.ones(n, dtype=bool)
    moved = False
    while queue:
        u = queue.popleft()
        queued[u] = False
        a = int(labels[u])
        gains = to_community[u] - null[u] * community_strength
        stay = float(gains[a]) + stay_offset[u]
        gains[a] = -np.inf
        b = int(gains.argmax())
        if gains[b] - stay <= GAIN_TOL:
            continue
        column = G[u]  # G is symmetric: row u is column u
        to_community[:, b] += column
        to_community[:, a] -= column
        community_strength[b] += strength_list[u]
        community_strength[a] -= strength_list[u]
        labels[u] = b
        moved = True
        around = indices[indptr[u] : indptr[u + 1]]
        wake = around[~queued[around] & (labels[around] != b)]
        queued[wake] = True
        queue.extend(wake.tolist())
    return labels, moved


def _aggregate(G: np.ndarray, codes: np.ndarray, n_communities: int) -> np.ndarray:
    """Graph of communities: ``E.T @ G @ E`` with ``E`` the membership indicator."""
    indicator = np.zeros((G.shape[0], n_communities))
    indicator[np.arange(G.shape[0]), codes] = 1.0
    return indicator.T @ G @ indicator


def louvain_communities(
    W: Any, *, gamma: float = 1.0, seed: Any = None
) -> tuple[np.ndarray, float]:
    """Louvain communities of a weighted undirected graph, seeded.

    Parameters
    ----------
    W : array-like of shape (n, n)
        Symmetric non-negative weighted adjacency matrix.
    gamma : float, default=1.0
        Resolution parameter (larger: smaller communities).
    seed : int, numpy Generator or None, default=None
        Seed of the random node order (:func:`numpy.random.default_rng`); the
        same seed gives the same partition.

    Returns
    -------
    labels : ndarray of int, shape (n,)
        Community of each node, numbered ``0..n_communities - 1``.
    q : float
        Modularity of ``labels`` (:func:`modularity_score`), the quantity
        ``bct.community_louvain(W, gamma)`` returns for its own partition; 0 for
        a graph without edges.

    Examples
    --------
    >>> block = np.ones((4, 4)) - np.eye(4)
    >>> W = np.kron(np.eye(2), block)
    >>> labels, q = louvain_communities(W, seed=0)
    >>> len(set(labels[:4])), len(set(labels[4:])), round(q, 3)
    (1, 1, 0.5)
    """
    W = _check_graph(W)
    n = W.shape[0]
    total = W.sum()
    if total <= 0:
        return np.arange(n), 0.0
    if np.abs(W - W.T).max() > 1e-10 * W.max():
        raise ValueError("The 'W' argument must be symmetric (an undirected graph).")
    rng = np.random.default_rng(seed)
    membership = np.arange(n)
    G = W
    while True:
        labels, moved = _local_moving(G, gamma, total, rng)
        if not moved:
            break
        _, codes = np.unique(labels, return_inverse=True)
        membership = codes[membership]
        G = _aggregate(G, codes, int(codes.max()) + 1)
    _, membership = np.unique(membership, return_inverse=True)
    return membership, modularity_score(W, membership, gamma=gamma)
