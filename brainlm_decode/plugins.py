"""Entry-point plugin registry: text encoders, image spaces, descriptors, quantizers, LMs.

Plugins are small scikit-learn estimators found through entry points, so that other
packages add their own without touching this one. Built-ins are declared in
``setup.cfg`` under the same groups, exactly like third-party plugins::

    [options.entry_points]
    brainlm_decode.text_encoders =
        minilm = brainlm_decode.text.encoders:MiniLMEncoder

Discovery is cached; a plugin whose import fails warns and is skipped; an unknown
name raises an error that lists the available names (and the extra to install when
the name belongs to an optional extra). Plugins registered at run time with
:func:`register_plugin` take precedence over entry points of the same name.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any

GROUPS: dict[str, str] = {
    "text_encoders": "brainlm_decode.text_encoders",
    "image_spaces": "brainlm_decode.image_spaces",
    "descriptors": "brainlm_decode.descriptors",
    "quantizers": "brainlm_decode.quantizers",
    "backbones": "brainlm_decode.backbones",
}

#: Plugin names that ship with an optional extra of brainlm_decode, per group.
OPTIONAL_PLUGINS: dict[str, dict[str, str]] = {
    "text_encoders": {"gemma-3-270m": "llm"},
    "backbones": {"gemma-3-270m": "llm"},
}

#: Former group names, still read (with a FutureWarning) for one release.
DEPRECATED_GROUPS: dict[str, str] = {"image_encoders": "image_spaces"}

_lock = threading.Lock()
_discovered: dict[str, dict[str, type]] = {}
_registered: dict[str, dict[str, type]] = {group: {} for group in GROUPS}


class PluginWarning(UserWarning):
    """Warning raised when an installed plugin cannot be loaded."""


def _check_group(group: str) -> str:
    if group in GROUPS:
        return group
    for short, full in GROUPS.items():
        if group == full:
            return short
    old = group.removeprefix("brainlm_decode.")
    if old in DEPRECATED_GROUPS:
        new = DEPRECATED_GROUPS[old]
        warnings.warn(
            f"The plugin group {group!r} was renamed {new!r}; the old name will stop "
            "working in the next release.",
            FutureWarning,
            stacklevel=3,
        )
        return new
    raise ValueError(
        f"The 'group' argument must be one of {sorted(GROUPS)}. Got {group!r} instead."
    )


def _load_entry_point(group: str, entry_point: EntryPoint) -> type | None:
    try:
        obj = entry_point.load()
    except Exception as exc:  # any failure of third-party code: warn and skip
        warnings.warn(
            f"Plugin {entry_point.name!r} of group {GROUPS[group]!r} "
            f"({entry_point.value}) could not be loaded and is skipped: "
            f"{type(exc).__name__}: {exc}",
            PluginWarning,
            stacklevel=3,
        )
        return None
    if not inspect.isclass(obj):
        warnings.warn(
            f"Plugin {entry_point.name!r} of group {GROUPS[group]!r} "
            f"({entry_point.value}) is not a class and is skipped.",
            PluginWarning,
            stacklevel=3,
        )
        return None
    return obj


def _discover(group: str) -> dict[str, type]:
    """Load the entry points of ``group`` once per process (cached)."""
    with _lock:
        if group not in _discovered:
            found: dict[str, type] = {}
            legacy = [
                f"brainlm_decode.{old}"
                for old, new in DEPRECATED_GROUPS.items()
                if new == group
            ]
            for full in (GROUPS[group], *legacy):
                for entry_point in entry_points(group=full):
                    if entry_point.name in found:
                        continue  # first distribution on sys.path wins
                    _warn_legacy_group(full, entry_point)
                    cls = _load_entry_point(group, entry_point)
                    if cls is not None:
                        found[entry_point.name] = cls
            _discovered[group] = found
        return _discovered[group]


def _warn_legacy_group(full: str, entry_point: EntryPoint) -> None:
    """FutureWarning for a third-party plugin declared under a former group name
    (built-ins of an install that predates the rename are read silently)."""
    if full in GROUPS.values() or entry_point.value.startswith("brainlm_decode."):
        return
    new = GROUPS[DEPRECATED_GROUPS[full.removeprefix("brainlm_decode.")]]
    warnings.warn(
        f"Plugin {entry_point.name!r} ({entry_point.value}) is declared under the "
        f"entry-point group {full!r}, renamed {new!r}; declare it there (the old "
        "group will stop being read in the next release).",
        FutureWarning,
        stacklevel=4,
    )


def clear_plugin_cache() -> None:
    """Forget discovered entry points (they are re-read on the next lookup).

    Use after installing a plugin package in a running session.
    """
    with _lock:
        _discovered.clear()


def list_plugins(group: str) -> list[str]:
    """Names of the plugins available in a group.

    Parameters
    ----------
    group : str
        One of ``"text_encoders"``, ``"image_spaces"``, ``"descriptors"``,
        ``"quantizers"``, ``"backbones"`` (or the full entry-point group name).

    Returns
    -------
    list of str
        Sorted names, entry points and run-time registrations together.

    Examples
    --------
    >>> from brainlm_decode.plugins import list_plugins
    >>> isinstance(list_plugins("text_encoders"), list)
    True
    """
    group = _check_group(group)
    return sorted(set(_discover(group)) | set(_registered[group]))


def register_plugin(
    group: str, name: str, cls: type, *, overwrite: bool = False
) -> None:
    """Register a plugin class at run time.

    Parameters
    ----------
    group : str
        Plugin group (see :func:`list_plugins`).
    name : str
        Name users pass as a parameter value, e.g. ``text_encoder="my-encoder"``.
    cls : type
        A scikit-learn estimator class (it must provide ``get_params``).
    overwrite : bool, default=False
        Replace an existing registration of the same name.

    Raises
    ------
    TypeError
        When ``cls`` is not an estimator class.
    ValueError
        When ``name`` is taken and ``overwrite`` is False.
    """
    group = _check_group(group)
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"The 'name' argument must be a non-empty str. Got {name!r} instead."
        )
    if not inspect.isclass(cls) or not hasattr(cls, "get_params"):
        raise TypeError(
            "The 'cls' argument must be a scikit-learn estimator class (with "
            f"get_params/set_params). Got {cls!r} instead."
        )
    with _lock:
        taken = name in _registered[group] or name in _discovered.get(group, {})
        if taken and not overwrite:
            raise ValueError(
                f"A plugin named {name!r} already exists in group {group!r}; pass "
                "overwrite=True to replace it."
            )
        _registered[group][name] = cls


def unregister_plugin(group: str, name: str) -> None:
    """Remove a run-time registration (entry points are not affected)."""
    group = _check_group(group)
    with _lock:
        _registered[group].pop(name, None)


def get_plugin_class(group: str, name: str) -> type:
    """The class registered under ``name`` in ``group``.

    Raises
    ------
    ValueError
        When no plugin of that name is available; the message lists the available
        names and, for names of an optional extra, how to install it.
    """
    group = _check_group(group)
    if name in _registered[group]:
        return _registered[group][name]
    discovered = _discover(group)
    if name in discovered:
        return discovered[name]
    available = list_plugins(group)
    hint = ""
    extra = OPTIONAL_PLUGINS.get(group, {}).get(name)
    if extra:
        hint = (
            f" {name!r} comes with an optional extra: install it with "
            f"`pip install 'brainlm_decode[{extra}]'`."
        )
    raise ValueError(
        f"Unknown plugin {name!r} in group {group!r}. Available: {available}.{hint} "
        f"Other packages can add plugins through the {GROUPS[group]!r} entry-point "
        "group, or register one with brainlm_decode.plugins.register_plugin."
    )


def get_plugin(group: str, name_or_instance: Any, **params: Any) -> Any:
    """Resolve a plugin parameter value into an estimator instance.

    Parameters
    ----------
    group : str
        Plugin group (see :func:`list_plugins`).
    name_or_instance : str, class or estimator instance
        A registered name, a plugin class, or an instance (returned unchanged when
        no ``params`` are given, so that nested ``get_params``/``set_params``/
        ``clone`` act on the user's object).
    **params
        Keyword arguments for the constructor when a name or class is given; for
        an instance, set on an unfitted clone (the caller's object is never
        mutated).

    Returns
    -------
    estimator
        The plugin instance.

    Raises
    ------
    ValueError
        Unknown name.
    TypeError
        A value that is neither a name, a class nor an estimator instance.
    """
    group = _check_group(group)
    if isinstance(name_or_instance, str):
        cls = get_plugin_class(group, name_or_instance)
        return cls(**params)
    if inspect.isclass(name_or_instance) and hasattr(name_or_instance, "get_params"):
        return name_or_instance(**params)
    if hasattr(name_or_instance, "get_params") and hasattr(
        name_or_instance, "set_params"
    ):
        if params:
            from sklearn.base import clone

            return clone(name_or_instance).set_params(**params)
        return name_or_instance
    raise TypeError(
        f"A {group} plugin must be given as a name among {list_plugins(group)}, a "
        "plugin class or a plugin instance (a scikit-learn estimator). "
        f"Got {name_or_instance!r} instead."
    )


def _registered_classes(group: str) -> dict[str, type]:
    """Name -> class of the plugins of ``group`` that can be loaded."""
    found = {}
    for name in list_plugins(group):
        try:
            found[name] = get_plugin_class(group, name)
        except (ValueError, ImportError):  # optional plugin whose extra is missing
            continue
    return found


def plugin_name(group: str, obj: Any) -> str | None:
    """Registered name of the class of ``obj`` (or of the class ``obj``) in ``group``.

    Parameters
    ----------
    group : str
        Plugin group (see :func:`list_plugins`).
    obj : class or instance

    Returns
    -------
    str or None
        ``None`` when the class is not a registered plugin of the group.
    """
    cls = obj if inspect.isclass(obj) else type(obj)
    for name, registered in _registered_classes(_check_group(group)).items():
        if registered is cls:
            return name
    return None


def saved_plugin_class(group: str, spec: Any, *, source: Any = "the file") -> type:
    """Class of a nested estimator saved in a file: by registered plugin name only.

    The same as :func:`brainlm_decode.persistence.plugin_class` (the one
    persistence layer): class paths are refused, except those of built-in
    plugins written by earlier versions; nothing named in a file is imported.

    Parameters
    ----------
    group : str
        Plugin group.
    spec : str
        Plugin name.
    source : str or path-like, default="the file"
        Where ``spec`` was read, for the message.

    Returns
    -------
    type

    Raises
    ------
    ValueError
        When ``spec`` is not a registered plugin name.
    """
    from brainlm_decode.persistence import plugin_class

    return plugin_class(group, spec, source=source)
