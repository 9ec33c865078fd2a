"""The gallery examples run offline from start to end."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from brainlm_decode.decode.persistence import list_pretrained

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, monkeypatch, tmp_path):
    if "pretrained" in path.read_text() or "from_pretrained" in path.read_text():
        if not list_pretrained():
            pytest.skip("the pretrained bundle is not built in this checkout")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")
    import matplotlib.pyplot as plt

    plt.close("all")
