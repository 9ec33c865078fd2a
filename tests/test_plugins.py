"""Tests of the entry-point plugin registry."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator, clone

from brainlm_decode import plugins
from brainlm_decode.plugins import (
    PluginWarning,
    clear_plugin_cache,
    get_plugin,
    get_plugin_class,
    list_plugins,
    register_plugin,
    unregister_plugin,
)


class EchoEncoder(BaseEstimator):
    """Tiny text-encoder plugin used by the tests."""

    def __init__(self, batch_size=8, prefix=""):
        self.batch_size = batch_size
        self.prefix = prefix


class Parent(BaseEstimator):
    """Estimator with a plugin-valued parameter."""

    def __init__(self, text_encoder="echo", alpha=0.5):
        self.text_encoder = text_encoder
        self.alpha = alpha


@pytest.fixture
def echo_registered():
    register_plugin("text_encoders", "echo", EchoEncoder)
    yield
    unregister_plugin("text_encoders", "echo")


def test_register_list_and_get(echo_registered):
    assert "echo" in list_plugins("text_encoders")
    assert "echo" in list_plugins("brainlm_decode.text_encoders")
    assert get_plugin_class("text_encoders", "echo") is EchoEncoder
    enc = get_plugin("text_encoders", "echo", batch_size=4)
    assert isinstance(enc, EchoEncoder) and enc.batch_size == 4
    inst = EchoEncoder()
    assert get_plugin("text_encoders", inst) is inst
    assert isinstance(get_plugin("text_encoders", EchoEncoder), EchoEncoder)


def test_register_twice_needs_overwrite(echo_registered):
    with pytest.raises(ValueError, match="already exists"):
        register_plugin("text_encoders", "echo", EchoEncoder)
    register_plugin("text_encoders", "echo", EchoEncoder, overwrite=True)


def test_register_rejects_non_estimators():
    with pytest.raises(TypeError, match="scikit-learn estimator class"):
        register_plugin("text_encoders", "bad", object)


def test_unknown_name_lists_available_and_extra(echo_registered):
    with pytest.raises(
        ValueError, match=r"Unknown plugin 'nope'.*Available: \[.*'echo'"
    ):
        get_plugin("text_encoders", "nope")
    if "gemma-3-270m" not in list_plugins("backbones"):
        with pytest.raises(ValueError, match=r"brainlm_decode\[llm\]"):
            get_plugin("backbones", "gemma-3-270m")


def test_unknown_group_and_bad_value():
    with pytest.raises(ValueError, match="'group' argument must be one of"):
        list_plugins("widgets")
    with pytest.raises(TypeError, match="must be given as a name"):
        get_plugin("quantizers", 3.0)


def test_nested_params_and_clone_through_plugin_instances(echo_registered):
    parent = Parent(text_encoder=get_plugin("text_encoders", "echo"))
    params = parent.get_params(deep=True)
    assert params["text_encoder__batch_size"] == 8
    parent.set_params(text_encoder__batch_size=64, text_encoder__prefix="q: ")
    assert parent.text_encoder.batch_size == 64
    cloned = clone(parent)
    assert cloned.text_encoder is not parent.text_encoder
    assert cloned.text_encoder.get_params() == {"batch_size": 64, "prefix": "q: "}


def _make_distribution(root: Path, module_body: str, entry: str) -> None:
    """Write a throwaway installed distribution (module + dist-info) under root."""
    (root / "bld_plugin_pkg.py").write_text(textwrap.dedent(module_body))
    info = root / "bld_plugin_pkg-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bld-plugin-pkg\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text(f"[brainlm_decode.quantizers]\n{entry}\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def throwaway_distribution(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_plugin_cache()
    yield tmp_path
    sys.modules.pop("bld_plugin_pkg", None)
    clear_plugin_cache()


def test_entry_point_of_installed_distribution(throwaway_distribution):
    _make_distribution(
        throwaway_distribution,
        """
        from sklearn.base import BaseEstimator

        class HalfQuantizer(BaseEstimator):
            def __init__(self, levels=3):
                self.levels = levels
        """,
        "half = bld_plugin_pkg:HalfQuantizer",
    )
    assert "half" in list_plugins("quantizers")
    quantizer = get_plugin("quantizers", "half", levels=5)
    assert type(quantizer).__name__ == "HalfQuantizer" and quantizer.levels == 5


def test_broken_entry_point_warns_and_is_skipped(throwaway_distribution):
    _make_distribution(
        throwaway_distribution,
        "raise ImportError('missing optional dependency xyz')\n",
        "broken = bld_plugin_pkg:Nothing",
    )
    with pytest.warns(PluginWarning, match="'broken'.*missing optional dependency xyz"):
        names = list_plugins("quantizers")
    assert "broken" not in names


def test_discovery_is_cached(throwaway_distribution, monkeypatch):
    calls = []
    real = plugins.entry_points

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(plugins, "entry_points", counting)
    list_plugins("descriptors")
    list_plugins("descriptors")
    assert len(calls) == 1


def test_saved_plugin_class_by_name_or_registered_path_only():
    from brainlm_decode.plugins import plugin_name, saved_plugin_class
    from brainlm_decode.tokenizer.quantizers import VectorQuantizer

    assert saved_plugin_class("quantizers", "vq") is VectorQuantizer
    path = "brainlm_decode.tokenizer.quantizers:VectorQuantizer"
    assert saved_plugin_class("quantizers", path) is VectorQuantizer
    assert plugin_name("quantizers", VectorQuantizer()) == "vq"
    assert plugin_name("quantizers", object()) is None
    with pytest.raises(ValueError, match="class path, not a registered plugin"):
        saved_plugin_class("quantizers", "subprocess:Popen")


def test_former_group_name_image_encoders_still_works_with_a_warning():
    with pytest.warns(FutureWarning, match="renamed 'image_spaces'"):
        names = list_plugins("image_encoders")
    assert names == list_plugins("image_spaces")
    assert "mni-parcels" in names
