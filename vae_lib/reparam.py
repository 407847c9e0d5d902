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

from . import validation


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) differentiably (lesson 14-5):

        z = mu + sigma * eps,   sigma = exp(logvar / 2),   eps ~ N(0, I)

    ``mu``, ``logvar`` [..., d] (finite; logvar <= 88.7 in float32, see ``vae_lib.validation``);
    ``generator`` (a ``torch.Generator`` on mu's device) makes the noise repeatable.
    """
    validation.mu_logvar(mu, logvar)
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps


def check_mu_logvar(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Kept for other modules: the same as :func:`vae_lib.validation.mu_logvar`."""
    validation.mu_logvar(mu, logvar)


def __getattr__(name: str) -> object:
    if name == "_reparameterize":
        import warnings

        warnings.warn(
            "vae_lib.reparam._reparameterize is deprecated: use vae_lib.reparameterize",
            DeprecationWarning,
            stacklevel=2,
        )
        return reparameterize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
