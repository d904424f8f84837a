"""DDPM's noise-prediction loss and the time-conditional network that it trains."""

import math

import gaussian_diffusion as gauss
import pytest
import torch

from ebm_book.ddpm import DDPMSchedule, noise_prediction_loss
from ebm_book.nets import TimeConditionalMLP
from ebm_book.processes import VariancePreserving
from ebm_book.training import train

PROCESSES = {"VP": VariancePreserving(), "DDPM": DDPMSchedule([0.05, 0.2, 0.5, 0.8])}


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def exact_noise(process):
    """E[z | x_t] = -sigma(t) s(x_t, t) for data from N(MEAN, COV), one time per point."""

    def predict(x, t):
        a, sigma = process.mean_coefficient(t)[:, None, None], process.sigma(t)[:, None, None]
        cov = a**2 * gauss.COV + sigma**2 * gauss.EYE
        centred = x - a[:, :, 0] * gauss.MEAN
        return sigma[:, :, 0] * torch.linalg.solve(cov, centred)

    return predict


def expected_minimum(process, times):
    """E_t[tr Cov(z | x_t)] = E_t[d - sigma^2 tr C_t^{-1}], averaged over the given times."""
    values = []
    for t in times.tolist():
        _, cov = gauss.moments(process, t)
        values.append(2 - process.sigma(t).item() ** 2 * torch.linalg.inv(cov).trace().item())
    return sum(values) / len(values)


@pytest.mark.parametrize("name", list(PROCESSES))
def test_the_exact_noise_prediction_reaches_the_closed_form_minimum(name):
    """10^5 points: the loss is within 4.5 standard errors (from the per-point losses) of
    E_t[d - sigma(t)^2 tr C_t^{-1}], over DDPM's four steps or a fine grid of [t_min, 1]."""
    process, n = PROCESSES[name], 100_000
    x = gauss.data(n, seed=1)
    per_point = []

    def model(y, t):
        predicted = exact_noise(process)(y, t)
        per_point.append(predicted)
        return predicted

    loss = noise_prediction_loss(model, x, process, seeded(2)).item()
    if name == "DDPM":
        times = torch.arange(1, 5, dtype=torch.float64) / 4
    else:
        times = torch.linspace(process.t_min, 1, 2001, dtype=torch.float64)
    # the per-point losses, for the standard error: redo the draws with the same generator
    generator = seeded(2)
    t = process.random_times(n, generator)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    losses = ((per_point[0] - z) ** 2).sum(dim=1)
    assert losses.mean().item() == pytest.approx(loss)
    se = losses.std().item() / math.sqrt(n)
    assert abs(loss - expected_minimum(process, times)) < 4.5 * se, (
        loss,
        expected_minimum(process, times),
        se,
    )
    assert t.min() >= process.t_min


def test_labels_are_dropped_with_the_given_probability():
    """A model that records its labels: the fraction of -1 is the drop probability, within
    4.5 binomial standard errors, and the other labels are kept."""
    n, seen = 20_000, []

    def model(x, t, labels):
        seen.append(labels)
        return torch.zeros_like(x)

    x = torch.zeros(n, 2)
    labels = torch.arange(n) % 3
    for p in (0.0, 0.2, 1.0):
        seen.clear()
        noise_prediction_loss(model, x, PROCESSES["VP"], seeded(3), labels=labels, drop_label=p)
        dropped = seen[0] == -1
        assert abs(dropped.float().mean().item() - p) <= 4.5 * math.sqrt(p * (1 - p) / n)
        assert torch.equal(seen[0][~dropped], labels[~dropped])


def test_a_time_conditional_network_learns_the_noise():
    """Trained for 1500 steps, its loss on 2 * 10^4 fresh draws is within 10% of the exact
    predictor's on the same draws (the minimum; same generator, so the comparison is paired)."""
    process = PROCESSES["VP"]
    data = gauss.data(5000, seed=4)
    torch.manual_seed(0)
    model = TimeConditionalMLP(2, hidden=64, depth=2)

    def loss(model, batch, generator):
        return noise_prediction_loss(model, batch, process, generator)

    train(model, loss, data.float(), n_steps=1500, batch_size=512, lr=3e-3, progress=False)
    fresh = gauss.data(20_000, seed=5)
    with torch.no_grad():
        learned = noise_prediction_loss(model, fresh, process, seeded(6)).item()
    minimum = noise_prediction_loss(exact_noise(process), fresh, process, seeded(6)).item()
    assert minimum <= learned < 1.1 * minimum, (learned, minimum)
