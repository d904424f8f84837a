"""Langevin and MALA: stationary moments against closed forms, within standard errors."""

import math

import pytest
import torch

from ebm_book.energies import Gaussian
from ebm_book.mixtures import GaussianMixture
from ebm_book.sampling import DivergenceError, langevin, mala


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def ula_stationary_variance(sigma2: float, step: float) -> float:
    r"""ULA on N(0, s^2): x' = (1 - eps/(2 s^2)) x + sqrt(eps) z has variance s^2 / (1 - eps/(4 s^2))."""
    return sigma2 / (1 - step / (4 * sigma2))


def assert_variance(samples: torch.Tensor, expected: float, z: float = 4.5):
    """Sample variance within z standard errors; SE of a Gaussian sample variance is v sqrt(2/(n-1))."""
    n = samples.numel()
    se = expected * math.sqrt(2 / (n - 1))
    assert abs(samples.var().item() - expected) < z * se, (samples.var().item(), expected, se)


@pytest.mark.parametrize("sigma2, step", [(1.0, 0.5), (2.0, 1.0), (0.5, 0.1)])
def test_ula_on_1d_gaussian_has_the_predicted_biased_variance(sigma2, step):
    n = 20_000
    result = langevin(
        lambda x: -(x - 1.0) / sigma2, torch.zeros(n, 1), step, 300, generator=seeded()
    )
    x = result.samples[:, 0]
    expected = ula_stationary_variance(sigma2, step)
    assert abs(x.mean().item() - 1.0) < 4.5 * math.sqrt(expected / n)
    assert_variance(x, expected)
    # ... and this bias is detectable: the exact variance is rejected.
    assert abs(x.var().item() - sigma2) > 4.5 * sigma2 * math.sqrt(2 / n)


def test_ula_on_2d_gaussian_matches_the_closed_form_covariance():
    """Stationary covariance of ULA: V = Sigma (I - eps P / 4)^(-1), with P = Sigma^(-1)."""
    cov = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    target = Gaussian([0.0, 1.0], cov)
    step, n = 0.6, 40_000
    x = langevin(
        target.score, torch.zeros(n, 2, dtype=torch.float64), step, 300, generator=seeded(1)
    ).samples
    precision = torch.linalg.inv(cov)
    expected = cov @ torch.linalg.inv(torch.eye(2, dtype=torch.float64) - step * precision / 4)
    centred = x - torch.tensor([0.0, 1.0], dtype=torch.float64)
    products = centred[:, :, None] * centred[:, None, :]
    se = products.std(dim=0) / math.sqrt(n)
    assert ((products.mean(0) - expected).abs() < 4.5 * se).all(), (products.mean(0), expected)
    assert ((centred.mean(0)).abs() < 4.5 * centred.std(0) / math.sqrt(n)).all()


@pytest.mark.parametrize("sigma2, step", [(1.0, 0.5), (2.0, 2.0)])
def test_mala_removes_the_bias(sigma2, step):
    n = 20_000
    energy = lambda x: 0.5 * (x[:, 0] - 1.0) ** 2 / sigma2  # noqa: E731
    result = mala(energy, torch.zeros(n, 1), step, 400, generator=seeded(2))
    x = result.samples[:, 0]
    # MALA's chains are not independent of their start after finitely many steps, but 400
    # steps at these acceptance rates is far beyond the mixing time.
    assert abs(x.mean().item() - 1.0) < 4.5 * math.sqrt(sigma2 / n)
    assert_variance(x, sigma2)
    assert 0.3 < result.acceptance_rate < 1.0


def test_mala_with_analytic_score_equals_autograd_version():
    target = Gaussian([0.5, -0.5])
    a = mala(target.energy, torch.zeros(100, 2), 0.8, 50, generator=seeded(3))
    b = mala(target.energy, torch.zeros(100, 2), 0.8, 50, generator=seeded(3), score=target.score)
    torch.testing.assert_close(a.samples, b.samples)
    assert a.acceptance_rate == b.acceptance_rate


def test_langevin_inside_each_mode_recovers_the_modes_moments():
    """Started inside each well-separated mode, chains stay there and sample it correctly."""
    covs = torch.tensor([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.8]]])
    mixture = GaussianMixture([[-6.0, 0.0], [6.0, 2.0]], covs, [0.3, 0.7])
    n, step = 10_000, 0.02
    for k in range(2):
        start = mixture.means[k].repeat(n, 1)
        x = langevin(mixture.score, start, step, 600, generator=seeded(4 + k)).samples.double()
        centred = x - mixture.means[k].double()
        mean_se = centred.std(0) / math.sqrt(n)
        assert (centred.mean(0).abs() < 4.5 * mean_se).all()
        # ULA's covariance bias at this step is Sigma (I - eps P/4)^(-1) - Sigma, < 1.3%
        precision = torch.linalg.inv(covs[k].double())
        expected = covs[k].double() @ torch.linalg.inv(
            torch.eye(2, dtype=torch.float64) - step * precision / 4
        )
        products = centred[:, :, None] * centred[:, None, :]
        se = products.std(0) / math.sqrt(n)
        assert ((products.mean(0) - expected).abs() < 4.5 * se).all()


def test_trajectory_recording_and_thinning():
    x0 = torch.zeros(7, 2)
    result = langevin(lambda x: -x, x0, 0.1, 10, generator=seeded(), record_every=5)
    assert result.trajectory.shape == (3, 7, 2)
    torch.testing.assert_close(result.trajectory[0], x0)
    torch.testing.assert_close(result.trajectory[-1], result.samples)
    assert langevin(lambda x: -x, x0, 0.1, 10).trajectory is None


def test_same_seed_same_chains():
    a = langevin(lambda x: -x, torch.zeros(3, 2), 0.1, 20, generator=seeded(9)).samples
    b = langevin(lambda x: -x, torch.zeros(3, 2), 0.1, 20, generator=seeded(9)).samples
    assert torch.equal(a, b)


def test_divergent_chain_raises_with_step_and_hint():
    with pytest.raises(DivergenceError, match=r"at step \d+.*step size 1 is probably too large"):
        langevin(lambda x: -100.0 * x, torch.ones(4, 1), 1.0, 500, generator=seeded())


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: langevin(lambda x: -x, torch.zeros(4, 1), 0.0, 10),
            "step_size must be a positive",
        ),
        (
            lambda: langevin(lambda x: -x, torch.zeros(4, 1), -0.1, 10),
            "step_size must be a positive",
        ),
        (lambda: langevin(lambda x: -x, torch.zeros(4), 0.1, 10), r"x0 must have shape \(N, d\)"),
        (
            lambda: langevin(lambda x: x.sum(1), torch.zeros(4, 2), 0.1, 10),
            r"score must map x of shape \(4, 2\)",
        ),
        (
            lambda: langevin(lambda x: -x, torch.zeros(4, 1), 0.1, 0),
            "n_steps must be a positive integer",
        ),
        (lambda: mala(lambda x: x.sum(1), torch.zeros(4, 2), -1.0, 10), "step_size"),
        (
            lambda: mala(lambda x: x.sum(1), torch.zeros(4, 2), 0.1, 10, score=lambda x: x[:, :1]),
            "score must map",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
