"""Cognitive ontologies for decoding: tasks, concepts, domains and their links.

:class:`CognitiveAtlas` holds the Cognitive Atlas (Poldrack et al. 2011) or any
ontology of the same shape, with sparse task -> concept and concept -> domain
incidence matrices for noisy-OR decoding. Loaders:

- :func:`load_cognitive_atlas_snapshot`: the Cognitive Atlas snapshot shipped with
  the package (export of 2020-05-22, CC BY-SA 3.0; checksummed, offline), the
  default ontology of the decoders.
- :func:`load_cognitive_atlas_dump`: the Cognitive Atlas JSON export
  (``TaskCollection.json``, ``ConceptCollection.json``...).
- :func:`fetch_cognitive_atlas`: the live API through :mod:`cognitiveatlas`,
  cached on disk, with a clear error when offline.
- :func:`load_cognitive_atlas_tables`: CSV/TSV/JSON tables written by a user.
- :meth:`CognitiveAtlas.load` / :meth:`CognitiveAtlas.save`: snapshots of the
  object itself, e.g. inside a pretrained bundle.

Examples
--------
>>> from brainlm_decode.ontology import load_cognitive_atlas_dump
>>> atlas = load_cognitive_atlas_dump("path/to/cognitive_atlas")  # doctest: +SKIP
>>> small = atlas.reduced(["n-back task", "stop-signal task"])  # doctest: +SKIP
"""

from brainlm_decode.ontology._atlas import CognitiveAtlas
from brainlm_decode.ontology._loaders import (
    API_URL,
    DATA_ENV_VAR,
    DUMP_FILES,
    EXPORT_URL,
    CognitiveAtlasDownloadError,
    cognitive_atlas_from_records,
    fetch_cognitive_atlas,
    get_data_dir,
    load_cognitive_atlas_dump,
    load_cognitive_atlas_tables,
)
from brainlm_decode.ontology._snapshot import (
    cognitive_atlas_snapshot_info,
    load_cognitive_atlas_snapshot,
    resolve_ontology,
)
from brainlm_decode.ontology._tables import COGNITIVE_ATLAS_DOMAINS
from brainlm_decode.ontology._utils import CognitiveAtlasWarning

__all__ = [
    "API_URL",
    "COGNITIVE_ATLAS_DOMAINS",
    "DATA_ENV_VAR",
    "DUMP_FILES",
    "EXPORT_URL",
    "CognitiveAtlas",
    "CognitiveAtlasDownloadError",
    "CognitiveAtlasWarning",
    "cognitive_atlas_from_records",
    "cognitive_atlas_snapshot_info",
    "fetch_cognitive_atlas",
    "get_data_dir",
    "load_cognitive_atlas_dump",
    "load_cognitive_atlas_snapshot",
    "load_cognitive_atlas_tables",
    "resolve_ontology",
]
