r"""Score-matching objectives: how to fit a score model $s_\theta$ to data.

Sign convention throughout: the score is $\nabla_x \log p(x)$, i.e. *minus* the energy
gradient. Every loss takes a score model (any callable from ``(N, d)`` to ``(N, d)``)
and a batch ``x`` of data ``(N, d)``, and returns a scalar to minimize, differentiable
with respect to the model's parameters. The data must be finite; a model that returns
NaN makes the loss NaN, which `ebm_book.training.train` reports with the step.

| loss | needs | from |
|---|---|---|
| [`explicit_score_matching`][ebm_book.losses.explicit_score_matching] | the true score (toy problems only) | the Fisher divergence |
| [`implicit_score_matching`][ebm_book.losses.implicit_score_matching] | $d$ backward passes (exact Jacobian trace) | Hyvärinen (2005) |
| [`sliced_score_matching`][ebm_book.losses.sliced_score_matching] | one backward pass per projection | Song et al. (2019) |
| [`denoising_score_matching`][ebm_book.losses.denoising_score_matching] | only Gaussian noise | Vincent (2011) |
| [`multi_noise_denoising_score_matching`][ebm_book.losses.multi_noise_denoising_score_matching] | a noise-conditional model | Song & Ermon (2019) |
| [`noise_prediction_loss`][ebm_book.losses.noise_prediction_loss] | a noise process and a noise-prediction model | Ho et al. (2020) |
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._process import NoiseProcess
from ._types import NoiseConditionalScore, ScoreFn
from ._validation import (
    call_checked,
    require_callable,
    require_depends_on_input,
    require_generator,
    require_int,
    require_non_negative,
    require_points,
    require_positive,
    require_sigmas,
    require_vector_field,
)
from .score import _exact_trace

__all__ = [
    "denoising_score_matching",
    "explicit_score_matching",
    "implicit_score_matching",
    "multi_noise_denoising_score_matching",
    "noise_prediction_loss",
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


def noise_prediction_loss(
    model: Callable[..., torch.Tensor],
    x: torch.Tensor,
    process: NoiseProcess,
    generator: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
    drop_label: float = 0.0,
) -> torch.Tensor:
    r"""DDPM's loss, $J_{\text{simple}} = \mathbb{E}_{t, x_0, z}\,\big\lVert z - z_\theta(x_t, t)\big\rVert^2$ (Ho et al. 2020).

    Each point $x_0$ of the batch gets a time $t$ (`NoiseProcess.random_times`: uniform
    in $[t_{\min}, 1]$, or one of DDPM's steps) and noise $z$, and the model predicts $z$
    from $x_t = \sqrt{\bar\alpha(t)}\,x_0 + \sigma(t)\,z$. The minimiser is
    $z_\theta(x_t, t) = \mathbb{E}[z \mid x_t] = -\sigma(t)\,\nabla_x \log p_t(x_t)$, so
    `NoiseProcess.score_from_noise` turns the trained model into a score. Chapter 4
    relates it to the multi-noise loss: $2\lambda(\sigma)$ times the denoising loss at the
    level $\sigma(t)$, on data scaled by $\sqrt{\bar\alpha(t)}$, with the levels drawn as
    the times are.

    With ``labels`` (integers, one per point) the model is called ``model(x_t, t, labels)``,
    each label replaced by $-1$ ("no label") with probability ``drop_label``: the training
    of classifier-free guidance (Ho & Salimans 2022), one network for the conditional and
    the unconditional noise (`nets.TimeConditionalMLP`).

    Examples
    --------
    The exact noise prediction for standard Gaussian data under VP is $\sigma(t)\,x_t$, and
    its loss is $d\,\mathbb{E}_t[\bar\alpha(t)]$:

    >>> from ebm_book.processes import VariancePreserving
    >>> vp, g = VariancePreserving(), torch.Generator().manual_seed(0)
    >>> x = torch.randn(200_000, 2, generator=g)
    >>> exact = lambda y, t: vp.sigma(t)[:, None] * y
    >>> round(noise_prediction_loss(exact, x, vp, g).item(), 2)  # 2 E[alpha_bar(t)] = 0.551
    0.55
    """
    require_points(x)
    require_generator(generator, "cpu")
    if not isinstance(process, NoiseProcess):
        raise TypeError(f"process must be a NoiseProcess; got {type(process).__name__}.")
    times = process.random_times(x.shape[0], generator)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    mean, sigma = process.mean_coefficient(times), process.sigma(times)
    noisy = mean.to(x)[:, None] * x + sigma.to(x)[:, None] * z
    if labels is None:
        predicted = call_checked(model, "model", ("x", "t"), noisy, times.to(x))
    else:
        if not isinstance(labels, torch.Tensor) or labels.shape != (x.shape[0],):
            raise ValueError(f"labels must be a tensor of shape ({x.shape[0]},), one per point.")
        drop = require_non_negative(drop_label, "drop_label")
        if drop > 1:
            raise ValueError(f"drop_label must be a probability, in [0, 1]; got {drop_label!r}.")
        dropped = (torch.rand(x.shape[0], generator=generator) < drop).to(x.device)
        kept = torch.where(dropped, -1, labels.to(x.device))
        predicted = call_checked(model, "model", ("x", "t", "labels"), noisy, times.to(x), kept)
    return ((require_vector_field(predicted, x, "model", finite=False) - z) ** 2).sum(dim=1).mean()
