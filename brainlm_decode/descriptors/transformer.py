"""FMRIDescriptorTransformer: fMRI-LM's descriptor corpus as a scikit-learn transformer.

Preprocessed ROI time series go in; z-scored descriptors of four families
(functional connectivity, functional gradients, graph metrics, ICA) come out, as a
numeric matrix for machine learning and as caption-like text for language models.
Norms are learned in ``fit`` from the training subjects only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    Satisfies,
    fill_doc,
)
from brainlm_decode.descriptors.base import (
    YEO7,
    check_networks,
)
from brainlm_decode.descriptors.templates import render_descriptor_text
from brainlm_decode.plugins import get_plugin
from brainlm_decode.timeseries.checks import (
    check_preprocessed,
    check_timeseries,
)
from brainlm_decode.timeseries.tr import check_t_r, fitted_t_r

DEFAULT_FAMILIES = ("connectivity", "gradients", "graph", "ica")

#: Subjects per joblib task (bounds memory: one correlation matrix per subject
#: of the chunk is held at a time, 32 x 1.6 MB at 450 ROIs).
_CHUNK = 32


def _raw_block(descriptors: Sequence[Any], block: list[np.ndarray]) -> pd.DataFrame:
    """Raw descriptors of a chunk of subjects, one correlation matrix per subject."""
    from brainlm_decode.descriptors.connectivity import connectivity_matrix

    matrices = [connectivity_matrix(ts) for ts in block]
    frames = []
    for descriptor in descriptors:
        shared = getattr(descriptor, "_transform_shared", None)
        frame = (
            descriptor.transform(block) if shared is None else shared(block, matrices)
        )
        frames.append(frame.reset_index(drop=True))
    return pd.concat(frames, axis=1)


def _is_family_list(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, str) or hasattr(v, "get_params") for v in value)
    )


@fill_doc
class FMRIDescriptorTransformer(TransformerMixin, BaseBrainLMEstimator):
    """Descriptors of resting-state fMRI as z-scores and as text (fMRI-LM).

    Parameters
    ----------
    descriptors : sequence of str or Descriptor, default=("connectivity", \
"gradients", "graph", "ica")
        ``brainlm_decode.descriptors`` plugin names or instances.
    networks : str, sequence of str or None, default=None
        Yeo-7 network name per ROI (e.g. parsed from Schaefer labels with
        :func:`brainlm_decode.datasets.parse_network_names`), or the name of a
        packaged table (``"cc200"``, ``"ho"``, ``"aal116"``, see
        :func:`brainlm_decode.datasets.load_network_labels`); required.
    t_r : float, default=2.0
        Repetition time of the (preprocessed) series, for spectral measures.
    normative_method : {"mean_std", "median_mad"}, default="mean_std"
        Statistics of the normative model.
    reference : DataFrame or None, default=None
        Raw descriptors of a reference cohort for the norms; ``None`` uses the
        training subjects.
    top_k : int, default=3
        Features named per family in the texts.
    %(n_jobs)s
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    descriptors_ : list of Descriptor
        Fitted descriptor families.
    normative_ : NormativeModel
        Norms learned from the training subjects (or ``reference``).
    feature_names_out_ : ndarray of str
        Names of the output columns.
    dropped_features_ : list of str
        Features undefined (NaN) for every training subject, left out.
    feature_descriptions_ : dict
        Human phrase per feature (used by the text templates).
    n_features_in_ : int
        Number of ROIs.
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "descriptors": [
            Satisfies(_is_family_list, "a non-empty list of descriptor names")
        ],
        "networks": [
            None,
            Satisfies(lambda v: len(v) > 0, "a sequence of network names"),
        ],
        "t_r": [Interval(float, 0, None, closed="neither")],
        "normative_method": [Options("mean_std", "median_mad")],
        "reference": [None, pd.DataFrame],
        "top_k": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        descriptors: Sequence[Any] = DEFAULT_FAMILIES,
        *,
        networks: Sequence[str] | None = None,
        t_r: float = 2.0,
        normative_method: str = "mean_std",
        reference: pd.DataFrame | None = None,
        top_k: int = 3,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.descriptors = descriptors
        self.networks = networks
        self.t_r = t_r
        self.normative_method = normative_method
        self.reference = reference
        self.top_k = top_k
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of (n_timepoints, n_rois) arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def _make_descriptor(self, spec: Any, n_rois: int) -> Any:
        descriptor = get_plugin("descriptors", spec)
        descriptor = clone(descriptor)
        shared = {
            "networks": list(
                check_networks(self.networks, n_rois, owner=type(self).__name__)
            ),
            "t_r": getattr(self, "t_r_", self.t_r),
            "random_state": self.random_state,
        }
        accepted = descriptor.get_params(deep=False)
        descriptor.set_params(**{k: v for k, v in shared.items() if k in accepted})
        return descriptor

    def fit(
        self, X: Any, y: Any = None, t_r: float | None = None
    ) -> FMRIDescriptorTransformer:
        """Fit every descriptor family and the normative model on training subjects.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series of the training subjects.
        y : None
            Ignored.
        t_r : float or None, default=None
            TR of ``X`` in seconds when it is not the ``t_r`` parameter (the
            spectral features then use it); remembered as ``t_r_``.

        Returns
        -------
        self : FMRIDescriptorTransformer
        """
        from brainlm_decode.descriptors.normative import NormativeModel

        self._validate_params()
        self.t_r_ = fitted_t_r(type(self).__name__, t_r, self.t_r)
        series = check_timeseries(X, owner=type(self).__name__)
        check_preprocessed(series, owner=type(self).__name__)
        self.n_features_in_ = series[0].shape[1]
        self.descriptors_ = [
            self._make_descriptor(spec, self.n_features_in_).fit(series)
            for spec in self.descriptors
        ]
        raw = self._raw(series, fitting=True)
        # features undefined for every training subject (e.g. ICA domains the atlas
        # does not cover) carry no information: leave them out of the output
        defined = raw.notna().any(axis=0)
        self.dropped_features_ = list(raw.columns[~defined])
        raw = raw.loc[:, defined]
        if raw.shape[1] == 0:
            found = sorted({str(n) for n in (self.networks or [])})[:10]
            raise ValueError(
                f"No descriptor of {list(self.descriptors)} is defined for the "
                f"training subjects with the 'networks' parameter of "
                f"{type(self).__name__} = {found}...; expected network names such "
                f"as the Yeo-7 names {list(YEO7)}."
            )
        self.feature_names_out_ = np.asarray(raw.columns, dtype=object)
        self.feature_descriptions_ = {}
        self.feature_families_ = {}
        for descriptor in self.descriptors_:
            self.feature_descriptions_.update(descriptor.feature_descriptions_)
            for name in descriptor.feature_names_out_:
                self.feature_families_[name] = descriptor.family
        self.normative_ = NormativeModel(
            method=self.normative_method, reference=self.reference
        ).fit(raw)
        return self

    def _raw(self, series: list[np.ndarray], fitting: bool = False) -> pd.DataFrame:
        """Raw (un-normalised) descriptors, subjects in chunks, families side by side.

        Each chunk of subjects is one joblib task; the correlation matrix of each
        subject is computed once and shared by the families that use it. Outside
        ``fit`` the columns are those kept by the last fit.
        """
        from joblib import Parallel, delayed

        blocks = [series[i : i + _CHUNK] for i in range(0, len(series), _CHUNK)]
        parts = Parallel(n_jobs=self.n_jobs)(
            delayed(_raw_block)(self.descriptors_, block) for block in blocks
        )
        raw = pd.concat(parts, ignore_index=True)
        if not fitting:
            raw = raw.loc[:, list(self.feature_names_out_)]
        return raw

    def transform_raw(self, X: Any, t_r: float | None = None) -> pd.DataFrame:
        """Descriptors before normalisation (one row per subject).

        ``t_r``: TR of ``X``; a warning when it differs from ``t_r_``.
        """
        check_is_fitted(self, ["descriptors_", "normative_"])
        check_t_r(type(self).__name__, getattr(self, "t_r_", self.t_r), t_r, 4)
        series = check_timeseries(
            X, owner=type(self).__name__, n_rois=self.n_features_in_
        )
        check_preprocessed(series, owner=type(self).__name__)
        return self._raw(series)

    def transform(self, X: Any, t_r: float | None = None) -> np.ndarray:
        """z-scored descriptors against the norms learned in ``fit``.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        t_r : float or None, default=None
            TR of ``X`` (scikit-learn metadata); a warning when it differs from
            the training TR ``t_r_``.

        Returns
        -------
        ndarray of shape (n_subjects, n_features)
            Columns :meth:`get_feature_names_out` (a DataFrame with
            ``set_output(transform="pandas")``). Features undefined for every
            training subject are left out (``dropped_features_``); a value missing
            for one subject is set to the norm (z = 0), so that downstream
            estimators receive finite numbers.
        """
        raw = self.transform_raw(X, t_r=t_r)  # NotFittedError before fit
        z = self.normative_.transform(raw)
        # a feature missing for one subject only (rare) is set to the norm, z = 0
        return z.fillna(0.0).to_numpy(dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the z-scored descriptors."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def to_text(self, X: Any, t_r: float | None = None) -> list[str]:
        """One text per subject: a paragraph per family, from deterministic templates.

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            Preprocessed ROI time series.
        t_r : float or None, default=None
            TR of ``X``; a warning when it differs from ``t_r_``.

        Returns
        -------
        list of str
        """
        raw = self.transform_raw(X, t_r=t_r)  # NotFittedError before fit
        z = self.normative_.transform(raw)
        families = [d.family for d in self.descriptors_]
        return [
            render_descriptor_text(
                row,
                self.feature_descriptions_,
                families=families,
                feature_families=self.feature_families_,
                top_k=self.top_k,
            )
            for _, row in z.iterrows()
        ]
