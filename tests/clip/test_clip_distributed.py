"""Two CPU processes (torchrun + gloo) train the same model as one process."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from brainlm_decode.clip import load_clip, train_clip


@pytest.mark.multiprocess
@pytest.mark.timeout(300)
def test_torchrun_two_processes_match_one(make_pairs, tmp_path, torchrun) -> None:
    text, image = make_pairs(n=80, text_dim=12, image_dim=10)
    for name, array in {
        "t": text[:64],
        "i": image[:64],
        "vt": text[64:],
        "vi": image[64:],
    }.items():
        np.save(tmp_path / f"{name}.npy", array)
    options = {"embed_dim": 8, "batch_size": 32, "n_epochs": 3, "dropout": 0.0}
    result = torchrun(
        [
            "-m",
            "brainlm_decode.cli",
            "train-clip",
            *("--text", tmp_path / "t.npy", "--image", tmp_path / "i.npy"),
            *("--val-text", tmp_path / "vt.npy"),
            *("--val-image", tmp_path / "vi.npy"),
            *("--out", tmp_path / "model", "--device", "cpu", "--seed", "0"),
            *("--embed-dim", "8", "--batch-size", "32", "--n-epochs", "3"),
            *("--dropout", "0"),
        ],
        2,
        tmp_path,
    )
    assert "2 process(es)" in result.stdout

    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert history["n_processes"] == 2 and len(history["val_loss"]) == 3
    distributed = load_clip(tmp_path / "model")

    # one process, same seed and data: the gathered global-batch loss gives the
    # same gradients, so the weights agree up to float rounding
    single, single_history = train_clip(
        text[:64],
        image[:64],
        validation=(text[64:], image[64:]),
        random_state=0,
        device="cpu",
        **options,
    )
    for name, value in single.state_dict().items():
        torch.testing.assert_close(
            distributed.state_dict()[name], value, atol=1e-5, rtol=1e-5, msg=name
        )
    np.testing.assert_allclose(
        history["train_loss"], single_history.train_loss, rtol=1e-5
    )
