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
# # 6. Diffusion models and score SDEs
#
# !!! abstract "In this chapter"
#     **Time:** about 90 minutes: about 55 of reading and running the code, about 35 of exercises.
#
#     **You will learn to**
#
#     - write a forward noising process as a stochastic differential equation, derive the marginals of the variance-exploding and variance-preserving processes, and recognise DDPM's chain as a discretisation of the second;
#     - derive the reverse-time SDE and the probability-flow ODE from the Fokker–Planck equation of Chapter 2, with the direction of time explicit;
#     - train a DDPM noise-prediction network, relate its loss $J_{\text{simple}}$ to the multi-noise loss of Chapter 4 exactly, and move between its three equivalent targets: the noise, the clean point and the score;
#     - write DDIM yourself, and run six samplers that are written once for every process; read a scoreboard of their quality against the number of score evaluations, with exact and with learned scores;
#     - compute exact log-likelihoods with the probability-flow ODE, with an exact and a Hutchinson divergence;
#     - steer a model towards a class with classifier-free guidance, and explain guidance as a product of distributions;
#     - diagnose a sampler that was started from the wrong prior.
#
#     **You need** [Chapter 2](02_score_and_langevin.py) (Langevin dynamics and the Fokker–Planck equation), [Chapter 3](03_score_matching.py) (denoising score matching, noise prediction, Tweedie's formula, Hutchinson's trace estimator) and [Chapter 4](04_annealed_langevin.py) (noise-conditional scores and annealed Langevin dynamics; its Section 4.6 previews this chapter).
#
# Chapter 4 trained one network on ten noise levels and sampled it by walking down the
# levels. Diffusion models take the number of levels to infinity: noise is added
# *continuously in time*, by a stochastic differential equation, and samples come from
# running that equation backwards. This chapter derives the backward equations from
# what the book already has, trains a diffusion model on the CPU, and measures its
# samplers and its likelihoods.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ebm_book import (
    claims,
    ddpm,
    diffusion,
    display,
    examples,
    flow,
    guidance,
    metrics,
    mixtures,
    nets,
    noise,
    plotting,
    processes,
    seeds,
    training,
)
from ebm_book.exercises.ch06_diffusion import (
    check_ddim,
    check_flow_velocity,
    check_wrong_prior,
)

plotting.use_book_style()
seeds.manual_seed(0)  # the random initial weights of the networks

# %% [markdown]
# ## 6.1 Forward processes: noise as a stochastic differential equation
#
# Let time $t$ run from 0 to 1, with the data at $t = 0$ and pure noise at $t = 1$. A
# **forward process** adds noise continuously, as the stochastic differential equation
#
# $$
# \mathrm{d}x = f(x, t)\,\mathrm{d}t + g(t)\,\mathrm{d}W_t ,
# \tag{6.1}
# $$
#
# run forward in time. Over a small step $\Delta t > 0$ it moves $x$ by the **drift**
# $f(x, t)\,\Delta t$ and adds Gaussian noise of variance $g(t)^2\,\Delta t$ in every
# coordinate: $g$ is the **diffusion coefficient**, and $W_t$ the Brownian motion of
# Chapter 2. Start it from the data, $x_0 \sim p$, and write $p_t$ for the density of
# $x_t$ at time $t$. Two choices of $f$ and $g$ give the two families of diffusion
# models.
#
# **Variance exploding (VE).** No drift, $f = 0$, and $g(t)^2 = \mathrm{d}[\sigma(t)^2]/\mathrm{d}t$:
# the data stay where they are while noise piles up, and
# $x_t = x_0 + \sigma(t)\, z$ with $z \sim \mathcal{N}(0, I)$. With the geometric
# schedule $\sigma(t) = \sigma_{\min}\,(\sigma_{\max}/\sigma_{\min})^t$ this is Chapter 4's
# sequence of levels made continuous: $p_t$ is the blurred density $p_\sigma$ at
# $\sigma = \sigma(t)$, and $\sigma_{\max}$ is chosen, like $\sigma_1$, near the largest
# distance between data points (technique 1). (The process starts at $t = 0$ from the
# data blurred by the small $\sigma_{\min}$; it stays so small that we still call that
# the data.)
#
# **Variance preserving (VP).** The drift pulls every point towards the origin while
# noise is added: $f(x, t) = -\tfrac12 \beta(t)\, x$ and $g(t) = \sqrt{\beta(t)}$, with a
# rate $\beta(t)$ that grows linearly from $\beta_{\min}$ to $\beta_{\max}$. Given $x_0$,
# one step maps $x$ to $(1 - \tfrac12\beta\Delta t)\,x + \sqrt{\beta\Delta t}\,z$. Its mean
# therefore obeys $\mathrm{d}\,\mathbb{E}[x]/\mathrm{d}t = -\tfrac12\beta(t)\,\mathbb{E}[x]$,
# and the variance $v$ of its noise goes from $v$ to
# $(1 - \tfrac12\beta\Delta t)^2 v + \beta\Delta t = v + \beta\Delta t\,(1 - v) + O(\Delta t^2)$,
# so $\mathrm{d}v/\mathrm{d}t = \beta(t)(1 - v)$ with $v = 0$ at $t = 0$. Both equations
# are solved by one function, the signal fraction
#
# $$
# \bar\alpha(t) = \exp\Big(-\int_0^t \beta\Big),
# \qquad
# x_t = \sqrt{\bar\alpha(t)}\; x_0 + \sigma(t)\, z ,
# \qquad
# \sigma(t)^2 = 1 - \bar\alpha(t) .
# \tag{6.2}
# $$
#
# The data shrink by
# $\sqrt{\bar\alpha(t)}$ while the noise grows, and data of unit variance keep unit
# variance: hence the name. At $t = 1$, with $\beta_{\min} = 0.1$ and $\beta_{\max} = 20$
# (the values of [Song et al., 2021](../references.md#song2021)),
# $\bar\alpha = e^{-10.05} \approx 4 \times 10^{-5}$: whatever the data, $p_t$ is then
# almost exactly $\mathcal{N}(0, I)$.
#
# Both processes have the form (6.2), VE with $\bar\alpha(t) = 1$:
#
# | process | $\sqrt{\bar\alpha(t)}$ | $\sigma(t)$ | $f(x, t)$ | $g(t)^2$ | $p_t$ at $t = 1$ |
# |---|---|---|---|---|---|
# | VE (NCSN, Chapter 4) | $1$ | $\sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t$ | $0$ | $\mathrm{d}[\sigma^2]/\mathrm{d}t$ | $\approx\mathcal{N}(0, \sigma_{\max}^2 I)$ |
# | VP (DDPM) | $e^{-\frac12\int_0^t \beta}$ | $\sqrt{1 - \bar\alpha(t)}$ | $-\tfrac12\beta(t)\,x$ | $\beta(t)$ | $\approx\mathcal{N}(0, I)$ |
#
# In the package both are a `NoiseProcess` (`ebm_book.processes`), in the way the `SDE`
# class of Song et al.'s code carries a process: each supplies $\sqrt{\bar\alpha(t)}$ and
# $\sigma(t)$, and the drift, the diffusion coefficient, the marginals, the prior and
# the exact transitions between two times follow from them once, for every process.
# Every sampler of this chapter is written once against that class.
#
# We run both processes forward on Chapters 1–3's running example, the mixture of three
# unequal, tilted Gaussian modes, simulating (6.1) itself with small Euler–Maruyama steps
# (1000 of them, $\Delta t = 0.001$), and draw the chains over the exact $p_t$: the
# marginal of a Gaussian mixture is again a mixture, whose component $k$ is
# $\mathcal{N}\big(\sqrt{\bar\alpha}\,\mu_k,\ \bar\alpha\,\Sigma_k + \sigma^2 I\big)$
# (`NoiseProcess.marginal`).

# %% alt="Two rows of five panels: 5000 points of the three-mode running example pushed forward by the variance-exploding process (top) and the variance-preserving process (bottom), at times 0, 0.25, 0.5, 0.75 and 1, drawn over the exact density of the process at that time. The VE cloud keeps its place and spreads into a wide Gaussian blob, in growing windows; the VP cloud shrinks towards the origin while it blurs, and ends as a standard Gaussian in a fixed window."
running = examples.example_mixture()  # weights 0.5, 0.3, 0.2
data = running.sample(5000, generator=seeds.generator(1))
ve = processes.VarianceExploding(  # sigma_max: technique 1
    sigma_min=0.01, sigma_max=noise.max_pairwise_distance(data)
)
vp = processes.VariancePreserving()  # beta from 0.1 to 20
forward = {  # process name: (process, chains recorded at t = 0, ..., 1)
    name: (
        process,
        process.simulate(
            data,
            1000,
            generator=seeds.generator(2),
            method="euler_maruyama",
            record_every=250,
        ),
    )
    for name, process in [("VE", ve), ("VP", vp)]
}


def mixture_moments(mixture):
    """The exact mean and covariance of a Gaussian mixture."""
    weights = mixture.weights.double()[:, None]
    means = mixture.means.double()
    mean = (weights * means).sum(dim=0)
    second = (weights[:, :, None] * mixture.covs.double()).sum(dim=0)
    second = second + (weights * means).T @ means
    return mean, second - torch.outer(mean, mean)


fig, axes = plt.subplots(2, 5, figsize=(13, 5.6))
largest_z = {}  # process name: the largest |error| / standard error
for row, (name, (process, run)) in zip(axes, forward.items()):
    largest_z[name] = 0.0
    for ax, t, chains in zip(row, run.times.tolist(), run.trajectory):
        exact = process.marginal(running, t)  # p_t, another mixture
        mean, cov = mixture_moments(exact)
        x = chains.double()
        n = len(x)
        centred = x - x.mean(dim=0)
        mean_z = (x.mean(dim=0) - mean) / (cov.diagonal() / n).sqrt()
        products = centred[:, :, None] * centred[:, None, :]
        cov_se = products.std(dim=0) / math.sqrt(n)  # per entry
        cov_z = (torch.cov(x.T) - cov) / cov_se
        largest_z[name] = max(
            largest_z[name],
            mean_z.abs().max().item(),
            cov_z.abs().max().item(),
        )
        half = 3.2 * max(1.6, cov.diagonal().max().sqrt().item())
        window = (-half, half)
        plotting.plot_density_2d(exact, window, window, ax=ax)
        plotting.plot_samples(
            chains[:400], ax=ax, xlim=window, ylim=window, color="white"
        )
        ax.set(title=f"{name}, $t = {t:.2f}$", xlabel="", ylabel="")
plt.tight_layout()
plt.show()

# %%
# 5000 independent chains: each sample mean and covariance entry is compared
# with the closed form in its own standard error (the covariance's from the
# spread of the products, since a mixture is not Gaussian). Euler-Maruyama's
# own bias is below a quarter of a standard error here (for VP it inflates a
# variance by at most beta dt / 4 = 0.5%). 50 comparisons at 4.5 standard
# errors: a false alarm about once in 3000 runs.
claims.claim(
    "the simulated chains have the mean and covariance of the exact p_t, "
    "within 4.5 standard errors, at every time and for both processes",
    max(largest_z.values()) < 4.5,
    largest_z=largest_z,
)

# %% tags=["prose"]
display.prose(
    rf"""
    At every time the simulated chains have the mean and the covariance of
    the exact $p_t$: the largest difference is
    {max(largest_z.values()):.1f} standard errors, over five times, two
    processes, two means and three covariance entries each. The VE cloud stays
    where the data is and spreads until, at $t = 1$, it is a Gaussian blob of
    standard deviation $\sigma_{{\max}} = {ve.sigma_max:.1f}$ (in its own,
    growing window); the VP cloud contracts to the origin as it blurs and ends
    as $\mathcal{{N}}(0, I)$, in a window that never changes.
    """
)

