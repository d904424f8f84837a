r"""Checkers for the book's exercises: instant, specific feedback that never crashes a notebook.

Every exercise has a cell the reader edits (a function whose body starts as
``raise NotImplementedError``) followed by a call to a checker from this package. A
checker runs the reader's function on carefully chosen inputs, prints one line of
feedback, and returns ``True`` or ``False``:

* ``✅`` the answer is right (and why that matters);
* ``❌`` a specific diagnosis: which input, what was expected, what came back, and a hint
  aimed at the usual mistake (a missing factor ½, a flipped sign, an overflow);
* ``⏳`` the function still raises ``NotImplementedError``.

Whatever the reader's code does (raise, return the wrong type, produce NaN) the checker
catches it and explains, so "run all" never stops at an exercise.

One module per chapter holds that chapter's graders (``ch01_energies``, ``ch02_langevin``,
``ch03_score_matching``, ``ch04_annealing``), all built with the framework in
``_framework`` (the `checker` decorator and the `diagnose` helper). A chapter imports
what it needs in one line, from here:

>>> from ebm_book.exercises import check_gaussian_energy
>>> check_gaussian_energy(lambda x, mean, std: (x[:, 0] - mean) ** 2 / (2 * std**2))
✅ Correct! ...
True
"""

from ._framework import (
    CheckFailed,
    CheckResult,
    checker,
    compare_formula,
    diagnose,
    multiple_choice,
)
from .ch01_energies import (
    check_boltzmann_probabilities,
    check_gaussian_energy,
    check_importance_sampling,
)
from .ch02_langevin import check_gaussian_score, check_langevin_step, check_mala_log_acceptance
from .ch03_score_matching import (
    check_denoising_score_matching,
    check_implicit_score_matching,
    check_score_from_noise_prediction,
)
from .ch04_annealing import (
    check_annealed_step_sizes,
    check_geometric_sigmas,
    check_reverse_diffusion_step,
)

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_annealed_step_sizes",
    "check_boltzmann_probabilities",
    "check_denoising_score_matching",
    "check_gaussian_energy",
    "check_gaussian_score",
    "check_geometric_sigmas",
    "check_implicit_score_matching",
    "check_importance_sampling",
    "check_langevin_step",
    "check_mala_log_acceptance",
    "check_reverse_diffusion_step",
    "check_score_from_noise_prediction",
    "checker",
    "compare_formula",
    "diagnose",
    "multiple_choice",
]
