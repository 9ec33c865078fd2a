"""
Train a NiCLIP decoder in a NiMARE script
=========================================

:class:`~brainlm_decode.CLIPDecoder` is fitted on any NiMARE collection with texts
and peak coordinates (a ``Dataset`` here; a ``Studyset`` works the same way). We
use a synthetic collection whose studies talk about one of four topics and report
peaks around that topic's regions, and a four-task ontology, so that the example
runs in a minute on a laptop. The same code trains on real corpora with the full
Cognitive Atlas.
"""

# %%
# A NiMARE Dataset with planted text-location links
# -------------------------------------------------
import numpy as np

from brainlm_decode import CLIPDecoder
from brainlm_decode.datasets import make_studies_collection
from brainlm_decode.imaging import mkda_map
from brainlm_decode.imaging.spaces import MNIParcelSpace
from brainlm_decode.ontology import CognitiveAtlas

dset = make_studies_collection(
    n_studies=200, n_topics=4, random_state=0, return_type="dataset"
)
print(dset)
print(dset.get_texts(text_type="abstract")[0][:200])

# %%
# A small ontology
# ----------------
atlas = CognitiveAtlas(
    tasks=[
        {
            "id": "t1",
            "name": "checkerboard task",
            "definition": "viewing flickering visual gratings",
        },
        {
            "id": "t2",
            "name": "finger tapping task",
            "definition": "tapping fingers, a motor movement",
        },
        {
            "id": "t3",
            "name": "sentence reading task",
            "definition": "reading sentences for meaning",
        },
        {
            "id": "t4",
            "name": "memory encoding task",
            "definition": "encoding and retrieving episodic memories",
        },
    ],
    concepts=[
        {
            "id": "c1",
            "name": "vision",
            "definition": "visual perception",
            "domain": "d1",
        },
        {
            "id": "c2",
            "name": "motor control",
            "definition": "control of movement",
            "domain": "d2",
        },
        {
            "id": "c3",
            "name": "language",
            "definition": "language comprehension",
            "domain": "d3",
        },
        {"id": "c4", "name": "memory", "definition": "episodic memory", "domain": "d4"},
    ],
    domains=[
        {"id": f"d{i}", "name": name, "definition": name}
        for i, name in enumerate(
            ["Perception", "Action", "Language", "Memory"], start=1
        )
    ],
    task_concepts=[("t1", "c1"), ("t2", "c2"), ("t3", "c3"), ("t4", "c4")],
)

# %%
# Fit, as one would fit a NiMARE decoder
# --------------------------------------
# The defaults are the paper's (embedding width 512, batch 128, 50 epochs with early
# stopping); we shrink them for a 200-study corpus.
decoder = CLIPDecoder(
    image_space=MNIParcelSpace(n_parcels=128),
    ontology=atlas,
    embed_dim=64,
    batch_size=32,
    n_epochs=20,
    random_state=0,
    device="cpu",
)
decoder.fit(dset)
print(f"best epoch {decoder.history_['best_epoch']}, scale {decoder.logit_scale_:.1f}")

# %%
# Decode a map of a motor peak
# ----------------------------
img = mkda_map(np.array([[-38, -22, 56]]))
decoder.transform(img)

# %%
# Save and reload (safetensors + JSON)
# ------------------------------------
import tempfile

folder = decoder.save(tempfile.mkdtemp() + "/decoder")
CLIPDecoder.load(folder).transform(img, level="domain")
