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
# # 4. Noise-conditional score networks and annealed Langevin dynamics
#
# !!! abstract "In this chapter"
#     **Time:** about 90 minutes of study, plus the exercises.
#
#     **You will learn to**
#
#     - explain, with measurements, three ways in which a score model at a single noise level fails;
#     - build a noise-conditional score network $s_\theta(x, \sigma)$ and train it with the multi-noise denoising loss;
#     - implement annealed Langevin dynamics (Song & Ermon, 2019) and use it to recover the weights of separated modes;
#     - generate samples of complex two-dimensional distributions on a CPU in seconds;
#     - connect all of this to DDPM and score SDEs, and sample with a reverse SDE and a probability-flow ODE.
#
#     **You need** [Chapter 2](02_score_and_langevin.py) (Langevin dynamics and its failure on separated modes) and [Chapter 3](03_score_matching.py) (denoising score matching).
#
# Chapter 3 ended with a score network that is accurate where the data is and poor
# everywhere else, and Chapter 2 with a sampler that cannot move mass between separated
# modes. One idea fixes both: **add noise to the data, at many scales**.

# %%
import math

import matplotlib.pyplot as plt
import torch

from ebm_book import (
    datasets,
    display,
    energies,
    losses,
    metrics,
    nets,
    noise,
    plotting,
    sampling,
    training,
)
from ebm_book.exercises import (
    check_annealed_step_sizes,
    check_geometric_sigmas,
    check_reverse_diffusion_step,
)

plotting.use_book_style()
_ = torch.manual_seed(0)  # the random initial weights of the networks


def exact_noisy_score(mixture):
    """s(x, sigma) for a Gaussian mixture: the score of its exact noisy version."""
    noisy = {}

    def score(x, sigma):
        level = round(
            float(sigma[0]), 10
        )  # the samplers use one level per batch
        if level not in noisy:
            noisy[level] = mixture.perturbed(level)
        return noisy[level].score(x)

    return score


# %% [markdown]
# ## 4.1 Why one noise level is not enough
#
# Write $p_\sigma = p * \mathcal{N}(0, \sigma^2 I)$ for the data distribution blurred by
# Gaussian noise of standard deviation $\sigma$: the distribution of $x + \sigma z$ with
# $x \sim p$ and $z \sim \mathcal{N}(0, I)$. Denoising score matching (Chapter 3) learns
# $\nabla \log p_\sigma$. Three problems appear when we fix one $\sigma$.
#
# ### Failure 1: off the data manifold, the score is not defined
#
# Real data often lies on or near a low-dimensional set. Take points on the unit circle
# in the plane. Their density is zero off the circle and infinite on it (as a density in
# $\mathbb{R}^2$): $\log p$ and its gradient do not exist. The noisy distribution $p_\sigma$
# is a smooth density everywhere, so its score exists, but for small $\sigma$ it is huge:
# near the circle it pulls with strength about $\text{distance}/\sigma^2$. Blurring the
# circle with many small Gaussians gives the exact $p_\sigma$:


# %% alt="Score fields of a circle blurred with Gaussian noise at sigma = 0.05, 0.3 and 1, over the blurred density. At sigma = 0.05 the density is a thin ring and the arrows near it are huge; at sigma = 1 it is a fuzzy disc and the arrows are gentle everywhere."
def blurred_circle(sigma, n_points=360):
    angles = 2 * math.pi * torch.arange(n_points) / n_points
    on_circle = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return energies.GaussianMixture(on_circle, sigma**2)


window = (-2.0, 2.0)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, sigma in zip(axes, (0.05, 0.3, 1.0)):
    circle = blurred_circle(sigma)
    plotting.plot_density_2d(circle, window, window, ax=ax)
    plotting.plot_score_field(circle.score, window, window, ax=ax, n=13)
    point = torch.tensor([[1.5, 0.0]])  # half a unit outside the circle
    strength = circle.score(point).norm().item()
    ax.set(title=f"$\\sigma = {sigma}$: $|s(1.5, 0)| = {strength:.1f}$")
plt.tight_layout()
plt.show()

