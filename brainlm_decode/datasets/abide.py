"""ABIDE-I ROI time series: the Preprocessed Connectomes Project layout and PITT AAL116.

Two local layouts are read (nothing is downloaded: the ABIDE terms ask users to
get the data themselves, see :func:`load_abide_pcp`):

- ``abide_pcp/``: C-PAC ROI time series of the Preprocessed Connectomes Project
  (Craddock et al. 2013) in the CC200 and Harvard-Oxford atlases, one ``.npz``
  per site (``<atlas>/<SITE>.npz``) holding, per subject, ``<SUB_ID>_z`` (T x
  ROIs, each ROI z-scored over time, float16), ``<SUB_ID>_mean`` and
  ``<SUB_ID>_std`` (float32 per ROI), plus ``phenotypes.csv`` (one row per
  subject, with ``SITE_ID`` and the repetition time ``TR_S``) and ``atlases/``;
- ``abide_pitt/``: DPARSF AAL116 series of the 56 PITT subjects,
  ``roi_timeseries_aal116/<SUB_ID>.mat`` (``ROISignals``) and ``phenotypes.csv``.

Both return a :class:`sklearn.utils.Bunch` like nilearn's fetchers.

References
----------
Craddock C. et al. (2013). The Neuro Bureau Preprocessing Initiative: open
sharing of preprocessed neuroimaging data and derivatives. Front. Neuroinform.

Di Martino A. et al. (2014). The autism brain imaging data exchange: towards a
large-scale evaluation of the intrinsic brain architecture in autism. Mol.
Psychiatry 19, 659-667.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = [
    "ABIDE_MISSING_CODES",
    "ABIDE_PCP_ATLASES",
    "ABIDE_PCP_ENV_VAR",
    "load_abide_pcp",
    "load_abide_pitt",
    "read_abide_phenotypes",
]

#: Environment variable naming the ``abide_pcp`` folder (default data location).
ABIDE_PCP_ENV_VAR = "BRAINLM_DECODE_ABIDE_PCP"

#: Atlases of the PCP layout: name -> number of ROI columns.
ABIDE_PCP_ATLASES: dict[str, int] = {"cc200": 200, "ho": 111}

#: Values ABIDE phenotype files use for "missing" (read as NaN).
ABIDE_MISSING_CODES: tuple[Any, ...] = (-9999, -999, "-9999", "-999", "-9999.0", "`")

_PCP_URL = "http://preprocessed-connectomes-project.org/abide/"
_PITT_TR = 1.5


def _missing_folder(kind: str, path: Path, what: str) -> FileNotFoundError:
    """The error raised when a local ABIDE folder is absent."""
    return FileNotFoundError(
        f"The {kind} folder {str(path)!r} does not exist or lacks {what}. This "
        "loader reads local files only and never downloads: ABIDE data is "
        "distributed under the ABIDE/PCP terms (non-commercial research, with "
        f"attribution). Get the ROI time series from {_PCP_URL}, lay them out "
        "as described in the brainlm_decode.datasets.abide module docstring, and "
        f"pass the folder as 'data_dir' or set {ABIDE_PCP_ENV_VAR}."
    )


def _resolve_pcp_dir(data_dir: str | os.PathLike | None) -> Path:
    """The ``abide_pcp`` folder: argument, environment variable, then data dir."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(ABIDE_PCP_ENV_VAR):
        return Path(os.environ[ABIDE_PCP_ENV_VAR]).expanduser()
    from brainlm_decode.datasets._fetch import get_data_dir

    return get_data_dir() / "abide_pcp"


def read_abide_phenotypes(path: str | os.PathLike) -> pd.DataFrame:
    """Read an ABIDE phenotype table with the missing codes as NaN.

    Parameters
    ----------
    path : str or os.PathLike
        CSV file (one row per subject).

    Returns
    -------
    pandas.DataFrame
        The table; :data:`ABIDE_MISSING_CODES` (``-9999`` etc.) are NaN, so
        numeric columns such as ``FIQ`` or ``ADOS_TOTAL`` are float columns with
        NaN for missing values.
    """
    table = pd.read_csv(path, na_values=[str(c) for c in ABIDE_MISSING_CODES])
    return table.replace(list(ABIDE_MISSING_CODES), np.nan)


