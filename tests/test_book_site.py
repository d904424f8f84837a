"""The build package ``book_site``: each assumption about mkdocs-jupyter's output, checked
on a page that the installed plugin converts, then each build step on that page.

The fixture is ``tests/fixtures/tiny_chapter.py``: a chapter with a figure, plain code, a
solution, a prose cell and a figure without a description. It is built once with
mkdocs-jupyter alone, configured as in ``mkdocs.yml``, and the book's steps are applied
to its page here. After an upgrade of the plugin, the first failing test below names the
assumption that broke (and ``book_site/markup.py`` is the one file to update).
"""

from __future__ import annotations

import base64
import io
import logging
import types
from html import unescape
from pathlib import Path

import jupytext
import pytest
from bs4 import BeautifulSoup
from mini_book import build_mini_book
from mkdocs.exceptions import PluginError
from PIL import Image

from book_site import execution, figures, markup, mathjax, page_weight, solutions

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_chapter.py"


@pytest.fixture(scope="module")
def plugin_page(tmp_path_factory) -> str:
    """The fixture chapter as mkdocs-jupyter alone renders it (the whole page)."""
    root = tmp_path_factory.mktemp("tiny")
    result = build_mini_book(root, FIXTURE.read_text(encoding="utf-8"))
    assert result.returncode == 0, result.stdout + result.stderr
    return (root / "site" / "chapters" / "tiny" / "index.html").read_text(encoding="utf-8")


@pytest.fixture
def page(plugin_page) -> BeautifulSoup:
    return markup.parse(plugin_page)


@pytest.fixture(scope="module")
def source_code_cells() -> list:
    return [c for c in jupytext.read(FIXTURE).cells if c.cell_type == "code"]


# --- what the plugin writes (markup.py's assumptions) ------------------------------------


def test_the_notebook_sits_in_one_wrapper(page):
    assert markup.notebook_of(page) is not None


def test_every_code_cell_is_found_in_order(page, source_code_cells):
    cells = markup.code_cells(markup.notebook_of(page))
    assert len(cells) == len(source_code_cells) == 5


def test_cell_tags_become_classes_of_the_whole_cell(page):
    notebook = markup.notebook_of(page)
    (solution,) = markup.cells_tagged(notebook, markup.SOLUTION_TAG)
    assert "the reference solution" in solution.get_text()
    (prose,) = markup.cells_tagged(notebook, markup.PROSE_TAG)
    assert "The computed value is" in prose.get_text()
    assert "Markdown(f" not in str(prose), "the prose cell's code reached the page"


def test_figures_are_images_of_their_cell_with_nbconvert_alt(page):
    cells = markup.code_cells(markup.notebook_of(page))
    assert [len(markup.images_of(cell)) for cell in cells] == [1, 0, 0, 0, 1]
    assert markup.images_of(cells[0])[0]["alt"] == markup.NBCONVERT_ALT
    assert markup.images_of(cells[0])[0]["src"].startswith("data:image/png;base64,")


def test_code_is_highlighted_in_a_pre_with_its_language(page):
    blocks = markup.highlighted_code_blocks(markup.notebook_of(page))
    assert len(blocks) == 4  # the prose cell shows no code
    assert {language for _, language in blocks} == {"python"}
    assert "plt.plot([0, 1], [0, 1])" in blocks[0][0].get_text()


def test_copy_widgets_collapsers_styles_and_the_mathjax_loader_are_there(page):
    notebook = markup.notebook_of(page)
    assert markup.copy_widgets(notebook)
    assert markup.collapsers(notebook)
    assert [e.name for e in markup.header_of(page)].count("style") >= 1
    assert len(markup.mathjax_loaders(page)) == 1


# --- the book's steps, on that page --------------------------------------------------------


def test_figures_get_their_cells_description_and_a_missing_one_is_named(
    page, source_code_cells, caplog
):
    with caplog.at_level(logging.WARNING):
        figures.describe_figures(page, source_code_cells, "chapters/tiny.py")
    cells = markup.code_cells(markup.notebook_of(page))
    assert markup.images_of(cells[0])[0]["alt"] == "A rising line."
    assert markup.images_of(cells[4])[0]["alt"] == markup.NBCONVERT_ALT
    assert [r.getMessage() for r in caplog.records] == [
        'chapters/tiny.py: code cell 5 ("plt.plot([1, 0])") draws a figure without a'
        ' description; add alt="..." to its "# %%" line'
    ]


