"""The built site: every page exists, chapters executed cleanly, nothing is fetched
from third-party hosts, MathJax is served locally, solutions are hidden, pages are light.

The build itself (``mkdocs build --strict`` with a fresh notebook cache) happens
once, in the ``built_site`` fixture of conftest.py.
"""

from __future__ import annotations

import base64
import gzip
import io
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import pytest
from bs4 import BeautifulSoup
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]

LOCAL_HOSTS = {"", "127.0.0.1", "localhost"}
# What a reader downloads of a chapter page without its embedded images, compressed as a
# web server sends it (gzip). Chapters are long (their code and its solutions are content);
# the budget keeps the page's markup and chrome from growing with them.
MAX_CHAPTER_GZIP_BYTES = 45_000
MAX_API_HTML_BYTES = 150_000  # an API page, uncompressed
MAX_CHAPTER_PAGE_BYTES = 2_000_000  # the whole page, figures included
MIN_PNG_SIDE = 50  # a real figure, not a 1x1 placeholder


def html_of(built_site, page_path: str) -> str:
    return (built_site.site_dir / page_path / "index.html").read_text(encoding="utf-8")


def chapter_page_path(chapter_file: Path) -> str:
    return f"chapters/{chapter_file.stem}/"


def shown_code_cells(chapter_file: Path) -> list:
    """The chapter's code cells whose code the page shows (``prose`` cells show only text)."""
    cells = jupytext.read(chapter_file).cells
    return [c for c in cells if c.cell_type == "code" and "prose" not in c.metadata.get("tags", [])]


class ResourceCollector(HTMLParser):
    """Collects the URLs an HTML page makes the browser fetch (not plain links)."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "srcset", "poster", "data"):
            if attrs.get(name):
                self.urls.append((f"<{tag} {name}>", attrs[name]))
        if tag == "link" and attrs.get("href"):
            rel = attrs.get("rel", "")
            if rel not in ("canonical", "alternate", "prev", "next"):
                self.urls.append((f"<link rel={rel}>", attrs["href"]))
        if attrs.get("style"):
            self.inline_css.append(attrs["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.inline_css.append(data)


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


def css_urls(css: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(css)]


def third_party(url: str) -> bool:
    parts = urlsplit(url.strip())
    if parts.scheme in ("data", "blob"):
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS or url.strip().startswith("//")


def test_build_succeeded_without_warnings(built_site):
    assert (built_site.site_dir / "index.html").is_file()
    warnings = [line for line in built_site.log.splitlines() if line.startswith("WARNING")]
    assert not warnings, "\n".join(warnings)


def test_chapter_kernels_connect_encrypted_where_possible(built_site):
    """Where pyzmq and jupyter_client can encrypt a kernel's connection, the build does,
    and the kernels' "running over TCP without encryption" warning stays out of its log."""
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    config = Config()
    from book_site.execution import encrypt_kernel_channels

    encrypt_kernel_channels(config)
    if not (zmq.has("curve") and "transport_encryption" in KernelManager.class_trait_names()):
        assert "transport_encryption" not in config.KernelManager
        pytest.skip("this pyzmq or jupyter_client cannot encrypt kernel connections")
    assert KernelManager(config=config).transport_encryption == "auto"
    assert "without encryption" not in built_site.log


def test_every_nav_page_is_built(built_site, page_path):
    assert (built_site.site_dir / page_path / "index.html").is_file()


def test_every_built_page_is_in_the_nav(built_site, nav_page_paths):
    """Every page is in the navigation, except the whole book on one page (for print)."""
    built = set()
    for index in built_site.site_dir.rglob("index.html"):
        folder = index.parent.relative_to(built_site.site_dir).as_posix()
        built.add("" if folder == "." else folder + "/")
    assert built == set(nav_page_paths) | {"print_page/"}


def test_chapter_has_figures(built_site, chapter_file):
    html = html_of(built_site, chapter_page_path(chapter_file))
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', html)
    assert images, f"{chapter_file.name}: no figures in the built page"
    for data in images:
        width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
        assert min(width, height) >= MIN_PNG_SIDE, f"{chapter_file.name}: tiny figure"


def test_chapter_executed_every_cell(built_site, chapter_file):
    """Every code cell ran (numbered prompt), so the page shows this build's results."""
    html = html_of(built_site, chapter_page_path(chapter_file))
    prompts = re.findall(r'jp-InputPrompt jp-InputArea-prompt">In\s*\[([^\]]*)\]', html)
    assert len(prompts) == len(shown_code_cells(chapter_file))
    assert all(number.strip().isdigit() for number in prompts), prompts


def test_chapter_has_no_error_output(built_site, chapter_file):
    html = html_of(built_site, chapter_page_path(chapter_file))
    assert "Traceback" not in html, f"{chapter_file.name}: a traceback is rendered"
    assert "jp-OutputArea-error" not in html
    stderr_outputs = re.findall(
        r'data-mime-type="application/vnd.jupyter.stderr">(.*?)</div>', html, re.DOTALL
    )
    for text in stderr_outputs:
        assert not re.search(r"Error|Warning|Exception", text), (
            f"{chapter_file.name} prints an error or warning:\n{text[:2000]}"
        )


def test_solutions_are_hidden_until_clicked(built_site, chapter_file):
    notebook = jupytext.read(chapter_file)
    tagged = [c for c in notebook.cells if "solution" in c.metadata.get("tags", [])]
    if not tagged:
        pytest.skip(f"{chapter_file.name} has no solution cells")
    html = html_of(built_site, chapter_page_path(chapter_file))
    summaries = re.findall(
        r'<details class="success ebm-solution"><summary>Solution</summary>', html
    )
    assert len(summaries) == len(tagged)
    for cell in re.finditer(r"celltag_solution", html):
        opened = html.rfind('<details class="success ebm-solution">', 0, cell.start())
        assert opened >= 0 and "</details>" not in html[opened : cell.start()], (
            f"{chapter_file.name}: a solution cell is outside a <details>"
        )


def test_no_resources_from_third_party_hosts(built_site):
    offenders = []
    for path in built_site.site_dir.rglob("*"):
        if path.suffix == ".html":
            collector = ResourceCollector()
            collector.feed(path.read_text(encoding="utf-8"))
            urls = collector.urls + [
                ("css url()", u) for c in collector.inline_css for u in css_urls(c)
            ]
        elif path.suffix == ".css":
            urls = [("css url()", u) for u in css_urls(path.read_text(encoding="utf-8"))]
        else:
            continue
        site_path = path.relative_to(built_site.site_dir)
        offenders += [f"{site_path}: {kind} {url}" for kind, url in urls if third_party(url)]
    assert not offenders, "\n".join(offenders)


def test_no_web_font_services(built_site):
    for path in built_site.site_dir.rglob("*"):
        if path.suffix in (".html", ".css"):
            text = path.read_text(encoding="utf-8")
            assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, path


def test_mathjax_is_served_by_the_site(built_site):
    mathjax = built_site.site_dir / "assets" / "mathjax" / "tex-svg-full.js"
    assert mathjax.is_file() and mathjax.stat().st_size > 1_000_000
    html = (built_site.site_dir / "index.html").read_text(encoding="utf-8")
    config = html.index('src="javascripts/mathjax-config.js"')
    assert config < html.index('src="assets/mathjax/tex-svg-full.js"'), "config must load first"


def test_no_cdn_mathjax_loader(built_site):
    """mkdocs-jupyter's own MathJax loader (pointing at a CDN) is removed from every page."""
    for path in built_site.site_dir.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "data-mkdocs-jupyter-mathjax" not in text, path
        assert "cdn.jsdelivr" not in text and "cdnjs" not in text, path


def test_chapter_page_is_light(built_site, chapter_file):
    """The notebook CSS is one shared, cached file, not inlined into every chapter.

    The size budget counts the whole page except its embedded figures (which
    have a budget of their own, below).
    """
    html = html_of(built_site, chapter_page_path(chapter_file))
    inline_styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.DOTALL)
    assert all(len(css) < 10_000 for css in inline_styles), "large inline <style> left"
    from bs4 import BeautifulSoup

    links = BeautifulSoup(html, "html.parser").select('link[rel~="stylesheet"]')
    sheets = [str(link["href"]) for link in links if "assets/notebook/notebook." in link["href"]]
    assert len(sheets) == 1
    sheet = (built_site.site_dir / chapter_page_path(chapter_file) / sheets[0]).resolve()
    assert sheet.is_file() and ".jupyter-wrapper" in sheet.read_text(encoding="utf-8")
    without_images = re.sub(r'src="data:[^"]*"', 'src=""', html)
    size = len(gzip.compress(without_images.encode(), compresslevel=6))
    assert size < MAX_CHAPTER_GZIP_BYTES, f"{chapter_file.name}: {size} bytes of HTML, gzipped"


def test_api_pages_are_light(built_site):
    """Each module's reference page stays under 150 KB of HTML, uncompressed."""
    pages = sorted((built_site.site_dir / "api").rglob("index.html"))
    assert len(pages) > 20
    for page in pages:
        size = page.stat().st_size
        assert size < MAX_API_HTML_BYTES, f"{page.relative_to(built_site.site_dir)}: {size} bytes"


