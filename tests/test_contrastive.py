"""Training energies by maximum likelihood: contrastive divergence, its persistent versions,
and noise-contrastive estimation, checked against closed forms on Gaussians."""

import math

import pytest
import torch

from ebm_book import nets
from ebm_book.contrastive import ContrastiveDivergence, ReplayBuffer, short_run_langevin
from ebm_book.energies import Gaussian
from ebm_book.losses import contrastive_divergence, noise_contrastive_estimation
from ebm_book.partition import tensor_grid
from ebm_book.sampling import langevin
from ebm_book.score import score_from_energy
from ebm_book.training import train


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


# --- the chains: short-run Langevin, the replay buffer, the training step ------------------------


class DiagonalGaussianEnergy(torch.nn.Module):
    """E_theta(x) = sum_i lambda_i (x_i - mu_i)^2 / 2: p_theta = N(mu, diag(1 / lambda))."""

    def __init__(self, mean, precision):
        super().__init__()
        self.mean = torch.nn.Parameter(torch.tensor(mean, dtype=torch.float64))
        self.precision = torch.nn.Parameter(torch.tensor(precision, dtype=torch.float64))

    def forward(self, x):
        return 0.5 * (self.precision * (x - self.mean) ** 2).sum(1)

    def sample(self, n, generator):
        z = torch.randn(n, len(self.mean), generator=generator, dtype=torch.float64)
        return (self.mean + z / self.precision.sqrt()).detach()

    def per_point_gradients(self, x):
        """dE/dmu and dE/dlambda at each point: -lambda (x - mu) and (x - mu)^2 / 2."""
        diff = (x - self.mean).detach()
        return torch.cat([-self.precision.detach() * diff, 0.5 * diff**2], dim=1)

    def maximum_likelihood_gradient(self, data):
        """d/dtheta of the mean negative log-likelihood: E_data[dE] - E_p_theta[dE], where
        E_p_theta[dE/dmu] = 0 and E_p_theta[dE/dlambda] = 1 / (2 lambda)."""
        model_term = torch.cat([torch.zeros(2), 0.5 / self.precision.detach()])
        return self.per_point_gradients(data).mean(0) - model_term.to(data)


BOX = [(-8.0, 8.0)] * 2


def cd_gradient(model, step, data, seed):
    model.zero_grad()
    step(model, data, seeded(seed)).backward()
    gradient = torch.cat([model.mean.grad, model.precision.grad])
    sample_terms = model.per_point_gradients(step.samples)
    return gradient, sample_terms.std(0) / math.sqrt(len(sample_terms))


def test_contrastive_divergence_from_the_stationary_distribution_is_the_likelihood_gradient():
    """Persistent chains that start at p_theta stay there, so the CD gradient's expectation is
    the maximum-likelihood gradient, known in closed form for a Gaussian energy. Each of its
    four components lies within 4 standard errors (from the samples' spread / sqrt(n)).

    Unadjusted Langevin leaves p_theta only approximately invariant: from the variance
    1/lambda, one step adds eps^2 lambda / 4 to it, so 10 steps with eps = 0.01 and
    lambda = 2 bias E[(y - mu)^2 / 2] by about 2.5e-4, a tenth of its standard error here."""
    model, n = DiagonalGaussianEnergy([0.5, -1.0], [1.0, 2.0]), 20_000
    data = Gaussian([0.0, 0.0], cov=[[2.0, 0.0], [0.0, 0.5]]).sample(n, generator=seeded(20))
    data = data.double()
    buffer = ReplayBuffer(BOX, reinit_prob=0.0, initial=model.sample(n, seeded(21)))
    step = ContrastiveDivergence(step_size=0.01, n_steps=10, buffer=buffer)
    gradient, standard_error = cd_gradient(model, step, data, 22)
    exact = model.maximum_likelihood_gradient(data)
    assert ((gradient - exact).abs() < 4 * standard_error).all()
    # the chains persist: the buffer now holds the samples (in the order of its slots)
    assert torch.equal(buffer.states.sort(0).values, step.samples.sort(0).values)


def test_contrastive_divergence_from_the_data_is_biased():
    """CD-1 from the data: the samples barely leave the data, the two terms nearly cancel, and
    the gradient in the precisions misses the likelihood gradient by more than 50 standard
    errors (it is less than a tenth of it)."""
    model, n = DiagonalGaussianEnergy([0.5, -1.0], [1.0, 2.0]), 20_000
    data = Gaussian([0.0, 0.0], cov=[[2.0, 0.0], [0.0, 0.5]]).sample(n, generator=seeded(23))
    data = data.double()
    step = ContrastiveDivergence(step_size=0.01, n_steps=1)
    gradient, standard_error = cd_gradient(model, step, data, 24)
    exact = model.maximum_likelihood_gradient(data)
    assert ((gradient - exact)[2:].abs() > 50 * standard_error[2:]).all()
    assert (gradient[2:].abs() < 0.1 * exact[2:].abs()).all()


def test_short_run_langevin_at_temperature_one_is_langevin_on_the_energy_s_score():
    energy = Gaussian([1.0, -1.0], cov=[[1.0, 0.4], [0.4, 0.8]])
    x0 = torch.zeros(100, 2)
    ours = short_run_langevin(energy, x0, 0.1, 30, seeded(30), record_every=10)
    reference = langevin(lambda x: score_from_energy(energy, x), x0, 0.1, 30, seeded(30), 10)
    assert torch.equal(ours.samples, reference.samples)
    assert torch.equal(ours.trajectory, reference.trajectory)


