r"""Stochastic samplers of diffusion models, each written once for every noise process.

Every sampler takes a score ``score(x, t)`` of $p_t$ (`NoiseProcess.time_score` makes one
from a noise-conditional network or from a mixture's exact ``noisy_score``), a noise
process of `ebm_book.processes`, and start points from its prior
(`NoiseProcess.prior_sample`). It runs on the grid $1 = t_N > t_{N-1} > \dots > t_0$:
``n_steps`` $= N$ evenly spaced steps down to the process's ``t_min``, or the grid
``times``. A step goes from $t = t_i$ to $t' = t_{i-1}$, so $\Delta t = t' - t$ is
negative. With ``denoise=True`` a last step replaces each sample by Tweedie's estimate
$\hat x_0 = \mathbb{E}[x_0 \mid x_{t_0}]$ (`NoiseProcess.denoised`).

| sampler | one step from $t$ to $t'$ | score evaluations | from |
|---|---|---|---|
| `euler_maruyama` | the reverse SDE, Euler–Maruyama | $N$ | Song et al. (2021) |
| `ancestral` | sample the forward posterior $p(x_{t'} \mid x_t, \hat x_0)$ | $N$ | Ho et al. (2020), Algorithm 2 |
| `predictor_corrector` | a predictor, then $M$ Langevin steps | $N(1 + M)$ | Song et al. (2021), Algorithm 1 |

(plus one evaluation for the denoising step). The deterministic samplers, the
probability-flow ODE by Euler or Heun and DDIM, are in `ebm_book.flow`, with the same
conventions. Each result reports its count in ``score_evaluations``; `ScoreCounter`
counts the calls of any score independently, for scoreboards. Cheap sizes: 2-D, a few
thousand chains and up to a few hundred steps run in well under a second with an exact
mixture score.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._chains import DiffusionRun, SamplingResult
from ._process import NoiseProcess
from ._types import TimeConditionalScore
from ._validation import (
    require_callable,
    require_int,
    require_positive,
    require_time_grid,
)

__all__ = ["ScoreCounter", "ancestral", "euler_maruyama", "predictor_corrector"]


class ScoreCounter:
    """A score that counts its evaluations (one call on the whole batch is one evaluation).

    Examples
    --------
    >>> counted = ScoreCounter(lambda x, t: -x)
    >>> _ = counted(torch.zeros(5, 2), torch.ones(5)); _ = counted(torch.zeros(5, 2), torch.ones(5))
    >>> counted.calls
    2
    """

    def __init__(self, score: TimeConditionalScore) -> None:
        self.score, self.calls = require_callable(score, "score", ("x", "t")), 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.score(x, t)

    def reset(self) -> int:
        """Set the count back to zero; return the count it had."""
        calls, self.calls = self.calls, 0
        return calls


def _grid(process: object, n_steps: int | None, times: object) -> list[float]:
    """The sampler's times, from ``n_steps`` (evenly spaced) or ``times``, after checking."""
    if not isinstance(process, NoiseProcess):
        raise TypeError(
            "process must be a NoiseProcess of ebm_book.processes (VarianceExploding, "
            f"VariancePreserving, DDPMSchedule); got {type(process).__name__}."
        )
    if times is None:
        if n_steps is None:
            raise ValueError("give n_steps (evenly spaced steps from t = 1 to t_min) or times.")
        return process.time_grid(n_steps).tolist()
    if n_steps is not None:
        raise ValueError(f"give n_steps or times, not both; got n_steps={n_steps!r} and times.")
    return require_time_grid(times).tolist()


# --- one step of each method, shared by the samplers and the predictor-corrector -------------


def _euler_maruyama_step(run: DiffusionRun, t: float, t_next: float) -> None:
    x, at, dt = run.x, run.process._at(t), t_next - t
    s = run.score_at(x, t)
    drift = at.rate * x - at.g2 * s  # f(x, t) - g(t)^2 s(x, t)
    x_next = x + drift * dt + math.sqrt(-dt * at.g2) * run.noise()  # dW has variance |dt|
    run.update(x_next, t_next, s, run.process._transition(t_next, t)[1])


def _reverse_diffusion_step(run: DiffusionRun, t: float, t_next: float) -> None:
    x = run.x
    ratio, variance = run.process._transition(t_next, t)  # sqrt(alpha_i), beta_i
    s = run.score_at(x, t)
    x_next = (
        (x if ratio == 1 else x - (ratio - 1) * x)
        + variance * s
        + math.sqrt(variance) * run.noise()
    )
    run.update(x_next, t_next, s, variance)


def _ancestral_step(run: DiffusionRun, t: float, t_next: float) -> None:
    x = run.x
    ratio, variance = run.process._transition(t_next, t)  # sqrt(alpha_i) and beta_i
    s = run.score_at(x, t)
    posterior_sigma = math.sqrt(variance) * run.process._at(t_next).sigma / run.process._at(t).sigma
    x_next = (x + variance * s) / ratio + posterior_sigma * run.noise()
    run.update(x_next, t_next, s, variance)


_PREDICTORS: dict[str, Callable[[DiffusionRun, float, float], None]] = {
    "euler_maruyama": _euler_maruyama_step,
    "reverse_diffusion": _reverse_diffusion_step,
    "ancestral": _ancestral_step,
}


def euler_maruyama(
    score: TimeConditionalScore,
    process: NoiseProcess,
    start: torch.Tensor,
    n_steps: int | None = None,
    generator: torch.Generator | None = None,
    *,
    times: torch.Tensor | None = None,
    denoise: bool = True,
    record_every: int | None = None,
) -> SamplingResult:
    r"""The reverse-time SDE (Anderson 1982; Song et al. 2021), by Euler–Maruyama.

    The reverse of $\mathrm{d}x = f(x, t)\,\mathrm{d}t + g(t)\,\mathrm{d}W_t$ runs from
    $t = 1$ to 0:

    $$
    \mathrm{d}x = \big[f(x, t) - g(t)^2\, \nabla_x \log p_t(x)\big]\,\mathrm{d}t + g(t)\,\mathrm{d}\bar W_t ,
    $$

    and one step with $\Delta t = t' - t < 0$ is

    $$
    x \leftarrow x + \big[f(x, t) - g(t)^2 s(x, t)\big]\,\Delta t + g(t)\sqrt{-\Delta t}\; z .
    $$

    First order (weakly): its bias shrinks like $1/N$.

    Parameters
    ----------
    score
        $s(x, t)$, maps ``(N, d)`` points and ``(N,)`` times to ``(N, d)``.
    process
        The noise process the score belongs to.
    start
        Start points at $t_0$, shape ``(N, d)``: typically ``process.prior_sample(N, d, g)``.
    n_steps
        $N$, evenly spaced steps from 1 to ``process.t_min``; or give ``times`` instead.
    generator
        Source of the noise $z$.
    times
        A strictly decreasing grid of times in $[0, 1]$, instead of ``n_steps``.
    denoise
        End with Tweedie's estimate of the clean point (one more score evaluation).
    record_every
        Record the states every ``record_every`` steps (with their ``times``).

    Examples
    --------
    >>> from ebm_book.processes import VariancePreserving
    >>> from ebm_book.mixtures import GaussianMixture
    >>> data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], 0.1, weights=[0.3, 0.7])
    >>> vp, g = VariancePreserving(), torch.Generator().manual_seed(0)
    >>> result = euler_maruyama(vp.time_score(data.noisy_score), vp, vp.prior_sample(2000, 2, g), 200, g)
    >>> round((data.assign(result.samples) == 1).float().mean().item(), 1), result.score_evaluations
    (0.7, 201)
    """
    run = DiffusionRun(
        score, process, start, _grid(process, n_steps, times), generator, record_every
    )
    for t, t_next in run.steps():
        _euler_maruyama_step(run, t, t_next)
    return run.result(denoise)


def ancestral(
    score: TimeConditionalScore,
    process: NoiseProcess,
    start: torch.Tensor,
    n_steps: int | None = None,
    generator: torch.Generator | None = None,
    *,
    times: torch.Tensor | None = None,
    denoise: bool = True,
    record_every: int | None = None,
) -> SamplingResult:
    r"""Ancestral sampling: DDPM's sampler (Ho et al. 2020, Algorithm 2), for every process.

    Each step samples the forward process's posterior $p(x_{t'} \mid x_t, x_0)$, with $x_0$
    replaced by Tweedie's estimate. With the step's $\alpha_i$ and $\beta_i$
    (`NoiseProcess.transition`: on DDPM's grid, its schedule) and the noise prediction
    $-\sigma(t)\, s(x, t)$, Ho et al.'s line 4 reads

    $$
    x \leftarrow \frac{1}{\sqrt{\alpha_i}}\big(x + \beta_i\, s(x, t)\big) + \sqrt{\tilde\beta_i}\; z,
    \qquad \tilde\beta_i = \beta_i\,\frac{\sigma(t')^2}{\sigma(t)^2},
    $$

    with $\tilde\beta_i$ the posterior variance. For VE it is Song et al.'s (2021)
    ancestral sampler of NCSN. On a `ddpm.DDPMSchedule` of $N$ steps with
    ``n_steps = N - 1`` and ``denoise=True`` (the last step, where $\tilde\beta_1 = 0$),
    this is DDPM's sampler exactly. First order (weakly). Parameters as in `euler_maruyama`.

    Examples
    --------
    >>> from ebm_book.ddpm import DDPMSchedule
    >>> from ebm_book.mixtures import GaussianMixture
    >>> data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], 0.1, weights=[0.3, 0.7])
    >>> ddpm, g = DDPMSchedule.linear(100), torch.Generator().manual_seed(0)
    >>> x = ancestral(ddpm.time_score(data.noisy_score), ddpm, ddpm.prior_sample(2000, 2, g), 99, g)
    >>> round((data.assign(x.samples) == 1).float().mean().item(), 1)
    0.7
    """
    run = DiffusionRun(
        score, process, start, _grid(process, n_steps, times), generator, record_every
    )
    for t, t_next in run.steps():
        _ancestral_step(run, t, t_next)
    return run.result(denoise)


