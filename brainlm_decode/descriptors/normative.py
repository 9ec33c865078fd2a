"""Normative model: z-scores of descriptors against training-subject norms.

The fMRI-LM reference code z-scores every descriptor over the whole cohort at
once, so a test subject's z-scores depend on the other test subjects (a leak
from test to train, and texts that change when the cohort changes).
:class:`NormativeModel` learns the location and scale of each descriptor in
``fit`` (from the training subjects, or from a user-given reference cohort) and
only applies them in ``transform``: a subject's z-scores depend on that subject
and the norms, never on the other subjects transformed with it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from brainlm_decode.base import BaseBrainLMEstimator, Options, fill_doc

__all__ = ["MAD_TO_STD", "MEANAD_TO_STD", "NormativeModel"]

#: Factor making the median absolute deviation a consistent estimator of the
#: standard deviation of a normal distribution (``1 / Phi^-1(3/4)``).
MAD_TO_STD = 1.482602218505602

#: Same for the mean absolute deviation (``sqrt(pi / 2)``), the fallback scale of
#: ``method="median_mad"`` when more than half of the values are tied (MAD = 0).
MEANAD_TO_STD = 1.2533141373155001


def _check_frame(X: Any, *, owner: str, name: str = "X") -> pd.DataFrame:
    """A numeric DataFrame with unique column names, or a clear error."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"The {name!r} argument of {owner} must be a pandas DataFrame of "
            f"descriptors (one row per subject). Got {type(X).__name__} instead."
        )
    if X.shape[1] == 0:
        raise ValueError(f"The {name!r} argument of {owner} has no columns.")
    if X.columns.has_duplicates:
        dup = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
        raise ValueError(
            f"The {name!r} argument of {owner} has duplicated columns: {dup}."
        )
    non_numeric = [
        str(c)
        for c, dtype in X.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ]
    if non_numeric:
        raise TypeError(
            f"The {name!r} argument of {owner} must hold numeric columns only. "
            f"Non-numeric columns: {non_numeric}."
        )
    values = X.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise ValueError(f"The {name!r} argument of {owner} has infinite values.")
    return X


