r"""Chapter 6: the probability-flow velocity, DDIM, and a sampler started from the wrong prior.

The "build it" grader (deterministic DDIM) lives in `ch06_sampler`; it is re-exported
here, so that the chapter imports all of its graders from this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ._framework import checker, compare_formula, multiple_choice
from .ch06_sampler import check_ddim

__all__ = ["check_ddim", "check_flow_velocity", "check_wrong_prior"]


def _variance(alpha_bar: float, data_variance: float) -> float:
    """The variance of p_t: alpha_bar * data_variance + 1 - alpha_bar, by (6.2)."""
    return alpha_bar * data_variance + 1 - alpha_bar


def _velocity(x: float, beta: float, alpha_bar: float, data_variance: float) -> float:
    """u = f - (1/2) g^2 d log p_t / dx with f = -beta x / 2, g^2 = beta, p_t = N(0, v)."""
    return -0.5 * beta * x + 0.5 * beta * x / _variance(alpha_bar, data_variance)


def _velocity_points(n: int = 12) -> list[tuple[float, float, float, float]]:
    """(x, beta, alpha_bar, data_variance): data variances away from 1, where u = 0."""
    draw = random.Random(6)
    points = []
    for k in range(n):
        x = draw.choice((-1, 1)) * draw.uniform(0.2, 3.0)
        data_variance = draw.uniform(0.05, 0.7) if k % 2 else draw.uniform(1.5, 6.0)
        points.append((x, draw.uniform(0.1, 20.0), draw.uniform(0.02, 0.98), data_variance))
    return points


@checker
def check_flow_velocity(flow_velocity: Callable[..., object]) -> str:
    r"""Check ``flow_velocity(x, beta, alpha_bar, data_variance)``: the velocity (6.8) of the VP process.

    For one-dimensional centred Gaussian data of variance ``data_variance`` the marginal
    $p_t$ is a centred Gaussian too, of variance $\bar\alpha$ times ``data_variance`` plus
    $1 - \bar\alpha$ (6.2), and the velocity whose continuity equation is the
    Fokker–Planck equation (6.5) is $u = f - \tfrac12 g^2\, \partial_x \log p_t$: with
    $f = -\tfrac12\beta x$ and $g^2 = \beta$, $u = -\tfrac12\beta x$ plus $\tfrac12\beta x$
    over that variance.
    Compared with it at twelve random points.

    Examples
    --------
    >>> check_flow_velocity(lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / (a * c2 + 1 - a))
    ✅ Correct! ...
    True
    >>> check_flow_velocity(lambda x, b, a, c2: -0.5 * b * x + b * x / (a * c2 + 1 - a))
    ❌ Not yet: ...reverse-time SDE...
    False
    """

    def wrong_variance(variance: Callable[[float, float], float]) -> Callable[..., float]:
        return lambda x, b, a, c2: -0.5 * b * x + 0.5 * b * x / variance(a, c2)

    mistakes = [
        (
            lambda x, b, a, c2: -0.5 * b * x + b * x / _variance(a, c2),
            "that is the drift of the reverse-time SDE (6.7), with the full g^2 on the score. "
            "Without noise of its own the flow needs half of it: the noise term "
            "(1/2) g^2 lap p_t of (6.5) equals div((1/2) g^2 p_t grad log p_t).",
        ),
        (
            lambda x, b, a, c2: 0.5 * b * x / _variance(a, c2),
            "you left out the forward drift f(x, t) = -beta x / 2: the continuity equation "
            "must reproduce both terms of (6.5), the transport by f and the noise.",
        ),
        (
            lambda x, b, a, c2: -0.5 * b * x - 0.5 * b * x / _variance(a, c2),
            "the sign of the score term is flipped: u = f - (1/2) g^2 grad log p_t, and the "
            "score of N(0, v) is -x / v, so that term is +beta x / (2 v).",
        ),
        (
            lambda x, b, a, c2: 0.5 * b * x - 0.5 * b * x / _variance(a, c2),
            "that is minus the velocity: u is dx/dt with t the forward time, the same u "
            "whichever way the ODE is run (a sampler runs it with dt < 0).",
        ),
        (
            wrong_variance(lambda a, c2: c2),
            "the score in u is that of p_t, the data *at time t*, not of the data: by (6.2) "
            "its variance is alpha_bar * data_variance + sigma(t)^2.",
        ),
        (
            wrong_variance(lambda a, c2: a * c2),
            "the variance of p_t also has the noise's part, sigma(t)^2 = 1 - alpha_bar: "
            "x_t = sqrt(alpha_bar) x_0 + sigma(t) z has the variance alpha_bar * data_variance + 1 - alpha_bar.",
        ),
        (
            wrong_variance(lambda a, c2: c2 + 1 - a),
            "the data are scaled by sqrt(alpha_bar) in x_t, so their variance is scaled by "
            "alpha_bar: p_t has the variance alpha_bar * data_variance + 1 - alpha_bar.",
        ),
        (
            wrong_variance(lambda a, c2: a**0.5 * c2 + 1 - a),
            "scaling x_0 by sqrt(alpha_bar) scales its variance by the square, alpha_bar: "
            "p_t has the variance alpha_bar * data_variance + 1 - alpha_bar.",
        ),
        (
            wrong_variance(lambda a, c2: 1 - a),
            "that is the score of the noise alone, N(0, 1 - alpha_bar); p_t holds the "
            "scaled data too, with the variance alpha_bar * data_variance + 1 - alpha_bar.",
        ),
        (
            wrong_variance(lambda a, c2: (a * c2 + 1 - a) ** 0.5),
            "the score of N(0, v) is -x / v, with the variance v, not the standard deviation.",
        ),
        (
            lambda x, b, a, c2: -0.5 * b * x + 0.5 * b**0.5 * x / _variance(a, c2),
            "the score term carries g(t)^2 = beta, not g(t) = sqrt(beta).",
        ),
        (
            lambda x, b, a, c2: -b * x + 0.5 * b * x / _variance(a, c2),
            "the VP drift is f(x, t) = -(1/2) beta(t) x, with its half.",
        ),
    ]
    compare_formula(
        flow_velocity,
        _velocity,
        _velocity_points(),
        mistakes,
        name="flow_velocity(x, beta, alpha_bar, data_variance)",
    )
    return (
        "u = f - (1/2) g^2 grad log p_t = -(1/2) beta x + (1/2) beta x / (alpha_bar * data_variance + 1 - "
        "alpha_bar): the noise term of Fokker-Planck, written as a transport, is half the "
        "reverse SDE's score term. For data of variance 1 the two terms cancel: the flow leaves "
        "N(0, 1) where it is."
    )


check_wrong_prior = multiple_choice(
    "check_wrong_prior",
    {
        "a": (
            False,
            "Heun's method with 50 steps is accurate on the VP process: Section 6.5's "
            "scoreboard had it at the floor with 49 steps, started from the right prior. "
            "A solver error would also shrink with more steps; this one would not, and the "
            "reverse SDE, a first-order method with about the same budget, ends right.",
        ),
        "b": (
            True,
            "the VP process ends at N(0, I), and these chains start from N(0, 7.2^2 I), "
            "about seven times too wide. The probability-flow ODE is a deterministic, "
            "invertible map from p_1 to the data: near t = 1, where p_t is nearly N(0, I), "
            "its velocity f - (1/2) g^2 grad log p_t = -beta x / 2 + beta x / 2 almost "
            "vanishes, so a chain that starts too far out stays too far out, and the "
            "samples inherit the error. The reverse SDE's score term is twice the flow's "
            "(its drift is -beta x / 2 + beta x, which, run with dt < 0, pulls every chain "
            "in) and it adds fresh noise: there "
            "it is an Ornstein-Uhlenbeck process that keeps N(0, I), and the excess "
            "variance of its chains shrinks by the factor exp(-integral of beta dt), about "
            "e^-6 between t = 1 and t = 0.6 alone. It forgets the start. Start the VP "
            "samplers from vp.prior_sample.",
        ),
        "c": (
            False,
            "the score here is exact everywhere: the mixture's p_t is known in closed form, "
            "far from the data as near it. And the reverse SDE, with the same score from "
            "the same start points, ends with the data's spread.",
        ),
        "d": (
            False,
            "the probability-flow ODE (6.8) has the marginals of whichever process it is "
            "derived from, VP included: in Section 6.5 it reached the floor on VP, from "
            "the VP prior. What it cannot do is correct a wrong start: it remembers it.",
        ),
    },
)
