r"""The score function $s(x) = \nabla_x \log p(x)$, computed from an energy by autograd.

For a Boltzmann density $p_T(x) = e^{-E(x)/T} / Z_T$ the partition function $Z_T$ does
not depend on $x$, so it drops out of the gradient:

$$
s(x) = \nabla_x \log p_T(x) = -\frac{\nabla_x E(x)}{T}.
$$

This is why score-based methods never need $Z$.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._validation import check_energy_values, check_points, check_positive

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def score_from_energy(
    energy: EnergyFn,
    x: torch.Tensor,
    temperature: float = 1.0,
    create_graph: bool = False,
) -> torch.Tensor:
    r"""Score $s(x) = -\nabla_x E(x) / T$ of the Boltzmann density of ``energy``, by autograd.

    The energy of a batch is a sum of independent per-point terms, so one backward pass
    of $\sum_n E(x_n)$ gives every per-point gradient at once.

    Parameters
    ----------
    energy
        Any callable (function, :class:`~ebm_book.energies.Energy`, ``torch.nn.Module``)
        mapping a batch ``(N, d)`` to energies ``(N,)``.
    x
        Points, shape ``(N, d)``.
    temperature
        $T > 0$.
    create_graph
        Keep the graph so that the score itself can be differentiated (needed to train
        through it, e.g. in score matching).

    Returns
    -------
    torch.Tensor
        The score, shape ``(N, d)``.

    Examples
    --------
    For $E(x) = \tfrac12 \lVert x \rVert^2$ (a standard Gaussian) the score is $-x$:

    >>> x = torch.tensor([[1.0, -2.0]])
    >>> score_from_energy(lambda x: 0.5 * (x**2).sum(dim=1), x)
    tensor([[-1.,  2.]])
    """
    check_points(x)
    temperature = check_positive(temperature, "temperature")
    with torch.enable_grad():
        x_ = x.detach().requires_grad_(True)
        values = check_energy_values(energy(x_), x.shape[0])
        (grad,) = torch.autograd.grad(values.sum(), x_, create_graph=create_graph)
    return -grad / temperature
