"""Shapes, configuration and bad input of the autoencoder and the VAE."""

import pytest
import torch

from vae_lib import VAE, Autoencoder, VAEOutput


def test_vae_encode_returns_mu_and_logvar_of_latent_size():
    model = VAE(latent_dim=5, hidden=(32, 16))
    mu, logvar = model.encode(torch.rand(7, 784))
    assert mu.shape == logvar.shape == (7, 5)


def test_vae_forward_returns_named_logits_mu_logvar_z():
    model = VAE(latent_dim=3, hidden=(16,))
    out = model(torch.rand(4, 784))
    assert isinstance(out, VAEOutput)
    assert out.logits.shape == (4, 784) and out.mu.shape == out.z.shape == (4, 3)


def test_vae_forward_samples_z_around_mu():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(16,))
    x = torch.rand(1, 784).expand(20_000, 784)
    out = model(x)
    torch.testing.assert_close(out.z.mean(0), out.mu[0], atol=0.03, rtol=0)
    torch.testing.assert_close(out.z.var(0), out.logvar[0].exp(), atol=0.05, rtol=0.05)


def test_decode_gives_logits_and_sample_gives_pixels_in_unit_interval():
    model = VAE(latent_dim=2, hidden=(16,))
    assert model.decode(torch.zeros(3, 2)).shape == (3, 784)
    images = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert images.shape == (6, 784) and images.min() >= 0 and images.max() <= 1


def test_sample_is_repeatable_with_a_seeded_generator():
    model = VAE(latent_dim=4, hidden=(16,))
    a = model.sample(3, generator=torch.Generator().manual_seed(1))
    b = model.sample(3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_autoencoder_maps_each_input_to_one_point():
    model = Autoencoder(latent_dim=2, hidden=(16,))
    x = torch.rand(3, 784)
    torch.testing.assert_close(model.encode(x), model.encode(x))
    out = model(x)
    assert out.z.shape == (3, 2) and out.logits.shape == (3, 784)


def test_config_round_trips_through_build_model():
    from vae_lib.models import build_model

    model = VAE(latent_dim=6, hidden=(32, 8), likelihood="gaussian")
    assert build_model(model.config).config == model.config


@pytest.mark.parametrize("latent_dim", [0, -3, 2.5, True])
def test_non_positive_latent_dim_is_rejected_by_name(latent_dim):
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        VAE(latent_dim=latent_dim)


def test_unknown_likelihood_is_rejected_by_name():
    with pytest.raises(ValueError, match="likelihood must be one of"):
        VAE(likelihood="poisson")


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(2, 28, 28), r"x must have shape \[N, 784\]"),
        (torch.randint(0, 255, (2, 784), dtype=torch.uint8), "x must be a float tensor"),
        ([[0.0] * 784], "x must be a torch.Tensor"),
    ],
)
def test_wrong_image_shape_or_dtype_is_named(x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        VAE(latent_dim=2, hidden=(8,)).encode(x)


def test_wrong_latent_shape_is_named():
    with pytest.raises(ValueError, match=r"z must be a tensor of shape \[N, 2\]"):
        VAE(latent_dim=2, hidden=(8,)).decode(torch.zeros(3, 5))


def test_evaluating_restores_the_training_mode_even_after_an_error():
    from vae_lib.models import evaluating

    model = VAE(latent_dim=2, hidden=(8,)).train()
    with pytest.raises(RuntimeError), evaluating(model):
        assert not model.training
        raise RuntimeError("boom")
    assert model.training


# -- the model contract ----------------------------------------------------------------------


def test_both_kinds_share_the_public_base_and_differ_by_one_attribute():
    from vae_lib import LatentModel

    vae, ae = VAE(hidden=(8,)), Autoencoder(hidden=(8,))
    assert isinstance(vae, LatentModel) and isinstance(ae, LatentModel)
    assert vae.variational is True and ae.variational is False


def test_the_old_private_base_name_still_works_with_a_deprecation_warning():
    import vae_lib.models
    from vae_lib import LatentModel

    with pytest.warns(DeprecationWarning, match="LatentModel"):
        assert vae_lib.models._LatentModel is LatentModel


def test_a_new_kind_is_registered_with_one_line_and_rebuilt_from_its_config():
    from vae_lib.models import MODELS, build_model

    class Tiny(VAE):
        kind = "tiny-vae"

    MODELS["tiny-vae"] = Tiny
    try:
        model = build_model(Tiny(latent_dim=3, hidden=(8,)).config)
        assert type(model) is Tiny and model.latent_dim == 3
    finally:
        del MODELS["tiny-vae"]


def test_input_dim_is_honoured_by_encode_decode_and_sample():
    model = VAE(latent_dim=2, hidden=(8,), input_dim=64)
    mu, _ = model.encode(torch.rand(5, 64))
    assert model.decode(mu).shape == (5, 64) and model.sample(3).shape == (3, 64)
