"""The latent diffusion prior of lesson 14-8: schedule, shapes, determinism, fitting a known density."""

import math

import pytest
import torch

from vae_lib import pretrained
from vae_lib.diffusion import LatentDiffusion, time_embedding


def test_noise_schedule_ends_close_to_pure_noise():
    model = LatentDiffusion(dim=4)
    assert model.alpha_bars.shape == (model.steps,)
    assert bool((model.alpha_bars.diff() < 0).all())
    assert model.alpha_bars[-1] < 0.01


def test_time_embedding_has_the_requested_width_and_differs_between_steps():
    e = time_embedding(torch.tensor([0, 1, 99]), 64)
    assert e.shape == (3, 64)
    assert (e[1] - e[2]).abs().max() > 0.1


def test_sample_returns_codes_and_is_deterministic_with_a_generator():
    model = pretrained.load("latent-diffusion-20d")
    a = model.sample(7, generator=torch.Generator().manual_seed(0))
    b = model.sample(7, generator=torch.Generator().manual_seed(0))
    c = model.sample(7, generator=torch.Generator().manual_seed(1))
    assert a.shape == (7, 20) and torch.equal(a, b) and not torch.equal(a, c)


def test_fit_learns_a_two_component_mixture():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])
    data = centres[torch.randint(0, 2, (2000,), generator=gen)] + 0.3 * torch.randn(2000, 2, generator=gen)
    model = LatentDiffusion(dim=2, width=64, depth=2)
    losses = model.fit(data, epochs=40, batch_size=50, lr=3e-3, seed=0)
    assert losses[-1] < losses[0]
    samples = model.sample(2000, generator=torch.Generator().manual_seed(1))
    # both modes, in the right proportions, and little mass in the gap between them
    assert 0.35 < (samples[:, 0] > 0).double().mean() < 0.65
    assert (samples[:, 0].abs() < 0.8).double().mean() < 0.1
    assert samples[:, 0].abs().mean() == pytest.approx(2.0, abs=0.3)


def test_fit_stores_the_standardisation_of_the_codes():
    data = 5 + 3 * torch.randn(500, 3, generator=torch.Generator().manual_seed(0))
    model = LatentDiffusion(dim=3, width=16, depth=1)
    model.fit(data, epochs=1)
    assert torch.allclose(model.shift, data.mean(0)) and torch.allclose(model.scale, data.std(0))


def test_the_loss_of_an_untrained_denoiser_is_about_the_code_dimension():
    # predicting eps ~ N(0, I) badly costs about E|eps|^2 = dim or more
    model = LatentDiffusion(dim=8, width=16, depth=1)
    loss = model.loss(torch.randn(4000, 8), torch.Generator().manual_seed(0)).item()
    assert loss > 0.5 * 8 and math.isfinite(loss)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 0}, "dim must be a positive integer"),
        ({"steps": 1.5}, "steps must be a positive integer"),
        ({"beta_start": 0.2, "beta_end": 0.1}, "beta_start and beta_end"),
    ],
)
def test_bad_configuration_is_rejected_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LatentDiffusion(**kwargs)


def test_codes_of_the_wrong_width_are_rejected():
    with pytest.raises(ValueError, match=r"codes must have shape \[N, 20\]"):
        LatentDiffusion(dim=20).loss(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        LatentDiffusion(dim=2).sample(0)
