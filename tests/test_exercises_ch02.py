"""Chapter 2 graders: the reference answers pass, each known mistake gets its hint."""

import math

import pytest
import torch
from checker_helpers import assert_feedback

from ebm_book import exercises


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
