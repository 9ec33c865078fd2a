"""Fetcher of a Cognitive Atlas JSON snapshot (tasks, concepts, domains)."""

from __future__ import annotations

import os
from pathlib import Path

from sklearn.utils import Bunch

from brainlm_decode.datasets._fetch import fetch_registered

__all__ = ["COGNITIVE_ATLAS_FILES", "fetch_cognitive_atlas_snapshot"]

_COGAT_DIR = "cognitive_atlas"

#: Files of the snapshot: ``{key of the returned Bunch: (file name, required)}``.
COGNITIVE_ATLAS_FILES: dict[str, tuple[str, bool]] = {
    "tasks": ("TaskCollection.json", True),
    "concepts": ("ConceptCollection.json", True),
    "concept_classes": ("ConceptClassCollection.json", True),
    "assertions": ("AssertionCollection.json", True),
    "contrasts": ("ContrastCollection.json", False),
    "disorders": ("DisorderCollection.json", False),
}

_DESCRIPTION = """\
Cognitive Atlas snapshot (Poldrack et al. 2011), legacy JSON export of the
knowledge base (https://github.com/CognitiveAtlas/legacy_cogat_linkml).

Each file is a JSON object whose ``"entries"`` list holds the records:

- TaskCollection.json: tasks, with ``definition_text`` and ``asserts`` (ids of
  the concepts the task measures);
- ConceptCollection.json: concepts, with definitions and ``id_concept_class``
  (the domain of the concept, ``ctp_C1`` ... ``ctp_C10``);
- ConceptClassCollection.json: the ten concept classes (domains);
- AssertionCollection.json: concept-task "measured by" assertions;
- ContrastCollection.json, DisorderCollection.json: contrasts and disorders.

Content licence: CC BY-SA. Cite: Poldrack R.A. et al. (2011). The Cognitive
Atlas: toward a knowledge foundation for cognitive neuroscience. Frontiers in
Neuroinformatics 5, 17.
"""


def _local_snapshot(folder: Path) -> dict[str, Path] | None:
    """Paths of the snapshot files in ``folder`` if all required ones are there."""
    paths = {}
    for key, (name, required) in COGNITIVE_ATLAS_FILES.items():
        path = folder / name
        if path.is_file():
            paths[key] = path
        elif required:
            return None
    return paths


def fetch_cognitive_atlas_snapshot(
    data_dir: str | os.PathLike | None = None,
    *,
    verbose: int = 1,
) -> Bunch:
    """Fetch a snapshot of the Cognitive Atlas as JSON files.

    The snapshot is a fixed (checksummed) export of the Cognitive Atlas, so
    that decoding results are reproducible; the live API can differ.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        Either a folder that already holds the snapshot files (at least
        ``TaskCollection.json``, ``ConceptCollection.json``,
        ``ConceptClassCollection.json`` and ``AssertionCollection.json``), used
        in place without checksum and never written to, or the root data
        directory where the snapshot is cached under ``cognitive_atlas/``; see
        :func:`~brainlm_decode.datasets.get_data_dir`.
    verbose : int, default=1
        Verbosity level.

    Returns
    -------
    snapshot : sklearn.utils.Bunch
        Dictionary-like object with the paths (:class:`pathlib.Path`) of the
        files: ``tasks``, ``concepts``, ``concept_classes``, ``assertions``,
        ``contrasts`` and ``disorders`` (the last two are ``None`` when a local
        folder lacks them), ``path`` (the folder) and ``description``. Load a
        file with ``json.load(f)["entries"]``.

    Raises
    ------
    DataUnavailableError
        If the snapshot is neither local nor cached and cannot be downloaded.

    See Also
    --------
    brainlm_decode.ontology.CognitiveAtlas : tasks, concepts and domains as an
        ontology object.

    Examples
    --------
    >>> import json
    >>> from brainlm_decode.datasets import fetch_cognitive_atlas_snapshot
    >>> snapshot = fetch_cognitive_atlas_snapshot()  # doctest: +SKIP
    >>> with open(snapshot.tasks) as f:  # doctest: +SKIP
    ...     tasks = json.load(f)["entries"]
    """
    paths = None
    if data_dir is not None:
        paths = _local_snapshot(Path(data_dir).expanduser().absolute())
    if paths is None:
        paths = {
            key: fetch_registered(
                f"{_COGAT_DIR}/{name}", data_dir=data_dir, verbose=verbose
            )
            for key, (name, _) in COGNITIVE_ATLAS_FILES.items()
        }
    files = {key: paths.get(key) for key in COGNITIVE_ATLAS_FILES}
    return Bunch(
        **files,
        path=paths["tasks"].parent,
        description=_DESCRIPTION,
    )
