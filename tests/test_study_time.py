"""Each chapter's study time is what its text and its exercises take, and the home page agrees.

The estimate is the book's rule of thumb, stated in CONTRIBUTING.md:

- reading: the prose at 200 words per minute (math counted as one word per formula),
  plus the code at 40 lines per minute (code is run and skimmed, not read word by word);
- exercises: the minutes each exercise heading states, ``(build it, about N minutes)``.

A chapter's abstract says ``**Time:** about N minutes: about R of reading and running the
code, about E of exercises.`` R must be within a quarter (or 5 minutes) of the reading
estimate, E must be the sum of its exercises' minutes, N must be R + E, and the home
page's learning path must give the same N.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
CHAPTERS = sorted((DOCS / "chapters").glob("[0-9][0-9]_*.py"))

WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 40
STATED = re.compile(
    r"\*\*Time:\*\* about (\d+) minutes: about (\d+) of reading and running the code,"
    r" about (\d+) of exercises\."
)
EXERCISE = re.compile(r"^#{3,4} Exercise [\d.]+\b.*\([^()]*about (\d+) minutes\)", re.MULTILINE)


def reading_minutes(chapter: Path) -> float:
    cells = jupytext.read(chapter).cells
    prose = "\n".join(
        c.source
        for c in cells
        if c.cell_type == "markdown" or "prose" in c.metadata.get("tags", [])
    )
    prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " formula ", prose, flags=re.DOTALL)
    words = len(re.findall(r"[A-Za-z][A-Za-z'-]*", prose))
    code = sum(
        len([line for line in c.source.splitlines() if line.strip()])
        for c in cells
        if c.cell_type == "code" and "prose" not in c.metadata.get("tags", [])
    )
    return words / WORDS_PER_MINUTE + code / CODE_LINES_PER_MINUTE


def stated_times(chapter: Path) -> tuple[int, int, int]:
    text = chapter.read_text(encoding="utf-8").replace("\n#     ", " ")
    match = STATED.search(text)
    assert match, f"{chapter.name}: no '**Time:** about N minutes: about R ..., about E ...' line"
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def learning_path_minutes() -> dict[str, int]:
    """The minutes the home page's learning path gives each chapter, by file stem."""
    rows = re.findall(r"\(chapters/(\w+)\.py\).*\| (\d+) min \|", (DOCS / "index.md").read_text())
    return {stem: int(minutes) for stem, minutes in rows}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_study_time_adds_up(chapter):
    total, reading, exercises = stated_times(chapter)
    estimate = reading_minutes(chapter)
    assert abs(reading - estimate) <= max(5, 0.25 * estimate), (
        f"{chapter.name}: says {reading} minutes of reading; the text and code take about "
        f"{estimate:.0f} ({WORDS_PER_MINUTE} words and {CODE_LINES_PER_MINUTE} code lines a minute)"
    )
    markdown = "\n".join(
        c.source for c in jupytext.read(chapter).cells if c.cell_type == "markdown"
    )
    listed = [int(m) for m in EXERCISE.findall(markdown)]
    assert listed, f"{chapter.name}: no exercise heading gives '(about N minutes)'"
    assert exercises == sum(listed), f"{chapter.name}: exercises {listed} add up to {sum(listed)}"
    assert total == reading + exercises
    assert learning_path_minutes().get(chapter.stem) == total, (
        f"{chapter.name}: the home page's learning path should say {total} min"
    )
