# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Training energy-based models by maximum likelihood
#
# !!! abstract "In this chapter"
#     **Time:** about 90 minutes: about 50 of reading and running the code, about 40 of exercises.
#
#     **You will learn to**
#
#     - derive the maximum-likelihood gradient of an energy model, a positive phase on the data and a negative phase under the model, and the gradient of $\log Z_\theta$ behind it;
#     - train an energy network by contrastive divergence, and predict which part of the likelihood gradient short chains started at the data lose;
#     - write the loss of persistent contrastive divergence with a replay buffer, and tell a model whose sampler works from a model whose Boltzmann density is right;
#     - diagnose a training run whose energies run away, and choose among the stabilisers used in practice;
#     - fit an energy without sampling, by noise-contrastive estimation (which learns $\log Z_\theta$ as well) and by denoising score matching;
#     - compare trained energies honestly, by exact held-out log-likelihood and sample distance with error bars, and estimate $\log Z_\theta$ in high dimension with annealed importance sampling.
#
#     **You need** [Chapter 1](01_energy_functions.py) (the partition function and importance sampling), [Chapter 2](02_score_and_langevin.py) (Langevin dynamics, its step-size bias, MALA), [Chapter 3](03_score_matching.py) (denoising score matching) and [Chapter 4](04_annealed_langevin.py) (the moving average of the weights).
#
# Chapter 1 wrote down the gradient of the log-likelihood of an energy model in three
# lines, and then left it: it needs samples of the model, and samples were what we did not
# have. Chapter 2 built a sampler from nothing but $-\nabla_x E$, and Chapters 3 and 4
# learned scores instead of energies. This chapter goes back and trains energies as
# energies: by maximum likelihood with Langevin samples, by classification against noise,
# and by score matching. In two dimensions every trained energy can be normalized exactly
# on a grid, so for once we can measure which method learned the right density.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ebm_book import (
    claims,
    contrastive,
    display,
    energies,
    examples,
    losses,
    metrics,
    mixtures,
    nets,
    partition,
    plotting,
    seeds,
    training,
)
from ebm_book.exercises.ch05_likelihood import (
    check_log_z_gradient,
    check_pcd_loss,
    check_runaway_diagnosis,
)
from ebm_book.score import score_from_energy

plotting.use_book_style()
seeds.manual_seed(0)  # the initial weights of networks made below

# %% [markdown]
# ## 5.1 The maximum-likelihood gradient
#
# An energy model is a family of energies $E_\theta$ with parameters $\theta$, a neural
# network for instance, and its Boltzmann densities at $T = 1$,
#
# $$
# p_\theta(x) = \frac{e^{-E_\theta(x)}}{Z_\theta},
# \qquad Z_\theta = \int e^{-E_\theta(x)}\,\mathrm{d}x .
# $$
#
# Maximum likelihood fits $\theta$ to data $x_1, \dots, x_n$ drawn from a density $p$ by
# minimizing the average negative log-likelihood, whose expectation over the data is
#
# $$
# J_{\text{ML}}(\theta) = -\mathbb{E}_{x \sim p}\big[\log p_\theta(x)\big]
# = \mathbb{E}_{x \sim p}\big[E_\theta(x)\big] + \log Z_\theta
# = \mathrm{KL}(p \,\Vert\, p_\theta) - \mathbb{E}_{x \sim p}\big[\log p(x)\big] .
# $$
#
# The last term does not depend on $\theta$: maximum likelihood minimizes the
# Kullback–Leibler divergence from the data to the model. The first term is easy, an
# average of energies over the data. The second is Chapter 1's intractable integral. Its
# gradient, however, is an expectation. Differentiate under the integral sign:
#
# $$
# \nabla_\theta \log Z_\theta = \frac{1}{Z_\theta} \int \nabla_\theta e^{-E_\theta(x)}\,\mathrm{d}x
# = -\int \frac{e^{-E_\theta(x)}}{Z_\theta}\, \nabla_\theta E_\theta(x)\,\mathrm{d}x
# = -\,\mathbb{E}_{y \sim p_\theta}\big[\nabla_\theta E_\theta(y)\big] .
# \tag{5.1}
# $$
#
# So the gradient of the likelihood objective is a difference of two averages of the same
# function $\nabla_\theta E_\theta$,
#
# $$
# \nabla_\theta J_{\text{ML}}(\theta)
# = \underbrace{\mathbb{E}_{x \sim p}\big[\nabla_\theta E_\theta(x)\big]}_{\text{positive phase}}
# - \underbrace{\mathbb{E}_{y \sim p_\theta}\big[\nabla_\theta E_\theta(y)\big]}_{\text{negative phase}} .
# \tag{5.2}
# $$
#
# A gradient step lowers the energy where the data are and raises it where the model puts
# its mass. When the two averages agree, the gradient vanishes: at a maximum of the
# likelihood, every statistic $\nabla_\theta E_\theta$ has the same mean under the model
# as under the data. For a Gaussian energy, whose $\nabla_\theta E_\theta$ holds the
# coordinates of $x$ and their products, this is the familiar rule that the fitted mean
# and covariance are those of the data.
#
# With data $x_1, \dots, x_n$ and samples $y_1, \dots, y_{n'}$ of the model (the
# *negative samples*), (5.2) is estimated without bias by
# $\frac1n\sum_i \nabla_\theta E_\theta(x_i) - \frac1{n'}\sum_j \nabla_\theta E_\theta(y_j)$.
# The positive phase needs nothing but the data. The negative phase needs samples of
# $p_\theta$, and of the current $p_\theta$, at every step of training. That is the whole
# difficulty of this chapter, and it ties the first two chapters together: the samples
# cannot come from importance sampling, which Chapter 1 saw collapse in high dimension,
# but they can come from Langevin dynamics (Chapter 2), which needs only the score
# $-\nabla_x E_\theta$, with all its limitations.
#
# Here is (5.1) at work on a Gaussian energy
# $E_\theta(x) = \tfrac12 (x - \mu)^\top \Lambda (x - \mu)$, whose parameters are the
# mean $\mu$ and the precision $\Lambda$, and whose $\log Z_\theta = \log 2\pi - \tfrac12 \log\det\Lambda$
# in two dimensions is known. Autograd differentiates the closed form; the negative phase
# averages $-\nabla_\theta E_\theta$ over 20 000 exact samples of $p_\theta$.


# %%
class GaussianEnergy(torch.nn.Module):
    """E(x) = (x - mu)^T Lambda (x - mu) / 2, with mu and Lambda as parameters."""

    def __init__(self, mean, precision):
        super().__init__()
        self.mean = torch.nn.Parameter(torch.tensor(mean, dtype=torch.float64))
        self.precision = torch.nn.Parameter(
            torch.tensor(precision, dtype=torch.float64)
        )

    def forward(self, x):
        offset = x - self.mean
        return 0.5 * ((offset @ self.precision) * offset).sum(dim=1)

    def log_partition(self):  # log Z in two dimensions
        return math.log(2 * math.pi) - 0.5 * torch.logdet(self.precision)

    def sample(self, n, generator):
        covariance = torch.linalg.inv(self.precision.detach())
        z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self.mean.detach() + z @ torch.linalg.cholesky(covariance).T


gaussian = GaussianEnergy([0.5, -0.5], [[2.0, 0.6], [0.6, 1.0]])
parameters = [gaussian.mean, gaussian.precision]
closed_form = torch.autograd.grad(
    gaussian.log_partition(), parameters, allow_unused=True
)
closed_form = torch.cat([
    torch.zeros(2, dtype=torch.float64) if g is None else g.flatten()
    for g in closed_form
])  # fmt: skip
y = gaussian.sample(20_000, seeds.generator(1))  # exact samples of p_theta
negative_phase = torch.cat([
    g.flatten()
    for g in torch.autograd.grad(-gaussian(y).mean(), parameters)
])  # fmt: skip
# The standard error of an average: the spread of the per-sample terms
# -grad_theta E(y_j) = (Lambda (y - mu), -(y - mu)(y - mu)^T / 2) over sqrt(n').
offset = y - gaussian.mean.detach()
per_sample = torch.cat(
    [
        offset @ gaussian.precision.detach(),
        -0.5 * (offset[:, :, None] * offset[:, None, :]).flatten(1),
    ],
    dim=1,
)
standard_error = per_sample.std(dim=0) / math.sqrt(len(y))
names = ["mu_1", "mu_2", "Lambda_11", "Lambda_12", "Lambda_21", "Lambda_22"]
display.show_table(
    ["parameter", "$\\nabla_\\theta \\log Z_\\theta$ (closed form)",
     "negative phase (5.1)", "standard error"],
    [[name, a.item(), b.item(), s.item()] for name, a, b, s
     in zip(names, closed_form, negative_phase, standard_error)],
)  # fmt: skip

# %%
# Six comparisons at four standard errors: a false alarm about once in 2500.
z_largest = ((negative_phase - closed_form) / standard_error).abs().max()
claims.claim(
    "the negative phase agrees with the gradient of log Z within four "
    "standard errors",
    z_largest < 4,
    largest_z=z_largest,
)

# %% [markdown]
# The gradient in $\mu$ is zero ($Z$ does not depend on where the Gaussian sits), and the
# gradient in $\Lambda$ is $-\tfrac12\Lambda^{-1}$, minus half the covariance, which is
# what the samples' average of $-\tfrac12 (y - \mu)(y - \mu)^\top$ estimates. The
# package's `losses.contrastive_divergence(energy, x, samples)` is the loss
# $\frac1n\sum_i E_\theta(x_i) - \frac1{n'}\sum_j E_\theta(y_j)$, whose gradient is this
# estimate of (5.2), with the samples held fixed.
#
# ### Exercise 5.1: the gradient of $\log Z$ (derive it, about 10 minutes)
#
# Take the energy $E_\theta(x) = \tfrac12\theta_1\lVert x\rVert^2 + \theta_2^\top x$ on
# $\mathbb{R}^d$, with a number $\theta_1 > 0$ and a vector $\theta_2 \in \mathbb{R}^d$.
# Derive $\partial \log Z_\theta / \partial\theta_1$ in two ways: from (5.1), as minus the
# model's average of $\partial E_\theta/\partial\theta_1$ (complete the square in
# $E_\theta$ to find $p_\theta$), and by differentiating the closed form of $Z_\theta$.
# Write the result as a Python function of $\theta_1$, $\lVert\theta_2\rVert$ and $d$; the
# grader compares it with the right formula at random values.


# %%
def d_log_z_d_theta_1(theta_1: float, theta_2_norm: float, d: int) -> float:
    """The derivative of log Z_theta in theta_1, for the energy above."""
    # TODO: your formula here
    raise NotImplementedError


