"""FMRILMClassifier / FMRILMRegressor on the tiny GPT-2 (the ``hf`` path).

The tiny GPT-2 of ``tiny_causal_lm_dir`` has random weights (width 32) and the
tokenizer is tiny, so what these tests check is the code path: training,
answer scoring, persistence, reproducibility and errors. Planted effect:
``make_fmri_cohort``'s own effect is a change of connectivity (a second-order
statistic) that a CPU-sized tokenizer + LM do not pick up in CI time (see
docs/lm.rst); the cohort used here adds a first-order group difference, a
positive offset of the default-mode ROIs in patients, which the tokens carry.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec

from brainlm_decode.lm import FMRILMClassifier, FMRILMRegressor, HFBackbone

pytest.importorskip("peft")

N_SUBJECTS = 64
TEST = np.arange(N_SUBJECTS) % 4 == 0
TRAIN = ~TEST


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and reductions stay identical)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")
        yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def cohort() -> Any:
    """64 subjects, 21 ROIs, 128 points; patients' default-mode ROIs offset by 1."""
    from brainlm_decode.datasets import make_fmri_cohort

    data = make_fmri_cohort(
        n_subjects=N_SUBJECTS, n_rois=21, n_timepoints=128, random_state=0
    )
    networks = np.asarray(data.networks)
    patients = (data.phenotypes["diagnosis"] != "control").to_numpy()
    data.timeseries = [
        ts + (networks == "Default") * float(p)
        for ts, p in zip(data.timeseries, patients, strict=True)
    ]
    return data


def _split(cohort: Any, mask: np.ndarray) -> list[np.ndarray]:
    return [cohort.timeseries[i] for i in np.flatnonzero(mask)]


@pytest.fixture(scope="module")
def tokenizer(cohort: Any) -> Any:
    """A tiny tokenizer fitted on the training subjects."""
    from brainlm_decode import FMRITokenizer

    return FMRITokenizer(
        size={"n_layers": 1, "embed_dim": 16, "n_heads": 2},
        quantizer_params={"codebook_size": 32},
        decoder_layers=1,
        backbone=None,
        text_encoder=None,
        n_epochs=3,
        learning_rate=1e-3,
        min_learning_rate=1e-4,
        batch_size=8,
        device="cpu",
        random_state=0,
    ).fit(_split(cohort, TRAIN))


def make_clf(tiny_causal_lm_dir: Any, tokenizer: Any, cohort: Any, **params: Any):
    """The tiny-GPT-2 classifier of these tests."""
    defaults = {
        "tokenizer": tokenizer,
        "backbone": HFBackbone(tiny_causal_lm_dir),
        "networks": cohort.networks,
        "paradigms": ("single",),
        "lora": False,
        "n_epochs": 30,
        "learning_rate": 5e-3,
        "min_learning_rate": 5e-4,
        "batch_size": 8,
        "device": "cpu",
        "random_state": 0,
        "head": "answer",
        "verbose": 0,
    }
    return FMRILMClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted(tiny_causal_lm_dir: Any, tokenizer: Any, cohort: Any) -> Any:
    y = cohort.phenotypes["diagnosis"].to_numpy()
    return make_clf(tiny_causal_lm_dir, tokenizer, cohort).fit(
        _split(cohort, TRAIN), y[TRAIN]
    )