# %% [markdown]
# At $\sigma = 0.05$ the score half a unit from the circle is about $0.5/0.05^2 = 200$: a
# Langevin step would fling a chain across the picture. At $\sigma = 1$ it is gentle, but
# the density is a fuzzy disc that has forgotten it was a circle.
#
# ### Failure 2: where data is rare, the learned score is wrong
#
# A score model is trained only where training points land. We train a score network by
# denoising score matching at a small noise level on two separated modes and measure its
# error, the Fisher divergence $\mathbb{E}\lVert s_\theta - \nabla \log p_\sigma\rVert^2$,
# on points near the modes and on points in the empty region between them.

# %%
two_modes = energies.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8]
)
data = two_modes.sample(5000, generator=torch.Generator().manual_seed(1))


def train_single_scale(sigma, seed=0):
    torch.manual_seed(seed)
    model = nets.ScoreMLP(dim=2, hidden=64, depth=3)

    def loss(model, batch, generator):
        return losses.denoising_score_matching(model, batch, sigma, generator)

    training.train(
        model,
        loss,
        data,
        n_steps=1500,
        batch_size=256,
        lr=2e-3,
        progress=False,
    )
    return model


generator = torch.Generator().manual_seed(2)
near_modes = two_modes.sample(2000, generator=generator)
between = (
    torch.rand(2000, 1, generator=generator) * 6 - 3
)  # along the diagonal
between = torch.cat([between, between], dim=1) + 0.5 * torch.randn(
    2000, 2, generator=generator
)
rows = []
for sigma in (0.5, 5.0):
    model = train_single_scale(sigma)
    true_score = two_modes.perturbed(sigma).score
    rows.append([
        sigma,
        metrics.fisher_divergence(model, true_score, near_modes),
        metrics.fisher_divergence(model, true_score, between),
        (true_score(between) ** 2).sum(1).mean().item(),
    ])  # fmt: skip
display.show_table(
    [
        "$\\sigma$",
        "error near modes",
        "error between modes",
        "size of true score there",
    ],
    rows,
)

# %% [markdown]
# With $\sigma = 0.5$ the model is accurate near the modes and badly wrong between them,
# where it never saw a training point; the error there is comparable to the size of the
# score itself. With $\sigma = 5$ the noisy data fills the gap and the error between the
# modes falls, at the price of learning the score of a very blurred distribution.
#
# ### Failure 3: the weights of separated modes are invisible
#
# Chapter 2 showed that the score of $p$ near each mode does not depend on the mixture
# weights. The noisy distributions differ: at large $\sigma$ the modes overlap, and the
# score of $p_\sigma$ depends on the weights where the data is.

# %%
equal = energies.GaussianMixture(
    means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.5, 0.5]
)
for sigma in (0.01, 2.0, 8.0):
    noisy = two_modes.perturbed(sigma)
    x = noisy.sample(2000, generator=generator).double()
    score = noisy.score(x)
    gap = (score - equal.perturbed(sigma).score(x)).norm(dim=1).mean().item()
    size = score.norm(dim=1).mean().item()
    print(
        f"sigma = {sigma:>4}: scores of the 0.2/0.8 and 0.5/0.5 mixtures differ"
        f" by {gap:.1e}, {gap / size:.1%} of the score's size"
    )

# %% [markdown]
# At $\sigma = 0.01$ the two scores agree to the last digit; at $\sigma = 8$ they differ by
# a sizeable fraction of the score itself. A sampler that starts at large noise can
# therefore see the weights, and keep them as the noise shrinks.
#
# **What one large noise level costs.** Why not simply learn $\nabla \log p_\sigma$ at a
# large $\sigma$? Because its samples are samples of $p_\sigma$, not of $p$. The sliced
# Wasserstein distance between exact samples of $p_\sigma$ and of $p$, for the ring of eight
# Gaussians used below, grows with $\sigma$:

# %%
ring = datasets.DATASETS["gaussian_ring"]  # 8 modes on a circle of radius 2
ring_mixture = energies.GaussianMixture.ring(8, radius=2.0, std=0.15)
clean = ring_mixture.sample(2000, generator=generator)
for sigma in (0.05, 0.3, 1.0, 3.0):
    blurred = ring_mixture.perturbed(sigma).sample(2000, generator=generator)
    distance = metrics.sliced_wasserstein(blurred, clean, generator=generator)
    print(
        f"sigma = {sigma:>4}: distance of p_sigma to the data = {distance:.3f}"
    )

