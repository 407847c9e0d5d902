"""Lesson 14-6 (exploring the latent space): the check of spherical interpolation.

:func:`check_slerp` checks ``fn(z0, z1, t)``, the point at fraction t along the great circle.

It is data: :data:`SLERP_CHECK`, a :class:`~vae_lib.course.checks.CheckSpec` run by
:func:`~vae_lib.course.checks.run_check`. Its value cases need their own ``compare``: two
conventions are right for endpoints of different norms (the textbook formula, and
``vae_lib.slerp``'s "slerp the directions, interpolate the norms"), and the messages name t.
The endpoints, the orthogonal midpoint, the unit-sphere norm and the random parallel pairs are
properties over several calls, not one value, and stay small case functions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...latent import slerp as _slerp
from ._runner import (
    CheckResult,
    CheckSpec,
    ValueCase,
    _as_tensor,
    _call,
    _close,
    _Failure,
    _first_match,
    _gen,
    _largest_error,
    _randn,
    _shape,
    run_check,
)


def _slerp_reference(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """The textbook formula applied to z0 and z1 themselves (lesson 14-6, White 2016)."""
    z0, z1 = z0.double(), z1.double()
    omega = torch.arccos(torch.clamp(z0 @ z1 / (z0.norm() * z1.norm()), -1.0, 1.0))
    if omega < 1e-4:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _slerp_directions(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """The other common convention, vae_lib.slerp's: slerp the directions, interpolate the norms."""
    return _slerp(z0.double(), z1.double(), torch.tensor([t], dtype=torch.float64))[0]


_NONFINITE = (
    "a division by sin Ω = 0? Ω is the angle between z0 and z1 (its cosine is the dot "
    "product of the unit vectors)"
)
_PARALLEL = "NaN for parallel endpoints: fall back to linear interpolation when the angle is tiny"


def _point(out, z0: torch.Tensor) -> torch.Tensor:
    """The student's point as a tensor of z0's shape, or a clear failure."""
    if not isinstance(out, torch.Tensor) and out is not None and not isinstance(out, (tuple, list)):
        raise _Failure(
            f"your function returned a {type(out).__module__}.{type(out).__name__}, expected a torch.Tensor.",
            "use torch operations (torch.sin, torch.arccos, ...) on z0 and z1, not numpy or math: "
            "the result must be a tensor of the inputs' dtype",
        )
    out = _as_tensor(out, "your function")
    if out.shape != z0.shape:
        hint = (
            "t is a single float here: return one point of shape [d]"
            if out.numel() == z0.numel()
            else "return one point with the shape of z0"
        )
        raise _Failure(f"your point has shape {_shape(out)}, expected {_shape(z0)}.", hint)
    return out


