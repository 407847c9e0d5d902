"""Lesson 14-4 (the KL divergence): the checks of the closed-form and the Monte Carlo KL.

:func:`check_kl` checks ``fn(mu, logvar)``, KL(N(mu, diag e^logvar) ‖ N(0, I)) per example;
:func:`check_kl_monte_carlo` checks ``fn(mu, logvar, n, generator)``, its Monte Carlo estimate.
The table of wrong KLs, :func:`_kl_variants`, is shared with the VAE loss check of lesson 14-3.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as _torch_kl

from ...losses import kl_divergence as _kl_reference
from ._runner import (
    CheckResult,
    CheckSpec,
    ValueCase,
    _as_tensor,
    _backward,
    _batch_shape_hint,
    _call,
    _close,
    _Failure,
    _first_match,
    _fmt,
    _gen,
    _not_callable,
    _rand,
    _randn,
    _run,
    _shape,
    run_check,
)

# ----------------------------------------------------------------- wrong KL variants (shared)


def _kl_variants(mu: torch.Tensor, logvar: torch.Tensor, reduce=lambda t: t):
    """Typical wrong KLs, each with its hint; ``reduce`` is applied to the per-example values.

    Each wrong answer is written as the correct closed form of the core (``vae_lib.kl_divergence``)
    plus what the mistake changes, so that the formula itself is typed once, in the core.
    """
    mu, lv = mu.detach().double(), logvar.detach().double()
    kl = _kl_reference(mu, lv)
    d = mu.shape[-1]
    half_sum = lambda t: 0.5 * t.sum(-1)  # noqa: E731 - one term summed over the latent dimensions
    sigma_hint = "you used σ = exp(logvar) instead of exp(logvar / 2): logvar is log σ², so σ² = exp(logvar)"
    reverse = _torch_kl(Normal(torch.zeros_like(mu), torch.ones_like(mu)), Normal(mu, (0.5 * lv).exp())).sum(
        -1
    )
    return [
        ("your KL is off by a factor 2: did you forget the 1/2?", reduce(2 * kl)),
        ("did you drop the -log σ² term? (each dimension contributes four terms)", reduce(kl + half_sum(lv))),
        (sigma_hint, reduce(_kl_reference(mu, 2 * lv))),  # σ² taken as exp(2 logvar)
        (sigma_hint, reduce(_kl_reference(mu, 2 * lv) + half_sum(lv))),
        (
            "you averaged over the latent dimensions: sum over them (the KLs of independent "
            "dimensions add up)",
            reduce(kl / d),
        ),
        (
            "did you forget the -1 in each dimension? The KL must be 0 when mu = 0 and logvar = 0.",
            reduce(kl + d / 2),
        ),
        ("did you use mu instead of mu²?", reduce(kl + half_sum(mu - mu.pow(2)))),
        ("the log σ² term has the wrong sign", reduce(kl + 2 * half_sum(lv))),
        ("that is KL(N(0, I) ‖ q), the reverse direction: the VAE's KL is KL(q ‖ N(0, I))", reduce(reverse)),
        ("your KL has the wrong sign: a KL divergence is never negative", reduce(-kl)),
    ]


def _kl_negative(answer: torch.Tensor, ref: torch.Tensor, inputs: tuple, variants: list) -> None:
    """A negative KL is named as such first: it is the clearest sign of a dropped or flipped term."""
    t = answer.detach()
    if (
        t.shape == ref.shape
        and bool(torch.isfinite(t).all())
        and bool((t < -1e-6).any())
        and not _close(t, ref, 1e-4, 1e-5)
    ):
        raise _Failure(
            f"your KL is negative ({float(t.min()):.4g} for one example), but a KL divergence is "
            "never negative.",
            _first_match(t, variants) or "check the sign of each term",
        )


def _kl_prior_is_zero(fn: Callable) -> None:
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    out = _as_tensor(_call(fn, mu, logvar))
    if (
        out.shape == (4,)
        and bool(torch.isfinite(out.detach()).all())
        and float(out.detach().abs().max()) > 1e-6
    ):
        hint = _first_match(out, _kl_variants(mu, logvar)) or "check each term at mu = 0, σ² = 1"
        raise _Failure(
            f"your KL is {_fmt(out)} at the prior, but it must be exactly 0 when mu = 0 and logvar = 0.", hint
        )


def _kl_gradient(fn: Callable) -> None:
    mu = _randn(5, 3, seed=82, dtype=torch.float64).requires_grad_()
    logvar = _rand(5, 3, seed=83, low=-2.0, high=1.0, dtype=torch.float64).requires_grad_()
    out = _as_tensor(_call(fn, mu, logvar))
    if out.shape != (5,):
        raise _Failure(f"your KL has shape {_shape(out)}, expected [5].", "fix the shape cases above first")
    grads = _backward(out, {"mu": mu, "logvar": logvar})
    # the reference gradients: autograd through the core's closed form
    mu_ref, lv_ref = mu.detach().clone().requires_grad_(), logvar.detach().clone().requires_grad_()
    _kl_reference(mu_ref, lv_ref).sum().backward()
    for label, grad, expected in (("mu", grads["mu"], mu_ref.grad), ("logvar", grads["logvar"], lv_ref.grad)):
        if grad is None or not bool(grad.abs().sum() > 0):
            raise _Failure(
                f"the gradient does not reach {label}.",
                "compute the KL with torch operations on mu and logvar (no .item(), .detach() or numpy)",
            )
        if expected is None or not _close(grad, expected, 1e-6, 1e-9):
            raise _Failure(
                f"the gradient with respect to {label} differs from the closed form's.",
                "fix the value cases above first",
            )


_SUM_LAST = "sum over the last dimension (dim=-1) so that a single example of shape [d] works too"

KL_CHECK = CheckSpec(
    name="check_kl",
    example="my_kl",
    reference=_kl_reference,
    variants=_kl_variants,
    what="your KL",
    shape_hint=lambda ref, inputs: _batch_shape_hint(ref, inputs[0].shape[-1], "latent dimension", "the KL"),
    generic_hint="compare your formula with the closed form of lesson 14-4 term by term (σ² = exp(logvar))",
    check_answer=_kl_negative,
    cases=[
        ValueCase(
            "batch of 8 x 2", lambda: (_randn(8, 2, seed=71), _rand(8, 2, seed=72, low=-2.0, high=1.0))
        ),
        ("the prior itself (mu = 0, logvar = 0): KL = 0", _kl_prior_is_zero),
        ValueCase("mu = 0, logvar = -2", lambda: (torch.zeros(2, 3), torch.full((2, 3), -2.0))),
        ValueCase(
            "a single example of shape [5]",
            lambda: (_randn(5, seed=73), _rand(5, seed=74, low=-2.0, high=1.0)),
            error_hint=_SUM_LAST,
        ),
        ValueCase(
            "batch shape [3, 4, 6] ([B, N, d])",
            lambda: (_randn(3, 4, 6, seed=75), _rand(3, 4, 6, seed=76, low=-2.0, high=1.0)),
        ),
        ValueCase(
            "zero-variance limit (logvar = -80)",
            lambda: (_randn(4, 3, seed=77), torch.full((4, 3), -80.0)),
            tolerance=(1e-5, 1e-5),
            nonfinite_hint="σ² → 0 must give a large but finite KL: use logvar directly for the log σ² term "
            "(log(exp(logvar)) is -inf once exp(logvar) underflows to 0)",
        ),
        ValueCase(
            "large means (|mu| ~ 1000)",
            lambda: (1000 * _randn(4, 3, seed=78), _rand(4, 3, seed=79, low=-1.0, high=1.0)),
            tolerance=(1e-5, 1e-5),
        ),
        ValueCase(
            "float64 in, float64 out",
            lambda: (
                _randn(6, 4, seed=80, dtype=torch.float64),
                _rand(6, 4, seed=81, low=-3.0, high=2.0, dtype=torch.float64),
            ),
            tolerance=(1e-10, 1e-12),
            dtype=torch.float64,
        ),
        ("gradient with respect to mu and logvar", _kl_gradient),
    ],
)


def check_kl(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, logvar)``: KL(N(mu, diag e^logvar) ‖ N(0, I)) per example, summed over the
    last (latent) dimension, shape ``mu.shape[:-1]`` (lesson 14-4). The cases are the data of
    :data:`KL_CHECK`, run by :func:`~vae_lib.course.checks.run_check`."""
    return run_check(KL_CHECK, fn, verbose)


