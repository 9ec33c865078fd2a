"""The one atlas resolver (``imaging/atlas.py``), shared by AtlasSpace and the
ROI time-series preprocessor: the same atlas mistake gives the same message."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainlm_decode import ROITimeSeriesPreprocessor
from brainlm_decode.imaging.atlas import (
    ATLAS_NAMES,
    atlas_masker,
    resolve_atlas,
)
from brainlm_decode.imaging.spaces import AtlasSpace
from brainlm_decode.timeseries import ATLAS_NAMES as TIMESERIES_ATLAS_NAMES

_AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])


def _labels_img() -> nib.Nifti1Image:
    labels = np.zeros((6, 6, 6), dtype=np.int16)
    labels[:3] = 1
    labels[3:] = 2
    return nib.Nifti1Image(labels, _AFFINE)


def _series() -> list[np.ndarray]:
    return [np.random.default_rng(0).standard_normal((100, 2))]


def _bad_atlases(tmp_path):
    floats = nib.Nifti1Image(np.random.default_rng(0).uniform(size=(6, 6, 6)), _AFFINE)
    return {
        "missing path": str(tmp_path / "no_such_atlas.nii.gz"),
        "unknown name": "no_such_atlas",
        "folder": str(tmp_path),
        "non-integer 3D image": floats,
    }


@pytest.mark.parametrize(
    "mistake", ["missing path", "unknown name", "folder", "non-integer 3D image"]
)
def test_same_bad_atlas_same_message(tmp_path, mistake):
    atlas = _bad_atlases(tmp_path)[mistake]
    with pytest.raises(ValueError) as from_space:
        AtlasSpace(atlas).fit()
    with pytest.raises(ValueError) as from_preprocessor:
        ROITimeSeriesPreprocessor(t_r=2.0, atlas=atlas).fit(_series())
    with pytest.raises(ValueError) as direct:
        resolve_atlas(atlas)
    assert str(from_space.value) == str(from_preprocessor.value) == str(direct.value)
    assert "'atlas'" in str(direct.value)


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="no atlas has this name") as error:
        resolve_atlas("schaefer_typo")
    assert all(name in str(error.value) for name in ATLAS_NAMES)
    assert TIMESERIES_ATLAS_NAMES is ATLAS_NAMES  # one table, re-exported


def test_resolve_image_path_and_masker(tmp_path):
    from nilearn.maskers import NiftiLabelsMasker, NiftiMapsMasker

    img = _labels_img()
    path = tmp_path / "atlas.nii.gz"
    nib.save(img, path)
    for source in (img, path, str(path)):
        atlas = resolve_atlas(source)
        assert atlas.kind == "labels" and atlas.labels is None
        np.testing.assert_array_equal(atlas.img.get_fdata(), img.get_fdata())
    mask = nib.Nifti1Image(np.ones((6, 6, 6), np.uint8), _AFFINE)
    atlas = resolve_atlas(NiftiLabelsMasker(img, mask_img=mask))
    assert atlas.kind == "labels" and atlas.mask_img is mask
    maps = nib.Nifti1Image(np.random.default_rng(0).uniform(size=(6, 6, 6, 3)), _AFFINE)
    assert resolve_atlas(maps).kind == "maps"
    assert resolve_atlas(NiftiMapsMasker(maps)).kind == "maps"
    assert isinstance(atlas_masker(resolve_atlas(maps)), NiftiMapsMasker)
    masker = atlas_masker(resolve_atlas(img))
    assert isinstance(masker, NiftiLabelsMasker) and masker.n_elements_ == 2


def test_bad_types_and_empty_masker():
    with pytest.raises(TypeError, match="'atlas' parameter must be an atlas name"):
        resolve_atlas(3)

    class EmptyMasker:
        labels_img = None

    with pytest.raises(ValueError, match="masker without labels_img or maps_img"):
        resolve_atlas(EmptyMasker())
    with pytest.raises(ValueError, match="masker without labels_img or maps_img"):
        AtlasSpace(EmptyMasker()).fit()
