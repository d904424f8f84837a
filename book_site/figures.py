"""Give every figure of a chapter a text description, for readers who cannot see it.

nbconvert labels every image of an executed notebook "No description has been
provided for this image", which is all a screen reader then says. A chapter
states what a figure shows in the metadata of the code cell that draws it, on
the cell's ``# %%`` line::

    # %% alt="Left: three energies on the line ... Right: their densities ..."

The build writes that text into the ``alt`` attribute of the images that the cell
outputs. A cell that draws a figure without saying what it shows is reported as a
warning, and ``mkdocs build --strict`` turns the warning into a failed build: no
figure ships without a description.
"""

from __future__ import annotations

import logging

from bs4 import Tag

from .markup import ALT_KEY, NBCONVERT_ALT, code_cells, images_of, notebook_of

log = logging.getLogger("mkdocs.plugins.ebm-book.figures")


def describe_figures(page: Tag, source_cells: list, page_name: str) -> None:
    """Apply each code cell's ``alt`` metadata to the images of that cell's output.

    ``source_cells`` are the chapter's code cells (jupytext), in order.
    """
    notebook = notebook_of(page)
    if notebook is None:
        return
    cells = code_cells(notebook)
    if len(cells) != len(source_cells):
        log.warning(
            "%s: found %d code cells in the page but %d in the source; figure descriptions"
            " not applied",
            page_name,
            len(cells),
            len(source_cells),
        )
        return
    for index, (cell, source) in enumerate(zip(cells, source_cells)):
        alt = source.metadata.get(ALT_KEY)
        images = images_of(cell)
        if alt is not None:
            for image in images:
                image["alt"] = alt
        elif any(image.get("alt") == NBCONVERT_ALT for image in images):
            first_line = source.source.strip().splitlines()[0] if source.source.strip() else ""
            log.warning(
                '%s: code cell %d ("%s") draws a figure without a description; add'
                ' alt="..." to its "# %%%%" line',
                page_name,
                index + 1,
                first_line[:60],
            )
