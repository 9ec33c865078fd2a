"""
Yeo-7 networks of the CC200 and Harvard-Oxford atlases
======================================================

The network-level descriptors and the fMRI-LM ``"network"`` token layout need
the network of each ROI. Schaefer parcels carry it in their names; the atlases of
the ABIDE Preprocessed Connectomes Project (Craddock-200, Harvard-Oxford) do not.
``brainlm_decode`` ships tables for them, built by
``scripts/build_network_tables.py`` from the atlas images against the Yeo-2011
7-network mask (majority overlap) and the Tian subcortex. This example reads the
shipped tables (no data download), and uses a table by name in
:class:`~brainlm_decode.FMRIDescriptorTransformer` on synthetic series.
"""

# %%
# The packaged tables
# -------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from brainlm_decode.datasets import available_network_tables, load_network_labels
from brainlm_decode.datasets.atlases import SUBCORTEX_NETWORK, YEO7_NETWORKS

print(available_network_tables())
counts = pd.DataFrame(
    {
        name: pd.Series(load_network_labels(name)).value_counts()
        for name in available_network_tables()
    }
).fillna(0)
counts = counts.astype(int)
counts

# %%
# ROIs per network and atlas
# --------------------------
order = [*YEO7_NETWORKS, SUBCORTEX_NETWORK, "Cerebellum", "Unassigned"]
counts = counts.reindex([n for n in order if n in counts.index])
ax = counts.plot.barh(figsize=(7, 5))
ax.invert_yaxis()
ax.set_xlabel("number of ROIs")
ax.set_title("ROI -> network tables shipped with brainlm_decode")
plt.tight_layout()

# %%
# How sure is each assignment?
# ----------------------------
# The CC200 table keeps the fraction of each ROI inside the Yeo-7 mask and
# inside the Tian subcortex; ROIs with less than half of their voxels in the Yeo
# mask go to ``Subcortex``, ``Cerebellum`` or ``Unassigned``.
cc200 = load_network_labels("cc200", as_frame=True)
cc200.groupby("network")[["yeo_fraction", "subcortex_fraction"]].mean().round(2)

# %%
# A table by name in the descriptors
# ----------------------------------
# ``networks="cc200"`` stands for the 200 network names (the same works for the
# ``networks`` parameter of the fMRI-LM estimators' ``"network"`` layout).
from brainlm_decode import FMRIDescriptorTransformer

rng = np.random.default_rng(0)
series = [rng.standard_normal((160, 200)) for _ in range(6)]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    descriptors = FMRIDescriptorTransformer(["connectivity"], networks="cc200")
    z_scores = descriptors.fit(series).transform(series)
print(z_scores.shape)
pd.DataFrame(z_scores, columns=descriptors.get_feature_names_out()).iloc[:, :4]