def test_learns_planted_group_difference(fitted, cohort):
    y = cohort.phenotypes["diagnosis"].to_numpy()
    assert fitted.score(_split(cohort, TEST), y[TEST]) > 0.9
    proba = fitted.predict_proba(_split(cohort, TEST))
    assert proba.shape == (TEST.sum(), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(fitted.classes_) == ["control", "patient"]
    assert fitted.answers_ == {"target": ["control", "patient"]}
    history = fitted.history_["instruction"]
    assert len(history["loss"]) == 30 and history["loss"][-1] < history["loss"][0]
    assert fitted.layout_.n_tokens == 7 * 4  # 7 networks x 4 patches
    assert fitted.tokenizer_ is fitted.tokenizer  # a fitted tokenizer is used as is


def test_roc_auc_and_cross_val_score_work(fitted, cohort):
    from sklearn.metrics import roc_auc_score

    y = cohort.phenotypes["diagnosis"].to_numpy()[TEST]
    proba = fitted.predict_proba(_split(cohort, TEST))[:, 1]
    assert roc_auc_score(y == "patient", proba) > 0.9


def test_same_seed_same_predictions(fitted, tiny_causal_lm_dir, tokenizer, cohort):
    y = cohort.phenotypes["diagnosis"].to_numpy()
    again = make_clf(tiny_causal_lm_dir, tokenizer, cohort).fit(
        _split(cohort, TRAIN), y[TRAIN]
    )
    X = _split(cohort, TEST)
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X))
    assert (
        again.history_["instruction"]["loss"] == fitted.history_["instruction"]["loss"]
    )


def test_lora_adapter_round_trip(tiny_causal_lm_dir, tokenizer, cohort, tmp_path):
    y = cohort.phenotypes["diagnosis"].to_numpy()
    clf = make_clf(
        tiny_causal_lm_dir,
        tokenizer,
        cohort,
        lora=True,
        n_epochs=2,
        learning_rate=1e-2,
    ).fit(_split(cohort, TRAIN), y[TRAIN])
    assert clf.model_.is_lora
    assert clf.lora_config_["r"] == 16 and clf.lora_config_["target_modules"] == [
        "c_attn",
        "c_proj",
    ]
    trainable = {n for n, p in clf.model_.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "input_module" in n for n in trainable)
    folder = clf.save_adapter(tmp_path / "adapter")
    assert (folder / "adapter" / "adapter_config.json").is_file()
    loaded = make_clf(tiny_causal_lm_dir, tokenizer, cohort).load_adapter(folder)
    X = _split(cohort, TEST)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert list(loaded.classes_) == list(clf.classes_)
    # an overwrite is atomic and a wrong folder is refused
    with pytest.raises(FileExistsError, match="overwrite=True"):
        clf.save_adapter(folder)
    clf.save_adapter(folder, overwrite=True)
    with pytest.raises(FileNotFoundError, match="config.json"):
        loaded.load_adapter(tmp_path)
    # every file is checked against the manifest
    modules = folder / "fmri_modules.safetensors"
    modules.write_bytes(modules.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="manifest checksum"):
        loaded.load_adapter(folder)


def test_full_fine_tuning_adapter_round_trip(
    fitted, tiny_causal_lm_dir, tokenizer, cohort, tmp_path
):
    folder = fitted.save_adapter(tmp_path / "full")
    assert (folder / "lm" / "config.json").is_file()
    loaded = make_clf(tiny_causal_lm_dir, tokenizer, cohort).load_adapter(folder)
    X = _split(cohort, TEST)[:4]
    np.testing.assert_allclose(
        loaded.predict_proba(X), fitted.predict_proba(X), atol=1e-6
    )


