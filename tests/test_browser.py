"""A real headless browser reads every page of the built site.

On every page, in light and in dark mode: all math is typeset by the site's own
MathJax and actually draws glyphs (checked on screenshot pixels, not just on the
DOM), no raw TeX is left, MathJax reports no errors, every image loads, every
notebook code cell is coloured, the console stays clean, no request fails and
none leaves 127.0.0.1. The math and code checks run again after Material's
instant navigation. Also: the light/dark toggle and
search.

Screenshots of every page land in build/screenshots/ for people to look at: whole pages,
or only their first screen with ``EBM_BOOK_FULL_SCREENSHOTS=0`` (CI, where nobody looks
at them and a whole chapter takes three seconds to capture).

Needs Chromium at /usr/bin/chromium (``apt-get install chromium``), or at the path in
the environment variable EBM_BOOK_CHROMIUM. Without it
these tests are skipped, unless EBM_BOOK_REQUIRE_BROWSER=1, then they fail.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import pytest
from PIL import Image

CHROMIUM = Path(os.environ.get("EBM_BOOK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
FULL_SCREENSHOTS = os.environ.get("EBM_BOOK_FULL_SCREENSHOTS", "1") != "0"
VIEWPORT = {"width": 1400, "height": 1000}  # wide enough for both sidebars
SCHEMES = {"light": "default", "dark": "slate"}  # browser preference -> Material scheme
MATH_TIMEOUT_MS = 30_000
MIN_INK_PIXELS = 8  # a typeset symbol draws far more; a blank equation draws none
INK_CONTRAST = 60  # grey levels between a glyph pixel and the background

# Chapters that mention a term must be found by searching for it.
SEARCH_TERMS = ["partition function", "Langevin"]


# --- browser, pages and what they report --------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("EBM_BOOK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and EBM_BOOK_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """Console errors, failed requests and requests to other hosts seen by one page."""

    def __init__(self, page):
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.external_requests: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("requestfailed", lambda r: self.failed_requests.append(f"{r.url} {r.failure}"))
        page.on("response", self._on_response)
        page.route("**/*", self._only_local)

    def _on_console(self, message):
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_response(self, response):
        if response.status >= 400:
            self.failed_requests.append(f"{response.url} HTTP {response.status}")

    def _only_local(self, route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.external_requests.append(route.request.url)
            route.abort()

    def assert_none(self):
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.failed_requests, f"failed requests: {self.failed_requests}"
        assert not self.external_requests, f"requests to other hosts: {self.external_requests}"


@pytest.fixture
def tab(browser, scheme):
    """A fresh browser tab (own storage) preferring the light or dark colour scheme."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
    page = context.new_page()
    page.problems = PageProblems(page)
    yield page
    context.close()


# --- checks --------------------------------------------------------------------


def wait_until_math_typeset(page, timeout_ms: int = MATH_TIMEOUT_MS):
    """Wait until every arithmatex element holds MathJax output and no navigation label
    (``md-ellipsis``, which MathJax also typesets) still shows TeX (or time out)."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('.arithmatex')]
                     .every(math => math.querySelector('mjx-container'))
                 && ![...document.querySelectorAll('.md-ellipsis')]
                     .some(label => label.textContent.includes('\\\\('))""",
        timeout=timeout_ms,
    )


def open_all_details(page):
    """Open collapsed blocks (solutions), so the math inside them is checked too."""
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


def assert_no_math_errors(page):
    errors = page.evaluate(
        """() => [...document.querySelectorAll(
                 'mjx-merror, merror, [data-mml-node="merror"], [data-mjx-error]')]
               .map(e => e.getAttribute('data-mjx-error') || e.textContent)"""
    )
    assert not errors, f"MathJax errors: {errors}"


RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac|\\mathbb")


def assert_no_raw_tex(page):
    """No TeX delimiters or commands left in visible text outside code and outputs."""
    texts = page.evaluate(
        """() => {
            const skip = 'pre, code, script, style, textarea, mjx-container, '
                       + '.jp-InputArea, .jp-OutputArea, .md-search, [hidden]';
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            const found = [];
            while (walker.nextNode()) {
                const node = walker.currentNode;
                if (!node.parentElement.closest(skip)) found.push(node.textContent);
            }
            return found;
        }"""
    )
    leftovers = [text.strip()[:120] for text in texts if RAW_TEX.search(text)]
    assert not leftovers, f"raw TeX in the page: {leftovers}"


