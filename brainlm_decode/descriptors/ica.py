"""ICA descriptors: group temporal ICA, dual regression, per-network dynamics.

fMRI-LM describes each scan by the dynamics of its intrinsic networks: a group
independent component analysis (ICA) learned on the training subjects, subject
time courses by dual regression, and per-network amplitude, variability,
spectral content, autocorrelation, transients, fALFF and functional network
connectivity (FNC). Components are labelled with the seven domains of the
NeuroMark-style ICA taxonomy (:data:`ICA_NETWORKS`) by spatial correlation of
their maps with the ROI -> domain indicator maps.

The group decomposition is learned in :meth:`ICADescriptors.fit` on training
subjects only; :meth:`ICADescriptors.transform` never changes it.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import welch
from sklearn.decomposition import FastICA
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import Interval, Options, Satisfies, fill_doc
from brainlm_decode.descriptors.base import (
    Descriptor,
    check_networks,
)
from brainlm_decode.timeseries.checks import (
    check_timeseries,
)

__all__ = [
    "DEFAULT_DOMAINS",
    "ICA_METRICS",
    "ICA_NETWORKS",
    "ICADescriptors",
]

#: The seven ICA domains components are labelled with.
ICA_NETWORKS = (
    "visual",
    "default mode",
    "cognitive control",
    "sensorimotor",
    "subcortical",
    "auditory",
    "cerebellar",
)

#: Default network label (Yeo-7 short names, ``"Subcortex"``) -> ICA domain.
#: ``Limbic`` (orbitofrontal cortex, temporal pole) maps to no domain: its ROIs
#: are zero in every indicator map. ``auditory`` and ``cerebellar`` have no Yeo
#: counterpart and need a user mapping (``domains=``).
DEFAULT_DOMAINS: dict[str, str | None] = {
    "Vis": "visual",
    "Default": "default mode",
    "Cont": "cognitive control",
    "DorsAttn": "cognitive control",
    "SalVentAttn": "cognitive control",
    "SomMot": "sensorimotor",
    "Limbic": None,
    "Subcortex": "subcortical",
}

#: Per-component metrics, averaged over the components of each network.
ICA_METRICS = (
    "amplitude",
    "variability",
    "spectral_ratio",
    "autocorrelation",
    "transient_frequency",
    "falff",
)

_METRIC_PHRASES = {
    "amplitude": "{net} network amplitude",
    "variability": "{net} network amplitude variability",
    "spectral_ratio": "{net} network slow-to-fast spectral power ratio",
    "autocorrelation": "{net} network lag-1 autocorrelation",
    "transient_frequency": "{net} network transient frequency",
    "falff": "{net} network fALFF",
    "map_similarity": "{net} network spatial similarity to the group map",
}


def _slug(domain: str) -> str:
    return domain.replace(" ", "_")


def _normalise_domain(value: Any) -> str | None:
    """Domain name from a user value ("default_mode", "Default Mode"...), or None."""
    if value is None:
        return None
    name = str(value).strip().lower().replace("_", " ")
    return name if name in ICA_NETWORKS else ""


def _is_band(value: Any) -> bool:
    if isinstance(value, (str, bytes)) or len(tuple(value)) != 2:
        return False
    lo, hi = (float(v) for v in value)
    return bool(0 <= lo < hi and np.isfinite(hi))


def _is_domain_mapping(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    keys_ok = all(
        isinstance(k, (str, numbers.Integral)) and not isinstance(k, bool)
        for k in value
    )
    return keys_ok and all(_normalise_domain(v) != "" for v in value.values())


_BAND = Satisfies(_is_band, "a (low, high) pair of frequencies in Hz, 0 <= low < high")


def _nanmean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN (no warning) when there is none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _fisher_z(r: float) -> float:
    return float(np.arctanh(np.clip(r, -1 + 1e-7, 1 - 1e-7)))


def _standardize(ts: np.ndarray, standardize: bool) -> np.ndarray:
    """Demean each ROI over time; divide by its std when ``standardize``."""
    centred = ts - ts.mean(axis=0)
    if not standardize:
        return centred
    std = centred.std(axis=0)
    return centred / np.where(std > 0, std, 1.0)


def _band_mask(freqs: np.ndarray, band: tuple[float, float], nyq: float) -> np.ndarray:
    """Frequencies in ``[low, high)``; ``high`` included when it reaches Nyquist."""
    lo, hi = band
    upper = freqs <= hi if hi >= nyq else freqs < hi
    return (freqs >= lo) & upper


def _band_power(
    freqs: np.ndarray,
    psd: np.ndarray,
    band: tuple[float, float] | None,
    nyq: float,
) -> np.ndarray:
    """Power (PSD x bin width) of each column within ``band``; NaN for no band."""
    if band is None:
        return np.full(psd.shape[1], np.nan)
    df = freqs[1] - freqs[0] if freqs.size > 1 else 1.0
    return psd[_band_mask(freqs, band, nyq)].sum(axis=0) * df


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    out[ok] = num[ok] / den[ok]
    return out


def _lag1_autocorrelation(tcs: np.ndarray) -> np.ndarray:
    a, b = tcs[:-1] - tcs[:-1].mean(0), tcs[1:] - tcs[1:].mean(0)
    den = np.sqrt((a**2).sum(0) * (b**2).sum(0))
    return _ratio((a * b).sum(0), den)


def _window_variability(tcs: np.ndarray, window: int) -> np.ndarray:
    """Std over sliding windows (step 1) of the within-window std."""
    windows = np.lib.stride_tricks.sliding_window_view(tcs, window, axis=0)
    return windows.std(axis=-1).std(axis=0)


def _transient_frequency(tcs: np.ndarray, threshold: float) -> np.ndarray:
    std = tcs.std(axis=0)
    z = (tcs - tcs.mean(axis=0)) / np.where(std > 0, std, 1.0)
    share = (np.abs(z) > threshold).mean(axis=0)
    return np.where(std > 0, share, np.nan)


def _component_metrics(
    tcs: np.ndarray,
    *,
    t_r: float,
    bands: Mapping[str, tuple[float, float] | None],
    window: int,
    threshold: float,
    nperseg: int | None,
) -> dict[str, np.ndarray]:
    """Per-component metrics of time courses ``tcs`` (n_timepoints, n_components)."""
    n_timepoints = tcs.shape[0]
    seg = min(n_timepoints, nperseg if nperseg is not None else 64)
    freqs, psd = welch(tcs, fs=1.0 / t_r, nperseg=seg, axis=0)
    nyq = 0.5 / t_r
    total = _band_power(freqs, psd, (0.0, nyq), nyq)
    slow = _band_power(freqs, psd, bands["slow"], nyq)
    fast = _band_power(freqs, psd, bands["fast"], nyq)
    low = _band_power(freqs, psd, bands["falff"], nyq)
    return {
        "amplitude": tcs.std(axis=0),
        "variability": _window_variability(tcs, window),
        "spectral_ratio": _ratio(slow, fast),
        "autocorrelation": _lag1_autocorrelation(tcs),
        "transient_frequency": _transient_frequency(tcs, threshold),
        "falff": _ratio(low, total),
    }


def _label_components(
    maps: np.ndarray, roi_domains: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domain of each component map by spatial correlation with indicator maps.

    Returns the labels, the (n_components, 7) correlation matrix (NaN for
    domains that cannot be correlated) and the sign (+1/-1) that makes each
    component's correlation with its domain positive.
    """
    n_components, n_rois = maps.shape
    corr = np.full((n_components, len(ICA_NETWORKS)), np.nan)
    for j, domain in enumerate(ICA_NETWORKS):
        indicator = (roi_domains == domain).astype(np.float64)
        if 0 < indicator.sum() < n_rois:
            corr[:, j] = [np.corrcoef(m, indicator)[0, 1] for m in maps]
    present = [d for d in ICA_NETWORKS if np.any(roi_domains == d)]
    if np.all(np.isnan(corr)):  # zero or one domain present: no contrast possible
        label = present[0] if present else ""
        labels = np.array([label] * n_components, dtype=object)
        signs = np.sign(maps[np.arange(n_components), np.abs(maps).argmax(1)])
        return labels, corr, np.where(signs == 0, 1.0, signs)
    best = np.nanargmax(np.abs(np.nan_to_num(corr, nan=0.0)), axis=1)
    labels = np.array([ICA_NETWORKS[j] for j in best], dtype=object)
    signs = np.sign(corr[np.arange(n_components), best])
    return labels, corr, np.where(signs == 0, 1.0, signs)


