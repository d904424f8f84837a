"""The book's MkDocs plugin, ``ebm-book``: every build step the site needs, in order.

Registered in ``pyproject.toml`` (entry point ``mkdocs.plugins``) and listed in
``mkdocs.yml`` after ``mkdocs-jupyter``, whose output it post-processes. Each step is a
function of one module of ``book_site``; this class only calls them at the right events.
Chapter pages are parsed once per event, and every step works on the same tree.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.plugins import BasePlugin, event_priority

from . import (
    api_pages,
    colab,
    execution,
    figures,
    mathjax,
    page_weight,
    print_book,
    provenance,
    site_url,
    solutions,
)
from .markup import PLUGIN, notebook_of, parse


class BookConfig(Config):
    # The printable book: solutions printed expanded ("open") or left out ("omit").
    print_solutions = config_options.Choice(("open", "omit"), default="open")


class BookPlugin(BasePlugin[BookConfig]):
    """Site URL, Colab notebooks, execution cache, MathJax, solutions, figures, page
    weight, the provenance page and the printable book."""

    def __init__(self) -> None:
        super().__init__()
        self.chapters: list = []
        self.command = "build"

    def on_startup(self, *, command, dirty):
        self.command = command  # "build", "gh-deploy" or "serve"

    def on_config(self, config):
        site_url.apply_site_url(config)  # before colab, which defaults site_url if empty
        colab.configure(config)
        execution.configure(config)
        return config

    def on_files(self, files, config):
        self.chapters = [file for file in files if colab.is_chapter(file)]
        return files

    def on_nav(self, nav, config, files):
        # Every page exists now, and none has been rendered: execute the chapters.
        execution.execute_in_parallel(self.chapters, config, files)
        return nav

    def on_page_content(self, html, page, config, files):
        module = api_pages.documented_module(page)
        if module is not None:
            content = parse(html)
            api_pages.add_source_link(content, module, config)
            return str(content)
        if not colab.is_chapter(page.file):
            return html
        content = parse(html)
        colab.add_notebook_buttons(content, page, config)
        solutions.wrap_solutions(content)
        return str(content)

    def on_post_page(self, output, page, config):
        output = mathjax.remove_plugin_loader(output, config)
        source = page.file.abs_src_path
        if not (source and source.endswith(".py")):
            return output
        document = parse(output)
        if notebook_of(document) is None:
            return output
        mathjax.unescape_math(notebook_of(document))  # type: ignore[arg-type]
        code = [cell for cell in jupytext.read(source).cells if cell.cell_type == "code"]
        figures.describe_figures(document, code, page.file.src_uri)
        page_weight.link_shared_stylesheet(document, page.url, config.site_dir)
        cache = Path(config.config_file_path).parent / ".cache" / "palette-png"
        page_weight.compress_embedded_figures(document, cache)
        page_weight.slim_cells(document)
        return str(document)

    @event_priority(-100)  # after mkdocs-print-site-plugin has written the print page
    def on_post_build(self, config):
        cache_dir = config.plugins[PLUGIN].config["cache_dir"]
        provenance.write_page(config, self.chapters, execution.EXECUTED, cache_dir)
        colab.write_notebooks(self.chapters, config)
        execution.remove_old_caches(config)
        mathjax.copy_mathjax(config)
        page = print_book.finish_print_page(config, self.chapters, self.config.print_solutions)
        if page is not None and print_book.pdf_wanted(self.command):
            pdf_cache = Path(config.config_file_path).parent / ".cache" / "print-pdf"
            print_book.print_pdf(Path(config.site_dir), page, pdf_cache)
