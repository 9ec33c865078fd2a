"""Names of a package imported on first access (PEP 562), shared by our packages."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` of a package with lazily imported names.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Public name -> module defining it: an absolute module path, or a module
        of the package (``"estimator"`` for ``package + ".estimator"``).
    submodules : iterable of str, default=()
        Submodules of the package also imported on first access.

    Returns
    -------
    __getattr__, __dir__ : callable
        To assign in the package's namespace. An imported value is cached in
        the package, so that later accesses skip ``__getattr__``.
    """
    modules = {
        name: module if module.startswith("brainlm_decode") else f"{package}.{module}"
        for name, module in names.items()
    }
    subs = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in modules:
            value = getattr(importlib.import_module(modules[name]), name)
        elif name in subs:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(modules) | subs)

    return __getattr__, __dir__