# %% [markdown]
# The remedy uses all noise levels at once: large ones to find the modes and their
# weights, small ones to sharpen the samples.
#
# ## 4.2 Noise-conditional score networks
#
# Choose noise levels $\sigma_1 > \sigma_2 > \dots > \sigma_L$ and learn all the scores
# with **one** network that takes the noise level as an input,
#
# $$
# s_\theta(x, \sigma) \approx \nabla_x \log p_\sigma(x), \qquad \sigma \in \{\sigma_1, \dots, \sigma_L\}.
# $$
#
# Song & Ermon (2019) call it a **noise-conditional score network** (NCSN). It is trained
# with denoising score matching at every level, each weighted by $\lambda(\sigma)$:
#
# $$
# J(\theta) = \frac{1}{L}\sum_{i=1}^{L} \lambda(\sigma_i)\;
# \mathbb{E}_{x, z}\Big[\tfrac12 \big\lVert s_\theta(x + \sigma_i z, \sigma_i) + z/\sigma_i \big\rVert^2\Big],
# \qquad \lambda(\sigma) = \sigma^2 .
# $$
#
# **Why $\lambda(\sigma) = \sigma^2$?** The regression target $-z/\sigma$ has size
# $\propto 1/\sigma$, so the unweighted loss at level $\sigma$ is of order $1/\sigma^2$ and
# the smallest levels would dominate. With the weight, the term becomes
# $\tfrac12\lVert \sigma s_\theta + z \rVert^2$, of order one at every level: its minimum
# on standard Gaussian data is $\tfrac{d}{2}/(1+\sigma^2)$ (see `losses.multi_noise_denoising_score_matching`).
#
# **How to choose the levels.** Song & Ermon (2020), in "NCSNv2", give three heuristics, all
# implemented in `ebm_book.noise` and `ebm_book.nets`:
#
# 1. $\sigma_1$ about the largest distance between two data points, so that at the first
#    level every mode overlaps with every other (`noise.max_pairwise_distance`);
# 2. a geometric sequence, $\sigma_{i}/\sigma_{i+1} = \gamma$ constant, with $\gamma$ small enough
#    that consecutive noisy distributions overlap (`noise.ncsnv2_ratio`; in two dimensions
#    a ratio of about 2 is safe);
# 3. divide the network's output by $\sigma$: the true score of $p_\sigma$ has size
#    $\propto 1/\sigma$, so the network itself only needs outputs of order one
#    (`nets.NoiseConditionalScoreMLP`).
#
# For the ring of Gaussians:

# %%
ring_data = ring(5000, generator=torch.Generator().manual_seed(3))
print(
    f"largest pairwise distance: {noise.max_pairwise_distance(ring_data):.2f}"
)
print(
    "suggested levels:",
    noise.suggest_sigmas(ring_data, sigma_min=0.05).numpy().round(3),
)

# %% [markdown]
# ### Exercise 4.1: a geometric noise schedule
#
# Return `n_levels` noise levels from `sigma_max` down to `sigma_min` with a constant ratio
# between consecutive levels, as a 1-D tensor.


# %%
def geometric_sigmas(sigma_max: float, sigma_min: float, n_levels: int):
    """sigma_1 = sigma_max > ... > sigma_L = sigma_min, geometrically spaced."""
    # TODO: your code here
    raise NotImplementedError


check_geometric_sigmas(geometric_sigmas)

# %% tags=["solution"]
import torch

from ebm_book.exercises import check_geometric_sigmas


def geometric_sigmas_solution(sigma_max, sigma_min, n_levels):
    # sigma_i = sigma_max (sigma_min / sigma_max)^(t_i), t_i evenly spaced in [0, 1]
    exponents = torch.linspace(0, 1, n_levels)
    return sigma_max * (sigma_min / sigma_max) ** exponents


check_geometric_sigmas(geometric_sigmas_solution)

# %% [markdown]
# ## 4.3 Annealed Langevin dynamics
#
# Sampling follows the noise levels down (Song & Ermon, 2019, Algorithm 1). Start
# anywhere, for instance uniformly in a box. For $i = 1, \dots, L$, run $T$ Langevin steps on
# $p_{\sigma_i}$ with step size
#
# $$
# \alpha_i = \epsilon\, \frac{\sigma_i^2}{\sigma_L^2},
# \qquad
# x \leftarrow x + \frac{\alpha_i}{2}\, s_\theta(x, \sigma_i) + \sqrt{\alpha_i}\; z .
# $$
#
# The step shrinks with the noise level so that every level gets the same
# "signal-to-noise ratio": the drift $\frac{\alpha_i}{2}s$ and the noise $\sqrt{\alpha_i}z$
# keep the same relative size, since $\lVert s \rVert \propto 1/\sigma_i$. Each level's
# samples are a good start for the next, slightly sharper, level. Optionally, a last
# **denoising step** $x \leftarrow x + \sigma_L^2\, s_\theta(x, \sigma_L)$ removes the
# remaining noise (Tweedie's formula for $\mathbb{E}[x \mid x + \sigma_L z]$).
#
# ### Exercise 4.2: the annealed step sizes
#
# Given the levels `sigmas` (largest first) and `eps`, return the step sizes $\alpha_i$.


# %%
def annealed_step_sizes(sigmas: torch.Tensor, eps: float) -> torch.Tensor:
    """alpha_i = eps * sigma_i^2 / sigma_L^2 for every level."""
    # TODO: your code here
    raise NotImplementedError


check_annealed_step_sizes(annealed_step_sizes)

# %% tags=["solution"]
from ebm_book.exercises import check_annealed_step_sizes


def annealed_step_sizes_solution(sigmas, eps):
    return eps * sigmas**2 / sigmas[-1] ** 2  # sigmas[-1] is sigma_L


check_annealed_step_sizes(annealed_step_sizes_solution)

# %% [markdown]
# Here are chains flowing through ten noise levels onto the two-mode mixture, with the
# exact scores of its noisy versions. Watch the cloud split unevenly at the large
# levels, then sharpen.

# %% alt="Animation of annealed Langevin dynamics on the two-mode mixture with weights 0.2 and 0.8: starting from uniformly spread points, the noise level falls from sigma = 20 to 0.5 while the cloud splits between the two modes, ending with about four times as many points in the upper-right mode as in the lower-left one."
sigmas = noise.geometric_sigmas(20.0, 0.5, 10)
eps = (
    0.1 * sigmas[-1].item() ** 2
)  # the per-level relaxation is set by eps / sigma_L^2
generator = torch.Generator().manual_seed(4)
start = torch.rand(800, 2, generator=generator) * 16 - 8
flow = sampling.annealed_langevin(
    exact_noisy_score(two_modes),
    start,
    sigmas,
    eps,
    100,
    generator,
    record_every=25,
)
titles = ["start"] + [
    f"$\\sigma = {sigmas[(k * 25 - 1) // 100]:.2f}$"
    for k in range(1, flow.trajectory.shape[0])
]
display.animate_samples(
    flow.trajectory,
    background=two_modes,
    xlim=(-10, 10),
    ylim=(-10, 10),
    titles=titles,
)

# %% [markdown]
# ## 4.4 The mixture-weight experiment
#
# Now the experiment of Chapter 2 again, side by side: plain Langevin dynamics with the
# exact score of $p$, and annealed Langevin dynamics with the exact scores of the $p_{\sigma_i}$,
# from the same 3000 uniform starting points.

# %%
n = 3000
generator = torch.Generator().manual_seed(5)
start = torch.rand(n, 2, generator=generator) * 16 - 8
plain = sampling.langevin(
    two_modes.score, start, 0.1, 1000, generator=generator
).samples
annealed = sampling.annealed_langevin(
    exact_noisy_score(two_modes), start, sigmas, eps, 100, generator
).samples
rows = []
for name, samples in [
    ("plain Langevin", plain),
    ("annealed Langevin", annealed),
]:
    weights, errors = metrics.mode_weights(samples, two_modes)
    rows.append([
        name,
        f"{weights[0]:.3f} ± {errors[0]:.3f}",
        f"{weights[1]:.3f} ± {errors[1]:.3f}",
    ])  # fmt: skip
rows.append(["true weights", "0.2", "0.8"])
display.show_table(["sampler", "mode $(-5, -5)$", "mode $(5, 5)$"], rows)

