"""Chapter 6 graders: the reference answers pass, each known mistake gets its hint, and the
statistical grader passes the reference solution for several seeds."""

import math
import re

import pytest
import torch
from checker_helpers import assert_feedback, run_checker

from ebm_book import flow
from ebm_book.exercises import ch06_diffusion as ch06

# ---- Exercise 6.1: the probability-flow velocity --------------------------------------------


def variance(a, c2):
    return a * c2 + 1 - a


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / variance(a, c2), None),
        (lambda x, b, a, c2: 0.5 * b * x * a * (1 - c2) / variance(a, c2), None),  # simplified
        (lambda x, b, a, c2: torch.tensor(0.5 * b * x * (1 / variance(a, c2) - 1)), None),
        (lambda x, b, a, c2: -0.5 * b * x + b * x / variance(a, c2), "reverse-time SDE"),
        (lambda x, b, a, c2: 0.5 * b * x / variance(a, c2), "left out the forward drift"),
        (lambda x, b, a, c2: -0.5 * b * x - 0.5 * b * x / variance(a, c2), "sign of the score"),
        (lambda x, b, a, c2: 0.5 * b * x - 0.5 * b * x / variance(a, c2), "minus the velocity"),
        (lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / c2, r"\*at time t\*"),
        (lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / (a * c2), "noise's part"),
        (lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / (c2 + 1 - a), "scaled by"),
        (lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / (1 - a), "noise alone"),
        (lambda x, b, a, c2: -0.5 * b * x + 0.5 * b**0.5 * x / variance(a, c2), "not g"),
        (lambda x, b, a, c2: -0.5 * b * x, r"at \("),  # no known mistake: the values compared
        (lambda x, b, a, c2: None, "should return a number"),
    ],
)
def test_flow_velocity_checker(answer, message):
    assert_feedback(ch06.check_flow_velocity, answer, message)


# ---- Exercise 6.2: DDIM -------------------------------------------------------------------


def ddim(kind="right"):
    """DDIM written out, right or with one of the usual mistakes."""

    def sampler(score, process, start, times):
        x = start.clone() if kind == "in place" else start
        pairs = list(zip(times[:-1].tolist(), times[1:].tolist()))
        if kind == "ascending":
            pairs = [(b, a) for a, b in reversed(pairs)]
        states = [x]
        for t, t_next in pairs:
            at = t_next if kind == "score at t_next" else t
            s = score(x, torch.full((x.shape[0],), at, dtype=x.dtype))
            mean, sigma = process.mean_coefficient(t), process.sigma(t)
            if kind == "vp sigma":
                sigma = (1 - process.alpha_bar(t)).sqrt()
            clean = x + sigma**2 * s if kind == "no division" else (x + sigma**2 * s) / mean
            noise_hat = -sigma * s
            sigma_next = sigma if kind == "sigma both" else process.sigma(t_next)
            if kind == "vp sigma":
                sigma_next = (1 - process.alpha_bar(t_next)).sqrt()
            step = process.mean_coefficient(t_next) * clean + sigma_next * noise_hat
            if kind == "in place":
                start.copy_(step)
                x = start
            else:
                x = step
            if kind == "noise":
                x = x + 0.01 * torch.randn_like(x)
            states.append(x)
        if kind == "denoised":
            t = times[-1].item()
            s = score(x, torch.full((x.shape[0],), t, dtype=x.dtype))
            x = (x + process.sigma(t) ** 2 * s) / process.mean_coefficient(t)
        if kind == "all steps":
            return torch.stack(states)
        return x

    return sampler


def ddim_alpha_bar(score, process, start, times):
    """DDIM's own eq. (12), with alpha_bar and the predicted noise, times as tensors."""
    x = start
    for t, t_next in zip(times[:-1], times[1:]):
        a, a_next = process.alpha_bar(t), process.alpha_bar(t_next)
        eps = -process.sigma(t) * score(x, t.expand(x.shape[0]))
        x = a_next.sqrt() * (x - process.sigma(t) * eps) / a.sqrt() + process.sigma(t_next) * eps
    return x


def ddim_as_ratio(score, process, start, times):
    """The step as a rescaling of x plus a multiple of the score, with a float time."""
    x = start
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        m, m_next = process.mean_coefficient(t).item(), process.mean_coefficient(t_next).item()
        sigma, sigma_next = process.sigma(t).item(), process.sigma(t_next).item()
        s = score(x, t)  # one number for every chain
        x = (m_next / m) * x + (m_next / m * sigma**2 - sigma_next * sigma) * s
    return x


def package_ddim(score, process, start, times):
    return flow.ddim(score, process, start, times=times, denoise=False).samples


def per_chain(score, process, start, times):
    return torch.cat([ddim()(score, process, start[i : i + 1], times) for i in range(len(start))])


def restart(score, process, start, times):
    x = start
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        s = score(start, torch.full((start.shape[0],), t, dtype=start.dtype))
        sigma = process.sigma(t)
        clean = (start + sigma**2 * s) / process.mean_coefficient(t)
        x = process.mean_coefficient(t_next) * clean - process.sigma(t_next) * sigma * s
    return x


def euler_flow(score, process, start, times):
    return flow.euler(score, process, start, times=times, denoise=False).samples


def one_step_short(score, process, start, times):
    return ddim()(score, process, start, times[:-1])


@pytest.mark.parametrize(
    "answer, message",
    [
        (ddim(), None),
        (ddim_alpha_bar, None),
        (ddim_as_ratio, None),
        (package_ddim, None),
        (ddim("sigma both"), "with sigma\\(t\\), the current"),
        (ddim("no division"), "divides by the mean coefficient"),
        (ddim("noise"), "adds no fresh noise"),
        (ddim("denoised"), "final denoising step"),
        (ddim("all steps"), r"return only the last, shape \(16, 2\)"),
        (ddim("in place"), "in-place"),
        (ddim("ascending"), "wrong way"),
        (ddim("score at t_next"), r"\*next\* time"),
        (ddim("vp sigma"), "VP only"),
        (per_chain, "not a loop over chains"),
        (restart, "starts again from `start`"),
        (euler_flow, "Euler's method"),
        (one_step_short, "that is 3 steps"),
        (lambda score, process, start, times: flow.ddim(score, process, start, times=times), "SamplingResult"),
    ],
)  # fmt: skip
def test_ddim_checker(answer, message):
    assert_feedback(ch06.check_ddim, answer, message)


@pytest.mark.parametrize("seed", range(1, 6))
def test_ddim_reference_passes_for_every_seed(seed):
    passed, out = run_checker(lambda sampler: ch06.check_ddim(sampler, seed=seed), ddim())
    assert passed, out


def test_ddim_heavy_band_is_what_2000_chains_allow():
    """The band is the reference's bias plus four binomial standard errors."""
    assert ch06.check_ddim.__module__.endswith("ch06_sampler")
    from ebm_book.exercises import ch06_sampler

    assert ch06_sampler.HEAVY_BAND == pytest.approx(0.004 + 4 * math.sqrt(0.16 / 2000))


# ---- Exercise 6.3: a run that went wrong ---------------------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        ("b", "seven times too wide"),
        ("(B)", "seven times too wide"),
        ("a", "at the floor with 49 steps"),
        ("c", "exact everywhere"),
        ("d", "whichever process"),
        ("e", "answer with one of"),
        (None, "Not attempted"),
    ],
)
def test_wrong_prior_checker(answer, message):
    passed, out = run_checker(ch06.check_wrong_prior, answer)
    assert passed == (answer is not None and answer.strip("()").lower() == "b"), out
    assert re.search(message, out), out