def _mc_kl_stats(mu: torch.Tensor, logvar: torch.Tensor):
    """Closed-form KL per example and the variance of one sample of log q(z) - log p(z), z ~ q."""
    mu, lv = mu.double(), logvar.double()
    var = lv.exp()
    kl = _kl_reference(mu, lv)
    # log q(z) - log p(z) = const + 1/2 [(v - 1) eps² + 2 mu sigma eps] per dimension
    sample_var = (0.5 * (var - 1) ** 2 + mu**2 * var).sum(-1)
    return kl, sample_var


def _mc_kl_variants(mu: torch.Tensor, logvar: torch.Tensor, n: int):
    """The values that typical wrong Monte Carlo estimators converge to, with hints."""
    mu, lv = mu.double(), logvar.double()
    var = lv.exp()
    kl = _kl_reference(mu, lv)
    d = mu.shape[-1]
    return [
        ("your estimate is negative: average log q(z) - log p(z), not log p(z) - log q(z)", -kl),
        ("you averaged over the latent dimensions: sum log q(z) - log p(z) over them", kl / d),
        ("you summed over the n samples: average them", n * kl),
        (
            "you used σ = exp(logvar) instead of exp(logvar / 2) when sampling z",
            0.5 * (-lv - var + mu**2 + var**2).sum(-1),
        ),
        (
            "sample z from q (z = mu + σ ε), not from the prior N(0, I)",
            -0.5 * ((1 + mu**2) / var + lv - 1).sum(-1),
        ),
        (
            "torch.distributions.Normal(mu, scale) takes the standard deviation σ, not the variance",
            (-lv - 0.5 / var + 0.5 * mu**2 + 0.5 * var).sum(-1),
        ),
    ]