check_log_z_gradient(d_log_z_d_theta_1)

# %% tags=["solution"]
from ebm_book.exercises.ch05_likelihood import check_log_z_gradient


def d_log_z_d_theta_1_solution(theta_1, theta_2_norm, d):
    # E = theta_1 |x + theta_2 / theta_1|^2 / 2 - |theta_2|^2 / (2 theta_1): p_theta
    # is N(-theta_2 / theta_1, I / theta_1), and by (5.1) the derivative is
    # -E[|x|^2] / 2 = -(trace of the covariance + squared norm of the mean) / 2.
    return -d / (2 * theta_1) - theta_2_norm**2 / (2 * theta_1**2)


check_log_z_gradient(d_log_z_d_theta_1_solution)

# %% [markdown]
# ## 5.2 Contrastive divergence
#
# [Hinton (2002)](../references.md#hinton2002) proposed the cheapest negative samples
# there are: start one chain at each data point of the batch and run it for a few steps of
# a sampler that leaves $p_\theta$ invariant. Here the sampler is Langevin dynamics (2.1)
# on the score $-\nabla_x E_\theta$, invariant up to its step-size bias (Chapter 2), run
# for $B$ steps, and the samples $y_j$ are where the chains end. The loss whose gradient
# is the estimate of (5.2) is
#
# $$
# J_{\text{CD}}(\theta) = \frac1n \sum_{i=1}^{n} E_\theta(x_i) - \frac1{n'} \sum_{j=1}^{n'} E_\theta(y_j),
# \qquad y_j \text{ held fixed} .
# \tag{5.3}
# $$
#
# Its value means nothing (it ignores $\log Z_\theta$); only its gradient does. The
# method is called **contrastive divergence**, CD-$B$ in this book's letters, because of
# what it minimizes. Write $p_B$ for the distribution of the data after $B$ steps of the
# sampler. Since the sampler leaves $p_\theta$ invariant, every step brings $p_B$ closer to
# $p_\theta$, and the difference
# $\mathrm{KL}(p \,\Vert\, p_\theta) - \mathrm{KL}(p_B \,\Vert\, p_\theta) \ge 0$ vanishes
# only when the data are already distributed as the model. Its gradient is (5.3)'s, plus
# one more term, from the dependence of $p_B$ on $\theta$, which contrastive divergence
# drops: that is its bias ([Carreira-Perpiñán & Hinton, 2005](../references.md#carreira2005)).
#
# **What the bias is.** A one-parameter Gaussian model shows it exactly. Take
# $E(x) = \tfrac12\Lambda x^2$ in one dimension, with its precision $\Lambda$ as the
# parameter. Langevin's update is linear,
# $y \leftarrow (1 - \tfrac{\epsilon}{2}\Lambda)\, y + \sqrt{\epsilon}\, z$, so a chain
# started at a data point $x$ ends after $B$ steps at
# $(1 - \tfrac{\epsilon}{2}\Lambda)^B x$ plus independent Gaussian noise, and the
# average of $\partial E/\partial\Lambda = \tfrac12 y^2$ over the chains moves from the
# data's value to the model's by the fraction $1 - (1 - \tfrac{\epsilon}{2}\Lambda)^{2B}$.
# Contrastive divergence's gradient is therefore the likelihood gradient multiplied by that
# fraction (up to the step's bias, Chapter 2): the fraction of the way to equilibrium the
# chains get in $B$ steps. We measure it with the package's `contrastive.ContrastiveDivergence`
# on data of variance 2, with $\Lambda = 1$ and $\epsilon = 0.05$:


# %%
class OneDimensionalGaussian(torch.nn.Module):
    """E(x) = Lambda x^2 / 2 in one dimension, with the precision Lambda."""

    def __init__(self, precision):
        super().__init__()
        self.precision = torch.nn.Parameter(torch.tensor(precision))

    def forward(self, x):
        return 0.5 * self.precision * x[:, 0] ** 2


one_d = OneDimensionalGaussian(1.0)
eps = 0.05
wide_data = math.sqrt(2) * torch.randn(20_000, 1, generator=seeds.generator(2))
mean_square = (wide_data**2).mean().item()
stationary = 1 / (1 - eps / 4)  # the variance Langevin's chains settle at
likelihood_gradient = 0.5 * (mean_square - 1.0)
rows, cd_z = [], []
for n_steps in (1, 10, 100):  # B
    cd = contrastive.ContrastiveDivergence(step_size=eps, n_steps=n_steps)
    (gradient,) = torch.autograd.grad(
        cd(one_d, wide_data, seeds.generator(3)), one_d.precision
    )
    kept = 1 - (1 - eps / 2) ** (2 * n_steps)  # the fraction predicted
    predicted = kept * 0.5 * (mean_square - stationary)
    # Each chain gives one term (x^2 - y^2) / 2: the standard error of their mean.
    terms = 0.5 * (wide_data**2 - cd.samples**2)[:, 0]
    error = terms.std().item() / math.sqrt(len(terms))
    cd_z.append(abs(gradient.item() - predicted) / error)
    rows.append([
        n_steps, kept, predicted / likelihood_gradient,
        gradient.item() / likelihood_gradient, error / likelihood_gradient,
    ])  # fmt: skip
display.show_table(
    [
        "$B$",
        "$1 - (1 - \\epsilon\\Lambda/2)^{2B}$",
        "predicted, with the step's bias",
        "measured",
        "standard error",
    ],
    rows,
)

# %%
# Three comparisons at four standard errors of the measured gradient.
claims.claim(
    "contrastive divergence keeps the predicted fraction of the likelihood "
    "gradient, within four standard errors, for every B",
    max(cd_z) < 4,
    z=cd_z,
)

# %% [markdown]
# One step keeps a few percent of the gradient, ten steps about 40%, a hundred nearly all.
# Here the direction is right, and training would still reach the right $\Lambda$, only
# slowly: at $p_\theta = p$ both gradients vanish. In a model with many parameters each
# direction has its own speed, and the lesson generalizes: **contrastive divergence keeps
# the parts of the gradient along which short chains relax, and loses the slow ones.**
# The slowest of all, in Chapter 2's experience, is the balance of mass between separated
# modes. Section 5.7 comes back to it.
#
# **Contrastive divergence on a 2-D density.** The running example of Chapters 1 to 3, the
# mixture of three tilted Gaussians with weights 0.5, 0.3 and 0.2, is our data: 4000
# training points, and 4000 more held out for evaluation. The model is a
# `nets.EnergyMLP`: three hidden layers of 64 SiLU units, $E_\theta: \mathbb{R}^2 \to \mathbb{R}$.
# Every training run in this chapter takes 200 Adam steps (120 for the runs of Section 5.4
# that run away) with learning rate 0.005 on batches of 128, and, as in Chapter 4
# (technique 5), we evaluate the moving average of the weights,
# $\bar\theta \leftarrow 0.98\,\bar\theta + 0.02\,\theta$, over about the last fifty
# steps, except where the network itself is the point (the short-run sampler of Section
# 5.3, the runaway of Section 5.4 and its cures). These are small sizes, for a chapter
# that trains some twenty networks; Section 5.7 measures, with error bars, what they
# reach. Contrastive divergence runs $B = 10$ Langevin steps of $\epsilon = 0.05$ per
# training step.
#
# Because the data live in the plane, the learned energy can be normalized by quadrature
# on a grid of $201 \times 201$ points of the box $[-5, 5]^2$ (Chapter 1):
# `partition.grid_log_likelihood` gives the exact $\log p_\theta$ of any point, and
# `partition.grid_sample` exact samples of $p_\theta$, with no Markov chain involved.

# %%
mixture = examples.example_mixture()
data = mixture.sample(4000, generator=seeds.generator(4))
held_out = mixture.sample(4000, generator=seeds.generator(5)).double()
reference = mixture.sample(2000, generator=seeds.generator(6))  # fresh data
box = [(-5.0, 5.0)] * 2  # the quadrature grid, and where chains restart
true_log_likelihood = mixture.log_prob(held_out).mean().item()
cpu_seconds = {}  # CPU time of each training run, on this machine


def train_energy(loss, seed, name, self_normalizing=False, n_steps=200, **net):
    """Adam on the data; returns the network and its moving average."""
    seeds.manual_seed(seed)  # the initial weights
    model = nets.EnergyMLP(2, hidden=64, depth=3, **net)
    if self_normalizing:  # log p_theta = -E_theta - c, c learned (Section 5.5)
        model = nets.SelfNormalizingEnergy(model)
    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.98))
    started = time.process_time()
    training.train(
        model, loss, data, n_steps=n_steps, batch_size=128, lr=5e-3,
        seed=seeds.seed(seed), progress=False, averaged_model=average,
    )  # fmt: skip
    cpu_seconds.setdefault(name, []).append(time.process_time() - started)
    return model, average.module.eval()


def distance(samples):
    """Sliced Wasserstein distance to fresh data, along the same directions."""
    return metrics.sliced_wasserstein(
        samples, reference, generator=seeds.generator(7)
    )


def evaluate(energy, seed):
    """Held-out log-likelihood, and exact samples of p_theta, from the grid."""
    log_likelihoods = partition.grid_log_likelihood(energy, held_out, box)
    exact = partition.grid_sample(
        energy, 2000, box, generator=seeds.generator(seed)
    )
    weights, _ = metrics.mode_weights(exact, mixture)
    return {
        "ll": log_likelihoods.mean().item(),
        "distance": distance(exact),
        "weights": weights,
        "samples": exact,
    }


floors = torch.tensor([
    distance(mixture.sample(2000, generator=seeds.generator(10 + r)))
    for r in range(5)
])  # fmt: skip
floor, floor_spread = floors.mean().item(), floors.std().item()


def cd_loss():
    return contrastive.ContrastiveDivergence(step_size=0.05, n_steps=10)


cd_model, cd_average = train_energy(cd_loss(), 100, "CD")
cd_result = evaluate(cd_average, 20)
print(f"held-out log-likelihood: CD {cd_result['ll']:.3f}, ", end="")
print(f"the true density {true_log_likelihood:.3f}")

