"""Lesson 14-2 (the ELBO): the checks of the Gaussian log-density and of the 1-D ELBO.

:func:`check_gaussian_log_density` checks ``fn(x, mu, var)``, log N(x; mu, var) elementwise;
:func:`check_elbo_1d` checks ``fn(x, m, v, w, b, s2)``, the closed-form ELBO of the 1-D
linear-Gaussian model.

:func:`check_gaussian_log_density` is data: :data:`LOG_DENSITY_CHECK`, a
:class:`~vae_lib.course.checks.CheckSpec` of value cases run by
:func:`~vae_lib.course.checks.run_check` (the reference is ``torch.distributions.Normal``; the
core has no Gaussian log-density of its own). :func:`check_elbo_1d` keeps its own case functions:
its answer is one Python number compared with ``math.isclose`` (its messages print the six
inputs), and two of its cases are not value comparisons (the ELBO equals log p(x) at the exact
posterior; it stays below log p(x) for 20 random q), which the data form does not express.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ...losses import LOG_2PI
from ...losses import kl_divergence as _kl_reference
from ._runner import (
    CheckResult,
    CheckSpec,
    ValueCase,
    _as_float,
    _call,
    _Failure,
    _gen,
    _not_callable,
    _rand,
    _randn,
    _run,
    run_check,
)


def _log_density_reference(x: torch.Tensor, mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """log N(x; mu, var) elementwise, by ``torch.distributions.Normal`` (the core has no copy of it)."""
    return torch.distributions.Normal(mu, var.sqrt()).log_prob(x)


def _log_density_variants(x: torch.Tensor, mu: torch.Tensor, var: torch.Tensor) -> list:
    """Typical wrong log-densities, each with the hint that names the mistake."""
    x, mu, var = (t.detach().double() for t in (x, mu, var))
    ref = -0.5 * (LOG_2PI + var.log()) - (x - mu) ** 2 / (2 * var)
    var_as_std = (
        "you used the variance where the standard deviation belongs: "
        "torch.distributions.Normal(mu, scale) takes σ = sqrt(var)"
    )
    return [
        (var_as_std, lambda: torch.distributions.Normal(mu, var).log_prob(x)),
        (
            "did you forget the 1/2 in front of log(2π σ²)?",
            -(LOG_2PI + var.log()) - (x - mu) ** 2 / (2 * var),
        ),
        (
            "did you forget the 2 in the denominator of (x - mu)² / (2 σ²)?",
            -0.5 * (LOG_2PI + var.log()) - (x - mu) ** 2 / var,
        ),
        (
            "did you drop the log(2π) constant? The density must integrate to 1.",
            -0.5 * var.log() - (x - mu) ** 2 / (2 * var),
        ),
        (
            "log σ = 1/2 log σ²: your log-normaliser uses log σ² where log σ belongs",
            -0.5 * LOG_2PI - var.log() - (x - mu) ** 2 / (2 * var),
        ),
        ("you returned the density itself, not its logarithm", ref.exp()),
        ("you returned the negative log-density: return log N(x; mu, var) itself", -ref),
        (
            "did you square (x - mu)? The exponent is -(x - mu)² / (2 σ²)",
            -0.5 * (LOG_2PI + var.log()) - (x - mu) / (2 * var),
        ),
    ]


def _log_density_shape_hint(ref: torch.Tensor, inputs: tuple) -> Callable[[torch.Tensor], str]:
    def hint(out: torch.Tensor) -> str:
        if out.numel() == 1 and ref.numel() > 1:
            return "the log-density is elementwise: one value per element of x, do not sum or average"
        return "return one value per element: the shape of x, mu and var broadcast together"

    return hint


LOG_DENSITY_CHECK = CheckSpec(
    name="check_gaussian_log_density",
    example="my_log_density",
    reference=_log_density_reference,
    variants=_log_density_variants,
    what="your log-density",
    shape_hint=_log_density_shape_hint,
    generic_hint="log N(x; mu, σ²) has a log-normaliser and a quadratic term; check both",
    cases=[
        ValueCase(
            "standard normal at x = 0, 1, 2, -0.5",
            lambda: (torch.tensor([0.0, 1.0, 2.0, -0.5]), torch.zeros(4), torch.ones(4)),
        ),
        ValueCase(
            "random x, mu, var of shape [6]",
            lambda: (_randn(6, seed=21), 2 * _randn(6, seed=22), _rand(6, seed=23, low=0.1, high=3.0)),
        ),
        ValueCase(
            "broadcasting: x [4, 3] with mu, var [3]",
            lambda: (_randn(4, 3, seed=24), torch.tensor([0.5, -1.0, 2.0]), torch.tensor([0.25, 2.0, 4.0])),
            error_hint="use torch operations so that x, mu and var broadcast like tensors",
        ),
        ValueCase(
            "small variance (1e-4), far from the mean",
            lambda: (torch.tensor([1.0, 0.5, 0.0]), torch.zeros(3), torch.full((3,), 1e-4)),
            tolerance=(1e-5, 1e-5),
            nonfinite_hint="compute the log-density directly (the log of a product is a sum of logs) "
            "instead of log(exp(...)): exp underflows to 0 far from the mean",
        ),
        ValueCase(
            "float64 in, float64 out",
            lambda: (
                _randn(5, seed=25, dtype=torch.float64),
                _randn(5, seed=26, dtype=torch.float64),
                _rand(5, seed=27, low=0.5, high=2.0, dtype=torch.float64),
            ),
            tolerance=(1e-10, 1e-10),
            dtype=torch.float64,
        ),
    ],
)


def check_gaussian_log_density(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(x, mu, var)``: log N(x; mu, var) elementwise, with broadcasting (lesson 14-2).
    The cases are the data of :data:`LOG_DENSITY_CHECK`, run by
    :func:`~vae_lib.course.checks.run_check`."""
    return run_check(LOG_DENSITY_CHECK, fn, verbose)


