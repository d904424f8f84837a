"""Everything the build knows about mkdocs-jupyter's output, and the book's cell tags.

The other modules of ``book_site`` never look for a class name, an attribute or a
private function of the notebook plugin themselves: they ask this module. When an
upgrade of mkdocs-jupyter (or of nbconvert, whose templates it uses) changes its markup,
this is the one file to update, and ``tests/test_book_site.py`` names the assumption
that broke: it checks each function below against a small page that the installed
plugin converts, and against a stored copy of such a page.

Pages are parsed with BeautifulSoup (Python's own ``html.parser``, no extra dependency).
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import inspect
from collections.abc import Callable
from types import ModuleType

from bs4 import BeautifulSoup, Tag
from mkdocs.exceptions import PluginError

PLUGIN = "mkdocs-jupyter"

# --- The book's cell tags and cell metadata (written on a chapter's `# %%` lines) --------

SOLUTION_TAG = "solution"  # an exercise's reference solution: collapsed until clicked
PROSE_TAG = "prose"  # a paragraph written from computed values: the page shows only its text
ALT_KEY = "alt"  # a figure's description: `# %% alt="..."` on the cell that draws it

# --- The plugin's markup --------------------------------------------------------------

NOTEBOOK_CLASS = "jupyter-wrapper"  # the <div> around a converted notebook
CODE_CELL_CLASS = "jp-CodeCell"
CELL_TAG_CLASS = "celltag_{tag}"  # nbconvert's class for a cell's tag
HIGHLIGHT_CLASS = "highlight-ipynb"  # a code cell's <div> around its <pre>
LANGUAGE_CLASS_PREFIX = "hl-"  # "hl-python" on that <div>
COPY_WIDGET_CLASS = "zeroclipboard-container"  # a code cell's own copy button
COPY_TEXT_CLASS = "clipboard-copy-txt"  # the hidden copy of a cell's source
COLLAPSER_CLASS = "jp-Collapser"  # JupyterLab's cell collapsers, hidden on the site
MATHJAX_LOADER_ATTRIBUTE = "data-mkdocs-jupyter-mathjax"  # the plugin's CDN MathJax loader
NBCONVERT_ALT = "No description has been provided for this image"


def parse(html: str) -> BeautifulSoup:
    """A page or a fragment of one, as a tree."""
    return BeautifulSoup(html, "html.parser")


def notebook_of(page: Tag) -> Tag | None:
    """The converted notebook inside a page (``None`` on pages that are not notebooks)."""
    return page.find("div", class_=NOTEBOOK_CLASS)


def code_cells(notebook: Tag) -> list[Tag]:
    """The code cells, in order: the inner of the plugin's two nested ``<div>``s, the one
    with the cell's ``id``. Each holds the cell's input (unless removed) and outputs."""
    return [
        div
        for div in notebook.find_all("div", class_=CODE_CELL_CLASS)
        if str(div.get("id", "")).startswith("cell-id=")
    ]


def cells_tagged(notebook: Tag, tag: str) -> list[Tag]:
    """The outer ``<div>`` of every cell carrying ``tag`` (whole cell: input and outputs)."""
    name = CELL_TAG_CLASS.format(tag=tag)
    outer = []
    for div in notebook.find_all("div", class_=name):
        parent = div.find_parent("div", class_=name)
        if parent is None:
            outer.append(div)
    return outer


def images_of(cell: Tag) -> list[Tag]:
    """The images a code cell outputs."""
    return cell.find_all("img")


def highlighted_code_blocks(notebook: Tag) -> list[tuple[Tag, str | None]]:
    """Each code cell's highlighted ``<pre>``, with the cell's language (or ``None``)."""
    blocks = []
    for wrapper in notebook.find_all("div", class_=HIGHLIGHT_CLASS):
        pre = wrapper.find("pre", recursive=False)
        if pre is None:
            continue
        languages = [
            name.removeprefix(LANGUAGE_CLASS_PREFIX)
            for name in wrapper.get_attribute_list("class")
            if name and name.startswith(LANGUAGE_CLASS_PREFIX)
        ]
        blocks.append((pre, languages[0] if languages else None))
    return blocks


def copy_widgets(notebook: Tag) -> list[Tag]:
    """The plugin's per-cell copy buttons and the hidden copies of the cells' source."""
    return notebook.find_all("div", class_=COPY_WIDGET_CLASS) + notebook.find_all(
        "div", class_=COPY_TEXT_CLASS
    )


def collapsers(notebook: Tag) -> list[Tag]:
    return notebook.find_all("div", class_=COLLAPSER_CLASS)


def header_of(page: BeautifulSoup) -> list[Tag]:
    """What the plugin puts before the notebook's cells: its ``<style>`` and ``<script>``
    elements, which sit between the article's start and the notebook ``<div>``."""
    notebook = notebook_of(page)
    if notebook is None:
        return []
    return [
        element
        for element in notebook.find_all_previous(["style", "script"])
        if element.find_parent("article") is not None
    ][::-1]


