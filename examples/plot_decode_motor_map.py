"""
Decode a brain map with the pretrained NiCLIP decoder
=====================================================

:class:`~brainlm_decode.CLIPDecoder` ships with a decoder trained on the
NeuroQuery corpus against the Cognitive Atlas, so it works with nothing
downloaded. Here we decode nilearn's bundled sample motor activation map (a
NeuroVault group map) into tasks, concepts and domains, the three levels of the
NiCLIP paper.
"""

# %%
# Load the decoder and the map
# ----------------------------
from nilearn.datasets import load_sample_motor_activation_image

from brainlm_decode import CLIPDecoder

decoder = CLIPDecoder.from_pretrained()
img = load_sample_motor_activation_image()
print(decoder.ontology_)

# %%
# Tasks: Bayesian posterior
# -------------------------
# ``transform`` returns a DataFrame indexed by task, as NiMARE's decoders do:
# likelihood ``P(A|T)`` (softmax of the scaled cosine), the corpus prior ``P(T)``
# and the posterior ``P(T|A)``.
tasks = decoder.transform(img)
tasks.head(10)

# %%
# Concepts and domains
# --------------------
# A concept's score mixes the noisy-OR over the tasks that measure it with the
# similarity of the map to the concept's own name and definition
# (``concept_text_weight=0.75``); domains are the noisy-OR of their concepts.
results = decoder.decode(img)
results["concept"].head(10)

# %%
# With the noisy-OR alone (``concept_text_weight=0``, the former behaviour), every
# concept linked to the top task gets nearly the same probability, whether it is
# about movement or not.
decoder.set_params(concept_text_weight=0.0)
noisy_or_only = decoder.decode(img)["concept"].head(5)
decoder.set_params(concept_text_weight=0.75)
noisy_or_only

# %%
results["domain"]

# %%
# Decoding options
# ----------------
# Only the positive tail is decoded by default. ``percentile`` turns the map into
# a binary ROI of its strongest voxels first.
decoder.set_params(percentile=5)
decoder.transform(img).head(5)

# %%
# Plot
# ----
from brainlm_decode.decode.plotting import plot_decoding

decoder.set_params(percentile=None)
fig = plot_decoding(decoder.decode(img), img=img, top=8, title="Sample motor map")
