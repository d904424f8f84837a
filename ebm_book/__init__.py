"""ebm_book: the companion package of *Energy-Based Models and the Score Function*.

One concept per module (see the book's API reference):

- :mod:`ebm_book.energies`: energy functions and their Boltzmann distributions;
- :mod:`ebm_book.partition`: estimators of the partition function;
- :mod:`ebm_book.score`: the score function by autograd;
- :mod:`ebm_book.sampling`: Langevin dynamics and MALA;
- :mod:`ebm_book.metrics`: sample-quality measures (MMD, sliced Wasserstein, mode weights);
- :mod:`ebm_book.losses`: score-matching objectives (explicit, implicit, sliced, denoising);
- :mod:`ebm_book.nets`: small score and energy networks;
- :mod:`ebm_book.training`: one plain, seeded training loop;
- :mod:`ebm_book.datasets`: seeded 2-D toy data;
- :mod:`ebm_book.plotting`: the book's figures and house style;
- :mod:`ebm_book.exercises`: checkers that give instant feedback on exercises.
"""

from . import (
    datasets,
    energies,
    exercises,
    losses,
    metrics,
    nets,
    partition,
    plotting,
    sampling,
    score,
    training,
)

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "energies",
    "exercises",
    "losses",
    "metrics",
    "nets",
    "partition",
    "plotting",
    "sampling",
    "score",
    "training",
]
