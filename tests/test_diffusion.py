"""Stochastic diffusion samplers against a Gaussian target, whose scores are all exact."""

import math

import gaussian_diffusion as gauss
import pytest
import torch

from ebm_book import diffusion, sampling
from ebm_book.ddpm import DDPMSchedule
from ebm_book.mixtures import GaussianMixture
from ebm_book.noise import geometric_sigmas
from ebm_book.processes import VarianceExploding, VariancePreserving

PROCESSES = {"VP": VariancePreserving(), "VE": VarianceExploding(0.01, 10.0)}
SAMPLERS = {
    "euler_maruyama": diffusion.euler_maruyama,
    "ancestral": diffusion.ancestral,
    "reverse_diffusion": lambda *args, **kw: diffusion.predictor_corrector(
        *args, corrector_steps=0, **kw
    ),
}


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def run(name, process, start, n_steps, generator=None, **kw):
    return SAMPLERS[name](gauss.score(process), process, start, n_steps, generator, **kw)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("process_name", list(PROCESSES))
def test_stochastic_samplers_converge_at_first_order(monkeypatch, process_name, sampler):
    """The exact error of the output's mean and covariance halves when the steps double.

    Exact: the moments come from the sampler's impulse responses (no sampling error).
    Euler-Maruyama on this VE process converges faster than first order (the first-order
    term of its covariance error nearly cancels for this schedule): at least first order.
    """
    process = PROCESSES[process_name]
    errors = []
    for n_steps in (40, 80, 160):
        mean, cov = gauss.exact_moments(
            monkeypatch,
            lambda x: run(sampler, process, x, n_steps, denoise=False).samples,  # noqa: B023
            process,
            n_steps,
        )
        errors.append(gauss.relative_error(process, process.t_min, mean, cov))
    order = math.log2(errors[1] / errors[2])
    assert errors[0] > errors[1] > errors[2], errors
    if (process_name, sampler) == ("VE", "euler_maruyama"):
        assert order > 0.85, errors
    else:
        assert abs(order - 1) < 0.15, (errors, order)


CASES = {  # sampler: (steps, keywords); the exact bias at these steps is checked below
    "euler_maruyama": (200, {}),
    "ancestral": (500, {}),
    "reverse_diffusion": (600, {}),
}


@pytest.mark.parametrize("sampler", list(CASES))
@pytest.mark.parametrize("process_name", list(PROCESSES))
def test_samplers_reproduce_a_gaussian_target(monkeypatch, process_name, sampler):
    """4000 samples from p_1 to p_{t_min}: mean and covariance within 4.5 standard errors.

    Standard errors of n Gaussian samples: sqrt(C_ii / n) for the means and
    sqrt((C_ii C_jj + C_ij^2) / n) for the covariances. The exact discretisation error
    at these step counts (from the impulse responses) is asserted to stay below one of
    them, so that what is tested is the sampling, not the bias.
    """
    process, n = PROCESSES[process_name], 4000
    n_steps, keywords = CASES[sampler]
    mean_t, cov_t = gauss.moments(process, process.t_min)
    se_mean = (cov_t.diag() / n).sqrt()
    se_cov = ((cov_t.diag()[:, None] * cov_t.diag()[None, :] + cov_t**2) / n).sqrt()
    exact_mean, exact_cov = gauss.exact_moments(
        monkeypatch,
        lambda x: run(sampler, process, x, n_steps, denoise=False, **keywords).samples,
        process,
        n_steps,
    )
    assert ((exact_mean - mean_t).abs() < se_mean).all() and (
        (exact_cov - cov_t).abs() < se_cov
    ).all()
    start = gauss.prior_draw(process, n, seed=1)
    x = run(sampler, process, start, n_steps, seeded(2), denoise=False, **keywords).samples
    assert ((x.mean(0) - mean_t).abs() < 4.5 * se_mean).all(), (x.mean(0), mean_t)
    assert ((torch.cov(x.T) - cov_t).abs() < 4.5 * se_cov).all(), (torch.cov(x.T), cov_t)


@pytest.mark.parametrize("process_name", list(PROCESSES))
def test_predictor_corrector_reproduces_a_gaussian_target(process_name):
    """As above; the Langevin corrector at snr = 0.05 adds a bias of about 0.3% of the
    covariance (Chapter 2's eps / 4, with eps = 4 snr^2 |z|^2 / |s|^2), far below one
    standard error (2.2% here)."""
    process, n = PROCESSES[process_name], 4000
    mean_t, cov_t = gauss.moments(process, process.t_min)
    start = gauss.prior_draw(process, n, seed=3)
    result = diffusion.predictor_corrector(
        gauss.score(process), process, start, 300, seeded(4), snr=0.05, denoise=False
    )
    x = result.samples
    se_mean = (cov_t.diag() / n).sqrt()
    se_cov = ((cov_t.diag()[:, None] * cov_t.diag()[None, :] + cov_t**2) / n).sqrt()
    assert ((x.mean(0) - mean_t).abs() < 4.5 * se_mean).all(), (x.mean(0), mean_t)
    assert ((torch.cov(x.T) - cov_t).abs() < 4.5 * se_cov).all(), (torch.cov(x.T), cov_t)
    assert result.score_evaluations == 600


def test_denoising_gives_tweedie_s_posterior_mean():
    """The final step maps x_t to E[x_0 | x_t]: for Gaussian data, m + a S C^{-1}(x - a m)."""
    process = PROCESSES["VP"]
    start = gauss.prior_draw(process, 10, seed=5)
    noisy = run("ancestral", process, start, 20, seeded(6), denoise=False).samples
    clean = run("ancestral", process, start, 20, seeded(6)).samples
    mean_t, cov_t = gauss.moments(process, process.t_min)
    a = process.mean_coefficient(process.t_min).item()
    torch.testing.assert_close(
        clean, gauss.MEAN + (noisy - mean_t) @ torch.linalg.inv(cov_t) @ (a * gauss.COV)
    )


def test_ancestral_sampling_on_ddpm_s_grid_is_ho_et_al_algorithm_2():
    """x_{i-1} = (x_i - beta_i / sqrt(1 - alpha_bar_i) z_theta) / sqrt(alpha_i) + sqrt(beta~_i) z,
    with z = 0 at i = 1, run by hand from the same noise."""
    ddpm = DDPMSchedule.linear(100, 1e-3, 0.2)
    score = gauss.score(ddpm)
    start = gauss.prior_draw(ddpm, 50, seed=7)
    package = diffusion.ancestral(score, ddpm, start, 99, seeded(8))
    x, generator = start.clone(), seeded(8)
    betas, alphas, alpha_bars = ddpm.betas, ddpm.alphas, ddpm.alpha_bars
    for i in range(100, 0, -1):
        t = torch.full((50,), i / 100, dtype=torch.float64)
        noise = -math.sqrt(1 - alpha_bars[i - 1]) * score(x, t)  # z_theta = -sqrt(1 - alpha_bar) s
        mean = (x - betas[i - 1] / math.sqrt(1 - alpha_bars[i - 1]) * noise) / math.sqrt(
            alphas[i - 1]
        )
        if i > 1:
            posterior = (1 - alpha_bars[i - 2]) / (1 - alpha_bars[i - 1]) * betas[i - 1]
            x = mean + math.sqrt(posterior) * torch.randn(
                x.shape, generator=generator, dtype=x.dtype
            )
        else:
            x = mean
    torch.testing.assert_close(package.samples, x)
    assert package.score_evaluations == 100


def test_chapter_4_samplers_take_the_steps_they_always_took():
    """Annealed Langevin, reverse diffusion and the probability flow on noise levels, now run
    by the diffusion samplers, against their updates written out (float64: rounding only)."""
    mixture = GaussianMixture([[-2.0, 0.0], [2.0, 1.0]], 0.3, [0.3, 0.7])
    score = mixture.noisy_score
    sigmas = geometric_sigmas(8.0, 0.05, 30).double()
    x0 = 8 * torch.randn(200, 2, generator=seeded(9), dtype=torch.float64)
    level = lambda x, s: torch.full((len(x),), s.item(), dtype=x.dtype)  # noqa: E731

    x, g = x0.clone(), seeded(10)
    for s in sigmas:  # annealed Langevin, M = 3, eps_i = eps s_i^2 / s_L^2
        eps = 1e-3 * (s / sigmas[-1]).item() ** 2
        for _ in range(3):
            drift = score(x, level(x, s))
            x = (
                x
                + 0.5 * eps * drift
                + math.sqrt(eps) * torch.randn(x.shape, generator=g, dtype=x.dtype)
            )
    x = x + sigmas[-1] ** 2 * score(x, level(x, sigmas[-1]))
    torch.testing.assert_close(
        sampling.annealed_langevin(score, x0, sigmas, 1e-3, 3, seeded(10)).samples, x
    )

    x, g = x0.clone(), seeded(11)
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):  # reverse diffusion
        variance = (s**2 - s_next**2).item()
        x = (
            x
            + variance * score(x, level(x, s))
            + math.sqrt(variance) * torch.randn(x.shape, generator=g, dtype=x.dtype)
        )
    x = x + sigmas[-1] ** 2 * score(x, level(x, sigmas[-1]))
    torch.testing.assert_close(sampling.reverse_diffusion(score, x0, sigmas, seeded(11)).samples, x)

    x = x0.clone()
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):  # Heun in sigma on dx/dsigma = -sigma s
        h = s_next - s
        d_start = -s * score(x, level(x, s))
        d_end = -s_next * score(x + h * d_start, level(x, s_next))
        x = x + h * 0.5 * (d_start + d_end)
    torch.testing.assert_close(sampling.probability_flow(score, x0, sigmas).samples, x)


def test_score_evaluations_are_counted_and_recorded_with_their_times():
    process = PROCESSES["VE"]
    counted = diffusion.ScoreCounter(gauss.score(process))
    start = gauss.prior_draw(process, 30, seed=12)
    runs = [
        (
            lambda: diffusion.euler_maruyama(
                counted, process, start, 20, seeded(13), record_every=5
            ),
            21,
        ),
        (lambda: diffusion.ancestral(counted, process, start, 20, seeded(13), denoise=False), 20),
        (
            lambda: diffusion.predictor_corrector(
                counted, process, start, 20, seeded(13), corrector_steps=2
            ),
            61,
        ),
        (
            lambda: diffusion.predictor_corrector(
                counted,
                process,
                start,
                20,
                seeded(13),
                predictor=None,
                corrector_steps=2,
                step_size=1e-4,
            ),
            43,
        ),
    ]
    results = []
    for sample, expected in runs:
        results.append(sample())
        assert results[-1].score_evaluations == expected == counted.reset()
    recorded = results[0]
    assert recorded.trajectory.shape == (5, 30, 2)
    torch.testing.assert_close(recorded.times, process.time_grid(20)[::5])
    torch.testing.assert_close(recorded.trajectory[0], start)


def test_a_time_grid_may_be_given_instead_of_a_number_of_steps():
    process = PROCESSES["VP"]
    start = gauss.prior_draw(process, 30, seed=14)
    by_steps = diffusion.euler_maruyama(gauss.score(process), process, start, 10, seeded(15))
    by_grid = diffusion.euler_maruyama(
        gauss.score(process), process, start, times=process.time_grid(10), generator=seeded(15)
    )
    torch.testing.assert_close(by_steps.samples, by_grid.samples)
