r"""Checkers for the book's exercises: instant, specific feedback that never crashes a notebook.

Every exercise has a cell the reader edits (a function whose body starts as
``raise NotImplementedError``) followed by a call to a checker from this module. A
checker runs the reader's function on carefully chosen inputs, prints one line of
feedback, and returns ``True`` or ``False``:

* ``✅`` the answer is right (and why that matters);
* ``❌`` a specific diagnosis: which input, what was expected, what came back, and a hint
  aimed at the usual mistake (a missing factor ½, a flipped sign, an overflow);
* ``⏳`` the function still raises ``NotImplementedError``.

Whatever the reader's code does (raise, return the wrong type, produce NaN) the checker
catches it and explains, so "run all" never stops at an exercise.

Writing a checker: decorate a function that raises `CheckFailed` with a
message when something is wrong and returns a success message otherwise.

>>> @checker
... def check_double(fn):
...     if fn(2) != 4:
...         raise CheckFailed(f"double(2) should be 4; got {fn(2)!r}.")
...     return "double works."
>>> check_double(lambda x: 2 * x)
✅ Correct! double works.
True
>>> check_double(lambda x: x + 1)
❌ Not yet: double(2) should be 4; got 3.
False
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from .energies import Gaussian

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
]


class CheckFailed(Exception):
    """Raised inside a checker to report a specific, explained mistake."""


class CheckResult:
    """Whether an answer passed: behaves like a ``bool``, and shows nothing in a notebook.

    The checker has already printed its feedback, so a notebook cell that ends with a
    checker call should not also print ``True`` or ``False`` below it.

    Examples
    --------
    >>> result = CheckResult(False)
    >>> bool(result), result == False, result
    (False, True, False)
    """

    def __init__(self, passed: bool) -> None:
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        return self.passed == bool(other)

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return repr(self.passed)

    def _ipython_display_(self) -> None:
        """IPython calls this instead of showing the repr: show nothing."""


def checker(check: Callable[..., str]) -> Callable[..., CheckResult]:
    """Turn a function that raises `CheckFailed` into a never-crashing checker.

    The wrapped checker prints one line of feedback and returns whether the answer passed
    (a `CheckResult`, usable as a ``bool``). Its first argument is the reader's function.
    """

    @functools.wraps(check)
    def run(*args, **kwargs) -> CheckResult:
        if not args or not callable(args[0]):  # e.g. the function's result instead of the function
            got = type(args[0]).__name__ if args else "nothing"
            print(
                f"❌ Not yet: pass your function itself, {check.__name__}(your_function); got {got}."
            )
            return CheckResult(False)
        try:
            message = check(*args, **kwargs)
        except NotImplementedError:
            print("⏳ Not attempted yet: replace `raise NotImplementedError` with your code.")
            return CheckResult(False)
        except CheckFailed as failure:
            print(f"❌ Not yet: {failure}")
            return CheckResult(False)
        except Exception as error:  # the reader's code raised: explain instead of crashing
            print(f"❌ Your code raised {type(error).__name__}: {error}")
            return CheckResult(False)
        print(f"✅ Correct! {message}")
        return CheckResult(True)

    return run


def _real_tensor(result: object, what: str) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch.Tensor; got {type(result).__name__}.")
    if not torch.is_floating_point(result):
        raise CheckFailed(f"{what} should return floating-point numbers; got dtype {result.dtype}.")
    return result


def _as_tensor(result: object, what: str) -> torch.Tensor:
    if torch.isnan(_real_tensor(result, what)).any():
        raise CheckFailed(f"{what} returned NaN.")
    return result


# --- Chapter 1 ---------------------------------------------------------------------------


@checker
def check_gaussian_energy(gaussian_energy: Callable[..., torch.Tensor]) -> str:
    r"""Check ``gaussian_energy(x, mean, std)``: the energy of $\mathcal{N}(\mu, \sigma^2)$.

    Any energy $E(x) = (x-\mu)^2 / (2\sigma^2) + c$ passes, for any constant $c$, because
    constants cancel in $e^{-E}/Z$. The check therefore compares energy *differences*.

    Examples
    --------
    >>> check_gaussian_energy(lambda x, mean, std: (x[:, 0] - mean) ** 2 / (2 * std**2))
    ✅ Correct! ...
    True
    >>> check_gaussian_energy(lambda x, mean, std: (x[:, 0] - mean) ** 2 / (2 * std))
    ❌ Not yet: ... divide by the variance std**2, not by std.
    False
    """
    x = torch.linspace(-3.0, 4.0, 15)[:, None]
    for mean, std in [(0.0, 1.0), (1.0, 0.5), (-2.0, 3.0)]:
        result = _as_tensor(gaussian_energy(x.clone(), mean, std), "gaussian_energy")
        if result.shape != (x.shape[0],):
            raise CheckFailed(
                f"for x of shape {tuple(x.shape)} the energy should have shape ({x.shape[0]},), "
                f"one value per point; got {tuple(result.shape)}. Index the coordinate with x[:, 0]."
            )
        expected = (x[:, 0] - mean) ** 2 / (2 * std**2)
        got_diff, want_diff = result - result[0], expected - expected[0]  # constants cancel
        if torch.allclose(got_diff, want_diff, rtol=1e-4, atol=1e-5):
            continue
        informative = want_diff.abs() > 1e-3  # points where the true difference is not ~0
        ratio = (got_diff[informative] / want_diff[informative]).median().item()
        hint = {
            -1.0: "lower energy must mean higher probability: E is minus the log density.",
            2.0: "did you forget the factor 1/2?",
        }.get(round(ratio, 3))
        if hint is None and std != 1.0 and torch.allclose(got_diff / std, want_diff, rtol=1e-4):
            hint = "divide by the variance std**2, not by std."
        raise CheckFailed(
            f"with mean={mean}, std={std}: E(x) - E(x0) at x={x[-1, 0].item():.1f} should be "
            f"{want_diff[-1].item():.4f}; got {got_diff[-1].item():.4f}. "
            + (hint or "Compare with E(x) = (x - mean)^2 / (2 std^2).")
        )
    return "Your energy matches (x - mean)^2 / (2 std^2) up to an additive constant."


@checker
def check_boltzmann_probabilities(boltzmann_probabilities: Callable[..., torch.Tensor]) -> str:
    r"""Check ``boltzmann_probabilities(energies, temperature)`` $= e^{-E_i/T} / \sum_j e^{-E_j/T}$.

    Includes energies around 1000, where the naive formula overflows to ``inf/inf = nan``.

    Examples
    --------
    >>> check_boltzmann_probabilities(lambda e, t: torch.softmax(-e / t, dim=0))
    ✅ Correct! ...
    True
    >>> naive = lambda e, t: torch.exp(-e / t) / torch.exp(-e / t).sum()
    >>> check_boltzmann_probabilities(naive)
    ❌ Not yet: ... log-sum-exp ...
    False
    """
    cases = [
        (torch.tensor([0.0, 1.0, 2.0]), 1.0),
        (torch.tensor([0.0, 1.0, 2.0]), 0.25),
        (torch.tensor([-3.0, 0.5, 0.5, 4.0]), 2.0),
        (torch.tensor([-1000.0, -999.0, -998.0]), 1.0),
        (torch.tensor([1000.0, 1001.0, 1002.0]), 0.5),
    ]
    for energies, temperature in cases:
        probs = _real_tensor(
            boltzmann_probabilities(energies.clone(), temperature), "boltzmann_probabilities"
        )
        expected = torch.softmax(-energies / temperature, dim=0)
        if not torch.isfinite(probs).all():
            raise CheckFailed(
                f"for energies {energies.tolist()} at T={temperature} you returned "
                f"{probs.tolist()}: exp(-E/T) over- or underflows. Subtract the smallest "
                "energy first (the log-sum-exp trick); the probabilities do not change."
            )
        if probs.shape != expected.shape:
            raise CheckFailed(f"expected shape {tuple(expected.shape)}; got {tuple(probs.shape)}.")
        if torch.allclose(probs, expected, rtol=1e-4, atol=1e-6):
            continue
        if torch.allclose(probs, torch.softmax(energies / temperature, dim=0), atol=1e-6):
            hint = "high energy got high probability: use exp(-E/T), with the minus sign."
        elif torch.allclose(probs, torch.softmax(-energies, dim=0), atol=1e-6):
            hint = "the temperature has no effect in your function: divide E by T."
        elif not math.isclose(probs.sum().item(), 1.0, rel_tol=1e-4):
            hint = f"the probabilities sum to {probs.sum().item():.4f}: divide by Z = sum_j exp(-E_j/T)."
        else:
            hint = "compare with p_i = exp(-E_i/T) / sum_j exp(-E_j/T)."
        raise CheckFailed(
            f"for energies {energies.tolist()} at T={temperature} expected "
            f"{[round(p, 4) for p in expected.tolist()]}; got "
            f"{[round(p, 4) for p in probs.tolist()]}. {hint}"
        )
    return "Normalized, temperature-aware, and stable even at energies around 1000."


@checker
def check_importance_sampling(estimate_z: Callable[..., float]) -> str:
    r"""Check ``estimate_z(energy, proposal, n, generator)``, an importance-sampling estimate of $Z$.

    The target is the 3-D energy $E(x) = \tfrac12 \lVert x - m \rVert^2$ with
    $Z = (2\pi)^{3/2}$; the proposal is a wider Gaussian. With $n = 20\,000$ samples the
    estimator's relative standard error is below 1%, so an answer within 5% is right and
    one outside it is wrong beyond reasonable doubt (more than 5 standard errors).

    Examples
    --------
    >>> def estimate_z(energy, proposal, n, generator):
    ...     x = proposal.sample(n, generator=generator)
    ...     return torch.exp(-energy(x) - proposal.log_prob(x)).mean().item()
    >>> check_importance_sampling(estimate_z)
    ✅ Correct! ...
    True
    """
    mean = torch.tensor([0.5, -0.5, 1.0])
    target = Gaussian(mean)
    proposal = Gaussian(mean + 0.3, cov=1.8)
    true_z = (2 * math.pi) ** 1.5
    generator = torch.Generator().manual_seed(1234)
    result = estimate_z(target, proposal, 20_000, generator)
    if isinstance(result, torch.Tensor):
        if result.numel() != 1:
            raise CheckFailed(
                f"return one number, Z-hat; got a tensor of shape {tuple(result.shape)}."
            )
        result = result.item()
    if not isinstance(result, (int, float)) or not math.isfinite(result):
        raise CheckFailed(f"return a finite float; got {result!r}.")
    if math.isclose(result, true_z, rel_tol=0.05):
        return f"Z-hat = {result:.3f} vs the exact (2 pi)^(3/2) = {true_z:.3f}."
    if math.isclose(result, math.log(true_z), rel_tol=0.05):
        hint = "that is log Z: return Z itself (exponentiate)."
    elif math.isclose(result, 1.0, rel_tol=0.05):
        hint = "weights exp(-E)/q should use the *unnormalized* target exp(-E), not a normalized density."
    else:
        hint = "the weight of a sample is exp(-E(x)) / q(x): divide by the proposal density."
    raise CheckFailed(f"your estimate {result:.4g} is far from Z = {true_z:.4f}; {hint}")


# --- Chapter 2 ---------------------------------------------------------------------------


@checker
def check_gaussian_score(gaussian_score: Callable[..., torch.Tensor]) -> str:
    r"""Check ``gaussian_score(x, mean, cov)`` $= -\Sigma^{-1}(x - \mu)$ for a batch ``x`` of shape ``(N, d)``.

    Examples
    --------
    >>> check_gaussian_score(lambda x, m, c: -(x - m) @ torch.linalg.inv(c))
    ✅ Correct! ...
    True
    >>> check_gaussian_score(lambda x, m, c: -(x - m) @ c)
    ❌ Not yet: ... inverse ...
    False
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 2, generator=g, dtype=torch.float64)
    cases = [
        (torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)),
        (
            torch.tensor([1.0, -2.0], dtype=torch.float64),
            torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64),
        ),
    ]
    for mean, cov in cases:
        result = _as_tensor(gaussian_score(x.clone(), mean.clone(), cov.clone()), "gaussian_score")
        if result.shape != x.shape:
            raise CheckFailed(
                f"the score of a batch of shape {tuple(x.shape)} has the same shape (one gradient "
                f"per point); got {tuple(result.shape)}."
            )
        precision = torch.linalg.inv(cov)
        expected = -(x - mean) @ precision
        if torch.allclose(result.double(), expected, rtol=1e-5, atol=1e-6):
            continue
        if torch.allclose(result.double(), -expected, rtol=1e-5, atol=1e-6):
            hint = "the score points *towards* the mean: it is minus the energy gradient."
        elif torch.allclose(result.double(), -(x - mean) @ cov, rtol=1e-5, atol=1e-6):
            hint = "use the precision matrix, the inverse of the covariance."
        else:
            hint = "compare with s(x) = -Sigma^{-1} (x - mu)."
        raise CheckFailed(f"with mean {mean.tolist()} and cov {cov.tolist()}: {hint}")
    return "The Gaussian score -Sigma^{-1}(x - mu) points to the mean, stronger along narrow directions."


