"""Chapter 2 graders: the reference answers pass, each known mistake gets its hint."""

import math
import re

import pytest
import torch
from checker_helpers import assert_feedback, run_checker

from ebm_book import exercises
from ebm_book.exercises import ch02_langevin


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


# --- Exercise 2.2: a Langevin sampler (build it) ---------------------------------------


def _sampler(drift=0.5, noise=lambda eps: math.sqrt(eps), steps=lambda n: n, draw=None):
    """A Langevin sampler with the drift (drift * eps) s(x) and the noise noise(eps) z,
    run for steps(n) steps; ``draw(x, generator)`` draws the noise."""
    draw = draw or (lambda x, g: torch.randn(x.shape, generator=g))

    def sampler(score, x0, eps, n_steps, generator=None):
        x = x0
        for _ in range(steps(n_steps)):
            x = x + drift * eps * score(x) + noise(eps) * draw(x, generator)
        return x

    return sampler


reference_sampler = _sampler()


def randn_like_in_place_on_a_copy(score, x0, eps, n_steps, generator=None):
    x = x0.clone()
    for _ in range(n_steps):
        x += eps / 2 * score(x) + eps**0.5 * torch.randn_like(x, generator=generator)
    return x


def all_noise_at_once(score, x0, eps, n_steps, generator=None):
    noise = torch.randn(n_steps, *x0.shape, generator=generator, dtype=x0.dtype)
    x = x0
    for z in noise:
        x = x + 0.5 * eps * score(x) + math.sqrt(eps) * z
    return x


def trajectory_list(score, x0, eps, n_steps, generator=None):
    states = [x0]
    for _ in range(n_steps):
        x = states[-1]
        z = torch.randn(x.shape, generator=generator)
        states.append(x + eps / 2 * score(x) + math.sqrt(eps) * z)
    return states[-1]


def float64_noise_then_cast(score, x0, eps, n_steps, generator=None):
    x = x0.double()
    for _ in range(n_steps):
        z = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        x = x + eps / 2 * score(x) + math.sqrt(eps) * z
    return x.to(x0.dtype)


def noise_reused(score, x0, eps, n_steps, generator=None):
    z = torch.randn(x0.shape, generator=generator)
    x = x0
    for _ in range(n_steps):
        x = x + eps / 2 * score(x) + math.sqrt(eps) * z
    return x


def return_inside_the_loop(score, x0, eps, n_steps, generator=None):
    x = x0
    for _ in range(n_steps):
        x = x + eps / 2 * score(x) + math.sqrt(eps) * torch.randn(x.shape, generator=generator)
        return x


def in_place_on_x0(score, x0, eps, n_steps, generator=None):
    x = x0
    for _ in range(n_steps):
        x += eps / 2 * score(x) + math.sqrt(eps) * torch.randn(x.shape, generator=generator)
    return x


def own_generator(score, x0, eps, n_steps, generator=None):
    return reference_sampler(score, x0, eps, n_steps, torch.Generator().manual_seed(0))


def loop_over_chains(score, x0, eps, n_steps, generator=None):
    rows = []
    for row in x0:
        rows.append(reference_sampler(score, row[None], eps, n_steps, generator)[0])
    return torch.stack(rows)


def trajectory_tensor(score, x0, eps, n_steps, generator=None):
    states = [x0]
    for _ in range(n_steps):
        states.append(reference_sampler(score, states[-1], eps, 1, generator))
    return torch.stack(states)


@pytest.mark.parametrize(
    "answer, message",
    [
        (reference_sampler, None),
        (randn_like_in_place_on_a_copy, None),
        (all_noise_at_once, None),
        (trajectory_list, None),
        (float64_noise_then_cast, None),
        (_sampler(steps=lambda n: n - 1), None),  # one step fewer: still converged
        (_sampler(noise=lambda eps: math.sqrt(2 * eps)), "twice what it should be"),
        (_sampler(drift=1.0, noise=lambda eps: math.sqrt(2 * eps)), "other convention"),
        (_sampler(drift=1.0), "half the step size"),
        (_sampler(noise=lambda eps: eps), "not eps"),
        (_sampler(drift=-0.5), "ran away.*sign of the drift"),
        (_sampler(noise=lambda eps: 0.0), "ended at the mode.*Add the noise"),
        (noise_reused, "reuse a single noise draw"),
        (_sampler(draw=lambda x, g: torch.randn(x.shape[1], generator=g)), "same noise"),
        (_sampler(draw=lambda x, g: torch.randn(len(x), 1, generator=g)), "along a line"),
        (_sampler(draw=lambda x, g: torch.rand(x.shape, generator=g)), "torch.randn"),
        (_sampler(draw=lambda x, g: torch.randn(x.shape)), "same generator seed differ"),
        (own_generator, "do not change with the generator"),
        (return_inside_the_loop, "return inside the loop"),
        (in_place_on_x0, "in-place"),
        (lambda score, x0, eps, n, generator=None: x0.clone(), "not moved"),
        (trajectory_tensor, "whole trajectory"),
        (lambda *args: reference_sampler(*args)[-1], "one point"),
        (lambda *args: [reference_sampler(*args)], "returned a list"),
        (lambda *args: reference_sampler(*args)[:, 0], r"shape \(20000, 2\)"),
    ],
)
def test_langevin_sampler_checker(answer, message):
    assert_feedback(ch02_langevin.check_langevin_sampler, answer, message)


