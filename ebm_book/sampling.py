r"""Samplers driven by the score: Langevin dynamics and its Metropolis-adjusted version.

**Convention.** The book writes Langevin dynamics as Song & Ermon (2019) do,

$$
x_{t+1} = x_t + \frac{\epsilon}{2}\, s(x_t) + \sqrt{\epsilon}\, z_t,
\qquad z_t \sim \mathcal{N}(0, I),
$$

with step size $\epsilon > 0$ and score $s = \nabla_x \log p$. Much other code writes
$x_{t+1} = x_t + \eta\, s(x_t) + \sqrt{2\eta}\, z_t$; the two are the same with
$\eta = \epsilon / 2$.

Chapter 4's samplers on noise levels (`annealed_langevin`, `reverse_diffusion`,
`probability_flow`) are the samplers of `ebm_book.diffusion` and `ebm_book.flow` run on the VE process
whose times are the levels: one copy of each algorithm, for Chapter 4's levels and for
every noise process of Chapter 6.

All samplers run every chain at once (a batch ``x0`` of shape ``(N, d)`` is $N$ chains),
take an explicit ``generator``, follow the device of ``x0``, and raise
`DivergenceError` naming the step if a chain leaves the finite numbers, and why: a
score that returned NaN or inf, or a step size too large. The score's output is checked
once, at the first step (its shape, and that it is finite at the start points).
"""

from __future__ import annotations

import math

import torch

from ._chains import (
    FEWER_LEVELS,
    LEVEL_STEP,
    DiffusionRun,
    DivergenceCheck,
    DivergenceError,
    Recorder,
    SamplingResult,
    checked_score,
    langevin_proposal,
    metropolis_accept,
    noise_like,
    start_chains,
)
from ._types import EnergyFn, NoiseConditionalScore, ScoreFn
from ._validation import (
    require_callable,
    require_energy_values,
    require_int,
    require_positive,
    require_sigmas,
)
from .diffusion import _predictor_corrector, _reverse_diffusion_step
from .flow import _probability_flow
from .processes import VarianceExploding
from .score import _score_by_autograd

__all__ = [
    "DivergenceError",
    "SamplingResult",
    "annealed_langevin",
    "langevin",
    "mala",
    "probability_flow",
    "reverse_diffusion",
]


def langevin(
    score: ScoreFn,
    x0: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    record_every: int | None = None,
) -> SamplingResult:
    r"""Unadjusted Langevin algorithm (ULA): $x \leftarrow x + \frac{\epsilon}{2} s(x) + \sqrt{\epsilon}\, z$.

    For a small step size $\epsilon$ and many steps, the chains' distribution approaches
    the density whose score is ``score``. A finite $\epsilon$ leaves a bias: on
    $\mathcal{N}(0, \sigma^2)$ the stationary variance is
    $\sigma^2 / (1 - \epsilon / (4\sigma^2))$, not $\sigma^2$ (see `mala` for the fix).

    Parameters
    ----------
    score
        $s(x) = \nabla_x \log p(x)$: maps ``(N, d)`` to ``(N, d)``.
    x0
        Starting points, one chain per row, shape ``(N, d)``.
    step_size
        $\epsilon > 0$.
    n_steps
        Number of updates.
    generator
        Source of the noise $z$, for reproducible chains. It must live on ``x0``'s device.
    record_every
        If given, also return the states every ``record_every`` steps.

    Returns
    -------
    SamplingResult
        ``samples`` (and ``trajectory`` if recorded).

    Examples
    --------
    Chains started far away on the standard Gaussian ($s(x) = -x$) forget their start:

    >>> g = torch.Generator().manual_seed(0)
    >>> result = langevin(lambda x: -x, torch.full((5000, 1), 10.0), 0.1, 500, generator=g)
    >>> round(result.samples.mean().item(), 1), round(result.samples.var().item(), 1)
    (0.0, 1.0)
    """
    score, x = checked_score(score, ("x",)), start_chains(x0, generator)
    step_size = require_positive(step_size, "step_size")
    require_int(n_steps, "n_steps")
    recorder, check_finite = Recorder(x, record_every), DivergenceCheck(x)
    noise_scale = math.sqrt(step_size)
    for step in range(1, n_steps + 1):
        drift = score(x)
        x_next = x + 0.5 * step_size * drift + noise_scale * noise_like(x, generator)
        check_finite(step, x_next, x, drift, step_size)
        x = x_next
        recorder.step(step, x)
    return SamplingResult(x.detach(), recorder.trajectory())


