"""Working in the latent space (lessons 14-1, 14-3 and 14-6): encode a data set,
interpolate between codes, and lay out a grid of latent points."""

from __future__ import annotations

import math

import torch

from . import validation
from .data import as_images
from .models import LatentModel, evaluating


@torch.no_grad()
def encode_dataset(model: LatentModel, images, *, batch_size: int = 2000, return_logvar: bool = False):
    """Codes of ``images``: the means mu of q(z|x) for a VAE, the points z for an autoencoder.

    With ``return_logvar=True`` (VAE only) returns ``(mu, logvar)``. Tensors on the CPU, [N, d].
    """
    if not isinstance(model, LatentModel):
        raise TypeError(f"model must be a vae_lib VAE or Autoencoder, got {type(model).__name__}")
    if return_logvar and not model.variational:
        raise ValueError("return_logvar=True needs a VAE: an autoencoder has no variance")
    batch_size = validation.positive_int(batch_size, "batch_size")
    device = model.device
    x = as_images(images, model.input_dim, "images")
    mus, logvars = [], []
    with evaluating(model):
        for xb in x.split(batch_size):
            code = model.encode(xb.to(device))
            if model.variational:
                mus.append(code[0].cpu())
                logvars.append(code[1].cpu())
            else:
                mus.append(code.cpu())
    mu = torch.cat(mus)
    return (mu, torch.cat(logvars)) if return_logvar else mu


def _as_vector(z, name: str) -> torch.Tensor:
    try:
        z = torch.as_tensor(z, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be one latent vector of shape [d], got {type(z).__name__}") from err
    if z.dim() == 2 and z.shape[0] == 1:
        z = z[0]
    if z.dim() != 1 or len(z) == 0:
        raise ValueError(f"{name} must be one latent vector of shape [d] (or [1, d]), got {list(z.shape)}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{name} must be finite")
    return z


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016), t [T] -> points [T, d].

    The unit directions u0, u1 move along the great circle between them,

        u(t) = sin((1 - t) w) / sin(w) * u0 + sin(t w) / sin(w) * u1,   cos w = u0 . u1,

    and the norm moves linearly from ``|z0|`` to ``|z1|``. For endpoints of equal norm this is the
    textbook formula applied to z0 and z1 themselves; for unequal norms the textbook formula's
    weights 1 / sin(w) blow the norm up as w -> 180 degrees, which this form avoids.
    Nearly parallel endpoints (sin w ~ 0) fall back to linear interpolation; nearly opposite
    ones turn through a direction orthogonal to z0 (any great circle is a shortest path then).
    ``z0``, ``z1``: latent vectors [d] (finite); ``t``: a tensor (or list) of fractions [T].
    """
    z0, z1, t = _slerp_arguments(z0, z1, t)
    dtype = z0.dtype
    z0, z1, t = z0.double(), z1.double(), t.double()[:, None]  # near 180 degrees float32 loses digits
    n0, n1 = z0.norm(), z1.norm()
    if n0 < 1e-12 or n1 < 1e-12:
        return ((1 - t) * z0 + t * z1).to(dtype)
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos(torch.clamp(u0 @ u1, -1.0, 1.0))
    if omega < 1e-4:  # parallel: slerp and lerp coincide
        return ((1 - t) * z0 + t * z1).to(dtype)
    norm = (1 - t) * n0 + t * n1
    if math.pi - omega < 1e-4:  # opposite: no unique great circle
        if len(z0) == 1:  # 1-D: only the line exists
            return ((1 - t) * z0 + t * z1).to(dtype)
        e = torch.zeros_like(z0)
        e[int(torch.argmin(u0.abs()))] = 1.0
        v = e - (e @ u0) * u0
        v = v / v.norm()
        angle = t * math.pi
        return (norm * (torch.cos(angle) * u0 + torch.sin(angle) * v)).to(dtype)
    s = torch.sin(omega)
    direction = torch.sin((1 - t) * omega) / s * u0 + torch.sin(t * omega) / s * u1
    return (norm * direction).to(dtype)


def _slerp_arguments(z0, z1, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """slerp's checks: two finite vectors of one length, t a finite 1-D tensor."""
    z0 = (
        z0
        if isinstance(z0, torch.Tensor) and z0.dim() == 1 and z0.is_floating_point()
        else _as_vector(z0, "z0")
    )
    z1 = (
        z1
        if isinstance(z1, torch.Tensor) and z1.dim() == 1 and z1.is_floating_point()
        else _as_vector(z1, "z1")
    )
    for name, v in (("z0", z0), ("z1", z1)):
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} must be finite; got inf or NaN values")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {list(z0.shape)} and {list(z1.shape)}")
    t = torch.as_tensor(t, dtype=torch.float64) if not isinstance(t, torch.Tensor) else t
    if t.dim() != 1 or not bool(torch.isfinite(t).all()):
        raise ValueError(f"t must be a finite 1-D tensor of fractions [T], got shape {list(t.shape)}")
    return z0, z1, t


def interpolate(z0, z1, steps: int = 10, method: str = "linear") -> torch.Tensor:
    """``steps`` points from z0 to z1 inclusive, shape [steps, d].

    method="linear": (1 - t) z0 + t z1, which cuts through the low-norm middle of a
    high-dimensional Gaussian; method="slerp": along the great circle (see :func:`slerp`).
    """
    validation.choice(method, "method", ("linear", "slerp"))
    validation.positive_int(steps, "steps", minimum=2)
    z0, z1 = _as_vector(z0, "z0"), _as_vector(z1, "z1")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {list(z0.shape)} and {list(z1.shape)}")
    t = torch.linspace(0, 1, steps)
    if method == "linear":
        return (1 - t[:, None]) * z0 + t[:, None] * z1
    out = slerp(z0, z1, t)
    out[0], out[-1] = z0, z1  # exact endpoints
    return out


def latent_grid(
    n: int = 15, *, low: float = 0.05, high: float = 0.95, latent_dim: int = 2, dims: tuple[int, int] = (0, 1)
) -> torch.Tensor:
    """An n x n grid of latent points through the inverse Gaussian CDF, shape [n * n, latent_dim].

    Quantiles from ``low`` to ``high`` are mapped to z = Phi^{-1}(p) (Kingma & Welling, 2013,
    figure 4), so each cell holds equal prior probability. Rows run from high z2 (top) to low
    z2, columns from low z1 (left) to high z1, ready for ``plots.image_grid``; other latent
    dimensions are 0.
    """
    validation.positive_int(n, "n", minimum=2)
    validation.positive_int(latent_dim, "latent_dim", minimum=2)
    low, high = validation.finite_number(low, "low"), validation.finite_number(high, "high")
    if not 0 < low < high < 1:
        raise ValueError(f"low and high must satisfy 0 < low < high < 1, got low={low!r}, high={high!r}")
    if not (
        isinstance(dims, (tuple, list))
        and len(dims) == 2
        and dims[0] != dims[1]
        and all(isinstance(d_, int) and not isinstance(d_, bool) and 0 <= d_ < latent_dim for d_ in dims)
    ):
        raise ValueError(f"dims must be two different indices below latent_dim={latent_dim}, got {dims!r}")
    q = torch.special.ndtri(torch.linspace(low, high, n, dtype=torch.float64)).float()
    z = torch.zeros(n, n, latent_dim)
    z[:, :, dims[0]] = q[None, :]
    z[:, :, dims[1]] = q.flip(0)[:, None]
    return z.reshape(n * n, latent_dim)
