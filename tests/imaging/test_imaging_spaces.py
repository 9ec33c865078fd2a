"""Image spaces: equality with nilearn maskers, corpus path, persistence, errors."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from brainlm_decode.imaging import (
    AtlasProjector,
    AtlasSpace,
    AtlasWarning,
    CoordinateWarning,
    DiFuMoSpace,
    ImageSpace,
    MNIParcelSpace,
    mkda_matrix,
)


@pytest.fixture(autouse=True)
def _quiet_coordinates():
    """Random test peaks fall outside the mask on purpose; tested elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoordinateWarning)
        yield


@pytest.fixture(scope="module")
def labels_space(block_labels_img, small_mask_img) -> AtlasSpace:
    return AtlasSpace(block_labels_img, mask_img=small_mask_img).fit()


@pytest.fixture(scope="module")
def maps_space(smooth_maps_img, small_mask_img) -> AtlasSpace:
    return AtlasSpace(smooth_maps_img, mask_img=small_mask_img, batch_size=7).fit()


@pytest.fixture(scope="module")
def mkda_imgs(peaks, small_mask_img):
    """Dense MKDA images of the test peaks as one 4D image (the reference input)."""
    from nilearn.maskers import NiftiMasker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoordinateWarning)
        maps, ids = mkda_matrix(peaks, mask_img=small_mask_img)
    return NiftiMasker(small_mask_img).fit().inverse_transform(maps.toarray()), ids


@pytest.fixture(scope="module")
def parcel_space() -> MNIParcelSpace:
    return MNIParcelSpace(20, kind="maps").fit()


def test_labels_equal_nifti_labels_masker(
    labels_space, block_labels_img, mkda_imgs, peaks
):
    from nilearn.maskers import NiftiLabelsMasker

    img4d, _ = mkda_imgs
    masker = NiftiLabelsMasker(
        block_labels_img, mask_img=labels_space.mask_img_, strategy="mean"
    )
    ref = masker.fit_transform(img4d)
    assert labels_space.kind_ == "labels"
    assert labels_space.n_regions_ == ref.shape[1]
    ours = labels_space.transform_coordinates(peaks)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    np.testing.assert_allclose(labels_space.transform_imgs(img4d), ref, atol=1e-6)
    assert labels_space.region_names_[0] == "region_3"


def test_maps_equal_nifti_maps_masker(maps_space, smooth_maps_img, mkda_imgs, peaks):
    from nilearn.maskers import NiftiMapsMasker

    img4d, _ = mkda_imgs
    masker = NiftiMapsMasker(smooth_maps_img, mask_img=maps_space.mask_img_)
    ref = masker.fit_transform(img4d)
    assert maps_space.kind_ == "maps"
    assert maps_space.projector_.method_ == "cholesky"
    sparse_path = maps_space.transform_coordinates(peaks)
    dense_path = maps_space.transform_imgs(img4d)
    np.testing.assert_allclose(sparse_path, ref, atol=1e-4)
    np.testing.assert_allclose(dense_path, ref, atol=1e-4)
    np.testing.assert_allclose(sparse_path, dense_path, atol=1e-5)
    # any image, not only binary MKDA maps
    rng = np.random.default_rng(1)
    noise = nib.Nifti1Image(rng.normal(size=(*img4d.shape[:3], 2)), img4d.affine)
    np.testing.assert_allclose(
        maps_space.transform_imgs(noise), masker.transform(noise), atol=1e-4
    )


def test_maps_img_matches_atlas_inside_mask(maps_space, smooth_maps_img):
    ours = maps_space.maps_img_.get_fdata()
    mask = maps_space.mask_img_.get_fdata() > 0
    ref = smooth_maps_img.get_fdata()
    np.testing.assert_allclose(ours[mask], ref[mask], atol=1e-6)
    assert not ours[~mask].any()


def test_n_jobs_and_batches_give_same_result(maps_space, peaks):
    one = maps_space.transform_coordinates(peaks)
    space = clone(maps_space).set_params(n_jobs=2, batch_size=3).fit()
    np.testing.assert_array_equal(space.transform_coordinates(peaks), one)


def test_ids_order_and_empty_study(labels_space, peaks):
    full = labels_space.transform_coordinates(peaks)
    order = list(pd.unique(peaks["id"]))
    with pytest.warns(CoordinateWarning, match="no peak"):
        labels_space.transform_coordinates(peaks, ids=["s05", "nope"])
    part = labels_space.transform_coordinates(peaks, ids=["s05", "nope", "s00"])
    np.testing.assert_array_equal(part[0], full[order.index("s05")])
    assert not part[1].any()
    np.testing.assert_array_equal(part[2], full[0])


def test_projector_singular_gram_uses_min_norm():
    weights = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    projector = AtlasProjector(weights, "maps")
    assert projector.method_ == "pinv"
    data = np.array([[2.0, 4.0, 1.0]])
    expected = np.linalg.lstsq(weights, data.T, rcond=None)[0].T
    np.testing.assert_allclose(projector.project(data), expected)
    with pytest.raises(ValueError, match="'kind'"):
        AtlasProjector(weights, "mean")


