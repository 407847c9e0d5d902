"""The KL closed form and the loss convention (lessons 14-3 and 14-4)."""

import math

import pytest
import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from vae_lib import VAE, kl_divergence, reconstruction_loss, vae_loss

WORKED_MU = torch.tensor([0.5, -1.0], dtype=torch.float64)
WORKED_VAR = torch.tensor([0.25, 2.0], dtype=torch.float64)


def test_worked_example_gives_1_096574_nats():
    kl = kl_divergence(WORKED_MU, WORKED_VAR.log())
    by_hand = 0.5 * ((0.25 + 0.25 - math.log(0.25) - 1) + (1 + 2 - math.log(2) - 1))
    assert kl.item() == pytest.approx(by_hand, abs=1e-12)
    assert round(kl.item(), 6) == 1.096574


def test_kl_is_zero_exactly_at_the_prior():
    assert kl_divergence(torch.zeros(5, 7), torch.zeros(5, 7)).eq(0).all()


def test_kl_is_positive_away_from_the_prior():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(1000, 4, generator=g), torch.randn(1000, 4, generator=g)
    assert (kl_divergence(mu, logvar) > 0).all()


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu = 3 * torch.randn(64, 10, generator=g, dtype=torch.float64)
    logvar = 2 * torch.randn(64, 10, generator=g, dtype=torch.float64)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch_kl(q, p).sum(-1)
    torch.testing.assert_close(kl_divergence(mu, logvar), expected, rtol=1e-12, atol=1e-12)


def test_kl_matches_monte_carlo_within_four_standard_errors():
    g = torch.Generator().manual_seed(2)
    n = 400_000
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64)
    z = WORKED_MU + WORKED_VAR.sqrt() * eps
    log_q = Normal(WORKED_MU, WORKED_VAR.sqrt()).log_prob(z).sum(-1)
    log_p = Normal(0.0, 1.0).log_prob(z).sum(-1)
    samples = log_q - log_p
    estimate, stderr = samples.mean().item(), samples.std().item() / math.sqrt(n)
    assert abs(estimate - kl_divergence(WORKED_MU, WORKED_VAR.log()).item()) < 4 * stderr
    assert stderr < 3e-3  # tight enough to catch a wrong constant (e.g. a missing 1/2 or -1)


def test_kl_has_the_closed_form_gradient():
    mu = torch.tensor([0.3, -2.0], requires_grad=True)
    logvar = torch.tensor([0.7, -1.5], requires_grad=True)
    kl_divergence(mu, logvar).backward()
    torch.testing.assert_close(mu.grad, mu.detach())  # dKL/dmu = mu
    torch.testing.assert_close(logvar.grad, 0.5 * (logvar.detach().exp() - 1))  # (sigma^2 - 1) / 2


def test_bernoulli_reconstruction_is_binary_cross_entropy_summed_over_pixels():
    g = torch.Generator().manual_seed(3)
    logits, x = torch.randn(4, 784, generator=g), torch.rand(4, 784, generator=g)
    p = torch.sigmoid(logits.double())
    bce = -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    torch.testing.assert_close(reconstruction_loss(logits, x).double(), bce, rtol=1e-5, atol=1e-3)


def test_gaussian_reconstruction_is_the_unit_variance_negative_log_likelihood():
    g = torch.Generator().manual_seed(4)
    logits, x = torch.randn(3, 784, generator=g), torch.rand(3, 784, generator=g)
    expected = -Normal(torch.sigmoid(logits), 1.0).log_prob(x).sum(-1)
    torch.testing.assert_close(reconstruction_loss(logits, x, "gaussian"), expected)


def test_vae_loss_terms_add_up_and_are_batch_means():
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=(16,))
    x = torch.rand(10, 784)
    out = model(x)
    terms = vae_loss(out, x, beta=4.0)
    assert terms.total.item() == (terms.reconstruction + 4.0 * terms.kl).item()
    torch.testing.assert_close(terms.reconstruction, reconstruction_loss(out.logits, x).mean())
    torch.testing.assert_close(terms.kl, kl_divergence(out.mu, out.logvar).mean())


@pytest.mark.parametrize("mu_shape, logvar_shape", [((4, 2), (4, 3)), ((2,), (3,))])
def test_kl_rejects_shape_mismatch_naming_both_arguments(mu_shape, logvar_shape):
    with pytest.raises(ValueError, match=r"mu and logvar must have the same shape"):
        kl_divergence(torch.zeros(mu_shape), torch.zeros(logvar_shape))


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_kl_rejects_non_finite_logvar(bad):
    with pytest.raises(ValueError, match="logvar must be finite"):
        kl_divergence(torch.zeros(2), torch.tensor([0.0, bad]))


def test_unknown_likelihood_and_bad_beta_are_named():
    with pytest.raises(ValueError, match="likelihood"):
        reconstruction_loss(torch.zeros(1, 4), torch.zeros(1, 4), "poisson")
    model = VAE(latent_dim=2, hidden=(8,))
    x = torch.rand(2, 784)
    with pytest.raises(ValueError, match="beta"):
        vae_loss(model(x), x, beta=-1.0)


# -- free bits -------------------------------------------------------------------------------


def _vae_output(mu, logvar, logits):
    from vae_lib import VAEOutput

    return VAEOutput(logits, mu, logvar, mu)


def test_free_bits_replace_each_dimensions_batch_mean_kl_by_at_least_lambda():
    torch.manual_seed(0)
    mu = torch.zeros(8, 3)
    mu[:, 0] = 3.0  # dimension 0 carries 4.5 nats, dimensions 1 and 2 none
    logvar = torch.zeros(8, 3)
    x = torch.rand(8, 10)
    logits = torch.randn(8, 10)
    terms = vae_loss(_vae_output(mu, logvar, logits), x, beta=2.0, free_bits=0.5)
    rec = reconstruction_loss(logits, x).mean()
    assert terms.kl.item() == pytest.approx(4.5)  # the true KL
    assert terms.total.item() == pytest.approx((rec + 2.0 * 4.5).item())
    assert terms.objective.item() == pytest.approx((rec + 2.0 * (4.5 + 0.5 + 0.5)).item())


def test_free_bits_zero_makes_the_objective_the_total_and_three_terms_unpack():
    x = torch.rand(4, 10)
    terms = vae_loss(_vae_output(torch.randn(4, 2), torch.randn(4, 2), torch.randn(4, 10)), x)
    total, rec, kl = terms
    assert terms.objective is total and total.item() == pytest.approx((rec + kl).item())


def test_free_bits_give_no_gradient_to_a_dimension_below_lambda():
    mu = torch.zeros(4, 2, requires_grad=True)
    mu_data = torch.tensor([[2.0, 0.1]]).repeat(4, 1)
    with torch.no_grad():
        mu.copy_(mu_data)
    out = _vae_output(mu, torch.zeros(4, 2), torch.zeros(4, 10))
    vae_loss(out, torch.rand(4, 10), free_bits=1.0).objective.backward()
    assert mu.grad[:, 0].abs().sum() > 0 and mu.grad[:, 1].abs().sum() == 0


@pytest.mark.parametrize("bad", [-1.0, float("inf"), True, "1"])
def test_bad_free_bits_are_named(bad):
    out = _vae_output(torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 10))
    with pytest.raises(ValueError, match="free_bits"):
        vae_loss(out, torch.rand(2, 10), free_bits=bad)
