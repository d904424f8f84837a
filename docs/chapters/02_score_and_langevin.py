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
#     **Time:** about 86 minutes: about 41 of reading and running the code, about 45 of exercises.
#
#     **You will learn to**
#
#     - read the score $\nabla_x \log p(x)$ as a vector field that points towards high probability, and draw it;
#     - show, in algebra and in code, that the score does not depend on the partition function $Z$;
#     - sample a distribution from its score alone with Langevin dynamics, and explain why the noise is essential;
#     - write a Langevin sampler and test it against the moments it must produce;
#     - predict the bias that a finite step size causes and the step at which chains diverge, and remove the bias with a Metropolis correction (MALA);
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

from ebm_book import (
    claims,
    display,
    energies,
    examples,
    metrics,
    mixtures,
    plotting,
    sampling,
    seeds,
)
from ebm_book.exercises.ch02_langevin import (
    check_gaussian_score,
    check_langevin_sampler,
    check_mala_log_acceptance,
    check_runaway_chain,
    check_variance_after,
)
from ebm_book.score import score_from_energy

plotting.use_book_style()
seeds.manual_seed(0)  # the random initial weights of networks below

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
# The simplest example is the Gaussian $\mathcal{N}(\mu, \Sigma)$. Write
# $\Lambda = \Sigma^{-1}$ for its **precision** matrix; the energy is
# $\tfrac12 (x-\mu)^\top \Lambda (x-\mu)$ and the score is
#
# $$
# s(x) = -\Lambda(x - \mu).
# $$
#
# It points straight at the mean, grows linearly with the distance from it, and is
# stronger along the directions in which the Gaussian is narrow (the directions of the
# large eigenvalues of $\Lambda$). Here are the score fields of the four landscapes of
# Chapter 1, drawn over their energy contours. Every arrow has the same length; its colour
# gives the magnitude $\lVert s(x) \rVert$ on a logarithmic scale, from dark purple
# (nearly zero) to orange (large).

# %% alt="Score fields of four energies: the Gaussian mixture, the ring, the banana and the double well. The arrows, all of one length and drawn over the energy contours, point uphill in density, toward the modes (for the ring, toward the circle); their colour shows the strength of the field, orange (strong) far from the modes and dark purple (weak) near them."
landscapes = examples.example_landscapes()  # the four of Chapter 1
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
# exactly zero. And *between* modes it vanishes as well, at a saddle point of $p$, where
# arrows on either side point away from each other, towards different modes. The numbers
# for the mixture (we locate the saddle between its two heaviest modes by solving
# $s(x) = 0$ with Newton's method, starting halfway between their means):


# %%
def score_norm(energy, point):
    return energy.score(torch.tensor([point])).norm().item()


def hessian_of_log_p(x):
    """The Jacobian of the score at one point x: the Hessian of log p."""
    return torch.autograd.functional.jacobian(
        lambda y: mixture.score(y[None])[0], x
    )


saddle = mixture.means[:2].mean(dim=0).double()
for _ in range(20):  # Newton's method on s(x) = 0
    newton_step = torch.linalg.solve(
        hessian_of_log_p(saddle), mixture.score(saddle[None])[0]
    )
    saddle = saddle - newton_step
curvatures = torch.linalg.eigvalsh(hessian_of_log_p(saddle))

heaviest_mean = mixture.means[0].tolist()
print(
    f"|s| at the heaviest mode's mean : {score_norm(mixture, heaviest_mean):.1e}"
)
print(
    f"|s| up a valley wall at (1, 1.6): {score_norm(mixture, [1.0, 1.6]):.1f}"
)
print(
    f"|s| far away at (3, 3)          : {score_norm(mixture, [3.0, 3.0]):.1f}"
)
print(
    f"saddle at {[round(v, 2) for v in saddle.tolist()]}: |s| = "
    f"{mixture.score(saddle[None]).norm().item():.0e}; log p curves down "
    f"({curvatures[0].item():.1f}) along one direction and up "
    f"({curvatures[1].item():.1f}) along the other"
)
claims.claim(
    "the score vanishes at the saddle, which is not a mode",
    mixture.score(saddle[None]).norm() < 1e-10
    and curvatures[0] < 0 < curvatures[1],
    score_norm=mixture.score(saddle[None]).norm(),
    curvatures=curvatures.tolist(),
)

# %% [markdown]
# At the saddle the score is zero to rounding error, yet it is no mode. Like a mountain
# pass between two peaks, the density rises from it towards either of the two modes
# ($\log p$ curves up along that path) and falls in the direction across it ($\log p$
# curves down). (At a component's mean the score is small but not exactly zero:
# the other components pull on it slightly, so the mode of the mixture sits a little off
# the component's mean.)
#
# ### Exercise 2.1: the score of a Gaussian (about 5 minutes)
#
# Implement the score of $\mathcal{N}(\mu, \Sigma)$ for a batch `x` of shape `(N, d)`,
# a mean of shape `(d,)` and a covariance of shape `(d, d)`.


# %%
def gaussian_score(
    x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor
) -> torch.Tensor:
    """The score of N(mean, cov) at each row of x (Section 2.1); shape (N, d)."""
    # TODO: your code here
    raise NotImplementedError


check_gaussian_score(gaussian_score)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch02_langevin import check_gaussian_score


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
# We can check this in code. `score_from_energy` computes $-\nabla_x E / T$ with
# autograd. Adding a constant $c$ to the energy multiplies $e^{-E}$ by $e^{-c}$: $Z$ is
# multiplied by the same factor, and the density $p$, hence the score, does not change.
# (The package writes the mixture's energy as $E = -\log p$, the normalized negative
# log-density, so its $Z$ is already 1. Any $c$ will do; we take $c = 7.3$.)

# %%
x = mixture.sample(1000, generator=seeds.generator(0)).double()
c = 7.3  # any constant


def shifted_energy(x):
    return mixture.energy(x) + c


autograd_score = score_from_energy(mixture.energy, x)
shift_gap = (autograd_score - score_from_energy(shifted_energy, x)).abs().max()
analytic_gap = (autograd_score - mixture.score(x)).abs().max().item()
print(f"largest difference, E versus E + c        : {shift_gap.item():.1e}")
print(f"largest difference, autograd versus exact : {analytic_gap:.1e}")
claims.claim(
    "adding a constant to the energy leaves the score unchanged",
    shift_gap == 0,
    shift_gap=shift_gap,
)
# Double precision rounds at about 1e-16 relative to numbers of size ~10; a
# wrong formula would differ by O(1). 1e-12 is a hundredfold margin on rounding.
claims.claim(
    "autograd agrees with the mixture's closed-form score to rounding error",
    analytic_gap < 1e-12,
    analytic_gap=analytic_gap,
)

