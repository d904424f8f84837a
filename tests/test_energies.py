"""The energies' math: scores, normalization, partition functions, exact sampling, noisy data."""

import math

import pytest
import torch

from ebm_book.energies import Banana, DoubleWell, Gaussian, Ring
from ebm_book.mixtures import GaussianMixture
from ebm_book.partition import quadrature_partition
from ebm_book.score import score_from_energy

torch.set_default_dtype(torch.float32)


def full_cov_mixture() -> GaussianMixture:
    covs = torch.tensor(
        [[[1.0, 0.6], [0.6, 0.8]], [[0.3, -0.1], [-0.1, 0.5]], [[2.0, 0.0], [0.0, 0.2]]]
    )
    return GaussianMixture([[-2.0, 0.0], [1.5, 1.0], [0.5, -2.0]], covs, [0.5, 0.3, 0.2])


ENERGIES = [
    full_cov_mixture(),
    Gaussian(
        [1.0, -1.0, 0.5], cov=torch.tensor([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    ),
    DoubleWell(barrier=3.0, separation=1.5, tilt=0.4, dim=3),
]


@pytest.mark.parametrize("energy", ENERGIES, ids=repr)
def test_analytic_score_equals_minus_autograd_gradient(energy):
    x = (
        torch.randn(64, energy.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        * 2
    )
    for temperature in (1.0, 0.3):
        analytic = energy.score(x, temperature)
        autograd = score_from_energy(energy, x, temperature)
        torch.testing.assert_close(analytic, autograd, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "energy", [Ring(radius=2.0, width=0.5), Banana(curvature=0.7, scale=1.3)], ids=repr
)
def test_ring_and_banana_analytic_scores_equal_minus_autograd_gradients(energy):
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    torch.testing.assert_close(
        energy.score(x, 0.5), score_from_energy(energy, x, 0.5), rtol=1e-10, atol=1e-10
    )


def test_ring_score_is_finite_at_the_origin():
    assert torch.equal(Ring().score(torch.zeros(1, 2)), torch.zeros(1, 2))


def test_mixture_log_prob_integrates_to_one():
    mixture = full_cov_mixture()
    z = quadrature_partition(lambda x: -mixture.log_prob(x), [(-9, 9), (-9, 9)], n_per_axis=301)
    assert z.value == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "energy, bounds",
    [
        (Gaussian([0.3, -0.2], cov=torch.tensor([[1.5, 0.4], [0.4, 0.7]])), [(-10, 10)] * 2),
        (Ring(radius=2.0, width=0.3), [(-5, 5)] * 2),
        (Ring(radius=0.5, width=0.6), [(-7, 7)] * 2),  # wide ring: the e^{-r^2/2w^2} term matters
        (Banana(curvature=0.5, scale=1.5), [(-14, 14), (-20, 110)]),
    ],
    ids=repr,
)
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_closed_form_partition_matches_quadrature(energy, bounds, temperature):
    numeric = quadrature_partition(energy, bounds, n_per_axis=801, temperature=temperature)
    assert numeric.log_value == pytest.approx(energy.log_partition(temperature), abs=1e-5)


def test_gaussian_partition_closed_form_in_high_dimension():
    cov = torch.diag(torch.linspace(0.5, 2.0, 10))
    expected = 5 * math.log(2 * math.pi * 1.5) + 0.5 * torch.log(torch.diag(cov)).sum().item()
    assert Gaussian(torch.zeros(10), cov).log_partition(1.5) == pytest.approx(expected, rel=1e-6)


def test_mixture_and_double_well_have_no_closed_form_away_from_t1():
    with pytest.raises(NotImplementedError, match="no closed form"):
        full_cov_mixture().log_partition(2.0)
    with pytest.raises(NotImplementedError, match="ebm_book.partition"):
        DoubleWell().log_partition()


def test_double_well_minima_and_barrier():
    well = DoubleWell(barrier=2.5, separation=1.5, dim=2)
    x = torch.tensor([[-1.5, 0.0], [0.0, 0.0], [1.5, 0.0], [1.5, 2.0]])
    torch.testing.assert_close(well.energy(x), torch.tensor([0.0, 2.5, 0.0, 2.0]))
    torch.testing.assert_close(well.score(x[[0, 2]]), torch.zeros(2, 2))


def _check_sample_moments(
    samples: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, z: float = 4.5
):
    """Compare sample mean and covariance with their expected values, within z standard errors.

    Standard errors are estimated from the samples themselves (the terms being averaged),
    so the check is valid for non-Gaussian samples such as mixtures.
    """
    n = samples.shape[0]
    centred = samples.double() - mean.double()
    se_mean = centred.std(dim=0) / math.sqrt(n)
    assert ((centred.mean(dim=0)).abs() < z * se_mean).all(), (centred.mean(0), se_mean)
    products = centred[:, :, None] * centred[:, None, :]
    se_cov = products.std(dim=0) / math.sqrt(n)
    assert ((products.mean(dim=0) - cov.double()).abs() < z * se_cov).all(), (products.mean(0), cov)


def _mixture_moments(mixture: GaussianMixture) -> tuple[torch.Tensor, torch.Tensor]:
    w = mixture.weights[:, None]
    mean = (w * mixture.means).sum(0)
    second = (
        mixture.weights[:, None, None]
        * (mixture.covs + mixture.means[:, :, None] * mixture.means[:, None, :])
    ).sum(0)
    return mean, second - torch.outer(mean, mean)


def test_mixture_samples_have_the_right_weights_and_moments():
    mixture = full_cov_mixture()
    n = 200_000
    x = mixture.sample(n, generator=torch.Generator().manual_seed(1))
    fractions = torch.bincount(mixture.assign(x), minlength=3).double() / n
    # assign() uses the posterior; overlap moves a little mass between components, so
    # compare with the expected posterior-argmax fractions, estimated with an independent sample.
    y = mixture.sample(n, generator=torch.Generator().manual_seed(2))
    expected = torch.bincount(mixture.assign(y), minlength=3).double() / n
    se = torch.sqrt(2 * expected * (1 - expected) / n)
    assert ((fractions - expected).abs() < 4.5 * se).all()
    _check_sample_moments(x, *_mixture_moments(mixture))


def test_mixture_component_sampling_matches_weights_exactly_when_separated():
    mixture = GaussianMixture([[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
    n = 50_000
    x = mixture.sample(n, generator=torch.Generator().manual_seed(3))
    fraction = (mixture.assign(x) == 1).double().mean().item()
    assert abs(fraction - 0.8) < 4.5 * math.sqrt(0.8 * 0.2 / n)


def test_perturbed_mixture_matches_sampled_noisy_data_in_moments():
    mixture = full_cov_mixture()
    sigma = 0.7
    n = 200_000
    g = torch.Generator().manual_seed(4)
    noisy = mixture.sample(n, generator=g) + sigma * torch.randn(n, 2, generator=g)
    _check_sample_moments(noisy, *_mixture_moments(mixture.perturbed(sigma)))


def test_perturbed_mixture_matches_noisy_data_in_distribution_1d():
    """Kolmogorov-Smirnov test of noisy samples against the perturbed mixture's exact CDF."""
    mixture = GaussianMixture([[-2.0], [1.0], [3.0]], [0.3, 0.5, 0.2], [0.2, 0.5, 0.3])
    sigma, n = 0.8, 20_000
    g = torch.Generator().manual_seed(5)
    noisy = (mixture.sample(n, generator=g) + sigma * torch.randn(n, 1, generator=g))[:, 0].double()
    noisy_mixture = mixture.perturbed(sigma)
    stds = noisy_mixture.covs[:, 0, 0].double().sqrt()
    xs = noisy.sort().values
    cdf = (
        noisy_mixture.weights.double()
        * 0.5
        * (
            1
            + torch.erf((xs[:, None] - noisy_mixture.means[:, 0].double()) / (stds * math.sqrt(2)))
        )
    ).sum(1)
    empirical = torch.arange(1, n + 1, dtype=torch.float64) / n
    ks = torch.maximum((empirical - cdf).abs(), (empirical - 1 / n - cdf).abs()).max().item()
    assert ks < 1.95 / math.sqrt(n)  # the 0.1% critical value of the KS statistic
    # The un-perturbed mixture must fail the same test: the check has power.
    clean_stds = mixture.covs[:, 0, 0].double().sqrt()
    clean_cdf = (
        mixture.weights.double()
        * 0.5
        * (
            1
            + torch.erf((xs[:, None] - mixture.means[:, 0].double()) / (clean_stds * math.sqrt(2)))
        )
    ).sum(1)
    assert (empirical - clean_cdf).abs().max().item() > 3 * 1.95 / math.sqrt(n)


def test_perturbed_sigma_zero_is_identity_and_negative_is_rejected():
    mixture = full_cov_mixture()
    assert mixture.perturbed(0.0) is mixture
    with pytest.raises(ValueError, match="sigma must be a non-negative number; got -0.1"):
        mixture.perturbed(-0.1)


def test_gaussian_samples_at_temperature_have_covariance_t_sigma():
    cov = torch.tensor([[1.0, 0.5], [0.5, 2.0]])
    g = Gaussian([1.0, -1.0], cov)
    x = g.sample(200_000, temperature=0.5, generator=torch.Generator().manual_seed(6))
    _check_sample_moments(x, g.mean, 0.5 * cov)


def test_banana_samples_are_exact():
    banana = Banana(curvature=0.8, scale=1.5)
    x = banana.sample(200_000, temperature=1.0, generator=torch.Generator().manual_seed(7))
    # Undo the bend: the result must be N(0, diag(s^2, 1)).
    unbent = torch.stack([x[:, 0], x[:, 1] - 0.8 * (x[:, 0] ** 2 - 1.5**2)], dim=1)
    _check_sample_moments(unbent, torch.zeros(2), torch.diag(torch.tensor([1.5**2, 1.0])))


def test_responsibilities_are_a_distribution():
    mixture = full_cov_mixture()
    r = mixture.responsibilities(torch.randn(10, 2, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(r.sum(1), torch.ones(10))


def test_outputs_follow_input_dtype():
    mixture = full_cov_mixture()
    x = torch.zeros(3, 2, dtype=torch.float64)
    assert mixture.energy(x).dtype == torch.float64
    assert mixture.score(x).dtype == torch.float64


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: full_cov_mixture().energy(torch.zeros(5)), r"shape \(N, 2\)"),
        (lambda: full_cov_mixture().energy(torch.zeros(5, 3)), r"shape \(N, 2\)"),
        (
            lambda: full_cov_mixture().score(torch.zeros(5, 2), temperature=0.0),
            "temperature must be a positive",
        ),
        (lambda: Gaussian([0.0]).log_partition(-1.0), "temperature must be a positive"),
        (
            lambda: Gaussian([0.0, 0.0], cov=torch.tensor([[1.0, 2.0], [2.0, 1.0]])),
            "positive definite",
        ),
        (lambda: Gaussian([0.0, 0.0], cov=torch.eye(3)), r"shape \(2, 2\)"),
        (lambda: GaussianMixture([[0.0], [1.0]], weights=[1.0, -1.0]), "positive numbers"),
        (lambda: GaussianMixture([0.0, 1.0]), r"shape \(K, d\)"),
        (lambda: GaussianMixture([[0.0], [1.0]], covs=[1.0, 0.0]), "positive variances"),
        (lambda: DoubleWell(barrier=0.0), "barrier must be a positive"),
        (lambda: Ring(width=-1.0), "width must be a positive"),
        (lambda: full_cov_mixture().sample(0), "n must be a positive integer"),
    ],
)
def test_bad_input_raises_clear_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_integer_points_are_rejected_with_a_hint():
    with pytest.raises(ValueError, match=r"floating-point.*x.float\(\)"):
        Ring().energy(torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        Ring().energy([[0.0, 0.0]])
