"""Cached separable resampling equals nilearn's continuous resample_to_img."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from nilearn.image import resample_to_img

from brainlm_decode.imaging.atlas import AtlasWarning
from brainlm_decode.imaging.resampling import GridResampler, is_separable


def _reference(img: nib.Nifti1Image, target: nib.Nifti1Image) -> np.ndarray:
    return resample_to_img(
        img, target, interpolation="continuous", force_resample=True, copy_header=True
    ).get_fdata()


def _grid(voxel: float, shape, origin=(-90.0, -126.0, -72.0), flip_x=False):
    affine = np.diag([voxel, voxel, voxel, 1.0])
    affine[:3, 3] = origin
    if flip_x:
        affine[0, 0] = -voxel
        affine[0, 3] = -origin[0]
    return shape, affine


@pytest.mark.parametrize(
    ("voxel", "shape", "origin", "flip_x", "method"),
    [
        (2.0, (46, 55, 46), (-90.0, -126.0, -72.0), False, "sparse"),  # on nodes
        (6.0, (16, 19, 16), (-93.0, -129.0, -75.0), False, "separable"),
        (6.0, (16, 19, 16), (-91.0, -127.0, -73.0), True, "separable"),  # flipped
        (3.0, (31, 37, 31), (-91.0, -125.0, -71.0), False, "separable"),  # offset
    ],
)
def test_grid_resampler_equals_nilearn(
    small_mask_img, voxel, shape, origin, flip_x, method
):
    rng = np.random.default_rng(0)
    shape, affine = _grid(voxel, shape, origin, flip_x)
    img = nib.Nifti1Image(rng.standard_normal(shape), affine)
    target = small_mask_img
    resampler = GridResampler(shape, affine, target.shape, target.affine)
    assert resampler.method_ == method
    expected = _reference(img, target)
    out = resampler.resample(np.asanyarray(img.dataobj))
    np.testing.assert_allclose(out, expected, atol=1e-10 * np.abs(expected).max())
    fortran = resampler.resample(np.asfortranarray(np.asanyarray(img.dataobj)))
    np.testing.assert_allclose(fortran, out)
    stacked = resampler.resample(np.stack([img.get_fdata()] * 2, axis=-1))
    np.testing.assert_allclose(stacked[..., 1], out)


def test_grid_resampler_mask_rows(small_mask_img):
    shape, affine = _grid(2.0, (46, 55, 46))
    data = np.random.default_rng(1).standard_normal(shape)
    mask = np.asanyarray(small_mask_img.dataobj) > 0
    full = GridResampler(shape, affine, mask.shape, small_mask_img.affine)
    masked = GridResampler(
        shape, affine, mask.shape, small_mask_img.affine, target_mask=mask
    )
    np.testing.assert_allclose(masked.resample(data)[mask], full.resample(data)[mask])
    assert not masked.resample(data)[~mask].any()


def test_grid_resampler_rejects_rotation_and_bad_shape():
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]]
    assert not is_separable(rotation, np.eye(4))
    with pytest.raises(ValueError, match="rotation or shear"):
        GridResampler((4, 4, 4), rotation, (4, 4, 4), np.eye(4))
    resampler = GridResampler((4, 4, 4), np.eye(4), (2, 2, 2), np.diag([2, 2, 2, 1]))
    with pytest.raises(
        ValueError, match=r"'data' argument must have shape \(4, 4, 4\)"
    ):
        resampler.resample(np.zeros((3, 4, 4)))


def test_space_resample_to_grid_cached_and_exact(block_labels_img, small_mask_img):
    from brainlm_decode.imaging import AtlasSpace

    labels_space = AtlasSpace(block_labels_img, mask_img=small_mask_img).fit()
    rng = np.random.default_rng(2)
    shape, affine = _grid(6.0, (16, 19, 16), (-93.0, -129.0, -75.0))
    img = nib.Nifti1Image(rng.standard_normal(shape).astype(np.float32), affine)
    with pytest.warns(AtlasWarning, match="resampled"):
        fast = labels_space.resample_to_grid(img)
    expected = _reference(img, labels_space.mask_img_)
    np.testing.assert_allclose(fast.get_fdata(), expected, atol=1e-5)
    with pytest.warns(AtlasWarning):
        labels_space.resample_to_grid(img, mask_only=True)
    assert len(labels_space._resamplers) == 2  # one per (grid, mask_only)
    with pytest.warns(AtlasWarning):
        embedded = labels_space.transform_imgs(img)
    reference = labels_space.transform_imgs(
        nib.Nifti1Image(expected.astype(np.float32), labels_space.mask_img_.affine)
    )
    np.testing.assert_allclose(embedded, reference, rtol=1e-5, atol=1e-6)
