r"""Noise processes: how diffusion models turn data into noise, written as SDEs.

**Time.** Time runs over $t \in [0, 1]$: the data sit at $t = 0$ and the prior (noise)
at $t = 1$. The forward process adds noise as $t$ grows,

$$
\mathrm{d}x = f(x, t)\,\mathrm{d}t + g(t)\,\mathrm{d}W_t ,
$$

and every reverse process (the samplers of `ebm_book.diffusion` and `ebm_book.flow`) runs
from $t = 1$ down, on a grid $1 = t_N > t_{N-1} > \dots > t_0$ that ends at a small time
$t_0$ (``t_min``), each step going from $t = t_i$ to $t' = t_{i-1}$ with the negative
step $\Delta t = t' - t$.

**Marginals.** Given the clean point $x_0$, the noisy point at time $t$ is

$$
x_t = \sqrt{\bar\alpha(t)}\, x_0 + \sigma(t)\, z, \qquad z \sim \mathcal{N}(0, I):
$$

the mean coefficient $\sqrt{\bar\alpha(t)}$ shrinks the data, and $\sigma(t)$ is the
standard deviation of the noise (DDPM's $\sigma_t = \sqrt{1 - \bar\alpha_t}$ of Chapter 4).

| process | $\sqrt{\bar\alpha(t)}$ | $\sigma(t)$ | $f(x, t)$ | $g(t)^2$ |
|---|---|---|---|---|
| `VarianceExploding` (NCSN) | $1$ | $\sigma_{\min}$ up to $\sigma_{\max}$ | $0$ | $\mathrm{d}[\sigma^2]/\mathrm{d}t$ |
| `VariancePreserving` (DDPM) | $e^{-\frac12\int_0^t\beta}$ | $\sqrt{1 - \bar\alpha(t)}$ | $-\tfrac12\beta(t)\,x$ | $\beta(t)$ |

In general $f(x, t) = x\,\mathrm{d}\log\sqrt{\bar\alpha}/\mathrm{d}t$ and
$g(t)^2 = \bar\alpha(t)\,\mathrm{d}[\sigma^2/\bar\alpha]/\mathrm{d}t$: each process supplies
$\sqrt{\bar\alpha}$ and $\sigma^2/\bar\alpha$ with their derivatives, and `NoiseProcess`
derives the rest (drift, diffusion, exact transitions, prior, score adapters), like the
``SDE`` class of Song et al.'s code. `ebm_book.ddpm.DDPMSchedule` is the discrete chain
of Ho et al. (2020) as a third process.

**Scores.** A score model of a process is called ``score(x, t)``, with ``t`` of shape
``(N,)``, and estimates $\nabla_x \log p_t(x)$, where $p_t$ is the density of $x_t$. The
rescaled point $x_t/\sqrt{\bar\alpha(t)}$ is the data blurred by the noise level
$\sigma(t)/\sqrt{\bar\alpha(t)}$ (Chapter 4's $p_\sigma$), so a noise-conditional score
$s(x, \sigma)$ of Chapter 4 (a network, or a mixture's exact ``noisy_score``) becomes a
score of the process in one line: `NoiseProcess.time_score`; and back,
`NoiseProcess.level_score` makes a network trained on a process a noise-conditional
score, for Chapter 4's samplers.
"""

from __future__ import annotations

import math

import torch

from ._process import NoiseProcess, Times
from ._validation import require_in_interval, require_non_negative, require_positive

__all__ = ["NoiseProcess", "VarianceExploding", "VariancePreserving"]


