"""Estimators of the partition function: exactness, unbiasedness, honest error bars, bad input."""

import math

import pytest
import torch

from ebm_book.energies import Banana, Gaussian
from ebm_book.partition import (
    PartitionEstimate,
    annealed_importance_sampling,
    grid_log_likelihood,
    grid_sample,
    importance_sampling_partition,
    monte_carlo_partition,
    quadrature_partition,
    tensor_grid,
)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def half_square_norm(x):
    return 0.5 * (x**2).sum(dim=1)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_quadrature_recovers_gaussian_partition_function(dim):
    est = quadrature_partition(half_square_norm, [(-9, 9)] * dim, n_per_axis=61)
    assert est.log_value == pytest.approx(0.5 * dim * math.log(2 * math.pi), abs=1e-9)
    assert est.n_evaluations == 61**dim
    assert math.isnan(est.relative_std_error)


def test_quadrature_at_temperature():
    est = quadrature_partition(half_square_norm, [(-12, 12)] * 2, n_per_axis=101, temperature=2.0)
    assert est.value == pytest.approx(2 * math.pi * 2.0, rel=1e-9)


def test_quadrature_refuses_exponentially_large_grids():
    with pytest.raises(ValueError, match=r"100 points per axis in 10 dimensions needs 1e\+20"):
        quadrature_partition(half_square_norm, [(-5, 5)] * 10, n_per_axis=100)


def test_tensor_grid_weights_sum_to_the_box_volume():
    points, weights = tensor_grid([(-1.0, 2.0), (0.0, 0.5)], 7)
    assert points.shape == (49, 2)
    assert weights.sum().item() == pytest.approx(3.0 * 0.5)


def test_importance_sampling_with_the_exact_target_as_proposal_has_zero_variance():
    cov = torch.tensor([[1.0, 0.3], [0.3, 0.5]])
    target = Gaussian([1.0, 2.0], cov)
    est = importance_sampling_partition(
        target, target, 1000, generator=torch.Generator().manual_seed(0)
    )
    assert est.log_value == pytest.approx(target.log_partition(), abs=1e-5)
    assert est.relative_std_error == pytest.approx(0.0, abs=1e-5)
    assert est.effective_sample_size == pytest.approx(1000, rel=1e-5)


def _repeat(estimator, n_repeats=300):
    g = torch.Generator().manual_seed(0)
    return [estimator(g) for _ in range(n_repeats)]


@pytest.mark.parametrize(
    "name, estimator",
    [
        (
            "monte carlo",
            lambda g: monte_carlo_partition(half_square_norm, [(-4, 4)] * 2, 200, generator=g),
        ),
        (
            "importance sampling",
            lambda g: importance_sampling_partition(
                Gaussian([0.0, 0.0]), Gaussian([0.5, 0.0], cov=2.0), 200, generator=g
            ),
        ),
    ],
)
def test_estimators_are_unbiased_and_report_honest_standard_errors(name, estimator):
    """Unbiasedness: the mean of many independent estimates is Z within its standard error.

    Honest error bars: the reported per-estimate standard error matches the spread of the
    estimates (in 2-D, where the estimators work, agreement within 20% is expected:
    the reported values are themselves averages of 300 noisy estimates).
    """
    true_z = (
        2 * math.pi * (1 - math.erfc(4 / math.sqrt(2))) ** 2
        if name == "monte carlo"
        else 2 * math.pi
    )
    estimates = _repeat(estimator)
    values = torch.tensor([e.value for e in estimates], dtype=torch.float64)
    standard_error_of_mean = values.std().item() / math.sqrt(len(values))
    assert abs(values.mean().item() - true_z) < 4 * standard_error_of_mean
    reported = torch.tensor([e.std_error for e in estimates]).mean().item()
    assert reported == pytest.approx(values.std().item(), rel=0.2)


def test_importance_sampling_weights_degenerate_in_high_dimension():
    """A proposal 20% too wide per axis: fine in 2-D, a handful of effective samples in 200-D."""
    g = torch.Generator().manual_seed(0)
    ess = {}
    for dim in (2, 200):
        target, proposal = Gaussian(torch.zeros(dim)), Gaussian(torch.zeros(dim), cov=1.44)
        ess[dim] = importance_sampling_partition(
            target, proposal, 5000, generator=g
        ).effective_sample_size
    assert ess[2] > 0.8 * 5000
    assert ess[200] < 0.02 * 5000


class IsotropicGaussian:
    """The proposal N(0, scale^2 I) of Chapter 1, with a log density that is cheap in 200-D."""

    def __init__(self, dim, scale):
        self.dim, self.scale = dim, scale

    def sample(self, n, generator=None):
        return self.scale * torch.randn(n, self.dim, generator=generator, dtype=torch.float64)

    def log_prob(self, x):
        norm = self.dim * (math.log(self.scale) + 0.5 * math.log(2 * math.pi))
        return -0.5 * (x / self.scale).pow(2).sum(1) - norm


def test_annealed_importance_sampling_with_one_level_is_importance_sampling():
    target, proposal = Gaussian([1.0, -1.0]), Gaussian([0.0, 0.0], cov=2.0)
    plain = importance_sampling_partition(target, proposal, 500, generator=seeded(3))
    annealed = annealed_importance_sampling(target, proposal, 500, 1, generator=seeded(3))
    assert annealed.log_value == pytest.approx(plain.log_value, abs=1e-5)
    assert annealed.effective_sample_size == pytest.approx(plain.effective_sample_size, rel=1e-4)
    assert math.isnan(annealed.acceptance_rate) and annealed.n_evaluations == 500


def test_annealed_importance_sampling_is_unbiased_and_reports_honest_standard_errors():
    """E[hat Z] = Z for every number of levels: with only 4 levels, the mean of 200 independent
    estimates lies within 4 of its standard errors (their spread / sqrt(200)) of Z, and the
    error each estimate reports matches the spread within 20% (as for the other estimators)."""
    root = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.5, 0.7]])
    target = Gaussian([1.0, -0.5, 0.5], cov=root @ root.T)
    proposal = Gaussian([0.0, 0.0, 0.0], cov=3.0)
    true_z = math.exp(target.log_partition())
    g = seeded(4)
    estimates = [
        annealed_importance_sampling(target, proposal, 50, 4, 0.5, generator=g) for _ in range(200)
    ]
    values = torch.tensor([e.value for e in estimates], dtype=torch.float64)
    assert abs(values.mean().item() - true_z) < 4 * values.std().item() / math.sqrt(200)
    reported = torch.tensor([e.std_error for e in estimates]).mean().item()
    assert reported == pytest.approx(values.std().item(), rel=0.2)


def test_annealed_importance_sampling_error_shrinks_with_more_levels():
    """The relative error of hat Z shrinks as the levels multiply, towards 1/sqrt(S).

    With Var(log w) ~ 1/S, each factor 4 in S halves the error. Over 8 seeds the measured
    ratios were 1.65 +- 0.07 (from S = 4 to 16) and 1.87 +- 0.05 (from 16 to 64): each
    reported error, from 2000 chains, is known to a few percent. The bounds 1.4 and 1.6 sit
    more than 3.5 of those spreads below, and far above 1 (no improvement)."""
    target, proposal = Gaussian(torch.zeros(10)), IsotropicGaussian(10, 1.5)
    errors = [
        annealed_importance_sampling(
            target, proposal, 2000, levels, 0.5, generator=seeded(5)
        ).relative_std_error
        for levels in (4, 16, 64)
    ]
    assert errors[0] > 1.4 * errors[1] and errors[1] > 1.6 * errors[2]


def test_annealed_importance_sampling_repairs_importance_sampling_in_200_dimensions():
    """Chapter 1's proposal, 20% too wide per axis, on the standard Gaussian in d = 200.

    Importance sampling's exact relative standard deviation is sqrt((1.44 / sqrt(1.88))^d - 1)
    / sqrt(n) (Chapter 1), above 5 here, and its weights collapse onto a handful of samples.
    Annealing from the same proposal in 100 steps keeps a large effective sample and an
    estimate within 4 of its reported standard errors, which are below 15%."""
    dim, n = 200, 500
    true_z = math.exp(0.5 * dim * math.log(2 * math.pi))
    proposal = IsotropicGaussian(dim, 1.2)
    exact_sd = math.sqrt(((1.44 / math.sqrt(1.88)) ** dim - 1) / n)
    plain = importance_sampling_partition(half_square_norm, proposal, n, generator=seeded(6))
    annealed = annealed_importance_sampling(
        half_square_norm, proposal, n, 100, 0.5, generator=seeded(6)
    )
    assert exact_sd > 5 and plain.effective_sample_size < 0.05 * n
    assert annealed.effective_sample_size > 0.1 * n
    assert annealed.relative_std_error < 0.15
    assert abs(annealed.relative_error(true_z)) < 4 * annealed.relative_std_error
    assert 0.4 < annealed.acceptance_rate < 0.95


def gaussian_in_float64(mean, cov):
    """A Gaussian energy and its exact log density, both computed in float64 throughout."""
    mean, cov = torch.tensor(mean, dtype=torch.float64), torch.tensor(cov, dtype=torch.float64)
    precision = torch.linalg.inv(cov)

    def energy(x):
        diff = x - mean
        return 0.5 * ((diff @ precision) * diff).sum(1)

    def log_density(x, temperature=1.0):
        log_z = 0.5 * len(mean) * math.log(2 * math.pi * temperature) + 0.5 * torch.logdet(cov)
        return -energy(x) / temperature - log_z

    return energy, log_density