# %% [markdown]
# ### DDPM's chain is a discretisation of the VP process
#
# DDPM ([Ho, Jain & Abbeel, 2020](../references.md#ho2020), after
# [Sohl-Dickstein et al., 2015](../references.md#sohldickstein2015)) adds noise in $N$
# discrete steps. On the grid $t_i = i/N$, step $i$ takes $x_{t_{i-1}}$ to
#
# $$
# x_{t_i} = \sqrt{\alpha_i}\; x_{t_{i-1}} + \sqrt{\beta_i}\; z ,
# \qquad \alpha_i = 1 - \beta_i ,
# \qquad\text{so that}\qquad
# x_{t_i} = \sqrt{\bar\alpha_i}\; x_0 + \sqrt{1 - \bar\alpha_i}\; z ,
# \quad \bar\alpha_i = \prod_{j=1}^{i} \alpha_j .
# \tag{6.3}
# $$
#
# These are Chapter 4's $\beta_t$, $\alpha_t$ and $\bar\alpha_t$, with the step now
# written $i$, because $t$ is the continuous time. Ho et al. take $N = 1000$ steps with
# $\beta_i$ growing linearly from $10^{-4}$ to $0.02$: that is $\beta_i = \beta(t)/N$ on
# the grid, with the VP process's $\beta_{\min} = 0.1$ and $\beta_{\max} = 20$. Each step
# is one Euler–Maruyama step of the VP SDE with $\Delta t = 1/N$, up to terms of order
# $\Delta t^2$, so the chain follows the SDE ever more closely as $N$ grows.
# `ddpm.DDPMSchedule.from_process(vp, N)` builds the chain for any $N$ (for $N = 1000$ it
# is exactly Ho et al.'s schedule); we compare its $\bar\alpha_i$ with the SDE's
# $\bar\alpha(t_i)$:

# %%
gaps = {}  # N: the largest |alpha_bar_i - alpha_bar(t_i)| along the chain
for n_steps in (25, 50, 100, 200, 400, 1000):
    chain = ddpm.DDPMSchedule.from_process(vp, n_steps)
    grid = torch.arange(1, n_steps + 1, dtype=torch.float64) / n_steps
    gaps[n_steps] = (chain.alpha_bars - vp.alpha_bar(grid)).abs().max().item()
ho = ddpm.DDPMSchedule.linear(1000)  # Ho et al.: beta from 1e-4 to 0.02
same_as_ho = torch.allclose(
    ddpm.DDPMSchedule.from_process(vp, 1000).betas, ho.betas
)
display.show_table(
    ["$N$", "largest gap in $\\bar\\alpha$", "gap $\\times N$"],
    [[n, f"{gap:.2e}", f"{gap * n:.3f}"] for n, gap in gaps.items()],
)

# %%
# Deterministic numbers: a first-order method halves its error when N
# doubles, so gap * N settles to a constant.
halvings = [gaps[n] / gaps[2 * n] for n in (25, 50, 100, 200)]
claims.claim(
    "doubling N halves the gap (first order): each ratio is within 10% of 2",
    all(abs(r - 2) < 0.2 for r in halvings),
    ratios=halvings,
)
claims.claim("from_process(vp, 1000) is Ho et al.'s schedule", same_as_ho)

# %% tags=["prose"]
display.prose(
    rf"""
    Doubling $N$ halves the largest gap (the ratios are
    {", ".join(f"{r:.2f}" for r in halvings)}): the chain converges to the SDE at
    first order, and with Ho et al.'s 1000 steps the two differ by
    {gaps[1000]:.0e} in $\bar\alpha$. So DDPM *is* the VP process, observed on
    a grid.
    """
)

# %% [markdown]
# The same idea works on any grid and for any process. Between two times $t' < t$, the
# process (6.2) moves exactly as one step of (6.3) with
#
# $$
# \alpha_i = \frac{\bar\alpha(t)}{\bar\alpha(t')},
# \qquad
# \beta_i = \sigma(t)^2 - \alpha_i\, \sigma(t')^2
# \tag{6.4}
# $$
#
# (`NoiseProcess.transition`; for VP $\beta_i = 1 - \alpha_i$, for VE $\alpha_i = 1$ and
# $\beta_i = \sigma(t)^2 - \sigma(t')^2$, Chapter 4's variance between two levels).
# Composing such steps keeps every marginal exact, whatever the grid: this is the
# discretisation that Section 6.4's ancestral sampler runs backwards.

# %% [markdown]
# ## 6.2 Running the process backwards
#
# To generate data we need the opposite journey: start from the simple $p_t$ at $t = 1$
# and travel to $t = 0$. Chapter 2 gives the tool. A step that moves $x$ by
# $\tilde f\,\Delta t$ and adds independent Gaussian noise of variance $g^2\lvert\Delta t\rvert$
# per coordinate changes a density $p$ by
#
# $$
# p \;\to\; p - \nabla\cdot(\tilde f\, p)\,\Delta t + \tfrac12\, g^2\lvert\Delta t\rvert\, \nabla^2 p
# $$
#
# to first order: the drift transports mass, the noise flattens bumps and fills dips
# (expand a test function to second order and integrate by parts, as for the
# Fokker–Planck equation of Chapter 2). For the forward step of (6.1), with
# $\tilde f = f$ and $\Delta t > 0$, dividing by $\Delta t$ gives the **Fokker–Planck equation** of the
# forward process,
#
# $$
# \frac{\partial p_t}{\partial t} = -\nabla\cdot\big(f\, p_t\big) + \tfrac12\, g(t)^2\, \nabla^2 p_t .
# \tag{6.5}
# $$
#
# (Chapter 2's Langevin diffusion is the case $f = s$, $g = \sqrt2$.)
#
# **The reverse-time SDE.** Now look for a process that runs *down* in time, from $t = 1$
# to 0, on a grid $1 = t_N > t_{N-1} > \dots > t_0$. A step goes from $t$ to the earlier
# time $t' = t + \Delta t$, so now $\Delta t < 0$, and we write it
#
# $$
# x \leftarrow x + \tilde f(x, t)\,\Delta t + g(t)\sqrt{-\Delta t}\; z :
# \tag{6.6}
# $$
#
# the noise keeps its variance $g^2\lvert\Delta t\rvert$, positive whichever way time
# runs. With $\lvert\Delta t\rvert = -\Delta t$, the density changes by
# $-\nabla\cdot(\tilde f\,p)\,\Delta t - \tfrac12 g^2\,\Delta t\,\nabla^2 p$, and we want this
# change to be the one that (6.5) prescribes for a step $\Delta t$, so that the
# backward chains have the density $p_t$ at every time:
#
# $$
# -\nabla\cdot(\tilde f\, p_t) - \tfrac12\, g^2\, \nabla^2 p_t = -\nabla\cdot(f\, p_t) + \tfrac12\, g^2\, \nabla^2 p_t
# \quad\Longleftrightarrow\quad
# \nabla\cdot(\tilde f\, p_t) = \nabla\cdot\big(f\, p_t - g^2\, p_t\, \nabla\log p_t\big),
# $$
#
# using $\nabla^2 p = \nabla\cdot\nabla p = \nabla\cdot(p\,\nabla\log p)$ as in Chapter 2.
# The choice $\tilde f = f - g^2\,\nabla\log p_t$ satisfies it, which gives the **reverse-time SDE**
# ([Anderson, 1982](../references.md#anderson1982); [Song et al., 2021](../references.md#song2021)):
#
# $$
# \mathrm{d}x = \big[f(x, t) - g(t)^2\, \nabla_x \log p_t(x)\big]\,\mathrm{d}t + g(t)\,\mathrm{d}\bar W_t ,
# \qquad \mathrm{d}t < 0 ,
# \tag{6.7}
# $$
#
# where $\bar W_t$ is a Brownian motion running backwards, whose increments have the
# variance $\lvert\mathrm{d}t\rvert$. Read it step by step: going back in time the noise
# *still* spreads the chains, as the forward noise did, so the drift must do more than
# undo the forward drift $f$. It must also concentrate the chains, by twice the forward
# noise's spreading: that is the term $-g^2\,\nabla\log p_t\,\Delta t$, which, since
# $\Delta t < 0$, moves $x$ *up* the score, towards the data. The only unknown is the
# score $\nabla_x \log p_t$ at every time, which we learn with a network $s_\theta(x, t)$
# by denoising score matching (Section 6.3). For VE, $f = 0$ and
# $g^2\,\Delta t = \sigma(t')^2 - \sigma(t)^2$ to first order, and (6.6) is Chapter 4's
# reverse-diffusion step (4.3).
#
# Two remarks on what this derivation shows. It matches the *marginals* $p_t$, which is
# all that a sampler needs; Anderson proved more, that the whole backward path has the
# law of the forward path reversed. And started from the wrong density at $t = 1$, the
# backward chains follow the same equation from the wrong start: how much of that error
# survives to $t = 0$ depends on how the process is run backwards (Exercise 6.3 measures
# it).
#
# **The probability-flow ODE.** Is there a process *without* noise that has the same
# marginals? Its chains would move with some velocity $u(x, t)$,
# $\mathrm{d}x/\mathrm{d}t = u(x, t)$, and with no noise the density changes by the
# transport term alone: $\partial p_t/\partial t = -\nabla\cdot(u\, p_t)$ (the continuity
# equation), whichever way time runs.
#
# ### Exercise 6.1: the probability-flow velocity (derive it, about 10 minutes)
#
# Find the velocity $u(x, t)$ whose continuity equation is the Fokker–Planck equation
# (6.5) of the forward process: write the noise term of (6.5) as a transport term, as
# above. Then make it concrete. For the VP process, one-dimensional data from a centred
# Gaussian of a given variance (so that $p_t$ is Gaussian; write its variance with (6.2)),
# and a time at which the process has the rate $\beta(t)$ and the signal fraction
# $\bar\alpha(t)$, write $u$ as a function of the four numbers: $x$, $\beta(t)$,
# $\bar\alpha(t)$ and the data's variance. The grader evaluates it
# at random values and compares it with the right formula.


# %%
def flow_velocity(
    x: float, beta: float, alpha_bar: float, data_variance: float
) -> float:
    """The probability-flow velocity u(x, t) of the VP process at one time.

    Data N(0, data_variance) in one dimension; at this time the process has
    the rate beta = beta(t) and the signal fraction alpha_bar = alpha_bar(t).
    """
    # TODO: your formula here
    raise NotImplementedError


check_flow_velocity(flow_velocity)

# %% tags=["solution"]
from ebm_book.exercises.ch06_diffusion import check_flow_velocity


def flow_velocity_solution(x, beta, alpha_bar, data_variance):
    # The noise term of (6.5) is a transport term:
    # (1/2) g^2 lap p = div((1/2) g^2 p grad log p), so the continuity
    # equation matches (6.5) with u = f - (1/2) g^2 grad log p_t.
    # VP: f = -beta x / 2, g^2 = beta; p_t = N(0, v) with
    # v = alpha_bar * data_variance + 1 - alpha_bar, whose score is -x / v.
    variance = alpha_bar * data_variance + 1 - alpha_bar
    return -0.5 * beta * x + 0.5 * beta * x / variance


check_flow_velocity(flow_velocity_solution)

# %% [markdown]
# The answer is the **probability-flow ODE** ([Song et al., 2021](../references.md#song2021)):
#
# $$
# \frac{\mathrm{d}x}{\mathrm{d}t} = u(x, t) = f(x, t) - \tfrac12\, g(t)^2\, \nabla_x \log p_t(x) .
# \tag{6.8}
# $$
#
# It needs the same score as the reverse SDE, with half the weight and no noise. Run
# from $t = 1$ down to 0 it maps each draw of the prior to one sample, deterministically;
# run up, it maps each data point to a point of the prior, and the map is invertible.
# (For data of unit variance the exercise's velocity is zero: the VP process leaves
# $\mathcal{N}(0, 1)$ unchanged, and so does its flow.)
#
# Here are both, in one dimension, where a whole path fits in a picture: a mixture of
# two Gaussians with the weights 0.3 and 0.7, under the VP process, with its exact score
# (`vp.time_score(mixture.noisy_score)`: Section 6.3 explains the conversion). Twenty
# chains start from the same draws of $\mathcal{N}(0, 1)$ at $t = 1$; the background is
# the exact $p_t$.

