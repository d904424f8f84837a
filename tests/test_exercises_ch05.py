"""Chapter 5 graders: the reference answers and other correct ones pass, each known mistake
gets its hint, and the statistical grader passes the reference for five seeds."""

import math

import numpy as np
import pytest
import torch
from checker_helpers import assert_feedback, run_checker

from ebm_book.contrastive import short_run_langevin
from ebm_book.exercises import ch05_likelihood as ch05
from ebm_book.score import score_from_energy

# --- Exercise 5.1: the gradient of log Z --------------------------------------------------


def _via_expectation(theta_1, theta_2_norm, d):
    """-E|x|^2 / 2 under N(-theta_2 / theta_1, I / theta_1): trace plus squared mean."""
    trace = d / theta_1
    squared_mean = (theta_2_norm / theta_1) ** 2
    return -0.5 * (trace + squared_mean)


def _by_finite_differences(theta_1, theta_2_norm, d, h=1e-6):
    """The derivative of the closed form log Z, numerically (numpy)."""

    def log_z(t):
        return 0.5 * d * np.log(2 * np.pi / t) + theta_2_norm**2 / (2 * t)

    return float((log_z(theta_1 + h) - log_z(theta_1 - h)) / (2 * h))


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda t1, b, d: -d / (2 * t1) - b**2 / (2 * t1**2), None),
        (_via_expectation, None),
        (_by_finite_differences, None),
        (lambda t1, b, d: d / (2 * t1) + b**2 / (2 * t1**2), "sign is flipped"),
        (lambda t1, b, d: -d / (2 * t1), "mean, -theta_2 / theta_1, is not zero"),
        (lambda t1, b, d: -1 / (2 * t1) - b**2 / (2 * t1**2), "counts one coordinate"),
        (lambda t1, b, d: -d / t1 - b**2 / t1**2, "twice the answer"),
        (lambda t1, b, d: -d / (2 * t1) + b**2 / (2 * t1**2), "same sign as the variance"),
        (lambda t1, b, d: -d * t1 / 2 - b**2 * t1**2 / 2, "theta_1 is the precision"),
        (lambda t1, b, d: -d / (2 * t1) - b**2 / (2 * t1), r"\|theta_2\|\^2 / theta_1\^2"),
        (lambda t1, b, d: -1.0, "the right value is"),
        (lambda t1, b, d: "a formula", "should return a number"),
    ],
)
def test_log_z_gradient_checker(answer, message):
    assert_feedback(ch05.check_log_z_gradient, answer, message)


# --- Exercise 5.2: persistent contrastive divergence ---------------------------------------


def _pcd(
    sign=1.0,
    negative=True,
    start="buffer",
    noise_factor=1.0,
    drift_factor=0.5,
    steps_offset=0,
    in_place=True,
    draw="randperm",
    restart="below",
    restart_noise="uniform",
    reduce="mean",
    rng="generator",
    through_sampler=False,
):
    """A pcd_loss, right by default, with one mistake if asked."""

    def pcd_loss(
        energy, batch, buffer, step_size, n_steps, generator, reinit_prob=0.05, box=(-4.0, 4.0)
    ):
        g = generator if rng == "generator" else None
        n, d = batch.shape
        if draw == "randperm":
            index = torch.randperm(len(buffer), generator=g)[:n]
        else:
            index = torch.randint(len(buffer), (n,), generator=g)
        u = torch.rand(n, generator=g)
        restarting = u < reinit_prob if restart == "below" else u > reinit_prob
        if restart_noise == "uniform":
            noise = box[0] + (box[1] - box[0]) * torch.rand(n, d, generator=g)
        else:
            noise = torch.randn(n, d, generator=g)
        x = torch.where(restarting[:, None], noise.to(buffer), buffer[index])
        if start == "data":
            x = batch.clone()
        if through_sampler:  # the chains keep their graph, as EnergyMLP.score does
            x = x.clone().requires_grad_(True)
        for _ in range(n_steps + steps_offset):
            if not through_sampler:
                x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(x).sum(), x, create_graph=through_sampler)
            z = torch.randn(x.shape, generator=g, dtype=x.dtype)
            x = x - drift_factor * step_size * grad + noise_factor * math.sqrt(step_size) * z
        samples = x if through_sampler else x.detach()
        if in_place:
            buffer[index] = samples.detach()
        else:
            buffer = buffer.clone()
            buffer[index] = samples.detach()
        total = torch.sum if reduce == "sum" else torch.mean
        loss = total(energy(batch))
        if negative:
            loss = loss - total(energy(samples))
        return sign * loss

    return pcd_loss


def _pcd_with_package_sampler(
    energy, batch, buffer, step_size, n_steps, generator, reinit_prob=0.05, box=(-4.0, 4.0)
):
    """Another correct answer: torch.bernoulli for the restarts, the package's sampler."""
    n, d = batch.shape
    index = torch.randperm(len(buffer), generator=generator)[:n]
    restarting = torch.bernoulli(torch.full((n, 1), reinit_prob), generator=generator).bool()
    noise = torch.empty(n, d, dtype=buffer.dtype).uniform_(*box, generator=generator)
    x0 = torch.where(restarting, noise, buffer[index])
    samples = short_run_langevin(energy, x0, step_size, n_steps, generator).samples
    buffer.index_copy_(0, index, samples)
    return energy(batch).mean() - energy(samples).mean()


