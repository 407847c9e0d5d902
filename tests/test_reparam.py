"""The reparameterization trick (lesson 14-5)."""

import pytest
import torch

from vae_lib import reparameterize


def test_samples_have_mean_mu_and_variance_exp_logvar():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([1.0, -2.0]).expand(200_000, 2)
    logvar = torch.tensor([0.0, 1.0]).expand(200_000, 2)
    z = reparameterize(mu, logvar, generator=g)
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([1.0, torch.e]), atol=0.03, rtol=0)


def test_gradients_match_the_closed_form_for_squared_distance():
    # f(z) = (z - k)^2 with z = mu + sigma * eps: df/dmu = 2 (z - k), df/dlogvar = (z - k) sigma eps.
    k = 0.7
    g = torch.Generator().manual_seed(1)
    mu = torch.tensor([0.3, -1.2, 2.0], requires_grad=True)
    logvar = torch.tensor([0.5, -0.3, 0.0], requires_grad=True)
    z = reparameterize(mu, logvar, generator=g)
    ((z - k) ** 2).sum().backward()
    eps = (z.detach() - mu.detach()) / (0.5 * logvar.detach()).exp()
    sigma = (0.5 * logvar.detach()).exp()
    torch.testing.assert_close(mu.grad, 2 * (z.detach() - k))
    torch.testing.assert_close(logvar.grad, (z.detach() - k) * sigma * eps)


def test_expected_gradient_matches_the_analytic_derivative():
    # E[(z - k)^2] = (mu - k)^2 + sigma^2, so d/dmu = 2 (mu - k) and d/dlogvar = sigma^2.
    k, n = 0.5, 400_000
    mu = torch.full((n,), 1.5, requires_grad=True)
    logvar = torch.full((n,), -0.4, requires_grad=True)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(2))
    ((z - k) ** 2).sum().backward()
    assert mu.grad.mean().item() == pytest.approx(2 * (1.5 - k), abs=0.01)
    assert logvar.grad.mean().item() == pytest.approx(torch.tensor(-0.4).exp().item(), abs=0.01)


def test_same_generator_seed_gives_the_same_sample():
    mu, logvar = torch.zeros(5, 3), torch.zeros(5, 3)
    a = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    b = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="logvar must be finite"):
        reparameterize(torch.zeros(2), torch.tensor([0.0, float("nan")]))
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        reparameterize([0.0], torch.zeros(1))