def test_multi_target_paradigms_generate_and_zero_shot(
    tiny_causal_lm_dir, tokenizer, cohort
):
    frame = cohort.phenotypes[["diagnosis", "sex"]]
    X = _split(cohort, TRAIN)
    clf = make_clf(
        tiny_causal_lm_dir,
        tokenizer,
        cohort,
        paradigms=("single", "multi", "open"),
        n_epochs=2,
    ).fit(X, frame[TRAIN])
    assert clf.targets_ == ["diagnosis", "sex"]
    assert [list(c) for c in clf.classes_] == [["control", "patient"], ["F", "M"]]
    assert clf.answers_["sex"] == ["female", "male"]
    probas = clf.predict_proba(X[:3])
    assert isinstance(probas, list) and [p.shape for p in probas] == [(3, 2)] * 2
    pred = clf.predict(X[:3])
    assert pred.shape == (3, 2)
    assert clf.predict(X[:3], target="sex").shape == (3,)
    texts = clf.generate(X[:2], max_new_tokens=6)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    report = clf.score_generated(
        ["diagnosis: patient; sex: male", "sex: female"], frame[TRAIN].iloc[:2]
    )
    assert set(report["field_accuracy"]) == {"diagnosis", "sex"}
    zero = clf.predict_proba(
        X[:3], question="Is this subject young?", answers=["yes", "no"]
    )
    assert zero.shape == (3, 2)
    np.testing.assert_allclose(zero.sum(axis=1), 1.0)
    assert 0 <= clf.score(X[:6], frame[TRAIN].iloc[:6]) <= 1
    with pytest.raises(ValueError, match="target"):
        clf.predict(X[:1], target="age")


def test_pretrain_then_few_shot(tiny_causal_lm_dir, tokenizer, cohort):
    from brainlm_decode import FMRIDescriptorTransformer

    X = _split(cohort, TRAIN)
    clf = make_clf(
        tiny_causal_lm_dir,
        tokenizer,
        cohort,
        descriptors=FMRIDescriptorTransformer(
            descriptors=["connectivity"], networks=cohort.networks, random_state=0
        ),
        max_text_tokens=48,
        warm_start=True,
        n_epochs=1,
    )
    clf.pretrain(X[:16], n_epochs=1)
    stage2 = clf.history_["pretrain"]
    assert stage2["f2f"][0] > 0 and stage2["text"][0] > 0
    # zero-shot after Stage 2 only
    assert clf.predict_proba(
        X[:2], question="Sex?", answers=["male", "female"]
    ).shape == (2, 2)
    with pytest.raises(ValueError, match="zero-shot"):
        clf.predict(X[:2])
    model = clf.model_
    # few-shot: k = 2 labelled subjects per class, continuing from Stage 2
    y = cohort.phenotypes["diagnosis"].to_numpy()[TRAIN]
    shots = np.concatenate([np.flatnonzero(y == c)[:2] for c in ("control", "patient")])
    clf.fit([X[i] for i in shots], y[shots])
    assert clf.model_ is model and list(clf.classes_) == ["control", "patient"]


@pytest.mark.parametrize("layout", ["patch", "roi", "parcel_groups"])
def test_other_layouts(layout, tiny_causal_lm_dir, tokenizer, cohort):
    X = _split(cohort, TRAIN)[:8]
    y = np.array(["a", "b"] * 4)
    clf = make_clf(
        tiny_causal_lm_dir,
        tokenizer,
        cohort,
        token_layout=layout,
        n_epochs=1,
        n_token_groups=3,
        pretrain_epochs=1 if layout != "roi" else 0,
    ).fit(X, y)
    expected = {"patch": 21 * 4, "roi": 21, "parcel_groups": 3 * 4}[layout]
    assert clf.layout_.n_tokens == expected
    assert clf.predict(X[:2]).shape == (2,)


def test_roi_layout_warns_without_f2f(tiny_causal_lm_dir, tokenizer, cohort):
    clf = make_clf(
        tiny_causal_lm_dir,
        tokenizer,
        cohort,
        token_layout="roi",
        text_corpus=["The default mode network is elevated."],
    )
    with pytest.warns(UserWarning, match="F2F"):
        clf.pretrain(_split(cohort, TRAIN)[:4], n_epochs=1)
    history = clf.history_["pretrain"]
    assert history["f2f"] == [0.0] and history["text"][0] > 0  # T2T only
    with pytest.warns(UserWarning, match="no term"):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort, token_layout="roi").pretrain(
            _split(cohort, TRAIN)[:4], n_epochs=1
        )


