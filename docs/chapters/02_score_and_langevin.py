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
# # 2. The score function and Langevin dynamics
#
# !!! abstract "In this chapter"
#     **Time:** about 60 minutes of study, plus the exercises.
#
#     **You will learn to**
#
#     - read the score $\nabla_x \log p(x)$ as a vector field that points towards high probability, and draw it;
#     - show, in algebra and in code, that the score does not depend on the partition function $Z$;
#     - sample a distribution from its score alone with Langevin dynamics, and explain why the noise is essential;
#     - predict the bias that a finite step size causes, and remove it with a Metropolis correction (MALA);
#     - recognise the failure that motivates the rest of the book: Langevin dynamics cannot find the right weights of separated modes.
#
#     **You need** [Chapter 1](01_energy_functions.py): energies, the Boltzmann distribution, and why $Z$ is intractable.
#
# Chapter 1 ended with a problem: the normalizing constant $Z$ of an energy-based model
# is hopeless to compute in high dimension, and maximum likelihood needs it. This chapter
# introduces the object that sidesteps $Z$ entirely, the **score**, and the simplest
# algorithm that turns a score into samples, **Langevin dynamics**.

# %%
import inspect
import math

import matplotlib.pyplot as plt
import torch

from ebm_book import display, energies, metrics, plotting, sampling
from ebm_book.exercises import (
    check_gaussian_score,
    check_langevin_step,
    check_mala_log_acceptance,
)
from ebm_book.score import score_from_energy

plotting.use_book_style()
_ = torch.manual_seed(0)  # the random initial weights of networks below

# %% [markdown]
# ## 2.1 The score: a compass towards high probability
#
# The **score** of a density $p$ on $\mathbb{R}^d$ is the gradient of its logarithm,
#
# $$
# s(x) = \nabla_x \log p(x) \in \mathbb{R}^d .
# $$
#
# (Statisticians use "score" for the gradient with respect to *parameters*; in this book,
# as in the score-based generative modelling literature, the gradient is with respect to
# the *data* $x$.) At every point $x$ the score is an arrow: its direction is the one in
# which the log-density grows fastest, and its length says how fast. Following the arrows
# leads uphill, towards the modes of $p$.
#
# For a Boltzmann density $p_T(x) = e^{-E(x)/T}/Z_T$ the score is minus the energy
# gradient, scaled by the temperature:
#
# $$
# s(x) = -\frac{\nabla_x E(x)}{T}.
# $$
#
# The simplest example is the Gaussian $\mathcal{N}(\mu, \Sigma)$, with energy
# $\tfrac12 (x-\mu)^\top \Sigma^{-1} (x-\mu)$ and score
#
# $$
# s(x) = -\Sigma^{-1}(x - \mu).
# $$
#
# It points straight at the mean, grows linearly with the distance from it, and is
# stronger along the directions in which the Gaussian is narrow (large entries of the
# precision $\Sigma^{-1}$). Here are the score fields of the four landscapes of Chapter 1,
# drawn over their energy contours. Every arrow has the same length; its colour gives the
# magnitude $\lVert s(x) \rVert$ on a logarithmic scale, from dark purple (nearly zero)
# to orange (large).

# %% alt="Score fields of four energies: the Gaussian mixture, the ring, the banana and the double well. The arrows, drawn over the energy contours, point uphill in density, toward the modes (for the ring, toward the circle), and are longest far from them."
landscapes = energies.example_landscapes()  # the four of Chapter 1
mixture = landscapes["Gaussian mixture"]  # its three modes
window = (-3.2, 3.2)


def energy_contours(energy, ax):
    """Light contour lines of an energy (clipped at 6 units above its minimum on the window)."""
    plotting.plot_contours(
        lambda x: energy(x) - energy(x).min(),
        window,
        window,
        ax=ax,
        filled=False,
        levels=[0.25, 1, 2, 3, 4.5, 6],
        colors="#b0b0b0",
    )


fig, axes = plt.subplots(1, 4, figsize=(13, 3.5))
for ax, (name, energy) in zip(axes, landscapes.items()):
    energy_contours(energy, ax)
    plotting.plot_score_field(energy.score, window, window, ax=ax, n=13)
    ax.set(title=name)
plt.tight_layout()
plt.show()

# %% [markdown]
# Three things to notice. Far from the data the field is strong (orange) and points
# inwards. At the bottom of each valley it fades (dark purple): at a mode the score is
# exactly zero. And *between* modes it is weak as well, at a saddle point of $p$, where
# arrows on either side point away from each other, towards different modes. The numbers
# for the mixture:


# %%
def score_norm(energy, point):
    return energy.score(torch.tensor([point])).norm().item()


# The saddle between the first two modes: where the score is smallest on the segment joining them.
segment = torch.linspace(0, 1, 2001)[:, None]
path = mixture.means[0] + segment * (mixture.means[1] - mixture.means[0])
saddle = path[mixture.score(path).norm(dim=1)[200:1800].argmin() + 200]
print(
    f"|s| at the heaviest mode's mean       : {score_norm(mixture, mixture.means[0].tolist()):.3f}"
)
print(
    f"|s| at the saddle {[round(v, 2) for v in saddle.tolist()]} : {score_norm(mixture, saddle.tolist()):.3f}"
)
print(
    f"|s| halfway up a valley wall (1, 1.6) : {score_norm(mixture, [1.0, 1.6]):.1f}"
)
print(
    f"|s| far away at (3, 3)                : {score_norm(mixture, [3.0, 3.0]):.1f}"
)

# %% [markdown]
# (The score at a component's mean is not exactly zero: the other components pull on it
# slightly, so the mode of the mixture sits a little off the component's mean.)
#
# ### Exercise 2.1: the score of a Gaussian
#
# Implement the score of $\mathcal{N}(\mu, \Sigma)$ for a batch `x` of shape `(N, d)`,
# a mean of shape `(d,)` and a covariance of shape `(d, d)`.


# %%
def gaussian_score(
    x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor
) -> torch.Tensor:
    """Score -Sigma^{-1} (x - mu) of N(mean, cov) at each row of x; returns shape (N, d)."""
    # TODO: your code here
    raise NotImplementedError


check_gaussian_score(gaussian_score)

# %% tags=["solution"]
import torch

from ebm_book.exercises import check_gaussian_score


def gaussian_score_solution(
    x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor
) -> torch.Tensor:
    precision = torch.linalg.inv(cov)
    # Rows are points: (x - mu) @ P is P (x - mu) for each row, since P is symmetric.
    return -(x - mean) @ precision


check_gaussian_score(gaussian_score_solution)

# %% [markdown]
# ## 2.2 The score does not see the partition function
#
# Take the logarithm of the Boltzmann density and differentiate:
#
# $$
# \log p_T(x) = -\frac{E(x)}{T} - \log Z_T
# \quad\Longrightarrow\quad
# \nabla_x \log p_T(x) = -\frac{\nabla_x E(x)}{T} - \underbrace{\nabla_x \log Z_T}_{=\,0}.
# $$
#
# $Z_T$ is a number, not a function of $x$, so its gradient vanishes. The intractable
# integral of Chapter 1 is simply gone. Everything we can do with a score (sample in this
# chapter, learn in Chapter 3) works without ever knowing $Z$.
#
# We can check this in code. `score_from_energy` computes $-\nabla_x E / T$ with autograd.
# Adding the log-normalizer to the energy, which turns $e^{-E}$ into the *normalized*
# density, changes nothing:

# %%
x = mixture.sample(1000, generator=torch.Generator().manual_seed(0)).double()
log_z = 7.3  # any constant: think of it as log Z


def shifted_energy(x):
    return mixture.energy(x) + log_z


difference = score_from_energy(mixture.energy, x) - score_from_energy(
    shifted_energy, x
)
print(
    f"largest difference between the two scores: {difference.abs().max().item():.1e}"
)
print(
    f"largest difference to the analytic score : {(score_from_energy(mixture.energy, x) - mixture.score(x)).abs().max().item():.1e}"
)

# %% [markdown]
# The same works for an energy given by a neural network, which is how energy-based
# models are built. Take a one-hidden-layer energy
# $E_\theta(x) = v^\top \tanh(Wx + b)$ with $H$ hidden units. Its gradient follows from
# the chain rule by hand, $\nabla_x E_\theta(x) = W^\top\big(v \odot (1 - \tanh^2(Wx+b))\big)$,
# and autograd must agree with it up to floating-point rounding:


# %%
class TanhEnergy(torch.nn.Module):
    """E(x) = v^T tanh(W x + b): a tiny energy network."""

    def __init__(self, dim: int = 2, hidden: int = 32):
        super().__init__()
        self.layer = torch.nn.Linear(dim, hidden)
        self.v = torch.nn.Parameter(torch.randn(hidden))

    def forward(self, x):
        return torch.tanh(self.layer(x)) @ self.v

    def analytic_score(self, x):
        pre_activation = self.layer(x)
        return (
            -((1 - torch.tanh(pre_activation) ** 2) * self.v)
            @ self.layer.weight
        )


for dtype in (torch.float32, torch.float64):
    net = TanhEnergy().to(dtype)
    points = torch.randn(500, 2, dtype=dtype)
    gap = (
        (score_from_energy(net, points) - net.analytic_score(points))
        .abs()
        .max()
        .item()
    )
    print(
        f"{str(dtype):14s} autograd vs hand-derived score: max difference {gap:.1e}"
    )

# %% [markdown]
# The differences are at the level of the floating-point precision (about $10^{-7}$ in
# single and $10^{-16}$ in double precision). From now on we trust autograd for scores.
#
# ## 2.3 Langevin dynamics: sampling with the score
#
# How do we turn a score into samples? Following the arrows, $x \leftarrow x +
# \tfrac{\epsilon}{2}\, s(x)$, is gradient ascent on $\log p$: it climbs to the nearest
# mode and stays there. To sample we must also *spread out*, and the right amount of noise
# does exactly that. The **Langevin algorithm** iterates, with a step size $\epsilon > 0$,
#
# $$
# x_{t+1} = x_t + \frac{\epsilon}{2}\, s(x_t) + \sqrt{\epsilon}\; z_t,
# \qquad z_t \sim \mathcal{N}(0, I) \text{ independent}.
# $$
#
# !!! note "Two ways of writing the same algorithm"
#     This book writes the update as Song & Ermon (2019) do. Much other code writes
#     $x_{t+1} = x_t + \eta\, s(x_t) + \sqrt{2\eta}\, z_t$. The two agree with
#     $\eta = \epsilon/2$; mixing them up silently doubles or halves the noise.
#
# The drift pulls each chain towards high probability; the noise pushes it around at
# random. When the two balance, the chains are distributed according to $p$. Without the
# noise every chain collapses onto a mode. We run 1000 chains from uniformly random
# starting points, once with and once without noise:

# %% alt="Three scatter plots over the mixture's contours. Left: 1000 starting points spread uniformly. Middle: after Langevin dynamics with noise, the points cover all three modes like samples of the density. Right: after gradient ascent without noise, every point has collapsed onto one of the three mode centres."
generator = torch.Generator().manual_seed(1)
start = torch.empty(1000, 2).uniform_(-3, 3, generator=generator)
with_noise = sampling.langevin(
    mixture.score, start, 0.02, 500, generator=generator
).samples


def gradient_ascent(score, x, step_size, n_steps):
    for _ in range(n_steps):
        x = x + 0.5 * step_size * score(x)
    return x


without_noise = gradient_ascent(mixture.score, start, 0.02, 500)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.7))
plotting.plot_samples(
    start, ax=axes[0], xlim=window, ylim=window, color="gray"
)
axes[0].set(title="start: uniform")
for ax, samples, title in [
    (axes[1], with_noise, "Langevin (with noise)"),
    (axes[2], without_noise, "gradient ascent (no noise)"),
]:
    energy_contours(mixture, ax)
    plotting.plot_samples(samples, ax=ax, xlim=window, ylim=window)
    ax.set(title=title)
plt.tight_layout()
plt.show()

exact = mixture.sample(1000, generator=generator)
for name, samples in [
    ("exact samples", exact),
    ("Langevin", with_noise),
    ("gradient ascent", without_noise),
]:
    in_mode_0 = samples[mixture.assign(samples) == 0]
    print(
        f"{name:16s}: spread inside the heaviest mode (std of x1) = {in_mode_0[:, 0].std().item():.3f}"
    )

# %% [markdown]
# Gradient ascent puts every chain *on* a mode: the spread inside a mode is zero, and the
# figure shows three dots. Langevin dynamics reproduces the spread of the exact samples.
#
# ### Why the chains end up distributed as $p$
#
# Think of the update as a small time step of a continuous process. With time
# $\tau = t\,\epsilon/2$, the Langevin update is the Euler–Maruyama discretization of the
# stochastic differential equation
#
# $$
# \mathrm{d}x_\tau = s(x_\tau)\,\mathrm{d}\tau + \sqrt{2}\,\mathrm{d}W_\tau ,
# $$
#
# where $W$ is a Brownian motion. If $\rho_\tau$ denotes the density of $x_\tau$, the
# Fokker–Planck equation says how it evolves: drift transports probability mass along
# $s$, and diffusion spreads it out,
#
# $$
# \frac{\partial \rho_\tau}{\partial \tau}
# = -\nabla \cdot \big(\rho_\tau\, s\big) + \Delta \rho_\tau
# = \nabla \cdot \Big(\rho_\tau\, \nabla \log \frac{\rho_\tau}{p}\Big),
# $$
#
# using $\Delta\rho = \nabla\cdot(\rho\nabla\log\rho)$ and $s = \nabla \log p$. Two
# consequences follow. First, $\rho = p$ is stationary: then $\log(\rho/p) = 0$ and the
# right-hand side vanishes. Second, $p$ attracts every other density: differentiating the
# Kullback–Leibler divergence and integrating by parts gives
#
# $$
# \frac{\mathrm{d}}{\mathrm{d}\tau} \mathrm{KL}(\rho_\tau \,\Vert\, p)
# = -\int \rho_\tau(x) \,\Big\lVert \nabla \log \frac{\rho_\tau(x)}{p(x)} \Big\rVert^2 \mathrm{d}x \;\le\; 0,
# $$
#
# with equality only when $\rho_\tau = p$. The divergence keeps decreasing until the chains
# are distributed as $p$. Notice which quantity appears on the right: a squared
# difference of scores, the *Fisher divergence*, which returns in Chapter 3 as the
# objective of score matching. Two caveats: the argument is about continuous time (a
# finite $\epsilon$ adds a bias, Section 2.5), and "keeps decreasing" may be very slow
# (Section 2.7).
#
# Here is the whole process: 600 chains, started uniformly, flowing onto the mixture.

# %% alt="Animation of 1000 Langevin chains on the three-mode mixture, from uniformly spread points at step 0 to step 600, by which time the points are spread over the three modes like samples of the density."
generator = torch.Generator().manual_seed(2)
cloud = torch.empty(600, 2).uniform_(-3, 3, generator=generator)
flow = sampling.langevin(
    mixture.score,
    cloud,
    0.01,
    600,
    generator=generator,
    record_every=25,
)
steps = [25 * k for k in range(flow.trajectory.shape[0])]
display.animate_samples(
    flow.trajectory,
    background=mixture,
    xlim=window,
    ylim=window,
    titles=[f"Langevin step {t}" for t in steps],
)

# %% [markdown]
# ## 2.4 Hands-on: Langevin dynamics from scratch
#
# The algorithm fits in a few lines. Here it is for a batch of chains, written directly
# from the update rule:


# %%
def langevin_from_scratch(score, x, step_size, n_steps, generator=None):
    for _ in range(n_steps):
        noise = torch.randn(x.shape, generator=generator)
        x = x + 0.5 * step_size * score(x) + math.sqrt(step_size) * noise
    return x


# %% [markdown]
# We sample an elongated, tilted 2-D Gaussian, whose mean and covariance we know, and
# compare with the exact values. The unadjusted chain has a small bias (Section 2.5
# computes it): with $\epsilon = 0.01$ it is far below what 4000 chains can resolve.

# %%
target = energies.Gaussian(
    mean=[1.0, -1.0], cov=torch.tensor([[1.0, 0.8], [0.8, 1.0]])
)
x0 = torch.zeros(4000, 2)
ours = langevin_from_scratch(
    target.score,
    x0,
    0.01,
    2000,
    generator=torch.Generator().manual_seed(3),
)
print(
    "sample mean      :",
    ours.mean(0).numpy().round(3),
    "  exact:",
    target.mean.numpy(),
)
print(
    "sample covariance:",
    torch.cov(ours.T).numpy().round(3).tolist(),
    "  exact:",
    target.cov.numpy().tolist(),
)
print(f"standard error of each mean: {math.sqrt(1.0 / 4000):.3f}")

# %% [markdown]
# The package's `sampling.langevin` does the same thing, adds input checks, catches
# diverging chains, and can record trajectories. Given the same random numbers it returns
# *exactly* the same samples:

# %%
package = sampling.langevin(
    target.score,
    x0,
    0.01,
    2000,
    generator=torch.Generator().manual_seed(3),
)
print(
    "identical to the package's samples:",
    torch.equal(ours, package.samples),
)
print(
    inspect.getsource(sampling.langevin).split('"""')[-1]
)  # the body, without the docstring

# %% [markdown]
# The same few lines sample any distribution whose score we can compute. Two more: the
# banana (exact samples are available for comparison) and the double well.

# %% alt="2000 Langevin samples each over the density of the banana and of the double well: the points follow the curved banana and fill both wells of the double well."
banana = landscapes["banana"]
double_well = landscapes["double well"]
generator = torch.Generator().manual_seed(4)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.9))
scratch_samples = {}
for ax, (name, energy) in zip(
    axes, [("banana", banana), ("double well", double_well)]
):
    samples = langevin_from_scratch(
        energy.score,
        torch.zeros(2000, 2),
        0.02,
        1000,
        generator=generator,
    )
    scratch_samples[name] = samples
    plotting.plot_density_2d(energy, window, window, ax=ax)
    plotting.plot_samples(
        samples,
        ax=ax,
        color="white",
        size=2,
        alpha=0.5,
        xlim=window,
        ylim=window,
    )
    ax.set(title=f"{name}: 2000 Langevin samples")
plt.show()

exact_banana = banana.sample(2000, generator=generator)
fresh_banana = banana.sample(2000, generator=generator)
distance = metrics.sliced_wasserstein(
    scratch_samples["banana"], exact_banana, generator=generator
)
floor = metrics.sliced_wasserstein(
    fresh_banana, exact_banana, generator=generator
)
print(
    f"banana: sliced Wasserstein distance to exact samples {distance:.3f}, between two exact samples {floor:.3f}"
)

# %% [markdown]
# The samples follow both densities closely. The distance to exact samples is still
# about twice the floor set by two independent exact samples: the banana's long, curved
# arms take more than 1000 steps to fill. Section 2.5 measures this trade-off between
# the step size and the number of steps.
#
# ### Exercise 2.2: one Langevin step
#
# Write one Langevin update for a batch of chains. The noise $z$ is passed in (so that
# the checker can compare exactly); `score` is a function of `x`.


# %%
def langevin_step(
    x: torch.Tensor, score, step_size: float, noise: torch.Tensor
) -> torch.Tensor:
    """One Langevin update of every row of x, with the given standard normal noise."""
    # TODO: your code here
    raise NotImplementedError


check_langevin_step(langevin_step)

# %% tags=["solution"]
import math

from ebm_book.exercises import check_langevin_step


def langevin_step_solution(x, score, step_size, noise):
    # The book's convention: drift (eps/2) s(x), noise sqrt(eps) z.
    return x + 0.5 * step_size * score(x) + math.sqrt(step_size) * noise


check_langevin_step(langevin_step_solution)

# %% [markdown]
# ## 2.5 The price of a finite step: bias
#
# The Fokker–Planck argument holds for infinitesimal steps. With a finite $\epsilon$ the
# chain converges to a slightly different distribution. For the one-dimensional Gaussian
# $\mathcal{N}(0, \sigma^2)$ we can compute it exactly. The score is $-x/\sigma^2$, so the
# update is linear,
#
# $$
# x_{t+1} = \Big(1 - \frac{\epsilon}{2\sigma^2}\Big) x_t + \sqrt{\epsilon}\, z_t = a\, x_t + \sqrt{\epsilon}\, z_t .
# $$
#
# If $x_t$ has variance $v$, then $x_{t+1}$ has variance $a^2 v + \epsilon$. The
# stationary variance solves $v = a^2 v + \epsilon$:
#
# $$
# v_\infty = \frac{\epsilon}{1 - a^2}
# = \frac{\epsilon}{\frac{\epsilon}{\sigma^2} - \frac{\epsilon^2}{4\sigma^4}}
# = \frac{\sigma^2}{1 - \epsilon / (4\sigma^2)} .
# $$
#
# The chain's variance is too large by a factor $1/(1 - \epsilon/4\sigma^2)$: about
# $\epsilon/(4\sigma^2)$ in relative terms for small steps, and without bound as
# $\epsilon \to 4\sigma^2$, where $\lvert a \rvert \to 1$. Beyond $\epsilon = 4\sigma^2$ the
# chain diverges. Simulation agrees with the formula (error bars are $\pm 2$ standard errors
# of the sample variance):

# %% alt="Stationary variance of Langevin chains on a standard Gaussian against the step size. Unadjusted Langevin (ULA) follows the predicted curve 1/(1 - step/4), growing from 1 to about 6 at step size 3.3. MALA stays at the correct variance 1 at every step size."
step_sizes = [0.05, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.3]
n_chains = 20_000
generator = torch.Generator().manual_seed(5)


def standard_gaussian_score(x):
    return -x


def standard_gaussian_energy(x):
    return 0.5 * (x**2).sum(dim=1)


ula_var, mala_var, acceptance = [], [], []
for eps in step_sizes:
    x0 = torch.randn(
        n_chains, 1, generator=generator
    )  # start in equilibrium: only the bias remains
    ula_var.append(
        sampling.langevin(
            standard_gaussian_score, x0, eps, 200, generator=generator
        )
        .samples.var()
        .item()
    )
    result = sampling.mala(
        standard_gaussian_energy,
        x0,
        eps,
        200,
        generator=generator,
        score=standard_gaussian_score,
    )
    mala_var.append(result.samples.var().item())
    acceptance.append(result.acceptance_rate)

grid = torch.linspace(0.01, 3.4, 200)
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(
    grid,
    1 / (1 - grid / 4),
    color="C0",
    label="ULA, predicted $1/(1-\\epsilon/4)$",
)
for name, variances, marker, color in [
    ("ULA", ula_var, "o", "C0"),
    ("MALA", mala_var, "s", "C2"),
]:
    ax.errorbar(
        step_sizes,
        variances,
        yerr=[2 * v * math.sqrt(2 / n_chains) for v in variances],
        fmt=marker,
        color=color,
        label=f"{name}, simulated",
    )
ax.axhline(1.0, color="gray", ls="--", lw=1)
ax.set(
    xlabel="step size $\\epsilon$",
    ylabel="stationary variance",
    yscale="log",
    title="Sampling $\\mathcal{N}(0, 1)$",
)
ax.legend()
plt.show()

# %% [markdown]
# (The green squares are the Metropolis-adjusted version of Section 2.6: it has no bias at
# any step size.)
#
# Why not always take a tiny step? Because the chains then move slowly: the number of
# steps needed to forget the starting point grows like $1/\epsilon$. The step size trades
# **bias** against **mixing time**. We see the trade-off on the banana, measuring the
# distance of 3000 chains to 3000 exact samples as the chains run, with the sliced
# Wasserstein distance (`metrics.sliced_wasserstein`: the average, over random directions,
# of how far the projected samples must move to match; in units of $x$). Two finite samples
# of the *same* distribution are never at distance zero: the dashed line shows that floor
# (averaged over five pairs of exact samples).

# %% alt="Sliced Wasserstein distance to exact banana samples against the number of Langevin steps, for step sizes 0.002, 0.02 and 0.25. The smallest step is still far away after 2000 steps; the largest settles at once but at a biased level; the middle one ends closest to the floor set by comparing two exact samples."
generator = torch.Generator().manual_seed(6)
n_chains = 3000
exact = banana.sample(n_chains, generator=generator)


def distance_to_exact(samples):
    return metrics.sliced_wasserstein(
        samples, exact, n_projections=128, generator=generator
    )


floor = (
    sum(
        distance_to_exact(banana.sample(n_chains, generator=generator))
        for _ in range(5)
    )
    / 5
)
start = torch.zeros(n_chains, 2) + torch.tensor(
    [2.5, -2.5]
)  # all chains start at one point
record_every = 100
fig, ax = plt.subplots(figsize=(6.5, 4))
final = {}
for eps in (0.002, 0.02, 0.25):
    run = sampling.langevin(
        banana.score,
        start,
        eps,
        2000,
        generator=generator,
        record_every=record_every,
    )
    distances = [distance_to_exact(states) for states in run.trajectory[1:]]
    final[eps] = distances[-1]
    ax.plot(
        record_every * torch.arange(1, len(distances) + 1),
        distances,
        "o-",
        ms=3,
        label=f"$\\epsilon = {eps}$",
    )
ax.axhline(floor, color="gray", ls="--", lw=1, label="two exact samples")
ax.set(
    xlabel="Langevin steps",
    ylabel="sliced Wasserstein distance",
    yscale="log",
    title="Banana: bias versus mixing",
)
ax.legend()
plt.show()
for eps, distance in final.items():
    print(
        f"eps = {eps:<6}: distance after 2000 steps = {distance:.3f}  ({distance / floor:.1f} x the floor)"
    )

# %% [markdown]
# The smallest step has barely left its starting point after 2000 steps. The largest
# converges fastest, then stalls well above the floor: its stationary distribution is
# visibly wrong. The middle one reaches the floor within the budget. In practice one picks
# the largest step whose bias is acceptable, or removes the bias altogether.
#
# ## 2.6 Removing the bias: Metropolis-adjusted Langevin (MALA)
#
# The Metropolis–Hastings recipe turns any proposal into an exact sampler. Treat the
# Langevin update as a *proposal* $y = x + \tfrac{\epsilon}{2}s(x) + \sqrt{\epsilon}\,z$,
# whose density is $q(y \mid x) = \mathcal{N}\big(y;\, x + \tfrac{\epsilon}{2}s(x),\, \epsilon I\big)$,
# and accept it with probability
#
# $$
# \alpha(x, y) = \min\left(1,\; \frac{p(y)\, q(x \mid y)}{p(x)\, q(y \mid x)}\right)
# = \min\Big(1,\; e^{E(x) - E(y)}\, \frac{q(x \mid y)}{q(y \mid x)}\Big);
# $$
#
# otherwise the chain stays where it is. The acceptance rule makes $p$ *exactly*
# stationary for any step size (Roberts & Tweedie, 1996): a step that is too large now
# shows up as many rejections instead of a wrong answer. The ratio $p(y)/p(x)$ needs
# energy differences, but still not $Z$. Acceptance rates on $\mathcal{N}(0, 1)$, from the
# experiment above:

# %%
display.show_table(
    ["$\\epsilon$", "ULA variance", "MALA variance", "MALA acceptance"],
    [
        [eps, u, m, a]
        for eps, u, m, a in zip(step_sizes, ula_var, mala_var, acceptance)
    ],
)

# %% [markdown]
# MALA's variance stays at 1 (within the standard error of about 0.01) at every step size,
# while ULA's grows past 5. The price is the acceptance rate, which falls as the step
# grows; a rate around 0.5–0.6 is the classic target for tuning
# (Roberts & Rosenthal, 1998).
#
# **When to use which?** MALA needs the energy $E$ (up to a constant) for the acceptance
# test. When you have it, as in Bayesian inference with an unnormalized posterior, MALA is
# the safer choice. The score-based generative models of Chapters 3 and 4 learn *only the
# score* $s_\theta(x)$, with no energy to compare, so they use plain Langevin dynamics with
# small steps, and accept a small bias.
#
# ### Exercise 2.3: MALA's acceptance ratio
#
# Implement the logarithm of MALA's ratio $\frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}$ for a
# batch of current points `x` and proposals `y`, given the `energy`, the `score` and the
# step size. Return one value per chain. Constants common to both $q$'s cancel: drop them.


