"""Two CPU processes (torchrun + gloo) fine-tune the LM like one process.

The tokenizer is fitted once here and loaded by every process, so that what is
compared is Stage 3 alone: LoRA instruction tuning of the tiny GPT-2 through
``accelerate`` (gradients averaged over the processes, each holding half of
every global batch).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("peft")


_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    import torch
    from accelerate import Accelerator

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")
    from brainlm_decode import FMRILMClassifier, FMRITokenizer
    from brainlm_decode.datasets import make_fmri_cohort
    from brainlm_decode.lm import HFBackbone

    lm_dir, tokenizer_dir, out = sys.argv[1:4]
    cohort = make_fmri_cohort(n_subjects=16, n_rois=21, n_timepoints=128,
                              random_state=0)
    y = cohort.phenotypes["diagnosis"].to_numpy()
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    clf = FMRILMClassifier(
        tokenizer=FMRITokenizer.load(tokenizer_dir),
        backbone=HFBackbone(lm_dir),
        networks=cohort.networks,
        paradigms=("single",),
        head="answer",
        lora=True,
        lora_dropout=0.0,  # dropout masks differ with the process count
        n_epochs=3,
        learning_rate=5e-3,
        batch_size=8,
        device="cpu",
        random_state=0,
    ).fit(cohort.timeseries, y)
    trained = torch.cat([
        p.detach().flatten().double()
        for p in clf.model_.parameters() if p.requires_grad
    ])
    np.save(f"{out}/weights_{rank}.npy", trained.numpy())
    np.save(f"{out}/proba_{rank}.npy", clf.predict_proba(cohort.timeseries))
    if rank == 0:
        history = clf.history_["instruction"]
        with open(f"{out}/history.json", "w") as handle:
            json.dump({"n_processes": accelerator.num_processes,
                       "loss": history["loss"]}, handle)
    accelerator.wait_for_everyone()
    """
)


def _run(
    torchrun, tmp_path: Path, n_processes: int, lm_dir: Path, tokenizer_dir: Path
) -> dict:
    script = tmp_path / "train_lm.py"
    script.write_text(_SCRIPT)
    out = tmp_path / f"out{n_processes}"
    out.mkdir()
    torchrun([script, str(lm_dir), str(tokenizer_dir), str(out)], n_processes, tmp_path)
    return {"dir": out, **json.loads((out / "history.json").read_text())}


@pytest.mark.multiprocess
@pytest.mark.timeout(300)
def test_torchrun_two_processes_agree_and_match_one(
    tmp_path, tiny_causal_lm_dir, torchrun
):
    from brainlm_decode import FMRITokenizer
    from brainlm_decode.datasets import make_fmri_cohort

    cohort = make_fmri_cohort(
        n_subjects=16, n_rois=21, n_timepoints=128, random_state=0
    )
    tokenizer_dir = tmp_path / "tokenizer"
    FMRITokenizer(
        size={"n_layers": 1, "embed_dim": 16, "n_heads": 2},
        quantizer_params={"codebook_size": 32},
        decoder_layers=1,
        backbone=None,
        text_encoder=None,
        n_epochs=2,
        device="cpu",
        random_state=0,
    ).fit(cohort.timeseries).save(tokenizer_dir)

    two = _run(torchrun, tmp_path, 2, tiny_causal_lm_dir, tokenizer_dir)
    assert two["n_processes"] == 2
    # every process ends with the same adapters and the same predictions
    np.testing.assert_array_equal(
        np.load(two["dir"] / "weights_0.npy"), np.load(two["dir"] / "weights_1.npy")
    )
    np.testing.assert_array_equal(
        np.load(two["dir"] / "proba_0.npy"), np.load(two["dir"] / "proba_1.npy")
    )
    one = _run(torchrun, tmp_path, 1, tiny_causal_lm_dir, tokenizer_dir)
    assert one["n_processes"] == 1
    # the global batch is the same: averaged gradients give the one-process run
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-3)
    np.testing.assert_allclose(
        np.load(two["dir"] / "proba_0.npy"),
        np.load(one["dir"] / "proba_0.npy"),
        atol=1e-3,
    )