@checker
def check_langevin_step(langevin_step: Callable[..., torch.Tensor]) -> str:
    r"""Check ``langevin_step(x, score, step_size, noise)`` $= x + \frac{\epsilon}{2} s(x) + \sqrt{\epsilon}\,z$.

    The noise $z$ is passed in, so the check is exact, not statistical.

    Examples
    --------
    >>> check_langevin_step(lambda x, s, eps, z: x + eps / 2 * s(x) + eps**0.5 * z)
    ✅ Correct! ...
    True
    >>> check_langevin_step(lambda x, s, eps, z: x + eps * s(x) + (2 * eps) ** 0.5 * z)
    ❌ Not yet: that is the other convention...book uses eps/2 and sqrt(eps).
    False
    """
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 2, generator=g)
    noise = torch.randn(5, 2, generator=g)

    def score(points: torch.Tensor) -> torch.Tensor:
        return -2.0 * points + 1.0

    step = 0.09
    result = _as_tensor(langevin_step(x.clone(), score, step, noise.clone()), "langevin_step")
    if result.shape != x.shape:
        raise CheckFailed(
            f"return the new points, shape {tuple(x.shape)}; got {tuple(result.shape)}."
        )

    def update(drift: float, noise_scale: float) -> torch.Tensor:
        return x + drift * score(x) + noise_scale * noise

    if torch.allclose(result, update(step / 2, step**0.5), atol=1e-6):
        return "x + (eps/2) s(x) + sqrt(eps) z, the book's convention (Song & Ermon 2019)."
    diagnoses = [
        (update(step, (2 * step) ** 0.5), "that is the other convention, x + eps s + sqrt(2 eps) z; the book uses eps/2 and sqrt(eps)."),
        (update(step, step**0.5), "the drift is (eps/2) s(x), half the step size."),
        (update(step / 2, step), "the noise is scaled by sqrt(eps), not eps."),
        (update(step / 2, 0.0), "you forgot the noise: without it this is gradient ascent, which collapses onto the modes."),
        (update(-step / 2, step**0.5), "move *along* the score (uphill in log p): + (eps/2) s(x)."),
    ]  # fmt: skip
    for wrong, hint in diagnoses:
        if torch.allclose(result, wrong, atol=1e-6):
            raise CheckFailed(hint)
    raise CheckFailed("compare with x + (eps/2) * score(x) + sqrt(eps) * noise.")


