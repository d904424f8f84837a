"""The grading framework: every chapter's reference solution passes its grader, graders
never crash, and `diagnose` names the matching mistake."""

import contextlib
import io
import re
from pathlib import Path

import jupytext
import pytest
import torch
from checker_helpers import run_checker

from ebm_book import exercises

CHAPTERS = sorted(Path(__file__).resolve().parents[1].glob("docs/chapters/*.py"))


def solution_cells():
    for chapter in CHAPTERS:
        notebook = jupytext.read(chapter)
        for index, cell in enumerate(notebook.cells):
            if "solution" in cell.metadata.get("tags", []):
                yield pytest.param(cell.source, id=f"{chapter.stem}-cell{index}")


@pytest.mark.parametrize("source", list(solution_cells()))
def test_reference_solutions_pass_their_checkers(source):
    """Each solution cell is self-contained: it imports what it needs and calls its checker."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<solution>", "exec"), {})
    assert "✅" in out.getvalue() and "❌" not in out.getvalue(), out.getvalue()


def graders_called(source: str) -> set[str]:
    return set(re.findall(r"\b(check_\w+)\(", source))


def test_every_exercise_the_reader_does_has_a_solution():
    """Each grader a reader's cell calls is called by a solution cell too, and each chapter
    has at least three exercises."""
    for chapter in CHAPTERS:
        cells = [c for c in jupytext.read(chapter).cells if c.cell_type == "code"]
        solutions = [c for c in cells if "solution" in c.metadata.get("tags", [])]
        readers = [c for c in cells if c not in solutions]
        asked = set().union(*(graders_called(c.source) for c in readers))
        solved = set().union(*(graders_called(c.source) for c in solutions))
        assert len(asked) >= 3 and asked == solved, (chapter.name, asked ^ solved)


def test_checker_reports_not_attempted_and_crashes_gracefully():
    def todo(x, mean, cov):
        raise NotImplementedError

    passed, out = run_checker(exercises.check_gaussian_score, todo)
    assert not passed and out.startswith("⏳")
    passed, out = run_checker(exercises.check_gaussian_score, lambda x, mean, cov: x.nonexistent)
    assert not passed and "raised AttributeError" in out


def test_diagnose_names_the_first_matching_mistake_or_falls_back():
    answer = torch.tensor([1.0, 2.0])
    mistakes = [(torch.tensor([2.0, 4.0]), "doubled"), (torch.tensor([1.0, 2.0]), "as is")]
    exercises.diagnose(answer, mistakes, expected=torch.tensor([1.0, 2.0 + 1e-9]))  # right
    with pytest.raises(exercises.CheckFailed, match="^at x: as is$"):
        exercises.diagnose(answer, mistakes, context="at x: ")
    with pytest.raises(exercises.CheckFailed, match="compare"):
        exercises.diagnose(answer, mistakes[:1], otherwise="compare with x.")
    wrong_shape = [(torch.tensor([[1.0, 2.0]]), "a row")]  # same values, other shape
    with pytest.raises(exercises.CheckFailed, match="other"):
        exercises.diagnose(answer, wrong_shape, otherwise="other")


def test_compare_formula_accepts_equal_expressions_and_names_the_mistake():
    points = [(0.3, 1.7), (2.0, 0.4), (1.1, 1.1)]

    def reference(a, b):
        return (a + b) ** 2

    exercises.compare_formula(lambda a, b: a * a + 2 * a * b + b * b, reference, points)
    mistakes = [(lambda a, b: a * a + b * b, "the cross term 2ab is missing.")]
    with pytest.raises(exercises.CheckFailed, match="cross term"):
        exercises.compare_formula(lambda a, b: b * b + a * a, reference, points, mistakes)
    with pytest.raises(exercises.CheckFailed, match=r"at \(0.3, 1.7\)"):
        exercises.compare_formula(lambda a, b: a + b, reference, points, mistakes)
    with pytest.raises(exercises.CheckFailed, match="should return a number"):
        exercises.compare_formula(lambda a, b: "x", reference, points)


def test_multiple_choice_explains_every_option():
    grade = exercises.multiple_choice(
        "check_example", {"a": (False, "a is tempting, but no."), "b": (True, "b, because.")}
    )
    assert run_checker(grade, "a") == (False, "❌ Not yet: a is tempting, but no.\n")
    assert run_checker(grade, " B ") == (True, "✅ Correct! b, because.\n")
    passed, out = run_checker(grade, None)
    assert not passed and out.startswith("⏳")
    passed, out = run_checker(grade, "z")
    assert not passed and "one of a, b" in out
