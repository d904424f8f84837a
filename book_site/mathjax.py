"""Serve MathJax from the site itself, never from a CDN.

The MathJax files come from the ``django-static-mathjax`` package (a ``docs``
dependency), which ships MathJax 3 under the importable package ``mathjax``.
After each build (``mkdocs serve`` included) the build copies the parts the
site uses into ``assets/mathjax/``:

- ``tex-svg-full.js``: TeX input with every extension, SVG output. SVG output
  draws glyphs as paths inside each equation, so it needs no web fonts and keeps
  working when Material's instant navigation swaps the page content.
- ``ui/``, ``a11y/``, ``sre/``: loaded on demand by MathJax's right-click menu
  (accessibility explorer, speech), so those features also work offline.

mkdocs-jupyter adds its own MathJax loader to every page, pointing at a CDN.
The site typesets all math itself (``docs/javascripts/mathjax-config.js``), so
the build removes that loader: two typesetters would race on the same page.
"""

from __future__ import annotations

import html
import logging
import shutil
from pathlib import Path

import mathjax
from bs4 import NavigableString, Tag
from mkdocs.exceptions import PluginError

from .markup import PLUGIN, math_elements, without_mathjax_loader

log = logging.getLogger("mkdocs.plugins.ebm-book.mathjax")

SITE_SUBDIR = "assets/mathjax"
COMBINED_FILE = "tex-svg-full.js"
ON_DEMAND_DIRS = ("ui", "a11y", "sre")


def mathjax_es5_dir() -> Path:
    """Folder of MathJax's browser builds inside the installed package."""
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / COMBINED_FILE).is_file():
        raise PluginError(
            f"MathJax not found at {es5}; install the docs extra: pip install -e '.[docs]'"
        )
    return es5


def remove_plugin_loader(html: str, config) -> str:
    """Drop mkdocs-jupyter's CDN MathJax loader: the site serves and configures its own."""
    return without_mathjax_loader(html, config.plugins[PLUGIN].config)


def unescape_math(notebook: Tag) -> int:
    """Undo the notebook plugin's second escaping of math (see `markup.math_elements`).

    Only math text holding an escaped ``<``, ``>`` or ``&`` changes; returns how many.
    """
    repaired = 0
    for element in math_elements(notebook):
        for text in element.find_all(string=True):
            if any(entity in text for entity in ("&lt;", "&gt;", "&amp;")):
                text.replace_with(NavigableString(html.unescape(text)))
                repaired += 1
    return repaired


def copy_mathjax(config) -> None:
    """Copy MathJax's browser build into the site (``assets/mathjax/``)."""
    source = mathjax_es5_dir()
    target = Path(config.site_dir) / SITE_SUBDIR
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / COMBINED_FILE, target / COMBINED_FILE)
    for folder in ON_DEMAND_DIRS:
        shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)
    log.debug("Copied MathJax from %s to %s", source, target)
