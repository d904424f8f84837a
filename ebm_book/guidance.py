r"""Classifier-free guidance (Ho & Salimans 2022): steering a diffusion model towards a class.

Take labelled data, the class of a point being a component $k$ of a mixture. A model
trained with the label dropped part of the time gives both the conditional score
$\nabla_x \log p_t(x \mid k)$ and the unconditional one $\nabla_x \log p_t(x)$. Guidance
with the weight $\zeta \ge 0$ samples with

$$
\tilde s(x, t) = (1 + \zeta)\, \nabla_x \log p_t(x \mid k) - \zeta\, \nabla_x \log p_t(x)
= \nabla_x \log p_t(x \mid k) + \zeta\, \nabla_x \log p_t(k \mid x) .
$$

In the energy view it is a product of distributions, hence a sum of scores: $\tilde s$ is
the score of $p_t(x \mid k)^{1+\zeta}\, p_t(x)^{-\zeta} \propto p_t(x \mid k)\, p_t(k \mid x)^{\zeta}$,
which favours the points that the classifier $p_t(k \mid x)$ is surest of, and lowers the
diversity. It is not the score of the marginals of one process, so a sampler driven by it
samples no exact distribution: guidance trades fidelity to the data for typical members
of the class. (Ho & Salimans write $w$ for $\zeta$.)
"""

from __future__ import annotations

import torch

from ._types import TimeConditionalScore
from ._validation import require_callable, require_non_negative

__all__ = ["classifier_free_guidance"]


def classifier_free_guidance(
    conditional: TimeConditionalScore, unconditional: TimeConditionalScore, weight: float
) -> TimeConditionalScore:
    r"""The guided score $(1 + \zeta)\, s(x, t \mid k) - \zeta\, s(x, t)$, called ``score(x, t)``.

    Parameters
    ----------
    conditional
        $s(x, t \mid k)$ for the chosen class $k$, e.g. ``lambda x, t: model(x, t, label)``
        or the exact score of one component of a mixture.
    unconditional
        $s(x, t)$, the same model with the label dropped, or the exact mixture score.
    weight
        $\zeta \ge 0$; $\zeta = 0$ is plain conditional sampling. Ho & Salimans combine noise
        predictions, which are minus the score times the standard deviation: the same
        combination, with the same weight.

    Examples
    --------
    Two Gaussians at $t$: guidance is the score of $p_t(x \mid k)^{1+\zeta} p_t(x)^{-\zeta}$.

    >>> conditional, unconditional = (lambda x, t: -(x - 1.0)), (lambda x, t: -x / 2)
    >>> guided = classifier_free_guidance(conditional, unconditional, 2.0)
    >>> guided(torch.tensor([[1.0]]), torch.tensor([0.5]))  # 3 * 0 - 2 * (-0.5)
    tensor([[1.]])
    """
    require_callable(conditional, "conditional", ("x", "t"))
    require_callable(unconditional, "unconditional", ("x", "t"))
    zeta = require_non_negative(weight, "weight")

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (1 + zeta) * conditional(x, t) - zeta * unconditional(x, t)

    return guided
