"""
Describe resting-state fMRI as numbers and as text
==================================================

fMRI-LM pairs each scan with descriptors of four families (functional
connectivity, functional gradients, graph metrics, ICA networks), z-scored against
a normative reference and rendered as caption-like text.
:class:`~brainlm_decode.FMRIDescriptorTransformer` learns the norms on the
training subjects only (the reference implementation z-scores the whole cohort,
test subjects included), so it can sit inside a cross-validated pipeline.

We use a synthetic cohort with a planted group difference in the connectivity
between the default mode and control networks.
"""

# %%
# A cohort and the preprocessing contract
# ---------------------------------------
import warnings

import numpy as np

from brainlm_decode import FMRIDescriptorTransformer, ROITimeSeriesPreprocessor
from brainlm_decode.datasets import make_fmri_cohort

warnings.filterwarnings(
    "ignore", message=".*did not converge.*"
)  # FastICA on synthetic data

cohort = make_fmri_cohort(
    n_subjects=40, n_rois=100, t_r=0.8, n_timepoints=400, random_state=0
)
print(cohort.description if hasattr(cohort, "description") else cohort.effect)
prep = ROITimeSeriesPreprocessor(
    t_r=cohort.t_r
)  # TR 0.8 s -> 2.0 s, 160 points, robust z
series = prep.fit_transform(cohort.timeseries)
series.shape

# %%
# Descriptors learned on training subjects
# ----------------------------------------
train, test = series[:30], series[30:]
describe = FMRIDescriptorTransformer(networks=cohort.networks, random_state=0)
describe.set_output(transform="pandas")
z = describe.fit(train).transform(test)
z.iloc[:, :6].round(2)

# %%
# The planted effect shows in the z-scores of the control-default pair
group = cohort.phenotypes["group"].to_numpy()[30:]
pair = "fc__Cont__Default"
print(
    {int(g): round(float(z.loc[group == g, pair].mean()), 2) for g in np.unique(group)}
)

# %%
# Text, one paragraph per family
# ------------------------------
print(describe.to_text(test[:1])[0])

# %%
# Subject attributes as semantic descriptions (for instruction tuning)
# --------------------------------------------------------------------
from brainlm_decode.descriptors import render_subject_text

row = cohort.phenotypes.iloc[30]
render_subject_text(
    {"age": row["age"], "sex": row["sex"], "diagnosis": row["diagnosis"]}
)
