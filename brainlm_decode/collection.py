"""One boundary for NiMARE inputs: Studysets, Datasets, dicts and paths.

Every estimator in brainlm_decode that reads a corpus of studies goes through
:func:`load_collection`, which accepts whatever NiMARE users hold and returns one
immutable :class:`Collection` view with the same shape every time:

- analysis-level ids (NiMARE's ``"<study id>-<analysis id>"``) and the study each
  one belongs to,
- texts by source (title, abstract and any text field present),
- peak coordinates, all in MNI space,
- the metadata, annotation and image tables.

Everything is converted to a NiMARE :class:`~nimare.studyset.Studyset` first (NiMARE
is retiring ``Dataset``), then read through the Studyset's public accessors only.
NiMARE is imported inside functions, never when this module is imported.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from brainlm_decode.base import Options, check_param

__all__ = ["Collection", "CollectionSplit", "load_collection"]

_LOGGER = logging.getLogger(__name__)

#: Columns that identify an analysis in NiMARE's frames.
_ID_COLUMNS = ("id", "study_id", "contrast_id")

#: Lower-cased space labels meaning "MNI", besides anything starting with these.
_MNI_PREFIXES = ("mni", "icbm", "ale_")
#: Lower-cased space labels meaning "Talairach".
_TALAIRACH_PREFIXES = ("tal",)
#: Lower-cased labels that say the space was not reported (NIMADS placeholders).
_UNSPECIFIED_LABELS = frozenset(
    {"", "unknown", "other", "none", "nan", "n/a", "na", "unspecified", "not reported"}
)
_UNSPECIFIED_CHOICES = ("keep", "drop", "raise")
_TEXT_ORDER = ("title", "abstract")


class CollectionSplit(NamedTuple):
    """Study-grouped partitions of a :class:`Collection`.

    Returned by :meth:`Collection.split`. No study has analyses in two partitions.

    Parameters
    ----------
    train : :class:`Collection`
        The training studies.
    validation : :class:`Collection` or None
        The validation studies, or None when ``validation_size`` was 0 or None.
    test : :class:`Collection` or None
        The test studies, or None when ``test_size`` was 0 or None.
    """

    train: Collection
    validation: Collection | None
    test: Collection | None


@dataclass(frozen=True, eq=False, repr=False)
class Collection:
    """An immutable view of a corpus of studies: ids, texts, coordinates, labels.

    Build one with :func:`load_collection`; the constructor is not public API.
    Tables are returned as copies, so editing them never changes the collection.

    Parameters
    ----------
    name : :obj:`str`
        Name of the collection (the Studyset name, or the file it came from).
    _study_of : :class:`pandas.Series`
        Study id of every analysis, indexed by analysis id.
    _texts : :class:`pandas.DataFrame`
        One column per text source, indexed by analysis id, None where missing.
    _coordinates : :class:`pandas.DataFrame`
        One row per focus, in MNI space.
    _metadata, _annotations, _images : :class:`pandas.DataFrame`
        Per-analysis tables indexed by analysis id.

    See Also
    --------
    load_collection : Build a collection from NiMARE inputs.
    """

    name: str
    _study_of: pd.Series
    _texts: pd.DataFrame
    _coordinates: pd.DataFrame
    _metadata: pd.DataFrame
    _annotations: pd.DataFrame
    _images: pd.DataFrame

    def __post_init__(self) -> None:
        """Check that the tables describe the same, non-empty set of analyses."""
        index = self._study_of.index
        if len(index) == 0:
            raise ValueError("A Collection must hold at least one analysis; got none.")
        if not index.is_unique:
            duplicated = index[index.duplicated()].unique().tolist()
            raise ValueError(
                f"Analysis ids must be unique; got duplicates {_preview(duplicated)}."
            )
        for label in ("_texts", "_metadata", "_annotations", "_images"):
            if not getattr(self, label).index.equals(index):
                raise ValueError(
                    f"The {label[1:]} table is not indexed by the analysis ids."
                )

    # ------------------------------------------------------------------ ids
    @property
    def ids(self) -> pd.Index:
        """:class:`pandas.Index`: analysis ids, ``"<study id>-<analysis id>"``."""
        return self._study_of.index.copy()

    @property
    def study_ids(self) -> pd.Index:
        """:class:`pandas.Index`: unique study ids, in order of first appearance."""
        return pd.Index(pd.unique(self._study_of.to_numpy()), name="study_id")

    @property
    def study_of(self) -> pd.Series:
        """:class:`pandas.Series`: the study id of every analysis, indexed by id.

        Its values are the ``groups`` a scikit-learn group splitter expects.
        """
        return self._study_of.copy()

    def __len__(self) -> int:
        """Return the number of analyses."""
        return len(self._study_of)

    def __repr__(self) -> str:
        """Return a summary naming the sizes of every table."""
        sources = ", ".join(self.text_sources) or "none"
        image_types = [
            c for c in self._images if c != "space" and not c.endswith("__relative")
        ]
        return (
            f"<Collection {self.name!r}: {len(self.study_ids)} studies, {len(self)} "
            f"analyses, {len(self._coordinates)} foci (MNI); texts: {sources}; "
            f"{self._annotations.shape[1]} annotation labels; "
            f"{len(image_types)} image types>"
        )

    # ---------------------------------------------------------------- texts
    @property
    def text_sources(self) -> tuple[str, ...]:
        """:obj:`tuple` of :obj:`str`: the text sources with at least one text."""
        return tuple(self._texts.columns)

    def texts(
        self,
        source: str | Sequence[str] = "abstract",
        *,
        level: Literal["analysis", "study"] = "analysis",
        sep: str = "\n\n",
    ) -> pd.Series:
        """Return the texts of one source, or of several sources joined.

        Parameters
        ----------
        source : :obj:`str` or sequence of :obj:`str`, default="abstract"
            A name from :attr:`text_sources`, or several names, e.g.
            ``("title", "abstract")``, whose texts are joined with ``sep`` in the
            order given (missing parts are skipped).
        level : {"analysis", "study"}, default="analysis"
            Index the result by analysis id, or by study id (one text per study:
            the first analysis of the study that has one).
        sep : :obj:`str`, default="\\n\\n"
            Separator between the texts of several sources.

        Returns
        -------
        :class:`pandas.Series`
            Object-dtype texts, None where an analysis (or study) has none.

        Raises
        ------
        ValueError
            If a source does not exist (the message lists those that do) or
            ``level`` is unknown.
        """
        names = _as_names(source, argument="source", function="Collection.texts")
        if not names:
            raise ValueError(
                "The 'source' argument of Collection.texts must name at least one "
                "text source; got an empty sequence instead."
            )
        _check_sources_exist(names, self.text_sources, "Collection.texts")
        _check_choice(level, ("analysis", "study"), "level", "Collection.texts")
        columns = [self._texts[name].tolist() for name in names]
        joined = [_join_texts(parts, sep) for parts in zip(*columns, strict=True)]
        label = names[0] if len(names) == 1 else "+".join(names)
        texts = pd.Series(joined, index=self.ids, name=label, dtype=object)
        if level == "analysis":
            return texts
        first: dict[str, str | None] = {}
        for study, text in zip(self._study_of.tolist(), joined, strict=True):
            if first.get(study) is None:
                first[study] = text
        return pd.Series(first, name=label, dtype=object).rename_axis("study_id")

    # --------------------------------------------------------------- tables
    @property
    def coordinates(self) -> pd.DataFrame:
        """:class:`pandas.DataFrame`: one row per focus, in MNI space.

        Columns ``id``, ``study_id``, ``x``, ``y``, ``z``, ``space`` (always
        ``"MNI"``), ``reported_space`` (the space the source reported, e.g.
        ``"TAL"`` for a focus converted with :func:`nimare.utils.tal2mni`), then
        any per-focus values the source carries (``z_stat``, ``kind``, ...).
        """
        return self._coordinates.copy()

    @property
    def metadata(self) -> pd.DataFrame:
        """:class:`pandas.DataFrame`: analysis metadata (study metadata merged in).

        Indexed by analysis id, as NiMARE's ``Studyset.metadata`` frame.
        """
        return self._metadata.copy()

    @property
    def annotations(self) -> pd.DataFrame:
        """:class:`pandas.DataFrame`: annotation labels, one column per label.

        Indexed by analysis id (e.g. the ``comparison_task`` label of NiMARE's
        n-back/flanker studyset, or Neurosynth term weights).
        """
        return self._annotations.copy()

    @property
    def images(self) -> pd.DataFrame:
        """:class:`pandas.DataFrame`: image paths, one column per image type.

        Indexed by analysis id, as NiMARE's ``Studyset.images`` frame; holds only a
        ``space`` column when the source has no images.
        """
        return self._images.copy()

    # ------------------------------------------------------------ selection
    def subset(
        self,
        ids: str | Iterable[str],
        *,
        level: Literal["analysis", "study"] = "analysis",
    ) -> Collection:
        """Return a collection holding only the named analyses or studies.

        Parameters
        ----------
        ids : :obj:`str` or iterable of :obj:`str`
            Analysis ids (from :attr:`ids`), or study ids when ``level="study"``.
        level : {"analysis", "study"}, default="analysis"
            Which level ``ids`` names.

        Returns
        -------
        :class:`Collection`
            The selection, in this collection's order.

        Raises
        ------
        ValueError
            If ``ids`` is empty or names an id this collection does not hold.
        """
        _check_choice(level, ("analysis", "study"), "level", "Collection.subset")
        wanted = _as_names(ids, argument="ids", function="Collection.subset")
        if not wanted:
            raise ValueError(
                "The 'ids' argument of Collection.subset is empty; a collection must "
                "hold at least one analysis."
            )
        known = self.ids if level == "analysis" else self.study_ids
        missing = [i for i in dict.fromkeys(wanted) if i not in known]
        if missing:
            raise ValueError(
                f"The 'ids' argument of Collection.subset names {len(missing)} "
                f"{level} id(s) this collection does not hold: {_preview(missing)}."
            )
        names = self.ids if level == "analysis" else self._study_of
        return self._select(np.asarray(names.isin(wanted)))

    def split(
        self,
        *,
        test_size: float | int | None = 0.2,
        validation_size: float | int | None = 0.1,
        random_state: int | np.random.RandomState | None = None,
    ) -> CollectionSplit:
        """Split into train, validation and test collections, grouped by study.

        Studies, not analyses, are shuffled and assigned, so the analyses of one
        study never straddle two partitions; analysis counts therefore only
        approximate the requested fractions.

        Parameters
        ----------
        test_size : :obj:`float`, :obj:`int` or None, default=0.2
            Fraction of studies (float in ``[0, 1)``, rounded up) or number of
            studies (int) held out for testing. 0 or None: no test partition.
        validation_size : :obj:`float`, :obj:`int` or None, default=0.1
            Same, for the validation partition.
        random_state : :obj:`int`, :class:`numpy.random.RandomState` or None
            Seed of the study permutation; an int gives the same split every time.

        Returns
        -------
        :class:`CollectionSplit`
            ``(train, validation, test)``, each a :class:`Collection` or None.

        Raises
        ------
        TypeError
            If a size is neither a number nor None.
        ValueError
            If a size is out of range or nothing would be left for training.
        """
        from sklearn.utils import check_random_state

        studies = np.sort(np.asarray(self.study_ids, dtype=str))
        n_studies = len(studies)
        n_test = _n_studies(test_size, n_studies, "test_size")
        n_validation = _n_studies(validation_size, n_studies, "validation_size")
        if n_studies - n_test - n_validation < 1:
            raise ValueError(
                f"Collection.split would leave no study for training: {n_test} test and "
                f"{n_validation} validation studies out of {n_studies}; lower "
                "'test_size' or 'validation_size'."
            )
        shuffled = studies[check_random_state(random_state).permutation(n_studies)]
        test = shuffled[:n_test]
        validation = shuffled[n_test : n_test + n_validation]
        train = shuffled[n_test + n_validation :]
        return CollectionSplit(
            train=self.subset(train, level="study"),
            validation=self.subset(validation, level="study") if n_validation else None,
            test=self.subset(test, level="study") if n_test else None,
        )

    def _select(self, keep: np.ndarray) -> Collection:
        """Return the analyses flagged by a boolean array, every table narrowed."""
        study_of = self._study_of[keep]
        coordinates = self._coordinates[self._coordinates["id"].isin(study_of.index)]
        return dataclasses.replace(
            self,
            _study_of=study_of,
            _texts=_drop_empty_columns(self._texts[keep]),
            _coordinates=coordinates.reset_index(drop=True),
            _metadata=self._metadata[keep],
            _annotations=self._annotations[keep],
            _images=self._images[keep],
        )

    def _with_text_sources(self, names: Sequence[str]) -> Collection:
        """Return the same collection keeping only the named text sources."""
        _check_sources_exist(names, self.text_sources, "load_collection")
        return dataclasses.replace(self, _texts=self._texts[list(dict.fromkeys(names))])


# ------------------------------------------------------------------ loading
def load_collection(
    source: Any,
    *,
    text_sources: str | Sequence[str] | None = None,
    unspecified_space: Literal["keep", "drop", "raise"] = "keep",
) -> Collection:
    """Read any NiMARE collection of studies into one immutable :class:`Collection`.

    Parameters
    ----------
    source : Studyset, Dataset, :obj:`dict`, path or :class:`Collection`
        - a :class:`nimare.studyset.Studyset` (the primary input);
        - a :class:`nimare.dataset.Dataset` (deprecated by NiMARE; converted with
          :meth:`~nimare.studyset.Studyset.from_dataset`);
        - a NIMADS studyset dict (with a ``"studies"`` list) or a NiMARE
          Dataset-style dict (study id -> ``{"contrasts": ...}``);
        - a path to a JSON file holding either dict, or to a Studyset parquet
          directory (as written by ``Studyset.to_parquet``);
        - a :class:`Collection`, returned as is.
    text_sources : :obj:`str`, sequence of :obj:`str` or None, default=None
        Text sources to keep (e.g. ``["title", "abstract"]``); each must exist.
        None keeps every source present. Sources are the analysis text fields of
        the Studyset (``abstract``, ``body``, ...), ``title`` (the study name)
        and ``abstract``, which falls back to the NIMADS study ``description``
        where NeuroStore keeps it.
    unspecified_space : {"keep", "drop", "raise"}, default="keep"
        What to do with foci whose space is unspecified (``"UNKNOWN"``,
        ``"OTHER"`` or missing, as in NeuroStore exports): keep them as MNI,
        which is what NiMARE does, drop them, or raise. Talairach foci
        (``"TAL"``, ``"talairach"``) are always converted with
        :func:`nimare.utils.tal2mni`; any other label raises a ValueError.

    Returns
    -------
    :class:`Collection`
        The analyses of ``source``, with their texts, MNI coordinates, metadata,
        annotations and images.

    Raises
    ------
    TypeError
        If ``source`` or ``text_sources`` has the wrong type.
    FileNotFoundError
        If ``source`` is a path that does not exist.
    ValueError
        If ``source`` is empty or malformed, a requested text source does not
        exist, or a focus is in an unrecognised space.

    Notes
    -----
    A ``Dataset`` object has already projected its coordinates into its own
    target space when it was built, so its foci are read as that space reports
    them; a Dataset dict or JSON is read with its original spaces.

    Examples
    --------
    The last two lines are not run in the doctests: the example studyset ships
    only with recent NiMARE releases.

    >>> from importlib.resources import files
    >>> from brainlm_decode.collection import load_collection
    >>> path = files("nimare") / "resources" / "nback_vs_flanker_studyset_2026-07"
    >>> collection = load_collection(path)  # doctest: +SKIP
    >>> collection  # doctest: +SKIP
    <Collection 'n-back vs flanker task analysis examples': 320 studies, 906 ...>
    """
    _check_choice(unspecified_space, _UNSPECIFIED_CHOICES, "unspecified_space")
    names = None
    if text_sources is not None:
        names = _as_names(
            text_sources, argument="text_sources", function="load_collection"
        )
    if isinstance(source, Collection):
        return source if names is None else source._with_text_sources(names)
    studyset, name = _as_studyset(source)
    collection = _collection_from_studyset(studyset, name, unspecified_space)
    return collection if names is None else collection._with_text_sources(names)


def _as_studyset(source: Any) -> tuple[Any, str]:
    """Return ``(Studyset, name)`` for any accepted ``source``.

    The name is empty unless the Studyset was converted from a Dataset, which has
    no name of its own (NiMARE calls every converted one "nimads_from_dataset").
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        studyset, from_dataset = _studyset_from_path(path)
        return studyset, path.stem if from_dataset else ""
    if isinstance(source, dict):
        what = "The 'source' argument of load_collection"
        studyset, from_dataset = _studyset_from_dict(source, what)
        return studyset, "Dataset dict" if from_dataset else ""
    if any(cls.__module__.startswith("nimare.") for cls in type(source).__mro__):
        from nimare.dataset import Dataset
        from nimare.studyset import Studyset

        if isinstance(source, Studyset):
            return source, ""
        if isinstance(source, Dataset):
            return Studyset.from_dataset(dataset=source), "Dataset"
    raise TypeError(
        "The 'source' argument of load_collection must be a NiMARE Studyset, Dataset, "
        f"dict or path; got {type(source).__name__} instead."
    )