# %% alt="Four panels over the square from -3.5 to 3.5. The 4000 training points of the three-mode mixture; the energy learned by contrastive divergence, with three dark valleys where the data are; its Boltzmann density, normalized on a grid, with three peaks where the data are; and the true density, which it resembles closely."
window = (-3.5, 3.5)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.5))
plotting.plot_samples(data, ax=axes[0], xlim=window, ylim=window, size=2)
axes[0].set(title="training data")
plotting.plot_energy_2d(
    lambda x: cd_average(x).detach(), window, window, ax=axes[1],
    max_energy=cd_average(data).max().item() + 4, colorbar=False,
)  # fmt: skip
axes[1].set(title="learned energy $E_\\theta$")
plotting.plot_density_2d(
    lambda x: cd_average(x).detach(), window, window, ax=axes[2]
)
axes[2].set(title="its density $p_\\theta$")
plotting.plot_density_2d(mixture, window, window, ax=axes[3])
axes[3].set(title="true density $p$")
plt.tight_layout()
plt.show()

# %%
# Over 4 seeds the gap was 0.03 to 0.05 nats (its standard error over the
# held-out points is about 0.002); 0.1 nats leaves room for other seeds.
cd_gap = true_log_likelihood - cd_result["ll"]
claims.claim(
    "contrastive divergence comes within 0.1 nats of the true density's "
    "held-out log-likelihood",
    0 < cd_gap < 0.1,
    gap=cd_gap,
)
# Three valleys, three peaks: every mode holds over a tenth of the exact
# samples of p_theta (the smallest true weight is 0.2; over seeds the
# smallest learned one was 0.16 or more).
claims.claim(
    "the learned density has a peak at each of the three modes",
    cd_result["weights"].min() > 0.1,
    weights=cd_result["weights"].tolist(),
)

# %% tags=["prose"]
display.prose(
    rf"""
    The learned energy has three valleys where the data are, and its
    Boltzmann density, normalized on the grid, is close to the truth: its
    held-out log-likelihood is {cd_result["ll"]:.3f} nats per point against
    {true_log_likelihood:.3f} for the true density, a gap of {cd_gap:.3f}.
    It gives the three modes the weights
    {", ".join(f"{w:.2f}" for w in cd_result["weights"])} (the truth: 0.5, 0.3,
    0.2; from 2000 exact samples of $p_\theta$, each with a standard error of
    about 0.01). On this data the bias of contrastive divergence is small: its
    chains move about $\sqrt{{B\epsilon}} \approx 0.7$ in ten steps, a good
    part of the distance between modes that overlap.
    """
)

# %% [markdown]
# ## 5.3 Persistent chains, replay buffers and short-run samplers
#
# Chains restarted at the data every step must travel from the data to the model within
# $B$ steps. [Tieleman (2008)](../references.md#tieleman2008) kept them instead:
# **persistent contrastive divergence** (PCD) starts each step's chains where the previous
# step left them. The model changes little from one step to the next, so chains that were
# in its equilibrium stay nearly in equilibrium, and their samples make the estimate of
# (5.2) nearly unbiased, however small $B$ is (Exercise 5.2's grader checks exactly this
# on a Gaussian energy: with the chains started at $p_\theta$, the gradient of (5.3) is
# the likelihood gradient, within its standard error).
#
# [Du & Mordatch (2019)](../references.md#du2019) turned this into a **replay buffer**:
# store many chains (here 1000), draw a batch of them at random at every step, restart
# each drawn chain from uniform noise in the box with probability 0.05, run $B$ Langevin
# steps, and write them back. The old chains keep converging while the restarts keep
# exploring regions the old chains have left. `contrastive.ReplayBuffer` implements it.
#
# [Nijkamp et al. (2019)](../references.md#nijkamp2019) went the other way: **short-run**
# chains, restarted from noise at every step and run for a fixed, small $B$. They showed
# that such a model learns to make its *sampler* work: $B$ steps from noise then produce
# good samples, while the model's Boltzmann density, the distribution its chains would
# reach if they ran on, can be far from the data. In two dimensions we can check both
# claims at once: we train a short-run model (every chain restarted from uniform noise at
# every step, $B = 10$) and a replay buffer, and compare the samples of each sampler with
# exact samples of its model's $p_\theta$, from the grid. For the short-run model we also
# let its chains run on, 300 steps more. (Its model is the network itself, with its final
# weights, for which its ten steps are tuned; the replay buffer's, as everywhere in this
# chapter, is the moving average of the weights.)


# %%
def replay_loss(seed, capacity=1000, reinit_prob=0.05):
    buffer = contrastive.ReplayBuffer(
        box, capacity=capacity, reinit_prob=reinit_prob,
        generator=seeds.generator(seed),
    )  # fmt: skip
    return contrastive.ContrastiveDivergence(0.05, 10, buffer=buffer)


replay = replay_loss(30)
_, replay_average = train_energy(replay, 100, "replay buffer")
short_run = replay_loss(31, capacity=128, reinit_prob=1.0)  # noise each step
short_model, _ = train_energy(short_run, 100, "short run")

generator = seeds.generator(32)
noise_start = torch.empty(2000, 2).uniform_(-5, 5, generator=generator)
short_samples = contrastive.short_run_langevin(
    short_model, noise_start, 0.05, 10, generator
).samples
longer = contrastive.short_run_langevin(
    short_model, short_samples, 0.05, 300, generator
).samples
short_exact = evaluate(short_model, 33)
replay_exact = evaluate(replay_average, 34)
sampler_rows = {
    "short run: its 10 steps from noise": distance(short_samples),
    "short run: 300 more steps": distance(longer),
    "short run: exact samples of p_theta": short_exact["distance"],
    "replay buffer: the stored chains": distance(replay.buffer.states),
    "replay buffer: exact samples of p_theta": replay_exact["distance"],
}
display.show_table(
    ["samples", "distance to fresh data"],
    [[name, value] for name, value in sampler_rows.items()]
    + [["fresh data (floor)", f"{floor:.3f} ± {floor_spread:.3f}"]],
)

# %% alt="Five scatter plots over the square from -3.5 to 3.5. Short-run model: the samples of its ten Langevin steps from noise look like the data, three clusters; the same chains after 300 more steps have piled into one mode; exact samples of its Boltzmann density sit in one mode too. Replay buffer: its stored chains look like the data; exact samples of its Boltzmann density give the largest mode, at the lower left, too much of the mass."
fig, axes = plt.subplots(1, 5, figsize=(15, 3.3))
panels = [
    (short_samples, "short run: 10 steps"),
    (longer, "short run: 300 more"),
    (short_exact["samples"], "short run: exact $p_\\theta$"),
    (replay.buffer.states, "replay: stored chains"),
    (replay_exact["samples"], "replay: exact $p_\\theta$"),
]
for ax, (samples, title) in zip(axes, panels):
    plotting.plot_samples(samples, ax=ax, xlim=window, ylim=window, size=2)
    ax.set(title=title)
plt.tight_layout()
plt.show()

# %%
short_ll = short_exact["ll"]
# Over 4 seeds the short-run samples were at 0.14-0.17 and its exact samples
# at 1.2-1.5, with log-likelihoods of -8 to -10: a factor 3 and 2 nats leave
# a wide margin.
claims.claim(
    "the short-run sampler's samples are close to the data, its model's "
    "exact samples three times further or more",
    short_exact["distance"] > 3 * distance(short_samples),
    short_run=distance(short_samples),
    exact=short_exact["distance"],
)
longer_weights, _ = metrics.mode_weights(longer, mixture)
claims.claim(
    "running the short-run chains on moves them away from the data, into one "
    "mode (over 90% of them), where exact samples of p_theta sit too",
    distance(longer) > 2 * distance(short_samples)
    and longer_weights.max() > 0.9
    and short_exact["weights"].max() > 0.9,
    short_run=distance(short_samples),
    longer=distance(longer),
    longer_weights=longer_weights.tolist(),
    exact_weights=short_exact["weights"].tolist(),
)
claims.claim(
    "the short-run model's held-out log-likelihood is more than 2 nats below "
    "the truth",
    short_ll < true_log_likelihood - 2,
    log_likelihood=short_ll,
)
stored = distance(replay.buffer.states)
replay_heavy = replay_exact["weights"][0].item()
# Over 12 runs (8 seeds of the training, 4 seed shifts) the stored chains
# were 0.08 to 0.19 from fresh data, exact samples of the averaged model 0.46
# to 0.83 (always 3.5 times further or more), and these gave the largest mode
# 0.67 to 0.77 (mean 0.73, sd 0.034; the binomial standard error of 2000
# samples is 0.01): 0.6 is almost four sd below the mean.
claims.claim(
    "the replay buffer's model is better than the short-run one by 2 nats or "
    "more; its stored chains are less than half as far from the data as "
    "exact samples of its p_theta, which give the largest mode too much weight",
    replay_exact["ll"] > short_ll + 2
    and 2 * stored < replay_exact["distance"]
    and replay_heavy > 0.6,
    replay=replay_exact["ll"],
    stored=stored,
    exact=replay_exact["distance"],
    largest_mode=replay_heavy,
)

# %% tags=["prose"]
display.prose(
    rf"""
    The short-run model's sampler does what it was trained to do: ten steps
    from noise give samples at distance {distance(short_samples):.3f} from
    fresh data (two samples of the data itself are {floor:.3f} apart). Its
    model does not: exact samples of its $p_\theta$ are
    {short_exact["distance"]:.2f} away, its held-out log-likelihood is
    {short_ll:.1f} nats per point against {true_log_likelihood:.2f}, and
    chains that keep running leave the data's shape for the model's
    ({distance(longer):.2f} after 300 more steps). The energy has learned
    *where ten steps from noise should end*, not how probable each point
    is. The replay buffer's model is much better (held-out log-likelihood
    {replay_exact["ll"]:.2f}), because its chains persist across training
    steps; but there too the stored chains, at {stored:.3f} from the data,
    look better than the model: exact samples of its $p_\theta$ are at
    {replay_exact["distance"]:.3f}, and give the largest mode a weight of
    {replay_heavy:.2f} instead of 0.5. A sampler that
    produces good samples does not certify the density.
    """
)

# %% [markdown]
# ### Exercise 5.2: persistent contrastive divergence with a replay buffer (build it, about 25 minutes)
#
# Write `pcd_loss`, the loss of one training step of persistent contrastive divergence
# with a replay buffer. The buffer is a tensor of stored chains, one per row; your function
# draws $n$ of them at random (as many as the batch has points, without repetition),
# restarts each drawn chain from uniform noise in the box with probability
# `reinit_prob`, runs $B$ = `n_steps` Langevin steps (2.1) on the score
# $-\nabla_x E_\theta$ (autograd gives $\nabla_x E_\theta$), all chains at once, writes
# the chains back into the buffer in place, and returns the loss (5.3). The grader uses a
# Gaussian energy, whose Langevin dynamics and likelihood gradient it knows exactly: it
# checks where chains started at one point end, how many chains restart and where, that
# with the buffer in the model's equilibrium the loss's gradient is (5.2) within its
# standard error, and that Adam with your loss fits the energy to Gaussian data.


