"""MKDA maps: equality with NiMARE's MKDAKernel, coordinate checks, Talairach."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlm_decode.imaging import (
    CoordinateWarning,
    mkda_map,
    mkda_matrix,
    prepare_coordinates,
    sphere_offsets,
    xyz_to_ijk,
)

nimare = pytest.importorskip("nimare")


@pytest.fixture(scope="module")
def laird_coordinates() -> pd.DataFrame:
    """Peaks of NiMARE's bundled 17-study Laird Dataset (MNI after loading)."""
    import importlib.resources

    from nimare.dataset import Dataset

    path = Path(importlib.resources.files("nimare") / "resources")
    with pytest.warns(FutureWarning):  # NiMARE is retiring Dataset
        dset = Dataset(str(path / "neurosynth_laird_studies.json"))
    return dset.coordinates


def _nimare_sparse(coords: pd.DataFrame, mask_img, r: float = 10, value: float = 1):
    from nilearn.maskers import NiftiMasker
    from nimare.meta.kernel import MKDAKernel

    masker = NiftiMasker(mask_img).fit()
    return MKDAKernel(r=r, value=value).transform(
        coords, masker=masker, return_type="sparse"
    )


@pytest.mark.parametrize(
    ("r", "zooms"), [(10, (2, 2, 2)), (7, (2, 2, 2)), (6, (3, 3, 3)), (8, (2, 2.5, 3))]
)
def test_sphere_offsets_match_nimare(r, zooms):
    from nimare.meta.utils import sphere_kernel_offsets

    np.testing.assert_array_equal(
        sphere_offsets(r, zooms), sphere_kernel_offsets(r, zooms)
    )


def test_xyz_to_ijk_matches_mm2vox(mask_img):
    from nimare.utils import mm2vox

    xyz = np.array([[-3.0, 42.0, 12.0], [1.0, -1.0, 3.0], [0.5, 2.5, -4.5], [91, 0, 0]])
    np.testing.assert_array_equal(
        xyz_to_ijk(xyz, mask_img.affine), mm2vox(xyz, mask_img.affine)
    )


@pytest.mark.filterwarnings(
    "ignore::brainlm_decode.imaging.coordinates.CoordinateWarning"
)
def test_mkda_matrix_equals_nimare_laird(laird_coordinates, mask_img, peaks):
    coords = pd.concat(
        [laird_coordinates[["id", "x", "y", "z"]], peaks], ignore_index=True
    )
    ref = _nimare_sparse(coords, mask_img)
    ids = np.unique(coords["id"])  # NiMARE sorts the ids
    with pytest.warns(CoordinateWarning, match="outside the mask"):
        ours, out_ids = mkda_matrix(coords, ids=ids)
    assert list(out_ids) == list(ids)
    assert ours.shape == ref.shape
    assert abs(ours - ref).max() == 0
    assert ours.nnz == ref.nnz


def test_mkda_matrix_radius_value_and_other_grid(peaks):
    import nibabel as nib
    from nilearn.image import resample_to_img

    from brainlm_decode.imaging import load_mni152_brain_mask

    mask = load_mni152_brain_mask()
    target = nib.Nifti1Image(np.zeros((61, 73, 61)), np.diag([3, 3, 3, 1.0]))
    target.affine[:3, 3] = [-90, -126, -72]
    mask3 = resample_to_img(
        mask, target, interpolation="nearest", force_resample=True, copy_header=True
    )
    sample = peaks[peaks["id"].isin(["s00", "s01", "s02", "edge"])]
    ref = _nimare_sparse(sample, mask3, r=7, value=2)
    with pytest.warns(CoordinateWarning):
        ours, _ = mkda_matrix(
            sample, ids=np.unique(sample["id"]), mask_img=mask3, r=7, value=2
        )
    assert abs(ours - ref).max() == 0


def test_mkda_map_dense_equals_nimare_image(mask_img):
    from nilearn.maskers import NiftiMasker
    from nimare.meta.kernel import MKDAKernel

    coords = pd.DataFrame(
        {
            "id": "a",
            "x": [0.0, 4.0, -60.0],
            "y": [-52.0, -50.0, 10.0],
            "z": [26.0, 30.0, 8.0],
        }
    )
    ref = MKDAKernel(r=10, value=1).transform(
        coords, masker=NiftiMasker(mask_img).fit(), return_type="image"
    )[0]
    img = mkda_map(coords[["x", "y", "z"]].to_numpy())
    np.testing.assert_array_equal(img.get_fdata(), ref.get_fdata())
    ijk = xyz_to_ijk(coords[["x", "y", "z"]].to_numpy(), mask_img.affine)
    np.testing.assert_array_equal(mkda_map(ijk, ijk=True).get_fdata(), ref.get_fdata())
    # one sphere away from the border of a full mask holds 515 voxels of 2 mm
    import nibabel as nib

    full = nib.Nifti1Image(np.ones(mask_img.shape, dtype=np.uint8), mask_img.affine)
    assert int(mkda_map([[0, -20, 10]], mask_img=full).get_fdata().sum()) == 515


