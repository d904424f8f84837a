"""The bookkeeping every sampler shares: start checks, recording, noise, divergence checks.

The samplers in `ebm_book.sampling` and `ebm_book.diffusion` hold the algorithms; this
module holds what is the same for all of them, so that each sampler's loop shows only
its update rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ._validation import (
    all_finite,
    require_callable,
    require_first_call,
    require_generator,
    require_int,
    require_points,
    require_vector_field,
)

if TYPE_CHECKING:
    from ._process import NoiseProcess


@dataclass
class SamplingResult:
    """What a sampler returns.

    Attributes
    ----------
    samples
        Final states of the chains, shape ``(N, d)``.
    trajectory
        States every ``record_every`` steps, shape ``(n_records, N, d)``, starting with
        ``x0``; ``None`` unless recording was asked for.
    acceptance_rate
        Fraction of accepted proposals over all chains and steps (MALA only; ``None``
        for unadjusted Langevin, which accepts everything).
    times
        The diffusion time of each recorded state, shape ``(n_records,)`` (diffusion
        samplers and processes only).
    score_evaluations
        How many times the score was evaluated on the batch (diffusion samplers only).
    """

    samples: torch.Tensor
    trajectory: torch.Tensor | None = None
    acceptance_rate: float | None = None
    times: torch.Tensor | None = None
    score_evaluations: int | None = None


class DivergenceError(RuntimeError):
    """A chain produced non-finite values; the message says whether the score or the step is to blame."""


class Recorder:
    """Keeps a sampler's states every ``record_every`` steps (nothing when it is ``None``)."""

    def __init__(self, x0: torch.Tensor, record_every: int | None) -> None:
        if record_every is not None:
            require_int(record_every, "record_every")
        self.every = record_every
        self.states = [x0.clone()] if record_every else []

    def step(self, step: int, x: torch.Tensor) -> None:
        if self.every and step % self.every == 0:
            self.states.append(x.clone())

    def trajectory(self) -> torch.Tensor | None:
        """The recorded states, shape ``(n_records, N, d)``, or ``None``."""
        return torch.stack(self.states).detach() if self.every else None


def noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, on ``x``'s device, from ``generator``."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def start_chains(
    x0: torch.Tensor, generator: torch.Generator | None, name: str = "x0"
) -> torch.Tensor:
    """Check the start points (named ``name``) and the generator; return a copy for the chains."""
    require_points(x0, name=name)
    require_generator(generator, x0.device)
    return x0.detach().clone()


def checked_score(score: Callable, args: tuple[str, ...]) -> Callable:
    """``score``, checked to take ``args``; its first output is checked to be finite, shaped like x."""
    require_callable(score, "score", args)
    return require_first_call(score, lambda values, x, *_: require_vector_field(values, x, "score"))


def langevin_proposal(
    x: torch.Tensor, score_x: torch.Tensor, step_size: float, generator: torch.Generator | None
) -> torch.Tensor:
    r"""The Langevin move $y = x + \frac{\epsilon}{2}s(x) + \sqrt{\epsilon}\,z$ (MALA's proposal)."""
    drift_x = x + 0.5 * step_size * score_x
    return drift_x + math.sqrt(step_size) * noise_like(x, generator)


