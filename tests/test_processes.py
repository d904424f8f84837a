"""Noise processes: marginals, transitions and scores against their closed forms."""

import math

import gaussian_diffusion as gauss
import pytest
import torch

from ebm_book.ddpm import DDPMSchedule
from ebm_book.mixtures import GaussianMixture
from ebm_book.processes import VarianceExploding, VariancePreserving
from ebm_book.score import score_from_energy

PROCESSES = {
    "VE geometric": VarianceExploding(0.05, 5.0),
    "VE linear": VarianceExploding(0.0, 5.0, schedule="linear"),
    "VP": VariancePreserving(),
    "DDPM": DDPMSchedule.linear(200, 0.1 / 200, 20.0 / 200),
}
MIXTURE = GaussianMixture([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]], [0.3, 0.5, 0.2], [0.5, 0.3, 0.2])


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("method", ["exact", "euler_maruyama"])
@pytest.mark.parametrize("name", list(PROCESSES))
def test_simulated_marginals_match_the_closed_form(name, method):
    """Chains started at one point x0: at each recorded time, mean a(t) x0 and std(t).

    Tolerances: 4.5 standard errors of n = 10^4 chains (sd / sqrt(n) for the mean,
    v sqrt(2 / (n - 1)) for the variance). Euler-Maruyama's own bias with 1000 steps is
    below 0.5% of the variance, a third of one standard error.
    """
    process, n = PROCESSES[name], 10_000
    x0 = torch.tensor([[2.0, -1.0]], dtype=torch.float64).repeat(n, 1)
    n_steps = 200 if method == "exact" else 1000  # exact: DDPM's chain on its own grid
    result = process.simulate(x0, n_steps, seeded(1), method=method, record_every=n_steps // 4)
    assert result.times.tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    for t, x in zip(result.times.tolist(), result.trajectory):
        mean, std = process.mean_coefficient(t).item() * x0[0], process.sigma(t).item()
        if std == 0:
            assert torch.equal(x, x0)
            continue
        assert ((x.mean(0) - mean).abs() < 4.5 * std / math.sqrt(n)).all(), (t, x.mean(0), mean)
        assert ((x.var(0) - std**2).abs() < 4.5 * std**2 * math.sqrt(2 / (n - 1))).all()


@pytest.mark.parametrize("name", list(PROCESSES))
def test_drift_and_diffusion_carry_the_marginal_moments(name):
    """For dx = r(t) x dt + g dW: d a / dt = r a and d std^2 / dt = 2 r std^2 + g^2."""
    process, h = PROCESSES[name], 1e-6
    for t in (0.1234, 0.5321, 0.9123):  # away from DDPM's grid, where beta(t) jumps
        x = torch.ones(1, 1, dtype=torch.float64)
        rate = process.drift(x, t).item()
        g2 = process.diffusion(t).item() ** 2
        a, std2 = process.mean_coefficient(t).item(), process.sigma(t).item() ** 2
        da = (process.mean_coefficient(t + h) - process.mean_coefficient(t - h)).item() / (2 * h)
        dstd2 = (process.sigma(t + h) ** 2 - process.sigma(t - h) ** 2).item() / (2 * h)
        assert da == pytest.approx(rate * a, rel=1e-6, abs=1e-9)
        assert dstd2 == pytest.approx(2 * rate * std2 + g2, rel=1e-6)


@pytest.mark.parametrize("name", list(PROCESSES))
def test_transitions_compose_and_give_the_marginals(name):
    process = PROCESSES[name]
    s, u, t = 0.1, 0.45, 0.8
    r_su, v_su = process.transition(s, u)
    r_ut, v_ut = process.transition(u, t)
    r_st, v_st = process.transition(s, t)
    assert r_st == pytest.approx(r_su * r_ut, rel=1e-12)
    assert v_st == pytest.approx(r_ut**2 * v_su + v_ut, rel=1e-12)
    r_0t, v_0t = process.transition(0.0, t)
    a_0, std_0 = process.mean_coefficient(0.0).item(), process.sigma(0.0).item()
    assert r_0t * a_0 == pytest.approx(process.mean_coefficient(t).item(), rel=1e-12)
    assert r_0t**2 * std_0**2 + v_0t == pytest.approx(process.sigma(t).item() ** 2, rel=1e-12)


def test_the_ddpm_chain_is_the_process_on_its_grid():
    """Step i of the chain is the process's exact transition from (i-1)/T to i/T."""
    ddpm = DDPMSchedule.linear(50, 1e-3, 0.2)
    grid = torch.arange(51, dtype=torch.float64) / 50
    for i in range(1, 51):
        ratio, variance = ddpm.transition(grid[i - 1].item(), grid[i].item())
        assert ratio == pytest.approx(math.sqrt(ddpm.alphas[i - 1].item()), rel=1e-12)
        assert variance == pytest.approx(ddpm.betas[i - 1].item(), rel=1e-10)
    torch.testing.assert_close(ddpm.alpha_bar(grid[1:]), ddpm.alpha_bars, rtol=1e-12, atol=0)
    torch.testing.assert_close(ddpm.alpha_bars, torch.cumprod(1 - ddpm.betas, 0))
    ho = DDPMSchedule.from_process(VariancePreserving(), 1000)
    torch.testing.assert_close(ho.betas, DDPMSchedule.linear(1000).betas)


def test_the_ddpm_chain_converges_to_the_vp_sde_at_first_order():
    """max_i |alpha_bar_i - alpha_bar(i/T)| halves when T doubles."""
    vp = VariancePreserving()
    errors = []
    for n_steps in (50, 100, 200, 400):
        chain = DDPMSchedule.from_process(vp, n_steps)
        grid = torch.arange(1, n_steps + 1, dtype=torch.float64) / n_steps
        errors.append((chain.alpha_bars - vp.alpha_bar(grid)).abs().max().item())
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(3)]
    assert all(abs(order - 1) < 0.1 for order in orders), (errors, orders)


@pytest.mark.parametrize("name", list(PROCESSES))
def test_the_time_score_of_a_mixture_is_the_score_of_its_marginal(name):
    process = PROCESSES[name]
    x = torch.randn(50, 2, generator=seeded(2))
    for t in (0.05, 0.5, 0.95):
        marginal = process.marginal(MIXTURE, t)
        exact = marginal.score(x)
        torch.testing.assert_close(
            process.time_score(MIXTURE.noisy_score)(x, torch.full((50,), t)),
            exact,
            rtol=1e-4,
            atol=1e-5,
        )
        torch.testing.assert_close(
            score_from_energy(marginal.energy, x), exact, rtol=1e-4, atol=1e-5
        )


@pytest.mark.parametrize("name", list(PROCESSES))
def test_the_level_score_undoes_the_time_score(name):
    """level_score(time_score(s)) is s at every level of the process's range."""
    process = PROCESSES[name]
    low, high = (
        process._ratio2(torch.tensor([t], dtype=torch.float64)).sqrt().item() for t in (0.0, 1.0)
    )
    levels = torch.exp(
        torch.linspace(math.log(max(low, 1e-3)), math.log(high), 50, dtype=torch.float64)
    )
    x = torch.randn(50, 2, generator=seeded(3), dtype=torch.float64)
    round_trip = process.level_score(process.time_score(MIXTURE.noisy_score))
    torch.testing.assert_close(
        round_trip(x, levels), MIXTURE.noisy_score(x, levels), rtol=1e-9, atol=1e-9
    )
    with pytest.raises(ValueError, match="sigma must be noise levels of this process"):
        round_trip(x, 1.01 * high)


def test_the_time_of_a_level_solves_the_closed_forms():
    # VP: sigma^2 / alpha_bar = exp(beta_min t + (beta_max - beta_min) t^2 / 2) - 1, a quadratic in t
    vp = PROCESSES["VP"]
    levels = torch.tensor([0.01, 0.1, 1.0, 10.0, 100.0], dtype=torch.float64)
    a, b, c = 0.5 * (vp.beta_max - vp.beta_min), vp.beta_min, torch.log1p(levels**2)
    expected = (-b + torch.sqrt(b * b + 4 * a * c)) / (2 * a)
    torch.testing.assert_close(vp._time_of_level(levels), expected, rtol=1e-12, atol=1e-14)
    # VE geometric: sigma(t) = sigma_min (sigma_max / sigma_min)^t
    ve = PROCESSES["VE geometric"]
    levels = torch.tensor([0.05, 0.5, 5.0], dtype=torch.float64)
    torch.testing.assert_close(ve._time_of_level(levels), torch.log(levels / 0.05) / math.log(100))


@pytest.mark.parametrize("name", list(PROCESSES))
def test_tweedie_and_the_noise_prediction_of_a_gaussian(name):
    """E[x_0 | x_t] = m + a S C_t^{-1} (x - a m) for data N(m, S); the noise is -std s."""
    process = PROCESSES[name]
    t = 0.3
    x = torch.randn(20, 2, generator=seeded(3), dtype=torch.float64)
    times = torch.full((20,), t, dtype=torch.float64)
    s = gauss.score(process)(x, times)
    mean_t, cov_t = gauss.moments(process, t)
    a = process.mean_coefficient(t).item()
    posterior_mean = gauss.MEAN + (x - mean_t) @ torch.linalg.inv(cov_t) @ (a * gauss.COV)
    torch.testing.assert_close(process.denoised(x, t, s), posterior_mean)

    def noise_model(x, t):
        return -process.sigma(t).reshape(-1, 1) * gauss.score(process)(x, t)

    torch.testing.assert_close(process.score_from_noise(noise_model)(x, times), s)


def test_sample_marginal_draws_x_t_and_returns_its_noise():
    vp = PROCESSES["VP"]
    x0 = torch.randn(1000, 2, generator=seeded(4))
    t = torch.rand(1000, generator=seeded(5))
    x_t, z = vp.sample_marginal(x0, t, seeded(6))
    expected = vp.mean_coefficient(t)[:, None] * x0 + vp.sigma(t)[:, None] * z
    torch.testing.assert_close(x_t, expected)


@pytest.mark.parametrize("name", ["VE geometric", "VP"])
def test_the_prior_is_the_process_at_time_one_for_data_at_the_origin(name):
    process, n = PROCESSES[name], 20_000
    x = process.prior_sample(n, 2, seeded(7))
    variance = process.sigma(1.0).item() ** 2
    assert ((x.var(0) - variance).abs() < 4.5 * variance * math.sqrt(2 / (n - 1))).all()
    origin = GaussianMixture([[0.0, 0.0]], 1e-8)
    torch.testing.assert_close(
        process.prior_log_prob(x[:10]), process.marginal(origin, 1.0).log_prob(x[:10])
    )
