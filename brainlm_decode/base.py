"""Shared estimator base: parameters, validation, docstrings, logging, seeding.

Every estimator of the package derives from :class:`BaseBrainLMEstimator`, which
adds to :class:`sklearn.base.BaseEstimator`:

- parameter validation in ``fit`` with one message format
  (:func:`validate_params`, driven by a ``_parameter_constraints`` class dict),
- logging and tqdm progress bars that follow ``verbose``,
- device resolution and seeded NumPy / torch random generators,
- shared docstring fragments (:func:`fill_doc`), so a parameter such as
  ``random_state`` is documented the same way everywhere.

Only public scikit-learn API is used (no ``sklearn.utils._*``).
"""

from __future__ import annotations

import logging
import numbers
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

logger = logging.getLogger("brainlm_decode")

T = TypeVar("T")

# --------------------------------------------------------------------------------------
# Shared docstring fragments
# --------------------------------------------------------------------------------------

docdict: dict[str, str] = {
    "masker": """masker : :class:`~nilearn.maskers.NiftiMasker`-like or None, default=None
        Masker applied to image inputs. ``None`` builds one from the atlas or the
        data, as the estimator documents.""",
    "memory": """memory : None, str or :class:`joblib.Memory`, default=None
        Cache for expensive intermediate results. A string is the cache directory.
        ``None`` disables caching.""",
    "n_jobs": """n_jobs : int or None, default=None
        Number of parallel jobs for feature extraction (joblib). ``None`` means 1
        unless inside a :func:`joblib.parallel_config` context; ``-1`` uses all
        processors. Any joblib backend works (e.g. dask or ray on a cluster).""",
    "device": """device : str, default="auto"
        Torch device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, or ``"auto"``
        (CUDA when available, then MPS, else CPU).""",
    "batch_size": """batch_size : int, default=%(batch_size_default)s
        Number of samples per batch.""",
    "random_state": """random_state : int, :class:`numpy.random.RandomState` or None, \
default=None
        Seed for every random choice (splits, initialisation, shuffling, dropout).
        Pass an int for reproducible results across calls; on CPU the same seed
        gives identical weights.""",
    "verbose": """verbose : int, default=0
        Verbosity: 0 is silent, 1 prints progress messages and tqdm progress bars,
        2 and above print more detail.""",
}
docdict["batch_size_default"] = "32"


def fill_doc(obj: T) -> T:
    """Fill ``%(name)s`` placeholders of a docstring with shared fragments.

    Parameters
    ----------
    obj : class or function
        Object whose ``__doc__`` holds placeholders such as ``%(random_state)s``.

    Returns
    -------
    obj : class or function
        The same object, docstring filled in place.

    Raises
    ------
    KeyError
        When a placeholder names no known fragment.
    """
    doc = obj.__doc__
    if not doc:
        return obj
    try:
        obj.__doc__ = doc % _DocDict(docdict)
    except KeyError as exc:
        raise KeyError(
            f"Unknown docstring fragment {exc} in {getattr(obj, '__qualname__', obj)}; "
            f"known fragments: {sorted(docdict)}."
        ) from None
    return obj


class _DocDict(dict):
    """Mapping that fills nested placeholders (e.g. a default inside a fragment)."""

    def __getitem__(self, key: str) -> str:
        value = dict.__getitem__(self, key)
        return value % self if "%(" in value else value


# --------------------------------------------------------------------------------------
# Parameter validation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A numeric interval constraint, e.g. ``Interval(int, 1, None)`` for >= 1.

    Parameters
    ----------
    kind : type
        ``int`` (integers only, bools excluded) or ``float`` (any real number).
    left, right : float or None
        Bounds; ``None`` means unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are included.
    """

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real) or not np.isfinite(value):
            return False
        left_ok = self.left is None or (
            value >= self.left if self.closed in ("both", "left") else value > self.left
        )
        right_ok = self.right is None or (
            value <= self.right
            if self.closed in ("both", "right")
            else value < self.right
        )
        return bool(left_ok and right_ok)

    def describe(self) -> str:
        """Human-readable description used in error messages."""
        name = "an int" if self.kind is int else "a float"
        lo = "-inf" if self.left is None else repr(self.left)
        hi = "inf" if self.right is None else repr(self.right)
        lb = "[" if self.closed in ("both", "left") and self.left is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{name} in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    """A constraint accepting one of a fixed set of values (usually strings)."""

    values: frozenset

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", frozenset(values))

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the options."""
        try:
            return value in self.values
        except TypeError:
            return False

    def describe(self) -> str:
        """Human-readable description used in error messages."""
        return (
            "a str among {"
            + ", ".join(repr(v) for v in sorted(self.values, key=str))
            + "}"
        )


