"""Deterministic text templates: z-scored descriptors and subject attributes as prose.

fMRI-LM pairs each scan with a caption-like paragraph per descriptor family and, for
instruction tuning, a semantic description of the subject. These templates produce
both, in our own words, with calibrated wording bands for z-scores:

========================  ===================================
``|z| < 0.5``             "typical"
``0.5 <= |z| < 1``        "slightly elevated" / "slightly reduced"
``1 <= |z| < 2``          "elevated" / "reduced"
``|z| >= 2``              "markedly elevated" / "markedly reduced"
========================  ===================================

Each value is followed by its z-score, e.g. "markedly elevated (z=+2.1)".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

#: Upper bounds of |z| for each wording band, and the words used.
BANDS: tuple[tuple[float, str], ...] = (
    (0.5, "typical"),
    (1.0, "slightly {direction}"),
    (2.0, "{direction}"),
    (math.inf, "markedly {direction}"),
)

FAMILY_TITLES: dict[str, str] = {
    "connectivity": "Functional connectivity",
    "gradients": "Functional gradients",
    "graph": "Graph organisation",
    "ica": "Intrinsic networks (ICA)",
}


def describe_z(z: float) -> str:
    """Wording band of a z-score with its value, e.g. ``"elevated (z=+1.3)"``.

    Parameters
    ----------
    z : float
        z-score against the normative reference; NaN gives ``"not available"``.

    Returns
    -------
    str

    Examples
    --------
    >>> describe_z(2.14)
    'markedly elevated (z=+2.1)'
    >>> describe_z(-0.7)
    'slightly reduced (z=-0.7)'
    >>> describe_z(0.2)
    'typical (z=+0.2)'
    """
    if z is None or not math.isfinite(float(z)):
        return "not available"
    z = round(float(z), 1)  # band the value that is printed, so words and number agree
    direction = "elevated" if z > 0 else "reduced"
    for bound, words in BANDS:
        if abs(z) < bound:
            return f"{words.format(direction=direction)} (z={z:+.1f})"
    raise AssertionError("unreachable: the last band is unbounded")


def _family_of(feature: str) -> str:
    prefix = feature.split("__", 1)[0]
    return {
        "fc": "connectivity",
        "gradient": "gradients",
        "gradients": "gradients",
    }.get(prefix, prefix)


def _sentence(description: str, z: float) -> str:
    return f"{description} is {describe_z(z)}"


def family_paragraph(
    family: str,
    z_scores: pd.Series,
    descriptions: Mapping[str, str],
    *,
    top_k: int = 3,
) -> str:
    """One paragraph describing one family's z-scores for one subject.

    Connectivity lists the ``top_k`` most elevated and most reduced network pairs;
    other families list their ``top_k`` most atypical features (largest ``|z|``)
    and summarise the rest.

    Parameters
    ----------
    family : str
        Family name (``"connectivity"``, ``"gradients"``, ``"graph"``, ``"ica"``,
        or a plugin's own).
    z_scores : pandas.Series
        z-scores of this family's features, indexed by feature name.
    descriptions : mapping of str to str
        Human phrase per feature name (``feature_descriptions_`` of descriptors).
    top_k : int, default=3
        Number of features or pairs named.

    Returns
    -------
    str
    """
    title = FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())
    values = z_scores.dropna()
    if values.empty:
        return f"{title}: not available."
    phrase = {name: descriptions.get(name, name) for name in values.index}
    if family == "connectivity":
        high = values.sort_values(ascending=False).head(top_k)
        low = values.sort_values().head(top_k)
        parts = [
            "the network pairs highest relative to the norm are "
            + "; ".join(f"{phrase[n]}, {describe_z(values[n])}" for n in high.index),
            "the lowest are "
            + "; ".join(f"{phrase[n]}, {describe_z(values[n])}" for n in low.index),
        ]
        return f"{title}: " + ". In contrast, ".join(parts) + "."
    order = values.abs().sort_values(ascending=False).index
    named = [_sentence(phrase[n], values[n]) for n in order[:top_k]]
    rest = values.loc[order[top_k:]]
    text = f"{title}: " + "; ".join(named)
    if len(rest):
        typical = int((rest.abs() < 0.5).sum())
        text += f". Of the {len(rest)} other measures, {typical} are typical"
    return text + "."


def render_descriptor_text(
    z_scores: pd.Series,
    descriptions: Mapping[str, str],
    *,
    families: Sequence[str] | None = None,
    feature_families: Mapping[str, str] | None = None,
    top_k: int = 3,
) -> str:
    """Paragraphs (one per family) for one subject's z-scored descriptors.

    Parameters
    ----------
    z_scores : pandas.Series
        All z-scores of one subject; feature names start with their family prefix
        (``"fc__"``, ``"gradients__"``, ``"graph__"``, ``"ica__"``).
    descriptions : mapping of str to str
        Human phrase per feature name.
    families : sequence of str or None, default=None
        Families to render, in order; ``None`` renders those present.
    feature_families : mapping of str to str or None, default=None
        Family of each feature; ``None`` reads it from the name's prefix.
    top_k : int, default=3
        Features named per family.

    Returns
    -------
    str
        Paragraphs separated by blank lines.
    """
    if not isinstance(z_scores, pd.Series):
        raise TypeError(
            "The 'z_scores' argument must be a pandas Series indexed by feature name. "
            f"Got {type(z_scores).__name__} instead."
        )
    by_family: dict[str, list[str]] = {}
    for name in z_scores.index:
        family = (feature_families or {}).get(name) or _family_of(str(name))
        by_family.setdefault(family, []).append(name)
    order = list(families) if families is not None else list(by_family)
    paragraphs = [
        family_paragraph(family, z_scores[by_family[family]], descriptions, top_k=top_k)
        for family in order
        if family in by_family
    ]
    return "\n\n".join(paragraphs)


_SEX_WORDS = {
    "m": "male",
    "male": "male",
    "1": "male",
    "f": "female",
    "female": "female",
    "2": "female",
}


def render_subject_text(attributes: Mapping[str, Any]) -> str:
    """Semantic description of a subject from its attributes.

    Used as targets and context in instruction tuning. Known keys: ``age``
    (years), ``sex`` (``"M"``/``"F"``, ``"male"``/``"female"``), ``diagnosis``
    (free text, e.g. ``"autism spectrum disorder"``; ``"control"`` or ``None``
    means no diagnosis), ``site``; any other key is rendered as
    ``"<key>: <value>"``.

    Parameters
    ----------
    attributes : mapping
        One subject's attributes (a dict or a DataFrame row).

    Returns
    -------
    str

    Examples
    --------
    >>> render_subject_text({"age": 24.3, "sex": "F", "diagnosis": "control"})
    'The participant is a 24-year-old female with no diagnosis.'
    >>> render_subject_text({"sex": "M", "diagnosis": "autism spectrum disorder", "FIQ": 110})
    'The participant is a male diagnosed with autism spectrum disorder. FIQ: 110.'
    """
    if not isinstance(attributes, Mapping) and not isinstance(attributes, pd.Series):
        raise TypeError(
            "The 'attributes' argument must be a mapping of attribute names to values. "
            f"Got {type(attributes).__name__} instead."
        )
    attrs = {str(k): v for k, v in dict(attributes).items() if not _missing(v)}
    words = []
    if "age" in attrs:
        words.append(f"{int(round(float(attrs.pop('age'))))}-year-old")
    sex = _SEX_WORDS.get(str(attrs.pop("sex", "")).strip().lower())
    words.append(sex or "person")
    article = _article(words[0])
    text = f"The participant is {article} {' '.join(words)}"
    diagnosis = attrs.pop("diagnosis", None)
    if diagnosis is None or str(diagnosis).strip().lower() in {
        "control",
        "none",
        "healthy",
    }:
        text += " with no diagnosis" if "diagnosis" in dict(attributes) else ""
    else:
        text += f" diagnosed with {diagnosis}"
    text += "."
    if "site" in attrs:
        text += f" Scanned at site {attrs.pop('site')}."
    for key, value in attrs.items():
        text += f" {key}: {value}."
    return text


def _article(word: str) -> str:
    """'a' or 'an' before a word or a number such as '18-year-old'."""
    head = word.split("-", 1)[0]
    if head.isdigit():
        spoken_vowel = head.startswith("8") or head in {"11", "18"}
        return "an" if spoken_vowel else "a"
    return "an" if word[:1].lower() in "aeiou" else "a"


def _missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False
