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
# # 1. Energy functions and the Boltzmann distribution
#
# !!! abstract "In this chapter"
#     **Time:** about 45 minutes of study, plus the exercises.
#
#     **You will learn to**
#
#     - read a probability distribution as an *energy landscape*, and write down the energy of familiar distributions;
#     - turn any energy into a probability density with the Boltzmann distribution, and predict what temperature does to it;
#     - draw energy landscapes and their densities in one and two dimensions;
#     - explain, with numbers, why the normalizing constant $Z$ is the central obstacle of energy-based models.
#
#     **You need** basic PyTorch (tensors, broadcasting), probability densities, and partial derivatives.
#
# Every figure and number on this page is computed by the code next to it, using the
# book's companion package `ebm_book`. Run the page yourself and change things: that
# is the fastest way to build intuition.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch

from ebm_book import display, energies, partition, plotting
from ebm_book.exercises import (
    check_boltzmann_probabilities,
    check_gaussian_energy,
    check_importance_sampling,
)

plotting.use_book_style()

# %% [markdown]
# ## 1.1 What is an energy function?
#
# Picture a ball on a hilly landscape, shaken by random kicks. Most of the time you will
# find it at the bottom of a valley; now and then a strong kick carries it over a ridge
# into a neighbouring valley; it almost never sits on a mountain top. Physicists call the
# height of the landscape at position $x$ the **energy** $E(x)$, and the strength of the
# kicks the **temperature** $T$. Low energy means *likely*, high energy means *unlikely*.
#
# Machine learning borrows the picture and drops the physics. An **energy function** is
# any function
#
# $$
# E_\theta : \mathbb{R}^d \to \mathbb{R},
# $$
#
# with parameters $\theta$, that assigns low values to configurations $x$ we consider
# plausible (images that look like photographs, molecules that are stable, sentences that
# make sense) and high values to everything else. The appeal is freedom: $E_\theta$ can be
# any neural network with a scalar output. It does not have to be positive, normalized, or
# invertible. It only has to be low where the data is [(LeCun et al., 2006)](../references.md#lecun2006).
#
# The dictionary between energies and probabilities is the rule $p(x) \propto e^{-E(x)}$,
# read in both directions. Given a density $p$, its energy is $E(x) = -\log p(x)$ *up to an
# additive constant*, and the constant never matters: adding $c$ to $E$ multiplies
# $e^{-E}$ by $e^{-c}$, which the normalization removes again. Some familiar cases, with
# their constants dropped:
#
# | distribution | density $p(x) \propto$ | energy $E(x)$ |
# |---|---|---|
# | Gaussian $\mathcal{N}(\mu, \sigma^2)$ | $\exp\!\big(-\frac{(x-\mu)^2}{2\sigma^2}\big)$ | $\dfrac{(x-\mu)^2}{2\sigma^2}$ |
# | Laplace, scale $b$ | $\exp\!\big(-\frac{\lvert x-\mu\rvert}{b}\big)$ | $\dfrac{\lvert x-\mu \rvert}{b}$ |
# | multivariate Gaussian $\mathcal{N}(\mu, \Sigma)$ | $\exp\!\big(-\tfrac12 (x-\mu)^\top\Sigma^{-1}(x-\mu)\big)$ | $\tfrac12 (x-\mu)^\top \Sigma^{-1} (x-\mu)$ |
# | mixture $\sum_k \pi_k\, p_k(x)$ | $\sum_k \pi_k\, p_k(x)$ | $-\log \sum_k \pi_k\, p_k(x)$ |
#
# A quadratic energy is a Gaussian; a V-shaped energy is a Laplace distribution with its
# sharp peak; and an energy with two valleys, like the **double well**
#
# $$
# E(x) = h\,(x^2 - 1)^2 ,
# $$
#
# is a distribution with two modes at $x = \pm 1$, separated by a barrier of height $h$.
# The package provides these landscapes as classes that share one interface: `energy(x)`
# takes a batch `x` of shape `(N, d)` and returns shape `(N,)`.

# %%
gaussian = energies.Gaussian(mean=[0.0], cov=0.5**2)
double_well = energies.DoubleWell(barrier=2.0)
x = torch.tensor([[-1.0], [0.0], [1.0]])
print("Gaussian   E(x) at x = -1, 0, 1:", gaussian.energy(x))
print("Double well E(x) at x = -1, 0, 1:", double_well.energy(x))