# %%
def pcd_loss(
    energy,
    batch: torch.Tensor,
    buffer: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator,
    reinit_prob: float = 0.05,
    box: tuple[float, float] = (-4.0, 4.0),
) -> torch.Tensor:
    """The loss (5.3) of persistent contrastive divergence (Section 5.3).

    energy: E_theta, a torch.nn.Module mapping points (N, d) to energies (N,).
    batch: the data points x_i of this step, shape (n, d).
    buffer: the stored chains, shape (capacity, d), capacity >= n; update it
        in place with the chains' new states.
    step_size, n_steps: epsilon and B of the Langevin steps (2.1).
    generator: draw every random number from it.
    reinit_prob: the probability that a drawn chain restarts from noise,
        uniform in the cube [box[0], box[1]]^d.
    Returns a 0-d tensor whose gradient in theta estimates (5.2).
    """
    # TODO: your code here
    raise NotImplementedError


check_pcd_loss(pcd_loss)

# %% tags=["solution"]
import math  # noqa: F811  (the solution cell is self-contained)

import torch

from ebm_book.exercises.ch05_likelihood import check_pcd_loss


def pcd_loss_solution(
    energy, batch, buffer, step_size, n_steps, generator,
    reinit_prob=0.05, box=(-4.0, 4.0),
):  # fmt: skip
    n, d = batch.shape
    # Draw in the package's order (slots, restarts, noise, then each step's z),
    # so that the same generator gives the package's chains exactly.
    index = torch.randperm(len(buffer), generator=generator)[:n]
    restart = torch.rand(n, generator=generator) < reinit_prob
    noise = box[0] + (box[1] - box[0]) * torch.rand(n, d, generator=generator)
    x = torch.where(restart[:, None], noise.to(buffer), buffer[index])
    for _ in range(n_steps):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)  # grad_x E
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x + 0.5 * step_size * -grad + math.sqrt(step_size) * z
    samples = x.detach()  # y_j: no gradient flows through the sampler
    buffer[index] = samples  # the chains persist
    return energy(batch).mean() - energy(samples).mean()


check_pcd_loss(pcd_loss_solution)

# %% [markdown]
# The package's `contrastive.ContrastiveDivergence` with a `contrastive.ReplayBuffer`
# does the same, and draws its random numbers in the same order. Trained for 20 steps
# from the same initial weights, with the same batches, the two models must agree to the
# last bit:

# %%
start_states = torch.empty(1000, 2).uniform_(
    -5, 5, generator=seeds.generator(35)
)
ours_buffer = start_states.clone()


def ours(model, batch, generator):
    return pcd_loss_solution(
        model, batch, ours_buffer, 0.05, 10, generator, box=(-5.0, 5.0)
    )


package_loss = contrastive.ContrastiveDivergence(
    0.05, 10, buffer=contrastive.ReplayBuffer(box, initial=start_states)
)
trained = []
for loss in (ours, package_loss):
    seeds.manual_seed(36)
    model = nets.EnergyMLP(2, hidden=64, depth=3)
    training.train(
        model, loss, data, n_steps=20, batch_size=128, lr=5e-3,
        seed=seeds.seed(37), progress=False,
    )  # fmt: skip
    trained.append(torch.cat([p.flatten() for p in model.parameters()]))
print("identical parameters:", torch.equal(*trained))
claims.claim(
    "the solution and the package train identical models",
    torch.equal(*trained)
    and torch.equal(ours_buffer, package_loss.buffer.states),
)

# %% [markdown]
# ## 5.4 When training goes wrong, and the stabilisers
#
# Training an energy with its own samples is a feedback loop: the samples shape the
# energy, and the energy shapes the samples. Loops can run away.
#
# ### Exercise 5.3: a run that went wrong (diagnose it, about 5 minutes)
#
# Someone trains the network of Section 5.2 by contrastive divergence on the same data,
# with the same learning rate, batches and $B = 10$, but with Langevin steps six times
# larger, $\epsilon = 0.3$, to let the chains travel further. For some forty training
# steps all looks well. Then the mean energy of the negative samples takes off, and the
# samples scatter far from the data.

# %% alt="Left: the mean energy of the data batch and of the negative samples against the training step, on a symmetric logarithmic scale, for contrastive divergence with step size 0.3: both stay within a few units of zero for the first forty steps; then the samples' mean energy climbs by orders of magnitude while the data's swings. Right: the last negative samples, scattered far from the data, which make a tiny grey patch at the centre."
runaway = contrastive.ContrastiveDivergence(step_size=0.3, n_steps=10)
runaway_model, _ = train_energy(runaway, 101, "runaway", n_steps=120)
history = torch.tensor(runaway.history)  # mean energies: (data, samples)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].plot(history[:, 0], label="data")
axes[0].plot(history[:, 1], label="negative samples")
axes[0].set(
    yscale="symlog", xlabel="training step", ylabel="mean energy",
    title="contrastive divergence, $\\epsilon = 0.3$",
)  # fmt: skip
axes[0].legend()
plotting.plot_samples(data, ax=axes[1], color="gray", size=2)
plotting.plot_samples(runaway.samples, ax=axes[1], size=6)
axes[1].set(title="data (grey) and the last samples")
plt.tight_layout()
plt.show()

# %%
early = history[:40].abs().max().item()
late = history[-1, 1].item()
scatter = runaway.samples.norm(dim=1).median().item()
# Over five seeds the energies passed 100 between steps 61 and 71 and kept
# growing by orders of magnitude; the data lie within 5 of the origin.
claims.claim(
    "the mean energies stay within 5 of zero for 40 steps; at the end the "
    "samples' is beyond 1000 and the samples lie far from the data",
    early < 5 and late > 1000 and scatter > 10,
    early=early,
    late=late,
    median_distance=scatter,
)

# %% [markdown]
# What went wrong?
#
# - **a.** The learning rate is too large for such steps: Adam overshoots, and the
#   energies follow.
# - **b.** Ten Langevin steps are too few for steps this large: the chains never reach
#   the model's distribution.
# - **c.** The step is too large for the data: Langevin's chains cannot be made as
#   concentrated as the data are, so the loss asks the model for sharper and sharper
#   valleys.
# - **d.** The network is too small to represent three modes, and training is unstable.

# %%
answer = None  # "a", "b", "c" or "d"
check_runaway_diagnosis(answer)

# %% tags=["solution"]
from ebm_book.exercises.ch05_likelihood import check_runaway_diagnosis

check_runaway_diagnosis("c")

# %% [markdown]
# Chapter 2 gives the mechanism in one line. In a direction in which the model has
# variance $\Sigma$, unadjusted Langevin chains with step $\epsilon$ settle at the variance
# $\Sigma / (1 - \epsilon/(4\Sigma))$ (for a Gaussian valley; near its bottom, every
# smooth valley is one). As a function of $\Sigma$ this is smallest at $\Sigma = \epsilon/2$,
# where it equals $\epsilon$: **however narrow the model makes a valley, the chains in it
# spread at least as much as the step size**, in every direction. The data's narrowest
# direction has variance 0.15 (the mode at $(-1.5, -1)$, across its long axis). With
# $\epsilon = 0.3$ the negative samples can never be as concentrated as the data, so the
# positive and negative phases can never balance, and the loss keeps lowering the energy of
# the data and raising it around. The valleys steepen, the chains overshoot further and
# land higher on the walls, where the loss raises the energy again.

# %%
narrowest = min(
    torch.linalg.eigvalsh(cov).min().item() for cov in mixture.covs
)
variances = torch.linspace(0.08, 2.0, 2000)  # Sigma, above eps / 4
chains_variance = variances / (1 - 0.3 / (4 * variances))
print(f"the data's narrowest variance: {narrowest:.3f}")
print(
    f"the chains' smallest variance at eps = 0.3: {chains_variance.min():.3f}"
)
claims.claim(
    "the chains' smallest variance is the step, 0.3, above the data's "
    "narrowest variance",
    abs(chains_variance.min() - 0.3) < 1e-3 and narrowest < 0.3,
    smallest=chains_variance.min(),
    narrowest=narrowest,
)

# %% [markdown]
# The first remedy is the obvious one: **a step size below the data's narrowest variance**,
# which in high dimension one does not know, hence the others. Section 5.2's run used
# $\epsilon = 0.05$. The three stabilisers used in practice attack the loop in different
# places; we rerun the failed run with each of them, alone:
#
# - **an energy penalty** ([Du & Mordatch, 2019](../references.md#du2019)): add
#   $\delta\big(\frac1n\sum_i E_\theta(x_i)^2 + \frac1{n'}\sum_j E_\theta(y_j)^2\big)$ to
#   (5.3), with a small weight $\delta$ (here 0.1; `regularization`). The likelihood
#   depends only on differences of energies, so nothing else anchors their values, and
#   the penalty stops both from running off;
# - **spectral normalisation** ([Miyato et al., 2018](../references.md#miyato2018)):
#   divide each weight matrix by its largest singular value, which bounds the slope of the
#   energy, $\lVert\nabla_x E_\theta\rVert \le 1.1^3 \approx 1.3$ for three layers
#   (`EnergyMLP(spectral_norm=True)`), so the walls cannot steepen;
# - **gradient clipping**: scale the gradient of the parameters down to a norm of at most
#   1 before each step (`training.train(max_grad_norm=1.0)`), so that one batch of bad
#   samples cannot throw the model far.


# %%
def stabilised(seed, name, **options):
    """The failed run of Exercise 5.3, with one stabiliser."""
    loss = contrastive.ContrastiveDivergence(
        step_size=0.3, n_steps=10,
        regularization=options.pop("regularization", 0.0),
    )  # fmt: skip
    clip = options.pop("max_grad_norm", None)
    seeds.manual_seed(seed)
    model = nets.EnergyMLP(2, hidden=64, depth=3, **options)
    training.train(
        model, loss, data, n_steps=120, batch_size=128, lr=5e-3,
        seed=seeds.seed(seed), progress=False, max_grad_norm=clip,
    )  # fmt: skip
    largest = torch.tensor(loss.history).abs().max().item()
    log_likelihoods = partition.grid_log_likelihood(model, held_out, box)
    return largest, log_likelihoods.mean().item()


