r"""Small neural networks for 2-D experiments: score models and energy models.

* `ScoreMLP`: $s_\theta: \mathbb{R}^d \to \mathbb{R}^d$, a direct model of the score.
* `EnergyMLP`: $E_\theta: \mathbb{R}^d \to \mathbb{R}$, whose score
  $-\nabla_x E_\theta$ is a true gradient field, computed by autograd.
* `SelfNormalizingEnergy`: an energy with a learned constant $c$, so that
  $-E_\theta - c$ is a log-density (fitted by noise-contrastive estimation).
* `NoiseConditionalScoreMLP`: $s_\theta(x, \sigma)$, for multi-scale models (Chapter 4).
* `TimeConditionalMLP`: $z_\theta(x, t)$, optionally with a class label, for diffusion
  models (Chapter 6).

Both are multilayer perceptrons with SiLU activations (smooth, so that the second
derivatives used by score matching exist everywhere).

Input of another floating dtype than the network's (float64 data, say) is cast to the
network's dtype, and the output is returned in the input's dtype, as the energies of
`ebm_book.energies` do: ``model(x) - mixture.score(x)`` works for any ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._validation import (
    require_int,
    require_noise_levels,
    require_points,
    require_real,
    require_times,
)
from .score import score_from_energy

__all__ = [
    "EnergyMLP",
    "NoiseConditionalScoreMLP",
    "ScoreMLP",
    "SelfNormalizingEnergy",
    "TimeConditionalMLP",
    "mlp",
]


def mlp(
    in_dim: int, out_dim: int, hidden: int = 128, depth: int = 3, spectral_norm: bool = False
) -> nn.Sequential:
    """A plain MLP: ``depth`` hidden layers of width ``hidden`` with SiLU activations.

    With ``spectral_norm`` every linear layer's weight is divided by its largest singular
    value (Miyato et al. 2018, ``torch.nn.utils.parametrizations.spectral_norm``, one
    power iteration per call in training mode), which bounds the network's Lipschitz
    constant by that of SiLU to the power ``depth``, about $1.1^{\text{depth}}$.

    Examples
    --------
    >>> net = mlp(2, 1, hidden=16, depth=2)
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    for value, name in [
        (in_dim, "in_dim"),
        (out_dim, "out_dim"),
        (hidden, "hidden"),
        (depth, "depth"),
    ]:
        require_int(value, name)

    def linear(width_in: int, width_out: int) -> nn.Module:
        layer = nn.Linear(width_in, width_out)
        return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [linear(width, hidden), nn.SiLU()]
        width = hidden
    layers.append(linear(width, out_dim))
    return nn.Sequential(*layers)


def _run(net: nn.Sequential, features: torch.Tensor) -> torch.Tensor:
    """``net(features)`` in the network's dtype, returned in the dtype of ``features``."""
    dtype = next(net.parameters()).dtype  # not net[0].weight: spectral norm computes it
    if features.dtype == dtype:  # the usual case: no copies
        return net(features)
    return net(features.to(dtype)).to(features.dtype)