# %% [markdown]
# Plotting each energy next to its normalized density $e^{-E(x)}/Z$ shows the dictionary
# at work: every valley of $E$ becomes a bump of $p$, and the steeper the walls, the
# narrower the bump.

# %% alt="Left: three energies E(x) on the line: a Gaussian (a parabola), a Laplace density (a V shape) and a double well (minima at x = -1 and x = 1, a bump of height 2 at 0). Right: their Boltzmann densities: the Gaussian and the Laplace peak at 0, the Laplace more sharply; the double well has two equal peaks at -1 and 1."
laplace_energy = lambda x: x[:, 0].abs() / 0.5  # noqa: E731  a plain function works too
landscapes = {
    "Gaussian, $\\sigma = 0.5$": gaussian,
    "Laplace, $b = 0.5$": laplace_energy,
    "double well, $h = 2$": double_well,
}
fig, (ax_energy, ax_density) = plt.subplots(1, 2, figsize=(10, 3.6))
for label, energy in landscapes.items():
    plotting.plot_energy_1d(
        energy, xlim=(-2.2, 2.2), ax=ax_energy, label=label
    )
    plotting.plot_density_1d(
        energy, xlim=(-2.2, 2.2), ax=ax_density, label=label
    )
ax_energy.set(ylim=(-0.2, 6), title="Energies $E(x)$")
ax_density.set(title="Densities $p(x) = e^{-E(x)}/Z$")
ax_density.legend()
plt.show()

# %% [markdown]
# Notice how the Laplace energy's kink at zero becomes the sharp tip of its density, and
# how the double well's barrier becomes the dip between its two modes.
#
# ### Exercise 1.1: the energy of a Gaussian
#
# Write the energy of the one-dimensional Gaussian $\mathcal{N}(\mu, \sigma^2)$, for a
# batch `x` of shape `(N, 1)`. Any additive constant is fine; the checker compares energy
# *differences*, and tells you what is off if something is.


