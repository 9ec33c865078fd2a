"""Text templates: wording bands, family paragraphs, subject attributes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from brainlm_decode.descriptors.templates import (
    describe_z,
    family_paragraph,
    render_descriptor_text,
    render_subject_text,
)


@pytest.mark.parametrize(
    ("z", "text"),
    [
        (0.0, "typical (z=+0.0)"),
        (0.44, "typical (z=+0.4)"),
        (0.46, "slightly elevated (z=+0.5)"),
        (0.5, "slightly elevated (z=+0.5)"),
        (-0.94, "slightly reduced (z=-0.9)"),
        (-0.99, "reduced (z=-1.0)"),
        (1.0, "elevated (z=+1.0)"),
        (-1.7, "reduced (z=-1.7)"),
        (2.0, "markedly elevated (z=+2.0)"),
        (-3.26, "markedly reduced (z=-3.3)"),
        (math.nan, "not available"),
    ],
)
def test_wording_bands(z, text):
    assert describe_z(z) == text


DESCRIPTIONS = {
    "fc__Vis__Vis": "connectivity within the visual network",
    "fc__Vis__Default": "connectivity between the visual and default networks",
    "fc__Default__Default": "connectivity within the default network",
    "fc__Cont__Default": "connectivity between the control and default networks",
    "graph__modularity": "modularity",
    "graph__global_efficiency": "global efficiency",
}


def test_connectivity_paragraph_names_extreme_pairs():
    z = pd.Series(
        {
            "fc__Vis__Vis": 2.4,
            "fc__Vis__Default": -1.2,
            "fc__Default__Default": 0.1,
            "fc__Cont__Default": -2.2,
        }
    )
    text = family_paragraph("connectivity", z, DESCRIPTIONS, top_k=1)
    # all-negative z-scores: no "elevated" heading over reduced values
    low_only = family_paragraph("connectivity", z - 3.0, DESCRIPTIONS, top_k=1)
    assert "elevated" not in low_only
    assert text.startswith(
        "Functional connectivity: the network pairs highest relative to the norm are "
        "connectivity within the visual network, markedly elevated (z=+2.4)"
    )
    assert (
        "the lowest are connectivity between the control and default networks, "
        "markedly reduced (z=-2.2)" in text
    )


def test_other_families_list_most_atypical_then_summarise():
    z = pd.Series({"graph__modularity": 0.2, "graph__global_efficiency": -1.5})
    text = family_paragraph("graph", z, DESCRIPTIONS, top_k=1)
    assert text == (
        "Graph organisation: global efficiency is reduced (z=-1.5). "
        "Of the 1 other measures, 1 are typical."
    )


def test_render_groups_by_family_in_order_and_is_deterministic():
    z = pd.Series(
        {"graph__modularity": 1.1, "fc__Vis__Vis": 0.3, "fc__Vis__Default": 0.6}
    )
    families = {
        "graph__modularity": "graph",
        "fc__Vis__Vis": "connectivity",
        "fc__Vis__Default": "connectivity",
    }
    text = render_descriptor_text(
        z, DESCRIPTIONS, families=["connectivity", "graph"], feature_families=families
    )
    first, second = text.split("\n\n")
    assert first.startswith("Functional connectivity") and second.startswith("Graph")
    assert text == render_descriptor_text(
        z, DESCRIPTIONS, families=["connectivity", "graph"], feature_families=families
    )
    with pytest.raises(TypeError, match="pandas Series"):
        render_descriptor_text(z.to_dict(), DESCRIPTIONS)


def test_subject_text():
    assert (
        render_subject_text(
            {"age": 18, "sex": 1, "diagnosis": "autism spectrum disorder"}
        )
        == "The participant is an 18-year-old male diagnosed with autism spectrum disorder."
    )
    assert (
        render_subject_text(
            {"age": 31.6, "sex": "female", "diagnosis": "control", "site": "PITT"}
        )
        == "The participant is a 32-year-old female with no diagnosis. Scanned at site PITT."
    )
    assert (
        render_subject_text({"sex": None, "FIQ": float("nan")})
        == "The participant is a person."
    )
    with pytest.raises(TypeError, match="mapping"):
        render_subject_text(["age", 3])