def mala(
    energy: EnergyFn,
    x0: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    record_every: int | None = None,
    score: ScoreFn | None = None,
) -> SamplingResult:
    r"""Metropolis-adjusted Langevin algorithm (MALA) for $p(x) \propto e^{-E(x)}$.

    Each step proposes a Langevin move $y = x + \frac{\epsilon}{2}s(x) + \sqrt{\epsilon}\,z$
    and accepts it with probability

    $$
    a(x, y) = \min\left(1,\; \frac{p(y)\, q(x \mid y)}{p(x)\, q(y \mid x)}\right),
    \qquad q(y \mid x) = \mathcal{N}\!\left(y;\; x + \tfrac{\epsilon}{2}s(x),\; \epsilon I\right),
    $$

    otherwise the chain stays at $x$. The accept/reject step makes $p$ exactly stationary
    for every step size (Roberts & Tweedie, 1996); a too-large step shows up as a low
    acceptance rate instead of a biased answer. Only differences of energies enter, so
    $Z$ is still not needed.

    Parameters
    ----------
    energy
        $E(x)$, mapping ``(N, d)`` to ``(N,)``. The target is $p \propto e^{-E}$.
    x0, step_size, n_steps, generator, record_every
        As in `langevin`.
    score
        $s = -\nabla_x E$, if known in closed form; by default computed with autograd.

    Returns
    -------
    SamplingResult
        ``samples``, ``acceptance_rate`` (and ``trajectory`` if recorded).

    Examples
    --------
    A large step that would bias unadjusted Langevin leaves MALA exact:

    >>> g = torch.Generator().manual_seed(0)
    >>> result = mala(lambda x: 0.5 * (x**2).sum(1), torch.zeros(5000, 1), 1.5, 300, generator=g)
    >>> round(result.samples.var().item(), 1), 0.5 < result.acceptance_rate < 0.9
    (1.0, True)
    """
    require_callable(energy, "energy")
    x = start_chains(x0, generator)
    step_size = require_positive(step_size, "step_size")
    require_int(n_steps, "n_steps")
    if score is None:

        def score(x: torch.Tensor) -> torch.Tensor:
            return _score_by_autograd(energy, x)  # the energy is checked at the start below

    score = checked_score(score, ("x",))
    energy_x = require_energy_values(energy(x), x, name="energy").detach()
    score_x = score(x)
    recorder, check_finite = Recorder(x, record_every), DivergenceCheck(x)
    accepted = 0
    for step in range(1, n_steps + 1):
        y = langevin_proposal(x, score_x, step_size, generator)
        energy_y, score_y = energy(y).detach(), score(y)
        accept = metropolis_accept(
            x, y, (energy_x, energy_y), (score_x, score_y), step_size, generator
        )
        x_next = torch.where(accept[:, None], y, x)
        energy_x = torch.where(accept, energy_y, energy_x)
        score_x = torch.where(accept[:, None], score_y, score_x)
        accepted += int(accept.sum())
        check_finite(step, x_next, x, score_y, step_size)
        x = x_next
        recorder.step(step, x)
    rate = accepted / (n_steps * x.shape[0])
    return SamplingResult(x.detach(), recorder.trajectory(), acceptance_rate=rate)


def annealed_langevin(
    score: NoiseConditionalScore,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    step_size: float,
    n_steps_each: int = 100,
    generator: torch.Generator | None = None,
    record_every: int | None = None,
    denoise: bool = True,
) -> SamplingResult:
    r"""Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1).

    For each noise level $\sigma_1 > \dots > \sigma_L$ in turn, run $M$ Langevin steps on
    $p_{\sigma_i}$ with the step size $\epsilon_i = \epsilon\,\sigma_i^2/\sigma_L^2$:

    $$
    x \leftarrow x + \frac{\epsilon_i}{2}\, s(x, \sigma_i) + \sqrt{\epsilon_i}\, z .
    $$

    (Song & Ermon write $T$ for $M$ and $\alpha_i$ for $\epsilon_i$; the book keeps $T$ for
    the temperature and $\alpha$ for DDPM's schedule.)

    Large noise first makes the modes overlap, so the chains find all of them with the
    right proportions; the shrinking noise then sharpens the samples. With
    ``denoise=True`` a final step $x \leftarrow x + \sigma_L^2\, s(x, \sigma_L)$ removes
    the last level's noise (Tweedie's formula for $\mathbb{E}[x_0 \mid x]$). It is
    `diffusion.predictor_corrector` without a predictor, on the VE process with
    $\sigma(t) = \sigma_1 t$ at the times $t_i = \sigma_i/\sigma_1$.

    Parameters
    ----------
    score
        $s(x, \sigma)$: maps ``(N, d)`` points and ``(N,)`` noise levels to ``(N, d)``.
    x0
        Starting points ``(N, d)``, typically uniform noise or $\mathcal{N}(0, \sigma_1^2 I)$.
    sigmas
        The noise levels, strictly decreasing.
    step_size
        $\epsilon$, the step at the smallest level.
    n_steps_each
        $M$, Langevin steps per level.
    record_every
        If given, record the states every ``record_every`` steps (counting across levels).

    Examples
    --------
    Two far-apart modes with weights 0.2 / 0.8, and their exact noisy scores:

    >>> from ebm_book.mixtures import GaussianMixture
    >>> from ebm_book.noise import geometric_sigmas
    >>> mixture = GaussianMixture([[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
    >>> g = torch.Generator().manual_seed(0)
    >>> x0 = torch.rand(2000, 2, generator=g) * 16 - 8
    >>> sigmas = geometric_sigmas(20, 0.5, 10)
    >>> x = annealed_langevin(mixture.noisy_score, x0, sigmas, 0.025, 100, g).samples
    >>> round((mixture.assign(x) == 1).float().mean().item(), 1)
    0.8
    """
    run = _levels_run(score, x0, sigmas, generator, record_every, LEVEL_STEP)
    step_size = require_positive(step_size, "step_size")
    require_int(n_steps_each, "n_steps_each")
    return _predictor_corrector(run, None, n_steps_each, 1.0, step_size).result(denoise)


