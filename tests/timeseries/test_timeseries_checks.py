"""The fMRI input contract: one message per mistake, whichever estimator reads X."""

from __future__ import annotations

import numpy as np
import pytest

from brainlm_decode.descriptors import FunctionalConnectivity
from brainlm_decode.timeseries import (
    ROITimeSeriesPreprocessor,
    check_timeseries,
    stack_timeseries,
)


def _series(n_timepoints: int = 60, n_rois: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_timepoints, n_rois))


def _nan() -> list[np.ndarray]:
    bad = _series(seed=1)
    bad[3, 2] = np.nan
    return [_series(), bad]


MISTAKES = {
    "one 2D array": lambda: _series(),
    "empty": lambda: [],
    "complex": lambda: [_series(), _series().astype(complex)],
    "not numeric": lambda: [_series(), [["a", "b"], ["c", "d"]]],
    "1D subject": lambda: [_series(), np.zeros(60)],
    "NaN": _nan,
    "ROI count": lambda: [_series(), _series(n_rois=5)],
}


def _message(call, X, owner: str) -> tuple[type, str]:
    with pytest.raises((ValueError, TypeError)) as info:
        call(X)
    return info.type, str(info.value).replace(owner, "OWNER")


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_same_mistake_same_message_on_every_path(mistake):
    X = MISTAKES[mistake]()
    paths = {
        "ROITimeSeriesPreprocessor": ROITimeSeriesPreprocessor(t_r=2.0).fit,
        "FunctionalConnectivity": FunctionalConnectivity(networks=["A", "B"] * 3).fit,
        "FMRITokenizer": lambda X: stack_timeseries(X, owner="FMRITokenizer"),
        "check": lambda X: check_timeseries(X, owner="check"),
    }
    found = {owner: _message(call, X, owner) for owner, call in paths.items()}
    kinds = {kind for kind, _ in found.values()}
    assert len(kinds) == 1, found
    texts = {text.split(" (", 1)[0] for _, text in found.values()}
    if mistake == "ROI count":  # where the expected count comes from differs
        assert texts == {"The 'X' argument of OWNER: subject 1 has 5 ROIs, expected 6"}
    else:
        assert len({text for _, text in found.values()}) == 1, found
    assert all(text.startswith("The 'X' argument of OWNER") for text in texts)


def test_old_import_paths_still_work():
    from brainlm_decode import ROITimeSeriesPreprocessor as top
    from brainlm_decode.descriptors import ROITimeSeriesPreprocessor as desc
    from brainlm_decode.descriptors.base import check_timeseries as old_check
    from brainlm_decode.descriptors.preprocessing import (
        ROITimeSeriesPreprocessor as old,
    )
    from brainlm_decode.descriptors.preprocessing import resample_timeseries
    from brainlm_decode.descriptors.tr import check_t_r
    from brainlm_decode.timeseries import preprocessing, tr

    assert top is desc is old is ROITimeSeriesPreprocessor
    assert ROITimeSeriesPreprocessor.__module__ == preprocessing.__name__
    assert old_check is check_timeseries
    assert resample_timeseries is preprocessing.resample_timeseries
    assert check_t_r is tr.check_t_r


def test_tokenizer_and_lm_read_inputs_through_the_time_series_layer():
    import ast
    from pathlib import Path

    import brainlm_decode

    root = Path(brainlm_decode.__file__).parent
    offenders = []
    for package in ("tokenizer", "lm", "timeseries"):
        for path in sorted((root / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "") in {
                    "brainlm_decode.descriptors.base",
                    "brainlm_decode.descriptors.tr",
                    "brainlm_decode.descriptors.preprocessing",
                }:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders
