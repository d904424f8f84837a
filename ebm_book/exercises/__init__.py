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
``ch03_score_matching``, ``ch04_annealing``, ``ch05_likelihood``, ``ch06_diffusion``, ``ch07_digits``;
each may gather graders from topic modules beside it), all built with the framework in ``_framework`` (the `checker` decorator, the
`diagnose`, `compare_formula` and `multiple_choice` helpers). A chapter imports its
graders in one line from its module; all of them are also available from here:

>>> import torch
>>> from ebm_book.exercises import check_boltzmann_probabilities
>>> check_boltzmann_probabilities(lambda energies, t: torch.softmax(-energies / t, dim=0))
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
    check_error_bar_diagnosis,
    check_gaussian_partition_function,
    check_importance_sampling,
    check_three_well,
)
from .ch02_langevin import (
    check_gaussian_score,
    check_langevin_sampler,
    check_mala_log_acceptance,
    check_runaway_chain,
    check_variance_after,
)
from .ch03_score_matching import (
    check_gaussian_c_sigma,
    check_implicit_score_matching,
    check_score_training,
    check_small_sigma_diagnosis,
)
from .ch04_annealing import (
    check_annealed_langevin,
    check_geometric_sigmas,
    check_merging_sigma,
    check_multi_noise_loss,
    check_ncsn_samples,
    check_reverse_diffusion_step,
    check_stuck_weights,
)
from .ch05_likelihood import (
    check_log_z_gradient,
    check_pcd_loss,
    check_runaway_diagnosis,
)
from .ch06_diffusion import check_ddim, check_flow_velocity, check_wrong_prior
from .ch07_digits import check_closer_probability, check_inpainting_step, check_truncated_model

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_annealed_langevin",
    "check_boltzmann_probabilities",
    "check_closer_probability",
    "check_ddim",
    "check_error_bar_diagnosis",
    "check_flow_velocity",
    "check_gaussian_c_sigma",
    "check_gaussian_partition_function",
    "check_gaussian_score",
    "check_geometric_sigmas",
    "check_implicit_score_matching",
    "check_importance_sampling",
    "check_inpainting_step",
    "check_langevin_sampler",
    "check_log_z_gradient",
    "check_mala_log_acceptance",
    "check_merging_sigma",
    "check_multi_noise_loss",
    "check_ncsn_samples",
    "check_pcd_loss",
    "check_reverse_diffusion_step",
    "check_runaway_chain",
    "check_runaway_diagnosis",
    "check_score_training",
    "check_small_sigma_diagnosis",
    "check_stuck_weights",
    "check_three_well",
    "check_truncated_model",
    "check_variance_after",
    "check_wrong_prior",
    "checker",
    "compare_formula",
    "diagnose",
    "multiple_choice",
]
