"""Two CPU processes (torchrun + gloo) train the same model as one process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from brainlm_decode.clip import load_clip, train_clip

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.multiprocess
@pytest.mark.timeout(300)
def test_torchrun_two_processes_match_one(make_pairs, tmp_path) -> None:
    text, image = make_pairs(n=80, text_dim=12, image_dim=10)
    for name, array in {
        "t": text[:64],
        "i": image[:64],
        "vt": text[64:],
        "vi": image[64:],
    }.items():
        np.save(tmp_path / f"{name}.npy", array)
    options = {"embed_dim": 8, "batch_size": 32, "max_epochs": 3, "dropout": 0.0}
    port = _free_port()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        "-m",
        "brainlm_decode.clip.cli_train",
        *("--text", str(tmp_path / "t.npy"), "--image", str(tmp_path / "i.npy")),
        *("--val-text", str(tmp_path / "vt.npy")),
        *("--val-image", str(tmp_path / "vi.npy")),
        *("--out", str(tmp_path / "model"), "--device", "cpu", "--seed", "0"),
        *("--embed-dim", "8", "--batch-size", "32", "--max-epochs", "3"),
        *("--dropout", "0"),
    ]
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=280
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
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