@fill_doc
class ICADescriptors(Descriptor):
    """Intrinsic-network dynamics from group temporal ICA and dual regression.

    In :meth:`fit`, each training subject's ROI time series are z-scored per
    ROI and concatenated in time; :class:`sklearn.decomposition.FastICA`
    (``whiten="unit-variance"``) finds ``n_components`` temporally independent
    sources, whose mixing weights over ROIs are the group spatial maps
    (``components_``). Each map is labelled with one of the seven ICA domains
    (:data:`ICA_NETWORKS`) by its largest absolute Pearson correlation with the
    binary ROI -> domain indicator maps, and its sign flipped so that this
    correlation is positive.

    In :meth:`transform`, dual regression gives each subject's component time
    courses (stage 1: least squares of the subject's data on the group maps;
    stage 2, when ``stage2=True``: subject spatial maps by least squares of the
    data on the unit-variance time courses). Per component: amplitude (std of
    the time course), variability (std of the sliding-window std), slow/fast
    spectral power ratio, lag-1 autocorrelation, transient frequency (share of
    samples with ``|z| > transient_threshold``) and fALFF (power in
    ``falff_band`` over total power from 0 Hz to Nyquist; power, not amplitude,
    ratio). Spectra are Welch estimates with ``fs = 1 / t_r``. Per-network
    features are the means over the network's components; FNC is the Fisher z
    of the correlation between network time courses (mean of the network's
    component time courses). Networks without any component (e.g.
    ``"auditory"`` and ``"cerebellar"`` without a user mapping) get NaN
    features, as do pairs involving them.

    Parameters
    ----------
    n_components : int, default=20
        Number of group independent components; at most the number of ROIs.
    networks : sequence of str or None, default=None
        Network label of each ROI (Yeo-7 short names such as ``"Vis"``, or
        ``"Subcortex"``). Required unless ``domains`` maps every ROI index.
    domains : dict or None, default=None
        ROI -> ICA domain mapping, on top of :data:`DEFAULT_DOMAINS`. Keys are
        ROI indices (int, highest priority) or network labels as in
        ``networks`` (str, e.g. ``{"Limbic": "default mode"}``); values are
        domains of :data:`ICA_NETWORKS` (``"default_mode"`` is accepted) or
        ``None`` to leave ROIs unassigned. Auditory and cerebellar components
        are found only through this mapping. Default mapping: ``Vis`` ->
        visual, ``Default`` -> default mode, ``Cont``/``DorsAttn``/
        ``SalVentAttn`` -> cognitive control, ``SomMot`` -> sensorimotor,
        ``Subcortex`` -> subcortical, ``Limbic`` -> unassigned.
    t_r : float, default=2.0
        Repetition time in seconds; Nyquist frequency is ``1 / (2 t_r)``.
    slow_band, fast_band : (float, float), default=(0.01, 0.1), (0.1, 0.25)
        Frequency bands (Hz) of the slow/fast spectral power ratio.
    falff_band : (float, float), default=(0.01, 0.08)
        Low-frequency band (Hz) of fALFF.
    nyquist : {"clip", "error"}, default="clip"
        Bands above Nyquist: ``"clip"`` clips them at Nyquist with a warning
        (a band entirely above Nyquist gives NaN features, with a warning);
        ``"error"`` raises a ValueError in :meth:`fit`.
    window : int, default=20
        Sliding-window length (time points) of the variability metric.
    transient_threshold : float, default=2.5
        ``|z|`` threshold of the transient frequency.
    nperseg : int or None, default=None
        Welch segment length in time points; ``None`` means
        ``min(n_timepoints, 64)``.
    standardize : bool, default=True
        z-score each ROI over time (per subject) before ICA and dual
        regression; otherwise only demean.
    stage2 : bool, default=False
        Run dual regression stage 2 and add, per network, the mean spatial
        correlation of subject maps with group maps (``map_similarity``).
    max_iter : int, default=1000
        Maximum FastICA iterations.
    tol : float, default=1e-4
        FastICA tolerance.
    %(n_jobs)s
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    n_features_in_ : int
        Number of ROIs.
    components_ : ndarray of shape (n_components, n_rois)
        Group spatial maps (mixing weights, sign-aligned with their domain).
    component_networks_ : ndarray of str, shape (n_components,)
        ICA domain of each component.
    component_correlations_ : pandas.DataFrame
        Spatial correlation of each component map with each domain indicator
        map (NaN for domains with no ROI).
    roi_domains_ : ndarray of str, shape (n_rois,)
        Domain of each ROI (``""`` when unassigned).
    bands_ : dict
        Bands actually used (``"slow"``, ``"fast"``, ``"falff"``), clipped at
        Nyquist; ``None`` for a band entirely above Nyquist.
    ica_ : sklearn.decomposition.FastICA
        The fitted group ICA.
    feature_names_out_ : list of str
        Names ``"ica__<network>__<metric>"``, ``"ica__fnc__<a>__<b>"`` and
        ``"ica__global__<summary>"``.
    feature_descriptions_ : dict of str to str
        Short human phrase per feature.

    Examples
    --------
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> from brainlm_decode.descriptors.ica import ICADescriptors
    >>> cohort = make_fmri_cohort(n_subjects=4, n_rois=30, random_state=0)
    >>> ica = ICADescriptors(n_components=5, networks=cohort.networks, random_state=0)
    >>> table = ica.fit(cohort.timeseries).transform(cohort.timeseries)
    >>> table.shape
    (4, 71)
    """

    family = "ica"

    _parameter_constraints: dict[str, list[Any]] = {
        "n_components": [Interval(int, 1, None)],
        "networks": [None, Satisfies(lambda v: len(v) > 0, "a sequence of str")],
        "domains": [
            None,
            Satisfies(
                _is_domain_mapping,
                "a dict of ROI index or "
                f"network label to one of {ICA_NETWORKS} or None",
            ),
        ],
        "t_r": [Interval(float, 0, None, closed="neither")],
        "slow_band": [_BAND],
        "fast_band": [_BAND],
        "falff_band": [_BAND],
        "nyquist": [Options("clip", "error")],
        "window": [Interval(int, 2, None)],
        "transient_threshold": [Interval(float, 0, None, closed="neither")],
        "nperseg": [None, Interval(int, 2, None)],
        "standardize": [bool],
        "stage2": [bool],
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_components: int = 20,
        *,
        networks: Sequence[str] | None = None,
        domains: Mapping[Any, str | None] | None = None,
        t_r: float = 2.0,
        slow_band: tuple[float, float] = (0.01, 0.1),
        fast_band: tuple[float, float] = (0.1, 0.25),
        falff_band: tuple[float, float] = (0.01, 0.08),
        nyquist: str = "clip",
        window: int = 20,
        transient_threshold: float = 2.5,
        nperseg: int | None = None,
        standardize: bool = True,
        stage2: bool = False,
        max_iter: int = 1000,
        tol: float = 1e-4,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.n_components = n_components
        self.networks = networks
        self.domains = domains
        self.t_r = t_r
        self.slow_band = slow_band
        self.fast_band = fast_band
        self.falff_band = falff_band
        self.nyquist = nyquist
        self.window = window
        self.transient_threshold = transient_threshold
        self.nperseg = nperseg
        self.standardize = standardize
        self.stage2 = stage2
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def _fit_group(self, series: list[np.ndarray], matrices: Any, n_rois: int) -> None:
        """Learn the group ICA and label its components on training subjects.

        Raises ``ValueError`` for ``n_components`` larger than the number of
        ROIs or time points, or bands above Nyquist with ``nyquist="error"``.
        """
        owner = type(self).__name__
        n_samples = sum(ts.shape[0] for ts in series)
        if self.n_components > min(n_rois, n_samples):
            raise ValueError(
                f"The 'n_components' parameter of {owner} must be at most the number "
                f"of ROIs ({n_rois}) and of concatenated time points ({n_samples}). "
                f"Got {self.n_components} instead."
            )
        self.roi_domains_ = self._roi_domains(n_rois)
        self.bands_ = self._check_bands()
        data = np.concatenate([_standardize(ts, self.standardize) for ts in series])
        self._log(f"FastICA on {data.shape[0]} time points x {n_rois} ROIs")
        self.ica_ = FastICA(
            n_components=self.n_components,
            whiten="unit-variance",
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        ).fit(data)
        maps = self.ica_.mixing_.T.copy()
        labels, corr, signs = _label_components(maps, self.roi_domains_)
        self.components_ = maps * signs[:, None]
        self.component_networks_ = labels
        self.component_correlations_ = pd.DataFrame(
            corr * signs[:, None], columns=list(ICA_NETWORKS)
        )

    def _roi_domains(self, n_rois: int) -> np.ndarray:
        """Domain of each ROI from ``networks``, the defaults and ``domains``."""
        owner = type(self).__name__
        mapping = dict(self.domains or {})
        by_index = {
            int(k): _normalise_domain(v)
            for k, v in mapping.items()
            if isinstance(k, numbers.Integral)
        }
        bad = sorted(i for i in by_index if not 0 <= i < n_rois)
        if bad:
            raise ValueError(
                f"The 'domains' parameter of {owner} has ROI indices {bad} outside "
                f"[0, {n_rois - 1}]."
            )
        if self.networks is None and len(by_index) == n_rois:
            return np.array([by_index[i] or "" for i in range(n_rois)], dtype=object)
        networks = check_networks(self.networks, n_rois, owner=owner)
        by_label = {**DEFAULT_DOMAINS}
        for key, value in mapping.items():
            if isinstance(key, str):
                if key not in set(networks):
                    raise ValueError(
                        f"The 'domains' parameter of {owner} names network {key!r}, "
                        f"absent from 'networks' ({sorted(set(networks))})."
                    )
                by_label[key] = _normalise_domain(value)
        domains = [by_label.get(n) for n in networks]
        for i, domain in by_index.items():
            domains[i] = domain
        return np.array([d or "" for d in domains], dtype=object)

    def _check_bands(self) -> dict[str, tuple[float, float] | None]:
        """Bands clipped at Nyquist (warning), or an error under ``"error"``."""
        nyq = 0.5 / self.t_r
        bands: dict[str, tuple[float, float] | None] = {}
        for name in ("slow", "fast", "falff"):
            lo, hi = (float(v) for v in getattr(self, f"{name}_band"))
            if hi <= nyq:
                bands[name] = (lo, hi)
                continue
            where = f"The '{name}_band' parameter ({lo}, {hi}) Hz"
            limit = f"Nyquist frequency {nyq:.4g} Hz (t_r={self.t_r} s)"
            if self.nyquist == "error":
                raise ValueError(
                    f"{where} of {type(self).__name__} exceeds the {limit}. Use "
                    "nyquist='clip' or a band below Nyquist."
                )
            if lo >= nyq:
                warnings.warn(
                    f"{where} lies entirely above the {limit}; its features are NaN.",
                    UserWarning,
                    stacklevel=5,
                )
                bands[name] = None
            else:
                warnings.warn(
                    f"{where} exceeds the {limit}; clipped to ({lo}, {nyq:.4g}) Hz.",
                    UserWarning,
                    stacklevel=5,
                )
                bands[name] = (lo, nyq)
        return bands

    def _feature_descriptions(self) -> dict[str, str]:
        metrics = list(ICA_METRICS) + (["map_similarity"] if self.stage2 else [])
        names: dict[str, str] = {}
        for net in ICA_NETWORKS:
            for metric in metrics:
                phrase = _METRIC_PHRASES[metric].format(net=net)
                names[f"ica__{_slug(net)}__{metric}"] = phrase
        for a, b in combinations(ICA_NETWORKS, 2):
            names[f"ica__fnc__{_slug(a)}__{_slug(b)}"] = (
                f"functional network connectivity between {a} and {b} networks"
            )
        for metric in metrics:
            phrase = (
                _METRIC_PHRASES[metric]
                .format(net="mean")
                .replace("mean network", "mean component")
            )
            names[f"ica__global__mean_{metric}"] = phrase
        names["ica__global__mean_fnc"] = "mean functional network connectivity"
        names["ica__global__mean_abs_fnc"] = (
            "mean absolute functional network connectivity"
        )
        return names

    # ------------------------------------------------------------ transform

    def dual_regression(
        self, X: Any, *, stage2: bool = True
    ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """Subject time courses (stage 1) and spatial maps (stage 2).

        Parameters
        ----------
        X : list of ndarray of shape (n_timepoints, n_rois) or 3D array
            ROI time series, prepared as in :meth:`fit` (``standardize``).
        stage2 : bool, default=True
            Also compute subject spatial maps.

        Returns
        -------
        time_courses : list of ndarray of shape (n_timepoints, n_components)
            Least-squares fit of each subject's data on ``components_``.
        spatial_maps : list of ndarray of shape (n_components, n_rois) or None
            Least-squares fit of the data on the time courses scaled to unit
            variance (FSL's ``--des_norm``); ``None`` when ``stage2=False``.
        """
        check_is_fitted(self, "components_")
        series = check_timeseries(
            X, owner=type(self).__name__, n_rois=self.n_features_in_
        )
        pinv = np.linalg.pinv(self.components_.T)
        time_courses, spatial_maps = [], []
        for ts in series:
            data = _standardize(ts, self.standardize)
            tcs = data @ pinv.T
            time_courses.append(tcs)
            if stage2:
                std = tcs.std(axis=0)
                design = tcs / np.where(std > 0, std, 1.0)
                spatial_maps.append(np.linalg.lstsq(design, data, rcond=None)[0])
        return time_courses, (spatial_maps if stage2 else None)

    def _check_transform_input(self, series: list[np.ndarray]) -> None:
        short = [ts.shape[0] for ts in series if ts.shape[0] < self.window]
        if short:
            raise ValueError(
                f"The 'X' argument of {type(self).__name__} has subjects with "
                f"{min(short)} time points, fewer than window={self.window}."
            )

    def _subject_task(self) -> tuple[Any, dict[str, Any]]:
        return self._subject_row, {}

    def _subject_row(self, ts: np.ndarray, matrix: Any = None) -> dict[str, float]:
        tcs, maps = self.dual_regression([ts], stage2=self.stage2)
        tcs = tcs[0]
        metrics = _component_metrics(
            tcs,
            t_r=self.t_r,
            bands=self.bands_,
            window=self.window,
            threshold=self.transient_threshold,
            nperseg=self.nperseg,
        )
        if maps is not None:
            metrics["map_similarity"] = np.array(
                [
                    np.corrcoef(s, g)[0, 1]
                    for s, g in zip(maps[0], self.components_, strict=True)
                ]
            )
        row: dict[str, float] = {}
        network_tcs: dict[str, np.ndarray] = {}
        for net in ICA_NETWORKS:
            members = self.component_networks_ == net
            for metric, values in metrics.items():
                row[f"ica__{_slug(net)}__{metric}"] = _nanmean(values[members])
            if members.any():
                network_tcs[net] = tcs[:, members].mean(axis=1)
        fnc = []
        for a, b in combinations(ICA_NETWORKS, 2):
            value = float("nan")
            if a in network_tcs and b in network_tcs:
                value = _fisher_z(np.corrcoef(network_tcs[a], network_tcs[b])[0, 1])
            row[f"ica__fnc__{_slug(a)}__{_slug(b)}"] = value
            fnc.append(value)
        for metric, values in metrics.items():
            row[f"ica__global__mean_{metric}"] = _nanmean(values)
        row["ica__global__mean_fnc"] = _nanmean(np.array(fnc))
        row["ica__global__mean_abs_fnc"] = _nanmean(np.abs(np.array(fnc)))
        return row
