"""Keep chapter pages light: shared notebook CSS, one copy button per code cell.

mkdocs-jupyter makes every chapter page carry, besides its content:

- about 590 KB of notebook CSS (JupyterLab's styles, the code-highlighting
  styles, a light theme) as inline ``<style>`` blocks;
- for every code cell, its own copy-to-clipboard widget (an SVG icon and a
  hidden second copy of the cell's source) plus the widget's script.

The build moves the CSS into one file, ``assets/notebook/notebook.<hash>.css``,
linked where the blocks were: the browser downloads it once for the whole book,
and the content hash in the name means a changed stylesheet gets a new URL, so
it can be cached indefinitely. The ``<link>`` stays inside the page content,
not in ``<head>``: Material's instant navigation swaps the content but not
``<head>``, so a chapter reached by a click from another page still gets it.

It also replaces the copy widgets by Material's own copy button (the one every
other code block of the site has): a ``pre > code`` is all Material needs to add it.

The code of a cell arrives coloured by Pygments: every name, bracket and dot in
its own ``<span>``, markup four to six times the size of the code itself (most of
a code-heavy chapter's HTML). The build keeps the cell's plain text, marked with
its language (``<code class="language-python">``), and the browser colours it
with Prism (``docs/javascripts/code-cells.js``, ten kilobytes loaded once for the
whole book). The colours are the notebook theme's, in light and dark mode
(``docs/stylesheets/extra.css``); without JavaScript the code reads the same,
only uncoloured. Cells whose code holds any markup other than Pygments' spans
are left as they are.

Finally it re-encodes the figures embedded in a page (``data:image/png``) with a
256-colour palette. Matplotlib writes full-colour PNGs; a plot has few distinct
colours, so the palette version looks the same and is about three times smaller
(a whole chapter, figures included, must stay under 2 MB). A figure is replaced
only when the new encoding is smaller. Only the site's copy changes: the chapter
sources and the Colab notebooks are untouched.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from html import escape
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from mkdocs.utils import get_relative_url
from PIL import Image

from .markup import collapsers, copy_widgets, header_of, highlighted_code_blocks, notebook_of

SITE_SUBDIR = "assets/notebook"
PNG_DATA_URI = "data:image/png;base64,"
KEEP_WHITESPACE = {"pre", "code", "textarea", "script", "style"}


def write_stylesheet(css: str, site_dir: str) -> str:
    """Write the stylesheet under a name made from its content; return its site path."""
    name = f"notebook.{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    path = f"{SITE_SUBDIR}/{name}"
    target = Path(site_dir) / path
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(css, encoding="utf-8")
    return path


def link_shared_stylesheet(page: BeautifulSoup, page_url: str, site_dir: str) -> str | None:
    """Replace the notebook's inline ``<style>`` blocks by one link to a shared file; return
    the file's site path (``None`` if the page had no such blocks)."""
    styles = [element for element in header_of(page) if element.name == "style"]
    if not styles:
        return None
    css = "\n".join(style.get_text().strip() for style in styles)
    path = write_stylesheet(css, site_dir)
    link = page.new_tag("link", rel="stylesheet", href=get_relative_url(path, page_url))
    styles[0].replace_with(link)  # where the first block was; the others go
    for style in styles[1:]:
        style.decompose()
    return path


def slim_cells(page: BeautifulSoup) -> None:
    """Drop the notebook's copy widgets and Pygments' spans; Material equips ``pre > code``.

    Also drops what the reader never sees: the widget's script, the hidden cell
    collapsers and the indentation between tags.
    """
    notebook = notebook_of(page)
    if notebook is None:
        return
    drop_clipboard_scripts(header_of(page))
    slim_notebook(notebook)
    squeeze(notebook)


def drop_clipboard_scripts(elements: list[Tag]) -> None:
    """Remove the copy widget's script from the elements before a notebook."""
    for script in elements:
        if script.name == "script" and "clipboard" in script.get_text():
            script.decompose()