def _kl_1d(m: float, v: float) -> float:
    """KL(N(m, v) ‖ N(0, 1)) of the 1-D model, by the core's closed form."""
    return float(
        _kl_reference(
            torch.tensor([float(m)], dtype=torch.float64), torch.tensor([math.log(v)], dtype=torch.float64)
        )
    )


def _elbo_reference(x, m, v, w, b, s2):
    rec = -0.5 * math.log(2 * math.pi * s2) - ((x - w * m - b) ** 2 + w**2 * v) / (2 * s2)
    kl = _kl_1d(m, v)
    return rec - kl


def _elbo_variants(x, m, v, w, b, s2):
    const = -0.5 * math.log(2 * math.pi * s2)
    quad = ((x - w * m - b) ** 2 + w**2 * v) / (2 * s2)
    rec = const - quad
    kl = _kl_1d(m, v)
    ref = rec - kl
    return [
        (
            "E_q[(x - w z - b)²] is not (x - w m - b)²: z is random under q, so its variance adds a term",
            const - (x - w * m - b) ** 2 / (2 * s2) - kl,
        ),
        ("you added the KL term: the ELBO subtracts it", rec + kl),
        ("your KL term is off by a factor 2: did you forget the 1/2?", rec - 2 * kl),
        ("did you drop the -log v term of the KL (the entropy of q)?", rec - 0.5 * (m**2 + v - 1)),
        (
            "s2 is the variance σ² of p(x|z), not its standard deviation",
            -0.5 * math.log(2 * math.pi * s2**2) - ((x - w * m - b) ** 2 + w**2 * v) / (2 * s2**2) - kl,
        ),
        (
            "v is the variance of q, not its standard deviation",
            const
            - ((x - w * m - b) ** 2 + w**2 * v**2) / (2 * s2)
            - 0.5 * (m**2 + v**2 - math.log(v**2) - 1),
        ),
        ("you returned minus the ELBO (the loss): return the ELBO itself", -ref),
        (
            "you dropped the constant -1/2 log(2π s2): keep it, the ELBO must be comparable with log p(x)",
            -quad - kl,
        ),
        ("you dropped the log(2π) part of the constant -1/2 log(2π s2)", -0.5 * math.log(s2) - quad - kl),
        ("did you forget the 2 in the denominator of the squared-error term?", const - 2 * quad - kl),
    ]


