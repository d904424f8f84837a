"""Score-matching objectives: equal up to constants, unbiased estimators, and models they train."""

import math

import pytest
import torch

from ebm_book.losses import (
    denoising_score_matching,
    explicit_score_matching,
    implicit_score_matching,
    sliced_score_matching,
)
from ebm_book.metrics import fisher_divergence
from ebm_book.mixtures import GaussianMixture
from ebm_book.nets import EnergyMLP, ScoreMLP
from ebm_book.score import hutchinson_trace, jacobian_trace
from ebm_book.training import train

torch.set_default_dtype(torch.float32)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def linear_model(a: torch.Tensor, b: torch.Tensor):
    """s(x) = -A (x - b): the score of a Gaussian model when A is symmetric positive definite."""
    return lambda x: -(x - b) @ a.T


PARAMETER_SETTINGS = [
    (torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)),
    (
        torch.tensor([[2.0, 0.5], [0.3, 1.0]], dtype=torch.float64),
        torch.tensor([1.0, -1.0], dtype=torch.float64),
    ),
    (
        torch.tensor([[0.5, -0.2], [0.1, 3.0]], dtype=torch.float64),
        torch.tensor([-2.0, 0.5], dtype=torch.float64),
    ),
]


def per_sample_ism(model, x):
    x = x.detach().requires_grad_(True)
    return 0.5 * (model(x) ** 2).sum(1) + jacobian_trace(model, x)


def test_implicit_minus_explicit_is_constant_in_the_parameters():
    """ISM(theta) - ESM(theta) = const: the differences between settings vanish within standard errors."""
    mixture = GaussianMixture([[-1.0, 0.0], [1.5, 1.0]], [0.5, 0.3], [0.4, 0.6])
    x = mixture.sample(200_000, generator=seeded(1)).double()
    gaps = []
    for a, b in PARAMETER_SETTINGS:
        model = linear_model(a, b)
        esm = 0.5 * ((model(x) - mixture.score(x)) ** 2).sum(1)
        gaps.append((per_sample_ism(model, x) - esm).detach())
    for other in gaps[1:]:
        diff = other - gaps[0]
        se = diff.std().item() / math.sqrt(len(diff))
        assert abs(diff.mean().item()) < 4 * se, (diff.mean().item(), se)
    # And the constant is -1/2 E|grad log p|^2 (integration by parts):
    expected = -0.5 * (mixture.score(x) ** 2).sum(1)
    diff = gaps[0] - expected
    assert abs(diff.mean().item()) < 4 * diff.std().item() / math.sqrt(len(diff))


def test_denoising_minus_explicit_at_the_same_sigma_is_constant():
    """DSM(theta) - ESM_sigma(theta), with the exact noisy score, does not depend on theta."""
    mixture = GaussianMixture([[-1.0, 0.0], [1.5, 1.0]], [0.5, 0.3], [0.4, 0.6])
    sigma = 0.5
    noisy_score = mixture.perturbed(sigma).score
    g = seeded(2)
    x = mixture.sample(200_000, generator=g).double()
    z = torch.randn(x.shape, generator=g, dtype=torch.float64)
    noisy = x + sigma * z
    gaps = []
    for a, b in PARAMETER_SETTINGS:
        s = linear_model(a, b)(noisy)
        dsm = 0.5 * ((s + z / sigma) ** 2).sum(1)
        esm = 0.5 * ((s - noisy_score(noisy)) ** 2).sum(1)
        gaps.append(dsm - esm)
    for other in gaps[1:]:
        diff = other - gaps[0]
        assert abs(diff.mean().item()) < 4 * diff.std().item() / math.sqrt(len(diff))


def test_package_losses_agree_with_their_definitions():
    g = seeded(3)
    x = torch.randn(5000, 2, generator=g, dtype=torch.float64)
    model = linear_model(*PARAMETER_SETTINGS[1])
    assert implicit_score_matching(model, x).item() == pytest.approx(
        per_sample_ism(model, x).mean().item(), rel=1e-12
    )
    esm = explicit_score_matching(model, x, true_score=lambda x: -x)
    assert esm.item() == pytest.approx(0.5 * ((model(x) + x) ** 2).sum(1).mean().item(), rel=1e-12)


@pytest.mark.parametrize("variance_reduced", [False, True])
def test_sliced_estimator_matches_the_implicit_objective_within_its_standard_error(
    variance_reduced,
):
    torch.manual_seed(0)
    net = ScoreMLP(2, hidden=32, depth=2).double()
    x = torch.randn(4000, 2, generator=seeded(4), dtype=torch.float64)
    exact = implicit_score_matching(net, x).item()
    g = seeded(5)
    estimates = torch.tensor(
        [
            sliced_score_matching(net, x, variance_reduced=variance_reduced, generator=g).item()
            for _ in range(60)
        ]
    )
    se = estimates.std().item() / math.sqrt(len(estimates))
    assert abs(estimates.mean().item() - exact) < 4 * se


def test_variance_reduction_reduces_the_variance():
    """The variance-reduced form removes the noise of the (v^T s)^2 term, large for large scores."""
    model = linear_model(torch.tensor([[3.0, 0.5], [0.5, 2.0]]), torch.zeros(2))
    x = torch.randn(500, 2, generator=seeded(6))
    g = seeded(7)
    plain = torch.tensor(
        [
            sliced_score_matching(model, x, variance_reduced=False, generator=g).item()
            for _ in range(60)
        ]
    )
    reduced = torch.tensor(
        [
            sliced_score_matching(model, x, variance_reduced=True, generator=g).item()
            for _ in range(60)
        ]
    )
    assert reduced.var() < 0.5 * plain.var()


def test_hutchinson_trace_is_unbiased_and_jacobian_trace_exact():
    def field(x):
        return torch.stack(
            [torch.sin(x[:, 0]) * x[:, 1], x[:, 0] ** 2 + torch.tanh(x[:, 1]), x[:, 2] ** 3], 1
        )

    x = torch.randn(8, 3, generator=seeded(8), dtype=torch.float64)
    exact = torch.cos(x[:, 0]) * x[:, 1] + (1 - torch.tanh(x[:, 1]) ** 2) + 3 * x[:, 2] ** 2
    torch.testing.assert_close(jacobian_trace(field, x), exact)
    estimates = torch.stack(
        [hutchinson_trace(field, x, generator=seeded(100 + i)) for i in range(400)]
    )
    se = estimates.std(0) / math.sqrt(400)
    assert ((estimates.mean(0) - exact).abs() < 4 * se + 1e-12).all()


def test_score_matching_on_a_gaussian_recovers_sample_mean_and_precision():
    """Hyvarinen (2005): for a Gaussian model the score-matching estimate is the MLE.

    The model s(x) = -P (x - mu) with P = L L^T, trained by gradient descent on the implicit
    objective, converges to the sample mean and the inverse (biased) sample covariance.
    """
    cov = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    g = seeded(9)
    x = torch.randn(500, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    x = x + torch.tensor([1.0, -2.0], dtype=torch.float64)
    mu = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    factor = torch.eye(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [mu, factor],
        max_iter=200,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
    )

    def closure():
        optimizer.zero_grad()
        loss = implicit_score_matching(lambda y: -(y - mu) @ (factor @ factor.T), x)
        loss.backward()
        return loss

    optimizer.step(closure)
    sample_mean = x.mean(0)
    sample_precision = torch.linalg.inv(torch.cov(x.T, correction=0))
    torch.testing.assert_close(mu.detach(), sample_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close((factor @ factor.T).detach(), sample_precision, atol=1e-6, rtol=0)


def test_dsm_trained_model_learns_the_noisy_score_where_the_data_is():
    """Train on a 2-D mixture with DSM at sigma = 0.3 and compare with the exact noisy score.

    Threshold: the Fisher divergence in high-density regions must be below 5% of the mean
    squared norm of the true noisy score there. An untrained network is far above it
    (checked); this training run reaches about 3%.
    """
    mixture = GaussianMixture([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], 0.25, [0.4, 0.4, 0.2])
    sigma = 0.3
    noisy = mixture.perturbed(sigma)
    data = mixture.sample(5000, generator=seeded(10))
    torch.manual_seed(0)
    model = ScoreMLP(2, hidden=128, depth=3)
    untrained = fisher_divergence(model, noisy.score, noisy.sample(3000, generator=seeded(11)))

    def loss(model, batch, generator):
        return denoising_score_matching(model, batch, sigma, generator)

    train(model, loss, data, n_steps=3000, batch_size=512, lr=2e-3, progress=False)
    test_points = noisy.sample(4000, generator=seeded(12))
    high_density = test_points[
        noisy.log_prob(test_points) > torch.quantile(noisy.log_prob(test_points), 0.5)
    ]
    error = fisher_divergence(model, noisy.score, high_density)
    scale = (noisy.score(high_density) ** 2).sum(1).mean().item()
    assert untrained > 0.05 * scale
    assert error < 0.05 * scale, (error, scale)


def test_energy_model_score_is_differentiable_for_training():
    torch.manual_seed(0)
    model = EnergyMLP(2, hidden=16, depth=2)
    loss = denoising_score_matching(model.score, torch.randn(64, 2), sigma=0.5, generator=seeded())
    loss.backward()
    # Every parameter gets a gradient except the last bias: a constant shift of the energy
    # does not change its score (Chapter 2).
    names_without_grad = [name for name, p in model.named_parameters() if p.grad is None]
    assert names_without_grad == ["net.4.bias"]  # depth 2: Linear, SiLU, Linear, SiLU, Linear


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: denoising_score_matching(lambda x: -x, torch.zeros(4, 2), sigma=0.0),
            "sigma must be a positive",
        ),
        (
            lambda: denoising_score_matching(lambda x: -x[:, :1], torch.zeros(4, 2), sigma=1.0),
            "same shape",
        ),
        (lambda: implicit_score_matching(lambda x: -x, torch.zeros(4)), r"shape \(N, d\)"),
        (
            lambda: sliced_score_matching(lambda x: -x, torch.zeros(4, 2), n_projections=0),
            "n_projections",
        ),
        (
            lambda: jacobian_trace(lambda x: x.sum(1), torch.zeros(4, 2)),
            r"fn must map x of shape \(4, 2\).*got shape \(4,\)",
        ),
        (lambda: ScoreMLP(2)(torch.zeros(4, 3)), r"shape \(N, 2\)"),
        (
            lambda: train(ScoreMLP(2), lambda m, b, g: m(b).sum(), torch.zeros(4, 2), lr=0),
            "lr must be a positive",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
