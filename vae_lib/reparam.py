"""The reparameterization trick (lesson 14-5).

Sampling ``z ~ N(mu, sigma^2)`` directly has no gradient with respect to ``mu`` and
``sigma``. Writing the sample as a deterministic function of the parameters and of
parameter-free noise,

    z = mu + sigma * eps,   eps ~ N(0, I),   sigma = exp(logvar / 2),

moves the randomness out of the way, so ``dz/dmu = 1`` and ``dz/dlogvar = sigma * eps / 2``
(Kingma & Welling, 2013; Rezende et al., 2014).
"""
from __future__ import annotations

import torch


def check_mu_logvar(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Raise a clear error unless ``mu`` and ``logvar`` are float tensors of one shape, logvar finite."""
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise ValueError(f"{name} must be a float tensor, got dtype {t.dtype}")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got mu {list(mu.shape)}"
                         f" and logvar {list(logvar.shape)}")
    if not bool(torch.isfinite(logvar).all()):
        raise ValueError("logvar must be finite (log sigma^2); got inf or NaN values")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) as ``mu + exp(0.5 * logvar) * eps``, differentiably.

    ``generator`` (a ``torch.Generator`` on mu's device) makes the noise repeatable.
    """
    check_mu_logvar(mu, logvar)
    return _reparameterize(mu, logvar, generator)


def _reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    # The formula without the input checks, for the model's forward pass: the checks
    # synchronise with the device, and a diverging run is caught by ``fit``'s loss check.
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps
