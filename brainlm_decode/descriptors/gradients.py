"""Functional gradient descriptors: diffusion-map gradients aligned to a reference.

Per subject, the Pearson correlation matrix of the ROI time series gives
diffusion-map gradients exactly as brainspace's
:class:`~brainspace.gradient.GradientMaps` computes them (``approach="dm"``,
``kernel="normalized_angle"``; each row of the matrix keeps its top
``1 - sparsity`` values before the kernel, brainspace's default
``sparsity=0.9``), and the subject's gradients are aligned to a group reference
by an orthogonal Procrustes rotation (``alignment="procrustes"`` with a fixed
reference, one iteration). :func:`compute_gradients` re-implements these steps
with the same operations in the same order (the same ARPACK call on the same
diffusion operator, with brainspace's start vector), so that its gradients equal
brainspace's (to the last bit in the tests), about three times faster: it skips
brainspace's input checks (symmetry with ``isclose``, graph connectivity) and
sparse-matrix conversions, which dominate brainspace's run time at 450 ROIs.

The reference is learned in ``fit`` from the **training subjects only**: the
gradients of their group-mean connectivity (mean of the Fisher z matrices,
back-transformed with ``tanh``). A user-given ``reference`` replaces it: either
a connectivity matrix (n_rois, n_rois), e.g. brainspace's HCP group matrix
``brainspace.datasets.load_group_fc("schaefer", scale=400)`` (packaged with
brainspace, available offline), or a gradients array (n_rois, n_components).

Features (prefix ``"gradients__"``):

- ``g{k}_range``: max - min of aligned gradient ``k`` (k = 1, 2, 3);
- ``g{k}_variance``: variance across ROIs of the values of aligned gradient
  ``k`` (the spread of the regions along the gradient, not an explained
  variance: eigenvalues lose their one-to-one meaning after a rotation);
- ``g{k}__<network>``: mean value of aligned gradient ``k`` (k = 1, 2) over the
  ROIs of each Yeo-7 network (only when ``networks`` is given; ROIs outside the
  Yeo-7 networks are kept out, a network without ROIs gives NaN).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import Interval, Satisfies, fill_doc
from brainlm_decode.descriptors.base import (
    YEO7,
    Descriptor,
    check_networks,
)
from brainlm_decode.descriptors.connectivity import (
    NETWORK_PHRASES,
    connectivity_matrix,
    fisher_z,
)
from brainlm_decode.timeseries.checks import (
    check_timeseries,
)

__all__ = ["FunctionalGradients", "align_gradients", "compute_gradients"]

_ORDINALS = ("principal", "second", "third")
_N_SUMMARISED = 3  # gradients summarised by range and variance
_N_PER_NETWORK = 2  # gradients summarised per network


def _affinity(matrix: np.ndarray, sparsity: float) -> np.ndarray:
    """Normalised-angle affinity of the row-sparsified matrix (brainspace's)."""
    x = np.array(matrix, dtype=np.float64)
    n = x.shape[1]
    if sparsity > 0:
        keep = int(n * (1 - sparsity))  # brainspace's dominant_set: top k per row
        if keep <= 0:
            raise ValueError(
                f"sparsity={sparsity} keeps no value of rows of length {n}."
            )
        cut = np.partition(x, n - keep, axis=1)[:, n - keep]
        # ties at the cut are kept (brainspace keeps k of them, arbitrarily);
        # they are zeros in practice (constant ROIs), which changes nothing
        x = np.where(x >= cut[:, None], x, 0.0)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    x /= np.where(norms == 0, 1.0, norms)[:, None]
    cosine = x @ x.T
    np.clip(cosine, -1.0, 1.0, out=cosine)
    affinity = 1 - np.arccos(cosine, out=cosine) / np.pi
    affinity[affinity < 0] = 0
    if not np.all(np.isfinite(affinity)):
        raise ValueError("The gradients' affinity matrix has NaN or inf values.")
    return affinity


def _diffusion_map(
    affinity: np.ndarray, n_components: int, random_state: Any, alpha: float = 0.5
) -> np.ndarray:
    """brainspace's ``diffusion_mapping`` (dense input, ``diffusion_time=0``)."""
    from scipy.sparse.linalg import eigsh
    from sklearn.utils import check_random_state

    adj = affinity
    degree = np.power(adj.sum(axis=1, keepdims=True), -alpha)
    adj *= degree.T
    adj *= degree
    adj *= np.power(adj.sum(axis=1, keepdims=True), -1)
    v0 = check_random_state(random_state).uniform(-1, 1, adj.shape[0])
    w, v = eigsh(adj, k=n_components + 1, which="LM", tol=0, v0=v0)
    w, v = w[::-1], v[:, ::-1]
    v /= v[:, [0]]
    w /= w[0]
    w, v = w[1:], v[:, 1:]
    w /= 1 - w
    v *= w[None, :]
    v *= np.sign(v[np.abs(v).argmax(axis=0), range(v.shape[1])])
    return v


def compute_gradients(
    matrix: np.ndarray,
    *,
    n_components: int = 10,
    sparsity: float = 0.9,
    reference: np.ndarray | None = None,
    random_state: Any = None,
) -> np.ndarray:
    """Diffusion-map gradients of one connectivity matrix, optionally aligned.

    The same computation as ``brainspace.gradient.GradientMaps(n_components,
    approach="dm", kernel="normalized_angle", random_state=random_state)``
    (``.fit(matrix, sparsity=sparsity).gradients_``, or with
    ``alignment="procrustes"``, ``reference`` and ``n_iter=1``,
    ``.aligned_[0]``), without its input checks.

    Parameters
    ----------
    matrix : ndarray of shape (n_rois, n_rois)
        Connectivity matrix (correlations).
    n_components : int, default=10
        Number of gradients.
    sparsity : float, default=0.9
        Proportion of the smallest values of each row zeroed before the kernel.
    reference : ndarray of shape (n_rois, n_components) or None, default=None
        Gradients to align to (orthogonal Procrustes, one iteration).
    random_state : int or None, default=None
        Seed of the eigensolver's start vector.

    Returns
    -------
    ndarray of shape (n_rois, n_components)
        Gradients (aligned when ``reference`` is given).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"The 'matrix' argument must be a square matrix. Got {matrix.shape}."
        )
    if not 1 <= n_components < matrix.shape[0] - 1:
        raise ValueError(
            f"The 'n_components' argument must be in [1, {matrix.shape[0] - 2}] "
            f"for a matrix of {matrix.shape[0]} rows. Got {n_components}."
        )
    gradients = _diffusion_map(_affinity(matrix, sparsity), n_components, random_state)
    if reference is None:
        return gradients
    return align_gradients(gradients, reference)


def align_gradients(gradients: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate gradients onto a reference (orthogonal Procrustes, no scaling).

    Parameters
    ----------
    gradients : ndarray of shape (n_rois, n_components)
        Gradients to align.
    reference : ndarray of shape (n_rois, n_components)
        Target gradients.

    Returns
    -------
    ndarray of shape (n_rois, n_components)
        ``gradients @ R`` with ``R`` orthogonal minimising
        ``||gradients @ R - reference||`` (the operations of brainspace's
        ``procrustes`` with ``center=False, scale=False``).
    """
    source = np.asarray(gradients, dtype=np.float64)
    target = np.asarray(reference, dtype=np.float64)
    u, _, vt = np.linalg.svd(target.T.dot(source).T)
    return source.dot(u.dot(vt))


def _gradient_row(
    gradients: np.ndarray, networks: np.ndarray | None, prefix: str
) -> dict[str, float]:
    row: dict[str, float] = {}
    for k in range(_N_SUMMARISED):
        values = gradients[:, k]
        row[f"{prefix}__g{k + 1}_range"] = float(values.max() - values.min())
        row[f"{prefix}__g{k + 1}_variance"] = float(values.var())
    if networks is not None:
        for k in range(_N_PER_NETWORK):
            for name in YEO7:
                members = networks == name
                value = gradients[members, k].mean() if members.any() else np.nan
                row[f"{prefix}__g{k + 1}__{name}"] = float(value)
    return row


def _subject_features(
    ts: np.ndarray,
    matrix: np.ndarray,
    reference: np.ndarray,
    networks: np.ndarray | None,
    params: dict[str, Any],
) -> dict[str, float]:
    """Gradient features of one subject from its correlation matrix."""
    gradients = compute_gradients(matrix, reference=reference, **params)
    return _gradient_row(gradients, networks, "gradients")


def _is_reference(value: Any) -> bool:
    array = np.asarray(value, dtype=float)
    return array.ndim == 2 and bool(np.all(np.isfinite(array)))


@fill_doc
class FunctionalGradients(Descriptor):
    """Ranges, spreads and network positions of aligned functional gradients.

    Each subject's correlation matrix gives diffusion-map gradients
    (brainspace ``GradientMaps(approach="dm", kernel="normalized_angle")``),
    aligned by Procrustes rotation to a reference learned in ``fit`` from the
    training subjects' group-mean connectivity (or given by ``reference``).
    See the module docstring for the features.

    Parameters
    ----------
    n_components : int, default=10
        Number of gradients computed and aligned (at least 3; the first 3 are
        summarised). More components make the Procrustes alignment more robust
        to reordering of gradients across subjects.
    sparsity : float, default=0.9
        Proportion of the smallest connectivity values of each row zeroed
        before the kernel (brainspace's default).
    reference : ndarray or None, default=None
        ``None``: gradients of the training subjects' mean connectivity. A
        square (n_rois, n_rois) array: a reference connectivity matrix (e.g.
        ``brainspace.datasets.load_group_fc("schaefer", scale=400)``). An
        (n_rois, n_components) array: reference gradients, used as given.
    networks : sequence of str or None, default=None
        Network of each ROI; ``None`` skips the per-network features.
    %(n_jobs)s
    %(random_state)s
        It seeds the eigensolver's start vector. As in brainspace, ``eigsh`` runs
        on the non-symmetric diffusion operator, so gradients from different seeds
        differ slightly (about 1 %% of a gradient's range): pass an int for
        reproducible features.
    %(verbose)s

    Attributes
    ----------
    n_features_in_ : int
        Number of ROIs seen in ``fit``.
    reference_connectivity_ : ndarray of shape (n_rois, n_rois) or None
        Reference connectivity (None when gradients were given).
    reference_gradients_ : ndarray of shape (n_rois, n_components)
        Gradients every subject is aligned to.
    networks_ : ndarray of str or None
        Validated networks.
    feature_names_out_ : list of str
    feature_descriptions_ : dict of str to str

    Examples
    --------
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> cohort = make_fmri_cohort(n_subjects=4, n_rois=40, random_state=0)
    >>> grad = FunctionalGradients(networks=cohort.networks, random_state=0)
    >>> grad.fit(cohort.timeseries).transform(cohort.timeseries).shape
    (4, 20)
    """

    family = "gradients"

    _parameter_constraints: dict[str, list[Any]] = {
        "n_components": [Interval(int, _N_SUMMARISED, None)],
        "sparsity": [Interval(float, 0.0, 1.0, closed="left")],
        "reference": [None, Satisfies(_is_reference, "a finite 2D array")],
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
        n_components: int = 10,
        sparsity: float = 0.9,
        reference: np.ndarray | None = None,
        networks: Sequence[str] | None = None,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.sparsity = sparsity
        self.reference = reference
        self.networks = networks
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _params(self) -> dict[str, Any]:
        seed = self.random_state
        if not isinstance(seed, (numbers.Integral, type(None))):
            seed = int(self._rng().randint(0, 2**31 - 1))
        return {
            "n_components": self.n_components,
            "sparsity": self.sparsity,
            "random_state": seed,
        }

    def _check_reference(self, n_rois: int) -> np.ndarray | None:
        """The user reference checked against the ROI count (None if not given)."""
        if self.reference is None:
            return None
        array = np.asarray(self.reference, dtype=np.float64)
        if array.shape not in ((n_rois, n_rois), (n_rois, self.n_components)):
            raise ValueError(
                f"The 'reference' parameter of {type(self).__name__} must be a "
                f"connectivity matrix of shape ({n_rois}, {n_rois}) or gradients of "
                f"shape ({n_rois}, {self.n_components}). Got shape {array.shape}."
            )
        return array

    def _uses_matrices(self, fitting: bool) -> bool:
        # fit reads them for the group-mean reference only
        return not fitting or self.reference is None

    def _fit_group(
        self, series: list[np.ndarray], matrices: list[np.ndarray] | None, n_rois: int
    ) -> None:
        """Learn the reference from the subjects' correlation matrices."""
        owner = type(self).__name__
        if self.n_components >= n_rois:
            raise ValueError(
                f"The 'n_components' parameter of {owner} must be smaller than the "
                f"number of ROIs ({n_rois}). Got {self.n_components}."
            )
        self.networks_ = (
            None
            if self.networks is None
            else check_networks(self.networks, n_rois, owner=owner)
        )
        reference = self._check_reference(n_rois)
        if reference is not None and reference.shape == (n_rois, self.n_components):
            self.reference_connectivity_ = None
            self.reference_gradients_ = reference.copy()
        else:
            if reference is None:  # mean Fisher z, back to correlations
                reference = np.tanh(np.mean([fisher_z(m) for m in matrices], axis=0))
                np.fill_diagonal(reference, 1.0)
            self.reference_connectivity_ = reference
            self.reference_gradients_ = compute_gradients(reference, **self._params())

    def _feature_descriptions(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for k in range(_N_SUMMARISED):
            what = f"the {_ORDINALS[k]} functional gradient"
            names[f"gradients__g{k + 1}_range"] = f"range of {what}"
            names[f"gradients__g{k + 1}_variance"] = (
                f"spread (variance across regions) of {what}"
            )
        if self.networks_ is not None:
            for k in range(_N_PER_NETWORK):
                for name in YEO7:
                    names[f"gradients__g{k + 1}__{name}"] = (
                        f"position of the {NETWORK_PHRASES[name]} network on the "
                        f"{_ORDINALS[k]} functional gradient"
                    )
        return names

    def _subject_task(self) -> tuple[Any, dict[str, Any]]:
        return _subject_features, {
            "reference": self.reference_gradients_,
            "networks": self.networks_,
            "params": self._params(),
        }

    def subject_gradients(self, X: Any) -> list[np.ndarray]:
        """Aligned gradients of each subject (the arrays behind the features).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois)
            ROI time series.

        Returns
        -------
        list of ndarray of shape (n_rois, n_components)
        """
        check_is_fitted(self, "reference_gradients_")
        X = check_timeseries(X, owner=type(self).__name__, n_rois=self.n_features_in_)
        params = self._params()
        return [
            compute_gradients(
                connectivity_matrix(ts), reference=self.reference_gradients_, **params
            )
            for ts in X
        ]