remedies = {
    "none (Exercise 5.3)": (
        torch.tensor(runaway.history).abs().max().item(),
        partition.grid_log_likelihood(runaway_model, held_out, box)
        .mean()
        .item(),
    ),
    "energy penalty, delta = 0.1": stabilised(
        101, "penalty", regularization=0.1
    ),
    "spectral normalisation": stabilised(101, "spectral", spectral_norm=True),
    "gradient clipping": stabilised(101, "clipping", max_grad_norm=1.0),
}
display.show_table(
    ["$\\epsilon = 0.3$, with", "largest mean energy", "held-out log-likelihood"],
    [[name, f"{e:.3g}", f"{ll:.3g}"] for name, (e, ll) in remedies.items()]
    + [["(Section 5.2: $\\epsilon = 0.05$, no stabiliser)", "-",
        f"{cd_result['ll']:.3g}"]],
)  # fmt: skip

# %%
penalty_e, penalty_ll = remedies["energy penalty, delta = 0.1"]
spectral_e, spectral_ll = remedies["spectral normalisation"]
clipping_e, clipping_ll = remedies["gradient clipping"]
# Single runs, checked over seeds: with the penalty the energies stayed below
# 2 and the log-likelihood within 0.3 of Section 5.2's; spectral
# normalisation kept them below 5 but lost about 1.4 nats; clipping did not
# stop the runaway in any of them.
claims.claim(
    "with the energy penalty the run stays bounded and fits the data",
    penalty_e < 5 and penalty_ll > cd_result["ll"] - 0.3,
    largest=penalty_e,
    log_likelihood=penalty_ll,
)
claims.claim(
    "spectral normalisation stays bounded but fits worse (a nat or more)",
    spectral_e < 10 and spectral_ll < cd_result["ll"] - 1,
    largest=spectral_e,
    log_likelihood=spectral_ll,
)
claims.claim(
    "gradient clipping does not stop the runaway",
    clipping_e > 100,
    largest=clipping_e,
)

# %% tags=["prose"]
display.prose(
    rf"""
    The three stabilisers do three different things. The energy penalty
    cures this run: the mean energies never exceed {penalty_e:.2f} in size,
    and the model's held-out log-likelihood, {penalty_ll:.2f}, is close to
    Section 5.2's. Spectral normalisation also stops the runaway, but its
    bound on the slope is a bound on how sharp the model can be: a mode of
    variance 0.15 needs slopes of about 2.6 one standard deviation from its
    centre, and the normalised network reaches {spectral_ll:.2f} only.
    Gradient clipping does not help at all here (largest mean energy
    {clipping_e:.2g}): with Adam, whose steps are already scaled by the
    running size of the gradients, it caps sudden spikes, and this failure
    is no spike but a steady drift, step after step, in a direction the
    loss approves of.
    """
)

# %% [markdown]
# **The noise sets the temperature.** Much EBM code runs its chains with less noise than
# Langevin dynamics prescribes, say $\sqrt{\epsilon T}\,z$ with $T < 1$ instead of
# $\sqrt{\epsilon}\,z$ ([Du & Mordatch, 2019](../references.md#du2019), write the step and
# the noise separately). The chains then sample $e^{-E_\theta/T}$, the model's density at
# temperature $T$ (Chapter 1), and training makes *that* density match the data:
# $e^{-E_\theta/T} \propto p$, so the model's own Boltzmann density, at $T = 1$, is
# $p_\theta \propto p^{T}$, a flattened copy of the data. Section 5.2's run again, with
# $T = 0.5$:

# %%
cold = contrastive.ContrastiveDivergence(0.05, 10, temperature=0.5)
_, cold_average = train_energy(cold, 100, "T = 0.5")
cold_ll = {  # held-out log-likelihood of exp(-E / T) / Z_T
    t: partition.grid_log_likelihood(
        cold_average, held_out, box, temperature=t
    )
    .mean()
    .item()
    for t in (0.5, 1.0)
}
# The prediction at T = 1: the data's density flattened, p^(1/2), which is
# the Boltzmann density of the mixture's energy -log p at temperature 2.
flattened = partition.grid_log_likelihood(
    mixture, held_out, box, temperature=2.0
)
grid, cell_volume = partition.tensor_grid(box, 201)
log_p_grid = mixture.log_prob(grid.double())
far = log_p_grid < log_p_grid.max() + math.log(1e-3)  # far from the data


def mass_far(energy, temperature):
    """The mass of exp(-E / T) / Z_T where the data's density is tiny."""
    log_density = partition.grid_log_likelihood(
        energy, grid.double(), box, temperature=temperature
    )
    return (cell_volume.double() * log_density.exp())[far].sum().item()


cold_rows = [
    [
        "$e^{-E_\\theta/T}$ at $T = 0.5$",
        cold_ll[0.5],
        mass_far(cold_average, 0.5),
    ],
    ["$p_\\theta$, at $T = 1$", cold_ll[1.0], mass_far(cold_average, 1.0)],
    [
        "the prediction at $T = 1$, $p^{1/2}$",
        flattened.mean().item(),
        mass_far(mixture, 2.0),
    ],
    ["the data's density $p$", true_log_likelihood, mass_far(mixture, 1.0)],
]
display.show_table(
    ["density", "held-out log-likelihood", "mass far from the data"],
    cold_rows,
)  # fmt: skip

# %%
# Over 4 seeds: at T = 0.5 the model came within 0.02 nats of the T = 1 run
# of Section 5.2; at T = 1 it lost 0.24 to 0.27 nats on it, 0.11 to 0.13
# more than p^(1/2) loses; its mass far from the data was about twice that
# of p^(1/2) (0.055 against 0.025).
claims.claim(
    "trained with T = 0.5, the model is right at T = 0.5 (within 0.1 nats of "
    "Section 5.2's) and more than 0.15 nats worse at T = 1",
    abs(cold_ll[0.5] - cd_result["ll"]) < 0.1
    and cold_ll[1.0] < cold_ll[0.5] - 0.15,
    at_half=cold_ll[0.5],
    at_one=cold_ll[1.0],
    section_5_2=cd_result["ll"],
)
claims.claim(
    "at T = 1 it is worse than the flattened density p^(1/2), and puts more "
    "mass far from the data",
    cold_ll[1.0] < flattened.mean().item()
    and mass_far(cold_average, 1.0) > mass_far(mixture, 2.0),
    at_one=cold_ll[1.0],
    flattened=flattened.mean(),
)

# %% tags=["prose"]
display.prose(
    rf"""
    At the temperature its chains ran at, the model is as good as Section
    5.2's ({cold_ll[0.5]:.3f} against {cd_result["ll"]:.3f}). Read as a
    density at $T = 1$ it loses {cold_ll[0.5] - cold_ll[1.0]:.2f} nats, more
    even than the flattened data density $p^{{1/2}}$ that the argument
    predicts ({true_log_likelihood - flattened.mean().item():.2f} below the
    truth): far from the data, where its chains rarely went, the model's
    small excess of mass at $T = 0.5$ grows, at $T = 1$, to
    {mass_far(cold_average, 1.0):.3f}, about
    {mass_far(cold_average, 1.0) / mass_far(mixture, 2.0):.1f} times that of
    $p^{{1/2}}$.
    """
)

# %% [markdown]
# The model is right at the temperature its chains ran at, and wrong at $T = 1$. Reducing
# the noise is a legitimate choice, when one only wants samples, made with the same $T$;
# it is not a density model of the data unless one remembers $T$.
#
# ## 5.5 Noise-contrastive estimation: learning $\log Z$ without samples
#
# [Gutmann & Hyvärinen (2010)](../references.md#gutmann2010) avoided the negative phase
# altogether. Choose a **noise** density $q$ that we can sample and evaluate, normalized
# (a proposal, in Chapter 1's words). Draw $\nu n$ noise points $y_j$ for the $n$ data
# points, $\nu$ being the **noise ratio**, and train a classifier to tell the data from the
# noise. Make the model unnormalized but with a learned constant $c$ in the energy, so that
# $\log p_\theta(x) = -E_\theta(x) - c$ claims to be a normalized log-density, and let the
# classifier's log-odds be
#
# $$
# G_\theta(x) = \log p_\theta(x) - \log q(x) - \log \nu .
# $$
#
# Logistic regression minimizes
#
# $$
# J_{\text{NCE}}(\theta) = \frac1n \Big[\sum_{i=1}^{n} \log\big(1 + e^{-G_\theta(x_i)}\big)
# + \sum_{j=1}^{\nu n} \log\big(1 + e^{G_\theta(y_j)}\big)\Big] .
# \tag{5.4}
# $$
#
# The best possible classifier is Bayes', whose log-odds are $\log p(x) - \log(\nu q(x))$;
# if the model family contains $p$, the minimum of (5.4) has $p_\theta = p$, and then $c$
# must equal $\log Z_\theta$: **the normalizing constant is learned like any other
# parameter**, with no sampling from the model. No Markov chain, no $B$, no step size.
#
# The price is the noise. The classifier learns only where it sees points: where data and
# noise are both absent, nothing constrains $E_\theta$, and where the noise is easy to tell
# from the data (too narrow, too far), the task is easy and teaches little. We train the
# network of Section 5.2 (`nets.SelfNormalizingEnergy` holds $c$), with $\nu = 4$, twice: with
# the Gaussian whose mean and covariance are the data's as $q$, and with a Gaussian a
# tenth as wide.

# %%
data_mean, data_cov = data.mean(dim=0), torch.cov(data.T)
fitted_noise = energies.Gaussian(data_mean, data_cov)
narrow_noise = energies.Gaussian(data_mean, 0.1 * data_cov)


def nce_loss(noise):
    def loss(model, batch, generator):
        return losses.noise_contrastive_estimation(
            model.log_prob, batch, noise, 4, generator
        )

    return loss


def nce_summary(average, seed):
    result = evaluate(average.energy, seed)
    log_z = partition.quadrature_partition(average.energy, box).log_value
    result["c"], result["log_z"] = average.log_normalizer.item(), log_z
    return result


_, nce_average = train_energy(
    nce_loss(fitted_noise), 100, "NCE", self_normalizing=True
)
_, narrow_average = train_energy(
    nce_loss(narrow_noise), 100, "NCE, narrow noise", self_normalizing=True
)
nce_result = nce_summary(nce_average, 42)
narrow_result = nce_summary(narrow_average, 43)
display.show_table(
    ["noise $q$", "held-out log-lik.", "learned $c$", "$\\log Z_\\theta$ (grid)"],
    [[name, r["ll"], r["c"], r["log_z"]] for name, r in
     [("fitted Gaussian", nce_result), ("a tenth as wide", narrow_result)]],
)  # fmt: skip

