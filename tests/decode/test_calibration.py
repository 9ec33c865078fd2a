"""Temperature scaling of task posteriors, ECE, and its persistence."""

from __future__ import annotations

import numpy as np
import pytest

from brainlm_decode.decode.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_table,
)
from brainlm_decode.decode.persistence import list_pretrained
from brainlm_decode.decode.posterior import softmax

needs_bundle = pytest.mark.skipif(
    not list_pretrained(), reason="the pretrained bundle is not built in this checkout"
)


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 6))
    true_t = 2.5
    probs = softmax(logits / true_t, axis=1)
    labels = np.array([rng.choice(6, p=p) for p in probs])
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)
    calibrated = softmax(logits / fit_temperature(logits, labels), axis=1)
    assert expected_calibration_error(calibrated, labels) < expected_calibration_error(
        softmax(logits, axis=1), labels
    )


def test_reliability_table_and_errors():
    table = reliability_table([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], [0, 1, 1], 5)
    assert table["count"].sum() == 3
    assert set(table.columns) == {"low", "high", "confidence", "accuracy", "count"}
    with pytest.raises(ValueError, match="labels"):
        reliability_table([[0.5, 0.5]], [3])


@needs_bundle
def test_calibrate_lowers_nll_and_survives_save_load(tmp_path):
    from brainlm_decode import CLIPDecoder

    decoder = CLIPDecoder.from_pretrained()
    rng = np.random.default_rng(0)
    embeddings = rng.random((60, decoder.n_features_in_)).astype(np.float32)
    scores = decoder.decode_embeddings(embeddings)["posterior"]
    # labels drawn from a sharper version of the decoder's own posterior
    sharp = softmax(np.log(scores) * 2.0, axis=1)
    ids = np.asarray(decoder.ontology_.task_ids)
    labels = [ids[rng.choice(len(ids), p=p)] for p in sharp]
    decoder.calibrate(embeddings, labels)
    info = decoder.calibration_
    assert decoder.temperature_ < 1.0  # sharper than the raw posterior
    assert info["nll_after"] <= info["nll_before"]
    assert info["ece_before"] >= 0 and info["ece_after"] >= 0
    after = decoder.decode_embeddings(embeddings)["posterior"]
    likelihood = decoder.decode_embeddings(embeddings)["likelihood"]
    before = np.log(scores) - np.log(decoder.prior_)  # log-likelihood + constant
    np.testing.assert_array_equal(likelihood.argmax(1), before.argmax(1))
    decoder.save(tmp_path / "calibrated")
    loaded = CLIPDecoder.load(tmp_path / "calibrated")
    assert loaded.temperature_ == pytest.approx(decoder.temperature_)
    assert loaded.calibration_["ece_after"] == pytest.approx(info["ece_after"])
    np.testing.assert_allclose(
        loaded.decode_embeddings(embeddings)["posterior"], after, rtol=1e-5
    )
    with pytest.raises(ValueError, match="'y'"):
        decoder.calibrate(embeddings, ["not a task"] * 60)
