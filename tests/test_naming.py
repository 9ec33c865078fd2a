"""One name per concept: public signatures use the current parameter names.

Former names survive only as deprecated aliases (default ``"deprecated"`` or
``None``, FutureWarning when given), listed here until their removal.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import brainlm_decode

#: Former name -> current name.
FORMER = {
    "lr": "learning_rate",
    "min_lr": "min_learning_rate",
    "max_epochs": "n_epochs",
    "grad_clip": "max_grad_norm",
    "tr": "t_r",
    "image_encoder": "image_space",
}

#: (owner, former name) of the deprecated aliases kept for one release.
DEPRECATED_ALIASES = {
    ("CLIPDecoder", "max_epochs"),
    ("train_clip", "lr"),
    ("train_clip", "max_epochs"),
    ("make_fmri_cohort", "tr"),
}


def _public_callables():
    packages = [brainlm_decode] + [
        importlib.import_module(f"brainlm_decode.{m.name}")
        for m in pkgutil.iter_modules(brainlm_decode.__path__)
        if m.ispkg
    ]
    for package in packages:
        for name in dir(package):  # every reachable name, not only __all__
            if name.startswith("_"):
                continue
            value = getattr(package, name)
            if getattr(value, "__module__", "").startswith("brainlm_decode") is False:
                continue
            if inspect.isclass(value):
                yield value.__name__, value.__init__
            elif inspect.isfunction(value):
                yield value.__name__, value


def test_public_signatures_use_current_names():
    found = set()
    for owner, func in _public_callables():
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            continue
        for name in FORMER.keys() & params.keys():
            found.add((owner, name))
            assert FORMER[name] in params, f"{owner}: {name!r} without its new name"
            assert params[name].default in ("deprecated", None), (owner, name)
    unexpected = found - DEPRECATED_ALIASES
    assert not unexpected, f"former parameter names in public signatures: {unexpected}"
    assert found == DEPRECATED_ALIASES, "removed aliases: update DEPRECATED_ALIASES"