# %%
for name, samples in [("plain", plain), ("annealed", annealed)]:
    weights, errors = metrics.mode_weights(samples, two_modes)
    z_score = (weights[1] - 0.8) / errors[1]
    print(
        f"{name:>8}: weight of the heavy mode {weights[1]:.3f}, {z_score:+.1f} SE from 0.8"
    )

# %% alt="Samples of the two-mode mixture from plain and from annealed Langevin dynamics. Plain Langevin fills both modes about equally; annealed Langevin puts most points in the heavier upper-right mode, as the weights 0.2 and 0.8 require."
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
for ax, samples, title in [
    (axes[0], plain, "plain Langevin"),
    (axes[1], annealed, "annealed Langevin"),
]:
    plotting.plot_samples(samples, ax=ax, xlim=(-9, 9), ylim=(-9, 9))
    ax.set(title=title)
plt.show()

# %% [markdown]
# Annealed Langevin dynamics recovers the weights to within about 0.02, a few standard
# errors (its remaining bias comes from the finite number of steps per level); plain
# Langevin dynamics is stuck near the split of the starting points, dozens of standard
# errors from the truth.
#
# ## 4.5 Hands-on: generating complex two-dimensional distributions
#
# Now everything together, with *learned* scores. For each of four data sets we train one
# noise-conditional network with the multi-noise loss, sample it with annealed Langevin
# dynamics, and compare with fresh data. The `train` function works on any data tensor of
# shape `(N, d)`; nothing below is specific to these data sets.


# %%
def fit_ncsn(data, sigmas, seed=0):
    torch.manual_seed(seed)
    model = nets.NoiseConditionalScoreMLP(
        dim=data.shape[1], hidden=128, depth=3
    )

    def loss(model, batch, generator):
        return losses.multi_noise_denoising_score_matching(
            model, batch, sigmas, generator
        )

    # Every batch draws fresh noise, so the loss is noisy: a short second phase
    # at a ten times smaller learning rate lets the network settle.
    for phase, (n_steps, lr) in enumerate([(2000, 2e-3), (500, 2e-4)]):
        training.train(
            model, loss, data, n_steps=n_steps, batch_size=512, lr=lr,
            seed=seed + phase, progress=False,
        )  # fmt: skip
    return model


def sample_ncsn(score, sigmas, n, box, seed):
    generator = torch.Generator().manual_seed(seed)
    start = (torch.rand(n, 2, generator=generator) * 2 - 1) * box
    with torch.no_grad():
        step = 0.1 * sigmas[-1].item() ** 2
        return sampling.annealed_langevin(
            score, start, sigmas, step, 100, generator
        ).samples


grid_mixture = energies.GaussianMixture.grid(3, spacing=1.5, std=0.15)
problems = {
    "ring of 8 Gaussians": (ring_mixture.sample, ring_mixture),
    "3 x 3 grid of Gaussians": (grid_mixture.sample, grid_mixture),
    "two moons": (
        lambda n, generator: datasets.two_moons(n, generator=generator),
        None,
    ),
    "checkerboard": (
        lambda n, generator: datasets.checkerboard(n, generator=generator),
        None,
    ),
}
level_schedule = noise.geometric_sigmas(
    4.0, 0.05, 10
)  # from the data's spread down
results, samples_of, models_of = [], {}, {}
for index, (name, (draw, mixture)) in enumerate(problems.items()):
    data = draw(5000, generator=torch.Generator().manual_seed(10 + index))
    model = fit_ncsn(data, level_schedule, seed=index)
    learned = sample_ncsn(model, level_schedule, 2000, 3.0, seed=20 + index)
    fresh = draw(2000, generator=torch.Generator().manual_seed(30 + index))
    reference = draw(2000, generator=torch.Generator().manual_seed(40 + index))
    g = torch.Generator().manual_seed(50 + index)
    row = {
        "data set": name,
        "fresh data (floor)": metrics.sliced_wasserstein(
            fresh, reference, generator=g
        ),
        "learned score": metrics.sliced_wasserstein(
            learned, reference, generator=g
        ),
        "exact score (oracle)": "-",
    }
    if mixture is not None:
        oracle = sample_ncsn(
            exact_noisy_score(mixture),
            level_schedule,
            2000,
            3.0,
            seed=20 + index,
        )
        row["exact score (oracle)"] = metrics.sliced_wasserstein(
            oracle, reference, generator=g
        )
    results.append(row)
    samples_of[name] = (data, learned)
    models_of[name] = model
