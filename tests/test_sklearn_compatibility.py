"""Every public estimator and every registered plugin against scikit-learn's checks.

- Estimators fitted on 2D arrays go through scikit-learn's whole battery with
  ``parametrize_with_checks`` (``fit`` included).
- Estimators whose inputs are not 2D arrays (the decoder is fitted on a NiMARE
  collection and transforms brain images; text encoders take strings; image spaces
  take coordinates and images; fMRI estimators take lists of ROI time series;
  quantizers are torch modules called on tensors) declare it with the
  ``input_tags.two_d_array = False`` tag, for which scikit-learn yields no check;
  they run every API check that does not feed arrays (cloning, parameters, repr,
  tags, ``__init__`` hygiene) and the project checks below, which do call ``fit``:
  refit after ``set_params``, ``NotFittedError`` before ``fit``, plugin contracts
  (group base class, ``get_plugin`` clones instead of mutating).

Expected failures are listed in ``EXPECTED_FAILED_CHECKS`` with their reason.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

import brainlm_decode
from brainlm_decode import (
    CLIPDecoder,
    FMRIDescriptorTransformer,
    FMRILMClassifier,
    FMRILMFeatures,
    FMRILMRegressor,
    FMRITokenizer,
    ROITimeSeriesPreprocessor,
)
from brainlm_decode.datasets import make_fmri_cohort
from brainlm_decode.descriptors import Descriptor, NormativeModel
from brainlm_decode.imaging.spaces import ImageSpace
from brainlm_decode.lm.backbones import HFBackbone
from brainlm_decode.lm.ensemble import SeedEnsembleClassifier
from brainlm_decode.plugins import GROUPS, get_plugin, get_plugin_class, list_plugins
from brainlm_decode.text.encoders import TextEncoder
from brainlm_decode.tokenizer.quantizers import Quantizer, VectorQuantizer

#: Base class every plugin of a group derives from.
GROUP_BASES = {
    "text_encoders": TextEncoder,
    "image_spaces": ImageSpace,
    "descriptors": Descriptor,
    "quantizers": Quantizer,
    "backbones": HFBackbone,
}

#: Small-size constructor parameters of plugins (same code path, tiny sizes).
SMALL = {
    ("image_spaces", "mni-parcels"): {"n_parcels": 16},
    ("text_encoders", "hf"): {"model_name_or_path": "gpt2"},
    ("quantizers", "vq"): {"codebook_size": 8},
    ("quantizers", "fsq"): {"levels": (3, 3)},
    ("descriptors", "gradients"): {"random_state": 0},
    ("descriptors", "graph"): {"random_state": 0},
    ("descriptors", "ica"): {"random_state": 0},
}


def _plugins() -> list:
    return [
        get_plugin(group, name, **SMALL.get((group, name), {}))
        for group in GROUPS
        for name in list_plugins(group)
    ]


#: Estimators fitted on 2D arrays: scikit-learn's whole battery.
ARRAY_ESTIMATORS = [
    NormativeModel(),
    SeedEnsembleClassifier(LogisticRegression(), n_seeds=2, verbose=0),
]

#: Public estimators whose inputs are collections, images, strings or time series.
PUBLIC_NON_ARRAY = [
    CLIPDecoder(random_state=0),
    ROITimeSeriesPreprocessor(t_r=2.0),
    FMRIDescriptorTransformer(random_state=0),
    FMRITokenizer(random_state=0),
    FMRILMClassifier(random_state=0),
    FMRILMRegressor(random_state=0),
    FMRILMFeatures(),
]

#: Every registered plugin (built-ins and installed third-party ones).
PLUGINS = _plugins()

NON_ARRAY_ESTIMATORS = PUBLIC_NON_ARRAY + PLUGINS

_TORCH_MODULE = (
    "a quantizer is also a torch.nn.Module, whose __init__ sets the public "
    "'training' flag (torch's train/eval mode), not a constructor parameter"
)

#: check name -> reason, per estimator class name.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "VectorQuantizer": {"check_no_attributes_set_in_init": _TORCH_MODULE},
    "FiniteScalarQuantizer": {"check_no_attributes_set_in_init": _TORCH_MODULE},
}

API_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_no_attributes_set_in_init,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_mixin_order,
]


def _expected(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ARRAY_ESTIMATORS, expected_failed_checks=_expected)
def test_array_estimators(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    NON_ARRAY_ESTIMATORS + ARRAY_ESTIMATORS,
    ids=lambda est: type(est).__name__,
)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda check: check.__name__)
def test_api_checks(estimator, check):
    reason = _expected(estimator).get(check.__name__)
    if reason:
        pytest.xfail(reason)
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator", NON_ARRAY_ESTIMATORS, ids=lambda est: type(est).__name__
)
def test_non_array_estimators_declare_their_inputs(estimator):
    tags = estimator.__sklearn_tags__()
    assert tags.input_tags.two_d_array is False


def _public_estimator_classes() -> set[type]:
    found = set()
    for package in ("", "descriptors", "tokenizer", "lm", "text", "imaging", "decode"):
        module = getattr(brainlm_decode, package) if package else brainlm_decode
        for name in dir(module):  # every reachable name, not only __all__
            value = getattr(module, name, None)
            if (
                inspect.isclass(value)
                and value.__module__.startswith("brainlm_decode")
                and issubclass(value, BaseEstimator)
                and not inspect.isabstract(value)
                and value.__name__ not in {"BaseBrainLMEstimator"}
                and value not in set(GROUP_BASES.values()) - {HFBackbone}
            ):
                found.add(value)
    return found


def test_every_public_estimator_and_plugin_is_checked():
    checked = {type(est) for est in NON_ARRAY_ESTIMATORS + ARRAY_ESTIMATORS}
    missing = _public_estimator_classes() - checked
    assert not missing, f"estimators missing from the battery: {missing}"
    for group in GROUPS:
        for name in list_plugins(group):
            assert get_plugin_class(group, name) in checked


# -- plugin contracts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name"),
    [(g, n) for g in GROUPS for n in list_plugins(g)],
)
def test_plugin_contract(group, name):
    cls = get_plugin_class(group, name)
    assert issubclass(cls, GROUP_BASES[group])
    instance = get_plugin(group, name, **SMALL.get((group, name), {}))
    before = instance.get_params(deep=False)
    first = next(iter(before))
    other = get_plugin(group, instance, **{first: before[first]})
    assert other is not instance  # a clone, never the caller's object
    assert instance.get_params(deep=False).keys() == before.keys()
    assert get_plugin(group, instance) is instance


def test_get_plugin_clones_instead_of_mutating():
    mine = VectorQuantizer(codebook_size=16)
    got = get_plugin("quantizers", mine, codebook_size=4)
    assert mine.codebook_size == 16 and got.codebook_size == 4


# -- refit after set_params and not-fitted errors (regressions) ------------------------


def test_quantizer_set_params_rebuilds_weights():
    vq = VectorQuantizer(dim=8, codebook_size=16, kmeans_init=False)
    assert not hasattr(vq, "embed")  # __init__ stores parameters only
    vq.build()
    assert vq.embed.shape == (16, 8)
    vq.set_params(codebook_size=4)
    _, indices, _ = vq(torch.randn(3, 8))
    assert vq.embed.shape == (4, 8) and int(indices.max()) < 4
    assert vq.with_dim(6).embed.shape == (4, 6)


@pytest.fixture(scope="module")
def cohort():
    return make_fmri_cohort(n_subjects=10, n_rois=30, random_state=0)


def test_descriptor_transformer_refit_after_set_params(cohort):
    est = FMRIDescriptorTransformer(
        descriptors=("connectivity", "graph"),
        networks=cohort.networks,
        t_r=cohort.t_r,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(cohort.timeseries)
        n_both = len(est.get_feature_names_out())
        est.set_params(descriptors=("connectivity",)).fit(cohort.timeseries)
    names = est.get_feature_names_out()
    assert 0 < len(names) < n_both and all(n.startswith("fc__") for n in names)
    assert est.transform(cohort.timeseries[:2]).shape == (2, len(names))


@pytest.mark.parametrize(
    ("estimator", "method"),
    [
        (FMRIDescriptorTransformer(), "transform"),
        (NormativeModel(), "transform"),
        (FMRITokenizer(), "transform"),
        (CLIPDecoder(), "transform"),
        (FMRILMClassifier(), "predict"),
        (FMRILMRegressor(), "predict"),
        (FMRILMFeatures(), "transform"),
        *[(clone(p), "transform") for p in PLUGINS if isinstance(p, Descriptor)],
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_not_fitted_error(estimator, method, cohort):
    with pytest.raises(NotFittedError):
        getattr(estimator, method)(np.asarray(cohort.timeseries))