def assert_images_loaded(page):
    broken = page.evaluate(
        """async () => {
            const images = [...document.images];
            await Promise.all(images.map(img => img.complete ? null :
                new Promise(done => { img.onload = img.onerror = done; })));
            return images.filter(img => img.naturalWidth === 0)
                         .map(img => img.currentSrc.slice(0, 100) || img.outerHTML.slice(0, 100));
        }"""
    )
    assert not broken, f"images that did not load: {broken}"


def ink_pixels(image: Image.Image) -> int:
    """Pixels that differ clearly from the crop's background (its most common grey)."""
    grey = image.convert("L")
    histogram = grey.histogram()
    background = max(range(256), key=histogram.__getitem__)
    return sum(
        count for level, count in enumerate(histogram) if abs(level - background) >= INK_CONTRAST
    )


MATH_BOXES = """() => [...document.querySelectorAll('mjx-container')].map((math, index) => {
    const box = (math.querySelector('svg') || math).getBoundingClientRect();
    return {index, top: box.top, left: box.left, width: box.width, height: box.height,
            pageTop: box.top + window.scrollY,
            // Not displayed by the stylesheet (e.g. the mobile-only copy of the
            // table of contents): not on screen at any scroll position.
            shown: math.checkVisibility()};
})"""

BRING_INTO_VIEW = """index => {
    const math = document.querySelectorAll('mjx-container')[index];
    // Also scrolls a wide table or a sidebar that holds the equation.
    math.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
    const box = (math.querySelector('svg') || math).getBoundingClientRect();
    return {x: box.left, y: box.top, width: box.width, height: box.height,
            shown: math.checkVisibility()};
}"""


def scroll_to(page, top: float):
    page.evaluate(f"window.scrollTo({{top: {top}, behavior: 'instant'}})")
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def has_ink(image: Image.Image) -> bool:
    return ink_pixels(image) >= MIN_INK_PIXELS


class MathChanged(Exception):
    """Equations appeared or disappeared while the page was being checked."""


def equations_without_ink_by_viewport(page, boxes, total: int) -> list[int]:
    """Fast pass: one screenshot per viewport, each equation cropped from it.

    Boxes are measured again after every scroll, as sticky sidebars move.
    ``total`` is the number of equations when ``boxes`` were measured.
    """
    height = VIEWPORT["height"]
    pending = sorted(boxes, key=lambda box: box["pageTop"])
    without_ink = []
    while pending:
        scroll_to(page, max(pending[0]["pageTop"] - 10, 0))
        now = page.evaluate(MATH_BOXES)
        if len(now) != total:
            raise MathChanged(f"{total} equations, then {len(now)}")
        shot = Image.open(io.BytesIO(page.screenshot()))
        done = {pending[0]["index"]}  # even if taller than the viewport
        for box in (now[b["index"]] for b in pending):
            if box["top"] < 0 or box["top"] + box["height"] > height:
                if box["index"] not in done:
                    continue
            done.add(box["index"])
            right, bottom = box["left"] + box["width"], box["top"] + box["height"]
            if not has_ink(shot.crop((box["left"], box["top"], right, bottom))):
                without_ink.append(box["index"])
        pending = [box for box in pending if box["index"] not in done]
    return without_ink


def blank_equations(page) -> list[str]:
    """Displayed equations whose pixels on screen show no glyphs.

    A fast pass crops every equation from viewport screenshots. An equation
    without ink there may just be scrolled out of a wide table, so it is checked
    again on its own: scrolled into view, its box screenshotted. Material's
    header and back-to-top button are hidden so they cannot cover an equation.
    """
    page.add_style_tag(content=".md-header, .md-top, .md-tabs { visibility: hidden !important; }")
    for attempt in range(3):
        # After an instant navigation, Material can still be swapping sidebars and
        # MathJax typesetting their labels; measure again once the page has settled.
        wait_until_math_typeset(page)
        every_box = page.evaluate(MATH_BOXES)
        boxes = [box for box in every_box if box["shown"]]
        try:
            without_ink = equations_without_ink_by_viewport(page, boxes, len(every_box))
            break
        except MathChanged:
            if attempt == 2:
                raise
            page.wait_for_timeout(500)
    blank = []
    for index in without_ink:
        box = page.evaluate(BRING_INTO_VIEW, index)
        if not box.pop("shown"):
            continue  # hidden by the layout since the fast pass (e.g. a sidebar settled)
        if box["width"] < 1 or box["height"] < 1:
            blank.append(f"equation #{index}: empty box")
            continue
        crop = Image.open(io.BytesIO(page.screenshot(clip=box)))
        if not has_ink(crop):
            blank.append(f"equation #{index}: no glyphs drawn (see blank-equation-{index}.png)")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            crop.save(SCREENSHOTS / f"blank-equation-{index}.png")
    return blank