# %%
def mala_log_acceptance(x, y, energy, score, step_size):
    """log [p(y) q(x|y)] - log [p(x) q(y|x)] for each chain; returns shape (N,)."""
    # TODO: your code here
    raise NotImplementedError


check_mala_log_acceptance(mala_log_acceptance)

# %% tags=["solution"]
from ebm_book.exercises import check_mala_log_acceptance


def mala_log_acceptance_solution(x, y, energy, score, step_size):
    def log_q(
        to, origin
    ):  # log N(to; origin + (eps/2) s(origin), eps I), without constants
        mean = origin + 0.5 * step_size * score(origin)
        return -((to - mean) ** 2).sum(dim=1) / (2 * step_size)

    return energy(x) - energy(y) + log_q(x, y) - log_q(y, x)


check_mala_log_acceptance(mala_log_acceptance_solution)

# %% [markdown]
# ## 2.7 Where Langevin dynamics struggles: separated modes
#
# Everything so far had modes close enough for the chains to travel between them. Now take
# two modes far apart, with unequal weights:
#
# $$
# p(x) = \tfrac15\, \mathcal{N}\big(x;\, (-5, -5),\, I\big) + \tfrac45\, \mathcal{N}\big(x;\, (5, 5),\, I\big).
# $$
#
# We run Langevin dynamics with the *exact* score, from 3000 points spread uniformly over
# $[-8, 8]^2$, for 600 steps of size $\epsilon = 0.1$ (plenty to reach equilibrium
# within a mode: each step shrinks the distance to the mode's centre by 5%), and count the
# fraction of chains in each mode.

# %%
two_modes = energies.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8]
)
generator = torch.Generator().manual_seed(7)
uniform_start = torch.empty(3000, 2).uniform_(-8, 8, generator=generator)
chains = sampling.langevin(
    two_modes.score, uniform_start, 0.1, 600, generator=generator
).samples
weights, errors = metrics.mode_weights(chains, two_modes)
start_weights, _ = metrics.mode_weights(uniform_start, two_modes)
exact_weights, exact_errors = metrics.mode_weights(
    two_modes.sample(3000, generator=generator), two_modes
)

rows = []
for k in range(two_modes.n_components):
    mean = two_modes.means[k].tolist()
    rows.append([
        f"$({mean[0]:.0f}, {mean[1]:.0f})$",
        two_modes.weights[k].item(),
        f"{exact_weights[k]:.3f} ± {exact_errors[k]:.3f}",
        f"{weights[k]:.3f} ± {errors[k]:.3f}",
        start_weights[k].item(),
    ])  # fmt: skip
headers = ["mode", "weight", "exact", "Langevin", "starts in basin"]
display.show_table(headers, rows)

# %% alt="Two scatter plots of a mixture of two well-separated Gaussians, at (-5, -5) with weight 0.2 and at (5, 5) with weight 0.8. The exact samples put most points in the upper-right mode; Langevin chains started uniformly fill both modes about equally, getting the weights wrong."
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
big_window = (-9, 9)
for ax, samples, title in [
    (
        axes[0],
        two_modes.sample(3000, generator=generator),
        "exact samples",
    ),
    (axes[1], chains, "Langevin, uniform start"),
]:
    plotting.plot_samples(samples, ax=ax, xlim=big_window, ylim=big_window)
    ax.set(title=title)
plt.show()

# %% [markdown]
# (Columns: the fraction of 3000 exact samples in each mode, the fraction of the Langevin
# chains, each with its binomial standard error, and the fraction of starting points that
# lie on that mode's side of the boundary between the two basins.)
#
# Langevin dynamics puts about half of the chains in each mode, the split of the starting
# points between the two basins of attraction, instead of 0.2 and 0.8. Each mode on its own
# is sampled well; their *relative weights* are wrong, many standard errors away from the
# truth.
#
# Why? Look at the score. Near mode $k$ the responsibility $r_k(x)$ of that component is
# essentially 1, so the score of the mixture is the score of that component alone,
# $-(x - \mu_k)$, whatever the weights. The weights enter only through the
# responsibilities, and those change only in the empty region between the modes. We can
# measure it: compare the score of our mixture with the score of a mixture with the same
# components and *equal* weights, on samples from $p$.

# %%
equal_weights = energies.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.5, 0.5]
)
on_the_data = two_modes.sample(3000, generator=generator).double()
gap = (two_modes.score(on_the_data) - equal_weights.score(on_the_data)).norm(
    dim=1
)
print(f"score difference on 3000 samples of p: largest {gap.max().item():.1e}")
barrier = (
    two_modes.energy(torch.zeros(1, 2))
    - two_modes.energy(torch.tensor([[5.0, 5.0]]))
).item()
print(
    f"energy barrier between the modes: {barrier:.1f}, so a crossing takes on the order of e^{barrier:.0f} ≈ {math.exp(barrier):.0e} steps"
)

