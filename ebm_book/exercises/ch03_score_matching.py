r"""Chapter 3: the implicit and denoising score-matching losses, and a noise predictor's score."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor, checker, diagnose

__all__ = [
    "check_denoising_score_matching",
    "check_implicit_score_matching",
    "check_score_from_noise_prediction",
]


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
        mistakes = [
            ((2 * half_norm + trace).mean(), "the squared norm needs its factor 1/2: 0.5 * ||s(x)||^2."),
            (half_norm.mean(), "you left out the trace term tr(grad_x s(x)), which replaces the unknown true score."),
            ((half_norm - trace).mean(), "the trace enters with a plus sign: E[0.5 ||s||^2 + tr(grad s)]. Integration by parts flips the sign of the cross term -E[s . grad log p]."),
            ((half_norm + jacobian.sum((1, 2))).mean(), "that adds *all* entries of the Jacobian (one backward pass of s.sum()). The trace keeps only the diagonal d s_i / d x_i: one backward pass of s_i per coordinate i, keeping entry i of its gradient."),
            ((half_norm + trace).mean() / 3, "sum over the coordinates and average over the points; .mean() over both divides by d."),
            ((half_norm / 3 + trace).mean(), "sum the squares over the coordinates: 0.5 * (s**2).sum(dim=1), not .mean(dim=1)."),
        ]  # fmt: skip
        diagnose(
            value,
            mistakes,
            otherwise=f"expected {expected.item():.6f}; got {value.item():.6f}. Compare with "
            "mean over points of 0.5 * ||s(x)||^2 + sum_i d s_i / d x_i.",
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
        mistakes = [
            (loss(noisy, z / sigma), "wrong sign of the target: the score of N(x~; x, sigma^2 I) is -(x~ - x)/sigma^2 = -z/sigma, so the residual is s(x~) + z/sigma."),
            (loss(noisy, -z / sigma**2), "the target is -(x~ - x)/sigma^2 with x~ - x = sigma z, which is -z/sigma, not -z/sigma^2."),
            (loss(noisy, -sigma * z), "the target is -(x~ - x)/sigma^2 = -z/sigma: divide by sigma, do not multiply."),
            (loss(noisy, -z / sigma, 1.0), "the loss has a factor 1/2: 0.5 * ||s(x~) + z/sigma||^2."),
            (loss(x, -z / sigma), "evaluate the model at the noisy point x~ = x + sigma z, not at the clean x."),
            (loss(noisy, -z / sigma) / 2, "sum the squares over the coordinates and average over the points; .mean() over both divides by d = 2."),
            (loss(x + z, -z / sigma), "the noisy point is x + sigma * z: scale the noise by sigma."),
        ]  # fmt: skip
        diagnose(
            value,
            mistakes,
            context=f"with sigma = {sigma}: ",
            otherwise=f"expected {expected.item():.6f}; got {value.item():.6f}. "
            "Compare with 0.5 * mean over points of ||s(x + sigma z) + z / sigma||^2.",
            rtol=1e-6,
            atol=1e-9,
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
        mistakes = [
            (eps / std, "wrong sign: the noise points away from the clean data, the score points back, s = -eps / sqrt(1 - alpha_bar)."),
            (-eps / (1 - alpha_bar), "divide by the standard deviation of the noise, sqrt(1 - alpha_bar), not by its variance."),
            (-eps * std, "divide by sqrt(1 - alpha_bar), do not multiply: the score of N(x_t; sqrt(alpha_bar) x_0, (1 - alpha_bar) I) is -eps / sqrt(1 - alpha_bar)."),
            (-eps / alpha_bar**0.5, "sqrt(alpha_bar) scales the clean data; the noise is scaled by sqrt(1 - alpha_bar)."),
            (-eps, "the scale is missing: -eps is the score only when the noise has unit variance; divide by sqrt(1 - alpha_bar)."),
        ]  # fmt: skip
        diagnose(
            result,
            mistakes,
            expected=-eps / std,
            context=f"with alpha_bar = {alpha_bar}: ",
            otherwise="compare with -eps / sqrt(1 - alpha_bar).",
            rtol=1e-6,
            atol=1e-9,
        )
    return "s = -eps / sqrt(1 - alpha_bar): a noise predictor is a score model in disguise."
