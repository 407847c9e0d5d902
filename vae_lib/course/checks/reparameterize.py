"""Lesson 14-5 (the reparameterization trick): the checks of the sampler and of the
score-function gradient.

:func:`check_reparameterize` checks ``fn(mu, logvar, generator=None)`` -> z;
:func:`check_score_function_gradient` checks ``fn(mu, sigma, k, n, generator)``, the
score-function (REINFORCE) estimate of d/dmu E[(z - k)²].

Neither is a :class:`~vae_lib.course.checks.CheckSpec` of value cases: there is no reference
value to compare with. A right sampler returns z = mu + σ ε with ε the student's own draw, so its
cases test properties (shape, reproducibility with the generator, the mean and variance of 20,000
samples, dz/dmu = 1 and dz/dlogvar = σ ε / 2, σ → 0), and a score-function estimate is random, so
its cases allow five standard errors and test the spread of many estimates. They stay small case
functions run by the same runner (``_run``), with the same hints.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._runner import (
    CheckResult,
    _as_float,
    _as_tensor,
    _backward,
    _call,
    _close,
    _Failure,
    _fmt,
    _gen,
    _not_callable,
    _rand,
    _randn,
    _run,
    _shape,
)


def check_reparameterize(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, logvar, generator=None)``: z = mu + exp(logvar / 2) * eps, differentiable,
    with the noise drawn from ``generator`` (lesson 14-5)."""
    name = "check_reparameterize"
    if not callable(fn):
        return _not_callable(name, "my_reparameterize", fn, verbose)

    def sample(mu, logvar, seed=None):
        if seed is None:
            return _as_tensor(_call(fn, mu, logvar))
        return _as_tensor(_call(fn, mu, logvar, _gen(seed)))

    def check_shape(z, mu):
        if z.shape != mu.shape:
            raise _Failure(
                f"your z has shape {_shape(z)}, expected {_shape(mu)} (the shape of mu).",
                "draw one ε per element of mu",
            )
        if not bool(torch.isfinite(z.detach()).all()):
            raise _Failure("your z contains NaN or inf.", "σ = exp(logvar / 2) is finite for finite logvar")

    def shapes(*shape, seed):
        def body():
            mu = _randn(*shape, seed=seed)
            logvar = _rand(*shape, seed=seed + 1, low=-1.0, high=1.0)
            check_shape(sample(mu, logvar, seed), mu)

        return body

    def reproducible():
        mu, logvar = _randn(4, 3, seed=101), _rand(4, 3, seed=102, low=-1.0, high=1.0)
        a, b, c = sample(mu, logvar, 7), sample(mu, logvar, 7), sample(mu, logvar, 8)
        if not bool(torch.equal(a.detach(), b.detach())):
            raise _Failure(
                "two calls with generators seeded alike gave different z.",
                "draw ε with the generator you are given: torch.randn(..., generator=generator)",
            )
        if bool(torch.equal(a.detach(), c.detach())):
            raise _Failure("your z does not change with the random seed.", "z must include random noise ε")

    def no_generator():
        mu, logvar = _randn(3, 2, seed=103), torch.zeros(3, 2)
        z = sample(mu, logvar)
        check_shape(z, mu)

    def statistics():
        n = 20000
        mu0 = torch.tensor([1.0, -2.0, 0.5, 0.0])
        lv0 = torch.tensor([0.0, 1.0, -2.0, 2.0])
        mu, logvar = mu0.expand(n, 4).clone(), lv0.expand(n, 4).clone()
        z = sample(mu, logvar, 11).detach().double()
        check_shape(z, mu)
        var_ref = lv0.double().exp()
        mean, var = z.mean(0), z.var(0)
        if float(var.max()) < 1e-12 and float((z - mu0.double()).abs().max()) > 1e-9:
            raise _Failure(
                "every example got the same noise.",
                "draw one ε per element of mu (the full shape of mu), not one per latent dimension",
            )
        ratio = var / var_ref
        if not bool(((ratio - 1).abs() < 0.06).all()):
            candidates = [
                ("you used σ = exp(logvar) instead of exp(logvar / 2)", (2 * lv0.double()).exp()),
                ("you forgot to scale ε by σ = exp(logvar / 2)", torch.ones(4, dtype=torch.float64)),
                ("you multiplied ε by logvar itself: σ = exp(logvar / 2)", lv0.double() ** 2),
                (
                    "you used σ = exp(logvar / 4): σ² = exp(logvar), so σ = exp(logvar / 2)",
                    (0.5 * lv0.double()).exp(),
                ),
            ]
            hint = None
            for h, v in candidates:
                mask = (v - var_ref).abs() > 0.2 * var_ref
                if bool(mask.any()) and bool(((var / v.clamp_min(1e-12) - 1).abs()[mask] < 0.06).all()):
                    hint = h
                    break
            if float(var.max()) < 1e-12:
                hint = "z has no noise at all: z = mu + σ ε with ε ~ N(0, 1)"
            raise _Failure(
                "the variance of your samples is not σ² = exp(logvar) (ratios "
                f"{', '.join(f'{float(r):.3g}' for r in ratio)}).",
                hint,
            )
        se = (var_ref / n).sqrt()
        if not bool(((mean - mu0.double()).abs() < 5 * se).all()):
            hint = (
                "did you forget to add mu?"
                if bool(((mean).abs() < 5 * se).all())
                else "the samples should be centred on mu"
            )
            raise _Failure("the mean of your samples is not mu.", hint)

    def gradients():
        mu = _randn(6, 3, seed=104, dtype=torch.float64).requires_grad_()
        logvar = _rand(6, 3, seed=105, low=-1.5, high=1.5, dtype=torch.float64).requires_grad_()
        z = sample(mu, logvar, 12)
        check_shape(z, mu)
        if not z.requires_grad:
            raise _Failure(
                "your z is cut off from autograd (it does not require grad), so the gradient does not "
                "reach mu and logvar.",
                "did you sample with Normal(...).sample() or torch.normal(mu, sigma)? They block the "
                "gradient: draw ε separately and compute z from mu, logvar and ε with torch operations "
                "(no .item(), .detach() or numpy)",
            )
        grads = _backward(z, {"mu": mu, "logvar": logvar})
        return z.detach(), mu.detach(), logvar.detach(), grads

    state: dict = {}

    def cached_gradients():  # one backward pass serves both gradient cases
        if "g" not in state:
            state["g"] = gradients()
        return state["g"]

    def grad_mu():
        _, _, _, grads = cached_gradients()
        g = grads["mu"]
        if g is None or not bool(g.abs().sum() > 0):
            raise _Failure(
                "the gradient does not reach mu.",
                "did you sample with torch.normal(mu, sigma)? It blocks the gradient: write z as mu plus "
                "σ times noise ε drawn separately (and do not forget mu)",
            )
        if not _close(g, torch.ones_like(g), 1e-9, 1e-9):
            raise _Failure(
                f"dz/dmu should be 1 for every element; yours starts {_fmt(g)}.",
                "z depends on mu only through the sum mu + σ ε",
            )

    def grad_logvar():
        z, mu, _logvar, grads = cached_gradients()
        g = grads["logvar"]
        if g is None or not bool(g.abs().sum() > 0):
            raise _Failure(
                "the gradient does not reach logvar.",
                "compute σ from logvar with torch operations (no .item(), numpy or torch.normal) so "
                "that autograd can follow it",
            )
        expected = 0.5 * (z - mu)  # sigma * eps / 2
        if not _close(g, expected, 1e-6, 1e-9):
            hint = None
            if _close(g, 2 * expected, 1e-6, 1e-9):
                hint = "you used σ = exp(logvar) instead of exp(logvar / 2)"
            raise _Failure("dz/dlogvar is not σ ε / 2.", hint or "σ = exp(logvar / 2), so dσ/dlogvar = σ / 2")

    def zero_variance():
        mu = (3 * _randn(4, 3, seed=106)).requires_grad_()
        logvar = torch.full((4, 3), -120.0, requires_grad=True)
        z = sample(mu, logvar, 13)
        check_shape(z, mu)
        if not _close(z, mu.detach(), 1e-6, 1e-6):
            raise _Failure("with σ → 0 (logvar = -120), z should equal mu.", "z = mu + σ ε and σ ≈ 0")
        if z.requires_grad:
            grads = _backward(z, {"mu": mu, "logvar": logvar})
            g = grads["logvar"]
            if g is not None and not bool(torch.isfinite(g).all()):
                raise _Failure(
                    "the gradient with respect to logvar is NaN when exp(logvar) underflows to 0.",
                    "compute σ as exp(logvar / 2) directly rather than sqrt(exp(logvar))",
                )

    def float64():
        mu = 1e4 * _randn(5, 2, seed=107, dtype=torch.float64)
        logvar = _rand(5, 2, seed=108, low=-1.0, high=1.0, dtype=torch.float64)
        z = sample(mu, logvar, 14)
        check_shape(z, mu)
        if z.dtype != torch.float64:
            raise _Failure(
                f"your z has dtype {z.dtype} for float64 inputs.",
                "let the dtype follow mu (e.g. torch.randn(..., dtype=mu.dtype))",
            )
        if float(((z - mu) / (0.5 * logvar).exp()).abs().max()) > 8:
            raise _Failure(
                "with large means (|mu| ~ 1e4), z - mu is not σ ε.",
                "z = mu + σ ε: the noise must be scaled by σ only",
            )

    cases = [
        ("batch of 8 x 2", shapes(8, 2, seed=109)),
        ("a single example of shape [5]", shapes(5, seed=111)),
        ("batch shape [3, 4, 6] ([B, N, d])", shapes(3, 4, 6, seed=113)),
        ("reproducible with the generator, different across seeds", reproducible),
        (
            "works without a generator (generator=None)",
            no_generator,
            "give the generator argument the default None",
        ),
        ("mean and variance of 20,000 samples", statistics),
        ("gradient with respect to mu is 1", grad_mu),
        ("gradient with respect to logvar is σ ε / 2", grad_logvar),
        ("zero-variance limit (logvar = -120)", zero_variance),
        ("float64 and large means (|mu| ~ 1e4)", float64),
    ]
    return _run(name, cases, verbose)


