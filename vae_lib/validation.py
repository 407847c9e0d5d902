"""The one place where vae_lib checks its inputs.

Every public function of the package starts with one line that calls this module, so a
mistake is reported where it is made, with the argument's name, what was expected and what
was given, instead of surfacing later as a deep torch error or, worse, as a wrong number:

    validation.mu_logvar(mu, logvar)            # in kl_divergence and reparameterize
    x = validation.images(x, self.input_dim)     # in encode, forward, elbo, ...

Checks that only look at types and shapes are free; checks that look at the values (pixels
in [0, 1], finite ``mu``, ``logvar`` small enough for ``exp``) read the tensor once, which on
a GPU waits for it. The training loop validates its data once and then runs its steps inside
:func:`skipped`, where the value checks return at once: the formulas it calls are the public
ones, only their checks are switched off.

The limits (see :func:`exp_limit`): ``exp(logvar)`` must be finite in the tensor's dtype, so
``logvar <= log(largest float)``: about 88.7 in float32, 11.1 in float16 and 709.8 in float64.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import numbers
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

__all__ = [
    "skipped",
    "enabled",
    "positive_int",
    "finite_number",
    "probability",
    "choice",
    "images",
    "latents",
    "mu_logvar",
    "exp_limit",
    "layer_sizes",
    "device",
    "writable_path",
    "TO_TENSOR_HINT",
]

TO_TENSOR_HINT = "use vae_lib.to_tensor(images) to convert uint8 images"

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("vae_lib_checks", default=True)


@contextlib.contextmanager
def skipped() -> Iterator[None]:
    """Within this ``with`` block the value checks (those that read tensor values) are skipped.

    Used by ``fit`` around its steps, after checking the data once; type and shape checks
    stay on. The setting is per thread (a context variable) and restored on exit.
    """
    token = _ENABLED.set(False)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def enabled() -> bool:
    """Whether value checks run here (False inside :func:`skipped`)."""
    return _ENABLED.get()


# -- plain numbers --------------------------------------------------------------------------


def positive_int(value: object, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int, or a ValueError naming ``name``; booleans are rejected.

    numpy integers are accepted (``np.int64(3)``), floats are not (``3.0`` is a likely typo).
    """
    number = int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        if maximum is not None and number is not None and number > maximum:
            what = f"an integer between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return number


def finite_number(
    value: object, name: str, *, minimum: float | None = None, strictly_positive: bool = False
) -> float:
    """``value`` as a finite float (optionally ``>= minimum`` or ``> 0``); booleans are rejected."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if strictly_positive and value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return value


def probability(value: object, name: str) -> float:
    """``value`` as a float in [0, 1]."""
    p = finite_number(value, name)
    if not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return p


def choice(value: object, name: str, choices: Sequence[object]) -> None:
    """ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def layer_sizes(hidden: object, name: str = "hidden", *, maximum: int = 1 << 16) -> tuple[int, ...]:
    """A sequence of positive layer widths, each at most ``maximum`` (65,536 by default).

    A width such as 10**9 would otherwise reach the memory allocator with a raw message.
    """
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise ValueError(f"{name} must be a sequence of positive integers, got {hidden!r}")
    return tuple(positive_int(h, f"{name}[{i}]", maximum=maximum) for i, h in enumerate(hidden))


# -- tensors ----------------------------------------------------------------------------------


def _float_tensor(t: object, name: str, shape_hint: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape_hint}, got {type(t).__name__}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {t.dtype}")
    return t


def _same_place(
    t: torch.Tensor, name: str, dtype: torch.dtype | None, on: torch.device | None
) -> torch.Tensor:
    """``t`` on device ``on`` (ValueError if elsewhere) and cast to ``dtype`` (documented cast)."""
    if on is not None and t.device != on:
        raise ValueError(
            f"{name} is on {t.device} but the model is on {on}; move it with {name}.to({str(on)!r})"
        )
    return t if dtype is None or t.dtype == dtype else t.to(dtype)


