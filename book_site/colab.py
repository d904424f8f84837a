"""Publish every chapter as a notebook for Google Colab and for download.

For each chapter page (a jupytext ``.py`` file under ``chapters/``) the build

1. writes ``notebooks/<chapter>.ipynb`` into the built site, generated from the jupytext
   source at build time, so ``mkdocs gh-deploy`` publishes it on the ``gh-pages`` branch,
   where Colab can open it;
2. puts an "Open in Colab" button and a "Download notebook (.ipynb)" link under the
   chapter's title.

The notebook is adapted for Jupyter and Colab:

- its first cell installs ``ebm_book`` *only when running in Colab*, pinned to the commit
  the site was built from (so book and package never drift apart), with ``--no-deps`` so
  that Colab's own PyTorch is never reinstalled or downgraded;
- solution cells become collapsed Colab form cells (``cellView: form``), still after the
  reader's TODO cell and defining their own names, so "run all" never overwrites the
  reader's work;
- ``prose`` cells (a paragraph of the text written from computed values) become form
  cells too, so that Colab shows the paragraph and hides the f-string behind it;
- MkDocs-only Markdown (admonitions, collapsible boxes, links to other pages) is rewritten
  into plain Markdown and HTML that Jupyter renders.

One setting in ``mkdocs.yml`` names the GitHub repository::

    extra:
      repository: OWNER/REPO

The pin is ``git rev-parse HEAD`` of the repository being built; the environment variable
``EBM_BOOK_PIN`` overrides it (e.g. with a release tag).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import jupytext
import nbformat
from bs4 import BeautifulSoup
from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url

from .finished_pages import FinishedPages
from .markup import PROSE_TAG, SOLUTION_TAG

log = logging.getLogger("mkdocs.plugins.ebm-book.colab")

NOTEBOOK_DIR = "notebooks"
COLAB_URL = "https://colab.research.google.com/github/{repository}/blob/gh-pages/{path}"
PACKAGE_URL = "git+https://github.com/{repository}@{pin}"

INSTALL_CELL = """\
#@title Setup (runs only in Google Colab: installs the book's package)
# In Colab, install `ebm_book` at exactly the commit this notebook was built from.
# --no-deps: Colab already has torch, numpy, matplotlib, tqdm and scikit-learn; never touch
# its PyTorch.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "ebm-book @ {url}"],
        check=True,
    )
