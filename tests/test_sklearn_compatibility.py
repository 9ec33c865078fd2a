"""Every public estimator against scikit-learn's estimator checks.

Estimators fitted on 2D arrays go through the whole battery with
``parametrize_with_checks``. Estimators whose inputs are not 2D arrays (the decoder
is fitted on a NiMARE collection and transforms brain images; text encoders take
strings; image spaces take coordinates and images) declare it with the
``input_tags.two_d_array = False`` tag, for which scikit-learn skips its
array-based checks; they still run every API check that does not feed arrays:
cloning, parameters, repr, tags and ``__init__`` hygiene.

Expected failures are listed in ``EXPECTED_FAILED_CHECKS`` with their reason.
"""

from __future__ import annotations

import pytest
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainlm_decode import (
    CLIPDecoder,
    FMRIDescriptorTransformer,
    FMRILMClassifier,
    FMRITokenizer,
    ROITimeSeriesPreprocessor,
)
from brainlm_decode.descriptors import (
    FunctionalConnectivity,
    FunctionalGradients,
    GraphMetrics,
    ICADescriptors,
    NormativeModel,
)
from brainlm_decode.imaging.spaces import AtlasSpace, DiFuMoSpace, MNIParcelSpace
from brainlm_decode.lm import FMRILMRegressor, GemmaBackbone, HFBackbone
from brainlm_decode.text.encoders import HFEncoder, MiniLMEncoder
from brainlm_decode.text.gemma import GemmaEncoder

#: Estimators fitted on 2D arrays (fMRI transformers join this list).
ARRAY_ESTIMATORS: list = []

#: Estimators whose inputs are collections, images or strings.
NON_ARRAY_ESTIMATORS = [
    CLIPDecoder(random_state=0),
    MiniLMEncoder(),
    HFEncoder(model_name_or_path="gpt2"),
    GemmaEncoder(),
    MNIParcelSpace(n_parcels=16),
    AtlasSpace(),
    DiFuMoSpace(),
    ROITimeSeriesPreprocessor(t_r=2.0),
    FMRIDescriptorTransformer(random_state=0),
    FunctionalConnectivity(),
    FunctionalGradients(random_state=0),
    GraphMetrics(random_state=0),
    ICADescriptors(random_state=0),
    FMRITokenizer(random_state=0),
    FMRILMClassifier(random_state=0),
    FMRILMRegressor(random_state=0),
    HFBackbone(),
    GemmaBackbone(),
]

#: Estimators of named tables (pandas DataFrames with fixed column names): 2D, but
#: column names are part of the contract, so the array battery does not apply.
TABLE_ESTIMATORS = [NormativeModel()]

#: check name -> reason, per estimator class name.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}

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


if ARRAY_ESTIMATORS:

    @parametrize_with_checks(
        ARRAY_ESTIMATORS,
        expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
            type(est).__name__, {}
        ),
    )
    def test_array_estimators(estimator, check):
        check(estimator)


@pytest.mark.parametrize(
    "estimator",
    NON_ARRAY_ESTIMATORS + TABLE_ESTIMATORS,
    ids=lambda est: type(est).__name__,
)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda check: check.__name__)
def test_api_checks(estimator, check):
    reason = EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}).get(
        check.__name__
    )
    if reason:
        pytest.xfail(reason)
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator", NON_ARRAY_ESTIMATORS, ids=lambda est: type(est).__name__
)
def test_non_array_estimators_declare_their_inputs(estimator):
    tags = estimator.__sklearn_tags__()
    assert tags.input_tags.two_d_array is False