def test_regressor(tiny_causal_lm_dir, tokenizer, cohort, tmp_path):
    X = _split(cohort, TRAIN)
    age = cohort.phenotypes["age"][TRAIN].rename("age")
    reg = FMRILMRegressor(
        tokenizer=tokenizer,
        backbone=HFBackbone(tiny_causal_lm_dir),
        networks=cohort.networks,
        lora=False,
        n_epochs=1,
        device="cpu",
        random_state=0,
    ).fit(X, age)
    assert reg.bin_edges_.shape == (2,)
    assert sorted(reg.answers_["age"]) == ["high", "low", "medium"]
    pred = reg.predict(X[:5])
    assert pred.shape == (5,) and np.isfinite(pred).all()
    assert set(reg.predict_bins(X[:5])) <= {"low", "medium", "high"}
    folder = reg.save_adapter(tmp_path / "reg")
    loaded = FMRILMRegressor(
        tokenizer=tokenizer,
        backbone=HFBackbone(tiny_causal_lm_dir),
        networks=cohort.networks,
        device="cpu",
    ).load_adapter(folder)
    np.testing.assert_allclose(loaded.predict(X[:5]), pred, rtol=1e-5)
    two = pd.DataFrame({"age": age.to_numpy(), "iq": age.to_numpy()})
    with pytest.raises(ValueError, match=r"one continuous target \(1D\). Got 2"):
        clone(reg).fit(X, two)


def test_pipeline_and_cross_val_score(tiny_causal_lm_dir, tokenizer, cohort):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    from brainlm_decode import ROITimeSeriesPreprocessor

    X = cohort.timeseries[:16]
    y = cohort.phenotypes["diagnosis"].to_numpy()[:16]
    # an unfitted tokenizer: cloned and fitted on each training fold
    pipe = make_pipeline(
        ROITimeSeriesPreprocessor(t_r=2.0, target_t_r=None, n_timepoints=None),
        make_clf(tiny_causal_lm_dir, clone(tokenizer), cohort, n_epochs=1),
    )
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(2))
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


# -- errors -----------------------------------------------------------------------------
def test_bad_targets(tiny_causal_lm_dir, tokenizer, cohort, fitted):
    X = _split(cohort, TRAIN)[:6]
    clf = make_clf(tiny_causal_lm_dir, tokenizer, cohort)
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, np.array([0, 1, np.nan, 0, 1, 0]))
    with pytest.raises(ValueError, match="single class"):
        clf.fit(X, np.zeros(6))
    with pytest.raises(ValueError, match="one row per subject"):
        clf.fit(X, np.array([0, 1]))
    with pytest.raises(ValueError, match="not seen in fit"):
        fitted.score(X[:2], np.array(["control", "unknown"]))
    with pytest.raises(ValueError, match="attributes"):
        clf.fit(X, np.array([0, 1] * 3), attributes=pd.DataFrame({"target": [0] * 6}))


def test_bad_inputs(tiny_causal_lm_dir, tokenizer, cohort, fitted):
    X = _split(cohort, TRAIN)[:4]
    y = np.array([0, 1, 0, 1])
    with pytest.raises(NotFittedError):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort).predict(X)
    with pytest.raises(ValueError, match="ROIs"):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort).fit([x[:, :10] for x in X], y)
    with pytest.raises(ValueError, match="ROIs"):
        fitted.predict([x[:, :10] for x in X])
    bad = [x.copy() for x in X]
    bad[1][3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(bad)
    with pytest.raises(ValueError, match="networks"):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort, networks=None).fit(X, y)
    with pytest.raises(ValueError, match="token_layout"):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort, token_layout="voxel").fit(X, y)
    with pytest.raises(FileNotFoundError):
        make_clf(
            tiny_causal_lm_dir, tokenizer, cohort, backbone=HFBackbone("/no/such/model")
        ).fit(X, y)
    with pytest.raises(ValueError, match="answers"):
        fitted.predict_proba(X, question="Sex?")
    with pytest.raises(TypeError, match="list"):
        fitted.predict("not a list")


