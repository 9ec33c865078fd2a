"""Preprocessing contract of fMRI-LM: ROI time series ready for descriptors and tokens.

fMRI-LM (Wei et al.) feeds its models ROI time series (Schaefer-400 + Tian-S3)
resampled to TR 2.0 s, clipped or interpolated to 160 time points, robustly
z-scored per ROI and normalised for site-wise variance.
:class:`ROITimeSeriesPreprocessor` makes each step a parameter, learns site
statistics on training subjects only and validates its inputs;
:func:`resample_timeseries` is the anti-aliased resampling step on its own.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.signal import resample_poly
from sklearn.base import TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    Satisfies,
    fill_doc,
    validate_params,
)
from brainlm_decode.imaging.atlas import (
    ATLAS_IMAGE_DOC,
    ATLAS_NAMES,
    atlas_masker,
    is_niimg_like,
    resolve_atlas,
)
from brainlm_decode.timeseries._subjects import (
    OWNER,
    POSITIVE,
    check_subjects,
    check_values,
    header_t_r,
    is_hashable,
    is_label_list,
    is_masker,
    is_niimg,
    is_t_r_list,
    masker_rois,
    subject_array,
    x_error,
)
from brainlm_decode.timeseries.tr import warn_stretch

__all__ = ["ATLAS_NAMES", "ROITimeSeriesPreprocessor", "resample_timeseries"]

_OWNER = OWNER

# Interquartile range of a standard normal distribution, used when a ROI has a
# zero IQR but a non-zero variance (mostly flat series with a few excursions).
_NORMAL_IQR = 1.3489795003921634
_INT1 = Interval(int, 1, None)


def resample_timeseries(
    ts: Any, t_r: float, target_t_r: float, *, max_denominator: int = 100
) -> np.ndarray:
    """Resample time series to another repetition time, with anti-aliasing.

    ``t_r / target_t_r`` is approximated by ``up / down``
    (:meth:`fractions.Fraction.limit_denominator`) and the series go through
    :func:`scipy.signal.resample_poly`: upsampling, zero-phase low-pass FIR
    (Kaiser window, cut-off at the lower Nyquist frequency), downsampling.
    Content above the new Nyquist frequency is attenuated, not aliased. The
    mean is removed before filtering and the edges are padded with a fitted
    line, so offsets and drifts do not ring at the boundaries.

    Parameters
    ----------
    ts : array-like of shape (n_timepoints,) or (n_timepoints, n_rois)
        Time series, time on the first axis.
    t_r : float
        Repetition time of ``ts``, in seconds.
    target_t_r : float
        Repetition time of the output, in seconds.
    max_denominator : int, default=100
        Largest ``down`` factor of the approximation; the effective output TR
        is ``t_r * down / up`` (exact for 0.72 -> 2.0 s: 9/25, 1.5 -> 2.0 s: 3/4).

    Returns
    -------
    resampled : ndarray of shape (ceil(n_timepoints * up / down), ...)
        float64; sample ``k`` is at time ``k * target_t_r`` (a copy of ``ts``
        when the TRs are equal).

    Raises
    ------
    ValueError
        Non-positive TR, ``ts`` not 1D/2D, fewer than 2 time points, NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1200) * 0.72
    >>> x = np.sin(2 * np.pi * 0.05 * t)
    >>> resample_timeseries(x, 0.72, 2.0).shape
    (432,)
    """
    args = {"t_r": t_r, "target_t_r": target_t_r, "max_denominator": max_denominator}
    rules = {"t_r": [POSITIVE], "target_t_r": [POSITIVE], "max_denominator": [_INT1]}
    validate_params("resample_timeseries", args, rules, kind="argument")
    array = np.asarray(ts, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[0] < 2:
        raise ValueError(
            "The 'ts' argument of resample_timeseries must be a 1D or 2D array, time "
            f"first, with >= 2 time points. Got shape {array.shape} instead."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("The 'ts' argument of resample_timeseries has NaN or inf.")
    exact = float(t_r) / float(target_t_r)
    ratio = Fraction(exact).limit_denominator(max_denominator)
    if ratio == 0 or abs(float(ratio) - exact) > 0.01 * exact:
        raise ValueError(
            f"The 't_r' argument of resample_timeseries ({t_r} s) cannot be "
            f"resampled to target_t_r={target_t_r} s: the ratio {exact:.6g} is not "
            f"within 1 % of a fraction up/down with down <= max_denominator="
            f"{max_denominator}. t_r is in seconds (was it given in another unit?); "
            "otherwise raise max_denominator."
        )
    up, down = ratio.numerator, ratio.denominator
    if up == down:
        return array.copy()
    mean = array.mean(axis=0)
    out = resample_poly(array - mean, up, down, axis=0, padtype="line")
    return out + mean


def _match_length(ts: np.ndarray, n_timepoints: int, clip: str) -> np.ndarray:
    """Clip (``"start"`` or ``"center"``) or linearly stretch ``ts`` to ``n_timepoints``."""
    length = ts.shape[0]
    if length == n_timepoints:
        return ts
    if length > n_timepoints:
        start = 0 if clip == "start" else (length - n_timepoints) // 2
        return ts[start : start + n_timepoints]
    position = np.linspace(0.0, length - 1.0, n_timepoints)
    left = np.minimum(np.floor(position).astype(int), length - 2)
    weight = (position - left)[:, None]
    return (1.0 - weight) * ts[left] + weight * ts[left + 1]


def _standardize(ts: np.ndarray, method: str | None) -> np.ndarray:
    """Robust (median/IQR) or classical (mean/SD) z-score per ROI over time."""
    if method is None:
        return ts
    std = ts.std(axis=0)
    if method == "robust":
        center = np.median(ts, axis=0)
        q75, q25 = np.percentile(ts, [75, 25], axis=0)
        scale = q75 - q25
        flat = scale <= 0
        scale[flat] = _NORMAL_IQR * std[flat]
    else:
        center, scale = ts.mean(axis=0), std
    scale = np.where(scale > 0, scale, 1.0)
    return (ts - center) / scale


def _prepare_subject(
    index: int,
    item: Any,
    t_r: float,
    masker: Any,
    n_rois: int | None,
    source: str,
    settings: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Extract, check, resample, match length and standardise one subject.

    Returns the processed float64 array, the indices of its constant ROIs and
    its length before length matching.
    """
    labels = settings["roi_labels"]
    array = subject_array(index, item, masker, labels)
    check_values(index, array, n_rois, source)
    constant = np.flatnonzero(np.ptp(array, axis=0) == 0)
    if constant.size and settings["constant_rois"] == "error":
        names = "" if labels is None else f" {[labels[i] for i in constant[:5]]}"
        raise x_error(
            index,
            f"has {constant.size} constant (zero-variance) ROI(s) at indices "
            f"{constant[:10].tolist()}{names}; expected every ROI to vary. Set "
            "constant_rois='warn' to keep them as zeros.",
        )
    out, target = array, settings["target_t_r"]
    if target is not None:
        out = resample_timeseries(
            array, t_r, target, max_denominator=settings["max_denominator"]
        )
    if out.shape[0] < settings["min_timepoints"]:
        where = f"at TR {target} s " if target is not None else ""
        raise x_error(
            index,
            f"has {out.shape[0]} time points {where}({array.shape[0]} given), "
            f"fewer than min_timepoints={settings['min_timepoints']} (spectral "
            "measures need more).",
        )
    length = out.shape[0]
    if settings["n_timepoints"] is not None:
        out = _match_length(out, settings["n_timepoints"], settings["clip"])
    out = _standardize(out, settings["standardize"])
    if constant.size:  # copy: ``out`` may be a view of the caller's array
        out = out.copy()
        out[:, constant] = 0.0 if settings["standardize"] else array[0, constant]
    return out, constant, length


