"""
Decode a whole collection of maps
=================================

:meth:`~brainlm_decode.CLIPDecoder.decode_many` decodes every NIfTI file of
folders (searched recursively, e.g. a BIDS derivatives tree), glob patterns or
lists into one long table (``map, sha256, level, term, id, score, rank, p, q,
error``). With an output file it is resumable: each chunk is written atomically as
soon as it is done, and maps whose content hash is already there are skipped. A
map that cannot be decoded gets an ``error`` row instead of stopping the run.
"""

# %%
# A small derivatives folder
# --------------------------
import tempfile
from pathlib import Path

import numpy as np
from nibabel import save

from brainlm_decode import CLIPDecoder
from brainlm_decode.imaging import mkda_map

root = Path(tempfile.mkdtemp())
peaks = {
    "motor": [[-38, -22, 56]],
    "visual": [[10, -90, 0]],
    "auditory": [[52, -20, 6]],
}
for i, (name, xyz) in enumerate(peaks.items()):
    folder = root / f"sub-{i + 1:02d}" / "func"
    folder.mkdir(parents=True)
    save(mkda_map(np.array(xyz)), folder / f"sub-{i + 1:02d}_desc-{name}_stat.nii.gz")
(root / "sub-01" / "func" / "notes.nii").write_text("not an image")

# %%
# Decode, then resume
# -------------------
decoder = CLIPDecoder.from_pretrained()
out = root / "results.parquet"
table = decoder.decode_many(root, out, top=3, n_jobs=1)
table[table["level"] == "task"][["map", "term", "score", "rank"]].assign(
    map=lambda t: t["map"].map(lambda p: Path(p).name)
)

# %%
table[table["level"] == "error"][["map", "error"]]

# %%
# A second call finds every map in ``results.parquet`` and decodes nothing.
again = decoder.decode_many(root, out, top=3)
print(len(again) == len(table))

# %%
# On a cluster
# ------------
# Any joblib backend works: ``backend="loky"`` (default), ``"threading"``, or
# Dask after ``from dask.distributed import Client; client = Client(cluster)``
# with ``backend="dask"`` (Ray likewise with ``ray.util.joblib``). On the
# command line: ``brainlm-decode decode-batch derivatives/ --out results.parquet
# --n-jobs 8``.
