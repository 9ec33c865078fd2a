"""
Tokenize resting-state fMRI into text-aligned discrete codes
============================================================

Stage 1 of fMRI-LM turns each subject's ROI time series into a grid of discrete
tokens, one per ROI and temporal patch of 32 time points, with continuous
features aligned to language. :class:`~brainlm_decode.FMRITokenizer` trains a
Transformer encoder, a quantizer (a cosine VQ codebook by default) and a light
decoder to reconstruct the signal, and aligns the features with the embeddings of
each subject's descriptor paragraph (SigLIP) and, when a language-model backbone
is given, with its text-token embeddings (domain-adversarial).

We train a tiny tokenizer (the same code as the paper's ``small``/``base`` sizes)
on a synthetic cohort, in a few seconds on a CPU.
"""

# %%
# A cohort, its preprocessing and its descriptor texts
# ----------------------------------------------------
import matplotlib.pyplot as plt
import torch

from brainlm_decode import (
    FMRIDescriptorTransformer,
    FMRITokenizer,
    ROITimeSeriesPreprocessor,
)
from brainlm_decode.datasets import make_fmri_cohort

torch.set_num_threads(2)
cohort = make_fmri_cohort(
    n_subjects=24, n_rois=40, t_r=0.8, n_timepoints=400, random_state=0
)
series = ROITimeSeriesPreprocessor(t_r=cohort.t_r).fit_transform(cohort.timeseries)
train, test = series[:18], series[18:]
describe = FMRIDescriptorTransformer(
    descriptors=("connectivity", "graph"), networks=cohort.networks, random_state=0
)
texts = describe.fit(train).to_text(train)
print(series.shape)  # 160 points at TR 2 s: 5 patches of 32 per ROI
print(texts[0][:300])

# %%
# Train a tiny tokenizer
# ----------------------
# ``backbone=None`` leaves out the adversarial term so that the example runs
# without the optional Gemma backbone; the default ``"gemma-3-270m"`` (or any
# ``HFBackbone``) adds it. The text encoder is all-MiniLM-L6-v2 (offline).
tokenizer = FMRITokenizer(
    size={"n_layers": 2, "embed_dim": 32, "n_heads": 4},
    quantizer_params={"codebook_size": 128},
    backbone=None,
    n_epochs=30,
    learning_rate=2e-3,
    min_learning_rate=2e-4,
    device="cpu",
    random_state=0,
)
tokenizer.fit(train, texts=texts)

fig, ax = plt.subplots(figsize=(5, 3))
for term in ("reconstruction", "contrastive"):
    ax.plot(tokenizer.history_[term], label=term)
ax.set(xlabel="epoch", ylabel="loss", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# Tokens of held-out subjects
# ---------------------------
ids = tokenizer.transform(test)
print(ids.shape, ids.dtype)  # (subjects, ROIs, patches)
print(
    f"codebook perplexity on the training data: {tokenizer.codebook_perplexity_:.1f}"
    f" of {tokenizer.codebook_size_} codes"
)
fig, ax = plt.subplots(figsize=(5, 3))
ax.imshow(ids[0].T, aspect="auto", cmap="tab20", interpolation="nearest")
ax.set(xlabel="ROI", ylabel="temporal patch", title="token ids of one subject")
fig.tight_layout()

# %%
# Reconstruction from the tokens
# ------------------------------
# ``inverse_transform`` decodes the token ids back into ROI time series; the
# continuous features that the LM stage consumes come from ``encode``.
recon = tokenizer.inverse_transform(ids)
print(f"held-out reconstruction R^2: {tokenizer.score(test):.2f}")
print("features for the LM stage:", tokenizer.encode(test).shape)
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.plot(test[0, :, 0], label="signal", color="k", lw=1)
ax.plot(recon[0, :, 0], label="from tokens", color="C1", lw=1)
ax.set(xlabel="time point (TR 2 s)", title="ROI 1 of a held-out subject")
ax.legend()
fig.tight_layout()