@fill_doc
class NormativeModel(
    TransformerMixin, BaseBrainLMEstimator, auto_wrap_output_keys=None
):
    """z-score descriptors against norms learned on training (or reference) subjects.

    ``fit`` learns, per descriptor column, a location and a scale from the
    training subjects (or from ``reference`` when given); ``transform`` returns
    ``(X - location) / scale`` for any subjects. The statistics never see the
    subjects being transformed, unlike the cohort-wide z-scoring of the
    fMRI-LM reference code.

    ``X`` is a DataFrame of named descriptors (columns matched by name, in any
    order; the output is a DataFrame) or, like any scikit-learn transformer, a
    2D array (columns matched by position; the output is an array).

    Missing values (NaN) are ignored when learning the norms and stay NaN in
    the z-scores. A column with zero scale (constant in the training subjects)
    gets z = 0 for every finite value, with a warning in ``fit``; a column with
    no finite training value gets NaN z-scores, with a warning.

    Parameters
    ----------
    reference : pandas.DataFrame or None, default=None
        Normative reference cohort (one row per reference subject, descriptor
        columns). When given, ``fit`` learns the norms from it and ignores the
        statistics of ``X`` (whose columns must still match); otherwise the
        norms come from ``X``.
    method : {"mean_std", "median_mad"}, default="mean_std"
        ``"mean_std"``: mean and sample standard deviation (``ddof=1``).
        ``"median_mad"``: median and median absolute deviation scaled by
        :data:`MAD_TO_STD` (robust to outlying subjects); when the MAD is 0
        (more than half of the values tied), the mean absolute deviation from
        the median scaled by :data:`MEANAD_TO_STD`.
    %(verbose)s

    Attributes
    ----------
    location_ : pandas.Series
        Mean (or median) per column.
    scale_ : pandas.Series
        Standard deviation (or scaled MAD) per column.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (only when fitted on a DataFrame).
    n_features_in_ : int
        Number of columns.
    n_samples_fit_ : int
        Number of subjects the norms were learned from.

    Examples
    --------
    >>> import pandas as pd
    >>> from brainlm_decode.descriptors.normative import NormativeModel
    >>> train = pd.DataFrame({"fc__a": [1.0, 2.0, 3.0]})
    >>> NormativeModel().fit(train).transform(pd.DataFrame({"fc__a": [4.0]}))
       fc__a
    0    2.0
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "reference": [None, pd.DataFrame],
        "method": [Options("mean_std", "median_mad")],
    }

    def __init__(
        self,
        reference: pd.DataFrame | None = None,
        method: str = "mean_std",
        verbose: int = 0,
    ) -> None:
        self.reference = reference
        self.method = method
        self.verbose = verbose

    def fit(self, X: pd.DataFrame | None = None, y: Any = None) -> NormativeModel:
        """Learn the location and scale of each column.

        Parameters
        ----------
        X : pandas.DataFrame, array-like of shape (n_subjects, n_descriptors) or None
            Descriptors of the training subjects. May be ``None`` when
            ``reference`` is given; otherwise its columns must match it.
        y : None
            Ignored.

        Returns
        -------
        self : NormativeModel

        Raises
        ------
        TypeError
            Input that is not a numeric DataFrame.
        ValueError
            No data, infinite values, or ``X`` columns that differ from
            ``reference``.
        """
        owner = type(self).__name__
        self._validate_params()
        if X is not None and not isinstance(X, pd.DataFrame):
            return self._fit_array(X)
        if self.reference is not None:
            norms = _check_frame(self.reference, owner=owner, name="reference")
            if X is not None:
                self._check_columns(_check_frame(X, owner=owner), norms.columns)
        elif X is None:
            raise ValueError(
                f"{owner}.fit needs the training descriptors 'X' when no "
                "'reference' cohort is given."
            )
        else:
            norms = _check_frame(X, owner=owner)
        if norms.shape[0] == 0:
            raise ValueError(f"{owner}.fit got no subjects (0 rows).")
        values = norms.to_numpy(dtype=np.float64)
        location, scale = self._statistics(values)
        self.feature_names_in_ = np.asarray(
            [str(c) for c in norms.columns], dtype=object
        )
        self.n_features_in_ = len(self.feature_names_in_)
        self.n_samples_fit_ = int(values.shape[0])
        self.location_ = pd.Series(location, index=self.feature_names_in_)
        self.scale_ = pd.Series(scale, index=self.feature_names_in_)
        self._warn_degenerate(location, scale)
        return self

    def _fit_array(self, X: Any) -> NormativeModel:
        """``fit`` on a 2D array (scikit-learn contract: columns by position)."""
        values = validate_data(
            self, X, reset=True, ensure_all_finite="allow-nan", dtype=np.float64
        )
        if self.reference is not None:
            reference = _check_frame(
                self.reference, owner=type(self).__name__, name="reference"
            )
            if reference.shape[1] != values.shape[1]:
                raise ValueError(
                    f"'X' has {values.shape[1]} columns but the 'reference' of "
                    f"{type(self).__name__} has {reference.shape[1]}."
                )
            values = reference.to_numpy(dtype=np.float64)
        location, scale = self._statistics(values)
        self.n_samples_fit_ = int(values.shape[0])
        names = np.asarray([f"x{i}" for i in range(values.shape[1])], dtype=object)
        self.location_ = pd.Series(location, index=names)
        self.scale_ = pd.Series(scale, index=names)
        self._warn_degenerate(location, scale, names)
        return self

    def _apply_array(self, X: Any, inverse: bool) -> np.ndarray:
        """``transform`` / ``inverse_transform`` of a 2D array."""
        values = validate_data(
            self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64
        )
        location, scale = self.location_.to_numpy(), self.scale_.to_numpy()
        if inverse:
            return location + values * scale
        return _zscore(values, location, scale)

    def _statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column-wise location and scale over finite values (NaN for none)."""
        n_cols = values.shape[1]
        location, scale = np.full(n_cols, np.nan), np.full(n_cols, np.nan)
        for j in range(n_cols):
            column = values[np.isfinite(values[:, j]), j]
            if column.size == 0:
                continue
            if self.method == "median_mad":
                location[j] = np.median(column)
                deviation = np.abs(column - location[j])
                scale[j] = MAD_TO_STD * np.median(deviation)
                if scale[j] == 0:
                    scale[j] = MEANAD_TO_STD * deviation.mean()
            else:
                location[j] = column.mean()
                scale[j] = column.std(ddof=1) if column.size > 1 else 0.0
        return location, scale

    def _warn_degenerate(
        self, location: np.ndarray, scale: np.ndarray, names: Any = None
    ) -> None:
        names = self.feature_names_in_ if names is None else names
        empty = list(names[np.isnan(location)])
        constant = list(names[np.isfinite(location) & (scale == 0)])
        if empty:
            warnings.warn(
                f"{type(self).__name__}: columns with no finite training value get "
                f"NaN z-scores: {empty}.",
                UserWarning,
                stacklevel=3,
            )
        if constant:
            warnings.warn(
                f"{type(self).__name__}: columns with zero spread in the normative "
                f"subjects get z = 0: {constant}.",
                UserWarning,
                stacklevel=3,
            )

    def _check_columns(self, X: pd.DataFrame, expected: Any) -> None:
        expected = [str(c) for c in expected]
        got = [str(c) for c in X.columns]
        got_set, expected_set = set(got), set(expected)
        missing = [c for c in expected if c not in got_set]
        extra = [c for c in got if c not in expected_set]
        if missing or extra:
            raise ValueError(
                f"The columns of 'X' do not match the descriptors of "
                f"{type(self).__name__}'s norms. Missing columns: {missing}. "
                f"Extra columns: {extra}."
            )

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """z-scores of each subject against the learned norms.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_subjects, n_descriptors)
            Descriptors, with the columns seen in ``fit`` (any order for a
            DataFrame).

        Returns
        -------
        pandas.DataFrame or ndarray
            Same index and column order as ``X``; NaN where ``X`` is NaN. An
            array for an array ``X``.

        Raises
        ------
        ValueError
            Missing or extra columns (both listed).
        """
        check_is_fitted(self, "location_")
        if not hasattr(self, "feature_names_in_") or not isinstance(X, pd.DataFrame):
            return self._apply_array(X, inverse=False)
        X = _check_frame(X, owner=type(self).__name__)
        self._check_columns(X, self.feature_names_in_)
        names = [str(c) for c in X.columns]
        values = X.to_numpy(dtype=np.float64)
        location = self.location_[names].to_numpy()
        scale = self.scale_[names].to_numpy()
        z = _zscore(values, location, scale)
        return pd.DataFrame(z, index=X.index, columns=X.columns)

    def inverse_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Descriptor values from z-scores (``location + z * scale``).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_subjects, n_descriptors)
            z-scores with the columns seen in ``fit``.

        Returns
        -------
        pandas.DataFrame or ndarray
        """
        check_is_fitted(self, "location_")
        if not hasattr(self, "feature_names_in_") or not isinstance(X, pd.DataFrame):
            return self._apply_array(X, inverse=True)
        X = _check_frame(X, owner=type(self).__name__)
        self._check_columns(X, self.feature_names_in_)
        names = [str(c) for c in X.columns]
        values = X.to_numpy(dtype=np.float64)
        out = self.location_[names].to_numpy() + values * self.scale_[names].to_numpy()
        return pd.DataFrame(out, index=X.index, columns=X.columns)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the z-scored columns (those seen in ``fit``).

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        ndarray of str
            ``feature_names_in_``, or ``x0, x1, ...`` after a fit on an array.
        """
        check_is_fitted(self, "location_")
        if hasattr(self, "feature_names_in_"):
            return self.feature_names_in_.copy()
        return np.asarray(self.location_.index, dtype=object)

    def __sklearn_tags__(self) -> Any:
        """NaN allowed (ignored in the norms, kept in the z-scores)."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _zscore(values: np.ndarray, location: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(values - location) / scale``; 0 for finite values of zero-scale columns."""
    safe = np.where(scale > 0, scale, 1.0)
    z = (values - location) / safe
    return np.where((scale == 0) & np.isfinite(values), 0.0, z)