display.show_table(list(results[0]), [list(r.values()) for r in results])

# %%
for r in results:
    if r["exact score (oracle)"] != "-":
        ratio = r["learned score"] / r["exact score (oracle)"]
        print(f"{r['data set']}: learned / oracle = {ratio:.1f}")
    ratio = r["learned score"] / r["fresh data (floor)"]
    print(f"{r['data set']}: learned / floor = {ratio:.1f}")

# %% alt="Top row: four 2-D data sets (a ring of 8 Gaussians, a 3 by 3 grid of Gaussians, two moons, a checkerboard). Bottom row: samples of the noise-conditional score network trained on each, drawn with annealed Langevin. They reproduce every mode and the two moons closely, and the checkerboard's squares with soft edges."
fig, axes = plt.subplots(2, 4, figsize=(12, 6.2))
for column, (name, (data, learned)) in enumerate(samples_of.items()):
    plotting.plot_samples(
        data[:2000],
        ax=axes[0, column],
        xlim=(-3, 3),
        ylim=(-3, 3),
        color="gray",
    )
    plotting.plot_samples(
        learned, ax=axes[1, column], xlim=(-3, 3), ylim=(-3, 3)
    )
    axes[0, column].set(title=name, xlabel="")
axes[0, 0].set(ylabel="data\n$x_2$")
axes[1, 0].set(ylabel="samples of the NCSN\n$x_2$")
plt.tight_layout()
plt.show()

# %% [markdown]
# The table reports the sliced Wasserstein distance to an independent sample of the data
# (smaller is better). "Fresh data" is the floor: two independent samples of the same
# distribution. For the two mixtures, the oracle runs the same annealed sampler with the
# exact noisy scores, so the difference between the learned and oracle columns is the
# price of learning the score, trained here for about ten seconds per data set. The
# ratios printed below the table say how close the learned model comes: within a small
# factor of both the oracle and the floor. The figure shows that it finds every mode of
# both mixtures with the right proportions, and the shape of the two moons.
#
# The checkerboard is the hard case, and a lesson about metrics. Its samples have the
# right squares but soft edges: a smooth network, trained for seconds, with a smallest
# noise level of 0.05, cannot draw a sharp corner. Yet its distance is at the floor,
# because one-dimensional projections of a slightly blurred checkerboard look much like
# those of a sharp one. A single number never replaces looking at the samples.
#
# ## 4.6 The bridge to diffusion models
#
# Everything in current diffusion models is already on this page, in a different
# notation.
#
# **DDPM** (Ho et al., 2020) uses a *variance-preserving* noise process: at step $t$,
# $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$, which shrinks the
# data while it adds noise, so that $x_T \approx \mathcal{N}(0, I)$. The network predicts
# the noise, $\varepsilon_\theta(x_t, t)$, and as Chapter 3 showed, predicting the noise is
# estimating the score: $\nabla \log p_t(x_t) \approx -\varepsilon_\theta(x_t, t)/\sqrt{1-\bar\alpha_t}$.
# Its simple loss $\lVert \varepsilon_\theta - \varepsilon \rVert^2$ is our multi-noise loss with
# the weight $\lambda(\sigma) = \sigma^2$.
#
# **Score SDEs** (Song et al., 2021) take the number of noise levels to infinity. Our
# schedule becomes a *variance-exploding* (VE) stochastic differential equation that adds
# noise continuously, $\mathrm{d}x = \sqrt{\mathrm{d}[\sigma^2(t)]/\mathrm{d}t}\;\mathrm{d}W$.
# Anderson (1982) showed that such a process can be run backwards in time, and the
# reverse process needs only the score:
#
# $$
# \mathrm{d}x = -\frac{\mathrm{d}[\sigma^2(t)]}{\mathrm{d}t}\, \nabla_x \log p_{\sigma(t)}(x)\, \mathrm{d}t
# + \sqrt{\frac{\mathrm{d}[\sigma^2(t)]}{\mathrm{d}t}}\; \mathrm{d}\bar W ,
# $$
#
# with $t$ running from 1 down to 0. Discretized on our levels it becomes the update
# $x \leftarrow x + (\sigma_i^2 - \sigma_{i+1}^2)\, s(x, \sigma_i) + \sqrt{\sigma_i^2 - \sigma_{i+1}^2}\; z$
# (`sampling.reverse_diffusion`). The same marginal distributions are also produced by a
# deterministic **probability-flow ODE**, $\mathrm{d}x/\mathrm{d}\sigma = -\sigma\,\nabla_x \log p_\sigma(x)$
# (`sampling.probability_flow`), which maps noise to data smoothly and invertibly.
#
# ### Exercise 4.3: one reverse-diffusion step
#
# Implement one step of the discretized reverse VE SDE from level `sigma_now` to the
# smaller `sigma_next`. The noise `z` is passed in; `score(x, sigma)` is the score model.


