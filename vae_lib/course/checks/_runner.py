"""What every check shares: the results, the runner, and the comparison helpers.

A check (one per exercise, in the lesson modules of this package) builds a list of cases,
``(name, body)`` or ``(name, body, hint if the student's function raises)``, and hands it to
:func:`_run`, which runs each body, turns a :class:`_Failure` or an exception of the student's
code into a failed :class:`Case`, prints one line per case and returns a :class:`CheckResult`.
The helpers below compare the student's output with a reference and pick the hint of the first
typical wrong variant the output matches.
"""

from __future__ import annotations

import numbers
import os
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

PASS, FAIL = "✓", "✗"


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


# Frames of the checks themselves (every module of this package) are not the student's code.
_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__))
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


def _call(fn: Callable, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise _StudentError(exc) from None


def _student_frame(exc: BaseException):
    """The innermost traceback frame of the student's own code (not the checks', not torch's), or None."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        filename = os.path.abspath(frame.filename)
        if filename.startswith(_CHECKS_DIR + os.sep) or filename.startswith(_TORCH_DIR):
            continue
        return frame
    return None


def _where(exc: BaseException) -> str:
    """' in my_kl (line N: code)' for the innermost frame of the student's code, if any.

    A notebook cell's file name (ipykernel's temporary file) means nothing to a student, so it is
    left out; in a script the file's name is given.
    """
    frame = _student_frame(exc)
    if frame is None:
        return ""
    code = (frame.line or "").strip()
    if len(code) > 80:
        code = code[:77] + "..."
    base = os.path.basename(frame.filename)
    in_cell = "ipykernel" in frame.filename or frame.filename.startswith("<")
    place = f"line {frame.lineno}" if in_cell else f"{base}, line {frame.lineno}"
    func = f" in {frame.name}" if frame.name and frame.name != "<module>" else ""
    return f"{func} ({place}: {code})" if code else f"{func} ({place})"


# (what the exception says, the hint): checked in order, the first match wins. They name the
# mistake behind the exception; a case's own hint (about shapes) is only used for shape errors.
EXCEPTION_HINTS: list[tuple[tuple[str, ...], str]] = [
    (
        ("modified by an inplace operation",),
        "an in-place operation (+=, *=, .exp_(), x[...] = ...) changed a tensor that autograd still needs, for "
        "example the output of exp(): write a new tensor instead (s = s + 1, not s += 1), or work on a .clone()",
    ),
    (
        ("a leaf Variable that requires grad is being used in an in-place operation",),
        "do not change the inputs in place (mu += ..., logvar.exp_()): compute new tensors from them",
    ),
    (
        (
            "Can't call numpy() on Tensor that requires grad",
            "numpy() on Tensor",
            "'numpy.ndarray' object",
            "ndarray",
            "numpy",
        ),
        "use torch functions (torch.exp, torch.log, torch.sum, ...) on tensors, not numpy (np.exp, np.sum, ...): "
        "numpy cannot follow gradients and turns tensors into arrays",
    ),
    (
        (
            "converted to Python scalars",
            "only one element tensors can be converted",
            "must be real number, not Tensor",
        ),
        "use torch functions (torch.log, torch.exp, ...) on tensors, not math.log or float(...)",
    ),
    (
        ("does not require grad and does not have a grad_fn",),
        "your result is cut off from autograd: no .item(), .detach(), .numpy() or torch.tensor(...) on "
        "intermediate results",
    ),
    (
        ("mat1 and mat2 shapes cannot be multiplied", "size mismatch", "inconsistent tensor size"),
        "this formula is elementwise: use * (and .sum(dim=-1)), not @ or torch.dot",
    ),
    (
        ("expected scalar type", "expected both vectors to have same dtype", "must have the same dtype"),
        "let every tensor follow the inputs' dtype: no torch.tensor(..., dtype=...) or .float() inside your function",
    ),
    (
        ("is not defined",),
        "a name your function uses is not defined: import it (import torch, import math) or run the cell that "
        "defines it first",
    ),
]
# Errors that autograd raises when the check differentiates the student's result: their mistake.
_AUTOGRAD_ERRORS = (
    "modified by an inplace operation",
    "does not require grad and does not have a grad_fn",
    "a leaf Variable that requires grad",
)
_SHAPE_WORDS = ("size of tensor", "dimension", "shape", "index", "out of range", "broadcast")


def _exception_hint(exc: BaseException, case_hint: str | None) -> str | None:
    message = str(exc)
    for needles, hint in EXCEPTION_HINTS:
        if any(n in message for n in needles):
            return hint
    if isinstance(exc, ModuleNotFoundError):
        return None
    if case_hint and (isinstance(exc, (IndexError, ValueError)) or any(w in message for w in _SHAPE_WORDS)):
        return case_hint
    return None


def _describe_exception(
    exc: BaseException, hint: str | None, seen: set | None = None, during: str = "your function raised"
) -> str:
    if isinstance(exc, NotImplementedError):
        return (
            "your function raised NotImplementedError: it is not written yet."
            "\nHint: replace `raise NotImplementedError()` with your code, run that cell, then this one."
        )
    where = _where(exc)
    hint = _exception_hint(exc, hint)
    key = (type(exc).__name__, where)
    if seen is not None and key in seen:
        return f"{during} {type(exc).__name__}{where} again (see above)."
    if seen is not None:
        seen.add(key)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(message) > 240:
        message = message[:237] + "..."
    text = f"{during} {type(exc).__name__}{where}" + (f": {message}" if message else "")
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
            except Exception as exc:
                if any(
                    n in str(exc) for n in _AUTOGRAD_ERRORS
                ):  # e.g. backward() after an in-place op on exp()
                    case = Case(
                        name,
                        False,
                        _describe_exception(
                            exc, None, seen, during="using your result (its gradient, here) raised"
                        ),
                    )
                else:
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
    return finish(result)


GRADING_VARIABLES = ("NBGRADER_EXECUTION", "VAE_LIB_CHECKS_RAISE")


class CheckFailed(AssertionError):
    """Raised by a failing check while a grader runs the notebook (see :func:`grading`).

    Its message is the check's verdict with the hint of each failed case, so that the grader's
    feedback carries the hints; ``error.result`` is the :class:`CheckResult`.
    """

    def __init__(self, result: CheckResult):
        lines = [result.summary()] + [_format_case(c) for c in result.failed]
        super().__init__("\n".join(lines))
        self.result = result


def grading() -> bool:
    """Whether a grader runs this code: nbgrader's autograde or validate (it sets
    ``NBGRADER_EXECUTION``), or any runner that sets ``VAE_LIB_CHECKS_RAISE=1``.

    In a notebook or a script a check only prints and returns its verdict; under a grader a
    failing check also raises :class:`CheckFailed`, so that the autograded cell scores 0.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get("VAE_LIB_CHECKS_RAISE", "") not in (
        "",
        "0",
    )


