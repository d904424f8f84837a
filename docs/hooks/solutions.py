"""Hide exercise solutions until the reader clicks.

A chapter marks a reference solution by tagging its cell::

    # %% tags=["solution"]

nbconvert gives that cell's HTML the class ``celltag_solution``. This hook wraps
each such cell (input and output) in the same markup as a collapsed Material
admonition::

    <details class="success"><summary>Solution</summary> ...cell... </details>

It runs on the server, so the solution is hidden without JavaScript and after
Material's instant navigation. The solution still executes at build time, so a
wrong reference solution fails the build.
"""

from __future__ import annotations

import re

SOLUTION_TAG = "solution"
OPEN_SOLUTION_CELL = re.compile(rf'<div class="[^"]*\bcelltag_{SOLUTION_TAG}\b[^"]*"[^>]*>')
DIV_TAG = re.compile(r"<(/?)div\b[^>]*>", re.IGNORECASE)

OPEN_DETAILS = '<details class="success"><summary>Solution</summary>\n'
CLOSE_DETAILS = "\n</details>"


def end_of_element(html: str, start: int) -> int:
    """Index just past the ``</div>`` that closes the ``<div>`` opening at ``start``.

    Counting ``<div>``/``</div>`` is enough here: cell output text is
    HTML-escaped by nbconvert, so a literal "<div" in it cannot be mistaken for a tag.
    """
    depth = 0
    for tag in DIV_TAG.finditer(html, start):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return tag.end()
    raise ValueError(f"unclosed solution cell at character {start}")


def wrap_solutions(html: str) -> str:
    """Wrap every solution cell of a rendered page in a closed ``<details>``."""
    parts = []
    position = 0
    while match := OPEN_SOLUTION_CELL.search(html, position):
        end = end_of_element(html, match.start())
        parts += [html[position : match.start()], OPEN_DETAILS, html[match.start() : end]]
        parts.append(CLOSE_DETAILS)
        position = end
    parts.append(html[position:])
    return "".join(parts)


def on_page_content(html, page, config, files):
    return wrap_solutions(html)
