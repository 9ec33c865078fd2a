"""Input handling of :class:`~brainlm_decode.CLIPDecoder` (parameter checks,
training studies, brain maps) and its result tables.

Private to :mod:`brainlm_decode.decode`: the decoder, the null test and the batch
decoder share these helpers so that a map is prepared, and a table built, the same
way everywhere.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from brainlm_decode.plugins import get_plugin

#: Levels of the ontology a map is decoded into.
LEVELS = ("task", "concept", "domain")


# ---------------------------------------------------------------- parameter checks


def is_plugin_value(value: Any) -> bool:
    """Whether ``value`` is a plugin name or an estimator instance."""
    return isinstance(value, str) or hasattr(value, "get_params")


def is_text_source(value: Any) -> bool:
    """Whether ``value`` is a non-empty text field name or list of them."""
    if isinstance(value, str):
        return bool(value)
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, str) and v for v in value)
    )


def is_ontology(value: Any) -> bool:
    """Whether ``value`` is accepted by the ``ontology`` parameter."""
    return (
        value is None
        or isinstance(value, (str, os.PathLike))
        or (hasattr(value, "task_concept_matrix") and hasattr(value, "vocabulary"))
        or callable(value)
    )


def resolve_plugin(group: str, value: Any, name: str) -> Any:
    """``get_plugin`` whose errors name the parameter of CLIPDecoder."""
    try:
        return get_plugin(group, value)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"The {name!r} parameter of CLIPDecoder: {exc}") from None


def unit_rows(array: np.ndarray) -> np.ndarray:
    """Rows of ``array`` scaled to unit norm (zero rows kept)."""
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms > 0, norms, 1.0)


# ---------------------------------------------------------------- training studies


def study_inputs(
    coll: Any, text_source: str | Sequence[str]
) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    """Texts, peak coordinates and ids of the studies with both (at least 2)."""
    sources = [text_source] if isinstance(text_source, str) else list(text_source)
    available = set(coll.text_sources)
    usable = [s for s in sources if s in available]
    if not usable:
        raise ValueError(
            f"The 'text_source' parameter of CLIPDecoder is {text_source!r} "
            f"but the collection has texts {sorted(available)} only."
        )
    texts = coll.texts(tuple(usable), level="study")
    texts = texts[texts.fillna("").str.strip() != ""]
    coords = coll.coordinates
    coords = coords.assign(id=coords["study_id"])
    with_peaks = set(coords["id"])
    study_ids = [s for s in texts.index if s in with_peaks]
    if len(study_ids) < 2:
        raise ValueError(
            "The 'collection' argument of CLIPDecoder.fit must hold at least 2 "
            f"studies with both text and coordinates. Got {len(study_ids)}."
        )
    return texts.loc[study_ids], coords, study_ids


# ---------------------------------------------------------------- brain maps


def on_grid(img: Any, space: Any, tail: Any = None, flip_sign: Any = False) -> Any:
    """``img`` on the grid of the image space, before thresholding.

    Percentile ROIs and tails are then computed on the grid the map is decoded on
    (resampling a binary ROI afterwards would blur it).
    """
    from brainlm_decode.imaging.atlas import load_niimg

    loaded = load_niimg(img, "imgs")
    if loaded.ndim == 4 and loaded.shape[3] == 1:
        loaded = nib.Nifti1Image(np.asanyarray(loaded.dataobj)[..., 0], loaded.affine)
    if loaded.ndim != 3:
        return loaded  # prepare_map reports the wrong dimensionality
    from brainlm_decode.imaging.coverage import check_map_coverage

    check_map_coverage(loaded, space.mask_img_)
    if tail in ("positive", "negative") and not _has_tail(loaded, tail, flip_sign):
        # the tail must exist before resampling: interpolation ringing would
        # otherwise give an all-negative map a few small positive values;
        # prepare_map raises the error that says what to do
        from brainlm_decode.imaging import prepare_map

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepare_map(loaded, tail=tail, flip_sign=flip_sign)
    return space.resample_to_grid(loaded, mask_only=True)


def keeps_positive(tail: str, flip_sign: Any) -> bool:
    """Whether ``tail`` (``"positive"`` or ``"negative"``) keeps the map's
    positive values, once ``flip_sign`` is applied."""
    return (tail == "positive") != bool(flip_sign)


def _has_tail(img: Any, tail: str, flip_sign: Any) -> bool:
    """Whether the map has a value of the kept sign (one pass, NaN ignored)."""
    data = np.asanyarray(img.dataobj)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN map
        if keeps_positive(tail, flip_sign):
            return bool(np.nanmax(data) > 0)
        return bool(np.nanmin(data) < 0)


def prepare_maps(imgs: Any, decoder: Any) -> list[Any]:
    """Maps of ``imgs`` on the decoder's grid, after its decoding options.

    Errors about one map of a list name the map.
    """
    from brainlm_decode.imaging import prepare_map

    items = list(imgs) if isinstance(imgs, (list, tuple)) else [imgs]
    if not items:
        raise ValueError("The 'imgs' argument of CLIPDecoder is an empty list.")
    space = decoder.image_space_
    prepared = []
    for i, img in enumerate(items):
        try:
            prepared.append(
                prepare_map(
                    on_grid(img, space, decoder.tail, decoder.flip_sign),
                    tail=decoder.tail,
                    flip_sign=decoder.flip_sign,
                    percentile=decoder.percentile,
                    mask_img=space.mask_img_,
                )
            )
        except (ValueError, TypeError) as exc:
            if len(items) == 1:
                raise
            name = img if isinstance(img, (str, os.PathLike)) else type(img)
            raise type(exc)(
                f"Map {i} of {len(items)} in 'imgs' ({str(name)!r}): {exc}"
            ) from None
    return prepared


# ---------------------------------------------------------------- result tables


def result_table(
    ontology: Any, prior: np.ndarray, scores: dict[str, np.ndarray], i: int, level: str
) -> pd.DataFrame:
    """The table of map ``i`` at ``level``, sorted by decreasing probability."""
    if level == "task":
        table = pd.DataFrame(
            {
                "id": ontology.task_ids,
                "posterior": scores["posterior"][i],
                "likelihood": scores["likelihood"][i],
                "prior": prior,
                "similarity": scores["similarity"][i],
            },
            index=pd.Index(ontology.task_names, name="task"),
        )
        return table.sort_values("posterior", ascending=False)
    ids = ontology.concept_ids if level == "concept" else ontology.domain_ids
    names = ontology.concept_names if level == "concept" else ontology.domain_names
    table = pd.DataFrame(
        {"id": ids, "probability": scores[level][i]},
        index=pd.Index(names, name=level),
    )
    return table.sort_values("probability", ascending=False)
