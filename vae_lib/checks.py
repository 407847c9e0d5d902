"""Instant feedback for the exercises of lessons 14-1 to 14-6, with no grading server.

    from vae_lib import checks
    checks.check_kl(my_kl)            # prints a verdict per case, with a hint on failure

Each ``check_*`` function runs your function on several cases (random inputs, edge cases,
batch shapes, float64, gradients, and statistical tests with generous tolerances for the
random ones), compares the result with the reference implementation of ``vae_lib`` or
``torch.distributions``, and prints one line per case::

    ✓ batch of 8 x 2
    ✗ mu = 0, logvar = -2: your KL is negative (-1.297 for one example) ...
        Hint: did you drop the -log σ² term? ...

A failing case is compared with the typical wrong variants (a forgotten 1/2, a batch sum
instead of a mean, sigma = exp(logvar) instead of exp(logvar / 2), ...) to give a specific
hint. The checks never print the solution.

Every check returns a :class:`CheckResult`, truthy when every case passed, so that
``assert checks.check_kl(my_kl, verbose=False)`` works; ``verbose=False`` silences the
printout. An exception raised by your function is reported as a failed case, not a
traceback. The random numbers the checks draw come from their own seeded generators:
a check never changes the global random state and gives the same verdict every time.

| check | your function | lesson |
| --- | --- | --- |
| :func:`check_reconstruction_loss` | ``fn(logits, x)`` -> BCE per example, [N] | 14-1 |
| :func:`check_gaussian_log_density` | ``fn(x, mu, var)`` -> log N(x; mu, var) elementwise | 14-2 |
| :func:`check_elbo_1d` | ``fn(x, m, v, w, b, s2)`` -> ELBO of the 1-D linear-Gaussian model | 14-2 |
| :func:`check_vae_loss` | ``fn(logits, x, mu, logvar, beta)`` -> (total, reconstruction, kl) | 14-3 |
| :func:`check_worked_example` | a number: the KL of the worked example | 14-3, 14-4 |
| :func:`check_kl` | ``fn(mu, logvar)`` -> KL(N(mu, diag e^logvar) ‖ N(0, I)) per example | 14-4 |
| :func:`check_kl_monte_carlo` | ``fn(mu, logvar, n, generator)`` -> Monte Carlo KL per example | 14-4 |
| :func:`check_reparameterize` | ``fn(mu, logvar, generator=None)`` -> z | 14-5 |
| :func:`check_score_function_gradient` | ``fn(mu, sigma, k, n, generator)`` -> estimate | 14-5 |
| :func:`check_slerp` | ``fn(z0, z1, t)`` -> point on the great circle | 14-6 |
"""
from __future__ import annotations

import math
import numbers
import os
import traceback
from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F

from .latent import slerp as _slerp
from .losses import kl_divergence as _kl_reference

__all__ = [
    "Case", "CheckResult",
    "check_reconstruction_loss", "check_gaussian_log_density", "check_elbo_1d", "check_vae_loss",
    "check_worked_example", "check_kl", "check_kl_monte_carlo", "check_reparameterize",
    "check_score_function_gradient", "check_slerp",
]

PASS, FAIL = "✓", "✗"
LOG_2PI = math.log(2 * math.pi)
# The KL of the worked example (lessons 14-3 and 14-4): d = 2, mu = (0.5, -1.0),
# sigma^2 = (0.25, 2.0). Only used for comparison, never printed.
_WORKED_MU = (0.5, -1.0)
_WORKED_VAR = (0.25, 2.0)


# --------------------------------------------------------------------------- results


class Case(NamedTuple):
    """One case of a check: its name, whether it passed, and what went wrong (with a hint)."""

    name: str
    ok: bool
    message: str = ""


class CheckResult:
    """The outcome of a check: truthy when every case passed.

    ``result.passed`` (bool), ``result.cases`` (list of :class:`Case`, which are
    ``(name, ok, message)`` tuples), ``result.failed`` (the failed cases);
    ``str(result)`` is the full report, ``repr(result)`` a one-line summary.
    """

    def __init__(self, check: str, cases: list[Case] | None = None, skipped: int = 0):
        self.check = check
        self.cases: list[Case] = list(cases or [])
        self.skipped = skipped  # cases not run (after NotImplementedError)
        self._echoed = False  # the check printed this report already

    @property
    def passed(self) -> bool:
        return bool(self.cases) and self.skipped == 0 and all(c.ok for c in self.cases)

    @property
    def failed(self) -> list[Case]:
        return [c for c in self.cases if not c.ok]

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        n = len(self.cases) + self.skipped
        if self.passed:
            return f"{PASS} All {n} cases passed." if n > 1 else f"{PASS} Passed."
        failed = len(self.failed)
        if n == 1:
            return f"{FAIL} Not yet: read the hint above."
        if self.skipped:
            return f"{FAIL} Not done yet: {failed} case failed, {self.skipped} not run."
        return f"{FAIL} {failed} of {n} cases failed: read the hints above."

    def report(self) -> str:
        lines = [f"{self.check}:"]
        lines += [_format_case(c) for c in self.cases]
        if self.skipped:
            lines.append(f"  … {self.skipped} more cases not run")
        lines.append(self.summary())
        return "\n".join(lines)

    __str__ = report

    def __repr__(self) -> str:
        n = len(self.cases) + self.skipped
        if self.passed:
            return f"<CheckResult {self.check}: " + (f"all {n} cases passed>" if n > 1 else "passed>")
        names = ", ".join(c.name for c in self.failed)
        return f"<CheckResult {self.check}: {len(self.failed)} of {n} cases failed ({names})>"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's plain-text display
        p.text(self.report())

    def _ipython_display_(self) -> None:
        # A check called as the last line of a notebook cell has just printed its report:
        # do not show it a second time. Displayed again later, it shows the full report.
        if self._echoed:
            self._echoed = False
            return
        from IPython.display import display

        display({"text/plain": self.report()}, raw=True)


def _format_case(case: Case) -> str:
    if case.ok:
        return f"  {PASS} {case.name}"
    message = case.message.replace("\n", "\n      ")
    return f"  {FAIL} {case.name}: {message}"


# --------------------------------------------------------------------------- the runner


