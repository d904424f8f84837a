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
# # 3. Score matching: learning the score from data
#
# !!! abstract "In this chapter"
#     **Time:** about 100 minutes: about 55 of reading and running the code, about 45 of exercises.
#
#     **You will learn to**
#
#     - state the Fisher divergence between a score model and the data, and explain why it cannot be computed from samples directly;
#     - derive Hyvärinen's implicit score matching by integration by parts, and check that on a Gaussian it recovers maximum likelihood;
#     - measure the cost of the Jacobian trace, and cut it with random projections (sliced score matching);
#     - derive denoising score matching, and predict its bias and its variance as the noise level shrinks;
#     - convert between a score model and the noise predictor of a diffusion model;
#     - write the denoising loss and a training loop, train a score network on 2-D data, sample from it with Langevin dynamics, and locate where the learned score is wrong;
#     - diagnose a score network trained at too small a noise level, telling a poorly learned score from a sampler that failed.
#
#     **You need** [Chapter 2](02_score_and_langevin.py): the score, Langevin dynamics, and the Fisher divergence that appeared in the Fokker–Planck argument. Also basic autograd (`torch.autograd.grad`) and integration by parts.
#
# Chapter 2 sampled distributions whose score we could write down. For real data we
# cannot: all we have is a set of samples. This chapter turns those samples into a score
# model $s_\theta(x) \approx \nabla_x \log p(x)$, first exactly and expensively, then
# cheaply with random projections, and finally with the trick that powers today's
# diffusion models: add noise to the data and learn to remove it.

# %%
import inspect
import math
import time

import matplotlib.pyplot as plt
import torch

from ebm_book import (
    claims,
    datasets,
    display,
    energies,
    examples,
    losses,
    metrics,
    nets,
    plotting,
    sampling,
    seeds,
    training,
)
from ebm_book.exercises.ch03_score_matching import (
    check_gaussian_c_sigma,
    check_implicit_score_matching,
    check_score_training,
    check_small_sigma_diagnosis,
)
from ebm_book.score import jacobian_trace

plotting.use_book_style()
seeds.manual_seed(0)  # the random initial weights of the networks

# %% [markdown]
# ## 3.1 Learning the score from data
#
# We observe data $x_1, \dots, x_n \in \mathbb{R}^d$, drawn independently from an unknown
# density $p$, and we choose a **score model** $s_\theta: \mathbb{R}^d \to \mathbb{R}^d$
# with parameters $\theta$: a neural network with $d$ outputs, or minus the gradient of an
# energy network. The natural measure of how far the model is from the truth is the
# squared distance between the two vector fields, averaged where the data lives:
# $\mathbb{E}_{x \sim p}\lVert s_\theta(x) - \nabla_x \log p(x)\rVert^2$. When
# $s_\theta$ is the score of a model density, this is the *Fisher divergence* between the
# data and the model, the quantity that appeared in the Fokker–Planck argument of
# Chapter 2, $D_F(\rho \,\Vert\, p) = \mathbb{E}_\rho\lVert \nabla\log\rho - \nabla\log p\rVert^2$.
# **Explicit score matching** minimizes half of it:
#
# $$
# J_{\text{ESM}}(\theta) = \tfrac12\, \mathbb{E}_{x \sim p}\Big[\big\lVert s_\theta(x) - \nabla_x \log p(x) \big\rVert^2\Big].
# $$
#
# (The factor $\tfrac12$ only tidies the algebra below; whenever this chapter compares a
# loss with a Fisher divergence, it says which of the two it means.)
#
# It is zero exactly when $s_\theta = \nabla_x \log p$ wherever $p > 0$. It is also
# useless as it stands: it needs the very score $\nabla_x \log p$ we are trying to learn.
# Expanding the square isolates the trouble:
#
# $$
# J_{\text{ESM}}(\theta)
# = \underbrace{\tfrac12\,\mathbb{E}_p\big[\lVert s_\theta(x)\rVert^2\big]}_{\text{an average over data}}
# \;-\; \underbrace{\mathbb{E}_p\big[s_\theta(x)^\top \nabla_x \log p(x)\big]}_{\text{needs } \nabla \log p}
# \;+\; \underbrace{\tfrac12\,\mathbb{E}_p\big[\lVert \nabla_x \log p(x)\rVert^2\big]}_{\text{does not depend on } \theta} .
# $$
#
# The first term can be averaged over the data; the last is a constant, irrelevant when
# we minimize over $\theta$. Only the cross term stands in the way.
#
# ### Integration by parts removes the unknown score
#
# In one dimension, write $s_\theta'$ for the derivative of the model. Since
# $p \,(\log p)' = p'$,
#
# $$
# \mathbb{E}_p\big[s_\theta(x)\,(\log p)'(x)\big]
# = \int s_\theta(x)\, p'(x)\,\mathrm{d}x
# = \Big[s_\theta(x)\, p(x)\Big]_{-\infty}^{\infty} - \int s_\theta'(x)\, p(x)\,\mathrm{d}x
# = -\,\mathbb{E}_p\big[s_\theta'(x)\big],
# $$
#
# provided the boundary term vanishes. The derivative has moved from the unknown $p$ onto
# the model, and the result is again an average over data.
#
# In $d$ dimensions the cross term is a sum over coordinates,
# $\sum_{i=1}^d \int s_{\theta,i}(x)\, \partial_i p(x)\, \mathrm{d}x$. Integrating the
# $i$-th term by parts in $x_i$, with the other coordinates held fixed, turns it into
# $-\int \partial_i s_{\theta,i}(x)\, p(x)\,\mathrm{d}x$. Summing over $i$ gives the
# divergence of the model, which is the trace of its Jacobian:
#
# $$
# \mathbb{E}_p\big[s_\theta(x)^\top \nabla_x \log p(x)\big]
# = -\,\mathbb{E}_p\Big[\sum_{i=1}^d \frac{\partial s_{\theta,i}(x)}{\partial x_i}\Big]
# = -\,\mathbb{E}_p\big[\operatorname{tr} \nabla_x s_\theta(x)\big].
# $$
#
# Putting it back into the expansion gives **implicit score matching**
# [(Hyvärinen, 2005)](../references.md#hyvarinen2005):
#
# $$
# J_{\text{ESM}}(\theta) = J_{\text{ISM}}(\theta) + C,
# \qquad
# J_{\text{ISM}}(\theta) = \mathbb{E}_p\Big[\tfrac12\lVert s_\theta(x)\rVert^2 + \operatorname{tr} \nabla_x s_\theta(x)\Big],
# \qquad
# C = \tfrac12\,\mathbb{E}_p\big[\lVert \nabla_x \log p(x)\rVert^2\big].
# $$
#
# $J_{\text{ISM}}$ contains no $\nabla \log p$, so we can estimate it by averaging over the
# data, and it has the same minimizer as $J_{\text{ESM}}$. The derivation holds
# under three conditions:
#
# - **differentiability:** $p$ and $s_\theta$ are differentiable (the Jacobian of the model must exist; the package's networks use the smooth SiLU activation for this reason);
# - **vanishing boundary terms:** $p(x)\, s_\theta(x) \to 0$ as $\lVert x \rVert \to \infty$;
# - **finite moments:** $\mathbb{E}_p\lVert \nabla_x \log p\rVert^2$ and $\mathbb{E}_p\lVert s_\theta\rVert^2$ are finite, so that every term of the expansion exists.
#
# Data confined to a box, or to a curve, break the first two; keep that in mind for
# Section 3.4. The package's loss is the formula, line for line:

# %%
source = inspect.getsource(losses.implicit_score_matching)
print(source.split('"""')[-1])  # the body, without the docstring

# %% [markdown]
# Let us check the identity on the three-component mixture of Chapters 1 and 2, whose
# score we know exactly. We evaluate both objectives on 20,000 samples for two families
# of models, each with a single parameter $\theta$: an isotropic Gaussian score
# $s_\theta(x) = -\theta\,(x - \bar x)$ with precision $\theta$ ($\bar x$ is the mean of
# the sample), which cannot represent the mixture, and a rescaled true score
# $s_\theta(x) = \theta\,\nabla_x \log p(x)$, which is exact at $\theta = 1$. If the
# derivation is right, $J_{\text{ISM}} + C$ must lie on top of $J_{\text{ESM}}$ for every
# model.

# %% alt="Two panels, one per model family, plotting objectives against the parameter theta. The explicit score-matching objective and the implicit one shifted by the constant C lie on top of each other, so both are minimized at the same theta, up to Monte Carlo error (exactly 1 for the rescaled true score); the unshifted implicit objective is the same curve moved down."
mixture = examples.example_mixture()  # the three modes of Chapter 1
x = mixture.sample(20_000, generator=seeds.generator(0)).double()
c = 0.5 * (mixture.score(x) ** 2).sum(1).mean().item()  # C, on x
families = {  # name: (formula, the model s_theta as a function of theta)
    "isotropic Gaussian": (
        "$-\\theta\\,(x - \\bar x)$",
        lambda theta: lambda y: -theta * (y - x.mean(0)),
    ),
    "rescaled true score": (
        "$\\theta\\,\\nabla \\log p(x)$",
        lambda theta: lambda y: theta * mixture.score(y),
    ),
}
grid = torch.linspace(0.05, 2.0, 40)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for ax, (name, (formula, family)) in zip(axes, families.items()):
    esm, ism = torch.zeros(40), torch.zeros(40)
    for k, theta in enumerate(grid):
        s_theta = family(theta)
        esm[k] = losses.explicit_score_matching(s_theta, x, mixture.score)
        ism[k] = losses.implicit_score_matching(s_theta, x).item()
    ax.plot(grid, esm, color="C0", label="$J_{\\mathrm{ESM}}$")
    ax.plot(grid, ism + c, "--", color="C1", label="$J_{\\mathrm{ISM}} + C$")
    ax.plot(grid, ism, ":", color="C1", label="$J_{\\mathrm{ISM}}$")
    ax.set(xlabel="$\\theta$", title=f"{name}, $s_\\theta(x) = ${formula}")
    print(
        f"{name:19s}: minimizer of ESM theta = {grid[esm.argmin()]:.2f},"
        f" of ISM theta = {grid[ism.argmin()]:.2f};"
        f" largest |ESM - ISM - C| = {(esm - ism - c).abs().max():.3f}"
    )
axes[0].set(ylabel="objective")
axes[1].legend(loc="upper center")
plt.show()
# esm now holds the last family, the rescaled true score, whose
# J_ESM = (theta - 1)^2 C is least exactly at the grid point theta = 1
claims.claim(
    "the explicit objective of the rescaled true score is least at theta = 1",
    abs(grid[esm.argmin()] - 1) < 1e-6,
    minimizer=grid[esm.argmin()],
)

# Integration by parts says E_p[tr(grad s) + s . grad log p] = 0.
# On our 20,000 samples, for s = s_1 of each family:
for name, (_, family) in families.items():
    s_1 = family(1.0)
    terms = jacobian_trace(s_1, x) + (s_1(x) * mixture.score(x)).sum(1)
    mean, error = terms.mean().item(), terms.std().item() / len(x) ** 0.5
    print(
        f"{name:19s}: mean of tr(grad s) + s . grad log p ="
        f" {mean:+.3f} ± {error:.3f}"
    )
    # two families: a margin of 4 standard errors leaves room for both
    claims.claim(
        f"the average is zero to within a few standard errors ({name})",
        abs(mean) < 4 * error,
        mean=mean,
        standard_error=error,
    )
print(f"C = E|grad log p|^2 / 2 = {c:.3f}")

