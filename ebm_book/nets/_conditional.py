r"""Networks of points and a noise level $\sigma$ or a diffusion time $t$ (Chapters 4 and 6)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .._validation import (
    require_int,
    require_labels,
    require_noise_levels,
    require_points,
    require_times,
)
from ._mlp import _run, mlp

__all__ = ["NoiseConditionalScoreMLP", "TimeConditionalMLP"]

N_FOURIER_FEATURES = 9  # u, and cos(j pi u), sin(j pi u) for j = 1 .. 4


def _fourier_features(u: torch.Tensor) -> torch.Tensor:
    r"""A scalar per point, ``(N,)``, as $u$, $\cos(j\pi u)$, $\sin(j\pi u)$ for $j = 1, \dots, 4$: ``(N, 9)``."""
    angles = math.pi * u[:, None] * torch.arange(1, 5, dtype=u.dtype, device=u.device)
    return torch.cat([u[:, None], torch.cos(angles), torch.sin(angles)], dim=1)


def _times_per_point(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Diffusion times in [0, 1], one or one per point, as ``(N,)`` in the points' dtype and device."""
    times = require_times(t).to(device=x.device, dtype=x.dtype)
    if times.ndim == 0:
        times = times.expand(x.shape[0])
    if times.shape != (x.shape[0],):
        raise ValueError(
            f"t must be one time or one per point, shape ({x.shape[0]},); "
            f"got shape {tuple(times.shape)}."
        )
    return times


class _LabelledNetwork(nn.Module):
    """A network ``model(x, t, labels)`` of ``n_classes`` classes, or of none (``n_classes = 0``)."""

    n_classes: int

    def _label_features(self, labels: torch.Tensor | None, x: torch.Tensor) -> list[torch.Tensor]:
        """Labels as one-hot features, with "no label" (-1) as its own entry; none without classes."""
        if not self.n_classes:
            if labels is not None:
                raise ValueError(f"labels were given to a {type(self).__name__} with n_classes=0.")
            return []
        n = x.shape[0]
        if labels is None:
            labels = torch.full((n,), -1, device=x.device)
        require_labels(labels, self.n_classes, n, allow_missing=True)
        one_hot = nn.functional.one_hot(labels.to(x.device) + 1, self.n_classes + 1)
        return [one_hot.to(x.dtype)]

    def with_label(self, label: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """``model(x, t, label)`` for one class and every point, called as ``(x, t)``."""
        require_int(label, "label", minimum=-1)

        def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self(x, t, torch.full((x.shape[0],), label, device=x.device))

        return conditional


class NoiseConditionalScoreMLP(nn.Module):
    r"""A noise-conditional score model $s_\theta(x, \sigma) \approx \nabla_x \log p_\sigma(x)$.

    The network sees $x$ together with $\log \sigma$, and its output is divided by
    $\sigma$ (NCSNv2's technique 3): the true score of $p_\sigma$ scales like $1/\sigma$,
    so the network only has to produce outputs of order one at every noise level.

    Examples
    --------
    >>> model = NoiseConditionalScoreMLP(dim=2, hidden=32)
    >>> model(torch.zeros(10, 2), 0.5).shape  # one sigma for the batch
    torch.Size([10, 2])
    >>> model(torch.zeros(10, 2), torch.full((10,), 0.5)).shape  # or one per point
    torch.Size([10, 2])
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.dim = require_int(dim, "dim")
        self.net = mlp(dim + 1, dim, hidden, depth)

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        require_points(x, self.dim)
        sigma = require_noise_levels(sigma, x)
        features = torch.cat([x, torch.log(sigma)[:, None]], dim=1)
        return _run(self.net, features) / sigma[:, None]


class TimeConditionalMLP(_LabelledNetwork):
    r"""A network of points and diffusion times, $z_\theta(x, t)$, and optionally of a class $k$.

    The time enters through $t$ and four pairs of Fourier features $\cos(j\pi t)$,
    $\sin(j\pi t)$, $j = 1, \dots, 4$. Trained with `ddpm.noise_prediction_loss` it
    predicts the noise $z$ in $x_t$ (DDPM's parametrisation, outputs of order one at every
    time), and `NoiseProcess.score_from_noise` makes it a score. With ``n_classes`` $> 0$
    it also takes labels, ``model(x, t, labels)``, integers in ``0 .. n_classes - 1`` or
    ``-1`` for "no label" (also what ``labels=None`` means): one network for the
    conditional and the unconditional model of classifier-free guidance.

    Examples
    --------
    >>> model = TimeConditionalMLP(dim=2, hidden=32, n_classes=3)
    >>> x, t = torch.zeros(10, 2), torch.full((10,), 0.5)
    >>> model(x, t).shape, model(x, 0.5, torch.full((10,), 2)).shape
    (torch.Size([10, 2]), torch.Size([10, 2]))
    >>> torch.equal(model.with_label(2)(x, t), model(x, t, torch.full((10,), 2)))
    True
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, n_classes: int = 0) -> None:
        super().__init__()
        self.dim = require_int(dim, "dim")
        self.n_classes = require_int(n_classes, "n_classes", minimum=0)
        label_features = n_classes + 1 if n_classes else 0
        self.net = mlp(dim + N_FOURIER_FEATURES + label_features, dim, hidden, depth)

    def forward(
        self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        require_points(x, self.dim)
        times = _times_per_point(t, x)
        features = [x, _fourier_features(times), *self._label_features(labels, x)]
        return _run(self.net, torch.cat(features, dim=1))
