r"""The noise-process abstraction, written once for every process (see `ebm_book.processes`).

A process supplies $\log\sqrt{\bar\alpha(t)}$ and the noise-to-signal ratio
$\sigma(t)^2/\bar\alpha(t)$, with their time derivatives; `NoiseProcess` derives from them,
exactly, what the samplers and the chapter need: drift and diffusion, transitions,
marginals, the prior, and the scores of the process, like the ``SDE`` class of Song et
al.'s code.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._chains import Recorder, SamplingResult, noise_like, start_chains
from ._types import NoiseConditionalScore, TimeConditionalScore
from ._validation import (
    require_callable,
    require_generator,
    require_int,
    require_noise_levels,
    require_non_negative,
    require_points,
    require_times,
)
from .mixtures import GaussianMixture

__all__ = ["NoiseProcess"]

Times = float | torch.Tensor


@dataclass(frozen=True)
class _Coefficients:
    """A process at one time, as floats: what the samplers need at every step."""

    mean: float  # sqrt(alpha_bar(t))
    sigma: float  # sigma(t), the standard deviation of x_t given x_0
    rate: float  # the drift is f(x, t) = rate * x
    g2: float  # g(t)^2


class NoiseProcess(ABC):
    r"""A forward noising SDE $\mathrm{d}x = f(x, t)\,\mathrm{d}t + g(t)\,\mathrm{d}W_t$ on $t \in [0, 1]$.

    Its marginals are $x_t = \sqrt{\bar\alpha(t)}\,x_0 + \sigma(t)\,z$. Subclasses supply
    $\log\sqrt{\bar\alpha(t)}$ and the squared noise-to-signal ratio $\sigma(t)^2/\bar\alpha(t)$
    with their time derivatives; everything else is derived here, exactly. Every method
    takes times as a number or a tensor of shape ``(N,)`` (one per point), in $[0, 1]$,
    and answers in the dtype of the times (float64 for a number).

    Attributes
    ----------
    t_min
        Where the reverse processes stop by default: a time small enough that $p_t$ is
        close to the data, large enough that its score stays finite.
    """

    _scales_data = True  # whether sqrt(alpha_bar(t)) differs from 1

    def __init__(self, t_min: float) -> None:
        self.t_min = require_non_negative(t_min, "t_min")
        if self.t_min >= 1:
            raise ValueError(f"t_min must be a time in [0, 1); got {t_min!r}.")
        self._cache: dict[float, _Coefficients] = {}

    @abstractmethod
    def _log_mean(self, t: torch.Tensor) -> torch.Tensor:
        r"""$\log\sqrt{\bar\alpha(t)}$, for float64 times."""

    @abstractmethod
    def _log_mean_rate(self, t: torch.Tensor) -> torch.Tensor:
        r"""$\mathrm{d}\log\sqrt{\bar\alpha(t)}/\mathrm{d}t$: the drift is this times $x$."""

    @abstractmethod
    def _ratio2(self, t: torch.Tensor) -> torch.Tensor:
        r"""$\sigma(t)^2/\bar\alpha(t)$: the variance of the noise in $x_t/\sqrt{\bar\alpha(t)}$."""

    @abstractmethod
    def _ratio2_rate(self, t: torch.Tensor) -> torch.Tensor:
        r"""$\mathrm{d}[\sigma(t)^2/\bar\alpha(t)]/\mathrm{d}t$."""

    def _public(self, t: Times, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``fn`` at the times ``t``, in ``t``'s dtype and device (for a number: float64)."""
        value = fn(require_times(t))
        return value.to(t) if isinstance(t, torch.Tensor) else value

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(self._log_mean(t)) * self._ratio2(t).sqrt()

    def mean_coefficient(self, t: Times) -> torch.Tensor:
        r"""$\sqrt{\bar\alpha(t)}$, the factor that multiplies the data in $x_t$."""
        return self._public(t, lambda u: torch.exp(self._log_mean(u)))

    def alpha_bar(self, t: Times) -> torch.Tensor:
        r"""$\bar\alpha(t)$, the fraction of the data's variance left at time $t$."""
        return self._public(t, lambda u: torch.exp(2 * self._log_mean(u)))

    def sigma(self, t: Times) -> torch.Tensor:
        r"""$\sigma(t)$, the standard deviation of the noise in $x_t$ (Chapter 4's $\sigma_t$ for DDPM).

        Examples
        --------
        >>> from ebm_book.processes import VariancePreserving
        >>> VariancePreserving().sigma(torch.tensor([0.0, 1.0]))
        tensor([0.0000, 1.0000])
        """
        return self._public(t, self._sigma)

    def diffusion(self, t: Times) -> torch.Tensor:
        r"""$g(t) = \sqrt{\bar\alpha(t)\,\mathrm{d}[\sigma^2/\bar\alpha]/\mathrm{d}t}$."""
        return self._public(
            t, lambda u: (torch.exp(2 * self._log_mean(u)) * self._ratio2_rate(u)).sqrt()
        )

    def drift(self, x: torch.Tensor, t: Times) -> torch.Tensor:
        r"""$f(x, t) = x\,\mathrm{d}\log\sqrt{\bar\alpha(t)}/\mathrm{d}t$, shape ``(N, d)``."""
        require_points(x)
        rate = self._log_mean_rate(require_times(t).to(x.device))
        return rate.to(x.dtype).reshape(-1, 1) * x

    def _at(self, t: float) -> _Coefficients:
        """The process at one time, as floats (remembered: samplers revisit the same grid)."""
        if t not in self._cache:
            u = torch.tensor(t, dtype=torch.float64)
            mean = math.exp(self._log_mean(u).item())
            self._cache[t] = _Coefficients(
                mean=mean,
                sigma=mean * math.sqrt(self._ratio2(u).item()),
                rate=self._log_mean_rate(u).item(),
                g2=mean**2 * self._ratio2_rate(u).item(),
            )
        return self._cache[t]

    def transition(self, t_from: float, t_to: float) -> tuple[float, float]:
        r"""The exact step forward from the time $t'$ = ``t_from`` to a later time $t$ = ``t_to``.

        $x_t = \sqrt{\alpha_i}\, x_{t'} + \sqrt{\beta_i}\, z$ with
        $\alpha_i = \bar\alpha(t)/\bar\alpha(t')$ and $\beta_i = \sigma(t)^2 - \alpha_i\,\sigma(t')^2$:
        DDPM's $\alpha_i$ and $\beta_i$ of the step, for any process and any grid (VE has
        $\alpha_i = 1$, VP has $\beta_i = 1 - \alpha_i$, and on DDPM's own grid they are its
        schedule). Composing steps keeps the marginals exact: this is the discretisation of
        the SDE (Song et al. 2021, Appendix E). Returns ``(sqrt(alpha_i), beta_i)``.

        Examples
        --------
        >>> from ebm_book.processes import VarianceExploding
        >>> VarianceExploding(0.1, 10.0).transition(0.0, 1.0)  # variance 10^2 - 0.1^2
        (1.0, 99.99)
        """
        t_from = require_times(t_from, "t_from").item()
        t_to = require_times(t_to, "t_to").item()
        if t_from > t_to:
            raise ValueError(
                "t_from must not be after t_to (a forward step); "
                f"got t_from={t_from:g}, t_to={t_to:g}."
            )
        return self._transition(t_from, t_to)

    def _transition(self, t_from: float, t_to: float) -> tuple[float, float]:
        """`transition` without input checks, for the samplers' loops."""
        start, end = self._at(t_from), self._at(t_to)
        ratio = end.mean / start.mean
        return ratio, end.sigma**2 - (ratio * start.sigma) ** 2

    def sample_marginal(
        self, x0: torch.Tensor, t: Times, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Noisy points $x_t = \sqrt{\bar\alpha(t)}\,x_0 + \sigma(t)\,z$ and their noise $z$.

        ``t`` is one time, or one per point (shape ``(N,)``), as in training.
        """
        require_points(x0, name="x0")
        require_generator(generator, x0.device)
        times = require_times(t).to(x0.device)
        mean = torch.exp(self._log_mean(times)).to(x0.dtype).reshape(-1, 1)
        sigma = self._sigma(times).to(x0.dtype).reshape(-1, 1)
        z = noise_like(x0, generator)
        return mean * x0 + sigma * z, z

    def marginal(self, mixture: GaussianMixture, t: float) -> GaussianMixture:
        r"""The exact $p_t$ of data from a Gaussian mixture: another mixture.

        Component $k$ becomes $\mathcal{N}\big(\sqrt{\bar\alpha}\,\mu_k,\; \bar\alpha\,\Sigma_k + \sigma^2 I\big)$
        at time $t$: its log density, score and samples are exact, for any $t$.

        Examples
        --------
        >>> from ebm_book.processes import VariancePreserving
        >>> vp = VariancePreserving()
        >>> p1 = vp.marginal(GaussianMixture([[4.0, 0.0]]), 1.0)  # almost N(0, I)
        >>> [round(v, 3) for v in p1.means[0].tolist()], round(p1.covs[0, 0, 0].item(), 3)
        ([0.026, 0.0], 1.0)
        """
        if not isinstance(mixture, GaussianMixture):
            raise TypeError(f"mixture must be a GaussianMixture; got {type(mixture).__name__}.")
        at = self._at(require_times(t).item())
        covs = at.mean**2 * mixture.covs + at.sigma**2 * torch.eye(mixture.dim)
        return GaussianMixture(at.mean * mixture.means, covs, mixture.weights)

    def prior_sample(
        self, n: int, dim: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        r"""``n`` draws of the prior $\mathcal{N}(0, \sigma(1)^2 I)$ in ``dim`` dimensions.

        The prior is the process at $t = 1$ for data at the origin: $\mathcal{N}(0, \sigma_{\max}^2 I)$
        for VE, almost exactly $\mathcal{N}(0, I)$ for VP.
        """
        require_int(n, "n")
        require_int(dim, "dim")
        z = torch.randn(n, dim, generator=require_generator(generator, "cpu"))
        return self._at(1.0).sigma * z

    def prior_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\log \mathcal{N}(x; 0, \sigma(1)^2 I)$, shape ``(N,)``."""
        require_points(x)
        variance = self._at(1.0).sigma ** 2
        normalizer = 0.5 * x.shape[1] * math.log(2 * math.pi * variance)
        return -0.5 * (x**2).sum(dim=1) / variance - normalizer

    def time_grid(self, n_steps: int, t_end: float | None = None) -> torch.Tensor:
        """``n_steps + 1`` evenly spaced times from 1 down to ``t_end`` (default `t_min`), float64.

        Examples
        --------
        >>> from ebm_book.processes import VarianceExploding
        >>> VarianceExploding(0.01, 10.0).time_grid(4)
        tensor([1.0000, 0.7500, 0.5000, 0.2500, 0.0000], dtype=torch.float64)
        """
        require_int(n_steps, "n_steps")
        end = self.t_min if t_end is None else require_non_negative(t_end, "t_end")
        if end >= 1:
            raise ValueError(f"t_end must be a time in [0, 1); got {t_end!r}.")
        return torch.linspace(1.0, end, n_steps + 1, dtype=torch.float64)

    def random_times(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` training times, uniform in ``[t_min, 1]``, float64 of shape ``(n,)``."""
        require_int(n, "n")
        uniform = torch.rand(n, generator=require_generator(generator, "cpu"), dtype=torch.float64)
        return self.t_min + (1 - self.t_min) * uniform

    def time_score(self, score: NoiseConditionalScore) -> TimeConditionalScore:
        r"""The score $s(x, t)$ of this process from a noise-conditional score $s(x, \sigma)$.

        $x_t/\sqrt{\bar\alpha(t)}$ is the data blurred by the noise level
        $\sigma(t)/\sqrt{\bar\alpha(t)}$, so
        $\nabla_x \log p_t(x) = s\big(x/\sqrt{\bar\alpha(t)},\, \sigma(t)/\sqrt{\bar\alpha(t)}\big)/\sqrt{\bar\alpha(t)}$:
        for VE simply $s(x, \sigma(t))$. With a mixture's exact ``noisy_score`` this is the
        exact score of $p_t$ at every time.

        Examples
        --------
        >>> from ebm_book.processes import VariancePreserving
        >>> mixture = GaussianMixture([[2.0, 0.0]])
        >>> vp = VariancePreserving()
        >>> x, t = torch.tensor([[1.0, 1.0]]), torch.tensor([0.5])
        >>> torch.allclose(vp.time_score(mixture.noisy_score)(x, t), vp.marginal(mixture, 0.5).score(x))
        True
        """
        require_callable(score, "score", ("x", "sigma"))

        def score_at_time(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            times = require_times(t)
            level = self._ratio2(times).sqrt().to(x)
            if not self._scales_data:  # VE: s(x, sigma(t))
                return score(x, level)
            mean = torch.exp(self._log_mean(times)).to(x).reshape(-1, 1)
            return score(x / mean, level) / mean

        return score_at_time

    def level_score(self, score: TimeConditionalScore) -> NoiseConditionalScore:
        r"""A noise-conditional score $s(x, \sigma)$ from a score $s(x, t)$ of this process: `time_score` undone.

        At the time $t$ where $\sigma(t)/\sqrt{\bar\alpha(t)} = \sigma$ (found by bisection:
        the ratio grows with $t$), $x_t/\sqrt{\bar\alpha(t)}$ is the data blurred by the
        level $\sigma$, so
        $\nabla_x \log p_\sigma(x) = \sqrt{\bar\alpha(t)}\; s\big(\sqrt{\bar\alpha(t)}\,x,\, t\big)$.
        A network trained on this process (a noise predictor, through `score_from_noise`)
        then runs Chapter 4's samplers on levels chosen by NCSNv2's heuristics, such as
        `ebm_book.sampling.annealed_langevin`. The levels must lie in the process's range,
        from $\sigma(0)/\sqrt{\bar\alpha(0)}$ to $\sigma(1)/\sqrt{\bar\alpha(1)}$ (for the
        default VP process, 0 to about 150).

        Examples
        --------
        >>> from ebm_book.processes import VariancePreserving
        >>> mixture = GaussianMixture([[2.0, 0.0]])
        >>> vp = VariancePreserving()
        >>> score = vp.level_score(vp.time_score(mixture.noisy_score))
        >>> x, sigma = torch.tensor([[1.0, 1.0]]), torch.tensor([0.5])
        >>> torch.allclose(score(x, sigma), mixture.noisy_score(x, sigma))
        True
        """
        require_callable(score, "score", ("x", "t"))

        def score_at_level(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            times = self._time_of_level(require_noise_levels(sigma, x, dtype=torch.float64))
            mean = torch.exp(self._log_mean(times)).to(x).reshape(-1, 1)
            return mean * score(mean * x, times.to(x))

        return score_at_level

    def _time_of_level(self, levels: torch.Tensor) -> torch.Tensor:
        r"""The times at which $\sigma(t)/\sqrt{\bar\alpha(t)}$ equals ``levels`` (float64), by bisection."""
        low, high = (torch.full_like(levels, bound) for bound in (0.0, 1.0))
        lowest, highest = (self._ratio2(bound[:1]).sqrt().item() for bound in (low, high))
        if levels.min() < lowest * (1 - 1e-9) or levels.max() > highest * (1 + 1e-9):
            raise ValueError(
                f"sigma must be noise levels of this process, in [{lowest:.4g}, {highest:.4g}]; "
                f"got levels in [{levels.min().item():.4g}, {levels.max().item():.4g}]."
            )
        target = levels**2
        for _ in range(55):  # halves the bracket to 2^-55, float64's resolution near t = 1
            middle = 0.5 * (low + high)
            above = self._ratio2(middle) >= target
            low, high = torch.where(above, low, middle), torch.where(above, middle, high)
        return 0.5 * (low + high)

    def score_from_noise(self, model: TimeConditionalScore) -> TimeConditionalScore:
        r"""The score of a noise-prediction model $z_\theta(x, t)$: $s(x, t) = -z_\theta(x, t)/\sigma(t)$.

        DDPM's network predicts the noise $z$ of $x_t = \sqrt{\bar\alpha}\,x_0 + \sigma z$;
        by Tweedie's formula the score is minus that prediction over $\sigma(t)$ (Chapter 3).
        """
        require_callable(model, "model", ("x", "t"))

        def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return -model(x, t) / self.sigma(t).to(x).reshape(-1, 1)

        return score

    def denoised(self, x: torch.Tensor, t: Times, score: torch.Tensor) -> torch.Tensor:
        r"""Tweedie's formula: $\mathbb{E}[x_0 \mid x_t] = \big(x_t + \sigma(t)^2\, s(x_t, t)\big)/\sqrt{\bar\alpha(t)}$.

        ``score`` holds the values $s(x_t, t)$, shape ``(N, d)``.
        """
        times = require_times(t).to(x.device)
        mean = torch.exp(self._log_mean(times)).to(x.dtype).reshape(-1, 1)
        variance = self._sigma(times).to(x.dtype).reshape(-1, 1) ** 2
        return (x + variance * score) / mean

    def simulate(
        self,
        x0: torch.Tensor,
        n_steps: int,
        generator: torch.Generator | None = None,
        method: str = "exact",
        record_every: int | None = None,
    ) -> SamplingResult:
        r"""Run the forward process from the data ``x0`` at $t = 0$ to $t = 1$ in ``n_steps`` steps.

        ``method="exact"`` composes the exact `transition` steps (on DDPM's grid: its
        discrete chain); ``"euler_maruyama"`` takes
        $x \leftarrow x + f(x, t)\,\Delta t + g(t)\sqrt{\Delta t}\, z$ with the step
        $\Delta t > 0$, whose marginals are right only as $\Delta t \to 0$. The chains start
        from $x_0 + \sigma(0)\,z$ (for VE, the data blurred by $\sigma_{\min}$). The
        result's ``times`` are those of the records.
        """
        if method not in ("exact", "euler_maruyama"):
            raise ValueError(f"method must be 'exact' or 'euler_maruyama'; got {method!r}.")
        times = self.time_grid(n_steps, 0.0).flip(0).tolist()
        x = self.sample_marginal(start_chains(x0, generator, "x0"), 0.0, generator)[0]
        recorder = Recorder(x, record_every)
        for step, (t_from, t_to) in enumerate(zip(times[:-1], times[1:]), start=1):
            if method == "exact":
                ratio, variance = self._transition(t_from, t_to)
                x = ratio * x + math.sqrt(variance) * noise_like(x, generator)
            else:
                at, dt = self._at(t_from), t_to - t_from
                x = x + at.rate * x * dt + math.sqrt(at.g2 * dt) * noise_like(x, generator)
            recorder.step(step, x)
        recorded = (
            torch.tensor(times[::record_every], dtype=torch.float64) if record_every else None
        )
        return SamplingResult(x, recorder.trajectory(), times=recorded)
