r"""The probability-flow ODE: deterministic samplers (Euler, Heun, DDIM) and exact likelihoods.

Song et al. (2021) show that the ODE

$$
\frac{\mathrm{d}x}{\mathrm{d}t} = u(x, t) = f(x, t) - \tfrac12\, g(t)^2\, \nabla_x \log p_t(x)
$$

has the same marginals $p_t$ as the noise process $\mathrm{d}x = f\,\mathrm{d}t + g\,\mathrm{d}W_t$,
without noise: run from $t = 1$ down, it maps each prior point to one sample,
deterministically and invertibly; run up from the data, it gives their exact
log-likelihood. The velocity $u$ uses the model's score $s(x, t)$ in place of
$\nabla_x \log p_t$. The samplers here follow the conventions of `ebm_book.diffusion` (a
score ``score(x, t)``, a noise process, start points from its prior, ``n_steps`` $= N$ or
``times``, ``denoise``), and report their score evaluations:

| function | method | score evaluations | order | from |
|---|---|---|---|---|
| `euler` | $x \leftarrow x + \Delta t\, u(x, t)$ | $N$ | 1 | Song et al. (2021) |
| `heun` | Euler, corrected with the slope at the end | $2N$ | 2 | Karras et al. (2022), Algorithm 1 |
| `ddim` | through the predicted clean point | $N$ | 1 | Song, Meng & Ermon (2021) |
| `log_likelihood` | the instantaneous change of variables | $2N$ (Heun) | 2 | Song et al. (2021), Appendix D |

The order: the error shrinks like $1/N$ or $1/N^2$ as the number of steps $N$ grows.
Cheap sizes: 2-D, a few thousand points, 20 to 100 steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._chains import (
    FEWER_STEPS,
    DiffusionRun,
    DivergenceCheck,
    SamplingResult,
    checked_score,
    time_batch,
)
from ._process import NoiseProcess
from ._types import TimeConditionalScore
from ._validation import (
    require_depends_on_input,
    require_generator,
    require_int,
    require_non_negative,
    require_points,
)
from .diffusion import _grid
from .score import _exact_trace, _hutchinson_trace

__all__ = ["LikelihoodResult", "ddim", "euler", "heun", "log_likelihood"]


def _velocity(process: NoiseProcess, x: torch.Tensor, t: float, s: torch.Tensor) -> torch.Tensor:
    r"""The probability-flow velocity $u(x, t) = f(x, t) - \tfrac12 g(t)^2\, s(x, t)$."""
    at = process._at(t)
    return -0.5 * at.g2 * s if at.rate == 0 else at.rate * x - 0.5 * at.g2 * s


def euler(
    score: TimeConditionalScore,
    process: NoiseProcess,
    start: torch.Tensor,
    n_steps: int | None = None,
    *,
    times: torch.Tensor | None = None,
    denoise: bool = True,
    record_every: int | None = None,
) -> SamplingResult:
    r"""The probability-flow ODE by Euler's method: $x \leftarrow x + \Delta t\, u(x, t)$, from $t = 1$ down.

    First order: the error of each sample shrinks like $1/N$. One score evaluation per
    step, no randomness beyond ``start``. Parameters as in `diffusion.euler_maruyama`.

    Examples
    --------
    >>> from ebm_book.processes import VariancePreserving
    >>> from ebm_book.mixtures import GaussianMixture
    >>> data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], 0.1, weights=[0.3, 0.7])
    >>> vp = VariancePreserving()
    >>> start = vp.prior_sample(2000, 2, torch.Generator().manual_seed(0))
    >>> result = euler(vp.time_score(data.noisy_score), vp, start, 100)
    >>> round((data.assign(result.samples) == 1).float().mean().item(), 1), result.score_evaluations
    (0.7, 101)
    """
    run = DiffusionRun(score, process, start, _grid(process, n_steps, times), None, record_every)
    return _probability_flow(run, heun=False).result(denoise)


def heun(
    score: TimeConditionalScore,
    process: NoiseProcess,
    start: torch.Tensor,
    n_steps: int | None = None,
    *,
    times: torch.Tensor | None = None,
    denoise: bool = True,
    record_every: int | None = None,
) -> SamplingResult:
    r"""The probability-flow ODE by Heun's method (Karras et al. 2022, Algorithm 1).

    An Euler step to $\tilde x = x + \Delta t\, u(x, t)$, then a correction with the slope
    at its end:

    $$
    x \leftarrow x + \frac{\Delta t}{2}\big(u(x, t) + u(\tilde x, t')\big).
    $$

    Second order (the error shrinks like $1/N^2$) for two score evaluations per step;
    a step into a time without noise (VP at $t = 0$) stays an Euler step, as Karras et
    al. do at $\sigma = 0$. No randomness beyond ``start``. Parameters as in
    `diffusion.euler_maruyama`.

    Examples
    --------
    >>> from ebm_book.processes import VarianceExploding
    >>> from ebm_book.mixtures import GaussianMixture
    >>> data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], 0.1, weights=[0.3, 0.7])
    >>> ve = VarianceExploding(0.01, 8.0, schedule="linear")
    >>> start = ve.prior_sample(2000, 2, torch.Generator().manual_seed(0))
    >>> result = heun(ve.time_score(data.noisy_score), ve, start, 50)
    >>> round((data.assign(result.samples) == 1).float().mean().item(), 1), result.score_evaluations
    (0.7, 101)
    """
    run = DiffusionRun(score, process, start, _grid(process, n_steps, times), None, record_every)
    return _probability_flow(run, heun=True).result(denoise)


def _probability_flow(run: DiffusionRun, heun: bool) -> DiffusionRun:
    """The loop of `euler` and `heun`, also Chapter 4's probability flow."""
    process = run.process
    for t, t_next in run.steps():
        x, dt = run.x, t_next - t
        s = run.score_at(x, t)
        slope = _velocity(process, x, t, s)
        x_next = x + dt * slope
        if heun and process._at(t_next).sigma > 0:  # Karras et al. (2022), Algorithm 1, lines 7-8
            s = run.score_at(x_next, t_next)
            x_next = x + dt * 0.5 * (slope + _velocity(process, x_next, t_next, s))
        run.update(x_next, t_next, s, process._transition(t_next, t)[1])
    return run


