"""``import brainlm_decode`` stays light: heavy dependencies load lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import brainlm_decode

HEAVY = (
    "torch",
    "transformers",
    "nimare",
    "sentence_transformers",
    "sklearn",
    "nilearn",
)


def test_import_loads_no_heavy_dependency():
    code = (
        "import sys, brainlm_decode; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported eagerly: {out.stdout.strip()}"


def test_lazy_public_names_resolve():
    for name in brainlm_decode.__all__:
        assert getattr(brainlm_decode, name) is not None
    assert brainlm_decode.__version__


def test_unknown_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        brainlm_decode.nope  # noqa: B018


def test_all_lists_public_names_not_submodules():
    import importlib
    import pkgutil
    import types

    packages = [brainlm_decode] + [
        importlib.import_module(f"brainlm_decode.{m.name}")
        for m in pkgutil.iter_modules(brainlm_decode.__path__)
        if m.ispkg
    ]
    for package in packages:
        for name in getattr(package, "__all__", []):
            assert not isinstance(getattr(package, name), types.ModuleType), (
                f"{package.__name__}.__all__ lists the submodule {name!r}"
            )
    assert isinstance(brainlm_decode.clip.train, types.ModuleType)  # still reachable