def slim_notebook(notebook: Tag) -> None:
    """Drop a notebook's copy widgets and hidden collapsers; code cells as plain text."""
    for element in copy_widgets(notebook) + collapsers(notebook):
        element.decompose()
    for pre, language in highlighted_code_blocks(notebook):
        plain_code_cell(pre, language)


def plain_code_cell(pre: Tag, language: str | None) -> None:
    """A Pygments-highlighted ``<pre>`` as ``<pre><code class="language-...">`` with plain text.

    Cells holding any markup other than Pygments' spans are left alone.
    """
    if any(tag.name != "span" for tag in pre.find_all(True)):
        return
    code = pre.get_text()
    pre.clear()
    element = Tag(name="code", attrs={"class": f"language-{language}"} if language else {})
    element.append(NavigableString(code))
    pre.append(element)


def plain_code_in(html: str) -> str:
    """The notebook HTML with each Pygments-highlighted code block as plain code, spliced
    into the original text.

    Used on the notebook before MkDocs renders it as Markdown: Python-Markdown's time
    grows with the number of tags, and Pygments' spans are most of them. Only the code
    blocks change; everything else reaches Markdown exactly as written (serialising the
    whole tree again would re-escape the Markdown cells' text). The parser finds where
    each ``<pre>`` starts; a ``<pre>`` holds no other ``<pre>``, so it ends at the next
    ``</pre>``.
    """
    notebook = notebook_of(BeautifulSoup(html, "html.parser"))
    if notebook is None:
        return html
    line_starts = [0] + [i + 1 for i, char in enumerate(html) if char == "\n"]
    pieces, cursor = [], 0
    for pre, language in highlighted_code_blocks(notebook):
        if pre.sourceline is None or any(tag.name != "span" for tag in pre.find_all(True)):
            continue
        start = line_starts[pre.sourceline - 1] + (pre.sourcepos or 0)
        if not html.startswith("<pre", start):
            continue  # not where the parser said: leave it to plain_code_cell
        closing = html.find("</pre>", start)
        if closing < 0:
            continue
        opening = html[start : html.index(">", start) + 1]
        end = closing + len("</pre>")
        attributes = f' class="language-{language}"' if language else ""
        code = escape(pre.get_text(), quote=False)
        pieces += [html[cursor:start], f"{opening}<code{attributes}>{code}</code></pre>"]
        cursor = end
    return "".join(pieces) + html[cursor:]


INDENTATION = re.compile(r"\n[ \t]+$")


def squeeze(start: Tag) -> None:
    """Drop the indentation before tags from ``start`` to the end of the page, except where
    whitespace is content (``<pre>``, scripts)."""
    for text in start.find_all_next(string=True):
        if "\n" not in text or text.find_parent(KEEP_WHITESPACE) is not None:
            continue
        squeezed = INDENTATION.sub("\n", text)
        if squeezed != text:
            text.replace_with(NavigableString(squeezed))


def palette_png(png: bytes) -> bytes:
    """The image as a 256-colour PNG (median cut, no dithering), or unchanged if that is larger."""
    image = Image.open(io.BytesIO(png))
    if image.mode not in ("RGB", "RGBA"):
        return png
    palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    smaller = buffer.getvalue()
    return smaller if len(smaller) < len(png) else png


def cached_palette_png(png: bytes, cache_dir: Path) -> bytes:
    """``palette_png`` with a disk cache keyed by the figure's bytes (warm rebuilds stay fast)."""
    cached = cache_dir / f"{hashlib.sha256(png).hexdigest()}.png"
    if cached.exists():
        return cached.read_bytes()
    recoded = palette_png(png)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(recoded)
    return recoded


def compress_embedded_figures(page: BeautifulSoup, cache_dir: Path) -> None:
    """Re-encode every embedded PNG figure with a palette (when that makes it smaller)."""
    for image in page.find_all("img", src=True):
        source = "".join(str(image["src"]).split())
        if not source.startswith(PNG_DATA_URI):
            continue
        png = cached_palette_png(base64.b64decode(source[len(PNG_DATA_URI) :]), cache_dir)
        image["src"] = PNG_DATA_URI + base64.b64encode(png).decode()
