"""Tests of vae_lib.diagnostics (lesson 14-7) against cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vae_lib import VAE, kl_divergence, log_likelihood
from vae_lib.diagnostics import active_units, aggregate_log_density, elbo_surgery, refine_posterior


class LinearEncoder(nn.Module):
    """mu = scale * (x - 0.5) @ w + offset (w: random +-1/28 per pixel), a fixed logvar.

    For uniform pixels, each mu_j is close to N(offset_j, scale_j^2 / 12) (a sum of 784 terms).
    """

    def __init__(self, latent_dim: int, scale: torch.Tensor, logvar: torch.Tensor, offset: torch.Tensor):
        super().__init__()
        signs = torch.randint(0, 2, (784, latent_dim), generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.register_buffer("w", signs.float() / math.sqrt(784))  # independent directions
        self.register_buffer("scale", scale)
        self.register_buffer("logvar", logvar)
        self.register_buffer("offset", offset)

    def forward(self, x):
        mu = self.scale * ((x - 0.5) @ self.w) + self.offset
        return torch.cat([mu, self.logvar.expand(len(x), -1)], dim=1)


def linear_vae(scale, logvar, offset=None) -> VAE:
    scale = torch.as_tensor(scale, dtype=torch.float32)
    d = len(scale)
    torch.manual_seed(0)
    model = VAE(latent_dim=d, hidden=(16,))
    offset = torch.zeros(d) if offset is None else torch.as_tensor(offset, dtype=torch.float32)
    model.encoder = LinearEncoder(d, scale, torch.as_tensor(logvar, dtype=torch.float32), offset)
    return model.eval()


def images(n=2000, seed=0):
    return torch.rand(n, 784, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- active_units


def test_a_dimension_whose_mean_ignores_x_has_zero_activity_and_is_inactive():
    model = linear_vae(scale=[3.0, 0.0], logvar=[-2.0, 0.0])
    result = active_units(model, images(500))
    assert result.activity[1].item() == pytest.approx(0.0, abs=1e-10)
    assert result.kl_per_dim[1].item() == pytest.approx(0.0, abs=1e-6)  # q(z_2|x) is the prior
    assert result.mask.tolist() == [True, False] and result.count == 1 and result.kl_count == 1


def test_activity_is_the_variance_of_mu_over_x_and_kl_per_dim_sums_to_the_average_kl():
    model = VAE(latent_dim=3, hidden=(16,)).eval()
    x = images(300)
    result = active_units(model, x)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    assert torch.allclose(result.activity, mu.var(0, correction=0), rtol=1e-4, atol=1e-7)
    assert result.kl_per_dim.sum().item() == pytest.approx(kl_divergence(mu, logvar).mean().item(), rel=1e-5)


def test_a_constant_mean_away_from_the_prior_costs_kl_but_is_not_active():
    model = linear_vae(scale=[0.0], logvar=[0.0], offset=[1.0])
    result = active_units(model, images(100))
    assert result.count == 0
    assert result.kl_per_dim[0].item() == pytest.approx(0.5, rel=1e-5)  # 1/2 mu^2
    assert result.kl_count == 1


def test_active_units_rejects_bad_arguments():
    model = VAE(latent_dim=2, hidden=(8,))
    with pytest.raises(TypeError, match="model"):
        active_units(nn.Linear(2, 2), images(10))
    with pytest.raises(ValueError, match="threshold"):
        active_units(model, images(10), threshold=-1)
    with pytest.raises(ValueError, match="x"):
        active_units(model, torch.rand(10, 5))
    with pytest.raises(ValueError, match="at least 2"):
        active_units(model, images(1))


# --------------------------------------------------------------------------- elbo_surgery


def test_a_constant_encoder_carries_no_information():
    model = linear_vae(scale=[0.0, 0.0], logvar=[-1.0, 0.5], offset=[0.7, -0.2])
    result = elbo_surgery(model, images(300), samples=5)
    assert result.mutual_information == pytest.approx(0.0, abs=1e-9)
    # then q(z) is q(z|x) itself, and KL(q(z) || p(z)) is the whole average KL
    mu, logvar = torch.tensor([[0.7, -0.2]]), torch.tensor([[-1.0, 0.5]])
    assert result.marginal_kl == pytest.approx(kl_divergence(mu, logvar).item(), rel=1e-5)


def test_linear_gaussian_mutual_information_matches_the_gaussian_channel():
    # mu = s * u with u close to N(0, 1/12 * ...): a Gaussian channel z = mu + sigma * noise, whose
    # mutual information is 1/2 log(1 + Var(mu) / sigma^2) per dimension (Cover & Thomas, ch. 9)
    model = linear_vae(scale=[6.0, 2.0], logvar=[0.0, math.log(0.25)])
    x = images(3000)
    result = elbo_surgery(model, x, samples=20)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    expected = 0.5 * torch.log1p(mu.var(0) / logvar.exp()[0]).sum().item()
    assert result.mutual_information == pytest.approx(expected, abs=0.03 + 4 * result.stderr)
    assert result.mutual_information + result.marginal_kl == pytest.approx(result.average_kl, abs=1e-9)
    # the aggregate posterior is close to N(0, Var(mu) + sigma^2): its KL to the prior in closed form
    agg_var = mu.var(0) + logvar.exp()[0]
    expected_marginal = 0.5 * (agg_var - agg_var.log() - 1).sum().item()
    assert result.marginal_kl == pytest.approx(expected_marginal, abs=0.03 + 4 * result.stderr)


def test_mutual_information_is_between_zero_and_log_n():
    model = linear_vae(scale=[50.0, 50.0], logvar=[-12.0, -12.0])  # nearly deterministic codes
    result = elbo_surgery(model, images(200), samples=3)
    assert 0 <= result.mutual_information <= math.log(200) + 1e-6
    assert result.mutual_information == pytest.approx(math.log(200), abs=0.05)  # every code distinct


def test_elbo_surgery_is_repeatable_with_a_seeded_generator():
    model = VAE(latent_dim=2, hidden=(8,)).eval()
    x = images(100)
    a = elbo_surgery(model, x, generator=torch.Generator().manual_seed(3))
    b = elbo_surgery(model, x, generator=torch.Generator().manual_seed(3))
    assert a == b


def test_elbo_surgery_rejects_bad_arguments():
    model = VAE(latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match="samples"):
        elbo_surgery(model, images(10), samples=0)
    with pytest.raises(TypeError, match="generator"):
        elbo_surgery(model, images(10), generator=0)


# --------------------------------------------------------------------------- refine_posterior


def test_refining_q_per_image_never_lowers_the_elbo_on_average():
    torch.manual_seed(1)
    model = VAE(latent_dim=2, hidden=(32,)).eval()
    x = (images(40) > 0.7).float()
    result = refine_posterior(
        model, x, steps=100, lr=0.05, samples=4, eval_samples=200, generator=torch.Generator().manual_seed(0)
    )
    assert result.gain.mean().item() > 0
    # L_k >= the ELBO (Jensen; the ELBO's KL is exact, so only on average), for both proposals
    assert result.iw_bound.mean() >= result.elbo.mean()
    assert result.encoder_iw_bound.mean() >= result.encoder_elbo.mean()
    assert result.mu.shape == (40, 2) and result.elbo.shape == (40,)


def test_zero_steps_keeps_the_encoders_q():
    model = VAE(latent_dim=3, hidden=(16,)).eval()
    x = images(10)
    result = refine_posterior(model, x, steps=0, eval_samples=20)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    assert torch.equal(result.mu, mu) and torch.equal(result.logvar, logvar)
    assert torch.equal(result.elbo, result.encoder_elbo)  # same q, same noise


def test_the_refined_elbo_stays_below_the_log_likelihood():
    torch.manual_seed(2)
    model = VAE(latent_dim=2, hidden=(32,)).eval()
    x = (images(20) > 0.5).float()
    result = refine_posterior(model, x, steps=100, samples=4, eval_samples=500)
    ll = log_likelihood(model, x, k=2000, reduction="none")
    assert (result.elbo.mean() - ll.mean()).item() < 0.1


def test_refine_posterior_leaves_the_model_unchanged():
    model = VAE(latent_dim=2, hidden=(16,)).train()
    before = [p.clone() for p in model.parameters()]
    refine_posterior(model, images(5), steps=5, eval_samples=5)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_refine_posterior_rejects_bad_arguments():
    model = VAE(latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match="steps"):
        refine_posterior(model, images(3), steps=-1)
    with pytest.raises(ValueError, match="lr"):
        refine_posterior(model, images(3), lr=0)
    with pytest.raises(TypeError, match="model"):
        refine_posterior("vae", images(3))


# --------------------------------------------------------------------------- aggregate_log_density


def test_the_aggregate_of_a_constant_encoder_is_its_one_gaussian():
    model = linear_vae(scale=[0.0, 0.0], logvar=[-1.0, 0.5], offset=[0.7, -0.2])
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(4))
    got = aggregate_log_density(model, images(30), z)
    q = torch.distributions.Normal(torch.tensor([0.7, -0.2]), torch.tensor([-1.0, 0.5]).div(2).exp())
    assert torch.allclose(got, q.log_prob(z).sum(1).double(), atol=1e-5)


def test_the_aggregate_density_integrates_to_one():
    model = linear_vae(scale=[3.0], logvar=[-1.0])
    z = torch.linspace(-8, 8, 4001)[:, None]
    density = aggregate_log_density(model, images(100), z).exp()
    assert torch.trapezoid(density, z[:, 0].double()).item() == pytest.approx(1.0, abs=1e-4)


# --------------------------------------------------------------------------- the lesson's checks


def test_the_lesson_14_7_checks_accept_correct_answers_and_reject_typical_mistakes():
    from vae_lib import checks

    def kl(mu, logvar):
        return 0.5 * (mu**2 + logvar.exp() - logvar - 1)

    assert checks.check_activity(lambda mu: mu.var(0, correction=0), verbose=False)
    assert checks.check_activity(lambda mu: mu.var(0), verbose=False)  # N - 1 accepted too
    assert not checks.check_activity(lambda mu: mu.std(0), verbose=False)
    assert not checks.check_activity(lambda mu: mu.var(1), verbose=False)
    assert checks.check_free_bits(lambda mu, lv, lam: kl(mu, lv).mean(0).clamp(min=lam).sum(), verbose=False)
    per_image = checks.check_free_bits(
        lambda mu, lv, lam: kl(mu, lv).clamp(min=lam).mean(0).sum(), verbose=False
    )
    assert not per_image and "each image" in str(per_image)
    assert not checks.check_free_bits(lambda mu, lv, lam: kl(mu, lv).mean(0).sum(), verbose=False)
