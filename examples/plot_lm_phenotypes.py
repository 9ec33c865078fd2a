"""
Predict a phenotype from resting-state fMRI with a language model
=================================================================

Stages 2 and 3 of fMRI-LM put a pretrained causal language model on top of the
fMRI tokenizer: the model reads a subject's fMRI tokens as input embeddings
between text segments and is instruction-tuned, with LoRA adapters, to answer
questions about the subject. :class:`~brainlm_decode.FMRILMClassifier` scores
each allowed answer by its log-probability, so ``predict_proba`` gives
probabilities, and :meth:`~brainlm_decode.FMRILMClassifier.generate` writes
free-text answers.

We run the whole chain (preprocessing, descriptor texts, a tokenizer, the LM)
with the real default backbone, Gemma-3-270M, on a CPU. What is reduced compared
with the paper, so that the example runs in about a minute of CPU time (after
the one-off conversion below):

- a synthetic cohort of 32 subjects and 40 ROIs (the paper: thousands of
  subjects, 450 ROIs), with a strong planted group difference;
- a tiny tokenizer (2 layers, width 32, 64 codes, 10 epochs, reconstruction
  only) instead of the paper's ``"small"`` one (12 layers, width 384, 8,192
  codes, aligned with text);
- the ``"network"`` token layout: ROI features averaged per Yeo network,
  7 networks x 5 patches = 35 fMRI tokens per scan instead of 40 x 5 = 200 here
  (450 x 5 = 2,250 in the paper);
- no stage 2 alignment (``pretrain_epochs=0``) and 6 stage 3 epochs (36
  optimiser steps of 4 subjects) with a large learning rate (5e-3 instead of the
  default 5e-4).

The first run converts Gemma-3-270M from its PyPI package to a safetensors
folder in the data directory (about 2 minutes, once).
"""

# %%
# A cohort with a planted group difference
# ----------------------------------------
# ``make_fmri_cohort`` plants a change of connectivity between two networks, a
# second-order effect that a model this small does not learn in a few steps.
# We add a first-order difference that the tokens carry: in patients, the
# signal of every ROI drifts slowly upwards over the run, so that the patch
# means of the z-scored series rise from the first to the last patch.
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from brainlm_decode import (
    FMRIDescriptorTransformer,
    FMRILMClassifier,
    FMRITokenizer,
    ROITimeSeriesPreprocessor,
)
from brainlm_decode.datasets import make_fmri_cohort

torch.set_num_threads(1)  # predictable run time on shared CI machines
warnings.filterwarnings("ignore", category=FutureWarning)

cohort = make_fmri_cohort(n_subjects=32, n_rois=40, random_state=0)
diagnosis = cohort.phenotypes["diagnosis"]
drift = np.linspace(-2.0, 2.0, 160)[:, None]
timeseries = [
    ts + drift * (dx == "patient")
    for ts, dx in zip(cohort.timeseries, diagnosis, strict=True)
]

series = ROITimeSeriesPreprocessor(t_r=cohort.t_r).fit_transform(timeseries)
test = np.arange(len(series)) % 4 == 0  # 8 held-out subjects
train = ~test
print(series.shape, diagnosis[train].value_counts().to_dict())

# %%
# Descriptor texts and a small tokenizer (stage 1)
# ------------------------------------------------
# In fMRI-LM, each scan's descriptor paragraphs are the text side of the
# model: the contrastive (SigLIP) targets of the tokenizer and the F2T targets
# of stage 2. Both terms are left out here: the descriptors describe
# connectivity, not the planted drift, and with 24 subjects and a few LM steps
# the contrastive term kept the ranking of held-out subjects but left their
# probabilities near 0.5 in our runs. ``backbone=None`` and
# ``text_encoder=None`` train the tokenizer on reconstruction alone.
describe = FMRIDescriptorTransformer(
    descriptors=("connectivity",), networks=cohort.networks, random_state=0
)
texts = describe.fit(series[train]).to_text(series[train])
print(texts[0][:200], "...")
tokenizer = FMRITokenizer(
    size={"n_layers": 2, "embed_dim": 32, "n_heads": 4},
    quantizer_params={"codebook_size": 64},
    decoder_layers=1,
    backbone=None,
    text_encoder=None,
    n_epochs=10,
    learning_rate=2e-3,
    min_learning_rate=2e-4,
    device="cpu",
    random_state=0,
).fit(series[train])
print(tokenizer.encode(series[:1]).shape)  # (subjects, ROIs, patches, width)

# %%
# Instruction-tune Gemma-3-270M with LoRA (stage 3)
# -------------------------------------------------
# A fitted tokenizer is used as is. LoRA takes the paper's setting for Gemma
# (rank 8, alpha 16 on the attention projections); only the adapters and the
# fMRI input module train. Each subject gets, per epoch, either a
# paraphrased question (``"single"``) or the open-ended description
# (``"open"``, answered ``"diagnosis: patient"``).
clf = FMRILMClassifier(
    tokenizer=tokenizer,
    backbone="gemma-3-270m",
    networks=cohort.networks,
    token_layout="network",
    head="answer",  # instruction tuning (the default is the frozen probe)
    paradigms=("single", "open"),
    n_epochs=6,
    learning_rate=5e-3,
    min_learning_rate=5e-4,
    batch_size=4,
    device="cpu",
    random_state=0,
)
clf.fit(series[train], diagnosis[train])
print(clf.layout_.n_tokens, "fMRI tokens per scan;", clf.lora_config_)
n_trainable = sum(p.numel() for p in clf.model_.trainable_parameters())
print(f"{n_trainable:,} trained parameters")

# %%
# Probabilities of held-out subjects
# ----------------------------------
# Each answer (``"control"``, ``"patient"``) is scored by its log-probability
# after the question ``"What is the diagnosis of this participant?"``.
proba = clf.predict_proba(series[test])[:, 1]
y_test = diagnosis[test].to_numpy()
y_pred = clf.predict(series[test])
print(f"balanced accuracy: {balanced_accuracy_score(y_test, y_pred):.2f}")
print(f"ROC AUC: {roc_auc_score(y_test == 'patient', proba):.2f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].plot(clf.history_["instruction"]["loss"], marker="o")
axes[0].set(xlabel="epoch", ylabel="answer loss", title="stage 3 training")
for k, group in enumerate(("control", "patient")):
    values = proba[y_test == group]
    axes[1].scatter(np.full(values.size, k), values, label=group)
axes[1].axhline(0.5, color="grey", lw=0.5)
axes[1].set(
    xticks=[0, 1],
    xticklabels=["control", "patient"],
    xlim=(-0.5, 1.5),
    ylabel="P(patient)",
    title="held-out subjects",
)
fig.tight_layout()

# %%
# Open-ended answers
# ------------------
# ``generate`` writes greedy answers, by default to the open-ended question
# ``"Describe this participant."``; ``score_generated`` parses the structured
# fields and checks them against the labels.
generated = clf.generate(series[test][2:4], max_new_tokens=6)  # a patient, a control
print(generated)
print(clf.score_generated(generated, diagnosis[test][2:4])["field_accuracy"])
