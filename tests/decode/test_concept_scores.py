"""Concept scores of the shipped bundle: noisy-OR mixed with the concepts' text."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from brainlm_decode import CLIPDecoder

MOTOR_WORDS = ("finger", "toe", "motor", "kinesthesia", "response execution")


@pytest.fixture(scope="module")
def motor_img():
    from nilearn.datasets import load_sample_motor_activation_image

    return load_sample_motor_activation_image()


def _top_concepts(decoder: CLIPDecoder, img, n: int = 6) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 3 mm sample map is resampled
        return list(decoder.transform(img, level="concept").index[:n])


def test_bundle_ships_concept_embeddings_and_the_default_weight():
    decoder = CLIPDecoder.from_pretrained()
    assert decoder.concept_text_weight == CLIPDecoder().concept_text_weight == 0.75
    n_concepts = decoder.ontology_.n_concepts
    assert decoder.concept_embeddings_.shape == (n_concepts, decoder.embed_dim)
    np.testing.assert_allclose(
        np.linalg.norm(decoder.concept_embeddings_, axis=1), 1.0, rtol=1e-5
    )


def test_motor_map_concepts_are_motor_with_the_concept_text(motor_img):
    """The former noisy-OR ranking put concepts of the top tasks' other links
    (visual word recognition, working memory) at the top of a motor map."""
    decoder = CLIPDecoder.from_pretrained()
    top = _top_concepts(decoder, motor_img)
    assert all(any(word in name for word in MOTOR_WORDS) for name in top), top
    decoder.set_params(concept_text_weight=0.0)
    former = _top_concepts(decoder, motor_img)
    assert {"visual word recognition", "working memory"} & set(former[:3]), former