# %% [markdown]
# The dashed curves lie on the solid ones: the two objectives differ by the constant
# $C$ for every model of both families, and they choose the same model. The small
# remaining gaps are Monte Carlo error. Integration by parts holds in expectation,
# $\mathbb{E}_p[\operatorname{tr}\nabla s + s^\top \nabla \log p] = 0$; on 20,000
# samples the average is zero only to within a few of its standard errors, as printed.
# Both families are linear in $\theta$, $s_\theta = \theta\, s_1$, so the gap
# $J_{\text{ESM}} - J_{\text{ISM}} - C$ is $-\theta$ times that average, and the two
# minimizers differ only by Monte Carlo error.
#
# In the left panel the chosen model is the best isotropic Gaussian, even though no
# member of the family matches the mixture: score matching finds the closest model in
# the Fisher sense, as maximum likelihood finds the closest in the Kullback–Leibler sense.
#
# ### Exercise 3.1: the implicit score-matching loss (about 10 minutes)
#
# Estimate $J_{\text{ISM}}$, as defined above, on a batch of points. The model maps a
# batch of shape `(N, d)` to scores of the same shape; return one number, a 0-d tensor.
# Compute the Jacobian trace yourself with `torch.autograd.grad` (not with the
# package's `jacobian_trace`), and keep the loss differentiable with respect to the
# model's parameters, so that it could train them: the grader compares both the value
# and its gradient.
#
# ??? tip "Hint"
#     A backward pass gives the gradient of *one* number with respect to `x`. Which
#     number gives you, for every point at once, the derivatives
#     $\partial s_i / \partial x_1, \dots, \partial s_i / \partial x_d$ of one
#     coordinate $i$ of the score? And which argument of `torch.autograd.grad` makes
#     its result differentiable again?


# %%
def implicit_score_matching_loss(model, x):
    """J_ISM of Section 3.1, estimated on the batch x of shape (N, d).

    Returns a 0-d tensor that can be differentiated with respect to the
    model's parameters.
    """
    # TODO: your code here
    raise NotImplementedError


check_implicit_score_matching(implicit_score_matching_loss)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch03_score_matching import (
    check_implicit_score_matching,
)


def implicit_score_matching_loss_solution(model, x):
    x = x.detach().requires_grad_(True)
    scores = model(x)
    trace = torch.zeros(x.shape[0], dtype=scores.dtype)
    for i in range(x.shape[1]):  # one backward pass per coordinate
        (grad_i,) = torch.autograd.grad(
            scores[:, i].sum(), x, create_graph=True
        )
        trace = trace + grad_i[:, i]  # keep d s_i / d x_i
    return (0.5 * (scores**2).sum(dim=1) + trace).mean()


check_implicit_score_matching(implicit_score_matching_loss_solution)

# %% [markdown]
# ## 3.2 Score matching on a Gaussian
#
# For a Gaussian model the minimizer of $J_{\text{ISM}}$ has a closed form, and it is a
# familiar one. Take the score model of $\mathcal{N}(\mu, \Lambda^{-1})$, with precision
# matrix $\Lambda$ (Chapter 2),
#
# $$
# s(x) = -\Lambda(x - \mu), \qquad \nabla_x s(x) = -\Lambda, \qquad \operatorname{tr}\nabla_x s(x) = -\operatorname{tr} \Lambda,
# $$
#
# with a free mean $\mu \in \mathbb{R}^d$ and a free matrix
# $\Lambda \in \mathbb{R}^{d\times d}$ (we do not even require it to be symmetric). Write
# $\bar x = \frac1n \sum_i x_i$ for the sample mean and
# $\hat\Sigma = \frac1n\sum_i (x_i - \bar x)(x_i - \bar x)^\top$ for the sample
# covariance with the $1/n$ normalization. The empirical objective is
#
# $$
# \hat J_{\text{ISM}}(\mu, \Lambda) = \frac1n \sum_{i=1}^n \tfrac12 \lVert \Lambda(x_i - \mu) \rVert^2 - \operatorname{tr} \Lambda
# = \tfrac12 \operatorname{tr}\!\Big(\Lambda \big(\hat\Sigma + (\bar x - \mu)(\bar x - \mu)^\top\big) \Lambda^\top\Big) - \operatorname{tr} \Lambda .
# $$
#
# The rank-one term contributes $\tfrac12\lVert \Lambda(\bar x - \mu)\rVert^2 \ge 0$, which
# is zero at $\mu = \bar x$. Then the gradient with respect to $\Lambda$ is
# $\Lambda \hat\Sigma - I$, which vanishes at $\Lambda = \hat\Sigma^{-1}$. So score
# matching estimates
#
# $$
# \hat\mu = \bar x, \qquad \hat\Lambda = \hat\Sigma^{-1}:
# $$
#
# the sample mean and the inverse of the $1/n$ sample covariance, exactly the maximum
# likelihood estimates [(Hyvärinen, 2005)](../references.md#hyvarinen2005). We check
# this by minimizing the package's `implicit_score_matching` numerically with L-BFGS, on
# 500 samples of a correlated 2-D Gaussian.


# %%
class GaussianScore(torch.nn.Module):
    """The Gaussian score s(x) = -Lambda (x - mu), with free Lambda and mu."""

    def __init__(self, dim):
        super().__init__()
        eye = torch.eye(dim, dtype=torch.float64)
        self.mu = torch.nn.Parameter(torch.zeros_like(eye[0]))
        self.precision = torch.nn.Parameter(eye)  # Lambda

    def forward(self, x):
        return -(x - self.mu) @ self.precision.T


truth = energies.Gaussian(
    mean=[1.0, -0.5], cov=torch.tensor([[1.0, 0.6], [0.6, 0.5]])
)
samples = truth.sample(500, generator=seeds.generator(1)).double()
model = GaussianScore(dim=2)
optimizer = torch.optim.LBFGS(
    model.parameters(), max_iter=200, line_search_fn="strong_wolfe"
)


def closure():
    optimizer.zero_grad()
    loss = losses.implicit_score_matching(model, samples)
    loss.backward()
    return loss


optimizer.step(closure)
mu_hat, lambda_hat = model.mu.detach(), model.precision.detach()
mean_mle = samples.mean(0)
cov_mle = torch.cov(samples.T, correction=0)  # the 1/n covariance
precision_mle = torch.linalg.inv(cov_mle)


def as_text(vector, matrix):
    vector, matrix = vector.double().numpy(), matrix.double().numpy()
    return f"{vector.round(4)}  {matrix.round(4).tolist()}"


print("                    mean            precision")
print("score matching :", as_text(mu_hat, lambda_hat))
print("closed form    :", as_text(mean_mle, precision_mle))
print("truth          :", as_text(truth.mean, truth.precision))
gap = max(
    (mu_hat - mean_mle).abs().max(), (lambda_hat - precision_mle).abs().max()
)
asymmetry = (lambda_hat - lambda_hat.T).abs().max()
print(f"largest difference, score matching vs closed form: {gap:.1e}")
# L-BFGS stops at a gradient tolerance of 1e-7; 1e-3 is far above that
claims.claim(
    "the numerical minimizer agrees with the closed form", gap < 1e-3, gap=gap
)
claims.claim(
    "the estimated precision came out symmetric",
    asymmetry < 1e-3,
    asymmetry=asymmetry,
)

# %% [markdown]
# The numerical minimizer agrees with the closed form to the optimizer's tolerance, and
# $\hat\Lambda$ came out symmetric although nothing forced it to. Both differ from the
# true parameters by the same amount, the sampling error of 500 points, which shrinks
# like $1/\sqrt{n}$: score matching is not *more* accurate than maximum likelihood here,
# it is the same estimator, reached without ever computing a normalizing constant. The
# ellipses below, the contours one and two standard deviations out
# ($\tfrac12 (x - \mu)^\top \Lambda (x-\mu) = \tfrac12$ and $2$), show the same thing.


# %% alt="500 samples of a correlated two-dimensional Gaussian with the 1- and 2-standard-deviation contours of three fits: the true Gaussian, the maximum-likelihood fit and the score-matching fit. The last two coincide; they differ from the truth by the sampling error of 500 points."
def half_mahalanobis(mean, precision):
    def energy(y):
        diff = y - mean
        return 0.5 * torch.einsum("ni,ij,nj->n", diff, precision, diff)

    return energy


fits = [
    (truth.mean, truth.precision, "C0", "solid", "true Gaussian"),
    (mean_mle, precision_mle, "C1", "solid", "maximum likelihood"),
    (mu_hat, lambda_hat, "C3", "dashed", "score matching"),
]
fig, ax = plt.subplots(figsize=(5, 4))
plotting.plot_samples(samples.float(), ax=ax, color="gray", size=5)
for mean, precision, color, style, label in fits:
    plotting.plot_contours(
        half_mahalanobis(mean.float(), precision.float()),
        (-2.0, 4.0),
        (-2.5, 1.5),
        ax=ax,
        filled=False,
        levels=[0.5, 2.0],
        colors=color,
    )
    ax.collections[-1].set_linestyle(style)
    ax.plot([], [], color=color, ls=style, label=label)
ax.set(title="Fits to 500 samples: 1- and 2-std contours")
ax.legend(loc="lower right", fontsize=9)
plt.show()

# %% [markdown]
# ## 3.3 The cost of the Jacobian trace
#
# Autograd computes *vector–Jacobian products* $v^\top \nabla_x s_\theta(x)$, for a
# vector $v$ of our choice: one combination of the rows of the Jacobian per backward
# pass. The trace needs the $d$ diagonal entries $\partial s_{\theta,i}/\partial x_i$,
# each from a different row, so exact implicit score matching takes $d$ backward passes
# (`jacobian_trace` loops over $i$), and then one more pass through all of them to get
# the gradient with respect to $\theta$. For an image with
# $d = 3 \times 64 \times 64 = 12\,288$ that is hopeless.
#
# ### Sliced score matching: the trace along random directions
#
# The way out is an old trick of [Hutchinson (1989)](../references.md#hutchinson1989).
# For a random vector $v$ with $\mathbb{E}[v v^\top] = I$ (for instance
# $v \sim \mathcal{N}(0, I)$) and any square matrix $A$,
#
# $$
# \mathbb{E}_v\big[v^\top A\, v\big] = \operatorname{tr}\big(A\, \mathbb{E}[v v^\top]\big) = \operatorname{tr} A .
# $$
#
# With $A = \nabla_x s_\theta(x)$, the product $v^\top \nabla_x s_\theta(x)$ is the
# gradient of the scalar $v^\top s_\theta(x)$: a *single* backward pass, whatever $d$.
# **Sliced score matching** [(Song, Garg, Shi & Ermon, 2019)](../references.md#song2019sliced)
# projects the whole problem onto random directions. With one $v$ per data point,
#
# $$
# J_{\text{SSM}}(\theta) = \mathbb{E}_{x}\,\mathbb{E}_{v}\Big[v^\top \nabla_x\big(v^\top s_\theta(x)\big) + \tfrac12 \big(v^\top s_\theta(x)\big)^2\Big] = J_{\text{ISM}}(\theta),
# $$
#
# since also $\mathbb{E}_v[(v^\top s)^2] = s^\top \mathbb{E}[v v^\top]\, s = \lVert s \rVert^2$.
# The **variance-reduced** version keeps the random trace but uses the exact
# $\tfrac12\lVert s_\theta(x)\rVert^2$ for the second term. Both are unbiased; they
# differ in how much a single estimate scatters. For Gaussian $v$ the variances per
# point are
#
# $$
# \operatorname{Var}_v\big[v^\top A v\big] = 2\,\big\lVert \tfrac12 (A + A^\top)\big\rVert_F^2,
# \qquad
# \operatorname{Var}_v\big[\tfrac12 (v^\top s)^2\big] = \tfrac12 \lVert s \rVert^4 ,
# $$
#
# where $\lVert \cdot \rVert_F$ is the Frobenius norm. The second grows with the
# *square* of $\lVert s\rVert^2$, which is of order $d$ for a score close to that of a
# standard Gaussian.
#
# First, the costs. We time one training step (loss and parameter gradient) of a
# `ScoreMLP` with three hidden layers of width 128, on a batch of 128 points, as the
# dimension grows: for the exact trace, for both sliced losses, and for the denoising
# loss of Section 3.4.