def _check_choice(value: Any, name: str, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(
            f"The {name!r} parameter of load_abide_pcp must be one of "
            f"{list(options)}. Got {value!r} instead."
        )
    return value


def _select_sites(pheno: pd.DataFrame, sites: Any) -> pd.DataFrame:
    """Rows of the requested sites (all sites when ``sites`` is None)."""
    if sites is None:
        return pheno
    if isinstance(sites, str):
        sites = [sites]
    sites = [str(s) for s in sites]
    known = sorted(pheno["SITE_ID"].unique())
    unknown = [s for s in sites if s not in known]
    if unknown or not sites:
        raise ValueError(
            "The 'sites' parameter of load_abide_pcp must name sites among "
            f"{known}. Got {sites!r} instead."
        )
    return pheno[pheno["SITE_ID"].isin(sites)]


def _read_site(npz_path: Path, subject_ids: Sequence[int], dtype: Any) -> dict:
    """Raw series (z * std + mean) of the subjects present in one site file."""
    out = {}
    with np.load(npz_path) as archive:
        keys = set(archive.files)
        for sub in subject_ids:
            if f"{sub}_z" not in keys:
                continue
            z = archive[f"{sub}_z"].astype(np.float64)
            mean = archive[f"{sub}_mean"].astype(np.float64)
            std = archive[f"{sub}_std"].astype(np.float64)
            out[int(sub)] = (z * std + mean).astype(dtype, copy=False)
    return out


def _roi_labels(folder: Path, atlas: str, n_rois: int) -> tuple[np.ndarray, list]:
    """Atlas label value and name of each column (names when a table is there)."""
    values_file = folder / "atlases" / f"{atlas}_column_labels.txt"
    if values_file.is_file():
        values = np.loadtxt(values_file, dtype=np.int64).reshape(-1)
    else:
        values = np.arange(1, n_rois + 1)
    names: dict[int, str] = {}
    if atlas == "ho" and (folder / "atlases" / "ho_labels.csv").is_file():
        table = pd.read_csv(
            folder / "atlases" / "ho_labels.csv", comment="#", header=None
        )
        names = dict(zip(table[0].astype(int), table[1].astype(str), strict=True))
    labels = [names.get(int(v), f"{atlas}_{int(v)}") for v in values]
    return values, labels


def load_abide_pcp(
    data_dir: str | os.PathLike | None = None,
    *,
    atlas: str = "cc200",
    sites: str | Sequence[str] | None = None,
    dtype: Any = np.float64,
) -> Bunch:
    """Load ABIDE-I ROI time series and phenotypes of the PCP (C-PAC) layout.

    The raw series are rebuilt from the stored z-scores, means and standard
    deviations (``raw = z * std + mean``; the float16 z-scores give a relative
    error of about 3e-4). ROIs with zero variance come back constant.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        The ``abide_pcp`` folder (holding ``phenotypes.csv``, ``cc200/``,
        ``ho/`` and ``atlases/``). ``None`` uses the environment variable
        ``BRAINLM_DECODE_ABIDE_PCP``, else ``<data dir>/abide_pcp`` (see
        :func:`~brainlm_decode.datasets.get_data_dir`).
    atlas : {"cc200", "ho"}, default="cc200"
        Craddock-200 (200 ROIs) or Harvard-Oxford (111 ROIs; a few subjects lack
        it and are left out).
    sites : str, sequence of str or None, default=None
        Sites to load (``SITE_ID`` values, e.g. ``"NYU"``); ``None`` loads all.
    dtype : numpy dtype, default=numpy.float64
        Data type of the returned series.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with:

        - ``timeseries``: list of ndarray of shape (n_timepoints, n_rois), one
          per subject (the length varies across sites);
        - ``phenotypic``: pandas.DataFrame, one row per returned subject in the
          same order, ABIDE missing codes (``-9999``...) as NaN; ``DX_GROUP`` is
          1 for autism and 0 for control, ``SEX`` 1 male and 2 female;
        - ``subject_ids``, ``site``: ndarrays, one entry per subject;
        - ``t_r``: ndarray, repetition time in seconds of each subject (from
          the site's scan parameters; SBL is reported as 2.2 s or 2.5 s);
        - ``site_t_r``: dict, site -> repetition time;
        - ``atlas``, ``roi_values`` (atlas label value of each column),
          ``roi_labels`` (names where the atlas ships a table), ``description``.

    Raises
    ------
    FileNotFoundError
        If the folder (or the atlas files in it) does not exist; the message
        says where to get the data.
    ValueError
        For an unknown atlas or site.

    Examples
    --------
    >>> from brainlm_decode.datasets import load_abide_pcp
    >>> abide = load_abide_pcp(atlas="cc200", sites=["NYU"])  # doctest: +SKIP
    >>> abide.timeseries[0].shape, abide.site_t_r["NYU"]  # doctest: +SKIP
    ((176, 200), 2.0)
    """
    atlas = _check_choice(atlas, "atlas", list(ABIDE_PCP_ATLASES))
    folder = _resolve_pcp_dir(data_dir)
    pheno_path = folder / "phenotypes.csv"
    if not pheno_path.is_file() or not (folder / atlas).is_dir():
        raise _missing_folder("ABIDE PCP", folder, f"phenotypes.csv and {atlas}/")
    pheno = _select_sites(read_abide_phenotypes(pheno_path), sites)
    series: dict[int, np.ndarray] = {}
    for site, rows in pheno.groupby("SITE_ID", sort=False):
        npz = folder / atlas / f"{site}.npz"
        if npz.is_file():
            series.update(_read_site(npz, rows["SUB_ID"].tolist(), dtype))
    pheno = pheno[pheno["SUB_ID"].isin(list(series))].reset_index(drop=True)
    values, labels = _roi_labels(folder, atlas, ABIDE_PCP_ATLASES[atlas])
    site_t_r = {
        str(s): float(t) for s, t in pheno.groupby("SITE_ID")["TR_S"].first().items()
    }
    return Bunch(
        timeseries=[series[int(s)] for s in pheno["SUB_ID"]],
        phenotypic=pheno,
        subject_ids=pheno["SUB_ID"].to_numpy(),
        site=pheno["SITE_ID"].astype(str).to_numpy(),
        t_r=pheno["TR_S"].to_numpy(dtype=np.float64),
        site_t_r=site_t_r,
        atlas=atlas,
        roi_values=values,
        roi_labels=labels,
        description=(
            f"ABIDE-I, Preprocessed Connectomes Project (C-PAC) ROI time series, "
            f"atlas {atlas}: {len(pheno)} subjects from {len(site_t_r)} sites. "
            "Cite Di Martino et al. 2014 (ABIDE) and Craddock et al. 2013 (PCP)."
        ),
    )


def load_abide_pitt(
    data_dir: str | os.PathLike | None = None, *, dtype: Any = np.float64
) -> Bunch:
    """Load the DPARSF AAL116 series of the 56 ABIDE-I PITT subjects.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        The ``abide_pitt`` folder (``phenotypes.csv`` and
        ``roi_timeseries_aal116/<SUB_ID>.mat``); ``None`` uses the sibling
        ``abide_pitt`` of the PCP folder (see :func:`load_abide_pcp`).
    dtype : numpy dtype, default=numpy.float64
        Data type of the returned series.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``timeseries`` (list of (195, 116) arrays, AAL1 column order),
        ``phenotypic`` (missing codes as NaN), ``subject_ids``, ``site`` (all
        ``"PITT"``), ``t_r`` (1.5 s each), ``site_t_r``, ``atlas`` (``"aal116"``)
        and ``description``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    """
    from scipy.io import loadmat

    if data_dir is None:
        folder = _resolve_pcp_dir(None).parent / "abide_pitt"
    else:
        folder = Path(data_dir).expanduser()
    series_dir = folder / "roi_timeseries_aal116"
    if not (folder / "phenotypes.csv").is_file() or not series_dir.is_dir():
        raise _missing_folder(
            "ABIDE PITT", folder, "phenotypes.csv and roi_timeseries_aal116/"
        )
    pheno = read_abide_phenotypes(folder / "phenotypes.csv")
    keep, series = [], []
    for i, sub in enumerate(pheno["SUB_ID"]):
        matches = sorted(series_dir.glob(f"*{int(sub)}*.mat"))
        if matches:
            signals = loadmat(matches[0])["ROISignals"]
            series.append(np.asarray(signals, dtype=dtype))
            keep.append(i)
    pheno = pheno.iloc[keep].reset_index(drop=True)
    return Bunch(
        timeseries=series,
        phenotypic=pheno,
        subject_ids=pheno["SUB_ID"].to_numpy(),
        site=np.full(len(pheno), "PITT"),
        t_r=np.full(len(pheno), _PITT_TR),
        site_t_r={"PITT": _PITT_TR},
        atlas="aal116",
        description=(
            f"ABIDE-I PITT, DPARSF AAL116 ROI time series: {len(pheno)} subjects, "
            "TR 1.5 s. Cite Di Martino et al. 2014 (ABIDE)."
        ),
    )
