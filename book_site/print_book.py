"""The whole book as one page to print, and as a PDF printed from it.

mkdocs-print-site-plugin gathers the pages of the navigation (the API reference and
the provenance page left out) into ``print_page/``. It collects each page's content
before MkDocs' last step, so the chapters arrive in it without what this plugin does
to a chapter page at that step: their math still double-escaped, their figures
undescribed, their notebook stylesheet inlined once per chapter. `finish_print_page`
applies the same steps to each chapter of the print page, drops the Colab buttons,
and opens (or removes) the solutions.

`print_pdf` then prints that page with the headless Chromium the browser tests use
(Playwright; its path in ``EBM_BOOK_CHROMIUM``, else the first ``chromium`` or
``google-chrome`` on the path), after MathJax has typeset every formula, to
``energy-based-models-and-the-score-function.pdf`` at the site's root. The PDF is
cached, keyed on the page and everything it loads, so a rebuild that changes nothing
prints nothing. ``EBM_BOOK_PDF=0`` skips the PDF (a build without a Chromium warns, and
so fails when strict, since the home page links to it); ``mkdocs serve``, which rebuilds
on every edit, skips it unless ``EBM_BOOK_PDF=1``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import jupytext
from bs4 import BeautifulSoup, SoupStrainer, Tag

from . import figures, mathjax, page_weight
from .finished_pages import build_code_digest
from .markup import NOTEBOOK_CLASS, notebook_of, parse

log = logging.getLogger("mkdocs.plugins.ebm-book.print")

PRINT_PAGE = Path("print_page") / "index.html"
PDF_NAME = "energy-based-models-and-the-score-function.pdf"
NOTEBOOK_STYLESHEET_MIN_CHARS = 10_000  # the notebook CSS, not a small style block
# The graders' verdicts are colour emoji, which a headless browser prints as empty boxes
# unless an emoji font is installed: on paper they become the plain marks of a text font.
PRINTABLE_MARKS = {"✅": "✓", "❌": "✗", "⏳": "…"}
TYPESET_TIMEOUT_MS = 240_000


def section_id(page_url: str) -> str:
    """The id mkdocs-print-site-plugin gives a page's section (``chapters/x/`` -> ``chapters-x``)."""
    key = page_url.lower().strip().rstrip("/").replace(".html", "").replace("/", "-").lstrip("-")
    return key or "index"


def finish_print_page(config, chapters: list, solutions: str) -> Path | None:
    """Give each chapter of the print page its chapter page's finish; return the page's path.

    ``chapters`` are the chapters' MkDocs files, in the order of the navigation;
    ``solutions`` is ``"open"`` (printed, expanded) or ``"omit"``. Returns ``None`` when
    the print page was not built (the print-site plugin disabled). The finished page is
    cached, keyed on the page as the print-site plugin wrote it and on the code that
    finishes it.
    """
    path = Path(config.site_dir) / PRINT_PAGE
    if not path.exists():
        return None
    raw = path.read_text(encoding="utf-8")
    key = hashlib.sha256(f"{solutions}\n{build_code_digest()}\n{raw}".encode()).hexdigest()[:24]
    cached = Path(config.config_file_path).parent / ".cache" / "print-page" / f"{key}.html"
    if cached.exists():  # its shared stylesheets are the chapter pages' own
        shutil.copyfile(cached, path)
        return path
    document = parse(mathjax.remove_plugin_loader(raw, config))
    stylesheets: list[str] = []
    for chapter in chapters:
        section = document.find(id=section_id(chapter.url))
        notebook = notebook_of(section) if isinstance(section, Tag) else None
        if notebook is None or not isinstance(section, Tag):
            log.warning("the print page has no chapter %s", chapter.src_uri)
            continue
        stylesheets.append(_notebook_stylesheet(section))
        mathjax.unescape_math(notebook)
        code = [
            cell for cell in jupytext.read(chapter.abs_src_path).cells if cell.cell_type == "code"
        ]
        figures.describe_figures(section, code, chapter.src_uri)
        _finish_solutions(section, solutions)
        for buttons in section.select(".ebm-notebook-links"):
            buttons.decompose()
        page_weight.drop_clipboard_scripts(section.find_all("script"))
        # Code cells arrive plain, without copy widgets: the chapter's content was slimmed
        # (plugin.on_page_content) before the print-site plugin collected it.
    for css in dict.fromkeys(css for css in stylesheets if css):  # each shared sheet once
        shared = page_weight.write_stylesheet(css, config.site_dir)
        link = document.new_tag("link", rel="stylesheet", href=f"../{shared}")
        document.head.append(link)  # type: ignore[union-attr]
    _drop_empty_groups(document)
    _add_contents(document)
    _printable_marks(document)
    first = document.find("div", class_=NOTEBOOK_CLASS)
    if first is not None:
        page_weight.squeeze(first)  # once, from the first chapter to the end
    palette_cache = Path(config.config_file_path).parent / ".cache" / "palette-png"
    page_weight.compress_embedded_figures(document, palette_cache)
    path.write_text(str(document), encoding="utf-8")
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, cached)
    return path


def _notebook_stylesheet(section) -> str:
    """Remove a chapter's inline notebook stylesheet (the ``<style>`` blocks before its
    notebook, as on its own page) from its section; return the CSS."""
    styles = [
        style
        for style in section.find_all("style")
        if style.find_parent("div", class_=NOTEBOOK_CLASS) is None
    ]
    css = "\n".join(style.get_text().strip() for style in styles)
    for style in styles:
        style.decompose()
    return css


