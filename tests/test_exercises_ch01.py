"""Chapter 1 graders: the reference answers pass, each known mistake gets its hint."""

import math

import pytest
import torch
from checker_helpers import assert_feedback

from ebm_book import exercises


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