def test_unfitted_tokenizer_is_fitted_on_training_data(
    tiny_causal_lm_dir, tokenizer, cohort
):
    X = _split(cohort, TRAIN)[:6]
    clf = make_clf(tiny_causal_lm_dir, clone(tokenizer), cohort, n_epochs=1)
    clf.fit(X, np.array([0, 1] * 3))
    assert clf.tokenizer_ is not clf.tokenizer and clf.tokenizer_.n_rois_ == 21
    with pytest.raises(NotFittedError):
        clf.tokenizer.transform(X)


@pytest.mark.parametrize(
    "check",
    [
        ec.check_estimator_cloneable,
        ec.check_estimator_repr,
        ec.check_no_attributes_set_in_init,
        ec.check_parameters_default_constructible,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_mixin_order,
        ec.check_do_not_raise_errors_in_init_or_set_params,
    ],
    ids=lambda c: c.__name__,
)
@pytest.mark.parametrize(
    "klass", [FMRILMClassifier, FMRILMRegressor], ids=lambda k: k.__name__
)
def test_sklearn_api_checks(klass, check):
    check(klass.__name__, klass())


def test_balanced_class_weight_lifts_the_rare_class(
    tiny_causal_lm_dir, tokenizer, cohort
):
    y = cohort.phenotypes["diagnosis"].to_numpy()
    patients = np.flatnonzero(TRAIN & (y == "patient"))[:4]
    controls = np.flatnonzero(TRAIN & (y == "control"))
    rows = np.sort(np.concatenate([patients, controls]))
    X = [cohort.timeseries[i] for i in rows]
    test = _split(cohort, TEST)
    proba = {}
    for weight in (None, "balanced"):
        clf = make_clf(
            tiny_causal_lm_dir, tokenizer, cohort, n_epochs=8, class_weight=weight
        ).fit(X, y[rows])
        proba[weight] = clf.predict_proba(test)[:, 1]
    rare = y[TEST] == "patient"

    def log_odds(p: np.ndarray) -> float:
        return float(np.mean(np.log(p) - np.log1p(-p)))

    # 4 patients among 28: without weights the majority answer dominates the
    # loss; balanced weights give the rare class half of it, which moves its
    # log-odds up by orders of magnitude (30 epochs, not 8, separate the groups)
    assert log_odds(proba["balanced"][rare]) > log_odds(proba[None][rare]) + 2.0
    with pytest.raises(ValueError, match="class_weight"):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort, class_weight="auto").fit(
            X, y[rows]
        )


def test_probe_head_frozen_backbone(tiny_causal_lm_dir, tokenizer, cohort, tmp_path):
    from sklearn.metrics import roc_auc_score

    y = cohort.phenotypes["diagnosis"].to_numpy()
    clf = make_clf(tiny_causal_lm_dir, tokenizer, cohort, head="probe")
    clf.fit(_split(cohort, TRAIN), y[TRAIN])
    assert "instruction" not in clf.history_  # no Stage 3
    assert set(clf.probes_) == {"target"}
    proba = clf.predict_proba(_split(cohort, TEST))
    assert proba.shape == (TEST.sum(), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y[TEST] == "patient", proba[:, 1]) > 0.8
    assert set(clf.predict(_split(cohort, TEST))) <= {"control", "patient"}
    # the fitted probes are saved with the adapter and predict the same after load
    folder = clf.save_adapter(tmp_path / "probe")
    assert (folder / "probes.npz").is_file()
    loaded = make_clf(tiny_causal_lm_dir, tokenizer, cohort, head="probe")
    loaded.load_adapter(folder)
    np.testing.assert_allclose(
        loaded.predict_proba(_split(cohort, TEST)), proba, atol=1e-6
    )
    assert list(loaded.classes_) == list(clf.classes_)
    with pytest.raises(ValueError, match="saved from a head='probe'"):
        make_clf(tiny_causal_lm_dir, tokenizer, cohort, head="answer").load_adapter(
            folder
        )
    assert FMRILMClassifier().head == "probe"  # the default
    assert FMRILMClassifier().class_weight == "balanced"


