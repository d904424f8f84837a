r"""DDPM's noise schedule and its discrete chain (Ho et al. 2020), as a noise process.

DDPM adds noise in $N$ steps with variances $\beta_1, \dots, \beta_N$:

$$
x_i = \sqrt{\alpha_i}\, x_{i-1} + \sqrt{\beta_i}\, z, \qquad \alpha_i = 1 - \beta_i,
\qquad\text{so that}\qquad
x_i = \sqrt{\bar\alpha_i}\, x_0 + \sqrt{1 - \bar\alpha_i}\, z, \quad \bar\alpha_i = \prod_{j=1}^{i} \alpha_j .
$$

The book's $t$ is the continuous time, so the steps are numbered $i = 1, \dots, N$ (the
notation page's $\beta_t$, $\alpha_t$, $\bar\alpha_t$ with the step written $i$), and step
$i$ ends at time $t = i/N$. `DDPMSchedule` is the
variance-preserving process whose $\log\bar\alpha(t)$ is piecewise linear through the
points $(i/N, \log\bar\alpha_i)$: on the grid it *is* the chain (its exact transition from
$(i-1)/N$ to $i/N$ is the step above, so ``simulate(x0, N)`` runs the chain), between
grid points it follows a VP SDE with the piecewise constant rate $\beta(t) = -N\log\alpha_i$,
and every sampler of `ebm_book.diffusion` runs on it. With $\beta_i$ taken from a
`processes.VariancePreserving` schedule (`DDPMSchedule.from_process`), the chain
converges to that SDE as $N$ grows, with an error of order $1/N$.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._validation import (
    call_checked,
    require_generator,
    require_int,
    require_non_negative,
    require_points,
    require_positive,
    require_vector_field,
)
from .processes import NoiseProcess, VariancePreserving

__all__ = ["DDPMSchedule", "noise_prediction_loss"]


class DDPMSchedule(VariancePreserving):
    r"""DDPM's schedule $\beta_1, \dots, \beta_N$ with its $\alpha_i$ and $\bar\alpha_i$, as a noise process.

    Parameters
    ----------
    betas
        $\beta_1, \dots, \beta_N$, each in $(0, 1)$.
    t_min
        Where the samplers stop by default: $1/N$, the first step. Then ancestral sampling
        with ``n_steps = N - 1`` and the final denoising step is Ho et al.'s Algorithm 2,
        with its $N$ score evaluations.

    Attributes
    ----------
    betas, alphas, alpha_bars
        $\beta_i$, $\alpha_i = 1 - \beta_i$ and $\bar\alpha_i$, float64 tensors of shape ``(N,)``.

    Examples
    --------
    >>> ddpm = DDPMSchedule.linear(1000)  # Ho et al.: beta from 1e-4 to 0.02
    >>> round(ddpm.alpha_bars[-1].item(), 6)
    4e-05
    >>> round(ddpm.alpha_bars[499].item(), 6), round(ddpm.alpha_bar(0.5).item(), 6)  # step 500 at t = 1/2
    (0.078587, 0.078587)
    """

    def __init__(self, betas: object, t_min: float | None = None) -> None:
        try:
            self.betas = torch.as_tensor(betas, dtype=torch.float64).cpu()
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"betas must be a 1-D tensor or list of numbers; got {betas!r}."
            ) from None
        if self.betas.ndim != 1 or self.betas.numel() == 0:
            raise ValueError(
                f"betas must be a non-empty 1-D tensor; got shape {tuple(self.betas.shape)}."
            )
        if not ((self.betas > 0) & (self.betas < 1)).all():
            shown = [round(b, 6) for b in self.betas[:6].tolist()]
            raise ValueError(
                f"betas must be numbers in (0, 1); got {shown}{'...' if len(self.betas) > 6 else ''}."
            )
        self.n_steps = len(self.betas)
        NoiseProcess.__init__(self, 1 / self.n_steps if t_min is None else t_min)
        self.alphas = 1 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)
        log_alphas = torch.log1p(-self.betas)
        self._log_alpha_bars = torch.cat(
            [torch.zeros(1, dtype=torch.float64), log_alphas.cumsum(0)]
        )
        rates = -self.n_steps * log_alphas  # beta(t) on each step
        self.beta_min, self.beta_max = rates.min().item(), rates.max().item()

    @classmethod
    def linear(
        cls, n_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> DDPMSchedule:
        r"""Ho et al.'s linear schedule: $\beta_i$ evenly spaced from ``beta_start`` to ``beta_end``.

        Ho et al. use $N = 1000$; for fewer steps scale both ends by $1000/N$ (or use
        `from_process`) to keep the same total noise.
        """
        require_int(n_steps, "n_steps")
        start, end = (
            require_positive(beta_start, "beta_start"),
            require_positive(beta_end, "beta_end"),
        )
        return cls(torch.linspace(start, end, n_steps, dtype=torch.float64))

    @classmethod
    def from_process(cls, process: VariancePreserving, n_steps: int) -> DDPMSchedule:
        r"""The $N$-step chain of a linear VP process: $\beta_i$ from $\beta_{\min}/N$ to $\beta_{\max}/N$.

        As in Song et al.'s code, $\beta_i = \beta\big((i-1)/(N-1)\big)/N$; the defaults
        of `processes.VariancePreserving` with $N = 1000$ give Ho et al.'s schedule.

        Examples
        --------
        >>> chain = DDPMSchedule.from_process(VariancePreserving(), 1000)
        >>> torch.allclose(chain.betas, DDPMSchedule.linear(1000).betas)
        True
        """
        if type(process) is not VariancePreserving:
            raise TypeError(
                f"process must be a VariancePreserving process; got {type(process).__name__}."
            )
        require_int(n_steps, "n_steps", minimum=2)
        low, high = process.beta_min / n_steps, process.beta_max / n_steps
        return cls(torch.linspace(low, high, n_steps, dtype=torch.float64))

    def random_times(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``n`` training times $i/N$, with the step $i$ uniform in $1, \dots, N$ (Ho et al.)."""
        require_int(n, "n")
        steps = torch.randint(
            1, self.n_steps + 1, (n,), generator=require_generator(generator, "cpu")
        )
        return steps.double() / self.n_steps

    def _step(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The step $i$ whose interval $((i-1)/N, i/N]$ holds each time, and $tN$."""
        scaled = t * self.n_steps
        return torch.ceil(scaled).clamp(1, self.n_steps).long(), scaled

    def _log_mean(self, t: torch.Tensor) -> torch.Tensor:
        step, scaled = self._step(t)
        table = self._log_alpha_bars.to(t.device)
        before, after = table[step - 1], table[step]
        return 0.5 * (before + (scaled - (step - 1)) * (after - before))

    def _log_mean_rate(self, t: torch.Tensor) -> torch.Tensor:
        step, _ = self._step(t)
        table = self._log_alpha_bars.to(t.device)
        return 0.5 * self.n_steps * (table[step] - table[step - 1])

    def __repr__(self) -> str:
        return (
            f"DDPMSchedule(N={self.n_steps}, beta_1={self.betas[0].item():g}, "
            f"beta_N={self.betas[-1].item():g})"
        )


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
