"""The ``brainlm-decode`` command: demo, decode, train, plugins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainlm_decode.cli import main
from brainlm_decode.decode.persistence import list_pretrained
from brainlm_decode.imaging import mkda_map

needs_bundle = pytest.mark.skipif(
    not list_pretrained(), reason="the pretrained bundle is not built in this checkout"
)


@needs_bundle
def test_demo_decodes_the_motor_map(capsys, tmp_path):
    plot = tmp_path / "demo.png"
    assert main(["demo", "--plot", str(plot), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "Top 5 tasks" in out and "Top 5 concepts" in out and "Top 5 domains" in out
    assert plot.stat().st_size > 10_000


@needs_bundle
def test_decode_json_and_level(capsys, tmp_path):
    path = tmp_path / "map.nii.gz"
    mkda_map(np.array([[-38, -22, 56], [38, -22, 56]])).to_filename(path)
    assert main(["decode", str(path), "--json", "--level", "task", "--top", "3"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == ["task"] and len(payload["task"]) == 3
    first = payload["task"][0]
    assert {"name", "id", "posterior", "likelihood", "prior", "similarity"} <= set(first)


def test_decode_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["decode", str(tmp_path / "nope.nii.gz")])


def test_plugins_lists_groups(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "text_encoders: gemma-3-270m, hf, minilm" in out
    assert "image_encoders: atlas, difumo, mni-parcels" in out
