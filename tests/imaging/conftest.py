"""Small atlases and peak tables shared by the imaging tests."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from brainlm_decode.imaging import load_mni152_brain_mask


@pytest.fixture(scope="session")
def mask_img() -> nib.Nifti1Image:
    """NiMARE's MNI152 2 mm brain mask."""
    return load_mni152_brain_mask()


@pytest.fixture(scope="session")
def small_mask_img(mask_img: nib.Nifti1Image) -> nib.Nifti1Image:
    """The brain mask on a 4 mm grid (46 x 55 x 46): keeps nilearn references fast."""
    from nilearn.image import resample_img

    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = [-90, -126, -72]
    return resample_img(
        mask_img,
        target_affine=affine,
        target_shape=(46, 55, 46),
        interpolation="nearest",
        force_resample=True,
        copy_header=True,
    )


@pytest.fixture(scope="session")
def block_labels_img(small_mask_img: nib.Nifti1Image) -> nib.Nifti1Image:
    """A label atlas of ~20 boxes tiling the brain (labels 3, 5, 7, ... odd values)."""
    mask_img = small_mask_img
    shape = mask_img.shape
    i, j, k = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    block = (i // 16) * 100 + (j // 14) * 10 + (k // 16)
    _, codes = np.unique(block, return_inverse=True)
    labels = 2 * codes.reshape(shape).astype(np.int32) + 3
    labels[np.asanyarray(mask_img.dataobj) == 0] = 0
    return nib.Nifti1Image(labels, mask_img.affine)


@pytest.fixture(scope="session")
def smooth_maps_img(block_labels_img: nib.Nifti1Image) -> nib.Nifti1Image:
    """Overlapping probabilistic maps: each box smoothed (sigma 1.5 voxels)."""
    labels = np.asanyarray(block_labels_img.dataobj)
    values = np.unique(labels[labels > 0])
    maps = np.stack(
        [
            ndimage.gaussian_filter((labels == v).astype(np.float32), 1.5)
            for v in values
        ],
        axis=-1,
    )
    maps[maps < 1e-3] = 0
    return nib.Nifti1Image(maps, block_labels_img.affine)


@pytest.fixture(scope="session")
def peaks() -> pd.DataFrame:
    """15 studies, 1-30 peaks each, and one study of peaks at or beyond the border."""
    rng = np.random.default_rng(0)
    rows = []
    for study in range(15):
        n = int(rng.integers(1, 30))
        xyz = np.column_stack(
            [
                rng.uniform(-65, 65, n),
                rng.uniform(-100, 65, n),
                rng.uniform(-40, 75, n),
            ]
        )
        rows.append(
            pd.DataFrame(
                {"id": f"s{study:02d}", "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
            )
        )
    edge = pd.DataFrame(
        {
            "id": "edge",
            "x": [-90.0, 88.0, 0.0, 0.0, 500.0],
            "y": [0.0, -20.0, -126.0, 90.0, 0.0],
            "z": [0.0, 10.0, 0.0, -72.0, 0.0],
        }
    )
    return pd.concat([*rows, edge], ignore_index=True)
