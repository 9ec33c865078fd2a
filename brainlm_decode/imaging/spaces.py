"""Image spaces: atlases on which MKDA maps and brain images are embedded.

An image space is the image tower's input of NiCLIP: every study's MKDA map
(binary 10 mm spheres around its peaks) and every map to decode become one vector
of region values. Spaces are small scikit-learn estimators registered as
``brainlm_decode.image_spaces`` plugins:

- :class:`DiFuMoSpace`: DiFuMo probabilistic maps (the paper's DiFuMo-512),
  fetched by nilearn (needs the files once).
- :class:`MNIParcelSpace`: an offline atlas our code builds from nilearn's bundled
  MNI152 grey-matter mask (labels, or probabilistic maps by smoothing).
- :class:`AtlasSpace`: any label or maps image, or a nilearn masker.

``fit`` loads or builds the atlas and factors it once; ``transform_coordinates``
embeds a whole corpus without dense volumes (sparse MKDA maps, chunked, parallel);
``transform_imgs`` projects images. Results equal NiMARE's ``MKDAKernel`` followed
by nilearn's ``NiftiMapsMasker`` (maps, least squares) or ``NiftiLabelsMasker``
(labels, ``strategy="mean"``) with ``mask_img=space.mask_img_``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from scipy import sparse

from brainlm_decode import persistence
from brainlm_decode._io import load_image
from brainlm_decode._version import __version__
from brainlm_decode.base import (
    BaseBrainLMEstimator,
    Interval,
    Options,
    Satisfies,
    fill_doc,
)
from brainlm_decode.imaging.atlas import (
    ATLAS_DOC,
    AtlasWarning,
    clean_map_weights,
    is_atlas_like,
    is_niimg_like,
    load_niimg,
    resolve_atlas,
    same_grid,
    user_stacklevel,
    weights_from_img,
    weights_to_img,
)
from brainlm_decode.imaging.coordinates import (
    DEFAULT_RADIUS,
    SphereGrid,
    _resolve_mask,
    prepare_coordinates,
)
from brainlm_decode.imaging.projection import AtlasProjector, embed_coordinates

__all__ = ["AtlasSpace", "DiFuMoSpace", "ImageSpace", "MNIParcelSpace"]

FORMAT_NAME = "brainlm_decode.ImageSpace"
FORMAT_VERSION = 1
_CONFIG = "space.json"
_ATLAS = "atlas.nii.gz"
_MASK = "mask.nii.gz"


_MASK_CONSTRAINT = [
    None,
    Satisfies(is_niimg_like, "a niimg-like mask (image or path)"),
]

_SPACE_DOC = """
    mask_img : niimg-like or None, default=None
        Analysis mask; its grid is the grid of the MKDA maps and of the projection.
        ``None`` is NiMARE's MNI152 2 mm brain mask (91 x 109 x 91), the mask of a
        default NiMARE Dataset.
    r : float, default=10.0
        MKDA sphere radius in mm.
    n_jobs : int or None, default=None
        Parallel jobs over chunks of studies in :meth:`transform_coordinates`
        (joblib; threads preferred, any backend set with
        :func:`joblib.parallel_config` is honoured).
    batch_size : int, default=256
        Studies per chunk in :meth:`transform_coordinates` (bounds memory: about
        ``batch_size * 0.25`` MB for the 2 mm brain mask)."""

_RANDOM_STATE_DOC = """
    random_state : int, :class:`numpy.random.RandomState` or None, default=0
        Seed of k-means; the same int gives the same parcels on every run."""

_VERBOSE_DOC = """
    verbose : int, default=0
        Verbosity: 0 is silent, 1 prints progress messages and tqdm progress bars,
        2 and above print more detail."""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    mask_img_ : nibabel.Nifti1Image
        The analysis mask.
    maps_img_ : nibabel.Nifti1Image
        The atlas on the mask grid, restricted to the mask: a 3D label image or a
        4D float32 image of maps (built on first access from the sparse weights).
    kind_ : {"labels", "maps"}
        Region means or least-squares projection.
    n_regions_ : int
        Number of regions (output columns).
    region_names_ : list of str
        Name of each region.
    projector_ : AtlasProjector
        The factored atlas.
    grid_ : SphereGrid
        Sphere offsets and mask lookup of the MKDA maps."""


