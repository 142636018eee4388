"""Sphinx configuration of the course's offline site (built by `make site`, see scripts/build_site.py)."""
project = "Deep learning in PyTorch, from the neuron up"
author = "The course authors"
# sphinx-mathjax-offline ships MathJax 3 and points Sphinx at it: formulas render with no internet.
extensions = ["myst_nb", "sphinx-mathjax-offline"]
html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {"show_navbar_depth": 1, "use_download_button": True}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Every notebook runs once, in the quick profile, while the site is built; an error fails the build.
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
suppress_warnings = ["mystnb.unknown_mime_type"]