def check_score_function_gradient(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, sigma, k, n, generator)``: the mean of n score-function (REINFORCE) samples,
    z ~ N(mu, sigma²) drawn with ``generator``, estimating d/dmu E[(z - k)²] = 2 (mu - k)
    (lesson 14-5). ``mu``, ``sigma``, ``k`` are floats, ``n`` an int; return a float or a 0-d tensor.

    The spread case tells it apart from the pathwise estimator 2 (z - k): one score-function
    sample has variance d⁴/σ² + 14 d² + 15 σ² (d = mu - k), a pathwise one 4 σ².
    """
    name = "check_score_function_gradient"
    if not callable(fn):
        return _not_callable(name, "my_score_gradient", fn, verbose)

    def estimate(mu, sigma, k, n, seed):
        out = _call(fn, mu, sigma, k, n, _gen(seed))
        t = _as_tensor(out, "your estimate")
        if t.numel() == n and n > 1:
            raise _Failure(
                f"your function returned {n} values, expected one number.", "return the mean of the n samples"
            )
        v = _as_float(t, "your estimate")
        if not math.isfinite(v):
            raise _Failure(f"your estimate is {v}.", "check for a division by zero")
        return v

    def single_var(mu, sigma, k):
        d = mu - k
        return d**4 / sigma**2 + 14 * d**2 + 15 * sigma**2

    def mean_case(mu, sigma, k, n, seed):
        def body():
            got = estimate(mu, sigma, k, n, seed)
            d = mu - k
            se = math.sqrt(single_var(mu, sigma, k) / n)
            if abs(got - 2 * d) <= 5 * se:
                return
            candidates = [
                ("did you forget to divide the score by σ²?", 2 * d * sigma**2, 5 * se * sigma**2),
                ("divide the score by σ², not σ", 2 * d * sigma, 5 * se * sigma),
                ("the score has the wrong sign: check d/dmu log N(z; mu, σ²)", -2 * d, 5 * se),
                ("you summed the n samples: average them", 2 * d * n, 5 * se * n),
                (
                    "f(z) = (z - k)² is the function whose expectation is differentiated: multiply the score by "
                    "(z - k)²",
                    1.0,
                    5 * math.sqrt((d**2 + 3 * sigma**2) / sigma**2 / n),
                ),
            ]
            hint = next((h for h, value, tol in candidates if abs(got - value) <= tol), None)
            raise _Failure(
                f"your estimate {got:.4g} is {abs(got - 2 * d) / se:.1f} standard errors away from the "
                "true gradient (allowed: 5).",
                hint
                or "the score-function estimator averages f(z) times the score "
                "d/dmu log N(z; mu, σ²) over n samples z ~ N(mu, σ²), with f(z) = (z - k)²",
            )

        return body

    def spread():
        mu, sigma, k, n, calls = 3.0, 1.0, 0.0, 5, 300
        values = torch.tensor(
            [estimate(mu, sigma, k, n, 2000 + i) for i in range(calls)], dtype=torch.float64
        )
        var = float(values.var())
        expected = single_var(mu, sigma, k) / n
        pathwise = 4 * sigma**2 / n
        if var < 1e-12:
            raise _Failure(
                "your estimate does not change between calls with different seeds.",
                "it must be a Monte Carlo estimate from n random samples, not the exact gradient",
            )
        ratio = var / expected
        if 0.35 < ratio < 3.0:
            return
        if abs(math.log(var / pathwise)) < math.log(3.0):
            hint = (
                "this looks like the pathwise (reparameterization) gradient 2 (z - k): the exercise asks for "
                "the score-function estimator, f(z) times d/dmu log N(z; mu, σ²)"
            )
        elif ratio > 3.0:
            hint = "draw a fresh z for each of the n samples and average the n score-function terms"
        else:
            hint = (
                "your estimates vary less than the plain score-function estimator's: no baseline or "
                "other variance reduction here"
            )
        raise _Failure(
            f"the variance of your estimates with n = {n} is {ratio:.3g} times that of the "
            "score-function estimator.",
            hint,
        )

    def reproducible():
        a = estimate(0.5, 1.0, 1.0, 50, 77)
        b = estimate(0.5, 1.0, 1.0, 50, 77)
        if a != b:
            raise _Failure(
                "two calls with generators seeded alike gave different estimates.",
                "draw z with the generator you are given: torch.randn(n, generator=generator)",
            )

    cases = [
        ("mean ≈ 2 (mu - k) for mu = 1.5, σ = 2, k = 0.5 (n = 40,000)", mean_case(1.5, 2.0, 0.5, 40000, 1)),
        ("mean ≈ 2 (mu - k) for mu = -1, σ = 0.5, k = 1 (n = 40,000)", mean_case(-1.0, 0.5, 1.0, 40000, 2)),
        ("score-function, not pathwise: spread of 300 estimates with n = 5", spread),
        ("reproducible with the generator", reproducible),
    ]
    return _run(name, cases, verbose)