def check_kl_monte_carlo(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, logvar, n, generator)``: a Monte Carlo estimate of
    KL(N(mu, diag e^logvar) ‖ N(0, I)) per example from n samples z ~ q drawn with
    ``generator`` (lesson 14-4). Statistical cases allow five standard errors."""
    name = "check_kl_monte_carlo"
    if not callable(fn):
        return _not_callable(name, "my_kl_mc", fn, verbose)

    def estimate(mu, logvar, n, seed):
        return _as_tensor(_call(fn, mu.clone(), logvar.clone(), n, _gen(seed)))

    def compare(mu, logvar, n, seed):
        kl, sample_var = _mc_kl_stats(mu, logvar)
        out = estimate(mu, logvar, n, seed)
        if out.shape != kl.shape:
            hint = _batch_shape_hint(kl, mu.shape[-1], "latent dimension", "the estimate")(out)
            if out.dim() >= 1 and out.shape[0] == n and out.shape[1:] == kl.shape:
                hint = "average over the n samples: return one estimate per example"
            raise _Failure(f"your estimate has shape {_shape(out)}, expected {_shape(kl)}.", hint)
        got = out.detach().double()
        if not bool(torch.isfinite(got).all()):
            raise _Failure(
                "your estimate contains NaN or inf.",
                "compute log q(z) and log p(z) directly "
                "(torch.distributions.Normal(...).log_prob or the formula), not log(exp(...))",
            )
        se = (sample_var / n).sqrt()
        tol = 5 * se + 1e-4 * (1 + kl.abs())
        if not bool(((got - kl).abs() <= tol).all()):
            hint = None
            for h, value in _mc_kl_variants(mu, logvar, n):
                if bool(
                    (
                        (got - value).abs()
                        <= 5 * se * max(1.0, n if "summed" in h else 1.0) + 1e-3 * (1 + value.abs())
                    ).all()
                ):
                    hint = h
                    break
            worst = float(((got - kl).abs() / se.clamp_min(1e-12)).max())
            raise _Failure(
                f"your estimate is {worst:.1f} standard errors away from the KL (allowed: 5).",
                hint
                or "average log q(z) - log p(z) over n samples z ~ q = N(mu, σ²), "
                "summed over the latent dimensions",
            )
        return got

    def batch():
        mu = _randn(4, 2, seed=91)
        logvar = _rand(4, 2, seed=92, low=-1.5, high=1.0)
        compare(mu, logvar, 20000, seed=1)

    def single():
        compare(torch.tensor([0.5, -1.0, 1.5]), torch.tensor([-1.0, 0.5, 0.0]), 20000, seed=2)

    def narrow():
        compare(torch.tensor([[0.3, -0.2, 1.0]]), torch.full((1, 3), -10.0), 20000, seed=3)

    def reproducible():
        mu, logvar = torch.tensor([[1.0, -0.5]]), torch.tensor([[0.2, -0.3]])
        a = estimate(mu, logvar, 100, 123)
        b = estimate(mu, logvar, 100, 123)
        c = estimate(mu, logvar, 100, 456)
        if a.shape != b.shape or not bool(torch.equal(a.detach(), b.detach())):
            raise _Failure(
                "two calls with generators seeded alike gave different estimates.",
                "draw the noise with the generator you are given: torch.randn(..., generator=generator)",
            )
        if bool(torch.equal(a.detach(), c.detach())):
            kl, _ = _mc_kl_stats(mu, logvar)
            closed = _close(a, kl, 1e-5, 1e-6)
            raise _Failure(
                "your estimate does not change with the random seed.",
                "that is the closed form: estimate the KL by averaging log q(z) - log p(z) over n "
                "samples z ~ q"
                if closed
                else "draw fresh noise for every call with the generator you are given",
            )

    def spread():
        mu, logvar = torch.tensor([1.0, -0.5]), torch.tensor([math.log(0.8), math.log(1.2)])
        _, sample_var = _mc_kl_stats(mu, logvar)
        n, calls = 10, 200
        values = []
        for i in range(calls):
            out = estimate(mu, logvar, n, 1000 + i)
            if out.shape != ():
                raise _Failure(
                    f"your estimate has shape {_shape(out)} for one example of shape [2], expected [].",
                    "fix the shape cases above first",
                )
            values.append(out.detach().double())
        values = torch.stack(values)
        kl, _ = _mc_kl_stats(mu, logvar)
        se = math.sqrt(float(sample_var) / (n * calls))
        if abs(float(values.mean() - kl)) > 5 * se:
            hint = next(
                (
                    h
                    for h, v in _mc_kl_variants(mu, logvar, n)
                    if abs(float(values.mean() - v)) <= 5 * se * (n if "summed" in h else 1)
                ),
                None,
            )
            raise _Failure(
                f"the average of your {calls} estimates with n = {n} is "
                f"{abs(float(values.mean() - kl)) / se:.1f} standard errors away from the KL.",
                hint or "fix the cases above first",
            )
        if float(values.var()) < 1e-12:
            raise _Failure(
                "your estimate does not vary between seeds.",
                "estimate the KL by averaging log q(z) - log p(z) over n samples z ~ q",
            )
        ratio = float(values.var() / (sample_var / n))
        if ratio > 2.5:
            raise _Failure(
                f"your estimates with n = {n} vary {ratio:.1f} times as much as an average of {n} "
                "independent samples should.",
                "draw a fresh ε for each of the n samples (one ε reused n times does not average "
                "anything out), and average log q(z) - log p(z) over them",
            )
        if ratio < 0.4:
            raise _Failure(
                f"your estimates with n = {n} vary {1 / max(ratio, 1e-12):.1f} times less than an "
                f"average of {n} samples of log q(z) - log p(z) should.",
                "estimate the whole KL by Monte Carlo: average log q(z) - log p(z) over z ~ q, "
                "without closed-form parts",
            )

    cases = [
        ("batch of 4 x 2, n = 20,000: within 5 standard errors", batch),
        (
            "a single example of shape [3]",
            single,
            "work over the last dimension (dim=-1) so that a single example of shape [d] works too",
        ),
        ("narrow q (logvar = -10)", narrow),
        ("reproducible with the generator, different across seeds", reproducible),
        ("spread of 200 estimates with n = 10", spread),
    ]
    return _run(name, cases, verbose)