def _slerp_call(fn: Callable, z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    return _point(_call(fn, z0.clone(), z1.clone(), t), z0)


def _slerp_variants(z0: torch.Tensor, z1: torch.Tensor, t: float) -> list:
    """Typical wrong points, each with the hint that names the mistake."""
    z0, z1 = z0.double(), z1.double()
    lerp = (1 - t) * z0 + t * z1
    return [
        ("this is linear interpolation: its norm dips in the middle; follow the great circle", lerp),
        ("you went from z1 to z0: at t = 0 you should be at z0", _slerp_reference(z0, z1, 1 - t)),
        (
            "you normalized z0 and z1 but did not restore their norms",
            _slerp_reference(z0 / z0.norm(), z1 / z1.norm(), t),
        ),
    ]


def _compare_point(
    out: torch.Tensor,
    z0: torch.Tensor,
    z1: torch.Tensor,
    t: float,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    nonfinite_hint: str = _NONFINITE,
) -> torch.Tensor:
    """Compare a point with both accepted conventions; fail with the best hint."""
    if not bool(torch.isfinite(out.detach()).all()):
        bad = "NaN" if bool(torch.isnan(out.detach()).any()) else "inf"
        raise _Failure(f"your point contains {bad}.", nonfinite_hint)
    ref = _slerp_reference(z0, z1, t)
    if _close(out, ref, rtol, atol):
        return out
    if _close(out, _slerp_directions(z0, z1, t), rtol, atol):
        return out
    hint = _first_match(out, _slerp_variants(z0, z1, t)) or (
        "check the angle Ω between z0 and z1 (from the cosine between them) and the weights of z0 and z1 "
        "at fraction t"
    )
    raise _Failure(
        f"your point at t = {t} is not on the great circle at the right place (largest "
        f"difference {_largest_error(out, ref)}).",
        hint,
    )


def _slerp_compare(output, ref, inputs: tuple, variants: list, case) -> None:
    """The comparison of :data:`SLERP_CHECK`'s value cases: either convention is accepted."""
    z0, z1, t = inputs
    rtol, atol = case.tolerance
    out = _compare_point(_point(output, z0), z0, z1, t, rtol, atol, case.nonfinite_hint or _NONFINITE)
    if case.dtype is not None and out.dtype != case.dtype:
        raise _Failure(
            f"your point has dtype {out.dtype} for {str(case.dtype)[6:]} inputs.",
            "let the dtype follow z0 and z1",
        )


def _endpoints(fn: Callable) -> None:
    z0, z1 = _randn(20, seed=121), _randn(20, seed=122)
    a, b = _slerp_call(fn, z0, z1, 0.0), _slerp_call(fn, z0, z1, 1.0)
    if _close(a, z0, 1e-4, 1e-5) and _close(b, z1, 1e-4, 1e-5):
        return
    if _close(a, z1, 1e-4, 1e-5) and _close(b, z0, 1e-4, 1e-5):
        raise _Failure(
            "slerp endpoints are wrong: t = 0 gave z1 and t = 1 gave z0.",
            "you went from z1 to z0: at t = 0 you should be at z0",
        )
    if _close(a, z0 / z0.norm(), 1e-4, 1e-5):
        raise _Failure(
            "slerp endpoints are wrong: t = 0 gave z0 / |z0|.",
            "you normalized z0 and z1 but did not restore their norms",
        )
    raise _Failure(
        "slerp endpoints are wrong: t = 0 must give z0 and t = 1 must give z1.",
        "check the weights of z0 and z1 at t = 0 and t = 1",
    )


def _orthogonal(fn: Callable) -> None:
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    out = _slerp_call(fn, z0, z1, 0.5)
    if _close(out, torch.tensor([0.5, 0.5]), 1e-4, 1e-5):
        raise _Failure(
            "your midpoint has norm 0.71, not 1.",
            "this is linear interpolation: its norm dips in the middle; follow the great circle",
        )
    _compare_point(_slerp_call(fn, z0, z1, 0.5), z0, z1, 0.5)


def _norm_constant(fn: Callable) -> None:
    z0 = _randn(20, seed=125)
    z1 = _randn(20, seed=126)
    z0, z1 = z0 / z0.norm(), z1 / z1.norm()
    norms = [float(_slerp_call(fn, z0, z1, t).norm()) for t in (0.1, 0.25, 0.5, 0.75, 0.9)]
    if max(abs(n - 1) for n in norms) > 1e-4:
        raise _Failure(
            f"between unit vectors your path leaves the unit sphere (norms from {min(norms):.3g} "
            f"to {max(norms):.3g}).",
            "follow the great circle: the norm should stay 1 between unit vectors",
        )
    _compare_point(_slerp_call(fn, z0, z1, 0.5), z0, z1, 0.5)


def _random_parallel(fn: Callable) -> None:
    # Parallel and identical endpoints drawn at random, as an interpolation between the codes of
    # one image or of scaled copies meets them: in float32 the cosine of such a pair often rounds
    # to just above 1 (or below -1), and arccos of it is NaN unless it is clamped to [-1, 1].
    gen = _gen(131)
    for dtype in (torch.float32, torch.float64):
        for d in (2, 5, 20, 64):
            for trial in range(6):
                z0 = torch.randn(d, generator=gen, dtype=dtype)
                scale = 1.0 if trial % 2 == 0 else float(0.5 + 3 * torch.rand((), generator=gen))
                z1 = z0.clone() if scale == 1.0 else z0 * scale
                t = float(torch.rand((), generator=gen))
                kind = "identical" if scale == 1.0 else f"parallel (z1 = {scale:.2f} z0)"
                out = _slerp_call(fn, z0, z1, t)
                if not bool(torch.isfinite(out.detach()).all()):
                    raise _Failure(
                        f"your point is NaN for {kind} endpoints in {d}-D {str(dtype)[6:]} at t = {t:.2f}.",
                        "rounding can push the cosine of two parallel vectors just above 1, and "
                        "arccos of that is NaN: clamp the cosine to [-1, 1] (torch.clamp) before "
                        "arccos, and fall back to linear interpolation when the angle is tiny",
                    )
                ref = (1 - t) * z0.double() + t * z1.double()
                tol = 1e-4 if dtype == torch.float32 else 1e-8
                if not _close(out, ref, tol, tol):
                    raise _Failure(
                        f"your point for {kind} endpoints in {d}-D {str(dtype)[6:]} at t = {t:.2f} "
                        f"is off the segment from z0 to z1 (largest difference "
                        f"{_largest_error(out, ref)}).",
                        "for (nearly) parallel endpoints the great circle is the straight segment "
                        "from z0 to z1",
                    )
                if out.dtype != dtype:
                    raise _Failure(
                        f"your point has dtype {out.dtype} for {dtype} inputs.",
                        "let the dtype follow z0 and z1",
                    )


def _parallel_inputs(seed: int, scale: float | None) -> tuple:
    z0 = _randn(5, seed=seed)
    return (z0, 3 * z0 if scale else z0.clone(), 0.4 if scale else 0.7)


SLERP_CHECK = CheckSpec(
    name="check_slerp",
    example="my_slerp",
    reference=_slerp_reference,
    variants=_slerp_variants,
    compare=_slerp_compare,
    cases=[
        ("endpoints: t = 0 gives z0, t = 1 gives z1", _endpoints),
        ("midpoint of two orthogonal unit vectors", _orthogonal),
        ValueCase("random 20-D pair at t = 0.3", lambda: (_randn(20, seed=123), _randn(20, seed=124), 0.3)),
        ("the norm stays 1 between unit vectors", _norm_constant),
        ValueCase(
            "endpoints of different norms (2 and 5)",
            lambda: (2 * torch.tensor([1.0, 0.0, 0.0]), 5 * torch.tensor([0.6, 0.8, 0.0]), 0.25),
        ),
        ValueCase(
            "parallel endpoints (z1 = 3 z0)", lambda: _parallel_inputs(127, 3.0), nonfinite_hint=_PARALLEL
        ),
        ValueCase(
            "identical endpoints (z1 = z0)",
            lambda: _parallel_inputs(128, None),
            nonfinite_hint=_PARALLEL.replace("parallel", "identical"),
        ),
        (
            "random parallel and identical endpoints, float32 and float64, 2 to 64 dimensions",
            _random_parallel,
        ),
        ValueCase(
            "float64 in, float64 out",
            lambda: (_randn(8, seed=129, dtype=torch.float64), _randn(8, seed=130, dtype=torch.float64), 0.6),
            tolerance=(1e-6, 1e-8),
            dtype=torch.float64,
        ),
    ],
)


def check_slerp(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(z0, z1, t)``: the point at fraction ``t`` (a float) along the great circle from
    z0 to z1, for vectors of shape [d] (lesson 14-6). For endpoints of different norms both the
    standard formula and "slerp the directions, interpolate the norms" are accepted. The cases
    are the data of :data:`SLERP_CHECK`, run by :func:`~vae_lib.course.checks.run_check`."""
    return run_check(SLERP_CHECK, fn, verbose)
