"""Sphinx configuration for the thermal documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` from the repository
root (``pip install ".[docs]"`` first).
"""

from __future__ import annotations

import sys
from pathlib import Path

# the package from this source tree, also when it is not installed; local extensions in _ext
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import thermal

project = "thermal"
author = "The thermal developers"
copyright = "2026, The thermal developers"
release = thermal.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "clihelp",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "examples"]

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
napoleon_preprocess_types = False

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"

html_theme = "alabaster"
html_title = f"thermal {release}"
