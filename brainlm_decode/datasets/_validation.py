"""Argument checks with uniform error messages (private to the datasets module).

Messages follow the pattern "The 'n_studies' parameter of make_studies_collection
must be a positive int. Got -1 instead."
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_float", "check_int", "check_int_range"]


def check_int(
    value: Any, name: str, caller: str, *, minimum: int = 1, what: str = ""
) -> int:
    """Return ``value`` as int if it is an integer >= ``minimum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        what = what or ("a positive int" if minimum == 1 else f"an int >= {minimum}")
        raise ValueError(
            f"The {name!r} parameter of {caller} must be {what}. Got {value!r} instead."
        )
    return int(value)


def check_float(
    value: Any,
    name: str,
    caller: str,
    *,
    low: float = 0.0,
    high: float = np.inf,
    low_inclusive: bool = False,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as float if it is a finite real number in the range."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = bool(np.isfinite(value))
        ok = ok and (value > low or (low_inclusive and value == low))
        ok = ok and (value < high or (high_inclusive and value == high))
    if not ok:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        raise ValueError(
            f"The {name!r} parameter of {caller} must be a float in "
            f"{left}{low}, {high}{right}. Got {value!r} instead."
        )
    return value


def check_int_range(value: Any, name: str, caller: str) -> tuple[int, int]:
    """Accept an int ``n`` (as ``(n, n)``) or a pair ``(low, high)``, low <= high."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    what = "a positive int or a pair (low, high) of positive ints with low <= high"
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
            for v in value
        )
        or value[0] > value[1]
    ):
        raise ValueError(
            f"The {name!r} parameter of {caller} must be {what}. Got {value!r} instead."
        )
    return int(value[0]), int(value[1])
