r"""Training an energy by maximum likelihood with samples of the model.

The gradient of the negative log-likelihood of $p_\theta = e^{-E_\theta}/Z_\theta$ is

$$
\mathbb{E}_{x \sim p}\big[\nabla_\theta E_\theta(x)\big] - \mathbb{E}_{y \sim p_\theta}\big[\nabla_\theta E_\theta(y)\big],
$$

and its second term needs samples of the model at every training step. This module makes
them cheaply, with a few Langevin steps (`short_run_langevin`), and turns them into a
training step for `ebm_book.training.train` (`ContrastiveDivergence`, with the loss
`ebm_book.losses.contrastive_divergence`). Where the chains start is what tells the
methods apart:

| method | the chains start at | here |
|---|---|---|
| CD-$B$ (Hinton, 2002) | the data batch | ``buffer=None`` |
| persistent CD (Tieleman, 2008) | where the previous step left them | ``ReplayBuffer(box, capacity=batch_size, reinit_prob=0)`` |
| replay buffer (Du & Mordatch, 2019) | a random subset of many stored chains, 5% restarted from noise | ``ReplayBuffer(box, capacity=10_000, reinit_prob=0.05)`` |
| short-run from noise (Nijkamp et al., 2019) | fresh uniform noise | ``ReplayBuffer(box, capacity=batch_size, reinit_prob=1)`` |

Sizes that run in seconds on a CPU: 2-D data, an `nets.EnergyMLP` of width 64, batches of
128, 10 Langevin steps per training step: 300 training steps take about 2 s on one core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ._chains import DivergenceCheck, Recorder, noise_like, start_chains
from ._types import EnergyFn
from ._validation import (
    require_bounds,
    require_callable,
    require_generator,
    require_int,
    require_non_negative,
    require_points,
    require_positive,
)
from .losses import contrastive_divergence
from .sampling import SamplingResult
from .score import _energy_and_score

__all__ = ["ContrastiveDivergence", "ReplayBuffer", "short_run_langevin"]


def short_run_langevin(
    energy: EnergyFn,
    x0: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    max_grad_norm: float | None = None,
    record_every: int | None = None,
) -> SamplingResult:
    r"""$B$ Langevin steps on an energy, $x \leftarrow x - \frac{\epsilon}{2}\nabla_x E(x) + \sqrt{\epsilon T}\, z$.

    The sampler of contrastive divergence (Du & Mordatch 2019, Algorithm 1; Nijkamp et al.
    2019, Algorithm 1): a few steps, not a converged chain. With $T = 1$ it is `langevin`
    on the score $-\nabla_x E$. A noise smaller than $\sqrt{\epsilon}$, as much EBM code
    uses, is Langevin dynamics on the colder density $p_T \propto e^{-E/T}$ with step
    $\epsilon T$: here that is ``temperature`` $T < 1$. Code that writes the update as
    ``x - step * grad + noise * z``, with ``step`` and ``noise`` chosen separately (as
    Du & Mordatch do in practice), runs this sampler with $\epsilon = 2\,$``step`` and
    $T =$ ``noise``$^2 / (2\,$``step``$)$.

    The gradient in $x$ is taken by autograd, one step at a time, and nothing else is kept:
    no graph runs across steps, no gradient reaches the energy's parameters, and the samples
    come back detached, ready to be the fixed $y_j$ of the loss. With ``max_grad_norm``, each
    chain's $\nabla_x E$ is scaled down to at most that norm, which keeps the chains finite
    while a young energy still has steep walls.

    Parameters
    ----------
    energy
        $E$: maps ``(N, d)`` to ``(N,)``, e.g. a `nets.EnergyMLP`.
    x0
        Starting points, one chain per row, shape ``(N, d)``.
    step_size
        $\epsilon > 0$.
    n_steps
        $B$, the number of steps.
    generator
        Source of the noise $z$, on ``x0``'s device.
    temperature
        $T > 0$: the noise is $\sqrt{\epsilon T}\,z$.
    max_grad_norm
        If given, clip each chain's energy gradient to this norm.
    record_every
        If given, also return the states every ``record_every`` steps.

    Returns
    -------
    SamplingResult
        ``samples`` (and ``trajectory`` if recorded), as `sampling.langevin` returns.

    Examples
    --------
    On $E(x) = \tfrac12\lVert x\rVert^2$ at $T = 0.25$ the chains settle at the variance
    $T/(1 - \epsilon/4)$ (the step's bias, as for `langevin`):

    >>> g = torch.Generator().manual_seed(0)
    >>> energy = lambda x: 0.5 * (x**2).sum(1)
    >>> x = short_run_langevin(energy, torch.zeros(20_000, 1), 0.2, 200, g, temperature=0.25).samples
    >>> round(x.var().item(), 2), round(0.25 / (1 - 0.2 / 4), 2)
    (0.26, 0.26)

    Cost: $B$ forward and backward passes of the energy on the batch; for an `EnergyMLP` of
    width 128 and 256 chains, about a millisecond each on a CPU.
    """
    require_callable(energy, "energy")
    x = start_chains(x0, generator)
    step_size = require_positive(step_size, "step_size")
    require_int(n_steps, "n_steps")
    temperature = require_positive(temperature, "temperature")
    if max_grad_norm is not None:
        max_grad_norm = require_positive(max_grad_norm, "max_grad_norm")
    recorder, check_finite = Recorder(x, record_every), DivergenceCheck(x)
    noise_scale = math.sqrt(step_size * temperature)
    for step in range(1, n_steps + 1):
        score = _energy_and_score(energy, x, check=step == 1)[1]  # -grad E, checked once
        if max_grad_norm is not None:
            norm = score.norm(dim=1, keepdim=True)
            score = score * (max_grad_norm / norm).clamp(max=1.0)
        x_next = x + 0.5 * step_size * score + noise_scale * noise_like(x, generator)
        check_finite(step, x_next, x, score, step_size)
        x = x_next
        recorder.step(step, x)
    return SamplingResult(x.detach(), recorder.trajectory())


class ReplayBuffer:
    r"""Chains that persist across training steps, some restarted from noise.

    The buffer stores ``capacity`` states. `sample` takes $n$ of them at random (without
    repetition), replaces each by a fresh uniform point of the box with probability
    ``reinit_prob``, and returns them as start points; after the Langevin steps, `update`
    writes the chains' new states back. With ``capacity`` equal to the batch size and
    ``reinit_prob=0`` every chain is used at every step: persistent contrastive divergence
    (Tieleman, 2008). With a large buffer and ``reinit_prob=0.05`` it is the replay buffer
    of Du & Mordatch (2019), whose restarts keep exploring while the stored chains keep
    converging. With ``reinit_prob=1`` every chain starts from noise (Nijkamp et al. 2019).

    Parameters
    ----------
    bounds
        The box of the uniform noise, one ``(low, high)`` pair per dimension; it sets $d$.
    capacity
        The number of stored chains (the length of ``initial``, when that is given).
    reinit_prob
        The probability that a chain drawn by `sample` restarts from noise, in $[0, 1]$.
    initial
        Initial states ``(capacity, d)`` (e.g. exact samples, to start at stationarity);
        by default uniform noise. Its device is the buffer's.
    generator
        Source of the initial noise.

    Attributes
    ----------
    states
        The stored chains, shape ``(capacity, d)``: plot them to see what the model samples.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> buffer = ReplayBuffer([(-4, 4)] * 2, capacity=1000, generator=g)
    >>> x0, index = buffer.sample(256, generator=g)
    >>> x0.shape, len(buffer)
    (torch.Size([256, 2]), 1000)
    >>> buffer.update(index, torch.zeros(256, 2))  # the chains' states after their steps
    >>> int((buffer.states == 0).all(dim=1).sum())
    256
    """

    def __init__(
        self,
        bounds: Sequence[tuple[float, float]],
        capacity: int = 10_000,
        reinit_prob: float = 0.05,
        initial: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.bounds = require_bounds(bounds)
        self.reinit_prob = require_non_negative(reinit_prob, "reinit_prob")
        if self.reinit_prob > 1:
            raise ValueError(f"reinit_prob must be a probability in [0, 1]; got {reinit_prob!r}.")
        require_int(capacity, "capacity")
        if initial is None:
            self.states = self._noise(capacity, require_generator(generator, "cpu"))
        else:
            self.states = require_points(initial, dim=len(self.bounds), name="initial").clone()

    def __len__(self) -> int:
        return self.states.shape[0]

    def _noise(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` uniform points of the box, on the CPU (moved by the caller)."""
        low, high = (torch.tensor(side) for side in zip(*self.bounds))
        return low + (high - low) * torch.rand(n, len(self.bounds), generator=generator)

    def sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` start points (stored chains, some restarted from noise) and their slots."""
        require_int(n, "n")
        require_generator(generator, "cpu")
        if n > len(self):
            raise ValueError(
                f"n must be at most the buffer's capacity, {len(self)}; got {n}. Each chain "
                "is used at most once per step: make the buffer at least as large as the batch."
            )
        device = self.states.device
        index = torch.randperm(len(self), generator=generator)[:n].to(device)
        restart = (torch.rand(n, generator=generator) < self.reinit_prob).to(device)
        noise = self._noise(n, generator).to(self.states)
        return torch.where(restart[:, None], noise, self.states[index]), index

    def update(self, index: torch.Tensor, x: torch.Tensor) -> None:
        """Store the chains' new states ``x`` in the slots ``index`` that `sample` returned."""
        require_points(x, dim=self.states.shape[1])
        if not isinstance(index, torch.Tensor) or index.shape != (x.shape[0],):
            raise ValueError(
                f"index must be the tensor of {x.shape[0]} slots that sample returned, one per "
                f"row of x; got {index!r}."
            )
        self.states[index] = x.detach().to(self.states)


@dataclass
class ContrastiveDivergence:
    r"""One training step of contrastive divergence, as a loss for `ebm_book.training.train`.

    Called as ``loss_fn(model, batch, generator)``, it starts chains (at the batch, or from
    the ``buffer``), runs $B$ steps of `short_run_langevin` on the model's energy, stores the
    chains back in the buffer, and returns `ebm_book.losses.contrastive_divergence` of the
    batch against the chains' samples $y_j$, whose gradient estimates the maximum-likelihood
    gradient. Once the chains start at the model's stationary distribution (persistent
    chains that have converged) the estimate is unbiased; started at the data (CD-$B$), it is
    biased towards the data (Hinton, 2002; Carreira-Perpiñán & Hinton, 2005).

    Parameters
    ----------
    step_size
        $\epsilon$ of the Langevin steps.
    n_steps
        $B$, Langevin steps per training step.
    buffer
        Where chains start: ``None`` for the data batch (CD-$B$), or a `ReplayBuffer`.
    temperature, max_grad_norm
        As in `short_run_langevin`.
    regularization
        $\lambda_E$, the weight of the energy-magnitude penalty of the loss.

    Attributes
    ----------
    samples
        The last step's samples $y_j$ (detached).
    history
        Per step, the mean energy of the batch and of the samples: their gap shrinks as the
        model fits, and both running off to large values is the collapse that
        ``regularization`` prevents.

    Examples
    --------
    >>> from ebm_book.nets import EnergyMLP
    >>> from ebm_book.training import train
    >>> torch.manual_seed(0)  # initial weights
    <torch._C.Generator object at ...>
    >>> data = torch.randn(512, 2, generator=torch.Generator().manual_seed(0))
    >>> step = ContrastiveDivergence(step_size=0.05, n_steps=10, buffer=ReplayBuffer([(-3, 3)] * 2, 512))
    >>> history = train(EnergyMLP(2, hidden=32), step, data, n_steps=20, batch_size=128, progress=False)
    >>> step.samples.shape, len(step.history)
    (torch.Size([128, 2]), 20)
    """

    step_size: float
    n_steps: int = 20
    buffer: ReplayBuffer | None = None
    temperature: float = 1.0
    max_grad_norm: float | None = None
    regularization: float = 0.0
    samples: torch.Tensor | None = field(default=None, repr=False)
    history: list[tuple[float, float]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.step_size = require_positive(self.step_size, "step_size")
        require_int(self.n_steps, "n_steps")
        self.temperature = require_positive(self.temperature, "temperature")
        if self.max_grad_norm is not None:
            self.max_grad_norm = require_positive(self.max_grad_norm, "max_grad_norm")
        self.regularization = require_non_negative(self.regularization, "regularization")
        if self.buffer is not None and not isinstance(self.buffer, ReplayBuffer):
            raise TypeError(
                f"buffer must be a ReplayBuffer or None; got {type(self.buffer).__name__}."
            )

    def __call__(
        self, model: EnergyFn, batch: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if self.buffer is None:
            x0, index = batch, None
        else:
            x0, index = self.buffer.sample(batch.shape[0], generator)
            x0 = x0.to(batch)
        if (
            generator is not None and generator.device != batch.device
        ):  # noise on the batch's device
            seed = int(torch.randint(2**62, (1,), generator=generator))
            generator = torch.Generator(batch.device).manual_seed(seed)
        chains = short_run_langevin(
            model, x0, self.step_size, self.n_steps, generator, self.temperature, self.max_grad_norm
        )
        self.samples = chains.samples
        if self.buffer is not None and index is not None:
            self.buffer.update(index, self.samples)
        loss = contrastive_divergence(model, batch, self.samples, self.regularization)
        with torch.no_grad():
            self.history.append((model(batch).mean().item(), model(self.samples).mean().item()))
        return loss
