"""The cache of finished chapter pages (book_site.finished_pages) and the API pages'
source links (book_site.api_pages): what makes warm rebuilds fast must not change a page."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

from book_site import api_pages
from book_site.finished_pages import FinishedPages


class Finisher:
    """A finishing step that writes a stylesheet into the site, counting its calls."""

    def __init__(self, site: Path, warn: bool = False) -> None:
        self.site, self.warn, self.calls = site, warn, 0

    def __call__(self, page: str) -> tuple[str, list[str]]:
        self.calls += 1
        if self.warn:
            logging.getLogger("mkdocs.plugins.test").warning("a figure has no description")
        (self.site / "assets").mkdir(parents=True, exist_ok=True)
        (self.site / "assets" / "style.css").write_text("p {}", encoding="utf-8")
        return page.upper(), ["assets/style.css"]


def test_a_page_is_finished_once_and_its_files_are_written_again(tmp_path):
    pages = FinishedPages(tmp_path)
    first_site, second_site = tmp_path / "site1", tmp_path / "site2"
    finish = Finisher(first_site)
    assert pages.finished("<p>a</p>", ["source", "/a/"], str(first_site), finish) == "<P>A</P>"
    again = FinishedPages(tmp_path)  # the next build
    finish_again = Finisher(second_site)
    assert again.finished("<p>a</p>", ["source", "/a/"], str(second_site), finish_again) == (
        "<P>A</P>"
    )
    assert finish_again.calls == 0  # from the cache
    assert (second_site / "assets" / "style.css").read_text(encoding="utf-8") == "p {}"


@pytest.mark.parametrize("change", ["page", "source", "url"])
def test_any_changed_input_finishes_the_page_again(tmp_path, change):
    inputs = {"page": "<p>a</p>", "source": "source", "url": "/a/"}
    FinishedPages(tmp_path).finished(
        inputs["page"], [inputs["source"], inputs["url"]], str(tmp_path), Finisher(tmp_path)
    )
    inputs[change] += "x"
    finish = Finisher(tmp_path)
    FinishedPages(tmp_path).finished(
        inputs["page"], [inputs["source"], inputs["url"]], str(tmp_path), finish
    )
    assert finish.calls == 1


def test_a_page_that_warned_is_never_kept_so_a_strict_rebuild_fails_again(tmp_path, caplog):
    for _ in range(2):
        finish = Finisher(tmp_path, warn=True)
        FinishedPages(tmp_path).finished("<p>a</p>", [], str(tmp_path), finish)
        assert finish.calls == 1
    assert caplog.text.count("a figure has no description") == 2


def test_entries_the_last_build_did_not_use_are_removed(tmp_path):
    old = FinishedPages(tmp_path)
    old.finished("<p>old</p>", [], str(tmp_path), Finisher(tmp_path))
    new = FinishedPages(tmp_path)
    new.finished("<p>new</p>", [], str(tmp_path), Finisher(tmp_path))
    new.remove_unused()
    assert [entry.stem for entry in new.folder.glob("*.json")] == list(new.used)


def config_for(root: Path) -> SimpleNamespace:
    return SimpleNamespace(
        config_file_path=str(root / "mkdocs.yml"),
        extra={"repository": "owner/book", "notebook_pin": "abc123"},
    )


def test_an_api_page_gets_a_link_to_its_module_under_its_title(tmp_path):
    (tmp_path / "ebm_book" / "metrics").mkdir(parents=True)
    (tmp_path / "ebm_book" / "metrics" / "__init__.py").write_text("")
    (tmp_path / "ebm_book" / "energies.py").write_text("")
    page = "# `ebm_book.energies`\n\n::: ebm_book.energies\n"
    linked = api_pages.with_source_link(page, "ebm_book.energies", config_for(tmp_path))
    assert linked == (
        "# `ebm_book.energies`\n\nSource: [`ebm_book/energies.py`]"
        "(https://github.com/owner/book/blob/abc123/ebm_book/energies.py)\n"
        "{: .ebm-source }\n\n::: ebm_book.energies\n"
    )
    package = api_pages.with_source_link("# m\n", "ebm_book.metrics", config_for(tmp_path))
    assert "(https://github.com/owner/book/tree/abc123/ebm_book/metrics/)" in package


def test_an_api_page_of_a_module_without_a_file_is_named(tmp_path):
    with pytest.raises(PluginError, match="ebm_book.missing, which has no file"):
        api_pages.with_source_link("# m\n", "ebm_book.missing", config_for(tmp_path))


def test_colab_notebooks_come_from_the_cache_unchanged(tmp_path, monkeypatch):
    from book_site import colab

    chapter = tmp_path / "docs" / "chapters" / "01_x.py"
    chapter.parent.mkdir(parents=True)
    chapter.write_text("# %% [markdown]\n# # One\n\n# %%\nprint(1)\n", encoding="utf-8")
    file = SimpleNamespace(abs_src_path=str(chapter), src_uri="chapters/01_x.py")
    config = SimpleNamespace(
        site_dir=str(tmp_path / "site"),
        site_url="https://example.org/book/",
        extra={"repository": "owner/book", "notebook_pin": "abc123"},
    )
    colab.write_notebooks([file], config, FinishedPages(tmp_path))
    first = (tmp_path / "site" / "notebooks" / "01_x.ipynb").read_text(encoding="utf-8")
    assert "abc123" in first and "print(1)" in first

    def no_conversion(*args):
        raise AssertionError("an unchanged chapter was converted again")

    monkeypatch.setattr(colab, "colab_notebook", no_conversion)
    colab.write_notebooks([file], config, FinishedPages(tmp_path))
    again = (tmp_path / "site" / "notebooks" / "01_x.ipynb").read_text(encoding="utf-8")
    assert again == first
