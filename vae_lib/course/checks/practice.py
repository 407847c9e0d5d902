"""Lesson 14-7 (VAEs in practice): the checks of the activity statistic and of free bits.

:func:`check_activity` checks ``fn(mu)`` -> A_j = Var_x(mu_j), one value per latent dimension;
:func:`check_free_bits` checks ``fn(mu, logvar, lam)`` -> sum_j max(lam, mean_n KL_nj).

:func:`check_free_bits` is data (:data:`FREE_BITS_CHECK`, run by
:func:`~vae_lib.course.checks.run_check`, its reference the core's ``kl_divergence`` per
dimension, as ``vae_lib.vae_loss(..., free_bits=lam)`` uses it); its two property cases (every
dimension below lam, no gradient below lam) stay case functions. :func:`check_activity` keeps
its case functions: two answers are right (the variance dividing by N or by N - 1), which one
reference of the data form cannot say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ...losses import kl_divergence as _core_kl
from ._runner import (
    CheckResult,
    CheckSpec,
    ValueCase,
    _backward,
    _call,
    _expect,
    _Failure,
    _not_callable,
    _randn,
    _run,
    run_check,
)


def check_activity(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu)``: Burda et al.'s activity A_j = Var over the images of mu_j, for ``mu`` of
    shape [N, d] (the encoder's means of N images); returns [d] (lesson 14-7). The variance may
    divide by N or by N - 1."""
    name = "check_activity"
    if not callable(fn):
        return _not_callable(name, "my_activity", fn, verbose)

    def compare(mu, rtol=1e-4, atol=1e-6):
        out = _call(fn, mu.clone())
        ref0, ref1 = mu.var(0, correction=0), mu.var(0, correction=1)
        variants = [
            (
                "you took the variance over the latent dimensions (dim=1); A_j is a variance over the images "
                "(dim=0), one value per dimension",
                mu.var(1, correction=0),
            ),
            (
                "you took the variance over the latent dimensions (dim=1); A_j is a variance over the images "
                "(dim=0), one value per dimension",
                mu.var(1, correction=1),
            ),
            ("this is the standard deviation: A_j is the variance (no square root)", mu.std(0, correction=0)),
            ("this is the standard deviation: A_j is the variance (no square root)", mu.std(0, correction=1)),
            (
                "this is the mean of mu^2: subtract the mean over the images first (a variance is centred)",
                mu.pow(2).mean(0),
            ),
            ("this is the mean of mu over the images; A_j is how much mu_j varies over them", mu.mean(0)),
        ]

        def hint(o):
            return "return one value per latent dimension, shape [d]: a variance over the images (dim=0)"

        try:
            return _expect(
                out, ref0, variants=variants, rtol=rtol, atol=atol, what="your activity", shape_hint=hint
            )
        except _Failure:  # the variance that divides by N - 1 is right too
            return _expect(
                out, ref1, variants=variants, rtol=rtol, atol=atol, what="your activity", shape_hint=hint
            )

    def random():
        compare(_randn(500, 6, seed=141) * torch.tensor([2.0, 1.0, 0.5, 0.1, 0.01, 0.0]) + 0.3)

    def constant_dimension():
        mu = _randn(200, 3, seed=142)
        mu[:, 1] = 0.8  # ignores x, but not at the prior mean
        out = compare(mu)
        if abs(float(out[1])) > 1e-6:
            raise _Failure(
                "a dimension whose mean is the same for every image must have activity 0, "
                f"yours is {float(out[1]):.4g}.",
                "A_j measures how mu_j varies over the images",
            )

    def shape_batch():
        compare(_randn(7, 20, seed=143))

    def float64():
        mu = _randn(50, 4, seed=144, dtype=torch.float64)
        out = compare(mu, rtol=1e-8, atol=1e-10)
        if out.dtype != torch.float64:
            raise _Failure(
                f"your activity has dtype {out.dtype} for float64 inputs.", "let the dtype follow mu"
            )

    cases = [
        ("6 dimensions of different spread, 500 images", random),
        ("a dimension whose mean ignores x", constant_dimension),
        ("20 dimensions, 7 images", shape_batch),
        ("float64 in, float64 out", float64),
    ]
    return _run(name, cases, verbose)


def _free_bits_reference(mu: torch.Tensor, logvar: torch.Tensor, lam: float) -> torch.Tensor:
    """sum_j max(lam, KL_j), KL_j the batch mean of the core's ``vae_lib.kl_divergence`` of
    dimension j, as ``vae_lib.vae_loss(..., free_bits=lam)`` computes its objective."""
    return _core_kl(mu.unsqueeze(-1), logvar.unsqueeze(-1)).mean(0).clamp(min=lam).sum()