def _drop_empty_groups(document: BeautifulSoup) -> None:
    """Remove the navigation groups whose pages were all left out (the API reference's),
    and their entries in the sidebar's table of contents."""
    for group in reversed(document.select("section.print-page.md-section")):
        if group.select_one("section.print-page:not(.md-section)") is None:
            group.decompose()
    for link in document.select(".md-sidebar--secondary a[href^='#']"):
        if link.decomposed:  # inside an entry removed already
            continue
        if document.find(id=str(link["href"])[1:]) is None:
            item = link.find_parent("li")
            (item or link).decompose()


def _add_contents(document: BeautifulSoup) -> None:
    """A contents list after the cover: every page's title, and a chapter's sections."""
    book = document.find(id="print-site-page")
    if book is None:
        return
    contents = document.new_tag("section", attrs={"class": "print-page ebm-print-contents"})
    title = document.new_tag("h1")
    title.string = "Contents"
    entries = document.new_tag("ul")
    contents.extend([title, entries])
    for page in book.select("section.print-page:not(.md-section)"):
        heading = page.find("h1")
        if heading is None or not heading.get("id") and not page.get("id"):
            continue
        entry = document.new_tag("li")
        anchor = str(page.get("id") or heading["id"])
        entry.append(_contents_link(document, heading, anchor))
        sections = [h for h in page.find_all("h2") if h.get("id")] if notebook_of(page) else []
        if sections:
            inner = document.new_tag("ul")
            for h2 in sections:
                item = document.new_tag("li")
                item.append(_contents_link(document, h2, str(h2["id"])))
                inner.append(item)
            entry.append(inner)
        entries.append(entry)
    cover = book.find(id="print-site-cover-page")
    if cover is not None:
        cover.insert_after(contents)
    else:
        book.insert(0, contents)


def _contents_link(document: BeautifulSoup, heading: Tag, anchor: str) -> Tag:
    """A link to ``anchor`` that reads like ``heading``, math included (MathJax typesets
    the copy as it does the heading), without the heading's permalink."""
    link = document.new_tag("a", href=f"#{anchor}")
    for child in heading.contents:
        if isinstance(child, Tag) and "headerlink" in child.get_attribute_list("class"):
            continue
        link.append(copy.copy(child))
    return link


def _printable_marks(section) -> None:
    for output in section.select("pre"):
        for text in output.find_all(string=True):
            marked = text
            for emoji, mark in PRINTABLE_MARKS.items():
                marked = marked.replace(emoji, mark)
            if marked != text:
                text.replace_with(marked)


def _finish_solutions(section, solutions: str) -> None:
    for box in section.select("details.ebm-solution"):
        if solutions == "omit":
            box.decompose()
        else:
            box["open"] = ""


def pdf_wanted(command: str = "build") -> bool:
    """Whether this build prints the PDF: ``mkdocs build`` and ``gh-deploy`` do, unless
    ``EBM_BOOK_PDF=0``; ``mkdocs serve`` does not (it rebuilds on every edit), unless
    ``EBM_BOOK_PDF=1``."""
    setting = os.environ.get("EBM_BOOK_PDF")
    if setting is not None:
        return setting != "0"
    return command != "serve"


def find_chromium() -> str | None:
    """A Chromium to print with: ``EBM_BOOK_CHROMIUM``, else one on the path."""
    configured = os.environ.get("EBM_BOOK_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def pdf_key(site_dir: Path, page: Path) -> str:
    """A hash of the print page and of every local file it loads."""
    digest = hashlib.sha256(page.read_bytes())
    only_loaders = SoupStrainer(["link", "script"])  # a third of the time of a full parse
    soup = BeautifulSoup(page.read_bytes(), "html.parser", parse_only=only_loaders)
    targets = [tag.get("href") for tag in soup.find_all("link", rel="stylesheet")]
    targets += [tag.get("src") for tag in soup.find_all("script", src=True)]
    for target in sorted(str(t) for t in targets if t):
        local = (page.parent / target.split("?")[0]).resolve()
        if local.is_file() and site_dir.resolve() in local.parents:
            digest.update(target.encode() + local.read_bytes())
    return digest.hexdigest()[:24]


def print_pdf(site_dir: Path, page: Path, cache_dir: Path) -> Path | None:
    """Print ``page`` to the site's PDF (from the cache when nothing changed)."""
    target = site_dir / PDF_NAME
    cached = cache_dir / f"{pdf_key(site_dir, page)}.pdf"
    if cached.exists():
        shutil.copyfile(cached, target)
        return target
    chromium = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a docs dependency
        chromium = None
    if chromium is None:
        log.warning(
            "no headless Chromium: the book's PDF was not made (install Chromium, point "
            "EBM_BOOK_CHROMIUM at it, or set EBM_BOOK_PDF=0)"
        )
        return None
    started = time.perf_counter()
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/{page.relative_to(site_dir).parent.as_posix()}/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            tab = browser.new_page()
            tab.goto(url, wait_until="load")
            tab.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=TYPESET_TIMEOUT_MS,
            )
            tab.evaluate("() => MathJax.startup.promise")
            tab.pdf(
                path=str(target),
                format="A4",
                print_background=True,
                # The page size, margins and page numbers come from the print stylesheet.
                prefer_css_page_size=True,
            )
            browser.close()
    finally:
        server.shutdown()
    log.info("Printed the book to %s in %.1f s", PDF_NAME, time.perf_counter() - started)
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, cached)
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass
