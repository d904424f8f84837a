"""Training energies by maximum likelihood: contrastive divergence, its persistent versions,
and noise-contrastive estimation, checked against closed forms on Gaussians."""

import math

import pytest
import torch

from ebm_book.energies import Gaussian
from ebm_book.losses import contrastive_divergence, noise_contrastive_estimation
from ebm_book.partition import tensor_grid


def seeded(seed):
    return torch.Generator().manual_seed(seed)


# --- noise-contrastive estimation -------------------------------------------------------------

MEAN = torch.tensor([0.5, -0.5], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=torch.float64)


def gaussian_features(x):
    """phi(x): log p_theta(x) = theta . phi(x) is every 2-D Gaussian, with theta = (Lambda mu,
    Lambda_11, Lambda_12, Lambda_22, c) and c its log-normalizer."""
    x1, x2 = x[:, 0], x[:, 1]
    return torch.stack([x1, x2, -(x1**2) / 2, -x1 * x2, -(x2**2) / 2, -torch.ones_like(x1)], 1)


def gaussian_parameters(mean, cov):
    precision = torch.linalg.inv(cov)
    log_z = 0.5 * mean @ precision @ mean + math.log(2 * math.pi) + 0.5 * torch.logdet(cov)
    entries = torch.stack([precision[0, 0], precision[0, 1], precision[1, 1]])
    return torch.cat([precision @ mean, entries, log_z.reshape(1)])


def nce_asymptotic_covariance(data, noise, noise_ratio):
    """Gutmann & Hyvarinen (2012), Theorem 3: sqrt(n) (theta_hat - theta) -> N(0, Sigma) with
    Sigma = I^-1 - (1 + 1/nu) I^-1 E[P g] E[P g]^T I^-1, I = E_p[P g g^T], P = nu q / (p + nu q),
    g = grad_theta log p_theta = phi. The expectations over the data density by quadrature."""
    points, weights = tensor_grid([(-12.0, 12.0)] * 2, 241)
    p, q = data.log_prob(points).exp().double(), noise.log_prob(points).exp().double()
    weight = weights * p * noise_ratio * q / (p + noise_ratio * q)
    g = gaussian_features(points)
    fisher = (g * weight[:, None]).T @ g
    mean_g = (g * weight[:, None]).sum(0)
    inverse = torch.linalg.inv(fisher)
    return inverse - (1 + 1 / noise_ratio) * inverse @ torch.outer(mean_g, mean_g) @ inverse


def test_noise_contrastive_estimation_recovers_a_gaussian_and_its_log_normalizer():
    """NCE's minimizer is within 4 asymptotic standard errors of the truth in each of the six
    parameters, the log-normalizer c = log Z included. The standard errors are those of
    Theorem 3 (checked offline: over 40 seeds the spread of the estimates matched them within
    the 11% that 40 draws allow). The loss is convex in theta (logistic regression on phi(x)),
    so L-BFGS finds its minimizer for the fixed data and noise samples."""
    data, noise = Gaussian(MEAN, COV), Gaussian([0.0, 0.0], cov=2.0)
    n, noise_ratio = 4000, 4
    x = data.sample(n, generator=seeded(0)).double()
    theta = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [theta],
        max_iter=200,
        tolerance_grad=1e-10,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = noise_contrastive_estimation(
            lambda y: gaussian_features(y) @ theta, x, noise, noise_ratio, seeded(1)
        )
        loss.backward()
        return loss

    optimizer.step(closure)
    truth = gaussian_parameters(MEAN, COV)
    standard_errors = (nce_asymptotic_covariance(data, noise, noise_ratio).diagonal() / n).sqrt()
    assert ((theta.detach() - truth).abs() < 4 * standard_errors).all()
    assert theta.grad.abs().max() < 1e-6  # converged to the minimizer