@dataclass(frozen=True)
class Satisfies:
    """A constraint given by a predicate and its description."""

    predicate: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the predicate."""
        try:
            return bool(self.predicate(value))
        except Exception:  # a predicate that cannot handle the type rejects it
            return False

    def describe(self) -> str:
        """Human-readable description used in error messages."""
        return self.description


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    if isinstance(constraint, tuple):
        return " or ".join(f"an instance of {c.__name__}" for c in constraint)
    return constraint.describe()


def _accepts(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, (type, tuple)):
        return isinstance(value, constraint)
    return constraint.accepts(value)


def validate_params(
    owner: str,
    params: dict[str, Any],
    constraints: dict[str, Sequence[Any]],
    *,
    kind: str = "parameter",
) -> None:
    """Check parameters against constraints; raise one clear error on the first bad one.

    Parameters
    ----------
    owner : str
        Name of the estimator or function, used in the message.
    params : dict
        Parameter names and values to check; names absent from ``constraints`` are
        not checked.
    constraints : dict of str to list
        For each name, the accepted alternatives: a type (or tuple of types),
        ``None``, :class:`Interval`, :class:`Options` or :class:`Satisfies`.
    kind : str, default="parameter"
        Word used in the message ("parameter" or "argument").

    Raises
    ------
    TypeError
        When the value's type matches none of the alternatives.
    ValueError
        When the type is right but the value is out of range or not an option.

    Examples
    --------
    >>> validate_params("Demo", {"k": 3}, {"k": [Interval(int, 1, None)]})
    >>> validate_params("Demo", {"k": 0}, {"k": [Interval(int, 1, None)]})
    Traceback (most recent call last):
    ...
    ValueError: The 'k' parameter of Demo must be an int in the range [1, inf). Got 0 instead.
    """
    for name, value in params.items():
        alternatives = constraints.get(name)
        if alternatives is None or any(_accepts(c, value) for c in alternatives):
            continue
        expected = _join_alternatives([_describe(c) for c in alternatives])
        shown = _show(value)
        message = (
            f"The {name!r} {kind} of {owner} must be {expected}. Got {shown} instead."
        )
        type_only = all(isinstance(c, (type, tuple)) or c is None for c in alternatives)
        raise (TypeError if type_only else ValueError)(message)


def check_param(
    value: Any,
    name: str,
    owner: str,
    constraints: Sequence[Any],
    *,
    kind: str = "parameter",
) -> Any:
    """Check one value with :func:`validate_params` and return it unchanged.

    Parameters
    ----------
    value : object
        Value to check.
    name : str
        Its parameter (or argument) name.
    owner : str
        Name of the estimator or function, used in the message.
    constraints : list
        Accepted alternatives (see :func:`validate_params`).
    kind : str, default="parameter"
        Word used in the message ("parameter" or "argument").

    Returns
    -------
    object
        ``value``.

    Examples
    --------
    >>> check_param(3, "k", "Demo", [Interval(int, 1, None)])
    3
    """
    validate_params(owner, {name: value}, {name: constraints}, kind=kind)
    return value


#: Default of a renamed parameter kept for one release (scikit-learn's convention).
DEPRECATED = "deprecated"


def renamed(
    owner: str,
    old: str,
    new: str,
    old_value: Any,
    new_value: Any,
    *,
    kind: str = "parameter",
    unset: Any = DEPRECATED,
    stacklevel: int = 3,
) -> Any:
    """The value of a renamed parameter: the old name's, with a FutureWarning, if set.

    Parameters
    ----------
    owner : str
        Name of the estimator or function, used in the message.
    old, new : str
        Former and current names.
    old_value, new_value : object
        Values given under each name.
    kind : str, default="parameter"
        Word used in the message ("parameter" or "argument").
    unset : object, default="deprecated"
        Default of the old name (``old_value`` equal to it means "not given").
    stacklevel : int, default=3
        Passed to :func:`warnings.warn`.

    Returns
    -------
    object
        ``old_value`` when given, else ``new_value``.

    Examples
    --------
    >>> renamed("Demo", "max_epochs", "n_epochs", "deprecated", 5)
    5
    """
    if old_value is unset or (isinstance(old_value, str) and old_value == unset):
        return new_value
    warnings.warn(
        f"The {old!r} {kind} of {owner} was renamed {new!r}; {old!r} will be "
        "removed in the next release.",
        FutureWarning,
        stacklevel=stacklevel,
    )
    return old_value


def _join_alternatives(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _show(value: Any) -> str:
    if isinstance(value, (str, numbers.Number)) or value is None:
        return repr(value)
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else f"an object of type {type(value).__name__}"


def is_random_state(value: Any) -> bool:
    """Whether ``value`` is a valid ``random_state`` (None, int or RandomState)."""
    return (
        value is None
        or (
            isinstance(value, numbers.Integral)
            and not isinstance(value, bool)
            and value >= 0
        )
        or isinstance(value, np.random.RandomState)
    )


def is_device(value: Any) -> bool:
    """Whether ``value`` names a torch device (checked without importing torch)."""
    if not isinstance(value, str):
        return hasattr(value, "type") and type(value).__name__ == "device"
    head, _, index = value.partition(":")
    known = {"auto", "cpu", "cuda", "mps", "xpu", "meta"}
    return head in known and (index == "" or index.isdigit())


SHARED_CONSTRAINTS: dict[str, list[Any]] = {
    "verbose": [Interval(int, 0, None), bool],
    "random_state": [
        Satisfies(is_random_state, "None, a non-negative int or a numpy RandomState")
    ],
    "device": [
        Satisfies(is_device, "a torch device such as 'cpu', 'cuda:0' or 'auto'")
    ],
    "n_jobs": [Interval(int, None, None), None],
    "batch_size": [Interval(int, 1, None)],
    "memory": [None, str, Satisfies(lambda m: hasattr(m, "cache"), "a joblib.Memory")],
}


# --------------------------------------------------------------------------------------
# Devices and random generators
# --------------------------------------------------------------------------------------


def resolve_device(device: Any = "auto") -> Any:
    """Turn a device name into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device, default="auto"
        ``"auto"`` picks CUDA, then MPS, then CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        When the device is unknown or not available on this machine.
    """
    import torch

    if not is_device(device):
        raise ValueError(
            "The 'device' parameter must be a torch device such as 'cpu', 'cuda:0' or "
            f"'auto'. Got {device!r} instead."
        )
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"The 'device' parameter is {device!r} but CUDA is not available on this "
            "machine. Use device='cpu' or device='auto'."
        )
    return resolved


def seed_from_random_state(random_state: Any) -> int:
    """Draw one 32-bit seed from ``random_state`` (None, int or RandomState)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return int(random_state) % (2**32)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def torch_generator(random_state: Any = None, device: Any = "cpu") -> Any:
    """A :class:`torch.Generator` seeded from ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState or None
        Seed source; the same int gives the same generator state.
    device : str or torch.device, default="cpu"
        Device of the generator.

    Returns
    -------
    torch.Generator
    """
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(seed_from_random_state(random_state))
    return generator


