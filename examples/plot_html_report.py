"""
Share a decoding as one HTML file
=================================

:meth:`~brainlm_decode.CLIPDecoder.report` writes a self-contained page: an
interactive viewer of the map, bar charts of the top tasks, concepts and domains,
the explanation maps of the top terms, and provenance (model checksum, input
sha256, settings, date). Everything is inlined, so the file opens offline and can
be mailed or attached to a paper. ``brainlm-decode decode MAP --html report.html``
does the same from the command line, and ``brainlm-decode serve`` from a browser.
"""

# %%
import tempfile
import warnings
from pathlib import Path

from nilearn.datasets import load_sample_motor_activation_image

from brainlm_decode import CLIPDecoder

warnings.simplefilter("ignore")
decoder = CLIPDecoder.from_pretrained()
img = load_sample_motor_activation_image()

out = Path(tempfile.mkdtemp()) / "motor_report.html"
decoder.report(img, out, top=8, n_explain=2, model_name="niclip-neuroquery-minilm")
print(f"{out.name}: {out.stat().st_size / 1e6:.1f} MB, opens without network")

# %%
# The page refers to no external asset:
text = out.read_text()
print("external links:", 'src="http' in text or 'href="http' in text)
