"""The convolutional networks of images: conventions, and that they learn exact scores."""

import pytest
import torch

from ebm_book import ddpm, losses, nets, processes, training


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_the_sigma_network_divides_by_sigma_and_takes_one_level_or_one_per_image():
    torch.manual_seed(0)
    model = nets.NoiseConditionalScoreCNN(side=4, channels=4)
    torch.nn.init.normal_(model.net.last.weight)  # away from the zero function it starts as
    x = torch.randn(3, 16, generator=seeded(1))
    sigma = torch.tensor([0.1, 1.0, 10.0])
    out = model(x, sigma)
    features = nets._conditional._fourier_features(torch.log(sigma) / 4)
    torch.testing.assert_close(out * sigma[:, None], model.net(x, features))  # NCSNv2's 1 / sigma
    torch.testing.assert_close(model(x, 0.5), model(x, torch.full((3,), 0.5)))
    assert out.shape == (3, 16)


def test_the_time_network_starts_at_zero_and_labels_none_means_no_label():
    model = nets.TimeConditionalCNN(side=4, channels=4, n_classes=3)
    x = torch.randn(5, 16, generator=seeded(2))
    assert torch.equal(model(x, 0.5), torch.zeros(5, 16))  # the last layer starts at zero
    torch.nn.init.normal_(model.net.last.weight)
    unlabelled = torch.full((5,), -1)
    assert torch.equal(model(x, 0.5), model(x, 0.5, unlabelled))
    assert not torch.allclose(model(x, 0.5), model(x, 0.5, torch.zeros(5, dtype=torch.int64)))
    assert torch.equal(model.with_label(1)(x, 0.5), model(x, 0.5, torch.ones(5, dtype=torch.int64)))


def test_each_image_is_processed_on_its_own():
    # Group normalisation works per image: an image's output does not depend on its batch.
    torch.manual_seed(3)
    model = nets.TimeConditionalCNN(channels=8)
    torch.nn.init.normal_(model.net.last.weight)
    x = torch.randn(6, 64, generator=seeded(3))
    t = torch.linspace(0.1, 0.9, 6)
    torch.testing.assert_close(model(x[:2], t[:2]), model(x, t)[:2])


# Standard Gaussian data in d = 16 (4 x 4 images), whose exact answers are known. A short
# training must close 95% of the gap between the zero network (where both start) and the
# exact answer; the losses are compared on the same 20,000 draws, so the sampling noise
# (a standard error of about 0.5% of the loss) cancels in the difference.

DATA = torch.randn(4096, 16, generator=seeded(4))
TEST = torch.randn(20_000, 16, generator=seeded(5))


@pytest.mark.parametrize("n_classes", [0, 3])
def test_the_time_network_learns_the_exact_noise_prediction(n_classes):
    # Under VP, x_t of standard Gaussian data is standard Gaussian and E[z | x_t] = sigma(t) x_t:
    # the exact loss is d E[alpha_bar(t)], the zero network's is d.
    torch.manual_seed(6)
    vp = processes.VariancePreserving()
    model = nets.TimeConditionalCNN(side=4, channels=8, n_classes=n_classes)
    training.train(
        model,
        lambda m, b, g: ddpm.noise_prediction_loss(m, b, vp, g),
        DATA,
        n_steps=150,
        batch_size=128,
        lr=3e-3,
        progress=False,
    )
    with torch.no_grad():
        trained = ddpm.noise_prediction_loss(model, TEST, vp, seeded(7)).item()
        exact = ddpm.noise_prediction_loss(
            lambda y, t: vp.sigma(t)[:, None].to(y) * y, TEST, vp, seeded(7)
        ).item()
    assert exact < trained < exact + 0.05 * (16 - exact)


def test_the_sigma_network_learns_the_exact_noisy_score():
    # The noisy data N(0, (1 + sigma^2) I) has the score -x / (1 + sigma^2); the zero
    # network's weighted loss is d / 2 at every level.
    torch.manual_seed(8)
    sigmas = torch.tensor([3.0, 1.0, 0.3, 0.1])
    model = nets.NoiseConditionalScoreCNN(side=4, channels=8)
    training.train(
        model,
        lambda m, b, g: losses.multi_noise_denoising_score_matching(m, b, sigmas, g),
        DATA,
        n_steps=250,
        batch_size=128,
        lr=3e-3,
        progress=False,
    )
    with torch.no_grad():
        trained = losses.multi_noise_denoising_score_matching(model, TEST, sigmas, seeded(9))
        exact = losses.multi_noise_denoising_score_matching(
            lambda y, s: -y / (1 + s[:, None] ** 2), TEST, sigmas, seeded(9)
        )
    assert exact.item() < trained.item() < exact.item() + 0.05 * (8 - exact.item())