# %% alt="Two panels with time on the horizontal axis, running from 1 on the left to 0 on the right, and x on the vertical axis, over a heat map of the exact density p_t of a two-mode mixture under the VP process: one broad band at t = 1 that splits into two bands, the lower one fainter, as t goes to 0. Left: twenty reverse-SDE paths, jagged, which cross each other. Right: twenty probability-flow paths from the same starting points, smooth curves that never cross, each ending in one of the two bands."
line = mixtures.GaussianMixture([[-1.5], [1.0]], [0.09, 0.16], [0.3, 0.7])
line_score = vp.time_score(line.noisy_score)
generator = seeds.generator(3)
starts = vp.prior_sample(4000, 1, generator)
paths = {
    "reverse SDE": diffusion.euler_maruyama(
        line_score, vp, starts, 500, generator, record_every=1
    ),
    "probability-flow ODE": flow.heun(
        line_score, vp, starts, 250, record_every=1
    ),
}
times = torch.linspace(vp.t_min, 1, 160, dtype=torch.float64)
heights = torch.linspace(-3, 3, 200, dtype=torch.float64)[:, None]
density = torch.stack(
    [vp.marginal(line, t).log_prob(heights).exp() for t in times.tolist()], 1
)
shown = starts[:, 0].argsort()[100::200]  # 20 chains, evenly spread
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, (name, run) in zip(axes, paths.items()):
    ax.pcolormesh(
        times,
        heights[:, 0],
        density,
        cmap=plotting.DENSITY_CMAP,
        shading="auto",
    )
    ax.plot(run.times, run.trajectory[:, shown, 0], color="white", lw=0.8)
    ax.set(title=name, xlabel="$t$", xlim=(1, 0), ylim=(-3, 3))
    ax.grid(False)
axes[0].set(ylabel="$x$")
plt.tight_layout()
plt.show()

# %%
light = {}  # sampler: (the light mode's share, its binomial standard error)
for name, run in paths.items():
    weights, errors = metrics.mode_weights(run.samples, line)
    light[name] = (weights[0].item(), errors[0].item())
# 4000 chains: a binomial standard error of 0.007 on 0.3; with 500 and 250
# steps the samplers' own biases are far below it.
claims.claim(
    "both samplers give the light mode its weight 0.3 within 4 standard errors",
    all(abs(w - 0.3) < 4 * se for w, se in light.values()),
    light=light,
)
# In one dimension a flow cannot let two paths cross (they would have to be
# at one point at one time): the ODE keeps the order of its 4000 chains.
order = starts[:, 0].argsort()
ode_end = paths["probability-flow ODE"].samples[order, 0]
sde_end = paths["reverse SDE"].samples[order, 0]
claims.claim(
    "the ODE keeps the order of its chains; the SDE does not",
    bool((ode_end.diff() >= 0).all()) and bool((sde_end.diff() < 0).any()),
)
# When does p_t have two modes? Count the local maxima of the exact density
# on the grid of heights, at each time (deterministic: no random numbers).
peaks = (density[1:-1] > density[:-2]) & (density[1:-1] > density[2:])
split_time = times[peaks.sum(dim=0) >= 2].max().item()
claims.claim(
    "p_t has two modes only below a time between 0.2 and 0.4",
    0.2 < split_time < 0.4,
    split_time=split_time,
)

# %% tags=["prose"]
display.prose(
    rf"""
    Both processes carry $\mathcal{{N}}(0, 1)$ into the mixture: of 4000
    chains each, the reverse SDE puts {light["reverse SDE"][0]:.3f} and the
    probability-flow ODE {light["probability-flow ODE"][0]:.3f} in the light
    mode, whose weight is 0.3 (standard error
    {light["reverse SDE"][1]:.3f}). Their paths differ completely. The SDE's
    paths wander and cross; the ODE's are smooth and never cross, so the ODE
    keeps the order of its 4000 chains from start to end: the lowest fraction
    of the prior becomes the light mode. The paths branch late, below
    $t \approx {split_time:.2f}$, where the single band of $p_t$ splits in two:
    before that, $p_t$ has a single mode, and the score pulls every chain
    towards it.
    """
)

# %% [markdown]
# ## 6.3 DDPM from its own angle: predicting the noise
#
# Both backward equations need the score $\nabla_x \log p_t$ at every time. DDPM learns
# it in disguise. A network $z_\theta(x, t)$ sees the noisy point
# $x_t = \sqrt{\bar\alpha(t)}\,x_0 + \sigma(t)\,z$ and the time, and predicts the noise
# $z$ that was added, with the loss
#
# $$
# J_{\text{simple}}(\theta) = \mathbb{E}_{t,\, x_0,\, z}\, \big\lVert z - z_\theta(x_t, t) \big\rVert^2 ,
# \tag{6.9}
# $$
#
# where $t$ is uniform on $[t_{\min}, 1]$ (Ho et al. draw one of their $N$ steps
# uniformly, the same thing on a grid) and $t_{\min} = 10^{-3}$ keeps the smallest noise
# level away from zero. A regression with the squared error is minimised by the
# conditional mean, so the best network predicts $\mathbb{E}[z \mid x_t]$.
#
# **Three equivalent targets.** Divide $x_t$ by $\sqrt{\bar\alpha(t)}$: the result is
# $x_0 + \tilde\sigma z$, Chapter 3's noisy point $\tilde x$, with the noise level
# $\tilde\sigma = \sigma(t)/\sqrt{\bar\alpha(t)}$. Tweedie's formula (Chapter 3) for that
# point, rewritten in $x_t$, gives the best guess of the clean point, and with it the best
# guess of the noise:
#
# $$
# \hat x_0 = \mathbb{E}[x_0 \mid x_t] = \frac{x_t + \sigma(t)^2\, \nabla_x \log p_t(x_t)}{\sqrt{\bar\alpha(t)}} ,
# \qquad
# \hat z = \mathbb{E}[z \mid x_t] = \frac{x_t - \sqrt{\bar\alpha(t)}\,\hat x_0}{\sigma(t)} = -\sigma(t)\, \nabla_x \log p_t(x_t) .
# \tag{6.10}
# $$
#
# So the noise, the clean point and the score are three readings of one function: a
# trained $z_\theta$ gives the score model $s_\theta(x, t) = -z_\theta(x, t)/\sigma(t)$
# (`NoiseProcess.score_from_noise`) and the denoiser
# $\hat x_0 = (x - \sigma(t)\, z_\theta(x, t))/\sqrt{\bar\alpha(t)}$. The same rescaling
# turns any noise-conditional score $s(x, \sigma)$ of Chapter 4, a network or a mixture's
# exact `noisy_score`, into the score of the process:
# $\nabla_x \log p_t(x) = s\big(x/\sqrt{\bar\alpha},\, \tilde\sigma\big)/\sqrt{\bar\alpha}$
# (`NoiseProcess.time_score`). That is how Section 6.2 got its exact scores.
#
# **$J_{\text{simple}}$ is Chapter 4's loss, with its own levels.** Write
# $\tilde s_\theta = -z_\theta/\tilde\sigma$ for the network's score of the noisy point
# $\tilde x$ at the level $\tilde\sigma$. Term by term,
#
# $$
# \big\lVert z - z_\theta(x_t, t)\big\rVert^2
# = \tilde\sigma^2\, \big\lVert \tilde s_\theta + z/\tilde\sigma \big\rVert^2
# = 2\,\lambda(\tilde\sigma)\;\tfrac12\big\lVert \tilde s_\theta + z/\tilde\sigma \big\rVert^2 ,
# $$
#
# the term of the multi-noise loss (4.1) at the level $\tilde\sigma$, with the same weight
# $\lambda(\sigma) = \sigma^2$. So $J_{\text{simple}}$ is exactly $2J$: the factor 2; the
# data scaled by $\sqrt{\bar\alpha(t)}$ (equivalently, the unscaled data at the level
# $\tilde\sigma$, as here); and the levels drawn as $\tilde\sigma(t)$ with $t$ uniform,
# instead of Chapter 4's $L$ levels with the probability $1/L$ each. That last
# difference matters more than it looks: here is where each loss spends its training.

# %% alt="The distribution of the noise level trained at, on a logarithmic axis from 0.001 to 1000, for three losses: the VE process with t uniform (flat between 0.01 and 7.2), the VP process with t uniform (almost nothing below 0.1, a long ramp up to about 150) and Chapter 4's ten geometric levels (ten equal spikes between 0.05 and 7.2)."
t_fine = torch.linspace(vp.t_min, 1, 200_001, dtype=torch.float64)
trained_levels = {  # the level sigma_tilde(t) = sigma / sqrt(alpha_bar)
    "VE, t uniform": ve.sigma(t_fine),
    "VP (DDPM), t uniform": vp.sigma(t_fine) / vp.mean_coefficient(t_fine),
}
ncsn_levels = noise.geometric_sigmas(ve.sigma_max, 0.05, 10)  # Chapter 4
bins = torch.logspace(-3, 3, 61, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, levels in trained_levels.items():
    ax.stairs(
        torch.histogram(levels, bins).hist / len(levels),
        bins,
        label=name,
        lw=1.5,
    )
ax.stem(
    ncsn_levels,
    torch.full((10,), 0.1),
    linefmt="C2-",
    markerfmt="C2o",
    basefmt=" ",
    label="Chapter 4, 10 levels",
)
ax.set(
    xscale="log",
    xlabel="noise level $\\tilde\\sigma$ of the training point",
    ylabel="share of the training",
    ylim=(0, 0.14),
)
ax.legend(loc="upper right", fontsize=9)
plt.show()
small, large = 0.1, ve.sigma_max  # below: detail; above: almost the prior
share = {
    name: (
        (levels < small).double().mean().item(),
        (levels > large).double().mean().item(),
    )
    for name, levels in trained_levels.items()
}

# %% tags=["prose"]
vp_small, vp_large = share["VP (DDPM), t uniform"]
ve_small, _ = share["VE, t uniform"]
display.prose(
    rf"""
    The VE loss, like Chapter 4's, spreads its training evenly over the
    logarithm of the level: {ve_small:.0%} of it below $\tilde\sigma = 0.1$,
    where the fine structure of the data lives. The VP loss with $t$ uniform
    spends only {vp_small:.1%} of its training there, and {vp_large:.0%} above
    $\tilde\sigma = {large:.1f}$, the data's largest distance, where $p_t$ is
    nearly the prior and there is little left to learn. (These shares are
    computed from the schedules, not from a run.) A DDPM network therefore
    sees few small noise levels, and the samplers will show where that costs
    accuracy.
    """
)

# %% [markdown]
# **Training.** We train a `nets.TimeConditionalMLP` (three hidden layers of 64 units; it
# sees $x$, $t$ and eight Fourier features of $t$) with $J_{\text{simple}}$
# (`ddpm.noise_prediction_loss`) on 5000 points of the running example, with the moving
# average of the weights of Chapter 4's technique 5. 2500 steps of 256 points take a few
# seconds.


# %%
def fit_diffusion(data, process, seed, labels=None, drop_label=0.0):
    """Train z_theta(x, t) with J_simple; return its moving average."""
    seeds.manual_seed(seed)
    n_classes = 0 if labels is None else int(labels.max()) + 1
    model = nets.TimeConditionalMLP(2, hidden=64, depth=3, n_classes=n_classes)
    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    table = data if labels is None else torch.cat([data, labels[:, None]], 1)

    def loss(model, batch, generator):
        if labels is None:
            return ddpm.noise_prediction_loss(model, batch, process, generator)
        return ddpm.noise_prediction_loss(  # labels travel as a third column
            model, batch[:, :2], process, generator,
            labels=batch[:, 2].long(), drop_label=drop_label,
        )  # fmt: skip

    training.train(
        model, loss, table, n_steps=2500, batch_size=256, lr=3e-3,
        seed=seeds.seed(seed), progress=False, averaged_model=average,
    )  # fmt: skip
    return average.module.eval()


started = time.process_time()
noise_net = fit_diffusion(data, vp, seed=4)
print(f"training: {time.process_time() - started:.1f} s of CPU time")


def exact_noise(x, t):
    """E[z | x_t] = -sigma(t) grad log p_t(x_t), from the exact score."""
    return -vp.sigma(t).to(x)[:, None] * vp.time_score(running.noisy_score)(
        x, t
    )


fresh = running.sample(20_000, generator=seeds.generator(14))
with torch.no_grad():
    learned_loss, lowest_loss = (
        ddpm.noise_prediction_loss(
            predictor, fresh, vp, seeds.generator(6)
        ).item()
        for predictor in (noise_net, exact_noise)
    )
print(
    f"J_simple on fresh data: {learned_loss:.4f}; its minimum {lowest_loss:.4f}"
)
# Paired (same draws): the exact predictor's loss is the minimum. Across
# seeds the network came within 2% of it; 5% leaves room.
claims.claim(
    "the network's J_simple is within 5% of the lowest possible value",
    lowest_loss <= learned_loss < 1.05 * lowest_loss,
    learned=learned_loss,
    minimum=lowest_loss,
)

# %% [markdown]
# How good is the network, and where? At each time we draw 2000 points of the exact $p_t$
# and compare the network's three readings, (6.10) with $z_\theta$ in place of
# $\mathbb{E}[z \mid x_t]$, with the exact ones. Because the three are rescalings of
# each other, one error appears three times: the error in the score is the error in the
# noise divided by $\sigma(t)^2$, the error in the clean point is the error in the noise
# times $\sigma(t)^2/\bar\alpha(t)$. The **relative** error, the mean squared error
# divided by the mean square of the exact target, is the same for the noise and for
# the score: it says where the network is good.

# %% alt="Two log-log panels against the time t from 0.001 to 1. Left: the relative error of the network's noise prediction (equal to that of its score), above 1 at the smallest times and below a hundredth from t = 0.3 on. Right: the mean squared error of the same network read as a noise, a score and a clean point: the score's error is largest at small times, the clean point's at t = 1, and the noise's is never the largest of the three."
exact_score = vp.time_score(running.noisy_score)
learned_score = vp.score_from_noise(noise_net)
probe_times = torch.logspace(-3, 0, 10, dtype=torch.float64)
errors = {"noise": [], "score": [], "clean point": []}
relative = []
for t in probe_times.tolist():
    x = vp.marginal(running, t).sample(2000, generator=seeds.generator(7))
    x = x.double()
    times_t = torch.full((len(x),), t, dtype=torch.float64)
    with torch.no_grad():
        readings = {}
        for name, score in [
            ("exact", exact_score),
            ("learned", learned_score),
        ]:
            s = score(x, times_t)
            readings[name] = {
                "noise": -vp.sigma(t).item() * s,
                "score": s,
                "clean point": vp.denoised(x, t, s),
            }
    for target, values in errors.items():
        gap = readings["learned"][target] - readings["exact"][target]
        values.append((gap**2).sum(dim=1).mean().item())
    size = (readings["exact"]["noise"] ** 2).sum(dim=1).mean().item()
    relative.append(errors["noise"][-1] / size)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].loglog(probe_times, relative, "o-")
