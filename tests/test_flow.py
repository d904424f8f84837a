"""The probability-flow ODE: solver orders, DDIM, and exact log-likelihoods."""

import math

import gaussian_diffusion as gauss
import pytest
import torch

from ebm_book import diffusion, flow
from ebm_book.mixtures import GaussianMixture
from ebm_book.processes import VarianceExploding, VariancePreserving

PROCESSES = {
    "VP": VariancePreserving(),
    "VE geometric": VarianceExploding(0.01, 10.0),
    "VE linear": VarianceExploding(0.01, 10.0, schedule="linear"),
}
SOLVERS = {"euler": (flow.euler, 1), "heun": (flow.heun, 2), "ddim": (flow.ddim, 1)}
MIXTURE = GaussianMixture([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]], [0.3, 0.5, 0.2], [0.5, 0.3, 0.2])


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def matrix_power(cov, power):
    values, vectors = torch.linalg.eigh(cov)
    return vectors @ torch.diag(values**power) @ vectors.T


def exact_flow(process, x1, t):
    """The ODE's exact map for Gaussian data: x(t) = mu_t + C_t^(1/2) C_1^(-1/2) (x(1) - mu_1).

    (All C_t = a^2 S + v I commute, and the flow moves N(mu_1, C_1) onto N(mu_t, C_t).)
    """
    mean_1, cov_1 = gauss.moments(process, 1.0)
    mean_t, cov_t = gauss.moments(process, t)
    return mean_t + (x1 - mean_1) @ (matrix_power(cov_t, 0.5) @ matrix_power(cov_1, -0.5)).T


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("process_name", list(PROCESSES))
def test_ode_solvers_converge_at_their_order(process_name, solver):
    """Each sample's error against the exact flow shrinks like 1/K (Euler, DDIM) or 1/K^2 (Heun)."""
    process, (sample, order) = PROCESSES[process_name], SOLVERS[solver]
    x1 = gauss.prior_draw(process, 100, seed=1)
    exact = exact_flow(process, x1, process.t_min)
    errors = [
        (sample(gauss.score(process), process, x1, n, denoise=False).samples - exact)
        .abs()
        .max()
        .item()
        for n in (40, 80, 160)
    ]
    assert errors[0] > errors[1] > errors[2], errors
    assert abs(math.log2(errors[1] / errors[2]) - order) < 0.15, errors


@pytest.mark.parametrize("solver, n_steps", [("euler", 400), ("heun", 40), ("ddim", 400)])
@pytest.mark.parametrize("process_name", ["VP", "VE linear"])
def test_flow_samplers_reproduce_a_gaussian_target(monkeypatch, process_name, solver, n_steps):
    """4000 samples: mean and covariance within 4.5 standard errors of p_{t_min} (see
    test_diffusion for the errors); the exact discretisation error stays below one."""
    process, n = PROCESSES[process_name], 4000
    sample = SOLVERS[solver][0]
    mean_t, cov_t = gauss.moments(process, process.t_min)
    se_mean = (cov_t.diag() / n).sqrt()
    se_cov = ((cov_t.diag()[:, None] * cov_t.diag()[None, :] + cov_t**2) / n).sqrt()

    def run(x):
        return sample(gauss.score(process), process, x, n_steps, denoise=False).samples

    exact_mean, exact_cov = gauss.exact_moments(monkeypatch, run, process, 0)
    assert ((exact_mean - mean_t).abs() < se_mean).all() and (
        (exact_cov - cov_t).abs() < se_cov
    ).all()
    x = run(gauss.prior_draw(process, n, seed=2))
    assert ((x.mean(0) - mean_t).abs() < 4.5 * se_mean).all(), (x.mean(0), mean_t)
    assert ((torch.cov(x.T) - cov_t).abs() < 4.5 * se_cov).all(), (torch.cov(x.T), cov_t)


def test_ddim_on_the_linear_ve_clock_is_euler_on_the_ode():
    """With sigma(t) linear in t and no scaling, DDIM's jump is an Euler step (Karras et al.)."""
    process = PROCESSES["VE linear"]
    start = gauss.prior_draw(process, 50, seed=5)
    ddim = flow.ddim(gauss.score(process), process, start, 25)
    euler = flow.euler(gauss.score(process), process, start, 25)
    torch.testing.assert_close(ddim.samples, euler.samples)


def test_heun_ends_with_an_euler_step_into_a_time_without_noise():
    process = PROCESSES["VP"]
    counted = diffusion.ScoreCounter(gauss.score(process))
    result = flow.heun(
        counted, process, gauss.prior_draw(process, 10, seed=6), times=torch.linspace(1, 0, 11)
    )
    assert (
        result.score_evaluations == counted.calls == 19
    )  # 2 per step, 1 on the last, no denoising


def exact_log_densities(process, x, result):
    """log p_{t_min}(x), and the ODE's estimate with the exact p_1 in place of the prior."""
    exact = process.marginal(MIXTURE, process.t_min).log_prob(x)
    with_exact_end = (
        process.marginal(MIXTURE, 1.0).log_prob(result.end) + result.divergence_integral
    )
    return exact, with_exact_end


@pytest.mark.parametrize("process_name", ["VP", "VE geometric"])
def test_the_ode_log_likelihood_of_a_mixture_is_its_exact_log_density(process_name):
    """Heun's error is C h^2: from K = 20 and 40 steps, Richardson's estimate of the error at
    K = 40 is |L_20 - L_40| / 3; the error must be below twice that estimate. Then the
    estimate with the process's prior differs only by the prior's mismatch with p_1."""
    process = PROCESSES[process_name]
    x = MIXTURE.sample(40, generator=seeded(7)).double()
    score = process.time_score(MIXTURE.noisy_score)
    coarse = flow.log_likelihood(score, process, x, 20)
    fine = flow.log_likelihood(score, process, x, 40)
    exact, coarse_exact_end = exact_log_densities(process, x, coarse)
    _, fine_exact_end = exact_log_densities(process, x, fine)
    tolerance = 2 * (coarse_exact_end - fine_exact_end).abs().max().item() / 3
    error = (fine_exact_end - exact).abs().max().item()
    assert error < tolerance, (error, tolerance)
    assert (coarse_exact_end - exact).abs().max().item() > 3 * error  # second order: about 4x
    mismatch = (fine.prior_log_prob - process.marginal(MIXTURE, 1.0).log_prob(fine.end)).abs()
    assert ((fine.log_prob - exact).abs() <= tolerance + mismatch + 1e-12).all()
    torch.testing.assert_close(fine.bits_per_dim, -fine.log_prob / (2 * math.log(2)))
    assert fine.score_evaluations == 80


def test_hutchinson_s_divergence_gives_an_unbiased_log_likelihood():
    """Each of 5 points repeated 400 times: the mean over the Hutchinson estimates matches
    the exact-divergence value (the paths are the same) within 4.5 standard errors of
    that mean, from the estimates' own spread."""
    process = PROCESSES["VP"]
    score = process.time_score(MIXTURE.noisy_score)
    x = MIXTURE.sample(5, generator=seeded(8)).double()
    exact = flow.log_likelihood(score, process, x, 10).log_prob
    repeated = x.repeat_interleave(400, dim=0)
    estimates = flow.log_likelihood(
        score, process, repeated, 10, divergence="hutchinson", generator=seeded(9)
    ).log_prob.reshape(5, 400)
    standard_error = estimates.std(dim=1) / math.sqrt(400)
    assert (standard_error > 0).all()
    assert ((estimates.mean(dim=1) - exact).abs() < 4.5 * standard_error).all()
