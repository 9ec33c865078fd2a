"""The decoder's fast path gives the reference path's embedding, or steps aside.

:func:`brainlm_decode.decode._fast.fast_embedding` reads a map once and computes
only the mask voxels; it must give the embedding of ``prepare_maps`` followed by
``ImageSpace.transform_imgs`` (to float32 rounding) and return ``None`` for every
map whose reference path has something to say (NaN, integer data, no kept tail,
poor coverage, several volumes), so that errors and warnings are unchanged.
"""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
from nilearn.datasets import load_mni152_template, load_sample_motor_activation_image
from nilearn.image import resample_to_img

from brainlm_decode import CLIPDecoder
from brainlm_decode.decode._fast import fast_embedding
from brainlm_decode.decode._inputs import prepare_maps
from brainlm_decode.imaging import AtlasWarning


@pytest.fixture(scope="module")
def decoder():
    return CLIPDecoder.from_pretrained()


@pytest.fixture(scope="module")
def motor():
    return nib.load(load_sample_motor_activation_image())


def _on_grid(img, target):
    out = resample_to_img(img, target, force_resample=True, copy_header=True)
    return nib.Nifti1Image(out.get_fdata(dtype=np.float32), out.affine)


def _reference(decoder, img):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AtlasWarning)
        return decoder.image_space_.transform_imgs(prepare_maps(img, decoder))


def _fast(decoder, img):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AtlasWarning)
        return fast_embedding(img, decoder)


def _assert_same(decoder, img):
    fast = _fast(decoder, img)
    assert fast is not None, "the fast path stepped aside on an ordinary map"
    reference = _reference(decoder, img)
    assert fast.shape == reference.shape
    assert fast.dtype == np.float32
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("resolution", [None, 1, 2, 3])
def test_same_embedding_on_and_off_the_decoder_grid(decoder, motor, resolution):
    target = (
        decoder.image_space_.mask_img_
        if resolution is None
        else load_mni152_template(resolution=resolution)
    )
    _assert_same(decoder, _on_grid(motor, target))


def test_same_embedding_for_fortran_and_c_ordered_data(decoder, motor):
    img = _on_grid(motor, decoder.image_space_.mask_img_)
    data = img.get_fdata(dtype=np.float32)
    for array in (np.ascontiguousarray(data), np.asfortranarray(data)):
        _assert_same(decoder, nib.Nifti1Image(array, img.affine))


def test_same_embedding_from_a_file_and_a_single_volume_4d_map(
    decoder, motor, tmp_path
):
    img = _on_grid(motor, load_mni152_template(resolution=2))
    path = tmp_path / "map.nii.gz"
    img.to_filename(path)
    _assert_same(decoder, str(path))
    four_d = nib.Nifti1Image(img.get_fdata(dtype=np.float32)[..., None], img.affine)
    _assert_same(decoder, four_d)


@pytest.mark.parametrize(
    "params",
    [
        {"tail": "both"},
        {"tail": "abs"},
        {"tail": "negative"},
        {"tail": "positive", "flip_sign": True},
        {"percentile": 90.0},
    ],
)
def test_same_embedding_with_decoding_options(decoder, motor, params):
    previous = decoder.get_params()
    decoder.set_params(**params)
    try:
        _assert_same(decoder, _on_grid(motor, load_mni152_template(resolution=3)))
    finally:
        decoder.set_params(**{k: previous[k] for k in params})


def test_steps_aside_where_the_reference_path_reports(decoder, motor):
    img = _on_grid(motor, decoder.image_space_.mask_img_)
    data = img.get_fdata(dtype=np.float32)
    with_nan = data.copy()
    with_nan[0, 0, 0] = np.nan
    shifted = img.affine.copy()
    shifted[:3, 3] += 150.0  # the map lies mostly outside the brain mask
    negative_only = -np.abs(data)
    cases = {
        "NaN": nib.Nifti1Image(with_nan, img.affine),
        "integer": nib.Nifti1Image((data * 10).astype(np.int16), img.affine),
        "no positive tail": nib.Nifti1Image(negative_only, img.affine),
        "outside the mask": nib.Nifti1Image(data, shifted),
        "several volumes": nib.Nifti1Image(np.stack([data, data], axis=-1), img.affine),
    }
    for name, case in cases.items():
        assert _fast(decoder, case) is None, name


def test_decode_reports_as_before_on_the_cases_it_steps_aside(decoder, motor):
    img = _on_grid(motor, decoder.image_space_.mask_img_)
    negative_only = nib.Nifti1Image(
        -np.abs(img.get_fdata(dtype=np.float32)), img.affine
    )
    with pytest.raises(ValueError, match="no positive value"):
        decoder.transform(negative_only)
