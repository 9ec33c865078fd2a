"""Batch decoding: tidy table, per-map errors, resume by content hash, CLI."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainlm_decode import CLIPDecoder
from brainlm_decode.cli import main
from brainlm_decode.decode.batch import COLUMNS, decode_many, expand_inputs
from brainlm_decode.imaging import mkda_map


@pytest.fixture(scope="module")
def decoder():
    return CLIPDecoder.from_pretrained()


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """A BIDS-like tree of 6 MKDA maps, one 4D file and one non-NIfTI file."""
    root = tmp_path_factory.mktemp("derivatives")
    rng = np.random.RandomState(0)
    for i in range(6):
        folder = root / f"sub-{i:02d}" / "func"
        folder.mkdir(parents=True)
        peaks = rng.randint(-40, 40, size=(3, 3)) + np.array([0, -20, 20])
        nib.save(mkda_map(peaks), folder / f"sub-{i:02d}_stat-z.nii.gz")
    img = mkda_map(np.array([[-38, -22, 56]]))
    data = np.stack([np.asanyarray(img.dataobj)] * 2, axis=-1).astype(np.float32)
    nib.save(nib.Nifti1Image(data, img.affine), root / "sub-00" / "bad_4d.nii.gz")
    (root / "sub-00" / "broken.nii").write_bytes(b"not a nifti")
    return root


def test_expand_inputs_folder_glob_and_list(maps):
    assert len(expand_inputs(maps)) == 8
    assert len(expand_inputs(str(maps / "**" / "*_stat-z.nii.gz"))) == 6
    files = expand_inputs([maps / "sub-01", maps / "sub-02" / "func"])
    assert len(files) == 2
    with pytest.raises(FileNotFoundError, match="neither"):
        expand_inputs(maps / "missing.nii.gz")


def test_tidy_table_with_errors_recorded(decoder, maps):
    table = decode_many(decoder, maps, top=3, chunk_size=4, n_jobs=1)
    assert list(table.columns) == COLUMNS
    errors = table[table["level"] == "error"]
    assert len(errors) == 2  # the 4D map and the broken file
    assert errors["error"].str.len().min() > 10
    good = table[table["level"] != "error"]
    assert good["sha256"].nunique() == 6
    assert set(good["rank"]) == {1, 2, 3}
    one = good[(good["map"].str.contains("sub-03")) & (good["level"] == "task")]
    path = one["map"].iloc[0]
    expected = decoder.transform(path).head(3)
    assert list(one["term"]) == list(expected.index)
    np.testing.assert_allclose(one["score"], expected["posterior"], rtol=1e-5)


def test_resume_skips_maps_already_done(decoder, maps, tmp_path, monkeypatch):
    out = tmp_path / "results.parquet"
    first = decode_many(decoder, maps / "sub-00", out, top=2)
    assert first["sha256"].nunique() == 3  # one map + 2 errors
    import brainlm_decode.decode.batch as batch

    seen = []
    original = batch._decode_chunk

    def spy(dec, chunk, levels, top):
        seen.extend(path for path, _ in chunk)
        return original(dec, chunk, levels, top)

    monkeypatch.setattr(batch, "_decode_chunk", spy)
    full = decode_many(decoder, maps, out, top=2, chunk_size=2, backend="threading")
    assert len(seen) == 5 and not any("sub-00" in p for p in seen)
    assert full["sha256"].nunique() == 8
    assert not (tmp_path / "results.parquet.parts").exists()
    again = decode_many(decoder, maps, out, top=2)
    assert len(seen) == 5 and len(again) == len(full)


def test_killed_run_resumes_from_part_files(decoder, maps, tmp_path):
    out = tmp_path / "results.parquet"
    decode_many(decoder, maps / "sub-01", tmp_path / "early.parquet", top=1)
    parts = tmp_path / "results.parquet.parts"
    parts.mkdir()
    shutil.copy(tmp_path / "early.parquet", parts / "part-0000000000000000.parquet")
    # a part file of a killed run (and a stray temporary file) are picked up
    (parts / ".part-x.parquet.123.tmp").write_bytes(b"partial")
    table = decode_many(decoder, maps, out, top=1)
    assert table["sha256"].nunique() == 8
    assert table.duplicated(["sha256", "level", "rank"]).sum() == 0


def test_cli_decode_batch(maps, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    code = main(
        [
            "decode-batch",
            str(maps / "sub-02"),
            str(maps / "sub-03"),
            "--out",
            str(out),
            "--level",
            "task",
            "--top",
            "5",
        ]
    )
    assert code == 0
    table = pd.read_parquet(out)
    assert set(table["level"]) == {"task"} and len(table) == 10
    assert "2 maps" in capsys.readouterr().out


def test_bad_arguments(decoder, maps):
    with pytest.raises(ValueError, match="levels"):
        decode_many(decoder, maps, levels=("network",))
    with pytest.raises(ValueError, match="chunk_size"):
        decode_many(decoder, maps, chunk_size=0)
