"""FewShotSiteSplit: leave-one-site-out with k labelled subjects of the new site."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from brainlm_decode.evaluation import FewShotSiteSplit, compare_estimators, make_splits

GROUPS = np.repeat(["a", "b", "c"], [5, 6, 7])


def _splits(n_shots, y=None, seed=0, n_candidates=3):
    cv = FewShotSiteSplit(n_shots, n_candidates, random_state=seed)
    return list(cv.split(np.zeros(len(GROUPS)), y, GROUPS))


def test_same_test_sets_for_every_k_and_nested_shots():
    by_k = {k: _splits(k) for k in (0, 1, 2, 3)}
    for site_pos, site in enumerate(("a", "b", "c")):
        members = set(np.flatnonzero(GROUPS == site))
        tests = [set(by_k[k][site_pos][1]) for k in by_k]
        assert all(t == tests[0] for t in tests)  # test subjects do not depend on k
        assert len(tests[0]) == len(members) - 3 and tests[0] <= members
        shots = [set(by_k[k][site_pos][0]) & members for k in by_k]
        assert [len(s) for s in shots] == [0, 1, 2, 3]
        assert shots[0] <= shots[1] <= shots[2] <= shots[3]  # nested
        for k in by_k:
            train, test = by_k[k][site_pos]
            assert not set(train) & set(test)
            # training = every other site + the shots
            assert set(train) - members == set(np.flatnonzero(GROUPS != site))
    # k = 0 is leave-one-site-out on the reduced test sets
    assert sum(len(te) for _, te in by_k[0]) == len(GROUPS) - 3 * 3


def test_stratified_candidates_alternate_classes():
    # hand-checked: site "a" holds one class-0 subject and four class-1 subjects;
    # with 2 candidates alternating classes, the class-0 subject is always a
    # candidate (never tested) and exactly one class-1 subject is the other
    y = np.array([0, 1, 1, 1, 1] + [0, 0, 0, 1, 1, 1] + [0, 1] * 3 + [0])
    for seed in range(5):
        cv = FewShotSiteSplit(2, 2, random_state=seed)
        cands = cv.candidates(y, GROUPS)
        assert 0 in cands["a"] and set(y[cands["a"]]) == {0, 1}
        for site in ("b", "c"):
            assert sorted(y[cands[site]]) == [0, 1]  # one shot of each class
        train, test = next(iter(cv.split(np.zeros(18), y, GROUPS)))
        assert 0 not in test and 0 in train
    # without stratification candidates are a plain random draw
    plain = FewShotSiteSplit(2, 2, stratify=False, random_state=0).candidates(y, GROUPS)
    assert all(len(c) == 2 for c in plain.values())


def test_seeds_redraw_and_errors():
    assert any(
        not np.array_equal(a[1], b[1])
        for a, b in zip(_splits(1, seed=0), _splits(1, seed=1), strict=True)
    )
    with pytest.raises(ValueError, match="site 'a' has 5 subjects"):
        _splits(0, n_candidates=5)
    with pytest.raises(ValueError, match="at most n_candidates"):
        _splits(4, n_candidates=3)
    with pytest.raises(ValueError, match="needs 'groups'"):
        list(FewShotSiteSplit().split(np.zeros(3)))
    assert FewShotSiteSplit().get_n_splits(groups=GROUPS) == 3


def test_in_the_harness_repeats_are_draws():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((18, 4))
    y = np.array([0, 1] * 9)
    X[:, 0] += 2 * y
    splits0 = make_splits(18, y, cv=FewShotSiteSplit(0, 3), groups=GROUPS, n_repeats=2)
    splits3 = make_splits(18, y, cv=FewShotSiteSplit(3, 3), groups=GROUPS, n_repeats=2)
    assert len(splits0) == 6
    for a, b in zip(splits0, splits3, strict=True):
        np.testing.assert_array_equal(a.test, b.test)
        assert len(b.train) == len(a.train) + 3
    assert not np.array_equal(splits0[0].test, splits0[3].test)  # redrawn
    result = compare_estimators(
        {"lr": LogisticRegression()},
        X,
        y,
        cv=FewShotSiteSplit(2, 3),
        groups=GROUPS,
        n_repeats=2,
        statistic="mean",
        n_bootstrap=50,
        verbose=0,
    )
    assert len(result.scores[result.scores.metric == "roc_auc"]) == 6
