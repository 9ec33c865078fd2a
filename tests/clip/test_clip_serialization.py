"""Tests of save_clip / load_clip."""

from __future__ import annotations

import json

import pytest
import torch

from brainlm_decode.clip import CLIPModel, load_clip, save_clip
from brainlm_decode.clip.serialization import CONFIG_NAME, WEIGHTS_NAME


@pytest.fixture
def model() -> CLIPModel:
    torch.manual_seed(0)
    model = CLIPModel(text_dim=12, image_dim=10, embed_dim=8, dropout=0.3).eval()
    with torch.no_grad():
        model.logit_scale.fill_(3.3)
    return model


def test_round_trip_same_outputs(model: CLIPModel, tmp_path) -> None:
    folder = save_clip(model, tmp_path / "clip")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [CONFIG_NAME, "manifest.json", WEIGHTS_NAME]
    loaded = load_clip(folder)
    assert not loaded.training and loaded.get_config() == model.get_config()
    text, image = torch.randn(5, 12), torch.randn(4, 10)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.similarity(text, image),
            model.similarity(text, image),
            rtol=0,
            atol=0,
        )
    assert loaded.scale == model.scale


def test_overwrite_is_explicit_and_never_touches_foreign_folders(
    model: CLIPModel, tmp_path
) -> None:
    save_clip(model, tmp_path / "m", history={"n_epochs": 3})
    assert json.loads((tmp_path / "m" / "history.json").read_text()) == {"n_epochs": 3}
    with torch.no_grad():
        model.logit_scale.fill_(1.0)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_clip(model, tmp_path / "m")
    assert load_clip(tmp_path / "m").scale != pytest.approx(model.scale)
    save_clip(model, tmp_path / "m", overwrite=True)
    assert load_clip(tmp_path / "m").scale == pytest.approx(model.scale)
    assert not (tmp_path / "m" / "history.json").exists()  # the old save is gone
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a saved CLIPModel"):
        save_clip(model, tmp_path / "notes", overwrite=True)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "notes"]


def test_edited_file_is_detected_by_the_manifest(model: CLIPModel, tmp_path) -> None:
    save_clip(model, tmp_path / "m", history={"n_epochs": 3})
    (tmp_path / "m" / "history.json").write_text("{}")
    with pytest.raises(ValueError, match="manifest checksum"):
        load_clip(tmp_path / "m")


def test_model_saved_before_manifests_still_loads(model: CLIPModel, tmp_path) -> None:
    save_clip(model, tmp_path / "m")
    (tmp_path / "m" / "manifest.json").unlink()  # the layout of version <= 0.3
    assert load_clip(tmp_path / "m").scale == pytest.approx(model.scale)
    (tmp_path / "m" / WEIGHTS_NAME).write_bytes(b"x")
    with pytest.raises(ValueError, match="checksum"):
        load_clip(tmp_path / "m")


def test_config_is_versioned_json(model: CLIPModel, tmp_path) -> None:
    save_clip(model, tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_NAME).read_text())
    assert config["format_version"] == 1
    assert config["model"]["embed_dim"] == 8
    assert len(config["weights"]["sha256"]) == 64


def test_newer_version_is_refused(model: CLIPModel, tmp_path) -> None:
    save_clip(model, tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_NAME).read_text())
    config["format_version"] = 99
    (tmp_path / "m" / CONFIG_NAME).write_text(json.dumps(config))
    (tmp_path / "m" / "manifest.json").unlink()  # reach the version check
    with pytest.raises(ValueError, match="format version 99"):
        load_clip(tmp_path / "m")


def test_mismatched_weights_are_detected(model: CLIPModel, tmp_path) -> None:
    save_clip(model, tmp_path / "a")
    save_clip(CLIPModel(12, 10, 8), tmp_path / "b")
    (tmp_path / "b" / WEIGHTS_NAME).replace(tmp_path / "a" / WEIGHTS_NAME)
    with pytest.raises(ValueError, match="checksum"):
        load_clip(tmp_path / "a")
    (tmp_path / "a" / "manifest.json").unlink()
    with pytest.raises(ValueError, match="checksum"):
        load_clip(tmp_path / "a")


def test_missing_and_foreign_folders(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=CONFIG_NAME):
        load_clip(tmp_path)
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="does not describe"):
        load_clip(tmp_path)
    with pytest.raises(TypeError, match="CLIPModel"):
        save_clip(torch.nn.Linear(2, 2), tmp_path)