def _free_bits_variants(mu: torch.Tensor, logvar: torch.Tensor, lam: float) -> list:
    kl = _core_kl(mu.unsqueeze(-1), logvar.unsqueeze(-1))  # [N, d]: the KL of each image and dimension
    return [
        (
            "this is the plain KL without the allowance lam: take max(lam, KL_j) per dimension",
            kl.mean(0).sum(),
        ),
        (
            "you clamped each image's KL_nj before averaging: free bits clamps the batch average KL_j of "
            "each dimension (so the encoder may spend more on one image and less on another)",
            kl.clamp(min=lam).mean(0).sum(),
        ),
        (
            "you clamped the total KL: free bits gives each latent dimension its own allowance lam",
            kl.sum(1).mean().clamp(min=lam),
        ),
        (
            "this is min(lam, KL_j): below lam the term should stay at lam (no pressure), above it "
            "follow KL_j",
            kl.mean(0).clamp(max=lam).sum(),
        ),
        ("you summed over the batch: KL_j is a mean over the images", kl.sum(0).clamp(min=lam).sum()),
    ]


def _free_bits_data(seed: int, n: int = 64, d: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    mu = _randn(n, d, seed=seed) * torch.tensor([2.0, 1.0, 0.3, 0.05, 0.0])[:d]
    logvar = _randn(n, d, seed=seed + 1) * 0.1 - torch.tensor([2.0, 1.0, 0.2, 0.01, 0.0])[:d]
    return mu, logvar


def _free_bits_value(fn: Callable, mu: torch.Tensor, logvar: torch.Tensor, lam: float) -> Any:
    """The student's answer, compared as :data:`FREE_BITS_CHECK`'s value cases compare it."""
    out = _call(fn, mu, logvar, lam)
    m, lv = mu.detach().double(), logvar.detach().double()
    _expect(
        out.detach() if isinstance(out, torch.Tensor) else out,
        _free_bits_reference(m, lv, lam),
        variants=_free_bits_variants(m, lv, lam),
        rtol=1e-5,
        atol=1e-6,
        what="your free-bits KL",
        shape_hint=_free_bits_shape_hint(None, None),
    )
    return out


def _free_bits_shape_hint(ref, inputs):
    return lambda o: "return one number: the sum over the dimensions of max(lam, KL_j)"


def _all_below(fn: Callable) -> None:
    mu, logvar = _free_bits_data(155)
    out = _free_bits_value(fn, 0.01 * mu, 0.01 * logvar, 1.0)
    if abs(float(out) - 5.0) > 1e-5:
        raise _Failure("with every KL_j below lam = 1, the term is d * lam = 5.", None)


def _free_bits_gradient(fn: Callable) -> None:
    mu, logvar = _free_bits_data(157)
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    out = _free_bits_value(fn, mu, logvar, 0.5)
    if not isinstance(out, torch.Tensor):
        raise _Failure(
            "your result is a plain number, cut off from autograd (training needs it).",
            "return the tensor itself (no .item() or float(...))",
        )
    grads = _backward(out, {"mu": mu, "logvar": logvar})
    kl_j = _core_kl(mu.detach().unsqueeze(-1), logvar.detach().unsqueeze(-1)).mean(0)
    below = kl_j < 0.5
    g = grads["mu"]
    if g is None:
        raise _Failure("no gradient reached mu.", "use torch operations all the way")
    if bool(below.any()) and float(g[:, below].abs().max()) > 1e-7:
        raise _Failure(
            "dimensions with KL_j below lam still get a KL gradient: the point of free bits is that they do not.",
            "max(lam, KL_j) is flat in KL_j where KL_j < lam (torch.clamp)",
        )
    if float(g[:, ~below].abs().max()) == 0:
        raise _Failure("dimensions with KL_j above lam get no gradient.", "above lam the term is KL_j itself")


FREE_BITS_CHECK = CheckSpec(
    name="check_free_bits",
    example="my_free_bits",
    reference=_free_bits_reference,
    variants=_free_bits_variants,
    what="your free-bits KL",
    shape_hint=_free_bits_shape_hint,
    cases=[
        ValueCase("lam = 0 gives the plain KL", lambda: (*_free_bits_data(151), 0.0), tolerance=(1e-5, 1e-6)),
        ValueCase(
            "lam = 0.5, some dimensions below and some above",
            lambda: (*_free_bits_data(153), 0.5),
            tolerance=(1e-5, 1e-6),
        ),
        ("every dimension below lam = 1", _all_below),
        ("no KL gradient for the dimensions below lam", _free_bits_gradient),
    ],
)


def check_free_bits(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, logvar, lam)``: the free-bits KL term of Kingma et al. (2016),
    sum_j max(lam, KL_j) with KL_j the KL of dimension j averaged over the batch, for ``mu`` and
    ``logvar`` of shape [N, d] and a float ``lam`` >= 0; returns one number (lesson 14-7). The
    cases are the data of :data:`FREE_BITS_CHECK`, run by :func:`~vae_lib.course.checks.run_check`."""
    return run_check(FREE_BITS_CHECK, fn, verbose)
