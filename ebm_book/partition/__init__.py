r"""Estimating the partition function $Z_T = \int e^{-E(x)/T}\,\mathrm{d}x$.

Four estimators, in the order the book meets them:

* `quadrature_partition`: a tensor-product trapezoidal rule on a box. Exact in
  the limit, but a grid of $m$ points per axis costs $m^d$ energy evaluations.
* `monte_carlo_partition`: uniform samples in a box,
  $\hat Z = V \cdot \frac1n \sum_i e^{-E(x_i)/T}$.
* `importance_sampling_partition`: samples from a proposal $q$,
  $\hat Z = \frac1n \sum_i e^{-E(x_i)/T} / q(x_i)$.
* `annealed_importance_sampling`: importance sampling along a path of densities from $q$
  to $p_T$, with MCMC moves in between (Neal, 2001); it keeps working in dimensions where
  plain importance sampling has collapsed.

All four return a `PartitionEstimate`. In 2-D, where quadrature is exact, the grid also
normalizes any energy: `grid_log_likelihood` gives each point's exact log-likelihood (to
compare trained energies), and `grid_sample` exact samples (to compare samplers with). Sums of exponentials are done in log
space (``logsumexp``) so that huge or tiny $Z$ do not overflow.
"""

from ._annealed import annealed_importance_sampling
from ._estimate import PartitionEstimate
from ._quadrature import grid_log_likelihood, grid_sample, quadrature_partition, tensor_grid
from ._sampling import importance_sampling_partition, monte_carlo_partition

__all__ = [
    "PartitionEstimate",
    "annealed_importance_sampling",
    "grid_log_likelihood",
    "grid_sample",
    "importance_sampling_partition",
    "monte_carlo_partition",
    "quadrature_partition",
    "tensor_grid",
]
