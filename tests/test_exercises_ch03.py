"""Chapter 3 checkers accept the reference answers and reject each known mistake with its hint."""

import pytest
import torch
from checker_helpers import assert_feedback, run_checker

from ebm_book import exercises
from ebm_book.score import jacobian_trace


def _trace(model, x, create_graph=True):
    return jacobian_trace(model, x, create_graph=create_graph)


def _ism(norm_factor=0.5, trace_sign=1.0, create_graph=True):
    def loss(model, x):
        x = x.requires_grad_(True)
        return (
            norm_factor * (model(x) ** 2).sum(1) + trace_sign * _trace(model, x, create_graph)
        ).mean()

    return loss


def _ism_by_hand(model, x):
    x = x.requires_grad_(True)
    s = model(x)
    trace = sum(
        torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(x.shape[1])
    )
    return (0.5 * (s**2).sum(1) + trace).mean()


def _ism_all_entries(model, x):
    x = x.requires_grad_(True)
    s = model(x)
    (grad,) = torch.autograd.grad(s.sum(), x, create_graph=True)
    return (0.5 * (s**2).sum(1) + grad.sum(1)).mean()


@pytest.mark.parametrize(
    "answer, message",
    [
        (_ism(), None),
        (_ism_by_hand, None),
        (_ism(norm_factor=1.0), "factor 1/2"),
        (_ism(trace_sign=0.0), "left out the trace"),
        (_ism(trace_sign=-1.0), "plus sign"),
        (_ism_all_entries, "all\\* entries of the Jacobian"),
        (lambda m, x: _ism()(m, x) / 3, "divides by d"),
        (lambda m, x: _ism()(m, x).detach(), "detached"),
        (_ism(create_graph=False), "create_graph=True"),
        (lambda m, x: 0.5 * (m(x) ** 2).sum(1), r"one value per point"),
        (lambda m, x: m.nonexistent, "raised AttributeError"),
    ],
)
def test_implicit_score_matching_checker(answer, message):
    assert_feedback(exercises.check_implicit_score_matching, answer, message)


def _dsm(at="noisy", target=lambda z, s: -z / s, factor=0.5, reduce="sum"):
    def loss(model, x, z, sigma):
        point = x + sigma * z if at == "noisy" else x if at == "clean" else x + z
        squares = (model(point) - target(z, sigma)) ** 2
        per_point = squares.sum(1) if reduce == "sum" else squares.mean(1)
        return factor * per_point.mean()

    return loss


@pytest.mark.parametrize(
    "answer, message",
    [
        (_dsm(), None),
        (_dsm(target=lambda z, s: z / s), "wrong sign"),
        (_dsm(target=lambda z, s: -z / s**2), "not -z/sigma\\^2"),
        (_dsm(target=lambda z, s: -s * z), "do not multiply"),
        (_dsm(factor=1.0), "factor 1/2"),
        (_dsm(at="clean"), "not at the clean x"),
        (_dsm(at="unscaled"), "scale the noise by sigma"),
        (_dsm(reduce="mean"), "divides by d = 2"),
        (lambda m, x, z, s: _dsm()(m, x, z, s).detach(), "detached"),
        (lambda m, x, z, s: 0.5 * ((m(x + s * z) + z / s) ** 2).sum(1), "one value per point"),
    ],
)
def test_denoising_score_matching_checker(answer, message):
    assert_feedback(exercises.check_denoising_score_matching, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda eps, a: -eps / (1 - a) ** 0.5, None),
        (lambda eps, a: -eps * torch.rsqrt(torch.tensor(1 - a, dtype=eps.dtype)), None),
        (lambda eps, a: eps / (1 - a) ** 0.5, "wrong sign"),
        (lambda eps, a: -eps / (1 - a), "not by its variance"),
        (lambda eps, a: -eps * (1 - a) ** 0.5, "do not multiply"),
        (lambda eps, a: -eps / a**0.5, "scales the clean data"),
        (lambda eps, a: -eps, "the scale is missing"),
        (lambda eps, a: (-eps / (1 - a) ** 0.5).sum(1), r"shape \(6, 2\)"),
        (lambda eps, a: (-eps / (1 - a) ** 0.5).tolist(), "torch.Tensor"),
    ],
)
def test_score_from_noise_prediction_checker(answer, message):
    assert_feedback(exercises.check_score_from_noise_prediction, answer, message)


@pytest.mark.parametrize(
    "check",
    [
        exercises.check_implicit_score_matching,
        exercises.check_denoising_score_matching,
        exercises.check_score_from_noise_prediction,
    ],
)
def test_chapter3_checkers_report_not_attempted(check):
    def todo(*args):
        raise NotImplementedError

    passed, out = run_checker(check, todo)
    assert not passed and out.startswith("⏳"), out


def test_checkers_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    run_checker(exercises.check_implicit_score_matching, _ism())
    run_checker(exercises.check_denoising_score_matching, _dsm())
    run_checker(exercises.check_score_from_noise_prediction, lambda eps, a: -eps / (1 - a) ** 0.5)
    assert torch.equal(before, torch.get_rng_state())