# %%
def seconds_per_step(loss_fn, model, x, repeats):
    """Fastest of `repeats` timed steps: the least disturbed one."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss_fn(model, x).backward()
        times.append(time.perf_counter() - start)
    return min(times)


g = seeds.generator(2)
objectives = {
    "implicit (exact trace)": lambda m, x: losses.implicit_score_matching(
        m, x
    ),
    "sliced": lambda m, x: losses.sliced_score_matching(
        m, x, variance_reduced=False, generator=g
    ),
    "sliced, variance-reduced": lambda m, x: losses.sliced_score_matching(
        m, x, generator=g
    ),
    "denoising": lambda m, x: losses.denoising_score_matching(
        m, x, 0.1, generator=g
    ),
}
dims = [2, 8, 32, 128, 256]
timings = {name: [] for name in objectives}
for d in dims:
    seeds.manual_seed(d)
    net = nets.ScoreMLP(dim=d, hidden=128, depth=3)
    batch = torch.randn(128, d, generator=g)
    for name, loss_fn in objectives.items():
        loss_fn(net, batch).backward()  # warm-up, not timed
        slow = name.startswith("implicit") and d >= 128
        seconds = seconds_per_step(loss_fn, net, batch, 1 if slow else 5)
        timings[name].append(seconds)

# %% alt="Log-log plot of the time per training step against the dimension for four objectives. The implicit objective with the exact Jacobian trace grows steeply with the dimension; sliced, variance-reduced sliced and denoising score matching stay within a factor of five of their cost at d = 2, so at d = 256 they are more than ten times faster."
fig, ax = plt.subplots(figsize=(6.5, 4))
for (name, seconds), marker in zip(timings.items(), "osDv"):
    ms = [1000 * t for t in seconds]
    ax.loglog(dims, ms, marker + "-", label=name)
ax.set(
    xlabel="dimension $d$",
    ylabel="time per training step (ms)",
    title="Cost of one step, batch of 128",
)
ax.legend()
plt.show()
exact = timings["implicit (exact trace)"]
exact_growth = exact[-1] / exact[0]  # from the smallest d to the largest
ratio = exact[-1] / timings["sliced, variance-reduced"][-1]
other_growth = max(
    max(seconds) / min(seconds)
    for name, seconds in timings.items()
    if name != "implicit (exact trace)"
)
# Times depend on the machine and on what else it is doing; these margins
# are wide (a typical CPU gives growth over 100, ratio over 100, and 2-3).
claims.claim(
    "at d = 256 the exact trace is more than ten times slower than sliced",
    ratio > 10,
    ratio=ratio,
)
claims.claim(
    "the exact trace costs more than ten times as much at d = 256 as at 2",
    exact_growth > 10,
    growth=exact_growth,
)
claims.claim(
    "the sliced and denoising costs stay within a factor of five",
    other_growth < 5,
    growth=other_growth,
)
display.show_table(
    ["$d$"] + [f"{name} (ms/step)" for name in objectives],
    [
        [d] + [1000 * timings[name][k] for name in objectives]
        for k, d in enumerate(dims)
    ],
)

# %% tags=["prose"]
display.prose(f"""
The exact trace's cost grows with $d$, since it takes $d$ backward passes: on the
machine that built this page, a step took {exact_growth:.0f} times as long at
$d$ = {dims[-1]} as at $d$ = {dims[0]}, and {ratio:.0f} times as long as a
variance-reduced sliced step. The sliced and denoising losses changed by at most a
factor of {other_growth:.1f} over the same range of $d$, because their cost is that
of the network, not of the dimension. (At small $d$ all of them are dominated by
fixed overheads, and the timings wobble with whatever else the machine is doing.)
""")

# %% [markdown]
# What does the randomness cost? We fix a model and a batch of 256 points, compute the
# exact $\hat J_{\text{ISM}}$ once, and draw 100 independent sets of projections for
# each sliced estimator. The model is a standard Gaussian score plus a small random
# network $\phi_\theta$, $s_\theta(x) = -x + \phi_\theta(x)$, typical of a model part-way
# through training on standardized data.

# %%
n_draws = 100
rows, spread = [], {}
g = seeds.generator(3)
for d in (2, 16, 128):
    seeds.manual_seed(d)
    phi = nets.ScoreMLP(dim=d, hidden=128, depth=3)

    def model_d(y, phi=phi):
        return -y + phi(y)

    batch = torch.randn(256, d, generator=g)
    exact_value = losses.implicit_score_matching(model_d, batch).item()
    row = [d, exact_value]
    for reduced in (False, True):
        draws = torch.tensor(
            [
                losses.sliced_score_matching(
                    model_d, batch, variance_reduced=reduced, generator=g
                ).item()
                for _ in range(n_draws)
            ]
        )
        mean, std = draws.mean().item(), draws.std().item()
        error = std / n_draws**0.5
        row += [f"{mean:.3f} ± {error:.3f}", std]
        spread[d, reduced] = std
        # six comparisons of this kind: 4 standard errors keep the chance
        # of a false alarm among them near one in a thousand
        claims.claim(
            "each sliced average is within four standard errors of the"
            f" exact value (d = {d}, variance-reduced: {reduced})",
            abs(mean - exact_value) < 4 * error,
            mean=mean,
            exact=exact_value,
            standard_error=error,
        )
    rows.append(row)
gaps = [spread[d, False] / spread[d, True] for d in (2, 16, 128)]
# A standard deviation from 100 draws is uncertain by about 7%, a ratio of
# two of them by about 10%. Across seeds the ratios are about 1.0, 1.9 and
# 6: neighbours, and the bounds, are at least 4 such errors apart.
claims.claim(
    "at d = 2 the two estimators scatter about equally",
    0.6 < gaps[0] < 1.7,
    gap=gaps[0],
)
claims.claim(
    "at d = 16 and 128 a plain estimate scatters more, and the gap widens",
    gaps[0] < gaps[1] < gaps[2] and gaps[2] > 3,
    gaps=[round(r, 2) for r in gaps],
)
display.show_table(
    [
        "$d$",
        "exact $\\hat J_{\\mathrm{ISM}}$",
        f"sliced: mean of {n_draws}",
        "sliced: std of one",
        f"variance-reduced: mean of {n_draws}",
        "variance-reduced: std of one",
    ],
    rows,
)

# %% tags=["prose"]
display.prose(f"""
Both sliced estimators are unbiased, and the averages agree: each lies within four
standard errors of the exact value (there are six comparisons, so we allow four
rather than two). The estimators differ in scatter. At $d = 2$ the two scatter about equally (the ratio of their
standard deviations is {gaps[0]:.1f}), but at $d = 16$ and $128$ a single plain
estimate scatters {gaps[1]:.1f} and {gaps[2]:.1f} times as much as a variance-reduced
one: the gap widens with the dimension, as the variance formulas predict.
""")

# %% [markdown]
# The variance-reduced form is the one to use whenever the exact $\lVert s\rVert^2$ is
# available, which it always is. (The package's `score.hutchinson_trace` draws $\pm 1$
# entries instead of Gaussian ones, which removes the diagonal of $A$ from the variance.)
#
# ## 3.4 Denoising score matching
#
# Here is a different idea, due to [Vincent (2011)](../references.md#vincent2011)
# (first circulated as a technical report in 2010). Instead of the data, learn the score
# of a *noisy* version of it. Perturb each data point with Gaussian noise of standard
# deviation $\sigma$,
#
# $$
# \tilde x = x + \sigma z, \qquad x \sim p,\; z \sim \mathcal{N}(0, I),
# $$
#
# so that $\tilde x$ has the density
# $p_\sigma(\tilde x) = \int p(x)\, \mathcal{N}(\tilde x; x, \sigma^2 I)\,\mathrm{d}x$:
# the data density blurred by the noise, the convolution
# $p_\sigma = p * \mathcal{N}(0, \sigma^2 I)$.
# Given the clean point $x$, the noisy point is Gaussian, and the score of this
# *perturbation kernel* is known in closed form:
#
# $$
# \nabla_{\tilde x} \log \mathcal{N}(\tilde x; x, \sigma^2 I) = -\frac{\tilde x - x}{\sigma^2} = -\frac{z}{\sigma} .
# $$
#
# **Denoising score matching** regresses the model onto this target:
#
# $$
# J_{\text{DSM}}(\theta) = \tfrac12\, \mathbb{E}_{x, z}\Big[\big\lVert s_\theta(x + \sigma z) + z/\sigma \big\rVert^2\Big].
# $$
#
# Each term is a plain regression: one forward pass, no Jacobian, no true score. The
# name comes from what the target says: $-z/\sigma$ points from the noisy point back
# towards the clean one, so $s_\theta$ learns to *denoise*.
#
# ### Why it works: Vincent's argument
#
# Compare it with explicit score matching for the noisy distribution,
# $J_{\text{ESM},\sigma}(\theta) = \tfrac12\,\mathbb{E}_{p_\sigma}\big[\lVert s_\theta(\tilde x) - \nabla \log p_\sigma(\tilde x)\rVert^2\big]$.
# Expand both squares. The terms $\tfrac12\mathbb{E}\lVert s_\theta(\tilde x)\rVert^2$
# are identical, since $\tilde x \sim p_\sigma$ in both. The cross term of the explicit
# loss is
#
# $$
# \mathbb{E}_{p_\sigma}\big[s_\theta(\tilde x)^\top \nabla \log p_\sigma(\tilde x)\big]
# = \int s_\theta(\tilde x)^\top \nabla p_\sigma(\tilde x)\,\mathrm{d}\tilde x
# = \iint p(x)\, s_\theta(\tilde x)^\top \nabla_{\tilde x} \mathcal{N}(\tilde x; x, \sigma^2 I)\,\mathrm{d}x\,\mathrm{d}\tilde x
# = \mathbb{E}_{x, \tilde x}\big[s_\theta(\tilde x)^\top \nabla_{\tilde x} \log \mathcal{N}(\tilde x; x, \sigma^2 I)\big],
# $$
#
# where the middle step moves the gradient inside the integral that defines $p_\sigma$,
# and the last multiplies and divides by $\mathcal{N}$. The right-hand side is exactly
# the cross term of $J_{\text{DSM}}$. What remains are the squared targets, which do not
# depend on $\theta$:
#
# $$
# J_{\text{DSM}}(\theta) = J_{\text{ESM},\sigma}(\theta) + C_\sigma,
# \qquad
# C_\sigma = \frac{d}{2\sigma^2} - \tfrac12\, \mathbb{E}_{p_\sigma}\big[\lVert \nabla \log p_\sigma(\tilde x) \rVert^2\big] \;\ge\; 0 .
# $$
#
# No integration by parts was needed, so nothing is required of $p$: it may live on a
# curve, in a box, or be the empirical distribution of a finite data set. The noisy
# density $p_\sigma$ is always smooth. The minimizer is $s_\theta = \nabla \log p_\sigma$:
# the best regression of $-z/\sigma$ on $\tilde x$, $\mathbb{E}[-z/\sigma \mid \tilde x]$.
# (That $C_\sigma \ge 0$ follows from the same fact: the average square of a
# conditional mean is at most the average square of what it averages.) In terms of the
# Fisher divergence, $J_{\text{ESM},\sigma}$ is half of it, so the denoising loss is
# $C_\sigma$ plus half the Fisher divergence between $p_\sigma$ and the model.
#
# The claim is easy to test on our mixture, because the noisy version of a Gaussian
# mixture is again a Gaussian mixture (each covariance grows by $\sigma^2 I$); the
# package provides it as `mixture.perturbed(sigma)`. For several very different score
# models we compute both losses on the same 50,000 noisy points, point by point, and
# their difference.

# %%
sigma = 0.3
noisy_mixture = mixture.perturbed(sigma)  # p_sigma, exactly
g = seeds.generator(4)
clean = mixture.sample(50_000, generator=g)
z = torch.randn(clean.shape, generator=g)
noisy = clean + sigma * z
noisy_score = noisy_mixture.score(noisy)


def per_point_losses(score_model):
    """DSM and explicit noisy-score-matching terms, one per point."""
    with torch.no_grad():
        s = score_model(noisy)
    dsm = 0.5 * ((s + z / sigma) ** 2).sum(1)
    esm = 0.5 * ((s - noisy_score) ** 2).sum(1)
    return dsm, esm


def standard_error(values):
    return values.std().item() / len(values) ** 0.5


seeds.manual_seed(5)
models = {
    "zero, $s = 0$": torch.zeros_like,
    "standard Gaussian, $s = -x$": lambda y: -y,
    "narrow Gaussian, $s = -4x$": lambda y: -4 * y,
    "a randomly initialized `ScoreMLP`": nets.ScoreMLP(2, hidden=64),
    "clean score $\\nabla \\log p$": mixture.score,
    "exact noisy score $\\nabla \\log p_\\sigma$": noisy_mixture.score,
}
# the part of DSM - ESM that does not depend on the model: its mean is C_sigma
common = 0.5 * (z / sigma).pow(2).sum(1) - 0.5 * noisy_score.pow(2).sum(1)
c_sigma = common.mean().item()
d = clean.shape[1]
print(
    "predicted C_sigma = d / (2 sigma^2) - E|grad log p_sigma|^2 / 2 ="
    f" {d / (2 * sigma**2):.3f} - {d / (2 * sigma**2) - c_sigma:.3f} ="
    f" {c_sigma:.3f} ± {standard_error(common):.3f}"
)
rows, explicit = [], []
for name, score_model in models.items():
    dsm, esm = per_point_losses(score_model)
    # what is left depends on the model, s^T (z / sigma + grad log p_sigma),
    # and averages to zero: it is what the rows may differ by
    own = dsm - esm - common
    rows.append(
        [
            name,
            esm.mean().item(),
            dsm.mean().item(),
            (dsm - esm).mean().item(),
            f"{own.mean():+.3f} ± {standard_error(own):.3f}",
        ]
    )
    explicit.append(esm.mean().item())
    # six models: 4 standard errors keep a false alarm below one in a thousand
    claims.claim(
        f"DSM - ESM matches the predicted C_sigma ({name})",
        abs(own.mean()) <= 4 * standard_error(own) + 1e-9,
        difference=own.mean(),
        standard_error=standard_error(own),
    )
display.show_table(
    [
        "model",
        "explicit $J_{\\mathrm{ESM},\\sigma}$",
        "denoising $J_{\\mathrm{DSM}}$",
        "difference",
        "difference $- \\, C_\\sigma$ ± std. error",
    ],
    rows,
)

# %% tags=["prose"]
display.prose(f"""
The explicit losses range from {min(explicit):.0f} to {max(explicit):.0f}, yet the
difference stays the same constant: each row's difference matches the predicted
$C_\\sigma$ = {c_sigma:.2f}, computed on the same points, within four standard errors.
""")

# %% [markdown]
# The last column compares the rows point by point. All rows use the same noisy points,
# and most of the fluctuation of the difference comes from the common term
# $\tfrac12\lVert z/\sigma \rVert^2 - \tfrac12\lVert\nabla\log p_\sigma\rVert^2$, whose
# average is the estimate of $C_\sigma$; what is left is the model-dependent part,
# $s_\theta(\tilde x)^\top\big(z/\sigma + \nabla \log p_\sigma(\tilde x)\big)$, which
# averages to zero, and its standard error is the one to judge a row by. Look also at the last two rows. The clean score is a *wrong* model
# for the noisy data, and its nonzero explicit loss is a first measure of the bias
# discussed below. The exact noisy score has explicit loss zero and denoising loss
# $C_\sigma$, the floor below which no model's expected denoising loss can go.
#
# ### Exercise 3.2: Vincent's constant for Gaussian data (derive it, about 10 minutes)
#
# The floor $C_\sigma$ depends on the data only through the mean square of the noisy
# score, and for Gaussian data that has a closed form. Take $p = \mathcal{N}(\mu, \Sigma)$
# in $d$ dimensions. Derive $C_\sigma$ from its expression above: first the noisy
# density $p_\sigma$, then its score, then the average of the score's squared norm
# under $p_\sigma$. Write the result as a function of the covariance $\Sigma$ and the
# noise level $\sigma$ (the mean $\mu$ drops out: can you see why before you start?).
# The grader evaluates your formula for covariances of several sizes and shapes.


# %%
def gaussian_c_sigma(cov, sigma):
    """Vincent's constant C_sigma for Gaussian data N(mu, cov).

    cov: the data's covariance, a (d, d) float64 tensor; sigma: the noise
    level, a float. Returns a number (a float or a 0-d tensor).
    """
    # TODO: derive C_sigma, then write it here
    raise NotImplementedError


check_gaussian_c_sigma(gaussian_c_sigma)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch03_score_matching import check_gaussian_c_sigma


def gaussian_c_sigma_solution(cov, sigma):
    # p_sigma = N(mu, cov + sigma^2 I): its score is -A (x - mu) with
    # A = (cov + sigma^2 I)^-1, and the mean of |A (x - mu)|^2 under p_sigma
    # is tr(A (cov + sigma^2 I) A) = tr(A). The mean mu never enters.
    d = cov.shape[0]
    noisy_cov = cov + sigma**2 * torch.eye(d, dtype=cov.dtype)
    mean_square_score = torch.linalg.inv(noisy_cov).trace()
    return d / (2 * sigma**2) - 0.5 * mean_square_score


check_gaussian_c_sigma(gaussian_c_sigma_solution)

# %% [markdown]
# ### The price: bias at large $\sigma$, variance at small $\sigma$
#
# Denoising score matching learns $\nabla \log p_\sigma$, not $\nabla \log p$. That is a
# **bias**, and it shrinks with the noise: for a smooth $p$, $p_\sigma$ differs from $p$
# by $O(\sigma^2)$, and so does its score. We measure it on the mixture, on clean
# samples, as the Fisher divergence
# $D_F(p \,\Vert\, p_\sigma) = \mathbb{E}_p\lVert \nabla\log p - \nabla\log p_\sigma\rVert^2$
# relative to $\mathbb{E}_p\lVert\nabla\log p\rVert^2$: both without a factor
# $\tfrac12$, so their ratio is the relative squared error of the score.
#
# Small $\sigma$ has its own problem, **variance**. Expand one term of the loss:
#
# $$
# \tfrac12\big\lVert s_\theta(\tilde x) + z/\sigma \big\rVert^2
# = \tfrac12\lVert s_\theta(\tilde x)\rVert^2 + \frac{s_\theta(\tilde x)^\top z}{\sigma} + \frac{\lVert z \rVert^2}{2\sigma^2} .
# $$
#
# The last term carries no gradient but dominates the value: a mini-batch estimate of
# the loss has a standard deviation growing like $1/\sigma^2$. The middle term is the one
# that matters for training. The gradient with respect to $\theta$ is driven by the
# residual $s_\theta(\tilde x) + z/\sigma$, whose noise has standard deviation $1/\sigma$
# per coordinate, so the *gradient's* variance grows like $1/\sigma^2$, while the signal
# it carries, the score of $p_\sigma$, stays of order one. We measure both on batches of
# 256 points, for a fixed network.

# %%
sigmas = [1.0, 0.5, 0.3, 0.1, 0.03, 0.01]
g = seeds.generator(6)
x_clean = mixture.sample(20_000, generator=g)
true_scores = mixture.score(x_clean)
scale = true_scores.pow(2).sum(1).mean().item()  # E_p |grad log p|^2
seeds.manual_seed(7)
probe_net = nets.ScoreMLP(2, hidden=64)
parameters = list(probe_net.parameters())
rows, bias, loss_std, grad_std, grad_mean = [], [], [], [], []
for level in sigmas:
    noisy_level = mixture.perturbed(level)
    fisher = metrics.fisher_divergence(
        noisy_level.score, mixture.score, x_clean
    )
    bias.append(fisher / scale)
    values, grads = [], []
    for _ in range(40):
        index = torch.randint(len(x_clean), (256,), generator=g)
        loss = losses.denoising_score_matching(
            probe_net, x_clean[index], level, generator=g
        )
        gradient = torch.autograd.grad(loss, parameters)
        grads.append(torch.cat([t.flatten() for t in gradient]))
        values.append(loss.item())
    loss_std.append(torch.tensor(values).std().item())
    # square root of the total variance of the gradient vector
    grad_std.append(torch.stack(grads).var(0).sum().sqrt().item())
    grad_mean.append(torch.stack(grads).mean(0).norm().item())
    rows.append([level, bias[-1], loss_std[-1], grad_std[-1]])


def slope(values, i, j):
    """The slope on log-log axes between sigmas[i] and sigmas[j]."""
    return math.log(values[j] / values[i]) / math.log(sigmas[j] / sigmas[i])


slopes = {  # from sigma = 0.1 to sigma = 0.01
    "bias": slope(bias, 3, 5),
    "loss std": slope(loss_std, 3, 5),
    "gradient std": slope(grad_std, 3, 5),
}
print("slopes from sigma = 0.1 to 0.01:")
print({name: round(value, 2) for name, value in slopes.items()})
# The bias is a deterministic function of 20,000 fixed points. A standard
# deviation from 40 batches is uncertain by about 11%, so a slope over a
# factor 10 in sigma by about 0.07: the margins are several times that.
claims.claim(
    "the bias falls like sigma^4", abs(slopes["bias"] - 4) < 0.3, **slopes
)
claims.claim(
    "the loss estimate's std grows like sigma^-2",
    abs(slopes["loss std"] + 2) < 0.4,
    **slopes,
)
claims.claim(
    "the gradient estimate's std grows like sigma^-1",
    abs(slopes["gradient std"] + 1) < 0.4,
    **slopes,
)
# the mean of 40 gradients still contains noise of grad_std / sqrt(40),
# so the signal is at most grad_mean: a safe bound on it
claims.claim(
    "at sigma = 0.01 a gradient step is mostly noise",
    grad_std[-1] > 2 * grad_mean[-1],
    noise=grad_std[-1],
    signal_at_most=grad_mean[-1],
)
display.show_table(
    [
        "$\\sigma$",
        "bias: $D_F(p \\,\\Vert\\, p_\\sigma)$, relative",
        "std of the loss estimate",
        "std of the gradient estimate",
    ],
    rows,
)

# %% alt="Left: the Fisher divergence between the clean and the noisy score, relative to the clean score's mean square, falls like sigma to the fourth power once the noise level sigma is small. Right: as sigma shrinks, the standard deviation of the denoising score-matching loss estimate grows like 1/sigma^2 and that of its gradient like 1/sigma."
fig, (ax_bias, ax_var) = plt.subplots(1, 2, figsize=(10, 3.6))
ax_bias.loglog(sigmas, bias, "o-", color="C0", label="measured")
slope_4 = [bias[3] * (level / 0.1) ** 4 for level in sigmas]
ax_bias.loglog(
    sigmas, slope_4, ":", color="gray", label="$\\propto \\sigma^4$"
)
ax_bias.set(
    xlabel="$\\sigma$",
    ylabel="relative Fisher divergence",
    title="Bias: $\\nabla \\log p_\\sigma$ vs $\\nabla \\log p$",
)
ax_bias.legend()
ax_var.loglog(sigmas, loss_std, "o-", color="C1", label="loss estimate")
ax_var.loglog(sigmas, grad_std, "s-", color="C2", label="gradient estimate")
slope_2 = [loss_std[-1] * (0.01 / level) ** 2 for level in sigmas]
slope_1 = [grad_std[-1] * (0.01 / level) for level in sigmas]
ax_var.loglog(
    sigmas, slope_2, ":", color="C1", label="$\\propto \\sigma^{-2}$"
)
ax_var.loglog(
    sigmas, slope_1, ":", color="C2", label="$\\propto \\sigma^{-1}$"
)
ax_var.set(
    xlabel="$\\sigma$",
    ylabel="standard deviation (batch of 256)",
    title="Variance of the DSM estimates",
)
ax_var.legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% tags=["prose"]
display.prose(f"""
The two panels pull in opposite directions. The bias falls like $\\sigma^4$ once
$\\sigma$ is small compared with the modes (the score error like $\\sigma^2$): from
$\\sigma = 1$ to $\\sigma = 0.01$ it falls more than
{10 ** math.floor(math.log10(bias[0] / bias[-1])):,}-fold. The standard
deviation of the loss estimate grows like $\\sigma^{{-2}}$, and that of the gradient
like $\\sigma^{{-1}}$, so over the same range the gradient's variance grows
{(grad_std[-1] / grad_std[0]) ** 2:.0f}-fold (the measured slopes between
$\\sigma = 0.1$ and $0.01$ are {slopes["bias"]:.1f}, {slopes["loss std"]:.1f} and
{slopes["gradient std"]:.1f}). At $\\sigma = 0.01$ the learned score would be nearly
unbiased, but each gradient step is mostly noise: the noise of a single batch's
gradient is {grad_std[-1] / grad_mean[-1]:.0f} times the length of the gradient
averaged over all 40 batches.
Any single $\\sigma$ is a compromise; Chapter 4 stops compromising and uses many.
""")

# %% [markdown]
# ## 3.5 Noise prediction: the same object, rescaled
#
# The denoising target is $-z/\sigma$: up to the factor $-1/\sigma$, the noise itself.
# A network $z_\theta(\tilde x, \sigma)$ trained to *predict the noise* $z$ from the noisy
# point (DDPM's $\epsilon_\theta$, below) is therefore a score model in disguise. At one
# fixed noise level, write it $z_\theta(\tilde x)$:
#
# $$
# s_\theta(\tilde x) = -\frac{z_\theta(\tilde x)}{\sigma}
# \quad\Longrightarrow\quad
# J_{\text{DSM}}(\theta) = \tfrac12\,\mathbb{E}\Big\lVert -\frac{z_\theta(\tilde x)}{\sigma} + \frac{z}{\sigma}\Big\rVert^2
# = \frac{1}{2\sigma^2}\, \mathbb{E}\big\lVert z_\theta(\tilde x) - z \big\rVert^2 .
# $$
#
# So $\sigma^2 J_{\text{DSM}} = \tfrac12\, \mathbb{E}\lVert z_\theta(\tilde x) - z\rVert^2$:
# the $\sigma^2$-weighted denoising loss is half the mean squared error of noise
# prediction. Its minimizer is the conditional mean
# $\mathbb{E}[z \mid \tilde x] = -\sigma\, \nabla \log p_\sigma(\tilde x)$, and since
# $x = \tilde x - \sigma z$, the best guess of the clean point is
#
# $$
# \mathbb{E}[x \mid \tilde x] = \tilde x - \sigma\,\mathbb{E}[z \mid \tilde x] = \tilde x + \sigma^2\, \nabla \log p_\sigma(\tilde x) ,
# $$
#
# **Tweedie's formula**, published by [Robbins (1956)](../references.md#robbins1956), who
# credits it to M. C. K. Tweedie, and revived by [Efron (2011)](../references.md#efron2011)
# for empirical Bayes. Denoising and score estimation are one problem.
#
# Denoising diffusion probabilistic models (DDPM) [(Ho, Jain & Abbeel, 2020)](../references.md#ho2020)
# write the noisy data at step $t$ as
# $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,z$, with clean data $x_0$,
# noise $z \sim \mathcal{N}(0, I)$ (DDPM calls it $\epsilon$; in this book $\epsilon$ is
# the Langevin step size), and $\bar\alpha_t$ a number in $(0, 1)$ fixed for each step
# $t$ by DDPM's noise schedule, which Chapter 4 defines. This is our
# $\tilde x = x + \sigma z$ with the clean data scaled by $\sqrt{\bar\alpha_t}$ and the
# noise level $\sigma = \sqrt{1 - \bar\alpha_t}$. The kernel's score is
# $-(x_t - \sqrt{\bar\alpha_t}\,x_0)/(1 - \bar\alpha_t) = -z/\sqrt{1-\bar\alpha_t}$, so
#
# $$
# s_\theta(x_t, t) = -\frac{z_\theta(x_t, t)}{\sqrt{1 - \bar\alpha_t}},
# \qquad
# J_{\text{simple}}(t) = \mathbb{E}\big\lVert z - z_\theta(x_t, t) \big\rVert^2 = 2\,(1 - \bar\alpha_t)\, J_{\text{DSM}}(t) ,
# $$
#
# where $J_{\text{simple}}$ is DDPM's training loss at step $t$, which Ho et al. call
# `L_simple`, and $J_{\text{DSM}}(t)$ is ours at $\sigma = \sqrt{1 - \bar\alpha_t}$ on
# data scaled by $\sqrt{\bar\alpha_t}$. (Implementations often average the squared error
# over the $d$ coordinates rather than summing, which divides it by $d$.) We check both
# identities with the package's `denoising_score_matching`, re-creating the noise it
# draws from the same seed.

# %%
seeds.manual_seed(9)
score_net = nets.ScoreMLP(2, hidden=64)
x0 = mixture.sample(1000, generator=seeds.generator(10))


def noise_predictor(noisy_points, noise_std):
    return -noise_std * score_net(noisy_points)  # z_theta = -sigma s_theta


with torch.no_grad():
    dsm = losses.denoising_score_matching(
        score_net, x0, sigma, generator=seeds.generator(11)
    ).item()
    z_same = torch.randn(x0.shape, generator=seeds.generator(11))  # same draw
    z_hat = noise_predictor(x0 + sigma * z_same, sigma)
    mse = (z_hat - z_same).pow(2).sum(1).mean().item()
    print(
        f"sigma = {sigma}:     sigma^2 J_DSM = {sigma**2 * dsm:.6f},"
        f"  MSE(z) / 2 = {mse / 2:.6f}"
    )

    alpha_bar = 0.64
    std_t = math.sqrt(1 - alpha_bar)
    scaled = math.sqrt(alpha_bar) * x0
    dsm_t = losses.denoising_score_matching(
        score_net, scaled, std_t, generator=seeds.generator(12)
    ).item()
    z_t = torch.randn(x0.shape, generator=seeds.generator(12))
    x_t = scaled + std_t * z_t
    j_simple = (z_t - noise_predictor(x_t, std_t)).pow(2).sum(1).mean().item()
    print(
        f"alpha_bar = {alpha_bar}: 2 (1 - alpha_bar) J_DSM ="
        f" {2 * (1 - alpha_bar) * dsm_t:.6f},  J_simple = {j_simple:.6f}"
    )
# both are identities: they hold up to float32 rounding, about 1e-7
claims.claim(
    "sigma^2 J_DSM equals half the mean squared error of noise prediction",
    abs(sigma**2 * dsm - mse / 2) < 1e-5 * mse,
    sigma2_dsm=sigma**2 * dsm,
    half_mse=mse / 2,
)
claims.claim(
    "J_simple = 2 (1 - alpha_bar) J_DSM",
    abs(2 * (1 - alpha_bar) * dsm_t - j_simple) < 1e-5 * j_simple,
    j_simple=j_simple,
    dsm_t=dsm_t,
)

# Tweedie: E[x | noisy] = noisy + sigma^2 grad log p_sigma(noisy),
# on the 50,000 noisy points of Section 3.4
denoised = noisy + sigma**2 * noisy_score
before = (noisy - clean).pow(2).sum(1).mean().item()
after = (denoised - clean).pow(2).sum(1).mean().item()
print(
    f"squared error of the noisy points {before:.4f}"
    f" (d sigma^2 = {d * sigma**2:.2f}); after Tweedie denoising {after:.4f}"
)

# %% tags=["prose"]
display.prose(f"""
The same numbers, from two formulas. The last line shows what "denoising" means:
moving each of the 50,000 noisy points of Section 3.4 by $\\sigma^2$ times the exact
noisy score removes {1 - after / before:.0%} of the noise's squared error. No denoiser
can do better on average, since $\\mathbb{{E}}[x \\mid \\tilde x]$ is the best guess;
what remains is the uncertainty about $x$ that is left once $\\tilde x$ is seen.
""")

# %% [markdown]
# The $\sigma^2$ weighting also explains why noise-prediction losses behave well across
# noise levels: multiplying the loss by $\sigma^2$ cancels the $1/\sigma^2$ growth of its
# scale measured in Section 3.4. Chapter 4 uses exactly this weighting to train one
# network at many noise levels at once [(Song & Ermon, 2019)](../references.md#song2019).
#
# ## 3.6 Hands-on: a score network for 2-D data
#
# Time to learn a score from samples alone. You will first write the two pieces
# yourself: the denoising loss, and the loop that minimizes it.
#
# ### Exercise 3.3: train a score network (build it, about 20 minutes)
#
# Write two functions.
#
# - `dsm_loss(model, x, sigma, generator)` estimates $J_{\text{DSM}}$ of Section 3.4 on a batch `x` of clean points, shape `(N, d)`. It draws its noise itself, with `generator`, and returns a 0-d tensor through which the model's parameters can be trained.
# - `fit_score(model, data, sigma, n_steps, lr, generator, batch_size=256)` trains `model` in place: `n_steps` steps of Adam at learning rate `lr`, each on your `dsm_loss` over a mini-batch of `batch_size` points drawn from `data` with `generator`. It returns the list of the `n_steps` losses, as floats.
#
# Every random number comes from `generator`, so that the same seed trains the same
# network. The grader checks your loss on one batch, then a few steps of your loop; then
# it trains a small `ScoreMLP` with them, 500 steps on the mixture at $\sigma = 0.5$,
# and compares the learned field with the exact $\nabla \log p_\sigma$ on samples of
# $p_\sigma$. The relative Fisher divergence and the mean cosine between the two fields
# must be as good as the reference solution's over many seeds. It takes a second or two.


# %%
def dsm_loss(model, x, sigma, generator):
    """J_DSM of Section 3.4 on the batch x of shape (N, d): a 0-d tensor.

    Draws its noise with generator.
    """
    # TODO: your code here
    raise NotImplementedError


def fit_score(model, data, sigma, n_steps, lr, generator, batch_size=256):
    """Train model with Adam on dsm_loss over mini-batches of data.

    Takes n_steps steps at learning rate lr, and draws every batch (and,
    through dsm_loss, all the noise) with generator. Returns the n_steps
    losses.
    """
    # TODO: your code here
    raise NotImplementedError


check_score_training(dsm_loss, fit_score)

# %% tags=["solution"]
import torch

from ebm_book.exercises.ch03_score_matching import check_score_training


def dsm_loss_solution(model, x, sigma, generator):
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    noisy = x + sigma * z
    # the score of the kernel N(noisy; x, sigma^2 I) is -(noisy - x) / sigma^2
    target = -z / sigma
    return 0.5 * ((model(noisy) - target) ** 2).sum(dim=1).mean()


def fit_score_solution(
    model, data, sigma, n_steps, lr, generator, batch_size=256
):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(n_steps):
        rows = torch.randint(len(data), (batch_size,), generator=generator)
        loss = dsm_loss_solution(model, data[rows], sigma, generator)
        optimizer.zero_grad()  # backward() adds to .grad: clear it first
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


check_score_training(dsm_loss_solution, fit_score_solution)

# %% [markdown]
# The package has both pieces: `losses.denoising_score_matching` is this loss, and
# `training.train` this loop, with checks of its inputs and a progress bar, which we
# switch off on this page with `progress=False`. From here on we use them, with a
# larger `ScoreMLP` (three hidden layers of width 128, SiLU activations) and batches of
# 512 points, and one more detail. The gradient noise measured in Section 3.4 keeps
# Adam's iterates jittering around the optimum, and the jitter is itself an error in the
# learned score. So after 2000 steps at learning rate $2\times10^{-3}$ we take 500 more
# at $2\times10^{-4}$ and 250 at $2\times10^{-5}$, each stage calming the jitter of the
# one before.
#
# ### A mixture whose noisy score we know
#
# We train on 10,000 samples of the mixture at $\sigma = 0.3$, and compare with
# $\nabla \log p_\sigma$, which `noisy_mixture.score` gives exactly.


# %%
def dsm_objective(sigma):
    def loss(model, batch, generator):
        return losses.denoising_score_matching(model, batch, sigma, generator)

    return loss


def train_score_net(data, sigma, seed=0):
    seeds.manual_seed(seed)  # the network's initial weights
    model = nets.ScoreMLP(dim=2, hidden=128, depth=3)
    history = []
    schedule = [(2e-3, 2000), (2e-4, 500), (2e-5, 250)]
    for stage, (lr, n_steps) in enumerate(schedule):
        history += training.train(
            model,
            dsm_objective(sigma),
            data,
            n_steps=n_steps,
            batch_size=512,
            lr=lr,
            seed=seeds.seed(10 * seed + stage),
            progress=False,
        )
    return model, history


train_data = mixture.sample(10_000, generator=seeds.generator(13))
start = time.perf_counter()
mixture_net, history = train_score_net(train_data, sigma)
last = torch.tensor(history[-200:])
final, final_error = last.mean().item(), last.std().item() / 200**0.5
c_error = standard_error(common)  # of the estimate of C_sigma
print(
    f"trained in {time.perf_counter() - start:.1f} s; final loss"
    f" (mean of the last 200 steps) {final:.3f} ± {final_error:.3f};"
    f" lowest possible: C_sigma = {c_sigma:.3f} ± {c_error:.3f}"
)

test = noisy_mixture.sample(20_000, generator=seeds.generator(14))
fisher = metrics.fisher_divergence(mixture_net, noisy_mixture.score, test)
noisy_scale = noisy_mixture.score(test).pow(2).sum(1).mean().item()
print(
    f"Fisher divergence D_F on noisy test data: {fisher:.4f}, that is"
    f" {fisher / noisy_scale:.1%} of E|grad log p_sigma|^2 = {noisy_scale:.2f};"
    f" J_ESM,sigma = D_F / 2 = {fisher / 2:.4f}"
)
# Two averages with independent noise: allow 4 combined standard errors.
gap_error = (final_error**2 + c_error**2) ** 0.5
claims.claim(
    "the average training loss settles onto C_sigma, within its noise",
    abs(final - c_sigma) < 4 * gap_error,
    final=final,
    c_sigma=c_sigma,
    combined_standard_error=gap_error,
)
claims.claim(
    "the excess J_ESM,sigma = D_F / 2 is smaller than the standard error",
    fisher / 2 < final_error,
    excess=fisher / 2,
    standard_error=final_error,
)
claims.claim(
    "the learned field is hard to tell from the exact one (D_F under 2%)",
    fisher / noisy_scale < 0.02,
    relative=fisher / noisy_scale,
)

# %% alt="Four panels: the training loss of the score network, settling onto the dashed line at its lowest possible value C_sigma; the exact noisy score field of the mixture; the learned score field, nearly identical; and a map of the error between the two, small inside the density contours and large far from the data."
window = (-4.0, 4.0)


def log_error(y):
    with torch.no_grad():
        error = mixture_net(y) - noisy_mixture.score(y)
    return torch.log10(error.norm(dim=1)).clamp(-2, 1)


fig, axes = plt.subplots(1, 4, figsize=(15, 3.7))
running_mean = torch.tensor(history).unfold(0, 100, 1).mean(1)
axes[0].plot(history, lw=0.5, color="C5", label="each batch")
axes[0].plot(range(99, len(history)), running_mean, label="mean of 100")
axes[0].axhline(c_sigma, color="C3", ls="--", lw=1, label="$C_\\sigma$")
axes[0].set(
    xlabel="step",
    ylabel="DSM loss",
    ylim=(c_sigma - 1, c_sigma + 4),
    title="training loss",
)
axes[0].legend()
fields = [
    (noisy_mixture.score, "exact $\\nabla \\log p_\\sigma$"),
    (mixture_net, "learned $s_\\theta$"),
]
for ax, (field, title) in zip(axes[1:3], fields):
    plotting.plot_score_field(
        lambda y, field=field: field(y).detach(), window, window, ax=ax, n=17
    )
    ax.set(title=title)
plotting.plot_contours(
    log_error,
    window,
    window,
    ax=axes[3],
    levels=torch.linspace(-2, 1, 13).tolist(),
    cmap="magma",
    colorbar=True,
    label="$\\log_{10} \\| s_\\theta - \\nabla \\log p_\\sigma \\|$",
)
plotting.plot_contours(
    noisy_mixture.energy,
    window,
    window,
    ax=axes[3],
    filled=False,
    levels=[2, 4, 7],
    colors="white",
)
axes[3].set(title="error (white: density contours)")
plt.tight_layout()
plt.show()

# %% tags=["prose"]
display.prose(f"""
The training loss is noisy, as Section 3.4 predicted: over the last 200 steps single
batches scatter with a standard deviation of {last.std():.2f}. Their average,
{final:.3f} ± {final_error:.3f}, sits on $C_\\sigma$ = {c_sigma:.3f} ± {c_error:.3f}
within the noise.
The Fisher divergence between $p_\\sigma$ and the model, which we can measure here on
test points because the noisy score is known, is $D_F$ = {fisher:.4f}, that is
{fisher / noisy_scale:.1%} of $\\mathbb{{E}}\\lVert\\nabla\\log p_\\sigma\\rVert^2$.
""")

# %% [markdown]
# The *expected* loss can never go below $C_\sigma$: it is
# $C_\sigma + J_{\text{ESM},\sigma}$, and the excess
# $J_{\text{ESM},\sigma} = D_F/2$, half the Fisher divergence, is smaller than the
# standard error of the averaged loss. The loss says that training has converged; only
# the Fisher divergence says how good the result is.

# %% [markdown]
# The learned field is hard to tell from the exact one where the data lives, but the
# error map tells a different story at the edges: the error grows steeply away from
# the three modes. We quantify it by splitting points by their density: the noisy test
# samples in the top half of $\log p_\sigma$, those in the bottom 5%, and uniform
# points of $[-4, 4]^2$ whose density is below that of 99% of the data. Besides the
# mean squared error we report the average cosine between the learned and the exact
# score, which says whether the learned arrows at least point the right way.

# %%
log_density = noisy_mixture.log_prob(test)
levels = torch.quantile(log_density, torch.tensor([0.01, 0.05, 0.5]))
uniform = torch.empty(40_000, 2).uniform_(-4, 4, generator=seeds.generator(15))
rare = noisy_mixture.log_prob(uniform) < levels[0]
regions = {
    "high density (top 50% of test points)": test[log_density > levels[2]],
    "low density (bottom 5% of test points)": test[log_density < levels[1]],
    "rare (uniform points below the 1% level)": uniform[rare],
}
rows, errors, norms, cosines = [], [], [], []
for name, points in regions.items():
    exact = noisy_mixture.score(points)
    with torch.no_grad():
        learned = mixture_net(points)
    errors.append(
        metrics.fisher_divergence(mixture_net, noisy_mixture.score, points)
    )
    norms.append(exact.pow(2).sum(1).mean().item())
    cosines.append(
        torch.cosine_similarity(learned, exact, dim=1).mean().item()
    )
    row = [errors[-1], norms[-1], errors[-1] / norms[-1], cosines[-1]]
    rows.append([name, len(points)] + row)
# averages over thousands of points: their Monte Carlo error is small next
# to these margins, which leave room for other trained networks
claims.claim(
    "where data is dense the squared error is under 1% of the squared score",
    errors[0] / norms[0] < 0.01,
    relative=errors[0] / norms[0],
)
claims.claim(
    "in the rare region the mean squared error is many times larger",
    errors[2] > 10 * errors[0],
    ratio=errors[2] / errors[0],
)
claims.claim(
    "the relative error grows more slowly, the true score being larger",
    norms[2] > norms[0] and errors[2] / norms[2] < errors[2] / norms[0],
    norms=[round(n, 2) for n in norms],
)
claims.claim(
    "the mean cosine stays close to one in every region",
    min(cosines) > 0.95,
    cosines=[round(c, 4) for c in cosines],
)
display.show_table(
    [
        "region",
        "points",
        "mean $\\lVert s_\\theta - \\nabla \\log p_\\sigma\\rVert^2$",
        "mean $\\lVert \\nabla \\log p_\\sigma\\rVert^2$",
        "relative",
        "mean cosine",
    ],
    rows,
)

# %% tags=["prose"]
display.prose(f"""
Where the data is dense, the squared error is {errors[0] / norms[0]:.1%} of the
squared score. In the rare region, the mean squared error is
{errors[2] / errors[0]:.0f} times larger: denoising score matching only ever sees noisy points within a few
$\\sigma$ of the data, and elsewhere the network extrapolates. The extrapolation is
smooth, so the arrows still point the right way (the mean cosine is at least
{min(cosines):.2f} in every region), and the relative error grows more slowly, to
{errors[2] / norms[2]:.1%}, because the true score is large out there. That is what
keeps chains started far away moving inwards.
""")

# %% [markdown]
# Now we sample. We run Langevin dynamics (Chapter 2) from 2000 points spread uniformly
# over $[-3, 3]^2$, once with the learned score and once with the exact noisy score, with
# the same step size $\epsilon = 0.02$ and the same 1000 steps. Both runs start from the
# same points and draw the same noise $z$ at every step, so that they differ only in the
# score. We compare both with fresh samples of $p_\sigma$ (the target of the learned
# score is the *noisy* distribution); the sliced Wasserstein distance (Chapter 2)
# between fresh samples of $p_\sigma$ gives the finite-sample floor, averaged over five
# draws.

# %%
g = seeds.generator(16)
start_points = torch.empty(2000, 2).uniform_(-3, 3, generator=g)
reference = noisy_mixture.sample(2000, generator=g)
samplers = {"learned": mixture_net, "exact noisy": noisy_mixture.score}
with torch.no_grad():
    chains = {  # the same noise for both: a fresh generator, the same seed
        name: sampling.langevin(
            score, start_points, 0.02, 1000, generator=seeds.generator(19)
        ).samples
        for name, score in samplers.items()
    }
fresh = [noisy_mixture.sample(2000, generator=g) for _ in range(5)]
floors = torch.tensor(
    [metrics.sliced_wasserstein(f, reference, generator=g) for f in fresh]
)
floor = floors.mean().item()
true_weights = noisy_mixture.weights.double()
rows = [
    [f"fresh samples of $p_\\sigma$ (floor: mean ± std of {len(fresh)})"]
    + [f"{floor:.3f} ± {floors.std():.3f}"]
    + [f"{w:.3f}" for w in metrics.mode_weights(fresh[0], noisy_mixture)[0]]
]
distances, deviations = {}, {}
for name, samples in chains.items():
    distances[name] = metrics.sliced_wasserstein(
        samples, reference, generator=g
    )
    weights, errors = metrics.mode_weights(samples, noisy_mixture)
    deviations[name] = (weights - true_weights).abs().max().item()
    rows.append([f"Langevin, {name} score", f"{distances[name]:.3f}"])
    rows[-1] += [f"{w:.3f} ± {e:.3f}" for w, e in zip(weights, errors)]
ends = [noisy_mixture.assign(samples) for samples in chains.values()]
switched = (ends[0] != ends[1]).double().mean().item()
ratios = {name: distance / floor for name, distance in distances.items()}
# A single run of 2000 chains: distances scatter by about half the floor
# from run to run, and the chains' mode weights by their binomial standard
# error (0.011) around a bias of a few hundredths; the bounds leave room.
claims.claim(
    "both samplers come within a small factor (four) of the floor",
    max(ratios.values()) < 4,
    **ratios,
)
claims.claim(
    "the mode weights of both samplers are within 0.08 of the truth",
    max(deviations.values()) < 0.08,
    **deviations,
)
claims.claim(
    "only a few percent of the chains end in a different mode",
    switched < 0.1,
    switched=switched,
)
display.show_table(
    [
        "samples",
        "sliced Wasserstein to $p_\\sigma$",
        "weight of mode 1 (0.5)",
        "mode 2 (0.3)",
        "mode 3 (0.2)",
    ],
    rows,
)

# %% alt="Three scatter plots of the noisy mixture: fresh exact samples, samples from Langevin dynamics with the learned score, and with the exact noisy score. All three look alike: three modes with similar relative weights."
panels = [("fresh samples of $p_\\sigma$", fresh[0])] + [
    (f"Langevin, {name} score", samples) for name, samples in chains.items()
]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.7))
for ax, (title, samples) in zip(axes, panels):
    plotting.plot_samples(samples, ax=ax, size=2, xlim=window, ylim=window)
    ax.set(title=title)
plt.tight_layout()
plt.show()

# %% tags=["prose"]
display.prose(f"""
Langevin dynamics with the learned score produces samples that are hard to tell from
fresh ones by eye. By the numbers, its distance to $p_\\sigma$ is
{ratios["learned"]:.1f} times the floor, and that of Langevin with the exact score
{ratios["exact noisy"]:.1f} times. A sharper comparison follows the chains one by one:
since the two runs share their starting points and their noise, the learned score
changed the final mode of only {switched:.1%} of the chains. The mode weights of both
samplers are within {max(deviations.values()):.2f} of the truth. Weights are where
Langevin sampling is weakest: the chains mostly settle in the basin of attraction where they start, as in
Chapter 2, so even with the exact score the weights reflect the starting points as well
as the density, and the few chains that cross between modes travel through exactly the
region where the learned score is least accurate.
""")

# %% [markdown]
# ### Two moons: no known score
#
# The same recipe on a data set with no formula for its density: the two moons, with
# noise $0.05$ around each curve, learned at $\sigma = 0.1$. Without the true score we
# can only judge the samples, against fresh noisy data.

# %%
moons_sigma = 0.1
moons = datasets.two_moons(10_000, generator=seeds.generator(17))
moons_net, _ = train_score_net(moons, moons_sigma)

g = seeds.generator(18)


def fresh_noisy_moons(n=2000):
    points = datasets.two_moons(n, generator=g)
    return points + moons_sigma * torch.randn(points.shape, generator=g)


reference = fresh_noisy_moons()
start_points = torch.empty(2000, 2).uniform_(-3, 3, generator=g)
with torch.no_grad():
    moons_samples = sampling.langevin(
        moons_net, start_points, 0.002, 2000, generator=g
    ).samples
moons_floors = torch.tensor(
    [
        metrics.sliced_wasserstein(fresh_noisy_moons(), reference, generator=g)
        for _ in range(5)
    ]
)
moons_floor = moons_floors.mean().item()
distance = metrics.sliced_wasserstein(moons_samples, reference, generator=g)
print(
    f"sliced Wasserstein to fresh noisy moons: Langevin {distance:.3f},"
    f" floor {moons_floor:.3f} ± {moons_floors.std():.3f} (mean ± std of 5)"
)
# "trace out both moons": the distance stays within a small factor of the
# floor (about 1.3 to 2.5 times it across seeds; 4 leaves room)
claims.claim(
    "the moons' Langevin samples come within a small factor of the floor",
    distance < 4 * moons_floor,
    distance=distance,
    floor=moons_floor,
)

# %% alt="Left: two-moons training data with the learned score field, whose arrows point toward the two crescents. Right: 2000 Langevin samples drawn with the learned score, which trace out both moons."
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
moons_window = (-3.0, 3.0)
plotting.plot_score_field(
    lambda y: moons_net(y).detach(),
    moons_window,
    moons_window,
    ax=axes[0],
    n=15,
)
plotting.plot_samples(moons[:1000], ax=axes[0], size=3, color="black")
axes[0].set(title="data and learned score $s_\\theta$")
plotting.plot_samples(
    moons_samples, ax=axes[1], size=2, xlim=moons_window, ylim=moons_window
)
axes[1].set(title="2000 Langevin samples")
plt.tight_layout()
plt.show()

# %% tags=["prose"]
display.prose(f"""
The score network has learned the shape of the moons from samples alone, and Langevin
dynamics turns it into new samples spread along both curves. Their distance to fresh
data is {distance / moons_floor:.1f} times the floor, and the difference is
{(distance - moons_floor) / moons_floors.std():.1f} times the scatter of the floor's
own draws: with 2000 samples, this metric resolves only clear differences. Two effects
keep the samples from matching the data exactly, however many we draw. One is the
sampler: the chains, started uniformly, must spread along the curves by diffusion,
which is slow. The other is the score: along a curve the true score is nearly zero,
while across it the score is of order $1/\\sigma$, so a small *relative* error of the
network becomes a systematic drift along the curve. Without a ground truth we cannot
separate the two here; on the mixture we could.
""")

# %% [markdown]
# ### Exercise 3.4: a run that went wrong (diagnose it, about 5 minutes)
#
# A colleague wants sharper samples, and lowers the noise. The data: eight narrow modes
# on a circle of radius 4, each with standard deviation 0.2 (the package's
# `examples.ring_of_gaussians`). The network: the small `ScoreMLP` of Exercise 3.3 (two
# hidden layers of width 64), trained by denoising score matching at $\sigma = 0.05$
# with about the budget that learned the mixture at $\sigma = 0.5$ there: 600 steps of
# Adam at learning rate $3\times10^{-3}$, on batches of 256. Langevin dynamics with the
# learned score gives a blurred ring instead of eight modes. Before you answer, look at
# four controls. We run the chains from uniform starts, from samples of $p_\sigma$, and
# four times longer; we run them with the exact noisy score; and we train the same
# network, from the same initial weights, on the same batches, with the regression
# target $-z/\sigma$ replaced by the exact $\nabla \log p_\sigma(\tilde x)$ (possible
# here only because we know it).

# %%
ring = examples.ring_of_gaussians(8, radius=4.0, std=0.2)
small_sigma = 0.05
noisy_ring = ring.perturbed(small_sigma)  # p_sigma, exactly
ring_data = ring.sample(4096, generator=seeds.generator(20))


def noise_free_regression(model, batch, generator):
    """The regression of DSM with the exact noisy score as its target."""
    noisy_batch = batch + small_sigma * torch.randn(
        batch.shape, generator=generator
    )
    residual = model(noisy_batch) - noisy_ring.score(noisy_batch)
    return 0.5 * residual.pow(2).sum(dim=1).mean()


ring_objectives = {
    "denoising network": dsm_objective(small_sigma),
    "noise-free network": noise_free_regression,
}
ring_nets = {}
for name, objective in ring_objectives.items():
    seeds.manual_seed(21)  # the same initial weights for both networks
    ring_nets[name] = nets.ScoreMLP(dim=2, hidden=64, depth=2)
    training.train(
        ring_nets[name],
        objective,
        ring_data,
        n_steps=600,
        batch_size=256,
        lr=3e-3,
        seed=seeds.seed(22),  # the same batches and noise for both
        progress=False,
    )

# %%
g = seeds.generator(23)
ring_test = noisy_ring.sample(4000, generator=g)  # samples of p_sigma
ring_scale = noisy_ring.score(ring_test).pow(2).sum(1).mean().item()
relative = {
    name: metrics.fisher_divergence(net, noisy_ring.score, ring_test)
    / ring_scale
    for name, net in ring_nets.items()
}
# "off the modes": where p_sigma is lower than at 99% of its own samples
off_level = torch.quantile(noisy_ring.log_prob(ring_test), 0.01)
uniform_starts = torch.empty(1000, 2).uniform_(-6, 6, generator=g)
denoiser = ring_nets["denoising network"]
ring_runs = {  # name: (score, where the chains start, Langevin steps)
    "exact noisy score": (noisy_ring.score, uniform_starts, 1000),
    "denoising network": (denoiser, uniform_starts, 1000),
    "denoising network, started on p_sigma": (
        denoiser,
        ring_test[:1000],
        1000,
    ),
    "denoising network, 4 times the steps": (denoiser, uniform_starts, 4000),
    "noise-free network": (
        ring_nets["noise-free network"],
        uniform_starts,
        1000,
    ),
}
ring_samples, off_modes, rows = {}, {}, []
for name, (score, start_points, n_steps) in ring_runs.items():
    with torch.no_grad():
        ring_samples[name] = sampling.langevin(
            score, start_points, 0.002, n_steps, generator=seeds.generator(24)
        ).samples
    below = noisy_ring.log_prob(ring_samples[name]) < off_level
    off_modes[name] = below.double().mean().item()
    error = relative.get(name.split(",")[0], 0.0)  # exact: no error
    label = name.replace("p_sigma", "samples of $p_\\sigma$")
    rows.append([label, f"{error:.3f}", f"{off_modes[name]:.1%}"])
# 1000 chains: a fraction has a standard error of at most 0.016. Across
# seeds the denoising runs end 75-87% off the modes, the others 1-3%; the
# relative D_F is 0.89-0.95 for denoising, 0.007-0.034 noise-free.
claims.claim(
    "the exact score and the noise-free network put the samples on the modes",
    off_modes["exact noisy score"] < 0.03
    and off_modes["noise-free network"] < 0.06,
    **off_modes,
)
denoising_runs = [off_modes[name] for name in list(ring_runs)[1:4]]
claims.claim(
    "with the denoising network most samples end off the modes, however"
    " the chains start and whether they run 1000 or 4000 steps",
    min(denoising_runs) > 0.5
    and abs(denoising_runs[2] - denoising_runs[0]) < 0.1,
    **off_modes,
)
claims.claim(
    "on samples of p_sigma the denoising network is far from the noisy"
    " score, and the same network with the noise-free target close to it",
    relative["denoising network"] > 0.5
    and relative["noise-free network"] < 0.1,
    **relative,
)
display.show_table(
    [
        "Langevin with the score of",
        "relative $D_F$ of that score on samples of $p_\\sigma$",
        "samples off the modes",
    ],
    rows,
)

# %% alt="Three scatter plots of 1000 Langevin samples each, from uniform starts, for the ring of eight narrow modes at sigma = 0.05. With the exact noisy score the samples sit on the eight modes. With the network trained by denoising score matching they form a blurred ring, most of them between the modes. With the same network trained on the noise-free target they sit on the eight modes again."
panels = ["exact noisy score", "denoising network", "noise-free network"]
titles = [
    "exact $\\nabla \\log p_\\sigma$",
    "network, target $-z/\\sigma$",
    "network, target $\\nabla \\log p_\\sigma$",
]
ring_window = (-6.0, 6.0)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, name, title in zip(axes, panels, titles):
    plotting.plot_samples(
        ring_samples[name], ax=ax, size=2, xlim=ring_window, ylim=ring_window
    )
    ax.set(title=title)
plt.tight_layout()
plt.show()

# %% tags=["prose"]
display.prose(f"""
With the exact noisy score, {off_modes["exact noisy score"]:.1%} of the samples end
off the modes, close to the 1% that the definition leaves. With the network trained by
denoising score matching, {off_modes["denoising network"]:.0%} do from uniform starts,
{off_modes["denoising network, started on p_sigma"]:.0%} from samples of
$p_\\sigma$, and {off_modes["denoising network, 4 times the steps"]:.0%} after four
times as many steps; on samples of $p_\\sigma$ its relative Fisher divergence is
{relative["denoising network"]:.2f}. The same network trained on the noise-free target
reaches {relative["noise-free network"]:.3f}, and its chains end off the modes
{off_modes["noise-free network"]:.1%} of the time.
""")

# %% [markdown]
# What went wrong?
#
# - **a.** The chains start far from the data, where the network never saw a training point, so its score there is a guess.
# - **b.** Langevin dynamics needs more steps to settle into modes this narrow.
# - **c.** The step size $\epsilon = 0.002$ is too large for modes this narrow.
# - **d.** A network this small cannot represent so sharp a score, or the learning rate does not suit it.
# - **e.** At $\sigma = 0.05$ the regression target is mostly noise, and 600 steps are far too few.

# %%
answer = None  # "a", "b", "c", "d" or "e"
check_small_sigma_diagnosis(answer)

# %% tags=["solution"]
from ebm_book.exercises.ch03_score_matching import check_small_sigma_diagnosis

answer = "e"  # the controls rule out a, b, c and d
check_small_sigma_diagnosis(answer)

# %% tags=["prose"]
display.prose(f"""
In numbers: the noise in the target $-z/\\sigma$ has a standard deviation of
$1/\\sigma$ = {1 / small_sigma:.0f} in each coordinate, while the score it averages to,
$\\nabla \\log p_\\sigma$, has a root mean square of
{(ring_scale / 2) ** 0.5:.1f} per coordinate on samples of $p_\\sigma$. Section 3.4
measured the consequence: the gradient's noise grows like $1/\\sigma$. A budget that
was plenty at $\\sigma = 0.5$ leaves the network far from $\\nabla \\log p_\\sigma$ at
$\\sigma = 0.05$, everywhere, not only far from the data.
""")

# %% [markdown]
# Three observations from this section lead to the next chapter. The learned score is
# accurate only where the data is, but Langevin chains *start* where it is not. A large
# $\sigma$ would spread the noisy data over more of the space and make the score
# accurate there, at the price of a blurred target. And a single $\sigma$ forces a choice
# between the two, as Section 3.4 showed: made too small, it also starves the training
# of signal, as Exercise 3.4 did. [Song & Ermon (2019)](../references.md#song2019)
# identified these same problems; their remedy, to learn the score at many noise levels
# at once and to anneal through them while sampling, is the subject of Chapter 4.
#
# ## Reflection questions
#
# ??? question "1. A colleague trains an *energy* network $E_\theta$ with ReLU activations by implicit score matching, with $s_\theta = -\nabla_x E_\theta$. The loss goes down, but the model is poor. What went wrong?"
#     A ReLU network is piecewise linear, so its gradient $s_\theta$ is piecewise
#     constant and jumps across the kinks, and its Jacobian (the Hessian of $E_\theta$)
#     is zero almost everywhere. The trace that autograd computes is then zero, and the
#     objective degenerates to $\tfrac12\mathbb{E}\lVert s_\theta\rVert^2$, which is
#     minimized by flattening the energy. The integration by parts behind
#     $J_{\text{ISM}}$ needs a differentiable score; the jumps hide delta functions in
#     the true divergence that autograd never sees. Smooth activations (SiLU, softplus,
#     tanh) fix it; denoising score matching, which needs no Jacobian, avoids the issue.
#
# ??? question "2. Implicit score matching has no bias and needs no noise. Why do score-based generative models use denoising score matching instead?"
#     Cost, and assumptions. The exact trace costs $d$ backward passes, prohibitive for
#     images; sliced score matching removes that cost but adds variance. More
#     fundamentally, implicit score matching assumes a differentiable data density, and
#     natural data concentrates near low-dimensional structure, where $\nabla \log p$ is
#     undefined or enormous. Denoising score matching works with any $p$, since
#     $p_\sigma$ is always smooth, and it costs one forward pass. Its bias, learning
#     $\nabla\log p_\sigma$, turns out to be useful: Chapter 4 needs the noisy scores
#     anyway.
#
# ??? question "3. The training loss of denoising score matching never approaches zero. How can you tell whether a model is good when the true score is unknown?"
#     The expected loss is $C_\sigma + J_{\text{ESM},\sigma}$: a constant that depends
#     on the unknown data distribution, plus half the Fisher divergence between
#     $p_\sigma$ and the model. Its absolute value says little, and in Section 3.6 the
#     excess $J_{\text{ESM},\sigma}$ was even smaller than the standard error of the
#     averaged training loss. Only *differences* of the loss between models, on the same
#     data and noise, are meaningful. Compare models on held-out data with a fixed noise
#     draw (the variance measured in Section 3.4 makes this essential at small
#     $\sigma$), and judge the end product by sample quality, with a metric and its
#     finite-sample floor, as in Section 3.6.
#
# ??? question "4. In the hands-on, chains started uniformly still ended up near the data, although the learned score was worst far from it. Why, and when would this fail?"
#     Far from the data the learned field was still roughly right in direction (the mean
#     cosine in the rare region was close to one): the network extrapolates smoothly,
#     and in two dimensions the training noise reaches much of the window. In high
#     dimension almost all of the space is far from the data and never visited by noisy
#     samples, so a chain started at random sees an untrained field, and may stall or
#     drift towards spurious modes. Between modes, errors in the score also change how
#     often chains switch modes, and so the mode weights (in Section 3.6 the learned
#     score sent a few percent of the chains to a different mode than the exact score
#     did). Larger noise levels cover this empty space: the starting point of Chapter 4.
#
# ## Summary
#
# - Explicit score matching,
#   $J_{\text{ESM}} = \tfrac12\mathbb{E}_p\lVert s_\theta - \nabla\log p\rVert^2$, half the
#   Fisher divergence between the data and the model, is the natural objective but needs
#   the unknown score.
# - Integration by parts turns it into implicit score matching,
#   $\mathbb{E}_p[\tfrac12\lVert s_\theta\rVert^2 + \operatorname{tr}\nabla_x s_\theta]$, up
#   to a constant, for differentiable models and densities with vanishing boundary
#   terms. On a Gaussian it gives the sample mean and the inverse $1/n$ sample
#   covariance: the maximum likelihood estimates.
# - The exact trace costs $d$ backward passes. Sliced score matching replaces it by
#   $v^\top \nabla_x (v^\top s_\theta)$ with random $v$, one pass at any $d$; the
#   variance-reduced form keeps the scatter of the estimate small.
# - Denoising score matching regresses $s_\theta(x + \sigma z)$ onto $-z/\sigma$. It
#   equals explicit score matching for the noisy density $p_\sigma$ up to a constant
#   $C_\sigma$, so it learns $\nabla\log p_\sigma$: a bias of order $\sigma^2$ in the
#   score, and a gradient variance growing like $1/\sigma^2$. Its loss never goes below
#   $C_\sigma$ in expectation, and says little about how good the model is.
# - Noise prediction is the same thing: $s_\theta = -z_\theta/\sigma$, and
#   $\sigma^2 J_{\text{DSM}} = \tfrac12\mathbb{E}\lVert z_\theta - z\rVert^2$; in
#   DDPM's notation, $s_\theta = -z_\theta/\sqrt{1-\bar\alpha_t}$. Tweedie's formula,
#   $\mathbb{E}[x \mid \tilde x] = \tilde x + \sigma^2\nabla\log p_\sigma(\tilde x)$, turns
#   a score into the best denoiser.
# - A small score network trained by denoising score matching and sampled with Langevin
#   dynamics generates good 2-D samples, but its score is least accurate where the data
#   is rare, which is where sampling starts; and the sampler's own weakness, mode
#   weights shaped by where the chains start, remains even with the exact score.
#
# ## References
#
# - A. Hyvärinen (2005). *Estimation of non-normalized statistical models by score
#   matching.* Journal of Machine Learning Research 6. (Implicit score matching, and the
#   Gaussian case.)
# - P. Vincent (2011). *A connection between score matching and denoising autoencoders.*
#   Neural Computation 23(7); technical report 1358, Université de Montréal, 2010.
# - Y. Song, S. Garg, J. Shi, S. Ermon (2019). *Sliced score matching: a scalable
#   approach to density and score estimation.* UAI.
# - M. F. Hutchinson (1989). *A stochastic estimator of the trace of the influence
#   matrix for Laplacian smoothing splines.* Communications in Statistics – Simulation
#   and Computation 18(3).
# - H. Robbins (1956). *An empirical Bayes approach to statistics.* Proceedings of the
#   Third Berkeley Symposium on Mathematical Statistics and Probability 1. (Tweedie's
#   formula.)
# - B. Efron (2011). *Tweedie's formula and selection bias.* Journal of the American
#   Statistical Association 106(496).
# - J. Ho, A. Jain, P. Abbeel (2020). *Denoising diffusion probabilistic models.*
#   NeurIPS.
# - Y. Song, S. Ermon (2019). *Generative modeling by estimating gradients of the data
#   distribution.* NeurIPS. (The problems of Section 3.6, and their remedy in Chapter 4.)
#
# The full bibliography is on the [references page](../references.md).
