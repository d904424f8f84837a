r"""The callable types the whole package is written against.

* `EnergyFn`: an energy $E$, mapping a batch ``(N, d)`` to ``(N,)``;
* `ScoreFn`: a score $s(x) = \nabla_x \log p(x)$, or any vector field, ``(N, d)`` to ``(N, d)``;
* `NoiseConditionalScore`: a noise-conditional score $s(x, \sigma)$, mapping points
  ``(N, d)`` and noise levels ``(N,)`` to ``(N, d)``;
* `TimeConditionalScore`: the score $s(x, t)$ of a diffusion process at time $t$, mapping
  points ``(N, d)`` and times ``(N,)`` to ``(N, d)``;
* `LossFn`: a training loss ``loss_fn(model, batch, generator)`` returning a scalar;
* `Proposal`: a normalized density $q$ to draw from, with ``sample`` and ``log_prob``
  (the proposal of importance sampling, the noise of noise-contrastive estimation).

Plain functions, ``torch.nn.Module`` instances and the book's energy classes all fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

__all__ = [
    "EnergyFn",
    "LossFn",
    "NoiseConditionalScore",
    "Proposal",
    "ScoreFn",
    "TimeConditionalScore",
]

EnergyFn = Callable[[torch.Tensor], torch.Tensor]
ScoreFn = Callable[[torch.Tensor], torch.Tensor]
NoiseConditionalScore = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TimeConditionalScore = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor]


class Proposal(Protocol):
    """A normalized density $q$ to draw from (e.g. `ebm_book.energies.Gaussian`)."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def log_prob(self, x: torch.Tensor) -> torch.Tensor: ...
