"""Sphinx configuration of the brainlm_decode documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from brainlm_decode import __version__

project = "brainlm_decode"
author = "brainlm_decode developers"
release = __version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
html_theme = "pydata_sphinx_theme"
exclude_patterns = ["_build", "auto_examples/*.ipynb"]
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
}
#: ``BRAINLM_DOCS_OFFLINE=1`` (``make docs-check``, CI): no network, so no
#: intersphinx inventories; see ``_offline_reference`` below.
OFFLINE = os.environ.get("BRAINLM_DOCS_OFFLINE") == "1"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "nilearn": ("https://nilearn.github.io/stable", None),
    "nimare": ("https://nimare.readthedocs.io/en/stable", None),
}

if OFFLINE:
    intersphinx_mapping = {}

#: Labels of scikit-learn's user guide that the ``score`` docstrings inherited
#: from ``ClassifierMixin`` / ``RegressorMixin`` point to; intersphinx resolves
#: them online. Offline they become plain text instead of failing the build.
_SKLEARN_INHERITED_LABELS = {"accuracy_score", "r2_score"}


def _offline_reference(app, env, node, contnode):
    if OFFLINE and node.get("reftype") == "ref":
        if node.get("reftarget") in _SKLEARN_INHERITED_LABELS:
            return contnode
    return None


def setup(app):
    app.connect("missing-reference", _offline_reference)
