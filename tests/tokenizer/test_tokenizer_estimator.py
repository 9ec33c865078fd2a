"""FMRITokenizer: training, reproducibility, persistence, pipelines, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from brainlm_decode import FMRITokenizer, ROITimeSeriesPreprocessor
from brainlm_decode.persistence import write_manifest
from brainlm_decode.tokenizer.quantizers import FiniteScalarQuantizer


@pytest.fixture(scope="module")
def fitted(make_tokenizer, cohort, texts):
    """A tiny VQ tokenizer trained with the contrastive term."""
    return make_tokenizer().fit(cohort.timeseries, texts=texts)


def test_fitted_attributes_and_output_shapes(fitted, series):
    check_is_fitted(fitted)
    assert (fitted.n_rois_, fitted.n_timepoints_, fitted.n_patches_) == (10, 64, 2)
    assert fitted.embed_dim_ == 16 and fitted.codebook_size_ == 32
    assert fitted.patch_size == 32 and fitted.alignment_terms_ == ["contrastive"]
    assert set(fitted.history_) >= {"loss", "reconstruction", "quantizer", "lr"}
    assert "adversarial" not in fitted.history_
    assert len(fitted.history_["contrastive"]) == 3
    assert 1 <= fitted.codebook_perplexity_ <= 32
    assert 0 <= fitted.dead_code_fraction_ < 1
    ids = fitted.transform(series)
    assert ids.shape == (12, 10, 2) and ids.dtype == np.int64
    assert ids.min() >= 0 and ids.max() < 32
    features = fitted.encode(series)
    assert features.shape == (12, 10, 2, 16) and features.dtype == np.float32
    # the nearest code of the continuous features is the token
    np.testing.assert_array_equal(fitted.quantize_features(features), ids)
    assert fitted.quantize_features(features.mean(axis=2)).shape == (12, 10)
    codes = fitted.quantize(series)
    np.testing.assert_allclose(fitted.token_embeddings(ids), codes, atol=1e-6)
    recon = fitted.inverse_transform(ids)
    assert recon.shape == series.shape and recon.dtype == np.float32
    np.testing.assert_allclose(fitted.reconstruct(series), recon, atol=1e-5)
    assert np.isfinite(fitted.score(series))


def test_reconstruction_loss_falls_during_training(make_tokenizer, cohort):
    tok = make_tokenizer(n_epochs=12, text_encoder=None, learning_rate=3e-3)
    tok.fit(cohort.timeseries)
    curve = tok.history_["reconstruction"]
    assert curve[-1] < 0.9 * curve[0]
    assert tok.history_["lr"][0] > tok.history_["lr"][-1]  # cosine decay


def test_same_seed_gives_identical_tokens(make_tokenizer, cohort, texts, fitted):
    again = make_tokenizer(text_encoder=fitted.text_encoder)
    again.fit(cohort.timeseries, texts=texts)
    np.testing.assert_array_equal(
        again.transform(cohort.timeseries), fitted.transform(cohort.timeseries)
    )
    for key, values in fitted.history_.items():
        if key != "epoch_time":
            assert again.history_[key] == values, key


def test_save_load_round_trip(fitted, series, tmp_path):
    path = fitted.save(tmp_path / "tok")
    config = json.loads((path / "config.json").read_text())
    assert config["format_version"] == 2 and config["fitted"]["n_patches_"] == 2
    loaded = FMRITokenizer.load(path)
    np.testing.assert_array_equal(loaded.transform(series), fitted.transform(series))
    np.testing.assert_array_equal(loaded.encode(series), fitted.encode(series))
    assert loaded.history_ == fitted.history_
    assert loaded.get_params()["size"] == fitted.size
    assert loaded.get_params()["quantizer_params"] == {"codebook_size": 32}
    # a newer format is refused, a corrupted weights file detected
    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="manifest checksum"):  # edited
        FMRITokenizer.load(path)
    write_manifest(path)  # as a newer brainlm_decode would have written it
    with pytest.raises(ValueError, match="format version 99"):
        FMRITokenizer.load(path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.save(path)
    fitted.save(path, overwrite=True)
    (path / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="checksum"):
        FMRITokenizer.load(path)


def test_fsq_tokenizer_and_pipeline_after_preprocessing(make_tokenizer, cohort):
    pipe = make_pipeline(
        ROITimeSeriesPreprocessor(t_r=2.0, n_timepoints=64),
        make_tokenizer(
            quantizer=FiniteScalarQuantizer(levels=[4, 4, 3]), quantizer_params=None
        ),
    )
    ids = pipe.fit_transform(cohort.timeseries)
    tok = pipe[-1]
    assert tok.codebook_size_ == 48 and ids.shape == (12, 10, 2)
    assert tok.quantizer.dim is None  # the user's instance is left untouched
    assert ids.max() < 48


def test_adversarial_term_with_a_causal_lm_backbone(
    make_tokenizer, cohort, texts, tiny_causal_lm_dir
):
    from brainlm_decode.lm import HFBackbone

    tok = make_tokenizer(
        backbone=HFBackbone(tiny_causal_lm_dir),
        text_corpus=["Default mode connectivity is elevated."],
        n_epochs=2,
        adversarial_tokens=16,
    )
    tok.fit(cohort.timeseries, texts=texts)
    assert tok.alignment_terms_ == ["adversarial", "contrastive"]
    assert tok.backbone_dim_ == 32
    assert all(np.isfinite(tok.history_["adversarial"]))
    assert 0 < tok.history_["grl_coefficient"][0] < tok.history_["grl_coefficient"][1]


def test_adversarial_term_without_texts_warns_and_is_skipped(
    make_tokenizer, cohort, tiny_causal_lm_dir
):
    from brainlm_decode.lm import HFBackbone

    tok = make_tokenizer(backbone=HFBackbone(tiny_causal_lm_dir), n_epochs=1)
    with pytest.warns(UserWarning, match="adversarial term"):
        tok.fit(cohort.timeseries)
    assert tok.alignment_terms_ == []


def test_padding_options(make_tokenizer, series):
    short = series[:, :50]
    with pytest.raises(ValueError, match="not a multiple of patch_size=32"):
        make_tokenizer(n_epochs=1).fit(short)
    zero = make_tokenizer(n_epochs=1, pad="zero").fit(short)
    assert (zero.n_timepoints_, zero.n_patches_) == (50, 2)
    assert zero.inverse_transform(zero.transform(short)).shape == short.shape
    assert zero.reconstruct(short).shape == short.shape
    crop = make_tokenizer(n_epochs=1, pad="crop").fit(short)
    assert crop.n_patches_ == 1 and crop.transform(short).shape == (12, 10, 1)
    edge = make_tokenizer(n_epochs=1, pad="edge").fit(short)
    assert edge.transform(series[:, :40]).shape == (12, 10, 2)
    with pytest.raises(ValueError, match="at most that many patches"):
        edge.transform(series[:, :40].repeat(3, axis=1))


def test_bad_inputs_give_clear_errors(fitted, make_tokenizer, series, texts):
    with pytest.raises(NotFittedError):
        make_tokenizer().transform(series)
    with pytest.raises(ValueError, match="must have 10 ROIs"):
        fitted.transform(series[:, :, :7])
    bad = series.copy()
    bad[3, 5, 2] = np.nan
    with pytest.raises(ValueError, match="subject 3 has NaN"):
        fitted.transform(bad)
    with pytest.raises(ValueError, match="subject 3 has NaN"):
        make_tokenizer().fit(bad)
    with pytest.raises(
        ValueError, match=r"one descriptor text per subject of X \(12\)"
    ):
        make_tokenizer().fit(series, texts=texts[:5])
    with pytest.raises(TypeError, match="'X' argument"):
        fitted.transform("subject.npy")
    with pytest.raises(ValueError, match="subjects of one shape"):
        fitted.transform([series[0], series[1][:32]])
    with pytest.raises(ValueError, match="must lie in"):
        fitted.inverse_transform(np.full((1, 10, 2), 32))
    with pytest.raises(TypeError, match="integer array"):
        fitted.inverse_transform(np.zeros((1, 10, 2)))
    with pytest.raises(ValueError, match="last axis of width 16"):
        fitted.quantize_features(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="'size' parameter"):
        make_tokenizer(size="huge").fit(series)
    with pytest.raises(ValueError, match="'pad' parameter"):
        make_tokenizer(pad="wrap").fit(series)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        make_tokenizer().fit(series[:1])


def test_sklearn_tags_and_params(make_tokenizer):
    tok = make_tokenizer()
    tags = tok.__sklearn_tags__()
    assert tags.input_tags.two_d_array is False and tags.input_tags.three_d_array
    assert FMRITokenizer().get_params()["backbone"] == "gemma-3-270m"
    assert FMRITokenizer().get_params()["text_encoder"] == "minilm"


def test_load_maps_former_parameter_names(fitted, series, tmp_path):
    path = fitted.save(tmp_path / "old")
    config = json.loads((path / "config.json").read_text())
    params = config["params"]
    for old, new in [
        ("lr", "learning_rate"),
        ("min_lr", "min_learning_rate"),
        ("max_epochs", "n_epochs"),
        ("grad_clip", "max_grad_norm"),
    ]:
        params[old] = params.pop(new)
    # as written before manifests: format 1, the weights' checksum in the config
    config["format_version"] = 1
    (path / "config.json").write_text(json.dumps(config))
    (path / "manifest.json").unlink()
    loaded = FMRITokenizer.load(path)
    assert loaded.n_epochs == fitted.n_epochs
    assert loaded.learning_rate == fitted.learning_rate
    assert loaded.max_grad_norm == fitted.max_grad_norm
    np.testing.assert_array_equal(loaded.transform(series), fitted.transform(series))
