"""Tests of the shared estimator base."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    docdict,
    fill_doc,
    log,
    progress,
    resolve_device,
    seed_from_random_state,
    torch_generator,
    validate_params,
)


@fill_doc
class _Toy(BaseBrainLMEstimator):
    """Toy estimator.

    Parameters
    ----------
    k : int, default=2
        Something.
    %(random_state)s
    %(verbose)s
    """

    _parameter_constraints = {
        "k": [Interval(int, 1, None)],
        "mode": [Options("a", "b")],
    }

    def __init__(self, k=2, mode="a", random_state=None, device="cpu", verbose=0):
        self.k = k
        self.mode = mode
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X=None, y=None):
        self._validate_params()
        self.k_ = self.k
        return self


def test_fill_doc_inserts_shared_fragments():
    assert "Seed for every random choice" in _Toy.__doc__
    assert "%(" not in _Toy.__doc__
    assert "verbose : int, default=0" in _Toy.__doc__


def test_fill_doc_unknown_fragment_names_it():
    def f():
        """Doc %(no_such_fragment)s."""

    with pytest.raises(KeyError, match="no_such_fragment"):
        fill_doc(f)


def test_nested_fragment_defaults_are_filled():
    def f():
        """%(batch_size)s"""

    fill_doc(f)
    assert f"default={docdict['batch_size_default']}" in f.__doc__


@pytest.mark.parametrize(
    ("params", "exc", "match"),
    [
        (
            {"k": 0},
            ValueError,
            r"The 'k' parameter of _Toy must be an int in the range \[1, inf\)\. Got 0 instead\.",
        ),
        ({"k": 1.5}, ValueError, r"Got 1\.5 instead"),
        ({"k": True}, ValueError, r"Got True instead"),
        (
            {"mode": "c"},
            ValueError,
            r"must be a str among \{'a', 'b'\}\. Got 'c' instead\.",
        ),
        ({"verbose": -1}, ValueError, "'verbose' parameter of _Toy"),
        (
            {"random_state": "seed"},
            ValueError,
            "non-negative int or a numpy RandomState",
        ),
        ({"device": "gpu"}, ValueError, "torch device"),
    ],
)
def test_validation_messages_are_uniform(params, exc, match):
    with pytest.raises(exc, match=match):
        _Toy(**params).fit()


def test_validation_accepts_good_values_and_does_not_touch_params():
    est = _Toy(k=3, mode="b", random_state=np.random.RandomState(0), verbose=True)
    assert est.fit() is est
    assert est.k == 3 and est.k_ == 3
    assert clone(est).get_params()["mode"] == "b"


def test_type_only_constraints_raise_type_error():
    with pytest.raises(TypeError, match="must be an instance of str. Got 3 instead"):
        validate_params("f", {"x": 3}, {"x": [str]}, kind="argument")


def test_interval_bounds_and_nan():
    closed = Interval(float, 0, 1)
    open_ = Interval(float, 0, 1, closed="neither")
    assert closed.accepts(0.0) and closed.accepts(1)
    assert not open_.accepts(0.0) and open_.accepts(0.5)
    assert not closed.accepts(float("nan"))
    assert open_.describe() == "a float in the range (0, 1)"


def test_seeds_and_torch_generator_are_reproducible():
    torch = pytest.importorskip("torch")
    assert seed_from_random_state(7) == 7
    a = seed_from_random_state(np.random.RandomState(3))
    b = seed_from_random_state(np.random.RandomState(3))
    assert a == b
    g1, g2 = torch_generator(11), torch_generator(11)
    assert torch.equal(torch.rand(5, generator=g1), torch.rand(5, generator=g2))
    assert _Toy(random_state=1)._rng().randint(1000) == np.random.RandomState(
        1
    ).randint(1000)


def test_resolve_device():
    torch = pytest.importorskip("torch")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="'device' parameter"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_log_and_progress_follow_verbose(capsys):
    log("quiet", verbose=0)
    log("loud", verbose=1, owner="X")
    err = capsys.readouterr().err
    assert "quiet" not in err and "[X] loud" in err
    items = [1, 2, 3]
    assert progress(items, verbose=0) is items
    assert list(progress(items, verbose=1, desc="t")) == items
