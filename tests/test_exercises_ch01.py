"""Chapter 1 graders: the reference answers pass, each known mistake gets its hint."""

import math
import re

import pytest
import torch
from checker_helpers import assert_feedback, run_checker

from ebm_book import exercises
from ebm_book.exercises import ch01_energies as ch01


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


@pytest.mark.parametrize("seed", range(5))
def test_importance_sampling_reference_passes_for_five_seeds(seed):
    reference = _is_estimate(lambda e, lq: torch.exp(-e - lq).mean().item())
    passed, out = run_checker(lambda fn: ch01.check_importance_sampling(fn, seed=seed), reference)
    assert passed, out


# Exercise 1.1, a derivation: Z_T of ||x - mu||^2 / (2 sigma^2) + c in d dimensions.
@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda s, t, d, c: math.exp(-c / t) * (2 * math.pi * s**2 * t) ** (d / 2), None),
        (lambda s, t, d, c: math.exp(-c / t) * (math.sqrt(2 * math.pi * t) * s) ** d, None),
        (  # written in log space, and as a 0-d tensor
            lambda s, t, d, c: torch.exp(
                torch.tensor(d / 2 * math.log(2 * math.pi * s * s * t) - c / t)
            ),
            None,
        ),
        (lambda s, t, d, c: math.exp(-c / t) * (2 * math.pi * s**2) ** (d / 2), "temperature is missing"),
        (lambda s, t, d, c: math.exp(-c / t) * (2 * math.pi * s**2 * t) ** d, "the power is d/2"),
        (lambda s, t, d, c: math.exp(-c / t) * (2 * math.pi * s * t) ** (d / 2), "sigma\\^2, not sigma"),
        (lambda s, t, d, c: (2 * math.pi * s**2 * t) ** (d / 2), "constant c is missing"),
        (lambda s, t, d, c: math.exp(-c) * (2 * math.pi * s**2 * t) ** (d // 2), "rounds down.*not exp\\(-c\\)"),
        (lambda s, t, d, c: d / 2 * math.log(2 * math.pi * s**2 * t) - c / t, "log Z_T"),
        (lambda s, t, d, c: math.exp(-c / t) / (2 * math.pi * s**2 * t) ** (d / 2), "1/Z_T"),
        (lambda s, t, d, c: s * t * d + c, "the right value is"),
        (lambda s, t, d, c: "Z", "should return a number"),
    ],
)  # fmt: skip
def test_gaussian_partition_function_checker(answer, message):
    assert_feedback(ch01.check_gaussian_partition_function, answer, message)


# Exercise 1.3, build it: a three-valley energy and a Boltzmann density on a grid.
def _polynomial(x, height=3.3, tilt=0.3):
    x = x[:, 0]
    return height * 27 / 256 * x**2 * (x**2 - 4) ** 2 + tilt * x


def _cosine(x):  # a periodic landscape with walls beyond the outer valleys
    x = x[:, 0]
    return 1.5 * (1 - torch.cos(math.pi * x)) + 0.3 * x + 3 * torch.relu(x.abs() - 2) ** 2


def _soft_minimum(x):  # -log of a sum of three Gaussian bumps: a mixture's energy
    centres = torch.tensor([-2.0, 0.0, 2.0], dtype=x.dtype)
    lifts = torch.tensor([0.0, 0.6, 1.2], dtype=x.dtype)
    return -torch.logsumexp(-(7.5 * (x - centres) ** 2 / 2 + lifts), dim=1)


def _density(energy, x, t):
    return torch.softmax(-energy(x) / t, dim=0) / (x[1, 0] - x[0, 0])


def _trapezoid_density(energy, x, t):
    log_w = -energy(x) / t
    w = torch.exp(log_w - torch.logsumexp(log_w, 0))
    return w / torch.trapezoid(w, x[:, 0])


def _count_spacing_density(energy, x, t):  # spacing (b - a) / N: off by 1/N, allowed
    w = torch.softmax(-energy(x) / t, dim=0)
    return w / ((x[-1, 0] - x[0, 0]) / len(x))


@pytest.mark.parametrize(
    "energy, density, message",
    [
        (_polynomial, _density, None),
        (_cosine, _trapezoid_density, None),
        (_soft_minimum, _count_spacing_density, None),
        # mistakes in the landscape
        (lambda x: _polynomial(x, height=9.5 * 3.3), _density, "times the target"),
        (lambda x: _polynomial(x, tilt=0.0), _density, "equally deep"),
        (lambda x: _polynomial(x, tilt=-0.3), _density, "order is reversed"),
        (lambda x: _polynomial(x, tilt=0.1), _density, "at least 0.5 below"),
        (lambda x: _polynomial(2 * x), _density, "0.50 times -2, 0, 2: rescale x"),
        (lambda x: _polynomial(x - 0.3), _density, "shifted by about \\+0.[23]"),
        (lambda x: _cosine(x) - 3 * torch.relu(x.abs() - 2)[:, 0] ** 2 + 3 * torch.relu(x.abs() - 3)[:, 0] ** 2, _density, "5 local minima.*spurious extra valley"),
        (lambda x: x[:, 0] ** 2, _density, "1 local minima.*barrier .* is missing"),
        (lambda x: _polynomial(x, height=0.0), _density, "falls towards x = -4"),
        (lambda x: 1.5 * (1 - torch.cos(math.pi * x[:, 0])) + 0.3 * x[:, 0], _density, "falls towards x = -4"),
        (lambda x: _polynomial(x).clamp(max=5.0), _density, "at least 10"),
        (lambda x: _polynomial(x)[:, None], _density, r"shape \(8001,\)"),
        # mistakes in the density
        (_polynomial, lambda e, x, t: torch.softmax(-e(x), 0) / (x[1, 0] - x[0, 0]), "divide the energy by T"),
        (_polynomial, lambda e, x, t: torch.softmax(-e(x) * t, 0) / (x[1, 0] - x[0, 0]), "multiplied the energy by T"),
        (_polynomial, lambda e, x, t: torch.softmax(e(x) / t, 0) / (x[1, 0] - x[0, 0]), "minus sign"),
        (_polynomial, lambda e, x, t: torch.softmax(-e(x) / t, 0), "divide by the grid spacing"),
        (_polynomial, lambda e, x, t: torch.exp(-(e(x) - e(x).min()) / t), "divide by Z_T"),
        (_polynomial, lambda e, x, t: torch.exp(-e(x) / t) / torch.exp(-e(x) / t).sum() / (x[1, 0] - x[0, 0]), "\\+1000 .*log-sum-exp"),
        (_polynomial, lambda e, x, t: _density(e, x, t)[:, None], r"shape \(601,\)"),
        (_polynomial, lambda e, x, t: -_density(e, x, t), "negative"),
        (_polynomial, None, "pass both functions"),
    ],
)  # fmt: skip
def test_three_well_checker(energy, density, message):
    passed, out = run_checker(lambda e: ch01.check_three_well(e, density), energy)
    assert passed == (message is None), out
    if message:
        assert re.search(message, out), out


# Exercise 1.5, a diagnosis: every option explains itself.
@pytest.mark.parametrize(
    "answer, message",
    [
        ("b", "neither can see mass that no sample visited"),
        ("(B)", "no sample visited"),
        ("a", "bad luck does not repeat"),
        ("c", "no affordable n"),
        ("d", "nothing overflowed"),
        ("e", "one of a, b, c, d"),
    ],
)
def test_error_bar_diagnosis(answer, message):
    passed, out = run_checker(ch01.check_error_bar_diagnosis, answer)
    assert passed == (answer.strip("()").lower() == "b"), out
    assert re.search(message, out), out