@checker
def check_mala_log_acceptance(mala_log_acceptance: Callable[..., torch.Tensor]) -> str:
    r"""Check ``mala_log_acceptance(x, y, energy, score, step_size)``: the log of MALA's ratio.

    $$
    \log \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}
    = E(x) - E(y) - \frac{\lVert x - y - \frac{\epsilon}{2}s(y)\rVert^2 - \lVert y - x - \frac{\epsilon}{2}s(x)\rVert^2}{2\epsilon},
    $$

    one value per chain (before taking the minimum with 0, which does not matter for
    the accept test $\log u < \log a(x, y)$).

    Examples
    --------
    >>> def reference(x, y, energy, score, eps):
    ...     log_q = lambda to, frm: -((to - frm - eps / 2 * score(frm)) ** 2).sum(1) / (2 * eps)
    ...     return energy(x) - energy(y) + log_q(x, y) - log_q(y, x)
    >>> check_mala_log_acceptance(reference)
    ✅ Correct! ...
    True
    >>> check_mala_log_acceptance(lambda x, y, energy, score, eps: energy(x) - energy(y))
    ❌ Not yet: ... proposal ...
    False
    """
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 2, generator=g, dtype=torch.float64)
    y = x + 0.4 * torch.randn(7, 2, generator=g, dtype=torch.float64)

    def energy(points: torch.Tensor) -> torch.Tensor:
        return 0.5 * (points**2).sum(1) + 0.3 * points[:, 0] ** 4

    def score(points: torch.Tensor) -> torch.Tensor:
        return -points - torch.stack([1.2 * points[:, 0] ** 3, torch.zeros_like(points[:, 0])], 1)

    step = 0.3

    def log_q(to: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
        return -((to - origin - step / 2 * score(origin)) ** 2).sum(1) / (2 * step)

    result = _as_tensor(
        mala_log_acceptance(x.clone(), y.clone(), energy, score, step), "mala_log_acceptance"
    )
    if result.shape != (x.shape[0],):
        raise CheckFailed(
            f"return one log ratio per chain, shape ({x.shape[0]},); got {tuple(result.shape)}."
        )
    expected = energy(x) - energy(y) + log_q(x, y) - log_q(y, x)
    result = result.double()
    if torch.allclose(result, expected, atol=1e-6):
        return "with the proposal correction q(x|y)/q(y|x), MALA is exact for any step size."
    if torch.allclose(result, energy(x) - energy(y), atol=1e-6):
        hint = "that is only p(y)/p(x): add the proposal correction log q(x|y) - log q(y|x)."
    elif torch.allclose(result, energy(y) - energy(x) + log_q(x, y) - log_q(y, x), atol=1e-6):
        hint = "p(y)/p(x) = exp(E(x) - E(y)): the energy difference has the wrong sign."
    elif torch.allclose(result, energy(x) - energy(y) - log_q(x, y) + log_q(y, x), atol=1e-6):
        hint = "the proposal ratio is upside down: it is q(x|y) / q(y|x), the reverse move on top."
    else:
        hint = "compare with E(x) - E(y) + log q(x|y) - log q(y|x), q(a|b) = N(a; b + (eps/2) s(b), eps I)."
    raise CheckFailed(hint)


# --- Chapter 3 ---------------------------------------------------------------------------


class _TinyScore(torch.nn.Module):
    r"""A small fixed score model $s(x) = W_2 \tanh(W_1 x + b_1) - x$ in double precision.

    Its parameters come from a private generator, so a checker never touches the reader's
    global random state, and its Jacobian is far from diagonal, so that a trace computed
    from the wrong entries shows up.
    """

    def __init__(self, dim: int = 3, hidden: int = 8, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.nn.Parameter(torch.randn(hidden, dim, generator=g, dtype=torch.float64))
        self.b1 = torch.nn.Parameter(torch.randn(hidden, generator=g, dtype=torch.float64))
        self.w2 = torch.nn.Parameter(
            torch.randn(dim, hidden, generator=g, dtype=torch.float64) / hidden**0.5
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w1.T + self.b1) @ self.w2.T - x


def _as_scalar_loss(result: object, what: str, n: int) -> torch.Tensor:
    result = _as_tensor(result, what)
    if result.numel() != 1:
        hint = (
            "that is one value per point: average them with .mean()."
            if result.shape == (n,)
            else "sum over the coordinates, then average over the points."
        )
        raise CheckFailed(
            f"{what} should return one number (a 0-d tensor); got shape {tuple(result.shape)}: {hint}"
        )
    return result.reshape(())


def _parameter_gradients(loss: torch.Tensor, model: torch.nn.Module) -> list[torch.Tensor]:
    grads = torch.autograd.grad(
        loss, list(model.parameters()), allow_unused=True, retain_graph=True
    )
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, model.parameters())]


@checker
def check_implicit_score_matching(implicit_score_matching_loss: Callable[..., torch.Tensor]) -> str:
    r"""Check ``implicit_score_matching_loss(model, x)`` $= \frac1N\sum_n \big[\tfrac12\lVert s(x_n)\rVert^2 + \operatorname{tr}\nabla_x s(x_n)\big]$.

    The value is compared with the exact one, and so is its gradient with respect to the
    model's parameters (a trace computed without ``create_graph=True`` has the right
    value but no gradient, and the model would not learn from it).

    Examples
    --------
    >>> from ebm_book.score import jacobian_trace
    >>> def ism(model, x):
    ...     x = x.requires_grad_(True)
    ...     s = model(x)
    ...     return (0.5 * (s**2).sum(1) + jacobian_trace(model, x, create_graph=True)).mean()
    >>> check_implicit_score_matching(ism)
    ✅ Correct! ...
    True
    >>> check_implicit_score_matching(lambda model, x: 0.5 * (model(x) ** 2).sum(1).mean())
    ❌ Not yet: ... trace ...
    False
    """
    model = _TinyScore()
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    result = _as_scalar_loss(
        implicit_score_matching_loss(model, x.clone()), "implicit_score_matching_loss", len(x)
    )
    xg = x.clone().requires_grad_(True)
    scores = model(xg)
    jacobian = torch.stack(
        [torch.autograd.grad(scores[:, i].sum(), xg, create_graph=True)[0] for i in range(3)], 1
    )  # (N, i, j) = d s_i / d x_j
    half_norm = 0.5 * (scores**2).sum(1)
    trace = jacobian.diagonal(dim1=1, dim2=2).sum(1)
    expected = (half_norm + trace).mean()
    value = result.detach().double()
    if not torch.isclose(value, expected.detach(), rtol=1e-5, atol=1e-8):
        diagnoses = [
            ((2 * half_norm + trace).mean(), "the squared norm needs its factor 1/2: 0.5 * ||s(x)||^2."),
            (half_norm.mean(), "you left out the trace term tr(grad_x s(x)), which replaces the unknown true score."),
            ((half_norm - trace).mean(), "the trace enters with a plus sign: E[0.5 ||s||^2 + tr(grad s)]. Integration by parts flips the sign of the cross term -E[s . grad log p]."),
            ((half_norm + jacobian.sum((1, 2))).mean(), "that adds *all* entries of the Jacobian (one backward pass of s.sum()). The trace keeps only the diagonal d s_i / d x_i: one backward pass of s_i per coordinate i, keeping entry i of its gradient."),
            ((half_norm + trace).mean() / 3, "sum over the coordinates and average over the points; .mean() over both divides by d."),
            ((half_norm / 3 + trace).mean(), "sum the squares over the coordinates: 0.5 * (s**2).sum(dim=1), not .mean(dim=1)."),
        ]  # fmt: skip
        for wrong, hint in diagnoses:
            if torch.isclose(value, wrong.detach(), rtol=1e-5, atol=1e-8):
                raise CheckFailed(hint)
        raise CheckFailed(
            f"expected {expected.item():.6f}; got {value.item():.6f}. Compare with "
            "mean over points of 0.5 * ||s(x)||^2 + sum_i d s_i / d x_i."
        )
    if not result.requires_grad:
        raise CheckFailed(
            "the value is right, but the loss is detached from the model's parameters, so "
            "training could not use it. Do not call .detach(), .item() or torch.no_grad()."
        )
    got = _parameter_gradients(result, model)
    want = _parameter_gradients(expected, model)
    if not all(torch.allclose(a.double(), b, rtol=1e-4, atol=1e-8) for a, b in zip(got, want)):
        trace_only = _parameter_gradients(half_norm.mean(), model)
        if all(
            torch.allclose(a.double(), b, rtol=1e-4, atol=1e-8) for a, b in zip(got, trace_only)
        ):
            raise CheckFailed(
                "the value is right, but the trace term carries no gradient: compute it with "
                "torch.autograd.grad(..., create_graph=True), so that training can "
                "differentiate through it."
            )
        raise CheckFailed(
            "the value is right, but its gradient with respect to the parameters is not."
        )
    return (
        f"J_ISM = {expected.item():.4f}, and its gradient trains the model. "
        "It cost d = 3 backward passes for the trace; Section 3.3 counts that cost."
    )


