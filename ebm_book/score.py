r"""The score function $s(x) = \nabla_x \log p(x)$, computed from an energy by autograd.

For a Boltzmann density $p_T(x) = e^{-E(x)/T} / Z_T$ the partition function $Z_T$ does
not depend on $x$, so it drops out of the gradient:

$$
s(x) = \nabla_x \log p_T(x) = -\frac{\nabla_x E(x)}{T}.
$$

This is why score-based methods never need $Z$.
"""

from __future__ import annotations

import torch

from ._types import EnergyFn, ScoreFn
from ._validation import (
    require_callable,
    require_depends_on_input,
    require_energy_values,
    require_generator,
    require_int,
    require_points,
    require_positive,
    require_vector_field,
)


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
        Any callable (function, `Energy`, ``torch.nn.Module``)
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
    require_callable(energy, "energy")
    require_points(x)
    temperature = require_positive(temperature, "temperature")
    return _score_by_autograd(energy, x, create_graph, check=True) / temperature


def _score_by_autograd(
    energy: EnergyFn, x: torch.Tensor, create_graph: bool = False, check: bool = False
) -> torch.Tensor:
    r"""$-\nabla_x E(x)$ without input checks; ``check`` checks the energies (shape, NaN)."""
    return _energy_and_score(energy, x, create_graph, check)[1]


def _energy_and_score(
    energy: EnergyFn, x: torch.Tensor, create_graph: bool = False, check: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$E(x)$ and $-\nabla_x E(x)$ from one forward and one backward pass, as `_score_by_autograd`.

    The energies keep their graph only with ``create_graph``; otherwise they are detached.
    """
    with torch.enable_grad():
        x_ = x.detach().requires_grad_(True)
        values = energy(x_)
        if check:
            require_energy_values(values, x)
        require_depends_on_input(values, "energy")
        (grad,) = torch.autograd.grad(
            values.sum(), x_, create_graph=create_graph, allow_unused=True
        )
    if grad is None:  # the graph of the energies does not reach x
        require_depends_on_input(values.detach(), "energy")
    return (values if create_graph else values.detach()), -grad


def _vector_field(fn: ScoreFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` as an input that autograd tracks, and ``fn(x)``, checked to be a vector field of ``x``.

    Call it with gradients enabled: the traces below differentiate ``fn(x)`` with respect to ``x``.
    """
    require_callable(fn, "fn")
    x_ = x if x.requires_grad else x.detach().requires_grad_(True)
    values = require_vector_field(fn(x_), x, name="fn")
    return x_, require_depends_on_input(values, "fn")


def _exact_trace(values: torch.Tensor, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    r"""$\sum_i \partial f_i / \partial x_i$ for ``values`` $= f(x)$, by one backward pass per coordinate."""
    trace = torch.zeros(x.shape[0], dtype=values.dtype, device=x.device)
    for i in range(x.shape[1]):
        (grad_i,) = torch.autograd.grad(
            values[:, i].sum(), x, create_graph=create_graph, retain_graph=True
        )
        trace = trace + grad_i[:, i]
    return trace


def jacobian_trace(fn: ScoreFn, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    r"""Exact trace of the Jacobian, $\operatorname{tr} \nabla_x f(x) = \sum_i \partial f_i / \partial x_i$.

    For a vector field $f: \mathbb{R}^d \to \mathbb{R}^d$ applied row-wise to a batch. It
    takes $d$ backward passes (one per coordinate), which is what makes exact implicit
    score matching expensive in high dimension.

    Parameters
    ----------
    fn
        Maps ``(N, d)`` to ``(N, d)``, each row depending only on its own input row.
    x
        Points, shape ``(N, d)``.
    create_graph
        Keep the graph, to differentiate the trace (e.g. with respect to parameters).

    Returns
    -------
    torch.Tensor
        The traces, shape ``(N,)``.

    Examples
    --------
    For $f(x) = A x$ the trace is $\operatorname{tr} A$ at every point:

    >>> A = torch.tensor([[2.0, 1.0], [0.0, -3.0]])
    >>> jacobian_trace(lambda x: x @ A.T, torch.randn(4, 2))
    tensor([-1., -1., -1., -1.])
    """
    require_points(x)
    with torch.enable_grad():
        x_, values = _vector_field(fn, x)
        return _exact_trace(values, x_, create_graph)


def hutchinson_trace(
    fn: ScoreFn,
    x: torch.Tensor,
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
) -> torch.Tensor:
    r"""Hutchinson's unbiased estimate of $\operatorname{tr} \nabla_x f(x)$ with random probes.

    For probe vectors $v$ with $\mathbb{E}[v v^\top] = I$ (here Rademacher: entries $\pm 1$),

    $$
    \operatorname{tr} J = \mathbb{E}_v\big[v^\top J v\big],
    $$

    and $v^\top J$ is one vector-Jacobian product, i.e. one backward pass, whatever the
    dimension (Hutchinson, 1989). The estimate averages ``n_probes`` probes per point.

    Examples
    --------
    >>> A = torch.tensor([[2.0, 1.0], [0.0, -3.0]])
    >>> x = torch.zeros(20000, 2)
    >>> estimate = hutchinson_trace(lambda x: x @ A.T, x, generator=torch.Generator().manual_seed(0))
    >>> round(estimate.mean().item(), 1)  # unbiased: the average approaches tr A = -1
    -1.0
    """
    require_points(x)
    require_int(n_probes, "n_probes")
    require_generator(generator, "cpu")
    with torch.enable_grad():
        x_, values = _vector_field(fn, x)
        return _hutchinson_trace(values, x_, n_probes, generator, create_graph)


def _hutchinson_trace(
    values: torch.Tensor,
    x: torch.Tensor,
    n_probes: int,
    generator: torch.Generator | None,
    create_graph: bool,
) -> torch.Tensor:
    r"""Hutchinson's estimate of $\operatorname{tr} \nabla_x f$ for ``values`` $= f(x)$ (Rademacher probes)."""
    estimate = torch.zeros(x.shape[0], dtype=values.dtype, device=x.device)
    for _ in range(n_probes):
        signs = torch.randint(0, 2, x.shape, generator=generator).to(values)
        probe = 2 * signs - 1
        (vjp,) = torch.autograd.grad(
            (values * probe).sum(), x, create_graph=create_graph, retain_graph=True
        )
        estimate = estimate + (vjp * probe).sum(dim=1)
    return estimate / n_probes