def check_elbo_1d(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(x, m, v, w, b, s2)``: the ELBO of the 1-D linear-Gaussian model
    p(z) = N(0, 1), p(x|z) = N(w z + b, s2), q(z) = N(m, v), in closed form (lesson 14-2).

    The arguments are 0-d float64 tensors (so ``math`` and ``torch`` functions both work);
    your function may return a float or a 0-d tensor.
    """
    name = "check_elbo_1d"
    if not callable(fn):
        return _not_callable(name, "my_elbo", fn, verbose)

    def call(x, m, v, w, b, s2):
        args = [torch.tensor(float(a), dtype=torch.float64) for a in (x, m, v, w, b, s2)]
        return _as_float(_call(fn, *args), "your ELBO")

    def compare(x, m, v, w, b, s2, rtol=1e-7):
        got = call(x, m, v, w, b, s2)
        ref = _elbo_reference(x, m, v, w, b, s2)
        if not math.isfinite(got):
            raise _Failure(f"your ELBO is {got} for finite inputs.", "check for log(0) or a division by zero")
        if not math.isclose(got, ref, rel_tol=rtol, abs_tol=1e-9):
            hint = None
            for h, value in _elbo_variants(x, m, v, w, b, s2):
                if math.isclose(got, value, rel_tol=1e-6, abs_tol=1e-9):
                    hint = h
                    break
            raise _Failure(
                f"your ELBO is {got:.6g} for x={x:.4g}, m={m:.4g}, v={v:.4g}, w={w:.4g}, b={b:.4g}, "
                f"s2={s2:.4g}; that is not the closed form.",
                hint
                or "ELBO = E_q[log p(x|z)] - KL(q(z) ‖ p(z)); write out both expectations "
                "under q term by term",
            )

    def log_px(x, w, b, s2):
        var = w**2 + s2
        return -0.5 * math.log(2 * math.pi * var) - (x - b) ** 2 / (2 * var)

    def prior_q():
        compare(1.3, 0.0, 1.0, 2.0, 0.5, 0.5)

    def random_q():
        g = _gen(31)
        for _ in range(5):
            x, m, w, b = (float(u) for u in torch.randn(4, generator=g, dtype=torch.float64) * 1.5)
            v, s2 = (float(u) for u in 0.1 + 2 * torch.rand(2, generator=g, dtype=torch.float64))
            compare(x, m, v, w, b, s2)

    def exact_posterior():
        x, w, b, s2 = 2.0, 1.5, -0.5, 0.7
        v = s2 / (s2 + w**2)
        m = w * (x - b) / (s2 + w**2)
        got = call(x, m, v, w, b, s2)
        if not math.isclose(got, log_px(x, w, b, s2), rel_tol=1e-7, abs_tol=1e-9):
            compare(x, m, v, w, b, s2)  # the usual diagnosis
            raise _Failure(
                f"with q equal to the exact posterior your ELBO is {got:.6g}, which is not log p(x).",
                "when q(z) is the exact posterior, KL(q ‖ posterior) = 0 and the ELBO equals log p(x)",
            )

    def lower_bound():
        g = _gen(32)
        x, w, b, s2 = 0.8, -1.2, 0.3, 0.4
        bound = log_px(x, w, b, s2)
        for _ in range(20):
            m = float(torch.randn((), generator=g, dtype=torch.float64)) * 2
            v = float(torch.rand((), generator=g, dtype=torch.float64)) * 3 + 0.05
            got = call(x, m, v, w, b, s2)
            if got > bound + 1e-9:
                raise _Failure(
                    f"your ELBO ({got:.4g}) exceeds log p(x) ({bound:.4g}) for m={m:.3g}, v={v:.3g}, "
                    "but it is a lower bound.",
                    "check the signs: ELBO = E_q[log p(x|z)] - KL(q ‖ p(z))",
                )
            compare(x, m, v, w, b, s2)

    def narrow():
        compare(-0.4, 0.3, 1e-6, 0.9, 0.1, 1.5)

    def no_dependence():
        compare(1.0, 0.5, 0.5, 0.0, 0.2, 2.0)

    cases = [
        ("q = prior N(0, 1)", prior_q),
        ("five random settings", random_q),
        ("q = exact posterior: the ELBO equals log p(x)", exact_posterior),
        ("ELBO ≤ log p(x) for 20 random q", lower_bound),
        ("narrow q (v = 1e-6)", narrow),
        ("w = 0: x does not depend on z", no_dependence),
    ]
    return _run(name, cases, verbose)
