"""No module imports a private name (or private module) of another subpackage."""

from __future__ import annotations

import ast
from pathlib import Path

import brainlm_decode

PACKAGE = Path(brainlm_decode.__file__).parent
#: Private modules of the root package, shared helpers of every subpackage.
ROOT_HELPERS = {"_io", "_lazy", "_version"}


def _owner(path: Path) -> str:
    """Subpackage of a source file ('' for the root modules)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def _violations(path: Path) -> list[str]:
    owner = _owner(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        parts = node.module.split(".")
        if parts[0] != "brainlm_decode" or len(parts) < 2:
            continue
        target = parts[1]
        is_module_file = (PACKAGE / f"{target}.py").exists()
        target_owner = "" if is_module_file else target
        if target_owner == owner or (is_module_file and target in ROOT_HELPERS):
            continue
        private_module = any(p.startswith("_") for p in parts[1:])
        private_names = [a.name for a in node.names if a.name.startswith("_")]
        if private_module or private_names:
            found.append(
                f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: from {node.module} "
                f"import {', '.join(a.name for a in node.names)}"
            )
    return found


def test_no_cross_subpackage_private_imports() -> None:
    violations = [v for p in sorted(PACKAGE.rglob("*.py")) for v in _violations(p)]
    assert not violations, "private names imported across subpackages:\n" + "\n".join(
        violations
    )