_SETTINGS = ["target_t_r", "n_timepoints", "clip", "standardize", "constant_rois"]
_SETTINGS += ["min_timepoints", "max_denominator"]
_TRLike = float | Sequence[float] | None
_T_R_CONSTRAINT = [
    None,
    POSITIVE,
    Satisfies(is_t_r_list, "a list of positive floats, one per subject"),
]


@fill_doc
class ROITimeSeriesPreprocessor(TransformerMixin, BaseBrainLMEstimator):
    """Resample, match length, standardise and site-normalise ROI time series.

    The fMRI-LM preprocessing contract, each step a parameter, per subject:

    1. **Extraction** (images only) with ``masker`` or a
       :class:`~nilearn.maskers.NiftiLabelsMasker` of ``atlas``.
    2. **Checks**: finite values, ROI count (atlas, ``roi_labels``, ``fit``),
       constant ROIs.
    3. **Resampling** to ``target_t_r`` (:func:`resample_timeseries`,
       anti-aliased); at least ``min_timepoints`` must remain.
    4. **Length**: clipped to ``n_timepoints`` when longer (``clip``),
       linearly interpolated onto ``n_timepoints`` evenly spaced points when
       shorter (a stretch in time: the effective TR of such a subject becomes
       ``target_t_r * (T - 1) / (n_timepoints - 1)``; a warning when this
       changes the duration by more than a quarter).
    5. **Standardisation** per ROI over time: ``"robust"``, ``(x - median) /
       IQR`` (median 0, IQR 1), or ``"zscore"`` (mean 0, SD 1).
    6. **Site-wise variance normalisation**: ``fit`` learns per site and ROI
       the mean temporal variance of the site's training subjects after step
       5, and the pooled mean over all of them; ``transform`` multiplies a
       subject of site ``s`` by ``sqrt(pooled / site_variance[s])`` per ROI.
       Sites are brought to the pooled variance, so the units of step 5 are
       kept (identity with one site). An unseen site warns and falls back on
       the pooled statistics (factor 1).

    Parameters
    ----------
    t_r : float, list of float or None, default=None
        Input repetition time(s) in seconds: one for all subjects or one per
        subject (length of ``X``). ``None``: the masker's ``t_r`` or the header
        of image inputs; arrays then need it when ``target_t_r`` is set. The
        ``t_r`` argument of ``fit``/``transform`` overrides it.
    target_t_r : float or None, default=2.0
        Repetition time of the output in seconds (fMRI-LM: 2.0 s). ``None``
        keeps the input sampling.
    n_timepoints : int or None, default=160
        Number of output time points (fMRI-LM: 160). ``None`` keeps each
        subject's length, and ``transform`` returns a list.
    clip : {"start", "center"}, default="start"
        Keep the first ``n_timepoints`` of a longer series, or the centred ones.
    standardize : {"robust", "zscore"} or None, default="robust"
        Per-ROI standardisation over time; ``None`` keeps the signal units.
    site_normalization : bool, default=True
        Whether to apply the site-wise variance normalisation (step 6).
    constant_rois : {"warn", "error"}, default="warn"
        A ROI constant over time in a subject's input (e.g. out of the field of
        view; 13 of 90 real ABIDE subjects have one) warns with the count and
        outputs zeros (its constant value when ``standardize=None``), or raises
        a ``ValueError``.
    min_timepoints : int, default=50
        Minimum length after resampling (spectral measures need enough
        samples); shorter series raise a ``ValueError``.
    max_denominator : int, default=100
        Largest resampling factor of the rational approximation of
        ``t_r / target_t_r`` (see :func:`resample_timeseries`).
    roi_labels : list of str or None, default=None
        Names of the ROIs, in column order. Its length must match the number
        of ROIs of the data and of the atlas. ``None`` takes the names of the
        atlas / masker, or the columns of DataFrame inputs, when known.
    atlas : str, path, niimg-like or None, default=None
        A 3D labels image or 4D maps (or a path), or a name among
        :data:`ATLAS_NAMES` (``"schaefer400_tian_s3"``: 450 ROIs, the fMRI-LM
        atlas) fetched with
        :func:`~brainlm_decode.datasets.fetch_atlas_schaefer_tian` only when
        images are given; read by
        :func:`~brainlm_decode.imaging.atlas.resolve_atlas`, as by
        :class:`~brainlm_decode.imaging.spaces.AtlasSpace`. Images are reduced
        with its labels (or maps) masker; arrays are checked against its ROI
        count. Exclusive with ``masker``.
    data_dir : str, path or None, default=None
        ``data_dir`` of :func:`~brainlm_decode.datasets.fetch_atlas_schaefer_tian`
        for a named atlas (a folder holding its files, or the data directory).
    masker : NiftiLabelsMasker, NiftiMapsMasker or None, default=None
        nilearn masker for image inputs, fitted or not (an unfitted one is
        cloned and fitted in ``fit``); arrays are checked against its number of
        regions. Exclusive with ``atlas``.
    %(n_jobs)s
    %(verbose)s

    Attributes
    ----------
    n_rois_ : int
        Number of ROIs.
    n_features_in_ : int
        Same as ``n_rois_``.
    roi_labels_ : list of str or None
        ROI names in column order (``roi_labels``, the atlas or masker names,
        or DataFrame columns); ``None`` when unknown.
    masker_ : nilearn masker or None
        The fitted masker used for image inputs (``None`` for a named atlas
        fitted on arrays: it is resolved when ``transform`` gets images).
    t_r_ : ndarray of shape (n_subjects,)
        Repetition time of each training subject (NaN when unknown, unneeded).
    sites_ : ndarray of object
        Site labels seen in ``fit``, in order of first appearance (``None``
        stands for the single unnamed site of ``sites=None``).
    site_stats_ : pandas.DataFrame or None
        Per-site (rows) and per-ROI (columns) mean temporal variance of the
        training subjects after standardisation; ``None`` when
        ``site_normalization=False``.
    site_counts_ : pandas.Series or None
        Number of training subjects per site.
    pooled_variance_ : ndarray of shape (n_rois,) or None
        Mean temporal variance over all training subjects, per ROI.

    See Also
    --------
    resample_timeseries : the anti-aliased resampling step.
    nilearn.maskers.NiftiLabelsMasker : ROI time series from images.

    Notes
    -----
    ``transform`` returns a float32 array (n_subjects, n_timepoints, n_rois)
    when ``n_timepoints`` is set, else a list of float32 arrays.

    Examples
    --------
    >>> from brainlm_decode.datasets import make_fmri_cohort
    >>> cohort = make_fmri_cohort(n_subjects=4, n_rois=20, n_timepoints=300,
    ...                           t_r=0.8, random_state=0)
    >>> prep = ROITimeSeriesPreprocessor(t_r=cohort.t_r)
    >>> prep.fit_transform(cohort.timeseries, sites=cohort.phenotypes["site"]).shape
    (4, 160, 20)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "t_r": _T_R_CONSTRAINT,
        "target_t_r": [None, POSITIVE],
        "n_timepoints": [None, Interval(int, 2, None)],
        "clip": [Options("start", "center")],
        "standardize": [None, Options("robust", "zscore")],
        "site_normalization": [bool],
        "constant_rois": [Options("error", "warn")],
        "min_timepoints": [Interval(int, 2, None)],
        "max_denominator": [_INT1],
        "roi_labels": [None, Satisfies(is_label_list, "a list of str (ROI names)")],
        "atlas": [None, Satisfies(is_niimg_like, ATLAS_IMAGE_DOC)],
        "data_dir": [None, str, os.PathLike],
        "masker": [None, Satisfies(is_masker, "a nilearn labels or maps masker")],
    }

    def __init__(
        self,
        t_r: _TRLike = None,
        target_t_r: float | None = 2.0,
        n_timepoints: int | None = 160,
        clip: str = "start",
        standardize: str | None = "robust",
        site_normalization: bool = True,
        constant_rois: str = "warn",
        min_timepoints: int = 50,
        max_denominator: int = 100,
        roi_labels: Sequence[str] | None = None,
        atlas: Any = None,
        data_dir: str | os.PathLike | None = None,
        masker: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.t_r = t_r
        self.target_t_r = target_t_r
        self.n_timepoints = n_timepoints
        self.clip = clip
        self.standardize = standardize
        self.site_normalization = site_normalization
        self.constant_rois = constant_rois
        self.min_timepoints = min_timepoints
        self.max_denominator = max_denominator
        self.roi_labels = roi_labels
        self.atlas = atlas
        self.data_dir = data_dir
        self.masker = masker
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(
        self, X: Any, y: Any = None, sites: Any = None, t_r: _TRLike = None
    ) -> ROITimeSeriesPreprocessor:
        """Check the inputs and learn the site statistics on training subjects.

        Parameters
        ----------
        X : list of array-like, 3D array or list of niimg-like
            One (n_timepoints, n_rois) array or DataFrame per subject, a 3D
            array, or one 4D image per subject (needs ``atlas`` or ``masker``).
        y : None
            Ignored.
        sites : sequence or None, default=None
            Acquisition site of each subject (hashable labels). ``None`` puts
            every subject in one site.
        t_r : float, list of float or None, default=None
            Overrides the ``t_r`` parameter for this call.

        Returns
        -------
        self : ROITimeSeriesPreprocessor
            The fitted preprocessor.
        """
        self._fit(X, sites, t_r)
        return self

    def fit_transform(
        self, X: Any, y: Any = None, sites: Any = None, t_r: _TRLike = None
    ) -> np.ndarray | list[np.ndarray]:
        """Fit on ``X`` and return its preprocessed time series, in one pass.

        Parameters
        ----------
        X, y, sites, t_r
            As in :meth:`fit`.

        Returns
        -------
        timeseries : ndarray of shape (n_subjects, n_timepoints, n_rois) or list
            As returned by :meth:`transform`.
        """
        processed, site_labels = self._fit(X, sites, t_r)
        return self._finish(processed, site_labels)

    def transform(
        self, X: Any, sites: Any = None, t_r: _TRLike = None
    ) -> np.ndarray | list[np.ndarray]:
        """Preprocess subjects with the statistics learned in :meth:`fit`.

        Parameters
        ----------
        X : list of array-like, 3D array or list of niimg-like
            As in :meth:`fit`, with the ROI count seen in ``fit``.
        sites : sequence or None, default=None
            Acquisition site of each subject. Sites unseen in ``fit`` (and
            ``None`` when ``fit`` had named sites) give a warning and use the
            pooled training statistics.
        t_r : float, list of float or None, default=None
            Overrides the ``t_r`` parameter for this call.

        Returns
        -------
        timeseries : ndarray of shape (n_subjects, n_timepoints, n_rois) or list
            float32; a list of (n_timepoints_i, n_rois) arrays when
            ``n_timepoints=None``.
        """
        check_is_fitted(self, "n_rois_")
        subjects = check_subjects(X)
        site_labels = self._check_sites(sites, len(subjects), "transform")
        masker = self.masker_
        if masker is None and any(is_niimg(s) for s in subjects):
            masker, _ = self._build_masker(has_images=True)
        processed, _ = self._prepare(
            subjects, t_r, masker, self.n_rois_, "the number of ROIs seen in fit"
        )
        return self._finish(processed, site_labels)

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are lists of 2D time-series arrays (or 4D images)."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def _fit(self, X: Any, sites: Any, t_r: Any) -> tuple[list[np.ndarray], list[Any]]:
        self._validate_params()
        if self.atlas is not None and self.masker is not None:
            raise ValueError(
                f"The 'atlas' and 'masker' parameters of {_OWNER} are exclusive; "
                "got both. Set one of them to None."
            )
        subjects = check_subjects(X)
        site_labels = self._check_sites(sites, len(subjects), "fit")
        has_images = any(is_niimg(s) for s in subjects)
        self.masker_, atlas_labels = self._build_masker(has_images)
        n_rois, labels, source = self._reference_rois(subjects, atlas_labels)
        self.roi_labels_ = labels
        processed, self.t_r_ = self._prepare(
            subjects, t_r, self.masker_, n_rois, source
        )
        self.n_rois_ = int(processed[0].shape[1])
        self.n_features_in_ = self.n_rois_
        self._fit_sites(processed, site_labels)
        self._log(
            f"fitted on {len(processed)} subjects, {self.n_rois_} ROIs, "
            f"{len(self.sites_)} site(s)."
        )
        return processed, site_labels

    def _build_masker(self, has_images: bool) -> tuple[Any, list[str] | None]:
        """The fitted masker of ``masker`` / ``atlas`` and the atlas ROI names."""
        if self.masker is not None:
            try:
                check_is_fitted(self.masker)
                return self.masker, None
            except NotFittedError:
                return clone(self.masker).fit(), None
        if self.atlas is None:
            return None, None
        if isinstance(self.atlas, str) and self.atlas in ATLAS_NAMES and not has_images:
            return None, None  # checked by its ROI count, fetched only for images
        atlas = resolve_atlas(self.atlas, data_dir=self.data_dir, verbose=self.verbose)
        return atlas_masker(atlas), atlas.labels

    def _reference_rois(
        self, subjects: list[Any], atlas_labels: list[str] | None
    ) -> tuple[int | None, list[str] | None, str]:
        """Expected ROI count, ROI names and where the count comes from."""
        count, names, source = None, atlas_labels, "the number of ROIs of the atlas"
        if self.masker_ is not None:
            count, masker_names = masker_rois(self.masker_)
            names = names if names is not None else masker_names
        elif isinstance(self.atlas, str) and self.atlas in ATLAS_NAMES:
            count = ATLAS_NAMES[self.atlas]
        if self.roi_labels is not None:
            names = [str(n) for n in self.roi_labels]
            if count is not None and len(names) != count:
                raise ValueError(
                    f"The 'roi_labels' parameter of {_OWNER} must name every ROI of "
                    f"the atlas ({count}). Got {len(names)} names instead."
                )
            if count is None:
                count, source = len(names), "the length of 'roi_labels'"
        first = subjects[0]
        if names is None and isinstance(first, pd.DataFrame):
            names = [str(c) for c in first.columns]
        if count is None and not is_niimg(first) and np.ndim(first) == 2:
            count, source = np.shape(first)[1], "the number of ROIs of subject 0"
        return count, names, source

    def _fit_sites(self, processed: list[np.ndarray], site_labels: list[Any]) -> None:
        """Per-site and pooled per-ROI variances of the training subjects."""
        self.sites_ = np.empty(len(set(site_labels)), dtype=object)
        self.sites_[:] = list(dict.fromkeys(site_labels))
        self.site_stats_, self.site_counts_, self.pooled_variance_ = None, None, None
        if not self.site_normalization:
            return
        variances = np.stack([ts.var(axis=0) for ts in processed])
        labels = np.empty(len(site_labels), dtype=object)
        labels[:] = site_labels
        index = pd.Index(self.sites_, name="site", dtype=object)
        columns = self.roi_labels_ or range(self.n_rois_)
        rows = [variances[labels == site].mean(axis=0) for site in self.sites_]
        self.site_stats_ = pd.DataFrame(np.asarray(rows), index=index, columns=columns)
        counts = [int(np.sum(labels == site)) for site in self.sites_]
        self.site_counts_ = pd.Series(counts, index=index, name="n_subjects")
        self.pooled_variance_ = variances.mean(axis=0)

    def _check_sites(self, sites: Any, n_subjects: int, method: str) -> list[Any]:
        """One hashable site label per subject (``None`` for all when not given)."""
        if sites is None:
            return [None] * n_subjects
        where = f"The 'sites' argument of {_OWNER}.{method}"
        if isinstance(sites, (str, bytes)) or not hasattr(sites, "__len__"):
            raise TypeError(
                f"{where} must be a sequence of one site label per subject. Got "
                f"{type(sites).__name__} instead."
            )
        labels = list(sites.tolist() if hasattr(sites, "tolist") else sites)
        if len(labels) != n_subjects:
            raise ValueError(
                f"{where} must give one site label per subject ({n_subjects} subjects "
                f"in 'X'). Got {len(labels)} labels instead."
            )
        bad = [i for i, label in enumerate(labels) if not is_hashable(label)]
        if bad:
            raise TypeError(f"{where}: the label of subject {bad[0]} is not hashable.")
        return labels

    def _resolve_t_r(self, t_r: Any, subjects: list[Any], masker: Any) -> np.ndarray:
        """One repetition time per subject (NaN when unknown and not needed)."""
        value, kind = self.t_r, "parameter"
        if t_r is not None:
            validate_params(
                _OWNER, {"t_r": t_r}, {"t_r": _T_R_CONSTRAINT}, kind="argument"
            )
            value, kind = t_r, "argument"
        n = len(subjects)
        if value is None:
            trs: list[float | None] = [None] * n
        elif isinstance(value, numbers.Real):
            trs = [float(value)] * n
        else:
            if len(value) != n:
                raise ValueError(
                    f"The 't_r' {kind} of {_OWNER} must give one repetition time per "
                    f"subject ({n} subjects in 'X'). Got {len(value)} values instead."
                )
            trs = [float(v) for v in value]
        for i, item in enumerate(subjects):
            if trs[i] is None and is_niimg(item):
                masker_t_r = getattr(masker, "t_r", None)
                trs[i] = float(masker_t_r) if masker_t_r else header_t_r(item)
            if trs[i] is None and self.target_t_r is not None:
                raise ValueError(
                    f"The 't_r' {kind} of {_OWNER} is needed to resample subject {i} "
                    f"to target_t_r={self.target_t_r}: expected a repetition time in "
                    "seconds (a float or one per subject). Got None (and no TR in the "
                    "masker or image header)."
                )
        return np.array([np.nan if v is None else v for v in trs], dtype=np.float64)

    def _prepare(
        self,
        subjects: list[Any],
        t_r: Any,
        masker: Any,
        n_rois: int | None,
        source: str,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Steps 1-5 on every subject (in parallel), warning on constant ROIs."""
        trs = self._resolve_t_r(t_r, subjects, masker)
        settings = {name: getattr(self, name) for name in _SETTINGS}
        settings["roi_labels"] = getattr(self, "roi_labels_", None)
        jobs = (
            delayed(_prepare_subject)(i, item, trs[i], masker, n_rois, source, settings)
            for i, item in enumerate(subjects)
        )
        results = list(
            self._progress(
                Parallel(n_jobs=self.n_jobs, return_as="generator")(jobs),
                desc="Preprocessing subjects",
                total=len(subjects),
            )
        )
        processed = [ts for ts, _, _ in results]
        if self.n_timepoints is not None:  # shorter series are stretched
            short = [n for _, _, n in results if n < self.n_timepoints]
            warn_stretch(_OWNER, short, self.n_timepoints, stacklevel=4)
        flagged = {i: c.tolist() for i, (_, c, _) in enumerate(results) if c.size}
        if flagged:
            warnings.warn(
                f"{_OWNER}: constant (zero-variance) ROIs kept as zeros in "
                f"{len(flagged)} subject(s) (subject: ROI indices) "
                f"{dict(list(flagged.items())[:5])}.",
                UserWarning,
                stacklevel=3,
            )
        return processed, trs

    def _finish(
        self, processed: list[np.ndarray], site_labels: list[Any]
    ) -> np.ndarray | list[np.ndarray]:
        """Site normalisation (step 6) and float32 output."""
        if self.site_normalization:
            processed = self._normalize_sites(processed, site_labels)
        out = [np.asarray(ts, dtype=np.float32) for ts in processed]
        return np.stack(out) if self.n_timepoints is not None else out

    def _normalize_sites(
        self, processed: list[np.ndarray], site_labels: list[Any]
    ) -> list[np.ndarray]:
        """Scale each subject by ``sqrt(pooled / site variance)`` per ROI."""
        stats = self.site_stats_.to_numpy(dtype=np.float64)
        ratio = np.divide(
            self.pooled_variance_, stats, out=np.ones_like(stats), where=stats > 0
        )
        factors = np.sqrt(ratio)
        row = {site: k for k, site in enumerate(self.sites_)}
        unseen = [s for s in dict.fromkeys(site_labels) if s not in row]
        if unseen:
            n_unseen = sum(s not in row for s in site_labels)
            warnings.warn(
                f"{_OWNER}.transform: site(s) {unseen} were not seen in fit "
                f"({n_unseen} subject(s)); their subjects use the pooled statistics "
                f"of the training sites {list(self.sites_)} (no site rescaling).",
                UserWarning,
                stacklevel=3,
            )
        return [
            ts * factors[row[site]] if site in row else ts
            for ts, site in zip(processed, site_labels, strict=True)
        ]