# %%
def reverse_diffusion_step(x, score, sigma_now, sigma_next, z):
    """x + (s_now^2 - s_next^2) score(x, s_now) + sqrt(s_now^2 - s_next^2) z."""
    # TODO: your code here
    raise NotImplementedError


check_reverse_diffusion_step(reverse_diffusion_step)

# %% tags=["solution"]
import math  # noqa: F811  (the solution cell is self-contained)

from ebm_book.exercises import check_reverse_diffusion_step


def reverse_diffusion_step_solution(x, score, sigma_now, sigma_next, z):
    removed_variance = (
        sigma_now**2 - sigma_next**2
    )  # noise taken out in this step
    drift = removed_variance * score(x, sigma_now)
    return x + drift + math.sqrt(removed_variance) * z


check_reverse_diffusion_step(reverse_diffusion_step_solution)

# %% [markdown]
# **Three samplers, one model.** The NCSN trained above on the ring of Gaussians is a score
# model for every $\sigma$ it was trained at. We sample it three ways and compare. The SDE
# and the ODE take one or two score evaluations per level, so they use a finer schedule of
# 200 levels; the network is evaluated between its training levels, which works because
# it takes $\sigma$ as a continuous input.

# %% alt="Samples of the ring of 8 Gaussians from one trained score network with three samplers: annealed Langevin, the reverse SDE and the probability-flow ODE. All three recover the eight modes, with a few points strung between neighbouring modes; each title gives the number of network evaluations and the distance to the data."
ring_model = models_of["ring of 8 Gaussians"]
fine_levels = noise.geometric_sigmas(4.0, 0.05, 200)
generator = torch.Generator().manual_seed(60)
prior = 4.0 * torch.randn(2000, 2, generator=generator)
with torch.no_grad():
    by_sampler = {
        "annealed Langevin (1000 evaluations)": sample_ncsn(
            ring_model, level_schedule, 2000, 3.0, seed=61
        ),
        "reverse SDE (200 evaluations)": sampling.reverse_diffusion(
            ring_model, prior, fine_levels, generator
        ).samples,
        "probability-flow ODE (398 evaluations)": sampling.probability_flow(
            ring_model, prior, fine_levels
        ).samples,
    }
