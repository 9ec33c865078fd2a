"""Dataset fetchers, loaders and synthetic data makers.

Fetchers cache files under the data directory (see :func:`get_data_dir`),
verify SHA-256 checksums, never touch the network when the files are cached,
and, offline, raise a :class:`DataUnavailableError` that says where to put the
files by hand.

Fetchers
--------
fetch_file
    Download (or find in the cache) one checksummed file.
fetch_registered
    Fetch a file listed in :data:`FILE_REGISTRY`.
fetch_atlas_difumo
    DiFuMo probabilistic atlases (through nilearn).
fetch_atlas_schaefer_tian
    Schaefer-2018 cortex + Tian-2020 subcortex atlases (116 or 450 ROIs).
fetch_cognitive_atlas_snapshot
    Cognitive Atlas JSON export (tasks, concepts, domains, assertions).

Local loaders (nothing downloaded)
----------------------------------
load_abide_pcp
    ABIDE-I PCP (C-PAC) ROI time series, CC200 or Harvard-Oxford, per-site TR.
load_abide_pitt
    ABIDE-I PITT DPARSF AAL116 ROI time series.
load_network_labels
    Packaged ROI -> Yeo-7 network tables (``"cc200"``, ``"ho"``, ``"aal116"``).

Synthetic data
--------------
make_studies_collection
    NiMARE-style studies with planted text <-> location topics.
make_fmri_cohort
    Resting-state ROI time series with a planted group connectivity effect.
"""

from brainlm_decode._lazy import attach

_LAZY = {
    "DATA_DIR_ENV_VAR": "brainlm_decode.datasets._fetch",
    "FILE_REGISTRY": "brainlm_decode.datasets._fetch",
    "ChecksumError": "brainlm_decode.datasets._fetch",
    "DataUnavailableError": "brainlm_decode.datasets._fetch",
    "fetch_file": "brainlm_decode.datasets._fetch",
    "fetch_registered": "brainlm_decode.datasets._fetch",
    "get_data_dir": "brainlm_decode.datasets._fetch",
    "ABIDE_PCP_ATLASES": "brainlm_decode.datasets.abide",
    "load_abide_pcp": "brainlm_decode.datasets.abide",
    "load_abide_pitt": "brainlm_decode.datasets.abide",
    "read_abide_phenotypes": "brainlm_decode.datasets.abide",
    "fetch_atlas_difumo": "brainlm_decode.datasets.atlases",
    "fetch_atlas_schaefer_tian": "brainlm_decode.datasets.atlases",
    "parse_network_names": "brainlm_decode.datasets.atlases",
    "read_label_lut": "brainlm_decode.datasets.atlases",
    "COGNITIVE_ATLAS_FILES": "brainlm_decode.datasets.cognitive_atlas",
    "fetch_cognitive_atlas_snapshot": "brainlm_decode.datasets.cognitive_atlas",
    "SUBCORTEX_NETWORK": "brainlm_decode.datasets.networks",
    "YEO7_NETWORKS": "brainlm_decode.datasets.networks",
    "available_network_tables": "brainlm_decode.datasets.networks",
    "load_network_labels": "brainlm_decode.datasets.networks",
    "make_fmri_cohort": "brainlm_decode.datasets.synthetic",
    "make_studies_collection": "brainlm_decode.datasets.synthetic",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "DataUnavailableError",
    "available_network_tables",
    "fetch_atlas_difumo",
    "fetch_atlas_schaefer_tian",
    "get_data_dir",
    "load_abide_pcp",
    "load_abide_pitt",
    "load_network_labels",
    "make_fmri_cohort",
    "make_studies_collection",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