def assert_math_visible(page):
    wait_until_math_typeset(page)
    open_all_details(page)
    assert_no_math_errors(page)
    blank = blank_equations(page)
    assert not blank, f"math that draws nothing on screen: {blank}"


def assert_code_coloured(page):
    """Prism has coloured every notebook code cell, in colours that differ from plain text."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jupyter-wrapper pre > code')]
                 .every(code => code.querySelector('.token'))""",
        timeout=MATH_TIMEOUT_MS,
    )
    colours = page.evaluate(
        """() => [...document.querySelectorAll('.jupyter-wrapper pre > code')].map(code => {
            const colour = element => element && getComputedStyle(element).color;
            return {text: colour(code), keyword: colour(code.querySelector('.token.keyword')),
                    string: colour(code.querySelector('.token.string'))};
        })"""
    )
    for cell in colours:
        for kind in ("keyword", "string"):
            assert cell[kind] is None or cell[kind] != cell["text"], f"{kind} not coloured: {cell}"


def screenshot_name(page_path: str, scheme: str) -> Path:
    slug = page_path.strip("/").replace("/", "-") or "home"
    return SCREENSHOTS / f"{slug}-{scheme}.png"


# --- tests ---------------------------------------------------------------------


def test_page_renders(tab, site_url, page_path, scheme):
    tab.goto(site_url + page_path, wait_until="load")
    assert tab.evaluate("document.body.dataset.mdColorScheme") == SCHEMES[scheme]
    wait_until_math_typeset(tab)
    assert_code_coloured(tab)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=screenshot_name(page_path, scheme), full_page=FULL_SCREENSHOTS)
    assert_images_loaded(tab)
    assert_no_raw_tex(tab)
    assert_math_visible(tab)
    code_blocks = tab.locator(".jupyter-wrapper pre > code").count()
    copy_buttons = tab.locator(".jupyter-wrapper pre button[data-md-type=copy]").count()
    assert copy_buttons == code_blocks, "every notebook code cell gets Material's copy button"
    tab.problems.assert_none()


def test_math_after_instant_navigation(tab, site_url, page_path, nav_page_paths):
    """Arrive at the page by clicking its nav link on another page, without a reload.

    The start is the page before it in the navigation (the one after, for the
    first), whose sidebar lists the target even where collapsed groups are pruned.
    """
    position = nav_page_paths.index(page_path)
    start = nav_page_paths[position - 1 if position > 0 else 1]
    tab.goto(site_url + start, wait_until="load")
    wait_until_math_typeset(tab)
    tab.evaluate("window.notReloaded = true")
    target = site_url + page_path
    link = tab.locator(".md-sidebar--primary a.md-nav__link")
    hrefs = link.evaluate_all("links => links.map(a => a.href)")
    assert target in hrefs, f"no nav link to {target} on {start or 'home'}: {hrefs}"
    link.nth(hrefs.index(target)).click()
    tab.wait_for_url(target)
    assert tab.evaluate("window.notReloaded === true"), "the click reloaded the page"
    assert_images_loaded(tab)
    assert_code_coloured(tab)
    assert_math_visible(tab)
    tab.problems.assert_none()