class ScoreMLP(nn.Module):
    r"""A score model $s_\theta(x)$: an MLP from $\mathbb{R}^d$ to $\mathbb{R}^d$.

    Examples
    --------
    >>> model = ScoreMLP(dim=2, hidden=32)
    >>> model(torch.zeros(10, 2)).shape
    torch.Size([10, 2])
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.dim = require_int(dim, "dim")
        self.net = mlp(dim, dim, hidden, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.net, require_points(x, self.dim))


class EnergyMLP(nn.Module):
    r"""An energy model $E_\theta(x)$: an MLP from $\mathbb{R}^d$ to $\mathbb{R}$.

    ``model(x)`` returns energies ``(N,)``; ``model.score(x)`` returns
    $-\nabla_x E_\theta(x)$, with the graph kept so that losses built on the score can
    be trained. With ``spectral_norm=True`` (see `mlp`) the energy's gradient is bounded,
    $\lVert\nabla_x E_\theta\rVert \le 1.1^{\text{depth}}$: a stabiliser of training by
    contrastive divergence, whose energies otherwise grow steep walls.

    Examples
    --------
    >>> model = EnergyMLP(dim=2, hidden=32)
    >>> model(torch.zeros(10, 2)).shape, model.score(torch.zeros(10, 2)).shape
    (torch.Size([10]), torch.Size([10, 2]))
    """

    def __init__(
        self, dim: int = 2, hidden: int = 128, depth: int = 3, spectral_norm: bool = False
    ) -> None:
        super().__init__()
        self.dim = require_int(dim, "dim")
        self.net = mlp(dim, 1, hidden, depth, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.net, require_points(x, self.dim)).squeeze(1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return score_from_energy(self, x, create_graph=True)


class SelfNormalizingEnergy(nn.Module):
    r"""An energy $E_\theta$ and a learned constant $c$: the model $\log p_\theta(x) = -E_\theta(x) - c$.

    Maximum likelihood cannot learn $c$ (the likelihood is normalized by $Z_\theta$
    whatever $c$ is), but noise-contrastive estimation treats $c$ as one more parameter
    and drives it to $\log Z_\theta$ (Gutmann & Hyvärinen, 2010): see
    `ebm_book.losses.noise_contrastive_estimation`. ``model(x)`` is the energy,
    ``model.log_prob(x)`` the log-density, ``model.log_normalizer`` is $c$.

    Parameters
    ----------
    energy
        $E_\theta$, a module mapping ``(N, d)`` to ``(N,)``, such as `EnergyMLP`.
    log_normalizer
        The initial $c$.

    Examples
    --------
    >>> model = SelfNormalizingEnergy(EnergyMLP(dim=2, hidden=16), log_normalizer=1.5)
    >>> x = torch.zeros(3, 2)
    >>> torch.equal(model.log_prob(x), -model(x) - 1.5)
    True
    """

    def __init__(self, energy: nn.Module, log_normalizer: float = 0.0) -> None:
        super().__init__()
        if not isinstance(energy, nn.Module):
            raise TypeError(
                f"energy must be a torch.nn.Module (such as EnergyMLP); got {type(energy).__name__}."
            )
        self.energy = energy
        value = torch.tensor(require_real(log_normalizer, "log_normalizer"))
        self.log_normalizer = nn.Parameter(value)
        self.dim = getattr(energy, "dim", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\log p_\theta(x) = -E_\theta(x) - c$, shape ``(N,)``."""
        return -self.energy(x) - self.log_normalizer.to(x.dtype)


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


class TimeConditionalMLP(nn.Module):
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
        self.net = mlp(dim + 9 + label_features, dim, hidden, depth)

    def forward(
        self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        require_points(x, self.dim)
        times = require_times(t).to(device=x.device, dtype=x.dtype)
        if times.ndim == 0:
            times = times.expand(x.shape[0])
        if times.shape != (x.shape[0],):
            raise ValueError(
                f"t must be one time or one per point, shape ({x.shape[0]},); "
                f"got shape {tuple(times.shape)}."
            )
        angles = math.pi * times[:, None] * torch.arange(1, 5, dtype=x.dtype, device=x.device)
        features = [x, times[:, None], torch.cos(angles), torch.sin(angles)]
        if self.n_classes:
            features.append(self._one_hot(labels, x))
        elif labels is not None:
            raise ValueError("labels were given to a TimeConditionalMLP with n_classes=0.")
        return _run(self.net, torch.cat(features, dim=1))

    def _one_hot(self, labels: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """Labels as one-hot features, with "no label" (-1) as its own entry."""
        n = x.shape[0]
        if labels is None:
            labels = torch.full((n,), -1, device=x.device)
        if not isinstance(labels, torch.Tensor) or torch.is_floating_point(labels):
            raise TypeError(f"labels must be an integer tensor of shape ({n},); got {labels!r}.")
        if labels.shape != (n,) or labels.min() < -1 or labels.max() >= self.n_classes:
            raise ValueError(
                f"labels must be integers in [-1, {self.n_classes}) (-1: no label), shape "
                f"({n},); got shape {tuple(labels.shape)}, values in "
                f"[{labels.min().item()}, {labels.max().item()}]."
            )
        return nn.functional.one_hot(labels.to(x.device) + 1, self.n_classes + 1).to(x.dtype)

    def with_label(self, label: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """``model(x, t, label)`` for one class and every point, called as ``(x, t)``."""
        require_int(label, "label", minimum=-1)

        def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self(x, t, torch.full((x.shape[0],), label, device=x.device))

        return conditional
