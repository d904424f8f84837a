r"""How good are the samples? Distances between sample sets, mode and class weights, score errors.

* `mmd`: the maximum mean discrepancy with a Gaussian kernel (Gretton et al., 2012).
* `sliced_wasserstein`: the sliced 2-Wasserstein distance, through 1-D projections.
* `frechet_distance`: the Fréchet distance of the Gaussians fitted to two sets (the idea
  of the FID), with its closed form `gaussian_frechet_distance`.
* `nearest_neighbours`: each sample's nearest point of a reference set (the memorisation
  check: are generated images copies of training images?).
* `mode_weights`: which fraction of the samples sits in each mode of a mixture.
* `class_histogram`, `class_coverage`: the same for classes, and how evenly they are covered.
* `LogisticClassifier`: a classifier of the real data that judges generated samples, and
  `sample_quality`: its three measures (confident share, class coverage, Fréchet distance
  of its features) at once.
* `fisher_divergence`: the mean squared difference of two score functions (the Fisher
  divergence $D_F$, without a factor $\tfrac12$, when the points are samples of the first).

Sample-based distances are never exactly zero for two finite samples of the same
distribution: compare a model's value with the value for a fresh sample of the target
(the *finite-sample floor*), as the book's tables do.
"""

from ._classifier import LogisticClassifier, SampleQuality, sample_quality
from ._distances import (
    Neighbours,
    frechet_distance,
    gaussian_frechet_distance,
    mmd,
    nearest_neighbours,
    sliced_wasserstein,
)
from ._distances import median_bandwidth as median_bandwidth  # public, as before the split
from ._modes import class_coverage, class_histogram, mode_weights
from ._scores import fisher_divergence

__all__ = [
    "LogisticClassifier",
    "Neighbours",
    "SampleQuality",
    "class_coverage",
    "class_histogram",
    "fisher_divergence",
    "frechet_distance",
    "gaussian_frechet_distance",
    "mmd",
    "mode_weights",
    "nearest_neighbours",
    "sample_quality",
    "sliced_wasserstein",
]
