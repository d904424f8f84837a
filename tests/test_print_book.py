"""The printable book: the whole book on one page (``print_page/``) and the PDF printed
from it. Unit tests of its pieces on small inputs, then the built page and the PDF
(opened with PDFium: its page count, and pages with ink, text and figures)."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
from bs4 import BeautifulSoup

from book_site import print_book

DOCS = Path(__file__).resolve().parents[1] / "docs"
CHAPTERS = sorted((DOCS / "chapters").glob("[0-9][0-9]_*.py"))


def test_sections_are_found_by_the_print_plugins_ids():
    assert print_book.section_id("chapters/03_score_matching/") == "chapters-03_score_matching"
    assert print_book.section_id("") == "index"
    assert print_book.section_id("notation/") == "notation"


def test_solutions_are_opened_or_left_out():
    html = (
        '<section><details class="success ebm-solution"><summary>Solution</summary>x</details>'
        '<details class="note"><summary>Question</summary>y</details></section>'
    )
    opened = BeautifulSoup(html, "html.parser")
    print_book._finish_solutions(opened, "open")
    assert opened.select_one("details.ebm-solution").has_attr("open")
    assert not opened.select_one("details.note").has_attr("open")
    omitted = BeautifulSoup(html, "html.parser")
    print_book._finish_solutions(omitted, "omit")
    assert omitted.select("details.ebm-solution") == [] and omitted.select("details.note")


def test_verdicts_print_with_text_marks():
    section = BeautifulSoup(
        '<div class="jp-OutputArea"><pre>✅ Correct! ❌ Not yet ⏳</pre></div><p>✅ kept</p>',
        "html.parser",
    )
    print_book._printable_marks(section)
    assert section.pre.get_text() == "✓ Correct! ✗ Not yet …"
    assert section.p.get_text() == "✅ kept"


def test_the_contents_list_every_page_and_a_chapters_sections():
    html = (
        '<div id="print-site-page"><section id="print-site-cover-page"><h1>Book</h1></section>'
        '<section class="print-page" id="index"><h1 id="index-home">Home</h1><h2 id="x">Not listed</h2></section>'
        '<section class="print-page md-section" id="section-2"><h1>Chapters</h1>'
        '<section class="print-page" id="chapters-01"><div class="jupyter-wrapper">'
        '<h1 id="chapters-01-title">1. Energies<a class="headerlink" href="#t">¶</a></h1>'
        '<h2 id="chapters-01-1">1.1 <span class="arithmatex">\\(Z\\)</span></h2>'
        "<h2>no anchor</h2></div></section></section></div>"
    )
    document = BeautifulSoup(html, "html.parser")
    print_book._add_contents(document)
    contents = document.select_one(".ebm-print-contents")
    assert contents.find_previous_sibling("section")["id"] == "print-site-cover-page"
    links = [(a.get_text(), a["href"]) for a in contents.find_all("a")]
    assert links == [
        ("Home", "#index"),
        ("1. Energies", "#chapters-01"),
        ("1.1 \\(Z\\)", "#chapters-01-1"),
    ]
    assert contents.select(".arithmatex"), "math in a heading stays math, for MathJax"


def test_groups_whose_pages_were_all_left_out_go_with_their_contents_entries():
    html = (
        '<div class="md-sidebar--secondary"><ul><li><a href="#section-2">API</a><ul>'
        '<li><a href="#section-2-1">Group</a></li></ul></li><li><a href="#notation">N</a></li>'
        "</ul></div>"
        '<div id="print-site-page"><section class="print-page" id="notation"><h1>N</h1></section>'
        '<section class="print-page md-section" id="section-2"><h1>API</h1>'
        '<section class="print-page md-section" id="section-2-1"><h1>Group</h1></section>'
        "</section></div>"
    )
    document = BeautifulSoup(html, "html.parser")
    print_book._drop_empty_groups(document)
    assert [s["id"] for s in document.select("section")] == ["notation"]
    assert [a.get_text() for a in document.select("a")] == ["N"]


def test_a_chapters_stylesheet_leaves_its_section_and_the_notebooks_styles_stay():
    html = (
        "<section><style>a { color: red }</style><style>b {}</style>"
        '<div class="jupyter-wrapper"><style>c {}</style></div></section>'
    )
    section = BeautifulSoup(html, "html.parser")
    assert print_book._notebook_stylesheet(section) == "a { color: red }\nb {}"
    assert [s.get_text() for s in section.find_all("style")] == ["c {}"]


def test_the_pdf_key_follows_the_page_and_what_it_loads(tmp_path):
    (tmp_path / "print_page").mkdir()
    page = tmp_path / "print_page" / "index.html"
    (tmp_path / "extra.css").write_text("p { margin: 0 }")
    page.write_text('<link rel="stylesheet" href="../extra.css"><p>book</p>')
    first = print_book.pdf_key(tmp_path, page)
    assert print_book.pdf_key(tmp_path, page) == first
    (tmp_path / "extra.css").write_text("p { margin: 1em }")
    assert print_book.pdf_key(tmp_path, page) != first
    page.write_text('<link rel="stylesheet" href="../extra.css"><p>a book</p>')
    assert len({first, print_book.pdf_key(tmp_path, page)}) == 2


def test_the_pdf_is_printed_by_builds_not_by_serve_unless_asked(monkeypatch):
    monkeypatch.delenv("EBM_BOOK_PDF", raising=False)
    assert print_book.pdf_wanted("build") and print_book.pdf_wanted("gh-deploy")
    assert not print_book.pdf_wanted("serve")
    monkeypatch.setenv("EBM_BOOK_PDF", "1")
    assert print_book.pdf_wanted("serve")
    monkeypatch.setenv("EBM_BOOK_PDF", "0")
    assert not print_book.pdf_wanted("build")


def test_a_cached_pdf_is_copied_without_a_browser(tmp_path, monkeypatch):
    (tmp_path / "print_page").mkdir()
    page = tmp_path / "print_page" / "index.html"
    page.write_text("<p>book</p>")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{print_book.pdf_key(tmp_path, page)}.pdf").write_bytes(b"%PDF-cached")
    monkeypatch.setattr(print_book, "find_chromium", lambda: pytest.fail("no browser needed"))
    made = print_book.print_pdf(tmp_path, page, cache)
    assert made == tmp_path / print_book.PDF_NAME and made.read_bytes() == b"%PDF-cached"


# The built book (slow: these share the one strict build of the test session).


@pytest.fixture(scope="module")
def print_page(built_site) -> BeautifulSoup:
    html = (built_site.site_dir / "print_page" / "index.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser")


@pytest.mark.slow
def test_the_print_page_holds_every_chapter_in_order(print_page):
    titles = [
        jupytext.read(chapter).cells[0].source.splitlines()[0].lstrip("# ").strip()
        for chapter in CHAPTERS
    ]
    headings = [h.get_text(" ", strip=True).rstrip("¶").strip() for h in print_page.find_all("h1")]
    positions = [next(i for i, h in enumerate(headings) if h.startswith(t)) for t in titles]
    assert positions == sorted(positions), headings
    for chapter in CHAPTERS:
        section = print_page.find(id=print_book.section_id(f"chapters/{chapter.stem}/"))
        assert section is not None and section.select_one(".jupyter-wrapper"), chapter.name


@pytest.mark.slow
def test_the_print_page_is_finished_like_the_chapter_pages(built_site, print_page):
    figures = print_page.select(".jupyter-wrapper img")
    assert len(figures) >= 5 * len(CHAPTERS)
    assert all(img.get("alt") and "No description" not in img["alt"] for img in figures)
    assert not [s for s in print_page.find_all("style") if len(s.get_text()) > 10_000]
    for link in print_page.find_all("link", rel="stylesheet"):
        href = link["href"].split("?")[0]
        if not href.startswith("http"):
            assert (built_site.site_dir / "print_page" / href).resolve().is_file(), href
    assert not print_page.select(".ebm-notebook-links"), "Colab buttons on paper"
    solutions = print_page.select("details.ebm-solution")
    assert solutions and all(box.has_attr("open") for box in solutions)
    assert "&amp;lt;" not in str(print_page.select(".arithmatex"))
    assert not print_page.select(".api"), "the API reference is not printed"


@pytest.mark.slow
def test_the_home_page_links_the_print_page_and_the_pdf(built_site):
    home = BeautifulSoup((built_site.site_dir / "index.html").read_text(), "html.parser")
    targets = {a.get("href") for a in home.find_all("a")}
    assert "print_page/" in targets and print_book.PDF_NAME in targets


@pytest.fixture(scope="module")
def pdf(built_site):
    pdfium = pytest.importorskip("pypdfium2")
    path = built_site.site_dir / print_book.PDF_NAME
    assert path.is_file(), "the build made no PDF"
    document = pdfium.PdfDocument(str(path))
    yield document
    document.close()


def page_text(pdf, index: int) -> str:
    return pdf[index].get_textpage().get_text_range()


def ink(pdf, index: int) -> float:
    """The share of a page's pixels that are not white."""
    image = pdf[index].render(scale=0.5).to_pil().convert("L")
    histogram = image.histogram()
    return 1 - sum(histogram[245:]) / sum(histogram)


