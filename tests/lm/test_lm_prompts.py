"""Prompts, question bank, answer scoring, layouts and instruction collation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainlm_decode.lm.fmri_input import block_ids, make_layout, pool_features
from brainlm_decode.lm.instruction import (
    Collator,
    Example,
    sample_instructions,
)
from brainlm_decode.lm.pretrain import next_patch_targets, stage2_examples
from brainlm_decode.lm.prompts import (
    GENERIC_TEMPLATES,
    OPEN_QUESTIONS,
    QUESTION_BANK,
    answer_texts,
    canonical_target,
    format_multi_question,
    format_question,
    format_structured_answer,
    parse_multi_answer,
    parse_structured,
    questions_for,
    score_multi_answers,
    score_structured,
)
from brainlm_decode.training import cosine_schedule

SCHEMA = {
    "sex": ["male", "female"],
    "diagnosis": ["control", "autism"],
    "age_group": ["child", "adolescent", "adult"],
}


@pytest.mark.parametrize("target", [*QUESTION_BANK, "BMI"])
def test_question_bank_has_20_distinct_paraphrases(target):
    questions = questions_for(target)
    assert len(questions) >= 20
    assert len(set(questions)) == len(questions)
    assert all(q.strip() == q and q[-1] in "?." for q in questions)


def test_open_questions_and_templates():
    assert len(set(OPEN_QUESTIONS)) >= 20
    assert len(set(GENERIC_TEMPLATES)) >= 20
    assert canonical_target("DX_GROUP") == "diagnosis"
    assert questions_for("FIQ") == QUESTION_BANK["fluid_intelligence"]


def test_answer_texts_defaults_and_overrides():
    assert answer_texts("SEX", [1, 2]) == ["male", "female"]
    assert answer_texts("diagnosis", ["ASD", "TD"]) == ["autism", "control"]
    assert answer_texts("site", ["NYU_1"]) == ["nyu 1"]
    assert answer_texts("DX_GROUP", [0, 1], {0: "Control", 1: "autism"}) == [
        "control",
        "autism",
    ]
    with pytest.raises(ValueError, match="distinct"):
        answer_texts("x", ["a", "A"])
    with pytest.raises(ValueError, match="without"):
        answer_texts("x", ["a"], {"a": "yes | no"})


def test_single_and_multi_question_formats():
    assert format_question(" Is it? ") == "### Question: Is it? ### Answer:"
    prompt = format_multi_question(["Sex?", "Diagnosis?"])
    assert prompt == "### Question: Sex? | Diagnosis? ### Answer:"
    assert parse_multi_answer("male |  autism", 2) == ["male", "autism"]
    assert parse_multi_answer("male", 2) == ["male", None]
    with pytest.raises(ValueError):
        format_multi_question([])


def test_structured_answer_round_trip():
    fields = {"sex": "male", "diagnosis": "autism", "age_group": "adult"}
    text = format_structured_answer(fields)
    assert text == "sex: male; diagnosis: autism; age group: adult"
    assert parse_structured(text, SCHEMA) == fields


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sex = FEMALE. Diagnosis: autism\nage group: child",
            {"sex": "female", "diagnosis": "autism", "age_group": "child"},
        ),
        # a value naming two allowed answers is ambiguous; a missing field is None
        (
            "sex: male or female; diagnosis: likely an autism case",
            {"sex": None, "diagnosis": "autism", "age_group": None},
        ),
        # "female" must not count as "male"; unknown values are None
        (
            "age_group: elderly; sex: female",
            {"sex": "female", "diagnosis": None, "age_group": None},
        ),
    ],
)
def test_parse_structured_hand_built(text, expected):
    assert parse_structured(text, SCHEMA) == expected


def test_score_structured_hand_built():
    truth = pd.DataFrame(
        {
            "sex": ["male", "female", "male"],
            "diagnosis": ["autism", "control", "control"],
            "age_group": ["adult", "child", "adolescent"],
        }
    )
    texts = [
        "sex: male; diagnosis: autism; age group: adult",  # all correct
        "sex: female; diagnosis: autism; age group: child",  # diagnosis wrong
        "diagnosis: control",  # two fields missing
    ]
    result = score_structured(texts, truth, SCHEMA)
    assert result["field_accuracy"] == {
        "sex": pytest.approx(2 / 3),
        "diagnosis": pytest.approx(2 / 3),
        "age_group": pytest.approx(2 / 3),
    }
    assert result["parsed_rate"]["sex"] == pytest.approx(2 / 3)
    assert result["all_correct"] == pytest.approx(1 / 3)
    assert list(result["parsed"].columns) == list(SCHEMA)
    with pytest.raises(ValueError, match="same subjects"):
        score_structured(texts[:2], truth, SCHEMA)


def test_score_multi_answers_hand_built():
    truth = [
        {"sex": "male", "diagnosis": "autism"},
        {"sex": "female", "diagnosis": "control"},
    ]
    schema = {"sex": SCHEMA["sex"], "diagnosis": SCHEMA["diagnosis"]}
    result = score_multi_answers(["male | autism", "female"], truth, schema)
    assert result["field_accuracy"] == {"sex": 1.0, "diagnosis": 0.5}
    assert result["all_correct"] == 0.5


def test_sample_instructions_paradigms():
    answers = {"sex": ["male", "female"] * 50, "diagnosis": ["autism"] * 100}
    examples = sample_instructions(answers, np.random.RandomState(0))
    assert len(examples) == 100
    multi = [e for e in examples if " | " in e.prompt]
    opened = [e for e in examples if ";" in e.target]
    single = [e for e in examples if e not in multi and e not in opened]
    assert multi and opened and single
    for e in multi:
        assert e.prompt.count("|") == e.target.count("|")
    for e in opened:
        assert parse_structured(e.target, {"sex": ["male", "female"]})["sex"] in (
            "male",
            "female",
        )
    # paraphrases vary across examples
    assert len({e.prompt for e in single}) > 5
    only = sample_instructions(
        {"sex": ["male"]}, np.random.RandomState(0), paradigms=["multi", "single"]
    )
    assert only[0].target == "male"
    with pytest.raises(ValueError, match="multi"):
        sample_instructions(
            {"sex": ["male"]}, np.random.RandomState(0), paradigms=["multi"]
        )


def test_layouts_and_pooling():
    networks = ["Vis", "Vis", "Default", "Cont", "Default"]
    features = np.arange(5 * 3 * 2, dtype=np.float32).reshape(1, 5, 3, 2)
    layout = make_layout("network", 5, 3, networks=networks)
    assert layout.group_names == ["Vis", "Default", "Cont"] and layout.n_tokens == 9
    pooled = pool_features(features, layout)
    np.testing.assert_allclose(pooled[0, 1], features[0, [2, 4]].mean(axis=0))
    assert pool_features(features, make_layout("roi", 5, 3)).shape == (1, 5, 1, 2)
    assert pool_features(features, make_layout("patch", 5, 3)).shape == (1, 5, 3, 2)
    groups = make_layout("parcel_groups", 5, 3, n_token_groups=2)
    assert [g.tolist() for g in groups.groups] == [[0, 1, 2], [3, 4]]
    with pytest.raises(ValueError, match="networks"):
        make_layout("network", 5, 3)
    with pytest.raises(ValueError, match="token_layout"):
        make_layout("voxels", 5, 3)


def test_block_ids_and_next_patch_targets():
    assert block_ids([("text", 2), ("fmri", 4), ("text", 1)], 2).tolist() == [
        0,
        1,
        2,
        2,
        3,
        3,
        4,
    ]
    assert block_ids([("fmri", 4)], 2, block_causal=False).tolist() == [0, 1, 2, 3]
    codes = np.array([[[1, 2, 3], [4, 5, 6]]])
    assert next_patch_targets(codes).tolist() == [[2, 5, 3, 6, -100, -100]]


def test_block_causal_mask_hides_future_patches():
    import torch

    from brainlm_decode.lm.model import attention_mask_4d

    blocks = torch.as_tensor(block_ids([("text", 1), ("fmri", 4), ("text", 1)], 2))[
        None
    ]
    allowed = attention_mask_4d(blocks, torch.float32)[0, 0] == 0
    # token (patch 0, group 1) sees (patch 0, group 0) and itself, not patch 1
    assert allowed[2, 1] and allowed[1, 2] and not allowed[2, 3]
    assert allowed[5].all()  # the text after the fMRI sees everything before
    windowed = attention_mask_4d(blocks, torch.float32, window=2)[0, 0] == 0
    assert not windowed[5, 1]


def test_collator_layout(tiny_causal_lm_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    tokenizer.pad_token = tokenizer.eos_token
    collator = Collator(tokenizer, n_groups=2, n_tokens=4, max_length=512)
    features = np.random.default_rng(0).normal(size=(3, 2, 2, 5)).astype(np.float32)
    examples = [
        Example(2, format_question("Sex?"), "male"),
        Example(0, format_question("Sex?"), "female"),
        Example(-1, "", "plain text", "t2t"),
    ]
    batch = collator(examples, features)
    assert batch["fmri_rows"].tolist() == [0, 1]
    np.testing.assert_array_equal(batch["fmri_features"].numpy(), features[[2, 0]])
    start = int(batch["fmri_start"][0])
    blocks = batch["blocks"][0].tolist()
    assert blocks[start] == blocks[start + 1] != blocks[start + 2]
    labelled = batch["labels"][0][batch["labels"][0] != -100].tolist()
    assert labelled[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(labelled[:-1]).strip() == "male"
    # per-task weights: each task's token weights sum to the task weight
    weights = batch["label_weights"]
    assert float(weights[:2].sum()) == pytest.approx(1.0)
    assert float(weights[2].sum()) == pytest.approx(1.0)
    # example weights (class weights) scale the rows within their task
    weighted = [Example(2, format_question("Sex?"), "male", weight=3.0), examples[1]]
    rows = collator(weighted, features)["label_weights"]
    assert float(rows.sum()) == pytest.approx(1.0)
    per_token = rows.max(dim=1).values
    assert float(per_token[0] / per_token[1]) == pytest.approx(3.0)
    short = Collator(tokenizer, n_groups=2, n_tokens=4, max_length=8)
    with pytest.raises(ValueError, match="token_layout"):
        short(examples, features)


def test_sample_instructions_weights_are_means_over_asked_targets():
    answers = {"sex": ["male", "female", "male"], "diagnosis": ["a", "a", "c"]}
    weights = {"sex": [0.5, 2.0, 0.5], "diagnosis": [1.0, 1.0, 4.0]}
    examples = sample_instructions(
        answers, np.random.RandomState(0), weights=weights, paradigms=["open"]
    )
    assert [e.weight for e in examples] == [0.75, 1.5, 2.25]
    for seed in range(5):
        for i, e in enumerate(
            sample_instructions(
                answers,
                np.random.RandomState(seed),
                weights=weights,
                paradigms=["single"],
            )
        ):
            asked = "sex" if e.target in ("male", "female") else "diagnosis"
            assert e.weight == weights[asked][i]
    unweighted = sample_instructions(answers, np.random.RandomState(0))
    assert {e.weight for e in unweighted} == {1.0}


def test_stage2_units_pair_fmri_and_text():
    units = stage2_examples(
        ["desc a", "desc b"],
        ["corpus"],
        2,
        np.random.RandomState(0),
        weights={"f2f": 1.0, "f2t": 1.0, "t2t": 0.5},
    )
    assert [len(u) for u in units] == [2, 2]
    assert units[0][0].f2f and units[0][0].task == "f2t"
    assert units[0][1].subject == -1 and units[0][1].task == "t2t"
    no_text = stage2_examples(
        None, [], 2, np.random.RandomState(0), weights={"f2f": 1, "f2t": 1, "t2t": 1}
    )
    assert [len(u) for u in no_text] == [1, 1] and no_text[0][0].target == ""


def test_cosine_schedule_ends():
    assert cosine_schedule(0, 10, 5e-4, 5e-5) == pytest.approx(5e-4)
    assert cosine_schedule(9, 10, 5e-4, 5e-5) == pytest.approx(5e-5)
    assert 5e-5 < cosine_schedule(4, 10, 5e-4, 5e-5) < 5e-4
    assert cosine_schedule(0, 1, 5e-4, 5e-5) == 5e-4