def test_noise_contrastive_estimation_at_the_true_density_is_the_bayes_risk():
    """With log p_theta = log p, the loss estimates, without bias, the risk of the Bayes
    classifier, E_p[softplus(-G)] + nu E_q[softplus(G)] with G = log p - log(nu q), here by
    quadrature: within 4 standard errors, from the spread of the loss's n data terms and
    nu n noise terms (two independent means)."""
    data, noise, noise_ratio, n = Gaussian(MEAN, COV), Gaussian([0.0, 0.0], cov=2.0), 3, 20_000
    softplus = torch.nn.functional.softplus

    def log_odds(z):
        return data.log_prob(z).double() - noise.log_prob(z).double() - math.log(noise_ratio)

    points, weights = tensor_grid([(-12.0, 12.0)] * 2, 241)
    p, q = data.log_prob(points).double().exp(), noise.log_prob(points).double().exp()
    risk = (weights * p * softplus(-log_odds(points))).sum() + noise_ratio * (
        weights * q * softplus(log_odds(points))
    ).sum()
    x = data.sample(n, generator=seeded(2))
    loss = noise_contrastive_estimation(data.log_prob, x, noise, noise_ratio, seeded(3))
    y = noise.sample(noise_ratio * n, generator=seeded(3))  # the loss's own noise samples
    data_terms, noise_terms = softplus(-log_odds(x)), softplus(log_odds(y))
    torch.testing.assert_close(loss.double(), (data_terms.sum() + noise_terms.sum()) / n)
    standard_error = math.sqrt((data_terms.var() + noise_ratio * noise_terms.var()).item() / n)
    assert abs(loss.item() - risk.item()) < 4 * standard_error


# --- contrastive divergence -------------------------------------------------------------------


def test_contrastive_divergence_gradient_is_the_difference_of_mean_energy_gradients():
    theta = torch.tensor([1.0, 2.0], requires_grad=True)

    def energy(x):
        return (theta * x**2).sum(1)

    x, y = torch.tensor([[1.0, 1.0], [2.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    contrastive_divergence(energy, x, y, regularization=0.5).backward()
    e_x, e_y = energy(x).detach(), energy(y).detach()
    grad_x, grad_y = x**2, y**2  # dE/dtheta per point
    expected = (
        grad_x.mean(0)
        - grad_y.mean(0)
        + 0.5 * ((2 * e_x[:, None] * grad_x).mean(0) + (2 * e_y[:, None] * grad_y).mean(0))
    )
    torch.testing.assert_close(theta.grad, expected)


def test_contrastive_divergence_passes_no_gradient_through_the_samples():
    x = torch.tensor([[1.0, 0.0]])
    samples = torch.tensor([[0.5, 0.5]], requires_grad=True)
    loss = contrastive_divergence(lambda z: (z**2).sum(1), x, 2 * samples)
    assert not loss.requires_grad  # the energy has no parameters, and the samples are cut off


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: contrastive_divergence(lambda z: z, torch.zeros(3, 2), torch.zeros(3, 2)), ValueError, r"energy must return a tensor of shape \(3,\)"),
        (lambda: contrastive_divergence(lambda z: z.sum(1), torch.zeros(3, 2), torch.zeros(3, 3)), ValueError, r"samples must have shape \(N, 2\)"),
        (lambda: contrastive_divergence(lambda z: z.sum(1), torch.zeros(3, 2), torch.zeros(3, 2), -1.0), ValueError, r"regularization must be a non-negative number; got -1.0"),
        (lambda: noise_contrastive_estimation(lambda z: z.sum(1), torch.zeros(3, 2), "gauss"), TypeError, r"noise must have the methods sample"),
        (lambda: noise_contrastive_estimation(lambda z: z.sum(1), torch.zeros(3, 2), Gaussian([0.0, 0.0]), 0), ValueError, r"noise_ratio must be a positive integer; got 0"),
        (lambda: noise_contrastive_estimation(lambda z: z.sum(1), torch.zeros(3, 2), Gaussian([0.0]), 1), ValueError, r"noise.sample\(n\) must have shape \(N, 2\)"),
    ],
)  # fmt: skip
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