def test_mni_parcel_space_deterministic(parcel_space):
    again = MNIParcelSpace(20, kind="labels").fit()
    other = MNIParcelSpace(20, kind="labels").fit()
    assert again.n_regions_ == 20 == parcel_space.n_regions_
    np.testing.assert_array_equal(
        again.maps_img_.get_fdata(), other.maps_img_.get_fdata()
    )
    assert again.region_names_[:2] == ["L_001", "L_002"]
    assert again.region_names_[-1] == "R_010"
    labels = again.maps_img_.get_fdata()
    x = nib.affines.apply_affine(again.mask_img_.affine, np.argwhere(labels > 0))[:, 0]
    hemi = labels[labels > 0] <= 10
    assert np.all(x[hemi] < 0) and np.all(x[~hemi] >= 0)
    # the maps version smooths the same parcels
    maps = parcel_space.maps_img_.get_fdata()
    assert maps.shape[-1] == 20
    peak_of = maps.reshape(-1, 20).argmax(axis=0)
    np.testing.assert_array_equal(labels.reshape(-1)[peak_of], np.arange(1, 21))


@pytest.mark.parametrize("fixture", ["labels_space", "parcel_space"])
def test_save_load_round_trip(fixture, request, tmp_path, peaks):
    space = request.getfixturevalue(fixture)
    path = space.save(tmp_path / "space")
    assert sorted(p.name for p in path.iterdir()) == [
        "atlas.nii.gz",
        "manifest.json",
        "mask.nii.gz",
        "space.json",
    ]
    loaded = ImageSpace.load(path)
    assert type(loaded) is type(space)
    assert loaded.region_names_ == space.region_names_
    assert loaded.n_regions_ == space.n_regions_
    np.testing.assert_allclose(
        loaded.transform_coordinates(peaks),
        space.transform_coordinates(peaks),
        atol=1e-5,
    )
    with pytest.raises(FileExistsError, match="overwrite=True"):
        space.save(path)
    space.save(path, overwrite=True)
    with pytest.raises(FileNotFoundError, match="space.json"):
        ImageSpace.load(tmp_path)