class _Failure(Exception):
    """A failed case: what is wrong, and a hint (never the solution)."""

    def __init__(self, problem: str, hint: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.hint = hint

    def text(self) -> str:
        return self.problem + (f"\nHint: {self.hint}" if self.hint else "")


class _StudentError(Exception):
    """An exception raised inside the student's function."""

    def __init__(self, exc: BaseException):
        super().__init__(str(exc))
        self.exc = exc


_THIS_FILE = os.path.abspath(__file__)
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


def _call(fn: Callable, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any error of the student's code is a failed case
        raise _StudentError(exc) from None


def _where(exc: BaseException) -> str:
    """' (line N: code)' of the innermost frame of the student's own code, if any."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        filename = os.path.abspath(frame.filename)
        if filename == _THIS_FILE or filename.startswith(_TORCH_DIR):
            continue
        code = (frame.line or "").strip()
        if len(code) > 80:
            code = code[:77] + "..."
        return f" (line {frame.lineno}: {code})" if code else f" (line {frame.lineno})"
    return ""


def _describe_exception(exc: BaseException, hint: str | None, seen: set | None = None) -> str:
    if isinstance(exc, NotImplementedError):
        return ("your function raised NotImplementedError: it is not written yet."
                "\nHint: replace `raise NotImplementedError()` with your code, run that cell, then this one.")
    where = _where(exc)
    key = (type(exc).__name__, where)
    if seen is not None and key in seen and hint is None:
        return f"your function raised {type(exc).__name__}{where} again (see above)."
    if seen is not None:
        seen.add(key)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(message) > 240:
        message = message[:237] + "..."
    if hint is None and "converted to Python scalars" in message:
        hint = "use torch functions (torch.log, torch.exp, ...) on tensors, not math.log or float(...)"
    text = f"your function raised {type(exc).__name__}{where}" + (f": {message}" if message else "")
    return text + (f"\nHint: {hint}" if hint else "")


def _run(check: str, cases: list[tuple], verbose: bool, *, seed: int = 0) -> CheckResult:
    """Run ``cases`` = [(name, body) or (name, body, hint on exception)] and report."""
    result = CheckResult(check)
    seen: set = set()  # (exception type, line) already reported in full
    if verbose:
        print(f"{check}:", flush=True)
    with torch.random.fork_rng(devices=[]):  # the student's global random state is left alone
        torch.manual_seed(seed)
        for i, (name, body, *rest) in enumerate(cases):
            error_hint = rest[0] if rest else None
            stop = False
            try:
                body()
                case = Case(name, True, "")
            except _Failure as failure:
                case = Case(name, False, failure.text())
            except _StudentError as err:
                case = Case(name, False, _describe_exception(err.exc, error_hint, seen))
                stop = isinstance(err.exc, NotImplementedError)
            except Exception as exc:  # noqa: BLE001 - an output we could not even inspect
                case = Case(name, False, f"could not check your result ({type(exc).__name__}: {exc})")
            result.cases.append(case)
            if verbose:
                print(_format_case(case), flush=True)
            if stop:
                result.skipped = len(cases) - i - 1
                if verbose and result.skipped:
                    print(f"  … {result.skipped} more cases not run", flush=True)
                break
    if verbose:
        print(result.summary(), flush=True)
        result._echoed = True
    return result


def _not_callable(check: str, what: str, value: Any, verbose: bool) -> CheckResult:
    case = Case("your function", False,
                f"{check} expects your function itself, got {type(value).__name__}."
                f"\nHint: pass the function without calling it, e.g. {check}({what}).")
    result = CheckResult(check, [case])
    if verbose:
        print(f"{check}:\n{_format_case(case)}\n{result.summary()}", flush=True)
        result._echoed = True
    return result


# --------------------------------------------------------------------------- helpers


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed: int, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


def _rand(*shape, seed: int, low: float = 0.0, high: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    return low + (high - low) * torch.rand(*shape, generator=_gen(seed), dtype=dtype)


def _as_tensor(out: Any, what: str = "your function") -> torch.Tensor:
    """The student's output as a tensor, or a clear failure."""
    if out is None:
        raise _Failure(f"{what} returned None.", "did you forget the `return` statement?")
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, bool):
        raise _Failure(f"{what} returned a bool ({out}).", "return a number (a tensor), not a comparison.")
    if isinstance(out, numbers.Real):
        return torch.tensor(float(out), dtype=torch.float64)
    if type(out).__module__ == "numpy":
        return torch.as_tensor(out)
    if isinstance(out, (tuple, list)):
        raise _Failure(f"{what} returned a {type(out).__name__} of {len(out)} items, expected one tensor.",
                       "return a single tensor.")
    raise _Failure(f"{what} returned a {type(out).__name__}, expected a torch.Tensor.",
                   "use torch operations on the input tensors and return the resulting tensor.")


def _as_float(out: Any, what: str = "your function") -> float:
    t = _as_tensor(out, what)
    if t.numel() != 1:
        raise _Failure(f"{what} has {t.numel()} values (shape {_shape(t)}), expected one number.",
                       "return a single number.")
    return float(t.detach().reshape(()))


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    if a.shape != b.shape:
        return False
    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    return bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _first_match(out: torch.Tensor, variants, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """The hint of the first wrong variant that ``out`` equals (variants: [(hint, tensor or thunk)])."""
    for hint, value in variants:
        try:
            value = value() if callable(value) else value
        except Exception:  # noqa: BLE001 - a variant that does not apply to these inputs
            continue
        if isinstance(value, (int, float)):
            value = torch.tensor(float(value), dtype=torch.float64)
        if value is not None and _close(out, value.to(torch.float64), rtol, atol):
            return hint
    return None


def _fmt(t: torch.Tensor, n: int = 3) -> str:
    """A few values of a tensor, for a failure message."""
    flat = t.detach().reshape(-1)[:n].tolist()
    more = ", ..." if t.numel() > n else ""
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + more + "]" if t.dim() else f"{float(t):.4g}"


def _largest_error(out: torch.Tensor, ref: torch.Tensor) -> str:
    diff = (out.detach().double() - ref.detach().double()).abs()
    return f"{float(diff.max()):.3g}"


def _expect(out: Any, ref: torch.Tensor, *, variants=(), shape_hint: Callable | None = None,
            rtol: float = 1e-4, atol: float = 1e-5, what: str = "your result",
            nonfinite_hint: str | None = None, generic_hint: str | None = None,
            dtype: torch.dtype | None = None) -> torch.Tensor:
    """Compare the student's output with the reference; raise a _Failure with the best hint."""
    out = _as_tensor(out)
    if out.shape != ref.shape:
        hint = shape_hint(out) if shape_hint else None
        raise _Failure(f"{what} has shape {_shape(out)}, expected {_shape(ref)}.", hint)
    if not out.is_floating_point():
        raise _Failure(f"{what} has dtype {out.dtype}, expected a float tensor.",
                       "keep the computation in floating point.")
    if not bool(torch.isfinite(out.detach()).all()):
        bad = "NaN" if bool(torch.isnan(out.detach()).any()) else "inf"
        raise _Failure(f"{what} contains {bad} for finite inputs.", nonfinite_hint)
    if dtype is not None and out.dtype != dtype:
        raise _Failure(f"{what} has dtype {out.dtype} for {dtype} inputs.",
                       "do not fix the dtype inside your function (no torch.tensor(..., dtype=...) or"
                       " .float()): let it follow the inputs.")
    if not _close(out, ref, rtol, atol):
        hint = _first_match(out, variants) or generic_hint
        raise _Failure(f"{what} differs from the correct values (largest difference "
                       f"{_largest_error(out, ref)}; yours start {_fmt(out)}).", hint)
    return out


def _batch_shape_hint(ref: torch.Tensor, inner: int, inner_name: str, reduce_name: str):
    """Diagnose a wrong output shape of a function that reduces over the last dimension."""
    def hint(out: torch.Tensor) -> str:
        one = "one value per example"
        if out.dim() == 0 and ref.dim() > 0:
            o = out.detach().double()
            if _close(o, ref.sum().double(), 1e-4, 1e-5):
                return (f"you summed over the batch too: {reduce_name} should be {one} "
                        f"(sum over the {inner_name} only)")
            if _close(o, ref.mean().double(), 1e-4, 1e-5):
                return f"you averaged over the batch: {reduce_name} should be {one} (no mean over the batch)"
            if _close(o, ref.mean().double() / inner, 1e-4, 1e-5):
                return (f"a reduction='mean' averages over everything: {reduce_name} should be {one}, "
                        f"summed over the {inner_name}")
            return f"{reduce_name} should be {one}: reduce over the {inner_name} (the last dimension) only"
        if out.shape == ref.shape + (inner,):
            return (f"you returned one value per element: sum over the {inner_name} "
                    f"(the last dimension) to get {one}")
        return (f"sum over the last dimension only (dim=-1), the {inner_name}, so that your function works "
                f"for any batch shape")
    return hint


def _grad_problem(out: torch.Tensor) -> None:
    """Fail unless ``out`` is connected to autograd."""
    if not out.requires_grad:
        raise _Failure("your result is cut off from autograd (it does not require grad).",
                       "use torch operations all the way: no .item(), .detach(), .numpy(), math.* functions "
                       "or torch.tensor(...) around intermediate results.")


def _backward(out: torch.Tensor, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
    _grad_problem(out)
    for t in inputs.values():
        t.grad = None
    out.sum().backward()
    return {name: t.grad for name, t in inputs.items()}


# ----------------------------------------------------------------- wrong KL variants (shared)


def _kl_variants(mu: torch.Tensor, logvar: torch.Tensor, reduce=lambda t: t):
    """Typical wrong KLs, each with its hint; ``reduce`` is applied to the per-example values."""
    mu, lv = mu.detach().double(), logvar.detach().double()
    var = lv.exp()
    d = mu.shape[-1]
    ref = 0.5 * (mu.pow(2) + var - lv - 1).sum(-1)
    sigma_hint = ("you used σ = exp(logvar) instead of exp(logvar / 2): logvar is log σ², "
                  "so σ² = exp(logvar)")
    return [
        ("your KL is off by a factor 2: did you forget the 1/2?", reduce(2 * ref)),
        ("did you drop the -log σ² term? (each dimension contributes four terms)",
         reduce(0.5 * (mu.pow(2) + var - 1).sum(-1))),
        (sigma_hint, reduce(0.5 * (mu.pow(2) + (2 * lv).exp() - 2 * lv - 1).sum(-1))),
        (sigma_hint, reduce(0.5 * (mu.pow(2) + (2 * lv).exp() - lv - 1).sum(-1))),
        ("you averaged over the latent dimensions: sum over them (the KLs of independent "
         "dimensions add up)", reduce(ref / d)),
        ("did you forget the -1 in each dimension? The KL must be 0 when mu = 0 and logvar = 0.",
         reduce(ref + d / 2)),
        ("did you use mu instead of mu²?", reduce(0.5 * (mu + var - lv - 1).sum(-1))),
        ("the log σ² term has the wrong sign", reduce(0.5 * (mu.pow(2) + var + lv - 1).sum(-1))),
        ("that is KL(N(0, I) ‖ q), the reverse direction: the VAE's KL is KL(q ‖ N(0, I))",
         reduce(0.5 * ((1 + mu.pow(2)) / var + lv - 1).sum(-1))),
        ("your KL has the wrong sign: a KL divergence is never negative", reduce(-ref)),
    ]


# ============================================================================ 14-1


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
            ("you averaged over the pixels: sum over them (the log-likelihood of independent pixels adds up)",
             ref / x.shape[-1]),
            ("your loss has the wrong sign: the loss is -log p(x|z), which is ≥ 0", -ref),
            ("did you apply the sigmoid twice? binary_cross_entropy_with_logits applies it itself: "
             "pass the logits", lambda: reference(torch.sigmoid(lo), xx)),
            ("this is a squared error, not the binary cross-entropy",
             ((p - xx) ** 2).sum(-1)),
            ("the two terms are swapped: x multiplies log p and (1 - x) multiplies log(1 - p)",
             -((1 - xx) * torch.log(p) + xx * torch.log1p(-p)).sum(-1)),
        ]

    shape_hint = None

    def compare(logits, x, **kw):
        ref = reference(logits.detach().double(), x.detach().double())
        out = _call(fn, logits.clone(), x.clone())
        kw.setdefault("generic_hint", "the loss of one example is the binary cross-entropy between x and "
                                      "sigmoid(logits), summed over the pixels")
        return _expect(out, ref, variants=variants(logits, x), what="your loss",
                       shape_hint=_batch_shape_hint(ref, x.shape[-1], "pixels", "the loss"), **kw)

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
        compare(logits, x, nonfinite_hint=_STABLE_BCE,
                generic_hint=_STABLE_BCE)

    def float64():
        compare(_randn(4, 20, seed=9, dtype=torch.float64), _rand(4, 20, seed=10, dtype=torch.float64),
                rtol=1e-10, atol=1e-10, dtype=torch.float64)

    def gradient():
        logits = (2 * _randn(4, 30, seed=11, dtype=torch.float64)).requires_grad_()
        x = _rand(4, 30, seed=12, dtype=torch.float64)
        out = _as_tensor(_call(fn, logits, x))
        grads = _backward(out, {"logits": logits})
        expected = torch.sigmoid(logits.detach()) - x
        if grads["logits"] is None or not bool(grads["logits"].abs().sum() > 0):
            raise _Failure("the gradient does not reach the logits.",
                           "compute the loss with torch operations on the logits (no .item(), .detach() "
                           "or numpy)")
        if not _close(grads["logits"], expected, 1e-6, 1e-8):
            raise _Failure("the gradient with respect to the logits is wrong.", "fix the value cases above first")

    cases = [
        ("batch of 8 x 784 binary pixels", binary),
        ("grey-level pixels in [0, 1], batch of 5", grey),
        ("a batch of one example [1, 784]", single),
        ("large logits (±30) in float32", large),
        ("float64 in, float64 out", float64),
        ("gradient with respect to the logits", gradient),
    ]
    return _run(name, cases, verbose)


_STABLE_BCE = ("for large logits, sigmoid(logits) rounds to exactly 0 or 1 in float32 and the log breaks: "
               "compute the loss from the logits themselves (softplus, or "
               "torch.nn.functional.binary_cross_entropy_with_logits) instead of log(sigmoid(...))")


# ============================================================================ 14-2


def check_gaussian_log_density(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(x, mu, var)``: log N(x; mu, var) elementwise, with broadcasting (lesson 14-2)."""
    name = "check_gaussian_log_density"
    if not callable(fn):
        return _not_callable(name, "my_log_density", fn, verbose)

    def reference(x, mu, var):
        return torch.distributions.Normal(mu, var.sqrt()).log_prob(x)

    def variants(x, mu, var):
        x, mu, var = (t.detach().double() for t in (x, mu, var))
        ref = -0.5 * (LOG_2PI + var.log()) - (x - mu) ** 2 / (2 * var)
        var_as_std = ("you used the variance where the standard deviation belongs: "
                      "torch.distributions.Normal(mu, scale) takes σ = sqrt(var)")
        return [
            (var_as_std, lambda: torch.distributions.Normal(mu, var).log_prob(x)),
            ("did you forget the 1/2 in front of log(2π σ²)?",
             -(LOG_2PI + var.log()) - (x - mu) ** 2 / (2 * var)),
            ("did you forget the 2 in the denominator of (x - mu)² / (2 σ²)?",
             -0.5 * (LOG_2PI + var.log()) - (x - mu) ** 2 / var),
            ("did you drop the log(2π) constant? The density must integrate to 1.",
             -0.5 * var.log() - (x - mu) ** 2 / (2 * var)),
            ("log σ = 1/2 log σ²: your log-normaliser uses log σ² where log σ belongs",
             -0.5 * LOG_2PI - var.log() - (x - mu) ** 2 / (2 * var)),
            ("you returned the density itself, not its logarithm", ref.exp()),
            ("you returned the negative log-density: return log N(x; mu, var) itself", -ref),
            ("did you square (x - mu)? The exponent is -(x - mu)² / (2 σ²)",
             -0.5 * (LOG_2PI + var.log()) - (x - mu) / (2 * var)),
        ]

    def shape_hint(ref):
        def hint(out):
            if out.numel() == 1 and ref.numel() > 1:
                return "the log-density is elementwise: one value per element of x, do not sum or average"
            return "return one value per element: the shape of x, mu and var broadcast together"
        return hint

    def compare(x, mu, var, **kw):
        ref = reference(x.double(), mu.double(), var.double())
        out = _call(fn, x.clone(), mu.clone(), var.clone())
        return _expect(out, ref, variants=variants(x, mu, var), shape_hint=shape_hint(ref),
                       what="your log-density",
                       generic_hint="log N(x; mu, σ²) has a log-normaliser and a quadratic term; "
                                    "check both", **kw)

    def standard():
        compare(torch.tensor([0.0, 1.0, 2.0, -0.5]), torch.zeros(4), torch.ones(4))

    def random():
        compare(_randn(6, seed=21), 2 * _randn(6, seed=22), _rand(6, seed=23, low=0.1, high=3.0))

    def broadcast():
        compare(_randn(4, 3, seed=24), torch.tensor([0.5, -1.0, 2.0]), torch.tensor([0.25, 2.0, 4.0]))

    def narrow():
        compare(torch.tensor([1.0, 0.5, 0.0]), torch.zeros(3), torch.full((3,), 1e-4), rtol=1e-5,
                nonfinite_hint="compute the log-density directly (the log of a product is a sum of logs) "
                               "instead of log(exp(...)): exp underflows to 0 far from the mean")

    def float64():
        compare(_randn(5, seed=25, dtype=torch.float64), _randn(5, seed=26, dtype=torch.float64),
                _rand(5, seed=27, low=0.5, high=2.0, dtype=torch.float64), rtol=1e-10, atol=1e-10,
                dtype=torch.float64)

    cases = [
        ("standard normal at x = 0, 1, 2, -0.5", standard),
        ("random x, mu, var of shape [6]", random),
        ("broadcasting: x [4, 3] with mu, var [3]", broadcast,
         "use torch operations so that x, mu and var broadcast like tensors"),
        ("small variance (1e-4), far from the mean", narrow),
        ("float64 in, float64 out", float64),
    ]
    return _run(name, cases, verbose)


def _elbo_reference(x, m, v, w, b, s2):
    rec = -0.5 * math.log(2 * math.pi * s2) - ((x - w * m - b) ** 2 + w ** 2 * v) / (2 * s2)
    kl = 0.5 * (m ** 2 + v - math.log(v) - 1)
    return rec - kl


def _elbo_variants(x, m, v, w, b, s2):
    const = -0.5 * math.log(2 * math.pi * s2)
    quad = ((x - w * m - b) ** 2 + w ** 2 * v) / (2 * s2)
    rec = const - quad
    kl = 0.5 * (m ** 2 + v - math.log(v) - 1)
    ref = rec - kl
    return [
        ("E_q[(x - w z - b)²] is not (x - w m - b)²: z is random under q, so its variance adds a term",
         const - (x - w * m - b) ** 2 / (2 * s2) - kl),
        ("you added the KL term: the ELBO subtracts it", rec + kl),
        ("your KL term is off by a factor 2: did you forget the 1/2?", rec - 2 * kl),
        ("did you drop the -log v term of the KL (the entropy of q)?", rec - 0.5 * (m ** 2 + v - 1)),
        ("s2 is the variance σ² of p(x|z), not its standard deviation",
         -0.5 * math.log(2 * math.pi * s2 ** 2) - ((x - w * m - b) ** 2 + w ** 2 * v) / (2 * s2 ** 2) - kl),
        ("v is the variance of q, not its standard deviation",
         const - ((x - w * m - b) ** 2 + w ** 2 * v ** 2) / (2 * s2)
         - 0.5 * (m ** 2 + v ** 2 - math.log(v ** 2) - 1)),
        ("you returned minus the ELBO (the loss): return the ELBO itself", -ref),
        ("you dropped the constant -1/2 log(2π s2): keep it, the ELBO must be comparable with log p(x)",
         -quad - kl),
        ("you dropped the log(2π) part of the constant -1/2 log(2π s2)",
         -0.5 * math.log(s2) - quad - kl),
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
            raise _Failure(f"your ELBO is {got} for finite inputs.",
                           "check for log(0) or a division by zero")
        if not math.isclose(got, ref, rel_tol=rtol, abs_tol=1e-9):
            hint = None
            for h, value in _elbo_variants(x, m, v, w, b, s2):
                if math.isclose(got, value, rel_tol=1e-6, abs_tol=1e-9):
                    hint = h
                    break
            raise _Failure(f"your ELBO is {got:.6g} for x={x:.4g}, m={m:.4g}, v={v:.4g}, w={w:.4g}, b={b:.4g}, "
                           f"s2={s2:.4g}; that is not the closed form.",
                           hint or "ELBO = E_q[log p(x|z)] - KL(q(z) ‖ p(z)); write out both expectations "
                                   "under q term by term")

    def log_px(x, w, b, s2):
        var = w ** 2 + s2
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
        v = s2 / (s2 + w ** 2)
        m = w * (x - b) / (s2 + w ** 2)
        got = call(x, m, v, w, b, s2)
        if not math.isclose(got, log_px(x, w, b, s2), rel_tol=1e-7, abs_tol=1e-9):
            compare(x, m, v, w, b, s2)  # the usual diagnosis
            raise _Failure(f"with q equal to the exact posterior your ELBO is {got:.6g}, which is not log p(x).",
                           "when q(z) is the exact posterior, KL(q ‖ posterior) = 0 and the ELBO equals log p(x)")

    def lower_bound():
        g = _gen(32)
        x, w, b, s2 = 0.8, -1.2, 0.3, 0.4
        bound = log_px(x, w, b, s2)
        for _ in range(20):
            m = float(torch.randn((), generator=g, dtype=torch.float64)) * 2
            v = float(torch.rand((), generator=g, dtype=torch.float64)) * 3 + 0.05
            got = call(x, m, v, w, b, s2)
            if got > bound + 1e-9:
                raise _Failure(f"your ELBO ({got:.4g}) exceeds log p(x) ({bound:.4g}) for m={m:.3g}, v={v:.3g}, "
                               "but it is a lower bound.",
                               "check the signs: ELBO = E_q[log p(x|z)] - KL(q ‖ p(z))")
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


# ============================================================================ 14-3


def check_vae_loss(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(logits, x, mu, logvar, beta)`` -> ``(total, reconstruction, kl)``: batch means
    in nats with a Bernoulli decoder, total = reconstruction + beta * kl (lesson 14-3)."""
    name = "check_vae_loss"
    if not callable(fn):
        return _not_callable(name, "my_vae_loss", fn, verbose)

    def reference(logits, x, mu, logvar, beta):
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
        kl = _kl_reference(mu, logvar).mean()
        return rec + beta * kl, rec, kl

    def inputs(n, D=784, d=2, seed=0, dtype=torch.float32, binary=False):
        logits = 2 * _randn(n, D, seed=seed, dtype=dtype)
        x = _rand(n, D, seed=seed + 1, dtype=dtype)
        if binary:
            x = (x < 0.3).to(dtype)
        mu = _randn(n, d, seed=seed + 2, dtype=dtype)
        logvar = _rand(n, d, seed=seed + 3, low=-2.0, high=1.0, dtype=dtype)
        return logits, x, mu, logvar

    def unpack(out):
        if isinstance(out, torch.Tensor) or not isinstance(out, (tuple, list)):
            raise _Failure(f"your function returned a {type(out).__name__}, expected three values.",
                           "return the three terms (total, reconstruction, kl)")
        if len(out) != 3:
            raise _Failure(f"your function returned {len(out)} values, expected three.",
                           "return the three terms (total, reconstruction, kl)")
        terms = []
        for label, t in zip(("total", "reconstruction", "kl"), out):
            t = _as_tensor(t, f"your {label}")
            if t.numel() != 1:
                raise _Failure(f"your {label} has shape {_shape(t)}, expected one number.",
                               "each term is a batch mean: average the per-example values over the batch")
            terms.append(t.reshape(()))
        return terms

    def rec_variants(logits, x):
        lo, xx = logits.detach().double(), x.detach().double()
        per = F.binary_cross_entropy_with_logits(lo, xx, reduction="none").sum(-1)
        n, D = x.shape
        return [
            ("your loss is the batch SUM: average over the batch", per.sum()),
            ("binary_cross_entropy's default reduction='mean' averages over the pixels too: sum over the "
             "pixels, then average over the batch", per.mean() / D),
            ("did you apply the sigmoid twice? binary_cross_entropy_with_logits applies it itself",
             F.binary_cross_entropy_with_logits(torch.sigmoid(lo), xx, reduction="none").sum(-1).mean()),
            ("this is a squared error: the decoder is Bernoulli, use the binary cross-entropy",
             ((torch.sigmoid(lo) - xx) ** 2).sum(-1).mean()),
            ("your reconstruction term has the wrong sign: it is -log p(x|z) ≥ 0", -per.mean()),
        ]

    def kl_variants(mu, logvar):
        per = _kl_reference(mu.detach().double(), logvar.detach().double())
        return ([("your loss is the batch SUM: average over the batch", per.sum())]
                + _kl_variants(mu, logvar, reduce=lambda t: t.mean()))

    def compare(logits, x, mu, logvar, beta, rtol=1e-5, atol=1e-5):
        total_ref, rec_ref, kl_ref = (t.double() for t in reference(
            logits.double(), x.double(), mu.double(), logvar.double(), beta))
        out = _call(fn, logits.clone(), x.clone(), mu.clone(), logvar.clone(), beta)
        total, rec, kl = unpack(out)
        got = [t.detach().double() for t in (total, rec, kl)]
        refs = [total_ref, rec_ref, kl_ref]
        ok = [_close(a, b, rtol, atol) for a, b in zip(got, refs)]
        if not all(ok):
            # the right values in the wrong order?
            import itertools
            for perm in itertools.permutations(range(3)):
                if perm != (0, 1, 2) and all(_close(got[i], refs[j], rtol, atol) for i, j in enumerate(perm)):
                    if len({round(float(r), 6) for r in refs}) == 3:
                        raise _Failure("your three values are right but in the wrong order.",
                                       "return them in the order (total, reconstruction, kl)")
        if not ok[1]:
            raise _Failure(f"your reconstruction term is {float(got[1]):.6g}, which is not right.",
                           _first_match(got[1], rec_variants(logits, x))
                           or "sum the binary cross-entropy over the pixels, then average over the batch")
        if not ok[2]:
            hint = _first_match(got[2], kl_variants(mu, logvar))
            if hint is None and float(got[2]) < 0:
                hint = "your KL is negative: a KL divergence is never negative"
            raise _Failure(f"your KL term is {float(got[2]):.6g}, which is not right.",
                           hint or "sum the closed-form KL over the latent dimensions, then average over "
                                   "the batch")
        if not ok[0]:
            r, k = got[1], got[2]
            hint = _first_match(got[0], [
                ("beta multiplies the KL term, not the reconstruction", beta * r + k),
                ("your total ignores beta: total = reconstruction + beta * KL", r + k),
                ("add the KL term: the loss is reconstruction + beta * KL", r - beta * k),
                ("your total should be reconstruction + beta * KL", r),
            ]) or "the total is reconstruction + beta * KL"
            raise _Failure(f"your total is {float(got[0]):.6g} for beta = {beta}, which is not right.", hint)
        return total, rec, kl

    def basic():
        compare(*inputs(8, seed=41), beta=1.0)

    def beta4():
        compare(*inputs(8, seed=45, binary=True), beta=4.0)

    def beta0():
        compare(*inputs(6, seed=49), beta=0.0)

    def one():
        compare(*inputs(1, seed=53), beta=1.0)

    def latent20():
        compare(*inputs(5, D=50, d=20, seed=57), beta=0.5)

    def gradient():
        logits, x, mu, logvar = inputs(4, D=30, d=3, seed=61, dtype=torch.float64)
        leaves = {"logits": logits.requires_grad_(), "mu": mu.requires_grad_(), "logvar": logvar.requires_grad_()}
        total, _, _ = unpack(_call(fn, logits, x, mu, logvar, 2.0))
        grads = _backward(total, leaves)
        ref_leaves = {k: v.detach().clone().requires_grad_() for k, v in leaves.items()}
        reference(ref_leaves["logits"], x, ref_leaves["mu"], ref_leaves["logvar"], 2.0)[0].backward()
        for k in leaves:
            if grads[k] is None or not bool(grads[k].abs().sum() > 0):
                raise _Failure(f"the gradient does not reach {k}.",
                               "compute every term with torch operations on the inputs (no .item(), .detach() "
                               "or numpy)")
            if not _close(grads[k], ref_leaves[k].grad, 1e-6, 1e-9):
                raise _Failure(f"the gradient with respect to {k} is wrong.",
                               "check the value cases above first; the total must be "
                               "reconstruction + beta * KL, both batch means")

    cases = [
        ("batch of 8, 784 grey-level pixels, d = 2, beta = 1", basic),
        ("beta = 4 (binary pixels)", beta4),
        ("beta = 0: the total is the reconstruction", beta0),
        ("a batch of one example", one),
        ("d = 20 latent dimensions, beta = 0.5", latent20),
        ("gradients reach logits, mu and logvar (float64)", gradient),
    ]
    return _run(name, cases, verbose)


def _worked_variants():
    mu, var = _WORKED_MU, _WORKED_VAR
    per = [m ** 2 + v - math.log(v) - 1 for m, v in zip(mu, var)]
    ref = 0.5 * sum(per)
    as_std = [m ** 2 + v ** 2 - math.log(v ** 2) - 1 for m, v in zip(mu, var)]
    no_log = [m ** 2 + v - 1 for m, v in zip(mu, var)]
    plus_log = [m ** 2 + v + math.log(v) - 1 for m, v in zip(mu, var)]
    reverse = [(1 + m ** 2) / v + math.log(v) - 1 for m, v in zip(mu, var)]
    log10 = [m ** 2 + v - math.log10(v) - 1 for m, v in zip(mu, var)]
    no_sq = [m + v - math.log(v) - 1 for m, v in zip(mu, var)]
    return [
        ("off by a factor 2: did you forget the 1/2?", 2 * ref),
        ("you only counted the first latent dimension: sum over both", 0.5 * per[0]),
        ("you only counted the second latent dimension: sum over both", 0.5 * per[1]),
        ("you only counted one latent dimension, and forgot the 1/2", per[0]),
        ("you only counted one latent dimension, and forgot the 1/2", per[1]),
        ("you averaged over the two dimensions: sum over them", ref / 2),
        ("did you drop the -log σ² term?", 0.5 * sum(no_log)),
        ("the log σ² term has the wrong sign", 0.5 * sum(plus_log)),
        ("σ² = (0.25, 2.0) are the variances: you squared them as if they were standard deviations",
         0.5 * sum(as_std)),
        ("did you forget the -1 in each dimension?", ref + 1.0),
        ("did you use mu instead of mu²?", 0.5 * sum(no_sq)),
        ("that is in bits (log base 2): give the KL in nats (natural log)", ref / math.log(2)),
        ("use the natural log (nats), not log base 10", 0.5 * sum(log10)),
        ("that is KL(N(0, I) ‖ q), the reverse direction: the VAE's KL is KL(q ‖ N(0, I))", 0.5 * sum(reverse)),
        ("the KL is never negative: check the signs", -ref),
    ]


def check_worked_example(value: Any, verbose: bool = True) -> CheckResult:
    """Check your number for the worked example of lessons 14-3 and 14-4: the KL of
    q = N(mu, diag sigma^2), mu = (0.5, -1.0), sigma^2 = (0.25, 2.0), from N(0, I), in nats."""
    name = "check_worked_example"
    mu, var = _WORKED_MU, _WORKED_VAR
    ref = 0.5 * sum(m ** 2 + v - math.log(v) - 1 for m, v in zip(mu, var))

    def body():
        if callable(value):
            raise _Failure("check_worked_example expects a number, got a function.",
                           "pass the value itself, e.g. check_worked_example(kl_value)")
        if value is None:
            raise _Failure("you passed None.", "pass the number you computed")
        if isinstance(value, (torch.Tensor, tuple, list)) and not isinstance(value, torch.Tensor) or (
                isinstance(value, torch.Tensor) and value.numel() != 1):
            values = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
            per_dim = torch.tensor([0.5 * (m ** 2 + v - math.log(v) - 1) for m, v in zip(mu, var)],
                                   dtype=torch.float64)
            hint = ("these are the two per-dimension terms: add them up" if _close(values, per_dim, 1e-3, 5e-4)
                    else "pass one number: the KL summed over both latent dimensions")
            raise _Failure(f"you passed {values.numel()} values, expected one number.", hint)
        got = _as_float(value, "your value")
        if not math.isfinite(got):
            raise _Failure(f"your value is {got}.", "the KL of the worked example is a finite positive number")
        if abs(got - ref) <= 5e-4:
            return
        for hint, wrong in _worked_variants():
            if abs(got - wrong) <= 5e-4:
                raise _Failure(f"{got:.6g} nats is not the KL of the worked example.", hint)
        if abs(got - ref) <= 1e-2:
            raise _Failure(f"{got:.6g} nats is close but not accurate enough.",
                           "give at least four significant digits (do not round the logarithms early)")
        raise _Failure(f"{got:.6g} nats is not the KL of the worked example.",
                       "use the closed form of lesson 14-4: one term per latent dimension, then add them up")

    cases = [("KL of the worked example (d = 2, mu = (0.5, -1.0), σ² = (0.25, 2.0))", body)]
    return _run(name, cases, verbose)


# ============================================================================ 14-4


def check_kl(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(mu, logvar)``: KL(N(mu, diag e^logvar) ‖ N(0, I)) per example, summed over the
    last (latent) dimension, shape ``mu.shape[:-1]`` (lesson 14-4)."""
    name = "check_kl"
    if not callable(fn):
        return _not_callable(name, "my_kl", fn, verbose)

    def compare(mu, logvar, **kw):
        ref = _kl_reference(mu.double(), logvar.double())
        out = _call(fn, mu.clone(), logvar.clone())
        variants = _kl_variants(mu, logvar)
        t = _as_tensor(out)
        if t.shape == ref.shape and bool(torch.isfinite(t.detach()).all()) and bool((t.detach() < -1e-6).any()):
            if not _close(t, ref, 1e-4, 1e-5):
                hint = _first_match(t, variants) or "check the sign of each term"
                raise _Failure(f"your KL is negative ({float(t.detach().min()):.4g} for one example), but a KL "
                               "divergence is never negative.", hint)
        return _expect(t, ref, variants=variants, what="your KL",
                       shape_hint=_batch_shape_hint(ref, mu.shape[-1], "latent dimension", "the KL"),
                       generic_hint="compare your formula with the closed form of lesson 14-4 term by term "
                                    "(σ² = exp(logvar))", **kw)

    def batch():
        compare(_randn(8, 2, seed=71), _rand(8, 2, seed=72, low=-2.0, high=1.0))

    def prior():
        mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
        out = _as_tensor(_call(fn, mu, logvar))
        if out.shape == (4,) and bool(torch.isfinite(out.detach()).all()) and float(out.detach().abs().max()) > 1e-6:
            hint = _first_match(out, _kl_variants(mu, logvar)) or "check each term at mu = 0, σ² = 1"
            raise _Failure(f"your KL is {_fmt(out)} at the prior, but it must be exactly 0 when mu = 0 and "
                           "logvar = 0.", hint)
        compare(mu, logvar, atol=1e-6)

    def negative():
        compare(torch.zeros(2, 3), torch.full((2, 3), -2.0))

    def single():
        compare(_randn(5, seed=73), _rand(5, seed=74, low=-2.0, high=1.0))

    def batched():
        compare(_randn(3, 4, 6, seed=75), _rand(3, 4, 6, seed=76, low=-2.0, high=1.0))

    def zero_variance():
        compare(_randn(4, 3, seed=77), torch.full((4, 3), -80.0), rtol=1e-5,
                nonfinite_hint="σ² → 0 must give a large but finite KL: use logvar directly for the log σ² term "
                               "(log(exp(logvar)) is -inf once exp(logvar) underflows to 0)")

    def large_means():
        compare(1000 * _randn(4, 3, seed=78), _rand(4, 3, seed=79, low=-1.0, high=1.0), rtol=1e-5)

    def float64():
        compare(_randn(6, 4, seed=80, dtype=torch.float64), _rand(6, 4, seed=81, low=-3.0, high=2.0,
                                                                  dtype=torch.float64),
                rtol=1e-10, atol=1e-12, dtype=torch.float64)

    def gradient():
        mu = _randn(5, 3, seed=82, dtype=torch.float64).requires_grad_()
        logvar = _rand(5, 3, seed=83, low=-2.0, high=1.0, dtype=torch.float64).requires_grad_()
        out = _as_tensor(_call(fn, mu, logvar))
        if out.shape != (5,):
            raise _Failure(f"your KL has shape {_shape(out)}, expected [5].", "fix the shape cases above first")
        grads = _backward(out, {"mu": mu, "logvar": logvar})
        for label, grad, expected in (("mu", grads["mu"], mu.detach()),
                                      ("logvar", grads["logvar"], 0.5 * (logvar.detach().exp() - 1))):
            if grad is None or not bool(grad.abs().sum() > 0):
                raise _Failure(f"the gradient does not reach {label}.",
                               "compute the KL with torch operations on mu and logvar (no .item(), .detach() "
                               "or numpy)")
            if not _close(grad, expected, 1e-6, 1e-9):
                raise _Failure(f"the gradient with respect to {label} differs from the closed form's.",
                               "fix the value cases above first")

    sum_last = "sum over the last dimension (dim=-1) so that a single example of shape [d] works too"
    cases = [
        ("batch of 8 x 2", batch),
        ("the prior itself (mu = 0, logvar = 0): KL = 0", prior),
        ("mu = 0, logvar = -2", negative),
        ("a single example of shape [5]", single, sum_last),
        ("batch shape [3, 4, 6] ([B, N, d])", batched),
        ("zero-variance limit (logvar = -80)", zero_variance),
        ("large means (|mu| ~ 1000)", large_means),
        ("float64 in, float64 out", float64),
        ("gradient with respect to mu and logvar", gradient),
    ]
    return _run(name, cases, verbose)


def _mc_kl_stats(mu: torch.Tensor, logvar: torch.Tensor):
    """Closed-form KL per example and the variance of one sample of log q(z) - log p(z), z ~ q."""
    mu, lv = mu.double(), logvar.double()
    var = lv.exp()
    kl = 0.5 * (mu ** 2 + var - lv - 1).sum(-1)
    # log q(z) - log p(z) = const + 1/2 [(v - 1) eps² + 2 mu sigma eps] per dimension
    sample_var = (0.5 * (var - 1) ** 2 + mu ** 2 * var).sum(-1)
    return kl, sample_var


def _mc_kl_variants(mu: torch.Tensor, logvar: torch.Tensor, n: int):
    """The values that typical wrong Monte Carlo estimators converge to, with hints."""
    mu, lv = mu.double(), logvar.double()
    var = lv.exp()
    kl = 0.5 * (mu ** 2 + var - lv - 1).sum(-1)
    d = mu.shape[-1]
    return [
        ("your estimate is negative: average log q(z) - log p(z), not log p(z) - log q(z)", -kl),
        ("you averaged over the latent dimensions: sum log q(z) - log p(z) over them", kl / d),
        ("you summed over the n samples: average them", n * kl),
        ("you used σ = exp(logvar) instead of exp(logvar / 2) when sampling z",
         0.5 * (-lv - var + mu ** 2 + var ** 2).sum(-1)),
        ("sample z from q (z = mu + σ ε), not from the prior N(0, I)",
         -0.5 * ((1 + mu ** 2) / var + lv - 1).sum(-1)),
        ("torch.distributions.Normal(mu, scale) takes the standard deviation σ, not the variance",
         (-lv - 0.5 / var + 0.5 * mu ** 2 + 0.5 * var).sum(-1)),
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
            raise _Failure("your estimate contains NaN or inf.", "compute log q(z) and log p(z) directly "
                           "(torch.distributions.Normal(...).log_prob or the formula), not log(exp(...))")
        se = (sample_var / n).sqrt()
        tol = 5 * se + 1e-4 * (1 + kl.abs())
        if not bool(((got - kl).abs() <= tol).all()):
            hint = None
            for h, value in _mc_kl_variants(mu, logvar, n):
                if bool(((got - value).abs() <= 5 * se * max(1.0, n if "summed" in h else 1.0)
                         + 1e-3 * (1 + value.abs())).all()):
                    hint = h
                    break
            worst = float(((got - kl).abs() / se.clamp_min(1e-12)).max())
            raise _Failure(f"your estimate is {worst:.1f} standard errors away from the KL (allowed: 5).",
                           hint or "average log q(z) - log p(z) over n samples z ~ q = N(mu, σ²), "
                                   "summed over the latent dimensions")
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
            raise _Failure("two calls with generators seeded alike gave different estimates.",
                           "draw the noise with the generator you are given: torch.randn(..., generator=generator)")
        if bool(torch.equal(a.detach(), c.detach())):
            kl, _ = _mc_kl_stats(mu, logvar)
            closed = _close(a, kl, 1e-5, 1e-6)
            raise _Failure("your estimate does not change with the random seed.",
                           "that is the closed form: estimate the KL by averaging log q(z) - log p(z) over n "
                           "samples z ~ q" if closed else
                           "draw fresh noise for every call with the generator you are given")

    def spread():
        mu, logvar = torch.tensor([1.0, -0.5]), torch.tensor([math.log(0.8), math.log(1.2)])
        _, sample_var = _mc_kl_stats(mu, logvar)
        n, calls = 10, 200
        values = []
        for i in range(calls):
            out = estimate(mu, logvar, n, 1000 + i)
            if out.shape != ():
                raise _Failure(f"your estimate has shape {_shape(out)} for one example of shape [2], expected [].",
                               "fix the shape cases above first")
            values.append(out.detach().double())
        values = torch.stack(values)
        kl, _ = _mc_kl_stats(mu, logvar)
        se = math.sqrt(float(sample_var) / (n * calls))
        if abs(float(values.mean() - kl)) > 5 * se:
            hint = next((h for h, v in _mc_kl_variants(mu, logvar, n)
                         if abs(float(values.mean() - v)) <= 5 * se * (n if "summed" in h else 1)), None)
            raise _Failure(f"the average of your {calls} estimates with n = {n} is "
                           f"{abs(float(values.mean() - kl)) / se:.1f} standard errors away from the KL.",
                           hint or "fix the cases above first")
        if float(values.var()) < 1e-12:
            raise _Failure("your estimate does not vary between seeds.",
                           "estimate the KL by averaging log q(z) - log p(z) over n samples z ~ q")
        ratio = float(values.var() / (sample_var / n))
        if ratio > 2.5:
            raise _Failure(f"your estimates with n = {n} vary {ratio:.1f} times as much as an average of {n} "
                           "independent samples should.",
                           "draw a fresh ε for each of the n samples (one ε reused n times does not average "
                           "anything out), and average log q(z) - log p(z) over them")
        if ratio < 0.4:
            raise _Failure(f"your estimates with n = {n} vary {1 / max(ratio, 1e-12):.1f} times less than an "
                           f"average of {n} samples of log q(z) - log p(z) should.",
                           "estimate the whole KL by Monte Carlo: average log q(z) - log p(z) over z ~ q, "
                           "without closed-form parts")

    cases = [
        ("batch of 4 x 2, n = 20,000: within 5 standard errors", batch),
        ("a single example of shape [3]", single,
         "work over the last dimension (dim=-1) so that a single example of shape [d] works too"),
        ("narrow q (logvar = -10)", narrow),
        ("reproducible with the generator, different across seeds", reproducible),
        ("spread of 200 estimates with n = 10", spread),
    ]
    return _run(name, cases, verbose)


# ============================================================================ 14-5


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
            raise _Failure(f"your z has shape {_shape(z)}, expected {_shape(mu)} (the shape of mu).",
                           "draw one ε per element of mu")
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
            raise _Failure("two calls with generators seeded alike gave different z.",
                           "draw ε with the generator you are given: torch.randn(..., generator=generator)")
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
            raise _Failure("every example got the same noise.",
                           "draw one ε per element of mu (the full shape of mu), not one per latent dimension")
        ratio = var / var_ref
        if not bool(((ratio - 1).abs() < 0.06).all()):
            candidates = [
                ("you used σ = exp(logvar) instead of exp(logvar / 2)", (2 * lv0.double()).exp()),
                ("you forgot to scale ε by σ = exp(logvar / 2)", torch.ones(4, dtype=torch.float64)),
                ("you multiplied ε by logvar itself: σ = exp(logvar / 2)", lv0.double() ** 2),
                ("you used σ = exp(logvar / 4): σ² = exp(logvar), so σ = exp(logvar / 2)",
                 (0.5 * lv0.double()).exp()),
            ]
            hint = None
            for h, v in candidates:
                mask = (v - var_ref).abs() > 0.2 * var_ref
                if bool(mask.any()) and bool(((var / v.clamp_min(1e-12) - 1).abs()[mask] < 0.06).all()):
                    hint = h
                    break
            if float(var.max()) < 1e-12:
                hint = "z has no noise at all: z = mu + σ ε with ε ~ N(0, 1)"
            raise _Failure("the variance of your samples is not σ² = exp(logvar) (ratios "
                           f"{', '.join(f'{float(r):.3g}' for r in ratio)}).", hint)
        se = (var_ref / n).sqrt()
        if not bool(((mean - mu0.double()).abs() < 5 * se).all()):
            hint = ("did you forget to add mu?" if bool(((mean).abs() < 5 * se).all()) else
                    "the samples should be centred on mu")
            raise _Failure("the mean of your samples is not mu.", hint)

    def gradients():
        mu = _randn(6, 3, seed=104, dtype=torch.float64).requires_grad_()
        logvar = _rand(6, 3, seed=105, low=-1.5, high=1.5, dtype=torch.float64).requires_grad_()
        z = sample(mu, logvar, 12)
        check_shape(z, mu)
        if not z.requires_grad:
            raise _Failure("your z is cut off from autograd (it does not require grad), so the gradient does not "
                           "reach mu and logvar.",
                           "did you sample with Normal(...).sample() or torch.normal(mu, sigma)? They block the "
                           "gradient: draw ε separately and compute z from mu, logvar and ε with torch operations "
                           "(no .item(), .detach() or numpy)")
        grads = _backward(z, {"mu": mu, "logvar": logvar})
        return z.detach(), mu.detach(), logvar.detach(), grads

    state: dict = {}

    def grad_mu():
        state["g"] = gradients()
        _, _, _, grads = state["g"]
        g = grads["mu"]
        if g is None or not bool(g.abs().sum() > 0):
            raise _Failure("the gradient does not reach mu.",
                           "did you sample with torch.normal(mu, sigma)? It blocks the gradient: write z as mu plus "
                           "σ times noise ε drawn separately (and do not forget mu)")
        if not _close(g, torch.ones_like(g), 1e-9, 1e-9):
            raise _Failure(f"dz/dmu should be 1 for every element; yours starts {_fmt(g)}.",
                           "z depends on mu only through the sum mu + σ ε")

    def grad_logvar():
        if "g" not in state:
            state["g"] = gradients()
        z, mu, logvar, grads = state["g"]
        g = grads["logvar"]
        if g is None or not bool(g.abs().sum() > 0):
            raise _Failure("the gradient does not reach logvar.",
                           "compute σ from logvar with torch operations (no .item(), numpy or torch.normal) so "
                           "that autograd can follow it")
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
                raise _Failure("the gradient with respect to logvar is NaN when exp(logvar) underflows to 0.",
                               "compute σ as exp(logvar / 2) directly rather than sqrt(exp(logvar))")

    def float64():
        mu = 1e4 * _randn(5, 2, seed=107, dtype=torch.float64)
        logvar = _rand(5, 2, seed=108, low=-1.0, high=1.0, dtype=torch.float64)
        z = sample(mu, logvar, 14)
        check_shape(z, mu)
        if z.dtype != torch.float64:
            raise _Failure(f"your z has dtype {z.dtype} for float64 inputs.",
                           "let the dtype follow mu (e.g. torch.randn(..., dtype=mu.dtype))")
        if float(((z - mu) / (0.5 * logvar).exp()).abs().max()) > 8:
            raise _Failure("with large means (|mu| ~ 1e4), z - mu is not σ ε.",
                           "z = mu + σ ε: the noise must be scaled by σ only")

    cases = [
        ("batch of 8 x 2", shapes(8, 2, seed=109)),
        ("a single example of shape [5]", shapes(5, seed=111)),
        ("batch shape [3, 4, 6] ([B, N, d])", shapes(3, 4, 6, seed=113)),
        ("reproducible with the generator, different across seeds", reproducible),
        ("works without a generator (generator=None)", no_generator,
         "give the generator argument the default None"),
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
            raise _Failure(f"your function returned {n} values, expected one number.",
                           "return the mean of the n samples")
        v = _as_float(t, "your estimate")
        if not math.isfinite(v):
            raise _Failure(f"your estimate is {v}.", "check for a division by zero")
        return v

    def single_var(mu, sigma, k):
        d = mu - k
        return d ** 4 / sigma ** 2 + 14 * d ** 2 + 15 * sigma ** 2

    def mean_case(mu, sigma, k, n, seed):
        def body():
            got = estimate(mu, sigma, k, n, seed)
            d = mu - k
            se = math.sqrt(single_var(mu, sigma, k) / n)
            if abs(got - 2 * d) <= 5 * se:
                return
            candidates = [
                ("did you forget to divide the score by σ²?",
                 2 * d * sigma ** 2, 5 * se * sigma ** 2),
                ("divide the score by σ², not σ", 2 * d * sigma, 5 * se * sigma),
                ("the score has the wrong sign: check d/dmu log N(z; mu, σ²)", -2 * d, 5 * se),
                ("you summed the n samples: average them", 2 * d * n, 5 * se * n),
                ("f(z) = (z - k)² is the function whose expectation is differentiated: multiply the score by "
                 "(z - k)²", 1.0, 5 * math.sqrt((d ** 2 + 3 * sigma ** 2) / sigma ** 2 / n)),
            ]
            hint = next((h for h, value, tol in candidates if abs(got - value) <= tol), None)
            raise _Failure(f"your estimate {got:.4g} is {abs(got - 2 * d) / se:.1f} standard errors away from the "
                           "true gradient (allowed: 5).",
                           hint or "the score-function estimator averages f(z) times the score "
                                   "d/dmu log N(z; mu, σ²) over n samples z ~ N(mu, σ²), with f(z) = (z - k)²")
        return body

    def spread():
        mu, sigma, k, n, calls = 3.0, 1.0, 0.0, 5, 300
        values = torch.tensor([estimate(mu, sigma, k, n, 2000 + i) for i in range(calls)], dtype=torch.float64)
        var = float(values.var())
        expected = single_var(mu, sigma, k) / n
        pathwise = 4 * sigma ** 2 / n
        if var < 1e-12:
            raise _Failure("your estimate does not change between calls with different seeds.",
                           "it must be a Monte Carlo estimate from n random samples, not the exact gradient")
        ratio = var / expected
        if 0.35 < ratio < 3.0:
            return
        if abs(math.log(var / pathwise)) < math.log(3.0):
            hint = ("this looks like the pathwise (reparameterization) gradient 2 (z - k): the exercise asks for "
                    "the score-function estimator, f(z) times d/dmu log N(z; mu, σ²)")
        elif ratio > 3.0:
            hint = "draw a fresh z for each of the n samples and average the n score-function terms"
        else:
            hint = ("your estimates vary less than the plain score-function estimator's: no baseline or "
                    "other variance reduction here")
        raise _Failure(f"the variance of your estimates with n = {n} is {ratio:.3g} times that of the "
                       "score-function estimator.", hint)

    def reproducible():
        a = estimate(0.5, 1.0, 1.0, 50, 77)
        b = estimate(0.5, 1.0, 1.0, 50, 77)
        if a != b:
            raise _Failure("two calls with generators seeded alike gave different estimates.",
                           "draw z with the generator you are given: torch.randn(n, generator=generator)")

    cases = [
        ("mean ≈ 2 (mu - k) for mu = 1.5, σ = 2, k = 0.5 (n = 40,000)", mean_case(1.5, 2.0, 0.5, 40000, 1)),
        ("mean ≈ 2 (mu - k) for mu = -1, σ = 0.5, k = 1 (n = 40,000)", mean_case(-1.0, 0.5, 1.0, 40000, 2)),
        ("score-function, not pathwise: spread of 300 estimates with n = 5", spread),
        ("reproducible with the generator", reproducible),
    ]
    return _run(name, cases, verbose)


# ============================================================================ 14-6


def _slerp_reference(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    z0, z1 = z0.double(), z1.double()
    return _slerp(z0, z1, torch.tensor([t], dtype=torch.float64))[0]


def _slerp_directions(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """The other common convention: slerp the directions, interpolate the norms linearly."""
    z0, z1 = z0.double(), z1.double()
    n0, n1 = z0.norm(), z1.norm()
    u = _slerp(z0 / n0, z1 / n1, torch.tensor([t], dtype=torch.float64))[0]
    return ((1 - t) * n0 + t * n1) * u


def check_slerp(fn: Callable, verbose: bool = True) -> CheckResult:
    """Check ``fn(z0, z1, t)``: the point at fraction ``t`` (a float) along the great circle from
    z0 to z1, for vectors of shape [d] (lesson 14-6). For endpoints of different norms both the
    standard formula and "slerp the directions, interpolate the norms" are accepted."""
    name = "check_slerp"
    if not callable(fn):
        return _not_callable(name, "my_slerp", fn, verbose)

    def call(z0, z1, t):
        out = _as_tensor(_call(fn, z0.clone(), z1.clone(), t), "your function")
        if out.shape != z0.shape:
            hint = ("t is a single float here: return one point of shape [d]" if out.numel() == z0.numel()
                    else "return one point with the shape of z0")
            raise _Failure(f"your point has shape {_shape(out)}, expected {_shape(z0)}.", hint)
        return out

    def variants(z0, z1, t):
        z0, z1 = z0.double(), z1.double()
        lerp = (1 - t) * z0 + t * z1
        return [
            ("this is linear interpolation: its norm dips in the middle; follow the great circle", lerp),
            ("you went from z1 to z0: at t = 0 you should be at z0", _slerp_reference(z0, z1, 1 - t)),
            ("you normalized z0 and z1 but did not restore their norms",
             _slerp_reference(z0 / z0.norm(), z1 / z1.norm(), t)),
        ]

    def compare(z0, z1, t, rtol=1e-4, atol=1e-5, accept_directions=True,
                nonfinite_hint="a division by sin Ω = 0? Ω is the angle between z0 and z1 (its cosine is the dot "
                               "product of the unit vectors)"):
        out = call(z0, z1, t)
        if not bool(torch.isfinite(out.detach()).all()):
            bad = "NaN" if bool(torch.isnan(out.detach()).any()) else "inf"
            raise _Failure(f"your point contains {bad}.", nonfinite_hint)
        ref = _slerp_reference(z0, z1, t)
        if _close(out, ref, rtol, atol):
            return out
        if accept_directions and _close(out, _slerp_directions(z0, z1, t), rtol, atol):
            return out
        hint = _first_match(out, variants(z0, z1, t)) or (
            "check the angle Ω between z0 and z1 (from the cosine between them) and the weights of z0 and z1 "
            "at fraction t")
        raise _Failure(f"your point at t = {t} is not on the great circle at the right place (largest "
                       f"difference {_largest_error(out, ref)}).", hint)

    def endpoints():
        z0, z1 = _randn(20, seed=121), _randn(20, seed=122)
        a, b = call(z0, z1, 0.0), call(z0, z1, 1.0)
        if _close(a, z0, 1e-4, 1e-5) and _close(b, z1, 1e-4, 1e-5):
            return
        if _close(a, z1, 1e-4, 1e-5) and _close(b, z0, 1e-4, 1e-5):
            raise _Failure("slerp endpoints are wrong: t = 0 gave z1 and t = 1 gave z0.",
                           "you went from z1 to z0: at t = 0 you should be at z0")
        if _close(a, z0 / z0.norm(), 1e-4, 1e-5):
            raise _Failure("slerp endpoints are wrong: t = 0 gave z0 / |z0|.",
                           "you normalized z0 and z1 but did not restore their norms")
        raise _Failure("slerp endpoints are wrong: t = 0 must give z0 and t = 1 must give z1.",
                       "check the weights of z0 and z1 at t = 0 and t = 1")

    def orthogonal():
        out = call(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.5)
        if _close(out, torch.tensor([0.5, 0.5]), 1e-4, 1e-5):
            raise _Failure("your midpoint has norm 0.71, not 1.",
                           "this is linear interpolation: its norm dips in the middle; follow the great circle")
        compare(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.5)

    def random():
        compare(_randn(20, seed=123), _randn(20, seed=124), 0.3)

    def norm_constant():
        z0 = _randn(20, seed=125)
        z1 = _randn(20, seed=126)
        z0, z1 = z0 / z0.norm(), z1 / z1.norm()
        norms = [float(call(z0, z1, t).norm()) for t in (0.1, 0.25, 0.5, 0.75, 0.9)]
        if max(abs(n - 1) for n in norms) > 1e-4:
            raise _Failure(f"between unit vectors your path leaves the unit sphere (norms from {min(norms):.3g} "
                           f"to {max(norms):.3g}).",
                           "follow the great circle: the norm should stay 1 between unit vectors")
        compare(z0, z1, 0.5)

    def different_norms():
        z0 = 2 * torch.tensor([1.0, 0.0, 0.0])
        z1 = 5 * torch.tensor([0.6, 0.8, 0.0])
        compare(z0, z1, 0.25)

    parallel_hint = "NaN for parallel endpoints: fall back to linear interpolation when the angle is tiny"

    def parallel():
        z0 = _randn(5, seed=127)
        compare(z0, 3 * z0, 0.4, nonfinite_hint=parallel_hint)

    def identical():
        z0 = _randn(5, seed=128)
        compare(z0, z0.clone(), 0.7, nonfinite_hint=parallel_hint.replace("parallel", "identical"))

    def float64():
        z0, z1 = _randn(8, seed=129, dtype=torch.float64), _randn(8, seed=130, dtype=torch.float64)
        out = compare(z0, z1, 0.6, rtol=1e-6, atol=1e-8)
        if out.dtype != torch.float64:
            raise _Failure(f"your point has dtype {out.dtype} for float64 inputs.",
                           "let the dtype follow z0 and z1")

    cases = [
        ("endpoints: t = 0 gives z0, t = 1 gives z1", endpoints),
        ("midpoint of two orthogonal unit vectors", orthogonal),
        ("random 20-D pair at t = 0.3", random),
        ("the norm stays 1 between unit vectors", norm_constant),
        ("endpoints of different norms (2 and 5)", different_norms),
        ("parallel endpoints (z1 = 3 z0)", parallel),
        ("identical endpoints (z1 = z0)", identical),
        ("float64 in, float64 out", float64),
    ]
    return _run(name, cases, verbose)