# %% alt="Three panels over the square from -5 to 5: the true density; the density learned by noise-contrastive estimation with a Gaussian noise fitted to the data (its contours in white, wide ellipses around the data), which matches it; and with a noise a tenth as wide, drawn as small white contours at the centre, whose learned density puts most of its mass far from the data, where no noise point ever came."
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
wide = (-5.0, 5.0)
plotting.plot_density_2d(mixture, wide, wide, ax=axes[0])
axes[0].set(title="true density $p$")
for ax, average, noise, title in [
    (axes[1], nce_average, fitted_noise, "NCE, fitted noise"),
    (axes[2], narrow_average, narrow_noise, "NCE, noise a tenth as wide"),
]:
    plotting.plot_density_2d(
        lambda x, m=average: m.energy(x).detach(), wide, wide, ax=ax
    )
    plotting.plot_contours(
        noise, wide, wide, ax=ax, filled=False, levels=[1, 3, 6],
        colors="white",
    )  # fmt: skip
    ax.set(title=title)
plt.tight_layout()
plt.show()

# %%
nce_c_error = abs(nce_result["c"] - nce_result["log_z"])
narrow_far = mass_far(narrow_average.energy, 1.0)
# Over 3 seeds: |c - log Z| was 0.00 to 0.11 with the fitted noise and 3.5 to
# 4.6 with the narrow one, whose held-out log-likelihood was 2 to 4 nats
# worse, with 0.7 to 0.86 of its mass far from the data. The thresholds
# leave a factor 2 or more.
claims.claim(
    "with the fitted noise the learned c is log Z within 0.25",
    nce_c_error < 0.25,
    c=nce_result["c"],
    log_z=nce_result["log_z"],
)
claims.claim(
    "with the narrow noise c misses log Z by more than 1, the held-out "
    "log-likelihood is more than a nat worse, and most mass is far from the "
    "data",
    abs(narrow_result["c"] - narrow_result["log_z"]) > 1
    and narrow_result["ll"] < nce_result["ll"] - 1
    and narrow_far > 0.5,
    mass_far_from_the_data=narrow_far,
    c=narrow_result["c"],
    log_z=narrow_result["log_z"],
    log_likelihood=narrow_result["ll"],
)

# %% tags=["prose"]
display.prose(
    rf"""
    With the fitted noise, noise-contrastive estimation learns the density
    (held-out log-likelihood {nce_result["ll"]:.3f}) and its normalization:
    the learned $c$ = {nce_result["c"]:.3f}, while quadrature gives
    $\log Z_\theta$ = {nce_result["log_z"]:.3f} for the same energy. With the
    narrow noise it fails on both counts: the noise never reaches the tails
    of the data, so nothing stops the energy from being low there:
    {narrow_far:.0%} of the learned density's mass lies where the data's
    density is below a thousandth of its peak (held-out log-likelihood
    {narrow_result["ll"]:.2f}); $c$ = {narrow_result["c"]:.2f} believes in a
    normalization that quadrature puts at {narrow_result["log_z"]:.2f}. In
    high dimension, where any simple $q$ is easy to tell from the data, this
    is the main limitation of the method, and the reason for its variants
    with learned noise.
    """
)

# %% [markdown]
# ## 5.6 Score matching for energies
#
# Chapter 3 fitted score models $s_\theta$ without ever normalizing them. An energy model
# *is* a score model, $s_\theta(x) = -\nabla_x E_\theta(x)$, and $Z_\theta$, which does
# not depend on $x$, drops out of it (Chapter 2). So denoising score matching trains an
# energy with no sampling and no $\log Z_\theta$: minimize
# $J_{\text{DSM}}(\theta) = \mathbb{E}\,\tfrac12\lVert s_\theta(x + \sigma z) + z/\sigma\rVert^2$
# with $s_\theta = -\nabla_x E_\theta$. Autograd differentiates twice: once in $x$ for
# the score, once in $\theta$ for the loss (`EnergyMLP.score` keeps the graph for that).
# The energy learns the blurred density $p_\sigma$ up to a constant; we take
# $\sigma = 0.2$, a blur small next to the modes' widths.


# %%
def dsm_loss(model, batch, generator):
    return losses.denoising_score_matching(model.score, batch, 0.2, generator)


_, dsm_average = train_energy(dsm_loss, 100, "DSM")
dsm_result = evaluate(dsm_average, 44)

# %% tags=["prose"]
display.prose(
    rf"""
    Denoising score matching reaches a held-out log-likelihood of
    {dsm_result["ll"]:.3f}, against {true_log_likelihood:.3f} for the truth,
    with no sampler in sight. Section 5.7 puts the four methods side by side,
    with error bars.
    """
)

# %% [markdown]
# ## 5.7 Measuring the result honestly
#
# A fair comparison needs the same data, the same network, the same optimizer and the
# same number of steps for every method, an evaluation that does not depend on the
# methods' own samplers, and more than one seed. We repeat every training run with three
# seeds (the first of each is the run shown above; each seed gives all methods the same
# initial weights and batches) and report, for each method, the exact held-out
# log-likelihood and the sliced Wasserstein distance between 2000 exact samples of
# $p_\theta$ and fresh data, as mean ± standard error over the seeds. Three seeds is few,
# and it is what the book's budget allows for twelve training runs; we therefore compare
# methods by their paired differences, seed by seed, and call a difference only when it
# is beyond 9.92 of its standard errors, the 99% point of Student's $t$ with two degrees of
# freedom.

# %%
methods = {  # a fresh loss for each replicate r, and the model's options
    "CD": (lambda r: cd_loss(), {}),
    "replay buffer": (lambda r: replay_loss(50 + r), {}),
    "NCE": (lambda r: nce_loss(fitted_noise), {"self_normalizing": True}),
    "DSM": (lambda r: dsm_loss, {}),
}
results = {  # the runs above are the first seed
    "CD": [cd_result],
    "replay buffer": [replay_exact],
    "NCE": [nce_result],
    "DSM": [dsm_result],
}
for replicate in (1, 2):
    for name, (make_loss, options) in methods.items():
        _, average = train_energy(
            make_loss(replicate), 100 + replicate, name, **options
        )
        energy = average.energy if options else average
        results[name].append(evaluate(energy, 60 + replicate))


def mean_and_error(values):
    values = torch.tensor(values, dtype=torch.float64)
    return values.mean().item(), values.std().item() / math.sqrt(len(values))


summary = {}
for name, runs in results.items():
    summary[name] = {
        "ll": mean_and_error([r["ll"] for r in runs]),
        "distance": mean_and_error([r["distance"] for r in runs]),
        "seconds": sum(cpu_seconds[name]) / len(cpu_seconds[name]),
    }
display.show_table(
    ["method", "held-out log-likelihood", "distance of exact samples",
     "CPU s per run"],
    [["true density", f"{true_log_likelihood:.3f}",
      f"{floor:.3f} ± {floor_spread:.3f} (floor)", "-"]]
    + [[name, f"{s['ll'][0]:.3f} ± {s['ll'][1]:.3f}",
        f"{s['distance'][0]:.3f} ± {s['distance'][1]:.3f}",
        f"{s['seconds']:.1f}"] for name, s in summary.items()],
)  # fmt: skip


# %%
# Paired differences: every seed gave all methods the same initial weights
# and batches, so the seeds' common luck cancels in a difference.
def paired(first, second):
    gaps = torch.tensor(
        [a["ll"] - b["ll"] for a, b in zip(results[first], results[second])]
    )
    return gaps.mean().item(), gaps.std().item() / math.sqrt(len(gaps))


the = {name: name for name in results}  # the names, as a sentence reads them
the["replay buffer"] = "the replay buffer"


def compare(first, second):
    """A sentence on two methods' held-out log-likelihoods."""
    gap, error = paired(first, second)
    if abs(gap) > 9.92 * error:  # Student's t, two degrees of freedom, 99%
        better, worse = (first, second) if gap > 0 else (second, first)
        return (
            f"{the[better]} is ahead of {the[worse]} by {abs(gap):.3f} ± "
            f"{error:.3f}"
        )
    return (
        f"{the[first]} and {the[second]} cannot be told apart ({gap:+.3f} ± "
        f"{error:.3f})"
    )


order = sorted(summary, key=lambda name: -summary[name]["ll"][0])
comparisons = "; ".join(compare(a, b) for a, b in zip(order, order[1:]))
gaps_to_truth = {
    name: true_log_likelihood - s["ll"][0] for name, s in summary.items()
}
distances = [s["distance"][0] for s in summary.values()]
# Over 3 seeds, CD's mean gap to the truth was about 0.02 nats, NCE's and
# DSM's about 0.06 (the replay buffer's 0.1 to 0.4: its chains lag behind a
# fast-moving model); 0.2 nats leaves room for other seeds.
claims.claim(
    "CD, NCE and DSM come within 0.2 nats of the true density",
    max(gaps_to_truth[name] for name in ("CD", "NCE", "DSM")) < 0.2,
    gaps=gaps_to_truth,
)
# Over 3 seeds CD's mean was ahead of NCE's and DSM's by about 0.05 nats,
# and the replay buffer's was the lowest of the four, by 0.1 or more.
claims.claim(
    "CD's mean is at least that of NCE and of DSM; the replay buffer's is the "
    "lowest",
    summary["CD"]["ll"][0] >= max(summary[n]["ll"][0] for n in ("NCE", "DSM"))
    and order[-1] == "replay buffer",
    order=order,
)
claims.claim(
    "the short-run model is more than 2 nats below every method of the table",
    short_ll < min(s["ll"][0] for s in summary.values()) - 2,
    short_run=short_ll,
)

# %% tags=["prose"]
display.prose(
    rf"""
    Ranked by their mean held-out log-likelihoods, the methods come in the
    order {", ".join(the[name] for name in order)}. Seed by seed, between
    neighbours in that
    order (in nats per point): {comparisons}. Contrastive divergence,
    noise-contrastive estimation and denoising score matching all come within
    {max(gaps_to_truth[n] for n in ("CD", "NCE", "DSM")):.2f} nats of the
    true density, the replay buffer within {gaps_to_truth["replay buffer"]:.2f},
    and the short-run model of Section 5.3 ({short_ll:.1f}) is far below them
    all. The distances of exact samples to fresh data range from
    {min(distances):.2f} to {max(distances):.2f}, {min(distances) / floor:.1f}
    to {max(distances) / floor:.1f} times the floor; one distance is about as
    uncertain as the floor's spread, ± {floor_spread:.3f}.
    """
)

