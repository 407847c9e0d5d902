"""Lesson 14-3 (variational autoencoders): the checks of the VAE loss and of the worked example.

:func:`check_vae_loss` checks ``fn(logits, x, mu, logvar, beta)`` -> (total, reconstruction, kl);
:func:`check_worked_example` checks a number, the KL of the worked example of lessons 14-3 and 14-4.
The wrong KL variants come from :mod:`.kl` (lesson 14-4).

:func:`check_vae_loss` is data: :data:`VAE_LOSS_CHECK`, a :class:`~vae_lib.course.checks.CheckSpec`
of value cases run by :func:`~vae_lib.course.checks.run_check`, its reference the core's
``reconstruction_loss`` and ``kl_divergence``. Its answer is three numbers, not one tensor, so
the spec brings its own ``compare`` (which term is wrong, the terms in the wrong order, the wrong
totals built from the student's own terms). :func:`check_worked_example` checks a number, not a
function, and keeps its one case function.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as _torch_kl

from ...losses import kl_divergence as _kl_reference
from ...losses import reconstruction_loss as _core_reconstruction
from ._runner import (
    CheckResult,
    CheckSpec,
    ValueCase,
    _as_float,
    _as_tensor,
    _backward,
    _call,
    _close,
    _Failure,
    _first_match,
    _rand,
    _randn,
    _run,
    _shape,
    run_check,
)
from .kl import _kl_variants


def _vae_loss_reference(logits, x, mu, logvar, beta):
    """(total, reconstruction, kl), batch means: the core's ``vae_lib.reconstruction_loss`` and
    ``vae_lib.kl_divergence``, as ``vae_lib.vae_loss`` combines them."""
    rec = _core_reconstruction(logits, x).mean()
    kl = _kl_reference(mu, logvar).mean()
    return rec + beta * kl, rec, kl


def _vae_loss_inputs(n, D=784, d=2, seed=0, dtype=torch.float32, binary=False, beta=None):
    logits = 2 * _randn(n, D, seed=seed, dtype=dtype)
    x = _rand(n, D, seed=seed + 1, dtype=dtype)
    if binary:
        x = (x < 0.3).to(dtype)
    mu = _randn(n, d, seed=seed + 2, dtype=dtype)
    logvar = _rand(n, d, seed=seed + 3, low=-2.0, high=1.0, dtype=dtype)
    return (logits, x, mu, logvar) if beta is None else (logits, x, mu, logvar, beta)


def _unpack(out):
    if isinstance(out, torch.Tensor) or not isinstance(out, (tuple, list)):
        raise _Failure(
            f"your function returned a {type(out).__name__}, expected three values.",
            "return the three terms (total, reconstruction, kl)",
        )
    if len(out) != 3:
        raise _Failure(
            f"your function returned {len(out)} values, expected three.",
            "return the three terms (total, reconstruction, kl)",
        )
    terms = []
    for label, t in zip(("total", "reconstruction", "kl"), out):
        t = _as_tensor(t, f"your {label}")
        if t.numel() != 1:
            raise _Failure(
                f"your {label} has shape {_shape(t)}, expected one number.",
                "each term is a batch mean: average the per-example values over the batch",
            )
        terms.append(t.reshape(()))
    return terms


def _rec_variants(logits, x):
    lo, xx = logits.detach().double(), x.detach().double()
    per = _core_reconstruction(lo, xx)
    _n, D = x.shape
    return [
        ("your loss is the batch SUM: average over the batch", per.sum()),
        (
            "binary_cross_entropy's default reduction='mean' averages over the pixels too: sum over the "
            "pixels, then average over the batch",
            per.mean() / D,
        ),
        (
            "did you apply the sigmoid twice? binary_cross_entropy_with_logits applies it itself",
            _core_reconstruction(torch.sigmoid(lo), xx).mean(),
        ),
        (
            "this is a squared error: the decoder is Bernoulli, use the binary cross-entropy",
            ((torch.sigmoid(lo) - xx) ** 2).sum(-1).mean(),
        ),
        ("your reconstruction term has the wrong sign: it is -log p(x|z) ≥ 0", -per.mean()),
    ]


def _kl_mean_variants(mu, logvar):
    per = _kl_reference(mu.detach().double(), logvar.detach().double())
    return [
        ("your loss is the batch SUM: average over the batch", per.sum()),
        *_kl_variants(mu, logvar, reduce=lambda t: t.mean()),
    ]


def _vae_loss_variants(logits, x, mu, logvar, beta):
    """The typical wrong reconstruction terms and wrong KL terms (the wrong totals depend on the
    student's own two terms, so :func:`_vae_loss_compare` builds them)."""
    return _rec_variants(logits, x), _kl_mean_variants(mu, logvar)


def _vae_loss_compare(out, refs, inputs, variants, case) -> None:
    beta = inputs[4]
    rtol, atol = case.tolerance
    rec_variants, kl_variants = variants
    total, rec, kl = _unpack(out)
    got = [t.detach().double() for t in (total, rec, kl)]
    refs = [t.double() for t in refs]
    ok = [_close(a, b, rtol, atol) for a, b in zip(got, refs)]
    if not all(ok):
        # the right values in the wrong order?
        for perm in itertools.permutations(range(3)):
            distinct = len({round(float(r), 6) for r in refs}) == 3
            permuted = all(_close(got[i], refs[j], rtol, atol) for i, j in enumerate(perm))
            if perm != (0, 1, 2) and distinct and permuted:
                raise _Failure(
                    "your three values are right but in the wrong order.",
                    "return them in the order (total, reconstruction, kl)",
                )
    if not ok[1]:
        raise _Failure(
            f"your reconstruction term is {float(got[1]):.6g}, which is not right.",
            _first_match(got[1], rec_variants)
            or "sum the binary cross-entropy over the pixels, then average over the batch",
        )
    if not ok[2]:
        hint = _first_match(got[2], kl_variants)
        if hint is None and float(got[2]) < 0:
            hint = "your KL is negative: a KL divergence is never negative"
        raise _Failure(
            f"your KL term is {float(got[2]):.6g}, which is not right.",
            hint or "sum the closed-form KL over the latent dimensions, then average over the batch",
        )
    if not ok[0]:
        r, k = got[1], got[2]
        hint = (
            _first_match(
                got[0],
                [
                    ("beta multiplies the KL term, not the reconstruction", beta * r + k),
                    ("your total ignores beta: total = reconstruction + beta * KL", r + k),
                    ("add the KL term: the loss is reconstruction + beta * KL", r - beta * k),
                    ("your total should be reconstruction + beta * KL", r),
                ],
            )
            or "the total is reconstruction + beta * KL"
        )
        raise _Failure(f"your total is {float(got[0]):.6g} for beta = {beta}, which is not right.", hint)


def _vae_loss_gradient(fn: Callable) -> None:
    logits, x, mu, logvar = _vae_loss_inputs(4, D=30, d=3, seed=61, dtype=torch.float64)
    leaves = {
        "logits": logits.requires_grad_(),
        "mu": mu.requires_grad_(),
        "logvar": logvar.requires_grad_(),
    }
    total, _, _ = _unpack(_call(fn, logits, x, mu, logvar, 2.0))
    grads = _backward(total, leaves)
    ref_leaves = {k: v.detach().clone().requires_grad_() for k, v in leaves.items()}
    _vae_loss_reference(ref_leaves["logits"], x, ref_leaves["mu"], ref_leaves["logvar"], 2.0)[0].backward()
    for k in leaves:
        grad, expected = grads[k], ref_leaves[k].grad
        if grad is None or not bool(grad.abs().sum() > 0):
            raise _Failure(
                f"the gradient does not reach {k}.",
                "compute every term with torch operations on the inputs (no .item(), .detach() or numpy)",
            )
        if expected is None or not _close(grad, expected, 1e-6, 1e-9):
            raise _Failure(
                f"the gradient with respect to {k} is wrong.",
                "check the value cases above first; the total must be "
                "reconstruction + beta * KL, both batch means",
            )


_TOL = (1e-5, 1e-5)

VAE_LOSS_CHECK = CheckSpec(
    name="check_vae_loss",
    example="my_vae_loss",
    reference=_vae_loss_reference,
    variants=_vae_loss_variants,
    compare=_vae_loss_compare,
    cases=[
        ValueCase(
            "batch of 8, 784 grey-level pixels, d = 2, beta = 1",
            lambda: _vae_loss_inputs(8, seed=41, beta=1.0),
            tolerance=_TOL,
        ),
        ValueCase(
            "beta = 4 (binary pixels)",
            lambda: _vae_loss_inputs(8, seed=45, binary=True, beta=4.0),
            tolerance=_TOL,
        ),
        ValueCase(
            "beta = 0: the total is the reconstruction",
            lambda: _vae_loss_inputs(6, seed=49, beta=0.0),
            tolerance=_TOL,
        ),
        ValueCase("a batch of one example", lambda: _vae_loss_inputs(1, seed=53, beta=1.0), tolerance=_TOL),
        ValueCase(
            "d = 20 latent dimensions, beta = 0.5",
            lambda: _vae_loss_inputs(5, D=50, d=20, seed=57, beta=0.5),
            tolerance=_TOL,
        ),
        ("gradients reach logits, mu and logvar (float64)", _vae_loss_gradient),
    ],
)


def check_vae_loss(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(logits, x, mu, logvar, beta)`` -> ``(total, reconstruction, kl)``: batch means
    in nats with a Bernoulli decoder, total = reconstruction + beta * kl (lesson 14-3). The cases
    are the data of :data:`VAE_LOSS_CHECK`, run by :func:`~vae_lib.course.checks.run_check`."""
    return run_check(VAE_LOSS_CHECK, fn, verbose)


# The KL of the worked example (lessons 14-3 and 14-4): d = 2, mu = (0.5, -1.0),
# sigma^2 = (0.25, 2.0). Only used for comparison, never printed.
_WORKED_MU = (0.5, -1.0)
_WORKED_VAR = (0.25, 2.0)


def _worked_kls() -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the KL, the KL per dimension, mu, logvar) of the worked example, from the core's closed form."""
    mu = torch.tensor(_WORKED_MU, dtype=torch.float64)
    logvar = torch.tensor(_WORKED_VAR, dtype=torch.float64).log()
    per = _kl_reference(mu[:, None], logvar[:, None])  # one latent dimension at a time
    return float(per.sum()), per, mu, logvar


def _worked_variants():
    """Typical wrong numbers for the worked example: the core's KL plus what each mistake changes."""
    ref, per, mu, lv = _worked_kls()
    total = lambda t: float(t.sum())  # noqa: E731
    reverse = _torch_kl(
        Normal(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)),
        Normal(mu, (0.5 * lv).exp()),
    )
    return [
        ("off by a factor 2: did you forget the 1/2?", 2 * ref),
        ("you only counted the first latent dimension: sum over both", float(per[0])),
        ("you only counted the second latent dimension: sum over both", float(per[1])),
        ("you only counted one latent dimension, and forgot the 1/2", 2 * float(per[0])),
        ("you only counted one latent dimension, and forgot the 1/2", 2 * float(per[1])),
        ("you averaged over the two dimensions: sum over them", ref / 2),
        ("did you drop the -log σ² term?", total(per + 0.5 * lv)),
        ("the log σ² term has the wrong sign", total(per + lv)),
        (
            "σ² = (0.25, 2.0) are the variances: you squared them as if they were standard deviations",
            total(_kl_reference(mu[:, None], 2 * lv[:, None])),
        ),
        ("did you forget the -1 in each dimension?", ref + 1.0),
        ("did you use mu instead of mu²?", total(per + 0.5 * (mu - mu**2))),
        ("that is in bits (log base 2): give the KL in nats (natural log)", ref / math.log(2)),
        ("use the natural log (nats), not log base 10", total(per + 0.5 * (lv - lv / math.log(10)))),
        ("that is KL(N(0, I) ‖ q), the reverse direction: the VAE's KL is KL(q ‖ N(0, I))", total(reverse)),
        ("the KL is never negative: check the signs", -ref),
    ]


def check_worked_example(value: Any, verbose: bool = True) -> CheckResult:
    """Check your number for the worked example of lessons 14-3 and 14-4: the KL of
    q = N(mu, diag sigma^2), mu = (0.5, -1.0), sigma^2 = (0.25, 2.0), from N(0, I), in nats."""
    name = "check_worked_example"
    ref = _worked_kls()[0]

    def body():
        if callable(value):
            raise _Failure(
                "check_worked_example expects a number, got a function.",
                "pass the value itself, e.g. check_worked_example(kl_value)",
            )
        if value is None:
            raise _Failure("you passed None.", "pass the number you computed")
        if (isinstance(value, (torch.Tensor, tuple, list)) and not isinstance(value, torch.Tensor)) or (
            isinstance(value, torch.Tensor) and value.numel() != 1
        ):
            values = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
            per_dim = _worked_kls()[1]
            hint = (
                "these are the two per-dimension terms: add them up"
                if _close(values, per_dim, 1e-3, 5e-4)
                else "pass one number: the KL summed over both latent dimensions"
            )
            raise _Failure(f"you passed {values.numel()} values, expected one number.", hint)
        got = _as_float(value, "your value")
        if not math.isfinite(got):
            raise _Failure(
                f"your value is {got}.", "the KL of the worked example is a finite positive number"
            )
        if abs(got - ref) <= 5e-4:
            return
        for hint, wrong in _worked_variants():
            if abs(got - wrong) <= 5e-4:
                raise _Failure(f"{got:.6g} nats is not the KL of the worked example.", hint)
        if abs(got - ref) <= 1e-2:
            raise _Failure(
                f"{got:.6g} nats is close but not accurate enough.",
                "give at least four significant digits (do not round the logarithms early)",
            )
        raise _Failure(
            f"{got:.6g} nats is not the KL of the worked example.",
            "use the closed form of lesson 14-4: one term per latent dimension, then add them up",
        )

    cases = [("KL of the worked example (d = 2, mu = (0.5, -1.0), σ² = (0.25, 2.0))", body)]
    return _run(name, cases, verbose)