def test_solutions_are_wrapped_in_a_closed_details(page):
    assert solutions.wrap_solutions(page) == 1
    (details,) = page.find_all("details", class_="success")
    assert details.find("summary").get_text() == "Solution"
    assert "open" not in details.attrs
    assert markup.cells_tagged(details, markup.SOLUTION_TAG)


def test_page_weight_steps_leave_plain_code_and_one_stylesheet(page, tmp_path, source_code_cells):
    page_weight.link_shared_stylesheet(page, "chapters/tiny/", str(tmp_path))
    page_weight.slim_cells(page)
    assert not [e for e in markup.header_of(page) if e.name == "style"]
    (link,) = page.find_all("link", href=lambda h: h and "assets/notebook/notebook." in h)
    assert (tmp_path / "assets" / "notebook" / Path(link["href"]).name).exists()
    notebook = markup.notebook_of(page)
    assert not markup.copy_widgets(notebook) and not markup.collapsers(notebook)
    codes = notebook.select("div.highlight-ipynb > pre > code.language-python")
    shown = [c for c in source_code_cells if markup.PROSE_TAG not in c.metadata.get("tags", [])]
    assert [code.get_text().strip("\n") for code in codes] == [c.source.strip("\n") for c in shown]


def test_the_plugin_escapes_display_math_twice_and_the_build_repairs_it(page):
    notebook = markup.notebook_of(page)
    (display,) = [m for m in markup.math_elements(notebook) if "P(x" in m.get_text()]
    assert "&lt;" in display.get_text(), "the plugin no longer escapes math twice"
    assert mathjax.unescape_math(notebook) >= 1
    assert "P(x < 0) + P(x > 0) = 1" in display.get_text()
    assert "&lt;" not in display.get_text()


def test_the_plugin_mathjax_loader_is_removed(plugin_page):
    config = {"mathjax_version": 4, "custom_mathjax_url": ""}  # the plugin's defaults
    html = markup.without_mathjax_loader(plugin_page, config)
    assert not markup.mathjax_loaders(markup.parse(html))
    assert len(html) < len(plugin_page) and html.rstrip().endswith("</html>")


def test_a_changed_mathjax_loader_fails_the_build():
    config = {"mathjax_version": 4, "custom_mathjax_url": ""}
    page = f'<body><script {markup.MATHJAX_LOADER_ATTRIBUTE}="{{}}">other()</script></body>'
    with pytest.raises(PluginError, match="writes its MathJax loader differently"):
        markup.without_mathjax_loader(page, config)


def test_embedded_figures_are_palette_compressed(page, tmp_path):
    before = page.find("img")["src"]
    page_weight.compress_embedded_figures(page, tmp_path)
    after = page.find("img")["src"]
    assert len(after) < len(before)
    prefix = page_weight.PNG_DATA_URI
    image = Image.open(io.BytesIO(base64.b64decode(after[len(prefix) :])))
    assert image.mode == "P" and list(tmp_path.glob("*.png"))


# --- small inputs, edge cases ----------------------------------------------------------


def test_solution_wrapping_keeps_nested_cells_whole():
    content = markup.parse(
        '<div class="jp-Cell celltag_solution"><div class="jp-Cell celltag_solution" id="x">'
        "<div>in</div><div><div>out</div></div></div></div>"
        '<div class="jp-Cell">next</div>'
    )
    assert solutions.wrap_solutions(content) == 1
    assert str(content) == (
        '<details class="success ebm-solution"><summary>Solution</summary>\n'
        '<div class="jp-Cell celltag_solution"><div class="jp-Cell celltag_solution" id="x">'
        "<div>in</div><div><div>out</div></div></div></div>\n"
        '</details><div class="jp-Cell">next</div>'
    )
    untouched = markup.parse('<div class="jp-Cell">x</div>')
    assert solutions.wrap_solutions(untouched) == 0
    assert str(untouched) == '<div class="jp-Cell">x</div>'


