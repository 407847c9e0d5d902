"""Checks of the second-edition exercises of lessons 14-4 and 14-5 (owner: lessons 14-1..14-6).

| check | your function | lesson |
| --- | --- | --- |
| :func:`check_kl_general` | ``fn(mu1, var1, mu2, var2)`` -> KL(N(mu1, var1) ‖ N(mu2, var2)) | 14-4 |
| :func:`check_exp_gradient` | ``fn(mu, logvar)`` -> exact (d/dmu, d/dlogvar) of E[exp(z)] | 14-5 |
| :func:`check_training_step` | ``fn(model, x, optimizer, generator)`` -> loss of one step | 14-5 |
| :func:`check_first_collapse` | ``fn(kl_by_beta, threshold=0.01)`` -> (beta, n collapsed) | 14-6 |

Both compare with an independent reference (``torch.distributions`` for the KL, autograd
through a closed form and a Monte Carlo pathwise estimate for the gradient) and name the
typical wrong variants in their hints; they never print the solution.

:func:`check_kl_general` is data (:data:`KL_GENERAL_CHECK`, run by
:func:`~vae_lib.course.checks.run_check`, with its own ``compare`` for its float64 tolerances and
messages). The others keep case functions: :func:`check_exp_gradient` is statistical (a Monte
Carlo pathwise estimate with five standard errors), :func:`check_training_step` inspects a
model's parameters after three optimizer steps, and :func:`check_first_collapse` checks a
(beta, count) answer on dicts, not a tensor against a reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as _torch_kl

from ._runner import (
    CheckResult,
    CheckSpec,
    ValueCase,
    _as_tensor,
    _call,
    _Failure,
    _not_callable,
    _run,
    run_check,
)

_F64 = torch.float64


def _t(v) -> torch.Tensor:
    return torch.as_tensor(v, dtype=_F64)


def _kl_general_reference(m1, v1, m2, v2):
    """KL(N(m1, v1) ‖ N(m2, v2)) by ``torch.distributions`` (the core has only the KL from N(0, I))."""
    return _torch_kl(Normal(m1, v1.sqrt()), Normal(m2, v2.sqrt()))


def _kl_general_variants(m1, v1, m2, v2):
    return [
        (
            "the arguments are variances: do not square them again",
            0.5 * (v1**2 / v2**2 + (m1 - m2) ** 2 / v2**2 - 1 + torch.log(v2**2 / v1**2)),
        ),
        (
            "the log term is log(var2 / var1), not log(var1 / var2)",
            0.5 * (v1 / v2 + (m1 - m2) ** 2 / v2 - 1 + torch.log(v1 / v2)),
        ),
        (
            "the squared difference of the means is divided by var2, the variance of the second Gaussian",
            0.5 * (v1 / v2 + (m1 - m2) ** 2 / v1 - 1 + torch.log(v2 / v1)),
        ),
        (
            "that is KL(p ‖ q), the other direction: the expectation is under the first Gaussian",
            0.5 * (v2 / v1 + (m1 - m2) ** 2 / v1 - 1 + torch.log(v1 / v2)),
        ),
        ("did you forget the factor 1/2?", (v1 / v2 + (m1 - m2) ** 2 / v2 - 1 + torch.log(v2 / v1))),
        ("did you forget the -1?", 0.5 * (v1 / v2 + (m1 - m2) ** 2 / v2 + torch.log(v2 / v1))),
    ]


def _kl_general_compare(output, ref, inputs, variants, case) -> None:
    """Its own comparison: tolerances of 1e-8 for float64, and messages in nats."""
    out = _as_tensor(output, "your KL")
    if out.shape != ref.shape:
        raise _Failure(
            f"your KL has shape {list(out.shape)}, expected {list(ref.shape)}.",
            "compute elementwise with tensor operations (torch.log, not math.log)",
        )
    got = out.detach().double()
    if torch.allclose(got, ref, rtol=1e-8, atol=1e-10):
        return
    hint = next(
        (h for h, v in variants if v.shape == got.shape and torch.allclose(got, v, rtol=1e-6, atol=1e-9)),
        None,
    )
    worst = float((got - ref).abs().max())
    raise _Failure(
        f"your KL is off by up to {worst:.3g} nats.",
        hint or "start from E_q[log q(z) - log p(z)] with E_q[(z - mu2)^2] = var1 + (mu1 - mu2)^2",
    )


def _kl_case(name: str, *args) -> ValueCase:
    return ValueCase(name, lambda: tuple(_t(a) for a in args))


KL_GENERAL_CHECK = CheckSpec(
    name="check_kl_general",
    example="my_kl_general",
    reference=_kl_general_reference,
    variants=_kl_general_variants,
    compare=_kl_general_compare,
    cases=[
        _kl_case("q = p gives 0", 0.3, 0.7, 0.3, 0.7),
        _kl_case("p = N(0, 1): the formula of this lesson", 0.5, 0.25, 0.0, 1.0),
        _kl_case("q = N(0.5, 0.25), p = N(-1, 4)", 0.5, 0.25, -1.0, 4.0),
        _kl_case("a narrow prior: p = N(2, 0.1)", -0.4, 1.5, 2.0, 0.1),
        _kl_case(
            "tensors that broadcast", [0.0, 1.0, -2.0], [1.0, 0.5, 3.0], [[0.5], [-1.0]], [[2.0], [0.3]]
        ),
        _kl_case("not symmetric: swapping q and p changes the value", -1.0, 4.0, 0.5, 0.25),
    ],
)


def check_kl_general(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu1, var1, mu2, var2)``: KL(N(mu1, var1) ‖ N(mu2, var2)) of two univariate
    Gaussians, given by their means and *variances* (lesson 14-4, exercise ex-14-4-general).
    Inputs are float64 tensors that broadcast; the output must match ``torch.distributions``
    elementwise. The cases are the data of :data:`KL_GENERAL_CHECK`, run by
    :func:`~vae_lib.course.checks.run_check`."""
    return run_check(KL_GENERAL_CHECK, fn, verbose)


