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
    finished_pages,
    mathjax,
    page_weight,
    print_book,
    provenance,
    site_url,
    solutions,
)
from .markup import PLUGIN, header_of, notebook_of, parse


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
        self.finished: finished_pages.FinishedPages | None = None

    def on_startup(self, *, command, dirty):
        self.command = command  # "build", "gh-deploy" or "serve"

    def on_config(self, config):
        project_root = Path(config.config_file_path).parent
        self.finished = finished_pages.FinishedPages(project_root)
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

    def on_page_markdown(self, markdown, page, config, files):
        module = api_pages.documented_module(page)
        if module is not None:
            return api_pages.with_source_link(markdown, module, config)
        if not colab.is_chapter(page.file) or self.finished is None:
            return markdown
        # The notebook's HTML, which MkDocs renders next: plain code cells are a sixth
        # of its tags, and Markdown's time grows with them.
        return self.finished.finished(
            markdown,
            ["markdown"],
            config.site_dir,
            lambda raw: (page_weight.plain_code_in(raw), []),
        )

    def on_page_content(self, html, page, config, files):
        if not colab.is_chapter(page.file) or self.finished is None:
            return html
        return self.finished.finished(
            html,
            ["content", page.url, config.extra["repository"]],  # the Colab and download links
            config.site_dir,
            lambda raw: (self._prepare_chapter_content(raw, page, config), []),
        )

    @staticmethod
    def _prepare_chapter_content(html, page, config) -> str:
        """Notebook buttons, solutions in boxes, code cells as plain code. Done here, before
        the search index and the print page read the content: plain cells are a fifth of
        the markup, which they then need not parse."""
        content = parse(html)
        colab.add_notebook_buttons(content, page, config)
        solutions.wrap_solutions(content)
        page_weight.slim_cells(content)
        return str(content)

    def on_post_page(self, output, page, config):
        output = mathjax.remove_plugin_loader(output, config)
        source = page.file.abs_src_path
        if not (source and source.endswith(".py")) or self.finished is None:
            return output
        return self.finished.finished(
            output,
            [Path(source).read_bytes(), page.url],  # figure descriptions; relative links
            config.site_dir,
            lambda raw: self._finish_chapter_page(raw, page, config),
        )

    def _finish_chapter_page(self, output, page, config) -> tuple[str, list[str]]:
        """Math, figure descriptions, shared stylesheet, palette figures; no copy-widget
        script, no indentation."""
        document = parse(output)
        if notebook_of(document) is None:
            return output, []
        mathjax.unescape_math(notebook_of(document))  # type: ignore[arg-type]
        code = [
            cell for cell in jupytext.read(page.file.abs_src_path).cells if cell.cell_type == "code"
        ]
        figures.describe_figures(document, code, page.file.src_uri)
        stylesheet = page_weight.link_shared_stylesheet(document, page.url, config.site_dir)
        cache = Path(config.config_file_path).parent / ".cache" / "palette-png"
        page_weight.compress_embedded_figures(document, cache)
        page_weight.drop_clipboard_scripts(header_of(document))  # the plugin adds it late
        page_weight.squeeze(notebook_of(document))  # type: ignore[arg-type]  # to the page's end
        return str(document), [stylesheet] if stylesheet else []

    @event_priority(-100)  # after mkdocs-print-site-plugin has written the print page
    def on_post_build(self, config):
        cache_dir = config.plugins[PLUGIN].config["cache_dir"]
        provenance.write_page(config, self.chapters, execution.EXECUTED, cache_dir)
        colab.write_notebooks(self.chapters, config, self.finished)
        execution.remove_old_caches(config)
        if self.finished is not None:
            self.finished.remove_unused()
        mathjax.copy_mathjax(config)
        page = print_book.finish_print_page(config, self.chapters, self.config.print_solutions)
        if page is not None and print_book.pdf_wanted(self.command):
            pdf_cache = Path(config.config_file_path).parent / ".cache" / "print-pdf"
            print_book.print_pdf(Path(config.site_dir), page, pdf_cache)
