"""The score by autograd: minus the energy gradient, independent of Z, batched, validated."""

import pytest
import torch

from ebm_book.mixtures import GaussianMixture
from ebm_book.score import score_from_energy


def test_score_does_not_depend_on_the_partition_function():
    mixture = GaussianMixture([[-1.0, 0.0], [2.0, 1.0]], weights=[0.3, 0.7])
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    log_z = 12.345  # any constant: exp(-E) and exp(-E)/Z have the same score
    a = score_from_energy(mixture.energy, x)
    b = score_from_energy(lambda x: mixture.energy(x) + log_z, x)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(a, mixture.score(x), rtol=1e-10, atol=1e-10)


def test_score_of_a_network_energy_matches_finite_differences():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
    ).double()
    energy = lambda x: net(x).squeeze(1)  # noqa: E731
    x = torch.randn(5, 3, dtype=torch.float64)
    score = score_from_energy(energy, x, temperature=2.0)
    h = 1e-6
    for i in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[i] = h
        numeric = -(energy(x + e) - energy(x - e)) / (2 * h) / 2.0
        torch.testing.assert_close(score[:, i], numeric.detach(), rtol=1e-6, atol=1e-8)


def test_score_is_batched_not_summed_across_points():
    x = torch.tensor([[1.0], [2.0], [3.0]])
    torch.testing.assert_close(score_from_energy(lambda x: x[:, 0] ** 3 / 3, x), -(x**2))
    assert not x.requires_grad


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: score_from_energy(lambda x: x.sum(1), torch.zeros(3)), r"shape \(N, d\)"),
        (lambda: score_from_energy(lambda x: x, torch.zeros(3, 2)), r"shape \(3,\)"),
        (
            lambda: score_from_energy(lambda x: x.sum(1), torch.zeros(3, 2), temperature=-1),
            "temperature",
        ),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