@checker
def check_denoising_score_matching(
    denoising_score_matching_loss: Callable[..., torch.Tensor],
) -> str:
    r"""Check ``denoising_score_matching_loss(model, x, z, sigma)`` $= \frac{1}{2N}\sum_n \lVert s(x_n + \sigma z_n) + z_n/\sigma\rVert^2$.

    The noise $z$ is passed in, so the check is exact. Two noise levels are tried, so
    that $\sigma$ and $\sigma^2$ cannot be confused.

    Examples
    --------
    >>> def dsm(model, x, z, sigma):
    ...     return 0.5 * ((model(x + sigma * z) + z / sigma) ** 2).sum(1).mean()
    >>> check_denoising_score_matching(dsm)
    ✅ Correct! ...
    True
    >>> check_denoising_score_matching(lambda m, x, z, s: 0.5 * ((m(x + s * z) - z / s) ** 2).sum(1).mean())
    ❌ Not yet: ... sign ...
    False
    """
    model = _TinyScore(dim=2, seed=1)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(50, 2, generator=g, dtype=torch.float64)
    z = torch.randn(50, 2, generator=g, dtype=torch.float64)
    for sigma in (0.5, 0.2):
        result = _as_scalar_loss(
            denoising_score_matching_loss(model, x.clone(), z.clone(), sigma),
            "denoising_score_matching_loss",
            len(x),
        )

        def loss(at: torch.Tensor, target: torch.Tensor, factor: float = 0.5) -> torch.Tensor:
            return factor * ((model(at) - target) ** 2).sum(1).mean()

        noisy = x + sigma * z
        expected = loss(noisy, -z / sigma)
        value = result.detach().double()
        if torch.isclose(value, expected.detach(), rtol=1e-6, atol=1e-9):
            if not result.requires_grad:
                raise CheckFailed(
                    "the value is right, but the loss is detached from the model's parameters: "
                    "do not call .detach(), .item() or torch.no_grad()."
                )
            continue
        diagnoses = [
            (loss(noisy, z / sigma), "wrong sign of the target: the score of N(x~; x, sigma^2 I) is -(x~ - x)/sigma^2 = -z/sigma, so the residual is s(x~) + z/sigma."),
            (loss(noisy, -z / sigma**2), "the target is -(x~ - x)/sigma^2 with x~ - x = sigma z, which is -z/sigma, not -z/sigma^2."),
            (loss(noisy, -sigma * z), "the target is -(x~ - x)/sigma^2 = -z/sigma: divide by sigma, do not multiply."),
            (loss(noisy, -z / sigma, 1.0), "the loss has a factor 1/2: 0.5 * ||s(x~) + z/sigma||^2."),
            (loss(x, -z / sigma), "evaluate the model at the noisy point x~ = x + sigma z, not at the clean x."),
            (loss(noisy, -z / sigma) / 2, "sum the squares over the coordinates and average over the points; .mean() over both divides by d = 2."),
            (loss(x + z, -z / sigma), "the noisy point is x + sigma * z: scale the noise by sigma."),
        ]  # fmt: skip
        for wrong, hint in diagnoses:
            if torch.isclose(value, wrong.detach(), rtol=1e-6, atol=1e-9):
                raise CheckFailed(f"with sigma = {sigma}: {hint}")
        raise CheckFailed(
            f"with sigma = {sigma}: expected {expected.item():.6f}; got {value.item():.6f}. "
            "Compare with 0.5 * mean over points of ||s(x + sigma z) + z / sigma||^2."
        )
    return "No true score and no trace: only noise, one forward pass, and a regression."


