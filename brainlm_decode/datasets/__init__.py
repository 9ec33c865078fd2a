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

from brainlm_decode.datasets._fetch import (
    DATA_DIR_ENV_VAR,
    FILE_REGISTRY,
    ChecksumError,
    DataUnavailableError,
    fetch_file,
    fetch_registered,
    get_data_dir,
)
from brainlm_decode.datasets.abide import (
    ABIDE_PCP_ATLASES,
    load_abide_pcp,
    load_abide_pitt,
    read_abide_phenotypes,
)
from brainlm_decode.datasets.atlases import (
    fetch_atlas_difumo,
    fetch_atlas_schaefer_tian,
    parse_network_names,
    read_label_lut,
)
from brainlm_decode.datasets.cognitive_atlas import (
    COGNITIVE_ATLAS_FILES,
    fetch_cognitive_atlas_snapshot,
)
from brainlm_decode.datasets.networks import (
    SUBCORTEX_NETWORK,
    YEO7_NETWORKS,
    available_network_tables,
    load_network_labels,
)
from brainlm_decode.datasets.synthetic import make_fmri_cohort, make_studies_collection

__all__ = [
    "ABIDE_PCP_ATLASES",
    "COGNITIVE_ATLAS_FILES",
    "DATA_DIR_ENV_VAR",
    "FILE_REGISTRY",
    "SUBCORTEX_NETWORK",
    "YEO7_NETWORKS",
    "ChecksumError",
    "DataUnavailableError",
    "available_network_tables",
    "fetch_atlas_difumo",
    "fetch_atlas_schaefer_tian",
    "fetch_cognitive_atlas_snapshot",
    "fetch_file",
    "fetch_registered",
    "get_data_dir",
    "load_abide_pcp",
    "load_abide_pitt",
    "load_network_labels",
    "make_fmri_cohort",
    "make_studies_collection",
    "parse_network_names",
    "read_abide_phenotypes",
    "read_label_lut",
]