def _pcd_with_score_function(
    energy, batch, buffer, step_size, n_steps, generator, reinit_prob=0.05, box=(-4.0, 4.0)
):
    """Another correct answer: score_from_energy, and the chains in a copy written back."""
    n, d = batch.shape
    index = torch.randperm(buffer.shape[0], generator=generator)[:n]
    x = buffer[index].clone()
    fresh = torch.rand(n, generator=generator) < reinit_prob
    x[fresh] = box[0] + (box[1] - box[0]) * torch.rand(int(fresh.sum()), d, generator=generator).to(
        x
    )
    for _ in range(n_steps):
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x + step_size / 2 * score_from_energy(energy, x) + step_size**0.5 * z
    buffer[index] = x
    return energy(batch).mean() - energy(x).mean()


def _pcd_detached_loss(*args, **kwargs):
    return _pcd()(*args, **kwargs).detach()


def _pcd_as_number(*args, **kwargs):
    return _pcd()(*args, **kwargs).item()


def _pcd_one_chain_at_a_time(
    energy, batch, buffer, step_size, n_steps, generator, reinit_prob=0.05, box=(-4.0, 4.0)
):
    """Right, but each chain runs on its own: 64 times the autograd calls."""
    n, d = batch.shape
    index = torch.randperm(len(buffer), generator=generator)[:n]
    samples = []
    for i in index.tolist():
        x = buffer[i : i + 1].clone()
        if torch.rand(1, generator=generator).item() < reinit_prob:
            x = box[0] + (box[1] - box[0]) * torch.rand(1, d, generator=generator).to(x)
        for _ in range(n_steps):
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(x).sum(), x)
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            x = x - 0.5 * step_size * grad + math.sqrt(step_size) * z
        samples.append(x.detach())
    samples = torch.cat(samples)
    buffer[index] = samples
    return energy(batch).mean() - energy(samples).mean()


@pytest.mark.parametrize(
    "answer, message",
    [
        (_pcd(), None),
        (_pcd_with_package_sampler, None),
        (_pcd_with_score_function, None),
        # the contract
        (_pcd_detached_loss, "detached"),
        (_pcd_as_number, "should return a torch.Tensor"),
        (_pcd(through_sampler=True), "flows back through the Langevin steps"),
        (_pcd_one_chain_at_a_time, "looping over single chains"),
        (_pcd(in_place=False), "in place"),
        (_pcd(draw="randint"), "without repetition"),
        (_pcd(rng="global"), "global random state"),
        # the sampler
        (_pcd(noise_factor=math.sqrt(2)), "not sqrt\\(2 step_size\\)"),
        (_pcd(drift_factor=1.0), "drift is twice too strong"),
        (_pcd(drift_factor=1.0, noise_factor=math.sqrt(2)), "the other convention"),
        (_pcd(noise_factor=0.0), "do not spread at all"),
        (_pcd(drift_factor=-0.5), "run away from the energy's minimum|left the finite numbers"),
        (_pcd(steps_offset=-1), "took 4 steps"),
        # the restarts
        (_pcd(restart="above"), "u < reinit_prob"),
        (_pcd(restart_noise="gaussian"), "uniform in the box"),
        # the gradient
        (_pcd(sign=-1.0), "wrong sign"),
        (_pcd(negative=False), "negative phase is missing"),
        (_pcd(start="data"), "start at the stored states"),
        (_pcd(reduce="sum"), "n times too large"),
    ],
)
def test_pcd_loss_checker(answer, message):
    assert_feedback(ch05.check_pcd_loss, answer, message)


@pytest.mark.parametrize("seed", range(5))
def test_pcd_loss_reference_passes_for_five_seeds(seed):
    assert_feedback(lambda f: ch05.check_pcd_loss(f, seed=seed), _pcd(), None)


def test_pcd_loss_checker_reports_not_attempted():
    def todo(*args, **kwargs):
        raise NotImplementedError

    passed, out = run_checker(ch05.check_pcd_loss, todo)
    assert not passed and out.startswith("⏳"), out


# --- Exercise 5.3: a run whose energies run away -------------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        ("c", "never keeps its chains' variance below its step"),
        ("(C)", "never keeps its chains' variance below its step"),
        (" C ", "never keeps its chains' variance below its step"),
        ("a", "only delays the runaway"),
        ("b", "three times as many Langevin steps"),
        ("d", "fits the three modes well"),
        ("e", "answer with one of"),
    ],
)
def test_runaway_diagnosis(answer, message):
    passed, out = run_checker(ch05.check_runaway_diagnosis, answer)
    assert passed == (answer.strip(" ()").lower() == "c"), out
    assert message in out, out


def test_diagnosis_and_derivation_report_not_attempted():
    passed, out = run_checker(ch05.check_runaway_diagnosis, None)
    assert not passed and out.startswith("⏳"), out

    def todo(*args):
        raise NotImplementedError

    passed, out = run_checker(ch05.check_log_z_gradient, todo)
    assert not passed and out.startswith("⏳"), out


def test_checkers_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    run_checker(ch05.check_pcd_loss, _pcd(rng="global"))
    run_checker(ch05.check_pcd_loss, _pcd(noise_factor=0.0))
    run_checker(ch05.check_log_z_gradient, lambda t1, b, d: -d / (2 * t1))
    assert torch.equal(before, torch.get_rng_state())
