"""Lesson 14-1 (autoencoders): the check of the reconstruction loss.

:func:`check_reconstruction_loss` checks ``fn(logits, x)``, the binary cross-entropy per example.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._runner import (
    CheckResult,
    _as_tensor,
    _backward,
    _batch_shape_hint,
    _call,
    _close,
    _expect,
    _Failure,
    _not_callable,
    _rand,
    _randn,
    _run,
)

_STABLE_BCE = (
    "for large logits, sigmoid(logits) rounds to exactly 0 or 1 in float32 and the log breaks: "
    "compute the loss from the logits themselves (softplus, or "
    "torch.nn.functional.binary_cross_entropy_with_logits) instead of log(sigmoid(...))"
)


def check_reconstruction_loss(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(logits, x)``: the Bernoulli reconstruction loss (binary cross-entropy)
    per example, summed over the pixels, shape [N] (lesson 14-1)."""
    name = "check_reconstruction_loss"
    if not callable(fn):
        return _not_callable(name, "my_reconstruction_loss", fn, verbose)

    def reference(logits, x):
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)

    def variants(logits, x):
        lo, xx = logits.detach().double(), x.detach().double()
        ref = reference(lo, xx)
        p = torch.sigmoid(lo)
        return [
            (
                "you averaged over the pixels: sum over them (the log-likelihood of independent pixels adds up)",
                ref / x.shape[-1],
            ),
            ("your loss has the wrong sign: the loss is -log p(x|z), which is ≥ 0", -ref),
            (
                "did you apply the sigmoid twice? binary_cross_entropy_with_logits applies it itself: "
                "pass the logits",
                lambda: reference(torch.sigmoid(lo), xx),
            ),
            ("this is a squared error, not the binary cross-entropy", ((p - xx) ** 2).sum(-1)),
            (
                "the two terms are swapped: x multiplies log p and (1 - x) multiplies log(1 - p)",
                -((1 - xx) * torch.log(p) + xx * torch.log1p(-p)).sum(-1),
            ),
        ]

    def compare(logits, x, **kw):
        ref = reference(logits.detach().double(), x.detach().double())
        out = _call(fn, logits.clone(), x.clone())
        kw.setdefault(
            "generic_hint",
            "the loss of one example is the binary cross-entropy between x and "
            "sigmoid(logits), summed over the pixels",
        )
        return _expect(
            out,
            ref,
            variants=variants(logits, x),
            what="your loss",
            shape_hint=_batch_shape_hint(ref, x.shape[-1], "pixels", "the loss"),
            **kw,
        )

    def binary():
        logits = 3 * _randn(8, 784, seed=1)
        x = (_rand(8, 784, seed=2) < 0.3).float()
        compare(logits, x)

    def grey():
        compare(2 * _randn(5, 784, seed=3), _rand(5, 784, seed=4))

    def single():
        compare(_randn(1, 784, seed=5), (_rand(1, 784, seed=6) < 0.5).float())

    def large():
        logits = 30 * torch.sign(_randn(6, 50, seed=7))
        x = (_rand(6, 50, seed=8) < 0.5).float()
        compare(logits, x, nonfinite_hint=_STABLE_BCE, generic_hint=_STABLE_BCE)

    def float64():
        compare(
            _randn(4, 20, seed=9, dtype=torch.float64),
            _rand(4, 20, seed=10, dtype=torch.float64),
            rtol=1e-10,
            atol=1e-10,
            dtype=torch.float64,
        )

    def gradient():
        logits = (2 * _randn(4, 30, seed=11, dtype=torch.float64)).requires_grad_()
        x = _rand(4, 30, seed=12, dtype=torch.float64)
        out = _as_tensor(_call(fn, logits, x))
        grads = _backward(out, {"logits": logits})
        expected = torch.sigmoid(logits.detach()) - x
        if grads["logits"] is None or not bool(grads["logits"].abs().sum() > 0):
            raise _Failure(
                "the gradient does not reach the logits.",
                "compute the loss with torch operations on the logits (no .item(), .detach() or numpy)",
            )
        if not _close(grads["logits"], expected, 1e-6, 1e-8):
            raise _Failure(
                "the gradient with respect to the logits is wrong.", "fix the value cases above first"
            )

    cases = [
        ("batch of 8 x 784 binary pixels", binary),
        ("grey-level pixels in [0, 1], batch of 5", grey),
        ("a batch of one example [1, 784]", single),
        ("large logits (±30) in float32", large),
        ("float64 in, float64 out", float64),
        ("gradient with respect to the logits", gradient),
    ]
    return _run(name, cases, verbose)
