"""Functional connectivity descriptors: Yeo-7 network-pair mean connectivity.

Per subject, the Pearson correlation between ROI time series is Fisher
z-transformed (``arctanh``, correlations clipped to ``|r| <= 1 - 1e-7``) and
averaged within and between the seven Yeo-2011 networks:

- within a network: mean over the off-diagonal ROI pairs of the network
  (each unordered pair once, the diagonal excluded);
- between two networks: mean over the whole block of ROI pairs.

This gives ``7 * 8 / 2 = 28`` features named ``"fc__<A>__<B>"`` with ``A`` and
``B`` in the canonical Yeo-7 order (:data:`~brainlm_decode.descriptors.base.YEO7`),
e.g. ``"fc__Cont__Default"``; :func:`fc_feature_name` builds a name from two
networks in any order.

ROIs whose network is not one of the seven Yeo networks (e.g. ``"Subcortex"``
in the Schaefer + Tian atlas, or ``"Unassigned"``) are **kept out of the network
summaries**: the feature set is always the same 28 pairs, whatever the atlas.
A Yeo network with fewer than two ROIs has a NaN within-network feature (and
NaN between-network features when it has none), with a warning in ``fit``.

Network assignment, one name per ROI (the ``networks`` parameter):

- Schaefer label names: :func:`networks_from_labels` (or
  :func:`brainlm_decode.datasets.parse_network_names`);
- user mappings ``{label: network}``: :func:`networks_from_labels`;
- any labels atlas image: :func:`networks_from_yeo_image` assigns each ROI to
  the Yeo-7 network with the largest voxel overlap.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import Options, Satisfies, fill_doc
from brainlm_decode.datasets.networks import (
    NETWORK_PHRASES,
    SUBCORTEX_NETWORK,
    UNASSIGNED_NETWORK,
)
from brainlm_decode.descriptors.base import (
    YEO7,
    Descriptor,
    check_networks,
)

__all__ = [
    "NETWORK_PHRASES",
    "FunctionalConnectivity",
    "connectivity_matrix",
    "extreme_pairs",
    "fc_feature_name",
    "fisher_z",
    "network_pair_means",
    "networks_from_labels",
    "networks_from_yeo_image",
]

#: Largest absolute correlation kept before the Fisher transform.
R_CLIP = 1.0 - 1e-7

#: Name given by :func:`networks_from_yeo_image` to ROIs outside the Yeo-7 mask.
UNASSIGNED = UNASSIGNED_NETWORK


# --------------------------------------------------------------------------- #
# Pure functions
# --------------------------------------------------------------------------- #


def fisher_z(r: np.ndarray) -> np.ndarray:
    """Fisher z-transform of correlations, clipped to ``|r| <= 1 - 1e-7``.

    Parameters
    ----------
    r : ndarray
        Correlations.

    Returns
    -------
    ndarray
        ``arctanh(clip(r, -(1 - 1e-7), 1 - 1e-7))``; the diagonal of a
        correlation matrix becomes ``arctanh(1 - 1e-7)`` (about 8.4).
    """
    return np.arctanh(np.clip(np.asarray(r, dtype=np.float64), -R_CLIP, R_CLIP))


def connectivity_matrix(
    timeseries: np.ndarray,
    *,
    kind: str = "correlation",
    cov_estimator: Any = None,
    fisher: bool = False,
) -> np.ndarray:
    """Connectivity matrix of one subject's ROI time series.

    Parameters
    ----------
    timeseries : ndarray of shape (n_timepoints, n_rois)
        ROI time series.
    kind : {"correlation", "partial correlation"}, default="correlation"
        ``"correlation"`` with ``cov_estimator=None`` is the plain Pearson
        correlation (:func:`numpy.corrcoef`); otherwise
        :class:`nilearn.connectome.ConnectivityMeasure` computes it.
    cov_estimator : sklearn covariance estimator or None, default=None
        Passed to :class:`~nilearn.connectome.ConnectivityMeasure`. ``None``
        means the empirical covariance for ``"correlation"`` and Ledoit-Wolf
        shrinkage (nilearn's default) for ``"partial correlation"``.
    fisher : bool, default=False
        Return Fisher z values (:func:`fisher_z`) instead of correlations.

    Returns
    -------
    ndarray of shape (n_rois, n_rois)
        Symmetric matrix. A constant ROI has zero correlation with every other
        ROI (and 1 on the diagonal).
    """
    ts = np.asarray(timeseries, dtype=np.float64)
    if kind == "correlation" and cov_estimator is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.corrcoef(ts, rowvar=False)
        r = np.clip(np.nan_to_num(np.atleast_2d(r), nan=0.0), -1.0, 1.0)
        np.fill_diagonal(r, 1.0)
    else:
        from nilearn.connectome import ConnectivityMeasure
        from sklearn.covariance import LedoitWolf

        if cov_estimator is None:
            cov_estimator = LedoitWolf(store_precision=False)
        measure = ConnectivityMeasure(
            cov_estimator=cov_estimator, kind=kind, standardize="zscore_sample"
        )
        r = measure.fit_transform([ts])[0]
    return fisher_z(r) if fisher else r


def _network_members(networks: np.ndarray) -> dict[str, np.ndarray]:
    """ROI indices of each Yeo-7 network (possibly empty)."""
    return {name: np.flatnonzero(networks == name) for name in YEO7}


def network_pair_means(
    matrix: np.ndarray, networks: Sequence[str], *, prefix: str = "fc"
) -> dict[str, float]:
    """Mean connectivity within and between the Yeo-7 networks.

    Parameters
    ----------
    matrix : ndarray of shape (n_rois, n_rois)
        Symmetric connectivity matrix (e.g. Fisher z).
    networks : sequence of str
        Network of each ROI; ROIs outside the Yeo-7 names are ignored.
    prefix : str, default="fc"
        Prefix of the feature names.

    Returns
    -------
    dict of str to float
        28 entries ``"<prefix>__<A>__<B>"`` (canonical Yeo-7 order). Within a
        network: mean of the off-diagonal pairs; between: mean of the block.
        NaN where a network has too few ROIs.
    """
    members = _network_members(np.asarray(networks))
    out: dict[str, float] = {}
    for i, a in enumerate(YEO7):
        rows = members[a]
        for b in YEO7[i:]:
            block = matrix[np.ix_(rows, members[b])]
            if a == b:
                values = block[np.triu_indices(len(rows), k=1)]
            else:
                values = block.ravel()
            out[f"{prefix}__{a}__{b}"] = float(values.mean()) if values.size else np.nan
    return out


def fc_feature_name(a: str, b: str, *, prefix: str = "fc") -> str:
    """Feature name of a network pair, in canonical Yeo-7 order.

    Parameters
    ----------
    a, b : str
        Yeo-7 network short names, in any order.
    prefix : str, default="fc"
        Family prefix.

    Returns
    -------
    str

    Examples
    --------
    >>> fc_feature_name("Default", "Cont")
    'fc__Cont__Default'
    """
    for name in (a, b):
        if name not in YEO7:
            raise ValueError(f"Unknown network {name!r}; expected one of {list(YEO7)}.")
    first, second = sorted((a, b), key=YEO7.index)
    return f"{prefix}__{first}__{second}"


def _pair_phrase(a: str, b: str) -> str:
    if a == b:
        return f"mean connectivity within the {NETWORK_PHRASES[a]} network"
    return (
        f"mean connectivity between the {NETWORK_PHRASES[a]} and "
        f"{NETWORK_PHRASES[b]} networks"
    )


def extreme_pairs(
    row: pd.Series | Mapping[str, float], k: int = 3, *, between_only: bool = False
) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` highest and ``k`` lowest network pairs of one subject.

    Parameters
    ----------
    row : pandas.Series or mapping of str to float
        One subject's features (a row of :meth:`FunctionalConnectivity.transform`,
        raw values or z-scores); only names starting with ``"fc__"`` are used.
    k : int, default=3
        Number of pairs at each end.
    between_only : bool, default=False
        Only consider between-network pairs.

    Returns
    -------
    dict
        ``{"top": [(feature, value), ...], "bottom": [(feature, value), ...]}``,
        ``top`` in decreasing and ``bottom`` in increasing order; NaN values are
        skipped.

    Examples
    --------
    >>> extreme_pairs({"fc__Vis__Vis": 1.0, "fc__Vis__Cont": -0.2,
    ...                "fc__Cont__Cont": 0.5}, k=1)
    {'top': [('fc__Vis__Vis', 1.0)], 'bottom': [('fc__Vis__Cont', -0.2)]}
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(
            f"The 'k' argument of extreme_pairs must be an int >= 1. Got {k!r}."
        )
    series = pd.Series(dict(row), dtype=float)
    names = [n for n in series.index if str(n).startswith("fc__")]
    if between_only:
        names = [n for n in names if len(set(str(n).split("__")[1:])) == 2]
    values = series[names].dropna().sort_values(ascending=False, kind="stable")
    top = [(str(n), float(v)) for n, v in values.head(k).items()]
    bottom = [(str(n), float(v)) for n, v in values.iloc[::-1].head(k).items()]
    return {"top": top, "bottom": bottom}


# --------------------------------------------------------------------------- #
# Network assignment helpers
# --------------------------------------------------------------------------- #


def networks_from_labels(
    labels: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    *,
    default: str = SUBCORTEX_NETWORK,
) -> list[str]:
    """Network of each ROI from its label: Schaefer names or a user mapping.

    Parameters
    ----------
    labels : sequence of str
        ROI names, in the column order of the time series.
    mapping : mapping of str to str or None, default=None
        ``{label: network}``; labels absent from it fall back to Schaefer-name
        parsing, then to ``default``. ``None`` parses Schaefer names only.
    default : str, default="Subcortex"
        Network of labels that are neither mapped nor Schaefer names.

    Returns
    -------
    list of str

    Examples
    --------
    >>> networks_from_labels(["7Networks_LH_Vis_1", "Thal-lh", "PCC"],
    ...                      mapping={"PCC": "Default"})
    ['Vis', 'Subcortex', 'Default']
    """
    from brainlm_decode.datasets import parse_network_names

    if isinstance(labels, str):
        raise TypeError("The 'labels' argument must be a sequence of ROI names.")
    mapping = dict(mapping or {})
    parsed = parse_network_names([str(label) for label in labels], default=default)
    return [
        str(mapping.get(str(lab), net)) for lab, net in zip(labels, parsed, strict=True)
    ]


def networks_from_yeo_image(
    atlas_img: Any,
    yeo_img: Any,
    *,
    roi_values: Sequence[int] | None = None,
    network_names: Sequence[str] = YEO7,
    unassigned: str = UNASSIGNED,
    min_overlap: float = 0.0,
) -> list[str]:
    """Assign each ROI of a labels atlas to the Yeo network it overlaps most.

    Parameters
    ----------
    atlas_img : niimg-like
        3D labels image (integer ROI values, 0 is background).
    yeo_img : niimg-like
        3D Yeo network image with values ``1..len(network_names)`` (0 is
        background), e.g. the Yeo-2011 7-network liberal mask. Resampled to the
        atlas grid (nearest neighbour) when the grids differ.
    roi_values : sequence of int or None, default=None
        ROI values in the column order of the time series; ``None`` uses the
        sorted non-zero values of the atlas.
    network_names : sequence of str, default=YEO7
        Name of Yeo value ``1, 2, ...`` (the Yeo-2011 7-network order).
    unassigned : str, default="Unassigned"
        Network of ROIs that overlap no Yeo voxel, or too few (``min_overlap``);
        kept out of network summaries.
    min_overlap : float, default=0.0
        Smallest fraction of an ROI's voxels that must lie inside the Yeo
        networks for the ROI to get a network. The Yeo-2011 maps cover the
        cerebral cortex only, so a subcortical or cerebellar ROI that touches a
        few cortical voxels at its border would otherwise get the network of
        those voxels; e.g. ``0.5`` asks for a majority of the ROI inside the
        Yeo mask.

    Returns
    -------
    list of str
        One network per ROI: the Yeo network with the most voxels of the ROI
        (majority overlap); ties go to the network listed first.
    """
    if not 0.0 <= float(min_overlap) <= 1.0:
        raise ValueError(
            f"The 'min_overlap' argument must be a fraction in [0, 1]. Got "
            f"{min_overlap!r}."
        )
    from nilearn.image import load_img, resample_to_img

    atlas = load_img(atlas_img)
    yeo = load_img(yeo_img)
    if atlas.shape[:3] != yeo.shape[:3] or not np.allclose(atlas.affine, yeo.affine):
        yeo = resample_to_img(
            yeo, atlas, interpolation="nearest", force_resample=True, copy_header=True
        )
    atlas_data = np.rint(np.asarray(atlas.dataobj)).astype(np.int64).reshape(-1)
    yeo_data = np.rint(np.asarray(yeo.dataobj)).astype(np.int64).reshape(-1)
    if roi_values is None:
        roi_values = np.unique(atlas_data[atlas_data != 0])
    n_networks = len(network_names)
    inside = (yeo_data >= 1) & (yeo_data <= n_networks)
    out = []
    for value in roi_values:
        roi = atlas_data == int(value)
        counts = np.bincount(yeo_data[roi & inside] - 1, minlength=n_networks)
        size = int(roi.sum())
        covered = counts.sum() > 0 and counts.sum() >= min_overlap * size
        out.append(
            str(network_names[int(np.argmax(counts))]) if covered else unassigned
        )
    return out


# --------------------------------------------------------------------------- #
# Estimator
# --------------------------------------------------------------------------- #


def _fc_row(
    ts: np.ndarray,
    matrix: np.ndarray | None,
    networks: np.ndarray,
    kind: str,
    cov_estimator: Any,
) -> dict[str, float]:
    """Network-pair means of one subject (from its Pearson matrix when given)."""
    if matrix is not None:
        return network_pair_means(fisher_z(matrix), networks)
    z = connectivity_matrix(ts, kind=kind, cov_estimator=cov_estimator, fisher=True)
    return network_pair_means(z, networks)


@fill_doc
class FunctionalConnectivity(Descriptor):
    """Mean Fisher-z connectivity within and between the seven Yeo networks.

    Per subject: Pearson (or partial) correlation between ROIs, Fisher
    z-transform (``arctanh``, ``|r|`` clipped at ``1 - 1e-7``), then the mean
    over the off-diagonal pairs of each network and over the block of each
    network pair: 28 features ``"fc__<A>__<B>"`` in canonical Yeo-7 order
    (see :func:`fc_feature_name`). ROIs outside the Yeo-7 networks (e.g.
    ``"Subcortex"``) are kept out of the summaries. Nothing is learned from the
    group: ``fit`` only records the ROI count and the feature names.

    Parameters
    ----------
    networks : sequence of str
        Network name of each ROI (required), e.g. from
        :func:`networks_from_labels` or :func:`networks_from_yeo_image`.
    kind : {"correlation", "partial correlation"}, default="correlation"
        Connectivity measure; see :func:`connectivity_matrix`.
    cov_estimator : sklearn covariance estimator or None, default=None
        Covariance estimator for :class:`nilearn.connectome.ConnectivityMeasure`;
        ``None``: empirical covariance for ``"correlation"`` (plain Pearson),
        Ledoit-Wolf for ``"partial correlation"``.
    %(n_jobs)s
    %(verbose)s

    Attributes
    ----------
    n_features_in_ : int
        Number of ROIs seen in ``fit``.
    networks_ : ndarray of str
        Validated network of each ROI.
    feature_names_out_ : list of str
        The 28 feature names.
    feature_descriptions_ : dict of str to str
        Human phrase per feature, e.g. ``"mean connectivity between the default
        mode and frontoparietal control networks"``.

    See Also
    --------
    brainlm_decode.descriptors.gradients.FunctionalGradients
    brainlm_decode.descriptors.graph.GraphMetrics

    Examples
    --------
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> cohort = make_fmri_cohort(n_subjects=4, n_rois=30, random_state=0)
    >>> fc = FunctionalConnectivity(networks=cohort.networks).fit(cohort.timeseries)
    >>> fc.transform(cohort.timeseries).shape
    (4, 28)
    """

    family = "connectivity"

    _parameter_constraints: dict[str, list[Any]] = {
        "networks": [
            None,
            Satisfies(
                lambda v: not isinstance(v, str) and len(v) > 0,
                "a sequence of network names",
            ),
        ],
        "kind": [Options("correlation", "partial correlation")],
        "cov_estimator": [
            None,
            Satisfies(
                lambda e: hasattr(e, "fit"), "a scikit-learn covariance estimator"
            ),
        ],
    }

    def __init__(
        self,
        networks: Sequence[str] | None = None,
        kind: str = "correlation",
        cov_estimator: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.networks = networks
        self.kind = kind
        self.cov_estimator = cov_estimator
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _fit_group(self, series: list[np.ndarray], matrices: Any, n_rois: int) -> None:
        owner = type(self).__name__
        self.networks_ = check_networks(self.networks, n_rois, owner=owner)
        counts = {name: int((self.networks_ == name).sum()) for name in YEO7}
        small = [name for name, count in counts.items() if count < 2]
        if small:
            warnings.warn(
                f"{owner}: networks {small} have fewer than 2 ROIs; their "
                "within-network (and, when empty, between-network) features are NaN.",
                UserWarning,
                stacklevel=4,
            )

    def _feature_descriptions(self) -> dict[str, str]:
        return {
            f"fc__{a}__{b}": _pair_phrase(a, b)
            for i, a in enumerate(YEO7)
            for b in YEO7[i:]
        }

    def _takes_shared_matrices(self) -> bool:
        # the Pearson matrix serves plain correlations only; otherwise (and in
        # ``transform``) each subject's matrix is computed in its joblib task
        return self.kind == "correlation" and self.cov_estimator is None

    def _subject_task(self) -> tuple[Any, dict[str, Any]]:
        return _fc_row, {
            "networks": self.networks_,
            "kind": self.kind,
            "cov_estimator": self.cov_estimator,
        }

    def extreme_pairs(
        self,
        row: pd.Series | Mapping[str, float],
        k: int = 3,
        *,
        between_only: bool = False,
    ) -> dict[str, list[tuple[str, float]]]:
        """The ``k`` highest and lowest network pairs of a row; see :func:`extreme_pairs`.

        Parameters
        ----------
        row : pandas.Series or mapping
            One row of :meth:`transform` (or its z-scores).
        k : int, default=3
            Pairs at each end.
        between_only : bool, default=False
            Only consider between-network pairs.

        Returns
        -------
        dict
            ``{"top": [...], "bottom": [...]}`` lists of ``(feature, value)``.
        """
        check_is_fitted(self, "feature_names_out_")
        series = pd.Series(dict(row), dtype=float)
        return extreme_pairs(
            series.reindex(self.feature_names_out_), k, between_only=between_only
        )
