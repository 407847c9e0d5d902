"""Tests of vae_lib.checks: the instant feedback of the exercises.

Every check must pass the reference implementation, fail the typical wrong ones with the
right hint, survive a function that raises, stay fast, and never print the solution.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vae_lib import checks, kl_divergence, reparameterize, slerp
from vae_lib.checks import Case, CheckResult

# --------------------------------------------------------------------------- references


def ref_reconstruction(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def ref_log_density(x, mu, var):
    return torch.distributions.Normal(mu, var.sqrt()).log_prob(x)


def ref_elbo(x, m, v, w, b, s2):
    expected_log_lik = -0.5 * torch.log(2 * math.pi * s2) - ((x - w * m - b) ** 2 + w**2 * v) / (2 * s2)
    return expected_log_lik - 0.5 * (m**2 + v - torch.log(v) - 1)


def ref_elbo_math(x, m, v, w, b, s2):  # plain floats and math.log work too
    x, m, v, w, b, s2 = (float(a) for a in (x, m, v, w, b, s2))
    return (
        -0.5 * math.log(2 * math.pi * s2)
        - ((x - w * m - b) ** 2 + w**2 * v) / (2 * s2)
        - 0.5 * (m**2 + v - math.log(v) - 1)
    )


def ref_vae_loss(logits, x, mu, logvar, beta):
    rec = ref_reconstruction(logits, x).mean()
    kl = kl_divergence(mu, logvar).mean()
    return rec + beta * kl, rec, kl


def ref_kl(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)


def ref_kl_torch_distributions(mu, logvar):
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).sum(-1)


def ref_kl_mc(mu, logvar, n, generator):
    sigma = (0.5 * logvar).exp()
    eps = torch.randn((n, *mu.shape), generator=generator, dtype=mu.dtype)
    z = mu + sigma * eps
    q = torch.distributions.Normal(mu, sigma)
    return (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean(0)


def ref_reparameterize(mu, logvar, generator=None):
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def ref_score(mu, sigma, k, n, generator):
    z = mu + sigma * torch.randn(n, generator=generator, dtype=torch.float64)
    return float(((z - k) ** 2 * (z - mu) / sigma**2).mean())


def ref_slerp(z0, z1, t):
    return slerp(z0, z1, torch.tensor([t], dtype=z0.dtype))[0]


REFERENCES = [
    (checks.check_reconstruction_loss, ref_reconstruction),
    (checks.check_gaussian_log_density, ref_log_density),
    (checks.check_elbo_1d, ref_elbo),
    (checks.check_elbo_1d, ref_elbo_math),
    (checks.check_vae_loss, ref_vae_loss),
    (checks.check_worked_example, 1.096574),
    (checks.check_kl, ref_kl),
    (checks.check_kl, kl_divergence),
    (checks.check_kl, ref_kl_torch_distributions),
    (checks.check_kl_monte_carlo, ref_kl_mc),
    (checks.check_reparameterize, ref_reparameterize),
    (checks.check_reparameterize, reparameterize),
    (checks.check_score_function_gradient, ref_score),
    (checks.check_slerp, ref_slerp),
]
ALL_CHECKS = sorted({c for c, _ in REFERENCES}, key=lambda c: c.__name__)


def _id(item) -> str:
    check, fn = item
    return f"{check.__name__}-{getattr(fn, '__name__', repr(fn))}"


def run(check, fn, capsys):
    result = check(fn)
    out = capsys.readouterr().out
    return result, out


# --------------------------------------------------------------------------- references pass


@pytest.mark.parametrize("item", REFERENCES, ids=_id)
def test_reference_passes(item, capsys):
    check, fn = item
    result, out = run(check, fn, capsys)
    assert result, out
    assert result.passed and bool(result)
    assert all(case.ok for case in result.cases)
    assert "✗" not in out and "✓" in out
    assert out.strip().splitlines()[-1].startswith("✓")


@pytest.mark.parametrize("item", REFERENCES, ids=_id)
def test_verdict_is_reproducible_and_leaves_global_rng_alone(item, capsys):
    check, fn = item
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    first = check(fn, verbose=False)
    assert torch.equal(torch.rand(3), expected), "a check changed the global random state"
    second = check(fn, verbose=False)
    assert first.cases == second.cases
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- wrong implementations


WRONG = {
    # 14-1: reconstruction loss
    "rec: mean over pixels": (
        checks.check_reconstruction_loss,
        lambda logits, x: F.binary_cross_entropy_with_logits(logits, x, reduction="none").mean(-1),
        "you averaged over the pixels",
    ),
    "rec: default reduction": (
        checks.check_reconstruction_loss,
        lambda logits, x: F.binary_cross_entropy_with_logits(logits, x),
        "reduction='mean' averages over everything",
    ),
    "rec: batch sum": (
        checks.check_reconstruction_loss,
        lambda logits, x: F.binary_cross_entropy_with_logits(logits, x, reduction="sum"),
        "you summed over the batch too",
    ),
    "rec: sigmoid twice": (
        checks.check_reconstruction_loss,
        lambda logits, x: F.binary_cross_entropy_with_logits(torch.sigmoid(logits), x, reduction="none").sum(
            -1
        ),
        "did you apply the sigmoid twice?",
    ),
    "rec: log(sigmoid) unstable": (
        checks.check_reconstruction_loss,
        lambda logits, x: (
            -(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))).sum(-1)
        ),
        "compute the loss from the logits themselves",
    ),
    "rec: squared error": (
        checks.check_reconstruction_loss,
        lambda logits, x: ((torch.sigmoid(logits) - x) ** 2).sum(-1),
        "this is a squared error",
    ),
    # 14-2: Gaussian log-density
    "logdens: variance as scale": (
        checks.check_gaussian_log_density,
        lambda x, mu, var: torch.distributions.Normal(mu, var).log_prob(x),
        "you used the variance where the standard deviation belongs",
    ),
    "logdens: no 1/2": (
        checks.check_gaussian_log_density,
        lambda x, mu, var: -torch.log(2 * math.pi * var) - (x - mu) ** 2 / (2 * var),
        "did you forget the 1/2 in front of log(2π σ²)?",
    ),
    "logdens: no 2pi": (
        checks.check_gaussian_log_density,
        lambda x, mu, var: -0.5 * torch.log(var) - (x - mu) ** 2 / (2 * var),
        "did you drop the log(2π) constant?",
    ),
    "logdens: density": (
        checks.check_gaussian_log_density,
        lambda x, mu, var: ref_log_density(x, mu, var).exp(),
        "you returned the density itself, not its logarithm",
    ),
    "logdens: log(exp())": (
        checks.check_gaussian_log_density,
        lambda x, mu, var: torch.log(torch.exp(-((x - mu) ** 2) / (2 * var)) / torch.sqrt(2 * math.pi * var)),
        "instead of log(exp(...))",
    ),
    "logdens: summed": (
        checks.check_gaussian_log_density,
        lambda x, mu, var: ref_log_density(x, mu, var).sum(),
        "the log-density is elementwise",
    ),
    # 14-2: ELBO
    "elbo: no variance term": (
        checks.check_elbo_1d,
        lambda x, m, v, w, b, s2: (
            -0.5 * torch.log(2 * math.pi * s2)
            - (x - w * m - b) ** 2 / (2 * s2)
            - 0.5 * (m**2 + v - torch.log(v) - 1)
        ),
        "z is random under q, so its variance adds a term",
    ),
    "elbo: KL added": (
        checks.check_elbo_1d,
        lambda x, m, v, w, b, s2: (
            -0.5 * torch.log(2 * math.pi * s2)
            - ((x - w * m - b) ** 2 + w**2 * v) / (2 * s2)
            + 0.5 * (m**2 + v - torch.log(v) - 1)
        ),
        "you added the KL term: the ELBO subtracts it",
    ),
    "elbo: negative": (
        checks.check_elbo_1d,
        lambda x, m, v, w, b, s2: -ref_elbo(x, m, v, w, b, s2),
        "you returned minus the ELBO",
    ),
    "elbo: no constant": (
        checks.check_elbo_1d,
        lambda x, m, v, w, b, s2: ref_elbo(x, m, v, w, b, s2) + 0.5 * torch.log(2 * math.pi * s2),
        "you dropped the constant -1/2 log(2π s2)",
    ),
    "elbo: no entropy": (
        checks.check_elbo_1d,
        lambda x, m, v, w, b, s2: ref_elbo(x, m, v, w, b, s2) - 0.5 * torch.log(v),
        "did you drop the -log v term",
    ),
    # 14-3: VAE loss
    "vae: batch sum": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: (lambda r, k: (r + beta * k, r, k))(
            ref_reconstruction(logits, x).sum(), kl_divergence(mu, lv).sum()
        ),
        "your loss is the batch SUM: average over the batch",
    ),
    "vae: pixel mean": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: (lambda r, k: (r + beta * k, r, k))(
            F.binary_cross_entropy_with_logits(logits, x), kl_divergence(mu, lv).mean()
        ),
        "averages over the pixels too",
    ),
    "vae: beta on reconstruction": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: (lambda r, k: (beta * r + k, r, k))(
            ref_reconstruction(logits, x).mean(), kl_divergence(mu, lv).mean()
        ),
        "beta multiplies the KL term, not the reconstruction",
    ),
    "vae: beta ignored": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: (lambda r, k: (r + k, r, k))(
            ref_reconstruction(logits, x).mean(), kl_divergence(mu, lv).mean()
        ),
        "your total ignores beta",
    ),
    "vae: KL without 1/2": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: (lambda r, k: (r + beta * k, r, k))(
            ref_reconstruction(logits, x).mean(), 2 * kl_divergence(mu, lv).mean()
        ),
        "did you forget the 1/2?",
    ),
    "vae: wrong order": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: (lambda r, k: (r, k, r + beta * k))(
            ref_reconstruction(logits, x).mean(), kl_divergence(mu, lv).mean()
        ),
        "return them in the order (total, reconstruction, kl)",
    ),
    "vae: .item()": (
        checks.check_vae_loss,
        lambda logits, x, mu, lv, beta: tuple(t.item() for t in ref_vae_loss(logits, x, mu, lv, beta)),
        "no .item()",
    ),
    # 14-4: KL
    "kl: no 1/2": (
        checks.check_kl,
        lambda mu, lv: (mu**2 + lv.exp() - lv - 1).sum(-1),
        "your KL is off by a factor 2: did you forget the 1/2?",
    ),
    "kl: no -log sigma^2": (
        checks.check_kl,
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1).sum(-1),
        "did you drop the -log σ² term?",
    ),
    "kl: batch sum": (
        checks.check_kl,
        lambda mu, lv: ref_kl(mu, lv).sum(),
        "you summed over the batch too: the KL should be one value per example "
        "(sum over the latent dimension only)",
    ),
    "kl: batch mean": (checks.check_kl, lambda mu, lv: ref_kl(mu, lv).mean(), "you averaged over the batch"),
    "kl: sigma = exp(logvar)": (
        checks.check_kl,
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() ** 2 - torch.log(lv.exp() ** 2) - 1).sum(-1),
        "you used σ = exp(logvar) instead of exp(logvar / 2)",
    ),
    "kl: mean over latent dims": (
        checks.check_kl,
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).mean(-1),
        "you averaged over the latent dimensions",
    ),
    "kl: sum over dim 1": (
        checks.check_kl,
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(1),
        "dim=-1",
    ),
    "kl: .float()": (checks.check_kl, lambda mu, lv: ref_kl(mu, lv).float(), "let it follow the inputs"),
    "kl: mu instead of mu^2": (
        checks.check_kl,
        lambda mu, lv: 0.5 * (mu + lv.exp() - lv - 1).sum(-1),
        "did you use mu instead of mu²?",
    ),
    "kl: reverse direction": (
        checks.check_kl,
        lambda mu, lv: 0.5 * ((1 + mu**2) / lv.exp() + lv - 1).sum(-1),
        "the reverse direction",
    ),
    "kl: no -1": (
        checks.check_kl,
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(-1),
        "did you forget the -1",
    ),
    # 14-4: Monte Carlo KL
    "kl mc: closed form": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: ref_kl(mu, lv),
        "that is the closed form",
    ),
    "kl mc: wrong sign": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: -ref_kl_mc(mu, lv, n, g),
        "average log q(z) - log p(z), not log p(z) - log q(z)",
    ),
    "kl mc: summed over samples": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: n * ref_kl_mc(mu, lv, n, g),
        "you summed over the n samples: average them",
    ),
    "kl mc: sigma = exp(logvar)": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: (
            lambda z: (
                (
                    torch.distributions.Normal(mu, (lv / 2).exp()).log_prob(z)
                    - torch.distributions.Normal(0.0, 1.0).log_prob(z)
                )
                .sum(-1)
                .mean(0)
            )
        )(mu + lv.exp() * torch.randn((n, *mu.shape), generator=g)),
        "you used σ = exp(logvar) instead of exp(logvar / 2)",
    ),
    "kl mc: samples from the prior": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: (
            lambda z: (
                (
                    torch.distributions.Normal(mu, (lv / 2).exp()).log_prob(z)
                    - torch.distributions.Normal(0.0, 1.0).log_prob(z)
                )
                .sum(-1)
                .mean(0)
            )
        )(torch.randn((n, *mu.shape), generator=g)),
        "not from the prior",
    ),
    "kl mc: one eps reused": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: (
            lambda z: (
                torch.distributions.Normal(mu, (lv / 2).exp()).log_prob(z)
                - torch.distributions.Normal(0.0, 1.0).log_prob(z)
            ).sum(-1)
        )(mu + (lv / 2).exp() * torch.randn(mu.shape, generator=g)),
        "one ε reused n times",
    ),
    "kl mc: generator ignored": (
        checks.check_kl_monte_carlo,
        lambda mu, lv, n, g: ref_kl_mc(mu, lv, n, None),
        "draw the noise with the generator you are given",
    ),
    # 14-5: reparameterize
    "reparam: sigma = exp(logvar)": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: (
            mu + lv.exp() * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        ),
        "you used σ = exp(logvar) instead of exp(logvar / 2)",
    ),
    "reparam: torch.normal": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: torch.normal(mu, (lv / 2).exp(), generator=generator),
        "did you sample with torch.normal(mu, sigma)?",
    ),
    "reparam: Normal.sample": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: torch.distributions.Normal(mu, (lv / 2).exp()).sample(),
        "Normal(...).sample()",
    ),
    "reparam: no sigma": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: mu + torch.randn(mu.shape, generator=generator, dtype=mu.dtype),
        "you forgot to scale ε by σ",
    ),
    "reparam: no mu": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: (
            (lv / 2).exp() * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        ),
        "did you forget to add mu?",
    ),
    "reparam: one eps per dimension": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: (
            mu + (lv / 2).exp() * torch.randn(mu.shape[-1], generator=generator, dtype=mu.dtype)
        ),
        "every example got the same noise",
    ),
    "reparam: sqrt(exp(logvar))": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: (
            mu + lv.exp().sqrt() * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        ),
        "exp(logvar / 2) directly rather than sqrt(exp(logvar))",
    ),
    "reparam: generator ignored": (
        checks.check_reparameterize,
        lambda mu, lv, generator=None: mu + (lv / 2).exp() * torch.randn_like(mu),
        "draw ε with the generator you are given",
    ),
    # 14-5: score-function gradient
    "score: pathwise": (
        checks.check_score_function_gradient,
        lambda mu, s, k, n, g: float(
            (2 * (mu + s * torch.randn(n, generator=g, dtype=torch.float64) - k)).mean()
        ),
        "this looks like the pathwise (reparameterization) gradient",
    ),
    "score: no 1/sigma^2": (
        checks.check_score_function_gradient,
        lambda mu, s, k, n, g: ref_score(mu, s, k, n, g) * s**2,
        "did you forget to divide the score by σ²?",
    ),
    "score: wrong sign": (
        checks.check_score_function_gradient,
        lambda mu, s, k, n, g: -ref_score(mu, s, k, n, g),
        "the score has the wrong sign",
    ),
    "score: sum": (
        checks.check_score_function_gradient,
        lambda mu, s, k, n, g: n * ref_score(mu, s, k, n, g),
        "you summed the n samples: average them",
    ),
    "score: exact gradient": (
        checks.check_score_function_gradient,
        lambda mu, s, k, n, g: 2 * (mu - k),
        "not the exact gradient",
    ),
    "score: all samples": (
        checks.check_score_function_gradient,
        lambda mu, s, k, n, g: (lambda z: (z - k) ** 2 * (z - mu) / s**2)(
            mu + s * torch.randn(n, generator=g, dtype=torch.float64)
        ),
        "return the mean of the n samples",
    ),
    # 14-6: slerp
    "slerp: linear": (
        checks.check_slerp,
        lambda z0, z1, t: (1 - t) * z0 + t * z1,
        "this is linear interpolation",
    ),
    "slerp: no parallel fallback": (
        checks.check_slerp,
        lambda z0, z1, t: (
            lambda om: torch.sin((1 - t) * om) / torch.sin(om) * z0 + torch.sin(t * om) / torch.sin(om) * z1
        )(torch.arccos(torch.clamp(z0 @ z1 / (z0.norm() * z1.norm()), -1.0, 1.0))),
        "NaN for parallel endpoints: fall back to linear interpolation when the angle is tiny",
    ),
    "slerp: endpoints swapped": (
        checks.check_slerp,
        lambda z0, z1, t: ref_slerp(z1, z0, t),
        "slerp endpoints are wrong",
    ),
    "slerp: norms not restored": (
        checks.check_slerp,
        lambda z0, z1, t: ref_slerp(z0 / z0.norm(), z1 / z1.norm(), t),
        "did not restore their norms",
    ),
    "slerp: a batch of one": (
        checks.check_slerp,
        lambda z0, z1, t: slerp(z0, z1, torch.tensor([t])),
        "return one point of shape [d]",
    ),
}


# Text that would give a solution away: the closed forms and the worked example's value.
SOLUTION_TEXT = [
    "mu_j² + σ_j² - log σ_j² - 1",
    "mu**2 + logvar.exp()",
    "(z - k)² · (z - mu) / σ²",
    "(z - k)**2 * (z - mu)",
    "sin((1 - t) Ω) / sin Ω",
    "w² v / (2 s2)",
    "1.096574",
    "1.0966",
]


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_implementation_fails_with_hint(name, capsys):
    check, fn, hint = WRONG[name]
    result, out = run(check, fn, capsys)
    assert not result, out
    assert not result.passed
    assert result.failed
    assert hint in out, f"expected hint {hint!r} in:\n{out}"
    assert "Hint:" in out
    assert out.strip().splitlines()[-1].startswith("✗")
    assert "Traceback" not in out
    # hints point at mistakes; they never spell out the formula being checked
    for solution in SOLUTION_TEXT:
        assert solution not in out
    # the result holds the same messages as the printout
    assert any(hint in case.message or hint in case.name for case in result.failed)


def test_at_least_three_wrong_implementations_per_check():
    counts = {check.__name__: 0 for check in ALL_CHECKS}
    for check, _, _ in WRONG.values():
        counts[check.__name__] += 1
    counts.pop("check_worked_example")  # tested with numbers below
    assert min(counts.values()) >= 3, counts


def test_kl_negative_hint_names_the_case(capsys):
    _result, out = run(checks.check_kl, lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1).sum(-1), capsys)
    line = next(line for line in out.splitlines() if "mu = 0, logvar = -2" in line)
    assert "negative" in line
    assert "did you drop the -log σ² term?" in out


# --------------------------------------------------------------------------- the worked example


@pytest.mark.parametrize(
    "value",
    [1.096574, 1.0966, 1.09657, torch.tensor(1.096574), torch.tensor([1.096574], dtype=torch.float64)],
)
def test_worked_example_accepts(value, capsys):
    result, out = run(checks.check_worked_example, value, capsys)
    assert result, out


@pytest.mark.parametrize(
    "value, hint",
    [
        (2.193147, "did you forget the 1/2?"),
        (0.5 * 0.886294, "you only counted the first latent dimension"),
        (0.5 * 1.306853, "you only counted the second latent dimension"),
        (0.886294, "you only counted one latent dimension, and forgot the 1/2"),
        (0.75, "did you drop the -log σ² term?"),
        (1.096574 / math.log(2), "bits"),
        (-1.096574, "never negative"),
        (1.096574 / 2, "you averaged over the two dimensions"),
        (1.1, "close but not accurate enough"),
        ([0.443147, 0.653426], "add them up"),
    ],
)
def test_worked_example_rejects_with_hint(value, hint, capsys):
    result, out = run(checks.check_worked_example, value, capsys)
    assert not result
    assert hint in out, out
    # never prints the answer (beyond echoing the value passed)
    if not isinstance(value, float) or abs(abs(value) - 1.096574) > 1e-3:
        assert "1.0966" not in out and "1.09657" not in out


def test_reparameterize_torch_normal_gets_both_parts_of_the_hint(capsys):
    _result, out = run(checks.check_reparameterize, WRONG["reparam: torch.normal"][1], capsys)
    assert "the gradient does not reach mu." in out
    assert "Hint: did you sample with torch.normal(mu, sigma)?" in out


def test_worked_example_given_a_function(capsys):
    result, out = run(checks.check_worked_example, ref_kl, capsys)
    assert not result
    assert "expects a number" in out


# --------------------------------------------------------------------------- exceptions and misuse


def _raises(exc):
    def fn(*args, **kwargs):
        raise exc

    return fn


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_not_implemented_is_a_failed_result(check, capsys):
    if check is checks.check_worked_example:
        pytest.skip("takes a number")
    result, out = run(check, _raises(NotImplementedError()), capsys)
    assert isinstance(result, CheckResult)
    assert not result
    assert "NotImplementedError" in out
    assert "replace `raise NotImplementedError()` with your code" in out
    assert "Traceback" not in out
    assert len(result.cases) == 1 and result.skipped > 0  # stops after the first case


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_exception_is_a_failed_result(check, capsys):
    if check is checks.check_worked_example:
        pytest.skip("takes a number")
    result, out = run(check, _raises(ZeroDivisionError("oops, a bug")), capsys)
    assert not result
    assert all(not case.ok for case in result.cases)
    assert "ZeroDivisionError" in out and "oops, a bug" in out
    assert "Traceback" not in out


def test_exception_reports_the_student_line(capsys):
    def my_kl(mu, logvar):
        return mu @ logvar  # wrong shapes for a matrix product

    result, out = run(checks.check_kl, my_kl, capsys)
    assert not result
    assert "RuntimeError" in out and "return mu @ logvar" in out
    assert "again (see above)" in out  # the same error is not repeated in full


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_returning_none_is_a_failed_result(check, capsys):
    if check is checks.check_worked_example:
        result, out = run(check, None, capsys)
    else:
        result, out = run(check, lambda *args, **kwargs: None, capsys)
    assert not result
    assert "None" in out


def test_passing_a_value_instead_of_a_function(capsys):
    result, out = run(checks.check_kl, torch.zeros(3), capsys)
    assert not result
    assert "expects your function itself" in out and "check_kl(my_kl)" in out


def test_math_functions_on_tensors_get_a_hint(capsys):
    result, out = run(
        checks.check_gaussian_log_density,
        lambda x, mu, var: -0.5 * math.log(2 * math.pi * var) - (x - mu) ** 2 / (2 * var),
        capsys,
    )
    assert not result
    assert "use torch functions" in out


# --------------------------------------------------------------------------- the result object


def test_result_object(capsys):
    good = checks.check_kl(ref_kl, verbose=False)
    bad = checks.check_kl(lambda mu, lv: 2 * ref_kl(mu, lv), verbose=False)
    assert capsys.readouterr().out == ""
    assert good and not bad
    assert isinstance(good.cases[0], Case) and isinstance(good.cases[0], tuple)
    name, ok, message = bad.cases[0]
    assert name == "batch of 8 x 2" and ok is False and "Hint:" in message
    assert good.failed == [] and len(bad.failed) >= 1
    assert "all 9 cases passed" in repr(good)
    assert "failed" in repr(bad) and "batch of 8 x 2" in repr(bad)
    report = str(bad)
    assert report.startswith("check_kl:") and "✗ batch of 8 x 2" in report and "Hint:" in report
    assert "✓ the prior itself" in report


def test_printout_is_one_line_per_case(capsys):
    result, out = run(checks.check_slerp, ref_slerp, capsys)
    lines = out.strip().splitlines()
    assert lines[0] == "check_slerp:"
    assert len(lines) == len(result.cases) + 2
    assert lines[1] == "  ✓ endpoints: t = 0 gives z0, t = 1 gives z1"


def test_ipython_display_does_not_repeat_the_printout(capsys, monkeypatch):
    IPython_display = pytest.importorskip("IPython.display")
    shown = []
    monkeypatch.setattr(IPython_display, "display", lambda obj, raw=False: shown.append(obj))
    result = checks.check_kl(ref_kl)
    capsys.readouterr()
    result._ipython_display_()  # the cell's value, right after the printout: nothing more
    assert shown == []
    result._ipython_display_()  # displayed again later: the full report
    assert "All 9 cases passed" in shown[0]["text/plain"]
    quiet = checks.check_kl(ref_kl, verbose=False)
    quiet._ipython_display_()
    assert len(shown) == 2


# --------------------------------------------------------------------------- issue 10: the misses


def _slerp_without_clamp(z0, z1, t):
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))  # no clamp: NaN when cos rounds above 1
    if omega < 1e-4:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _slerp_clamped(z0, z1, t):
    cos = torch.clamp(torch.dot(z0, z1) / (z0.norm() * z1.norm()), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega < 1e-4:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def test_slerp_without_a_clamp_on_the_cosine_fails_on_random_parallel_endpoints():
    result = checks.check_slerp(_slerp_without_clamp, verbose=False)
    assert not result
    random_case = next(c for c in result.cases if c.name.startswith("random parallel"))
    assert not random_case.ok and "clamp the cosine" in random_case.message
    assert checks.check_slerp(_slerp_clamped, verbose=False)


def test_slerp_rejects_a_numpy_result():
    result = checks.check_slerp(lambda z0, z1, t: _slerp_clamped(z0, z1, t).numpy(), verbose=False)
    assert not result
    assert all("numpy" in c.message for c in result.failed)


def test_numpy_inside_the_function_gets_the_numpy_hint_and_the_line():
    import numpy as np

    def my_kl(mu, logvar):
        return 0.5 * np.sum(mu**2 + np.exp(logvar) - logvar - 1, axis=-1)

    result = checks.check_kl(my_kl, verbose=False)
    assert not result
    text = "\n".join(c.message for c in result.failed)
    assert "not numpy" in text and "sum over the last dimension" not in text
    assert "in my_kl" in text and "np.sum(mu**2" in text


def test_in_place_op_on_exps_output_is_the_students_mistake_with_its_hint():
    def my_kl(mu, logvar):
        var = logvar.exp()
        var += mu**2  # in place on exp()'s output, which exp's backward needs
        return 0.5 * (var - logvar - 1).sum(-1)

    result = checks.check_kl(my_kl, verbose=False)
    assert not result
    text = "\n".join(c.message for c in result.failed)
    assert "could not check your result" not in text
    assert "in-place operation" in text and "exp()" in text


def test_in_place_ops_on_copies_are_accepted():
    def my_kl(mu, logvar):
        var = logvar.exp().clone()
        var += mu**2
        return 0.5 * (var - logvar - 1).sum(-1)

    assert checks.check_kl(my_kl, verbose=False)


def test_a_failing_check_raises_only_under_a_grader(monkeypatch, capsys):
    def wrong(mu, logvar):
        return (mu**2 + logvar.exp() - logvar - 1).sum(-1)  # the 1/2 forgotten

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("VAE_LIB_CHECKS_RAISE", raising=False)
    assert not checks.check_kl(wrong)  # a notebook or a script: a verdict, no exception
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_kl(wrong)
    assert isinstance(info.value, AssertionError) and "Hint:" in str(info.value)
    assert not info.value.result.passed
    assert checks.check_kl(
        lambda mu, logvar: 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)
    )  # passing: no raise


# --------------------------------------------------------------------------- checks as data


def test_a_check_described_as_data_runs_with_the_public_runner(capsys):
    spec = checks.CheckSpec(
        name="check_double",
        example="my_double",
        reference=lambda x: 2 * x,
        variants=lambda x: [("you squared x instead of doubling it", x**2)],
        cases=[
            checks.ValueCase("a vector", lambda: (torch.tensor([1.0, 3.0, -2.0]),)),
            checks.ValueCase(
                "float64", lambda: (torch.tensor([0.5], dtype=torch.float64),), dtype=torch.float64
            ),
        ],
    )
    assert checks.run_check(spec, lambda x: x + x)
    result = checks.run_check(spec, lambda x: x * x, verbose=False)
    assert not result and "you squared x" in result.cases[0].message
    assert not checks.run_check(spec, 42, verbose=False)  # not a function: a clear failed case


def test_check_kl_is_data_whose_reference_is_the_core():
    from vae_lib import kl_divergence
    from vae_lib.course.checks.kl import KL_CHECK

    assert KL_CHECK.reference is kl_divergence
    assert any(isinstance(c, checks.ValueCase) for c in KL_CHECK.cases)


def test_the_kl_closed_form_is_not_retyped_in_the_checks():
    folder = Path(checks.__file__).parent
    for name in ("kl.py", "vae_loss.py", "elbo.py", "reconstruction.py", "reparameterize.py", "slerp.py"):
        text = (folder / name).read_text()
        for retyped in ("- lv - 1", "- logvar - 1", "- math.log(v) - 1"):
            assert retyped not in text, (
                f"{name} re-types the KL closed form ({retyped!r}): use vae_lib.kl_divergence"
            )


def test_a_check_with_its_own_comparison_runs_with_the_public_runner():
    def compare(out, ref, inputs, variants, case):
        a, b = out
        if not torch.allclose(a.double(), ref[0]) or not torch.allclose(b.double(), ref[1]):
            raise checks._runner._Failure("your pair is wrong.", "return (2 x, 3 x)")

    spec = checks.CheckSpec(
        name="check_pair",
        example="my_pair",
        reference=lambda x: (2 * x, 3 * x),
        variants=lambda x: [],
        compare=compare,
        cases=[checks.ValueCase("a vector", lambda: (torch.tensor([1.0, -2.0]),))],
    )
    assert checks.run_check(spec, lambda x: (x + x, 3 * x), verbose=False)
    result = checks.run_check(spec, lambda x: (x, x), verbose=False)
    assert not result and "return (2 x, 3 x)" in result.cases[0].message


def test_check_vae_loss_and_log_density_are_data():
    from vae_lib.course.checks.elbo import LOG_DENSITY_CHECK
    from vae_lib.course.checks.vae_loss import VAE_LOSS_CHECK

    for spec in (LOG_DENSITY_CHECK, VAE_LOSS_CHECK):
        assert isinstance(spec, checks.CheckSpec)
        assert sum(isinstance(c, checks.ValueCase) for c in spec.cases) >= 5
    assert VAE_LOSS_CHECK.compare is not None and LOG_DENSITY_CHECK.compare is None
