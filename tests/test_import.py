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