axes[0].axhline(1, color="gray", ls="--", lw=1, label="the zero predictor")
axes[0].set(xlabel="$t$", ylabel="relative error", title="noise (and score)")
axes[0].legend()
for target, values in errors.items():
    axes[1].loglog(probe_times, values, "o-", label=target)
axes[1].set(
    xlabel="$t$",
    ylabel="mean squared error",
    title="one error, three readings",
)
axes[1].legend()
plt.tight_layout()
plt.show()

# %%
# The three readings are exact rescalings: their errors must be in the ratios
# 1 / sigma^2 and sigma^2 / alpha_bar up to float64 rounding.
sigma2 = vp.sigma(probe_times) ** 2
noise_error, score_error, clean_error = (
    torch.tensor(values, dtype=torch.float64) for values in errors.values()
)
ratio_gaps = [
    (score_error * sigma2 / noise_error - 1).abs().max(),
    (clean_error * vp.alpha_bar(probe_times) / (sigma2 * noise_error) - 1)
    .abs()
    .max(),
]
claims.claim(
    "the three errors are in the ratios 1 / sigma^2 and sigma^2 / alpha_bar",
    max(ratio_gaps) < 1e-9,
    largest_relative_gap=max(ratio_gaps),
)
# Training outcomes: across seeds the relative error at t = 0.001 was 5 to
# 30, and below 0.005 from t = 0.2 on; the thresholds leave factors of 2 to 5.
late = [r for t, r in zip(probe_times.tolist(), relative) if t >= 0.2]
claims.claim(
    "at the smallest time the relative error is above 1; from t = 0.2 on "
    "it is below 1%",
    relative[0] > 1 and max(late) < 0.01,
    at_t_min=relative[0],
    largest_late=max(late),
)

# %% tags=["prose"]
display.prose(
    rf"""
    The network is excellent at large times, where $p_t$ is almost Gaussian:
    from $t = 0.2$ on its relative error is at most {max(late):.1%}. It is
    poor at the smallest times: at $t = 10^{{-3}}$ its noise prediction is
    {relative[0]:.0f} times *worse* than predicting zero. That is the
    training distribution at work: $t < 0.003$ is 0.2% of the training. Read as
    a score, that error is multiplied by $1/\sigma(t)^2$, about $10^4$ at
    $t = 10^{{-3}}$; read as a clean point, the error at $t = 1$ is multiplied
    by $\sigma^2/\bar\alpha \approx 2 \times 10^4$. Predicting the noise keeps
    the regression target of order one at every time, the same reason for
    which Chapter 4's network divided its output by $\sigma$.
    """
)

# %% [markdown]
# ## 6.4 Six samplers, written once for every process
#
# Every sampler below runs on a grid $1 = t_N > t_{N-1} > \dots > t_0 = t_{\min}$,
# starting from the prior at $t = 1$, $\mathcal{N}(0, \sigma(1)^2 I)$
# (`NoiseProcess.prior_sample`), and ends like Chapter 4's samplers with one
# **final denoising step**: the chains at $t_0$ still carry the noise $\sigma(t_0)$, and
# Tweedie's formula replaces each by its $\hat x_0$ (6.10). A step goes from $t$ to
# $t' = t + \Delta t$, $\Delta t < 0$, and uses the step's $\alpha_i$ and $\beta_i$ of
# (6.4). Each is written once, against `NoiseProcess`, and runs unchanged on VE, VP
# and DDPM's own chain.
#
# **Euler–Maruyama** (`diffusion.euler_maruyama`) takes the step (6.6) of the reverse
# SDE (6.7) with the model's score:
# $x \leftarrow x + \big[f(x, t) - g(t)^2 s_\theta(x, t)\big]\Delta t + g(t)\sqrt{-\Delta t}\,z$.
#
# **Ancestral sampling** (`diffusion.ancestral`; [Ho et al., 2020](../references.md#ho2020),
# Algorithm 2) runs the discretisation (6.4) backwards exactly, except for one guess.
# Given the clean point, the forward process's step back is Gaussian: by Bayes' rule the
# density $p(x_{t'} \mid x_t, x_0)$ is proportional to the product of
# $\mathcal{N}\big(x_{t'};\, \sqrt{\bar\alpha(t')}\,x_0,\, \sigma(t')^2 I\big)$ (from
# (6.2)) and $\mathcal{N}\big(x_t;\, \sqrt{\alpha_i}\,x_{t'},\, \beta_i I\big)$ (one step
# of (6.3)), and completing the square in $x_{t'}$ gives
#
# $$
# p(x_{t'} \mid x_t, x_0) = \mathcal{N}\Big(x_{t'};\;
# \frac{\sqrt{\bar\alpha(t')}\,\beta_i}{\sigma(t)^2}\, x_0 + \frac{\sqrt{\alpha_i}\,\sigma(t')^2}{\sigma(t)^2}\, x_t ,\;
# \tilde\beta_i I\Big),
# \qquad \tilde\beta_i = \frac{\sigma(t')^2}{\sigma(t)^2}\,\beta_i .
# \tag{6.11}
# $$
#
# The sampler draws from it with $x_0$ replaced by Tweedie's $\hat x_0$, and the mean
# simplifies (use $\sigma(t)^2 = \alpha_i\,\sigma(t')^2 + \beta_i$, from (6.4)) to
#
# $$
# x \leftarrow \frac{1}{\sqrt{\alpha_i}}\big(x + \beta_i\, s_\theta(x, t)\big) + \sqrt{\tilde\beta_i}\; z ,
# \tag{6.12}
# $$
#
# which is Ho et al.'s line 4 with $z_\theta = -\sigma(t)\, s_\theta$. On DDPM's own grid
# it is DDPM's sampler; on a coarser grid it skips steps, exactly.
#
# **Predictor–corrector** (`diffusion.predictor_corrector`;
# [Song et al., 2021](../references.md#song2021), Algorithm 1). Each step first
# *predicts*, with one step of a reverse-SDE sampler (by default the forward step of
# (6.4) reversed to first order,
# $x \leftarrow x - (\sqrt{\alpha_i} - 1)\,x + \beta_i\, s_\theta(x, t) + \sqrt{\beta_i}\,z$,
# which for VE is Chapter 4's step (4.3)), then *corrects*, with $M$ Langevin steps on
# $p_{t'}$, Chapter 2's update with the score at the new time:
#
# $$
# x \leftarrow x + \frac{\epsilon}{2}\, s_\theta(x, t') + \sqrt{\epsilon}\; z ,
# \qquad
# \epsilon = 4\,\alpha_i \Big(\mathrm{snr}\,\frac{\overline{\lVert z\rVert}}{\overline{\lVert s_\theta \rVert}}\Big)^2 .
# \tag{6.13}
# $$
#
# Langevin dynamics leaves $p_{t'}$ unchanged (Chapter 2), so the corrector pulls chains
# that the predictor put in the wrong place back towards it. Its step is set by a
# signal-to-noise ratio $\mathrm{snr}$ (0.16 here): the drift $\tfrac{\epsilon}{2}s$ is
# about $\mathrm{snr}$ times the noise $\sqrt\epsilon\,z$, with the norms averaged over
# the chains ($\overline{\lVert\cdot\rVert}$). (Song et al. write $r$ for $\mathrm{snr}$,
# and $\epsilon$ for our $\epsilon/2$.) With $\mathrm{snr}$ in place of a fixed step, the
# Langevin steps of every time move the chains by the same fraction of their noise,
# as Chapter 4's $\epsilon_i \propto \sigma_i^2$ did. Without a predictor, the corrector
# alone on Chapter 4's levels is annealed Langevin dynamics.
#
# **The probability-flow ODE** (6.8), by **Euler's method**
# (`flow.euler`), $x \leftarrow x + \Delta t\, u(x, t)$, or by **Heun's method**
# (`flow.heun`; [Karras et al., 2022](../references.md#karras2022), Algorithm 1), which
# corrects the Euler step with the velocity at its end,
#
# $$
# \tilde x = x + \Delta t\, u(x, t), \qquad
# x \leftarrow x + \frac{\Delta t}{2}\big(u(x, t) + u(\tilde x, t')\big) ,
# \tag{6.14}
# $$
#
# with $u = f - \tfrac12 g^2 s_\theta$. Euler's error shrinks like $1/N$, Heun's like
# $1/N^2$, for two score evaluations per step.
#
# **DDIM** ([Song, Meng & Ermon, 2021](../references.md#song2021ddim)) reads the score
# as in (6.10), as a predicted clean point $\hat x_0$ and a predicted noise $\hat z$,
# and puts the two together again at the new time, as the forward process (6.2) would:
#
# $$
# \hat x_0 = \frac{x + \sigma(t)^2\, s_\theta(x, t)}{\sqrt{\bar\alpha(t)}},
# \qquad
# \hat z = -\sigma(t)\, s_\theta(x, t),
# \qquad
# x \leftarrow \sqrt{\bar\alpha(t')}\;\hat x_0 + \sigma(t')\;\hat z .
# \tag{6.15}
# $$
#
# No fresh noise: DDIM is deterministic. [Karras et al. (2022)](../references.md#karras2022)
# showed that it is Euler's method for the probability-flow ODE, written in the
# rescaled point $x/\sqrt{\bar\alpha}$ against the level $\tilde\sigma$: the ODE's paths
# are straighter in those variables, and for data at a single point they are straight
# lines, which DDIM follows exactly in one step.
#
# ### Exercise 6.2: DDIM (build it, about 20 minutes)
#
# Write `ddim_sampler`: from the start points at `times[0]`, take one step (6.15) for
# each pair of consecutive times, down to `times[-1]`, and return the chains there,
# without a final denoising step. Use the process's `mean_coefficient(t)` and `sigma(t)`
# for $\sqrt{\bar\alpha(t)}$ and $\sigma(t)$, so that one function serves every process.
# The grader compares your steps with the package's `flow.ddim` on a VP and a VE
# process, names the usual mistakes, and then samples a two-mode mixture with your
# sampler: its heavy mode must get its weight, 0.8, within what 2000 chains allow.


