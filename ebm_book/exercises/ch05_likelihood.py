r"""Chapter 5: the gradient of $\log Z_\theta$, the loss of persistent contrastive divergence,
and a training run whose energies run away.

The "build it" grader (the loss of persistent contrastive divergence with a replay
buffer) lives in `ch05_contrastive`, its first stages in `ch05_chains`; it is re-exported here, so that the chapter imports
all of its graders from this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ._framework import checker, compare_formula, multiple_choice
from .ch05_contrastive import check_pcd_loss

__all__ = ["check_log_z_gradient", "check_pcd_loss", "check_runaway_diagnosis"]


def _right(theta_1: float, theta_2_norm: float, d: int) -> float:
    return -d / (2 * theta_1) - theta_2_norm**2 / (2 * theta_1**2)


@checker
def check_log_z_gradient(d_log_z_d_theta_1: Callable[..., object]) -> str:
    r"""Check ``d_log_z_d_theta_1(theta_1, theta_2_norm, d)``, the derivative of $\log Z_\theta$ in $\theta_1$.

    For $E_\theta(x) = \tfrac12\theta_1\lVert x\rVert^2 + \theta_2^\top x$ on
    $\mathbb{R}^d$, $p_\theta = \mathcal{N}(-\theta_2/\theta_1, I/\theta_1)$, and
    $\partial_{\theta_1}\log Z_\theta = -\mathbb{E}_{p_\theta}\big[\tfrac12\lVert x\rVert^2\big]
    = -\frac{d}{2\theta_1} - \frac{\lVert\theta_2\rVert^2}{2\theta_1^2}$. The formula is
    evaluated at random $\theta_1 > 0$, $\lVert\theta_2\rVert \ge 0$ and several $d$.

    Examples
    --------
    >>> check_log_z_gradient(lambda t1, b, d: -d / (2 * t1) - b**2 / (2 * t1**2))
    ✅ Correct! ...
    True
    >>> check_log_z_gradient(lambda t1, b, d: -d / (2 * t1))
    ❌ Not yet: ...is not zero...
    False
    """
    rng = random.Random(5)
    points = [
        (rng.uniform(0.3, 3.0), rng.uniform(0.2, 3.0), d)
        for d in (1, 2, 3, 5, 10)
        for _ in range(3)
    ]
    mistakes = [
        (lambda t1, b, d: -_right(t1, b, d), "the sign is flipped: differentiating Z = integral of e^(-E) brings down -dE/dtheta_1, so d log Z / d theta_1 = -E_p_theta[dE/dtheta_1] = -E[|x|^2 / 2], a negative number."),
        (lambda t1, b, d: -d / (2 * t1), "that is -E[|x - mean|^2] / 2 alone: the model's mean, -theta_2 / theta_1, is not zero, and E|x|^2 = d / theta_1 + |theta_2|^2 / theta_1^2 (variance plus squared mean)."),
        (lambda t1, b, d: -b**2 / (2 * t1**2), "that is the squared mean alone: each of the d coordinates also has variance 1 / theta_1, and E|x|^2 = d / theta_1 + |theta_2|^2 / theta_1^2."),
        (lambda t1, b, d: -1 / (2 * t1) - b**2 / (2 * t1**2), "the variance term counts one coordinate: each of the d coordinates has variance 1 / theta_1, so the trace of the covariance is d / theta_1."),
        (lambda t1, b, d: 2 * _right(t1, b, d), "that is twice the answer: dE/dtheta_1 = |x|^2 / 2, with its half."),
        (lambda t1, b, d: -d / (2 * t1) + b**2 / (2 * t1**2), "the squared mean enters with the same sign as the variance: E|x|^2 = d / theta_1 + |theta_2|^2 / theta_1^2, both positive."),
        (lambda t1, b, d: -d * t1 / 2 - b**2 * t1**2 / 2, "theta_1 is the precision: the model's covariance is I / theta_1 and its mean -theta_2 / theta_1 (complete the square in E)."),
        (lambda t1, b, d: -d / (2 * t1) - b**2 / (2 * t1), "the model's mean is -theta_2 / theta_1, whose squared norm is |theta_2|^2 / theta_1^2 (complete the square in E)."),
    ]  # fmt: skip
    compare_formula(
        lambda t1, b, d: d_log_z_d_theta_1(t1, b, d),
        _right,
        points,
        mistakes,
        name="d_log_z_d_theta_1(theta_1, theta_2_norm, d)",
    )
    return (
        "d log Z / d theta_1 = -E_p_theta[|x|^2 / 2] = -d / (2 theta_1) - |theta_2|^2 / (2 theta_1^2): "
        "the negative phase is an expectation under the model, here in closed form."
    )


check_runaway_diagnosis = multiple_choice(
    "check_runaway_diagnosis",
    {
        # Options a and b were run (the chapter's seeds 101 to 103): with the learning rate
        # divided by 3 the mean energies passed 100 at training steps 133 to 145 instead of
        # 63 to 70; with B = 30, at steps 66 to 79.
        "a": (False, "a learning rate three times smaller only delays the runaway: with the same step size the energies take off after about twice as many training steps, and then grow just as fast."),
        "b": (False, "three times as many Langevin steps per training step (30) do not help: the energies run away all the same, a few training steps later than with 10. The chains are not short of steps; more steps of a sampler that overshoots only carry them further out."),
        "c": (True, "the step, 0.3, is larger than the data's narrowest variance, 0.15 (the mode at (-1.5, -1), across its long axis). Unadjusted Langevin dynamics never keeps its chains' variance below its step in any direction: in a valley of variance v its chains settle at Chapter 2's v / (1 - step / (4 v)), smallest, and equal to the step, at v = step / 2. So the model can never make its samples as concentrated as the data; the loss keeps asking it to, and it sharpens its valleys, which makes the chains overshoot further and land higher on the walls, where the loss raises the energy again. Nothing in the loss stops this loop: Section 5.4 shows what does."),
        "d": (False, "the same network, with the same data, learning rate and number of steps, fits the three modes well with a step of 0.05 (Section 5.2): it is large enough."),
    },
)  # fmt: skip
