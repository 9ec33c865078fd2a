"""Prompts of fMRI-LM's instruction tuning: question bank, answer sets, scoring.

Three paradigms, as in fMRI-LM (Wei et al.):

- **single question**: ``### Question: <q> ### Answer: <a>``;
- **several questions** answered together, questions and answers separated by
  ``" | "`` (:func:`format_multi_question`, :func:`parse_multi_answer`);
- **open-ended description** with a structured target schema, e.g.
  ``"diagnosis: autism; sex: male"`` (:func:`format_structured_answer`), checked
  field by field by the rule-based scorer :func:`score_structured`.

The question bank (:data:`QUESTION_BANK`) holds our own paraphrases, at least 20
per known target (diagnosis, sex, age group, fluid intelligence, handedness) and
20 generic templates for any other target, sampled per training step so that the
model does not fit one phrasing. Answers are short words (:func:`answer_texts`)
scored by log-probability at prediction time: no free text is parsed to predict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ANSWER_SEPARATOR",
    "OPEN_QUESTIONS",
    "QUESTION_BANK",
    "answer_texts",
    "canonical_target",
    "format_multi_question",
    "format_question",
    "format_structured_answer",
    "parse_multi_answer",
    "parse_structured",
    "questions_for",
    "score_multi_answers",
    "score_structured",
]

#: Separator of the questions (and of the answers) of the multi-question paradigm.
ANSWER_SEPARATOR = " | "
_QUESTION_TAG = "### Question:"
_ANSWER_TAG = "### Answer:"

QUESTION_BANK: dict[str, tuple[str, ...]] = {
    "diagnosis": (
        "What is the diagnosis of this participant?",
        "Which diagnostic group does this subject belong to?",
        "Is this participant a patient or a control?",
        "What clinical group is this scan from?",
        "Based on this resting-state scan, what is the subject's diagnosis?",
        "Which diagnosis fits this brain activity best?",
        "Does this person have a diagnosis, and if so which one?",
        "To which clinical category does this participant belong?",
        "What is the clinical status of this subject?",
        "Classify this participant's diagnostic group.",
        "From the fMRI data, which group is this individual in?",
        "Is this brain from a patient or from a typical control?",
        "What condition, if any, was this participant diagnosed with?",
        "State the diagnostic label of this scan.",
        "Which cohort (patient or control) does this scan come from?",
        "What is the subject's clinical diagnosis?",
        "Judging by the resting-state signal, what is the diagnosis?",
        "Name the diagnostic group of the person scanned.",
        "Which diagnosis label applies to this participant?",
        "Tell me the clinical group of this subject.",
        "Was this participant diagnosed, and with what?",
        "What diagnostic category best describes this subject?",
    ),
    "sex": (
        "What is the sex of this participant?",
        "Is this subject male or female?",
        "Which sex was recorded for this person?",
        "Based on this scan, what is the participant's sex?",
        "Was this brain scanned from a male or a female?",
        "State the biological sex of the subject.",
        "What sex does this resting-state scan belong to?",
        "Is the person in this scan a man or a woman?",
        "From the fMRI data, infer the subject's sex.",
        "Tell me the sex of the scanned individual.",
        "Which sex category fits this participant?",
        "What is the recorded sex of this subject?",
        "Male or female: which is this participant?",
        "Predict the sex of the person from this brain activity.",
        "Classify the participant by sex.",
        "What sex is the individual whose brain was scanned?",
        "Judging by this scan, is the subject male or female?",
        "Name the participant's sex.",
        "Which sex label applies to this scan?",
        "What is this subject's sex according to the records?",
        "Infer whether this participant is male or female.",
    ),
    "age_group": (
        "What is the age group of this participant?",
        "Which age bracket does this subject fall into?",
        "How old is this participant, as an age group?",
        "Based on this scan, what is the subject's age group?",
        "To which age category does this person belong?",
        "Is this participant young or old, by age group?",
        "State the age group of the scanned individual.",
        "Which age range fits this brain best?",
        "From the fMRI data, infer the participant's age group.",
        "Tell me the age band of this subject.",
        "What age class was this participant in at the scan?",
        "Classify the subject by age group.",
        "What is the approximate age of this person, as a group?",
        "Judging by this scan, which age group is the participant in?",
        "Name the age group of the person scanned.",
        "Which age label applies to this scan?",
        "In which age range was this subject when scanned?",
        "Predict the age category of this participant.",
        "What developmental or age stage is this subject in?",
        "How would you bin the age of this participant?",
        "What age group does this resting-state scan come from?",
    ),
    "fluid_intelligence": (
        "What is the fluid intelligence level of this participant?",
        "Is this subject's fluid intelligence low, average or high?",
        "How does this participant score on fluid intelligence?",
        "Based on this scan, what is the subject's IQ level?",
        "Which intelligence group does this person belong to?",
        "State the fluid intelligence category of the subject.",
        "What is the cognitive ability level of this participant?",
        "From the fMRI data, infer the participant's intelligence level.",
        "Tell me the IQ band of this subject.",
        "Classify the subject by fluid intelligence.",
        "Judging by this scan, how high is the participant's IQ?",
        "Name the intelligence status of the person scanned.",
        "Which IQ label applies to this scan?",
        "Predict the fluid reasoning level of this participant.",
        "How would you bin the intelligence score of this subject?",
        "What is this person's fluid intelligence status?",
        "Is this participant's reasoning ability below or above average?",
        "Which intelligence bracket fits this brain best?",
        "What level of fluid intelligence does this scan suggest?",
        "Rate the fluid intelligence of this participant.",
        "What is the subject's IQ category?",
    ),
    "handedness": (
        "What is the handedness of this participant?",
        "Is this subject left-handed or right-handed?",
        "Which hand does this person prefer?",
        "Based on this scan, what is the subject's handedness?",
        "State the dominant hand of the scanned individual.",
        "From the fMRI data, infer the participant's handedness.",
        "Tell me whether this subject is left- or right-handed.",
        "Classify the participant by handedness.",
        "What is this person's preferred hand?",
        "Judging by this scan, which hand is dominant?",
        "Name the handedness of the person scanned.",
        "Which handedness label applies to this scan?",
        "Predict the handedness of this participant.",
        "What hand dominance does this subject have?",
        "Is the participant in this scan right- or left-handed?",
        "Which handedness group does this subject belong to?",
        "What is the recorded handedness of this subject?",
        "Infer the dominant hand from this resting-state scan.",
        "What lateral hand preference does this person have?",
        "Which hand does this participant write with, most likely?",
    ),
}

#: Templates for targets the bank does not know (``{target}`` is the target name).
GENERIC_TEMPLATES: tuple[str, ...] = (
    "What is the {target} of this participant?",
    "Which {target} does this subject have?",
    "Based on this scan, what is the subject's {target}?",
    "From the fMRI data, infer the participant's {target}.",
    "State the {target} of the scanned individual.",
    "Tell me the {target} of this subject.",
    "Classify the participant by {target}.",
    "Which {target} category fits this participant?",
    "What {target} was recorded for this person?",
    "Judging by this scan, what is the {target}?",
    "Name the {target} of the person scanned.",
    "Which {target} label applies to this scan?",
    "Predict the {target} of this participant.",
    "What is this person's {target}?",
    "Which {target} group does this subject belong to?",
    "What {target} does this resting-state scan suggest?",
    "From this brain activity, what is the {target}?",
    "Give the {target} of this subject.",
    "What would you say the {target} of this participant is?",
    "Infer the {target} from this scan.",
)

#: Open-ended questions of the structured-description paradigm.
OPEN_QUESTIONS: tuple[str, ...] = (
    "Describe this participant.",
    "Describe the subject of this scan.",
    "What can you tell about this participant?",
    "Give a short profile of this subject.",
    "Summarise who this participant is.",
    "Describe the person whose brain was scanned.",
    "Write a brief description of this subject.",
    "What do you know about this individual from the scan?",
    "Characterise this participant.",
    "Provide a description of this subject.",
    "Tell me about this participant.",
    "Profile the scanned individual.",
    "Summarise the characteristics of this subject.",
    "Describe the participant's attributes.",
    "What are the attributes of this subject?",
    "List what this scan suggests about the participant.",
    "Give a structured description of this participant.",
    "Report the attributes of the person scanned.",
    "Who is this participant?",
    "Describe this individual from the fMRI data.",
)

_ALIASES = {
    "dx": "diagnosis",
    "dx_group": "diagnosis",
    "group": "diagnosis",
    "diagnostic_group": "diagnosis",
    "gender": "sex",
    "age_bin": "age_group",
    "agegroup": "age_group",
    "fiq": "fluid_intelligence",
    "iq": "fluid_intelligence",
    "fluid_intelligence_status": "fluid_intelligence",
    "hand": "handedness",
    "handedness_category": "handedness",
}

_DEFAULT_ANSWERS: dict[str, dict[str, str]] = {
    "sex": {"m": "male", "male": "male", "1": "male", "f": "female"}
    | {"female": "female", "2": "female"},
    "diagnosis": {"control": "control", "healthy": "control", "hc": "control"}
    | {"td": "control", "asd": "autism", "autism": "autism"},
    "handedness": {"r": "right", "l": "left", "a": "ambidextrous"},
}


def canonical_target(name: Any) -> str:
    """Bank key of a target name (``"DX_GROUP"`` -> ``"diagnosis"``).

    Parameters
    ----------
    name : object
        Target (column) name.

    Returns
    -------
    str
        A key of :data:`QUESTION_BANK`, or the name in lower snake case when the
        bank does not know it.

    Examples
    --------
    >>> canonical_target("DX_GROUP"), canonical_target("Sex"), canonical_target("BMI")
    ('diagnosis', 'sex', 'bmi')
    """
    key = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")
    return _ALIASES.get(key, key)


def _spoken(name: Any) -> str:
    """Target name as words (``"fluid_intelligence"`` -> ``"fluid intelligence"``)."""
    return re.sub(r"[_\s]+", " ", str(name)).strip().lower()


def questions_for(target: Any) -> tuple[str, ...]:
    """Paraphrases asking for a target (at least 20).

    Parameters
    ----------
    target : object
        Target name; known names (and aliases such as ``"DX_GROUP"``) get their
        own paraphrases, others the generic templates filled with the name.

    Returns
    -------
    tuple of str
        The first one is the canonical question used at prediction time.

    Examples
    --------
    >>> questions_for("sex")[0]
    'What is the sex of this participant?'
    >>> questions_for("BMI")[0]
    'What is the bmi of this participant?'
    """
    key = canonical_target(target)
    if key in QUESTION_BANK:
        return QUESTION_BANK[key]
    spoken = _spoken(target)
    return tuple(t.format(target=spoken) for t in GENERIC_TEMPLATES)


def _normalise(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text).strip().lower())


def answer_texts(
    target: Any, labels: Sequence[Any], answers: Mapping[Any, str] | None = None
) -> list[str]:
    """Answer word of each label of a target.

    Parameters
    ----------
    target : object
        Target name (decides the built-in answer words, e.g. ``"M"`` -> ``"male"``
        for sex).
    labels : sequence
        The classes of the target.
    answers : mapping or None, default=None
        ``{label: answer text}`` given by the user; missing labels fall back to
        the built-in words, then to ``str(label)`` in lower case.

    Returns
    -------
    list of str
        One answer per label, all distinct.

    Raises
    ------
    ValueError
        When two labels get the same answer text, or an answer is empty or
        contains the ``|`` separator.

    Examples
    --------
    >>> answer_texts("sex", ["F", "M"])
    ['female', 'male']
    >>> answer_texts("DX_GROUP", [0, 1], {0: "control", 1: "autism"})
    ['control', 'autism']
    """
    answers = dict(answers or {})
    builtin = _DEFAULT_ANSWERS.get(canonical_target(target), {})
    texts = []
    for label in labels:
        if label in answers:
            text = str(answers[label])
        elif str(label) in answers:
            text = str(answers[str(label)])
        else:
            text = builtin.get(_normalise(label), _spoken(label))
        text = _normalise(text)
        if not text or "|" in text or ";" in text or ":" in text:
            raise ValueError(
                f"The answer of label {label!r} of target {target!r} must be a "
                f"non-empty text without '|', ';' or ':'. Got {text!r}."
            )
        texts.append(text)
    if len(set(texts)) != len(texts):
        raise ValueError(
            f"The answers of target {target!r} must be distinct; labels "
            f"{list(labels)} gave {texts}. Pass distinct texts with the 'answers' "
            "parameter, e.g. answers={'%s': {label: 'text', ...}}." % target
        )
    return texts


def format_question(question: str) -> str:
    """Prompt of the single-question paradigm (the answer follows it).

    Parameters
    ----------
    question : str
        The question.

    Returns
    -------
    str
        ``"### Question: <question> ### Answer:"``.

    Examples
    --------
    >>> format_question("Is this subject male or female?")
    '### Question: Is this subject male or female? ### Answer:'
    """
    return f"{_QUESTION_TAG} {question.strip()} {_ANSWER_TAG}"


def format_multi_question(questions: Sequence[str]) -> str:
    """Prompt of the several-questions paradigm (``|``-separated).

    Parameters
    ----------
    questions : sequence of str
        Questions answered together, in order.

    Returns
    -------
    str

    Examples
    --------
    >>> format_multi_question(["What is the sex?", "What is the diagnosis?"])
    '### Question: What is the sex? | What is the diagnosis? ### Answer:'
    """
    if len(questions) == 0:
        raise ValueError("The 'questions' argument must hold at least one question.")
    joined = ANSWER_SEPARATOR.join(q.strip() for q in questions)
    return f"{_QUESTION_TAG} {joined} {_ANSWER_TAG}"


def parse_multi_answer(text: str, n_questions: int) -> list[str | None]:
    """Split the answer of the several-questions paradigm.

    Parameters
    ----------
    text : str
        Generated answer (``"male | autism"``).
    n_questions : int
        Number of questions asked.

    Returns
    -------
    list of str or None
        One normalised answer per question; ``None`` where the text has fewer
        parts than questions.

    Examples
    --------
    >>> parse_multi_answer(" Male |autism ", 3)
    ['male', 'autism', None]
    """
    parts = [_normalise(p) for p in str(text).split("|")]
    parts = [p or None for p in parts[:n_questions]]
    return parts + [None] * (n_questions - len(parts))


def format_structured_answer(fields: Mapping[str, str]) -> str:
    """Target text of the open-ended paradigm: ``"field: value; field: value"``.

    Parameters
    ----------
    fields : mapping of str to str
        Field name (spoken, e.g. ``"age group"``) to answer text, in order.

    Returns
    -------
    str

    Examples
    --------
    >>> format_structured_answer({"sex": "male", "diagnosis": "autism"})
    'sex: male; diagnosis: autism'
    """
    return "; ".join(f"{_spoken(k)}: {_normalise(v)}" for k, v in fields.items())


def _match_answer(value: str, allowed: Sequence[str]) -> str | None:
    """The allowed answer a parsed value names (exact, then whole-word), or None."""
    value = _normalise(value)
    if value in allowed:
        return value
    hits = [
        a for a in allowed if re.search(rf"(?<![\w-]){re.escape(a)}(?![\w-])", value)
    ]
    return hits[0] if len(hits) == 1 else None


def parse_structured(
    text: str, schema: Mapping[str, Sequence[str]]
) -> dict[str, str | None]:
    """Read the fields of an open-ended description (rule-based).

    A field is found as ``<field name> : <value>`` (or ``=``), the value running
    to the next ``;``, ``|``, newline or full stop; the value counts when it is
    one of the field's allowed answers, exactly or as the only allowed answer
    appearing in it as a whole word.

    Parameters
    ----------
    text : str
        Generated description.
    schema : mapping of str to sequence of str
        Field name to allowed answers.

    Returns
    -------
    dict of str to str or None
        The allowed answer found per field, or ``None``.

    Examples
    --------
    >>> schema = {"sex": ["male", "female"], "diagnosis": ["control", "autism"]}
    >>> parse_structured("Sex: Female; diagnosis = autism.", schema)
    {'sex': 'female', 'diagnosis': 'autism'}
    >>> parse_structured("diagnosis: unsure", schema)
    {'sex': None, 'diagnosis': None}
    """
    found: dict[str, str | None] = {}
    lowered = str(text).lower()
    for field, allowed in schema.items():
        allowed = [_normalise(a) for a in allowed]
        name = re.escape(_spoken(field)).replace(r"\ ", r"[\s_]+")
        match = re.search(rf"(?<![\w]){name}\s*[:=]\s*([^;|\n]*)", lowered)
        value = None
        if match:
            value = _match_answer(re.split(r"\.(?:\s|$)", match.group(1))[0], allowed)
        found[field] = value
    return found


def _truth_records(truth: Any, fields: Sequence[str]) -> list[dict[str, str]]:
    if isinstance(truth, pd.DataFrame):
        records = truth.to_dict(orient="records")
    else:
        records = list(truth)
    out = []
    for i, record in enumerate(records):
        missing = [f for f in fields if f not in record]
        if missing:
            raise ValueError(
                f"The 'truth' argument misses fields {missing} for subject {i}."
            )
        out.append({f: _normalise(record[f]) for f in fields})
    return out


def score_structured(
    texts: Sequence[str], truth: Any, schema: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Rule-based scoring of open-ended descriptions against a target schema.

    Parameters
    ----------
    texts : sequence of str
        One generated description per subject.
    truth : DataFrame or sequence of mapping
        True answer text per field (columns or keys named like the schema).
    schema : mapping of str to sequence of str
        Field name to allowed answers (see :func:`parse_structured`).

    Returns
    -------
    dict
        ``"field_accuracy"``: dict field -> share of subjects whose field was
        found and correct; ``"parsed_rate"``: dict field -> share found at all;
        ``"all_correct"``: share of subjects with every field correct;
        ``"parsed"``: DataFrame of the parsed answers.

    Examples
    --------
    >>> schema = {"sex": ["male", "female"], "diagnosis": ["control", "autism"]}
    >>> result = score_structured(
    ...     ["sex: male; diagnosis: autism", "sex: male; diagnosis: control"],
    ...     [{"sex": "male", "diagnosis": "autism"},
    ...      {"sex": "female", "diagnosis": "control"}], schema)
    >>> result["field_accuracy"], result["all_correct"]
    ({'sex': 0.5, 'diagnosis': 1.0}, 0.5)
    """
    texts = list(texts)
    fields = list(schema)
    records = _truth_records(truth, fields)
    if len(records) != len(texts):
        raise ValueError(
            f"The 'texts' and 'truth' arguments must describe the same subjects; got "
            f"{len(texts)} texts and {len(records)} true records."
        )
    parsed = pd.DataFrame([parse_structured(t, schema) for t in texts], columns=fields)
    correct = np.array(
        [
            [parsed.iloc[i][f] == records[i][f] for f in fields]
            for i in range(len(texts))
        ],
        dtype=bool,
    ).reshape(len(texts), len(fields))
    return {
        "field_accuracy": {
            f: float(correct[:, j].mean()) for j, f in enumerate(fields)
        },
        "parsed_rate": {f: float(parsed[f].notna().mean()) for f in fields},
        "all_correct": float(correct.all(axis=1).mean())
        if len(texts)
        else float("nan"),
        "parsed": parsed,
    }


def score_multi_answers(
    texts: Sequence[str], truth: Any, schema: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Score answers of the several-questions paradigm (``"male | autism"``).

    Parameters
    ----------
    texts : sequence of str
        One generated answer per subject, parts in the order of ``schema``.
    truth : DataFrame or sequence of mapping
        True answer text per field.
    schema : mapping of str to sequence of str
        Field name (in question order) to allowed answers.

    Returns
    -------
    dict
        Same keys as :func:`score_structured`.

    Examples
    --------
    >>> schema = {"sex": ["male", "female"], "diagnosis": ["control", "autism"]}
    >>> score_multi_answers(["female | autism"],
    ...                     [{"sex": "female", "diagnosis": "control"}],
    ...                     schema)["field_accuracy"]
    {'sex': 1.0, 'diagnosis': 0.0}
    """
    fields = list(schema)
    rewritten = []
    for text in texts:
        parts = parse_multi_answer(text, len(fields))
        rewritten.append(
            format_structured_answer(
                {f: p for f, p in zip(fields, parts, strict=True) if p is not None}
            )
        )
    return score_structured(rewritten, truth, schema)