# %% [markdown]
# The two scores are the same numbers to the last bit, and both agree with the closed-form
# score of the mixture to rounding error.
#
# The same works for an energy given by a neural network, which is how energy-based
# models are built. Take a network with one hidden layer of $H$ units,
#
# $$
# E_\theta(x) = \theta_3^\top \tanh(\theta_1 x + \theta_2),
# $$
#
# whose parameters $\theta$ come in three blocks: an $H \times d$ weight matrix
# $\theta_1$ and two vectors $\theta_2, \theta_3 \in \mathbb{R}^H$ ($\tanh$ acts on each
# entry). The chain rule gives its gradient by hand,
#
# $$
# \nabla_x E_\theta(x) = \theta_1^\top\Big(\theta_3 \odot \big(1 - \tanh^2(\theta_1 x + \theta_2)\big)\Big),
# $$
#
# where $\odot$ is the entrywise product, and autograd must agree with it up to
# floating-point rounding. We compare the two in single and in double precision, with
# $H = 32$:


# %%
class TanhEnergy(torch.nn.Module):
    """E(x) = theta_3^T tanh(theta_1 x + theta_2): a tiny energy network."""

    def __init__(self, dim: int = 2, hidden: int = 32):
        super().__init__()
        # weight theta_1 (hidden x dim) and bias theta_2 (hidden,)
        self.layer = torch.nn.Linear(dim, hidden)
        self.readout = torch.nn.Parameter(torch.randn(hidden))  # theta_3

    def forward(self, x):
        return torch.tanh(self.layer(x)) @ self.readout

    def analytic_score(self, x):  # minus the hand-derived gradient
        slopes = 1 - torch.tanh(self.layer(x)) ** 2
        return -(slopes * self.readout) @ self.layer.weight


in_epsilons = {}  # the largest difference, in units of eps * |score|
for dtype in (torch.float32, torch.float64):
    net = TanhEnergy().to(dtype)
    points = torch.randn(500, 2, dtype=dtype)
    hand_derived = net.analytic_score(points)
    gap = (score_from_energy(net, points) - hand_derived).abs().max().item()
    machine_epsilon = torch.finfo(dtype).eps
    size = hand_derived.abs().max().item()
    in_epsilons[dtype] = gap / (machine_epsilon * size)
    print(
        f"{str(dtype):14s} largest difference {gap:.1e} "
        f"(machine epsilon {machine_epsilon:.1e})"
    )
# Rounding a sum of H = 32 terms costs at most about 32 machine epsilons of
# its scale; a wrong formula would differ by the size of the score itself.
claims.claim(
    "autograd and the hand-derived gradient agree to rounding error",
    max(in_epsilons.values()) < 32,
    in_epsilons=list(in_epsilons.values()),
)

# %% tags=["prose"]
display.prose(f"""
In both formats the largest difference is at most
{max(in_epsilons.values()):.1f} times the machine epsilon (the relative spacing of
floating-point numbers: about 1e-7 in single, 2e-16 in double precision) times the
size of the score. That is rounding, not disagreement. From now on we trust autograd
for scores.
""")

# %% [markdown]
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
# \tag{2.1}
# $$
#
# !!! note "Two ways of writing the same algorithm"
#     This book writes the update as [Song & Ermon (2019)](../references.md#song2019)
#     do. Much other code writes $x_{t+1} = x_t + \eta\, s(x_t) + \sqrt{2\eta}\, z_t$.
#     The two agree with $\eta = \epsilon/2$; mixing them up silently doubles or halves
#     the noise.
#
# The drift pulls each chain towards high probability; the noise pushes it around at
# random. When the two balance, the chains are distributed according to $p$. Without the
# noise every chain collapses onto a mode. We run 1000 chains from uniformly random
# starting points, once with and once without noise:

# %% alt="Three scatter plots over the mixture's contours. Left: 1000 starting points spread uniformly. Middle: after Langevin dynamics with noise, the points cover all three modes, each with the spread of samples of the density. Right: after gradient ascent without noise, every point has collapsed onto one of the three mode centres."
generator = seeds.generator(1)
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
spread = {}  # std of x1 inside the heaviest mode, and its standard error
for name, samples in [
    ("exact samples", exact),
    ("Langevin", with_noise),
    ("gradient ascent", without_noise),
]:
    in_mode_0 = samples[mixture.assign(samples) == 0][:, 0]
    std = in_mode_0.std().item()
    spread[name] = (std, std / math.sqrt(2 * (len(in_mode_0) - 1)))
    print(
        f"{name:16s}: spread inside the heaviest mode (std of x1) = {std:.3f}"
    )

# %%
# The standard error of a sample std is std / sqrt(2 (n - 1)) for Gaussian
# data; four standard errors of the difference make a false alarm unlikely.
(std_exact, se_exact), (std_langevin, se_langevin) = (
    spread["exact samples"],
    spread["Langevin"],
)
se_difference = math.hypot(se_exact, se_langevin)
claims.claim(
    "Langevin dynamics reproduces the spread of the exact samples",
    abs(std_langevin - std_exact) < 4 * se_difference,
    langevin=std_langevin,
    exact=std_exact,
    standard_error=se_difference,
)
# Gradient ascent contracts towards each mode by at least 1.6% per step
# (0.01 times the smallest curvature there): after 500 steps, far below 0.01.
labels = mixture.assign(without_noise)
collapse = max(
    (group - group.mean(dim=0)).norm(dim=1).max().item()
    for group in (without_noise[labels == k] for k in range(3))
)
claims.claim(
    "gradient ascent collapses every chain onto one of the three mode centres",
    collapse < 0.01 and len(labels.unique()) == 3,
    largest_distance_to_centre=collapse,
)
weights, errors = metrics.mode_weights(with_noise, mixture)
claims.claim(
    "Langevin's share of the heaviest mode is still below 0.5",
    weights[0] < 0.5 - 3 * errors[0],
    weight=weights[0],
    standard_error=errors[0],
)

# %% tags=["prose"]
display.prose(f"""
Gradient ascent puts every chain *on* a mode: the spread inside a mode is zero, and the
figure shows three dots. Langevin dynamics reproduces the spread of the exact samples
({std_langevin:.3f} against {std_exact:.3f}, with a standard error of
{se_difference:.3f} for the difference). One thing it has not got right yet is the
share of each mode: {weights[0]:.2f} ± {errors[0]:.2f} of the chains sit in the
heaviest mode, whose weight is 0.5. Inside a mode, 500 steps are plenty; moving between
modes, across the low-density regions that separate them, takes much longer.
Section 2.7 takes this to the extreme.
""")