def ddim(
    score: TimeConditionalScore,
    process: NoiseProcess,
    start: torch.Tensor,
    n_steps: int | None = None,
    *,
    times: torch.Tensor | None = None,
    denoise: bool = True,
    record_every: int | None = None,
) -> SamplingResult:
    r"""Deterministic DDIM (Song, Meng & Ermon 2021, eq. 12): jump to $t'$ through the predicted clean point.

    From the score at time $t$, predict the clean point by Tweedie's formula and the noise,

    $$
    \hat x_0 = \frac{x + \sigma(t)^2\, s(x, t)}{\sqrt{\bar\alpha(t)}}, \qquad
    \hat z = -\sigma(t)\, s(x, t),
    $$

    then put them together at $t'$ as the forward process would:
    $x \leftarrow \sqrt{\bar\alpha(t')}\,\hat x_0 + \sigma(t')\,\hat z$. It is Euler's method
    for the probability-flow ODE written in $x/\sqrt{\bar\alpha}$ against the noise level
    $\sigma/\sqrt{\bar\alpha}$ (Karras et al. 2022): first order, exact for data at a single
    point, and on VE with $\sigma(t)$ linear in $t$ the same steps as `euler`. (The paper's
    stochastic variants interpolate to `diffusion.ancestral`.) Parameters as in
    `diffusion.euler_maruyama`.

    Examples
    --------
    >>> from ebm_book.processes import VariancePreserving
    >>> from ebm_book.mixtures import GaussianMixture
    >>> data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], 0.1, weights=[0.3, 0.7])
    >>> vp = VariancePreserving()
    >>> start = vp.prior_sample(2000, 2, torch.Generator().manual_seed(0))
    >>> x = ddim(vp.time_score(data.noisy_score), vp, start, 50).samples
    >>> round((data.assign(x) == 1).float().mean().item(), 1)
    0.7
    """
    run = DiffusionRun(score, process, start, _grid(process, n_steps, times), None, record_every)
    for t, t_next in run.steps():
        x, now, then = run.x, process._at(t), process._at(t_next)
        s = run.score_at(x, t)
        clean = (x + now.sigma**2 * s) / now.mean  # x_0 predicted by Tweedie's formula
        noise = -now.sigma * s  # the noise predicted, z_theta
        x_next = then.mean * clean + then.sigma * noise
        run.update(x_next, t_next, s, process._transition(t_next, t)[1])
    return run.result(denoise)


@dataclass
class LikelihoodResult:
    r"""What `log_likelihood` returns.

    Attributes
    ----------
    log_prob
        $\log p_{t_0}(x)$ of each point, shape ``(N,)``: ``prior_log_prob + divergence_integral``.
    prior_log_prob
        The prior's log density at the end of each path, $\log p_1(x(1))$, shape ``(N,)``.
    divergence_integral
        $\int_{t_0}^1 \nabla\cdot u\,\mathrm{d}t$ along each path, shape ``(N,)``.
    end
        The end of each path, $x(1)$, shape ``(N, d)``.
    score_evaluations
        How many times the score was evaluated on the batch (each with its divergence).
    """

    log_prob: torch.Tensor
    prior_log_prob: torch.Tensor
    divergence_integral: torch.Tensor
    end: torch.Tensor
    score_evaluations: int

    @property
    def bits_per_dim(self) -> torch.Tensor:
        r"""$-\log_2 p_{t_0}(x)/d$ of each point, shape ``(N,)``: the usual unit of likelihood."""
        return -self.log_prob / (self.end.shape[1] * math.log(2))


