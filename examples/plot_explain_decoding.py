"""
Why a term? Explain a decoding region by region
===============================================

:meth:`~brainlm_decode.CLIPDecoder.explain` splits the score of one decoded
term (a task's posterior, a concept's score, a domain's noisy-OR probability) into the
contribution of each region of the decoder's atlas. It uses integrated gradients
through the image tower, from an empty map (``baseline="zero"``) or a uniform one,
and checks *completeness*: the contributions add up to the change of the score
between the baseline and the map.
"""

# %%
# Decode nilearn's sample motor map
# ---------------------------------
import warnings

from nilearn import plotting
from nilearn.datasets import load_sample_motor_activation_image

from brainlm_decode import CLIPDecoder

warnings.simplefilter("ignore")  # the 3 mm sample map is resampled to 2 mm
decoder = CLIPDecoder.from_pretrained()
img = load_sample_motor_activation_image()
top_task = decoder.transform(img).index[0]
print(top_task)

# %%
# Explain the top task
# --------------------
# ``explain`` unpacks as a brain image of contributions and a table of the top
# regions (centre of mass in MNI mm, the region's share of the map, its
# contribution). Region names come from Harvard-Oxford when nilearn has it on
# disk, else from the decoder's own parcels.
result = decoder.explain(img, top_task, top=8)
explanation_img, table = result
print(
    f"score {result.score:.3f} = baseline {result.baseline_score:.3f} "
    f"+ sum of contributions {result.contributions.sum():.3f} "
    f"(error {result.completeness_error:.1e})"
)
table

# %%
plotting.plot_stat_map(
    explanation_img, cmap="RdBu_r", title=f"contributions to '{top_task}'"
)

# %%
# Concepts and domains
# --------------------
# The same call explains a concept or a domain: the noisy-OR over the tasks that
# measure it (and, for a concept, the similarity to its own text) is part of the
# explained function.
domain = decoder.transform(img, level="domain").index[0]
decoder.explain(img, domain, level="domain", top=5).table
