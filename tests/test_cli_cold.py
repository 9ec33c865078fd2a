"""A cold ``brainlm-decode decode`` loads no heavy package it does not need."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from brainlm_decode.decode.persistence import list_pretrained

NOT_FOR_DECODING = (
    "torch",
    "transformers",
    "sentence_transformers",
    "nimare",
    "matplotlib",
    "nilearn",
)


def _run(code: str) -> tuple[list[str], str]:
    """Heavy packages in ``sys.modules`` after ``code`` in a fresh process; stdout."""
    code = (
        f"{code}\nimport sys\n"
        f"print(','.join(m for m in {NOT_FOR_DECODING + ('sklearn', 'pandas')!r} "
        "if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    return [m for m in last.split(",") if m], out.stdout


def test_import_cli_is_light():
    loaded, _ = _run("import brainlm_decode.cli")
    assert loaded == []


@pytest.mark.skipif(not list_pretrained(), reason="no pretrained bundle")
def test_cold_decode_skips_torch_nimare_matplotlib(tmp_path):
    from nilearn.datasets import load_sample_motor_activation_image

    motor = tmp_path / "motor.nii.gz"
    shutil.copy(load_sample_motor_activation_image(), motor)
    loaded, stdout = _run(
        "from brainlm_decode.cli import main\n"
        f"assert main(['decode', {str(motor)!r}, '--top', '5', '--json']) == 0"
    )
    assert not set(loaded) & set(NOT_FOR_DECODING), loaded
    payload = json.loads(stdout)
    assert [len(payload[level]) for level in ("task", "concept", "domain")] == [5] * 3
    assert payload["task"][0]["name"] == "motor fMRI task paradigm"


@pytest.mark.skipif(not list_pretrained(), reason="no pretrained bundle")
def test_decode_restores_the_garbage_collector(tmp_path, capsys):
    import gc

    import numpy as np

    from brainlm_decode.cli import main
    from brainlm_decode.imaging import mkda_map

    path = tmp_path / "map.nii.gz"
    mkda_map(np.array([[-38, -22, 56]])).to_filename(path)
    assert gc.isenabled()
    assert main(["decode", str(path), "--json", "--top", "2"]) == 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert main(["decode", str(path), "--json", "--top", "2"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert capsys.readouterr().out.count('"task"') == 2
