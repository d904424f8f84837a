"""Chapter 4 graders: the reference answers pass, each known mistake gets its hint."""

import pytest
import torch
from checker_helpers import assert_feedback

from ebm_book import exercises


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