def images(
    x: object,
    input_dim: int,
    name: str = "x",
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """``x`` checked as pixel probabilities: a float tensor [N, input_dim], values in [0, 1], no NaN.

    Integer tensors (uint8 0..255) are rejected naming the dtype, with a pointer to
    ``vae_lib.to_tensor``. A float tensor of another float dtype (float64 from
    ``torch.from_numpy``, float16) is cast to ``dtype`` (the model's) and returned.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape [N, {input_dim}], got"
            f" {type(x).__name__} ({TO_TENSOR_HINT})"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{name} must be a float tensor of pixels in [0, 1], got dtype {x.dtype} ({TO_TENSOR_HINT})"
        )
    if x.dim() != 2 or x.shape[1] != input_dim:
        raise ValueError(
            f"{name} must have shape [N, {input_dim}], got {list(x.shape)}"
            " (vae_lib.to_tensor flattens 28x28 images)"
        )
    x = _same_place(x, name, dtype, device)
    _pixel_range(x, name)
    return x


def _pixel_range(x: torch.Tensor, name: str) -> None:
    """ValueError unless every value of ``x`` is in [0, 1] (NaN is not); skipped when disabled."""
    if enabled() and x.numel():
        lo, hi = torch.aminmax(x.detach())
        if not bool((lo >= 0) & (hi <= 1)):  # NaN fails both comparisons
            got = (
                "NaN values"
                if bool(torch.isnan(x).any())
                else f"values in [{lo.item():.3g}, {hi.item():.3g}]"
            )
            raise ValueError(f"{name} must hold pixel values in [0, 1]; got {got} ({TO_TENSOR_HINT})")


def latents(
    z: object,
    latent_dim: int,
    name: str = "z",
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """``z`` checked as latent codes: a finite float tensor [N, latent_dim], cast to ``dtype``."""
    z = _float_tensor(z, name, f"[N, {latent_dim}]")
    if z.dim() != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"{name} must be a tensor of shape [N, {latent_dim}], got {list(z.shape)}")
    z = _same_place(z, name, dtype, device)
    if enabled() and not bool(torch.isfinite(z).all()):
        raise ValueError(f"{name} must be finite; got inf or NaN values")
    return z


@functools.lru_cache(maxsize=8)
def exp_limit(dtype: torch.dtype) -> float:
    """The largest ``v`` in ``dtype`` with ``exp(v)`` finite: about log of the largest float."""
    v = torch.tensor(math.log(torch.finfo(dtype).max), dtype=dtype)
    step = torch.finfo(dtype).eps * float(v)  # about one unit in the last place
    while not bool(torch.isfinite(v.exp())):
        v = (v.double() - step).to(dtype)
    return float(v)


def mu_logvar(mu: object, logvar: object) -> None:
    """ValueError unless ``mu``, ``logvar`` are float tensors of one shape, finite, exp(logvar) finite.

    Limits in the tensor's dtype: ``logvar <= exp_limit(dtype)`` (88.7 in float32, 11.1 in
    float16), else ``exp(logvar)`` is inf and the KL is inf; ``|mu| <= sqrt(largest float)``,
    else ``mu ** 2`` is inf.
    """
    _float_tensor(mu, "mu", "[..., d]")
    _float_tensor(logvar, "logvar", "[..., d]")
    assert isinstance(mu, torch.Tensor) and isinstance(logvar, torch.Tensor)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got mu {list(mu.shape)} and logvar {list(logvar.shape)}"
        )
    if not enabled() or not mu.numel():
        return
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite; got inf or NaN values")
    limit = exp_limit(logvar.dtype)
    if bool((logvar > limit).any()):
        raise ValueError(
            f"logvar must be <= {limit:.4g} in {logvar.dtype} (exp(logvar) overflows);"
            f" got up to {logvar.max().item():.4g}"
        )
    mu_limit = math.sqrt(torch.finfo(mu.dtype).max)
    if bool((mu.abs() > mu_limit).any()):
        raise ValueError(
            f"mu must be at most {mu_limit:.4g} in size in {mu.dtype} (mu ** 2 overflows);"
            f" got {mu.abs().max().item():.4g}"
        )


# -- devices and files --------------------------------------------------------------------------


def device(value: object, name: str = "device") -> torch.device:
    """``value`` as a torch.device that exists on this machine, else a ValueError saying so."""
    try:
        dev = torch.device(value)  # type: ignore[call-overload]
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{name} must be a device such as 'cpu', 'cuda' or 'mps', got {value!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={value!r}: CUDA is not available on this machine (use 'cpu')")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={value!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    mps = getattr(torch.backends, "mps", None)
    if dev.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError(f"{name}={value!r}: Apple's MPS is not available on this machine (use 'cpu')")
    return dev


def writable_path(path: object, name: str = "path") -> Path:
    """``path`` as a Path whose folder exists (or can be made) and accepts new files.

    Checked before long work (training) so that the result is not lost at the end. Creates
    the missing folders, writes nothing else.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    p = Path(path).expanduser()
    if p.is_dir():
        raise ValueError(f"{name}: {p} is a folder; give a file name")
    folder = p.parent
    existing = next(a for a in (folder, *folder.parents) if a.exists() or a == a.parent)
    if existing.exists() and not existing.is_dir():
        raise ValueError(f"{name}: {existing} is a file, not a folder, so {p} cannot be written")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{name}: cannot create the folder {folder} ({err.strerror or err})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {folder} is not writable")
    return p


def logits_and_pixels(logits: object, x: object, likelihood: str) -> None:
    """The arguments of ``reconstruction_loss``: float tensors of one shape, x in [0, 1]."""
    choice(likelihood, "likelihood", ("bernoulli", "gaussian"))
    _float_tensor(logits, "logits", "[..., D]")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of pixels in [0, 1], got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(
            f"x must be a float tensor of pixels in [0, 1], got dtype {x.dtype} ({TO_TENSOR_HINT})"
        )
    assert isinstance(logits, torch.Tensor)
    if logits.shape != x.shape:
        raise ValueError(
            f"logits and x must have the same shape, got logits {list(logits.shape)} and x {list(x.shape)}"
        )
    _pixel_range(x, "x")


def loss_options(output: object, beta: object, free_bits: object) -> tuple[float, float]:
    """The arguments of ``vae_loss``: a model output, beta >= 0 and free_bits >= 0 (floats)."""
    if not hasattr(output, "logits") or (hasattr(output, "mu") and not hasattr(output, "logvar")):
        raise TypeError(
            f"output must be what a vae_lib model's forward returns (a VAEOutput with"
            f" logits, mu, logvar, z or an AEOutput with logits, z), got {type(output).__name__}"
        )
    return finite_number(beta, "beta", minimum=0), finite_number(free_bits, "free_bits", minimum=0)