def check_exp_gradient(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, logvar)``: the exact gradient ``(d/dmu, d/dlogvar)`` of E[exp(z)] for
    z ~ N(mu, exp(logvar)) (lesson 14-5, exercise ex-14-5-exp), for float64 tensors. The
    reference is autograd through a pathwise Monte Carlo estimate with one million samples,
    and the check allows five of its standard errors."""
    name = "check_exp_gradient"
    if not callable(fn):
        return _not_callable(name, "my_exp_gradient", fn, verbose)

    def pathwise(mu: float, logvar: float, n: int = 1_000_000, seed: int = 0):
        m = _t(mu).requires_grad_()
        lv = _t(logvar).requires_grad_()
        eps = torch.randn(n, dtype=_F64, generator=torch.Generator().manual_seed(seed))
        values = torch.exp(m + torch.exp(0.5 * lv) * eps)
        g_mu = values.detach()  # d/dmu of exp(z) per sample
        g_lv = values.detach() * 0.5 * torch.exp(0.5 * lv.detach()) * eps  # d/dlogvar per sample
        return ((g_mu.mean(), g_mu.std() / math.sqrt(n)), (g_lv.mean(), g_lv.std() / math.sqrt(n)))

    def case(mu: float, logvar: float):
        def body():
            out = _call(fn, _t(mu), _t(logvar))
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise _Failure("return a pair (d/dmu, d/dlogvar).", None)
            got = [float(_as_tensor(o, "your gradient").detach()) for o in out]
            (m_mu, se_mu), (m_lv, se_lv) = pathwise(mu, logvar)
            var = math.exp(logvar)
            mean = math.exp(mu + var / 2)
            if abs(got[0] - float(m_mu)) > 5 * float(se_mu) + 1e-9:
                hint = None
                if abs(got[0] - math.exp(mu)) < 1e-9 * (1 + math.exp(mu)):
                    hint = "E[exp(z)] is not exp(mu): z varies around mu, and exp is convex"
                elif abs(got[0] - math.exp(mu + math.exp(logvar / 2) / 2)) < 1e-6:
                    hint = "E[exp(z)] = exp(mu + σ²/2): the variance, not the standard deviation"
                raise _Failure(
                    f"your d/dmu is {got[0]:.6g}; the measured gradient is {float(m_mu):.6g} "
                    f"± {float(se_mu):.2g}.",
                    hint or "write E[exp(z)] in closed form first, then differentiate it",
                )
            if abs(got[1] - float(m_lv)) > 5 * float(se_lv) + 1e-9:
                hint = None
                if abs(got[1] - mean / 2) < 1e-6 * mean:
                    hint = "dσ²/dlogvar = σ², so the chain rule gives a factor σ²/2, not 1/2"
                elif abs(got[1] - mean * var) < 1e-6 * mean * max(var, 1):
                    hint = "d/dσ² of exp(mu + σ²/2) has a factor 1/2"
                raise _Failure(
                    f"your d/dlogvar is {got[1]:.6g}; the measured gradient is {float(m_lv):.6g} "
                    f"± {float(se_lv):.2g}.",
                    hint or "differentiate with respect to logvar = log σ²: dσ²/dlogvar = σ²",
                )

        return body

    cases = [
        ("mu = 0, σ² = 1", case(0.0, 0.0)),
        ("mu = 0.5, σ² = 0.25", case(0.5, math.log(0.25))),
        ("mu = -1, σ² = 2", case(-1.0, math.log(2.0))),
    ]
    return _run(name, cases, verbose)


def check_training_step(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(model, x, optimizer, generator)``: one VAE training step (lesson 14-5,
    exercise ex-14-5-bug). It must compute the loss reconstruction + KL (batch means) through a
    reparameterized z drawn with ``generator``, clear old gradients, backpropagate, take one
    optimizer step and return the loss as a float. The check runs three steps on a small VAE
    and compares every parameter with the correct step and with the typical bugs."""
    name = "check_training_step"
    if not callable(fn):
        return _not_callable(name, "my_training_step", fn, verbose)
    from vae_lib import VAE, kl_divergence, reconstruction_loss, reparameterize

    def reference_step(model, x, optimizer, generator, *, detach=False, zero_grad=True, kl=True):
        if zero_grad:
            optimizer.zero_grad()
        mu, logvar = model.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        if detach:
            z = z.detach()
        loss = reconstruction_loss(model.decode(z), x).mean()
        if kl:
            loss = loss + kl_divergence(mu, logvar).mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    def run(step, steps=3):
        torch.manual_seed(0)
        model = VAE(latent_dim=2, hidden=(16,))
        x = torch.rand(8, 784, generator=torch.Generator().manual_seed(1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        losses = [step(model, x, optimizer, torch.Generator().manual_seed(10 + i)) for i in range(steps)]
        return model, losses

    def same(a, b):
        return all(torch.allclose(p, q, rtol=1e-5, atol=1e-7) for p, q in zip(a.parameters(), b.parameters()))

    def body():
        model, losses = run(lambda *a: _call(fn, *a))
        ref, ref_losses = run(reference_step)
        if not all(isinstance(v, (float, int)) or (torch.is_tensor(v) and v.numel() == 1) for v in losses):
            raise _Failure("return the loss of the step as a number (loss.item()).", None)
        if same(model, ref):
            if not all(abs(float(a) - b) < 1e-4 * (1 + abs(b)) for a, b in zip(losses, ref_losses)):
                raise _Failure(
                    "the parameters are right but the returned losses are not the step's loss.",
                    "return the loss computed before the update",
                )
            return
        variants = [
            (
                "the encoder gets no gradient from the reconstruction term: z must stay connected to mu and logvar "
                "(no .detach(), no torch.normal)",
                dict(detach=True),
            ),
            (
                "gradients add up from step to step: clear them before each backward pass",
                dict(zero_grad=False),
            ),
            (
                "two bugs: old gradients are never cleared, and z is cut off from the encoder",
                dict(zero_grad=False, detach=True),
            ),
            ("the loss is reconstruction + KL: the KL term is missing", dict(kl=False)),
        ]
        for hint, kw in variants:
            other, _ = run(lambda m, x, o, g, kw=kw: reference_step(m, x, o, g, **kw))
            if same(model, other):
                raise _Failure(
                    "after three steps your parameters differ from a correct training step's.", hint
                )
        raise _Failure(
            "after three steps your parameters differ from a correct training step's.",
            "encode, z = reparameterize(mu, logvar, generator=generator), decode, loss = mean "
            "reconstruction + mean KL; zero the gradients, backward, step",
        )

    return _run(name, [("three training steps of a small VAE", body)], verbose)


def check_first_collapse(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(kl_by_beta, threshold=0.01)``: given a dict {beta: KL per latent dimension [d]},
    return ``(beta, n)``: the smallest beta at which at least one dimension has a KL below
    ``threshold``, and how many dimensions do there; ``(None, 0)`` if none collapses (lesson
    14-6, exercise ex-14-6-collapse)."""
    name = "check_first_collapse"
    if not callable(fn):
        return _not_callable(name, "my_first_collapse", fn, verbose)

    def case(kl_by_beta, expected, threshold=None):
        def body():
            args = ({b: v.clone() for b, v in kl_by_beta.items()},)
            out = _call(fn, *args) if threshold is None else _call(fn, *args, threshold=threshold)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise _Failure("return a pair (beta, number of collapsed dimensions).", None)
            beta, n = out[0], int(out[1])
            if (beta, n) == expected:
                return
            hint = None
            wanted_beta = expected[0]
            if beta == wanted_beta:
                hint = "count the dimensions below the threshold at that beta, not at another"
            elif beta is not None and wanted_beta is not None and beta > wanted_beta:
                hint = "the smallest beta: look at the betas in increasing order (the dict may not be sorted)"
            elif beta is not None and wanted_beta is None:
                hint = "no dimension is below the threshold here: return (None, 0)"
            raise _Failure(
                f"you returned ({beta}, {n}), expected ({wanted_beta}, {expected[1]}).",
                hint or "a dimension has collapsed when its KL is below the threshold",
            )

        return body

    t = torch.tensor
    cases = [
        (
            "the third beta collapses one dimension",
            case({1: t([2.0, 0.5, 0.3]), 2: t([1.5, 0.2, 0.05]), 4: t([1.0, 0.1, 0.004])}, (4, 1)),
        ),
        (
            "an unsorted dict",
            case({8: t([0.5, 0.001, 0.002]), 2: t([1.0, 0.3, 0.2]), 4: t([0.8, 0.2, 0.005])}, (4, 1)),
        ),
        ("two dimensions collapse at once", case({0.5: t([1.0, 1.0]), 16: t([0.003, 0.008])}, (16, 2))),
        ("no collapse at all", case({1: t([1.0, 0.5]), 2: t([0.9, 0.4])}, (None, 0))),
        ("a threshold of 0.1", case({1: t([1.0, 0.05]), 2: t([0.9, 0.01])}, (1, 1), threshold=0.1)),
    ]
    return _run(name, cases, verbose)
