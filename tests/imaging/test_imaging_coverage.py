"""Share of a map inside the brain mask: the fast axis-aligned path equals the
generic one; maps outside the brain are refused."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainlm_decode.imaging import coverage
from brainlm_decode.imaging.coverage import (
    check_map_coverage,
    map_coverage,
)


@pytest.fixture(scope="module")
def mask_img():
    data = np.zeros((30, 36, 30), dtype=np.uint8)
    data[5:25, 6:30, 5:24] = 1
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-60, -78, -50]
    return nib.Nifti1Image(data, affine)


def _map(shape, affine, seed=0, fill=0.3):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=shape) * (rng.random(shape) < fill)
    return nib.Nifti1Image(data.astype(np.float32), affine)


def _affine(zoom, origin, flip_x=False, rotate=False):
    affine = np.diag([zoom, zoom, zoom, 1.0])
    if flip_x:
        affine[0, 0] = -zoom
    if rotate:
        c, s = np.cos(0.2), np.sin(0.2)
        affine[:3, :3] = affine[:3, :3] @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    affine[:3, 3] = origin
    return affine


@pytest.mark.parametrize(
    ("shape", "affine"),
    [
        ((60, 72, 60), _affine(2.0, [-60, -78, -50])),  # finer, same origin
        ((40, 48, 40), _affine(3.0, [-70, -90, -60])),  # another MNI-like grid
        ((40, 48, 40), _affine(3.0, [60, -90, -60], flip_x=True)),  # x flipped
        ((30, 36, 30), _affine(4.0, [-20, -78, -50])),  # shifted by 4 cm
        ((30, 36, 30), _affine(4.0, [-60, -78, -50], rotate=True)),  # generic path
    ],
)
def test_axis_by_axis_path_equals_the_voxel_by_voxel_one(
    mask_img, shape, affine, monkeypatch
):
    img = _map(shape, affine)
    inside, covered, n_nonzero = map_coverage(img, mask_img)
    again = map_coverage(img, mask_img)  # through the cached mask view
    monkeypatch.setattr(coverage, "_axis_indices", lambda *args: None)
    reference = map_coverage(img, mask_img)
    assert n_nonzero == reference[2] > 0
    assert inside == pytest.approx(reference[0], abs=1e-12)
    assert covered == pytest.approx(reference[1], abs=1e-12)
    assert again == (inside, covered, n_nonzero)
    assert 0 < reference[1] <= 1


def test_a_map_outside_the_brain_is_refused(mask_img):
    img = _map((10, 10, 10), _affine(4.0, [200, 200, 200]), fill=1.0)
    with pytest.raises(ValueError, match="inside the brain mask"):
        check_map_coverage(img, mask_img)


def test_a_map_inside_the_brain_passes_silently(mask_img, recwarn):
    data = np.zeros((30, 36, 30), dtype=np.float32)
    data[10:20, 10:20, 10:20] = 1.0
    check_map_coverage(nib.Nifti1Image(data, mask_img.affine), mask_img)
    assert not [w for w in recwarn if "brain mask" in str(w.message)]