"""

SOLUTION_TITLE = "#@title Solution (double-click to show the code)\n"
PROSE_TITLE = "#@title Text computed from the results above (double-click to show the code)\n"

# An admonition: `!!! kind "Title"`, `??? kind "Title"` or `???+ kind "Title"`, then an
# indented body.
ADMONITION = re.compile(r'^(!!!|\?\?\?\+?)\s+([\w-]+)(?:\s+"([^"]*)")?\s*$')
MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|#)([^)\s]+?\.(?:md|py))(#[^)\s]*)?\)")


def is_chapter(file) -> bool:
    return file.src_uri.startswith("chapters/") and file.src_uri.endswith(".py")


def _notebook_path(file) -> str:
    return f"{NOTEBOOK_DIR}/{Path(file.src_uri).stem}.ipynb"


def _build_pin(config_dir: Path) -> str:
    if pin := os.environ.get("EBM_BOOK_PIN"):
        return pin
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=config_dir, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        log.info("not a git checkout: Colab notebooks will install ebm_book from 'main'")
        return "main"
    return result.stdout.strip()


def configure(config) -> None:
    """Check ``extra.repository``, pin the Colab install to this commit, default ``site_url``."""
    repository = config.extra.get("repository")
    if not repository or not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise PluginError(
            "mkdocs.yml must set extra.repository: OWNER/REPO (the GitHub repository)"
        )
    config.extra["notebook_pin"] = _build_pin(Path(config.config_file_path).parent)
    if not config.site_url:  # links in notebooks point at the published site
        owner, name = repository.split("/")
        config.site_url = f"https://{owner}.github.io/{name}/"


def _link_target(target: str, anchor: str, source_uri: str, site_url: str) -> str:
    """Turn a link between pages (``../references.md#x``) into an absolute site URL."""
    path = os.path.normpath(os.path.join(os.path.dirname(source_uri), target)).replace("\\", "/")
    page = re.sub(r"(index)?\.(md|py)$", "", path)
    page = page if page == "" or page.endswith("/") else page + "/"
    return f"{site_url.rstrip('/')}/{page}{anchor}"


def jupyter_markdown(source: str, source_uri: str, site_url: str) -> str:
    """Rewrite MkDocs-only Markdown into Markdown that Jupyter and Colab render.

    ``!!!`` admonitions become block quotes with a bold title; ``???`` collapsible boxes
    become HTML ``<details>``; links to other pages of the book become absolute links to
    the published site.
    """
    lines, out, i = source.splitlines(), [], 0
    while i < len(lines):
        match = ADMONITION.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        marker, kind, title = match.groups()
        title = title or kind.capitalize()
        body = []
        i += 1
        while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
            body.append(lines[i][4:])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        if marker == "!!!":
            out.append(f"> **{title}**")
            out.append(">")
            out.extend(f"> {line}".rstrip() for line in body)
        else:
            out.append(f"<details><summary><b>{title}</b></summary>")
            out.append("")
            out.extend(body)
            out.append("")
            out.append("</details>")
        out.append("")

    def relink(match: re.Match) -> str:
        text, target, anchor = match.group(1), match.group(2), match.group(3) or ""
        return f"[{text}]({_link_target(target, anchor, source_uri, site_url)})"

    return MARKDOWN_LINK.sub(relink, "\n".join(out).rstrip() + "\n")


def _as_form(cell: nbformat.NotebookNode, title: str) -> None:
    """Make a code cell a Colab form: its title and output show, its code is collapsed."""
    cell.source = title + cell.source
    cell.metadata["cellView"] = "form"
    cell.metadata["jupyter"] = {"source_hidden": True}


def colab_notebook(source: Path, source_uri: str, config) -> nbformat.NotebookNode:
    """The chapter as a Colab-ready notebook (no outputs: the reader runs it)."""
    notebook = jupytext.read(source)
    url = PACKAGE_URL.format(
        repository=config.extra["repository"], pin=config.extra["notebook_pin"]
    )
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = jupyter_markdown(cell.source, source_uri, config.site_url)
        elif SOLUTION_TAG in cell.metadata.get("tags", []):
            _as_form(cell, SOLUTION_TITLE)
        elif PROSE_TAG in cell.metadata.get("tags", []):
            _as_form(cell, PROSE_TITLE)
    setup = nbformat.v4.new_code_cell(INSTALL_CELL.format(url=url))
    setup.metadata["cellView"] = "form"
    notebook.cells.insert(0, setup)
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["colab"] = {"provenance": [], "toc_visible": True}
    notebook.metadata.setdefault("language_info", {"name": "python"})
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"  # stable ids: the same source gives the same file
    nbformat.validate(notebook)
    return notebook


def add_notebook_buttons(content: BeautifulSoup, page, config) -> None:
    """Put the Colab button and the download link under the chapter's title."""
    notebook = _notebook_path(page.file)
    colab = COLAB_URL.format(repository=config.extra["repository"], path=notebook)
    download = get_relative_url(notebook, page.url or ".")
    buttons = BeautifulSoup(
        '<p class="ebm-notebook-links">'
        f'<a class="md-button md-button--primary ebm-colab" href="{colab}">Open in Colab</a> '
        f'<a class="md-button ebm-download" href="{download}" download>'
        "Download notebook (.ipynb)</a></p>",
        "html.parser",
    )
    title = content.find("h1")
    if title is None:
        content.insert(0, buttons)
    else:
        title.insert_after(buttons)


def write_notebooks(chapters: list, config, finished: FinishedPages | None = None) -> None:
    """Write every chapter's notebook into the built site (through ``finished``, a cache
    of finished pages, when given: a rebuild then converts no unchanged chapter)."""
    for file in chapters:
        source = Path(file.abs_src_path)

        def convert(_: str, source: Path = source, uri: str = file.src_uri) -> tuple[str, list]:
            text = nbformat.writes(colab_notebook(source, uri, config))
            return (text if text.endswith("\n") else text + "\n"), []

        inputs = [
            "notebook", file.src_uri, config.extra["repository"],
            config.extra["notebook_pin"], config.site_url or "",
        ]  # fmt: skip
        raw = source.read_text(encoding="utf-8")
        text = (
            finished.finished(raw, inputs, config.site_dir, convert)
            if finished
            else convert(raw)[0]
        )
        target = Path(config.site_dir) / _notebook_path(file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        log.info("wrote %s", target.relative_to(config.site_dir))
