r"""Multilayer perceptrons of points: a score $s_\theta(x)$, an energy $E_\theta(x)$, and an
energy with a learned log-normalizer."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import require_int, require_points, require_real
from ..score import score_from_energy

__all__ = ["EnergyMLP", "ScoreMLP", "SelfNormalizingEnergy", "mlp"]


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