# %%
def gaussian_energy(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Energy of N(mean, std**2) at each point of x (shape (N, 1)); returns shape (N,)."""
    # TODO: your code here
    raise NotImplementedError


check_gaussian_energy(gaussian_energy)

# %% tags=["solution"]
import torch

from ebm_book.exercises import check_gaussian_energy


def gaussian_energy_solution(
    x: torch.Tensor, mean: float, std: float
) -> torch.Tensor:
    # -log N(x; mean, std^2) without its constant log(sqrt(2 pi) std)
    return (x[:, 0] - mean) ** 2 / (2 * std**2)


check_gaussian_energy(gaussian_energy_solution)

# %% [markdown]
# ## 1.2 From energy to probability: the Boltzmann distribution
#
# The **Boltzmann distribution** (also called the Gibbs distribution) of an energy $E$ at
# temperature $T > 0$ is
#
# $$
# p_T(x) = \frac{e^{-E(x)/T}}{Z_T},
# \qquad
# Z_T = \int_{\mathbb{R}^d} e^{-E(x)/T}\,\mathrm{d}x .
# $$
#
# The normalizing constant $Z_T$ is the **partition function**. It is a single number, but
# it depends on the whole landscape, and we will see in Section 1.4 why it is so hard to
# compute. The formula needs $Z_T < \infty$, which holds when $E$ grows fast enough at
# infinity (the energy $E(x) = x$ fails: $e^{-x}$ is not integrable on $\mathbb{R}$).
#
# Why an exponential? It turns sums into products: two independent systems with energies
# $E_1(x)$ and $E_2(y)$ have total energy $E_1 + E_2$ and joint density
# $p_1(x)\,p_2(y)$. It makes every density positive, so no configuration is strictly
# impossible. And among all densities with a given average energy, the Boltzmann
# distribution is the one with maximum entropy, the least committal choice
# [(Jaynes, 1957)](../references.md#jaynes1957).
#
# Two invariances follow directly from the formula:
#
# - **shifting** the energy, $E \to E + c$, changes nothing (the factor $e^{-c/T}$ cancels);
# - **scaling** the energy, $E \to \lambda E$, is the same as changing the temperature to $T/\lambda$.
#
# So the temperature is not a new ingredient; it is a dial on the sharpness of the
# landscape. As $T \to 0$, $p_T$ piles up on the global minimum of $E$; as
# $T \to \infty$, it flattens towards uniform. The ratio of densities at two points makes
# this precise, and it does not involve $Z_T$ at all:
#
# $$
# \frac{p_T(x)}{p_T(y)} = \exp\!\left(-\frac{E(x) - E(y)}{T}\right).
# $$
#
# Let us watch the dial turn on a *tilted* double well, whose left valley is deeper than
# its right one by $\Delta E \approx 1$.

# %% alt="Left: a tilted double well, deeper at x = -1 than at x = 1. Right: its Boltzmann densities at temperatures 0.25, 0.5, 1, 2 and 4: at low temperature nearly all the mass sits in the deeper left well; as the temperature rises the density flattens and the right well gains mass."
tilted_well = energies.DoubleWell(barrier=2.0, tilt=0.5)
temperatures = [0.25, 0.5, 1.0, 2.0, 4.0]

fig, (ax_energy, ax_density) = plt.subplots(1, 2, figsize=(10, 3.6))
plotting.plot_energy_1d(tilted_well, xlim=(-2, 2), ax=ax_energy, color="k")
ax_energy.set(ylim=(-1, 5), title="Tilted double well $E(x)$")
colors = plt.cm.plasma(torch.linspace(0.1, 0.85, len(temperatures)).numpy())
for temperature, color in zip(temperatures, colors):
    plotting.plot_density_1d(
        tilted_well,
        xlim=(-2, 2),
        temperature=temperature,
        ax=ax_density,
        color=color,
        fill=False,
        label=f"$T = {temperature}$",
    )
ax_density.set(title="Boltzmann densities $p_T(x)$")
ax_density.legend()
plt.show()

# %% [markdown]
# The probability of finding the system in the left valley, $P_T(x < 0)$, is an integral
# of $p_T$ that we compute numerically (Section 1.4 explains how). Compare it with the
# prediction from the depth difference alone, $P(\text{left}) / P(\text{right}) \approx
# e^{\Delta E / T}$, which ignores the valleys' slightly different widths:


# %%
def mass_left_of_zero(energy, temperature):
    left = partition.quadrature_partition(
        energy, [(-4.0, 0.0)], 2001, temperature
    )
    right = partition.quadrature_partition(
        energy, [(0.0, 4.0)], 2001, temperature
    )
    return left.value / (left.value + right.value)


minima = torch.tensor(
    [[-1.06], [0.94]]
)  # approximate minima of the tilted well
depth_gap = (
    tilted_well.energy(minima)[1] - tilted_well.energy(minima)[0]
).item()
rows = []
for temperature in temperatures:
    p_left = mass_left_of_zero(tilted_well, temperature)
    rows.append(
        [
            temperature,
            p_left,
            p_left / (1 - p_left),
            math.exp(depth_gap / temperature),
        ]
    )
display.show_table(
    [
        "temperature $T$",
        "$P_T(x<0)$",
        "odds left : right",
        "$e^{\\Delta E/T}$",
    ],
    rows,
)

# %% [markdown]
# At $T = 0.25$ the deeper valley holds almost all the probability; at $T = 4$ the two
# valleys are nearly equally likely. The odds track $e^{\Delta E/T}$ closely at low
# temperature, where each valley behaves like a narrow Gaussian.
#
# ### Discrete states: the softmax is a Boltzmann distribution
#
# The same formula with a sum instead of an integral gives the probabilities of $K$
# discrete states with energies $E_1, \dots, E_K$:
#
# $$
# p_i = \frac{e^{-E_i / T}}{\sum_{j=1}^{K} e^{-E_j/T}} .
# $$
#
# You have met this before: it is the **softmax** of a classifier, with logits
# $-E_i$. In code it has a trap. For energies around $1000$, $e^{-E_i}$ underflows to
# zero and the fraction becomes $0/0$. The fix is the *log-sum-exp trick*: subtract the
# smallest energy from all of them before exponentiating. That is a shift of the energy,
# so by the first invariance above it changes no probability.
#
# ### Exercise 1.2: Boltzmann probabilities that never overflow
#
# Implement $p_i$ for a 1-D tensor of energies and a temperature, without calling
# `torch.softmax` (use it afterwards to check yourself). The checker tries energies near
# $\pm 1000$.


# %%
def boltzmann_probabilities(
    energies: torch.Tensor, temperature: float
) -> torch.Tensor:
    """p_i = exp(-E_i / T) / sum_j exp(-E_j / T), numerically stable."""
    # TODO: your code here
    raise NotImplementedError


check_boltzmann_probabilities(boltzmann_probabilities)

# %% tags=["solution"]
import torch

from ebm_book.exercises import check_boltzmann_probabilities


def boltzmann_probabilities_solution(
    energies: torch.Tensor, temperature: float
) -> torch.Tensor:
    # Shifting by the minimum energy changes no probability, and keeps exp() in [0, 1].
    weights = torch.exp(-(energies - energies.min()) / temperature)
    return weights / weights.sum()


check_boltzmann_probabilities(boltzmann_probabilities_solution)

# %% [markdown]
# ## 1.3 Energy landscapes in two dimensions
#
# In two dimensions we can draw an energy three ways: as a **contour map** (valleys dark),
# as a **3-D surface**, and through its **density** $e^{-E}/Z$. We use four landscapes
# that recur throughout the book:
#
# - a **Gaussian mixture** with three unequal modes, $E(x) = -\log \sum_k \pi_k \mathcal{N}(x; \mu_k, \Sigma_k)$
#   (the book's running example, `energies.example_mixture()`: weights 0.5, 0.3 and 0.2);
# - a **ring**, $E(x) = (\lVert x\rVert - r)^2 / (2w^2)$, whose minimum is a whole circle;
# - a **banana**, a Gaussian bent along a parabola,
#   $E(x) = \frac{x_1^2}{2s^2} + \frac12\big(x_2 - b(x_1^2 - s^2)\big)^2$;
# - a **double well** in $x_1$ times a Gaussian in $x_2$.

# %% alt="Four two-dimensional energies (a three-component Gaussian mixture, a ring, a banana and a double well), each drawn three ways: as a filled contour map, as a 3-D surface and as its density. Wherever the energy is low, the density is high."
# The running example (weights 0.5, 0.3, 0.2, tilted covariances), a ring,
# a banana and a double well; their parameters are in the API reference.
landscapes_2d = energies.example_landscapes()
mixture = landscapes_2d["Gaussian mixture"]
window = (-3.2, 3.2)

fig = plt.figure(figsize=(11, 8.4))
for column, (name, energy) in enumerate(landscapes_2d.items()):
    ax = fig.add_subplot(3, 4, column + 1)
    plotting.plot_energy_2d(
        energy, window, window, ax=ax, max_energy=8.0, colorbar=False
    )
    ax.set(title=f"{name}: $E(x)$", xlabel="")
    ax = fig.add_subplot(3, 4, column + 5, projection="3d")
    plotting.plot_surface_3d(
        energy, window, window, ax=ax, n=40, max_value=8.0
    )
    ax.set(title="surface", xlabel="", ylabel="", zlabel="")
    ax = fig.add_subplot(3, 4, column + 9)
    plotting.plot_density_2d(energy, window, window, ax=ax)
    ax.set(title="density $p(x)$")
plt.tight_layout()
plt.show()

# %% [markdown]
# The colour scale of the energies is clipped at $E = 8$ so that the valleys' shapes stay
# visible: energies grow without bound away from the data, and all that matters for the
# density is the region where $E$ is within a few units of its minimum (at $T = 1$, a
# point 8 units above the minimum is $e^{8} \approx 3000$ times less likely).
#
# For the mixture, and for every distribution whose sampler we know, we can also draw
# exact samples and check that they land where the density says. The fraction of samples
# in each component should match the weights $\pi_k = (0.5, 0.3, 0.2)$ within the
# binomial standard error $\sqrt{\pi_k(1-\pi_k)/n}$:

# %% alt="Filled contour map of the three-mode mixture density with 4000 exact samples on top: the points fill the three modes, most densely the heaviest one at the lower left."
n_samples = 4000
samples = mixture.sample(n_samples, generator=torch.Generator().manual_seed(1))
fractions = torch.bincount(mixture.assign(samples), minlength=3) / n_samples

fig, ax = plt.subplots(figsize=(5, 4.5))
plotting.plot_density_2d(mixture, window, window, ax=ax)
plotting.plot_samples(samples, ax=ax, color="white", size=2, alpha=0.4)
ax.set(title=f"{n_samples} exact samples on the mixture density")
plt.show()

for k, (weight, fraction) in enumerate(
    zip(mixture.weights.tolist(), fractions.tolist())
):
    stderr = math.sqrt(weight * (1 - weight) / n_samples)
    print(
        f"component {k}: weight {weight:.2f}, fraction of samples {fraction:.3f} ± {stderr:.3f}"
    )

# %% [markdown]
# (A sample is attributed to its most responsible component, which shifts a little mass
# where the components overlap; here they barely do.)
#
# ## 1.4 Why the partition function is intractable
#
# Everything so far leaned on being able to normalize: the densities above were divided
# by $Z$. For a handful of energies $Z_T$ has a closed form:
#
# - the Gaussian energy $\tfrac12 (x-\mu)^\top\Sigma^{-1}(x-\mu)$ has $Z_T = (2\pi T)^{d/2}\lvert\Sigma\rvert^{1/2}$;
# - the banana has $Z_T = 2\pi s T$, because un-bending it is a change of variables with unit Jacobian;
# - the ring has a closed form in polar coordinates (see `energies.Ring`).
#
# For a neural-network energy there is none. We are left with numerical integration, and
# that is where the trouble starts.
#
# ### Quadrature: exact in low dimension, exponential in high dimension
#
# The trapezoidal rule on a grid of $n$ points per axis approximates $Z_T$ by a weighted
# sum of $e^{-E/T}$ over the grid nodes. In two dimensions it is superb:

# %%
bounds = {
    "ring": [(-5, 5), (-5, 5)],
    "banana": [(-7, 7), (-8, 30)],
}  # boxes holding the mass
rows = []
for name, energy in list(landscapes_2d.items())[
    1:3
]:  # ring and banana: Z known exactly
    exact = math.exp(energy.log_partition())
    for n in (11, 21, 41, 81):
        estimate = partition.quadrature_partition(
            energy, bounds[name], n_per_axis=n
        )
        rows.append(
            [
                name,
                n,
                estimate.n_evaluations,
                exact,
                estimate.value,
                abs(estimate.relative_error(exact)),
            ]
        )
display.show_table(
    [
        "energy",
        "$n$ per axis",
        "evaluations $n^2$",
        "exact $Z$",
        "quadrature $\\hat Z$",
        "relative error",
    ],
    rows,
)

# %% [markdown]
# With 81 points per axis the error is at the level of floating-point round-off. But a grid
# with $n$ points per axis in $d$ dimensions has $n^d$ nodes. How long would that take? We
# measure how many energy evaluations per second this machine manages on a simple energy,
# and extrapolate:


# %%
def standard_gaussian_energy(x):
    return 0.5 * (x**2).sum(dim=1)


batch = torch.randn(1_000_000, 10)
start = time.perf_counter()
for _ in range(5):
    standard_gaussian_energy(batch)
evaluations_per_second = 5 * batch.shape[0] / (time.perf_counter() - start)
print(
    f"about {evaluations_per_second:.2g} energy evaluations per second (10-D, this machine)"
)

seconds_per_year = 3600 * 24 * 365
rows = []
for d in (1, 2, 3, 5, 10, 20):
    seconds = 100.0**d / evaluations_per_second
    duration = (
        f"{seconds:.2g} s"
        if seconds < 3600
        else f"{seconds / seconds_per_year:.2g} years"
    )
    rows.append([d, f"{100.0**d:.0e}", duration])
display.show_table(["dimension $d$", "grid nodes ($n = 100$)", "time"], rows)

# %% [markdown]
# A 28 × 28 image has $d = 784$. Quadrature is hopeless long before that.
#
# ### Monte Carlo: no grid, but a needle in a haystack
#
# Sampling replaces the grid. Draw $x_1, \dots, x_n$ uniformly in a box of volume $V$;
# then $Z \approx \hat Z = \frac{V}{n}\sum_i e^{-E(x_i)/T}$, an unbiased estimate whose
# standard error shrinks like $1/\sqrt n$ in *any* dimension. The catch hides in the
# constant. Most of the box is where the density is negligible, and the fraction of the box
# that matters shrinks exponentially with $d$: for the standard Gaussian in $[-5, 5]^d$ it
# is about $(\sqrt{2\pi}/10)^d \approx 0.25^d$.
#
# **Importance sampling** does better by drawing from a proposal density $q$ that
# resembles the target, and weighting each sample by $w_i = e^{-E(x_i)/T}/q(x_i)$:
#
# $$
# \hat Z = \frac1n \sum_{i=1}^n \frac{e^{-E(x_i)/T}}{q(x_i)}, \qquad x_i \sim q,
# \qquad \mathbb{E}_q[\hat Z] = \int q(x) \frac{e^{-E(x)/T}}{q(x)}\,\mathrm{d}x = Z_T .
# $$
#
# If $q$ were exactly $p_T$, every weight would equal $Z_T$ and one sample would do. A
# proposal only slightly off, say $\mathcal{N}(0, 1.2^2 I)$ for the target
# $\mathcal{N}(0, I)$, gives weights whose relative variance is
# $\big(1.44/\sqrt{1.88}\big)^{d} - 1 \approx 1.05^d - 1$: harmless in 2-D, and a
# catastrophe in a few hundred dimensions, where a single sample carries almost all the
# weight.
#
# We measure both estimators on the standard Gaussian energy, whose $Z = (2\pi)^{d/2}$ is
# known in every dimension, with $n = 10^4$ samples and 20 independent repetitions per
# dimension. The error we report is the root-mean-square relative error of $\hat Z$ over
# the repetitions. In the table, MC is uniform Monte Carlo, IS importance sampling, SE
# the standard error the estimator reports about itself, and ESS the effective sample
# size $(\sum_i w_i)^2/\sum_i w_i^2$ (out of $10^4$).


# %%
def rms_relative_error(estimates, exact_log_z):
    errors = torch.tensor(
        [e.relative_error(math.exp(exact_log_z)) for e in estimates]
    )
    return errors.pow(2).mean().sqrt().item()


def compare_estimators(
    dims, n_samples=10_000, repeats=20, proposal_scale=1.2, seed=0
):
    generator = torch.Generator().manual_seed(seed)
    results = []
    for d in dims:
        exact_log_z = 0.5 * d * math.log(2 * math.pi)
        proposal = energies.Gaussian(torch.zeros(d), cov=proposal_scale**2)
        mc = [
            partition.monte_carlo_partition(
                standard_gaussian_energy,
                [(-5, 5)] * d,
                n_samples,
                generator=generator,
            )
            for _ in range(repeats)
        ]
        imp = [
            partition.importance_sampling_partition(
                standard_gaussian_energy,
                proposal,
                n_samples,
                generator=generator,
            )
            for _ in range(repeats)
        ]
        results.append(
            {
                "d": d,
                "mc_error": rms_relative_error(mc, exact_log_z),
                "is_error": rms_relative_error(imp, exact_log_z),
                "is_reported": sum(e.relative_std_error for e in imp)
                / repeats,
                "is_ess": sum(e.effective_sample_size for e in imp) / repeats,
            }
        )
    return results


dims = [1, 2, 5, 10, 20, 50, 100, 200, 400]
results = compare_estimators(dims)
columns = ["mc_error", "is_error", "is_reported", "is_ess"]
display.show_table(
    ["$d$", "MC error", "IS error", "IS reported SE", "IS ESS"],
    [[r["d"]] + [r[c] for c in columns] for r in results],
)

# %% alt="Log-log plot of the relative error of the estimated partition function against the dimension, with 10^4 samples. Uniform Monte Carlo starts near 1 percent at d = 1 and reaches 100 percent error by d = 10. Importance sampling with a Gaussian proposal starts far lower and grows slowly, passing 10 percent only near d = 100; the standard error it reports follows its actual error."
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.loglog(
    dims,
    [r["mc_error"] for r in results],
    "o-",
    label="uniform Monte Carlo in $[-5, 5]^d$",
)
ax.loglog(
    dims,
    [r["is_error"] for r in results],
    "s-",
    label="importance sampling, $q = \\mathcal{N}(0, 1.2^2 I)$",
)
ax.loglog(
    dims,
    [r["is_reported"] for r in results],
    "s:",
    color="C1",
    alpha=0.6,
    label="importance sampling, reported std. error",
)
ax.axhline(1.0, color="gray", lw=1, ls="--")
ax.text(150, 1.15, "100% error", color="gray")
ax.set(
    xlabel="dimension $d$",
    ylabel="relative error of $\\hat Z$",
    title="Estimating $Z$ with $10^4$ samples",
)
ax.legend(loc="lower right", fontsize=9)
plt.show()

by_dim = {r["d"]: r for r in results}
print(
    f"Uniform Monte Carlo is off by {by_dim[2]['mc_error']:.1%} at d = 2, "
    f"by {by_dim[10]['mc_error']:.0%} at d = 10, and by {by_dim[20]['mc_error']:.0%} at d = 20."
)
print(
    f"Importance sampling is off by {by_dim[2]['is_error']:.2%} at d = 2 and by "
    f"{by_dim[400]['is_error']:.0%} at d = 400, where the effective sample size has fallen "
    f"from 10,000 to {by_dim[400]['is_ess']:.1f}."
)

# %% [markdown]
# Read the figure from left to right. Uniform Monte Carlo is accurate to a few percent in
# one or two dimensions and useless by $d = 10$, where almost no sample lands where the
# mass is and $\hat Z$ comes out near zero, an error close to 100% (and sometimes far above,
# when one lucky sample dominates). Importance sampling with a good proposal survives much
# longer, but its error also grows exponentially. Worst of all, in high dimension its
# *reported* standard error (dotted) falls below the actual error: the
# weights are dominated by a few samples, and the sample variance of the weights cannot
# see the rare, huge weights it has not drawn yet. The effective sample size
# $(\sum_i w_i)^2/\sum_i w_i^2$ is the honest warning light.
#
# ### Why this matters for learning
#
# To fit an energy $E_\theta$ to data by maximum likelihood we need the gradient of the
# log-likelihood, and with it the gradient of $\log Z_\theta$:
#
# $$
# \nabla_\theta \log p_\theta(x) = -\nabla_\theta E_\theta(x) - \nabla_\theta \log Z_\theta,
# \qquad
# \nabla_\theta \log Z_\theta = -\,\mathbb{E}_{x' \sim p_\theta}\big[\nabla_\theta E_\theta(x')\big].
# $$
#
# The second identity (differentiate $Z_\theta = \int e^{-E_\theta}$ under the integral)
# trades $Z$ for *samples from the model*, which are just as hard to get in high
# dimension. The rest of this book follows a different road: the **score**
# $\nabla_x \log p_\theta(x) = -\nabla_x E_\theta(x)$, in which $Z_\theta$ does not appear
# at all, because it does not depend on $x$. [Chapter 2](02_score_and_langevin.py) builds a
# sampler out of it.
#
# ### Exercise 1.3: an importance-sampling estimate of $Z$
#
# Implement the importance-sampling estimator. You receive an `energy` (a callable on
# `(N, d)` tensors), a `proposal` with `proposal.sample(n, generator=generator)` and a
# normalized `proposal.log_prob(x)`, the number of samples `n`, and a `torch.Generator`.
# Return $\hat Z$ as a float at $T = 1$. Work in log space if you like; it is not needed
# in the 3-D test case the checker uses.


# %%
def estimate_z(energy, proposal, n: int, generator: torch.Generator) -> float:
    """Importance-sampling estimate of Z = integral of exp(-E(x)) dx."""
    # TODO: your code here
    raise NotImplementedError


check_importance_sampling(estimate_z)

# %% tags=["solution"]
import torch

from ebm_book.exercises import check_importance_sampling


def estimate_z_solution(
    energy, proposal, n: int, generator: torch.Generator
) -> float:
    x = proposal.sample(n, generator=generator)
    log_weights = -energy(x) - proposal.log_prob(x)  # log of exp(-E(x)) / q(x)
    # mean of the weights, computed in log space so large energies cannot overflow
    return torch.exp(
        torch.logsumexp(log_weights, dim=0) - torch.log(torch.tensor(float(n)))
    ).item()


check_importance_sampling(estimate_z_solution)

# %% [markdown]
# ## Reflection questions
#
# ??? question "1. Two energies differ by a constant, $E_2 = E_1 + 5$. How do their Boltzmann distributions, their partition functions, and their scores $-\nabla_x E$ compare?"
#     The distributions are identical: the factor $e^{-5/T}$ multiplies both $e^{-E}$ and
#     $Z$, and cancels. The partition functions differ, $Z_2 = e^{-5/T} Z_1$. The scores are
#     identical, because the gradient of a constant is zero. This is the first hint that
#     the score carries exactly the information about $p$ that does not depend on $Z$.
#
# ??? question "2. What happens to the Boltzmann distribution of the tilted double well as $T \to 0$ and as $T \to \infty$? Which one is harder to sample by running a noisy ball downhill?"
#     As $T \to 0$ all mass collapses onto the global minimum (the deeper left well); as
#     $T \to \infty$ the density flattens and the wells stop mattering. Low temperature is
#     harder to sample: a ball in the shallower valley needs a kick of size about the
#     barrier height to escape, and such kicks become exponentially rare, with a waiting
#     time growing like $e^{\text{barrier}/T}$. Chapter 4 turns this observation into an
#     algorithm (annealing).
#
# ??? question "3. Importance sampling reported a standard error of a few percent at $d = 400$ while the actual error was far larger. How can an unbiased estimator mislead like this, and what would you check?"
#     $\hat Z$ is unbiased, but its distribution is extremely skewed: almost all of its
#     mean comes from rare samples with enormous weights. With $10^4$ samples we usually
#     have not drawn any of them, so both $\hat Z$ and its sample variance come out too
#     small. Check the effective sample size (here a handful out of $10^4$), the largest
#     normalized weight, or repeat the estimate with independent seeds and look at the
#     spread.
#
# ??? question "4. The table of energies has a Laplace distribution with a kink at its mode. Why might a kink cause trouble for methods built on $\nabla_x E$?"
#     The gradient jumps from $-1/b$ to $+1/b$ at the mode and is undefined exactly there.
#     Gradient-based samplers (Chapter 2) overshoot and oscillate around such points, and
#     score-matching objectives (Chapter 3) need second derivatives, which are zero almost
#     everywhere and infinite at the kink. Smooth energies are the comfortable case.
#
# ## Summary
#
# - An energy $E(x)$ is any scalar function that is low on plausible data; the Boltzmann
#   distribution $p_T(x) = e^{-E(x)/T}/Z_T$ turns it into a probability density.
# - $E = -\log p + \text{const}$: constants do not matter, and scaling $E$ is the same as
#   changing the temperature. Low $T$ concentrates mass in the deepest valleys, high $T$
#   spreads it out; density ratios $e^{-(E(x)-E(y))/T}$ never involve $Z$.
# - The partition function $Z_T$ is known in closed form only for special energies.
#   Quadrature costs $n^d$ evaluations; uniform Monte Carlo fails by $d \approx 10$;
#   importance sampling fails later but just as surely, and its error bars fail with it.
# - Maximum likelihood needs $\nabla_\theta \log Z_\theta$, i.e. samples from the model. The
#   score $\nabla_x \log p(x) = -\nabla_x E(x)/T$ does not involve $Z$ at all: it is the
#   subject of the [next chapter](02_score_and_langevin.py).
#
# ## References
#
# - Y. LeCun, S. Chopra, R. Hadsell, M. Ranzato, F. J. Huang (2006).
#   *A tutorial on energy-based learning.* In *Predicting Structured Data*, MIT Press.
# - E. T. Jaynes (1957). *Information theory and statistical mechanics.* Physical Review 106(4).
# - D. J. C. MacKay (2003). *Information Theory, Inference, and Learning Algorithms*,
#   chapter 29 (Monte Carlo methods). Cambridge University Press.
# - A. B. Owen (2013). *Monte Carlo theory, methods and examples*, chapter 9 (importance sampling).
# - Y. Song, D. P. Kingma (2021). *How to train your energy-based models.* arXiv:2101.03288.
#
# The full bibliography is on the [references page](../references.md).