# %% [markdown]
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
# where $W_\tau$ is a Brownian motion: its increment over a time $\mathrm{d}\tau$ is
# Gaussian with covariance $\mathrm{d}\tau\, I$, independent of the past. Over one step,
# $\mathrm{d}\tau = \epsilon/2$, the drift moves $x$ by $\tfrac{\epsilon}{2}s(x)$ and the
# noise $\sqrt{2}\,\mathrm{d}W_\tau$ has covariance $\epsilon I$: the update above.
#
# Let $\rho_\tau$ be the density of $x_\tau$. Two operators of vector calculus say how it
# evolves. The **divergence** of a vector field is the sum of the partial derivatives of
# its components; for the probability flux $\rho\, s$ (density times velocity),
# $\nabla \cdot (\rho\, s) = \sum_i \partial_i(\rho\, s_i)$ is the rate at which the flow
# carries mass away from a point. The **Laplacian** is the divergence of the gradient,
# $\nabla^2 \rho = \nabla\cdot\nabla\rho = \sum_i \partial_i^2 \rho$: positive in a dip of
# $\rho$, negative on a bump. The **Fokker–Planck equation** says that drift transports
# mass along $s$, and diffusion fills dips and flattens bumps:
#
# $$
# \frac{\partial \rho_\tau}{\partial \tau}
# = -\nabla \cdot \big(\rho_\tau\, s\big) + \nabla^2 \rho_\tau
# = \nabla \cdot \Big(\rho_\tau\, \nabla \log \frac{\rho_\tau}{p}\Big),
# $$
#
# using $\nabla^2\rho = \nabla\cdot\nabla\rho = \nabla\cdot(\rho\,\nabla\log\rho)$ and
# $s = \nabla \log p$. Two consequences follow. First, $\rho = p$ is stationary: then
# $\log(\rho/p) = 0$ and the right-hand side vanishes. Second, $p$ attracts every other
# density. Differentiate the Kullback–Leibler divergence
# $\mathrm{KL}(\rho_\tau \,\Vert\, p) = \int \rho_\tau \log(\rho_\tau/p)\,\mathrm{d}x$;
# the term $\int \partial_\tau \rho_\tau\,\mathrm{d}x$ vanishes because the total mass
# stays 1, and integrating by parts moves the divergence onto the logarithm:
#
# $$
# \frac{\mathrm{d}}{\mathrm{d}\tau} \mathrm{KL}(\rho_\tau \,\Vert\, p)
# = \int \nabla \cdot \Big(\rho_\tau \nabla \log \frac{\rho_\tau}{p}\Big) \log \frac{\rho_\tau}{p}\,\mathrm{d}x
# = -\int \rho_\tau(x) \,\Big\lVert \nabla \log \frac{\rho_\tau(x)}{p(x)} \Big\rVert^2 \mathrm{d}x
# = -D_F(\rho_\tau \,\Vert\, p) \;\le\; 0 .
# $$
#
# The right-hand side is minus the **Fisher divergence**
# $D_F(\rho \,\Vert\, p) = \mathbb{E}_{x\sim\rho}\lVert \nabla \log \rho(x) - \nabla \log p(x)\rVert^2$,
# a mean squared difference of scores, which is zero only when $\rho_\tau = p$. The
# Kullback–Leibler divergence keeps decreasing until the chains are distributed as $p$.
# The Fisher divergence returns in Chapter 3: explicit score matching minimizes half of
# it. Two caveats: the argument is about continuous time (a finite $\epsilon$ adds a bias,
# Section 2.5), and "keeps decreasing" may be very slow (Section 2.7).
#
# Here is the whole process: 600 chains, started uniformly, flowing onto the mixture.