@pytest.mark.parametrize("scheme", ["light"])  # printed on white paper
def test_the_whole_book_renders_on_one_page(tab, site_url, scheme):
    """The print page: every formula of the book typeset, every figure loaded, no raw
    TeX, nothing fetched from elsewhere; the contents link to the chapters."""
    tab.goto(site_url + "print_page/", wait_until="load")
    wait_until_math_typeset(tab, timeout_ms=6 * MATH_TIMEOUT_MS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SCREENSHOTS / "print_page-light.png")
    assert_images_loaded(tab)
    assert_no_raw_tex(tab)
    assert_math_visible(tab)
    targets = tab.eval_on_selector_all(
        ".ebm-print-contents a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert len(targets) > 20
    missing = tab.evaluate(
        """targets => targets.filter(t => !document.getElementById(
               decodeURIComponent(new URL(t, location.href).hash.slice(1))))""",
        targets,
    )
    assert not missing, f"contents entries without a target: {missing[:5]}"
    tab.problems.assert_none()


def test_colour_scheme_toggle(tab, site_url, scheme):
    tab.goto(site_url, wait_until="load")
    before = tab.evaluate("document.body.dataset.mdColorScheme")
    tab.locator("form[data-md-component=palette] label:visible").first.click()
    after = tab.evaluate("document.body.dataset.mdColorScheme")
    assert {before, after} == {"default", "slate"}


def chapters_mentioning(term: str) -> list[str]:
    """Page paths of the chapters whose Markdown cells contain ``term``."""
    paths = []
    for chapter in sorted((REPO_ROOT / "docs" / "chapters").glob("*.py")):
        notebook = jupytext.read(chapter)
        prose = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        if term.lower() in prose.lower():
            paths.append(f"chapters/{chapter.stem}/")
    return paths


@pytest.mark.parametrize("term", SEARCH_TERMS)
@pytest.mark.parametrize("scheme", ["light"])
def test_search_finds_chapter(tab, site_url, term):
    expected = chapters_mentioning(term)
    if not expected:
        pytest.skip(f"no chapter mentions {term!r} yet")
    tab.goto(site_url, wait_until="load")
    tab.locator(".md-search__input").click()
    tab.locator(".md-search__input").press_sequentially(term, delay=20)
    results = tab.locator(".md-search-result__link")
    results.first.wait_for(timeout=15_000)
    found = {urlsplit(href).path for href in results.evaluate_all("a => a.map(l => l.href)")}
    assert any(f"/{path}" in found for path in expected), f"{term!r}: {sorted(found)}"
    tab.problems.assert_none()


CHAPTER_STEMS = [c.stem for c in sorted((REPO_ROOT / "docs" / "chapters").glob("*.py"))]


@pytest.mark.parametrize("chapter", CHAPTER_STEMS)
@pytest.mark.parametrize("scheme", ["light"])
def test_colab_badge_and_notebook_download(tab, site_url, chapter, tmp_path):
    """The buttons under the title: Colab opens the published notebook; the download is a notebook."""
    import json

    import nbformat
    import yaml

    repository = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["extra"][
        "repository"
    ]
    tab.goto(f"{site_url}chapters/{chapter}/", wait_until="load")
    colab = tab.locator("a.ebm-colab")
    assert colab.is_visible()
    assert colab.get_attribute("href") == (
        f"https://colab.research.google.com/github/{repository}/blob/gh-pages/notebooks/{chapter}.ipynb"
    )
    with tab.expect_download() as download_info:
        tab.locator("a.ebm-download").click()
    download = download_info.value
    assert download.suggested_filename == f"{chapter}.ipynb"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    text = path.read_text(encoding="utf-8")
    json.loads(text)
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    jupytext.reads(text, fmt="ipynb")
    tab.problems.assert_none()


def open_figure(page) -> tuple[str, str]:
    """Click the page's first figure; return its description and the lightbox's."""
    figure = page.locator(".jupyter-wrapper .jp-OutputArea-output img").first
    figure.scroll_into_view_if_needed()
    figure.click()
    page.wait_for_selector(".glightbox-container .gslide-image img", timeout=10_000)
    shown = page.evaluate(
        """() => {
            const image = document.querySelector('.glightbox-container .gslide-image img');
            const text = document.querySelector('.glightbox-container .gslide-desc');
            return {src: image.src, width: image.naturalWidth, text: text ? text.textContent : ''};
        }"""
    )
    assert shown["src"] == figure.get_attribute("src") and shown["width"] > 100
    return figure.get_attribute("alt"), shown["text"].strip()


def test_figures_enlarge_on_click_with_their_description(tab, site_url, scheme):
    tab.goto(site_url + "chapters/02_score_and_langevin/", wait_until="load")
    alt, description = open_figure(tab)
    assert alt and description == alt
    tab.keyboard.press("Escape")
    tab.wait_for_selector(".glightbox-container", state="detached", timeout=10_000)
    tab.problems.assert_none()


@pytest.mark.parametrize("scheme", ["light"])
def test_figures_enlarge_after_instant_navigation(tab, site_url, scheme):
    tab.goto(site_url, wait_until="load")
    tab.evaluate("window.notReloaded = true")
    target = site_url + "chapters/01_energy_functions/"
    tab.locator(
        '.md-sidebar--primary a.md-nav__link[href$="chapters/01_energy_functions/"]'
    ).first.click()
    tab.wait_for_url(target)
    alt, description = open_figure(tab)
    assert tab.evaluate("window.notReloaded === true") and description == alt


@pytest.mark.parametrize("scheme", ["dark"])
def test_figures_sit_on_a_light_dimmed_card_in_dark_mode(tab, site_url, scheme):
    tab.goto(site_url + "chapters/01_energy_functions/", wait_until="load")
    style = tab.locator(".jupyter-wrapper .jp-OutputArea-output img").first.evaluate(
        "img => { const s = getComputedStyle(img); return [s.backgroundColor, s.filter]; }"
    )
    assert style == ["rgb(255, 255, 255)", "brightness(0.88)"]