def test_langevin_sampler_checker_wants_the_batch_updated_at_once():
    assert_feedback(
        ch02_langevin.check_langevin_sampler, loop_over_chains, "not a loop over chains"
    )


@pytest.mark.parametrize("seed", range(1, 8))
def test_langevin_sampler_checker_passes_the_reference_for_every_seed(seed):
    for answer in (reference_sampler, all_noise_at_once):
        passed, out = run_checker(lambda fn: ch02_langevin.check_langevin_sampler(fn, seed), answer)
        assert passed, out


# --- Exercise 2.3: how fast the chains spread (derive it) ------------------------------


def _stationary(sigma, eps):
    return sigma**2 / (1 - eps / (4 * sigma**2))


def _factor(sigma, eps):
    return 1 - eps / (2 * sigma**2)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda s, e, t: _stationary(s, e) * (1 - _factor(s, e) ** (2 * t)), None),
        (lambda s, e, t: sum(e * _factor(s, e) ** (2 * k) for k in range(t)), None),
        (lambda s, e, t: e * (1 - _factor(s, e) ** (2 * t)) / (1 - _factor(s, e) ** 2), None),
        (lambda s, e, t: torch.tensor(_stationary(s, e) * (1 - _factor(s, e) ** (2 * t))), None),
        (lambda s, e, t: _stationary(s, e), "stationary variance, reached only"),
        (lambda s, e, t: _stationary(s, e) * (1 - _factor(s, e) ** t), "count the powers"),
        (lambda s, e, t: 2 * s**2 * (1 - _factor(s, e) ** t), "square of the factor"),
        (lambda s, e, t: s**2 * (1 - _factor(s, e) ** (2 * t)), "tends to sigma"),
        (lambda s, e, t: t * e, "random walk"),
        (lambda s, e, t: _stationary(s, e) * (1 - _factor(s, e) ** (2 * t + 2)), "too many"),
        (lambda s, e, t: _stationary(s, e) * _factor(s, e) ** (2 * t), "decays to 0"),
        (
            lambda s, e, t: s**2 / (1 - e / (2 * s**2)) * (1 - (1 - e / s**2) ** (2 * t)),
            "other convention",
        ),
        (lambda s, e, t: s**2 + t, r"the right value is"),
        (lambda s, e, t: None, "should return a number"),
    ],
)
def test_variance_after_checker(answer, message):
    assert_feedback(ch02_langevin.check_variance_after, answer, message)


# --- Exercise 2.4: a run that went wrong (diagnose it) ---------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        ("d", None),
        ("(D)", None),
        ("a", "cannot make anything grow"),
        ("b", "wrong sign would push"),
        ("c", "linear in the offset"),
        ("e", "well inside"),
        ("f", "one of a, b, c, d, e"),
    ],
)
def test_runaway_chain_checker(answer, message):
    passed, out = run_checker(ch02_langevin.check_runaway_chain, answer)
    assert passed == (message is None), out
    if message:
        assert re.search(message, out), out


def test_runaway_chain_checker_waits_for_an_answer():
    passed, out = run_checker(ch02_langevin.check_runaway_chain, None)
    assert not passed and out.startswith("⏳")


@pytest.mark.parametrize(
    "check",
    [ch02_langevin.check_langevin_sampler, ch02_langevin.check_variance_after],
    ids=lambda c: c.__name__,
)
@pytest.mark.parametrize(
    "answer",
    [
        lambda *args: None,
        lambda *args: torch.full((6, 2), math.nan),
        lambda *args: torch.ones(6, 2, dtype=torch.int64),
        lambda *args: 1 / 0,
        lambda: 1.0,
        3,
    ],
    ids=["None", "NaN tensor", "integers", "an error", "too few arguments", "a number"],
)
def test_new_checkers_explain_garbage_and_never_raise(check, answer):
    passed, out = run_checker(check, answer)
    assert not passed and out.startswith("❌"), out