# %% [markdown]
# Two things stand out. On this data, whose modes overlap, the methods that need no
# sampler have no advantage in accuracy over contrastive divergence at equal numbers of
# steps; they are cheaper per step, since a CD step evaluates the network and its gradient
# $B + 1 = 11$ times on the batch, and an NCE or DSM step once (on five times as many
# points for NCE, with a second derivative for DSM); the table's CPU times show what that
# costs on the machine that built this page. And the replay buffer, the method closest to
# exact maximum likelihood in theory, is the one that suffers most from our short, fast
# training, most likely because its persistent chains lag behind a model that moves
# quickly (reflection question 2). Which method wins depends on the data and on the
# budget, as the next experiment shows.
#
# **Separated modes: what each objective can see.** Chapter 2 showed that the score of a
# mixture, where the data are, does not depend on the weights of separated modes, and
# that Langevin chains do not cross between them. What do the training objectives of
# this chapter see? Take Chapter 2's two modes at $(-5, -5)$ and $(5, 5)$ with weights 0.2
# and 0.8, and the one-parameter model family with the right components and a free weight:
# $\pi_2 = 1/(1 + e^{-\theta})$ for the heavy mode, $\pi_1 = 1 - \pi_2$, $E_\theta = -\log p_\theta$
# (normalized, so $c = 0$ for noise-contrastive estimation). We compute each objective's
# gradient in $\theta$ on 2000 data points, at equal weights ($\theta = 0$) and at the true
# weights ($\theta = \log 4$): the likelihood (with exact samples of $p_\theta$), contrastive
# divergence (ten steps of 0.1 from the data), chains from uniform noise in $[-9, 9]^2$
# run for fifty steps of 0.2 (a short-run sampler, long enough to reach a mode), denoising
# score matching ($\sigma = 0.5$) and noise-contrastive estimation (with the Gaussian
# fitted to the data as $q$). Each gradient comes with a standard error from 10 batches
# of 200 points.

# %%
two_modes = mixtures.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8]
)
two_data = two_modes.sample(2000, generator=seeds.generator(80))
two_noise = energies.Gaussian(two_data.mean(dim=0), torch.cov(two_data.T))


class TwoModeEnergy(torch.nn.Module):
    """-log p_theta for the two modes, theta the log-odds of the heavy one."""

    def __init__(self, log_odds):
        super().__init__()
        self.log_odds = torch.nn.Parameter(torch.tensor(log_odds))

    def forward(self, x):
        heavy = torch.sigmoid(self.log_odds)
        log_weights = torch.stack([torch.log1p(-heavy), torch.log(heavy)])
        log_components = two_modes.component_log_probs(x) - torch.log(
            two_modes.weights
        )
        return -torch.logsumexp(log_components + log_weights, dim=1)


def objective_losses(model, batch, generator):
    """Each objective's loss on one batch, as a function of the parameter."""
    heavy = torch.sigmoid(model.log_odds).item()
    exact = mixtures.GaussianMixture(
        two_modes.means, weights=[1 - heavy, heavy]
    )
    from_noise = torch.empty(len(batch), 2).uniform_(
        -9, 9, generator=generator
    )
    chains = contrastive.short_run_langevin(
        model, from_noise, 0.2, 50, generator
    ).samples
    return {
        "maximum likelihood": losses.contrastive_divergence(
            model, batch, exact.sample(len(batch), generator=generator)
        ),
        "contrastive divergence": contrastive.ContrastiveDivergence(0.1, 10)(
            model, batch, generator
        ),
        "chains from noise": losses.contrastive_divergence(model, batch, chains),
        "denoising score matching": losses.denoising_score_matching(
            lambda x: score_from_energy(model, x, create_graph=True),
            batch, 0.5, generator,
        ),
        "noise-contrastive estimation": losses.noise_contrastive_estimation(
            lambda x: -model(x), batch, two_noise, 4, generator
        ),
    }  # fmt: skip


gradients = {}  # (objective, theta) -> (mean, standard error) over batches
generator = seeds.generator(81)
for log_odds in (0.0, math.log(4)):
    model = TwoModeEnergy(log_odds)
    per_batch = {}
    for batch in two_data.split(200):
        for name, loss in objective_losses(model, batch, generator).items():
            (g,) = torch.autograd.grad(loss, model.log_odds)
            per_batch.setdefault(name, []).append(g.item())
    for name, values in per_batch.items():
        gradients[name, log_odds] = mean_and_error(values)
display.show_table(
    ["objective", "gradient at equal weights", "at the true weights"],
    [[name] + [f"{gradients[name, t][0]:.3g} ± {gradients[name, t][1]:.2g}"
               for t in (0.0, math.log(4))] for name in per_batch],
)  # fmt: skip


# %%
def z_of(name, log_odds):
    mean, error = gradients[name, log_odds]
    return abs(mean) / error


true_odds = math.log(4)
ml_at_equal = gradients["maximum likelihood", 0.0][0]
# The likelihood gradient at equal weights is E_model[r_2] - E_data[r_2],
# about 0.5 - 0.8 = -0.3, with a standard error near 0.01.
claims.claim(
    "at equal weights the likelihood and NCE push towards the heavy mode, "
    "by many standard errors",
    z_of("maximum likelihood", 0.0) > 10
    and z_of("noise-contrastive estimation", 0.0) > 10
    and gradients["noise-contrastive estimation", 0.0][0] < 0
    and ml_at_equal < 0,
    ml=gradients["maximum likelihood", 0.0],
    nce=gradients["noise-contrastive estimation", 0.0],
)
# No chain crosses from one mode to the other in ten steps, and the score
# near each mode does not depend on theta (the responsibilities are 0 or 1 to
# float precision): both gradients are zero up to rounding.
blind = max(
    abs(gradients[name, t][0])
    for name in ("contrastive divergence", "denoising score matching")
    for t in (0.0, true_odds)
)
claims.claim(
    "contrastive divergence and score matching see nothing: their gradients "
    "are below a thousandth of the likelihood's, zero up to rounding",
    blind < 1e-3 * abs(ml_at_equal) and blind < 1e-12,
    largest=blind,
)
# The power of ten the prose quotes as a bound: above the largest, however small.
blind_bound = 10.0 ** math.floor(math.log10(max(blind, 1e-31)) + 1)
claims.claim(
    "at the true weights the likelihood and NCE gradients vanish (within four "
    "standard errors), while chains from noise still push, by many",
    z_of("maximum likelihood", true_odds) < 4
    and z_of("noise-contrastive estimation", true_odds) < 4
    and z_of("chains from noise", true_odds) > 10,
    ml=gradients["maximum likelihood", true_odds],
    nce=gradients["noise-contrastive estimation", true_odds],
    noise_chains=gradients["chains from noise", true_odds],
)

# %% tags=["prose"]
display.prose(
    rf"""
    Only the likelihood, with exact samples of the model, and
    noise-contrastive estimation point the right way at equal weights and
    vanish at the true ones. Contrastive divergence and denoising score
    matching are blind: their gradients are below {blind_bound:.0e} in size
    (zero up to rounding), against {abs(ml_at_equal):.2f} for the
    likelihood.
    Short chains from the data never cross to the other mode, so the negative
    phase copies the data's split; the score near each mode does not depend on
    $\theta$ (Chapter 2). Trained by either, an energy keeps whatever weights
    its initialization gave it. Chains from noise are worse than blind: they
    split between the two basins about evenly whatever the weights, so at the
    true weights they still report that the heavy mode is too light
    (gradient {gradients["chains from noise", true_odds][0]:.2f} ±
    {gradients["chains from noise", true_odds][1]:.2f}), and training pushes
    its weight on, towards 1. Which method is best is a question about the data, and about what
    its sampler can reach.
    """
)

# %% [markdown]
# ## 5.8 Estimating $\log Z$ with annealed importance sampling
#
# Quadrature normalized every energy above, and it will not in high dimension. Chapter 1's
# importance sampling failed there because a single proposal $q$ cannot match $p_\theta$
# everywhere: the weights' variance grows exponentially with $d$. **Annealed importance
# sampling** ([Neal, 2001](../references.md#neal2001)) walks from $q$ to the target in $S$
# small steps, through the intermediate densities
#
# $$
# \tilde p_j(x) = q(x)^{1 - \zeta_j}\, e^{-\zeta_j E_\theta(x)},
# \qquad 0 = \zeta_0 < \zeta_1 < \dots < \zeta_S = 1
# $$
#
# (here $\zeta_j = j/S$). Each of $n$ chains starts at a draw of $q$; at level $j$ it adds
# $\log\tilde p_j(x) - \log\tilde p_{j-1}(x)$ at its current point to its log weight, then
# moves by a MALA step that leaves $\tilde p_j$ invariant (Chapter 2). The weights $w_i$ of
# the $n$ chains average to an unbiased $\hat Z$, for any $S$ and any step size: the moves
# only need to leave each level invariant, not to mix. Consecutive levels differ by a
# factor $e^{(\zeta_j - \zeta_{j-1})(\dots)}$ close to 1, so each increment of the log weight
# is small, and the variance of $\log w_i$ grows like $d/S$ rather than exponentially in
# $d$: doubling the dimension costs twice as many levels (`partition.annealed_importance_sampling`).
#
# First a check where we know the answer: $\log Z_\theta$ of the energy learned by
# noise-contrastive estimation in Section 5.5, from the fitted Gaussian, with 500 chains and
# 100 levels, against quadrature and against the learned $c$.

# %%
ais = partition.annealed_importance_sampling(
    nce_average.energy, fitted_noise, 500, 100, 0.05,
    generator=seeds.generator(90),
)  # fmt: skip
print(f"AIS        log Z = {ais.log_value:.3f} ± {ais.relative_std_error:.3f}")
print(f"quadrature log Z = {nce_result['log_z']:.3f}")
print(f"NCE's c          = {nce_result['c']:.3f}")
print(f"effective sample size {ais.effective_sample_size:.0f} of 500")
# The relative standard error of Z-hat is the standard error of log Z-hat
# to first order; four of them.
ais_z = abs(ais.log_value - nce_result["log_z"]) / ais.relative_std_error
claims.claim(
    "AIS agrees with quadrature within four standard errors",
    ais_z < 4,
    z=ais_z,
)

# %% [markdown]
# Now the experiment of Chapter 1, repaired. The target is the standard Gaussian energy
# $\tfrac12\lVert x\rVert^2$ in $d$ dimensions, $Z = (2\pi)^{d/2}$, and the proposal is
# Chapter 1's $\mathcal{N}(0, 1.2^2 I)$. Annealed importance sampling uses $n = 100$ chains
# and $S = d$ levels (a number proportional to the dimension, as the argument above asks),
# with MALA steps of $\epsilon = 2.5\,d^{-1/3}$ (the scaling of
# [Roberts & Rosenthal, 1998](../references.md#roberts1998)). Plain importance sampling gets
# the same number of energy evaluations, $n S$ samples. Each estimator is repeated three
# times; the table gives the root-mean-square relative error of $\hat Z$, the relative
# standard error each reports about itself, and the effective sample size as a fraction
# of its number of weights; for plain importance sampling it also gives the exact
# relative standard deviation of $\hat Z$, from Chapter 1's formula for a Gaussian target
# and proposal.