def _studyset_from_path(path: Path) -> tuple[Any, bool]:
    """Read a NIMADS/Dataset JSON file or a Studyset parquet directory.

    Returns the Studyset and whether it was converted from a Dataset.
    """
    if not path.exists():
        raise FileNotFoundError(
            f"The 'source' argument of load_collection names a path that does not "
            f"exist: '{path}'."
        )
    if path.is_dir():
        if not (path / "studyset.json").is_file() and not any(path.glob("*.parquet")):
            raise ValueError(
                f"The 'source' argument of load_collection names the directory '{path}', "
                "which is not a Studyset parquet directory (no studyset.json and no "
                "*.parquet tables)."
            )
        from nimare.studyset import Studyset

        return Studyset(source=str(path), target=None), False
    if not path.name.lower().endswith(".json"):
        raise ValueError(
            f"The 'source' argument of load_collection must be a NIMADS or NiMARE "
            f"Dataset JSON file or a Studyset parquet directory; got the file '{path}'."
        )
    from brainlm_decode._io import read_json

    document = read_json(path, "collection JSON file")
    return _studyset_from_dict(document, f"The JSON file '{path}'")


def _studyset_from_dict(document: Any, what: str) -> tuple[Any, bool]:
    """Build a Studyset from a NIMADS dict or a NiMARE Dataset-style dict.

    Returns the Studyset and whether it was converted from a Dataset.
    """
    from nimare.studyset import Studyset

    if not isinstance(document, dict) or not document:
        got = "an empty dict" if isinstance(document, dict) else type(document).__name__
        raise ValueError(
            f"{what} must hold a non-empty studyset dict; got {got} instead."
        )
    _warn_nonfinite_foci(document, what)
    if isinstance(document.get("studies"), list):
        if not document["studies"]:
            raise ValueError(f"{what} is a NIMADS studyset with no studies.")
        return Studyset(source=document, target=None), False
    if all(isinstance(v, dict) and "contrasts" in v for v in document.values()):
        from nimare.dataset import Dataset

        # The Dataset is an internal stepping stone to a Studyset: its deprecation
        # notice points at code the caller does not own. ``target=None`` keeps the
        # spaces as reported so they are converted in one place, below.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Dataset is deprecated")
            warnings.filterwarnings("ignore", message="No mask or target space")
            dataset = Dataset(source=document, target=None)
        return Studyset.from_dataset(dataset=dataset), True
    raise ValueError(
        f"{what} must be a NIMADS studyset (a dict with a 'studies' list) or a NiMARE "
        "Dataset dict (study id -> {'contrasts': ...}); got a dict with keys "
        f"{_preview([str(k) for k in document])}."
    )


