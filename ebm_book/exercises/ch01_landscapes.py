r"""Chapter 1, build it: a three-valley energy of the reader's design and its Boltzmann density.

The reader writes two functions. ``three_well_energy(x)`` must have the properties the
chapter asks for (three valleys at $-2, 0, 2$, depths in a given order, barriers of a
given height, walls); ``boltzmann_density(energy, x, temperature)`` must turn any energy
into $p_T$ on an evenly spaced grid, normalized there. The grader measures each property
on a fine grid and names the first one that fails, with the numbers it measured.

Nothing here is random: the tolerances are the design's freedom (stated with the
properties) or the grid's accuracy, stated where they are used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..energies import DoubleWell
from ._framework import CheckFailed, _as_tensor, _real_tensor, checker

__all__ = ["check_three_well"]

EnergyFn = Callable[[torch.Tensor], torch.Tensor]
DensityFn = Callable[[EnergyFn, torch.Tensor, float], torch.Tensor]

# The properties the chapter asks for.
TARGET_MINIMA = (-2.0, 0.0, 2.0)
POSITION_TOLERANCE = 0.1
MIN_DEPTH_GAP = 0.5  # each valley at least this much deeper than the next, left to right
BARRIER, BARRIER_TOLERANCE = 3.0, 0.5  # above the shallower of the two neighbouring minima
WALL = 10.0  # E(-4) and E(4) above the lowest minimum
TEMPERATURES = (1.0, 0.25)

# Spacing 0.001: a height read off the grid is off by at most E'' dx^2 / 8, below 1e-5
# for any E'' under 80, and a position by dx / 2; both far below the tolerances above.
FINE_GRID = torch.linspace(-4.0, 4.0, 8001, dtype=torch.float64)[:, None]
# The grid the density is checked on: coarse enough that the Riemann sum and the
# trapezoidal rule differ visibly only where the mass reaches the ends.
DENSITY_GRID = torch.linspace(-4.0, 4.0, 801, dtype=torch.float64)[:, None]
# A normalization within 0.5% passes: that admits the trapezoidal rule and a spacing
# computed as (b - a) / N instead of (b - a) / (N - 1), off by 1/N = 0.12% here.
NORMALIZATION_TOLERANCE = 5e-3


def _energies(energy: EnergyFn, x: torch.Tensor) -> torch.Tensor:
    values = _as_tensor(energy(x.clone()), "three_well_energy")
    if values.shape != (x.shape[0],):
        raise CheckFailed(
            f"for x of shape {tuple(x.shape)} the energy should have shape ({x.shape[0]},), "
            f"one value per point; got {tuple(values.shape)}. Index the coordinate with x[:, 0]."
        )
    if not torch.isfinite(values).all():
        bad = x[~torch.isfinite(values), 0][0].item()
        raise CheckFailed(f"your energy is not finite at x = {bad:.3f}; keep it finite on [-4, 4].")
    return values.double()


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def _local_minima(values: torch.Tensor) -> list[int]:
    inner = (values[1:-1] < values[:-2]) & (values[1:-1] <= values[2:])  # a flat bottom once
    return (inner.nonzero()[:, 0] + 1).tolist()


def _check_minima(values: torch.Tensor, x: torch.Tensor) -> list[int]:
    falling = [edge for edge, i, j in ((-4, 0, 1), (4, -1, -2)) if values[i] < values[j]]
    if falling:
        raise CheckFailed(
            f"your energy still falls towards x = {falling[0]}: raise walls, so that E grows "
            "outside the three valleys and p_T can be normalized."
        )
    found = _local_minima(values)
    where = [x[i, 0].item() for i in found]
    if len(found) != 3:
        hint = (
            "a spurious extra valley: plot your energy and look for a small dip."
            if len(found) > 3
            else "a barrier between two of the valleys is missing."
        )
        raise CheckFailed(
            f"found {len(found)} local minima on [-4, 4], at {_fmt(where)}; the landscape "
            f"needs exactly three, near -2, 0 and 2: {hint}"
        )
    errors = [w - t for w, t in zip(where, TARGET_MINIMA)]
    if max(abs(e) for e in errors) > POSITION_TOLERANCE:
        scale = (where[2] - where[0]) / 4
        if abs(where[1]) < POSITION_TOLERANCE and abs(scale - 1) > 0.1:
            hint = f" They sit at about {scale:.2f} times -2, 0, 2: rescale x."
        elif max(errors) - min(errors) < 0.05:
            hint = f" All three are shifted by about {errors[1]:+.2f}: shift x."
        else:
            hint = " A strong tilt moves the minima: make the valleys steeper or the tilt gentler."
        raise CheckFailed(
            f"your minima are at {_fmt(where)}; each should be within {POSITION_TOLERANCE} "
            "of -2, 0 and 2." + hint
        )
    return found


def _check_shape_of_landscape(values: torch.Tensor, minima: list[int]) -> str:
    depths = [values[i].item() for i in minima]
    lowest = min(depths)
    walls = [values[0].item() - lowest, values[-1].item() - lowest]
    if min(walls) < WALL:
        raise CheckFailed(
            f"E(-4) and E(4) are {_fmt(walls)} above the lowest minimum; make both at least "
            f"{WALL:g}, so that the grid [-4, 4] holds essentially all the mass."
        )
    gaps = [depths[1] - depths[0], depths[2] - depths[1]]
    if min(gaps) < MIN_DEPTH_GAP:
        if max(abs(g) for g in gaps) < 0.1:
            hint = "the three valleys are equally deep: tilt the landscape, or lift the valleys."
        elif depths[2] < depths[1] < depths[0]:
            hint = "the order is reversed: the left valley must be the deepest (a tilt of the wrong sign?)."
        else:
            hint = f"each valley must lie at least {MIN_DEPTH_GAP} below its right neighbour."
        raise CheckFailed(f"the minima have energies {_fmt(depths)} (left, middle, right): {hint}")
    barriers = []
    for a, b in zip(minima, minima[1:]):
        top = values[a : b + 1].max().item()
        barriers.append(top - max(values[a].item(), values[b].item()))
    if max(abs(h - BARRIER) for h in barriers) > BARRIER_TOLERANCE:
        ratios = [h / BARRIER for h in barriers]
        common = abs(ratios[0] / ratios[1] - 1) < 0.15
        hint = (
            f" Both are about {sum(ratios) / 2:.2f} times the target: scale the part of "
            "your energy that makes the barriers."
            if common
            else ""
        )
        raise CheckFailed(
            f"the barriers rise {_fmt(barriers)} above the shallower of their two valleys "
            f"(left, right); each should be {BARRIER:g} ± {BARRIER_TOLERANCE:g}." + hint
        )
    return f"depths {_fmt(depths)}, barriers {_fmt(barriers)}"


def _density(
    boltzmann_density: DensityFn, energy: EnergyFn, x: torch.Tensor, t: float, what: str
) -> torch.Tensor:
    p = _real_tensor(boltzmann_density(energy, x.clone(), t), "boltzmann_density")
    if p.shape != (x.shape[0],):
        raise CheckFailed(
            f"boltzmann_density should return one value per grid point, shape ({x.shape[0]},); "
            f"got {tuple(p.shape)}."
        )
    if not torch.isfinite(p).all():
        raise CheckFailed(
            f"{what} at T = {t} your density contains {p[~torch.isfinite(p)][0].item()}: exp(-E/T) "
            "over- or underflows. Shift the energies by their minimum first (the log-sum-exp "
            "trick of Exercise 1.2); the density does not change."
        )
    if (p < 0).any():
        raise CheckFailed("your density has negative values; a density is never negative.")
    return p.double()


def _check_density(
    boltzmann_density: DensityFn, energy: EnergyFn, x: torch.Tensor, t: float, what: str
) -> torch.Tensor:
    p = _density(boltzmann_density, energy, x, t, what)
    values = energy(x.clone()).detach().double()
    spacing = (x[1, 0] - x[0, 0]).item()
    reference = torch.softmax(-values / t, dim=0) / spacing
    # The ratios p(x)/p(y) must be exp(-(E(x) - E(y))/T) wherever the density is not
    # negligible; float32 arithmetic keeps them within 1e-5, so 1e-3 is generous.
    seen = (reference > 1e-6 * reference.max()) & (p > 0)
    ratio = p[seen] / reference[seen]
    if seen.sum() < 2 or ratio.max() / ratio.min() - 1 > 1e-3:
        # The slope of log p against E names the exponent: -1/T is right.
        e, log_p = values[seen], torch.log(p[seen])
        slope = ((e - e.mean()) * (log_p - log_p.mean())).sum() / (e - e.mean()).pow(2).sum()
        named = [
            (-1.0, "The temperature has no effect: divide the energy by T."),
            (-t, "You multiplied the energy by T; divide it by T: a higher T flattens p_T."),
            (1 / t, "High energy got high density: use exp(-E/T), with the minus sign."),
        ]
        hint = next((h for s, h in named if math.isclose(slope.item(), s, rel_tol=0.01)), None)
        raise CheckFailed(
            f"{what} at T = {t}: the ratio p_T(x)/p_T(y) should be exp(-(E(x) - E(y))/T), "
            "whatever the normalization; yours is not. "
            + (hint or "Start from exp(-E(x)/T) at each grid point.")
        )
    total = (p.sum() * spacing).item()
    if abs(total - 1) > NORMALIZATION_TOLERANCE:
        hint = (
            "your values sum to 1, like probabilities of the grid points; a density "
            "integrates to 1: divide by the grid spacing as well."
            if math.isclose(p.sum().item(), 1.0, rel_tol=1e-3)
            else "divide by Z_T, which the grid approximates by the sum of exp(-E/T) "
            "times the grid spacing."
        )
        raise CheckFailed(
            f"{what} at T = {t}: the sum of p_T over the grid times its spacing is "
            f"{total:.4g}, not 1; {hint}"
        )
    return p


@checker
def check_three_well(
    three_well_energy: EnergyFn, boltzmann_density: DensityFn | None = None
) -> str:
    r"""Check a three-valley energy of the reader's design and a Boltzmann density on a grid.

    The energy must have exactly three local minima on $[-4, 4]$, within 0.1 of $-2$, $0$
    and $2$; the left valley deepest and the right one shallowest, each at least 0.5 below
    its right neighbour; barriers $3 \pm 0.5$ above the shallower of their two valleys; and
    walls $E(\pm 4)$ at least 10 above the lowest minimum.

    ``boltzmann_density(energy, x, temperature)`` gets an evenly spaced grid ``x`` of
    shape ``(N, 1)`` and returns $p_T$ at its points, shape ``(N,)``, with the grid's sum
    of $p_T$ times the spacing equal to 1. It is checked on a reference energy at two
    temperatures, near energies of $\pm 1000$, and on the reader's landscape at $T = 1$
    and $T = 1/4$.

    Examples
    --------
    >>> def energy(x):
    ...     x = x[:, 0]
    ...     return 3.3 * 27 / 256 * x**2 * (x**2 - 4) ** 2 + 0.3 * x
    >>> def density(energy, x, temperature):
    ...     weights = torch.softmax(-energy(x) / temperature, dim=0)
    ...     return weights / (x[1, 0] - x[0, 0])
    >>> check_three_well(energy, density)
    ✅ Correct! ...
    True
    >>> check_three_well(lambda x: x[:, 0] ** 2 * (x[:, 0] ** 2 - 4) ** 2, density)
    ❌ Not yet: the minima have energies [0.000, 0.000, 0.000] ...
    False
    """
    if not callable(boltzmann_density):
        raise CheckFailed(
            "pass both functions: check_three_well(three_well_energy, boltzmann_density)."
        )
    values = _energies(three_well_energy, FINE_GRID)
    minima = _check_minima(values, FINE_GRID)
    measured = _check_shape_of_landscape(values, minima)

    tilted = DoubleWell(barrier=2.0, tilt=0.5)
    reference_grid = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)[:, None]
    for t in (0.5, 2.0):  # two temperatures other than 1, where forgetting T shows
        _check_density(boltzmann_density, tilted.energy, reference_grid, t, "on a double well")
    for offset in (1000.0, -1000.0):
        shifted = lambda x, c=offset: tilted.energy(x) + c  # noqa: E731
        _check_density(
            boltzmann_density, shifted, reference_grid, 0.25, f"with {offset:+g} added to E"
        )
    cold, warm = (
        _check_density(boltzmann_density, three_well_energy, DENSITY_GRID, t, "on your landscape")
        for t in (TEMPERATURES[1], TEMPERATURES[0])
    )
    # Tempering: p_{1/4} is proportional to p_1^4, wherever both are not negligible.
    seen = (cold > 1e-6 * cold.max()) & (warm > 1e-6 * warm.max())
    log_ratio = torch.log(cold[seen]) - 4 * torch.log(warm[seen])
    if seen.sum() < 2 or (log_ratio.max() - log_ratio.min()).item() > 1e-2:
        raise CheckFailed("p_{1/4} should be proportional to p_1 to the power 4; yours is not.")
    return (
        f"three valleys, {measured}; the density is normalized at T = 1 and T = 1/4, and "
        "p_{1/4} is proportional to p_1^4, as the Boltzmann form demands."
    )
