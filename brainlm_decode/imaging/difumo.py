"""DiFuMo files for :class:`~brainlm_decode.imaging.DiFuMoSpace`: cache first, then fetch.

A copy already in one of nilearn's data folders is used as is; otherwise the
package's fetcher (:func:`brainlm_decode.datasets.fetch_atlas_difumo`, which
wraps nilearn's and raises an error naming the URL and the folder when offline)
downloads it, falling back to :func:`nilearn.datasets.fetch_atlas_difumo`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["fetch_difumo"]

#: OSF identifiers of the DiFuMo archives, per dimension (as in nilearn).
DIFUMO_OSF = {64: "pqu9r", 128: "wjvd5", 256: "3vrct", 512: "9b76y", 1024: "34792"}


def _relative_paths(dimension: int, resolution_mm: int) -> tuple[Path, Path]:
    folder = Path("difumo_atlases", str(dimension))
    return (
        folder / f"{resolution_mm}mm" / "maps.nii.gz",
        folder / f"labels_{dimension}_dictionary.csv",
    )


def _fetcher() -> tuple[Any, bool]:
    """The package's DiFuMo fetcher when available, else nilearn's."""
    try:
        module = importlib.import_module("brainlm_decode.datasets")
        return module.fetch_atlas_difumo, True
    except (ImportError, AttributeError):
        from nilearn.datasets import fetch_atlas_difumo

        return fetch_atlas_difumo, False


def fetch_difumo(
    dimension: int, resolution_mm: int, data_dir: Any = None, verbose: int = 0
) -> tuple[str, list[str]]:
    """Path of the DiFuMo maps and the component names, from cache or download.

    Parameters
    ----------
    dimension : int
        Number of maps (64, 128, 256, 512 or 1024).
    resolution_mm : int
        2 or 3.
    data_dir : str, path-like or None, default=None
        Data folder (see :class:`~brainlm_decode.imaging.DiFuMoSpace`).
    verbose : int, default=0
        Verbosity passed to the fetcher.

    Returns
    -------
    maps : str
        Path of the 4D maps image.
    names : list of str
        Component names (``difumo_names`` column of the labels table).

    Raises
    ------
    OSError
        When the files are not cached and cannot be downloaded; the message
        names the URL of the archive and where to extract it.
    """
    from nilearn.datasets import get_data_dirs

    maps_rel, csv_rel = _relative_paths(dimension, resolution_mm)
    bases = [Path(d) for d in get_data_dirs(data_dir)]
    cached = [b for b in bases if (b / maps_rel).exists() and (b / csv_rel).exists()]
    fetcher, ours = _fetcher()
    try:
        bunch = fetcher(
            dimension=dimension,
            resolution_mm=resolution_mm,
            data_dir=str(cached[0]) if cached else data_dir,
            verbose=int(verbose),
        )
    except (ValueError, TypeError):
        raise
    except OSError:
        if ours:  # already names the URL and the folder
            raise
        raise _offline_error(dimension, resolution_mm, bases[0]) from None
    except Exception as exc:  # network errors come in many types
        raise _offline_error(dimension, resolution_mm, bases[0], exc) from exc
    maps = bunch["maps"] if isinstance(bunch, dict) else bunch.maps
    labels = bunch["labels"] if isinstance(bunch, dict) else bunch.labels
    return str(maps), _names(labels, dimension)


def _offline_error(
    dimension: int, resolution_mm: int, base: Path, exc: Exception | None = None
) -> OSError:
    maps_rel, csv_rel = _relative_paths(dimension, resolution_mm)
    reason = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return OSError(
        f"DiFuMo-{dimension} ({resolution_mm} mm) is not cached and could not be "
        f"downloaded{reason}. Download https://osf.io/{DIFUMO_OSF[dimension]}/download "
        "(a zip archive) on a machine with internet access and extract it so that "
        f"{base / maps_rel} and {base / csv_rel} exist (or pass data_dir=<folder>); "
        "or use the offline MNIParcelSpace(kind='maps')."
    )


def _names(labels: Any, dimension: int) -> list[str]:
    """Component names from nilearn's labels (DataFrame or list)."""
    import pandas as pd

    if isinstance(labels, pd.DataFrame):
        for column in labels.columns:
            if str(column).lower() == "difumo_names":
                return labels[column].astype(str).tolist()
        return [f"component_{k + 1:03d}" for k in range(dimension)]
    names = [str(name) for name in labels]
    if len(names) == dimension + 1 and names[0].lower() == "background":
        names = names[1:]
    return names
