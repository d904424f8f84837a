"""Keep chapter pages light: shared notebook CSS, one copy button per code cell.

mkdocs-jupyter makes every chapter page carry, besides its content:

- about 590 KB of notebook CSS (JupyterLab's styles, the code-highlighting
  styles, a light theme) as inline ``<style>`` blocks;
- for every code cell, its own copy-to-clipboard widget (an SVG icon and a
  hidden second copy of the cell's source) plus the widget's script.

This hook moves the CSS into one file, ``assets/notebook/notebook.<hash>.css``,
linked where the blocks were: the browser downloads it once for the whole book,
and the content hash in the name means a changed stylesheet gets a new URL, so
it can be cached indefinitely. The ``<link>`` stays inside the page content,
not in ``<head>``: Material's instant navigation swaps the content but not
``<head>``, so a chapter reached by a click from another page still gets it.

It also replaces the copy widgets by Material's own copy button (the one every
other code block of the site has): a ``pre > code`` is all Material needs to add it.

The code of a cell arrives coloured by Pygments: every name, bracket and dot in
its own ``<span>``, markup four to six times the size of the code itself (most of
a code-heavy chapter's HTML). The hook keeps the cell's plain text, marked with
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
from pathlib import Path

from mkdocs.utils import get_relative_url
from PIL import Image

SITE_SUBDIR = "assets/notebook"
NOTEBOOK_START = '<div class="jupyter-wrapper"'
STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>\s*", re.DOTALL)
CLIPBOARD_SCRIPT = re.compile(r"<script>(?:(?!</script>).)*?clipboard.*?</script>\s*", re.DOTALL)
COPY_WIDGET = re.compile(
    r'<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>\s*', re.DOTALL
)
COPY_TEXT = re.compile(r'<div class="clipboard-copy-txt"[^>]*>.*?</div>\s*', re.DOTALL)
HIGHLIGHTED_CELL = re.compile(
    r'(?P<open><div class="highlight-ipynb(?: hl-(?P<language>[\w+-]+))?">\s*<pre>)'
    r"(?P<code>.*?)</pre>",
    re.DOTALL,
)
SPAN_TAG = re.compile(r"</?span\b[^>]*>")
# Cell collapsers are JupyterLab controls; the notebook stylesheet hides them on the site.
COLLAPSER = re.compile(r'<div class="jp-Collapser[^"]*">\s*</div>\s*')
PRE_BLOCK = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)
INDENTATION = re.compile(r"\n[ \t]+<")


def notebook_header(html: str) -> tuple[int, int]:
    """Start and end of what the notebook export puts before its cells (styles, scripts)."""
    article = html.find('<article class="md-content__inner')
    notebook = html.find(NOTEBOOK_START, article)
    if article < 0 or notebook < 0:
        return -1, -1
    return article, notebook


def write_stylesheet(css: str, site_dir: str) -> str:
    """Write the stylesheet under a name made from its content; return its site path."""
    name = f"notebook.{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    path = f"{SITE_SUBDIR}/{name}"
    target = Path(site_dir) / path
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(css, encoding="utf-8")
    return path


def link_shared_stylesheet(html: str, page, site_dir: str) -> str:
    """Replace the notebook's inline ``<style>`` blocks by one link to a shared file."""
    start, end = notebook_header(html)
    styles = list(STYLE_BLOCK.finditer(html, start, end)) if start >= 0 else []
    if not styles:
        return html
    css = "\n".join(match.group(1).strip() for match in styles)
    path = write_stylesheet(css, site_dir)
    link = f'<link rel="stylesheet" href="{get_relative_url(path, page.url)}">\n'
    # Put the link where the first block was; drop the others, keep what lies between.
    pieces, position = [], 0
    for index, match in enumerate(styles):
        pieces += [html[position : match.start()], link if index == 0 else ""]
        position = match.end()
    return "".join(pieces) + html[position:]


def slim_cells(html: str) -> str:
    """Drop the notebook's copy widgets and Pygments' spans; Material equips ``pre > code``.

    Also drops what the reader never sees: the hidden cell collapsers and the
    indentation between tags.
    """
    start, end = notebook_header(html)
    if start < 0:
        return html
    header = CLIPBOARD_SCRIPT.sub("", html[start:end])
    cells = COPY_TEXT.sub("", COPY_WIDGET.sub("", html[end:]))
    cells = HIGHLIGHTED_CELL.sub(plain_code_cell, cells)
    return html[:start] + header + squeeze(COLLAPSER.sub("", cells))


def squeeze(html: str) -> str:
    """Drop the indentation between tags, except inside ``<pre>`` where it is content."""
    pieces = PRE_BLOCK.split(html)  # odd indices: the <pre> blocks
    return "".join(
        piece if index % 2 else INDENTATION.sub("\n<", piece) for index, piece in enumerate(pieces)
    )


def plain_code_cell(match: re.Match) -> str:
    """A Pygments-highlighted cell as ``<pre><code class="language-...">`` with plain text."""
    code = SPAN_TAG.sub("", match["code"])
    if "<" in code:  # not just Pygments' spans: leave the cell alone
        return match[0]
    language = f' class="language-{match["language"]}"' if match["language"] else ""
    return f"{match['open']}<code{language}>{code}</code></pre>"


EMBEDDED_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')


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


def compress_embedded_figures(html: str, cache_dir: Path) -> str:
    def recode(match: re.Match) -> str:
        png = cached_palette_png(base64.b64decode(match.group(1)), cache_dir)
        return f'src="data:image/png;base64,{base64.b64encode(png).decode()}"'

    return EMBEDDED_PNG.sub(recode, html)


def on_post_page(output, page, config):
    output = link_shared_stylesheet(output, page, config.site_dir)
    cache_dir = Path(config.config_file_path).parent / ".cache" / "palette-png"
    output = compress_embedded_figures(output, cache_dir)
    return slim_cells(output)