def _nonfinite(values: Any) -> list[bool]:
    out = []
    for value in values if isinstance(values, (list, tuple)) else [values]:
        try:
            out.append(not math.isfinite(float(value)))
        except (TypeError, ValueError):
            out.append(True)
    return out


def _warn_nonfinite_foci(document: dict, what: str) -> None:
    """Warn (naming how many) about foci with a NaN or missing coordinate.

    NiMARE drops them silently when it builds the Studyset.
    """
    bad: dict[str, int] = {}
    if isinstance(document.get("studies"), list):
        for study in document["studies"]:
            for analysis in (study or {}).get("analyses", None) or []:
                for point in (analysis or {}).get("points", None) or []:
                    if any(_nonfinite((point or {}).get("coordinates"))):
                        key = str(study.get("id"))
                        bad[key] = bad.get(key, 0) + 1
    else:
        for study_id, study in document.items():
            contrasts = study.get("contrasts") if isinstance(study, dict) else None
            for contrast in (contrasts or {}).values():
                coords = (contrast or {}).get("coords") or {}
                flags = [_nonfinite(coords.get(axis, [])) for axis in "xyz"]
                n = sum(any(f) for f in zip(*flags, strict=False))
                if n:
                    bad[str(study_id)] = bad.get(str(study_id), 0) + n
    if bad:
        total = sum(bad.values())
        warnings.warn(
            f"{what} has {total} focus/foci with a NaN, infinite or missing "
            f"coordinate in {len(bad)} study(ies), e.g. {next(iter(bad))!r}; they "
            "are dropped.",
            UserWarning,
            stacklevel=4,
        )


