"""The :class:`CognitiveAtlas` ontology: tasks, concepts, domains and their links."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from brainlm_decode.ontology._tables import (
    COGNITIVE_ATLAS_DOMAINS,
    FORMAT_NAME,
    FORMAT_VERSION,
    check_snapshot,
    coo_lists,
    entity_frame,
    incidence,
    link_matrix,
    non_empty,
)
from brainlm_decode.ontology._utils import (
    LEVELS,
    NameIndex,
    OnInvalid,
    atomic_write_text,
    check_level,
    check_on_invalid,
    mapping_pairs,
    preview,
    report,
)

DEFAULT_FILENAME = "cognitive_atlas.json"


class CognitiveAtlas:
    """Cognitive ontology of tasks, the concepts they measure and concept domains.

    Holds the Cognitive Atlas (Poldrack et al. 2011) or any ontology of the same
    shape: tasks and concepts with names and definitions, the ten concept classes
    ("domains"), and two sparse 0/1 incidence matrices, task -> concept and concept
    -> domain, used for noisy-OR decoding::

        P(C|A) = 1 - prod_{t measures C} (1 - P(t|A))
               = 1 - exp(log1p(-P_task) @ atlas.task_concept_matrix)

    Rows of the matrices follow :attr:`task_ids` / :attr:`concept_ids`, columns
    :attr:`concept_ids` / :attr:`domain_ids`. Build one with a loader
    (:meth:`from_json_dump`, :meth:`from_api`, :meth:`from_tables`, :meth:`load`)
    or directly from tables.

    Parameters
    ----------
    tasks : DataFrame, list of dict or path
        Table of tasks with columns ``id``, ``name`` and ``definition``
        (``definition_text`` and ``description`` are accepted too). Without an
        ``id`` column the names serve as ids. Paths may point to CSV, TSV or JSON.
    concepts : DataFrame, list of dict, path or None, default=None
        Table of concepts, same columns as ``tasks``, plus an optional ``domain``
        column (domain id, or ``id_concept_class``) used when ``concept_domains``
        is None.
    domains : DataFrame, list of dict, path or None, default=None
        Table of domains (``id``, ``name``, optional ``definition``). ``None`` uses
        the ten Cognitive Atlas classes :data:`COGNITIVE_ATLAS_DOMAINS`.
    task_concepts : DataFrame, dict, list of pairs, path or None, default=None
        Which concepts each task measures: columns ``task`` and ``concept`` (long
        format) or ``task, concept_1, ..., concept_n`` (wide format, empty cells
        ignored), a dict ``{task: [concept, ...]}`` or ``(task, concept)`` pairs.
        Entries are ids or names. Duplicate links are merged.
    concept_domains : DataFrame, dict, list of pairs, path or None, default=None
        Domain of each concept, same forms as ``task_concepts`` with columns
        ``concept`` and ``domain``.
    on_invalid : {"raise", "warn", "ignore"}, default="raise"
        What to do with content that can be kept but is suspicious: names shared
        by several entries (compared case-insensitively), entries without a
        name (the id is used as name) and empty definitions (:meth:`vocabulary`
        uses the name instead). Duplicate ids, empty ids and links to unknown or
        ambiguous entries always raise a ``ValueError``.
    source : str or None, default=None
        Free text describing where the ontology comes from (kept on save).

    Attributes
    ----------
    source : str or None
        Origin of the ontology.
    metadata : dict
        Provenance kept on save (e.g. ``version``, ``date``, ``license`` and
        ``attribution`` of a shipped snapshot); empty unless a loader sets it.

    See Also
    --------
    brainlm_decode.ontology.load_cognitive_atlas_dump : Load the JSON export.
    brainlm_decode.ontology.fetch_cognitive_atlas : Load from the live API (cached).

    Notes
    -----
    Tasks without any concept are kept and flagged (``has_concepts`` is False):
    they are valid decoding targets at the task level and contribute nothing to
    concepts. Concepts without a domain likewise have ``domain`` missing.

    Examples
    --------
    >>> from brainlm_decode.ontology import CognitiveAtlas
    >>> atlas = CognitiveAtlas(
    ...     tasks=[{"id": "t1", "name": "n-back task", "definition": "..."}],
    ...     concepts=[{"id": "c1", "name": "working memory", "definition": "...",
    ...                "domain": "ctp_C5"}],
    ...     task_concepts={"t1": ["c1"]},
    ... )
    >>> atlas.task_concept_matrix.toarray()
    array([[1.]])
    """

    def __init__(
        self,
        tasks: Any,
        concepts: Any = None,
        domains: Any = None,
        task_concepts: Any = None,
        concept_domains: Any = None,
        *,
        on_invalid: OnInvalid = "raise",
        source: str | None = None,
    ) -> None:
        check_on_invalid(on_invalid)
        task_df, _ = entity_frame(tasks, "tasks", "task", on_invalid)
        if concepts is None:
            concepts = pd.DataFrame(columns=["id", "name", "definition"])
        concept_df, concept_domain_col = entity_frame(
            concepts, "concepts", "concept", on_invalid
        )
        if domains is None:
            domains = [
                {"id": k, "name": v, "definition": v}
                for k, v in COGNITIVE_ATLAS_DOMAINS.items()
            ]
        domain_df, _ = entity_frame(domains, "domains", "domain", on_invalid)
        indexes = {
            level: NameIndex(frame["id"], frame["name"], level)
            for level, frame in zip(
                LEVELS, (task_df, concept_df, domain_df), strict=True
            )
        }
        if concept_domains is None and concept_domain_col is not None:
            concept_domains = [
                (id_, dom)
                for id_, dom in zip(concept_df["id"], concept_domain_col, strict=True)
                if dom
            ]
        tc = link_matrix(task_concepts, indexes, "task", "concept", "task_concepts")
        cd = link_matrix(
            concept_domains, indexes, "concept", "domain", "concept_domains"
        )
        self._setup(task_df, concept_df, domain_df, tc, cd, source, indexes)

    # ------------------------------------------------------------------ building

    def _setup(
        self,
        task_df: pd.DataFrame,
        concept_df: pd.DataFrame,
        domain_df: pd.DataFrame,
        tc: sparse.csr_array,
        cd: sparse.csr_array,
        source: str | None,
        indexes: dict[str, NameIndex] | None = None,
    ) -> None:
        """Store validated parts and derive flags, orders and lookups."""
        task_df = task_df[["id", "name", "definition"]].reset_index(drop=True)
        concept_df = concept_df[["id", "name", "definition"]].reset_index(drop=True)
        domain_df = domain_df[["id", "name", "definition"]].reset_index(drop=True)
        task_df["has_definition"] = non_empty(task_df["definition"])
        task_df["has_concepts"] = np.diff(tc.indptr) > 0
        first_domain = [
            domain_df["id"].iat[cd.indices[cd.indptr[i]]]
            if cd.indptr[i + 1] > cd.indptr[i]
            else None
            for i in range(cd.shape[0])
        ]
        concept_df["domain"] = pd.Series(first_domain, dtype=object)
        concept_df["has_definition"] = non_empty(concept_df["definition"])
        concept_df["has_tasks"] = np.bincount(tc.indices, minlength=tc.shape[1]) > 0
        self._frames = {"task": task_df, "concept": concept_df, "domain": domain_df}
        if indexes is None:
            indexes = {
                level: NameIndex(frame["id"], frame["name"], level)
                for level, frame in self._frames.items()
            }
        self._indexes = indexes
        self._orders = {
            level: pd.Index(frame["id"], dtype=object, name=f"{level}_id")
            for level, frame in self._frames.items()
        }
        self._name_orders = {
            level: pd.Index(frame["name"], dtype=object, name=f"{level}_name")
            for level, frame in self._frames.items()
        }
        self._tc = tc
        self._cd = cd
        self.source = source
        self.metadata: dict[str, Any] = {}

    @classmethod
    def _from_parts(
        cls,
        task_df: pd.DataFrame,
        concept_df: pd.DataFrame,
        domain_df: pd.DataFrame,
        tc: sparse.csr_array,
        cd: sparse.csr_array,
        source: str | None,
    ) -> CognitiveAtlas:
        """Build from already validated parts (no checks)."""
        atlas = cls.__new__(cls)
        atlas._setup(
            task_df.copy(), concept_df.copy(), domain_df.copy(), tc, cd, source
        )
        return atlas

    # ---------------------------------------------------------------- tables

    @property
    def tasks(self) -> pd.DataFrame:
        """Tasks in matrix row order (a copy).

        Columns ``id``, ``name``, ``definition``, ``has_definition`` and
        ``has_concepts`` (False for tasks linked to no concept).
        """
        return self._frames["task"].copy()

    @property
    def concepts(self) -> pd.DataFrame:
        """Concepts in matrix column order (a copy).

        Columns ``id``, ``name``, ``definition``, ``domain`` (first domain id, or
        None), ``has_definition`` and ``has_tasks``.
        """
        return self._frames["concept"].copy()

    @property
    def domains(self) -> pd.DataFrame:
        """Domains (concept classes) in matrix column order (a copy).

        Columns ``id``, ``name`` and ``definition``.
        """
        return self._frames["domain"].copy()

    @property
    def task_ids(self) -> pd.Index:
        """Task ids: the row order of :attr:`task_concept_matrix`."""
        return self._orders["task"]

    @property
    def concept_ids(self) -> pd.Index:
        """Concept ids: the column order of :attr:`task_concept_matrix`."""
        return self._orders["concept"]

    @property
    def domain_ids(self) -> pd.Index:
        """Domain ids: the column order of :attr:`concept_domain_matrix`."""
        return self._orders["domain"]

    @property
    def task_names(self) -> pd.Index:
        """Task names, in :attr:`task_ids` order."""
        return self._name_orders["task"]

    @property
    def concept_names(self) -> pd.Index:
        """Concept names, in :attr:`concept_ids` order."""
        return self._name_orders["concept"]

    @property
    def domain_names(self) -> pd.Index:
        """Domain names, in :attr:`domain_ids` order."""
        return self._name_orders["domain"]

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self._orders["task"])

    @property
    def n_concepts(self) -> int:
        """Number of concepts."""
        return len(self._orders["concept"])

    @property
    def n_domains(self) -> int:
        """Number of domains."""
        return len(self._orders["domain"])

    # ---------------------------------------------------------------- matrices

    @property
    def task_concept_matrix(self) -> sparse.csr_array:
        """Task -> concept incidence, shape ``(n_tasks, n_concepts)``.

        A read-only :class:`scipy.sparse.csr_array` of float64 zeros and ones;
        entry ``(t, c)`` is 1 when task ``t`` measures concept ``c``. The same
        object is returned on every access (no copy): copy it before editing.
        """
        return self._tc

    @property
    def concept_domain_matrix(self) -> sparse.csr_array:
        """Concept -> domain incidence, shape ``(n_concepts, n_domains)``.

        Read-only float64 0/1 :class:`scipy.sparse.csr_array`, shared like
        :attr:`task_concept_matrix`.
        """
        return self._cd

    @property
    def task_concept_links(self) -> pd.DataFrame:
        """Task -> concept links as a long table with columns ``task``, ``concept``."""
        return self._links(self._tc, "task", "concept")

    @property
    def concept_domain_links(self) -> pd.DataFrame:
        """Concept -> domain links as a long table (columns ``concept``, ``domain``)."""
        return self._links(self._cd, "concept", "domain")

    def _links(self, matrix: sparse.csr_array, left: str, right: str) -> pd.DataFrame:
        coo = matrix.tocoo()
        order = np.lexsort((coo.col, coo.row))
        return pd.DataFrame(
            {
                left: np.asarray(self._orders[left], dtype=object)[coo.row[order]],
                right: np.asarray(self._orders[right], dtype=object)[coo.col[order]],
            }
        )

    # ---------------------------------------------------------------- lookups

    def lookup_ids(self, items: str | Iterable[str], level: str = "task") -> Any:
        """Ids of tasks, concepts or domains given by name or id.

        An entry matches an id, else an exact name, else a name compared
        case- and whitespace-insensitively.

        Parameters
        ----------
        items : str or iterable of str
            Names or ids.
        level : {"task", "concept", "domain"}, default="task"
            Which entries to look up.

        Returns
        -------
        ids : str or list of str
            One id for a string input, else a list in input order.

        Raises
        ------
        ValueError
            For unknown entries (with close matches as hints) and for names shared
            by several entries (with their ids).
        """
        check_level(level)
        single = isinstance(items, str)
        rows = self._indexes[level].resolve([items] if single else items, "items")
        ids = [self._orders[level][i] for i in rows]
        return ids[0] if single else ids

    def lookup_names(self, ids: str | Iterable[str], level: str = "task") -> Any:
        """Names of tasks, concepts or domains given by id (or name).

        Parameters
        ----------
        ids : str or iterable of str
            Ids (names are accepted too, as in :meth:`lookup_ids`).
        level : {"task", "concept", "domain"}, default="task"
            Which entries to look up.

        Returns
        -------
        names : str or list of str
            One name for a string input, else a list in input order.
        """
        check_level(level)
        single = isinstance(ids, str)
        rows = self._indexes[level].resolve([ids] if single else ids, "ids")
        names = [self._name_orders[level][i] for i in rows]
        return names[0] if single else names

    def _row(self, item: str, level: str) -> int:
        return self._indexes[level].resolve([item], level)[0]

    def concepts_of(self, task: str) -> pd.DataFrame:
        """Concepts measured by one task, as rows of :attr:`concepts`.

        Parameters
        ----------
        task : str
            Task name or id.

        Returns
        -------
        concepts : DataFrame
            The task's concepts in :attr:`concept_ids` order.
        """
        row = self._row(task, "task")
        cols = self._tc.indices[self._tc.indptr[row] : self._tc.indptr[row + 1]]
        return self._frames["concept"].iloc[np.sort(cols)].copy()

    def tasks_of(self, concept: str) -> pd.DataFrame:
        """Tasks measuring one concept, as rows of :attr:`tasks`.

        Parameters
        ----------
        concept : str
            Concept name or id.

        Returns
        -------
        tasks : DataFrame
            The concept's tasks in :attr:`task_ids` order.
        """
        col = self._row(concept, "concept")
        rows = np.flatnonzero(self._tc[:, [col]].toarray().ravel())
        return self._frames["task"].iloc[rows].copy()

    def domains_of(self, concept: str) -> pd.DataFrame:
        """Domains of one concept, as rows of :attr:`domains`.

        Parameters
        ----------
        concept : str
            Concept name or id.

        Returns
        -------
        domains : DataFrame
            The concept's domains (usually one, none for unclassified concepts).
        """
        row = self._row(concept, "concept")
        cols = self._cd.indices[self._cd.indptr[row] : self._cd.indptr[row + 1]]
        return self._frames["domain"].iloc[np.sort(cols)].copy()

    def vocabulary(
        self, level: str = "task", *, fill_empty: bool = True
    ) -> pd.DataFrame:
        """Names and definitions to embed, in matrix order.

        Parameters
        ----------
        level : {"task", "concept", "domain"}, default="task"
            Which vocabulary.
        fill_empty : bool, default=True
            Use the name where the definition is empty, so that a mix of name and
            definition embeddings stays defined.

        Returns
        -------
        vocabulary : DataFrame
            Columns ``id``, ``name`` and ``definition``, one row per entry, in the
            order of :attr:`task_ids` (or :attr:`concept_ids`, :attr:`domain_ids`).
        """
        check_level(level)
        frame = self._frames[level][["id", "name", "definition"]].copy()
        if fill_empty:
            empty = ~non_empty(frame["definition"])
            frame.loc[empty, "definition"] = frame.loc[empty, "name"]
        return frame

    # ---------------------------------------------------------------- reduce

    def reduced(
        self, tasks: Iterable[str] | None = None, task_concepts: Any = None
    ) -> CognitiveAtlas:
        """Ontology restricted to a curated list of tasks.

        Concepts are restricted to those measured by the kept tasks and domains to
        those of the kept concepts; orders follow this ontology, except tasks,
        which follow ``tasks`` (or the table).

        Parameters
        ----------
        tasks : iterable of str or None, default=None
            Task names or ids to keep. ``None`` takes the tasks of
            ``task_concepts`` in table order.
        task_concepts : DataFrame, dict, list of pairs, path or None, default=None
            Curated task -> concept table replacing this ontology's links for the
            kept tasks: a CSV/TSV/JSON path or DataFrame with columns ``task`` and
            ``concept_1, ..., concept_n`` (or a long ``task, concept`` table; rows
            of the same task are merged), a dict ``{task: [concept, ...]}``, or
            pairs. Names or ids of this ontology. ``None`` keeps this ontology's
            links.

        Returns
        -------
        atlas : CognitiveAtlas
            A new, smaller ontology. Tasks of ``tasks`` missing from
            ``task_concepts`` are kept with ``has_concepts`` False (and a warning).

        Raises
        ------
        ValueError
            If both arguments are None, a task is listed twice, names or ids are
            unknown or ambiguous, or ``task_concepts`` lists tasks not in ``tasks``.
        """
        if tasks is None and task_concepts is None:
            raise ValueError("reduced() needs tasks, task_concepts or both; got None.")
        if isinstance(tasks, str):
            raise TypeError(
                f"tasks must be a list of task names or ids, not a string; got {tasks!r}."
            )
        index = self._indexes["task"]
        pairs: list[tuple[str, str]] | None = None
        if task_concepts is not None:
            pairs, lefts = mapping_pairs(
                task_concepts, "task", "concept", "task_concepts"
            )
            # a long table repeats a task on each of its rows
            left_rows = list(
                dict.fromkeys(index.resolve(lefts, "task_concepts (task column)"))
            )
        rows = index.resolve(tasks, "tasks") if tasks is not None else left_rows
        self._check_no_repeats(rows, "tasks" if tasks is not None else "task_concepts")
        if pairs is None:
            tc = self._tc[np.asarray(rows, dtype=np.int64)]
        else:
            position = {r: i for i, r in enumerate(rows)}
            outside = sorted({self.task_ids[r] for r in left_rows if r not in position})
            if outside:
                raise ValueError(
                    f"task_concepts lists tasks that are not in tasks: {preview(outside)}."
                )
            link_rows = index.resolve((a for a, _ in pairs), "task_concepts")
            cols = self._indexes["concept"].resolve(
                (b for _, b in pairs), "task_concepts (concept column)"
            )
            tc = incidence(
                [position[r] for r in link_rows], cols, (len(rows), self.n_concepts)
            )
            linked = set(link_rows)
            missing = [self.task_ids[r] for r in rows if r not in linked]
            if missing:
                report(
                    f"task_concepts gives no concept for {len(missing)} task(s) of "
                    f"tasks; they are kept without concepts: {preview(missing)}.",
                    "warn",
                )
        concept_cols = np.flatnonzero(np.bincount(tc.indices, minlength=tc.shape[1]))
        tc = tc[:, concept_cols]
        cd = self._cd[concept_cols]
        domain_cols = np.flatnonzero(np.bincount(cd.indices, minlength=cd.shape[1]))
        cd = cd[:, domain_cols]
        return self._from_parts(
            self._frames["task"].iloc[rows],
            self._frames["concept"].iloc[concept_cols],
            self._frames["domain"].iloc[domain_cols],
            incidence(*coo_lists(tc), tc.shape),
            incidence(*coo_lists(cd), cd.shape),
            f"{self.source} (reduced)" if self.source else "reduced",
        )

    def _check_no_repeats(self, rows: list[int], argname: str) -> None:
        counts = np.bincount(np.asarray(rows, dtype=np.int64), minlength=self.n_tasks)
        repeated = [self.task_ids[i] for i in np.flatnonzero(counts > 1)]
        if repeated:
            raise ValueError(
                f"{argname} lists the same task twice: {preview(repeated)}."
            )

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (format ``brainlm_decode.CognitiveAtlas`` v1).

        Returns
        -------
        data : dict
            Keys ``format``, ``format_version``, ``source``, ``tasks``,
            ``concepts``, ``domains`` (lists of ``{"id", "name", "definition"}``),
            ``task_concepts`` and ``concept_domains`` (lists of id pairs),
            ``metadata`` (provenance dict).
        """
        from brainlm_decode._version import __version__

        def records(level: str) -> list[dict[str, str]]:
            frame = self._frames[level][["id", "name", "definition"]]
            return [
                {"id": str(i), "name": str(n), "definition": str(d)}
                for i, n, d in frame.itertuples(index=False)
            ]

        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "brainlm_decode_version": __version__,
            "source": self.source,
            "tasks": records("task"),
            "concepts": records("concept"),
            "domains": records("domain"),
            "task_concepts": self.task_concept_links.values.tolist(),
            "concept_domains": self.concept_domain_links.values.tolist(),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CognitiveAtlas:
        """Rebuild an ontology from :meth:`to_dict` output.

        Parameters
        ----------
        data : dict
            A snapshot in format ``brainlm_decode.CognitiveAtlas``.

        Returns
        -------
        atlas : CognitiveAtlas

        Raises
        ------
        ValueError
            If ``data`` is not such a snapshot or was written by a newer format.
        """
        check_snapshot(data)
        columns = ["id", "name", "definition"]
        atlas = cls(
            tasks=pd.DataFrame(data["tasks"], columns=columns),
            concepts=pd.DataFrame(data["concepts"], columns=columns),
            domains=pd.DataFrame(data["domains"], columns=columns),
            task_concepts=[tuple(p) for p in data["task_concepts"]],
            concept_domains=[tuple(p) for p in data["concept_domains"]],
            on_invalid="ignore",
            source=data.get("source"),
        )
        atlas.metadata = dict(data.get("metadata") or {})
        return atlas

    def to_json(self, indent: int | None = None) -> str:
        """Snapshot as a JSON string (see :meth:`to_dict`).

        Parameters
        ----------
        indent : int or None, default=None
            Indentation passed to :func:`json.dumps`.

        Returns
        -------
        text : str
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> CognitiveAtlas:
        """Rebuild an ontology from a :meth:`to_json` string.

        Parameters
        ----------
        text : str or bytes
            JSON text written by :meth:`to_json`.

        Returns
        -------
        atlas : CognitiveAtlas
        """
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"The 'text' argument of CognitiveAtlas.from_json is not valid JSON: "
                f"{exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        return cls.from_dict(document)

    def save(self, path: str | os.PathLike) -> Path:
        """Write a JSON snapshot atomically (temporary file then :func:`os.replace`).

        Parameters
        ----------
        path : str or path-like
            File to write; an existing folder gets ``cognitive_atlas.json`` inside.

        Returns
        -------
        path : Path
            The file written.
        """
        path = Path(path)
        if path.is_dir():
            path = path / DEFAULT_FILENAME
        return atomic_write_text(path, self.to_json(indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> CognitiveAtlas:
        """Read a snapshot written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            The file, or a folder holding ``cognitive_atlas.json``.

        Returns
        -------
        atlas : CognitiveAtlas
        """
        path = Path(path)
        if path.is_dir():
            path = path / DEFAULT_FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"No CognitiveAtlas snapshot at {str(path)!r}.")
        from brainlm_decode._io import read_json

        document = read_json(path, "saved ontology")
        try:
            return cls.from_dict(document)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(
                f"The saved ontology {str(path)!r} is not a CognitiveAtlas snapshot "
                f"written by CognitiveAtlas.save: {type(exc).__name__}: {exc}"
            ) from None

    # ---------------------------------------------------------------- loaders

    @classmethod
    def from_json_dump(cls, path: str | os.PathLike, **kwargs: Any) -> CognitiveAtlas:
        """Load a Cognitive Atlas JSON export folder.

        Parameters
        ----------
        path : str or path-like
            Export folder.
        **kwargs
            Passed to :func:`brainlm_decode.ontology.load_cognitive_atlas_dump`.

        Returns
        -------
        atlas : CognitiveAtlas

        See Also
        --------
        brainlm_decode.ontology.load_cognitive_atlas_dump
        """
        from brainlm_decode.ontology._loaders import load_cognitive_atlas_dump

        return load_cognitive_atlas_dump(path, **kwargs)

    @classmethod
    def from_tables(cls, tasks: Any, **kwargs: Any) -> CognitiveAtlas:
        """Build from user tables (CSV/TSV/JSON paths or DataFrames).

        Parameters
        ----------
        tasks : DataFrame, list of dict or path
            Tasks table.
        **kwargs
            Passed to :func:`brainlm_decode.ontology.load_cognitive_atlas_tables`.

        Returns
        -------
        atlas : CognitiveAtlas

        See Also
        --------
        brainlm_decode.ontology.load_cognitive_atlas_tables
        """
        from brainlm_decode.ontology._loaders import load_cognitive_atlas_tables

        return load_cognitive_atlas_tables(tasks, **kwargs)

    @classmethod
    def from_api(cls, **kwargs: Any) -> CognitiveAtlas:
        """Load the live Cognitive Atlas through its API, cached on disk.

        Parameters
        ----------
        **kwargs
            Passed to :func:`brainlm_decode.ontology.fetch_cognitive_atlas`.

        Returns
        -------
        atlas : CognitiveAtlas

        See Also
        --------
        brainlm_decode.ontology.fetch_cognitive_atlas
        """
        from brainlm_decode.ontology._loaders import fetch_cognitive_atlas

        return fetch_cognitive_atlas(**kwargs)

    # ---------------------------------------------------------------- dunder

    def equals(self, other: object) -> bool:
        """Whether ``other`` holds the same entries, orders and links.

        Parameters
        ----------
        other : object
            Object to compare with; the ``source`` text is not compared.

        Returns
        -------
        equal : bool
        """
        if not isinstance(other, CognitiveAtlas):
            return False
        for level in LEVELS:
            cols = ["id", "name", "definition"]
            if not self._frames[level][cols].equals(other._frames[level][cols]):
                return False
        return all(
            a.shape == b.shape and (a != b).nnz == 0
            for a, b in ((self._tc, other._tc), (self._cd, other._cd))
        )

    def __repr__(self) -> str:
        without = int((~self._frames["task"]["has_concepts"]).sum())
        text = (
            f"CognitiveAtlas({self.n_tasks} tasks ({without} without concepts), "
            f"{self.n_concepts} concepts, {self.n_domains} domains, "
            f"{self._tc.nnz} task-concept links, {self._cd.nnz} concept-domain links"
        )
        if self.source:
            text += f", source={self.source!r}"
        return text + ")"


__all__ = ["CognitiveAtlas"]