@pytest.mark.slow
def test_the_pdf_has_every_chapter_on_pages_with_ink_text_and_figures(pdf):
    pdfium_c = pytest.importorskip("pypdfium2.raw")
    pages = len(pdf)
    assert pages > 20 * len(CHAPTERS), f"only {pages} pages"
    text = [page_text(pdf, i) for i in range(pages)]
    for chapter in CHAPTERS:
        title = jupytext.read(chapter).cells[0].source.splitlines()[0].lstrip("# ").strip()
        words = re.sub(r"\s+", " ", title)[:30]
        assert any(words in re.sub(r"\s+", " ", t) for t in text), f"{title!r} not in the PDF"
    with_figures = [
        i
        for i in range(pages)
        if list(pdf[i].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3))
    ]
    assert len(with_figures) >= 5 * len(CHAPTERS)
    for i in (1, pages // 3, with_figures[len(with_figures) // 2], 2 * pages // 3):
        assert ink(pdf, i) > 0.01, f"page {i + 1} is blank"
        assert len(text[i].split()) > 20 or i in with_figures, f"page {i + 1} has no text"


@pytest.mark.slow
def test_the_pdf_typesets_the_math(pdf):
    """No page shows raw TeX: MathJax finished before the page was printed."""
    raw = re.compile(r"\\(frac|nabla|mathbb|sigma|theta)\b")
    for i in range(len(pdf)):
        text = page_text(pdf, i)
        # Code cells may spell TeX inside Python strings; prose must not.
        prose = "\n".join(line for line in text.splitlines() if '"' not in line and "$" not in line)
        assert not raw.search(prose), f"page {i + 1}: {raw.search(prose).group(0)}"
