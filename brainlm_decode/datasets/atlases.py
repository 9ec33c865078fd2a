"""Atlas fetchers: DiFuMo (through nilearn) and Schaefer-2018 + Tian subcortex."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from sklearn.utils import Bunch

from brainlm_decode.datasets._fetch import (
    DataUnavailableError,
    fetch_registered,
    get_data_dir,
)

# network names: one home, datasets/networks.py (re-exported here)
from brainlm_decode.datasets.networks import SUBCORTEX_NETWORK, YEO7_NETWORKS

__all__ = [
    "SUBCORTEX_NETWORK",
    "YEO7_NETWORKS",
    "fetch_atlas_difumo",
    "fetch_atlas_schaefer_tian",
    "parse_network_names",
    "read_label_lut",
]

_DIFUMO_DIMENSIONS = (64, 128, 256, 512, 1024)
_DIFUMO_OSF_IDS = {
    64: "pqu9r",
    128: "wjvd5",
    256: "3vrct",
    512: "9b76y",
    1024: "34792",
}
_DIFUMO_README_URL = "https://osf.io/4k9bf/download"

# n_rois -> (number of Schaefer parcels, Tian scale, number of Tian ROIs)
_SCHAEFER_TIAN = {116: (100, "S1", 16), 450: (400, "S3", 50)}
_SCHAEFER_TIAN_DIR = "schaefer_tian"

_SCHAEFER_PATTERN = re.compile(r"^(?:7|17)Networks_(LH|RH)_([A-Za-z]+)_")


def _schaefer_tian_filenames(n_rois: int) -> tuple[str, str]:
    """Image and label file names of a Schaefer + Tian combined atlas."""
    parcels, scale, _ = _SCHAEFER_TIAN[n_rois]
    stem = f"Schaefer2018_{parcels}Parcels_7Networks_order_Tian_Subcortex_{scale}"
    return f"{stem}_MNI152NLin6Asym_2mm.nii.gz", f"{stem}_label.txt"


def parse_network_names(
    labels: Iterable[str], *, default: str = SUBCORTEX_NETWORK
) -> list[str]:
    """Extract the Yeo network of each Schaefer-2018 parcel name.

    Parameters
    ----------
    labels : iterable of str
        ROI names, e.g. ``"7Networks_LH_Vis_1"`` or ``"HIP-head-m-rh"``.
    default : str, default="Subcortex"
        Network given to names that are not Schaefer parcel names (Tian
        subcortex, cerebellum, ...).

    Returns
    -------
    networks : list of str
        One network name per label (``"Vis"``, ``"SomMot"``, ``"DorsAttn"``,
        ``"SalVentAttn"``, ``"Limbic"``, ``"Cont"``, ``"Default"`` for the
        7-network parcellation), in the order of ``labels``.

    Examples
    --------
    >>> from brainlm_decode.datasets import parse_network_names
    >>> parse_network_names(["7Networks_LH_Vis_1", "7Networks_RH_Default_PFCv_2",
    ...                      "HIP-rh"])
    ['Vis', 'Default', 'Subcortex']
    """
    networks = []
    for label in labels:
        match = _SCHAEFER_PATTERN.match(str(label))
        networks.append(match.group(2) if match else default)
    return networks


def _hemisphere(label: str) -> str:
    """Hemisphere (``"L"``/``"R"``) of a Schaefer or Tian ROI name, or ``""``."""
    match = _SCHAEFER_PATTERN.match(label)
    if match:
        return match.group(1)[0]
    lowered = label.lower()
    if lowered.endswith(("-lh", "_lh")):
        return "L"
    if lowered.endswith(("-rh", "_rh")):
        return "R"
    return ""


def read_label_lut(path: str | os.PathLike) -> pd.DataFrame:
    """Read a label file with alternating ``name`` / ``index R G B A`` lines.

    This is the format of the Tian (Melbourne subcortex) and Schaefer + Tian
    ``*_label.txt`` files (FreeSurfer/Connectome Workbench label tables).

    Parameters
    ----------
    path : str or os.PathLike
        Path of the label file.

    Returns
    -------
    lut : pandas.DataFrame
        Look-up table with columns ``index`` (int), ``name``, ``network`` (see
        :func:`parse_network_names`), ``hemisphere`` (``"L"``, ``"R"`` or
        ``""``) and ``color`` (``"#rrggbb"``), sorted by index, with a first
        ``Background`` row of index 0 as in nilearn's atlas look-up tables.

    Raises
    ------
    ValueError
        If the file does not follow the expected format.
    """
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if len(lines) % 2:
        raise ValueError(
            f"The label file {str(path)!r} must alternate 'name' and "
            f"'index R G B A' lines; it has an odd number ({len(lines)}) of "
            "non-empty lines."
        )
    rows = []
    for name, values in zip(lines[::2], lines[1::2], strict=True):
        fields = values.split()
        if len(fields) < 4 or not all(f.lstrip("-").isdigit() for f in fields):
            raise ValueError(
                f"Expected a line 'index R G B A' after {name!r} in the label "
                f"file {str(path)!r}. Got {values!r} instead."
            )
        index, red, green, blue = (int(f) for f in fields[:4])
        rows.append((index, name, f"#{red:02x}{green:02x}{blue:02x}"))
    lut = pd.DataFrame(rows, columns=["index", "name", "color"])
    lut.insert(2, "network", parse_network_names(lut["name"]))
    lut.insert(3, "hemisphere", [_hemisphere(n) for n in lut["name"]])
    background = pd.DataFrame(
        {
            "index": [0],
            "name": ["Background"],
            "network": ["Background"],
            "hemisphere": [""],
            "color": ["#000000"],
        }
    )
    lut = pd.concat([background, lut.sort_values("index")], ignore_index=True)
    return lut


def _find_local_files(folders: Sequence[Path], names: Sequence[str]) -> list[Path]:
    """Return the files ``names`` from the first folder that holds them all."""
    for folder in folders:
        paths = [folder / name for name in names]
        if all(p.is_file() for p in paths):
            return paths
    return []


def _check_schaefer_tian(lut: pd.DataFrame, maps: Path, n_rois: int) -> None:
    """Check that the label table and the image describe ``n_rois`` ROIs."""
    import nibabel as nib
    import numpy as np

    indices = lut["index"].to_numpy()[1:]
    if not np.array_equal(indices, np.arange(1, n_rois + 1)):
        raise ValueError(
            f"The label file of the Schaefer + Tian atlas must list the indices "
            f"1..{n_rois}. Got {len(indices)} labels ranging from "
            f"{indices.min(initial=0)} to {indices.max(initial=0)} instead."
        )
    data = np.asanyarray(nib.load(maps).dataobj)
    found = np.unique(data)
    found = found[found != 0]
    if found.size != n_rois or found.max() != n_rois:
        raise ValueError(
            f"The Schaefer + Tian atlas image {str(maps)!r} must contain the "
            f"labels 1..{n_rois}. Got {found.size} non-zero labels instead."
        )


def fetch_atlas_schaefer_tian(
    n_rois: int = 450,
    data_dir: str | os.PathLike | None = None,
    *,
    verbose: int = 1,
) -> Bunch:
    """Fetch the Schaefer-2018 cortex + Tian-2020 subcortex combined atlas.

    The combined deterministic atlases distributed with the Melbourne
    subcortex atlas (2 mm, MNI152NLin6Asym): labels ``1..n_subcortex`` are the
    Tian subcortical ROIs, the following labels the Schaefer-2018 cortical
    parcels (7-network order).

    ============  ================  ===========  ===========
    ``n_rois``    Schaefer parcels  Tian scale   subcortex
    ============  ================  ===========  ===========
    450           400               S3           50
    116           100               S1           16
    ============  ================  ===========  ===========

    Parameters
    ----------
    n_rois : {450, 116}, default=450
        Total number of ROIs. 450 (Schaefer-400 + Tian S3) is the atlas of
        fMRI-LM.
    data_dir : str, os.PathLike or None, default=None
        Either a folder that already holds the atlas files (image
        ``Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_MNI152NLin6Asym_2mm.nii.gz``
        and label file ``..._S3_label.txt``), used in place and never written
        to, or the root data directory where the files are cached under
        ``schaefer_tian/``; see :func:`~brainlm_decode.datasets.get_data_dir`.
    verbose : int, default=1
        Verbosity level.

    Returns
    -------
    atlas : sklearn.utils.Bunch
        Dictionary-like object with:

        - ``maps``: :obj:`str`, path of the 3D label image.
        - ``labels``: :obj:`list` of :obj:`str`, ROI names in label order
          (background excluded), so ``labels[i]`` has label ``i + 1``.
        - ``networks``: :obj:`list` of :obj:`str`, Yeo-7 network of each ROI
          (``"Subcortex"`` for Tian ROIs).
        - ``lut``: :class:`pandas.DataFrame`, look-up table with columns
          ``index``, ``name``, ``network``, ``hemisphere``, ``color`` and a
          ``Background`` row of index 0 (see :func:`read_label_lut`).
        - ``n_subcortex``: :obj:`int`, number of subcortical ROIs.
        - ``atlas_type``: ``"deterministic"``.
        - ``template``: ``"MNI152NLin6Asym"``.
        - ``description``: :obj:`str`, description and references.

    Raises
    ------
    ValueError
        If ``n_rois`` is not supported or the files are inconsistent.
    DataUnavailableError
        If the files are not available locally and cannot be downloaded.

    Notes
    -----
    Files come from https://github.com/yetianmed/subcortex
    (``Group-Parcellation/3T/Cortex-Subcortex``) and are verified with SHA-256
    checksums when downloaded.

    References
    ----------
    .. [1] Schaefer A. et al. (2018). Local-global parcellation of the human
       cerebral cortex from intrinsic functional connectivity MRI. Cerebral
       Cortex 28(9), 3095-3114.
    .. [2] Tian Y., Margulies D.S., Breakspear M., Zalesky A. (2020).
       Topographic organization of the human subcortex unveiled with
       functional connectivity gradients. Nature Neuroscience 23, 1421-1432.
    """
    if isinstance(n_rois, bool) or n_rois not in _SCHAEFER_TIAN:
        raise ValueError(
            "The 'n_rois' parameter of fetch_atlas_schaefer_tian must be one of "
            f"{sorted(_SCHAEFER_TIAN)}. Got {n_rois!r} instead."
        )
    names = _schaefer_tian_filenames(n_rois)
    local = []
    if data_dir is not None:
        local = _find_local_files([Path(data_dir).expanduser()], names)
    if not local:
        local = [
            fetch_registered(
                f"{_SCHAEFER_TIAN_DIR}/{name}", data_dir=data_dir, verbose=verbose
            )
            for name in names
        ]
    maps, label_file = local
    lut = read_label_lut(label_file)
    _check_schaefer_tian(lut, maps, n_rois)
    parcels, scale, n_subcortex = _SCHAEFER_TIAN[n_rois]
    rois = lut.iloc[1:]
    return Bunch(
        maps=str(maps),
        labels=rois["name"].tolist(),
        networks=rois["network"].tolist(),
        lut=lut,
        n_subcortex=n_subcortex,
        atlas_type="deterministic",
        template="MNI152NLin6Asym",
        description=(
            f"Schaefer-2018 {parcels} parcels (7 networks) + Tian-2020 subcortex "
            f"scale {scale} ({n_subcortex} ROIs): {n_rois} ROIs, 2 mm "
            "MNI152NLin6Asym. Labels 1-{0} are subcortical, {1}-{2} cortical. "
            "Source: https://github.com/yetianmed/subcortex. Cite Schaefer et "
            "al. (2018) Cereb. Cortex and Tian et al. (2020) Nat. Neurosci."
        ).format(n_subcortex, n_subcortex + 1, n_rois),
    )


def _difumo_paths(root: Path, dimension: int, resolution_mm: int) -> dict[str, Path]:
    """Where nilearn stores the DiFuMo files below ``root``."""
    folder = root / "difumo_atlases"
    return {
        "maps": folder / str(dimension) / f"{resolution_mm}mm" / "maps.nii.gz",
        "labels": folder / str(dimension) / f"labels_{dimension}_dictionary.csv",
        "readme": folder / "README.md",
    }


def fetch_atlas_difumo(
    dimension: int = 512,
    resolution_mm: int = 2,
    data_dir: str | os.PathLike | None = None,
    *,
    verbose: int = 1,
) -> Bunch:
    """Fetch a DiFuMo probabilistic atlas through nilearn.

    A thin wrapper of :func:`nilearn.datasets.fetch_atlas_difumo` that uses the
    package's data directory and, when the download fails, raises an error
    that says where to put the files by hand. DiFuMo-512 is the atlas on which
    NiCLIP projects modeled-activation maps.

    Parameters
    ----------
    dimension : {64, 128, 256, 512, 1024}, default=512
        Number of components (maps) of the dictionary.
    resolution_mm : {2, 3}, default=2
        Resolution of the maps, in millimetres.
    data_dir : str, os.PathLike or None, default=None
        Root data directory; the files are stored under ``difumo_atlases/``
        as nilearn lays them out. See
        :func:`~brainlm_decode.datasets.get_data_dir`.
    verbose : int, default=1
        Verbosity level, passed to nilearn.

    Returns
    -------
    atlas : sklearn.utils.Bunch
        nilearn's atlas object: ``maps`` (path of the 4D image), ``labels``
        (:class:`pandas.DataFrame`, one row per component), ``description``,
        ``atlas_type`` (``"probabilistic"``) and ``template``.

    Raises
    ------
    ValueError
        If ``dimension`` or ``resolution_mm`` is not supported.
    DataUnavailableError
        If the atlas is not cached and cannot be downloaded. The message gives
        the OSF URL of the zip archive and the folder where to extract it.

    References
    ----------
    .. [1] Dadi K. et al. (2020). Fine-grain atlases of functional modes for
       fMRI analysis. NeuroImage 221, 117126.
    """
    if isinstance(dimension, bool) or dimension not in _DIFUMO_DIMENSIONS:
        raise ValueError(
            "The 'dimension' parameter of fetch_atlas_difumo must be one of "
            f"{list(_DIFUMO_DIMENSIONS)}. Got {dimension!r} instead."
        )
    if isinstance(resolution_mm, bool) or resolution_mm not in (2, 3):
        raise ValueError(
            "The 'resolution_mm' parameter of fetch_atlas_difumo must be 2 or 3. "
            f"Got {resolution_mm!r} instead."
        )
    from nilearn import datasets as nilearn_datasets

    root = get_data_dir(data_dir)
    paths = _difumo_paths(root, dimension, resolution_mm)
    if paths["maps"].is_file() and paths["labels"].is_file():
        _write_difumo_readme(paths["readme"])
    url = f"https://osf.io/{_DIFUMO_OSF_IDS[dimension]}/download"
    try:
        return nilearn_datasets.fetch_atlas_difumo(
            dimension=dimension,
            resolution_mm=resolution_mm,
            data_dir=str(root),
            verbose=verbose,
        )
    except Exception as exc:
        if isinstance(exc, ValueError | TypeError):
            raise
        extract_to = paths["maps"].parents[2]
        raise DataUnavailableError(
            f"DiFuMo-{dimension} atlas (zip archive)",
            url,
            extract_to,
            f"{type(exc).__name__}: {exc}",
            instructions=(
                "To use it offline, download the archive by hand from that URL "
                f"and extract it into:\n    {extract_to}\nso that "
                f"{paths['maps']} and {paths['labels']} exist."
            ),
        ) from exc


def _write_difumo_readme(readme: Path) -> None:
    """Write the README nilearn otherwise downloads, so cached atlases load offline."""
    if readme.exists():
        return
    try:
        readme.write_text(
            "# DiFuMo atlases\n\nDictionaries of Functional Modes (Dadi et al. "
            f"2020). Original README: {_DIFUMO_README_URL}\n"
        )
    except OSError:  # read-only cache: nilearn will try to download it
        pass
