"""TR honesty: training TR remembered, other TRs and big stretches warn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from brainlm_decode import FMRIDescriptorTransformer, ROITimeSeriesPreprocessor
from brainlm_decode.timeseries.tr import check_t_r, fitted_t_r, warn_stretch

NETS = ["Visual", "Visual", "Default", "Default", "Limbic", "Limbic"]


def _series(n: int, n_timepoints: int = 120, n_rois: int = 6) -> list[np.ndarray]:
    rng = np.random.RandomState(0)
    return [rng.normal(size=(n_timepoints, n_rois)) for _ in range(n)]


def test_stretch_over_a_quarter_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_stretch("x", [150, 160], 160)  # 1.07x: silent
    with pytest.warns(UserWarning, match=r"1 series stretched .* factor 1.66"):
        warn_stretch("x", [97, 150], 160)  # (160 - 1) / (97 - 1) = 1.66
    prep = ROITimeSeriesPreprocessor(t_r=2.0, n_timepoints=160, min_timepoints=20)
    with pytest.warns(UserWarning, match="stretched or shrunk in time"):
        prep.fit(_series(2, n_timepoints=96))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ROITimeSeriesPreprocessor(t_r=2.0, n_timepoints=100).fit(_series(2, 120))


def test_check_t_r_and_fitted_t_r():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_t_r("x", 2.0, None)
        check_t_r("x", None, 2.5)
        check_t_r("x", 2.0, [2.0, 2.0])
    with pytest.warns(UserWarning, match=r"TR 1.5 s; these are at TR \[2.5\] s"):
        check_t_r("x", 1.5, 2.5)
    assert fitted_t_r("x", None, 2.0) == 2.0 and fitted_t_r("x", 1.5, 2.0) == 1.5
    with pytest.raises(ValueError, match="one value"):
        fitted_t_r("x", [1.5, 2.0])
    with pytest.raises(ValueError, match="positive"):
        fitted_t_r("x", -1.0)


@pytest.mark.filterwarnings("ignore::UserWarning:sklearn")
def test_descriptors_remember_training_tr():
    X = _series(6, n_timepoints=100)
    model = FMRIDescriptorTransformer(
        ["connectivity"], networks=NETS, random_state=0
    ).fit(X)
    assert model.t_r_ == 2.0
    model = FMRIDescriptorTransformer(["connectivity"], networks=NETS, random_state=0)
    model.fit(X, t_r=1.5)
    assert model.t_r_ == 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.transform(X, t_r=1.5)
    with pytest.warns(UserWarning, match="fitted on series at TR 1.5 s"):
        model.transform(X, t_r=2.5)


def test_tr_routes_as_metadata_in_a_pipeline():
    import sklearn
    from sklearn.pipeline import make_pipeline

    X = _series(6, n_timepoints=100)
    with sklearn.config_context(enable_metadata_routing=True):
        model = FMRIDescriptorTransformer(
            ["connectivity"], networks=NETS, random_state=0
        )
        model.set_fit_request(t_r=True).set_transform_request(t_r=True)
        pipe = make_pipeline(model).fit(X, t_r=1.5)
        assert pipe[0].t_r_ == 1.5
        with pytest.warns(UserWarning, match=r"\[2.5\]"):
            pipe.transform(X, t_r=2.5)