def log_likelihood(
    score: TimeConditionalScore,
    process: NoiseProcess,
    x: torch.Tensor,
    n_steps: int = 100,
    *,
    method: str = "heun",
    divergence: str = "exact",
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    t_start: float | None = None,
) -> LikelihoodResult:
    r"""$\log p_{t_0}(x)$ by the probability-flow ODE and the instantaneous change of variables.

    Along a path of the ODE the log density changes as
    $\frac{\mathrm{d}}{\mathrm{d}t} \log p_t(x(t)) = -\nabla\cdot u(x(t), t)$ (Chen et al.
    2018), so following the path of $x$ from $t_0$ up to $t = 1$,

    $$
    \log p_{t_0}(x) = \log p_1\big(x(1)\big) + \int_{t_0}^{1} \nabla\cdot u\big(x(t), t\big)\, \mathrm{d}t ,
    $$

    with $p_1$ taken to be the prior (Song et al. 2021, Appendix D.2). The path and the
    integral are integrated together on ``n_steps`` even steps, by Heun's method (second
    order: the error shrinks like $1/N^2$) or Euler's. The divergence
    $\nabla\cdot u = \nabla\cdot f - \tfrac12 g^2\, \nabla\cdot s$ is exact by autograd ($d$
    backward passes: cheap in 2-D) or Hutchinson's estimate (one backward pass per probe,
    whatever $d$; unbiased for the log density), with the trace estimators of
    `ebm_book.score`. For a model score this is the exact log-likelihood of the model that
    the ODE defines, up to the solver's error.

    Parameters
    ----------
    score
        $s(x, t)$, differentiable in $x$ (an exact mixture score or a network).
    process
        The noise process the score belongs to.
    x
        The points, shape ``(N, d)``; float64 for tight comparisons.
    n_steps
        $N$, the number of ODE steps.
    method
        ``"heun"`` ($2N$ score evaluations) or ``"euler"`` ($N$).
    divergence
        ``"exact"`` (autograd, $d$ backward passes per evaluation) or ``"hutchinson"``
        (``n_probes`` Rademacher probes per evaluation, drawn from ``generator``).
    t_start
        $t_0$; by default ``process.t_min``, where the samplers stop.

    Examples
    --------
    The exact log density of a mixture at $t_0$, recovered by 100 Heun steps:

    >>> from ebm_book.mixtures import GaussianMixture
    >>> from ebm_book.processes import VariancePreserving
    >>> data = GaussianMixture([[-1.0, 0.0], [1.0, 1.0]], 0.3)
    >>> vp, x = VariancePreserving(), torch.tensor([[0.0, 0.5], [1.0, 1.0]], dtype=torch.float64)
    >>> result = log_likelihood(vp.time_score(data.noisy_score), vp, x, 100)
    >>> [round(v, 2) for v in result.log_prob.tolist()], result.score_evaluations
    ([-2.72, -1.33], 200)
    >>> [round(v, 2) for v in vp.marginal(data, vp.t_min).log_prob(x).tolist()]
    [-2.72, -1.33]
    """
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun'; got {method!r}.")
    if divergence not in ("exact", "hutchinson"):
        raise ValueError(f"divergence must be 'exact' or 'hutchinson'; got {divergence!r}.")
    require_int(n_probes, "n_probes")
    start = process.t_min if t_start is None else require_non_negative(t_start, "t_start")
    if start >= 1:
        raise ValueError(f"t_start must be a time in [0, 1); got {t_start!r}.")
    _grid(process, n_steps, None)  # checks the process and n_steps
    grid = process.time_grid(n_steps, start).tolist()[::-1]  # from t_0 up to 1
    score = checked_score(score, ("x", "t"))
    x = require_points(x).detach().clone()
    require_generator(generator, "cpu")  # the probes are drawn on the CPU, as in score.py
    check = DivergenceCheck(x, FEWER_STEPS)
    evaluations = 0

    def field(y: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The velocity $u(y, t)$ and its divergence."""
        nonlocal evaluations
        evaluations += 1
        at = process._at(t)
        with torch.enable_grad():
            y_ = y.detach().requires_grad_(True)
            s = require_depends_on_input(score(y_, time_batch(y, t)), "score")
            u = at.rate * y_ - 0.5 * at.g2 * s
            if divergence == "exact":
                trace = _exact_trace(u, y_, create_graph=False)
            else:
                trace = _hutchinson_trace(u, y_, n_probes, generator, create_graph=False)
        return u.detach(), trace.detach()

    integral = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for step, (t, t_next) in enumerate(zip(grid[:-1], grid[1:]), start=1):
        h = t_next - t  # positive: forward in time
        u, div = field(x, t)
        if method == "heun":
            u_end, div_end = field(x + h * u, t_next)
            u, div = 0.5 * (u + u_end), 0.5 * (div + div_end)
        x_next = x + h * u
        check(step, x_next, x, u, process._transition(t, t_next)[1])
        x, integral = x_next, integral + h * div
    prior = process.prior_log_prob(x)
    return LikelihoodResult(prior + integral, prior, integral, x, evaluations)
