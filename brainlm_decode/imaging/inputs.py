"""NiMARE objects as decoder inputs: MetaResults and image Studysets/Datasets.

NiMARE users hold results, not files. :func:`resolve_maps` turns what they pass to
``transform`` / ``decode`` into the maps the decoder reads, and remembers where
they came from so the decoded tables can say it:

- a :class:`nimare.results.MetaResult` (from an estimator, or corrected by
  ``FWECorrector`` / ``FDRCorrector``) gives one map: ``map_name`` when given,
  else the map a NiMARE user would decode (see :data:`DEFAULT_MAP_ORDER`); the
  tables record the estimator, the corrector and the map name in
  ``DataFrame.attrs``;
- a NiMARE ``Studyset`` or ``Dataset`` (or a
  :class:`~brainlm_decode.collection.Collection`) whose analyses carry images
  gives one map per analysis; the tables of all analyses are joined in one tidy
  table indexed by ``(analysis_id, term)``;
- anything else is left to the decoder (``None``).

NiMARE is imported only when a NiMARE object is given.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "DEFAULT_IMAGE_TYPES",
    "DEFAULT_MAP_ORDER",
    "MapInput",
    "as_niimg",
    "meta_result_map",
    "resolve_maps",
]

#: Default map of a MetaResult, first match wins: the FDR-corrected z map, the
#: cluster-size, voxel-level and cluster-mass FWE-corrected z maps, any other
#: corrected z map, then the uncorrected ``z`` map.
DEFAULT_MAP_ORDER: tuple[str, ...] = (
    r"z_corr-FDR_.*",
    r"z_desc-size_level-cluster_corr-FWE_.*",
    r"z_level-voxel_corr-FWE_.*",
    r"z_desc-mass_level-cluster_corr-FWE_.*",
    r"z_.*corr-.*",
    r"z",
)

#: Default image type of an image Studyset, first one present wins.
DEFAULT_IMAGE_TYPES: tuple[str, ...] = ("z", "t")


def _from_nimare(obj: Any, *names: str) -> bool:
    """Whether ``obj`` is an instance of one of NiMARE's classes ``names``."""
    if type(obj).__module__.split(".")[0] != "nimare":
        return False
    return any(cls.__name__ in names for cls in type(obj).__mro__)


def _is_meta_result(obj: Any) -> bool:
    return _from_nimare(obj, "MetaResult")


def _is_collection(obj: Any) -> bool:
    from brainlm_decode.collection import Collection

    return isinstance(obj, Collection) or _from_nimare(obj, "Studyset", "Dataset")


def _describe(obj: Any) -> str | None:
    """``Name(param=value, ...)`` of a NiMARE estimator or corrector (simple params)."""
    if obj is None:
        return None
    try:
        params = obj.get_params(deep=False)
    except (AttributeError, TypeError):
        params = dict(getattr(obj, "parameters", {}) or {})
    simple = {
        k: v
        for k, v in sorted(params.items())
        if isinstance(v, (str, int, float, bool)) and not k.startswith("_")
    }
    inner = ", ".join(f"{k}={v!r}" for k, v in simple.items())
    return f"{type(obj).__name__}({inner})"


def meta_result_map(result: Any, map_name: str | None = None) -> tuple[Any, dict]:
    """The map of a NiMARE MetaResult to decode, and its provenance.

    Parameters
    ----------
    result : nimare.results.MetaResult
        Result of a meta-analysis, corrected or not.
    map_name : str or None, default=None
        Name of the map (a key of ``result.maps``). ``None`` takes the first
        match of :data:`DEFAULT_MAP_ORDER`: the corrected z map when there is one,
        else ``"z"``.

    Returns
    -------
    img : nibabel.Nifti1Image
        The map (``result.get_map(map_name)``).
    provenance : dict
        ``input``, ``estimator``, ``corrector`` (None when uncorrected),
        ``map_name`` and ``description`` (NiMARE's own text, when it has one).

    Raises
    ------
    ValueError
        When ``map_name`` is not a map of ``result``, or no default map is
        present; the message lists the available names.
    """
    names = sorted(getattr(result, "maps", {}) or {})
    if map_name is None:
        map_name = next(
            (
                name
                for pattern in DEFAULT_MAP_ORDER
                for name in names
                if re.fullmatch(pattern, name)
            ),
            None,
        )
        if map_name is None:
            raise ValueError(
                "The MetaResult has no z map to decode by default. Pass "
                f"map_name= with one of its maps: {names}."
            )
    elif map_name not in names:
        raise ValueError(
            f"The 'map_name' argument {map_name!r} is not a map of this MetaResult "
            f"({type(getattr(result, 'estimator', None)).__name__}). Available maps: "
            f"{names}."
        )
    provenance = {
        "input": "nimare.results.MetaResult",
        "estimator": _describe(getattr(result, "estimator", None)),
        "corrector": _describe(getattr(result, "corrector", None)),
        "map_name": map_name,
    }
    description = getattr(result, "description_", None)
    if description:
        provenance["description"] = str(description)
    return result.get_map(map_name, return_type="image"), provenance


def _image_types(images: pd.DataFrame) -> list[str]:
    return [
        c
        for c in images.columns
        if c != "space" and not c.endswith("__relative") and images[c].notna().any()
    ]


