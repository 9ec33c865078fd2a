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
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "nilearn": ("https://nilearn.github.io/stable", None),
    "nimare": ("https://nimare.readthedocs.io/en/stable", None),
}
