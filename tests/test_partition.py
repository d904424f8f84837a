"""Estimators of the partition function: exactness, unbiasedness, honest error bars, bad input."""

import math

import pytest
import torch

from ebm_book.energies import Gaussian
from ebm_book.partition import (
    PartitionEstimate,
    importance_sampling_partition,
    monte_carlo_partition,
    quadrature_partition,
    tensor_grid,
)


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
