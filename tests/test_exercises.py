"""Checkers accept the chapters' reference solutions, reject known mistakes, and never crash."""

import contextlib
import io
import math
from pathlib import Path

import jupytext
import pytest
import torch
from checker_helpers import assert_feedback, run_checker

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


def test_every_chapter_exercise_has_a_solution():
    for chapter in CHAPTERS:
        cells = jupytext.read(chapter).cells
        todo = sum("raise NotImplementedError" in c.source for c in cells if c.cell_type == "code")
        solutions = sum("solution" in c.metadata.get("tags", []) for c in cells)
        assert todo >= 3 and solutions == todo, chapter.name


def test_checker_reports_not_attempted_and_crashes_gracefully():
    def todo(x, mean, std):
        raise NotImplementedError

    passed, out = run_checker(exercises.check_gaussian_energy, todo)
    assert not passed and out.startswith("⏳")
    passed, out = run_checker(exercises.check_gaussian_energy, lambda x, mean, std: x.nonexistent)
    assert not passed and "raised AttributeError" in out


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda x, m, s: -((x[:, 0] - m) ** 2) / (2 * s**2), "E is minus the log density"),
        (lambda x, m, s: (x[:, 0] - m) ** 2 / s**2, "forget the factor 1/2"),
        (lambda x, m, s: (x[:, 0] - m) ** 2 / (2 * s), "not by std"),
        (lambda x, m, s: (x - m) ** 2 / (2 * s**2), r"shape \(15,\)"),
        (lambda x, m, s: 3.0 + (x[:, 0] - m) ** 2 / (2 * s**2), None),  # constants are allowed
    ],
)
def test_gaussian_energy_checker(answer, message):
    assert_feedback(exercises.check_gaussian_energy, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda e, t: torch.exp(-e / t) / torch.exp(-e / t).sum(), "log-sum-exp"),
        (lambda e, t: torch.softmax(e / t, 0), "with the minus sign"),
        (lambda e, t: torch.softmax(-e, 0), "divide E by T"),
        (lambda e, t: torch.exp(-(e - e.min()) / t), "divide by Z"),
        (lambda e, t: torch.softmax(-e / t, 0).tolist(), "torch.Tensor"),
        (lambda e, t: torch.exp(-(e - e.min()) / t) / torch.exp(-(e - e.min()) / t).sum(), None),
    ],
)
def test_boltzmann_checker(answer, message):
    assert_feedback(exercises.check_boltzmann_probabilities, answer, message)


def _is_estimate(transform):
    def estimate(energy, proposal, n, generator):
        x = proposal.sample(n, generator=generator)
        return transform(energy(x), proposal.log_prob(x))

    return estimate


@pytest.mark.parametrize(
    "answer, message",
    [
        (_is_estimate(lambda e, lq: torch.exp(-e).mean().item()), "divide by the proposal density"),
        (
            _is_estimate(lambda e, lq: torch.logsumexp(-e - lq, 0).item() - math.log(len(e))),
            "that is log Z",
        ),
        (_is_estimate(lambda e, lq: torch.exp(-e - lq).mean()), None),  # a 0-d tensor is fine
        (_is_estimate(lambda e, lq: float("nan")), "finite float"),
    ],
)
def test_importance_sampling_checker(answer, message):
    assert_feedback(exercises.check_importance_sampling, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda x, m, c: (x - m) @ torch.linalg.inv(c), "points \\*towards\\* the mean"),
        (lambda x, m, c: -(x - m) @ c, "inverse of the covariance"),
        (lambda x, m, c: -(x - m).sum(1), r"same shape"),
        (lambda x, m, c: torch.linalg.solve(c, (m - x).T).T, None),
    ],
)
def test_gaussian_score_checker(answer, message):
    assert_feedback(exercises.check_gaussian_score, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda x, s, e, z: x + e * s(x) + math.sqrt(2 * e) * z, "other convention"),
        (lambda x, s, e, z: x + e * s(x) + math.sqrt(e) * z, "half the step size"),
        (lambda x, s, e, z: x + e / 2 * s(x) + e * z, "scaled by sqrt"),
        (lambda x, s, e, z: x + e / 2 * s(x), "forgot the noise"),
        (lambda x, s, e, z: x - e / 2 * s(x) + math.sqrt(e) * z, "along"),
        (lambda x, s, e, z: x[:, 0], r"shape \(5, 2\)"),
        (lambda x, s, e, z: x + 0.5 * e * s(x) + e**0.5 * z, None),
    ],
)
def test_langevin_step_checker(answer, message):
    assert_feedback(exercises.check_langevin_step, answer, message)


def _log_q(score, eps):
    return lambda to, origin: -((to - origin - eps / 2 * score(origin)) ** 2).sum(1) / (2 * eps)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda x, y, E, s, eps: E(x) - E(y), "add the proposal correction"),
        (
            lambda x, y, E, s, eps: E(y) - E(x) + _log_q(s, eps)(x, y) - _log_q(s, eps)(y, x),
            "wrong sign",
        ),
        (
            lambda x, y, E, s, eps: E(x) - E(y) - _log_q(s, eps)(x, y) + _log_q(s, eps)(y, x),
            "upside down",
        ),
        (lambda x, y, E, s, eps: (E(x) - E(y))[:, None], r"shape \(7,\)"),
        (lambda x, y, E, s, eps: E(x) - E(y) + _log_q(s, eps)(x, y) - _log_q(s, eps)(y, x), None),
    ],
)
def test_mala_log_acceptance_checker(answer, message):
    assert_feedback(exercises.check_mala_log_acceptance, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda hi, lo, n: lo * (hi / lo) ** torch.linspace(0, 1, n),
            "largest noise level comes first",
        ),
        (lambda hi, lo, n: torch.linspace(hi, lo, n), "constant ratio"),
        (lambda hi, lo, n: hi * (lo / hi) ** torch.linspace(0, 1, n + 1), r"shape \(5,\)"),
        (lambda hi, lo, n: hi * (lo / hi) ** torch.linspace(0, 1, n), None),
    ],
)
def test_geometric_sigmas_checker(answer, message):
    assert_feedback(exercises.check_geometric_sigmas, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda s, eps: eps * s / s[-1], "squares"),
        (lambda s, eps: eps * s**2 / s[0] ** 2, r"\*smallest\*"),
        (lambda s, eps: eps * s**2 / s[-1] ** 2, None),
    ],
)
def test_annealed_step_sizes_checker(answer, message):
    assert_feedback(exercises.check_annealed_step_sizes, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda x, s, a, b, z: x + (a**2 - b**2) / 2 * s(x, a) + (a**2 - b**2) ** 0.5 * z,
            "not half",
        ),
        (lambda x, s, a, b, z: x + (a - b) * s(x, a) + (a - b) ** 0.5 * z, r"\*squared\*"),
        (lambda x, s, a, b, z: x + (a**2 - b**2) * s(x, a), "forgot the noise"),
        (lambda x, s, a, b, z: x + (a**2 - b**2) * s(x, a) + (a**2 - b**2) ** 0.5 * z, None),
    ],
)
def test_reverse_diffusion_step_checker(answer, message):
    assert_feedback(exercises.check_reverse_diffusion_step, answer, message)
