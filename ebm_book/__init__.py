"""ebm_book: the companion package of *Energy-Based Models and the Score Function*.

One concept per module (see the book's API reference):

- `energies`: energy functions and their Boltzmann distributions;
- `mixtures`: Gaussian mixtures, with exact scores, samples and noisy versions;
- `examples`: the book's example distributions, made in one place;
- `partition`: estimators of the partition function (quadrature, Monte Carlo, importance
  sampling, annealed importance sampling), and exact log-likelihoods and samples in 2-D;
- `score`: the score function by autograd;
- `sampling`: Langevin dynamics, MALA, annealed Langevin, reverse SDE and probability flow;
- `processes`: noise processes of diffusion models (variance exploding and preserving);
- `ddpm`: DDPM's noise schedule, its discrete chain and its training loss;
- `diffusion`: stochastic samplers of diffusion models, written once for every noise process;
- `flow`: the probability-flow ODE: deterministic samplers and exact likelihoods;
- `guidance`: classifier-free guidance;
- `metrics`: sample-quality measures (MMD, sliced Wasserstein, Fréchet distance, nearest
  neighbours, mode and class weights, a classifier that judges generated digits);
- `losses`: training objectives: score matching (explicit, implicit, sliced, denoising),
  contrastive divergence, noise-contrastive estimation;
- `contrastive`: maximum-likelihood training of energies with short-run Langevin chains,
  persistent chains and a replay buffer;
- `nets`: small score and energy networks, noise- and time-conditional networks (MLPs, and
  convolutional ones for small images), and an energy with a learned log-normalizer;
- `noise`: noise-level schedules and the NCSNv2 heuristics;
- `training`: one plain, seeded training loop;
- `datasets`: seeded 2-D toy data, and the handwritten digits (8 x 8 images);
- `plotting`: the book's figures and house style, and grids of images;
- `display`: text computed from results, tables and animations for notebooks;
- `seeds`: every seed of the book, from one place (and the seed shift);
- `claims`: statements of the text, checked against the results;
- `exercises`: checkers that give instant feedback on exercises.
"""

from . import (
    claims,
    contrastive,
    datasets,
    ddpm,
    diffusion,
    display,
    energies,
    examples,
    exercises,
    flow,
    guidance,
    losses,
    metrics,
    mixtures,
    nets,
    noise,
    partition,
    plotting,
    processes,
    sampling,
    score,
    seeds,
    training,
)

__version__ = "0.1.0"

__all__ = [
    "claims",
    "contrastive",
    "datasets",
    "ddpm",
    "diffusion",
    "display",
    "energies",
    "examples",
    "exercises",
    "flow",
    "guidance",
    "losses",
    "metrics",
    "mixtures",
    "nets",
    "noise",
    "partition",
    "plotting",
    "processes",
    "sampling",
    "score",
    "seeds",
    "training",
]