reference = ring_mixture.sample(2000, generator=generator)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, (name, samples) in zip(axes, by_sampler.items()):
    plotting.plot_samples(samples, ax=ax, xlim=(-3, 3), ylim=(-3, 3))
    distance = metrics.sliced_wasserstein(
        samples, reference, generator=generator
    )
    ax.set_title(f"{name}\ndistance to data {distance:.3f}", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# All three recover the eight modes from the same network. The numbers under each panel
# are the sliced Wasserstein distances to fresh data (two independent exact samples of
# 2000 points measured 0.09 in the table above, and such estimates fluctuate by a few
# hundredths from draw to draw). Here the reverse SDE comes closest with the fewest score
# evaluations. The probability-flow ODE is deterministic: it carries every error of the
# learned score straight into the samples, while the SDE's fresh noise at every step
# partly washes such errors out. The ODE's strengths lie elsewhere: it is a smooth,
# invertible map between noise and data, it gives exact likelihoods, and higher-order
# solvers take large steps with it (Karras et al., 2022), which is why modern samplers
# often use it.
#
# ## Reflection questions
#
# ??? question "1. Why does the step size of annealed Langevin dynamics scale like $\sigma_i^2$? What would go wrong with one fixed step size for all levels?"
#     The score of $p_{\sigma_i}$ has size about $1/\sigma_i$ and the distribution has
#     width about $\sigma_i$ (at large noise). A step $\alpha_i \propto \sigma_i^2$ moves a
#     chain by $\frac{\alpha_i}{2}\lVert s\rVert \propto \sigma_i$ and adds noise of size
#     $\sqrt{\alpha_i} \propto \sigma_i$, both proportional to the width: every level
#     mixes in the same number of steps. A fixed step tuned for the smallest level would
#     take forever to cross the wide distributions at the top; one tuned for the top
#     would be unstable at the bottom (Chapter 2's divergence at $\epsilon > 4\sigma^2$).
#
# ??? question "2. The oracle in Section 4.5 uses the exact scores, yet its samples are not as close to the data as fresh data is. Why not?"
#     Because the algorithm itself is approximate: a finite number of Langevin steps per
#     level with a finite step size, a finite number of levels, and a smallest level
#     $\sigma_L > 0$ whose blur the final denoising step removes only on average. Exact
#     scores remove the learning error, not the sampling error; a fair comparison of a
#     learned model therefore runs the same sampler with the exact score.
#
# ??? question "3. DDPM shrinks the data ($\sqrt{\bar\alpha_t}\,x_0$) while adding noise; NCSN only adds noise. What does each choice do to the distribution at the end of the forward process?"
#     The variance-exploding process ends at $\mathcal{N}(\cdot, \sigma_1^2 I)$ with the data
#     still inside it, so $\sigma_1$ must dwarf the data's spread (NCSNv2's first
#     heuristic). The variance-preserving process ends at $\mathcal{N}(0, I)$ exactly in the
#     limit, independent of the data's scale, at the price of a signal that shrinks to
#     zero. Both give the same score-based learning problem.
#
# ## Summary
#
# - A score model at one noise level fails three ways: the score is undefined (small
#   $\sigma$) off a data manifold, inaccurate where data is rare, and blind to the weights of
#   separated modes. A single large $\sigma$ fixes these but samples a blurred distribution.
# - A noise-conditional score network learns $\nabla \log p_\sigma$ for a geometric sequence of
#   levels, trained with denoising score matching weighted by $\lambda(\sigma) = \sigma^2$;
#   NCSNv2's heuristics set $\sigma_1$, the ratio, and the $1/\sigma$ output scaling.
# - Annealed Langevin dynamics runs Langevin at each level in turn with steps
#   $\epsilon\,\sigma_i^2/\sigma_L^2$; it recovers mixture weights that plain Langevin cannot,
#   and generates complex 2-D distributions from learned scores in seconds.
# - DDPM and score SDEs are the same idea with a variance-preserving process or a
#   continuum of levels; the reverse SDE and the probability-flow ODE sample the same model.
#
# ## Where to go next
#
# - Song, Sohl-Dickstein, Kingma, Kumar, Ermon and Poole (2021) for the full SDE picture,
#   predictor–corrector samplers, and likelihoods via the probability-flow ODE.
# - Karras, Aittala, Aila and Laine (2022) for a clean, modern design of the noise schedule,
#   the network preconditioning and ODE samplers.
# - Try it: replace the 2-D data by 8 × 8 images flattened to $d = 64$, and watch which
#   heuristics start to matter.
#
# ## References
#
# - Y. Song, S. Ermon (2019). *Generative modeling by estimating gradients of the data
#   distribution.* NeurIPS.
# - Y. Song, S. Ermon (2020). *Improved techniques for training score-based generative
#   models.* NeurIPS.
# - J. Ho, A. Jain, P. Abbeel (2020). *Denoising diffusion probabilistic models.* NeurIPS.
# - Y. Song, J. Sohl-Dickstein, D. P. Kingma, A. Kumar, S. Ermon, B. Poole (2021).
#   *Score-based generative modeling through stochastic differential equations.* ICLR.
# - B. D. O. Anderson (1982). *Reverse-time diffusion equation models.* Stochastic
#   Processes and their Applications 12(3).
# - T. Karras, M. Aittala, T. Aila, S. Laine (2022). *Elucidating the design space of
#   diffusion-based generative models.* NeurIPS.
#
# The full bibliography is on the [references page](../references.md).
