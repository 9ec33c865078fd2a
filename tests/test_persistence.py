"""The one persistence layer (``brainlm_decode.persistence``) and file modes."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from brainlm_decode import persistence
from brainlm_decode._io import atomic_write, atomic_write_text, sha256_file

FORMAT = "brainlm_decode.test"


def _save(path: Path, value: str = "a", **kwargs) -> Path:
    def write(tmp: Path) -> dict:
        (tmp / "data.txt").write_text(value)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "more.txt").write_text(value * 2)
        return {"value": value}

    return persistence.save_folder(
        path, write, format_name=FORMAT, format_version=2, what="test object", **kwargs
    )


def _load(path: Path, **kwargs) -> dict:
    return persistence.load_folder(
        path, format_name=FORMAT, supported=2, what="test object", **kwargs
    )


def test_round_trip_layout_and_manifest(tmp_path):
    folder = _save(tmp_path / "obj")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "config.json",
        "data.txt",
        "manifest.json",
        "sub",
        "sub/more.txt",
    ]
    config = _load(folder)
    assert config["format"] == FORMAT and config["format_version"] == 2
    assert config["value"] == "a"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == FORMAT
    assert set(manifest["files"]) == {"config.json", "data.txt", "sub/more.txt"}


@pytest.mark.parametrize("name", ["data.txt", "sub/more.txt", "config.json"])
def test_tampered_file_is_refused(tmp_path, name):
    folder = _save(tmp_path / "obj")
    file = folder / name
    file.write_text(file.read_text().replace("a", "b"))
    with pytest.raises(ValueError, match="does not match its manifest checksum"):
        _load(folder)


def test_missing_file_or_manifest_is_refused(tmp_path):
    folder = _save(tmp_path / "obj")
    (folder / "sub" / "more.txt").unlink()
    with pytest.raises(ValueError, match="lacks 'sub/more.txt'"):
        _load(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json.*checksums.*required"):
        _load(folder)
    # a folder nested in a verified folder is covered by the outer manifest
    assert _load(folder, verified=True)["value"] == "a"
    # write_manifest adds one to a folder the user trusts
    persistence.write_manifest(folder)
    assert _load(folder)["value"] == "a"


def test_legacy_folder_with_weights_checksum_in_config(tmp_path):
    folder = _save(tmp_path / "obj")
    config = json.loads((folder / "config.json").read_text())
    config["weights"] = {"file": "data.txt", "sha256": "0" * 64}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match="checksum recorded in config.json"):
        _load(folder)


def test_newer_or_foreign_format_is_refused(tmp_path):
    folder = _save(tmp_path / "obj")
    with pytest.raises(ValueError, match="format version 2; this brainlm_decode"):
        persistence.load_folder(folder, format_name=FORMAT, supported=1, what="x")
    with pytest.raises(ValueError, match="does not describe a x"):
        persistence.load_folder(folder, format_name="other", supported=2, what="x")
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        _load(tmp_path)


def test_existing_folder_needs_overwrite_and_survives_a_failed_write(tmp_path):
    folder = _save(tmp_path / "obj", "a")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _save(folder, "b")

    def failing(tmp: Path) -> dict:
        (tmp / "data.txt").write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        persistence.save_folder(
            folder, failing, format_name=FORMAT, format_version=2, overwrite=True
        )
    assert _load(folder)["value"] == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["obj"]  # no temporary left
    _save(folder, "b", overwrite=True)
    assert _load(folder)["value"] == "b"


def test_a_folder_that_is_not_a_saved_object_is_never_replaced(tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a test object"):
        _save(other, overwrite=True)
    assert (other / "keep.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _load(_save(empty))["value"] == "a"  # nothing to lose


def test_nested_estimators_by_plugin_name_only():
    from brainlm_decode.tokenizer.quantizers import VectorQuantizer

    saved = persistence.plugin_to_json(VectorQuantizer(codebook_size=8))
    assert saved["plugin"] == "vq" and saved["group"] == "quantizers"
    assert saved["params"]["codebook_size"] == 8
    rebuilt = persistence.plugin_from_json(json.loads(json.dumps(saved)))
    assert type(rebuilt) is VectorQuantizer and rebuilt.codebook_size == 8
    # shapes of earlier versions: a built-in's path is mapped, never imported
    old = {"__estimator__": "brainlm_decode.tokenizer.quantizers:VectorQuantizer"}
    assert type(persistence.plugin_from_json({**old, "params": {}})) is VectorQuantizer
    old = {"__plugin__": ["quantizers", "vq"], "params": {}}
    assert type(persistence.plugin_from_json(old)) is VectorQuantizer
    assert persistence.plugin_to_json(object.__new__(_Unregistered)) is None


class _Unregistered:
    def get_params(self, deep: bool = True) -> dict:
        return {}


@pytest.mark.parametrize(
    "spec",
    [
        {"plugin": "os:system", "group": "quantizers", "params": {}},
        {"__plugin__": ["image_spaces", "subprocess:Popen"], "params": {}},
        {"plugin": "tests.test_persistence:_Unregistered", "group": "quantizers"},
    ],
)
def test_a_class_path_in_a_file_is_refused(spec):
    with pytest.raises(ValueError, match="class path, not a registered plugin name"):
        persistence.plugin_from_json(spec, source="config.json")


def test_unknown_legacy_estimator_path_is_refused():
    with pytest.raises(ValueError, match="never imports a class named in a file"):
        persistence.plugin_from_json({"__estimator__": "os:system", "params": {}})


def test_packaged_bundle_reads_through_the_layer():
    from brainlm_decode.decode.persistence import (
        FORMAT,
        FORMAT_VERSION,
        resolve_pretrained,
    )
    from brainlm_decode.imaging.spaces import ImageSpace, MNIParcelSpace

    folder = resolve_pretrained(None)
    config = persistence.load_folder(
        folder, format_name=FORMAT, supported=FORMAT_VERSION, what="decoder"
    )
    assert config["params"]["image_space"] == "mni-parcels"
    # the rebuilt bundle names its image space by plugin name
    space_config = json.loads((folder / "image_space" / "space.json").read_text())
    assert space_config["plugin"] == "mni-parcels" and "class" not in space_config
    space = ImageSpace.load(folder / "image_space", _verified=True)
    assert type(space) is MNIParcelSpace


def test_space_saved_with_a_class_path_loads_by_its_plugin(tmp_path):
    """Files written before plugin names held the built-in's import path: mapped."""
    from brainlm_decode.decode.persistence import resolve_pretrained
    from brainlm_decode.imaging.spaces import ImageSpace, MNIParcelSpace

    folder = tmp_path / "image_space"
    shutil.copytree(resolve_pretrained(None) / "image_space", folder)
    path = folder / "space.json"
    config = json.loads(path.read_text())
    del config["plugin"], config["format"]
    config["class"] = "brainlm_decode.imaging.spaces:MNIParcelSpace"
    path.write_text(json.dumps(config))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["space.json"] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    space = ImageSpace.load(folder)
    assert type(space) is MNIParcelSpace


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_get_the_umask_mode_like_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        text = atomic_write_text(tmp_path / "a.txt", "x")
        other = atomic_write(tmp_path / "b.bin", lambda p: Path(p).write_bytes(b"y"))
        with open(tmp_path / "c.txt", "w") as handle:
            handle.write("z")
        folder = _save(tmp_path / "obj")
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "c.txt").stat().st_mode)
    assert expected == 0o666 & ~umask
    for path in (text, other, folder / "config.json", folder / "manifest.json"):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_manifest_keeps_provenance_and_covers_nested_manifests(tmp_path):
    def nested(tmp: Path) -> dict:
        _save(tmp / "inner")
        return {}

    folder = persistence.save_folder(
        tmp_path / "nested",
        nested,
        format_name=FORMAT,
        format_version=2,
        manifest_extra={"licence": "X"},
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["licence"] == "X"
    assert "inner/manifest.json" in manifest["files"]
    persistence.write_manifest(folder)  # refreshed, provenance kept
    assert json.loads((folder / "manifest.json").read_text())["licence"] == "X"


def test_the_format_entries_are_the_layers(tmp_path):
    folder = persistence.save_folder(
        tmp_path / "obj",
        lambda tmp: {"format": "other", "format_version": 99, "value": 1},
        format_name=FORMAT,
        format_version=2,
    )
    assert _load(folder)["value"] == 1


def test_saved_folders_are_written_only_through_the_layer():
    import ast

    import brainlm_decode

    root = Path(brainlm_decode.__file__).parent
    users, definitions = [], []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "atomic_directory":
                users.append(rel)
            if isinstance(node, ast.FunctionDef) and node.name in {
                "check_format_version",
                "read_config",
                "verify_manifest",
                "saved_plugin_class",
            }:
                definitions.append(f"{rel}:{node.name}")
    assert set(users) <= {"_io.py", "persistence.py"}, users
    # thin wrappers keep their names; the logic lives in persistence.py
    assert sorted(definitions) == [
        "decode/persistence.py:verify_manifest",
        "persistence.py:check_format_version",
        "persistence.py:read_config",
        "persistence.py:verify_manifest",
        "plugins.py:saved_plugin_class",
    ]
