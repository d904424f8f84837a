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
#     **Time:** about 67 minutes: about 36 of reading and running the code, about 31 of exercises.
#
#     **You will learn to**
#
#     - read a probability distribution as an *energy landscape*, and write down the energy of familiar distributions;
#     - turn any energy into a probability density with the Boltzmann distribution, and predict what temperature does to it;
#     - design an energy landscape with the valleys and barriers you want, and draw energies and their densities in one and two dimensions;
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

from ebm_book import (
    claims,
    display,
    energies,
    examples,
    mixtures,
    partition,
    plotting,
    seeds,
)
from ebm_book.exercises.ch01_energies import (
    check_boltzmann_probabilities,
    check_error_bar_diagnosis,
    check_gaussian_partition_function,
    check_importance_sampling,
    check_three_well,
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
# - **scaling** the energy is the same as changing the temperature: multiplying the
#   energy by 2 is the same as halving the temperature, since $e^{-2E/T} = e^{-E/(T/2)}$.
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
# Let us watch the dial turn on a *tilted* double well, $E(x) = 2\,(x^2 - 1)^2 + x/2$:
# the tilt $x/2$ lowers the left valley and raises the right one.

# %% alt="Left: a tilted double well, deeper near x = -1 than near x = 1. Right: its Boltzmann densities at temperatures 0.25, 0.5, 1, 2 and 4: at low temperature nearly all the mass sits in the deeper left well; as the temperature rises the density flattens and the right well gains mass."
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
# How much more likely is the left valley? The probability $P_T(x < 0)$ is an integral
# of $p_T$ that we compute numerically (Section 1.4 explains how). To *predict* it, look
# at one valley at a time. Near the bottom $x_{\mathrm{L}}$ of the left valley, where
# $E'(x_{\mathrm{L}}) = 0$, a second-order Taylor expansion gives
# $E(x) \approx E(x_{\mathrm{L}}) + \tfrac12 E''(x_{\mathrm{L}})\,(x - x_{\mathrm{L}})^2$,
# and the valley's mass becomes a Gaussian integral (narrow enough, at low temperature,
# that we may extend it over the whole line):
#
# $$
# \int_{x<0} e^{-E(x)/T}\,\mathrm{d}x
# \approx e^{-E(x_{\mathrm{L}})/T} \int_{\mathbb{R}} e^{-E''(x_{\mathrm{L}})\,(x - x_{\mathrm{L}})^2/(2T)}\,\mathrm{d}x
# = e^{-E(x_{\mathrm{L}})/T} \sqrt{\frac{2\pi T}{E''(x_{\mathrm{L}})}} ,
# $$
#
# and the same for the right valley, with its minimum $x_{\mathrm{R}}$. This is
# *Laplace's method* [(MacKay, 2003, chapter 27)](../references.md#mackay2003). The
# Gaussian has standard deviation $\sqrt{T / E''(x_{\mathrm{L}})}$: as $T \to 0$ it
# shrinks onto the minimum, where the quadratic expansion is exact, so the approximation
# improves. Dividing the two masses, with $\Delta E = E(x_{\mathrm{R}}) - E(x_{\mathrm{L}})$,
#
# $$
# \frac{P_T(x < 0)}{P_T(x > 0)} \approx
# \sqrt{\frac{E''(x_{\mathrm{R}})}{E''(x_{\mathrm{L}})}}\; e^{\Delta E / T} .
# $$
#
# The exponential is the depth difference. The square root is a *width factor*: a valley
# with a smaller curvature $E''$ is wider and holds more mass. It does not depend on $T$,
# so it does not fade at low temperature: the depth difference alone, $e^{\Delta E/T}$,
# is off by this factor however cold the system gets.
#
# We find the minima numerically, as one must for most energies: the lowest points of a
# fine grid, refined by a few Newton steps $x \leftarrow x - E'(x)/E''(x)$, with both
# derivatives from automatic differentiation. The table adds two temperatures below those
# of the figure.


# %%
def derivatives(energy, x):
    """E'(x) and E''(x) of a 1-D energy at each point of x, by autograd."""
    x = x.detach().requires_grad_(True)
    (first,) = torch.autograd.grad(energy(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x)
    return first.detach(), second


# the local minima of E on a fine grid, then Newton's method on E'(x) = 0
grid = torch.linspace(-2, 2, 4001, dtype=torch.float64)[:, None]
on_grid = tilted_well.energy(grid)
is_minimum = (on_grid[1:-1] < on_grid[:-2]) & (on_grid[1:-1] < on_grid[2:])
minima = grid[1:-1][is_minimum]  # x_L and x_R, shape (2, 1)
for _ in range(5):
    first, second = derivatives(tilted_well.energy, minima)
    minima = minima - first / second
first, curvature = derivatives(tilted_well.energy, minima)
claims.claim(
    "Newton's method has found the two minima",
    len(minima) == 2 and first.abs().max() < 1e-10 and (curvature > 0).all(),
    largest_derivative=first.abs().max(),
)
x_left, x_right = minima[:, 0].tolist()
energy_left, energy_right = tilted_well.energy(minima).tolist()
depth_gap = energy_right - energy_left  # Delta E
width_factor = math.sqrt(curvature[1].item() / curvature[0].item())


def valley_masses(energy, temperature):
    """Z restricted to x < 0 and to x > 0, by quadrature (Section 1.4)."""
    left = partition.quadrature_partition(
        energy, [(-4.0, 0.0)], 2001, temperature
    )
    right = partition.quadrature_partition(
        energy, [(0.0, 4.0)], 2001, temperature
    )
    return left.value, right.value


table_temperatures = [1 / 16, 1 / 8] + temperatures
rows, odds, to_depth, to_laplace = [], {}, {}, {}
for t in table_temperatures:
    left, right = valley_masses(tilted_well, t)
    odds[t] = left / right
    depth_only = math.exp(depth_gap / t)
    laplace = width_factor * depth_only
    to_depth[t], to_laplace[t] = odds[t] / depth_only, odds[t] / laplace
    p_left = left / (left + right)
    row = [t, p_left, odds[t], depth_only, laplace, to_depth[t], to_laplace[t]]
    rows.append(row)
display.show_table(
    [
        "$T$",
        "$P_T(x<0)$",
        "odds left : right",
        "$e^{\\Delta E/T}$",
        "Laplace prediction",
        "odds / $e^{\\Delta E/T}$",
        "odds / Laplace",
    ],
    rows,
)

# %%
# No randomness here: these claims guard against a change of the energy or of
# the quadrature. Below T = 1/2, each halving of T should about halve the gap
# between the odds and the Laplace prediction (its error is of order T).
cold = [t for t in table_temperatures if t <= 0.5]
gaps = [abs(to_laplace[t] - 1) for t in cold]  # coldest first
claims.claim(
    "the odds approach the Laplace prediction as T decreases",
    all(a < b for a, b in zip(gaps, gaps[1:])) and gaps[0] < 0.005,
    gaps=gaps,
)
claims.claim(
    "each halving of T cuts that gap by about half",
    all(0.3 < a / b < 0.6 for a, b in zip(gaps, gaps[1:])),
    gaps=gaps,
)
claims.claim(
    "the odds divided by exp(Delta E / T) tend to the width factor, not to 1",
    abs(to_depth[cold[0]] - width_factor) < 0.005
    and all(abs(to_depth[t] - 1) > 0.05 for t in cold),
    width_factor=width_factor,
    coldest_ratio=to_depth[cold[0]],
)

claims.claim(
    "the tilt shifts both minima to the left; the right valley is the wider",
    x_left < -1 and x_right < 1 and curvature[1] < curvature[0],
    minima=[x_left, x_right],
    curvatures=curvature.flatten().tolist(),
)
p_cold, p_hot = (odds[t] / (1 + odds[t]) for t in (0.25, 4.0))
claims.claim("at T = 4 the split is close to even", p_hot < 0.6, p=p_hot)

# %% tags=["prose"]
display.prose(
    rf"""
    The left valley's minimum sits at {x_left:.3f} and the right one's at
    {x_right:.3f}, not at $\pm 1$: the tilt shifts both to the left. The depth gap
    $\Delta E$ is {depth_gap:.4f}, and the curvatures $E''$ at the two minima,
    {curvature[0].item():.2f} and {curvature[1].item():.2f}, give a width factor of
    {width_factor:.3f}: the shallower right valley is also the wider one, which wins
    it back some mass.

    At $T = 0.25$ the deeper valley holds {p_cold:.1%} of the probability; at $T = 4$
    it holds {p_hot:.1%}, close to an even split. The last two columns compare the
    odds with the two predictions. Divided by $e^{{\Delta E/T}}$, the odds do not
    approach 1 as the temperature falls: they approach the width factor
    ({to_depth[cold[0]]:.3f} at $T = 1/16$). Divided by the Laplace prediction, they
    do approach 1: the gap is {abs(to_laplace[0.5] - 1):.1%} at $T = 1/2$ and
    {abs(to_laplace[cold[0]] - 1):.2%} at $T = 1/16$, and it roughly halves each time
    $T$ halves, as an error of order $T$ should. At high temperature neither
    prediction has a reason to hold: the valleys are no longer narrow compared with
    the distance between them.
    """
)

# %% [markdown]
# ### Exercise 1.1: the partition function of a Gaussian (derive it, about 5 minutes)
#
# For one kind of valley Laplace's method is exact: a quadratic one. Take the Gaussian
# energy in $d$ dimensions, raised by a constant,
#
# $$
# E(x) = \frac{\lVert x - \mu \rVert^2}{2\sigma^2} + c ,
# $$
#
# and derive its partition function $Z_T$ on paper. Then write your result as a
# function of $\sigma$, $T$, $d$ and $c$: the checker evaluates it at several points
# and, where it differs, names the usual slip. A hint, if you need one: the integrand
# is a product of one factor per coordinate, and the one-dimensional integral is the
# one that Laplace's method computed above.


# %%
def gaussian_partition_function(
    sigma: float, temperature: float, d: int, c: float
) -> float:
    """Z_T of E(x) = ||x - mu||^2 / (2 sigma^2) + c on R^d: your formula."""
    # TODO: your formula here (math.pi, math.exp and ** are all it needs)
    raise NotImplementedError


check_gaussian_partition_function(gaussian_partition_function)

# %% tags=["solution"]
import math

from ebm_book.exercises.ch01_energies import check_gaussian_partition_function


def gaussian_partition_function_solution(
    sigma: float, temperature: float, d: int, c: float
) -> float:
    # exp(-c/T) leaves the integral. The rest is a product of d integrals of a
    # Gaussian of variance sigma^2 T, each sqrt(2 pi sigma^2 T). No mu: the
    # integral over all of R^d does not change when the landscape shifts.
    width = (2 * math.pi * sigma**2 * temperature) ** (d / 2)
    return math.exp(-c / temperature) * width


check_gaussian_partition_function(gaussian_partition_function_solution)

# %% [markdown]
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
# ### Exercise 1.2: Boltzmann probabilities that never overflow (about 3 minutes)
#
# Implement $p_i$ for a 1-D tensor of energies and a temperature, without calling
# `torch.softmax` (use it afterwards to check yourself). The checker tries energies near
# $\pm 1000$.


# %%
def boltzmann_probabilities(
    energies: torch.Tensor, temperature: float
) -> torch.Tensor:
    """The Boltzmann probabilities of states with these energies (a 1-D
    tensor) at this temperature, without overflow or underflow."""
    # TODO: your code here
    raise NotImplementedError


check_boltzmann_probabilities(boltzmann_probabilities)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch01_energies import check_boltzmann_probabilities


def boltzmann_probabilities_solution(
    energies: torch.Tensor, temperature: float
) -> torch.Tensor:
    # Shifting by the minimum energy changes no probability, and keeps exp() in [0, 1].
    weights = torch.exp(-(energies - energies.min()) / temperature)
    return weights / weights.sum()


check_boltzmann_probabilities(boltzmann_probabilities_solution)

# %% [markdown]
# ### Exercise 1.3: a landscape of your own design (build it, about 15 minutes)
#
# Now design a landscape yourself. Write a one-dimensional energy
# `three_well_energy(x)`, from a batch `x` of shape `(N, 1)` to shape `(N,)`, with
#
# 1. **three valleys**: local minima within 0.1 of $x = -2$, $0$ and $2$, and no
#    other on $[-4, 4]$;
# 2. **a depth order**: the left valley the deepest and the right one the shallowest,
#    each minimum at least 0.5 below its right neighbour;
# 3. **barriers of height 3**: the ridge between two neighbouring valleys rises
#    $3 \pm 0.5$ above the shallower of the two minima (the climb out of that valley);
# 4. **walls**: $E(-4)$ and $E(4)$ at least 10 above the lowest minimum, so that
#    $[-4, 4]$ holds essentially all the mass.
#
# Then write `boltzmann_density(energy, x, temperature)`: for any energy and an evenly
# spaced grid `x` of shape `(N, 1)`, the Boltzmann density $p_T$ of Section 1.2 at the
# grid points, with the integral that defines $Z_T$ replaced by a sum over the grid, so
# that the values times the grid spacing sum to 1. Like Exercise 1.2, it must survive
# energies near $\pm 1000$. The checker measures every property on a fine grid and
# tells you which one is off, with the numbers it found: design with its help.
#
# ??? tip "Where to start"
#     Any construction with the four properties passes. A polynomial is one route: a
#     minimum or a ridge is where the derivative vanishes, so choose a derivative that
#     vanishes at the three minima and at two ridges between them. A periodic function
#     plus walls is another. A tilt orders the depths, as in Section 1.2.


# %%
def three_well_energy(x: torch.Tensor) -> torch.Tensor:
    """Your three-valley energy: x of shape (N, 1) -> shape (N,)."""
    # TODO: your design here
    raise NotImplementedError


def boltzmann_density(
    energy, x: torch.Tensor, temperature: float
) -> torch.Tensor:
    """p_T of `energy` at the points of the even grid x (shape (N, 1)),
    normalized on that grid; shape (N,)."""
    # TODO: your code here
    raise NotImplementedError


built = check_three_well(three_well_energy, boltzmann_density)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch01_energies import check_three_well


def three_well_energy_solution(x: torch.Tensor) -> torch.Tensor:
    x = x[:, 0]
    # x^2 (x^2 - 4)^2 vanishes at 0 and +-2 and peaks at +-2/sqrt(3), with
    # height 256/27: rescaled, three equal valleys with barriers of height 1.
    valleys = 27 / 256 * x**2 * (x**2 - 4) ** 2
    # The tilt 0.3 x makes the depths -0.6, 0, 0.6, and lowers the barriers
    # seen from the shallower side by 0.3 * 1.15 and 0.3 * 0.85: with a height
    # of 3.3 before the tilt, they end near 2.95 and 3.05.
    return 3.3 * valleys + 0.3 * x


def boltzmann_density_solution(
    energy, x: torch.Tensor, temperature: float
) -> torch.Tensor:
    log_weights = -energy(x) / temperature
    # Shifting by the largest log-weight keeps exp() in [0, 1] and cancels
    # in the normalization.
    weights = torch.exp(log_weights - log_weights.max())
    spacing = x[1, 0] - x[0, 0]
    return weights / (weights.sum() * spacing)


check_three_well(three_well_energy_solution, boltzmann_density_solution)

# %% [markdown]
# Here is the landscape at two temperatures: yours if it passed the checker, the
# reference solution's otherwise.

# %% alt="Left: the reference solution's three-valley energy: minima near x = -2, 0 and 2, the left one lowest and the right one highest, separated by two barriers about 3 high, with steep walls beyond. Right: its Boltzmann densities at T = 1 and T = 1/4. At T = 1 all three valleys carry visible mass, the wide middle one the most; at T = 1/4 most of the mass sits in the deepest, left valley, and the right valley's bump has almost vanished."
energy_fn, density_fn = (
    (three_well_energy, boltzmann_density)
    if built
    else (three_well_energy_solution, boltzmann_density_solution)
)
x_grid = torch.linspace(-4, 4, 801, dtype=torch.float64)[:, None]
fig, (ax_energy, ax_density) = plt.subplots(1, 2, figsize=(10, 3.6))
plotting.plot_energy_1d(energy_fn, xlim=(-3.2, 3.2), ax=ax_energy, color="k")
ax_energy.set(ylim=(-1, 6), title="Three valleys $E(x)$")
for temperature in (1.0, 0.25):
    density = density_fn(energy_fn, x_grid, temperature)
    (line,) = ax_density.plot(
        x_grid[:, 0], density, label=f"$T = {temperature:g}$"
    )
    ax_density.fill_between(
        x_grid[:, 0], density, alpha=0.15, color=line.get_color()
    )
ax_density.set(
    xlim=(-3.2, 3.2), xlabel="$x$", title="Boltzmann densities $p_T(x)$"
)
ax_density.legend()
plt.show()

# %% [markdown]
# What does cooling from $T = 1$ to $T = 1/4$ do to the mass in the shallow right
# valley? Predict it before you run the next cell: by Section 1.2's Laplace argument,
# by what factor should the odds right : left change?

# %%
# Each valley is the part of the line nearer to its minimum than to the others.
valley = torch.bucketize(x_grid[:, 0], torch.tensor([-1.0, 1.0]).double())
spacing = (x_grid[1, 0] - x_grid[0, 0]).item()
mass = {}  # mass[T][k]: the probability of valley k (left, middle, right)
for t in (1.0, 0.25):
    cell_mass = density_fn(energy_fn, x_grid, t) * spacing
    mass[t] = [cell_mass[valley == k].sum().item() for k in range(3)]
display.show_table(
    ["$T$", "left valley", "middle valley", "right valley"],
    [[t] + masses for t, masses in mass.items()],
)

# %%
on_grid = energy_fn(x_grid).detach()
gap = on_grid[valley == 2].min().item() - on_grid[valley == 0].min().item()
odds_change = (mass[0.25][2] / mass[0.25][0]) / (mass[1.0][2] / mass[1.0][0])
predicted_change = math.exp(-gap * (1 / 0.25 - 1 / 1.0))
# The reference landscape is the one the figure's description describes.
if not built:
    claims.claim(
        "at T = 1 the middle valley holds the most mass; at T = 1/4 the left one"
        " holds most of it, and the right one almost none",
        max(mass[1.0]) == mass[1.0][1]
        and mass[0.25][0] > 0.5
        and mass[0.25][2] < 0.01,
        mass=mass,
    )
    claims.claim(
        "Laplace's method predicts the change of the odds within 5%",
        abs(odds_change / predicted_change - 1) < 0.05,
        measured=odds_change,
        predicted=predicted_change,
    )

# %% tags=["prose"]
display.prose(
    rf"""
    Cooling from $T = 1$ to $T = 1/4$ takes the right valley's share of the mass from
    {mass[1.0][2]:.1%} to {mass[0.25][2]:.2%}, and multiplies the odds right : left by
    {odds_change:.3g}. Laplace's method predicts this factor without an integral. The
    odds are a width factor times $e^{{-\Delta E/T}}$, with $\Delta E$ = {gap:.3f}
    the depth gap between the right and the left minima; the width factor does not
    depend on $T$, so it cancels from the change, which is
    $e^{{-\Delta E\,(4 - 1)}}$ = {predicted_change:.3g}. Width matters at each
    temperature; how fast a shallow valley empties as the system cools is set by depth
    alone.
    """
)

# %% [markdown]
# ## 1.3 Energy landscapes in two dimensions
#
# In two dimensions we can draw an energy three ways: as a **contour map** (valleys dark),
# as a **3-D surface**, and through its **density** $e^{-E}/Z$. We use four landscapes
# that recur throughout the book:
#
# - a **Gaussian mixture** with three unequal modes, $E(x) = -\log \sum_k \pi_k \mathcal{N}(x; \mu_k, \Sigma_k)$
#   (the book's running example, `examples.example_mixture()`: weights 0.5, 0.3 and 0.2);
# - a **ring** of radius $R$ and width $\omega$, $E(x) = (\lVert x\rVert - R)^2 / (2\omega^2)$,
#   whose minimum is a whole circle;
# - a **banana** of scale $\ell$ and curvature $\kappa$, a Gaussian bent along a parabola,
#   $E(x) = \frac{x_1^2}{2\ell^2} + \frac12\big(x_2 - \kappa\,(x_1^2 - \ell^2)\big)^2$;
# - a **double well** in $x_1$ times a Gaussian in $x_2$.

# %% alt="Four two-dimensional energies (a three-component Gaussian mixture, a ring, a banana and a double well), each drawn three ways: as a filled contour map, as a 3-D surface and as its density. Wherever the energy is low, the density is high."
# The running example (weights 0.5, 0.3, 0.2, tilted covariances), a ring,
# a banana and a double well; their parameters are in the API reference.
landscapes_2d = examples.example_landscapes()
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
# exact samples and check that they land where the density says. The fraction of the $n$
# samples in each component should match the weights $\pi_k = (0.5, 0.3, 0.2)$ within a
# few binomial standard errors $\sqrt{\pi_k(1-\pi_k)/n}$:

# %% alt="Filled contour map of the three-mode mixture density with 4000 exact samples on top: the points fill the three modes, most densely the heaviest one at the lower left."
n_samples = 4000
samples = mixture.sample(n_samples, generator=seeds.generator(1))
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
        f"component {k}: weight {weight:.2f}, "
        f"fraction of samples {fraction:.3f} ± {stderr:.3f}"
    )
    # Three standard errors: a fraction misses by more with probability 0.3%.
    claims.claim(
        "the fractions match the weights within three standard errors",
        abs(fraction - weight) < 3 * stderr,
        component=k,
        fraction=fraction,
        weight=weight,
        standard_error=stderr,
    )

# A sample goes to its most responsible component. The mean responsibility of
# component k has expectation exactly pi_k, so the difference between the two
# is the mass that the hard assignment shifts where the components overlap.
responsibilities = torch.softmax(mixture.component_log_probs(samples), dim=1)
shift = (fractions - responsibilities.mean(dim=0)).abs().max().item()
smallest_stderr = math.sqrt(0.2 * 0.8 / n_samples)
# The shift is about 0.002 (the overlap is small), with a sampling spread of
# about 0.001; one standard error of the fractions, 0.006, is far above both.
claims.claim(
    "the assignment shifts less mass than one standard error",
    shift < smallest_stderr,
    shift=shift,
    standard_error=smallest_stderr,
)

# %% tags=["prose"]
display.prose(
    f"""
    A sample is attributed to its most responsible component, which shifts a little
    mass where the components overlap: here at most {shift:.1%} of it, less than one
    standard error.
    """
)

# %% [markdown]
# ## 1.4 Why the partition function is intractable
#
# Everything so far leaned on being able to normalize: the densities above were divided
# by $Z$. For a handful of energies $Z_T$ has a closed form:
#
# - the Gaussian energy $\tfrac12 (x-\mu)^\top\Sigma^{-1}(x-\mu)$ has $Z_T = (2\pi T)^{d/2}\lvert\Sigma\rvert^{1/2}$;
# - the banana has $Z_T = 2\pi \ell T$, because un-bending it is a change of variables with
#   unit Jacobian: $(x_1, x_2) \mapsto \big(x_1,\, x_2 - \kappa\,(x_1^2 - \ell^2)\big)$
#   turns it into a Gaussian with standard deviations $\ell\sqrt T$ and $\sqrt T$;
# - the ring has a closed form in polar coordinates (see `energies.Ring`).
#
# For a neural-network energy there is none. We are left with numerical integration, and
# that is where the trouble starts.
#
# ### Quadrature: exact in low dimension, exponential in high dimension
#
# The trapezoidal rule on a grid of $m$ points per axis approximates $Z_T$ by a weighted
# sum of $e^{-E/T}$ over the $m^d$ grid nodes. In two dimensions it is superb:

# %%
bounds = {
    "ring": [(-5, 5), (-5, 5)],
    "banana": [(-7, 7), (-8, 30)],
}  # boxes holding the mass
rows, errors = [], {}
for name in ("ring", "banana"):  # Z known exactly
    energy = landscapes_2d[name]
    exact = math.exp(energy.log_partition())
    for m in (11, 21, 41, 81):
        estimate = partition.quadrature_partition(
            energy, bounds[name], n_per_axis=m
        )
        errors[name, m] = abs(estimate.relative_error(exact))
        rows.append(
            [
                name,
                m,
                estimate.n_evaluations,
                exact,
                estimate.value,
                errors[name, m],
            ]
        )
display.show_table(
    [
        "energy",
        "$m$ per axis",
        "evaluations $m^2$",
        "exact $Z$",
        "quadrature $\\hat Z$",
        "relative error",
    ],
    rows,
)

# %% [markdown]
# The banana's error stops falling between 41 and 81 points, far above the ring's. The
# rule is not to blame: it integrates over the box, and the box leaves out some mass.
# Un-bent, the banana's $x_1$ is Gaussian with standard deviation $\ell$, so the mass
# beyond $\lvert x_1\rvert = 7$ is a fraction $\operatorname{erfc}\!\big(7/(\ell\sqrt2)\big)$
# of $Z$. A larger box settles it:

# %%
banana = landscapes_2d["banana"]
banana_z = math.exp(banana.log_partition())
outside = math.erfc(7 / (banana.scale * math.sqrt(2)))  # mass at |x_1| > 7
larger_box = [(-10, 10), (-8, 62)]  # x_2 follows the parabola up
larger = partition.quadrature_partition(banana, larger_box, n_per_axis=81)
larger_error = abs(larger.relative_error(banana_z))
print(f"mass outside the box: {outside:.2g} of Z")
print(
    f"81 points per axis on the larger box: relative error {larger_error:.1g}"
)
# Deterministic: these guard against a change of the energies or of the rule.
claims.claim(
    "the ring's error is below 1e-11 from 41 points per axis on",
    errors["ring", 41] < 1e-11 and errors["ring", 81] < 1e-11,
    error_41=errors["ring", 41],
    error_81=errors["ring", 81],
)
claims.claim(
    "the banana's error stops falling, at the mass outside the box",
    errors["banana", 81] > 0.5 * errors["banana", 41]
    and 1.0 < errors["banana", 81] / outside < 1.2,
    error_81=errors["banana", 81],
    outside=outside,
)
claims.claim(
    "on the larger box the same rule is a thousand times more accurate",
    larger_error < errors["banana", 81] / 1000,
    larger_error=larger_error,
)

# %% tags=["prose"]
display.prose(
    rf"""
    For the ring, 41 points per axis already bring the error below $10^{{-11}}$. The
    banana's error stops at {errors["banana", 81]:.1e} with 81 points: not round-off,
    but truncation. With the scale $\ell$ at {banana.scale}, a fraction
    {outside:.1e} of the banana's mass lies at $\lvert x_1\rvert > 7$, outside the
    box, and that accounts for almost all of the error. On the larger box
    $[-10, 10] \times [-8, 62]$ the same 81-point rule errs by only
    {larger_error:.0e}. Quadrature is only as good as its box: the box must hold the
    mass, and in two dimensions that is easy to arrange.
    """
)

# %% [markdown]
# But a grid with $m$ points per axis in $d$ dimensions has $m^d$ nodes. How long would
# that take? We measure how many energy evaluations per second this machine manages on a
# simple energy, and extrapolate:


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
display.show_table(["dimension $d$", "grid nodes ($m = 100$)", "time"], rows)

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
# resembles the target, and weighting each sample by $w_i = e^{-E(x_i)/T}/q(x_i)$
# [(Owen, 2013)](../references.md#owen2013):
#
# $$
# \hat Z = \frac1n \sum_{i=1}^n \frac{e^{-E(x_i)/T}}{q(x_i)}, \qquad x_i \sim q,
# \qquad \mathbb{E}_q[\hat Z] = \int q(x) \frac{e^{-E(x)/T}}{q(x)}\,\mathrm{d}x = Z_T .
# $$
#
# If $q$ were exactly $p_T$, every weight would equal $Z_T$ and one sample would do. A
# proposal only slightly off, say $\mathcal{N}(0, 1.2^2 I)$ for the target
# $\mathcal{N}(0, I)$, gives weights whose relative variance
# $\operatorname{Var}_q(w_i)/Z_T^2 = \int p_T^2/q\,\mathrm{d}x - 1$ is
# $\big(1.44/\sqrt{1.88}\big)^{d} - 1 \approx 1.05^d - 1$ (a Gaussian integral, one
# coordinate at a time). Since $\hat Z$ is a mean of $n$ independent weights, its exact
# relative standard deviation is
#
# $$
# \frac{\sqrt{\operatorname{Var}(\hat Z)}}{Z_T}
# = \sqrt{\frac{\big(1.44/\sqrt{1.88}\big)^{d} - 1}{n}} :
# $$
#
# harmless in 2-D, and a catastrophe in a few hundred dimensions, where a handful of
# samples carry almost all the weight.
#
# We measure both estimators on the standard Gaussian energy, whose $Z = (2\pi)^{d/2}$ is
# known in every dimension, with $n = 10^4$ samples and 20 independent repetitions per
# dimension. The error we report is the root-mean-square relative error of $\hat Z$ over
# the repetitions. In the table, MC is uniform Monte Carlo and IS importance sampling;
# "reported SE" is the relative standard error that importance sampling reports about
# itself, from the spread of its own weights; "exact SD" is the relative standard
# deviation of the formula above; ESS is the effective sample size
# $(\sum_i w_i)^2/\sum_i w_i^2$ (out of $10^4$); "misses" counts the repetitions whose
# $\hat Z$ lies more than two reported standard errors from $Z$. The reported SE and the
# ESS are averages over the repetitions.


# %%
def compare_estimators(
    dims, n_samples=10_000, repeats=20, proposal_scale=1.2, seed=0
):
    generator = seeds.generator(seed)
    # E_q[w^2] / Z^2 for one coordinate: 1.44 / sqrt(1.88) for the scale 1.2
    per_axis = proposal_scale**2 / math.sqrt(2 * proposal_scale**2 - 1)
    results = []
    for d in dims:
        exact_z = math.exp(0.5 * d * math.log(2 * math.pi))
        proposal = energies.Gaussian(torch.zeros(d), cov=proposal_scale**2)
        box = [(-5, 5)] * d
        mc = [
            partition.monte_carlo_partition(
                standard_gaussian_energy, box, n_samples, generator=generator
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
        mc_errors = torch.tensor([e.relative_error(exact_z) for e in mc])
        is_errors = torch.tensor([e.relative_error(exact_z) for e in imp])
        reported = torch.tensor([e.relative_std_error for e in imp])
        # hat Z / Z = 1 + error, so the reported SE relative to Z is
        # reported * (1 + error)
        misses = is_errors.abs() > 2 * reported * (1 + is_errors)
        results.append(
            {
                "d": d,
                "mc_error": mc_errors.pow(2).mean().sqrt().item(),
                "is_error": is_errors.pow(2).mean().sqrt().item(),
                "is_reported": reported.mean().item(),
                "is_exact": math.sqrt((per_axis**d - 1) / n_samples),
                "is_ess": sum(e.effective_sample_size for e in imp) / repeats,
                "is_misses": int(misses.sum()),
                "is_below": int((is_errors < 0).sum()),
            }
        )
    return results


dims = [1, 2, 5, 10, 20, 50, 100, 200, 400]
results = compare_estimators(dims)
columns = ["mc_error", "is_error", "is_reported", "is_exact", "is_ess"]
display.show_table(
    [
        "$d$",
        "MC error",
        "IS error",
        "IS reported SE",
        "IS exact SD",
        "IS ESS",
        "IS misses (of 20)",
    ],
    [[r["d"]] + [r[c] for c in columns] + [r["is_misses"]] for r in results],
)

# %% alt="Log-log plot of the relative error of the estimated partition function against the dimension d, with 10^4 samples and 20 repetitions per dimension. Uniform Monte Carlo is off by a few percent in one and two dimensions and by 100 percent from d = 50 on. Importance sampling with a Gaussian proposal stays well below it up to d = 100, then grows to errors of tens of percent or more at d = 400. The standard error that importance sampling reports (dotted) matches the exact standard deviation of its estimate (dashed, from the formula) up to d = 50 and falls far below it from d = 200 on, where the exact standard deviation climbs past 1, and past 100 at d = 400."
fig, ax = plt.subplots(figsize=(6.5, 4.2))
series = [
    ("mc_error", "o-", "C0", "uniform Monte Carlo in $[-5, 5]^d$"),
    (
        "is_error",
        "s-",
        "C1",
        "importance sampling, $q = \\mathcal{N}(0, 1.2^2 I)$",
    ),
    ("is_reported", "s:", "C1", "importance sampling, reported std. error"),
    ("is_exact", "^--", "C2", "importance sampling, exact std. deviation"),
]
for key, style, color, label in series:
    ax.loglog(dims, [r[key] for r in results], style, color=color, label=label)
ax.axhline(1.0, color="gray", lw=1, ls="-.")
ax.text(1.1, 1.25, "100% error", color="gray")
ax.set(
    xlabel="dimension $d$",
    ylabel="relative error of $\\hat Z$",
    title="Estimating $Z$ with $10^4$ samples",
)
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %%
by_dim = {r["d"]: r for r in results}
low = [r for r in results if r["d"] <= 50]
high = [r for r in results if r["d"] >= 200]
d400 = by_dim[400]
# Margins. MC's relative SD at d = 1, 2 is 1.3% and 2.6% (the formula above
# with q uniform on the box); the RMS of 20 repeats varies by about 16%, so 5%
# is far out of reach. From d = 50 on, no sample reaches the mass, and every
# MC estimate is about 0. IS's RMS error at d <= 100 stays below 0.2.
claims.claim(
    "uniform Monte Carlo is off by a few percent in one and two dimensions",
    by_dim[1]["mc_error"] < 0.05 and by_dim[2]["mc_error"] < 0.05,
    error_d1=by_dim[1]["mc_error"],
    error_d2=by_dim[2]["mc_error"],
)
claims.claim(
    "uniform Monte Carlo is off by tens of percent or more at d = 10",
    by_dim[10]["mc_error"] > 0.3,
    error=by_dim[10]["mc_error"],
)
claims.claim(
    "uniform Monte Carlo is off by 100 percent from d = 50 on",
    all(abs(r["mc_error"] - 1) < 0.01 for r in results if r["d"] >= 50),
)
claims.claim(
    "importance sampling stays well below uniform Monte Carlo up to d = 100",
    all(2 * r["is_error"] < r["mc_error"] for r in results if r["d"] <= 100),
)
claims.claim(
    "importance sampling is off by tens of percent or more at d = 400",
    d400["is_error"] > 0.2,
    error=d400["is_error"],
)
# Over 40 seed shifts, the reported SE (a mean of 20) stayed within 5% of the
# exact SD up to d = 50, and below 0.36 at d = 200 and 0.6 at d = 400.
claims.claim(
    "the reported SE matches the exact SD up to d = 50",
    all(abs(r["is_reported"] / r["is_exact"] - 1) < 0.1 for r in low),
    ratios=[round(r["is_reported"] / r["is_exact"], 3) for r in low],
)
claims.claim(
    "the reported SE falls far below the exact SD from d = 200 on",
    all(r["is_reported"] < r["is_exact"] / 2 for r in high)
    and by_dim[200]["is_exact"] > 1
    and d400["is_exact"] > 100,
    reported=[r["is_reported"] for r in high],
    exact=[r["is_exact"] for r in high],
)
claims.claim("the ESS at d = 400 is a handful", d400["is_ess"] < 10)
# Per repeat at d = 400 (760 simulated repeats), an estimate falls below Z
# with probability 0.9 and misses Z by two reported SEs with probability 0.79.
# Of 20 repeats, 11 or more then fall below and 5 or more miss, except with
# probability under 1e-3. (With honest error bars a miss has probability
# 0.05, and 5 or more misses of 20 would have probability 0.003.)
claims.claim(
    "most estimates at d = 400 fall below Z",
    d400["is_below"] >= 11,
    below=d400["is_below"],
)
claims.claim(
    "many estimates at d = 400 miss Z by more than two reported SEs",
    d400["is_misses"] >= 5,
    misses=d400["is_misses"],
)
# An RMS error of 181 over 20 repeats needs one weight above 8e6 Z, which a
# chi-square tail bound puts at probability about 1e-3 in 2e5 draws.
claims.claim(
    "the errors of 20 repetitions at d = 400 stay below the exact SD",
    d400["is_error"] < d400["is_exact"],
    error=d400["is_error"],
    exact=d400["is_exact"],
)

# %% tags=["prose"]
display.prose(
    rf"""
    Read the figure from left to right. Uniform Monte Carlo is off by
    {by_dim[2]["mc_error"]:.1%} at $d = 2$, and by {by_dim[10]["mc_error"]:.0%} at
    $d = 10$, where almost no sample lands where the mass is and the estimate hangs
    on a few lucky ones. From $d = 50$ on, none does: $\hat Z$ comes out near zero,
    an error of 100%.

    Importance sampling with a good proposal survives much longer, but its exact
    relative standard deviation (dashed) grows exponentially, as the formula says:
    {by_dim[50]["is_exact"]:.1%} at $d = 50$, {by_dim[200]["is_exact"]:.0%} at
    $d = 200$, {d400["is_exact"]:,.0%} at $d = 400$. Worse, the estimator stops
    knowing it. Up to $d = 50$ the standard error it reports (dotted) matches the
    exact one; from $d = 200$ on it falls far below. At $d = 400$ it reports a
    relative standard error of {d400["is_reported"]:.0%}, from an effective sample
    size of {d400["is_ess"]:.1f} out of $10^4$. The repetitions show what that
    means: at $d = 400$, {d400["is_below"]} of the 20 estimates fall below $Z$, and
    {d400["is_misses"]} lie more than two of their own reported standard errors
    from $Z$, where honest error bars would miss by that much about once in 20.

    The weights are dominated by a few samples, and the sample variance of the
    weights cannot see the rare, huge weights that have not been drawn yet. Those are
    what make the exact standard deviation so large, and they are too rare to show
    up even in 20 repetitions: the actual errors at $d = 400$ (solid) stay below the
    exact standard deviation too. The effective sample size
    $(\sum_i w_i)^2/\sum_i w_i^2$ is the honest warning light.
    """
)

# %% [markdown]
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
# ### Exercise 1.4: an importance-sampling estimate of $Z$ (about 4 minutes)
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

from ebm_book.exercises.ch01_energies import check_importance_sampling


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
# ### Exercise 1.5: an error bar that lies (diagnose it, about 4 minutes)
#
# A colleague needs $Z$ for an energy in $d = 10$ dimensions, far beyond quadrature.
# They build a proposal with Section 1.2's idea: descend the energy from the origin to a
# minimum, fit the Gaussian of Laplace's method there, and widen its standard deviations
# by a factor 1.2 for safety. Then they run importance sampling with $n = 10^4$, five
# times, with different seeds. We know what they do not: their energy is $E = -\log p$
# for a mixture of two Gaussians with weights 0.7 and 0.3, centred at $x_1 = -3$ and
# $x_1 = 3$, so $Z = 1$.


# %%
d = 10
offset = torch.zeros(d)
offset[0] = 3.0
two_valleys = mixtures.GaussianMixture(
    means=torch.stack([-offset, offset]), covs=0.5**2, weights=[0.7, 0.3]
)


def laplace_proposal(energy, start, widen=1.2, steps=100, step_size=0.1):
    """The Gaussian of Laplace's method at the minimum that gradient descent
    reaches from start, its standard deviations widened by the factor widen."""

    def energy_at(point):
        return energy(point[None])[0]

    x = start.clone()
    for _ in range(steps):
        x = x - step_size * torch.autograd.functional.jacobian(energy_at, x)
    hessian = torch.autograd.functional.hessian(energy_at, x)
    return energies.Gaussian(x, cov=widen**2 * torch.linalg.inv(hessian))


proposal = laplace_proposal(two_valleys, start=torch.zeros(d))
runs = [
    partition.importance_sampling_partition(
        two_valleys, proposal, 10_000, generator=seeds.generator(2 + k)
    )
    for k in range(5)
]
estimates = torch.tensor([r.value for r in runs])
reported = torch.tensor([r.relative_std_error for r in runs])
ess = torch.tensor([r.effective_sample_size for r in runs])
misses = (1 - estimates) / (reported * estimates)  # distance to Z in SEs
display.show_table(
    [
        "run",
        "$\\hat Z$",
        "reported relative SE",
        "ESS",
        "$Z - \\hat Z$ in SEs",
    ],
    [
        [k + 1, *row]
        for k, row in enumerate(zip(estimates, reported, ess, misses))
    ],
)

# %%
claims.claim(
    "the descent from the origin ends in the deeper valley",
    abs(proposal.mean[0].item() + 3) < 0.01,
    mean=proposal.mean[0],
)
# Over 2000 runs: Z-hat within 0.68-0.72 (SD 0.006), SE below 0.0082, ESS
# above 6000, misses above 49 SEs; a sample near the other valley, 8 proposal
# SDs away, has probability below 1e-15 per draw.
claims.claim(
    "the five runs agree on about 0.7; each misses Z by dozens of reported"
    " standard errors, with an ESS above half of n",
    ((estimates - 0.7).abs() < 0.05).all()
    and (misses > 24).all()
    and (ess > 5000).all(),
    estimates=estimates,
    misses=misses,
    ess=ess,
)

# %% [markdown]
# The five runs agree with one another, with small error bars and an ESS of more than
# half of the $10^4$ samples, and every one of them misses $Z = 1$ by dozens of its own
# standard errors. What went wrong?
#
# - **(a)** Nothing systematic: it is bad luck, and another seed would do better.
# - **(b)** The proposal covers only the valley where the descent ended: $\hat Z$ is
#   that valley's mass, and the standard error and the ESS, computed from the samples
#   drawn, cannot see a valley that no sample reached.
# - **(c)** $n$ is too small: with 100 times more samples the estimate would approach
#   $Z$.
# - **(d)** The weights overflowed: the estimate should be computed in log space.

# %%
answer = None  # "a", "b", "c" or "d"
check_error_bar_diagnosis(answer)

# %% tags=["solution"]
from ebm_book.exercises.ch01_energies import check_error_bar_diagnosis

answer = "b"  # one valley never sampled: no statistic of the samples sees it
check_error_bar_diagnosis(answer)

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
# ??? question "3. At $d = 400$, importance sampling reported a standard error far below the exact standard deviation of its estimate, and many of its estimates missed $Z$ by more than two reported standard errors. How can an unbiased estimator mislead like this, and what would you check?"
#     $\hat Z$ is unbiased, but its distribution is extremely skewed: almost all of its
#     mean comes from rare samples with enormous weights. With $10^4$ samples we usually
#     have not drawn any of them, so both $\hat Z$ and its sample variance come out too
#     small (most of the 20 estimates at $d = 400$ fell below $Z$). Check the effective
#     sample size (here a handful out of $10^4$), the largest normalized weight, or
#     repeat the estimate with independent seeds and look at the spread: estimates that
#     disagree by far more than their error bars are a warning.
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
# - At low temperature a valley's mass is about $e^{-E/T}$ at its minimum times
#   $\sqrt{2\pi T/E''}$ (Laplace's method): depth sets the odds between valleys, and
#   width corrects them by a factor that does not fade as $T \to 0$.
# - The partition function $Z_T$ is known in closed form only for special energies.
#   Quadrature costs $m^d$ evaluations; uniform Monte Carlo fails by $d \approx 10$;
#   importance sampling fails later but just as surely, and its error bars fail with it.
#   No statistic of the samples, not even the ESS, can see a valley the proposal never
#   visits.
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
#   chapters 27 (Laplace's method) and 29 (Monte Carlo methods). Cambridge University Press.
# - A. B. Owen (2013). *Monte Carlo theory, methods and examples*, chapter 9 (importance sampling).
# - Y. Song, D. P. Kingma (2021). *How to train your energy-based models.* arXiv:2101.03288.
#
# The full bibliography is on the [references page](../references.md).
