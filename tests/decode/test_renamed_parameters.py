"""The former name ``max_epochs`` of CLIPDecoder's ``n_epochs`` works for one release.

``n_epochs`` as in the tokenizer and the LM estimators; decoders saved under the
former name (such as the packaged bundle before its Neurosynth rebuild) load
unchanged.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from brainlm_decode import CLIPDecoder
from brainlm_decode._io import sha256_file
from brainlm_decode.decode.persistence import resolve_pretrained


@pytest.fixture(scope="module")
def bundle():
    return CLIPDecoder.from_pretrained()


def _tiny_decoder(bundle, **params) -> CLIPDecoder:
    defaults = dict(
        ontology=bundle.ontology_,
        image_space=bundle.image_space_,
        embed_dim=8,
        batch_size=16,
        patience=None,
        device="cpu",
        random_state=0,
    )
    return CLIPDecoder(**{**defaults, **params})


def _fit(decoder: CLIPDecoder, bundle) -> CLIPDecoder:
    rng = np.random.default_rng(0)
    text = rng.normal(size=(40, 6)).astype(np.float32)
    image = np.abs(rng.normal(size=(40, bundle.n_features_in_))).astype(np.float32)
    vocab = rng.normal(size=(bundle.ontology_.n_tasks, 6)).astype(np.float32)
    return decoder.fit_embeddings(
        text, image, vocabulary_embeddings=vocab, image_space=bundle.image_space_
    )


def _as_saved_before_the_rename(folder):
    """Rewrite a saved decoder's config as the former releases saved it."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config["params"]["max_epochs"] = config["params"].pop("n_epochs")
    path.write_text(json.dumps(config, indent=1))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["config.json"] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return config


def test_packaged_bundle_uses_the_new_name_and_loads_silently(bundle):
    config = json.loads((resolve_pretrained(None) / "config.json").read_text())
    assert "max_epochs" not in config["params"]  # rebuilt after the rename
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = CLIPDecoder.from_pretrained()
    assert loaded.get_params()["n_epochs"] == config["params"]["n_epochs"]


def test_bundle_saved_as_max_epochs_loads_as_n_epochs(tmp_path):
    folder = tmp_path / "old-bundle"
    shutil.copytree(resolve_pretrained(None), folder)
    config = _as_saved_before_the_rename(folder)
    assert "max_epochs" in config["params"] and "n_epochs" not in config["params"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = CLIPDecoder.from_pretrained(folder)
    params = loaded.get_params()
    assert params["n_epochs"] == config["params"]["max_epochs"]
    assert params["max_epochs"] == "deprecated"


def test_resaved_bundle_uses_the_new_name_only(bundle, tmp_path):
    folder = bundle.save(tmp_path / "bundle")
    params = json.loads((folder / "config.json").read_text())["params"]
    assert "max_epochs" not in params and params["n_epochs"] == bundle.n_epochs


def test_max_epochs_still_works_with_a_future_warning(bundle, tmp_path):
    decoder = _tiny_decoder(bundle, max_epochs=2)
    assert clone(decoder).get_params()["max_epochs"] == 2
    with pytest.warns(FutureWarning, match="'max_epochs' parameter of CLIPDecoder"):
        _fit(decoder, bundle)
    assert len(decoder.history_["train_loss"]) == 2
    folder = decoder.save(tmp_path / "old-name")
    params = json.loads((folder / "config.json").read_text())["params"]
    assert params["n_epochs"] == 2 and "max_epochs" not in params
    assert CLIPDecoder.load(folder).n_epochs == 2


def test_n_epochs_gives_no_warning(bundle):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        decoder = _fit(_tiny_decoder(bundle, n_epochs=1), bundle)
    assert len(decoder.history_["train_loss"]) == 1


def test_bad_max_epochs_is_reported_by_name(bundle):
    with pytest.raises(ValueError, match="'max_epochs' parameter of CLIPDecoder"):
        _fit(_tiny_decoder(bundle, max_epochs=0), bundle)
