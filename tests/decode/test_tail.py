"""Generalized Pareto tail p-values (Knijnenburg et al. 2009, as in FSL PALM)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainlm_decode.decode.null import empirical_pvalues
from brainlm_decode.decode.tail import gpd_sf, tail_pvalues


def test_gpd_sf_matches_scipy():
    x = np.linspace(0, 5, 11)
    for shape in (-0.5, -0.2, 0.0, 0.3):
        expected = stats.genpareto.sf(x, shape, scale=1.3)
        np.testing.assert_allclose(gpd_sf(x, shape, 1.3), expected, atol=1e-12)
    assert gpd_sf(3.0, -0.5, 1.0) == 0  # beyond the end point scale / 0.5


@pytest.mark.parametrize("truth", [1e-4, 1e-5])
def test_exponential_tail_near_the_truth(truth):
    # true p of an Exp(1) null is exp(-x): the tail goes far below 1 / 1001
    rng = np.random.default_rng(0)
    null = rng.exponential(size=(1000, 20))  # 20 independent replicates
    observed = np.full(20, -np.log(truth))
    p, details = tail_pvalues(observed, null, return_details=True)
    assert (details["method"] == "tail").all()
    assert empirical_pvalues(observed, null).min() == 1 / 1001
    ratio = p / truth
    # measured: median 3.7 (1e-4) and 14 (1e-5); conservative, since the
    # observed value joins the null; never far below the truth
    assert ratio.min() > 0.5
    assert np.median(ratio) < {1e-4: 8, 1e-5: 30}[truth]
    assert p.max() < 1 / 1001


def test_pvalues_in_unit_interval_and_monotone():
    rng = np.random.default_rng(1)
    null = rng.standard_normal((1000, 1))
    grid = np.linspace(null.max() - 1, null.max() + 4, 60)
    fits = [tail_pvalues([value], null, return_details=True) for value in grid]
    p = np.array([fit[0][0] for fit in fits])
    n_tail = np.array([fit[1]["n_tail"][0] for fit in fits])
    assert ((p > 0) & (p <= 1)).all()
    # monotone while the selected tail stays the same; the Anderson-Darling
    # choice of the tail size may switch with the observed value (it joins the
    # null), which can step p up (measured here: once, by 1.2e-5)
    same = n_tail[1:] == n_tail[:-1]
    assert np.all(np.diff(p)[same] <= 1e-15)
    assert stats.spearmanr(grid, p).statistic < -0.99
    assert p[-1] < 1e-4 < 1 / 1001


def test_many_exceedances_keep_the_empirical_pvalue():
    rng = np.random.default_rng(2)
    null = rng.standard_normal((500, 30))
    observed = rng.standard_normal(30) + np.linspace(0, 4, 30)
    p, details = tail_pvalues(observed, null, return_details=True)
    empirical = empirical_pvalues(observed, null)
    common = (null >= observed).sum(axis=0) >= 10
    assert common.any() and (~common).any()
    np.testing.assert_array_equal(p[common], empirical[common])
    assert (details["method"][common] == "empirical").all()
    assert (details["method"][~common] != "empirical").all()


def test_null_calibrated_when_observed_is_exchangeable():
    rng = np.random.default_rng(3)
    sample = rng.standard_normal((401, 2000))  # row 0 is a draw from the null
    p = tail_pvalues(sample[0], sample[1:])
    assert abs(np.mean(p < 0.05) - 0.05) < 0.02
    assert np.mean(p < 0.01) < 0.02


def test_no_accepted_fit_falls_back_to_empirical():
    # a null with ties at the top: every tail threshold sits on a tie
    null = np.repeat(np.arange(10.0), 100)[:, None]
    p, details = tail_pvalues([20.0], null, return_details=True)
    assert details["method"][0] == "fallback"
    assert p[0] == 1 / 1001
    # too few nulls to fit a tail of 10
    p, details = tail_pvalues([40.0], np.arange(30.0)[:, None], return_details=True)
    assert details["method"][0] == "fallback" and p[0] == 1 / 31


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="'null'"):
        tail_pvalues([1.0, 2.0], np.zeros((10, 3)))
    with pytest.raises(ValueError, match="finite"):
        tail_pvalues([np.nan], np.zeros((10, 1)))
    with pytest.raises(ValueError, match="'alpha'"):
        tail_pvalues([1.0], np.random.default_rng(0).normal(size=(100, 1)), alpha=0.9)
    with pytest.raises(TypeError, match="'max_tail'"):
        tail_pvalues([1.0], np.zeros((10, 1)), max_tail=2.5)