def finish(result: CheckResult) -> CheckResult:
    """Return ``result``; under a grader, raise :class:`CheckFailed` if it did not pass."""
    if not result.passed and grading():
        raise CheckFailed(result)
    return result


def _not_callable(check: str, what: str, value: Any, verbose: bool) -> CheckResult:
    case = Case(
        "your function",
        False,
        f"{check} expects your function itself, got {type(value).__name__}."
        f"\nHint: pass the function without calling it, e.g. {check}({what}).",
    )
    result = CheckResult(check, [case])
    if verbose:
        print(f"{check}:\n{_format_case(case)}\n{result.summary()}", flush=True)
        result._echoed = True
    return finish(result)


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
        raise _Failure(
            f"{what} returned a numpy {type(out).__name__}, expected a torch.Tensor.",
            "use torch operations on the input tensors (torch.sin, torch.exp, ...), not numpy: "
            "numpy loses the gradient and the dtype",
        )
    if isinstance(out, (tuple, list)):
        raise _Failure(
            f"{what} returned a {type(out).__name__} of {len(out)} items, expected one tensor.",
            "return a single tensor.",
        )
    raise _Failure(
        f"{what} returned a {type(out).__name__}, expected a torch.Tensor.",
        "use torch operations on the input tensors and return the resulting tensor.",
    )