# %%
def standard_gaussian_energy(x):
    return 0.5 * (x**2).sum(dim=1)


generator = seeds.generator(91)
ais_rows, ais_table = {}, []
for d in (10, 50, 100, 200):
    proposal = energies.Gaussian(torch.zeros(d), cov=1.2**2)
    exact_z = math.exp(0.5 * d * math.log(2 * math.pi))
    runs = {
        "IS": [
            partition.importance_sampling_partition(
                standard_gaussian_energy, proposal, 100 * d,
                generator=generator,
            ) for _ in range(3)
        ],
        "AIS": [
            partition.annealed_importance_sampling(
                standard_gaussian_energy, proposal, 100, d,
                2.5 * d ** (-1 / 3), generator=generator,
            ) for _ in range(3)
        ],
    }  # fmt: skip
    for name, estimates in runs.items():
        n_weights = 100 * d if name == "IS" else 100
        errors = torch.tensor([e.relative_error(exact_z) for e in estimates])
        ais_rows[name, d] = {
            "rms": errors.pow(2).mean().sqrt().item(),
            "reported": sum(e.relative_std_error for e in estimates) / 3,
            "ess": sum(e.effective_sample_size for e in estimates)
            / 3
            / n_weights,
            "z": max(
                abs(e.relative_error(exact_z)) / e.relative_std_error
                for e in estimates
            ),
        }
    # Chapter 1's exact relative SD of plain importance sampling with n S draws
    exact_sd = math.sqrt(((1.44 / math.sqrt(1.88)) ** d - 1) / (100 * d))
    ais_table.append(
        [d, 100 * d]
        + [ais_rows["IS", d][k] for k in ("rms", "reported", "ess")]
        + [exact_sd]
        + [ais_rows["AIS", d][k] for k in ("rms", "reported", "ess")]
    )
display.show_table(
    ["$d$", "evaluations", "IS error", "IS reported", "IS ESS / n",
     "IS exact SD", "AIS error", "AIS reported", "AIS ESS / n"],
    ais_table,
)  # fmt: skip

# %%
is_200, ais_200 = ais_rows["IS", 200], ais_rows["AIS", 200]
exact_sd_200 = ais_table[-1][5]
# Over two seed shifts: AIS's ESS fraction stayed above 0.5 at every d, IS's
# fell to 0.0013 at d = 200; every AIS estimate lay within 2.7 of its
# reported SEs; IS's reported SE at d = 200 was about a quarter of its exact SD.
claims.claim(
    "AIS keeps an effective sample size above 30% of its chains in every "
    "dimension, while that of IS falls below 1% at d = 200",
    min(ais_rows["AIS", d]["ess"] for d in (10, 50, 100, 200)) > 0.3
    and is_200["ess"] < 0.01,
    ais=[ais_rows["AIS", d]["ess"] for d in (10, 50, 100, 200)],
    importance=is_200["ess"],
)
claims.claim(
    "every AIS estimate lies within four of its reported standard errors",
    max(ais_rows["AIS", d]["z"] for d in (10, 50, 100, 200)) < 4,
)
claims.claim(
    "at d = 200 the standard error IS reports is less than half its exact SD",
    is_200["reported"] < exact_sd_200 / 2,
    reported=is_200["reported"],
    exact=exact_sd_200,
)

# %% tags=["prose"]
display.prose(
    rf"""
    With the same number of energy evaluations, plain importance sampling's
    effective sample size collapses with the dimension, to
    {is_200["ess"]:.2%} of its draws at $d = 200$, and the standard error it
    reports there, {is_200["reported"]:.2f}, is a fraction of its exact
    standard deviation, {exact_sd_200:.2f}: Chapter 1's failure. Annealed
    importance sampling keeps {ais_200["ess"]:.0%} of its {100} chains
    effective at $d = 200$, and its reported standard error,
    {ais_200["reported"]:.2f}, can be trusted: every one of its estimates lies
    within four of them of the truth. The cost grows like $d$ (as many
    levels as dimensions) instead of exponentially. With a learned energy in
    high dimension, where no quadrature can check it, this is how
    likelihoods of energy models are reported, together with the caveat
    that an estimate from too few levels or too few chains errs low: the
    logarithm of an unbiased $\hat Z$ underestimates $\log Z$ on average.
    """
)

# %% [markdown]
# ## Reflection questions
#
# ??? question "1. The contrastive-divergence loss (5.3) can be negative and keeps decreasing in the runaway of Exercise 5.3. Why is its value no guide to training, and what would you monitor instead?"
#     (5.3) is the likelihood objective without its $\log Z_\theta$ term: only its
#     gradient, with samples of the current model, means something. A model can lower it
#     without limit by raising the energy wherever its samples happen to be, which is what
#     the runaway did. Monitor what does mean something: the mean energies of the data and
#     of the samples (their gap should shrink, and both stay bounded), samples from a
#     longer or independent sampler, and, where it is available, a held-out likelihood
#     estimate (quadrature in 2-D, annealed importance sampling beyond).
#
# ??? question "2. Persistent chains are 'nearly in equilibrium' because the model changes little between steps. What does that say about the learning rate, and about the number of chains?"
#     The chains track $p_\theta$ only if $\theta$ moves slowly compared with how fast
#     the chains mix: a larger learning rate lets the model run ahead of its chains, whose
#     samples then describe an older model, and the gradient is biased. More chains reduce
#     the variance of the negative phase but not this lag. In a replay buffer each chain
#     is drawn only once in every capacity/$n$ steps on average, so it runs fewer Langevin
#     steps per update of the model than a persistent chain used at every step, and lags
#     more; its restarts add exploration, not equilibrium.
#
# ??? question "3. Noise-contrastive estimation learned $c \approx \log Z_\theta$. Maximum likelihood with a learned $c$ in the energy cannot learn it. Why not?"
#     Adding $c$ to the energy multiplies $e^{-E_\theta}$ and $Z_\theta$ by the same
#     factor: $p_\theta$, hence the likelihood, does not depend on $c$ at all (Chapter 1),
#     and its gradient in $c$ is zero. In NCE the model's $-E_\theta - c$ is compared
#     with the normalized $\log q$ of the noise, so $c$ changes the classifier's
#     log-odds, and only $c = \log Z_\theta$ makes them Bayes-optimal.
#
# ??? question "4. In the two-mode experiment, denoising score matching at $\sigma = 0.5$ was blind to the weights. Which $\sigma$ would make it see them, and what would it cost?"
#     A noise level comparable to the distance between the modes (Chapter 4: about
#     $\sqrt{50} \approx 7$ here, where the blurred modes merge) makes the noisy score
#     depend on the weights where the data are. But a single large $\sigma$ learns the
#     blurred density $p_\sigma$, not $p$. Chapter 4's answer is to learn all noise
#     levels at once; for an energy model, that is a noise-conditional energy
#     $E_\theta(x, \sigma)$, which is where diffusion models pick up the story.
#
# ## Summary
#
# - The maximum-likelihood gradient of an energy model is a positive phase, the average
#   of $\nabla_\theta E_\theta$ over the data, minus a negative phase, its average under the
#   model (5.2), because $\nabla_\theta\log Z_\theta = -\mathbb{E}_{p_\theta}[\nabla_\theta E_\theta]$
#   (5.1). Training needs samples of the current model at every step.
# - Contrastive divergence runs $B$ Langevin steps from the data: cheap and stable, but it
#   keeps only the part of the gradient along which short chains relax. On a Gaussian the
#   lost fraction is $(1 - \epsilon\Lambda/2)^{2B}$; between separated modes it is all.
# - Persistent chains and replay buffers let the chains converge across training steps;
#   short-run chains from noise make a model whose *sampler* works and whose density need
#   not. In 2-D exact grid samples tell the two apart.
# - Training with model samples is a feedback loop. A step larger than the data's
#   narrowest variance makes it run away; an energy penalty stops the runaway, spectral
#   normalisation bounds it at a cost in accuracy, gradient clipping does not touch it.
#   The chains' noise sets the temperature at which the model is right.
# - Noise-contrastive estimation and denoising score matching need no samples of the
#   model; NCE learns $\log Z_\theta$ too, when its noise covers the data. On overlapping
#   modes contrastive divergence, NCE and score matching all came within 0.2 nats of the
#   truth; on separated modes only the likelihood with exact samples and NCE see the
#   weights.
# - Annealed importance sampling estimates $\log Z_\theta$ at a cost that grows like the
#   dimension, where plain importance sampling fails exponentially.
#
# ## References
#
# - G. E. Hinton (2002). *Training products of experts by minimizing contrastive
#   divergence.* Neural Computation 14(8). [↗](../references.md#hinton2002)
# - M. Á. Carreira-Perpiñán, G. E. Hinton (2005). *On contrastive divergence learning.*
#   AISTATS. (Its bias.) [↗](../references.md#carreira2005)
# - T. Tieleman (2008). *Training restricted Boltzmann machines using approximations to
#   the likelihood gradient.* ICML. (Persistent contrastive divergence.)
#   [↗](../references.md#tieleman2008)
# - Y. Du, I. Mordatch (2019). *Implicit generation and modeling with energy-based
#   models.* NeurIPS. (The replay buffer, the energy penalty.) [↗](../references.md#du2019)
# - E. Nijkamp, M. Hill, S.-C. Zhu, Y. N. Wu (2019). *Learning non-convergent
#   non-persistent short-run MCMC toward energy-based model.* NeurIPS.
#   [↗](../references.md#nijkamp2019)
# - T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida (2018). *Spectral normalization for
#   generative adversarial networks.* ICLR. [↗](../references.md#miyato2018)
# - M. Gutmann, A. Hyvärinen (2010). *Noise-contrastive estimation: a new estimation
#   principle for unnormalized statistical models.* AISTATS. [↗](../references.md#gutmann2010)
# - R. M. Neal (2001). *Annealed importance sampling.* Statistics and Computing 11(2).
#   [↗](../references.md#neal2001)
# - Y. Song, D. P. Kingma (2021). *How to train your energy-based models.*
#   arXiv:2101.03288. (A survey of all of the above.) [↗](../references.md#song2021ebm)
#
# The full bibliography is on the [references page](../references.md).
