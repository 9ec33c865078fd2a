"""Tests of the Cognitive Atlas snapshot fetcher (offline)."""

from __future__ import annotations

import json
import shutil
import urllib.error

import pytest

from brainlm_decode.datasets import (
    COGNITIVE_ATLAS_FILES,
    FILE_REGISTRY,
    DataUnavailableError,
    _fetch,
    fetch_cognitive_atlas_snapshot,
)


def _write_minimal_snapshot(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for key, (name, required) in COGNITIVE_ATLAS_FILES.items():
        if required:
            (folder / name).write_text(json.dumps({"entries": [{"id": key}]}))


def test_every_snapshot_file_is_registered():
    for name, _ in COGNITIVE_ATLAS_FILES.values():
        url, sha256 = FILE_REGISTRY[f"cognitive_atlas/{name}"]
        assert url.endswith(name) and sha256 is not None


def test_snapshot_from_local_folder(tmp_path):
    _write_minimal_snapshot(tmp_path / "mine")
    snapshot = fetch_cognitive_atlas_snapshot(tmp_path / "mine", verbose=0)
    assert snapshot.path == tmp_path / "mine"
    assert snapshot.tasks == tmp_path / "mine" / "TaskCollection.json"
    assert snapshot.contrasts is None and snapshot.disorders is None
    with open(snapshot.concepts) as f:
        assert json.load(f)["entries"] == [{"id": "concepts"}]
    assert "Poldrack" in snapshot.description


@pytest.mark.shared_data
def test_snapshot_from_shared_folder(shared_data_dir):
    folder = shared_data_dir / "cognitive_atlas"
    snapshot = fetch_cognitive_atlas_snapshot(folder, verbose=0)
    for key in COGNITIVE_ATLAS_FILES:
        assert snapshot[key] is not None and snapshot[key].parent == folder
    with open(snapshot.concept_classes) as f:
        classes = json.load(f)["entries"]
    assert len(classes) == 10


@pytest.mark.shared_data
def test_snapshot_cache_matches_registered_checksums(shared_data_dir, tmp_path):
    # the shared dump is the pinned upstream snapshot: placed by hand in the
    # cache, it passes the checksums and needs no network
    shutil.copytree(shared_data_dir / "cognitive_atlas", tmp_path / "cognitive_atlas")
    snapshot = fetch_cognitive_atlas_snapshot(tmp_path, verbose=0)
    assert snapshot.path == tmp_path / "cognitive_atlas"
    assert (
        snapshot.disorders == tmp_path / "cognitive_atlas" / "DisorderCollection.json"
    )


def test_snapshot_offline_error(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(_fetch.urllib.request, "urlopen", no_network)
    # an incomplete local folder is not used in place: the cache is tried
    (tmp_path / "TaskCollection.json").write_text("{}")
    with pytest.raises(DataUnavailableError) as excinfo:
        fetch_cognitive_atlas_snapshot(tmp_path, verbose=0)
    message = str(excinfo.value)
    assert "TaskCollection.json" in message
    assert str(tmp_path / "cognitive_atlas" / "TaskCollection.json") in message