# %% alt="Animation of 600 Langevin chains on the three-mode mixture, from uniformly spread points at step 0 to step 600, by which time nearly all of the points have gathered around the three modes."
generator = seeds.generator(2)
cloud = torch.empty(600, 2).uniform_(-3, 3, generator=generator)
flow = sampling.langevin(
    mixture.score,
    cloud,
    0.01,
    600,
    generator=generator,
    record_every=25,
)
# "Gathered around the modes": inside the ellipse of its nearest component
# that holds 99% of that component's mass (squared Mahalanobis distance 9.21).
final, labels = flow.samples, mixture.assign(flow.samples)
offsets = final - mixture.means[labels]
mahalanobis = torch.einsum(
    "ni,nij,nj->n", offsets, mixture.precisions[labels], offsets
)
gathered = (mahalanobis < 9.21).double().mean().item()
claims.claim(
    "by step 600 nearly all of the chains have gathered around the modes",
    gathered > 0.95,
    fraction=gathered,
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
# The algorithm fits in a few lines, and you now have all you need to write them: the
# update (2.1), applied to a whole batch of chains at once.
#
# ### Exercise 2.2: a Langevin sampler (build it, about 15 minutes)
#
# Write `langevin_sampler`: it runs one chain from each row of `x0` for `n_steps`
# updates (2.1) and returns where the chains end. The grader runs your sampler with
# 20 000 chains on a tilted 2-D Gaussian, all started at one point, and compares the
# mean and covariance of the final states with what the update must produce, in
# standard errors. It also runs it twice with one seed: a sampler that draws all of its
# random numbers from `generator` gives the same chains both times.


# %%
def langevin_sampler(
    score, x0: torch.Tensor, step_size: float, n_steps: int, generator=None
) -> torch.Tensor:
    """Langevin chains from the rows of x0; returns their final states.

    score: maps points of shape (N, d) to their scores, shape (N, d).
    x0: the N starting points, shape (N, d); leave this tensor unchanged.
    step_size: the step size epsilon of (2.1); n_steps: the number of updates.
    generator: the torch.Generator to draw every random number from (or None).
    Returns the final states of the N chains, shape (N, d).
    """
    # TODO: your code here
    raise NotImplementedError


check_langevin_sampler(langevin_sampler)

# %% tags=["solution"]
import math

import torch

from ebm_book.exercises.ch02_langevin import check_langevin_sampler


def langevin_sampler_solution(score, x0, step_size, n_steps, generator=None):
    x = x0  # x = x + ... below makes new tensors: x0 itself never changes
    for _ in range(n_steps):
        # Fresh noise at every step, independent for every chain and coordinate.
        noise = torch.randn(x.shape, generator=generator)
        x = x + 0.5 * step_size * score(x) + math.sqrt(step_size) * noise
    return x


check_langevin_sampler(langevin_sampler_solution)

# %% [markdown]
# The rest of this section runs the solution above (open it once your own passes). We
# sample an elongated, tilted 2-D Gaussian, whose mean and covariance we know: 4000
# chains, all started at the origin, 2000 steps of size $\epsilon = 0.01$. Each chain's
# final state is an independent draw, so the standard error of a sample mean is
# $\sqrt{\Sigma_{ii}/n}$ and that of a sample covariance entry is
# $\sqrt{(\Sigma_{ij}^2 + \Sigma_{ii}\Sigma_{jj})/n}$ (for Gaussian data), with $n = 4000$.

# %%
target = energies.Gaussian(
    mean=[1.0, -1.0], cov=torch.tensor([[1.0, 0.8], [0.8, 1.0]])
)
n_chains, n_steps, eps = 4000, 2000, 0.01
x0 = torch.zeros(n_chains, 2)
ours = langevin_sampler_solution(
    target.score, x0, eps, n_steps, generator=seeds.generator(3)
)
mu, cov = target.mean, target.cov
variances = cov.diagonal()
mean_se = (variances / n_chains).sqrt()
cov_se = ((cov**2 + torch.outer(variances, variances)) / n_chains).sqrt()
mean_z = ((ours.mean(dim=0) - mu) / mean_se).abs().max().item()
cov_z = ((torch.cov(ours.T) - cov) / cov_se).abs().max().item()
print("sample mean      :", ours.mean(dim=0).numpy().round(3), mu.numpy())
sample_cov = torch.cov(ours.T).double().numpy().round(3)
print("sample covariance:", sample_cov.tolist())
print("exact covariance :", cov.double().numpy().round(3).tolist())
print(f"largest error, in standard errors: mean {mean_z:.1f}, cov {cov_z:.1f}")
# Four standard errors: each of the five comparisons fails by chance with
# probability about 6e-5.
claims.claim(
    "the sample mean agrees with the exact one within four standard errors",
    mean_z < 4,
    largest_z=mean_z,
)
claims.claim(
    "the sample covariance agrees with the exact one within four standard errors",
    cov_z < 4,
    largest_z=cov_z,
)

# %% [markdown]
# Agreement within the standard errors does not mean that the chain has no bias, only
# that 4000 chains cannot see it. For a Gaussian target we can compute the bias exactly.
# The score is $-\Lambda(x - \mu)$, so the update is linear,
# $x_{t+1} - \mu = \big(I - \tfrac{\epsilon}{2}\Lambda\big)(x_t - \mu) + \sqrt{\epsilon}\,z_t$:
# the chains stay Gaussian, their mean converges to $\mu$ exactly, and their covariance
# follows
#
# $$
# \operatorname{Cov}[x_{t+1}] = \big(I - \tfrac{\epsilon}{2}\Lambda\big)\operatorname{Cov}[x_t]\big(I - \tfrac{\epsilon}{2}\Lambda\big) + \epsilon I,
# \qquad \operatorname{Cov}[x_0] = 0
# $$
#
# (all chains start at one point). Its fixed point is
# $\Sigma\big(I - \tfrac{\epsilon}{4}\Lambda\big)^{-1}$, not $\Sigma$: the matrix version
# of the formula that Section 2.5 derives in one dimension. We iterate the recursion for
# the 2000 steps of the run:

# %%
precision = torch.linalg.inv(cov.double())  # Lambda
contraction = torch.eye(2, dtype=torch.float64) - 0.5 * eps * precision
predicted = torch.zeros(2, 2, dtype=torch.float64)  # Cov[x_0]
for _ in range(n_steps):
    predicted = contraction @ predicted @ contraction + eps * torch.eye(2)
bias = (predicted - cov.double()).abs().max().item()
print("predicted covariance after 2000 steps:", predicted.numpy().round(4))
print(
    f"largest bias of an entry {bias:.4f}, "
    f"smallest standard error {cov_se.min().item():.4f}"
)
claims.claim(
    "with eps = 0.01 the bias is far below what 4000 chains can resolve",
    bias < 0.2 * cov_se.min().item(),
    bias=bias,
    smallest_standard_error=cov_se.min(),
)

# %% tags=["prose"]
display.prose(f"""
The predicted bias of a covariance entry is at most {bias:.4f}, about
{cov_se.min().item() / bias:.0f} times smaller than the smallest standard error of the
sample covariance: with a step this small, the bias is far below what 4000 chains can
resolve.
""")

# %% [markdown]
# The package's `sampling.langevin` does the same thing, adds input checks, catches
# diverging chains, and can record trajectories. Given the same random numbers, drawn in
# the same order, it returns *exactly* the samples of the solution:

# %%
package = sampling.langevin(
    target.score, x0, eps, n_steps, generator=seeds.generator(3)
)
print(
    "identical to the package's samples:",
    torch.equal(ours, package.samples),
)
claims.claim(
    "the package's sampler returns exactly the same samples",
    torch.equal(ours, package.samples),
)
print(
    inspect.getsource(sampling.langevin).split('"""')[-1]
)  # the body, without the docstring

# %% [markdown]
# The same few lines sample any distribution whose score we can compute. Two more: the
# banana and the double well. For the banana, exact samples are available, and we measure
# how close the chains get to them with the **sliced Wasserstein distance**
# (`metrics.sliced_wasserstein`): project both sample sets on random directions, and
# average over the directions how far the projected points must move to match (the root
# mean square; the distance is in units of $x$). We use the same 128 directions for
# every comparison, so that differences between distances come from the samples alone.
# Two finite samples of the *same* distribution are never at distance zero: comparing two
# independent sets of exact samples gives the **floor** that sampling noise alone
# produces.

# %% alt="2000 Langevin samples each over the density of the banana and of the double well: the points follow the curved banana and fill both wells of the double well."
banana = landscapes["banana"]
double_well = landscapes["double well"]
generator = seeds.generator(4)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.9))
scratch_samples = {}
for ax, (name, energy) in zip(
    axes, [("banana", banana), ("double well", double_well)]
):
    samples = langevin_sampler_solution(
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


def distance(samples, reference):
    """Sliced Wasserstein distance along the same 128 random directions."""
    return metrics.sliced_wasserstein(
        samples, reference, n_projections=128, generator=seeds.generator(40)
    )


exact_banana = banana.sample(2000, generator=generator)
floors = torch.tensor(
    [
        distance(banana.sample(2000, generator=generator), exact_banana)
        for _ in range(5)
    ]
)
from_start = distance(torch.zeros(2000, 2), exact_banana)
after_1000 = distance(scratch_samples["banana"], exact_banana)
right_well = (scratch_samples["double well"][:, 0] > 0).double().mean().item()
print(f"banana: distance to exact samples {after_1000:.3f}")
print(f"        floor {floors.mean():.3f} ± {floors.std():.3f} (five pairs)")
print(f"double well: fraction of chains in the right well {right_well:.3f}")
claims.claim(
    "the chains have closed most of the distance to the banana",
    after_1000 < 0.25 * from_start,
    start=from_start,
    after_1000_steps=after_1000,
)
# The wells are mirror images and the chains start on the barrier between
# them: the split is 1/2 up to a binomial standard error sqrt(1/4 / 2000).
claims.claim(
    "the double well's chains fill both wells equally",
    abs(right_well - 0.5) < 4 * math.sqrt(0.25 / 2000),
    fraction_right=right_well,
)

# %% tags=["prose"]
display.prose(f"""
The chains follow both densities. The double well's chains split
{right_well:.2f} / {1 - right_well:.2f} between its two mirror-image wells. On the
banana, the chains started at one point, {from_start:.2f} from the exact samples in the
sliced Wasserstein distance; after 1000 steps they have closed most of that distance,
and are {after_1000:.3f} from them. Two
independent sets of 2000 exact samples are {floors.mean():.3f} ± {floors.std():.3f}
apart (mean and standard deviation over five pairs): that is the floor, below which no
sampler can be expected to go. How many steps it takes to get there, and what the step
size has to do with it, Section 2.5 measures.
""")

# %% [markdown]
# ## 2.5 The price of a finite step: bias
#
# The Fokker–Planck argument holds for infinitesimal steps. With a finite $\epsilon$ the
# chain converges to a slightly different distribution. For the one-dimensional Gaussian
# $\mathcal{N}(0, \sigma^2)$ we can compute it exactly. The score is $-x/\sigma^2$, so the
# update is linear,
#
# $$
# x_{t+1} = \Big(1 - \frac{\epsilon}{2\sigma^2}\Big) x_t + \sqrt{\epsilon}\, z_t .
# $$
#
# Since $z_t$ is independent of $x_t$, the variances add:
# $\operatorname{Var}[x_{t+1}] = \big(1 - \frac{\epsilon}{2\sigma^2}\big)^2 \operatorname{Var}[x_t] + \epsilon$.
# The stationary variance is the fixed point of this map:
#
# $$
# \operatorname{Var}[x_\infty] = \frac{\epsilon}{1 - \big(1 - \frac{\epsilon}{2\sigma^2}\big)^2}
# = \frac{\epsilon}{\frac{\epsilon}{\sigma^2} - \frac{\epsilon^2}{4\sigma^4}}
# = \frac{\sigma^2}{1 - \epsilon / (4\sigma^2)} .
# $$
#
# The chain's variance is too large by a factor $1/(1 - \epsilon/4\sigma^2)$: about
# $\epsilon/(4\sigma^2)$ in relative terms for small steps, and without bound as
# $\epsilon \to 4\sigma^2$, where the factor $1 - \epsilon/(2\sigma^2)$ reaches $-1$.
# Beyond $\epsilon = 4\sigma^2$ the chain diverges. We check the formula on
# $\mathcal{N}(0, 1)$ with 20 000 chains, started in equilibrium so that only the bias
# remains. The final states are independent draws, so the standard error of their sample
# variance is $\sqrt{2/n}$ times the variance, with $n$ = 20 000 (for Gaussian data); the
# error bars are $\pm 2$ standard errors.

# %% alt="Stationary variance of Langevin chains on a standard Gaussian against the step size. Unadjusted Langevin (ULA) follows the predicted curve 1/(1 - step/4), growing from 1 to 5.7 at step size 3.3. MALA stays at the correct variance 1 at every step size."
step_sizes = [0.05, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.3]
n_chains = 20_000
generator = seeds.generator(5)


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
        yerr=[2 * var * math.sqrt(2 / n_chains) for var in variances],
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

# %%
# Standard error of a sample variance: sqrt(2 / n) times the variance. ULA's
# chains forget their start within 200 steps (the factor (1 - eps/2)^400 is
# below 1e-4 at eps = 0.05); MALA's start in its stationary law. Four
# standard errors: 18 comparisons, each failing by chance about once in 16000.
relative_se = math.sqrt(2 / n_chains)
predicted = [1 / (1 - eps / 4) for eps in step_sizes]
ula_z = max(
    abs(var - v_pred) / (relative_se * v_pred)
    for var, v_pred in zip(ula_var, predicted)
)
mala_z = max(abs(var - 1) / relative_se for var in mala_var)
claims.claim(
    "ULA's variance follows 1/(1 - eps/4) within 4 standard errors at every step",
    ula_z < 4,
    largest_z=ula_z,
)
claims.claim(
    "MALA's variance is 1 within 4 standard errors at every step size",
    mala_z < 4,
    largest_z=mala_z,
)

# %% [markdown]
# (The green squares are the Metropolis-adjusted version of Section 2.6: it has no bias at
# any step size.)
#
# ### Exercise 2.3: how fast the chains spread (derive it, about 10 minutes)
#
# The experiment above started the chains in equilibrium. Start them instead all at one
# point, so that $\operatorname{Var}[x_0] = 0$. Unroll the variance recursion of this
# section to find $\operatorname{Var}[x_t]$ after $t$ steps on $\mathcal{N}(0, \sigma^2)$,
# as a function of $\sigma$, $\epsilon$ and $t$, and write it as a Python function. The
# grader compares it with the right formula at random values of the three.


# %%
def variance_after(sigma: float, step_size: float, t: int) -> float:
    """Var[x_t] of Langevin chains on N(0, sigma^2), all started at one point."""
    # TODO: your code here
    raise NotImplementedError


check_variance_after(variance_after)

# %% tags=["solution"]
from ebm_book.exercises.ch02_langevin import check_variance_after


def variance_after_solution(sigma, step_size, t):
    factor = 1 - step_size / (2 * sigma**2)  # what one step multiplies x_t by
    stationary = sigma**2 / (1 - step_size / (4 * sigma**2))
    # Unrolled, Var[x_t] = eps (1 + factor^2 + ... + factor^(2 (t - 1))): a
    # geometric sum, and eps / (1 - factor^2) is the stationary variance.
    return stationary * (1 - factor ** (2 * t))


check_variance_after(variance_after_solution)

# %% [markdown]
# Why not always take a tiny step? Because the chains then move slowly: as Exercise 2.3
# shows, the number of steps needed to forget the starting point grows like $1/\epsilon$.
# The step size trades **bias** against **mixing time**. We see the trade-off on the
# banana: 10 000 chains, all started at the point $(2.5, -2.5)$, run with three step
# sizes, and every 200 steps we measure their sliced Wasserstein distance to 10 000 exact
# samples. The dashed line is the floor, averaged over five independent sets of exact
# samples; the spread of those five is the yardstick for every comparison below.

# %% alt="Sliced Wasserstein distance to exact banana samples against the number of Langevin steps, for step sizes 0.002, 0.02 and 0.2. The smallest step comes down slowly and is still far above the floor after 2000 steps; the largest comes down fastest but levels off above the floor; the middle one ends closest to the floor set by comparing two exact samples."
generator = seeds.generator(6)
n_banana = 10_000
exact = banana.sample(n_banana, generator=generator)
floors = torch.tensor(
    [
        distance(banana.sample(n_banana, generator=generator), exact)
        for _ in range(5)
    ]
)
floor, floor_spread = floors.mean().item(), floors.std().item()
start = torch.zeros(n_banana, 2) + torch.tensor(
    [2.5, -2.5]
)  # all chains start at one point
record_every = 200
fig, ax = plt.subplots(figsize=(6.5, 4))
curves = {}
for eps in (0.002, 0.02, 0.2):
    run = sampling.langevin(
        banana.score,
        start,
        eps,
        2000,
        generator=generator,
        record_every=record_every,
    )
    curves[eps] = torch.tensor(
        [distance(states, exact) for states in run.trajectory[1:]]
    )
    ax.plot(
        record_every * torch.arange(1, len(curves[eps]) + 1),
        curves[eps],
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
from_start = distance(start, exact)
print(
    f"at the start: {from_start:.3f};  floor: {floor:.3f} ± {floor_spread:.3f}"
)
for eps, curve in curves.items():
    print(
        f"eps = {eps:<6}: after 2000 steps {curve[-1]:.3f} "
        f"({curve[-1] / floor:.1f} x the floor)"
    )

# %%
# Each distance is as noisy as one draw of the floor: one distance differs
# from the average floor by noise of sd floor_spread * sqrt(1 + 1/5), two
# distances from each other by floor_spread * sqrt(2). Claims use 4 of those.
above_floor = floor + 4 * floor_spread * math.sqrt(1 + 1 / 5)
apart = 4 * floor_spread * math.sqrt(2)
small, middle, large = curves[0.002], curves[0.02], curves[0.2]
late = slice(-3, None)  # the last three records: steps 1600 to 2000
claims.claim(
    "the smallest step is still far above the floor after 2000 steps",
    small[-1] > above_floor,
    distance=small[-1],
    floor=floor,
)
claims.claim(
    "the smallest step has come most of the way from its starting point",
    small[-1] < 0.5 * from_start,
    distance=small[-1],
    at_the_start=from_start,
)
claims.claim(
    "the largest step comes down fastest",
    large[0] < min(small[0], middle[0]) - apart,
    after_200_steps=[small[0].item(), middle[0].item(), large[0].item()],
)
claims.claim(
    "the largest step levels off above the floor",
    large[late].mean() > above_floor,
    late_distance=large[late].mean(),
    floor=floor,
)
claims.claim(
    "the middle step ends closest to the floor",
    middle[late].mean() < min(large[late].mean(), small[-1]) - apart,
    late_distances=[
        small[-1].item(),
        middle[late].mean().item(),
        large[late].mean().item(),
    ],
)

# %% tags=["prose"]
display.prose(f"""
All chains start {from_start:.2f} from the exact samples. The smallest step comes down
slowly: after 2000 steps, a time $\\tau$ of only 2, it has come most of the way but is
still {small[-1] / floor:.0f} times the floor. The largest comes down fastest, then
levels off at {large[late].mean() / floor:.1f} times the floor (averaging steps 1600 to
2000), far outside the floor's spread of ± {floor_spread:.3f}: its stationary
distribution is visibly wrong. The middle one ends closest to the floor, at
{middle[late].mean() / floor:.1f} times it. In practice one picks the largest step whose
bias is acceptable, or removes the bias altogether.
""")

# %% [markdown]
# ### Exercise 2.4: a run that went wrong (diagnose it, about 5 minutes)
#
# Someone samples the tilted Gaussian of Section 2.4, with mean $\mu = (1, -1)$, a
# variance of 1 in each coordinate and a correlation of 0.8. Since this section allows
# steps up to $4\sigma^2 = 4$ for a variance of 1, they take $\epsilon = 1$, and run 1000
# chains from the origin. Here are the first 20 steps: the mean offset of the chains from
# $\mu$, and the chains themselves.

# %% alt="Left: 1000 Langevin chains with step size 1 on the tilted Gaussian, at steps 4, 6 and 8: each cloud lies along a line through the target's mean (a cross), across the long axis of the Gaussian, and each is wider than the one before. Right: the mean offset of the chains' first coordinate from its target value against the step, on a symmetric logarithmic scale: it changes sign at every step and grows by the same factor each time."
runaway = sampling.langevin(
    target.score,
    torch.zeros(1000, 2),
    1.0,
    20,
    generator=seeds.generator(8),
    record_every=1,
).trajectory  # shape (21, 1000, 2): the start, then every step
mean_offset = (runaway - target.mean).mean(dim=1)  # shape (21, 2)
for t in range(0, 21, 4):
    print(
        f"step {t:2d}: mean offset from mu {mean_offset[t].numpy().round(2)}"
    )
ratio = (mean_offset[-1, 0] / mean_offset[-2, 0]).item()
print(f"ratio of the last two mean offsets: {ratio:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
for t in (8, 6, 4):  # the widest first, so that it hides none of the others
    axes[0].scatter(*runaway[t].T, s=3, alpha=0.5, label=f"step {t}")
axes[0].plot(*target.mean, "k+", ms=12, mew=2, label="$\\mu$")
axes[0].set(xlabel="$x_1$", ylabel="$x_2$", title="the chains")
axes[0].set_aspect("equal")
axes[0].legend()
axes[1].plot(mean_offset[:, 0], "o-", ms=3)
axes[1].set(
    yscale="symlog",
    xticks=range(0, 21, 4),
    xlabel="Langevin step",
    ylabel="mean of $x_1$, minus 1",
    title="the chains' mean offset",
)
plt.tight_layout()
plt.show()

# %%
# The mean offset follows (I - Lambda/2)^t (0 - mu) in expectation. The noise of
# one step moves the mean of 1000 chains by about sqrt(eps / 1000) = 0.03, while
# the offset has grown past 1000 by step 18: the last ratio is -1.5 to 1e-4.
signs = torch.sign(mean_offset[1:, 0])
claims.claim(
    "the mean offset changes sign at every step",
    bool((signs[1:] == -signs[:-1]).all()),
    offsets=mean_offset[:, 0].tolist(),
)
claims.claim(
    "the mean offset grows by the same factor, about -1.5, every step",
    abs(ratio + 1.5) < 0.01,
    ratio=ratio,
)
# Along the narrow axis (1, -1) the variance after t steps is
# (2.25^t - 1) / 1.25, along the long one below 2.1: from step 4 on, over 90% of
# the variance lies across the long axis (the sampling error is about 1%).
axis = torch.tensor([1.0, -1.0]) / math.sqrt(2)
across, widths = [], []
for t in (4, 6, 8):
    spread = runaway[t] - runaway[t].mean(dim=0)
    across.append((((spread @ axis) ** 2).sum() / (spread**2).sum()).item())
    widths.append(spread.norm(dim=1).mean().item())
claims.claim(
    "each cloud lies along a line across the long axis, wider than the last",
    min(across) > 0.85 and widths[0] < widths[1] < widths[2],
    fraction_across=across,
    widths=widths,
)

# %% [markdown]
# What went wrong?
#
# - **a.** The noise is too strong: $\sqrt{\epsilon} = 1$ kicks the chains out faster
#   than the drift can pull them back.
# - **b.** The score has the wrong sign: it pushes the chains away from $\mu$.
# - **c.** The chains started too far from $\mu$; started near it, they would stay.
# - **d.** The step is too large for the narrowest direction of the target: along it,
#   each step multiplies the offset from $\mu$ by a number below $-1$.
# - **e.** $\epsilon = 1$ is too close to the limit $4\sigma^2 = 4$ for a variance of 1:
#   the bias of this section has blown up.

# %%
answer = None  # "a", "b", "c", "d" or "e"
check_runaway_chain(answer)

# %% tags=["solution"]
from ebm_book.exercises.ch02_langevin import check_runaway_chain

check_runaway_chain("d")

# %% [markdown]
# Run long enough, such chains overflow, and the package's samplers stop with an error
# that says which step it was and what to change:

# %%
stopped = False
try:
    sampling.langevin(
        target.score,
        torch.zeros(1000, 2),
        1.0,
        400,
        generator=seeds.generator(8),
    )
except sampling.DivergenceError as error:
    stopped = True
    print(error)
claims.claim("the package stops the diverging run with an error", stopped)

# %% [markdown]
# ## 2.6 Removing the bias: Metropolis-adjusted Langevin (MALA)
#
# The Metropolis–Hastings recipe turns any proposal into an exact sampler. Treat the
# Langevin update as a *proposal* $y = x + \tfrac{\epsilon}{2}s(x) + \sqrt{\epsilon}\,z$,
# whose density is $q(y \mid x) = \mathcal{N}\big(y;\, x + \tfrac{\epsilon}{2}s(x),\, \epsilon I\big)$,
# and accept it with probability
#
# $$
# a(x, y) = \min\left(1,\; \frac{p(y)\, q(x \mid y)}{p(x)\, q(y \mid x)}\right)
# = \min\Big(1,\; e^{E(x) - E(y)}\, \frac{q(x \mid y)}{q(y \mid x)}\Big);
# $$
#
# otherwise the chain stays where it is. The acceptance rule makes $p$ *exactly*
# stationary for any step size
# [(Roberts & Tweedie, 1996)](../references.md#roberts1996): a step that is too large now
# shows up as many rejections instead of a wrong answer. The ratio $p(y)/p(x)$ needs
# energy differences, but still not $Z$. Variances and acceptance rates on
# $\mathcal{N}(0, 1)$, from the experiment above:

# %%
# An acceptance rate averages 200 correlated steps of each chain; counting
# each chain as one draw bounds its standard error by sqrt(r (1 - r) / n).
rate_se = [math.sqrt(r * (1 - r) / n_chains) for r in acceptance]
claims.claim(
    "MALA's acceptance rate falls as the step grows",
    all(
        later < earlier - 4 * math.hypot(se_earlier, se_later)
        for earlier, later, se_earlier, se_later in zip(
            acceptance, acceptance[1:], rate_se, rate_se[1:]
        )
    ),
    acceptance=[round(r, 4) for r in acceptance],
)
display.show_table(
    ["$\\epsilon$", "ULA variance", "MALA variance", "MALA acceptance"],
    [
        [eps, u, m, r]
        for eps, u, m, r in zip(step_sizes, ula_var, mala_var, acceptance)
    ],
)

# %% tags=["prose"]
display.prose(f"""
MALA's variance stays at 1 at every step size, within four standard errors
({relative_se:.2f} each), while ULA's grows to {ula_var[-1]:.1f} at the largest step.
The price is the acceptance rate, which falls as the step grows, from
{acceptance[0]:.3f} to {acceptance[-1]:.2f}.
""")

# %% [markdown]
# How low may it go? For MALA in high dimension, the most efficient step accepts about
# 57% of the proposals [(Roberts & Rosenthal, 1998)](../references.md#roberts1998): a rate
# around 0.5–0.6 is the classic target for tuning.
#
# **When to use which?** MALA needs the energy $E$ (up to a constant) for the acceptance
# test. When you have it, as in Bayesian inference with an unnormalized posterior, MALA is
# the safer choice. The score-based generative models of Chapters 3 and 4 learn *only the
# score*, as a network $s_\theta(x)$ that approximates $s(x)$, with no energy to compare,
# so they use plain Langevin dynamics with small steps, and accept a small bias.
#
# ### Exercise 2.5: MALA's acceptance ratio (about 10 minutes)
#
# Implement the logarithm of MALA's ratio $\frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}$ for a
# batch of current points `x` and proposals `y`, given the `energy`, the `score` and the
# step size. Return one value per chain. Constants common to both $q$'s cancel: drop them.


# %%
def mala_log_acceptance(x, y, energy, score, step_size):
    """The log of MALA's ratio for each chain (Section 2.6); shape (N,)."""
    # TODO: your code here
    raise NotImplementedError


check_mala_log_acceptance(mala_log_acceptance)

# %% tags=["solution"]
from ebm_book.exercises.ch02_langevin import check_mala_log_acceptance


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
# The score of a mixture $p(x) = \sum_k \pi_k\, \mathcal{N}(x; \mu_k, \Sigma_k)$ is an
# average of the scores of its components,
#
# $$
# s(x) = \sum_k r_k(x)\, \nabla_x \log \mathcal{N}(x; \mu_k, \Sigma_k),
# \qquad
# r_k(x) = \frac{\pi_k\, \mathcal{N}(x; \mu_k, \Sigma_k)}{p(x)},
# $$
#
# as differentiating $\log p = \log \sum_k \pi_k \mathcal{N}(x; \mu_k, \Sigma_k)$ shows.
# The weights $r_k(x)$ are the **responsibilities**: the probability that the point $x$
# came from component $k$. Here the components are $\mathcal{N}(\mu_k, I)$, with score
# $\mu_k - x$. Near a mode its own responsibility is essentially 1, so one Langevin step is
#
# $$
# x_{t+1} - \mu_k = \Big(1 - \frac{\epsilon}{2}\Big)(x_t - \mu_k) + \sqrt{\epsilon}\, z_t .
# $$
#
# With $\epsilon = 0.1$, each step shrinks the mean offset from the mode's centre by the
# factor $1 - \epsilon/2 = 0.95$, that is by 5%, and 600 steps by
# $0.95^{600} \approx 4 \times 10^{-14}$: plenty to reach equilibrium within a mode. We run
# Langevin dynamics with the *exact* score, from 3000 points spread uniformly over
# $[-8, 8]^2$, for 600 steps of size $\epsilon = 0.1$, and count the fraction of chains in
# each mode.

# %%
two_modes = mixtures.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8]
)
eps = 0.1
generator = seeds.generator(7)
uniform_start = torch.empty(3000, 2).uniform_(-8, 8, generator=generator)
chains = sampling.langevin(
    two_modes.score, uniform_start, eps, 600, generator=generator
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

# %%
# The chains' weights against the truth, in binomial standard errors.
z_light = (abs(weights[0] - 0.2) / errors[0]).item()
claims.claim(
    "Langevin's mode weights are many standard errors from the truth",
    z_light > 10,
    weight=weights[0],
    standard_error=errors[0],
)
# Only chains that start within a few noise steps (sqrt(eps) = 0.3) of the
# boundary between the basins can end on the other side: a few percent.
labels = two_modes.assign(chains)
same_side = (labels == two_modes.assign(uniform_start)).double().mean().item()
# The starting split is near 0.48 (the boundary between the basins sits 0.1
# closer to the light mode); 0.4 and 0.6 are eight binomial SEs (0.009) off.
claims.claim(
    "the chains fill both modes about equally",
    bool(((weights > 0.4) & (weights < 0.6)).all()),
    weights=weights.tolist(),
)
claims.claim(
    "a chain ends in the mode on whose side it started",
    same_side > 0.95,
    fraction=same_side,
)
# Inside mode k, the chains should be Gaussian around mu_k with ULA's
# variance 1 / (1 - eps/4) per coordinate (Section 2.5); standard errors
# sqrt(var / n) for a mean, sqrt(2 / n) var for a variance; four of them.
ula_variance = 1 / (1 - eps / 4)
within_mode_z = 0.0
for k in range(2):
    inside = chains[labels == k]
    n_k = len(inside)
    mean_z = (inside.mean(dim=0) - two_modes.means[k]).abs().max()
    var_z = (inside.var(dim=0) - ula_variance).abs().max()
    within_mode_z = max(
        within_mode_z,
        mean_z.item() / math.sqrt(ula_variance / n_k),
        var_z.item() / (math.sqrt(2 / n_k) * ula_variance),
    )
claims.claim(
    "each mode on its own is sampled well",
    within_mode_z < 4,
    largest_z=within_mode_z,
)

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

# %% tags=["prose"]
display.prose(f"""
Langevin dynamics puts {weights[0]:.3f} of the chains in the light mode and
{weights[1]:.3f} in the heavy one, instead of 0.2 and 0.8: {z_light:.0f} standard
errors from the truth. That is the split of the starting points between the two basins
of attraction: {same_side:.1%} of the chains end in the mode on whose side they
started. Each mode on its own is sampled well (within each, the chains' mean and
variance agree with those of its Gaussian, up to the step-size bias of Section 2.5,
within four standard errors); their *relative weights* are wrong.
""")

# %% [markdown]
# Why? Look at the score again. Near mode $k$ the responsibility $r_k(x)$ is essentially
# 1, so the score of the mixture is the score of that component alone, $\mu_k - x$,
# whatever the weights. The weights enter only through the responsibilities, and those
# change only in the empty region between the modes. We can measure it: compare the score
# of our mixture with the score of a mixture with the same components and *equal*
# weights, on samples from $p$. And we measure the barrier that a chain would have to
# climb to move between the modes: by symmetry, the saddle of $p$ lies on the segment
# joining the two means.

# %%
equal_weights = mixtures.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.5, 0.5]
)
on_the_data = two_modes.sample(3000, generator=generator).double()
score_p = two_modes.score(on_the_data)
score_equal = equal_weights.score(on_the_data)
gap = (score_p - score_equal).norm(dim=1)
print(f"score difference on 3000 samples of p: largest {gap.max().item():.1e}")
claims.claim(
    "where the data lives, the two scores agree to the last bit",
    torch.equal(score_p, score_equal),
    largest_difference=gap.max(),
)