def test_every_api_page_links_to_its_module_under_its_title(built_site):
    for page in sorted((built_site.site_dir / "api").rglob("index.html")):
        html = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        title = html.select_one("article h1")
        if title is None or not title.get_text().startswith("ebm_book"):
            continue  # the reference's own index page
        source = title.find_next_sibling("p")
        assert source is not None and "ebm-source" in source.get("class", []), page
        path = source.a.get_text()
        assert (REPO_ROOT / path).exists(), f"{page}: links to {path}, which is not there"
        assert str(source.a["href"]).endswith(path)


def test_whole_chapter_page_with_figures_stays_under_2_mb(built_site, chapter_file):
    """Figures are embedded in the page; with them, a chapter must stay under 2 MB."""
    page = built_site.site_dir / chapter_page_path(chapter_file) / "index.html"
    size = page.stat().st_size
    assert size < MAX_CHAPTER_PAGE_BYTES, f"{chapter_file.name}: {size / 1e6:.2f} MB"


def test_code_cells_are_plain_code_for_the_browser_to_colour(built_site, chapter_file):
    """Each code cell is a ``pre > code`` (Material adds its copy button) holding the
    cell's source as plain text, marked as Python for Prism; no per-cell copy widget."""
    html = html_of(built_site, chapter_page_path(chapter_file))
    assert "<clipboard-copy" not in html and "clipboard-copy-txt" not in html
    assert "jp-Collapser" not in html
    code_cells = shown_code_cells(chapter_file)
    shown = re.findall(
        r'<div class="highlight-ipynb hl-python">\s*<pre><code class="language-python">'
        r"(.*?)</code></pre>",
        html,
        flags=re.DOTALL,
    )
    assert len(shown) == len(code_cells)
    for cell, code in zip(code_cells, shown):
        assert "<" not in code, "markup left inside a code cell"
        assert unescape(code).strip("\n") == cell.source.strip("\n")


def test_prose_cells_show_their_text_and_hide_their_code(built_site, chapter_file):
    """A ``prose`` cell's f-string never reaches the page; the paragraph it writes does."""
    from bs4 import BeautifulSoup

    prose = [c for c in jupytext.read(chapter_file).cells if "prose" in c.metadata.get("tags", [])]
    if not prose:
        pytest.skip(f"{chapter_file.name} has no prose cells")
    page = BeautifulSoup(html_of(built_site, chapter_page_path(chapter_file)), "html.parser")
    cells = [c for c in page.select(".celltag_prose") if c.get("id")]  # the outer wrappers
    assert len(cells) == len(prose)
    for cell in cells:
        assert not cell.select(".jp-InputArea"), "a prose cell shows its code"
        text = cell.select_one('.jp-OutputArea-output[data-mime-type="text/markdown"]')
        assert text is not None and text.get_text(strip=True), "a prose cell wrote no text"


def test_every_figure_has_its_cells_description(built_site, chapter_file):
    """Each image a code cell outputs carries the cell's ``alt`` text, never nbconvert's default."""
    html = html_of(built_site, chapter_page_path(chapter_file))
    assert "No description has been provided" not in html
    code_cells = [c for c in jupytext.read(chapter_file).cells if c.cell_type == "code"]
    descriptions = {unescape(alt) for alt in re.findall(r'<img\b[^>]*?\balt="([^"]*)"', html)}
    expected = {c.metadata["alt"] for c in code_cells if "alt" in c.metadata}
    assert descriptions == expected


def test_the_provenance_page_tells_the_truth_about_its_build(built_site):
    """Every chapter executed by this build (its cache was empty), with the time the build
    log gives it, its seeds, and the commit the site was built from."""
    import subprocess

    from bs4 import BeautifulSoup

    page = BeautifulSoup(html_of(built_site, "provenance/"), "html.parser")
    rows = {
        row.find("td").get_text(): [td.get_text() for td in row.find_all("td")]
        for row in page.select("table")[0].select("tbody tr")
    }
    logged = dict(re.findall(r"Executed chapter (\S+) in ([\d.]+) s", built_site.log))
    assert set(rows) == set(logged) and logged
    for chapter, (_, seconds, memory, seeds, where) in rows.items():
        assert where == "executed by this build"
        assert abs(float(seconds.removesuffix(" s")) - float(logged[chapter])) < 1.0
        assert float(memory.removesuffix(" MiB")) > 100  # a kernel with torch loaded
        assert seeds != "none"
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert commit and commit in page.get_text()