@checker
def check_score_from_noise_prediction(
    score_from_noise_prediction: Callable[..., torch.Tensor],
) -> str:
    r"""Check ``score_from_noise_prediction(eps, alpha_bar)`` $= -z_\theta / \sqrt{1 - \bar\alpha_t}$.

    With DDPM's noisy data $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,z$,
    the noise has standard deviation $\sqrt{1-\bar\alpha_t}$, and a network $z_\theta$ that
    predicts $z$ (DDPM's $\epsilon_\theta$; ``eps`` in code) gives the score
    $-z_\theta / \sqrt{1-\bar\alpha_t}$.

    Examples
    --------
    >>> check_score_from_noise_prediction(lambda eps, a: -eps / (1 - a) ** 0.5)
    ✅ Correct! ...
    True
    >>> check_score_from_noise_prediction(lambda eps, a: -eps / (1 - a))
    ❌ Not yet: ... standard deviation ...
    False
    """
    eps = torch.randn(6, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for alpha_bar in (0.9, 0.5, 0.19):
        result = _as_tensor(
            score_from_noise_prediction(eps.clone(), alpha_bar), "score_from_noise_prediction"
        )
        if result.shape != eps.shape:
            raise CheckFailed(
                f"return one score per point, shape {tuple(eps.shape)}; got {tuple(result.shape)}."
            )
        result = result.double()
        std = (1 - alpha_bar) ** 0.5
        if torch.allclose(result, -eps / std, rtol=1e-6, atol=1e-9):
            continue
        diagnoses = [
            (eps / std, "wrong sign: the noise points away from the clean data, the score points back, s = -eps / sqrt(1 - alpha_bar)."),
            (-eps / (1 - alpha_bar), "divide by the standard deviation of the noise, sqrt(1 - alpha_bar), not by its variance."),
            (-eps * std, "divide by sqrt(1 - alpha_bar), do not multiply: the score of N(x_t; sqrt(alpha_bar) x_0, (1 - alpha_bar) I) is -eps / sqrt(1 - alpha_bar)."),
            (-eps / alpha_bar**0.5, "sqrt(alpha_bar) scales the clean data; the noise is scaled by sqrt(1 - alpha_bar)."),
            (-eps, "the scale is missing: -eps is the score only when the noise has unit variance; divide by sqrt(1 - alpha_bar)."),
        ]  # fmt: skip
        for wrong, hint in diagnoses:
            if torch.allclose(result, wrong, rtol=1e-6, atol=1e-9):
                raise CheckFailed(f"with alpha_bar = {alpha_bar}: {hint}")
        raise CheckFailed(f"with alpha_bar = {alpha_bar}: compare with -eps / sqrt(1 - alpha_bar).")
    return "s = -eps / sqrt(1 - alpha_bar): a noise predictor is a score model in disguise."


# --- Chapter 4 ---------------------------------------------------------------------------


@checker
def check_geometric_sigmas(geometric_sigmas: Callable[..., torch.Tensor]) -> str:
    r"""Check ``geometric_sigmas(sigma_max, sigma_min, n_levels)``: a geometric sequence, largest first.

    Examples
    --------
    >>> check_geometric_sigmas(
    ...     lambda hi, lo, n: hi * (lo / hi) ** torch.linspace(0, 1, n)
    ... )
    ✅ Correct! ...
    True
    >>> check_geometric_sigmas(lambda hi, lo, n: torch.linspace(hi, lo, n))
    ❌ Not yet: ... constant ratio ...
    False
    """
    for high, low, n in [(10.0, 0.1, 5), (3.0, 0.01, 12)]:
        result = _as_tensor(geometric_sigmas(high, low, n), "geometric_sigmas")
        expected = high * (low / high) ** torch.linspace(0, 1, n, dtype=torch.float64)
        if result.shape != (n,):
            raise CheckFailed(f"return {n} levels, shape ({n},); got shape {tuple(result.shape)}.")
        result = result.double()
        if torch.allclose(result, expected, rtol=1e-4):
            continue
        if torch.allclose(result, expected.flip(0), rtol=1e-4):
            hint = "the largest noise level comes first: sigma_1 = sigma_max."
        elif torch.allclose(result, torch.linspace(high, low, n, dtype=torch.float64), rtol=1e-4):
            hint = "those are evenly spaced; consecutive levels need a constant ratio sigma_i / sigma_(i+1)."
        else:
            hint = f"expected {[round(v, 4) for v in expected.tolist()]}."
        raise CheckFailed(f"for sigma_max={high}, sigma_min={low}, n_levels={n}: {hint}")
    return "a constant ratio between levels: the same relative change at every scale."


@checker
def check_annealed_step_sizes(step_sizes: Callable[..., torch.Tensor]) -> str:
    r"""Check ``step_sizes(sigmas, eps)`` $= \epsilon\,\sigma_i^2/\sigma_L^2$.

    Examples
    --------
    >>> check_annealed_step_sizes(lambda s, eps: eps * s**2 / s[-1] ** 2)
    ✅ Correct! ...
    True
    >>> check_annealed_step_sizes(lambda s, eps: eps * s / s[-1])
    ❌ Not yet: ... squares ...
    False
    """
    sigmas = torch.tensor([5.0, 1.0, 0.2, 0.04], dtype=torch.float64)
    eps = 2e-3
    result = _as_tensor(step_sizes(sigmas.clone(), eps), "step_sizes").double()
    expected = eps * sigmas**2 / sigmas[-1] ** 2
    if result.shape != sigmas.shape:
        raise CheckFailed(f"return one step size per level, shape (4,); got {tuple(result.shape)}.")
    if torch.allclose(result, expected, rtol=1e-6):
        return "eps_i = eps sigma_i^2 / sigma_L^2: the step is eps at the last level."
    if torch.allclose(result, eps * sigmas / sigmas[-1], rtol=1e-6):
        hint = "use the squares of the noise levels: eps_i = eps sigma_i^2 / sigma_L^2."
    elif torch.allclose(result, eps * sigmas**2 / sigmas[0] ** 2, rtol=1e-6):
        hint = "divide by the *smallest* level, sigma_L (the last one), so the last step is eps."
    else:
        hint = f"expected {[float(f'{v:.4g}') for v in expected.tolist()]}."
    raise CheckFailed(hint)


@checker
def check_reverse_diffusion_step(reverse_step: Callable[..., torch.Tensor]) -> str:
    r"""Check one reverse-diffusion step of the VE SDE, with the noise passed in.

    $x \leftarrow x + (\sigma_i^2 - \sigma_{i+1}^2)\,s(x, \sigma_i) + \sqrt{\sigma_i^2 - \sigma_{i+1}^2}\,z$.

    Examples
    --------
    >>> def step(x, score, s_now, s_next, z):
    ...     v = s_now**2 - s_next**2
    ...     return x + v * score(x, s_now) + v**0.5 * z
    >>> check_reverse_diffusion_step(step)
    ✅ Correct! ...
    True
    """
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, 2, generator=g, dtype=torch.float64)
    z = torch.randn(6, 2, generator=g, dtype=torch.float64)

    def score(points: torch.Tensor, sigma: float) -> torch.Tensor:
        return -points / (1 + sigma**2)

    s_now, s_next = 2.0, 1.5
    result = _as_tensor(reverse_step(x.clone(), score, s_now, s_next, z.clone()), "reverse_step")
    if result.shape != x.shape:
        raise CheckFailed(
            f"return the new points, shape {tuple(x.shape)}; got {tuple(result.shape)}."
        )
    variance = s_now**2 - s_next**2
    expected = x + variance * score(x, s_now) + variance**0.5 * z
    result = result.double()
    if torch.allclose(result, expected, atol=1e-6):
        return "the drift and the noise both use the variance removed between the two levels."
    diagnoses = [
        (x + variance / 2 * score(x, s_now) + variance**0.5 * z, "the reverse SDE's drift is the full (sigma_i^2 - sigma_(i+1)^2) s, not half of it (that is Langevin's factor)."),
        (x + (s_now - s_next) * score(x, s_now) + (s_now - s_next) ** 0.5 * z, "use the difference of the *squared* levels, sigma_i^2 - sigma_(i+1)^2."),
        (x + variance * score(x, s_now), "you forgot the noise term sqrt(sigma_i^2 - sigma_(i+1)^2) z (without it, see the probability-flow ODE)."),
    ]  # fmt: skip
    for wrong, hint in diagnoses:
        if torch.allclose(result, wrong, atol=1e-6):
            raise CheckFailed(hint)
    raise CheckFailed(
        "compare with x + (s_i^2 - s_(i+1)^2) score(x, s_i) + sqrt(s_i^2 - s_(i+1)^2) z."
    )
