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

from brainlm_decode._lazy import attach

_LAZY = {
    "CognitiveAtlas": "brainlm_decode.ontology._atlas",
    "API_URL": "brainlm_decode.ontology._loaders",
    "DATA_ENV_VAR": "brainlm_decode.ontology._loaders",
    "DUMP_FILES": "brainlm_decode.ontology._loaders",
    "EXPORT_URL": "brainlm_decode.ontology._loaders",
    "CognitiveAtlasDownloadError": "brainlm_decode.ontology._loaders",
    "cognitive_atlas_from_records": "brainlm_decode.ontology._loaders",
    "fetch_cognitive_atlas": "brainlm_decode.ontology._loaders",
    "get_data_dir": "brainlm_decode.ontology._loaders",
    "load_cognitive_atlas_dump": "brainlm_decode.ontology._loaders",
    "load_cognitive_atlas_tables": "brainlm_decode.ontology._loaders",
    "cognitive_atlas_snapshot_info": "brainlm_decode.ontology._snapshot",
    "load_cognitive_atlas_snapshot": "brainlm_decode.ontology._snapshot",
    "resolve_ontology": "brainlm_decode.ontology._snapshot",
    "COGNITIVE_ATLAS_DOMAINS": "brainlm_decode.ontology._tables",
    "CognitiveAtlasWarning": "brainlm_decode.ontology._utils",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "CognitiveAtlas",
    "fetch_cognitive_atlas",
    "load_cognitive_atlas_dump",
    "load_cognitive_atlas_snapshot",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