@pytest.mark.filterwarnings(
    "ignore::brainlm_decode.imaging.coordinates.CoordinateWarning"
)
def test_ids_order_missing_study_and_subset(peaks):
    with pytest.warns(CoordinateWarning):
        full, ids = mkda_matrix(peaks)
    assert list(ids) == list(pd.unique(peaks["id"]))
    with pytest.warns(CoordinateWarning, match="no peak inside the mask"):
        part, _ = mkda_matrix(peaks, ids=["s03", "missing", "s01"])
    assert part.shape[0] == 3
    assert part[[1]].nnz == 0
    assert abs(part[[0]] - full[[3]]).max() == 0
    assert abs(part[[2]] - full[[1]]).max() == 0
    with pytest.raises(ValueError, match="duplicates"):
        mkda_matrix(peaks, ids=["s01", "s01"])


def test_talairach_conversion_and_error():
    from nimare.utils import tal2mni

    tal = pd.DataFrame(
        {
            "id": ["a", "a", "b"],
            "x": [10.0, -30, 0],
            "y": [20.0, 5, -50],
            "z": [30.0, 0, 20],
            "space": ["TAL", "talairach", "MNI"],
        }
    )
    out = prepare_coordinates(tal)
    expected = tal2mni(tal.loc[:1, ["x", "y", "z"]].to_numpy())
    np.testing.assert_allclose(out.loc[:1, ["x", "y", "z"]].to_numpy(), expected)
    np.testing.assert_allclose(out.loc[2, ["x", "y", "z"]].to_numpy(), [0, -50, 20])
    with pytest.raises(ValueError, match="Talairach"):
        prepare_coordinates(tal, talairach="error")
    with pytest.raises(ValueError, match="'talairach'"):
        prepare_coordinates(tal, talairach="drop")


def test_unknown_space_warns_and_nimare_spaces_pass():
    coords = pd.DataFrame(
        {
            "id": ["a", "b"],
            "x": [1.0, 2],
            "y": [1.0, 2],
            "z": [1.0, 2],
            "space": ["UNKNOWN", "mni152_2mm"],
        }
    )
    with pytest.warns(CoordinateWarning, match="assumed to be in MNI"):
        out = prepare_coordinates(coords)
    assert out["x"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ([[1, 2, 3]], TypeError, "pandas DataFrame"),
        (
            pd.DataFrame({"id": [1], "x": [1.0], "y": [2.0]}),
            ValueError,
            "missing \\['z'\\]",
        ),
        (pd.DataFrame({"id": [], "x": [], "y": [], "z": []}), ValueError, "empty"),
        (
            pd.DataFrame({"id": [1], "x": [np.nan], "y": [2.0], "z": [1.0]}),
            ValueError,
            "NaN",
        ),
        (
            pd.DataFrame({"id": [1], "x": ["a"], "y": [2.0], "z": [1.0]}),
            ValueError,
            "numeric",
        ),
    ],
)
def test_bad_coordinates(bad, error, match):
    with pytest.raises(error, match=match):
        prepare_coordinates(bad)


def test_bad_kernel_parameters():
    coords = pd.DataFrame({"id": [1], "x": [0.0], "y": [0.0], "z": [0.0]})
    with pytest.raises(ValueError, match="'r' argument of mkda_matrix"):
        mkda_matrix(coords, r=0)
    with pytest.raises(ValueError, match="'r' argument of mkda_map"):
        mkda_map([[0, 0, 0]], r=-1)
    with pytest.raises(ValueError, match="shape \\(n_peaks, 3\\)"):
        mkda_map([[0, 0]])
    with pytest.raises(TypeError, match="'mask_img'"):
        mkda_map([[0, 0, 0]], mask_img=3)


def test_neuroquery_sample_equals_nimare(shared_data_dir, mask_img):
    """Real peaks (skipped without ../shared/data)."""
    found = sorted((shared_data_dir / "neuroquery").glob("*coordinates.tsv.gz"))
    if not found:
        pytest.skip("NeuroQuery coordinates not available")
    coords = pd.read_csv(found[0], sep="\t", nrows=3000)
    ref = _nimare_sparse(coords, mask_img)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoordinateWarning)
        ours, _ = mkda_matrix(coords, ids=np.unique(coords["id"]))
    assert ours.shape == ref.shape and abs(ours - ref).max() == 0
