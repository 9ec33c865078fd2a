"""The project's usage line, ``CLIPDecoder().fit(studyset).transform(img)``, offline.

Runs the line exactly as the README shows it (default parameters: MiniLM text
encoder, ``mni-parcels`` image space, the Cognitive Atlas snapshot shipped with the
package) on the n-back vs flanker studyset that ships with NiMARE, with every
socket operation refused, and checks that failures that can be detected early
come before any embedding.
"""

from __future__ import annotations

import importlib.resources
import re
import socket
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlm_decode import CLIPDecoder

STUDYSET = "nback_vs_flanker_studyset_2026-07"


class _Offline(OSError):
    """What a machine without network raises."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse DNS and every connection, loopback included."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise _Offline("network is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def studyset():
    from nimare.studyset import Studyset

    path = importlib.resources.files("nimare") / "resources" / STUDYSET
    if not path.is_dir():
        pytest.skip(f"this NiMARE has no {STUDYSET}")
    return Studyset(str(path))


@pytest.fixture
def img():
    from nilearn.datasets import load_sample_motor_activation_image

    return load_sample_motor_activation_image()


def _readme_training_block() -> str:
    """The first Python block of the README that trains a decoder."""
    text = (Path(__file__).resolve().parents[2] / "README.rst").read_text()
    for block in re.findall(r".. code-block:: python\n\n((?:    .*\n|\n)+)", text):
        code = textwrap.dedent(block)
        if ".fit(" in code:
            return code
    raise AssertionError("the README has no training example")


def test_readme_usage_line_runs_offline(no_network, tmp_data_dir) -> None:
    """The README's first training example, run as it is: the usage line."""
    code = _readme_training_block()
    assert "tasks = CLIPDecoder().fit(studyset).transform(img)" in code
    assert STUDYSET in code
    names: dict = {}
    exec(compile(code, "README.rst", "exec"), names)
    _check_task_table(names["tasks"])


def _check_task_table(table: pd.DataFrame) -> None:
    assert isinstance(table, pd.DataFrame)
    assert table.index.name == "task"
    assert list(table.columns) == [
        "id",
        "posterior",
        "likelihood",
        "prior",
        "similarity",
    ]
    assert len(table) == 853  # every task of the shipped snapshot
    assert np.isclose(table["posterior"].sum(), 1.0)
    assert table["posterior"].is_monotonic_decreasing
    assert np.isfinite(table.to_numpy()[:, 1:].astype(float)).all()


def test_default_ontology_is_the_versioned_snapshot(no_network, tmp_data_dir) -> None:
    from brainlm_decode.ontology import cognitive_atlas_snapshot_info

    decoder = CLIPDecoder()
    atlas = decoder._load_ontology()
    info = cognitive_atlas_snapshot_info()
    assert atlas.metadata["version"] == info["version"] == "cogat-export-2020-05-22"
    assert atlas.metadata["license"] == "CC BY-SA 3.0"
    assert "Poldrack" in atlas.metadata["attribution"]


def _no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    from brainlm_decode.text.encoders import TextEncoder

    def fail(self, texts):
        raise AssertionError("texts were embedded before the failure")

    monkeypatch.setattr(TextEncoder, "encode", fail)


def test_live_ontology_offline_fails_before_embedding(
    no_network, studyset, tmp_data_dir, monkeypatch
) -> None:
    from brainlm_decode.ontology import CognitiveAtlasDownloadError

    _no_embedding(monkeypatch)
    with pytest.raises(CognitiveAtlasDownloadError, match="cognitiveatlas.org"):
        CLIPDecoder(ontology="live").fit(studyset)


def test_missing_text_encoder_fails_before_embedding(
    no_network, studyset, monkeypatch
) -> None:
    import brainlm_decode.collection
    import brainlm_decode.text.encoders as encoders

    def missing() -> None:
        raise FileNotFoundError("all-MiniLM-L6-v2 weights are not installed")

    def no_collection(*args, **kwargs):
        raise AssertionError("the collection was read before the failure")

    monkeypatch.setattr(encoders, "_minilm_path", missing)
    monkeypatch.setattr(brainlm_decode.collection, "load_collection", no_collection)
    _no_embedding(monkeypatch)
    with pytest.raises(FileNotFoundError, match="MiniLM"):
        CLIPDecoder().fit(studyset)


def test_missing_ontology_path_fails_before_embedding(
    studyset, tmp_path, monkeypatch
) -> None:
    _no_embedding(monkeypatch)
    with pytest.raises(FileNotFoundError, match="'snapshot', 'live'"):
        CLIPDecoder(ontology=tmp_path / "nowhere").fit(studyset)
