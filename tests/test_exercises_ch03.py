"""Chapter 3 checkers accept the reference answers and reject each known mistake with its hint."""

import re

import numpy as np
import pytest
import torch
from checker_helpers import assert_feedback, run_checker
from torch.utils.data import DataLoader, TensorDataset

from ebm_book import exercises
from ebm_book.exercises import ch03_score_matching as ch03
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
    "check",
    [
        exercises.check_implicit_score_matching,
        exercises.check_gaussian_c_sigma,
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
    assert torch.equal(before, torch.get_rng_state())


# --- Exercise 3.2: Vincent's constant for Gaussian data ---------------------------------


def _eye(cov):
    return torch.eye(cov.shape[0], dtype=cov.dtype)


def _c_sigma(cov, sigma):
    return (
        cov.shape[0] / (2 * sigma**2) - 0.5 * torch.linalg.inv(cov + sigma**2 * _eye(cov)).trace()
    )


def _c_sigma_eigen(cov, sigma):
    return sum(
        0.5 / sigma**2 - 0.5 / (lam + sigma**2) for lam in torch.linalg.eigvalsh(cov).tolist()
    )


def _c_sigma_numpy(cov, sigma):
    noisy = cov.numpy() + sigma**2 * np.eye(cov.shape[0])
    return cov.shape[0] / (2 * sigma**2) - 0.5 * float(np.trace(np.linalg.inv(noisy)))


def _c_sigma_in_place(cov, sigma):
    return (
        cov.shape[0] / (2 * sigma**2)
        - 0.5 * torch.linalg.inv(cov.add_(sigma**2 * _eye(cov))).trace()
    )


def _with_precision(precision, first=lambda d, s: d / (2 * s**2), sign=-1.0, factor=0.5):
    return lambda cov, s: first(cov.shape[0], s) + sign * factor * precision(cov, s).trace()


_noisy = lambda cov, s: torch.linalg.inv(cov + s**2 * _eye(cov))  # noqa: E731


@pytest.mark.parametrize(
    "answer, message",
    [
        (_c_sigma, None),
        (_c_sigma_eigen, None),
        (_c_sigma_numpy, None),
        (_c_sigma_in_place, None),
        (lambda cov, s: cov.shape[0] / (2 * s**2), "second term"),
        (lambda cov, s: 2 * _c_sigma(cov, s), "factor 1/2"),
        (_with_precision(_noisy, sign=1.0), "is subtracted"),
        (_with_precision(lambda cov, s: torch.linalg.inv(cov)), "clean data"),
        (_with_precision(lambda cov, s: torch.linalg.inv(cov + s * _eye(cov))), "not sigma I"),
        (_with_precision(_noisy, first=lambda d, s: 1 / (2 * s**2)), "d / sigma\\^2"),
        (_with_precision(lambda cov, s: _noisy(cov, s) @ _noisy(cov, s)), "tr\\(A S A\\^T\\)"),
        (
            lambda cov, s: (
                cov.shape[0] / (2 * s**2) - cov.shape[0] / (2 * (cov.trace() / cov.shape[0] + s**2))
            ),
            "all variances are equal",
        ),
        (lambda cov, s: 1.0, "the right value is"),
        (lambda cov, s: torch.ones(2), "should return a number"),
    ],
)
def test_gaussian_c_sigma_checker(answer, message):
    assert_feedback(ch03.check_gaussian_c_sigma, answer, message)


# --- Exercise 3.3: a denoising loss and a training loop ---------------------------------


def _loss(target=lambda z, s: -z / s, at="noisy", factor=0.5, reduce="sum", noise=torch.randn):
    """A dsm_loss(model, x, sigma, generator), right by default, with one mistake if asked."""

    def loss(model, x, sigma, generator):
        z = noise(x.shape, generator=generator, dtype=x.dtype)
        point = {"noisy": x + sigma * z, "clean": x, "unscaled": x + z}[at]
        squares = (model(point) - target(z, sigma)) ** 2
        per_point = squares.sum(1) if reduce == "sum" else squares.mean(1)
        return factor * per_point.mean()

    return loss


def _global_noise(shape, generator, dtype):
    return torch.randn(shape, dtype=dtype)  # ignores the generator


def _fit(loss=None, optimizer=torch.optim.Adam, zero_grad=True, batches="generator", lr=None):
    """A fit_score with mini-batches drawn as asked, right by default."""
    loss = loss or _loss()

    def fit(model, data, sigma, n_steps, lr_given, generator, batch_size=256):
        adam = optimizer(model.parameters(), lr=lr_given if lr is None else lr)
        history = []
        for _ in range(n_steps):
            if batches == "global":
                rows = torch.randint(len(data), (batch_size,))
            else:
                rows = torch.randint(len(data), (batch_size,), generator=generator)
            value = loss(model, data[rows], sigma, generator)
            if zero_grad:
                adam.zero_grad()
            value.backward()
            adam.step()
            history.append(value.item())
        return history

    return fit


def _fit_with_loader(model, data, sigma, n_steps, lr, generator, batch_size=256):
    loader = DataLoader(
        TensorDataset(data), batch_size=batch_size, shuffle=True, generator=generator
    )
    optimizer, history = torch.optim.Adam(model.parameters(), lr=lr), []
    while len(history) < n_steps:
        for (batch,) in loader:
            value = _loss()(model, batch, sigma, generator)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            history.append(value.item())
            if len(history) == n_steps:
                break
    return history


@pytest.mark.parametrize(
    "loss, fit, message",
    [
        (_loss(), _fit(), None),
        (_loss(factor=1.0), _fit(_loss(factor=1.0)), None),
        (_loss(reduce="mean"), _fit(_loss(reduce="mean")), None),
        (_loss(), _fit_with_loader, None),
        # the loss, checked exactly
        (_loss(target=lambda z, s: z / s), _fit(), "wrong sign"),
        (_loss(target=lambda z, s: -z / s**2), _fit(), "not -z/sigma\\^2"),
        (_loss(target=lambda z, s: -s * z), _fit(), "yours multiplies"),
        (_loss(at="clean"), _fit(), "evaluated at the clean points"),
        (_loss(target=lambda z, s: 0 * z, at="clean"), _fit(), "no noise at all"),
        (_loss(at="unscaled"), _fit(), "scale it by sigma"),
        (_loss(noise=torch.rand), _fit(), "torch.randn"),
        (_loss(noise=_global_noise), _fit(), "draw the noise with the generator"),
        (lambda m, x, s, g: _loss()(m, x, s, g).detach(), _fit(), "detached"),
        (lambda m, x, s, g: _loss()(m, x, s, g).item(), _fit(), "torch.Tensor"),
        # the loop, on a few steps
        (_loss(), _fit(zero_grad=False), "zero_grad"),
        (_loss(), _fit(batches="global"), "global random state"),
        (_loss(), _fit(optimizer=torch.optim.SGD), "Adam's first step"),
        (_loss(), _fit(lr=1e-3), "Adam's first step"),
        (_loss(), lambda *args, **kwargs: _fit()(*args, **kwargs) and None, "list of its losses"),
        # the learned field, when the loop trains with another loss than the one checked
        (_loss(), _fit(_loss(target=lambda z, s: z / s)), "points away from the data"),
        (_loss(), _fit(_loss(target=lambda z, s: -z / s**2)), "too long"),
        (_loss(), _fit(_loss(at="clean")), "nearly zero"),
    ],
)
def test_score_training_checker(loss, fit, message):
    assert_feedback(lambda f: ch03.check_score_training(loss, f), fit, message)


@pytest.mark.parametrize(
    "loss, note",
    [(_loss(), None), (_loss(factor=1.0), "2 J_DSM"), (_loss(reduce="mean"), "J_DSM / 2")],
)
def test_score_training_accepts_any_multiple_of_the_loss_and_says_so(loss, note):
    passed, out = run_checker(lambda f: ch03.check_score_training(loss, f), _fit(loss))
    assert passed, out
    assert ("the same minimizer" in out) == (note is not None), out
    if note:
        assert f"your loss is {note}" in out, out


@pytest.mark.parametrize("seed", range(5))
def test_score_training_reference_passes_for_five_seeds(seed):
    assert_feedback(lambda f: ch03.check_score_training(_loss(), f, seed=seed), _fit(), None)


def test_score_training_wants_both_functions():
    passed, out = run_checker(lambda f: ch03.check_score_training(f, None), _loss())
    assert not passed and "pass both functions" in out, out


# --- Exercise 3.4: a network trained at a small sigma ------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        ("e", "mostly noise"),
        ("(E)", "mostly noise"),
        ("a", "started on fresh samples"),
        ("b", "four times as many"),
        ("c", "exact noisy score"),
        ("d", "noise-free|exact noisy score instead"),
        ("f", "answer with one of"),
    ],
)
def test_small_sigma_diagnosis(answer, message):
    passed, out = run_checker(ch03.check_small_sigma_diagnosis, answer)
    assert passed == (answer.strip("()").lower() == "e"), out
    assert re.search(message, out), out


@pytest.mark.parametrize(
    "check, arguments",
    [
        (ch03.check_gaussian_c_sigma, ()),
        (ch03.check_score_training, (lambda *args: None,)),
    ],
)
def test_new_chapter3_checkers_report_not_attempted(check, arguments):
    def todo(*args):
        raise NotImplementedError

    passed, out = run_checker(lambda f: check(f, *arguments), todo)
    assert not passed and out.startswith("⏳"), out
    passed, out = run_checker(ch03.check_small_sigma_diagnosis, None)
    assert not passed and out.startswith("⏳"), out


def test_new_checkers_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    run_checker(ch03.check_gaussian_c_sigma, _c_sigma)
    run_checker(lambda f: ch03.check_score_training(_loss(noise=_global_noise), f), _fit())
    run_checker(lambda f: ch03.check_score_training(_loss(), f), _fit(batches="global"))
    assert torch.equal(before, torch.get_rng_state())