def _collection_from_studyset(studyset: Any, name: str, unspecified: str) -> Collection:
    """Read every table of a Studyset through its public accessors."""
    if len(studyset) == 0:
        raise ValueError(
            "The 'source' argument of load_collection holds no analyses; a collection "
            "must hold at least one."
        )
    metadata = studyset.metadata
    ids = pd.Index(metadata["id"].astype(str).to_numpy(dtype=object), name="id")
    study_of = pd.Series(
        metadata["study_id"].astype(str).to_numpy(dtype=object),
        index=ids,
        name="study_id",
        dtype=object,
    )
    if not ids.is_unique:
        duplicated = ids[ids.duplicated()].unique().tolist()
        raise ValueError(
            "The 'source' argument of load_collection has duplicated analysis ids "
            f"{_preview(duplicated)}; analysis ids must be unique."
        )
    raw = studyset.with_context(space=None).coordinates
    return Collection(
        name=str(name or studyset.name or studyset.id or ""),
        _study_of=study_of,
        _texts=_text_table(studyset, study_of),
        _coordinates=_harmonised_coordinates(raw, unspecified),
        _metadata=_per_analysis(metadata, ids),
        _annotations=_per_analysis(studyset.annotations_df, ids),
        _images=_per_analysis(studyset.images, ids),
    )


