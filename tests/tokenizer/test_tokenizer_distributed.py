"""Two CPU processes (torchrun + gloo) train the tokenizer like one process."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

_SCRIPT = textwrap.dedent(
    """
    import json, sys, zlib
    import numpy as np
    import torch
    from accelerate import Accelerator
    from sklearn.base import BaseEstimator

    torch.set_num_threads(1)
    from brainlm_decode import FMRITokenizer
    from brainlm_decode.datasets import make_fmri_cohort


    class HashTextEncoder(BaseEstimator):
        def __init__(self, dim=12):
            self.dim = dim

        def encode(self, texts):
            return np.stack([
                np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim)
                for t in texts
            ]).astype(np.float32)


    def make(quantizer, quantizer_params):
        return FMRITokenizer(
            size={"n_layers": 1, "embed_dim": 16, "n_heads": 2},
            quantizer=quantizer, quantizer_params=quantizer_params,
            decoder_layers=1, backbone=None, text_encoder=HashTextEncoder(),
            n_epochs=3, learning_rate=1e-3, min_learning_rate=1e-4, batch_size=4, device="cpu",
            random_state=0,
        )


    out = sys.argv[1]
    cohort = make_fmri_cohort(n_subjects=8, n_rois=8, n_timepoints=64, random_state=0)
    texts = [f"subject {i} text" for i in range(8)]
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    results = {"n_processes": accelerator.num_processes}
    for name, quantizer, params in [
        ("fsq", "fsq", {"levels": [4, 4, 3]}),
        ("vq", "vq", {"codebook_size": 16}),
    ]:
        tok = make(quantizer, params).fit(cohort.timeseries, texts=texts)
        weights = torch.cat([v.flatten().double() for v in tok.model_.state_dict().values()])
        np.save(f"{out}/{name}_ids_{rank}.npy", tok.transform(cohort.timeseries))
        np.save(f"{out}/{name}_weights_{rank}.npy", weights.numpy())
        results[name] = {k: v for k, v in tok.history_.items() if k != "epoch_time"}
    if rank == 0:
        with open(f"{out}/history.json", "w") as handle:
            json.dump(results, handle)
    accelerator.wait_for_everyone()
    """
)


def _run(torchrun, tmp_path: Path, n_processes: int) -> dict:
    script = tmp_path / "train_tokenizer.py"
    script.write_text(_SCRIPT)
    out = tmp_path / f"out{n_processes}"
    out.mkdir()
    torchrun([script, str(out)], n_processes, tmp_path)
    return {"dir": out, **json.loads((out / "history.json").read_text())}


@pytest.mark.multiprocess
@pytest.mark.timeout(300)
def test_torchrun_two_processes_agree_and_match_one(tmp_path, torchrun) -> None:
    two = _run(torchrun, tmp_path, 2)
    assert two["n_processes"] == 2
    for name in ("fsq", "vq"):
        # every process ends with the same weights, codebook and tokens
        np.testing.assert_array_equal(
            np.load(two["dir"] / f"{name}_weights_0.npy"),
            np.load(two["dir"] / f"{name}_weights_1.npy"),
        )
        np.testing.assert_array_equal(
            np.load(two["dir"] / f"{name}_ids_0.npy"),
            np.load(two["dir"] / f"{name}_ids_1.npy"),
        )
        assert two[name]["reconstruction"][-1] < two[name]["reconstruction"][0]
    one = _run(torchrun, tmp_path, 1)
    # FSQ has no data-dependent codebook: the global batch (gradients averaged,
    # SigLIP against the gathered texts) gives the one-process training
    for key in ("loss", "reconstruction", "contrastive"):
        np.testing.assert_allclose(two["fsq"][key], one["fsq"][key], rtol=1e-4)
    # (Adam normalises tiny gradients, so float noise reaches 1e-4 on a few
    # weights whose gradients are close to zero)
    np.testing.assert_allclose(
        np.load(two["dir"] / "fsq_weights_0.npy"),
        np.load(one["dir"] / "fsq_weights_0.npy"),
        atol=1e-3,
    )
    same = np.load(two["dir"] / "fsq_ids_0.npy") == np.load(
        one["dir"] / "fsq_ids_0.npy"
    )
    assert same.mean() > 0.95