def metropolis_accept(
    x: torch.Tensor,
    y: torch.Tensor,
    energies: tuple[torch.Tensor, torch.Tensor],
    scores: tuple[torch.Tensor, torch.Tensor],
    step_size: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    r"""MALA's test: accept $x \to y$ with probability $a(x, y)$; one boolean per chain.

    ``energies`` and ``scores`` are $(E(x), E(y))$ and $(s(x), s(y))$ of the target
    $p \propto e^{-E}$, with $\log a = E(x) - E(y) + \log q(x \mid y) - \log q(y \mid x)$.
    A NaN ratio (a diverged proposal) is rejected.
    """

    def log_proposal(to: torch.Tensor, start: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        mean = start + 0.5 * step_size * score
        return -((to - mean) ** 2).sum(dim=1) / (2 * step_size)

    (energy_x, energy_y), (score_x, score_y) = energies, scores
    log_ratio = (energy_x - energy_y) + log_proposal(x, y, score_y) - log_proposal(y, x, score_x)
    uniform = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device)
    return torch.log(uniform) < log_ratio


def sigma_batch(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """One noise level ``sigma`` for every point of ``x``, shape ``(N,)``, like ``x``."""
    return sigma.to(device=x.device, dtype=x.dtype).expand(x.shape[0])


def time_batch(x: torch.Tensor, t: float) -> torch.Tensor:
    """One time ``t`` for every point of ``x``, shape ``(N,)``, like ``x``."""
    return torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)


SMALLER_STEP = (
    "The step size {step_size:g} is probably too large for this target; try a smaller one "
    "(halve it until the chains stay finite)."
)
LEVEL_STEP = (
    "The step size at this level, {step_size:g} (step_size * sigma_i^2 / sigma_L^2), is "
    "probably too large; try a smaller step_size."
)
FEWER_STEPS = (
    "The time steps are probably too coarse (this step spans a noise variance of "
    "{step_size:g}); use more steps (a larger n_steps)."
)
CORRECTOR_STEP = (
    "The corrector's Langevin step, {step_size:g}, is probably too large; use a smaller snr "
    "(or step_size)."
)
FEWER_LEVELS = (
    "The noise levels are probably too far apart (this step spans a variance of "
    "{step_size:g}); use more, finely spaced levels in sigmas."
)


class DivergenceCheck:
    """Checks the chains after every step; when one leaves the finite numbers, says why.

    Chains that grow step after step until they overflow took steps too large. A score
    that returns NaN or inf while the chains are still near where they started has a bug
    of its own, which no step size fixes.
    """

    def __init__(self, x0: torch.Tensor, advice: str = SMALLER_STEP) -> None:
        self.start_size = x0.abs().max().item()
        self.advice = advice  # what to change if the step is too large; formatted with it

    def __call__(
        self,
        step: int | str,
        x_next: torch.Tensor,
        x: torch.Tensor,
        drift: torch.Tensor,
        size: float,
    ) -> None:
        """Check ``x_next``, computed from the finite ``x`` with ``drift`` (the score's part)."""
        if not all_finite(x_next):
            raise DivergenceError(self._diagnosis(step, x_next, x, drift, size))

    def _diagnosis(
        self,
        step: int | str,
        x_next: torch.Tensor,
        x: torch.Tensor,
        drift: torch.Tensor,
        size: float,
    ) -> str:
        where = f"step {step}" if isinstance(step, int) else step
        diverged = ~torch.isfinite(x_next).all(dim=1)
        chains = f"{int(diverged.sum())} of {x.shape[0]} chains"
        reached = x[diverged].abs().max().item()  # how far out they were before this step
        bad_score = diverged & ~torch.isfinite(drift).all(dim=1)
        if bad_score.any() and reached <= 100 * (1 + self.start_size):
            first = x[bad_score.nonzero()[0, 0]].tolist()
            return (
                f"the score returned NaN or inf at {where} for {chains}, at points no farther "
                f"out than |x| = {reached:.3g} (they started within |x| <= {self.start_size:.3g}; "
                f"one of them is x = {[round(v, 4) for v in first[:6]]}). The step size is not "
                "the cause: check the score function at such points."
            )
        return (
            f"{chains} diverged (non-finite values) at {where}, after growing from "
            f"|x| <= {self.start_size:.3g} at the start to {reached:.3g}. "
            + self.advice.format(step_size=size)
        )


class DiffusionRun:
    """One run of a diffusion sampler over a grid of times from 1 towards 0.

    Holds the checked score (counting its evaluations), the chains, their records (with
    their times) and the divergence checks, so that a sampler's loop shows only its update.
    ``advice`` and ``corrector_advice`` say what to change when a step or a corrector
    step diverges.
    """

    def __init__(
        self,
        score: Callable,
        process: NoiseProcess,
        start: torch.Tensor,
        times: list[float],
        generator: torch.Generator | None = None,
        record_every: int | None = None,
        advice: str = FEWER_STEPS,
        corrector_advice: str = CORRECTOR_STEP,
        start_name: str = "start",
    ) -> None:
        self.score = checked_score(score, ("x", "t"))
        self.x = start_chains(start, generator, start_name)
        self.process, self.times, self.generator = process, times, generator
        self.every, self.recorder = record_every, Recorder(self.x, record_every)
        self.check = DivergenceCheck(self.x, advice)
        self.check_corrector = DivergenceCheck(self.x, corrector_advice)
        self.evaluations, self.updates, self.update_times = 0, 0, [times[0]]

    def steps(self) -> Iterator[tuple[float, float]]:
        """The grid's steps ``(t, t_next)``, with ``t_next < t``."""
        return zip(self.times[:-1], self.times[1:])

    def score_at(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """$s(x, t)$, counted."""
        self.evaluations += 1
        return self.score(x, time_batch(x, t))

    def noise(self) -> torch.Tensor:
        """Fresh standard normal noise shaped like the chains."""
        return noise_like(self.x, self.generator)

    def update(
        self,
        x_next: torch.Tensor,
        t_next: float,
        score: torch.Tensor,
        size: float,
        corrector: bool = False,
    ) -> None:
        """Move the chains to ``x_next`` at ``t_next``, after checking them."""
        self.updates += 1
        check = self.check_corrector if corrector else self.check
        check(self.updates, x_next, self.x, score, size)
        self.x = x_next
        self.update_times.append(t_next)
        self.recorder.step(self.updates, x_next)

    def result(self, denoise: bool) -> SamplingResult:
        """The samples, with Tweedie's final denoising step at the last time if asked for.

        The step is skipped where the process has no noise left (a standard deviation of 0).
        """
        x, t = self.x, self.times[-1]
        variance = self.process._at(t).sigma ** 2
        if denoise and variance > 0:
            score = self.score_at(x, t)
            x = self.process.denoised(x, t, score)
            self.check("the final denoising step", x, self.x, score, variance)
        times = (
            torch.tensor(self.update_times[:: self.every], dtype=torch.float64)
            if self.every
            else None
        )
        return SamplingResult(
            x.detach(), self.recorder.trajectory(), times=times, score_evaluations=self.evaluations
        )
