"""The Cognitive Atlas snapshot shipped with the package and ontology resolution."""

from __future__ import annotations

import json
import re
import runpy
import shutil
from pathlib import Path

import pytest

from brainlm_decode.ontology import (
    CognitiveAtlas,
    _snapshot,
    cognitive_atlas_snapshot_info,
    load_cognitive_atlas_snapshot,
    resolve_ontology,
)

ROOT = Path(__file__).resolve().parents[2]


def test_snapshot_is_versioned_checksummed_and_attributed() -> None:
    info = cognitive_atlas_snapshot_info()
    assert info["version"] == f"cogat-export-{info['date']}"
    assert info["license"] == "CC BY-SA 3.0"
    assert "Poldrack" in info["attribution"] and "CC BY-SA" in info["attribution"]
    atlas = load_cognitive_atlas_snapshot()
    assert (atlas.n_tasks, atlas.n_concepts, atlas.n_domains) == (
        info["n_tasks"],
        info["n_concepts"],
        info["n_domains"],
    )
    assert atlas.task_concept_matrix.nnz == info["n_task_concept_links"]
    assert atlas.tasks["has_definition"].mean() > 0.9  # definitions are shipped
    assert "n-back task" in set(atlas.task_names)
    for key in ("version", "date", "license", "attribution", "sha256"):
        assert atlas.metadata[key] == info[key]


def test_snapshot_checksum_is_verified(tmp_path, monkeypatch) -> None:
    copy = tmp_path / "cognitive_atlas"
    shutil.copytree(_snapshot.snapshot_dir(), copy)
    monkeypatch.setattr(_snapshot, "snapshot_dir", lambda: copy)
    assert load_cognitive_atlas_snapshot().n_tasks > 0
    gz = copy / cognitive_atlas_snapshot_info()["file"]
    data = bytearray(gz.read_bytes())
    data[100] ^= 0xFF
    gz.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_cognitive_atlas_snapshot()
    (copy / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="ontology='live'"):
        load_cognitive_atlas_snapshot()


def test_metadata_survives_save_and_load(tmp_path) -> None:
    atlas = load_cognitive_atlas_snapshot()
    again = CognitiveAtlas.load(atlas.save(tmp_path / "atlas.json"))
    assert again.equals(atlas) and again.metadata == atlas.metadata


def test_resolve_ontology_forms(tmp_path, monkeypatch) -> None:
    snapshot = load_cognitive_atlas_snapshot()
    assert resolve_ontology(None).equals(snapshot)
    assert resolve_ontology("snapshot").equals(snapshot)
    small = snapshot.reduced(["n-back task", "stop signal task"])
    assert resolve_ontology(small) is small
    assert resolve_ontology(lambda: small) is small
    assert resolve_ontology(small.save(tmp_path / "small.json")).equals(small)

    calls = []

    def fake_live(**kwargs):
        calls.append(kwargs)
        return small

    monkeypatch.setattr(
        "brainlm_decode.ontology._loaders.fetch_cognitive_atlas", fake_live
    )
    assert resolve_ontology("live", verbose=1) is small
    assert calls == [{"verbose": 1}]


def test_resolve_ontology_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"\['snapshot', 'live'\]"):
        resolve_ontology(str(tmp_path / "missing"))
    with pytest.raises(TypeError, match="must return a CognitiveAtlas"):
        resolve_ontology(lambda: "not an atlas")
    with pytest.raises(TypeError, match="'ontology' parameter"):
        resolve_ontology(3)


@pytest.mark.shared_data
def test_build_script_reproduces_the_shipped_snapshot(shared_data_dir, tmp_path):
    script = runpy.run_path(str(ROOT / "scripts" / "build_cognitive_atlas_snapshot.py"))
    manifest = script["build"](shared_data_dir / "cognitive_atlas", tmp_path)
    shipped = json.loads((_snapshot.snapshot_dir() / "manifest.json").read_text())
    assert manifest["content_sha256"] == shipped["content_sha256"]
    assert manifest["version"] == shipped["version"] == "cogat-export-2020-05-22"


def test_package_data_ships_the_snapshot() -> None:
    import configparser
    import fnmatch

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = config["options.package_data"]["brainlm_decode"].split()
    for name in ("manifest.json", "cognitive_atlas.json.gz"):
        path = f"data/cognitive_atlas/{name}"
        assert any(fnmatch.fnmatch(path, p) for p in patterns), patterns


def test_pretrained_decoder_names_its_ontology_snapshot() -> None:
    """The bundle's ontology (names, ids, links) says which export it comes from,
    and those equal the shipped snapshot's."""
    from brainlm_decode.decode.persistence import list_pretrained

    if not list_pretrained():
        pytest.skip("the pretrained bundle is not built in this checkout")
    from brainlm_decode import CLIPDecoder

    atlas = CLIPDecoder.from_pretrained().ontology_
    snapshot = resolve_ontology(None)
    assert atlas.metadata["version"] == snapshot.metadata["version"]
    assert atlas.metadata["license"] == "CC BY-SA 3.0"
    assert list(atlas.task_ids) == list(snapshot.task_ids)
    assert (atlas.task_concept_matrix != snapshot.task_concept_matrix).nnz == 0


def test_packaged_files_hold_no_path_of_the_build_machine() -> None:
    """No JSON string of the shipped data is an absolute path (or contains one)."""
    root = Path(__file__).resolve().parents[2] / "brainlm_decode" / "data"
    absolute = re.compile(r"(^|[\s(])(/(home|root|work|tmp|Users|mnt)/|[A-Z]:\\\\)")

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    files = sorted(root.rglob("*.json"))
    assert files
    for path in files:
        for text in strings(json.loads(path.read_text(encoding="utf-8"))):
            assert not absolute.search(text), f"{path.name}: {text[:80]!r}"