def _collection_maps(obj: Any, map_name: str | None) -> tuple[list[str], list, dict]:
    """Analysis ids, image paths and provenance of an image Studyset/Dataset."""
    from brainlm_decode.collection import load_collection

    coll = load_collection(obj)
    images = coll.images
    types = _image_types(images)
    if not types:
        raise ValueError(
            "The collection given to decode has no images: its analyses carry "
            "coordinates only. Decode a meta-analysis of it instead, e.g. "
            "decoder.transform(MKDADensity().fit(studyset))."
        )
    if map_name is None:
        map_name = next((t for t in DEFAULT_IMAGE_TYPES if t in types), None)
        if map_name is None and len(types) == 1:
            map_name = types[0]
        if map_name is None:
            raise ValueError(
                f"Pass map_name= to choose the image type to decode among {types}."
            )
    elif map_name not in types:
        raise ValueError(
            f"The 'map_name' argument {map_name!r} is not an image type of the "
            f"collection. Available image types: {types}."
        )
    paths = images[map_name]
    present = paths.notna()
    skipped = [str(i) for i in paths.index[~present]]
    if not present.any():  # pragma: no cover - _image_types excludes this
        raise ValueError(f"No analysis has a {map_name!r} image.")
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {len(paths)} analyses have no {map_name!r} image and "
            "are not decoded.",
            UserWarning,
            stacklevel=4,
        )
    provenance = {
        "input": f"{type(obj).__module__.split('.')[0]}.{type(obj).__name__}",
        "map_name": map_name,
        "n_analyses": int(present.sum()),
        "skipped_analyses": skipped,
    }
    ids = [str(i) for i in paths.index[present]]
    return ids, [str(p) for p in paths[present]], provenance


@dataclass
class MapInput:
    """Maps to decode and how to label the decoded tables.

    Attributes
    ----------
    imgs : niimg-like or list of niimg-like
        What the decoder's image path reads.
    provenance : list of dict
        One dict per map (a single dict for a collection), put in
        ``DataFrame.attrs``.
    analysis_ids : list of str or None
        Analysis ids of a collection (one table keyed by them), else None.
    single : bool
        Whether one map was given (tables, not lists of tables, come back).
    """

    imgs: Any
    provenance: list[dict] = field(default_factory=list)
    analysis_ids: list[str] | None = None
    single: bool = True

    def finish(self, results: dict[str, Any]) -> dict[str, Any]:
        """Label the decoder's tables: attrs, or one table keyed by analysis id.

        Parameters
        ----------
        results : dict
            ``{level: table or list of tables}`` from the decoder.

        Returns
        -------
        dict
            ``{level: table or list of tables}``.
        """
        if self.analysis_ids is not None:
            return {
                level: self._tidy(tables, level) for level, tables in results.items()
            }
        for tables in results.values():
            items = [tables] if self.single else list(tables)
            for table, provenance in zip(items, self.provenance, strict=True):
                table.attrs.update(provenance)
        return results

    def _tidy(self, tables: Sequence[pd.DataFrame], level: str) -> pd.DataFrame:
        parts = []
        for table in tables:
            part = table.copy()
            part.attrs = {}
            part.insert(0, "rank", range(1, len(part) + 1))
            parts.append(part)
        tidy = pd.concat(parts, keys=self.analysis_ids, names=["analysis_id", level])
        tidy.attrs.update(self.provenance[0])
        return tidy


def resolve_maps(imgs: Any, *, map_name: str | None = None) -> MapInput | None:
    """Turn NiMARE objects given to a decoder into maps plus provenance.

    Parameters
    ----------
    imgs : MetaResult, Studyset, Dataset, Collection, list or niimg-like
        What was passed to ``transform`` / ``decode``.
    map_name : str or None, default=None
        Map of a MetaResult (see :func:`meta_result_map`) or image type of a
        collection (default ``"z"``, else ``"t"``).

    Returns
    -------
    MapInput or None
        ``None`` when ``imgs`` holds no NiMARE object (plain images).

    Raises
    ------
    TypeError
        When ``map_name`` is given with plain images.
    """
    if _is_meta_result(imgs):
        img, provenance = meta_result_map(imgs, map_name)
        return MapInput(img, [provenance])
    if isinstance(imgs, (list, tuple)) and any(_is_meta_result(i) for i in imgs):
        pairs = [
            meta_result_map(i, map_name) if _is_meta_result(i) else (i, {})
            for i in imgs
        ]
        return MapInput([p[0] for p in pairs], [p[1] for p in pairs], single=False)
    if _is_collection(imgs):
        ids, paths, provenance = _collection_maps(imgs, map_name)
        return MapInput(paths, [provenance], analysis_ids=ids, single=False)
    if map_name is not None:
        raise TypeError(
            "The 'map_name' argument applies to a NiMARE MetaResult or an image "
            f"Studyset/Dataset; got {type(imgs).__name__} imgs."
        )
    return None


def as_niimg(img: Any, *, map_name: str | None = None) -> tuple[Any, dict]:
    """One map from a niimg-like or a MetaResult, with its provenance.

    For callers that read exactly one map (explanations, reports).

    Parameters
    ----------
    img : niimg-like or MetaResult
        The map.
    map_name : str or None, default=None
        Map of a MetaResult (see :func:`meta_result_map`).

    Returns
    -------
    img : niimg-like
    provenance : dict
        Empty for a plain image.
    """
    maps = resolve_maps(img, map_name=map_name)
    if maps is None:
        return img, {}
    if not maps.single:
        raise TypeError(
            "Expected one map (a niimg-like or a MetaResult); got "
            f"{type(img).__name__}."
        )
    return maps.imgs, maps.provenance[0]
