r"""Noise levels for multi-scale score models (Song & Ermon 2019, 2020).

A noise-conditional score model learns $\nabla_x \log p_\sigma(x)$ for a sequence of
noise levels $\sigma_1 > \sigma_2 > \dots > \sigma_L$, where
$p_\sigma = p * \mathcal{N}(0, \sigma^2 I)$ is the data distribution blurred by Gaussian
noise. This module builds that sequence and the step sizes annealed Langevin dynamics
uses with it, following the five techniques of NCSNv2 (Song & Ermon, 2020):

1. the largest level is about the largest distance between two data points
   (:func:`max_pairwise_distance`), so that at $\sigma_1$ all modes overlap;
2. the levels form a geometric sequence (:func:`geometric_sigmas`), with a common ratio
   chosen so that consecutive noisy distributions overlap (:func:`ncsnv2_ratio`);
3. the score network's output is divided by $\sigma$ (see `nets.NoiseConditionalScoreMLP`);
4. the number $M$ of Langevin steps per level is as large as the budget allows, and the
   step size $\epsilon$ is then chosen so that each level's chains end with the variance
   of that level (:func:`ncsnv2_step_size`);
5. samples are drawn with an exponential moving average of the network's weights (see
   the ``averaged_model`` argument of `training.train`).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

from ._validation import (
    require_in_interval,
    require_int,
    require_points,
    require_positive,
    require_sigmas,
)

__all__ = [
    "annealed_step_sizes",
    "geometric_sigmas",
    "max_pairwise_distance",
    "ncsnv2_ratio",
    "ncsnv2_step_size",
    "ncsnv2_variance_ratio",
    "suggest_sigmas",
]


def geometric_sigmas(sigma_max: float, sigma_min: float, n_levels: int) -> torch.Tensor:
    r"""$L$ noise levels from $\sigma_{\max}$ down to $\sigma_{\min}$ with a constant ratio.

    $$
    \sigma_i = \sigma_{\max} \left(\frac{\sigma_{\min}}{\sigma_{\max}}\right)^{(i-1)/(L-1)},
    \qquad i = 1, \dots, L.
    $$

    Examples
    --------
    >>> geometric_sigmas(10.0, 0.1, 3)
    tensor([10.0000,  1.0000,  0.1000])
    """
    sigma_max = require_positive(sigma_max, "sigma_max")
    sigma_min = require_positive(sigma_min, "sigma_min")
    require_int(n_levels, "n_levels", minimum=2)
    if not sigma_max > sigma_min:
        raise ValueError(
            f"sigma_max must be larger than sigma_min; got sigma_max={sigma_max:g}, "
            f"sigma_min={sigma_min:g}."
        )
    exponents = torch.linspace(0, 1, n_levels, dtype=torch.float64)
    return (sigma_max * (sigma_min / sigma_max) ** exponents).to(torch.get_default_dtype())


def max_pairwise_distance(data: torch.Tensor, max_points: int = 5000) -> float:
    r"""The largest Euclidean distance between two data points (NCSNv2's choice of $\sigma_1$).

    Uses at most ``max_points`` points (the cost is quadratic).

    Examples
    --------
    >>> max_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]]))
    5.0
    """
    require_points(data, name="data")
    require_int(max_points, "max_points", minimum=2)
    subset = data[:max_points].double()
    return torch.pdist(subset).max().item() if subset.shape[0] > 1 else 0.0


def ncsnv2_ratio(dim: int, target: float = 0.5, max_ratio: float = 2.0) -> float:
    r"""The ratio $\gamma = \sigma_{i-1}/\sigma_i$ that NCSNv2 recommends in dimension $d$.

    Consecutive noisy distributions should overlap: NCSNv2 (technique 2) asks that
    $\Phi\big(\sqrt{2d}(\gamma - 1) + 3\gamma\big) - \Phi\big(\sqrt{2d}(\gamma - 1) - 3\gamma\big) \approx 0.5$,
    with $\Phi$ the standard normal CDF. Solved here by bisection. In low dimension the
    criterion holds for every ratio (noisy distributions a factor 2 apart still overlap
    well), and ``max_ratio`` is returned.

    Examples
    --------
    >>> round(ncsnv2_ratio(3072), 3)  # CIFAR-10: NCSNv2 used 232 levels from 50 to 0.01
    1.04
    >>> ncsnv2_ratio(2)
    2.0
    """
    require_int(dim, "dim")
    target = require_in_interval(target, "target", 0, 1)
    max_ratio = require_in_interval(max_ratio, "max_ratio", 1)

    phi = NormalDist().cdf  # the standard normal CDF

    def overlap(gamma: float) -> float:
        centre = math.sqrt(2 * dim) * (gamma - 1)
        return phi(centre + 3 * gamma) - phi(centre - 3 * gamma)

    if overlap(max_ratio) >= target:
        return max_ratio
    low, high = 1.0 + 1e-9, max_ratio  # overlap decreases from ~1 at gamma = 1
    for _ in range(200):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if overlap(middle) > target else (low, middle)
    return 0.5 * (low + high)


def suggest_sigmas(data: torch.Tensor, sigma_min: float = 0.01) -> torch.Tensor:
    r"""A geometric schedule for ``data`` following NCSNv2's heuristics 1 and 2.

    $\sigma_1$ is the largest pairwise distance, the ratio is :func:`ncsnv2_ratio` for the
    data's dimension, and levels continue down to ``sigma_min``.

    Examples
    --------
    >>> data = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    >>> sigmas = suggest_sigmas(data, sigma_min=0.05)
    >>> round(sigmas[0].item(), 3), round(sigmas[-1].item(), 3), len(sigmas)
    (5.0, 0.05, 8)
    """
    sigma_max = max_pairwise_distance(data)
    sigma_min = require_positive(sigma_min, "sigma_min")
    if not sigma_max > sigma_min:
        raise ValueError(f"the data spread ({sigma_max:g}) must exceed sigma_min ({sigma_min:g}).")
    gamma = ncsnv2_ratio(data.shape[1])
    n_levels = max(2, math.ceil(math.log(sigma_max / sigma_min) / math.log(gamma)) + 1)
    return geometric_sigmas(sigma_max, sigma_min, n_levels)


def annealed_step_sizes(sigmas: torch.Tensor, step_size: float) -> torch.Tensor:
    r"""Song & Ermon's annealed Langevin step sizes, $\epsilon_i = \epsilon\, \sigma_i^2 / \sigma_L^2$.

    The step shrinks with the noise so that the "signal-to-noise ratio" of each Langevin
    update stays the same at every level.

    Examples
    --------
    >>> annealed_step_sizes(torch.tensor([1.0, 0.5, 0.1]), 2e-5)
    tensor([2.0000e-03, 5.0000e-04, 2.0000e-05])
    """
    sigmas = require_sigmas(sigmas)
    step_size = require_positive(step_size, "step_size")
    return step_size * sigmas**2 / sigmas[-1] ** 2


def ncsnv2_variance_ratio(
    step_size: float, sigma_min: float, ratio: float, n_steps_each: int
) -> float:
    r"""NCSNv2's test of a step size: the variance $M$ annealed steps leave, over the level's.

    Take data that are a single point, so that $p_{\sigma_i} = \mathcal{N}(0, \sigma_i^2 I)$,
    and a chain that enters level $i$ with the variance $\gamma^2\sigma_i^2$ of the level
    before. One Langevin step of size $\epsilon_i = \epsilon\,\sigma_i^2/\sigma_L^2$ maps a
    variance $v$ to $a^2 v + \epsilon_i$ with $a = 1 - \epsilon/(2\sigma_L^2)$, so after $M$
    steps

    $$
    \frac{v_M}{\sigma_i^2} = a^{2M}\,(\gamma^2 - c) + c,
    \qquad c = \frac{\epsilon/\sigma_L^2}{1 - a^2} = \frac{1}{1 - \epsilon/(4\sigma_L^2)},
    $$

    the same at every level ($c$ is the unadjusted chain's stationary variance ratio, the
    bias of Chapter 2). NCSNv2 (Song & Ermon 2020, technique 4) asks for a value close to
    1. Their paper writes the same formula with the step $\epsilon/2$ of the other way of
    writing Langevin dynamics.

    Examples
    --------
    Too small a step leaves the previous level's variance; a good one reaches about 1:

    >>> round(ncsnv2_variance_ratio(1e-6, 0.05, 1.6, 100), 3)
    2.499
    >>> round(ncsnv2_variance_ratio(1.6e-4, 0.05, 1.6, 100), 3)
    1.019
    """
    step_size = require_positive(step_size, "step_size")
    sigma_min = require_positive(sigma_min, "sigma_min")
    ratio = require_positive(ratio, "ratio")
    require_int(n_steps_each, "n_steps_each")
    relative = step_size / sigma_min**2
    if relative >= 4:
        raise ValueError(
            f"step_size must be below 4 sigma_min^2 = {4 * sigma_min**2:g}, where the chains "
            f"diverge; got {step_size:g}."
        )
    contraction = (1 - relative / 2) ** 2
    stationary = 1 / (1 - relative / 4)
    return contraction**n_steps_each * (ratio**2 - stationary) + stationary


def ncsnv2_step_size(sigmas: torch.Tensor, n_steps_each: int) -> float:
    r"""The step size $\epsilon$ that NCSNv2 recommends for annealed Langevin on ``sigmas``.

    Technique 4 of NCSNv2: given $M$ steps per level, choose $\epsilon$ so that
    :func:`ncsnv2_variance_ratio` is as close to 1 as it gets, with $\gamma$ the levels'
    common ratio (for levels that are not geometric, their mean ratio
    $(\sigma_1/\sigma_L)^{1/(L-1)}$). Found by a search over $\log\epsilon$.

    Examples
    --------
    >>> sigmas = geometric_sigmas(4.0, 0.05, 10)
    >>> step = ncsnv2_step_size(sigmas, 100)
    >>> round(step / 0.05**2, 3), round(ncsnv2_variance_ratio(step, 0.05, 80 ** (1 / 9), 100), 3)
    (0.064, 1.019)
    """
    sigmas = require_sigmas(sigmas)
    require_int(n_steps_each, "n_steps_each")
    if len(sigmas) < 2:
        raise ValueError(f"sigmas needs at least 2 levels to have a ratio; got {sigmas.tolist()}.")
    sigma_min = sigmas[-1].item()
    ratio = (sigmas[0].item() / sigma_min) ** (1 / (len(sigmas) - 1))

    def miss(log_relative: float) -> float:
        step = math.exp(log_relative) * sigma_min**2
        return abs(ncsnv2_variance_ratio(step, sigma_min, ratio, n_steps_each) - 1)

    # A coarse grid over (1e-8, 4) sigma_L^2 finds the basin, a golden-section search refines it.
    grid = [math.log(1e-8) + k * (math.log(3.999) - math.log(1e-8)) / 400 for k in range(401)]
    best = min(range(len(grid)), key=lambda k: miss(grid[k]))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        left, right = high - golden * (high - low), low + golden * (high - low)
        low, high = (low, right) if miss(left) < miss(right) else (left, high)
    return math.exp(0.5 * (low + high)) * sigma_min**2