def test_plain_code_cell_keeps_the_code_exactly():
    """Pygments' markup removed, the text is the source, character for character."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    source = "if a < b & c:\n    print(f\"{x!r:>4} <tag> 'q'\")  # a comment\n"
    coloured = highlight(source, PythonLexer(), HtmlFormatter(nowrap=True))
    cell = markup.parse(
        f'<div class="highlight-ipynb hl-python"><pre><span></span>{coloured}</pre></div>'
    )
    ((pre, language),) = markup.highlighted_code_blocks(cell)
    page_weight.plain_code_cell(pre, language)
    code = cell.select_one("pre > code.language-python")
    assert code is not None and not code.find_all(True)
    assert code.get_text() == source
    assert unescape(str(code).split(">", 1)[1].rsplit("<", 1)[0]) == source
    foreign = markup.parse('<div class="highlight-ipynb hl-python"><pre><b>x</b></pre></div>')
    ((pre, language),) = markup.highlighted_code_blocks(foreign)
    page_weight.plain_code_cell(pre, language)
    assert str(foreign) == '<div class="highlight-ipynb hl-python"><pre><b>x</b></pre></div>'


def test_squeeze_keeps_preformatted_text():
    html = "<div>\n    <p>a</p>\n  </div>\n<pre>x\n    <span>y</span>\n</pre>\n  <i>z</i>"
    document = markup.parse(html)
    page_weight.squeeze(document.find("div"))
    assert str(document) == (
        "<div>\n<p>a</p>\n</div>\n<pre>x\n    <span>y</span>\n</pre>\n<i>z</i>"
    )


def test_figure_descriptions_go_to_their_own_cell_only(caplog):
    default = f'alt="{markup.NBCONVERT_ALT}"'

    def code_cell(index: int, inner: str) -> str:
        return (
            f'<div class="jp-Cell jp-CodeCell x"><div class="jp-Cell jp-CodeCell x" '
            f'id="cell-id={index}">{inner}</div></div>'
        )

    markdown = '<div class="jp-Cell jp-MarkdownCell"><img alt="a photo" src="p.png"></div>'
    document = markup.parse(
        '<div class="jupyter-wrapper">'
        + code_cell(1, f'<img {default} src="a.png">')
        + markdown
        + code_cell(2, "no figure")
        + code_cell(3, f'<img {default} src="b.png">')
        + "</div>"
    )
    cells = [
        jupytext.reads(f"# %% {header}\nx = 1\n", fmt="py:percent").cells[0]
        for header in ['alt="Two <b> & \\"c\\""', "", ""]
    ]
    with caplog.at_level(logging.WARNING):
        figures.describe_figures(document, cells, "chapter.py")
    reread = markup.parse(str(document))  # the description survives serialization
    alts = {image["src"]: image["alt"] for image in reread.find_all("img")}
    assert alts == {
        "a.png": 'Two <b> & "c"',
        "p.png": "a photo",  # markdown images keep their own description
        "b.png": markup.NBCONVERT_ALT,
    }
    assert [record.getMessage() for record in caplog.records] == [
        'chapter.py: code cell 3 ("x = 1") draws a figure without a description;'
        ' add alt="..." to its "# %%" line'
    ]


def test_palette_compression_keeps_the_picture():
    """A plot re-encoded with a palette keeps its size and its pixels (up to palette rounding)."""
    import matplotlib.pyplot as plt
    from PIL import ImageChops

    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([0, 1, 2], [0, 1, 0])
    ax.contourf([[0, 1], [1, 2]], levels=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    original = buffer.getvalue()
    recoded = page_weight.palette_png(original)
    assert len(recoded) < len(original)
    before, after = (
        Image.open(io.BytesIO(original)).convert("RGB"),
        Image.open(io.BytesIO(recoded)).convert("RGB"),
    )
    assert before.size == after.size
    difference = ImageChops.difference(before, after).getextrema()
    assert max(high for _, high in difference) < 40  # no channel moves by more than 40/255


def test_package_digest_changes_with_any_package_file(tmp_path):
    digest = execution.package_digest
    (tmp_path / "module.py").write_text("x = 1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b\n")
    original = digest(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "module.cpython-312.pyc").write_bytes(b"\0")
    assert digest(tmp_path) == original, "bytecode must not invalidate the cache"
    (tmp_path / "data" / "table.csv").write_text("a,b,c\n")
    assert digest(tmp_path) != original


# --- the guard around the plugin's private functions ----------------------------------------


def _module_with(function) -> types.ModuleType:
    module = types.ModuleType("fake_plugin_module")
    if function is not None:
        module.convert = function
    return module


def test_wrapping_a_plugin_function_keeps_the_original_underneath():
    def convert(nb_path, execute=False):
        return f"converted {nb_path}"

    module = _module_with(convert)

    def shout(original):
        def wrapper(*args, **kwargs):
            return original(*args, **kwargs).upper()

        return wrapper

    markup.wrap_plugin_function(module, "convert", ["nb_path", "execute"], shout)
    markup.wrap_plugin_function(module, "convert", ["nb_path", "execute"], shout)  # a rebuild
    assert module.convert("a.py") == "CONVERTED A.PY"  # wrapped once, not twice


def test_a_missing_plugin_function_fails_the_build_naming_the_version():
    with pytest.raises(
        PluginError, match=r"mkdocs-jupyter \S+ has no function fake_plugin_module\.convert"
    ):
        markup.wrap_plugin_function(_module_with(None), "convert", ["nb_path"], lambda f: f)


def test_a_changed_plugin_function_fails_the_build_naming_the_version():
    def convert(path, run=False):
        return path

    with pytest.raises(
        PluginError,
        match=r"mkdocs-jupyter \S+ changed fake_plugin_module\.convert: it no longer takes \['nb_path', 'execute'\]",
    ):
        markup.wrap_plugin_function(
            _module_with(convert), "convert", ["nb_path", "execute"], lambda f: f
        )


def test_the_installed_plugin_has_what_the_build_wraps():
    import mkdocs_jupyter.convert
    import mkdocs_jupyter.nbconvert2

    for module, name, expected in [
        (
            mkdocs_jupyter.nbconvert2,
            "get_nbconvert_app",
            ["execute", "kernel_name", "allow_errors"],
        ),
        (mkdocs_jupyter.convert, "nb2html", ["nb_path", "execute"]),
    ]:
        original = getattr(module, name)
        markup.wrap_plugin_function(module, name, expected, lambda f: lambda *a, **k: f(*a, **k))
        setattr(module, name, original)  # leave the plugin as it was


def test_the_installed_plugin_leaves_its_conversion_on_the_page(tmp_path):
    """execution.execute_in_parallel calls it; a plugin that stops leaving it is named."""
    from types import SimpleNamespace

    import mkdocs_jupyter.plugin

    plugin = mkdocs_jupyter.plugin.Plugin()
    plugin.load_config(
        {"include": ["*.py"], "markdown_cell_processor": "mkdocs", "execute": True,
         "cache_dir": str(tmp_path / "cache")}
    )  # fmt: skip
    plugin.on_pre_build({})
    chapter = tmp_path / "c.py"
    chapter.write_text("# %%\nprint(6 * 7)\n", encoding="utf-8")
    file = SimpleNamespace(abs_src_path=str(chapter), src_path="c.py")
    page = SimpleNamespace(file=file, title=None, abs_url="/c/", meta={}, render=None)
    config = {"theme": SimpleNamespace(name="material")}
    converted = markup.notebook_converter(plugin, page, config, files=None)()
    assert "print" in converted["content"] and ">42\n<" in converted["content"]
    assert list((tmp_path / "cache").glob("*.json"))  # the page pass will find it there
    assert page.render is None  # the page itself was left alone

    plugin.config["markdown_cell_processor"] = "jupyter"  # then the conversion is not left
    with pytest.raises(PluginError, match=r"mkdocs-jupyter \S+ no longer leaves its conversion"):
        markup.notebook_converter(plugin, page, config, files=None)


def test_code_is_made_plain_before_markdown_without_touching_anything_else(plugin_page):
    """page_weight.plain_code_in splices plain code into the notebook's HTML: the same tree
    as plain_code_cell makes, and every character outside the code blocks as it was."""
    import re

    spliced = page_weight.plain_code_in(plugin_page)
    expected = markup.parse(plugin_page)
    for pre, language in markup.highlighted_code_blocks(markup.notebook_of(expected)):
        page_weight.plain_code_cell(pre, language)
    assert str(markup.parse(spliced)) == str(expected)
    outside = re.compile(r"<pre\b.*?</pre>", re.DOTALL)
    assert outside.split(spliced) == outside.split(plugin_page)
    assert len(spliced) < len(plugin_page)  # there were spans to drop
    assert page_weight.plain_code_in(spliced) == spliced  # nothing left to do
