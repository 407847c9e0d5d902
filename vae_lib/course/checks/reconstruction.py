"""Lesson 14-1 (autoencoders): the check of the reconstruction loss.

:func:`check_reconstruction_loss` checks ``fn(logits, x)``, the binary cross-entropy per example.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...losses import reconstruction_loss as _core_loss
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
    _rand,
    _randn,
    run_check,
)

_STABLE_BCE = (
    "for large logits, sigmoid(logits) rounds to exactly 0 or 1 in float32 and the log breaks: "
    "compute the loss from the logits themselves (softplus, or "
    "torch.nn.functional.binary_cross_entropy_with_logits) instead of log(sigmoid(...))"
)


def _reference(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The loss of the core, ``vae_lib.reconstruction_loss`` (Bernoulli): BCE summed over the pixels."""
    return _core_loss(logits, x)


def _variants(logits: torch.Tensor, x: torch.Tensor) -> list:
    """Typical wrong losses, each with the hint that names the mistake."""
    ref = _reference(logits, x)
    p = torch.sigmoid(logits)
    return [
        (
            "you averaged over the pixels: sum over them (the log-likelihood of independent pixels adds up)",
            ref / x.shape[-1],
        ),
        ("your loss has the wrong sign: the loss is -log p(x|z), which is ≥ 0", -ref),
        (
            "did you apply the sigmoid twice? binary_cross_entropy_with_logits applies it itself: "
            "pass the logits",
            lambda: _reference(torch.sigmoid(logits), x),
        ),
        ("this is a squared error, not the binary cross-entropy", ((p - x) ** 2).sum(-1)),
        (
            "the two terms are swapped: x multiplies log p and (1 - x) multiplies log(1 - p)",
            lambda: _reference(-logits, x),  # swapping x and 1 - x is the loss of the negated logits
        ),
    ]


def _gradient(fn: Callable) -> None:
    logits = (2 * _randn(4, 30, seed=11, dtype=torch.float64)).requires_grad_()
    x = _rand(4, 30, seed=12, dtype=torch.float64)
    out = _as_tensor(_call(fn, logits, x))
    grads = _backward(out, {"logits": logits})
    # the reference gradient: autograd through the core's loss
    ref_logits = logits.detach().clone().requires_grad_()
    _reference(ref_logits, x).sum().backward()
    if grads["logits"] is None or not bool(grads["logits"].abs().sum() > 0):
        raise _Failure(
            "the gradient does not reach the logits.",
            "compute the loss with torch operations on the logits (no .item(), .detach() or numpy)",
        )
    if ref_logits.grad is None or not _close(grads["logits"], ref_logits.grad, 1e-6, 1e-8):
        raise _Failure("the gradient with respect to the logits is wrong.", "fix the value cases above first")


RECONSTRUCTION_CHECK = CheckSpec(
    name="check_reconstruction_loss",
    example="my_reconstruction_loss",
    reference=_reference,
    variants=_variants,
    what="your loss",
    shape_hint=lambda ref, inputs: _batch_shape_hint(ref, inputs[1].shape[-1], "pixels", "the loss"),
    generic_hint="the loss of one example is the binary cross-entropy between x and sigmoid(logits), "
    "summed over the pixels",
    cases=[
        ValueCase(
            "batch of 8 x 784 binary pixels",
            lambda: (3 * _randn(8, 784, seed=1), (_rand(8, 784, seed=2) < 0.3).float()),
        ),
        ValueCase(
            "grey-level pixels in [0, 1], batch of 5",
            lambda: (2 * _randn(5, 784, seed=3), _rand(5, 784, seed=4)),
        ),
        ValueCase(
            "a batch of one example [1, 784]",
            lambda: (_randn(1, 784, seed=5), (_rand(1, 784, seed=6) < 0.5).float()),
        ),
        ValueCase(
            "large logits (±30) in float32",
            lambda: (30 * torch.sign(_randn(6, 50, seed=7)), (_rand(6, 50, seed=8) < 0.5).float()),
            nonfinite_hint=_STABLE_BCE,
            generic_hint=_STABLE_BCE,
        ),
        ValueCase(
            "float64 in, float64 out",
            lambda: (_randn(4, 20, seed=9, dtype=torch.float64), _rand(4, 20, seed=10, dtype=torch.float64)),
            tolerance=(1e-10, 1e-10),
            dtype=torch.float64,
        ),
        ("gradient with respect to the logits", _gradient),
    ],
)


def check_reconstruction_loss(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(logits, x)``: the Bernoulli reconstruction loss (binary cross-entropy)
    per example, summed over the pixels, shape [N] (lesson 14-1). The cases are the data of
    :data:`RECONSTRUCTION_CHECK`, run by :func:`~vae_lib.course.checks.run_check`."""
    return run_check(RECONSTRUCTION_CHECK, fn, verbose)
