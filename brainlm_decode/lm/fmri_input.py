"""fMRI tokens for the language model: layouts, pooling and the input projection.

The tokenizer (:class:`~brainlm_decode.FMRITokenizer`) gives one continuous
feature per (ROI, temporal patch). How many of them the LM reads is the main
cost of fMRI-LM: attention is quadratic and every layer is paid per token. The
``token_layout`` chooses:

========================  ===================================  =====================
layout                    tokens per scan                      paper
========================  ===================================  =====================
``"patch"``               ``n_rois * n_patches`` (450 x 5)     patch 32
``"roi"``                 ``n_rois`` (patches averaged)        patch 160
``"network"``             ``n_networks * n_patches`` (7 x 5)    (cheaper, CPU default)
``"parcel_groups"``       ``n_token_groups * n_patches``       (cheaper, any atlas)
========================  ===================================  =====================

Pooled layouts average the features of the ROIs of a group; their fMRI-head
targets (Stage 2 F2F) are the tokenizer's codes of the pooled features
(:meth:`FMRITokenizer.quantize_features`). Tokens are laid out time-major (all
groups of patch 0, then patch 1...), so that a block-causal mask over time is
a mask over contiguous blocks (:func:`block_ids`).

:class:`~brainlm_decode.lm.model.FMRIInputModule` maps the features to the LM width: linear projection,
layer norm, plus a learned group (ROI / network) embedding and a temporal
embedding, scaled to the root-mean-square of the LM's text-token embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "TOKEN_LAYOUTS",
    "TokenLayout",
    "block_ids",
    "make_layout",
    "pool_features",
    "time_major",
]

#: Accepted values of the ``token_layout`` parameter.
TOKEN_LAYOUTS = ("patch", "roi", "network", "parcel_groups")


@dataclass
class TokenLayout:
    """Which ROIs each fMRI token pools, and the order of the tokens.

    Attributes
    ----------
    kind : str
        One of :data:`TOKEN_LAYOUTS`.
    groups : list of ndarray of int
        ROI indices of each group (one group per ROI for ``"patch"``/``"roi"``).
    group_names : list of str
        Name of each group (ROI index, network name, ``"group k"``).
    n_patches : int
        Temporal patches per group in the token sequence (1 for ``"roi"``).
    """

    kind: str
    groups: list[np.ndarray]
    group_names: list[str]
    n_patches: int
    n_rois: int = field(default=0)

    @property
    def n_groups(self) -> int:
        """Number of groups (ROIs, networks or parcel groups)."""
        return len(self.groups)

    @property
    def n_tokens(self) -> int:
        """fMRI tokens per scan in the LM's sequence."""
        return self.n_groups * self.n_patches

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (saved with adapters).

        Returns
        -------
        dict
        """
        return {
            "kind": self.kind,
            "groups": [g.tolist() for g in self.groups],
            "group_names": list(self.group_names),
            "n_patches": self.n_patches,
            "n_rois": self.n_rois,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenLayout:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        data : dict
            Output of :meth:`to_dict`.

        Returns
        -------
        TokenLayout
        """
        return cls(
            kind=data["kind"],
            groups=[np.asarray(g, dtype=np.int64) for g in data["groups"]],
            group_names=list(data["group_names"]),
            n_patches=int(data["n_patches"]),
            n_rois=int(data.get("n_rois", 0)),
        )


def _network_groups(
    networks: Sequence[str] | None, n_rois: int
) -> tuple[list[np.ndarray], list[str]]:
    if networks is None:
        raise ValueError(
            "token_layout='network' needs the network of each ROI: pass the "
            "'networks' parameter (e.g. parse_network_names(roi_labels)), a "
            "FMRIDescriptorTransformer with 'networks' as 'descriptors', or use "
            "token_layout='parcel_groups'."
        )
    if isinstance(networks, str):  # a packaged table name, e.g. "cc200"
        from brainlm_decode.datasets.networks import load_network_labels

        networks = load_network_labels(networks)
    names = np.asarray([str(n) for n in networks])
    if names.shape != (n_rois,):
        raise ValueError(
            f"The 'networks' parameter must name the network of each of the "
            f"{n_rois} ROIs. Got {names.shape[0]} names instead."
        )
    order = list(dict.fromkeys(names.tolist()))
    return [np.flatnonzero(names == n) for n in order], order


