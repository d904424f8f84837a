"""Chapters execute in parallel before the page pass (book_site.execution), on mini books."""

from __future__ import annotations

import pytest
from mini_book import build_mini_book
from mkdocs.exceptions import PluginError

from book_site import execution


def meeting_chapter(here: str, other: str, folder) -> str:
    """A chapter that leaves a mark and waits for the other chapter's: it only finishes
    if both run at the same time (each gives up after 60 s and fails)."""
    return f"""# %% [markdown]
# # Chapter {here}

# %%
import pathlib, time

folder = pathlib.Path({str(folder)!r})
(folder / "{here}").touch()
deadline = time.monotonic() + 60
while not (folder / "{other}").exists():
    assert time.monotonic() < deadline, "the other chapter never started"
    time.sleep(0.05)
print("chapter {here} met chapter {other}")
"""


def test_two_chapters_run_at_the_same_time_and_each_page_shows_its_own_output(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    chapters = {
        "01_first": meeting_chapter("first", "second", marks),
        "02_second": meeting_chapter("second", "first", marks),
    }
    result = build_mini_book(tmp_path / "book", chapters, book_plugin=True, jobs=2)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "(2 at a time)" in log
    assert log.count("Executing chapter") == 2, log  # the page pass found both cached
    for here, other in [("first", "second"), ("second", "first")]:
        name = "01_first" if here == "first" else "02_second"
        page = tmp_path / "book" / "site" / "chapters" / name / "index.html"
        assert f"chapter {here} met chapter {other}" in page.read_text(encoding="utf-8")


def test_a_failing_chapter_fails_the_parallel_build_naming_itself(tmp_path):
    chapters = {
        "01_fine": "# %%\nprint('fine')\n",
        "02_broken": "# %%\nraise ValueError('broken on purpose')\n",
    }
    result = build_mini_book(tmp_path, chapters, book_plugin=True, jobs=2)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert "chapters/02_broken.py: a cell raised an error." in log, log
    assert "broken on purpose" in log


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_number_of_jobs_is_named(value, monkeypatch):
    monkeypatch.setenv("EBM_BOOK_JOBS", value)
    with pytest.raises(PluginError, match="EBM_BOOK_JOBS must be a whole number >= 1"):
        execution.parallel_jobs()


def test_the_default_number_of_jobs_is_the_processors_available(monkeypatch):
    monkeypatch.delenv("EBM_BOOK_JOBS", raising=False)
    assert execution.parallel_jobs() >= 1
    monkeypatch.setenv("EBM_BOOK_JOBS", "3")
    assert execution.parallel_jobs() == 3