# --------------------------------------------------------------------------------------
# Logging and progress
# --------------------------------------------------------------------------------------


def log(
    message: str, *, verbose: int, level: int = 1, owner: str | None = None
) -> None:
    """Print ``message`` to stderr when ``verbose >= level``; always log at DEBUG.

    The package configures no logging handler; messages reach users through
    ``verbose`` (printed) or through their own logging configuration (logger
    ``"brainlm_decode"``).
    """
    text = f"[{owner}] {message}" if owner else message
    logger.debug(text)
    if verbose >= level:
        print(text, file=sys.stderr, flush=True)


def progress(
    iterable: Iterable[T],
    *,
    verbose: int,
    desc: str | None = None,
    total: int | None = None,
    level: int = 1,
) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm progress bar when ``verbose >= level``."""
    if verbose < level:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False)


# --------------------------------------------------------------------------------------
# Estimator base
# --------------------------------------------------------------------------------------


class BaseBrainLMEstimator(BaseEstimator):
    """Base class of every brainlm_decode estimator.

    Subclasses store keyword arguments in ``__init__`` without touching them, list
    their accepted values in the class dict ``_parameter_constraints`` (merged with
    :data:`SHARED_CONSTRAINTS` for the shared names), and call
    :meth:`_validate_params` at the start of ``fit``.
    """

    _parameter_constraints: dict[str, list[Any]] = {}

    def _validate_params(self) -> None:
        """Validate ``get_params(deep=False)`` against the declared constraints."""
        constraints = {**SHARED_CONSTRAINTS, **self._all_constraints()}
        validate_params(type(self).__name__, self.get_params(deep=False), constraints)

    @classmethod
    def _all_constraints(cls) -> dict[str, list[Any]]:
        merged: dict[str, list[Any]] = {}
        for klass in reversed(cls.__mro__):
            merged.update(getattr(klass, "_parameter_constraints", {}) or {})
        return merged

    def _log(self, message: str, level: int = 1) -> None:
        """Print a message tagged with the estimator name when verbose allows."""
        log(
            message,
            verbose=int(getattr(self, "verbose", 0)),
            level=level,
            owner=type(self).__name__,
        )

    def _progress(
        self, iterable: Iterable[T], desc: str | None = None, total: int | None = None
    ) -> Iterable[T]:
        """tqdm progress bar over ``iterable`` when ``verbose >= 1``."""
        return progress(
            iterable, verbose=int(getattr(self, "verbose", 0)), desc=desc, total=total
        )

    def _rng(self) -> np.random.RandomState:
        """NumPy random generator from ``random_state``."""
        return check_random_state(getattr(self, "random_state", None))

    def _torch_generator(self, device: Any = "cpu") -> Any:
        """Seeded torch generator from ``random_state``."""
        return torch_generator(getattr(self, "random_state", None), device=device)

    def _device(self) -> Any:
        """The resolved torch device of the ``device`` parameter."""
        return resolve_device(getattr(self, "device", "auto"))