class ImageSpace(BaseBrainLMEstimator):
    """Base class of image spaces (``brainlm_decode.image_spaces`` plugins).

    Subclasses implement :meth:`_build_weights` (load or build the atlas) and
    declare their parameters; ``fit``, the transforms and persistence are shared.
    """

    __doc__ = (__doc__ or "") + _ATTRIBUTES_DOC

    _parameter_constraints: dict[str, list[Any]] = {
        "mask_img": _MASK_CONSTRAINT,
        "r": [Interval(float, 0, None, closed="neither")],
        "batch_size": [Interval(int, 1, None)],
    }
    _image_params: tuple[str, ...] = ("mask_img",)

    def __sklearn_tags__(self) -> Any:
        """Tags: inputs are peak tables and brain images, not 2D arrays."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags

    # -- fitting --------------------------------------------------------------------------

    def _build_weights(
        self, mask_img: nib.Nifti1Image
    ) -> tuple[sparse.csr_array, str, list[str], np.ndarray]:
        """Return (weights over mask voxels, kind, region names, label values)."""
        raise NotImplementedError

    def fit(self, X: Any = None, y: Any = None) -> ImageSpace:
        """Load or build the atlas and factor it.

        Parameters
        ----------
        X, y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self : ImageSpace
            The fitted space.
        """
        self._validate_params()
        mask_img = _resolve_mask(self.mask_img)
        weights, kind, names, values = self._build_weights(mask_img)
        self._set_atlas(mask_img, weights, kind, names, values)
        self._log(f"{self.n_regions_} {kind} regions on {self.grid_.n_voxels} voxels")
        return self

    def _set_atlas(
        self,
        mask_img: nib.Nifti1Image,
        weights: Any,
        kind: str,
        names: list[str],
        values: np.ndarray,
    ) -> None:
        self.mask_img_ = mask_img
        self.kind_ = kind
        self.projector_ = AtlasProjector(weights, kind)
        self.grid_ = SphereGrid(mask_img, r=float(self.r))
        self.n_regions_ = int(self.projector_.n_regions)
        self.region_names_ = [str(name) for name in names]
        self._label_values = np.asarray(values)
        self._maps_img_cache = None
        self._resamplers = {}

    @property
    def maps_img_(self) -> nib.Nifti1Image:
        """The atlas image on the mask grid, restricted to the mask.

        A 3D int32 label image (labels) or a 4D float32 image of maps, built on
        first access from the sparse weights (a 512-map atlas takes 1.9 GB dense).
        ``NiftiLabelsMasker``/``NiftiMapsMasker`` of this image with
        ``mask_img=mask_img_`` give the same values as the space.
        """
        self._check_fitted()
        if self._maps_img_cache is None:
            values = self._label_values if self.kind_ == "labels" else None
            self._maps_img_cache = weights_to_img(
                self.projector_.weights, self.mask_img_, self.kind_, values
            )
        return self._maps_img_cache

    def _check_fitted(self) -> None:
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, "projector_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "before using it (or load a saved space with ImageSpace.load)."
            )

    # -- transforms -----------------------------------------------------------------------

    def transform_coordinates(
        self,
        coordinates: Any,
        ids: Any = None,
        *,
        talairach: str = "convert",
    ) -> np.ndarray:
        """Embed studies from their peak coordinates (MKDA maps on the atlas).

        Parameters
        ----------
        coordinates : pandas.DataFrame or NiMARE Dataset
            Peaks: columns ``id``, ``x``, ``y``, ``z`` (mm) and optionally ``space``.
        ids : sequence or None, default=None
            Studies to embed, in output order; ``None`` is the order of first
            appearance of ``coordinates["id"]``. Studies without peaks get zero rows
            (with a warning).
        talairach : {"convert", "error"}, default="convert"
            Talairach peaks are converted with :func:`nimare.utils.tal2mni`, or
            rejected.

        Returns
        -------
        embeddings : ndarray of shape (n_studies, n_regions_), float32
            Equal to NiMARE ``MKDAKernel(r=r, value=1)`` maps projected by the
            nilearn masker of the atlas with ``mask_img=mask_img_``.

        Warns
        -----
        CoordinateWarning
            Peaks outside the mask (only the part of their sphere inside it is
            used, as in NiMARE), unknown spaces, studies without peaks in the mask.
        """
        self._check_fitted()
        table = prepare_coordinates(coordinates, talairach=talairach)
        values, _ = embed_coordinates(
            table,
            self.grid_,
            self.projector_,
            ids=ids,
            n_jobs=self.n_jobs,
            batch_size=int(self.batch_size),
            verbose=int(self.verbose),
        )
        return values

    def transform_imgs(self, imgs: Any) -> np.ndarray:
        """Project brain images on the atlas.

        Parameters
        ----------
        imgs : niimg-like or list of niimg-like
            3D maps (or 4D images, one row per volume). Images in another grid are
            resampled to the grid of ``mask_img_`` (continuous interpolation) with
            a warning. NaN are replaced by 0 with a warning.

        Returns
        -------
        embeddings : ndarray of shape (n_imgs, n_regions_), float32
            What the nilearn masker of the atlas (``mask_img=mask_img_``) returns.
        """
        self._check_fitted()
        items = list(imgs) if isinstance(imgs, (list, tuple)) else [imgs]
        if not items:
            raise ValueError("The 'imgs' argument is empty: give at least one image.")
        rows = [self._masked_data(load_niimg(item, "imgs")) for item in items]
        data = np.concatenate(rows, axis=0)
        bad = ~np.isfinite(data)
        if bad.any():
            warnings.warn(
                f"The 'imgs' argument has {int(bad.sum())} NaN or infinite value(s) "
                "inside the mask; they are replaced by 0.",
                AtlasWarning,
                stacklevel=2,
            )
            data[bad] = 0.0
        return self.projector_.project(data).astype(np.float32)

    def resample_to_grid(self, img: Any, *, mask_only: bool = False) -> Any:
        """``img`` on the grid of the space (continuous resampling, with a warning).

        Grids related to the space's by a per-axis scaling, flip and shift (every
        MNI template grid) go through a :class:`~brainlm_decode.imaging.resampling.
        GridResampler` built once per input grid and cached on the space (equal
        to nilearn's to rounding); other grids, and maps with NaN, through
        :func:`nilearn.image.resample_to_img`.

        Parameters
        ----------
        img : nibabel image
            A 3D or 4D image.
        mask_only : bool, default=False
            Voxels outside ``mask_img_`` may be returned as 0 (faster; what
            decoding uses).

        Returns
        -------
        nibabel image
            ``img`` itself when it is already on the grid of ``mask_img_``.

        Warns
        -----
        AtlasWarning
            When the image is resampled.
        """
        self._check_fitted()
        if same_grid(img, self.mask_img_):
            return img
        self._warn_resampled(img)
        resampler = self._resampler_for(img, mask_only)
        if resampler is not None:
            data = np.asanyarray(img.dataobj)
            if np.issubdtype(data.dtype, np.floating):
                out = resampler.resample(data)
                # NaN propagate to the outputs they touch: nilearn handles those
                if np.isfinite(out).all():
                    dtype = np.result_type(data.dtype, np.float32)
                    return nib.Nifti1Image(out.astype(dtype), self.mask_img_.affine)
        from nilearn.image import resample_to_img

        return resample_to_img(
            img,
            self.mask_img_,
            interpolation="continuous",
            force_resample=True,
            copy_header=True,
        )

    def _warn_resampled(self, img: Any) -> None:
        warnings.warn(
            f"An image of 'imgs' (shape {tuple(img.shape[:3])}, voxel size "
            f"{tuple(float(z) for z in img.header.get_zooms()[:3])}) is not on "
            f"the grid of the space (shape {self.mask_img_.shape}); it is "
            "resampled with nilearn.image.resample_to_img.",
            AtlasWarning,
            stacklevel=user_stacklevel(),
        )

    def _resampler_for(self, img: Any, mask_only: bool) -> Any:
        """Cached :class:`GridResampler` from the grid of ``img`` (None if rotated)."""
        from brainlm_decode.imaging.resampling import GridResampler, is_separable

        if not is_separable(img.affine, self.mask_img_.affine):
            return None
        cache = self.__dict__.setdefault("_resamplers", {})
        key = (tuple(img.shape[:3]), np.round(img.affine, 6).tobytes(), mask_only)
        if key not in cache:
            if len(cache) >= 8:  # a few input grids per session; drop the oldest
                cache.pop(next(iter(cache)))
            target_mask = (
                np.asanyarray(self.mask_img_.dataobj) > 0 if mask_only else None
            )
            cache[key] = GridResampler(
                img.shape[:3],
                img.affine,
                self.mask_img_.shape[:3],
                self.mask_img_.affine,
                target_mask=target_mask,
            )
        return cache[key]

    def _masked_data(self, img: Any) -> np.ndarray:
        """(n_volumes, n_mask_voxels) values of one image on the mask grid."""
        if len(img.shape) not in (3, 4):
            raise ValueError(
                "The 'imgs' argument must hold 3D or 4D images. Got an image of shape "
                f"{img.shape} instead."
            )
        img = self.resample_to_grid(img, mask_only=True)
        data = np.asarray(img.dataobj, dtype=np.float64)
        mask = np.asanyarray(self.mask_img_.dataobj) > 0
        if data.ndim == 3:
            return data[mask][None, :]
        return data[mask].T

    def transform(self, X: Any) -> np.ndarray:
        """Embed peak tables or images.

        Parameters
        ----------
        X : pandas.DataFrame, NiMARE Dataset, niimg-like or list of niimg-like
            Peak coordinates go to :meth:`transform_coordinates`, images to
            :meth:`transform_imgs`.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, n_regions_), float32
        """
        import pandas as pd

        if isinstance(X, pd.DataFrame) or hasattr(X, "coordinates"):
            return self.transform_coordinates(X)
        return self.transform_imgs(X)

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted space to a folder (NIfTI + JSON), atomically.

        The folder holds ``atlas.nii.gz`` (the atlas on the mask grid),
        ``mask.nii.gz`` and ``space.json`` (class, parameters, kind, region names,
        versions) and ``manifest.json`` (checksums), so that a pretrained bundle
        can store its space (:mod:`brainlm_decode.persistence`).

        Parameters
        ----------
        path : str or path-like
            Folder to create.
        overwrite : bool, default=False
            Replace an existing saved space at ``path``.

        Returns
        -------
        path : pathlib.Path
        """
        self._check_fitted()

        def write(tmp: Path) -> dict[str, Any]:
            nib.save(self.maps_img_, tmp / _ATLAS)
            nib.save(self.mask_img_, tmp / _MASK)
            return {
                "brainlm_decode_version": __version__,
                "plugin": self._plugin_name(),
                "params": self._json_params(),
                "kind": self.kind_,
                "region_names": self.region_names_,
                "label_values": [int(v) for v in self._label_values],
            }

        return persistence.save_folder(
            path,
            write,
            format_name=FORMAT_NAME,
            format_version=FORMAT_VERSION,
            overwrite=overwrite,
            config_name=_CONFIG,
            what="saved space",
        )

    def _plugin_name(self) -> str:
        from brainlm_decode.plugins import plugin_name

        name = plugin_name("image_spaces", self)
        if name is None:
            raise TypeError(
                f"{type(self).__name__} is not a registered image-space plugin; "
                "register it (entry point or register_plugin) to save it, since "
                "nested estimators are saved by plugin name only."
            )
        return name

    def _json_params(self) -> dict[str, Any]:
        params = {}
        for name, value in self.get_params(deep=False).items():
            if name in self._image_params:
                value = None
            elif isinstance(value, os.PathLike):
                value = str(value)
            try:
                json.dumps(value)
            except TypeError:
                value = None
            params[name] = value
        return params

    @classmethod
    def load(cls, path: str | os.PathLike, *, _verified: bool = False) -> ImageSpace:
        """Load a space written by :meth:`save`, fitted, without any download.

        Every file is checked against the folder's ``manifest.json`` first.

        Parameters
        ----------
        path : str or path-like
            Folder written by :meth:`save`.

        Returns
        -------
        space : ImageSpace
            An instance of the saved class (parameters restored; image parameters
            point to the files of the folder).
        """
        path = Path(path)
        config = persistence.load_folder(
            path,
            format_name=FORMAT_NAME,
            supported=FORMAT_VERSION,
            what="saved image space",
            config_name=_CONFIG,
            verified=_verified,
            unnamed_ok=True,  # written before the format was named
        )
        if not {"params", "kind"} <= set(config) or not {"plugin", "class"} & set(
            config
        ):
            raise ValueError(
                f"The image space configuration {str(path / _CONFIG)!r} lacks the "
                "entries 'plugin', 'params' and 'kind'; the file is incomplete."
            )
        # "class": the import path of a built-in, in files written before plugin
        # names; mapped to its plugin name, never imported
        klass = persistence.plugin_class(
            "image_spaces",
            config.get("plugin", config.get("class")),
            source=str(path / _CONFIG),
        )
        if not issubclass(klass, ImageSpace):
            raise ValueError(f"{klass.__name__} is not an ImageSpace class.")
        if not issubclass(klass, cls):
            raise TypeError(
                f"The space at {str(path)!r} is a {klass.__name__}, not a {cls.__name__}."
            )
        params = dict(config["params"])
        for name in klass._image_params:
            if name in params:
                params[name] = str(path / (_MASK if name == "mask_img" else _ATLAS))
        space = klass(**params)
        mask_img = load_image(path / _MASK, "mask_img")
        mask_img = nib.Nifti1Image(
            (np.asanyarray(mask_img.dataobj) > 0).astype(np.uint8), mask_img.affine
        )
        atlas_img = load_image(path / _ATLAS, "atlas")
        kind = config["kind"]
        weights, _, _ = weights_from_img(atlas_img, mask_img, kind)
        values = np.asarray(config["label_values"], dtype=np.int64)
        space._set_atlas(mask_img, weights, kind, config["region_names"], values)
        return space