def make_layout(
    kind: str,
    n_rois: int,
    n_patches: int,
    *,
    networks: Sequence[str] | None = None,
    n_token_groups: int = 8,
) -> TokenLayout:
    """Build a token layout.

    Parameters
    ----------
    kind : {"patch", "roi", "network", "parcel_groups"}
        See the module docstring.
    n_rois, n_patches : int
        Shape of the tokenizer's features.
    networks : sequence of str or None, default=None
        Network of each ROI (``"network"`` layout).
    n_token_groups : int, default=8
        Number of contiguous ROI groups (``"parcel_groups"`` layout).

    Returns
    -------
    TokenLayout

    Examples
    --------
    >>> make_layout("network", 4, 5, networks=["Vis", "Vis", "DMN", "DMN"]).n_tokens
    10
    >>> make_layout("parcel_groups", 116, 5, n_token_groups=8).n_tokens
    40
    """
    if kind not in TOKEN_LAYOUTS:
        raise ValueError(
            f"The 'token_layout' parameter must be one of {TOKEN_LAYOUTS}. Got "
            f"{kind!r} instead."
        )
    if kind in ("patch", "roi"):
        groups = [np.array([i]) for i in range(n_rois)]
        names = [f"roi {i}" for i in range(n_rois)]
    elif kind == "network":
        groups, names = _network_groups(networks, n_rois)
    else:
        k = min(int(n_token_groups), n_rois)
        groups = [
            np.asarray(g, dtype=np.int64) for g in np.array_split(range(n_rois), k)
        ]
        names = [f"group {i}" for i in range(k)]
    return TokenLayout(
        kind=kind,
        groups=groups,
        group_names=names,
        n_patches=1 if kind == "roi" else int(n_patches),
        n_rois=int(n_rois),
    )


def pool_features(features: np.ndarray, layout: TokenLayout) -> np.ndarray:
    """Features of each token of a layout.

    Parameters
    ----------
    features : ndarray of shape (n_subjects, n_rois, n_patches, embed_dim)
        Continuous tokenizer features (:meth:`FMRITokenizer.encode`).
    layout : TokenLayout
        The layout.

    Returns
    -------
    ndarray of shape (n_subjects, n_groups, layout.n_patches, embed_dim), float32
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 4 or features.shape[1] != layout.n_rois:
        raise ValueError(
            f"The tokenizer features must have shape (n_subjects, {layout.n_rois}, "
            f"n_patches, embed_dim). Got {features.shape} instead."
        )
    if layout.kind == "patch":
        return features
    if layout.kind == "roi":
        return features.mean(axis=2, keepdims=True)
    return np.stack([features[:, g].mean(axis=1) for g in layout.groups], axis=1)


def block_ids(
    segments: Sequence[tuple[str, int]], n_groups: int, block_causal: bool = True
) -> np.ndarray:
    """Attention block of each position: position ``q`` sees ``k`` when
    ``block[k] <= block[q]``.

    Text positions get a block of their own (ordinary causal attention); the
    fMRI tokens of one temporal patch share a block when ``block_causal`` (all
    groups of patches ``<= t`` visible from patch ``t``, never a later patch).

    Parameters
    ----------
    segments : sequence of (str, int)
        ``("text", n_tokens)`` or ``("fmri", n_tokens)`` in sequence order.
    n_groups : int
        fMRI tokens per temporal patch.
    block_causal : bool, default=True
        ``False`` gives plain causal attention everywhere.

    Returns
    -------
    ndarray of shape (n_positions,), int64
        Non-decreasing block ids.

    Examples
    --------
    >>> block_ids([("text", 2), ("fmri", 4), ("text", 1)], n_groups=2).tolist()
    [0, 1, 2, 2, 3, 3, 4]
    """
    out: list[int] = []
    nxt = 0
    for kind, length in segments:
        if kind == "fmri" and block_causal:
            out.extend(nxt + i // n_groups for i in range(length))
            nxt += -(-length // n_groups)
        else:
            out.extend(range(nxt, nxt + length))
            nxt += length
    return np.asarray(out, dtype=np.int64)


def time_major(array: np.ndarray) -> np.ndarray:
    """Reorder (n, n_groups, n_patches, ...) to (n, n_patches * n_groups, ...).

    Parameters
    ----------
    array : ndarray of shape (n, n_groups, n_patches, ...)

    Returns
    -------
    ndarray
        Token ``t * n_groups + g`` is group ``g`` at patch ``t``.
    """
    array = np.asarray(array)
    swapped = np.swapaxes(array, 1, 2)
    return swapped.reshape(array.shape[0], -1, *array.shape[3:])
