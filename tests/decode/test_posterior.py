"""Hand-computed checks of the decoding arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from brainlm_decode.decode import (
    concept_mixture,
    corpus_prior,
    noisy_or,
    softmax,
    task_likelihood,
    task_posterior,
)


def test_likelihood_is_softmax_over_tasks():
    sim = np.array([[np.log(1.0), np.log(3.0)], [0.0, 0.0]])
    np.testing.assert_allclose(task_likelihood(sim), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(task_likelihood([np.log(2.0), 0.0]), [2 / 3, 1 / 3])


def test_corpus_prior_is_mean_of_document_softmaxes():
    docs = np.array([[np.log(1.0), np.log(3.0)], [np.log(1.0), np.log(1.0)]])
    np.testing.assert_allclose(corpus_prior(docs), [(0.25 + 0.5) / 2, (0.75 + 0.5) / 2])


def test_posterior_hand_case():
    lik = np.array([0.2, 0.3, 0.5])
    prior = np.array([0.5, 0.25, 0.25])
    joint = np.array([0.1, 0.075, 0.125])
    np.testing.assert_allclose(task_posterior(lik, prior), joint / joint.sum())
    np.testing.assert_allclose(task_posterior(lik), lik / lik.sum())


def test_noisy_or_hand_case_dense_and_sparse():
    p = np.array([[0.5, 0.2, 0.0, 1.0]])
    incidence = np.array(
        [
            [1, 0, 0],  # task 0 -> concept 0
            [1, 1, 0],  # task 1 -> concepts 0, 1
            [0, 1, 0],  # task 2 -> concept 1
            [0, 0, 1],  # task 3 (certain) -> concept 2
        ]
    )
    expected = [[1 - 0.5 * 0.8, 1 - 0.8 * 1.0, 1.0]]
    np.testing.assert_allclose(noisy_or(p, incidence), expected)
    np.testing.assert_allclose(noisy_or(p, sp.csr_matrix(incidence)), expected)


def test_noisy_or_parent_without_children_is_zero():
    out = noisy_or([0.9, 0.4], np.array([[1, 0], [1, 0]]))
    np.testing.assert_allclose(out, [1 - 0.1 * 0.6, 0.0])


def test_domain_level_chains_noisy_or():
    p_task = np.array([0.6, 0.3])
    task_concept = np.array([[1, 1, 0], [0, 1, 1]])
    concept_domain = np.array([[1, 0], [1, 0], [0, 1]])
    p_concept = noisy_or(p_task, task_concept)
    np.testing.assert_allclose(p_concept, [0.6, 1 - 0.4 * 0.7, 0.3])
    p_domain = noisy_or(p_concept, concept_domain)
    np.testing.assert_allclose(p_domain, [1 - 0.4 * (0.4 * 0.7), 0.3])


def test_concept_mixture_hand_case():
    noisy = np.array([[0.9, 0.3, 0.0], [0.0, 0.0, 0.0]])
    text = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    out = concept_mixture(noisy, text, 0.5)
    # noisy-OR scaled to sum 1 (0.75, 0.25, 0), then averaged with the text;
    # a map whose noisy-OR is all zero keeps the text part only
    np.testing.assert_allclose(out, [[0.475, 0.375, 0.15], [0.05, 0.05, 0.4]])
    np.testing.assert_allclose(out[0].sum(), 1.0)
    np.testing.assert_array_equal(concept_mixture(noisy, text, 0.0), noisy)
    np.testing.assert_allclose(concept_mixture(noisy, text, 1.0), text)
    assert concept_mixture(noisy[0], text[0], 0.5).shape == (3,)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: concept_mixture([0.5], [0.5], 1.5), r"'weight'.*\[0, 1\]"),
        (lambda: concept_mixture([0.5, 0.5], [1.0], 0.5), "text_likelihood"),
        (lambda: task_likelihood(np.ones((2, 2, 2))), "1D or 2D array"),
        (lambda: task_likelihood([np.nan, 1.0]), "NaN or infinite"),
        (lambda: task_posterior([0.5, 0.5], [1.0]), "length 2"),
        (lambda: task_posterior([-0.1, 1.0]), "non-negative"),
        (lambda: noisy_or([1.5], [[1]]), r"lie in \[0, 1\]"),
        (lambda: noisy_or([0.5, 0.5], [[1]]), "one row per child"),
        (lambda: corpus_prior(np.empty((0, 3))), "no documents"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


probability_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(1, 6)),
    elements=st.floats(0, 1),
)


@settings(max_examples=50, deadline=None)
@given(probability_rows, st.integers(0, 2**31 - 1))
def test_noisy_or_matches_loop_and_is_monotone(p, seed):
    rng = np.random.default_rng(seed)
    incidence = (rng.random((p.shape[1], 3)) < 0.5).astype(int)
    out = noisy_or(p, incidence)
    for j in range(3):
        children = np.flatnonzero(incidence[:, j])
        expected = 1 - np.prod(1 - p[:, children], axis=1)
        np.testing.assert_allclose(out[:, j], expected, atol=1e-12)
        # a parent is at least as likely as its most likely child
        if children.size:
            assert np.all(out[:, j] >= p[:, children].max(axis=1) - 1e-12)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(-50, 50)))
def test_softmax_and_posterior_are_distributions(logits):
    probs = softmax(logits)
    assert np.isclose(probs.sum(), 1.0) and np.all(probs >= 0)
    post = task_posterior(probs, softmax(-logits))
    assert np.isclose(post.sum(), 1.0)