def _per_analysis(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Index a NiMARE frame by analysis id, without its id columns."""
    frame = frame.set_index(frame["id"].astype(str).to_numpy(dtype=object))
    frame = frame.drop(columns=[c for c in _ID_COLUMNS if c in frame.columns])
    frame = frame.reindex(ids)
    frame.index.name = "id"
    frame.attrs = {}
    return frame


# ------------------------------------------------------------------- texts
def _text_table(studyset: Any, study_of: pd.Series) -> pd.DataFrame:
    """One column per text source, indexed by analysis id, None where missing."""
    frame = studyset.texts
    frame = frame.set_index(frame["id"].astype(str).to_numpy(dtype=object))
    frame = frame.reindex(study_of.index)
    columns: dict[str, list[str | None]] = {
        str(c): [_clean_text(v) for v in frame[c].tolist()]
        for c in frame.columns
        if c not in _ID_COLUMNS
    }
    titles: dict[str, str | None] = {}
    abstracts: dict[str, str | None] = {}
    for study in studyset.studies:
        # NiMARE names an untitled study after its id; that is not a title.
        title = _clean_text(study.name)
        titles[study.id] = None if title == study.id else title
        abstracts[study.id] = _clean_text(study.description)
    for field, by_study in (("title", titles), ("abstract", abstracts)):
        fallback = [by_study.get(s) for s in study_of.tolist()]
        own = columns.get(field, [None] * len(fallback))
        columns[field] = [
            a if a is not None else b for a, b in zip(own, fallback, strict=True)
        ]
    order = [c for c in _TEXT_ORDER if c in columns] + sorted(
        set(columns) - set(_TEXT_ORDER)
    )
    table = pd.DataFrame(
        {c: pd.Series(columns[c], index=study_of.index, dtype=object) for c in order},
        index=study_of.index,
    )
    return _drop_empty_columns(table)


def _drop_empty_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Keep the text columns that hold at least one text."""
    return table[[c for c in table.columns if table[c].notna().any()]]


def _clean_text(value: Any) -> str | None:
    """Return a stripped string, or None for a missing or blank value."""
    if _is_missing(value):
        return None
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value if not _is_missing(v))
    text = str(value).strip()
    return text or None