@pytest.mark.parametrize("temperature", [0.25, 1.0])
def test_short_run_langevin_samples_the_density_at_its_temperature(temperature):
    """On E = x^2/2 the chains' stationary variance is T / (1 - eps/4) (the unadjusted step's
    bias); 20,000 chains measure it within 4 standard errors, v sqrt(2 / (n - 1))."""
    n, step_size = 20_000, 0.2
    x = short_run_langevin(
        lambda x: 0.5 * (x**2).sum(1), torch.zeros(n, 1), step_size, 300, seeded(31), temperature
    ).samples
    variance = temperature / (1 - step_size / 4)
    assert abs(x.var().item() - variance) < 4 * variance * math.sqrt(2 / (n - 1))


def test_short_run_langevin_clips_each_chain_s_gradient():
    """|grad E| = |x| = 100 is clipped to 1: ten steps of eps/2 = 0.05 move the chain by 0.5
    towards the minimum (the noise, at T = 1e-12, is negligible)."""
    x0 = torch.tensor([[60.0, 80.0], [0.3, 0.4]], dtype=torch.float64)
    x = short_run_langevin(
        lambda x: 0.5 * (x**2).sum(1), x0, 0.1, 10, seeded(32), 1e-12, max_grad_norm=1.0
    ).samples
    # the noise, sqrt(eps T) z = 3e-7 z per step, is far below the tolerance
    torch.testing.assert_close(x[0].norm().item(), 99.5, rtol=0, atol=1e-5)
    torch.testing.assert_close(x[1], x0[1] * 0.95**10, rtol=0, atol=1e-5)  # |x| < 1: no clip


def test_replay_buffer_restarts_the_expected_fraction_of_chains():
    """5% of the drawn chains restart from noise: within 4 binomial standard errors."""
    buffer = ReplayBuffer(BOX, capacity=20_000, reinit_prob=0.05, initial=torch.zeros(20_000, 2))
    x0, index = buffer.sample(20_000, seeded(33))
    restarted = (x0 != 0).any(dim=1).double().mean().item()
    assert abs(restarted - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 20_000)
    assert sorted(index.tolist()) == list(range(20_000))  # each chain used once
    assert (x0.abs() <= 8.0).all()


def test_contrastive_divergence_with_the_batch_as_start_draws_its_noise_reproducibly():
    torch.manual_seed(0)
    model, data = nets.EnergyMLP(2, hidden=16), torch.randn(64, 2, generator=seeded(34))
    first = ContrastiveDivergence(0.05, 5)(model, data, seeded(35))
    second = ContrastiveDivergence(0.05, 5)(model, data, seeded(35))
    assert first.item() == second.item()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: ReplayBuffer(BOX, reinit_prob=1.5), ValueError, r"reinit_prob must be a probability in \[0, 1\]; got 1.5"),
        (lambda: ReplayBuffer(BOX, initial=torch.zeros(5, 3)), ValueError, r"initial must have shape \(N, 2\)"),
        (lambda: ReplayBuffer(BOX, capacity=10).sample(20), ValueError, r"n must be at most the buffer's capacity, 10; got 20"),
        (lambda: ReplayBuffer(BOX, capacity=10).update(torch.arange(3), torch.zeros(2, 2)), ValueError, r"index must be the tensor of 2 slots"),
        (lambda: ContrastiveDivergence(0.1, buffer=BOX), TypeError, r"buffer must be a ReplayBuffer or None; got list"),
        (lambda: ContrastiveDivergence(0.1, regularization=-1), ValueError, r"regularization must be a non-negative number; got -1"),
        (lambda: short_run_langevin(lambda x: x, torch.zeros(3, 2), 0.1, 5), ValueError, r"energy must return a tensor of shape \(3,\)"),
        (lambda: short_run_langevin(lambda x: (x**2).sum(1), torch.zeros(3, 2), 0.1, 5, max_grad_norm=0), ValueError, r"max_grad_norm must be a positive number; got 0"),
    ],
)  # fmt: skip
def test_the_chains_refuse_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_spectral_normalization_bounds_the_energy_s_gradient():
    """|grad E| <= prod_l ||W_l||_2 * max SiLU' ^ depth, with max SiLU' = 1.0998; spectral
    normalization makes each ||W_l||_2 about 1 (power iteration; checked to 2%), and the
    energy trains by contrastive divergence with it."""
    torch.manual_seed(0)
    model = nets.EnergyMLP(2, hidden=32, depth=3, spectral_norm=True)
    data = 3 * torch.randn(256, 2, generator=seeded(40))
    train(model, ContrastiveDivergence(0.05, 5), data, 5, 64, progress=False)
    linears = [layer for layer in model.net if hasattr(layer, "weight")]
    norms = torch.stack([torch.linalg.matrix_norm(layer.weight.detach(), 2) for layer in linears])
    assert ((norms - 1).abs() < 0.02).all()
    x = 5 * torch.randn(1000, 2, generator=seeded(41))
    gradient_norms = score_from_energy(model, x).norm(dim=1)
    assert gradient_norms.max() <= norms.prod() * 1.0998**3
