"""Bad inputs across the public API and the CLI: each gets a clear, documented error.

A table of hand-written cases (``CASES``) and hypothesis strategies for arrays,
affines, images, coordinates and time series. For every case: the exception is
one of the documented types (never a raw ``KeyError``, ``AttributeError``,
``JSONDecodeError`` or ``EOFError``), its message names the argument or the file,
and no file already on disk changed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import NotFittedError

from brainlm_decode import (
    FMRIDescriptorTransformer,
    FMRILMClassifier,
    FMRILMRegressor,
    FMRITokenizer,
    ROITimeSeriesPreprocessor,
)
from brainlm_decode.cli import main
from brainlm_decode.collection import load_collection
from brainlm_decode.decode import CLIPDecoder
from brainlm_decode.decode.persistence import list_pretrained
from brainlm_decode.imaging import mkda_map, prepare_map
from brainlm_decode.ontology import CognitiveAtlas, load_cognitive_atlas_dump
from brainlm_decode.timeseries.preprocessing import resample_timeseries

#: Documented exception types of the public API.
DOCUMENTED = (ValueError, TypeError, FileNotFoundError, NotFittedError, OSError)
#: Never acceptable, even as subclasses of the documented ones.
RAW = (KeyError, AttributeError, json.JSONDecodeError, EOFError, IndexError)

HAS_BUNDLE = bool(list_pretrained())


@dataclass(frozen=True)
class Case:
    """One bad input: the call, the expected message fragment, the exception."""

    name: str
    call: Callable[[Path], object]
    match: str
    raises: type | tuple = DOCUMENTED
    needs_bundle: bool = False


# ----------------------------------------------------------------------- inputs


def _img(data: np.ndarray, affine: np.ndarray | None = None) -> nib.Nifti1Image:
    return nib.Nifti1Image(data, np.eye(4) if affine is None else affine)


def _blob(shape=(6, 6, 6)) -> np.ndarray:
    data = np.zeros(shape)
    data[2:4, 2:4, 2:4] = np.arange(1, 9).reshape(2, 2, 2)
    return data


def _series(n_timepoints=160, n_rois=14, seed=0) -> np.ndarray:
    return np.random.RandomState(seed).standard_normal((n_timepoints, n_rois))


NETWORKS = ["Vis", "SomMot", "DorsAttn", "SalVentAttn", "Limbic", "Cont", "Default"] * 2


def _negative_3mm() -> nib.Nifti1Image:
    data = np.zeros((40, 48, 40))
    data[15:25, 15:30, 15:25] = -2.0
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = [-60, -72, -50]
    return _img(data, affine)


def _studies() -> dict:
    from brainlm_decode.datasets import make_studies_collection

    return make_studies_collection(n_studies=8, n_topics=2, random_state=0)


def _fitted_descriptors() -> FMRIDescriptorTransformer:
    X = [_series(seed=s) for s in range(4)]
    return FMRIDescriptorTransformer(
        networks=NETWORKS, descriptors=("connectivity",)
    ).fit(X)


def _write_inputs(folder: Path) -> None:
    """Files the cases read; the test checks none of them changes."""
    good = _img(_blob())
    good.to_filename(folder / "map.nii.gz")
    raw = (folder / "map.nii.gz").read_bytes()
    (folder / "truncated.nii.gz").write_bytes(raw[: len(raw) // 2])
    (folder / "header_only.nii.gz").write_bytes(raw[:40])
    (folder / "text.nii.gz").write_text("not an image")
    (folder / "complex.nii").write_bytes(_img(_blob().astype(np.complex64)).to_bytes())
    (folder / "dir.nii.gz").mkdir()
    (folder / "empty_dir").mkdir()
    atlas = CognitiveAtlas(
        tasks=[{"id": "t1", "name": "task one", "definition": "d"}],
        concepts=[{"id": "c1", "name": "concept", "definition": "d", "domain": "d1"}],
        domains=[{"id": "d1", "name": "Domain", "definition": "d"}],
        task_concepts=[("t1", "c1")],
    )
    atlas.save(folder / "ontology.json")
    text = (folder / "ontology.json").read_text()
    (folder / "ontology_truncated.json").write_text(text[: len(text) // 2])
    (folder / "ontology_list.json").write_text("[1, 2]")
    (folder / "ontology_keys.json").write_text('{"tasks": 3}')
    (folder / "empty.json").write_text("")
    (folder / "latin1.json").write_bytes('{"a": "caf\xe9"}'.encode("latin-1"))
    dump = folder / "dump"
    dump.mkdir()
    (dump / "TaskCollection.json").write_text('{"entries": [{"id": "t1", "na')
    (dump / "ConceptCollection.json").write_text('{"entries": []}')
    nodump = folder / "dump_missing"
    nodump.mkdir()
    (folder / "collection_truncated.json").write_text('{"s1": {"contrasts": {"1"')
    (folder / "collection_list.json").write_text("[]")
    (folder / "collection.txt").write_text("hello")
    for name, content in {
        "decoder_truncated": '{"format": "brainlm_decode.CLIPDecoder", "form',
        "decoder_wrong_format": '{"format": "something else"}',
        "decoder_list": "[]",
        "decoder_no_params": '{"format": "brainlm_decode.CLIPDecoder", '
        '"format_version": 1}',
    }.items():
        (folder / name).mkdir()
        (folder / name / "config.json").write_text(content)


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz_inputs")
    _write_inputs(folder)
    return folder


@pytest.fixture(scope="module")
def decoder():
    if not HAS_BUNDLE:
        pytest.skip("the pretrained bundle is not built in this checkout")
    return CLIPDecoder.from_pretrained()


_DECODER: dict[str, CLIPDecoder] = {}


def _pretrained() -> CLIPDecoder:
    if "d" not in _DECODER:
        _DECODER["d"] = CLIPDecoder.from_pretrained()
    return _DECODER["d"]


# ------------------------------------------------------------------------ cases


def _prepare_map_cases() -> list[Case]:
    good = _img(_blob())
    cases = [
        Case(
            f"prepare_map tail={t!r}", lambda p, t=t: prepare_map(good, tail=t), "tail"
        )
        for t in ("pos", "", None, 1, "POSITIVE", ["positive"])
    ]
    cases += [
        Case(
            f"prepare_map percentile={q!r}",
            lambda p, q=q: prepare_map(good, percentile=q),
            "percentile",
        )
        for q in (-1, 0, 101, float("nan"), float("inf"), "10", True, [10])
    ]
    cases += [
        Case(
            f"prepare_map flip_sign={v!r}",
            lambda p, v=v: prepare_map(good, flip_sign=v),
            "flip_sign",
        )
        for v in (1, "yes", None)
    ]
    cases += [
        Case(
            f"prepare_map binarize={v!r}",
            lambda p, v=v: prepare_map(good, binarize=v),
            "binarize",
        )
        for v in (0, "no")
    ]
    imgs = {
        "None": None,
        "int": 3,
        "ndarray": _blob(),
        "list": [good],
        "dict": {"img": good},
        "bytes": b"map.nii.gz",
    }
    cases += [
        Case(f"prepare_map img={k}", lambda p, v=v: prepare_map(v), "'img'")
        for k, v in imgs.items()
    ]
    files = {
        "missing": ("nope.nii.gz", "nope.nii.gz"),
        "directory": ("dir.nii.gz", "is a directory"),
        "truncated": ("truncated.nii.gz", "truncated.nii.gz"),
        "header only": ("header_only.nii.gz", "header_only.nii.gz"),
        "text file": ("text.nii.gz", "text.nii.gz"),
        "complex file": ("complex.nii", "complex-valued"),
    }
    cases += [
        Case(f"prepare_map {k}", lambda p, f=f: prepare_map(str(p / f)), m)
        for k, (f, m) in files.items()
    ]
    arrays = {
        "4D with 3 volumes": (np.ones((4, 4, 4, 3)), "4D"),
        "2D": (np.ones((4, 4)), "3D"),
        "all NaN": (np.full((4, 4, 4), np.nan), "NaN"),
        "all inf": (np.full((4, 4, 4), np.inf), "infinite"),
        "all zero": (np.zeros((4, 4, 4)), "empty"),
        "all negative": (-_blob(), "no positive"),
        "complex": (_blob().astype(np.complex128), "complex-valued"),
    }
    cases += [
        Case(f"prepare_map {k}", lambda p, a=a: prepare_map(_img(a)), m)
        for k, (a, m) in arrays.items()
    ]
    cases += [
        Case(
            "prepare_map positive map, tail='negative'",
            lambda p: prepare_map(good, tail="negative"),
            "no negative",
        ),
        Case(
            "prepare_map mask outside the map",
            lambda p: prepare_map(good, mask_img=_img(np.zeros((6, 6, 6)))),
            "mask_img",
        ),
        Case(
            "prepare_map mask_img=3",
            lambda p: prepare_map(good, mask_img=3),
            "mask_img",
        ),
    ]
    return cases


def _mkda_cases() -> list[Case]:
    coords = {
        "strings": [["a", "b", "c"]],
        "shape (1, 2)": [[1.0, 2.0]],
        "shape (0, 3)": np.zeros((0, 3)),
        "shape (2, 4)": np.zeros((2, 4)),
        "3D array": np.zeros((1, 1, 3)),
        "NaN": [[np.nan, 0, 0]],
        "inf": [[0, np.inf, 0]],
        "complex": np.array([[1j, 0, 0]]),
        "None": None,
        "dict": {"x": 1},
        "DataFrame without x/y/z": pd.DataFrame({"a": [1], "b": [2], "c": [3]}),
        "text": "(-38, -22, 56)",
    }
    cases = [
        Case(f"mkda_map coordinates={k}", lambda p, v=v: mkda_map(v), "coordinates")
        for k, v in coords.items()
    ]
    peak = [[-38, -22, 56]]
    cases += [
        Case(f"mkda_map r={r!r}", lambda p, r=r: mkda_map(peak, r=r), "'r'")
        for r in (-1, 0, "10", float("nan"))
    ]
    cases += [
        Case(f"mkda_map value={v!r}", lambda p, v=v: mkda_map(peak, value=v), "value")
        for v in ("1", None)
    ]
    return cases


def _decoder_cases() -> list[Case]:
    def decode(img):
        return lambda p: _pretrained().transform(img(p) if callable(img) else img)

    def far(p, shift):
        img = nib.load(p / "map.nii.gz")
        data = np.zeros((40, 48, 40))
        data[10:30, 10:38, 10:30] = 1.5
        affine = np.diag([3.0, 3.0, 3.0, 1.0])
        affine[:3, 3] = [-60 + shift, -72, -50]
        del img
        return _img(data, affine)

    def identity_2mm(p):
        space = _pretrained().image_space_
        mask = np.asanyarray(space.mask_img_.dataobj).astype(np.float64)
        return _img(mask * 2.5)  # the whole brain, with an identity affine

    cases = [
        Case(
            f"CLIPDecoder.transform level={lv!r}",
            lambda p, lv=lv: _pretrained().transform(mkda_map([[0, 0, 0]]), level=lv),
            "level",
            needs_bundle=True,
        )
        for lv in ("tasks", "", None, 1)
    ]
    cases += [
        Case(
            "decode map 500 mm off",
            decode(lambda p: far(p, 500)),
            "MNI",
            (ValueError,),
            True,
        ),
        Case(
            "decode map 300 mm off",
            decode(lambda p: far(p, -300)),
            "MNI",
            (ValueError,),
            True,
        ),
        Case(
            "decode identity affine", decode(identity_2mm), "MNI", (ValueError,), True
        ),
        Case("decode empty list", decode([]), "imgs", needs_bundle=True),
        Case(
            "decode all-negative 3 mm map (tail='positive')",
            decode(lambda p: _negative_3mm()),
            "no positive",
            needs_bundle=True,
        ),
        Case(
            "decode ndarray",
            decode(np.zeros((91, 109, 91))),
            "'imgs'",
            needs_bundle=True,
        ),
        Case("decode None", decode(None), "'imgs'", needs_bundle=True),
        Case(
            "decode truncated file",
            decode(lambda p: str(p / "truncated.nii.gz")),
            "truncated.nii.gz",
            needs_bundle=True,
        ),
        Case(
            "decode directory",
            decode(lambda p: str(p / "dir.nii.gz")),
            "is a directory",
            needs_bundle=True,
        ),
        Case(
            "decode complex map",
            decode(lambda p: str(p / "complex.nii")),
            "complex-valued",
            needs_bundle=True,
        ),
        Case(
            "decode [ok, bad] names map 1",
            lambda p: _pretrained().decode(
                [mkda_map([[0, -50, 30]]), str(p / "truncated.nii.gz")]
            ),
            "Map 1 of 2",
            needs_bundle=True,
        ),
        Case(
            "decode [ok, empty] names map 1",
            lambda p: _pretrained().decode(
                [mkda_map([[0, -50, 30]]), _img(np.zeros((91, 109, 91)))]
            ),
            "Map 1 of 2",
            needs_bundle=True,
        ),
    ]
    shapes = {
        "1D": np.zeros(512),
        "wrong width": np.zeros((1, 7)),
        "3D": np.zeros((1, 1, 1)),
    }
    cases += [
        Case(
            f"decode_embeddings {k}",
            lambda p, a=a: _pretrained().decode_embeddings(a),
            "image_embeddings",
            needs_bundle=True,
        )
        for k, a in shapes.items()
    ]
    cases += [
        Case(
            f"from_pretrained({v!r})",
            lambda p, v=v: CLIPDecoder.from_pretrained(v),
            "name_or_path",
        )
        for v in ("", "no-such-bundle", 3, ["x"])
    ]
    folders = {
        "empty folder": ("empty_dir", "config.json"),
        "missing folder": ("no_such_folder", "no_such_folder"),
        "truncated config": ("decoder_truncated", "config.json"),
        "other format": ("decoder_wrong_format", "config.json"),
        "config is a list": ("decoder_list", "config.json"),
        "config without params": ("decoder_no_params", "config.json"),
        "a file": ("map.nii.gz", "map.nii.gz"),
    }
    cases += [
        Case(f"CLIPDecoder.load {k}", lambda p, f=f: CLIPDecoder.load(p / f), m)
        for k, (f, m) in folders.items()
    ]
    params = {
        "text_encoder": 3,
        "image_space": "no-such-space",
        "ontology": 5,
        "text_source": "",
        "n_epochs": 0,
        "device": "gpu",
        "random_state": -1,
        "verbose": -1,
        "batch_size": 0,
        "alpha": 2.0,
    }
    cases += [
        Case(
            f"CLIPDecoder({k}={v!r}).fit",
            lambda p, k=k, v=v: CLIPDecoder(**{k: v}).fit(_studies()),
            k,
        )
        for k, v in params.items()
    ]
    cases += [
        Case(
            f"CLIPDecoder().{m} before fit",
            lambda p, m=m: getattr(CLIPDecoder(), m)(mkda_map([[0, 0, 0]])),
            "CLIPDecoder",
            (NotFittedError,),
        )
        for m in ("transform", "decode", "embed_imgs")
    ]
    return cases


def _loader_cases() -> list[Case]:
    atlas_files = {
        "truncated": ("ontology_truncated.json", "ontology_truncated.json"),
        "empty": ("empty.json", "empty.json"),
        "latin-1": ("latin1.json", "latin1.json"),
        "a list": ("ontology_list.json", "ontology_list.json"),
        "bad keys": ("ontology_keys.json", "ontology_keys.json"),
        "missing": ("nope.json", "nope.json"),
        "folder without snapshot": ("empty_dir", "empty_dir"),
        "a NIfTI": ("map.nii.gz", "map.nii.gz"),
    }
    cases = [
        Case(f"CognitiveAtlas.load {k}", lambda p, f=f: CognitiveAtlas.load(p / f), m)
        for k, (f, m) in atlas_files.items()
    ]
    cases += [
        Case(
            f"CognitiveAtlas.from_json {k}",
            lambda p, t=t: CognitiveAtlas.from_json(t),
            m,
        )
        for k, t, m in (
            ("truncated", '{"tasks": [', "text"),
            ("empty", "", "text"),
        )
    ]
    cases += [
        Case(
            "load_cognitive_atlas_dump truncated TaskCollection.json",
            lambda p: load_cognitive_atlas_dump(p / "dump"),
            "TaskCollection.json",
        ),
        Case(
            "load_cognitive_atlas_dump without files",
            lambda p: load_cognitive_atlas_dump(p / "dump_missing"),
            "TaskCollection.json",
        ),
    ]
    sources = {
        "None": (None, "source"),
        "int": (3, "source"),
        "missing file": ("nope.json", "nope.json"),
        "empty folder": ("empty_dir", "empty_dir"),
        "truncated JSON": ("collection_truncated.json", "collection_truncated.json"),
        "JSON list": ("collection_list.json", "collection_list.json"),
        "text file": ("collection.txt", "collection.txt"),
        "empty dict": ({}, "dict"),
        "dict of garbage": ({"a": 1}, "dict"),
        "a NIfTI": ("map.nii.gz", "map.nii.gz"),
    }
    cases += [
        Case(
            f"load_collection {k}",
            lambda p, v=v: load_collection(str(p / v) if isinstance(v, str) else v),
            m,
        )
        for k, (v, m) in sources.items()
    ]
    return cases


def _timeseries_cases() -> list[Case]:
    X = [_series(seed=s) for s in range(3)]
    prep_params = {
        "t_r": [0.001, 0.005, -1.0, 0.0, "2", float("nan")],
        "target_t_r": [0.0, -2.0],
        "n_timepoints": [0, -5],
        "constant_rois": ["maybe"],
        "min_timepoints": [1],
        "standardize": ["maybe"],
    }
    cases = [
        Case(
            f"ROITimeSeriesPreprocessor({k}={v!r})",
            lambda p, k=k, v=v: ROITimeSeriesPreprocessor(
                **{"t_r": 2.0, k: v}
            ).fit_transform(X),
            k,
        )
        for k, values in prep_params.items()
        for v in values
    ]
    bad_X = {
        "empty list": ([], "'X'"),
        "None": (None, "'X'"),
        "string": ("abc", "'X'"),
        "list of strings": (["a", "b"], "X"),
        "NaN series": ([np.full((160, 5), np.nan)], "NaN"),
        "5 points": ([_series(5, 4)], "time point"),
        "1D series": ([np.zeros(160)], "X"),
        "complex series": ([_series().astype(complex)], "X"),
    }
    cases += [
        Case(
            f"ROITimeSeriesPreprocessor.fit_transform {k}",
            lambda p, v=v: ROITimeSeriesPreprocessor(t_r=2.0).fit_transform(v),
            m,
        )
        for k, (v, m) in bad_X.items()
    ]
    constant = [np.c_[_series(n_rois=4), np.ones(160)]]  # the default only warns
    cases.append(
        Case(
            "ROITimeSeriesPreprocessor.fit_transform constant ROI (error)",
            lambda p, v=constant: ROITimeSeriesPreprocessor(
                t_r=2.0, constant_rois="error"
            ).fit_transform(v),
            "constant",
        )
    )
    cases += [
        Case(
            f"resample_timeseries {k}",
            lambda p, a=a: resample_timeseries(**a),
            m,
        )
        for k, a, m in (
            ("t_r=0", {"ts": _series(), "t_r": 0, "target_t_r": 2.0}, "t_r"),
            ("t_r=0.001", {"ts": _series(), "t_r": 0.001, "target_t_r": 2.0}, "t_r"),
            ("one point", {"ts": np.zeros((1, 3)), "t_r": 1, "target_t_r": 2}, "ts"),
            ("NaN", {"ts": np.full((9, 3), np.nan), "t_r": 1, "target_t_r": 2}, "ts"),
            ("3D", {"ts": np.zeros((9, 3, 2)), "t_r": 1, "target_t_r": 2}, "ts"),
        )
    ]
    desc_X = {
        "2D array": (_series(), "[X]"),
        "transposed": ([_series().T for _ in range(3)], "transposed"),
        "strings": (["a", "b"], "numeric"),
        "constant ROIs": ([np.ones((160, 14))] * 3, "constant"),
        "all zero": ([np.zeros((160, 14))] * 3, "all zero"),
        "5 points": ([_series(5)] * 3, "time points"),
        "NaN": ([np.full((160, 14), np.nan)], "NaN"),
        "empty list": ([], "empty"),
        "None": (None, "'X'"),
        "complex": ([_series().astype(complex)], "complex"),
        "ragged ROI counts": ([_series(), _series(n_rois=10)], "ROIs"),
    }
    cases += [
        Case(
            f"FMRIDescriptorTransformer.fit {k}",
            lambda p, v=v: FMRIDescriptorTransformer(networks=NETWORKS).fit(v),
            m,
        )
        for k, (v, m) in desc_X.items()
    ]
    cases += [
        Case(
            f"FMRIDescriptorTransformer.{m} before fit",
            lambda p, m=m: getattr(FMRIDescriptorTransformer(networks=NETWORKS), m)(X),
            "FMRIDescriptorTransformer",
            (NotFittedError,),
        )
        for m in ("transform", "to_text", "transform_raw", "get_feature_names_out")
    ]
    desc_params = {
        "networks (None)": ({"networks": None}, "networks"),
        "networks (too few)": ({"networks": NETWORKS[:3]}, "networks"),
        "networks (unusable)": (
            {"networks": ["foo"] * 14, "descriptors": ("connectivity",)},
            "networks",
        ),
        "descriptors": ({"networks": NETWORKS, "descriptors": ("nope",)}, "nope"),
        "normative_method": (
            {"networks": NETWORKS, "normative_method": "zscore"},
            "normative_method",
        ),
    }
    cases += [
        Case(
            f"FMRIDescriptorTransformer({k}).fit",
            lambda p, kw=kw: FMRIDescriptorTransformer(**kw).fit(X),
            m,
        )
        for k, (kw, m) in desc_params.items()
    ]
    cases += [
        Case(
            "FMRIDescriptorTransformer.transform wrong ROI count",
            lambda p: _fitted_descriptors().transform([_series(n_rois=10)]),
            "ROIs",
        ),
        Case(
            "FMRIDescriptorTransformer.transform 5-point series",
            lambda p: _fitted_descriptors().transform([_series(5)]),
            "time points",
        ),
    ]
    return cases


def _lm_cases() -> list[Case]:
    X = [_series(64, 14, seed=s) for s in range(3)]
    sizes = {
        "width not divisible by heads": (
            {"n_layers": 1, "embed_dim": 10, "n_heads": 3},
            "divisible",
        ),
        "unknown name": ("huge", "size"),
        "missing key": ({"n_layers": 1, "embed_dim": 8}, "size"),
        "zero layers": ({"n_layers": 0, "embed_dim": 8, "n_heads": 2}, "n_layers"),
    }
    cases = [
        Case(
            f"FMRITokenizer(size={k}).fit",
            lambda p, s=s: FMRITokenizer(size=s, backbone=None).fit(X),
            m,
        )
        for k, (s, m) in sizes.items()
    ]
    tiny = {"n_layers": 1, "embed_dim": 8, "n_heads": 2}
    cases += [
        Case(
            f"FMRITokenizer.fit X={k}",
            lambda p, v=v: FMRITokenizer(size=tiny, backbone=None).fit(v),
            m,
        )
        for k, v, m in (
            ("2D array", _series(64, 14), "X"),
            ("strings", ["a", "b"], "X"),
            ("empty list", [], "X"),
        )
    ]
    cases += [
        Case(
            "FMRITokenizer(patch_size=0).fit",
            lambda p: FMRITokenizer(size=tiny, patch_size=0, backbone=None).fit(X),
            "patch_size",
        ),
        Case(
            "FMRITokenizer.transform before fit",
            lambda p: FMRITokenizer().transform(X),
            "FMRITokenizer",
            (NotFittedError,),
        ),
    ]
    for klass in (FMRILMClassifier, FMRILMRegressor):
        name = klass.__name__
        cases += [
            Case(
                f"{name}.predict before fit",
                lambda p, k=klass: k().predict(X),
                name,
                (NotFittedError,),
            ),
            Case(
                f"{name}(token_layout='voxel').fit",
                lambda p, k=klass: k(token_layout="voxel").fit(X, [0, 1, 0]),
                "token_layout",
            ),
        ]
    return cases


def _cli_cases() -> list[Case]:
    def cli(*argv, code=2):
        def run(p):
            args = [a.format(p=p) for a in argv]
            rc = main(args)
            if rc != 0:
                raise _CLIError(rc, code)
            return rc

        return run

    usage = {
        "--top -3": ("decode", "{p}/map.nii.gz", "--top", "-3"),
        "--top 0": ("decode", "{p}/map.nii.gz", "--top", "0"),
        "--top 1.5": ("decode", "{p}/map.nii.gz", "--top", "1.5"),
        "demo --top 0": ("demo", "--top", "0"),
        "map is a directory": ("decode", "{p}/dir.nii.gz"),
        "map missing": ("decode", "{p}/nope.nii.gz"),
        "--percentile 0": ("decode", "{p}/map.nii.gz", "--percentile", "0"),
        "--percentile x": ("decode", "{p}/map.nii.gz", "--percentile", "x"),
        "--tail up": ("decode", "{p}/map.nii.gz", "--tail", "up"),
        "--level voxel": ("decode", "{p}/map.nii.gz", "--level", "voxel"),
        "--plot a folder": ("decode", "{p}/map.nii.gz", "--plot", "{p}"),
        "--plot in a missing folder": (
            "decode",
            "{p}/map.nii.gz",
            "--plot",
            "{p}/x/y.png",
        ),
        "--model a file": ("decode", "{p}/map.nii.gz", "--model", "{p}/map.nii.gz"),
        "--model unknown": ("decode", "{p}/map.nii.gz", "--model", "nope"),
        "train --out existing": ("train", "{p}/collection.txt", "--out", "{p}/dump"),
        "train --out a file": (
            "train",
            "{p}/collection.txt",
            "--out",
            "{p}/map.nii.gz",
        ),
        "train collection missing": ("train", "{p}/nope", "--out", "{p}/new"),
        "train --ontology missing": (
            "train",
            "{p}/collection.txt",
            "--out",
            "{p}/new",
            "--ontology",
            "{p}/no",
        ),
        "train --n-epochs 0": (
            "train",
            "{p}/collection.txt",
            "--out",
            "{p}/new",
            "--n-epochs",
            "0",
        ),
        "train --device gpu": (
            "train",
            "{p}/collection.txt",
            "--out",
            "{p}/new",
            "--device",
            "gpu",
        ),
        "train --text-encoder x": (
            "train",
            "{p}/collection.txt",
            "--out",
            "{p}/new",
            "--text-encoder",
            "x",
        ),
        "plugins nope": ("plugins", "nope"),
        "unknown command": ("frobnicate",),
        "no command": (),
    }
    cases = [
        Case(f"CLI {k}", cli(*argv), "error", (_CLIError,)) for k, argv in usage.items()
    ]
    data = {
        "truncated map": ("decode", "{p}/truncated.nii.gz"),
        "text as map": ("decode", "{p}/text.nii.gz"),
        "complex map": ("decode", "{p}/complex.nii"),
        "train truncated ontology": (
            "train",
            "{p}/collection_truncated.json",
            "--out",
            "{p}/new",
            "--ontology",
            "{p}/ontology_truncated.json",
        ),
    }
    cases += [
        Case(f"CLI {k}", cli(*argv, code=1), "error", (_CLIError,), True)
        for k, argv in data.items()
    ]
    return cases


class _CLIError(Exception):
    """A non-zero CLI exit (the expected code is checked by the test)."""

    def __init__(self, rc: int, expected: int) -> None:
        super().__init__(f"error: exit code {rc}, expected {expected}")
        self.rc, self.expected = rc, expected


def _space_and_text_cases() -> list[Case]:
    from brainlm_decode.imaging import AtlasSpace, MNIParcelSpace
    from brainlm_decode.imaging.spaces import ImageSpace
    from brainlm_decode.text import MiniLMEncoder

    cases = [
        Case(
            f"MNIParcelSpace(n_parcels={v!r}).fit",
            lambda p, v=v: MNIParcelSpace(n_parcels=v).fit(),
            "n_parcels",
        )
        for v in (0, 1, "8", 2.5)
    ]
    cases += [
        Case(
            f"AtlasSpace({k}).fit",
            lambda p, f=f: AtlasSpace(f(p)).fit(),
            m,
        )
        for k, f, m in (
            ("missing file", lambda p: str(p / "no_atlas.nii.gz"), "no_atlas.nii.gz"),
            ("truncated file", lambda p: str(p / "truncated.nii.gz"), "truncated"),
            ("a directory", lambda p: str(p / "dir.nii.gz"), "is a directory"),
            ("an int", lambda p: 3, "atlas"),
        )
    ]
    cases += [
        Case(
            f"MNIParcelSpace().{m} before fit",
            lambda p, m=m, a=a: getattr(MNIParcelSpace(), m)(a),
            "MNIParcelSpace",
            (NotFittedError,),
        )
        for m, a in (("transform_imgs", []), ("transform_coordinates", [[0, 0, 0]]))
    ]
    cases += [
        Case(
            f"ImageSpace.load {k}",
            lambda p, f=f: ImageSpace.load(p / f),
            m,
        )
        for k, f, m in (
            ("empty folder", "empty_dir", "space.json"),
            ("missing folder", "no_such_space", "no_such_space"),
        )
    ]
    texts = {
        "ints": ([1, 2], "'texts'"),
        "one str": ("abc", "'texts'"),
        "empty": ([], "'texts'"),
        "None": (None, "'texts'"),
        "nested": ([["a"]], "'texts'"),
        "NaN": ([float("nan")], "'texts'"),
    }
    cases += [
        Case(
            f"MiniLMEncoder.encode {k}",
            lambda p, v=v: MiniLMEncoder().encode(v),
            m,
        )
        for k, (v, m) in texts.items()
    ]
    cases.append(
        Case(
            "MiniLMEncoder(batch_size=0).fit",
            lambda p: MiniLMEncoder(batch_size=0).fit(),
            "batch_size",
        )
    )
    return cases


CASES = (
    _prepare_map_cases()
    + _space_and_text_cases()
    + _mkda_cases()
    + _decoder_cases()
    + _loader_cases()
    + _timeseries_cases()
    + _lm_cases()
    + _cli_cases()
)


def test_at_least_180_distinct_bad_inputs():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert len(names) >= 180, len(names)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_gets_a_clear_error(case, inputs, capsys):
    if case.needs_bundle and not HAS_BUNDLE:
        pytest.skip("the pretrained bundle is not built in this checkout")
    before = _snapshot(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            case.call(inputs)
    error = info.value
    # sklearn's NotFittedError derives from AttributeError: it is the documented one
    raw = isinstance(error, RAW) and not isinstance(error, NotFittedError)
    assert not raw, f"raw {type(error).__name__}: {error}"
    assert isinstance(error, case.raises), f"{type(error).__name__}: {error}"
    assert case.match in str(error), str(error)
    if isinstance(error, _CLIError):
        assert error.rc == error.expected, str(error)
        err = capsys.readouterr().err.strip().splitlines()
        assert err and "Traceback" not in "\n".join(err)
        assert err[-1].startswith("brainlm-decode")
    assert _snapshot(inputs) == before, "a file on disk changed"


# ----------------------------------------------------------- explicit warnings


def test_nan_coordinate_in_a_collection_is_warned_with_its_count():
    from brainlm_decode.datasets import make_studies_collection

    studies = make_studies_collection(n_studies=4, n_topics=2, random_state=0)
    study = next(iter(studies.values()))
    coords = next(iter(study["contrasts"].values()))["coords"]
    coords["x"][0] = float("nan")
    coords["y"][1] = None
    with pytest.warns(UserWarning, match="2 focus/foci with a NaN"):
        load_collection(studies)


def test_missing_manifest_is_refused(tmp_path):
    if not HAS_BUNDLE:
        pytest.skip("the pretrained bundle is not built in this checkout")
    import shutil

    from brainlm_decode.decode.persistence import resolve_pretrained

    copy = tmp_path / "decoder"
    shutil.copytree(resolve_pretrained(None), copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json.*checksums"):
        CLIPDecoder.load(copy)


@pytest.mark.skipif(not HAS_BUNDLE, reason="the pretrained bundle is not built")
def test_decoding_is_scale_invariant():
    decoder = _pretrained()
    img = mkda_map([[-38, -22, 56], [38, -22, 56]])
    data = img.get_fdata() * np.linspace(1, 2, img.shape[2])
    reference = decoder.transform(_img(data, img.affine)).index[:5].tolist()
    for scale in (1e-30, 1e-6, 1e6, 1e20, 1e30, 1e300):
        scaled = _img(data * scale, img.affine)
        assert decoder.transform(scaled).index[:5].tolist() == reference, scale


@pytest.mark.skipif(not HAS_BUNDLE, reason="the pretrained bundle is not built")
def test_partly_shifted_map_is_warned_with_the_share():
    decoder = _pretrained()
    data = np.zeros((40, 48, 40))
    data[10:30, 10:38, 10:30] = 1.5
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = [-60 + 60, -72, -50]
    with pytest.warns(UserWarning, match=r"Only \d+% of the"):
        decoder.transform(_img(data, affine))


# ---------------------------------------------------------- hypothesis strategies

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
nonfinite = st.sampled_from([np.nan, np.inf, -np.inf])
FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@FAST
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=5, max_side=4).filter(
        lambda s: len(s) != 3 and not (len(s) == 4 and s[3] == 1)
    )
)
def test_prepare_map_refuses_every_non_3d_shape(shape):
    with pytest.raises((ValueError, TypeError), match="'img'|3D"):
        prepare_map(_img(np.ones(shape)) if len(shape) >= 3 else np.ones(shape))


@FAST
@given(data=hnp.arrays(np.float64, (4, 4, 4), elements=nonfinite))
def test_prepare_map_refuses_all_nonfinite_maps(data):
    with pytest.raises(ValueError, match="'img'"):
        prepare_map(_img(data))


@FAST
@given(
    shift=st.tuples(finite, finite, finite).filter(
        lambda s: max(abs(v) for v in s) > 400
    )
)
def test_maps_far_from_mni_are_refused(shift):
    if not HAS_BUNDLE:
        pytest.skip("the pretrained bundle is not built in this checkout")
    data = np.zeros((20, 24, 20))
    data[5:15, 5:19, 5:15] = 2.0
    affine = np.diag([6.0, 6.0, 6.0, 1.0])
    affine[:3, 3] = np.asarray(shift) - 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="MNI"):
            _pretrained().transform(_img(data, affine))


@FAST
@given(
    coords=st.one_of(
        hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(4, 6))),
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(1, 4), st.just(3)),
            elements=st.one_of(finite, nonfinite),
        ).filter(lambda a: not np.isfinite(a).all()),
        st.lists(st.text(min_size=1, max_size=3), min_size=3, max_size=3).map(
            lambda t: [t]
        ),
    )
)
def test_mkda_map_refuses_bad_coordinates(coords):
    with pytest.raises((ValueError, TypeError), match="coordinates"):
        mkda_map(coords)


@FAST
@given(
    series=st.one_of(
        hnp.arrays(np.float64, st.tuples(st.integers(2, 40), st.integers(2, 14))),
        hnp.arrays(
            np.float64,
            st.tuples(st.integers(50, 60), st.integers(2, 5)),
            elements=st.one_of(finite, nonfinite),
        ).filter(lambda a: not np.isfinite(a).all()),
        st.builds(lambda n: np.zeros((n, 14)), st.integers(50, 80)),
    )
)
def test_descriptors_refuse_bad_series(series):
    with pytest.raises(ValueError, match="'X' argument"):
        FMRIDescriptorTransformer(networks=NETWORKS).fit([series])