def _join_texts(parts: Sequence[str | None], sep: str) -> str | None:
    """Join the non-missing parts, or return None when all are missing."""
    present = [p for p in parts if p is not None]
    return sep.join(present) if present else None


def _check_sources_exist(
    names: Sequence[str], available: Sequence[str], where: str
) -> None:
    """Raise a ValueError listing the available text sources."""
    missing = [n for n in names if n not in available]
    if missing:
        argument = "text_sources" if where == "load_collection" else "source"
        raise ValueError(
            f"The '{argument}' argument of {where} asks for text source(s) "
            f"{_preview(missing)}, which this collection does not have; available: "
            f"{_preview(list(available), limit=None) if available else 'none'}."
        )


# ------------------------------------------------------------- coordinates
def _classify_space(label: Any) -> str | None:
    """Return ``"MNI"``, ``"TAL"``, ``"UNSPECIFIED"`` or None (unrecognised)."""
    lowered = "" if _is_missing(label) else str(label).strip().lower()
    if lowered in _UNSPECIFIED_LABELS:
        return "UNSPECIFIED"
    if lowered.startswith(_MNI_PREFIXES):
        return "MNI"
    if lowered.startswith(_TALAIRACH_PREFIXES):
        return "TAL"
    return None


def _harmonised_coordinates(raw: pd.DataFrame, unspecified: str) -> pd.DataFrame:
    """Return the foci of a raw coordinates frame, all in MNI space."""
    from nimare.utils import tal2mni

    reported = [None if _is_missing(s) else str(s) for s in raw["space"].tolist()]
    kinds = pd.Series(
        [_classify_space(s) for s in reported], index=raw.index, dtype=object
    )
    _check_spaces(raw, reported, kinds, unspecified)
    xyz = raw[["x", "y", "z"]].to_numpy(dtype=float, copy=True)
    is_tal = (kinds == "TAL").to_numpy()
    if is_tal.any():
        xyz[is_tal] = tal2mni(xyz[is_tal])
    extras = [c for c in raw.columns if c not in (*_ID_COLUMNS, "x", "y", "z", "space")]
    out = pd.DataFrame(
        {
            "id": raw["id"].astype(str).to_numpy(dtype=object),
            "study_id": raw["study_id"].astype(str).to_numpy(dtype=object),
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
            "space": np.full(len(raw), "MNI", dtype=object),
            "reported_space": np.asarray(reported, dtype=object),
        }
    )
    for column in extras:
        out[column] = raw[column].to_numpy()
    if unspecified == "drop":
        out = out[(kinds != "UNSPECIFIED").to_numpy()].reset_index(drop=True)
    return out


def _check_spaces(
    raw: pd.DataFrame, reported: list[str | None], kinds: pd.Series, unspecified: str
) -> None:
    """Raise for unrecognised spaces, and for unspecified ones when asked to."""
    unknown = kinds.isna().to_numpy()
    if unknown.any():
        labels = pd.Series(reported, dtype=object)[unknown].value_counts()
        first = str(raw["id"].to_numpy()[unknown][0])
        counts = ", ".join(f"{label!r} ({n} foci)" for label, n in labels.items())
        raise ValueError(
            "The 'source' argument of load_collection has foci in an unrecognised "
            f"coordinate space: {counts}, e.g. in analysis {first!r}. Expected MNI "
            "('MNI', 'mni152_2mm', 'ICBM152', ...) or Talairach ('TAL', 'talairach'); "
            "the placeholders 'UNKNOWN' and 'OTHER' are handled by 'unspecified_space'."
        )
    is_unspecified = (kinds == "UNSPECIFIED").to_numpy()
    if not is_unspecified.any():
        return
    labels = pd.Series([str(s) for s in reported], dtype=object)[is_unspecified]
    counts = ", ".join(f"{k!r}: {n}" for k, n in labels.value_counts().items())
    if unspecified == "raise":
        raise ValueError(
            f"The 'source' argument of load_collection has {int(is_unspecified.sum())} "
            f"foci whose coordinate space is unspecified ({counts}); pass "
            "unspecified_space='keep' to read them as MNI, as NiMARE does, or "
            "unspecified_space='drop' to leave them out."
        )
    action = "kept as MNI" if unspecified == "keep" else "dropped"
    _LOGGER.debug(
        "%d foci in an unspecified space (%s) %s.", is_unspecified.sum(), counts, action
    )


# ----------------------------------------------------------------- helpers
def _is_missing(value: Any) -> bool:
    """Return True for None, NaN and pandas' missing markers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _preview(values: Sequence[Any], limit: int | None = 5) -> str:
    """Quote the first ``limit`` values, saying how many more there are."""
    shown = values if limit is None else values[:limit]
    text = ", ".join(repr(v) for v in shown)
    hidden = len(values) - len(shown)
    return f"{text} and {hidden} more" if hidden > 0 else text


def _as_names(values: Any, *, argument: str, function: str) -> list[str]:
    """Return a str, or an iterable of str, as a list of str."""
    if isinstance(values, str):
        return [values]
    if isinstance(values, (pd.Index, pd.Series, np.ndarray)):
        values = values.tolist()
    if isinstance(values, Iterable) and not isinstance(values, (bytes, dict)):
        names = list(values)
        if all(isinstance(v, str) for v in names):
            return names
        bad = next(v for v in names if not isinstance(v, str))
        raise TypeError(
            f"The '{argument}' argument of {function} must hold strings; got "
            f"{type(bad).__name__} {bad!r} among them."
        )
    raise TypeError(
        f"The '{argument}' argument of {function} must be a str or a sequence of str; "
        f"got {type(values).__name__} instead."
    )


def _check_choice(
    value: Any, choices: Sequence[str], argument: str, function: str = "load_collection"
) -> None:
    """Raise a ValueError unless ``value`` is one of ``choices``."""
    check_param(value, argument, function, [Options(*choices)], kind="argument")


def _n_studies(size: Any, n_studies: int, argument: str) -> int:
    """Turn a fraction or a count of studies into a count."""
    if size is None:
        return 0
    expected = (
        f"The '{argument}' argument of Collection.split must be a float in [0, 1) or "
        f"an int in [0, {n_studies})"
    )
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise TypeError(f"{expected}; got {type(size).__name__} instead.")
    if isinstance(size, numbers.Integral):
        if not 0 <= size < n_studies:
            raise ValueError(f"{expected}; got {size!r} instead.")
        return int(size)
    if not 0.0 <= size < 1.0:
        raise ValueError(f"{expected}; got {size!r} instead.")
    return math.ceil(float(size) * n_studies)