def test_load_names_classes_by_plugin_name_only(parcel_space, tmp_path):
    import json

    from brainlm_decode.persistence import write_manifest

    path = parcel_space.save(tmp_path / "space")
    config = json.loads((path / "space.json").read_text())
    assert config["plugin"] == "mni-parcels" and "class" not in config
    # files written before plugin names: the import path of a registered plugin
    del config["plugin"]
    config["class"] = "brainlm_decode.imaging.spaces:MNIParcelSpace"
    (path / "space.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="manifest checksum"):  # edited
        ImageSpace.load(path)
    write_manifest(path)
    assert type(ImageSpace.load(path)) is type(parcel_space)
    # any other class path is rejected, never imported
    config["class"] = "os:system"
    (path / "space.json").write_text(json.dumps(config))
    write_manifest(path)
    with pytest.raises(ValueError, match="class path, not a registered plugin"):
        ImageSpace.load(path)


@pytest.mark.filterwarnings("ignore:Resampling binary images")
def test_resampling_warning_for_other_grid(labels_space, mkda_imgs):
    from nilearn.image import index_img, resample_img

    img = index_img(mkda_imgs[0], 0)
    img3 = resample_img(
        img,
        target_affine=np.diag([3.0, 3.0, 3.0]),
        interpolation="nearest",
        force_resample=True,
        copy_header=True,
    )
    with pytest.warns(AtlasWarning, match="resampled"):
        out = labels_space.transform_imgs([img3, img3])
    assert out.shape == (2, labels_space.n_regions_)
    assert np.isfinite(out).all() and out.any()


def test_transform_imgs_nan_and_dispatch(labels_space, mkda_imgs, peaks):
    from nilearn.image import index_img

    data = index_img(mkda_imgs[0], 0).get_fdata()
    data[23, 25, 20] = np.nan
    with pytest.warns(AtlasWarning, match="NaN"):
        labels_space.transform_imgs(
            nib.Nifti1Image(data, labels_space.mask_img_.affine)
        )
    np.testing.assert_array_equal(
        labels_space.transform(peaks), labels_space.transform_coordinates(peaks)
    )
    with pytest.raises(TypeError, match="'imgs'"):
        labels_space.transform_imgs([np.zeros((3, 3, 3))])
    with pytest.raises(ValueError, match="empty"):
        labels_space.transform_imgs([])


def test_atlas_space_from_masker_and_names(
    block_labels_img, smooth_maps_img, small_mask_img
):
    from nilearn.maskers import NiftiLabelsMasker, NiftiMapsMasker

    values = np.unique(block_labels_img.get_fdata())[1:].astype(int)
    names = ["Background", *[f"box{v}" for v in values]]
    masker = NiftiLabelsMasker(block_labels_img, mask_img=small_mask_img)
    space = AtlasSpace(masker, labels=names).fit()
    assert space.mask_img_.shape == small_mask_img.shape
    assert space.kind_ == "labels"
    assert space.region_names_[0] == f"box{values[0]}"
    lut = pd.DataFrame({"index": values, "name": [f"n{v}" for v in values]})
    space = AtlasSpace(block_labels_img, labels=lut, mask_img=small_mask_img).fit()
    assert space.region_names_[-1] == f"n{values[-1]}"
    maps = AtlasSpace(NiftiMapsMasker(smooth_maps_img, mask_img=small_mask_img)).fit()
    assert maps.kind_ == "maps" and maps.region_names_[0] == "component_001"
    with pytest.raises(ValueError, match="name the"):
        AtlasSpace(block_labels_img, labels=["a", "b"], mask_img=small_mask_img).fit()


def test_atlas_regions_outside_mask_are_dropped(block_labels_img, small_mask_img):
    data = np.asarray(block_labels_img.dataobj).copy()
    data[0, 0, 0] = 999  # a region outside the brain mask
    atlas = nib.Nifti1Image(data, small_mask_img.affine)
    with pytest.warns(AtlasWarning, match="no voxel in the mask"):
        space = AtlasSpace(atlas, mask_img=small_mask_img).fit()
    assert "region_999" not in space.region_names_


def test_difumo_offline_error_and_cached_files(
    tmp_path, monkeypatch, peaks, small_mask_img
):
    import nilearn.datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    import brainlm_decode.imaging.difumo as difumo

    monkeypatch.setattr(nilearn.datasets, "fetch_atlas_difumo", offline)
    with pytest.raises(OSError, match="osf.io/pqu9r") as info:
        DiFuMoSpace(dimension=64, data_dir=tmp_path).fit()
    assert "maps.nii.gz" in str(info.value)
    # without brainlm_decode.datasets, nilearn's fetcher and our own message
    monkeypatch.setattr(difumo, "_fetcher", lambda: (offline, False))
    with pytest.raises(OSError, match="MNIParcelSpace") as info:
        DiFuMoSpace(dimension=64, data_dir=tmp_path).fit()
    assert "osf.io/pqu9r" in str(info.value) and "maps.nii.gz" in str(info.value)
    monkeypatch.undo()
    # a cached copy (small stand-in files on the 4 mm grid) is used without download
    folder = tmp_path / "difumo_atlases" / "64"
    (folder / "2mm").mkdir(parents=True)
    rng = np.random.default_rng(0)
    maps = np.zeros((*small_mask_img.shape, 64), dtype=np.float32)
    for k in range(64):
        i, j, m = rng.integers(12, 34, 3)
        maps[i - 3 : i + 3, j - 3 : j + 3, m - 3 : m + 3, k] = rng.uniform(0.5, 1)
    nib.save(
        nib.Nifti1Image(maps, small_mask_img.affine), folder / "2mm" / "maps.nii.gz"
    )
    pd.DataFrame(
        {"Component": range(1, 65), "Difumo_names": [f"net {k}" for k in range(64)]}
    ).to_csv(folder / "labels_64_dictionary.csv", index=False)
    space = DiFuMoSpace(dimension=64, data_dir=tmp_path, mask_img=small_mask_img).fit()
    assert space.kind_ == "maps"
    assert space.region_names_[0] == "net 0"
    assert space.transform_coordinates(peaks).shape == (16, space.n_regions_)


@pytest.mark.parametrize(
    ("space", "error", "match"),
    [
        (AtlasSpace(), ValueError, "'atlas' parameter of AtlasSpace"),
        (AtlasSpace(3), ValueError, "'atlas' parameter"),
        (AtlasSpace("/no/such/atlas.nii.gz"), ValueError, "does not exist"),
        (MNIParcelSpace(1), ValueError, "'n_parcels' parameter"),
        (MNIParcelSpace(kind="prob"), ValueError, "'kind' parameter"),
        (MNIParcelSpace(r=0), ValueError, "'r' parameter"),
        (MNIParcelSpace(batch_size=0), ValueError, "'batch_size' parameter"),
        (MNIParcelSpace(mask_img=5), ValueError, "'mask_img' parameter"),
        (DiFuMoSpace(dimension=100), ValueError, "'dimension' parameter"),
    ],
)
def test_bad_parameters(space, error, match):
    with pytest.raises(error, match=match):
        space.fit()


def test_atlas_kind_errors(mask_img):
    rng = np.random.default_rng(0)
    floats = nib.Nifti1Image(rng.uniform(size=(9, 10, 9)), mask_img.affine)
    with pytest.raises(ValueError, match="non-integer"):
        AtlasSpace(floats).fit()
    four_d = nib.Nifti1Image(np.zeros((9, 10, 9, 2)), mask_img.affine)
    with pytest.raises(ValueError, match="kind='labels'"):
        AtlasSpace(four_d, kind="labels").fit()


def test_not_fitted_and_params():
    space = MNIParcelSpace(30, kind="maps")
    with pytest.raises(NotFittedError):
        space.transform_imgs([])
    assert not hasattr(space, "maps_img_")
    params = clone(space).get_params()
    assert params["n_parcels"] == 30 and params["kind"] == "maps"
