r"""Training objectives: how to fit a score model $s_\theta$, or an energy $E_\theta$, to data.

Sign convention throughout: the score is $\nabla_x \log p(x)$, i.e. *minus* the energy
gradient. Every loss takes a model (a score model, any callable from ``(N, d)`` to
``(N, d)``; or an energy or log-density, from ``(N, d)`` to ``(N,)``) and a batch ``x``
of data ``(N, d)``, and returns a scalar to minimize, differentiable with respect to the
model's parameters. The data must be finite; a model that returns NaN makes the loss
NaN, which `ebm_book.training.train` reports with the step.

| loss | needs | from |
|---|---|---|
| [`explicit_score_matching`][ebm_book.losses.explicit_score_matching] | the true score (toy problems only) | the Fisher divergence |
| [`implicit_score_matching`][ebm_book.losses.implicit_score_matching] | $d$ backward passes (exact Jacobian trace) | Hyvärinen (2005) |
| [`sliced_score_matching`][ebm_book.losses.sliced_score_matching] | one backward pass per projection | Song et al. (2019) |
| [`denoising_score_matching`][ebm_book.losses.denoising_score_matching] | only Gaussian noise | Vincent (2011) |
| [`multi_noise_denoising_score_matching`][ebm_book.losses.multi_noise_denoising_score_matching] | a noise-conditional model | Song & Ermon (2019) |
| [`contrastive_divergence`][ebm_book.losses.contrastive_divergence] | samples of the model (see `ebm_book.contrastive`) | Hinton (2002) |
| [`noise_contrastive_estimation`][ebm_book.losses.noise_contrastive_estimation] | a noise density to sample; learns $\log Z$ | Gutmann & Hyvärinen (2010) |
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.nn.functional import softplus

from ._types import EnergyFn, NoiseConditionalScore, Proposal, ScoreFn
from ._validation import (
    call_checked,
    draw_from_proposal,
    require_callable,
    require_depends_on_input,
    require_energy_values,
    require_generator,
    require_int,
    require_non_negative,
    require_points,
    require_positive,
    require_proposal,
    require_sigmas,
    require_vector_field,
)
from .score import _exact_trace

__all__ = [
    "contrastive_divergence",
    "denoising_score_matching",
    "explicit_score_matching",
    "implicit_score_matching",
    "multi_noise_denoising_score_matching",
    "noise_contrastive_estimation",
    "sliced_score_matching",
]


def _scores(
    model: Callable[..., torch.Tensor], x: torch.Tensor, *args: torch.Tensor
) -> torch.Tensor:
    """``model(x, *args)``, checked to be one vector per point (its NaN become the loss's)."""
    names = ("x", "sigma")[: 1 + len(args)]
    return require_vector_field(
        call_checked(model, "model", names, x, *args), x, "model", finite=False
    )


def explicit_score_matching(model: ScoreFn, x: torch.Tensor, true_score: ScoreFn) -> torch.Tensor:
    r"""Explicit score matching: $\tfrac12\,\mathbb{E}_{x}\big[\lVert s_\theta(x) - \nabla_x \log p(x)\rVert^2\big]$.

    Half the Fisher divergence between the data and the model. It needs the true score,
    which is exactly what we do not have in practice; it is the reference the other
    losses are compared with.

    Examples
    --------
    >>> x = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    >>> explicit_score_matching(lambda x: -x, x, true_score=lambda x: -x)
    tensor(0.)
    """
    require_points(x)
    require_callable(true_score, "true_score")
    difference = _scores(model, x) - require_vector_field(true_score(x), x, "true_score")
    return 0.5 * (difference**2).sum(dim=1).mean()


def implicit_score_matching(model: ScoreFn, x: torch.Tensor) -> torch.Tensor:
    r"""Hyvärinen's implicit score matching: $\mathbb{E}_x\big[\tfrac12\lVert s_\theta(x)\rVert^2 + \operatorname{tr}\nabla_x s_\theta(x)\big]$.

    Integrating the cross term of the explicit loss by parts removes the unknown true
    score (Hyvärinen, 2005); the two losses differ by a constant that does not depend on
    $\theta$. The trace is exact and costs one backward pass per dimension.

    Examples
    --------
    For $s_\theta(x) = -x$ on standard Gaussian data the loss is
    $\tfrac12\mathbb{E}\lVert x\rVert^2 - d = 1 - 2 = -1$ in $d = 2$:

    >>> x = torch.randn(100_000, 2, generator=torch.Generator().manual_seed(0))
    >>> round(implicit_score_matching(lambda x: -x, x).item(), 2)
    -1.0
    """
    require_points(x)
    with torch.enable_grad():  # the trace differentiates the model with respect to x
        x = x.detach().requires_grad_(True)
        scores = require_depends_on_input(_scores(model, x), "model")
        trace = _exact_trace(scores, x, create_graph=True)
    return (0.5 * (scores**2).sum(dim=1) + trace).mean()


def sliced_score_matching(
    model: ScoreFn,
    x: torch.Tensor,
    n_projections: int = 1,
    variance_reduced: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sliced score matching (Song et al., 2019): score matching along random directions.

    With random projection vectors $v$ ($\mathbb{E}[vv^\top] = I$; standard normal here),

    $$
    J(\theta) = \mathbb{E}_{x}\mathbb{E}_{v}\Big[v^\top \nabla_x\big(v^\top s_\theta(x)\big)
    + \tfrac12 \big(v^\top s_\theta(x)\big)^2\Big],
    $$

    which equals the implicit objective in expectation, since
    $\mathbb{E}_v[v^\top J v] = \operatorname{tr} J$ and $\mathbb{E}_v[(v^\top s)^2] = \lVert s \rVert^2$.
    Each projection costs one backward pass, whatever the dimension. The
    *variance-reduced* form (``variance_reduced=True``) replaces the second term by its
    exact expectation $\tfrac12\lVert s_\theta(x)\rVert^2$.

    Examples
    --------
    >>> x = torch.randn(100_000, 2, generator=torch.Generator().manual_seed(0))
    >>> g = torch.Generator().manual_seed(1)
    >>> round(sliced_score_matching(lambda x: -x, x, generator=g).item(), 2)  # ISM gives -1
    -1.0
    """
    require_points(x)
    require_int(n_projections, "n_projections")
    require_generator(generator, "cpu")
    with torch.enable_grad():  # each projection differentiates the model with respect to x
        x = x.detach().requires_grad_(True)
        scores = require_depends_on_input(_scores(model, x), "model")
        total = torch.zeros((), dtype=scores.dtype, device=x.device)
        for _ in range(n_projections):
            v = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            projected = (scores * v).sum(dim=1)  # v^T s(x)
            (grad,) = torch.autograd.grad(projected.sum(), x, create_graph=True)
            second_order = (grad * v).sum(dim=1)  # v^T grad_x (v^T s(x))
            first_order = 0.5 * (scores**2).sum(dim=1) if variance_reduced else 0.5 * projected**2
            total = total + (second_order + first_order).mean()
    return total / n_projections


def denoising_score_matching(
    model: ScoreFn,
    x: torch.Tensor,
    sigma: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Denoising score matching (Vincent, 2011) at noise level $\sigma$.

    Perturb the data, $\tilde x = x + \sigma z$ with $z \sim \mathcal{N}(0, I)$, and regress
    the model onto the score of the perturbation kernel,
    $\nabla_{\tilde x} \log \mathcal{N}(\tilde x; x, \sigma^2 I) = -(\tilde x - x)/\sigma^2 = -z/\sigma$:

    $$
    J(\theta) = \tfrac12\,\mathbb{E}_{x, z}\Big[\big\lVert s_\theta(x + \sigma z) + z/\sigma \big\rVert^2\Big].
    $$

    It equals the explicit loss for the *noisy* data distribution $p_\sigma$, up to a
    constant: the minimizer is $\nabla \log p_\sigma$, not $\nabla \log p$.

    Examples
    --------
    Standard Gaussian data with $\sigma = 1$: the noisy data is $\mathcal{N}(0, 2I)$ with
    score $-\tilde x/2$, which attains the minimum $\tfrac12\,\mathbb{E}\lVert z/\sigma - \tilde x/2\rVert^2 = d/4 = 0.5$:

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(100_000, 2, generator=g)
    >>> round(denoising_score_matching(lambda y: -y / 2, x, sigma=1.0, generator=g).item(), 2)
    0.5
    """
    require_points(x)
    sigma = require_positive(sigma, "sigma")
    require_generator(generator, "cpu")
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    noisy = x + sigma * z
    return 0.5 * ((_scores(model, noisy) + z / sigma) ** 2).sum(dim=1).mean()


def multi_noise_denoising_score_matching(
    model: NoiseConditionalScore,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""The NCSN objective: denoising score matching at many noise levels at once.

    Each data point gets a noise level $\sigma$ drawn uniformly from ``sigmas``, and the
    per-level losses are weighted by $\lambda(\sigma) = \sigma^2$ (Song & Ermon, 2019):

    $$
    J(\theta) = \mathbb{E}_{\sigma}\,\mathbb{E}_{x, z}\Big[\tfrac12\,\sigma^2\,
    \big\lVert s_\theta(x + \sigma z, \sigma) + z/\sigma \big\rVert^2\Big]
    = \mathbb{E}\Big[\tfrac12\,\big\lVert \sigma\, s_\theta(x + \sigma z, \sigma) + z \big\rVert^2\Big].
    $$

    Why $\sigma^2$: the target $-z/\sigma$ has size $\propto 1/\sigma$, so the unweighted
    loss at level $\sigma$ scales like $1/\sigma^2$; the weight makes every level
    contribute on the same scale, and no level dominates training.

    Examples
    --------
    With the exact noisy score of standard Gaussian data, $-\tilde x/(1+\sigma^2)$, each
    level's weighted loss is $\tfrac{d}{2}/(1+\sigma^2)$, of order one at every level:

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200_000, 2, generator=g)
    >>> exact = lambda y, s: -y / (1 + s[:, None] ** 2)
    >>> loss = multi_noise_denoising_score_matching(exact, x, torch.tensor([1.0]), g)
    >>> round(loss.item(), 2)  # (2 / 2) / (1 + 1)
    0.5
    """
    require_points(x)
    sigmas = require_sigmas(sigmas).to(device=x.device, dtype=x.dtype)
    require_generator(generator, "cpu")
    index = torch.randint(len(sigmas), (x.shape[0],), generator=generator).to(x.device)
    sigma = sigmas[index]
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    scores = _scores(model, x + sigma[:, None] * z, sigma)
    return 0.5 * ((sigma[:, None] * scores + z) ** 2).sum(dim=1).mean()


def _energies(energy: EnergyFn, x: torch.Tensor, name: str) -> torch.Tensor:
    """``energy(x)``, checked to be one value per point (its NaN become the loss's)."""
    return require_energy_values(
        call_checked(energy, name, ("x",), x), x, name=name, shape_only=True
    )


def contrastive_divergence(
    energy: EnergyFn,
    x: torch.Tensor,
    samples: torch.Tensor,
    regularization: float = 0.0,
) -> torch.Tensor:
    r"""The maximum-likelihood surrogate of contrastive divergence (Hinton, 2002).

    The negative log-likelihood of $p_\theta = e^{-E_\theta}/Z_\theta$ has the gradient
    $\mathbb{E}_{p}[\nabla_\theta E_\theta(x)] - \mathbb{E}_{p_\theta}[\nabla_\theta E_\theta(y)]$:
    lower the energy of the data, raise it where the model puts its mass. With samples
    $y_j$ of the model, held fixed (no gradient flows through the sampler), this loss

    $$
    J_{\text{CD}}(\theta) = \frac1n \sum_{i=1}^n E_\theta(x_i) - \frac1{n'} \sum_{j=1}^{n'} E_\theta(y_j)
    + \lambda_E \Big(\frac1n \sum_{i=1}^n E_\theta(x_i)^2 + \frac1{n'} \sum_{j=1}^{n'} E_\theta(y_j)^2\Big)
    $$

    has that gradient, estimated, when $\lambda_E = 0$. Which samples make it *contrastive
    divergence* is the sampler's business (`ebm_book.contrastive`): $M$ Langevin steps from
    the data (CD), persistent chains (PCD), or a replay buffer. Its value is not a
    log-likelihood (it ignores $\log Z_\theta$); only its gradient means something. The
    penalty with weight $\lambda_E$ (``regularization``; Du & Mordatch 2019) keeps the
    energies near zero: the likelihood depends only on energy differences, and without it
    they can drift to huge values.

    Parameters
    ----------
    energy
        $E_\theta$: maps ``(N, d)`` to ``(N,)``, e.g. a `nets.EnergyMLP`.
    x
        Data $x_i$, shape ``(n, d)``.
    samples
        Samples $y_j$ of the model, shape ``(n', d)``; detached here.
    regularization
        $\lambda_E \ge 0$.

    Examples
    --------
    For $E_\theta(x) = \theta x^2 / 2$ the gradient in $\theta$ is
    $\tfrac12(\overline{x^2} - \overline{y^2})$:

    >>> theta = torch.tensor(1.0, requires_grad=True)
    >>> energy = lambda x: 0.5 * theta * (x**2).sum(1)
    >>> x, y = torch.tensor([[1.0], [3.0]]), torch.tensor([[2.0], [0.0]])
    >>> contrastive_divergence(energy, x, y).backward()
    >>> theta.grad  # (5 - 2) / 2
    tensor(1.5000)
    """
    require_points(x)
    require_points(samples, dim=x.shape[1], name="samples")
    regularization = require_non_negative(regularization, "regularization")
    positive = _energies(energy, x, "energy")
    negative = _energies(energy, samples.detach(), "energy")
    loss = positive.mean() - negative.mean()
    if regularization:
        loss = loss + regularization * ((positive**2).mean() + (negative**2).mean())
    return loss


def noise_contrastive_estimation(
    log_density: EnergyFn,
    x: torch.Tensor,
    noise: Proposal,
    noise_ratio: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010, 2012): learn $p_\theta$ and its $\log Z$.

    Tell the data $x_i$ from $\nu n$ samples $y_j$ of a known noise density $q$ by logistic
    regression, with the model's log-odds
    $G_\theta(x) = \log p_\theta(x) - \log q(x) - \log \nu$, where
    $\log p_\theta(x) = -E_\theta(x) - c$ and the constant $c$ is a parameter like the
    others:

    $$
    J_{\text{NCE}}(\theta) = \frac1n \Big[\sum_{i=1}^n \log\big(1 + e^{-G_\theta(x_i)}\big)
    + \sum_{j=1}^{\nu n} \log\big(1 + e^{G_\theta(y_j)}\big)\Big].
    $$

    The best classifier is the Bayes one, whose log-odds are $\log p - \log(\nu q)$, so at
    the minimum $p_\theta = p$ and $c = \log Z_\theta$: the normalization is learned, with
    no sampling from the model. It works when $q$ overlaps the data well; a noise that is
    easy to tell from the data (too narrow, too far) teaches little, and the estimate's
    variance grows. More noise ($\nu$ larger) lowers the variance, towards that of
    maximum likelihood.

    Parameters
    ----------
    log_density
        $\log p_\theta$, maps ``(N, d)`` to ``(N,)``: e.g. ``model.log_prob`` of a
        `nets.SelfNormalizingEnergy`, which holds $c$.
    x
        Data, shape ``(n, d)``.
    noise
        $q$: an object with ``sample(n, generator=...)`` and a normalized ``log_prob(x)``,
        such as `ebm_book.energies.Gaussian`. Its samples are moved to the data's device
        and dtype.
    noise_ratio
        $\nu$, noise samples per data point.
    generator
        Source of the noise samples.

    Examples
    --------
    The exact model, $\log p_\theta = \log q$ when the data come from $q$, scores
    $2 \log 2$ with $\nu = 1$ (every point is a coin flip):

    >>> from ebm_book.energies import Gaussian
    >>> q = Gaussian([0.0, 0.0])
    >>> x = q.sample(1000, generator=torch.Generator().manual_seed(0))
    >>> loss = noise_contrastive_estimation(q.log_prob, x, q, generator=torch.Generator().manual_seed(1))
    >>> round(loss.item(), 4), round(2 * math.log(2), 4)
    (1.3863, 1.3863)
    """
    require_points(x)
    require_proposal(noise, "noise")
    noise_ratio = require_int(noise_ratio, "noise_ratio")
    require_generator(generator)
    y, log_q_y = draw_from_proposal(noise, noise_ratio * x.shape[0], generator, x.shape[1], "noise")
    y, log_q_y = y.to(x), log_q_y.to(x)
    log_q_x = require_energy_values(noise.log_prob(x), x, "noise.log_prob", finite=True).to(x)
    shift = math.log(noise_ratio)
    g_data = _energies(log_density, x, "log_density") - log_q_x - shift
    g_noise = _energies(log_density, y, "log_density") - log_q_y - shift
    n = x.shape[0]
    return (softplus(-g_data).sum() + softplus(g_noise).sum()) / n