def _one_hot(labels_img: nib.Nifti1Image, mask_img: nib.Nifti1Image):
    mask = np.asanyarray(mask_img.dataobj) > 0
    codes = np.asanyarray(labels_img.dataobj)[mask].astype(np.int64)
    rows = np.flatnonzero(codes)
    n_regions = int(codes.max())
    return sparse.csr_array(
        (np.ones(rows.size), (rows, codes[rows] - 1)), shape=(codes.size, n_regions)
    )


@fill_doc
class MNIParcelSpace(ImageSpace):
    """Offline MNI parcellation built by our code (labels or probabilistic maps).

    Grey matter of nilearn's bundled MNI152 2 mm grey-matter mask (within the
    analysis mask) is split into compact parcels by seeded k-means on voxel
    coordinates, each hemisphere separately
    (:func:`~brainlm_decode.imaging.make_mni_parcellation`). The same parameters
    give the same atlas on every run; nothing is downloaded.

    Parameters
    ----------
    n_parcels : int, default=512
        Number of parcels.
    kind : {"labels", "maps"}, default="labels"
        ``"labels"``: parcels as a label atlas (region means). ``"maps"``: each
        parcel smoothed by a Gaussian of ``fwhm`` mm into overlapping
        probabilistic maps (least squares, a DiFuMo stand-in).
    fwhm : float, default=6.0
        Smoothing of the maps (``kind="maps"`` only).
    hemisphere_split : bool, default=True
        Parcels never cross the midline.
    """

    __doc__ = (
        (__doc__ or "").rstrip()
        + _SPACE_DOC
        + _RANDOM_STATE_DOC
        + _VERBOSE_DOC
        + "\n"
        + _ATTRIBUTES_DOC
    )

    _parameter_constraints: dict[str, list[Any]] = {
        "n_parcels": [Interval(int, 2, 20000)],
        "kind": [Options("labels", "maps")],
        "fwhm": [Interval(float, 0, None, closed="neither")],
        "hemisphere_split": [bool],
    }

    def __init__(
        self,
        n_parcels: int = 512,
        *,
        kind: str = "labels",
        fwhm: float = 6.0,
        hemisphere_split: bool = True,
        mask_img: Any = None,
        r: float = DEFAULT_RADIUS,
        n_jobs: int | None = None,
        batch_size: int = 256,
        random_state: Any = 0,
        verbose: int = 0,
    ) -> None:
        self.n_parcels = n_parcels
        self.kind = kind
        self.fwhm = fwhm
        self.hemisphere_split = hemisphere_split
        self.mask_img = mask_img
        self.r = r
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _build_weights(self, mask_img):
        from brainlm_decode.imaging.parcellation import (
            make_mni_parcellation,
            smooth_parcellation,
        )

        if self.random_state is None or isinstance(
            self.random_state, np.random.RandomState
        ):
            random_state = self.random_state
        else:
            random_state = int(self.random_state)
        labels_img, names = make_mni_parcellation(
            self.n_parcels,
            mask_img=mask_img,
            hemisphere_split=self.hemisphere_split,
            random_state=random_state,
        )
        values = np.arange(1, len(names) + 1)
        if self.kind == "labels":
            return _one_hot(labels_img, mask_img), "labels", names, values
        weights = smooth_parcellation(labels_img, mask_img, fwhm=float(self.fwhm))
        weights, keep = clean_map_weights(weights)
        return (
            weights,
            "maps",
            [n for n, k in zip(names, keep, strict=True) if k],
            values[keep],
        )