def reverse_diffusion(
    score: NoiseConditionalScore,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    generator: torch.Generator | None = None,
    record_every: int | None = None,
    denoise: bool = True,
) -> SamplingResult:
    r"""Sample by simulating the reverse-time variance-exploding (VE) SDE.

    The forward VE process adds noise until the data looks like $\mathcal{N}(0, \sigma_1^2 I)$:
    $\mathrm{d}x = \sqrt{\mathrm{d}[\sigma^2(t)]/\mathrm{d}t}\;\mathrm{d}W$. Anderson (1982)
    gives its time reversal, which Song et al. (2021) discretize on the levels
    $\sigma_1 > \dots > \sigma_L$ ("reverse diffusion" predictor):

    $$
    x \leftarrow x + (\sigma_i^2 - \sigma_{i+1}^2)\, s(x, \sigma_i) + \sqrt{\sigma_i^2 - \sigma_{i+1}^2}\; z .
    $$

    Start ``x0`` from $\mathcal{N}(0, \sigma_1^2 I)$ (the prior). One score evaluation per
    level: use many finely spaced levels (hundreds), unlike annealed Langevin. It is
    `diffusion.predictor_corrector` with the reverse-diffusion predictor and no corrector,
    on the VE process with $\sigma(t) = \sigma_1 t$ at the times $t_i = \sigma_i/\sigma_1$.

    Examples
    --------
    >>> from ebm_book.mixtures import GaussianMixture
    >>> from ebm_book.noise import geometric_sigmas
    >>> mixture = GaussianMixture([[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
    >>> g = torch.Generator().manual_seed(0)
    >>> sigmas = geometric_sigmas(20, 0.01, 500)
    >>> x0 = 20 * torch.randn(2000, 2, generator=g)
    >>> x = reverse_diffusion(mixture.noisy_score, x0, sigmas, g).samples
    >>> round((mixture.assign(x) == 1).float().mean().item(), 1)
    0.8
    """
    run = _levels_run(score, x0, sigmas, generator, record_every, FEWER_LEVELS)
    return _predictor_corrector(run, _reverse_diffusion_step, 0, 1.0, None).result(denoise)


def probability_flow(
    score: NoiseConditionalScore,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    record_every: int | None = None,
) -> SamplingResult:
    r"""Sample deterministically with the probability-flow ODE of the VE process (Heun's method).

    Song et al. (2021) show that the ODE

    $$
    \frac{\mathrm{d}x}{\mathrm{d}\sigma} = -\sigma\, \nabla_x \log p_\sigma(x)
    $$

    moves samples of $p_{\sigma_1}$ to samples of $p_{\sigma_L}$ with the same marginals
    as the SDE, but without noise. It is integrated from $\sigma_1$ down to $\sigma_L$ with
    Heun's second-order method (as in Karras et al. 2022): an Euler step, then a
    correction with the slope at the end point. No randomness beyond ``x0``. It is
    `flow.heun` on the VE process with $\sigma(t) = \sigma_1 t$ (then
    $\mathrm{d}t$ steps are $\mathrm{d}\sigma$ steps), without the final denoising step.

    Examples
    --------
    >>> from ebm_book.mixtures import GaussianMixture
    >>> from ebm_book.noise import geometric_sigmas
    >>> mixture = GaussianMixture([[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
    >>> x0 = 20 * torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    >>> x = probability_flow(mixture.noisy_score, x0, geometric_sigmas(20, 0.01, 100)).samples
    >>> round((mixture.assign(x) == 1).float().mean().item(), 1)
    0.8
    """
    run = _levels_run(score, x0, sigmas, None, record_every, FEWER_LEVELS)
    return _probability_flow(run, heun=True).result(denoise=False)


def _levels_run(
    score: NoiseConditionalScore,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    generator: torch.Generator | None,
    record_every: int | None,
    advice: str,
) -> DiffusionRun:
    r"""A diffusion run on Chapter 4's noise levels $\sigma_1 > \dots > \sigma_L$.

    They are the times $t_i = \sigma_i/\sigma_1$ of the VE process with
    $\sigma(t) = \sigma_1 t$ (Karras et al.'s clock), on which the samplers of
    `ebm_book.diffusion` and `ebm_book.flow` take exactly the steps of Chapter 4's.
    """
    sigmas = require_sigmas(sigmas)
    process = VarianceExploding(0.0, sigmas[0].item(), schedule="linear")
    times = (sigmas.double() / sigmas[0].item()).tolist()
    times[0] = 1.0
    return DiffusionRun(
        process.time_score(score), process, x0, times, generator, record_every, advice, advice, "x0"
    )