def math_elements(notebook: Tag) -> list[Tag]:
    """The math of the notebook's Markdown cells, as arithmatex writes it (``\\(...\\)``,
    ``\\[...\\]``).

    The plugin passes the HTML of Markdown cells through a second round of escaping, so in
    display math a ``<`` arrives as the text ``&lt;`` (the markup ``&amp;lt;``), which
    MathJax reads as a misplaced ``&``. `mathjax.unescape_math` repairs it.
    """
    return notebook.select(".arithmatex")


def mathjax_loaders(page: BeautifulSoup) -> list[Tag]:
    """The plugin's own MathJax loader scripts (it points at a CDN)."""
    return page.find_all("script", attrs={MATHJAX_LOADER_ATTRIBUTE: True})


def without_mathjax_loader(html: str, plugin_config) -> str:
    """The page without the MathJax loader that the plugin appends to *every* page.

    The plugin builds the loader with its ``mathjax_script`` function and inserts it
    before ``</body>``; the same call gives the exact text to remove, without parsing
    pages that are not notebooks (the API reference alone would take seconds). If the
    plugin ever writes it differently, the build fails here instead of shipping two
    MathJax typesetters.
    """
    from mkdocs_jupyter.mathjax import mathjax_script

    if plugin_config["mathjax_version"] == 2:  # this version writes no loader
        return html
    loader = mathjax_script(plugin_config["mathjax_version"], plugin_config["custom_mathjax_url"])
    html = html.replace(loader + "\n", "").replace(loader, "")
    if MATHJAX_LOADER_ATTRIBUTE in html:
        raise PluginError(
            f"{PLUGIN} {plugin_version()} writes its MathJax loader differently: the book's "
            "build could not remove it (book_site/markup.py, without_mathjax_loader)."
        )
    return html


# --- The plugin's private functions -----------------------------------------------------


def plugin_version() -> str:
    try:
        return importlib.metadata.version(PLUGIN)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def wrap_plugin_function(
    module: ModuleType,
    name: str,
    expected_parameters: list[str],
    make_wrapper: Callable[[Callable], Callable],
) -> None:
    """Replace ``module.name`` by ``make_wrapper(original)``, after checking it is still there.

    The plugin has no option for what the build needs here (a cell timeout, errors that
    name the chapter), so the build wraps two of its functions. This is the only place
    that does, and it fails the build with a message naming the plugin's version when a
    wrapped function is missing or its parameters changed. Wrapping twice (``mkdocs
    serve`` rebuilds) wraps the original, not the previous wrapper.
    """
    where = f"{module.__name__}.{name}"
    function = getattr(module, name, None)
    if not callable(function):
        raise PluginError(
            f"{PLUGIN} {plugin_version()} has no function {where}, which the book's build "
            "wraps (book_site/markup.py). Install a version of it that does "
            "(see pyproject.toml), or update book_site for this one."
        )
    original = inspect.unwrap(function)
    parameters = list(inspect.signature(original).parameters)
    missing = [p for p in expected_parameters if p not in parameters]
    if missing:
        raise PluginError(
            f"{PLUGIN} {plugin_version()} changed {where}: it no longer takes {missing} "
            f"(its parameters: {parameters}). The book's build wraps it "
            "(book_site/markup.py): update book_site for this version."
        )
    wrapper = make_wrapper(original)
    functools.update_wrapper(wrapper, original)
    setattr(module, name, wrapper)


def notebook_converter(plugin, page, config, files) -> Callable[[], dict]:
    """The plugin's conversion of a chapter page, as a function to call: it executes the
    chapter (or reads the plugin's cache) and writes the cache, as rendering the page
    would. Works on a copy of the page, whose methods the plugin replaces.

    With ``markdown_cell_processor: mkdocs``, the plugin's ``on_pre_page`` leaves the
    conversion on the page as ``_mkdocs_jupyter_content``; the build fails naming the
    plugin's version if it no longer does.
    """
    copied = copy.copy(page)
    plugin.on_pre_page(copied, config=config, files=files)
    converter = getattr(copied, "_mkdocs_jupyter_content", None)
    if not callable(converter):
        raise PluginError(
            f"{PLUGIN} {plugin_version()} no longer leaves its conversion on the page "
            "(page._mkdocs_jupyter_content), which the book's build calls to execute "
            "chapters in parallel (book_site/markup.py): update book_site for this version."
        )
    return converter
