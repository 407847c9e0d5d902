"""ELBO and the importance-weighted estimate of log p(x) (Burda et al., 2015)."""

import math

import pytest
import torch

from vae_lib import VAE, Autoencoder, elbo, fit, kl_divergence, load_mnist, log_likelihood, to_tensor
from vae_lib.losses import reconstruction_loss


@pytest.fixture(scope="module")
def trained():
    images, _ = load_mnist("train", subset="small")
    x = to_tensor(images[:2048])
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(64,))
    fit(model, x, epochs=2, progress=False)
    return model, x[:64]


def test_elbo_is_minus_reconstruction_minus_kl(trained):
    model, x = trained
    value = elbo(model, x, reduction="none", seed=3)
    mu, logvar = model.encode(x)
    g = torch.Generator().manual_seed(3)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)
    expected = -reconstruction_loss(model.decode(z), x) - kl_divergence(mu, logvar)
    torch.testing.assert_close(value, expected.detach(), rtol=1e-5, atol=1e-3)


def test_log_likelihood_is_at_least_the_elbo_and_grows_with_k(trained):
    model, x = trained
    e = elbo(model, x, samples=50)
    ll = {k: log_likelihood(model, x, k=k) for k in (1, 10, 200)}
    assert ll[1] == pytest.approx(e, abs=2.0)  # k = 1 is an ELBO estimate
    assert ll[200] > ll[10] > ll[1]
    assert ll[200] >= e


def test_log_likelihood_does_not_depend_on_how_the_samples_are_chunked(trained):
    model, x = trained
    for i in (0, 5):
        a = log_likelihood(model, x[i : i + 1], k=300)
        b = log_likelihood(model, x[i : i + 1], k=300, max_elements=784 * 7)  # 43 chunks of 7 samples
        assert a == pytest.approx(b, abs=1e-3)


def test_log_likelihood_is_exact_when_q_is_the_posterior():
    # With a decoder that ignores z, p(x|z) = p(x) and log p(x) = sum log p(pixels),
    # whatever q is: every importance weight is exactly p(x) if q = p(z) (mu=0, logvar=0).
    model = VAE(latent_dim=2, hidden=(8,))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = (torch.rand(3, 784) > 0.5).float()
    assert log_likelihood(model, x, k=50) == pytest.approx(784 * math.log(0.5), rel=1e-6)


def test_elbo_and_log_likelihood_need_a_vae():
    with pytest.raises(TypeError, match="model must be a vae_lib.VAE"):
        elbo(Autoencoder(hidden=(8,)), torch.rand(2, 784))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        log_likelihood(VAE(hidden=(8,)), torch.rand(2, 784), k=0)