class VarianceExploding(NoiseProcess):
    r"""The variance-exploding SDE $\mathrm{d}x = \sqrt{\mathrm{d}[\sigma^2(t)]/\mathrm{d}t}\;\mathrm{d}W_t$ (NCSN's noise).

    No drift: the data stay put while the noise grows from $\sigma_{\min}$ to
    $\sigma_{\max}$, so $x_t = x_0 + \sigma(t)\, z$. Two schedules:

    * ``"geometric"`` (Song et al. 2021): $\sigma(t) = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t$,
      the continuous version of Chapter 4's geometric levels;
    * ``"linear"``: $\sigma(t) = \sigma_{\min} + (\sigma_{\max} - \sigma_{\min})\,t$, Karras
      et al.'s (2022) $\sigma(t) = t$, which makes the probability-flow ODE straighter.

    Choose $\sigma_{\max}$ about the largest distance between data points
    (`ebm_book.noise.max_pairwise_distance`). The process at $t = 0$ is the data blurred by
    $\sigma_{\min}$; the samplers stop there and remove that last noise with Tweedie's formula.

    Examples
    --------
    >>> ve = VarianceExploding(sigma_min=0.01, sigma_max=10.0)
    >>> [round(s, 4) for s in ve.sigma(torch.tensor([0.0, 0.5, 1.0])).tolist()]
    [0.01, 0.3162, 10.0]
    """

    def __init__(
        self,
        sigma_min: float = 0.01,
        sigma_max: float = 10.0,
        schedule: str = "geometric",
        t_min: float = 0.0,
    ) -> None:
        super().__init__(t_min)
        if schedule not in ("geometric", "linear"):
            raise ValueError(f"schedule must be 'geometric' or 'linear'; got {schedule!r}.")
        check_min = require_positive if schedule == "geometric" else require_non_negative
        self.sigma_min, self.schedule = check_min(sigma_min, "sigma_min"), schedule
        self.sigma_max = require_in_interval(sigma_max, "sigma_max", self.sigma_min)
        self._log_ratio = (
            math.log(self.sigma_max / self.sigma_min) if schedule == "geometric" else 0.0
        )

    _scales_data = False

    def _log_mean(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def _log_mean_rate(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def _sigma_of(self, t: torch.Tensor) -> torch.Tensor:
        if self.schedule == "geometric":
            return self.sigma_min * torch.exp(self._log_ratio * t)
        return self.sigma_min + (self.sigma_max - self.sigma_min) * t

    def _ratio2(self, t: torch.Tensor) -> torch.Tensor:
        return self._sigma_of(t) ** 2

    def _ratio2_rate(self, t: torch.Tensor) -> torch.Tensor:
        if self.schedule == "geometric":
            return 2 * self._log_ratio * self._sigma_of(t) ** 2
        return 2 * (self.sigma_max - self.sigma_min) * self._sigma_of(t)

    def __repr__(self) -> str:
        return (
            f"VarianceExploding(sigma_min={self.sigma_min:g}, sigma_max={self.sigma_max:g}, "
            f"schedule={self.schedule!r})"
        )


class VariancePreserving(NoiseProcess):
    r"""The variance-preserving SDE $\mathrm{d}x = -\tfrac12\beta(t)\,x\,\mathrm{d}t + \sqrt{\beta(t)}\,\mathrm{d}W_t$ (DDPM's noise).

    With the linear schedule $\beta(t) = \beta_{\min} + (\beta_{\max} - \beta_{\min})\,t$
    (Song et al. 2021), the signal fraction is
    $\bar\alpha(t) = \exp\big(-\beta_{\min} t - \tfrac12(\beta_{\max} - \beta_{\min})t^2\big)$
    and $x_t = \sqrt{\bar\alpha(t)}\,x_0 + \sqrt{1 - \bar\alpha(t)}\,z$: data of unit
    variance keep unit variance. DDPM's discrete chain with $N$ steps and
    $\beta_i \approx \beta(i/N)/N$ is its discretisation (`ebm_book.ddpm.DDPMSchedule`); the
    defaults, $\beta_{\min} = 0.1$ and $\beta_{\max} = 20$, give Ho et al.'s schedule for
    $N = 1000$. The samplers stop at ``t_min`` ($10^{-3}$), where the score is still finite.

    Examples
    --------
    >>> vp = VariancePreserving()
    >>> vp.alpha_bar(torch.tensor([0.0, 0.5, 1.0]))
    tensor([1.0000e+00, 7.9064e-02, 4.3186e-05])
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3) -> None:
        super().__init__(t_min)
        self.beta_min = require_non_negative(beta_min, "beta_min")
        self.beta_max = require_in_interval(beta_max, "beta_max", self.beta_min)

    def beta(self, t: Times) -> torch.Tensor:
        r"""$\beta(t) = -\mathrm{d}\log\bar\alpha(t)/\mathrm{d}t$, the rate at which noise is added."""
        return self._public(t, lambda u: -2 * self._log_mean_rate(u))

    def _log_mean(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * (self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2)

    def _log_mean_rate(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * (self.beta_min + (self.beta_max - self.beta_min) * t)

    def _ratio2(self, t: torch.Tensor) -> torch.Tensor:
        return torch.expm1(-2 * self._log_mean(t))  # 1 / alpha_bar - 1

    def _ratio2_rate(self, t: torch.Tensor) -> torch.Tensor:
        return -2 * self._log_mean_rate(t) * torch.exp(-2 * self._log_mean(t))

    def __repr__(self) -> str:
        return f"VariancePreserving(beta_min={self.beta_min:g}, beta_max={self.beta_max:g})"
