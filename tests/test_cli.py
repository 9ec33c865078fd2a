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
    assert {"name", "id", "posterior", "likelihood", "prior", "similarity"} <= set(
        first
    )


@needs_bundle
def test_decode_concept_text_weight(capsys, tmp_path):
    path = tmp_path / "map.nii.gz"
    mkda_map(np.array([[-38, -22, 56], [38, -22, 56]])).to_filename(path)
    tables = {}
    for weight in ("0", "0.75"):
        argv = ["decode", str(path), "--json", "--level", "concept", "--top", "900"]
        assert main([*argv, "--concept-text-weight", weight]) == 0
        tables[weight] = json.loads(capsys.readouterr().out)["concept"]
    # the noisy-OR alone: probabilities; the mixture: a distribution over concepts
    assert sum(row["probability"] for row in tables["0.75"]) == pytest.approx(
        1.0, abs=1e-3
    )
    assert sum(row["probability"] for row in tables["0"]) > 1.5


def test_decode_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["decode", str(tmp_path / "nope.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "argument map" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["decode", "{map}", "--top", "-3"], "argument --top: expected a positive"),
        (["decode", "{map}", "--top", "0"], "argument --top: expected a positive"),
        (["decode", "{map}", "--top", "x"], "argument --top: expected a positive"),
        (["demo", "--top", "0"], "argument --top"),
        (["decode", "{tmp}"], "is a directory"),
        (["decode", "{map}", "--percentile", "0"], "argument --percentile"),
        (["decode", "{map}", "--percentile", "101"], "argument --percentile"),
        (["decode", "{map}", "--concept-text-weight", "2"], "--concept-text-weight"),
        (["decode", "{map}", "--concept-text-weight", "x"], "in [0, 1]"),
        (["decode", "{map}", "--plot", "{tmp}"], "argument --plot"),
        (["decode", "{map}", "--plot", "/no/such/dir/x.png"], "argument --plot"),
        (["decode", "{map}", "--model", "{map}"], "argument --model"),
        (["decode", "{map}", "--model", "no-such-bundle"], "argument --model"),
        (["decode", "{map}", "--level", "voxel"], "argument --level"),
        (["train", "{tmp}/nope.json", "--out", "{tmp}/o"], "argument collection"),
        (["train", "{map}", "--out", "{tmp}"], "already exists; pass --overwrite"),
        (["train", "{map}", "--out", "{map}"], "argument --out"),
        (["train", "{map}", "--out", "{tmp}/o", "--ontology", "{tmp}/n"], "--ontology"),
        (["train", "{map}", "--out", "{tmp}/o", "--n-epochs", "0"], "--n-epochs"),
        (["train", "{map}", "--out", "{tmp}/o", "--max-epochs", "0"], "--max-epochs"),
        (["train", "{map}", "--out", "{tmp}/o", "--device", "gpu"], "--device"),
        (["train", "{map}", "--out", "{tmp}/o", "--random-state", "-1"], "--random"),
        (["train", "{map}", "--out", "{tmp}/o", "--text-encoder", "x"], "--text-enc"),
        (["train", "{map}", "--out", "{tmp}/o", "--image-space", "x"], "--image-sp"),
        (["train", "{map}", "--out", "{tmp}/o", "--text-source", ","], "--text-sou"),
        (["plugins", "nope"], "argument group"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_are_one_line_with_the_flag_and_exit_2(
    argv, expected, tmp_path, capsys
):
    (tmp_path / "keep.txt").write_text("x")
    path = tmp_path / "map.nii.gz"
    mkda_map(np.array([[-38, -22, 56]])).to_filename(path)
    argv = [a.format(map=path, tmp=tmp_path) for a in argv]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_version_and_help_exit_0(capsys):
    from brainlm_decode import __version__

    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["decode", "--help"]) == 0


def test_data_errors_exit_1_without_traceback_unless_debug(tmp_path, capsys):
    import nibabel as nib

    path = tmp_path / "zero.nii.gz"
    nib.Nifti1Image(np.zeros((4, 4, 4)), np.eye(4)).to_filename(path)
    truncated = tmp_path / "cut.nii.gz"
    truncated.write_bytes(path.read_bytes()[:40])
    for bad in (path, truncated):
        assert main(["decode", str(bad)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert "Traceback" not in "\n".join(err)
        assert err[-1].startswith("brainlm-decode decode: error:")
    assert "cut.nii.gz" in err[-1]
    with pytest.raises(ValueError, match="cut.nii.gz"):
        main(["decode", str(truncated), "--debug"])


def test_flag_names_replace_python_names():
    from brainlm_decode.cli import _flag_message

    message = _flag_message(
        ValueError(
            "The 'percentile' argument of prepare_map must be a float. Pass "
            "flip_sign=True or tail='negative'."
        )
    )
    assert "--percentile" in message and "prepare_map" not in message
    assert "--flip-sign" in message and "--tail negative" in message


def test_plugins_lists_groups(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "text_encoders: gemma-3-270m, hf, minilm" in out
    assert "image_spaces: atlas, difumo, mni-parcels" in out


def test_train_then_decode(tmp_path, capsys):
    from brainlm_decode.datasets import make_studies_collection
    from brainlm_decode.ontology import CognitiveAtlas

    studies = make_studies_collection(n_studies=60, n_topics=2, random_state=0)
    collection = tmp_path / "studies.json"
    collection.write_text(json.dumps(studies))
    atlas = CognitiveAtlas(
        tasks=[
            {"id": "t1", "name": "visual task", "definition": "viewing gratings"},
            {"id": "t2", "name": "motor task", "definition": "finger tapping"},
        ],
        concepts=[
            {"id": "c1", "name": "vision", "definition": "seeing", "domain": "d1"},
            {"id": "c2", "name": "action", "definition": "moving", "domain": "d1"},
        ],
        domains=[{"id": "d1", "name": "Perception and action", "definition": "both"}],
        task_concepts=[("t1", "c1"), ("t2", "c2")],
    )
    ontology = atlas.save(tmp_path / "ontology.json")
    out = tmp_path / "decoder"
    args = [
        "train",
        str(collection),
        "--out",
        str(out),
        "--ontology",
        str(ontology),
        "--n-epochs",
        "2",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    assert "saved to" in capsys.readouterr().out
    path = tmp_path / "map.nii.gz"
    mkda_map(np.array([[-38, -22, 56]])).to_filename(path)
    assert main(["decode", str(path), "--model", str(out), "--level", "domain"]) == 0
    assert "Perception and action" in capsys.readouterr().out


def test_train_clip_subcommand(tmp_path, capsys):
    import numpy as np

    from brainlm_decode.cli import main
    from brainlm_decode.clip import load_clip

    rng = np.random.default_rng(0)
    text = rng.normal(size=(40, 6))
    np.save(tmp_path / "t.npy", text)
    np.save(tmp_path / "i.npy", text @ rng.normal(size=(6, 5)))
    args = ["train-clip", "--text", str(tmp_path / "t.npy"), "--image"]
    args += [str(tmp_path / "i.npy"), "--out", str(tmp_path / "m"), "--device", "cpu"]
    args += ["--embed-dim", "4", "--batch-size", "8", "--n-epochs", "2"]
    assert main([*args, "--seed", "0", "--validation-fraction", "0.25"]) == 0
    assert "saved CLIP model" in capsys.readouterr().out
    assert load_clip(tmp_path / "m").embed_dim == 4
    assert (tmp_path / "m" / "history.json").is_file()
    with pytest.raises(SystemExit, match="overwrite"):  # refused before training
        main([*args, "--seed", "0"])
    assert main([*args, "--seed", "1", "--overwrite"]) == 0


def test_train_clip_former_flags_still_work_with_a_warning(tmp_path, capsys):
    import numpy as np

    from brainlm_decode.cli import build_parser, main

    rng = np.random.default_rng(0)
    text = rng.normal(size=(40, 6))
    np.save(tmp_path / "t.npy", text)
    np.save(tmp_path / "i.npy", text @ rng.normal(size=(6, 5)))
    args = ["train-clip", "--text", str(tmp_path / "t.npy"), "--image"]
    args += [str(tmp_path / "i.npy"), "--out", str(tmp_path / "m"), "--device", "cpu"]
    args += ["--embed-dim", "4", "--batch-size", "8", "--max-epochs", "2"]
    assert main([*args, "--lr", "1e-3", "--seed", "0"]) == 0
    captured = capsys.readouterr()
    assert "--max-epochs was renamed --n-epochs" in captured.err
    assert "--lr was renamed --learning-rate" in captured.err
    assert "(2 epochs on" in captured.out
    parsed = build_parser().parse_args([*args, "--lr", "2"])
    assert (parsed.n_epochs, parsed.learning_rate) == (2, 2.0)
    assert main(["train-clip", "--help"]) == 0
    usage = capsys.readouterr().out
    assert "--n-epochs" in usage and "--max-epochs" not in usage


@pytest.mark.parametrize("existing", ["decoder_folder", "other_folder", "file"])
def test_train_refuses_an_existing_out_before_any_work(
    tmp_path, monkeypatch, capsys, existing
):
    from brainlm_decode.decode.decoder import CLIPDecoder

    def no_fit(*args, **kwargs):
        raise AssertionError("fit ran although --out could not be written")

    monkeypatch.setattr(CLIPDecoder, "fit", no_fit)
    out = tmp_path / "out"
    if existing == "file":
        out.write_text("x")
    else:
        out.mkdir()
        (out / ("config.json" if existing == "decoder_folder" else "notes.txt")).touch()
    assert main(["train", str(tmp_path), "--out", str(out)]) == 2
    message = capsys.readouterr().err
    assert "--out" in message
    assert ("is a file" if existing == "file" else "already exists") in message
    if existing == "other_folder":  # never a decoder: refused even with --overwrite
        assert main(["train", str(tmp_path), "--out", str(out), "--overwrite"]) == 2
        assert "holds no saved decoder" in capsys.readouterr().err