@fill_doc
class AtlasSpace(ImageSpace):
    """Any atlas: a label image, 4D probabilistic maps, or a nilearn masker.

    Parameters
    ----------
    atlas : str, niimg-like, NiftiLabelsMasker or NiftiMapsMasker
        The atlas image (or path), or a name among
        :data:`~brainlm_decode.imaging.atlas.ATLAS_NAMES` (fetched into the
        brainlm_decode data folder, with its region names). A masker gives its
        ``labels_img`` or ``maps_img`` (and its ``mask_img`` when ``mask_img``
        is None). Read by :func:`~brainlm_decode.imaging.atlas.resolve_atlas`.
        Atlases in another grid are resampled to the mask grid (nearest for
        labels, continuous for maps).
    kind : {"auto", "labels", "maps"}, default="auto"
        ``"auto"``: a 4D image with several volumes is maps, an integer 3D image
        is labels.
    labels : list, dict, pandas.DataFrame or None, default=None
        Region names: one per non-zero label in increasing order (a leading
        "Background" is skipped) or per map; a dict label -> name; a look-up
        table with columns ``index`` and ``name``. ``None`` gives
        ``region_<label>`` / ``component_<k>``.
    """

    __doc__ = (
        (__doc__ or "").rstrip() + _SPACE_DOC + _VERBOSE_DOC + "\n" + _ATTRIBUTES_DOC
    )

    _parameter_constraints: dict[str, list[Any]] = {
        "atlas": [Satisfies(is_atlas_like, ATLAS_DOC)],
        "kind": [Options("auto", "labels", "maps")],
    }
    _image_params = ("atlas", "mask_img")

    def __init__(
        self,
        atlas: Any = None,
        *,
        kind: str = "auto",
        labels: Any = None,
        mask_img: Any = None,
        r: float = DEFAULT_RADIUS,
        n_jobs: int | None = None,
        batch_size: int = 256,
        verbose: int = 0,
    ) -> None:
        self.atlas = atlas
        self.kind = kind
        self.labels = labels
        self.mask_img = mask_img
        self.r = r
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.verbose = verbose

    def fit(self, X: Any = None, y: Any = None) -> AtlasSpace:
        """Read the atlas and factor it.

        Parameters
        ----------
        X, y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self : AtlasSpace
            The fitted space.
        """
        self._validate_params()
        atlas = resolve_atlas(self.atlas, kind=self.kind, verbose=self.verbose)
        mask_param = self.mask_img if self.mask_img is not None else atlas.mask_img
        mask_img = _resolve_mask(mask_param)
        labels = self.labels if self.labels is not None else atlas.labels
        weights, names, values = weights_from_img(
            atlas.img, mask_img, atlas.kind, labels=labels
        )
        self._set_atlas(mask_img, weights, atlas.kind, names, values)
        return self


