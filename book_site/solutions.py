"""Hide exercise solutions until the reader clicks.

A chapter marks a reference solution by tagging its cell::

    # %% tags=["solution"]

The build wraps each such cell (input and output) in the same markup as a collapsed
Material admonition::

    <details class="success ebm-solution"><summary>Solution</summary> ...cell... </details>

It happens on the server, so the solution is hidden without JavaScript and after
Material's instant navigation. The solution still executes at build time, so a
wrong reference solution fails the build.
"""

from __future__ import annotations

from bs4 import BeautifulSoup

from .markup import SOLUTION_TAG, cells_tagged, notebook_of


def wrap_solutions(content: BeautifulSoup) -> int:
    """Wrap every solution cell of a page in a closed ``<details>``; return how many."""
    notebook = notebook_of(content) or content
    cells = cells_tagged(notebook, SOLUTION_TAG)
    for cell in cells:
        box = content.new_tag("details", attrs={"class": "success ebm-solution"})
        summary = content.new_tag("summary")
        summary.string = "Solution"
        box.extend([summary, "\n"])
        cell.wrap(box)
        cell.insert_after("\n")
    return len(cells)