means = two_modes.means.double()
segment = torch.linspace(0, 1, 2001, dtype=torch.float64)[:, None]
top = two_modes.energy(means[0] + segment * (means[1] - means[0])).max()
barrier_light, barrier_heavy = (top - two_modes.energy(means)).tolist()
print(
    f"energy barrier: {barrier_heavy:.1f} above the heavy mode, "
    f"{barrier_light:.1f} above the light one"
)


def power_of_ten(value):
    """A large number as 'm × 10^k' for the text."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa} × 10<sup>{int(exponent)}</sup>"


# %% tags=["prose"]
display.prose(f"""
Where the data lives, the two scores agree to the last bit of double precision: the
score simply does not contain the information about the weights there. To move mass
between the modes a chain would have to cross the barrier between them, an event whose
waiting time grows like $e^{{\\Delta E}}$. The energy on the segment between the means
rises to $\\Delta E$ = {barrier_heavy:.1f} above the heavy mode and
{barrier_light:.1f} above the light one: $e^{{\\Delta E}}$ is about
{power_of_ten(math.exp(barrier_light))} even from the light side. That will not happen
in any realistic run.
""")

# %% [markdown]
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
#     Over $t$ steps the drift contributes about $t\epsilon/2$ times the score, while
#     independent noise terms add in variance, so their sum has standard deviation
#     $\sqrt{t}\cdot(\text{noise per step})$. For the two to balance over a fixed time
#     $t\epsilon$ as $\epsilon \to 0$, the noise per step must be of order $\sqrt{\epsilon}$.
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
#   modes. The Fokker–Planck equation shows $p$ is stationary and attracting: the
#   Kullback–Leibler divergence to $p$ falls at the rate of the Fisher divergence.
# - A finite step biases the result: for $\mathcal{N}(0,\sigma^2)$ the variance becomes
#   $\sigma^2/(1-\epsilon/4\sigma^2)$. Small steps mix slowly; large steps are biased,
#   and beyond $4\sigma^2$, with $\sigma^2$ the variance of the narrowest direction, the
#   chains diverge.
#   MALA removes the bias with an accept/reject test, at the cost of needing the energy.
# - Langevin dynamics cannot recover the relative weights of separated modes: the score
#   near each mode does not depend on the weights, and crossings between modes are
#   exponentially rare.
#
# ## References
#
# - Y. Song, S. Ermon (2019). *Generative modeling by estimating gradients of the data
#   distribution.* NeurIPS. (The Langevin convention used here, and Section 2.7's
#   experiment.) [↗](../references.md#song2019)
# - G. O. Roberts, R. L. Tweedie (1996). *Exponential convergence of Langevin distributions
#   and their discrete approximations.* Bernoulli 2(4). (ULA's pitfalls and MALA.)
#   [↗](../references.md#roberts1996)
# - G. O. Roberts, J. S. Rosenthal (1998). *Optimal scaling of discrete approximations to
#   Langevin diffusions.* Journal of the Royal Statistical Society B 60(1). (The target
#   acceptance rate.) [↗](../references.md#roberts1998)
# - M. Welling, Y. W. Teh (2011). *Bayesian learning via stochastic gradient Langevin
#   dynamics.* ICML. (Langevin dynamics with minibatch gradients.)
#   [↗](../references.md#welling2011)
#
# The full bibliography is on the [references page](../references.md).
