r"""Small neural networks: score and energy models of 2-D points, and of small images.

* `ScoreMLP`: $s_\theta: \mathbb{R}^d \to \mathbb{R}^d$, a direct model of the score.
* `EnergyMLP`: $E_\theta: \mathbb{R}^d \to \mathbb{R}$, whose score
  $-\nabla_x E_\theta$ is a true gradient field, computed by autograd.
* `SelfNormalizingEnergy`: an energy with a learned constant $c$, so that
  $-E_\theta - c$ is a log-density (fitted by noise-contrastive estimation).
* `NoiseConditionalScoreMLP`: $s_\theta(x, \sigma)$, for multi-scale models (Chapter 4).
* `TimeConditionalMLP`: $z_\theta(x, t)$, optionally with a class label, for diffusion
  models (Chapter 6).
* `NoiseConditionalScoreCNN`, `TimeConditionalCNN`: the same two for small square images
  (the 8 x 8 digits of Chapter 7), as convolutional U-Nets sized for a CPU.

The MLPs are multilayer perceptrons with SiLU activations (smooth, so that the second
derivatives used by score matching exist everywhere). The CNNs take images flattened to
points ``(N, d)``, as every loss, sampler and metric of the book does.

Input of another floating dtype than the network's (float64 data, say) is cast to the
network's dtype, and the output is returned in the input's dtype, as the energies of
`ebm_book.energies` do: ``model(x) - mixture.score(x)`` works for any ``x``.
"""

from ._conditional import NoiseConditionalScoreMLP, TimeConditionalMLP
from ._conv import NoiseConditionalScoreCNN, TimeConditionalCNN
from ._mlp import EnergyMLP, ScoreMLP, SelfNormalizingEnergy, mlp

__all__ = [
    "EnergyMLP",
    "NoiseConditionalScoreCNN",
    "NoiseConditionalScoreMLP",
    "ScoreMLP",
    "SelfNormalizingEnergy",
    "TimeConditionalCNN",
    "TimeConditionalMLP",
    "mlp",
]
