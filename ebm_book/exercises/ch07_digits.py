r"""Chapter 7: how large the largest noise level must be, inpainting, and a model without large levels.

The "build it" grader (one step of inpainting by replacement) lives in `ch07_inpainting`;
it is re-exported here, so that the chapter imports all of its graders from this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from statistics import NormalDist

from ._framework import checker, compare_formula, multiple_choice
from .ch07_inpainting import check_inpainting_step

__all__ = ["check_closer_probability", "check_inpainting_step", "check_truncated_model"]

_PHI = NormalDist().cdf


def _closer(distance: float, sigma: float) -> float:
    r"""$\Phi(-\lVert x_i - x_j\rVert/(2\sigma))$: the noise must carry $x_i$ past the midpoint, along one direction."""
    return _PHI(-distance / (2 * sigma))


def _closer_points(n: int = 12) -> list[tuple[float, float]]:
    """(distance, sigma): distances and levels of the digits' order, probabilities well above 0."""
    draw = random.Random(7)
    return [(draw.uniform(0.5, 12.0), draw.uniform(0.3, 15.0)) for _ in range(n)]


@checker
def check_closer_probability(closer_probability: Callable[[float, float], object]) -> str:
    r"""Check ``closer_probability(distance, sigma)``: the chance (7.1) that $x_i + \sigma z$ lies nearer $x_j$.

    The noisy point $x_i + \sigma z$ is nearer $x_j$ exactly when the component of
    $\sigma z$ along the unit vector from $x_i$ to $x_j$, a standard normal times $\sigma$,
    exceeds half the distance, $\lVert x_i - x_j\rVert/2$: the probability is
    $\Phi(-\lVert x_i - x_j\rVert/(2\sigma))$, in every dimension. Compared at twelve
    random points.

    Examples
    --------
    >>> from statistics import NormalDist
    >>> check_closer_probability(lambda D, s: NormalDist().cdf(-D / (2 * s)))
    ✅ Correct! ...
    True
    >>> check_closer_probability(lambda D, s: NormalDist().cdf(-D / s))
    ❌ Not yet: ...midpoint...
    False
    """
    mistakes = [
        (
            lambda D, s: _PHI(-D / s),
            "the noisy point is nearer x_j once it has passed the midpoint between the two, "
            "at half the distance |x_i - x_j| from x_i, not the whole distance.",
        ),
        (
            lambda D, s: _PHI(-D / (2 * s**2)),
            "the component of sigma z along a unit vector is sigma times a standard normal "
            "(standard deviation sigma, not sigma^2): it exceeds |x_i - x_j| / 2 with the "
            "probability Phi(-|x_i - x_j| / (2 sigma)).",
        ),
        (
            lambda D, s: _PHI(-(D**2) / (2 * s**2)),
            "that compares the squared distance with the noise; the event is one coordinate "
            "of the noise (along the line from x_i to x_j) beyond half the distance: "
            "Phi(-|x_i - x_j| / (2 sigma)).",
        ),
        (
            lambda D, s: 0.5 * 2.718281828459045 ** (-(D**2) / (8 * s**2)),
            "that is NCSNv2's upper bound of the other point's responsibility, not the "
            "probability itself: along the line from x_i to x_j the noise is one standard "
            "normal times sigma, and it must exceed half the distance |x_i - x_j|.",
        ),
        (
            lambda D, s: _PHI(D / (2 * s)),
            "that is the chance of staying nearer x_i: the noise must carry the point past "
            "the midpoint, towards x_j, which is the upper tail.",
        ),
        (
            lambda D, s: 2 * _PHI(-D / (2 * s)),
            "only one direction leads to x_j: the noise's component along the line must "
            "exceed +|x_i - x_j| / 2; a component below -|x_i - x_j| / 2 moves the point "
            "away from x_j.",
        ),
        (
            lambda D, s: _PHI(-D / (2 * s * 2**0.5)),
            "sigma sqrt(2) is the noise of the difference of two noisy points; here only "
            "x_i is noised: the noise of one point along the line to x_j is sigma times a "
            "standard normal, and the probability is Phi(-|x_i - x_j| / (2 sigma)).",
        ),
    ]

    def times(factor: float) -> Callable[[float, float], float]:
        return lambda D, s: _PHI(-D * factor / (2 * s))

    for dim in (2, 64):  # the dimension slipped in: the noise's length sigma sqrt(d), or 1/sqrt(d)
        mistakes.append(
            (
                times(dim**0.5),
                "the noise's length, about sigma sqrt(d), does not matter: only its "
                "component along the line from x_i to x_j decides which point is nearer, "
                "and that component is sigma times one standard normal, in any dimension.",
            )
        )
        mistakes.append(
            (
                times(dim**-0.5),
                "dividing by sqrt(d) spreads the distance over the d coordinates, but only "
                "one direction of the noise matters, the line from x_i to x_j, and along "
                "it the noise is sigma times one standard normal, in any dimension.",
            )
        )
    compare_formula(
        closer_probability,
        _closer,
        _closer_points(),
        mistakes,
        name="closer_probability(distance, sigma)",
    )
    return (
        "Phi(-|x_i - x_j| / (2 sigma)), whatever the dimension: only the noise's component "
        "along the line between the two points counts. At sigma = |x_i - x_j| it is "
        "Phi(-1/2) = 0.31: technique 1's choice lets the noise carry a chain between any "
        "two data points."
    )


check_truncated_model = multiple_choice(
    "check_truncated_model",
    {
        "a": (
            False,
            "with too few steps every sampler blurs or leaves speckle, but it does not "
            "change the background's level: these chains take 60 steps over the lowest "
            "seventh of the time range, steps four times finer than the main run's. More "
            "steps would leave the grey backgrounds as they are.",
        ),
        "b": (
            True,
            "the sampler must start where the model's levels end, at the level 0.5, from "
            "N(0, I), but there p_t is the data shrunk by sqrt(alpha_bar) = 0.89 plus noise "
            "of 0.45: its mean is the shrunken mean digit, blank paper at about -0.9, far "
            "from the prior's 0, and its spread is the shrunken digits' plus the noise's, "
            "not one per pixel. The score at small levels only sharpens what is nearby; it "
            "cannot move the whole image's mean, which the large levels decide. Hence the "
            "grey paper and broken strokes. Technique 1: train up to levels near the data's "
            "largest distance, and start there.",
        ),
        "c": (
            False,
            "a model that memorised its training images would reproduce them, crisp: these "
            "samples are further from every training image than a memoriser's, and blurred. "
            "The memorisation check of Section 7.5 measures it.",
        ),
        "d": (
            False,
            "the moving average changes how the weights are averaged, not which noise "
            "levels the model knows; and the main samples of Section 7.4, with the same "
            "weights, have white paper.",
        ),
    },
)
