"""prepare_map: tails, sign flip, top-percentile ROIs, binary masks and every error."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainlm_decode.imaging import AtlasWarning, prepare_map

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def _img(data) -> nib.Nifti1Image:
    return nib.Nifti1Image(np.asarray(data, dtype=np.float64), AFFINE)


@pytest.fixture
def signed() -> np.ndarray:
    data = np.zeros((6, 6, 6))
    data[1, 1, 1:5] = [1.0, 2.0, 3.0, 4.0]
    data[4, 4, 1:3] = [-5.0, -1.0]
    return data


def _out(img) -> np.ndarray:
    return np.asarray(img.dataobj)


def test_tails(signed):
    pos = _out(prepare_map(_img(signed)))
    assert pos.dtype == np.float32
    assert pos.sum() == 10 and pos.min() == 0
    neg = _out(prepare_map(_img(signed), tail="negative"))
    assert neg[4, 4, 1] == 5 and neg.sum() == 6
    both = _out(prepare_map(_img(signed), tail="both"))
    np.testing.assert_array_equal(both, signed)
    np.testing.assert_array_equal(
        _out(prepare_map(_img(signed), tail="abs")), np.abs(signed)
    )
    flipped = _out(prepare_map(_img(signed), flip_sign=True))
    np.testing.assert_array_equal(
        flipped, _out(prepare_map(_img(signed), tail="negative"))
    )


def test_percentile_and_binarize(signed):
    top = _out(prepare_map(_img(signed), percentile=50))
    np.testing.assert_array_equal(np.argwhere(top), [[1, 1, 3], [1, 1, 4]])
    assert set(np.unique(top)) == {0.0, 1.0}
    top_both = _out(prepare_map(_img(signed), tail="both", percentile=100 / 6))
    np.testing.assert_array_equal(np.argwhere(top_both), [[4, 4, 1]])
    binary = _out(prepare_map(_img(signed), binarize=True))
    assert binary.sum() == 4 and binary.max() == 1


def test_binary_roi_kept_as_is_and_mask(signed):
    roi = (np.abs(signed) > 0).astype(float)
    np.testing.assert_array_equal(_out(prepare_map(_img(roi), tail="negative")), roi)
    mask = np.zeros((6, 6, 6))
    mask[1] = 1
    out = _out(prepare_map(_img(signed), mask_img=_img(mask)))
    assert out.sum() == 10
    negative_only = np.zeros((6, 6, 6))
    negative_only[4] = 1
    with pytest.raises(ValueError, match="no positive value"):
        prepare_map(_img(signed), mask_img=_img(negative_only))


def test_mask_in_other_grid_is_resampled(signed):
    mask = np.zeros((3, 3, 3))
    mask[:2] = 1  # 4 mm voxels at x = 0 and 4 mm: rows 1 but not 4 of the 2 mm map
    out = prepare_map(
        _img(signed), mask_img=nib.Nifti1Image(mask, np.diag([4.0, 4.0, 4.0, 1.0]))
    )
    assert out.shape == signed.shape
    assert _out(out)[1].sum() == 10 and not _out(out)[4].any()


def test_nan_replaced_with_warning(signed):
    signed[0, 0, 0] = np.nan
    with pytest.warns(AtlasWarning, match="NaN"):
        out = _out(prepare_map(_img(signed)))
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match="only NaN"):
        prepare_map(_img(np.full((3, 3, 3), np.nan)))


def test_empty_and_negative_maps_errors(signed):
    with pytest.raises(ValueError, match="empty"):
        prepare_map(_img(np.zeros((3, 3, 3))))
    with pytest.raises(ValueError, match="flip_sign=True or tail='negative'"):
        prepare_map(_img(-np.abs(signed)))
    with pytest.raises(ValueError, match="tail='positive'"):
        prepare_map(_img(np.abs(signed)), tail="negative")


def test_4d_images(signed):
    one = nib.Nifti1Image(signed[..., None], AFFINE)
    assert prepare_map(one).shape == (6, 6, 6)
    two = nib.Nifti1Image(np.stack([signed, signed], axis=-1), AFFINE)
    with pytest.raises(
        ValueError, match="'img' argument must be one 3D map.*2 volumes"
    ):
        prepare_map(two)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tail": "up"}, ValueError, "'tail' argument of prepare_map"),
        ({"percentile": 0}, ValueError, "'percentile' argument"),
        ({"percentile": 120.0}, ValueError, "'percentile' argument"),
        ({"flip_sign": "yes"}, TypeError, "'flip_sign' argument"),
        ({"binarize": 1}, TypeError, "'binarize' argument"),
    ],
)
def test_bad_arguments(signed, kwargs, error, match):
    with pytest.raises(error, match=match):
        prepare_map(_img(signed), **kwargs)


def test_bad_img_types(tmp_path):
    with pytest.raises(TypeError, match="'img' argument must be a niimg-like"):
        prepare_map(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="does not exist"):
        prepare_map(tmp_path / "missing.nii.gz")