# %%
def ddim_sampler(score, process, start: torch.Tensor, times: torch.Tensor):
    """Deterministic DDIM (6.15) from times[0] down to times[-1].

    score: score(x, t) maps points (N, d) and times, shape (N,), to the
        scores of the process, shape (N, d).
    process: a processes.NoiseProcess (VE, VP, ...).
    start: the N starting points at times[0], shape (N, d); leave it unchanged.
    times: the grid, a decreasing 1-D float64 tensor, from times[0] to times[-1].
    Returns the chains at times[-1], shape (N, d), without denoising them.
    """
    # TODO: your code here
    raise NotImplementedError


check_ddim(ddim_sampler)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch06_diffusion import check_ddim


def ddim_sampler_solution(score, process, start, times):
    x = start  # x = ... below makes new tensors: start itself never changes
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        s = score(x, torch.full((x.shape[0],), t, dtype=x.dtype))
        mean_now, sigma_now = process.mean_coefficient(t), process.sigma(t)
        clean = (x + sigma_now**2 * s) / mean_now  # x_0 by Tweedie
        noise_hat = -sigma_now * s  # the predicted noise
        x = (
            process.mean_coefficient(t_next) * clean
            + process.sigma(t_next) * noise_hat
        )
    return x


check_ddim(ddim_sampler_solution)

# %% [markdown]
# The six samplers, and what a step costs:
#
# | sampler | one step from $t$ to $t'$ | score evaluations per step | stochastic |
# |---|---|---|---|
# | Euler–Maruyama | reverse SDE (6.6) | 1 | yes |
# | ancestral (DDPM) | the posterior (6.11) around $\hat x_0$ | 1 | yes |
# | predictor–corrector | a reverse-diffusion step, then $M = 1$ Langevin step (6.13) | 2 | yes |
# | probability flow, Euler | $x + \Delta t\, u$ | 1 | no |
# | probability flow, Heun | (6.14) | 2 | no |
# | DDIM | (6.15) | 1 | no |
#
# All six, plus one evaluation for the final denoising step. Each result reports its
# count in `score_evaluations`.

# %% [markdown]
# ## 6.5 A scoreboard of the samplers
#
# Which sampler should you use, and how many score evaluations does it need? The cost
# of a diffusion model is its number of score evaluations, one network call on the whole
# batch each, so we give every sampler the same budget: 10, 20, 50 or 100 evaluations,
# the final denoising step included (a sampler with two evaluations per step gets half
# as many steps, and may end one evaluation under budget). We measure two things on
# samples of the running example under the VP process:
#
# - the **distance to the data**: the sliced Wasserstein distance of Chapter 2 to a
#   reference sample of fresh data points, divided by the **floor**, the average
#   distance of thirty further fresh samples to the same reference, so that 1 means "as
#   close as fresh data";
# - the **weight error**: half the sum over the modes of $\lvert \hat w_k - \pi_k\rvert$,
#   where $\hat w_k$ is the share of the samples in mode $k$ (`metrics.mode_weights`):
#   the fraction of the samples in the wrong mode, at best.
#
# We run the scoreboard twice: with the **exact** score of $p_t$, so that the samplers'
# own errors are all that is left, and with the **trained network** of Section 6.3, as
# in practice. Every sampler starts from the same three draws of the prior (three
# seeds), so that the error bars (standard errors over the seeds) measure what the
# randomness does. This is a reduced scoreboard: a full one, with 500 evaluations as
# well and a few thousand chains, costs about a minute of CPU time, more than this
# whole page may take. Ours keeps four budgets, 1000 chains and 64 random directions
# for each distance (plenty in two dimensions), and answers the same questions, because
# the samplers differ most at few evaluations and all of them have converged by 100.

# %%
samplers = {  # name: (score evaluations per step, run for n_steps)
    "Euler–Maruyama": (1, diffusion.euler_maruyama),
    "ancestral": (1, diffusion.ancestral),
    "predictor–corrector": (2, diffusion.predictor_corrector),
    "flow, Euler": (1, lambda s, p, x, n, g: flow.euler(s, p, x, n)),
    "flow, Heun": (2, lambda s, p, x, n, g: flow.heun(s, p, x, n)),
    "DDIM": (1, lambda s, p, x, n, g: flow.ddim(s, p, x, n)),
}
budgets = [10, 20, 50, 100]
scoreboard_seeds = [10, 11, 12]
n_chains = 1000
reference = running.sample(n_chains, generator=seeds.generator(8))


def distance(samples):
    """Sliced Wasserstein distance to the reference, same 64 directions."""
    return metrics.sliced_wasserstein(
        samples, reference, n_projections=64, generator=seeds.generator(9)
    )


def weight_error(samples):
    """Half the summed gap between the modes' shares and their weights."""
    shares, _ = metrics.mode_weights(samples, running)
    return 0.5 * (shares - running.weights).abs().sum().item()


# Thirty fresh samples: the floor's spread, which decides what "at the
# floor" means, is itself an estimate (from n samples, within about
# 1 / sqrt(2 n) of its value: 13% here).
fresh_samples = [
    running.sample(n_chains, generator=seeds.generator(30 + r))
    for r in range(30)
]
floors = torch.tensor([distance(x) for x in fresh_samples])
floor, floor_spread = floors.mean().item(), floors.std().item()
weight_floor = sum(weight_error(x) for x in fresh_samples) / len(fresh_samples)


def run_scoreboard(score):
    """{(sampler, budget): (distances / floor, weight errors)}, one per seed."""
    board = {}
    for name, (per_step, sample) in samplers.items():
        for budget in budgets:
            distances, weight_errors = [], []
            for seed in scoreboard_seeds:
                generator = seeds.generator(seed)
                start = vp.prior_sample(n_chains, 2, generator)
                n_steps = (budget - 1) // per_step
                with torch.no_grad():
                    run = sample(score, vp, start, n_steps, generator)
                assert run.score_evaluations <= budget
                distances.append(distance(run.samples) / floor)
                weight_errors.append(weight_error(run.samples))
            board[name, budget] = (
                torch.tensor(distances, dtype=torch.float64),
                torch.tensor(weight_errors, dtype=torch.float64),
            )
    return board


started = time.process_time()
boards = {
    "exact score": run_scoreboard(exact_score),
    "trained network": run_scoreboard(learned_score),
}
print(f"both scoreboards: {time.process_time() - started:.1f} s of CPU time")


def mean_and_error(values):
    return values.mean().item(), values.std().item() / math.sqrt(len(values))


display.show_table(
    ["sampler"]
    + [f"{kind}, {b}" for kind in ("exact", "network") for b in budgets],
    [
        [name]
        + [
            "{:.2f} ± {:.2f}".format(*mean_and_error(board[name, b][0]))
            for board in boards.values()
            for b in budgets
        ]
        for name in samplers
    ],
)

# %% [markdown]
# (Each entry is the distance to the data divided by the floor, the mean over the three
# seeds ± its standard error, for the exact score and for the trained network, at 10
# to 100 score evaluations.)

# %% alt="Four panels against the number of score evaluations, 10 to 100, on a logarithmic axis, with one line with error bars for each of the six samplers. Top row, with the exact score: the distance to the data over the floor, and the weight error. At 10 evaluations the samplers are far apart, the probability flow by Euler closest to the data and predictor-corrector furthest; by 100 evaluations all of them are at the floor, the grey band. Bottom row, with the trained network: the same pattern at few evaluations, and every sampler near the floor by 100 evaluations."
fig, axes = plt.subplots(2, 2, figsize=(11, 7.2), sharex=True)
styles = dict(zip(samplers, ["o-", "s-", "D-", "o--", "s--", "D--"]))
for row, (kind, board) in zip(axes, boards.items()):
    for name in samplers:
        for ax, index in zip(row, (0, 1)):
            stats = [mean_and_error(board[name, b][index]) for b in budgets]
            ax.errorbar(
                budgets,
                [m for m, _ in stats],
                yerr=[e for _, e in stats],
                fmt=styles[name],
                ms=4,
                capsize=2,
                label=name,
            )
    spread = floor_spread / floor
    row[0].axhspan(1 - spread, 1 + spread, color="gray", alpha=0.25, lw=0)
    row[1].axhline(weight_floor, color="gray", lw=3, alpha=0.4)
    row[0].set(ylabel=f"distance / floor\n({kind})", ylim=(0, None))
    row[1].set(ylabel=f"weight error\n({kind})", ylim=(0, None))
for ax in axes[1]:
    ax.set(xscale="log", xlabel="score evaluations", xticks=budgets)
    ax.set_xticklabels(budgets)