def predictor_corrector(
    score: TimeConditionalScore,
    process: NoiseProcess,
    start: torch.Tensor,
    n_steps: int | None = None,
    generator: torch.Generator | None = None,
    *,
    predictor: str | None = "reverse_diffusion",
    corrector_steps: int = 1,
    snr: float = 0.16,
    step_size: float | None = None,
    times: torch.Tensor | None = None,
    denoise: bool = True,
    record_every: int | None = None,
) -> SamplingResult:
    r"""Predictor-corrector sampling (Song et al. 2021, Algorithm 1, with Algorithms 4 and 5).

    Each step runs a predictor from $t$ to $t'$, then $M$ = ``corrector_steps`` Langevin
    steps on $p_{t'}$ (the corrector): $x \leftarrow x + \frac{\epsilon}{2}\, s(x, t') + \sqrt{\epsilon}\, z$.

    * ``predictor``: ``"reverse_diffusion"`` (Song et al.'s eq. 47: the forward step
      $x_t = \sqrt{\alpha_i}\, x_{t'} + \sqrt{\beta_i}\, z$ of `NoiseProcess.transition`,
      reversed, $x \leftarrow x - (\sqrt{\alpha_i} - 1)\,x + \beta_i\, s(x, t) + \sqrt{\beta_i}\, z$),
      ``"euler_maruyama"``, ``"ancestral"``, or ``None``: no predictor, and $M$ Langevin
      steps at every time of the grid, which on Chapter 4's levels is annealed Langevin
      dynamics (Song & Ermon 2019, Algorithm 1).
    * The Langevin step: by default from the signal-to-noise ratio $r$ = ``snr``
      (Algorithms 4 and 5), $\epsilon = 4\,\alpha_i\,\big(r\,\lVert z\rVert/\lVert s\rVert\big)^2$,
      with the norms averaged over the chains and $\alpha_i$ that of the step into $t'$
      (1 for VE). The paper's step is $\epsilon/2$, in the other way of writing Langevin
      dynamics. Or, with ``step_size`` $\epsilon$, Song & Ermon's
      $\epsilon_i = \epsilon\,\sigma(t')^2/\sigma(t_0)^2$.

    A Langevin corrector has a bias of its own that does not vanish with more steps
    (Chapter 2): keep ``snr`` small (0.05 to 0.2). Other parameters as in `euler_maruyama`.

    Examples
    --------
    >>> from ebm_book.processes import VarianceExploding
    >>> from ebm_book.mixtures import GaussianMixture
    >>> data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], 0.1, weights=[0.3, 0.7])
    >>> ve, g = VarianceExploding(0.01, 8.0), torch.Generator().manual_seed(0)
    >>> result = predictor_corrector(ve.time_score(data.noisy_score), ve, ve.prior_sample(2000, 2, g), 100, g)
    >>> round((data.assign(result.samples) == 1).float().mean().item(), 1), result.score_evaluations
    (0.7, 201)
    """
    grid = _grid(process, n_steps, times)
    if predictor is not None and predictor not in _PREDICTORS:
        raise ValueError(
            f"predictor must be one of {sorted(_PREDICTORS)} or None; got {predictor!r}."
        )
    require_int(corrector_steps, "corrector_steps", minimum=0)
    snr = require_positive(snr, "snr")
    if step_size is not None:
        step_size = require_positive(step_size, "step_size")
        if process._at(grid[-1]).sigma == 0:
            raise ValueError("step_size needs noise at the last time of the grid; use snr instead.")
    run = DiffusionRun(score, process, start, grid, generator, record_every)
    predict = None if predictor is None else _PREDICTORS[predictor]
    return _predictor_corrector(run, predict, corrector_steps, snr, step_size).result(denoise)


def _predictor_corrector(
    run: DiffusionRun,
    predict: Callable[[DiffusionRun, float, float], None] | None,
    corrector_steps: int,
    snr: float,
    step_size: float | None,
) -> DiffusionRun:
    """The loop of `predictor_corrector`, also Chapter 4's annealed Langevin and reverse diffusion."""
    grid, process = run.times, run.process
    alphas = [process._transition(t_next, t)[0] ** 2 for t, t_next in run.steps()] or [1.0]
    alphas.append(alphas[-1])  # alpha_i of the step into each time of the grid
    last_variance = process._at(grid[-1]).sigma ** 2

    def correct(k: int) -> None:
        t = grid[k]
        for _ in range(corrector_steps):
            s = run.score_at(run.x, t)
            z = run.noise()
            if step_size is None:  # Song et al. (2021), Algorithms 4 and 5
                ratio = (snr * z.norm(dim=1).mean() / s.norm(dim=1).mean()).item()
                eps = 4 * alphas[k] * ratio**2
            else:  # Song & Ermon (2019)
                eps = step_size * process._at(t).sigma ** 2 / last_variance
            run.update(run.x + 0.5 * eps * s + math.sqrt(eps) * z, t, s, eps, corrector=True)

    if predict is None:
        for k in range(len(grid)):
            correct(k)
    else:
        for k, (t, t_next) in enumerate(run.steps(), start=1):
            predict(run, t, t_next)
            correct(k)
    return run