def test_early_stopping_keeps_best_epoch(tiny_causal_lm_dir, tokenizer, cohort):
    y = cohort.phenotypes["diagnosis"].to_numpy()
    clf = make_clf(
        tiny_causal_lm_dir,
        tokenizer,
        cohort,
        n_epochs=6,
        validation_fraction=0.25,
        n_iter_no_change=2,
    ).fit(_split(cohort, TRAIN), y[TRAIN])
    history = clf.history_["instruction"]
    losses = history["validation_loss"]
    assert len(history["loss"]) == len(losses) <= 6
    assert history["best_epoch"][0] == int(np.argmin(losses))
    assert len(losses) - 1 - history["best_epoch"][0] <= 2 or len(losses) == 6


def test_training_tr_is_remembered_and_checked(tiny_causal_lm_dir, tokenizer, cohort):
    y = cohort.phenotypes["diagnosis"].to_numpy()
    clf = make_clf(tiny_causal_lm_dir, tokenizer, cohort, head="probe", t_r=2.0)
    clf.fit(_split(cohort, TRAIN), y[TRAIN])
    assert clf.t_r_ == 2.0
    test = _split(cohort, TEST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict_proba(test, t_r=2.0)  # same TR: silent
    with pytest.warns(UserWarning, match=r"fitted on series at TR 2 s.*\[2.5\]"):
        clf.predict_proba(test, t_r=2.5)


def test_seed_ensemble_averages_seeds(tiny_causal_lm_dir, tokenizer, cohort):
    from brainlm_decode.lm import SeedEnsembleClassifier

    y = cohort.phenotypes["diagnosis"].to_numpy()
    base = make_clf(tiny_causal_lm_dir, tokenizer, cohort, head="probe")
    ens = SeedEnsembleClassifier(base, n_seeds=2, random_state=3, verbose=0)
    ens.fit(_split(cohort, TRAIN), y[TRAIN])
    assert [m.random_state for m in ens.estimators_] == [3, 4]
    test = _split(cohort, TEST)
    expected = np.mean([m.predict_proba(test) for m in ens.estimators_], axis=0)
    np.testing.assert_allclose(ens.predict_proba(test), expected)
    assert list(ens.classes_) == ["control", "patient"]


def test_seeded_classifier_seeds_unseeded_sub_estimators(cohort: Any):
    from brainlm_decode import FMRIDescriptorTransformer, FMRITokenizer
    from brainlm_decode.lm.core import _seed_unseeded

    series = np.stack(_split(cohort, TRAIN))
    unseeded = FMRIDescriptorTransformer(
        descriptors=["connectivity"], networks=cohort.networks
    )
    clf = FMRILMClassifier(descriptors=unseeded, random_state=3)
    clf._fit_descriptors(series)
    assert clf.descriptors_.random_state == 3 + 1  # the descriptors' stream
    assert unseeded.random_state is None  # the parameter itself is not mutated
    # an explicit seed of the sub-estimator wins; an unseeded parent seeds nothing
    explicit = clone(unseeded).set_params(random_state=7)
    assert _seed_unseeded(clone(explicit), 3, 0).random_state == 7
    assert _seed_unseeded(clone(unseeded), None, 0).random_state is None
    tok = _seed_unseeded(FMRITokenizer(backbone=None), 3, 0)
    assert tok.random_state == 3
    # the same int seed gives the same sub-estimator seeds on every fit
    again = FMRILMClassifier(descriptors=unseeded, random_state=3)
    again._fit_descriptors(series)
    assert again.descriptors_.random_state == clf.descriptors_.random_state
