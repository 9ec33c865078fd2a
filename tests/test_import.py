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


def _packages():
    import importlib
    import pkgutil

    return [brainlm_decode] + [
        importlib.import_module(f"brainlm_decode.{m.name}")
        for m in pkgutil.iter_modules(brainlm_decode.__path__)
        if m.ispkg
    ]


def test_public_api_is_lean_and_every_lazy_name_resolves():
    public = set()
    for package in _packages():
        names = getattr(package, "__all__", [])
        assert list(names) == sorted(set(names), key=list(names).index), package
        public.update(names)
        for name in dir(package):  # the building blocks outside __all__ too
            if not name.startswith("_"):
                assert getattr(package, name) is not None, (package.__name__, name)
    # issue 12: about 60-80 stable names; more needs a reason in docs/api.rst
    assert 60 <= len(public) <= 80, sorted(public)


def test_every_public_name_is_in_the_api_reference():
    from pathlib import Path

    api = (Path(__file__).parents[1] / "docs" / "api.rst").read_text()
    documented = {line.strip().rsplit(".", 1)[-1] for line in api.splitlines()}
    missing = [
        f"{package.__name__}.{name}"
        for package in _packages()
        for name in getattr(package, "__all__", [])
        if name not in documented and name != "__version__"
    ]
    assert not missing, f"public names missing from docs/api.rst: {missing}"