@fill_doc
class DiFuMoSpace(ImageSpace):
    """DiFuMo probabilistic maps (Dadi et al. 2020), NiCLIP's image space.

    The maps are fetched with :func:`nilearn.datasets.fetch_atlas_difumo` (cached
    in nilearn's data folder), resampled to the mask grid and projected by least
    squares, as :class:`nilearn.maskers.NiftiMapsMasker` does. Offline, ``fit``
    raises an error naming the files to download and where to put them.

    Parameters
    ----------
    dimension : {64, 128, 256, 512, 1024}, default=512
        Number of maps.
    resolution_mm : {2, 3}, default=2
        Resolution of the DiFuMo files.
    data_dir : str, path-like or None, default=None
        Data folder. ``None``: a copy already in nilearn's data folders
        (``$NILEARN_DATA``, ``~/nilearn_data``) is used, otherwise the files go
        to the brainlm_decode data folder (``$BRAINLM_DECODE_DATA`` or
        ``~/brainlm_decode_data``), through
        :func:`brainlm_decode.datasets.fetch_atlas_difumo`.
    """

    __doc__ = (
        (__doc__ or "").rstrip() + _SPACE_DOC + _VERBOSE_DOC + "\n" + _ATTRIBUTES_DOC
    )

    _parameter_constraints: dict[str, list[Any]] = {
        "dimension": [Options(64, 128, 256, 512, 1024)],
        "resolution_mm": [Options(2, 3)],
        "data_dir": [None, str, os.PathLike],
    }

    def __init__(
        self,
        dimension: int = 512,
        resolution_mm: int = 2,
        data_dir: str | os.PathLike | None = None,
        *,
        mask_img: Any = None,
        r: float = DEFAULT_RADIUS,
        n_jobs: int | None = None,
        batch_size: int = 256,
        verbose: int = 0,
    ) -> None:
        self.dimension = dimension
        self.resolution_mm = resolution_mm
        self.data_dir = data_dir
        self.mask_img = mask_img
        self.r = r
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.verbose = verbose

    def _build_weights(self, mask_img):
        from brainlm_decode.imaging.difumo import fetch_difumo

        maps, names = fetch_difumo(
            self.dimension, self.resolution_mm, self.data_dir, verbose=self.verbose
        )
        weights, names, values = weights_from_img(
            load_niimg(maps, "maps"), mask_img, "maps", labels=names
        )
        return weights, "maps", names, values