axes[0, 0].legend(fontsize=8, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# (The grey band is the floor and its spread, the distance of a fresh sample of the data
# to the reference; the grey line, the weight error of fresh data. Solid lines are the
# stochastic samplers, dashed lines the deterministic ones.)


# %%
def summary(board, budget):
    """Sampler: (mean distance / floor, its standard error) at one budget."""
    return {name: mean_and_error(board[name, budget][0]) for name in samplers}


exact_board, learned_board = boards.values()
at_10 = summary(exact_board, 10)
best_10 = min(at_10, key=lambda name: at_10[name][0])
worst_10 = max(at_10, key=lambda name: at_10[name][0])
# Paired by seed (same prior draws): the gap between the worst and the best
# sampler, and its standard error over the three seeds.
gap_10 = exact_board[worst_10, 10][0] - exact_board[best_10, 10][0]
gap_mean, gap_error = mean_and_error(gap_10)
# With three seeds the standard error is itself rough: a gap counts beyond
# 4.30 of them, the 95% point of Student's t with two degrees of freedom.
claims.claim(
    "at 10 evaluations the best and the worst sampler differ clearly: the "
    "probability flow by Euler's method and predictor-corrector (the figure's "
    "description names them)",
    gap_mean > 4.30 * gap_error
    and (best_10, worst_10) == ("flow, Euler", "predictor–corrector"),
    best=best_10,
    worst=worst_10,
    gap=gap_mean,
    standard_error=gap_error,
)
# "At the floor": within three spreads of one floor measurement (in units of
# the floor), for the mean over the seeds.
near_floor = 1 + 3 * floor_spread / floor
converged = [
    b
    for b in budgets
    if all(m < near_floor for m, _ in summary(exact_board, b).values())
]
claims.claim(
    "with the exact score every sampler reaches the floor by 100 evaluations",
    100 in converged,
    at_100=summary(exact_board, 100),
    near_floor=near_floor,
)
first_converged = converged[0] if converged else None  # None: claim failed
# Deterministic against stochastic samplers at 10 evaluations, paired by
# seed, at the 95% point of Student's t.
stochastic, deterministic = list(samplers)[:3], list(samplers)[3:]


def group_gap(board, budget):
    """Stochastic minus deterministic samplers' mean distance, per seed."""
    return (
        sum(board[n, budget][0] for n in stochastic) / 3
        - sum(board[n, budget][0] for n in deterministic) / 3
    )


ode_lead, ode_lead_error = mean_and_error(group_gap(exact_board, 10))
spoken = {  # the samplers' names, as they read in a sentence
    "Euler–Maruyama": "Euler–Maruyama",
    "ancestral": "ancestral sampling",
    "predictor–corrector": "the predictor–corrector sampler",
    "flow, Euler": "the probability flow by Euler's method",
    "flow, Heun": "the probability flow by Heun's method",
    "DDIM": "DDIM",
}
claims.claim(
    "at 10 evaluations the deterministic samplers are closer to the data "
    "on average",
    ode_lead > 4.30 * ode_lead_error,
    gap=ode_lead,
    standard_error=ode_lead_error,
)
weight_10 = {name: exact_board[name, 10][1].mean().item() for name in samplers}
worst_weights = max(weight_10, key=weight_10.get)
# Over the seeds, against the weight error of fresh data (itself averaged
# over six samples), at the same 95% point of Student's t.
worst_weight_error = mean_and_error(exact_board[worst_weights, 10][1])[1]
claims.claim(
    "at 10 evaluations the largest weight error is clearly above that of "
    "fresh data",
    weight_10[worst_weights] - weight_floor > 4.30 * worst_weight_error,
    worst=worst_weights,
    weight_error=weight_10[worst_weights],
    fresh=weight_floor,
    standard_error=worst_weight_error,
)
# The same two findings with the trained network.
learned_lead, learned_lead_error = mean_and_error(group_gap(learned_board, 10))
claims.claim(
    "with the trained network too, the deterministic samplers are closer "
    "to the data at 10 evaluations on average",
    learned_lead > 4.30 * learned_lead_error,
    gap=learned_lead,
    standard_error=learned_lead_error,
)
# The trained network at 100 evaluations against the exact score, paired by
# seed (the same prior draws and the same noise), averaged over the samplers.
learning_gap = sum(
    learned_board[n, 100][0] - exact_board[n, 100][0] for n in samplers
) / len(samplers)
learning_cost, learning_error = mean_and_error(learning_gap)
if learning_cost > 4.30 * learning_error:
    learning_verdict = (
        f"the trained network's samples are further from the data than the "
        f"exact score's, by {learning_cost:.2f} ± {learning_error:.2f} floors "
        "on average (paired: the same prior draws and the same noise): the "
        "price of learning the score"
    )
else:
    learning_verdict = (
        "three seeds cannot tell the trained network's samples from the exact "
        f"score's (they differ by {learning_cost:.2f} ± {learning_error:.2f} "
        "floors on average, paired by seed)"
    )
# The weight error at 100 evaluations: trained network against exact score,
# paired by seed, averaged over the samplers.
weight_gap = sum(
    learned_board[n, 100][1] - exact_board[n, 100][1] for n in samplers
) / len(samplers)
weight_cost, weight_cost_error = mean_and_error(weight_gap)
if abs(weight_cost) > 4.30 * weight_cost_error:
    weight_verdict = (
        "Its weight errors are "
        + ("larger" if weight_cost > 0 else "smaller")
        + f" than the exact score's, by {abs(weight_cost):.3f} ± "
        f"{weight_cost_error:.3f} on average (paired by seed)."
    )
else:
    weight_verdict = (
        "Its weight errors differ from the exact score's by "
        f"{weight_cost:.3f} ± {weight_cost_error:.3f}, within what three "
        "seeds can resolve."
    )
learned_100 = summary(learned_board, 100)
claims.claim(
    "with the trained network every sampler is near the floor by 100 "
    "evaluations",
    all(m < near_floor for m, _ in learned_100.values()),
    at_100=learned_100,
    near_floor=near_floor,
)
difference, difference_error = mean_and_error(group_gap(learned_board, 100))
if abs(difference) > 4.30 * difference_error:
    closer, further = (
        ("stochastic", "deterministic")
        if difference < 0
        else ("deterministic", "stochastic")
    )
    noise_verdict = (
        f"the {closer} ones end closer to the data than the {further} "
        f"ones, by {abs(difference):.2f} ± {difference_error:.2f} floors on "
        "average"
    )
else:
    noise_verdict = (
        "the stochastic and the deterministic ones differ by "
        f"{abs(difference):.2f} ± {difference_error:.2f} floors on average: "
        "no difference that three seeds can resolve"
    )
learned_low = min(m for m, _ in learned_100.values())
learned_high = max(m for m, _ in learned_100.values())

# %% tags=["prose"]
display.prose(
    rf"""
    **With the exact score**, ten evaluations separate the samplers by a
    factor {at_10[worst_10][0] / at_10[best_10][0]:.0f}:
    {spoken[best_10]} comes closest to the data, at
    {at_10[best_10][0]:.1f} times the floor, and {spoken[worst_10]} is
    furthest, at {at_10[worst_10][0]:.1f} times it.
    By {first_converged} evaluations every sampler is at the floor, within
    three of its spreads: with 1000 samples no error of any of them can be
    seen. At ten evaluations the deterministic samplers are ahead, by
    {ode_lead:.1f} ± {ode_lead_error:.1f} floors on average: a stochastic
    sampler must average its noise over many small steps, and until it has,
    the noise is an error of its own. Coarse steps also send chains to the
    wrong mode: the largest weight error at ten evaluations,
    {weight_10[worst_weights]:.3f} for {spoken[worst_weights]}, is
    {weight_10[worst_weights] / weight_floor:.0f} times that of fresh data,
    {weight_floor:.3f}.

    **With the trained network** the picture at few evaluations is the
    same: at ten evaluations the deterministic samplers are again ahead, by
    {learned_lead:.1f} ± {learned_lead_error:.1f} floors. At 100 evaluations
    every sampler is near the floor, between {learned_low:.1f} and
    {learned_high:.1f} times it, and {learning_verdict}. {weight_verdict}
    Between the samplers, {noise_verdict}.
    """
)

# %% [markdown]
# The samplers in this scoreboard all step on a grid evenly spaced in $t$. Where the
# steps go matters as much as how many there are: [Karras et al. (2022)](../references.md#karras2022)
# put them densely at small noise levels, where $p_t$ changes fastest, and reach a given
# quality with far fewer evaluations. Every sampler of the package takes such a grid as
# `times`.
#
# ### Exercise 6.3: a run that went wrong (diagnose it, about 5 minutes)
#
# Someone samples the running example under the VP process, with its exact score. To be
# safe, they start from a wide prior: `ve.prior_sample`, the prior of the VE process of
# Section 6.1, $\mathcal{N}(0, \sigma_{\max}^2 I)$ with $\sigma_{\max} = 7.2$, the data's
# largest distance (technique 1). They run two samplers from the same 2000 start points,
# the probability flow by Heun's method with 50 steps and Euler–Maruyama with 100 steps,
# about 100 score evaluations each.

# %% alt="Two scatter plots of 2000 samples over the density of the running example, in a window from -15 to 15. Left, the probability flow by Heun's method: a wide cloud that covers the whole window, most points far from the three modes. Right, Euler-Maruyama from the same start points: the samples sit on the three modes."
generator = seeds.generator(13)
wide_start = ve.prior_sample(2000, 2, generator)
wrong_prior = {
    "flow, Heun": flow.heun(exact_score, vp, wide_start, 50).samples,
    "Euler–Maruyama": diffusion.euler_maruyama(
        exact_score, vp, wide_start, 100, generator
    ).samples,
}
data_spread = data.std(dim=0).norm().item()
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax, (name, x) in zip(axes, wrong_prior.items()):
    plotting.plot_density_2d(running, (-15, 15), (-15, 15), ax=ax)
    plotting.plot_samples(x, ax=ax, color="white", size=3)
    spread = x.std(dim=0).norm().item()
    ax.set_title(f"{name}: spread {spread / data_spread:.1f} x the data's")
plt.tight_layout()
plt.show()
spreads = {
    name: x.std(dim=0).norm().item() / data_spread
    for name, x in wrong_prior.items()
}
# The spread is the root of the summed variances over the data's; 2000
# points pin it to about 2%. Across seeds the ODE gave 4.0 to 4.2, the SDE
# 0.99 to 1.01.
claims.claim(
    "the ODE's samples are over three times too spread out; the SDE's have "
    "the data's spread within 10%",
    spreads["flow, Heun"] > 3 and abs(spreads["Euler–Maruyama"] - 1) < 0.1,
    spreads=spreads,
)

# %% [markdown]
# What went wrong?
#
# - **a.** 50 steps are too few for Heun's method on the VP process, whose drift is
#   large near $t = 1$ ($\beta_{\max} = 20$).
# - **b.** The start: the VP process ends at $\mathcal{N}(0, I)$, and these chains
#   start about seven times too wide. The two samplers treat that error differently.
# - **c.** The exact score of $p_t$ is inaccurate far from the data, where the chains
#   start.
# - **d.** The probability-flow ODE is meant for the VE process; for the VP process
#   use the reverse SDE.

# %%
answer = None  # "a", "b", "c" or "d"
check_wrong_prior(answer)

# %% tags=["solution"]
from ebm_book.exercises.ch06_diffusion import check_wrong_prior

check_wrong_prior("b")

# %% [markdown]
# ## 6.6 Exact likelihoods through the probability-flow ODE
#
# The probability-flow ODE is a smooth, invertible map between the data and the prior,
# and the density of a point changes along its path in a way we can follow. Along a
# path $x(t)$ of $\mathrm{d}x/\mathrm{d}t = u(x, t)$, the continuity equation
# $\partial_t p_t = -\nabla\cdot(u\, p_t) = -u\cdot\nabla p_t - p_t\,\nabla\cdot u$ and the
# chain rule give
#
# $$
# \frac{\mathrm{d}}{\mathrm{d}t}\, p_t\big(x(t)\big) = \partial_t p_t + u\cdot\nabla p_t = -p_t\, \nabla\cdot u
# \quad\Longrightarrow\quad
# \frac{\mathrm{d}}{\mathrm{d}t} \log p_t\big(x(t)\big) = -\nabla\cdot u\big(x(t), t\big),
# $$
#
# the **instantaneous change of variables** ([Chen et al., 2018](../references.md#chen2018)):
# where the flow spreads out ($\nabla\cdot u > 0$), the density along it falls. Start at a
# data point $x$ at $t_0 = t_{\min}$, follow its path up to $t = 1$, where $p_t$ is the
# prior, and integrate:
#
# $$
# \log p_{t_0}(x) = \log \mathcal{N}\big(x(1);\, 0,\, \sigma(1)^2 I\big) + \int_{t_0}^{1} \nabla\cdot u\big(x(t), t\big)\,\mathrm{d}t ,
# \qquad
# \nabla\cdot u = \nabla\cdot f - \tfrac12\, g(t)^2\, \nabla\cdot s_\theta .
# \tag{6.16}
# $$
#
# With a learned score this is the exact log-likelihood of the model that the ODE
# defines, up to the solver's error: no partition function, no sampling
# ([Song et al., 2021](../references.md#song2021), Appendix D). The divergence
# $\nabla\cdot s_\theta$ is the trace of the Jacobian of Chapter 3: exact by autograd, one
# backward pass per dimension, or Hutchinson's unbiased estimate
# $v^\top \nabla_x\big(v^\top s_\theta\big)$ with one backward pass per random vector $v$
# (`flow.log_likelihood`, which integrates the path and the integral together with Heun's
# method or Euler's).
#
# First the check: with the exact score of the running example, (6.16) must give the
# exact $\log p_{t_0}$ of its marginal, a known mixture, as the number of steps $N$ grows.
# We compare on 500 points, in double precision.

# %%
check_points = running.sample(500, generator=seeds.generator(15)).double()
exact_log_p = vp.marginal(running, vp.t_min).log_prob(check_points)
solver_error = {"heun": [], "euler": []}  # the largest error over the points
step_counts = [5, 10, 20, 40]
for method, errors_of in solver_error.items():
    for n_steps in step_counts:
        result = flow.log_likelihood(
            exact_score, vp, check_points, n_steps, method=method
        )
        errors_of.append((result.log_prob - exact_log_p).abs().max().item())
display.show_table(
    ["$N$", "Euler: largest error", "Heun: largest error"],
    [
        [n, f"{e:.4f}", f"{h:.4f}"]
        for n, e, h in zip(
            step_counts, solver_error["euler"], solver_error["heun"]
        )
    ],
)

# %%
# Deterministic for these points. Each doubling of N divides a first-order
# error by about 2 and a second-order one by about 4 (from N = 10 on, where
# the steps resolve the flow).
euler_ratios = [
    a / b for a, b in zip(solver_error["euler"], solver_error["euler"][1:])
]
heun_ratios = [
    a / b for a, b in zip(solver_error["heun"], solver_error["heun"][1:])
]
claims.claim(
    "with 40 Heun steps the largest error is a few hundredths of a nat",
    0.01 < solver_error["heun"][-1] < 0.1,
    largest_error=solver_error["heun"][-1],
)
claims.claim(
    "doubling N halves Euler's error and quarters Heun's",
    all(1.7 < r < 2.3 for r in euler_ratios)
    and all(3.2 < r < 5.5 for r in heun_ratios[1:]),
    euler_ratios=euler_ratios,
    heun_ratios=heun_ratios,
)

# %% [markdown]
# The orders of Section 6.4, in the likelihood: Euler's error halves when $N$ doubles,
# Heun's falls by about four. With 40 Heun steps the largest error over 500 points is a
# few hundredths of a nat.
#
# In high dimension the exact divergence costs one backward pass per coordinate, and
# Hutchinson's estimator replaces it with one pass per random vector. We repeat the
# computation with 20 Heun steps and one Rademacher vector per evaluation, and compare
# with the exact divergence on the same points: the difference is the estimator's
# noise alone.

# %%
with_exact, with_probes = (
    flow.log_likelihood(
        exact_score, vp, check_points, 20, divergence=kind,
        generator=seeds.generator(16),
    ).log_prob
    for kind in ("exact", "hutchinson")
)  # fmt: skip
probe_noise = with_probes - with_exact
bias, bias_error = probe_noise.mean().item(), mean_and_error(probe_noise)[1]
per_point = probe_noise.std().item()
# Unbiased: the mean difference over 500 points must be within four of its
# standard errors of zero.
claims.claim(
    "Hutchinson's log-likelihoods are unbiased: the mean difference is "
    "within 4 standard errors of zero",
    abs(bias) < 4 * bias_error,
    bias=bias,
    standard_error=bias_error,
)

# %% tags=["prose"]
display.prose(
    rf"""
    On average over the 500 points the two agree, {bias:+.3f} ±
    {bias_error:.3f} nats, as an unbiased estimator must; but a single point's
    estimate scatters by {per_point:.2f} nats. Hutchinson's divergence is good
    for averages over many points, such as a test-set likelihood, and needs
    several vectors per evaluation for one point's density.
    """
)

# %% [markdown]
# **The trained model's likelihood.** Now the network of Section 6.3 on 4000 held-out
# points, drawn exactly as Section 5.7 draws its held-out points (the same seed), so
# that the numbers here compare directly with Chapter 5's energies. The comparison is
# fair: the same points, the same unit (nats per point; bits per dimension are minus the
# same number divided by $d \ln 2$), and both exact up to a numerical error that we can
# bound, a grid for the energies, the solver here. One difference remains: the ODE
# gives the density at $t_0 = 10^{-3}$, the data blurred by $\sigma(t_0) \approx 0.01$,
# and we measure what that blur is worth with the true density. As baselines: the true
# density itself, the best any model can do on average, and a single Gaussian fitted to
# the training data.

# %%
held_out = running.sample(4000, generator=seeds.generator(5)).double()
with torch.no_grad():
    fitted = mixtures.GaussianMixture(
        data.mean(dim=0, keepdim=True), torch.cov(data.T)[None]
    )
started = time.process_time()
model_log_p = {
    n_steps: flow.log_likelihood(learned_score, vp, held_out, n_steps).log_prob
    for n_steps in (20, 40)
}
print(f"likelihood of 4000 points: {time.process_time() - started:.1f} s")
per_point_log_p = {
    "true density": running.log_prob(held_out),
    "true density at $t_0$": vp.marginal(running, vp.t_min).log_prob(held_out),
    "diffusion model (ODE, 40 Heun steps)": model_log_p[40],
    "one Gaussian": fitted.log_prob(held_out),
}
display.show_table(
    ["density", "log-likelihood (nats per point)", "bits per dimension"],
    [
        [
            name,
            "{:.3f} ± {:.3f}".format(*mean_and_error(values)),
            f"{-values.mean().item() / (2 * math.log(2)):.3f}",
        ]
        for name, values in per_point_log_p.items()
    ],
)

# %%
truth = per_point_log_p["true density"]
shortfall, shortfall_error = mean_and_error(truth - model_log_p[40])
# Heun's error falls about four times when N doubles, so the error of the
# mean at N = 40 is about a third of its change from N = 20.
solver_change = abs((model_log_p[40] - model_log_p[20]).mean().item()) / 3
blur_cost = (truth - per_point_log_p["true density at $t_0$"]).mean().item()
gaussian_gap = mean_and_error(
    model_log_p[40] - per_point_log_p["one Gaussian"]
)
# Paired per point. The expected shortfall is a Kullback-Leibler divergence,
# never negative; across seeds it was 0.02 to 0.06 nats, many standard
# errors above zero, and the Gaussian was more than 0.5 nats behind.
claims.claim(
    "the model falls short of the true density by a small, measurable "
    "amount (over 4 standard errors, under 0.15 nats)",
    4 * shortfall_error < shortfall < 0.15,
    shortfall=shortfall,
    standard_error=shortfall_error,
)
claims.claim(
    "the solver's error and the blur of t_0 are under a tenth of the "
    "shortfall",
    solver_change < shortfall / 10 and abs(blur_cost) < shortfall / 10,
    solver_change=solver_change,
    blur_cost=blur_cost,
)
# Reflection question 4 quotes the blur's size (across seeds 1e-6 to 1e-5).
claims.claim(
    "the blur of t_0 changes the true log-likelihood by less than 1e-4 nats",
    abs(blur_cost) < 1e-4,
    blur_cost=blur_cost,
)
claims.claim(
    "the model is far ahead of one Gaussian (by over 0.3 nats)",
    gaussian_gap[0] > 0.3,
    gap=gaussian_gap[0],
)

# %% tags=["prose"]
display.prose(
    rf"""
    The diffusion model's held-out log-likelihood falls short of the true
    density's by {shortfall:.3f} ± {shortfall_error:.3f} nats per point (paired
    point by point), an estimate of the Kullback–Leibler divergence from the
    data to the model. The numerical errors are much smaller: from the change
    between 20 and 40 Heun steps, the solver's error in the mean is about
    {solver_change:.0e} nats, and the blur of $t_0$ costs the true density
    {abs(blur_cost):.0e}. A single Gaussian is {gaussian_gap[0]:.2f}
    nats behind the model. These are the held-out points of Section 5.7, in its
    unit: set this row next to the energies of its table. An energy model's
    likelihood needs $Z_\theta$, by quadrature in two dimensions and by
    annealed importance sampling beyond; a diffusion model's needs no
    partition function, only an ODE solve per point.
    """
)

# %% [markdown]
# ## 6.7 Conditional generation: classifier-free guidance
#
# Labelled data, pairs $(x, k)$ with a class $k$, let a model sample one class at a time:
# a network $z_\theta(x, t, k)$ trained on the pairs gives the score of $p_t(x \mid k)$.
# In practice one wants more than that: samples that are *typical* of their class, even
# at the price of some diversity. Bayes' rule, $p_t(x \mid k) \propto p_t(k \mid x)\, p_t(x)$,
# splits the conditional score into the unconditional one and the score of a classifier,
#
# $$
# \nabla_x \log p_t(x \mid k) = \nabla_x \log p_t(x) + \nabla_x \log p_t(k \mid x) ,
# $$
#
# and **guidance** turns up the classifier's term by a weight $\xi \ge 0$:
#
# $$
# \tilde s(x, t) = \nabla_x \log p_t(x \mid k) + \xi\, \nabla_x \log p_t(k \mid x)
# = (1 + \xi)\, \nabla_x \log p_t(x \mid k) - \xi\, \nabla_x \log p_t(x) .
# \tag{6.17}
# $$
#
# [Dhariwal & Nichol (2021)](../references.md#dhariwal2021) trained a separate classifier
# on noisy data for the second term. **Classifier-free guidance**
# ([Ho & Salimans, 2022](../references.md#ho2022)) needs none: one network learns both
# scores on the right of (6.17), because during training its label is replaced by "no
# label" part of the time (20% here), and with no label it learns the unconditional
# score. (Ho & Salimans write $w$ for $\xi$.)
#
# **The energy view.** A sum of scores is the score of a product of densities, and a
# product of densities is a sum of energies. Guidance samples, at every $t$, the score of
#
# $$
# p_t(x \mid k)^{1 + \xi}\; p_t(x)^{-\xi} \;\propto\; p_t(x \mid k)\; p_t(k \mid x)^{\xi} ,
# $$
#
# the class's density times its classifier raised to the power $\xi$: a product of
# experts, in which the classifier vetoes every point that it cannot confidently give to
# class $k$. Two consequences follow. The samples move away from the other classes, and
# lose diversity. And this family of densities is not the set of marginals of one
# noising process, so no sampler driven by $\tilde s$ samples an exact distribution, not
# even $p(x \mid k)\,p(k \mid x)^{\xi}$: guidance is a useful heuristic, not a sampler
# of a known target.
#
# We widen the modes of the running example (each component gets the variance 0.8 in
# every direction, so that the classes overlap), label 5000 points by the component
# that drew them, and train one network with the labels dropped 20% of the time
# (`ddpm.noise_prediction_loss` with `labels` and `drop_label`; the network's
# `with_label(k)` is its score for class $k$, `with_label(-1)` the unconditional one).

# %%
classes = mixtures.GaussianMixture(running.means, 0.8, running.weights)


def labelled_sample(mixture, n, generator):
    """n points of a mixture and the component that drew each."""
    labels = torch.multinomial(mixture.weights, n, True, generator=generator)
    z = torch.randn(n, mixture.dim, generator=generator)
    scales = torch.linalg.cholesky(mixture.covs)[labels]
    return mixture.means[labels] + torch.einsum(
        "nij,nj->ni", scales, z
    ), labels


labelled_data, labels = labelled_sample(classes, 5000, seeds.generator(17))
started = time.process_time()
guided_net = fit_diffusion(labelled_data, vp, 18, labels, drop_label=0.2)
print(f"training: {time.process_time() - started:.1f} s of CPU time")


def guided_score(xi, k, exact=False):
    """The guided score (6.17) for class k: exact, or from the network."""
    if exact:
        component = mixtures.GaussianMixture(
            classes.means[k : k + 1], classes.covs[k : k + 1]
        )
        conditional = vp.time_score(component.noisy_score)
        unconditional = vp.time_score(classes.noisy_score)
    else:
        conditional = vp.score_from_noise(guided_net.with_label(k))
        unconditional = vp.score_from_noise(guided_net.with_label(-1))
    return guidance.classifier_free_guidance(conditional, unconditional, xi)


def sample_class(score, n, seed):
    """n samples with the probability flow (25 Heun steps)."""
    start = vp.prior_sample(n, 2, seeds.generator(seed))
    with torch.no_grad():
        return flow.heun(score, vp, start, 25).samples


weights_xi = [0.0, 1.0, 3.0]
light = 2  # the lightest class, weight 0.2: its neighbours crowd it most
class_variance = 0.8 * 2  # the trace of the class's covariance
guided_rows, guided_stats = [], {}
for xi in weights_xi:
    row = [xi]
    for exact in (True, False):
        x = sample_class(guided_score(xi, light, exact), 2000, 19)
        purity = (classes.assign(x) == light).double().mean().item()
        spread = torch.cov(x.T).trace().item() / class_variance
        guided_stats[xi, exact] = (purity, spread)
        row += [f"{purity:.3f}", f"{spread:.2f}"]
    guided_rows.append(row)
display.show_table(
    ["$\\xi$", "in class, exact", "spread, exact", "in class, network",
     "spread, network"],
    guided_rows,
)  # fmt: skip

# %% [markdown]
# ("In class" is the share of the 2000 samples that the exact classifier
# $p(k \mid x)$ gives to the light class, $k = 2$, rather than to a neighbour; "spread"
# is the trace of the samples' covariance over that of the class, 1 for unguided
# samples of the class.)

# %% alt="Three scatter plots of samples of the three classes of the widened running example, coloured by class, drawn with the trained network and classifier-free guidance of weight 0, 1 and 3 over the contours of the data's density. Without guidance the classes overlap as in the data; with weights 1 and 3 they no longer overlap, and with weight 1 each class pulls away from the others into a tighter cloud."
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
counts = (1500 * classes.weights).round().long().tolist()
class_spreads = {}  # (xi, k): the spread of class k's samples
class_shares = {}  # (xi, k): the share of them that the classifier gives k
for ax, xi in zip(axes, weights_xi):
    plotting.plot_contours(
        classes.energy, (-5, 5), (-5, 5), ax=ax, filled=False,
        levels=8, colors="#b0b0b0",
    )  # fmt: skip
    for k, count in enumerate(counts):
        x = sample_class(guided_score(xi, k), count, 20 + k)
        class_spreads[xi, k] = torch.cov(x.T).trace().item() / class_variance
        class_shares[xi, k] = (classes.assign(x) == k).double().mean().item()
        plotting.plot_samples(
            x, ax=ax, color=plotting.OKABE_ITO[k], size=3, alpha=0.8
        )
    ax.set(
        title=f"guidance weight $\\xi = {xi:g}$", xlim=(-5, 5), ylim=(-5, 5)
    )
plt.tight_layout()
plt.show()

# %%
# 2000 samples: binomial standard errors of at most 0.011 on a share, and
# about sqrt(2 / 2000) = 3% on a spread. Across seeds the network's
# unguided share was within 0.03 of the exact one, and guidance with weight 1
# put over 98% of the samples in the class and shrank the spread below 0.7.
(pure_0, spread_0), (pure_1, spread_1), (pure_3, spread_3) = (
    guided_stats[xi, False] for xi in weights_xi
)
exact_pure_0 = guided_stats[0.0, True][0]
# The figure's classes (300 to 750 samples each). Across seeds every spread
# at weight 1 was below 0.7 and every unguided one above 0.95; at weight 3
# the network's clouds vary, some tighter still, some drawn out into streaks.
claims.claim(
    "with weights 1 and 3 the classes no longer overlap (over 98% of each "
    "class's samples are given to it by the classifier), and at weight 1 "
    "each class forms a tighter cloud than unguided",
    all(class_shares[xi, k] > 0.98 for xi in (1.0, 3.0) for k in range(3))
    and all(class_spreads[1.0, k] < class_spreads[0.0, k] for k in range(3)),
    shares=class_shares,
    spreads=class_spreads,
)
claims.claim(
    "unguided, the network's samples of the class are as mixed as the "
    "exact ones (within 0.05)",
    abs(pure_0 - exact_pure_0) < 0.05,
    network=pure_0,
    exact=exact_pure_0,
)
claims.claim(
    "guidance puts more samples in the class (over 0.98 at weight 1) and "
    "shrinks their spread (below 0.7, then lower still at weight 3)",
    pure_1 > 0.98
    and pure_0 < pure_1
    and spread_1 < 0.7
    and spread_3 < spread_1,
    shares=[pure_0, pure_1, pure_3],
    spreads=[spread_0, spread_1, spread_3],
)

exact_spread_1, exact_spread_3 = (
    guided_stats[xi, True][1] for xi in (1.0, 3.0)
)
# Each spread is known to about sqrt(2 / 2000) of itself; the standard
# error of the difference is at most the two combined (both runs start from
# the same prior draws, which only makes it smaller). Across five training
# seeds the network's spread at weight 1 was 0.10 to 0.16 below the exact
# one; at weight 3 it was anywhere from 0.25 below to equal.
spread_gap_error = math.sqrt(2 / 2000 * (spread_1**2 + exact_spread_1**2))
claims.claim(
    "at weight 1 the network's guided samples are tighter than the exact "
    "guided score's, by over 3 standard errors",
    exact_spread_1 - spread_1 > 3 * spread_gap_error,
    network=spread_1,
    exact=exact_spread_1,
    standard_error=spread_gap_error,
)

# %% tags=["prose"]
display.prose(
    rf"""
    Without guidance, {1 - pure_0:.0%} of the light class's samples fall
    where the classifier gives them to a neighbour (with the exact score:
    {1 - exact_pure_0:.0%}). With $\xi = 1$ that share drops to
    {1 - pure_1:.1%}, and the spread of the samples shrinks to
    {spread_1:.2f} of the class's; at $\xi = 3$, to {spread_3:.2f}. Guidance
    buys typical samples with diversity. It also amplifies the network's
    errors, which enter the guided score (6.17) with the weights $1 + \xi$
    and $\xi$: the exact guided score gives the spreads {exact_spread_1:.2f}
    and {exact_spread_3:.2f}, and already at $\xi = 1$ the network's samples
    are measurably tighter than that. Large weights need an accurate model.
    """
)

# %% [markdown]
# ## Reflection questions
#
# ??? question "1. The reverse SDE's drift carries $g^2\,\nabla\log p_t$, the probability-flow ODE's only $\tfrac12 g^2\,\nabla\log p_t$. Where does the difference come from, and what would an ODE with the full $g^2$ do?"
#     Both must undo the forward noise's spreading, $\tfrac12 g^2\nabla^2 p_t$ in (6.5).
#     The ODE has no noise of its own, so half the score term replaces that spreading by
#     a transport. The reverse SDE adds noise of the same size again, which spreads the
#     chains a second time, and needs the other half to undo it. An ODE with the full
#     $g^2$ concentrates the chains twice as hard as it should: they pile up towards
#     the modes, too narrow, the deterministic collapse of gradient ascent in Chapter 2.
#
# ??? question "2. In Exercise 6.3 the reverse SDE forgot a wrong start and the ODE did not. Is forgetting always a virtue?"
#     For sampling, mostly yes: the SDE forgets errors of the start, and also part of
#     the errors of earlier steps and of the score, which is one reason stochastic
#     samplers can do well with learned scores. But the ODE's memory is what makes it
#     useful elsewhere. It maps each data point to one point of the prior and back, so it
#     gives exact likelihoods (Section 6.6), encodes data into the prior (to edit or
#     interpolate), and its samples change smoothly with the start. An SDE can do none
#     of that.
#
# ??? question "3. The VP loss with $t$ uniform trains little below $\tilde\sigma = 0.1$ and much above the data's scale. How would you move its training to the levels that matter, and what would the loss then be in Chapter 4's terms?"
#     Draw $t$ from another distribution, or equivalently draw the level $\tilde\sigma$
#     directly, for instance log-uniformly as VE does, or from the log-normal
#     distribution of Karras et al. (2022), and reweight if the loss should stay the
#     same in expectation. In Chapter 4's terms it is still $2J$ with the weight
#     $\lambda(\sigma) = \sigma^2$; only the distribution of the levels changes, and with
#     it which levels the network learns well.
#
# ??? question "4. Section 6.6 computed $\log p_{t_0}$ at $t_0 = 10^{-3}$, not at $t = 0$. Why not go all the way, and when would the difference matter?"
#     For data concentrated on a thin set (an image manifold, or Chapter 4's circle) the
#     density at $t = 0$ is infinite or undefined, and the score blows up as $t \to 0$;
#     the blur of $\sigma(t_0)$ makes every quantity finite. For the running example the
#     blur changed the true log-likelihood by less than $10^{-4}$ nats; for data with structure
#     at the scale $\sigma(t_0)$ it would change it a lot, and likelihoods at different
#     $t_0$ are not comparable.
#
# ??? question "5. Guidance samples no known distribution. In two dimensions, how would you measure how far its samples are from $p(x \mid k)\, p(k \mid x)^{\xi}$ normalized?"
#     Compute that density on a grid (its normalizing constant by quadrature, Chapter 1),
#     draw exact samples from it (or compute its class share and spread by quadrature),
#     and compare the guided samples with them, with a floor, as the scoreboard does.
#     With exact scores the gap is guidance's own bias; with the network it adds the
#     learning error that guidance multiplies.
#
# ## Summary
#
# - A forward process $\mathrm{d}x = f\,\mathrm{d}t + g\,\mathrm{d}W_t$ turns data into
#   noise. VE ($f = 0$) is Chapter 4's noise made continuous; VP
#   ($f = -\tfrac12\beta x$, $g = \sqrt\beta$) shrinks the data while adding noise, and
#   DDPM's chain is its discretisation, with an error of order $1/N$. Both have the
#   marginals $x_t = \sqrt{\bar\alpha(t)}\,x_0 + \sigma(t)\,z$.
# - Matching the Fokker–Planck equation step by step gives the reverse-time SDE,
#   drift $f - g^2\nabla\log p_t$ with $\mathrm{d}t < 0$, and the probability-flow ODE,
#   velocity $f - \tfrac12 g^2\nabla\log p_t$: the same marginals, with and without noise.
# - DDPM predicts the noise; the noise, the clean point (Tweedie) and the score are three
#   readings of one network. $J_{\text{simple}}$ is twice Chapter 4's multi-noise loss,
#   with the levels $\tilde\sigma = \sigma/\sqrt{\bar\alpha}$ drawn as $t$ is, which for
#   VP puts little training at small levels.
# - Six samplers are written once for every process: Euler–Maruyama, ancestral,
#   predictor–corrector, the flow by Euler and Heun, DDIM. With exact scores they differ
#   widely at 10 evaluations, where the deterministic ones lead, and all reach the floor
#   by 100; with the trained network the deterministic ones lead as well, and all come
#   near the floor by 100.
# - The probability-flow ODE gives exact log-likelihoods by the instantaneous change of
#   variables, with an exact or a Hutchinson divergence, and no partition function.
# - Classifier-free guidance adds $\xi$ times a classifier's score, learned by dropping
#   labels: a product of experts that trades diversity for typical samples, and samples
#   no exact distribution.
#
# ## Where to go next
#
# - **Flow matching.** The probability-flow ODE is one way to move noise into data; flow
#   matching ([Lipman et al., 2023](../references.md#lipman2023)) and rectified flows
#   ([Liu, Gong & Liu, 2023](../references.md#liu2023)) regress the velocity $u$
#   directly, along paths chosen to be straight, and train without the SDE.
# - **Consistency models** ([Song, Dhariwal, Chen & Sutskever, 2023](../references.md#song2023))
#   learn the map from any point of a probability-flow path to its end, so that one or
#   two evaluations give a sample.
# - **Latent diffusion** ([Rombach et al., 2022](../references.md#rombach2022)) runs the
#   diffusion in the latent space of an autoencoder, where images are small: the
#   recipe behind today's text-to-image models, with classifier-free guidance.
# - **Better grids and solvers.** [Karras et al. (2022)](../references.md#karras2022)
#   separate the choices this chapter made together: the noise schedule, the grid, the
#   solver, the network's scaling. Try their grid with the samplers of Section 6.5.
#
# ## References
#
# - B. D. O. Anderson (1982). *Reverse-time diffusion equation models.* Stochastic
#   Processes and their Applications 12(3). (The reverse SDE.)
#   [↗](../references.md#anderson1982)
# - J. Ho, A. Jain, P. Abbeel (2020). *Denoising diffusion probabilistic models.*
#   NeurIPS. (DDPM: the chain, $J_{\text{simple}}$, ancestral sampling.)
#   [↗](../references.md#ho2020)
# - Y. Song, J. Sohl-Dickstein, D. P. Kingma, A. Kumar, S. Ermon, B. Poole (2021).
#   *Score-based generative modeling through stochastic differential equations.* ICLR.
#   (VE and VP SDEs, predictor–corrector, the probability-flow ODE and its likelihoods.)
#   [↗](../references.md#song2021)
# - J. Song, C. Meng, S. Ermon (2021). *Denoising diffusion implicit models.* ICLR.
#   (DDIM.) [↗](../references.md#song2021ddim)
# - T. Karras, M. Aittala, T. Aila, S. Laine (2022). *Elucidating the design space of
#   diffusion-based generative models.* NeurIPS. (Heun's sampler, DDIM as Euler.)
#   [↗](../references.md#karras2022)
# - R. T. Q. Chen, Y. Rubanova, J. Bettencourt, D. Duvenaud (2018). *Neural ordinary
#   differential equations.* NeurIPS. (The instantaneous change of variables.)
#   [↗](../references.md#chen2018)
# - P. Dhariwal, A. Nichol (2021). *Diffusion models beat GANs on image synthesis.*
#   NeurIPS. (Classifier guidance.) [↗](../references.md#dhariwal2021)
# - J. Ho, T. Salimans (2022). *Classifier-free diffusion guidance.* arXiv:2207.12598.
#   [↗](../references.md#ho2022)
# - J. Sohl-Dickstein, E. Weiss, N. Maheswaranathan, S. Ganguli (2015). *Deep
#   unsupervised learning using nonequilibrium thermodynamics.* ICML. (Where diffusion
#   models began.) [↗](../references.md#sohldickstein2015)
#
# The full bibliography is on the [references page](../references.md).