def _as_float(out: Any, what: str = "your function") -> float:
    t = _as_tensor(out, what)
    if t.numel() != 1:
        raise _Failure(
            f"{what} has {t.numel()} values (shape {_shape(t)}), expected one number.",
            "return a single number.",
        )
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
        except Exception:
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


def _expect(
    out: Any,
    ref: torch.Tensor,
    *,
    variants=(),
    shape_hint: Callable | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    what: str = "your result",
    nonfinite_hint: str | None = None,
    generic_hint: str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Compare the student's output with the reference; raise a _Failure with the best hint."""
    out = _as_tensor(out)
    if out.shape != ref.shape:
        hint = shape_hint(out) if shape_hint else None
        raise _Failure(f"{what} has shape {_shape(out)}, expected {_shape(ref)}.", hint)
    if not out.is_floating_point():
        raise _Failure(
            f"{what} has dtype {out.dtype}, expected a float tensor.",
            "keep the computation in floating point.",
        )
    if not bool(torch.isfinite(out.detach()).all()):
        bad = "NaN" if bool(torch.isnan(out.detach()).any()) else "inf"
        raise _Failure(f"{what} contains {bad} for finite inputs.", nonfinite_hint)
    if dtype is not None and out.dtype != dtype:
        raise _Failure(
            f"{what} has dtype {out.dtype} for {dtype} inputs.",
            "do not fix the dtype inside your function (no torch.tensor(..., dtype=...) or"
            " .float()): let it follow the inputs.",
        )
    if not _close(out, ref, rtol, atol):
        hint = _first_match(out, variants) or generic_hint
        raise _Failure(
            f"{what} differs from the correct values (largest difference "
            f"{_largest_error(out, ref)}; yours start {_fmt(out)}).",
            hint,
        )
    return out


def _batch_shape_hint(ref: torch.Tensor, inner: int, inner_name: str, reduce_name: str):
    """Diagnose a wrong output shape of a function that reduces over the last dimension."""

    def hint(out: torch.Tensor) -> str:
        one = "one value per example"
        if out.dim() == 0 and ref.dim() > 0:
            o = out.detach().double()
            if _close(o, ref.sum().double(), 1e-4, 1e-5):
                return (
                    f"you summed over the batch too: {reduce_name} should be {one} "
                    f"(sum over the {inner_name} only)"
                )
            if _close(o, ref.mean().double(), 1e-4, 1e-5):
                return f"you averaged over the batch: {reduce_name} should be {one} (no mean over the batch)"
            if _close(o, ref.mean().double() / inner, 1e-4, 1e-5):
                return (
                    f"a reduction='mean' averages over everything: {reduce_name} should be {one}, "
                    f"summed over the {inner_name}"
                )
            return f"{reduce_name} should be {one}: reduce over the {inner_name} (the last dimension) only"
        if out.shape == (*ref.shape, inner):
            return (
                f"you returned one value per element: sum over the {inner_name} "
                f"(the last dimension) to get {one}"
            )
        return (
            f"sum over the last dimension only (dim=-1), the {inner_name}, so that your function works "
            f"for any batch shape"
        )

    return hint


def _grad_problem(out: torch.Tensor) -> None:
    """Fail unless ``out`` is connected to autograd."""
    if not out.requires_grad:
        raise _Failure(
            "your result is cut off from autograd (it does not require grad).",
            "use torch operations all the way: no .item(), .detach(), .numpy(), math.* functions "
            "or torch.tensor(...) around intermediate results.",
        )


def _backward(out: torch.Tensor, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
    _grad_problem(out)
    for t in inputs.values():
        t.grad = None
    out.sum().backward()
    return {name: t.grad for name, t in inputs.items()}


# --------------------------------------------------------------------------- checks as data


class ValueCase(NamedTuple):
    """One case of a check, described as data: fresh inputs, and how close the answer must be.

    ``inputs()`` builds the arguments (a tuple) each time; the student's function gets clones and
    the reference gets float64 copies. ``tolerance`` is ``(rtol, atol)``; ``dtype`` the dtype the
    answer must keep (None: any float); ``error_hint`` the hint for a shape error raised by the
    student's function; ``nonfinite_hint`` the hint for a NaN/inf answer.
    """

    name: str
    inputs: Callable[[], tuple]
    tolerance: tuple[float, float] = (1e-4, 1e-5)
    dtype: torch.dtype | None = None
    error_hint: str | None = None
    nonfinite_hint: str | None = None
    generic_hint: str | None = None  # this case's hint when no variant matches (default: the spec's)


class CheckSpec(NamedTuple):
    """A check described as data, run by :func:`run_check`.

    - ``name``: the check's name; ``example``: how a student calls it (``check_kl(my_kl)``'s ``my_kl``);
    - ``reference(*inputs)``: the correct answer, a closed form taken from the core of ``vae_lib``
      (never re-typed here);
    - ``variants(*inputs)``: ``[(hint, value)]``, what typical wrong answers give, each with the
      hint that names the mistake;
    - ``cases``: in order, :class:`ValueCase` items and, for what is not a value comparison
      (gradients, statistics), ``(name, body)`` or ``(name, body, error hint)`` where ``body(fn)``
      raises :class:`_Failure` to fail;
    - ``what``: how the answer is named in messages ("your KL"); ``shape_hint(reference, inputs)``
      builds the hint for a wrong output shape; ``generic_hint``: the hint when no variant matches;
      ``check_answer(answer, reference, inputs, variants)``: an optional extra inspection first;
    - ``compare(output, reference, inputs, variants, case)``: for an answer that is not one tensor
      compared value by value (a tuple of terms, a point that may follow either of two
      conventions), the comparison itself, raising :class:`_Failure` with the best hint; it gets
      the student's raw output and replaces the default one (a tensor: shape, dtype, finiteness,
      values, then ``variants``).
    """

    name: str
    example: str
    reference: Callable[..., torch.Tensor]
    variants: Callable[..., list]
    cases: list
    what: str = "your result"
    shape_hint: Callable | None = None
    generic_hint: str | None = None
    check_answer: Callable | None = None
    compare: Callable | None = None


def run_check(spec: CheckSpec, fn: Callable, verbose: bool = True) -> CheckResult:
    """Run the check described by ``spec`` on the student's function ``fn`` and report.

    Each :class:`ValueCase` calls ``fn`` on fresh inputs, compares the answer with
    ``spec.reference`` (shape, dtype, finiteness, values) and, when it differs, names the first
    typical wrong variant it matches. Every check runs the same in a notebook or a script; under
    a grader a failing check raises :class:`CheckFailed` (see :func:`grading`).
    """
    if not callable(fn):
        return _not_callable(spec.name, spec.example, fn, verbose)

    def value_body(case: ValueCase):
        def body():
            inputs = case.inputs()
            output = _call(fn, *(x.clone() if isinstance(x, torch.Tensor) else x for x in inputs))
            doubles = tuple(x.detach().double() if isinstance(x, torch.Tensor) else x for x in inputs)
            if spec.compare is not None:
                spec.compare(output, spec.reference(*doubles), doubles, spec.variants(*doubles), case)
                return
            answer = _as_tensor(output)
            ref = spec.reference(*doubles)
            variants = spec.variants(*doubles)
            if spec.check_answer is not None:
                spec.check_answer(answer, ref, doubles, variants)
            rtol, atol = case.tolerance
            _expect(
                answer,
                ref,
                variants=variants,
                what=spec.what,
                rtol=rtol,
                atol=atol,
                dtype=case.dtype,
                shape_hint=spec.shape_hint(ref, doubles) if spec.shape_hint else None,
                nonfinite_hint=case.nonfinite_hint,
                generic_hint=case.generic_hint or spec.generic_hint,
            )

        return body

    cases: list[tuple] = []
    for case in spec.cases:
        if isinstance(case, ValueCase):
            cases.append((case.name, value_body(case), case.error_hint))
        else:
            name, body, *rest = case
            cases.append((name, (lambda b: lambda: b(fn))(body), *rest))
    return _run(spec.name, cases, verbose)
