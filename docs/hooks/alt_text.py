"""Give every figure of a chapter a text description, for readers who cannot see it.

nbconvert labels every image of an executed notebook "No description has been
provided for this image", which is all a screen reader then says. A chapter
states what a figure shows in the metadata of the code cell that draws it, on
the cell's ``# %%`` line::

    # %% alt="Left: three energies on the line ... Right: their densities ..."

This hook writes that text into the ``alt`` attribute of the images that the
cell outputs. A cell that draws a figure without saying what it shows is
reported as a warning, and ``mkdocs build --strict`` turns the warning into a
failed build: no figure ships without a description.
"""

from __future__ import annotations

import html
import logging
import re

import jupytext

log = logging.getLogger("mkdocs.hooks.alt_text")

NBCONVERT_ALT = "No description has been provided for this image"
# The inner of mkdocs-jupyter's two nested <div>s of a code cell carries the cell id.
CODE_CELL_START = re.compile(r'<div class="jp-Cell jp-CodeCell[^"]*" id="cell-id=')
MARKDOWN_CELL_START = '<div class="jp-Cell jp-MarkdownCell'
IMAGE_ALT = re.compile(r'(<img\b[^>]*?\balt=")[^"]*(")')


def describe_images(cell_html: str, alt: str | None) -> tuple[str, int]:
    """The cell with ``alt`` on each of its images; and how many images lack a description."""
    if alt is not None:
        text = html.escape(alt, quote=True)
        return IMAGE_ALT.sub(lambda m: f"{m[1]}{text}{m[2]}", cell_html), 0
    return cell_html, cell_html.count(f'alt="{NBCONVERT_ALT}"')


def describe_figures(page_html: str, code_cells: list, page_name: str) -> str:
    """Apply each code cell's ``alt`` metadata to the images of that cell's output."""
    starts = [match.start() for match in CODE_CELL_START.finditer(page_html)]
    if len(starts) != len(code_cells):
        log.warning(
            "%s: found %d code cells in the page but %d in the source; figure descriptions"
            " not applied",
            page_name,
            len(starts),
            len(code_cells),
        )
        return page_html
    pieces = [page_html[: starts[0]] if starts else page_html]
    for index, (start, cell) in enumerate(zip(starts, code_cells)):
        end = starts[index + 1] if index + 1 < len(starts) else len(page_html)
        # A code cell's own output ends where the next cell (of either kind) begins.
        own_end = page_html.find(MARKDOWN_CELL_START, start, end)
        own_end = end if own_end < 0 else own_end
        described, missing = describe_images(page_html[start:own_end], cell.metadata.get("alt"))
        if missing:
            first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            log.warning(
                '%s: code cell %d ("%s") draws a figure without a description; add'
                ' alt="..." to its "# %%%%" line',
                page_name,
                index + 1,
                first_line[:60],
            )
        pieces += [described, page_html[own_end:end]]
    return "".join(pieces)


def on_post_page(output, page, config):
    source = page.file.abs_src_path
    if not (source and source.endswith(".py") and "jp-CodeCell" in output):
        return output
    cells = [cell for cell in jupytext.read(source).cells if cell.cell_type == "code"]
    return describe_figures(output, cells, page.file.src_uri)