@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize(
    "mean, cov",
    [([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]), ([1.0, -0.5], [[0.5, 0.3], [0.3, 0.4]])],
)
def test_grid_log_likelihood_is_the_closed_form_for_a_gaussian(mean, cov, temperature):
    """log N(x; mu, T Sigma) to 1e-10 on 201 points per axis; a coarse grid is measurably off."""
    energy, log_density = gaussian_in_float64(mean, cov)
    x = torch.tensor([[0.0, 0.0], [1.5, -1.0], [-2.0, 2.5]], dtype=torch.float64)
    box = [(-12.0, 12.0)] * 2
    exact = log_density(x, temperature)
    fine = grid_log_likelihood(energy, x, box, temperature=temperature)
    coarse = grid_log_likelihood(energy, x, box, n_per_axis=9, temperature=temperature)
    torch.testing.assert_close(fine, exact, rtol=0, atol=1e-10)
    assert (coarse - exact).abs().max() > 1e-3


def test_grid_log_likelihood_of_held_out_data_is_minus_the_entropy():
    """The mean log-likelihood of fresh data from N(mu, Sigma) is -(d/2)(1 + log 2 pi) -
    log|Sigma|/2 within 4 standard errors (the spread of the per-point values / sqrt(n))."""
    root = torch.tensor([[0.8, 0.0], [0.3, 0.5]])
    gaussian = Gaussian([0.5, 1.0], cov=root @ root.T)
    data = gaussian.sample(5000, generator=seeded(7))
    values = grid_log_likelihood(gaussian, data, [(-6.0, 7.0)] * 2)
    minus_entropy = -(1 + math.log(2 * math.pi)) - 0.5 * torch.logdet(root @ root.T).item()
    assert abs(values.mean().item() - minus_entropy) < 4 * values.std().item() / math.sqrt(5000)


def test_grid_samples_have_the_gaussian_s_mean_and_covariance():
    """Sample moments of 20,000 draws within 4 standard errors: sqrt(Sigma_ii / n) for the
    means, sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / n) for the covariances (Gaussian fourth
    moments). The grid's own bias, h^2/12 = 5e-4 in the variances, is below 1/20 of those."""
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.8]])
    gaussian, n = Gaussian([1.0, -1.0], cov=cov), 20_000
    x = grid_sample(gaussian, n, [(-7.0, 9.0), (-9.0, 7.0)], generator=seeded(8)).double()
    mean_se = (cov.diagonal() / n).sqrt()
    assert ((x.mean(0) - gaussian.mean).abs() < 4 * mean_se).all()
    cov_se = ((cov.diagonal()[:, None] * cov.diagonal()[None, :] + cov**2) / n).sqrt()
    assert ((torch.cov(x.T) - cov).abs() < 4 * cov_se).all()


def test_grid_samples_of_the_banana_match_its_exact_samples():
    """Banana has exact samples: the fraction of points in each quadrant agrees within 4
    binomial standard errors of the difference of two independent fractions."""
    banana, n = Banana(curvature=0.5, scale=1.5), 20_000
    grid = grid_sample(banana, n, [(-8.0, 8.0), (-6.0, 20.0)], generator=seeded(9))
    exact = banana.sample(n, generator=seeded(10))
    for sign_1 in (1, -1):
        for sign_2 in (1, -1):
            p_grid, p_exact = (
                ((sign_1 * x[:, 0] > 0) & (sign_2 * x[:, 1] > 0)).double().mean().item()
                for x in (grid, exact)
            )
            p = (p_grid + p_exact) / 2
            assert abs(p_grid - p_exact) < 4 * math.sqrt(2 * p * (1 - p) / n)


def test_grid_log_likelihood_refuses_points_outside_the_box():
    x = torch.tensor([[0.0, 0.0], [9.0, 0.0]])
    with pytest.raises(ValueError, match=r"x has 1 of its 2 points outside the box .*\[9.0, 0.0\]"):
        grid_log_likelihood(half_square_norm, x, [(-8, 8)] * 2)


def test_partition_estimate_relative_error():
    est = PartitionEstimate(log_value=math.log(110.0), relative_std_error=0.05, n_evaluations=10)
    assert est.relative_error(100.0) == pytest.approx(0.1)
    assert est.std_error == pytest.approx(5.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: quadrature_partition(half_square_norm, [], 10), "bounds is empty"),
        (lambda: quadrature_partition(half_square_norm, [(1, -1)], 10), r"low < high"),
        (
            lambda: quadrature_partition(half_square_norm, [(-1, 1)], 1),
            "n_per_axis must be an integer >= 2",
        ),
        (
            lambda: quadrature_partition(half_square_norm, [(-1, 1)], 10, temperature=0),
            "temperature",
        ),
        (lambda: quadrature_partition(lambda x: x, [(-1, 1)] * 2, 10), r"shape \(100,\)"),
        (
            lambda: monte_carlo_partition(half_square_norm, [(-1, 1)], 0),
            "n_samples must be an integer >= 2; got 0",
        ),
        (
            lambda: monte_carlo_partition(
                lambda x: torch.full((x.shape[0],), float("inf")), [(-1, 1)], 10
            ),
            "zero weight",
        ),
        (lambda: quadrature_partition(lambda x: x[:, 0] * float("nan"), [(-1, 1)], 10), "NaN"),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