# %% [markdown]
# Where the data lives, the two scores agree to the last bit of double precision: the
# score simply does not contain the information about the weights there. To move mass between the modes a chain
# would have to cross the barrier between them, an event whose waiting time grows like
# $e^{\Delta E}$; with $\Delta E \approx 24$ that will not happen in any realistic run.
#
# This is not a flaw of our implementation but of the method, and it will matter even
# more when the score is *learned* from data (Chapter 3), since the learned score is least
# accurate exactly in the empty regions between modes. Chapter 4 fixes both problems with
# one idea: add noise to the data, at several scales, so that the modes overlap and the
# score sees them all.
#
# ## Reflection questions
#
# ??? question "1. The score of a density is zero at every mode. Is every point where the score vanishes a mode? What does this mean for gradient ascent and for Langevin dynamics?"
#     No: the score also vanishes at saddle points (such as the one between two mixture
#     modes, Section 2.1) and at local minima of the density. Gradient ascent started
#     exactly there would stay forever; Langevin dynamics is pushed off by the noise at the
#     first step. More generally, noise makes Langevin dynamics robust to the fine
#     structure of the field, and gradient ascent is not.
#
# ??? question "2. Langevin's noise term is $\sqrt{\epsilon}\,z$ while the drift is $\tfrac{\epsilon}{2}s(x)$. Why must the noise scale like the square root of the step, rather than like the step itself?"
#     Over $n$ steps the drift contributes about $n\epsilon/2$ times the score, while
#     independent noise terms add in variance, so their sum has standard deviation
#     $\sqrt{n}\cdot(\text{noise per step})$. For the two to balance over a fixed time
#     $n\epsilon$ as $\epsilon \to 0$, the noise per step must be of order $\sqrt{\epsilon}$.
#     With noise of order $\epsilon$ the random part would vanish in the limit (gradient
#     ascent); the 1-D Gaussian computation of Section 2.5 also shows it: only
#     $\sqrt{\epsilon}$ gives a stationary variance that tends to $\sigma^2$.
#
# ??? question "3. MALA is exact and ULA is biased. Why, then, do score-based generative models use ULA?"
#     MALA's acceptance test needs $p(y)/p(x)$, i.e. an energy difference. A score network
#     $s_\theta(x)$ gives only gradients, and integrating them back into an energy along
#     a path is expensive and, for an unconstrained network, not even well defined (the
#     learned field need not be a gradient). ULA with small steps needs nothing but the
#     score.
#
# ??? question "4. In the two-mode experiment, how would the Langevin mode weights change if the chains started from the exact distribution $p$ instead of uniformly? What does this suggest?"
#     They would stay at 0.2 and 0.8: chains that start in equilibrium stay in equilibrium,
#     and no chain crosses the barrier in either case. The method preserves weights but
#     cannot *find* them. A good starting distribution is therefore worth a lot; annealing
#     (Chapter 4) constructs one, by starting from a very noisy version of $p$ in which
#     the modes overlap and the weights are easy to get right.
#
# ## Summary
#
# - The score $s(x) = \nabla_x \log p(x) = -\nabla_x E(x)/T$ is a vector field pointing
#   towards high probability: strong far away, zero at modes and saddles.
# - $Z$ does not depend on $x$, so it disappears from the score; autograd computes scores
#   of any energy, network or not, to floating-point precision.
# - Langevin dynamics, $x \leftarrow x + \tfrac{\epsilon}{2}s(x) + \sqrt{\epsilon}\,z$, samples
#   $p$ using only the score. The noise is essential; without it, chains collapse onto the
#   modes. The Fokker–Planck equation shows $p$ is stationary and attracting.
# - A finite step biases the result: for $\mathcal{N}(0,\sigma^2)$ the variance becomes
#   $\sigma^2/(1-\epsilon/4\sigma^2)$. Small steps mix slowly; large steps are biased.
#   MALA removes the bias with an accept/reject test, at the cost of needing the energy.
# - Langevin dynamics cannot recover the relative weights of separated modes: the score
#   near each mode does not depend on the weights, and crossings between modes are
#   exponentially rare.
#
# ## References
#
# - Y. Song, S. Ermon (2019). *Generative modeling by estimating gradients of the data
#   distribution.* NeurIPS. (The Langevin convention used here, and Section 2.7's experiment.)
# - G. O. Roberts, R. L. Tweedie (1996). *Exponential convergence of Langevin distributions
#   and their discrete approximations.* Bernoulli 2(4). (ULA's pitfalls and MALA.)
# - G. O. Roberts, J. S. Rosenthal (1998). *Optimal scaling of discrete approximations to
#   Langevin diffusions.* Journal of the Royal Statistical Society B 60(1).
# - M. Welling, Y. W. Teh (2011). *Bayesian learning via stochastic gradient Langevin
#   dynamics.* ICML.
#
# The full bibliography is on the [references page](../references.md).
