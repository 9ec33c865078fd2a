"""One format-version scheme for every saved object (``persistence.check_format_version``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import brainlm_decode
from brainlm_decode.persistence import check_format_version

PACKAGE = Path(brainlm_decode.__file__).parent
#: Writers of data that is rebuilt rather than read back (a cache).
NOT_READ_BACK = {"text/cache.py"}


def test_reads_older_and_current_versions() -> None:
    assert check_format_version(1, 2, "decoder", "/x") == 1
    assert check_format_version(2, 2, "decoder") == 2
    assert check_format_version(None, 2, "decoder") == 0  # before versions


@pytest.mark.parametrize(
    ("found", "required", "match"),
    [
        (3, False, "has format version 3; this brainlm_decode .* reads up to 2"),
        (None, True, "format version None; expected a positive integer"),
        ("1", False, "format version '1'; expected a positive integer"),
        (True, False, "expected a positive integer"),
        (0, False, "expected a positive integer"),
        (1.0, False, "expected a positive integer"),
    ],
)
def test_refuses_newer_or_invalid_versions(found, required, match) -> None:
    with pytest.raises(ValueError, match=match):
        check_format_version(found, 2, "decoder", "/x", required=required)


def test_message_names_what_and_where() -> None:
    with pytest.raises(ValueError, match=r"^The saved CLIPModel at '/m' has"):
        check_format_version(9, 1, "saved CLIPModel", "/m")
    with pytest.raises(ValueError, match=r"^The snapshot data has"):
        check_format_version(9, 1, "snapshot data")


def _defines_version(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Assign)
        and any(
            isinstance(t, ast.Name) and t.id.lstrip("_") == "FORMAT_VERSION"
            for t in node.targets
        )
        for node in ast.walk(tree)
    )


def _checks_version(tree: ast.AST) -> bool:
    names = {"check_format_version", "read_config", "load_folder"}
    return any(
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in names
        for node in ast.walk(tree)
    )


def test_every_versioned_format_is_read_through_the_one_check() -> None:
    versioned, unchecked = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not _defines_version(tree):
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        versioned.append(rel)
        if rel in NOT_READ_BACK:
            continue
        # the reader may live next to the writer (the ontology's tables module)
        siblings = [tree] + [
            ast.parse(p.read_text(encoding="utf-8"))
            for p in path.parent.glob("*.py")
            if p != path
        ]
        if not any(_checks_version(t) for t in siblings):
            unchecked.append(rel)
    assert len(versioned) >= 6, versioned
    assert not unchecked, f"formats read without check_format_version: {unchecked}"
