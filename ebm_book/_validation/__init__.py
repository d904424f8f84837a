"""Input checks shared by the package: bad input fails at once, with a message that names
the argument, shows what was received and says what is expected.

Every public function checks its arguments with these helpers, at its boundary, instead
of letting a wrong shape or a NaN travel deep into torch and come back as a cryptic
error or a silent NaN. The helpers live in four small modules: `scalars` (numbers,
counts, generators), `points` (batches of points, labels, noise levels, schedules, times, boxes),
`functions` (the caller's functions and what they return) and `mixtures` (the
parameters of Gaussian mixtures). The book follows one policy per question:

* **Kinds and values.** The wrong kind of object (not a tensor, not a number, not a
  function, a function with the wrong arguments) raises ``TypeError``; the right kind
  with a wrong shape, dtype or value raises ``ValueError``.
* **Points** (data, samples, start states, evaluation points) are floating-point tensors
  of shape ``(N, d)``, not empty, and finite. A NaN or inf is rejected, naming the
  argument and its first bad row, instead of flowing through as a NaN result.
* **Dtypes.** Integer tensors of points are rejected (the fix, ``x.float()``, is in the
  message): they are almost always a mistake. Every floating dtype is accepted. Energies
  compute in the dtype of their input; the networks of `ebm_book.nets` cast float64
  input to their own dtype and return their output in the input's dtype, so that
  ``model(x)`` can be compared with an exact score at the same ``x``. Accepted rather
  than rejected because float64 is what ``torch.tensor`` makes of NumPy data and what
  the quadrature grids use, and a float32 network loses nothing by reading it.
* **Random generators.** ``generator`` is a ``torch.Generator`` (on the device where the
  noise is drawn) or ``None``. An integer seed is rejected, and the message points to
  ``ebm_book.seeds.generator(n)``: every seed of the book goes through `ebm_book.seeds`
  so that a seed shift changes all of them at once, and an integer accepted here would
  escape it (and one integer passed to two calls would silently reuse the same noise).
* **Numbers.** A real parameter accepts an int (``step_size=1``), a float or a
  one-element tensor, but not a string or a bool; a count must be an integer (``1e4``
  is a float: write ``10_000``). Noise schedules accept tensors, lists and tuples.
* **Functions the caller supplies** (energies, scores, log-densities, models): their
  signature is checked before the first call, and what they return at the first call,
  for its shape and for NaN (an energy may be ``+inf``: zero probability). In a loop only
  the first call is checked; samplers then check the chains after every step and, when
  one leaves the finite numbers, say whether the score returned NaN at ordinary points
  (a bug in the score) or the chains grew first (a step size too large). Inside a loss
  a model's NaN output is not an error: it becomes the loss, which
  `ebm_book.training.train` checks at every step, blaming the model or the loss at the
  first step and the learning rate later.
"""

from .functions import (
    call_checked,
    draw_from_proposal,
    require_callable,
    require_depends_on_input,
    require_energy_values,
    require_first_call,
    require_proposal,
    require_vector_field,
)
from .mixtures import as_float_tensor, mixture_covariances, mixture_weights, require_covariances
from .points import (
    all_finite,
    require_bounds,
    require_labels,
    require_noise_levels,
    require_points,
    require_sigmas,
    require_time_grid,
    require_times,
)
from .scalars import (
    require_generator,
    require_in_interval,
    require_int,
    require_non_negative,
    require_positive,
    require_real,
)

__all__ = [
    "all_finite",
    "as_float_tensor",
    "call_checked",
    "draw_from_proposal",
    "require_bounds",
    "require_callable",
    "require_covariances",
    "require_depends_on_input",
    "require_energy_values",
    "require_first_call",
    "require_generator",
    "require_in_interval",
    "require_int",
    "require_labels",
    "require_noise_levels",
    "require_non_negative",
    "require_points",
    "require_positive",
    "require_proposal",
    "require_real",
    "require_sigmas",
    "require_time_grid",
    "require_times",
    "require_vector_field",
    "mixture_covariances",
    "mixture_weights",
]
