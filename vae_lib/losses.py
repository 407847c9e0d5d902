"""The VAE loss: reconstruction + beta * KL (lessons 14-3 and 14-4).

One convention, used everywhere in this package and the book:

    sum over pixels and over latent dimensions, mean over the batch, in nats.

``reconstruction_loss`` and ``kl_divergence`` return one value per example;
``vae_loss`` averages them over the batch, and ``total == reconstruction + beta * kl``
exactly, so logged terms add up to the total. The negative ELBO is the total at beta = 1.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from . import validation

LOG_2PI = math.log(2 * math.pi)  # the constant of every Gaussian log-density


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per example, in nats (derived in lesson 14-4):

        KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1),   sigma_j^2 = exp(logvar_j)

    ``mu`` and ``logvar`` have shape [..., d]; the result has shape [...]. It is 0 exactly
    when mu = 0 and logvar = 0 in every dimension, and positive otherwise. Finite inputs only,
    with logvar <= 88.7 in float32 (11.1 in float16), where exp(logvar) is still finite.
    """
    validation.mu_logvar(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=-1)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, likelihood: str = "bernoulli") -> torch.Tensor:
    """-log p(x|z) per example, summed over pixels, in nats (lesson 14-3):

        bernoulli:  sum_i [softplus(l_i) - x_i * l_i]            (binary cross-entropy)
        gaussian:   sum_i [(x_i - sigmoid(l_i))^2 / 2 + log(2 pi) / 2]

    ``logits`` l and pixels ``x`` in [0, 1] have the same shape [..., D]; the result is [...].
    The Bernoulli form is computed stably from the logits; the Gaussian has unit variance.
    """
    validation.logits_and_pixels(logits, x, likelihood)
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)
    return 0.5 * ((x - torch.sigmoid(logits)).pow(2) + LOG_2PI).sum(dim=-1)


class _Terms(NamedTuple):
    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


class LossTerms(_Terms):
    """Batch means in nats; ``total == reconstruction + beta * kl``.

    ``objective`` (not a tuple field, so ``total, rec, kl = terms`` still unpacks) is what
    training minimises: ``total`` itself, or with free bits ``reconstruction + beta * kl_fb``.
    """

    objective: torch.Tensor

    def __new__(
        cls,
        total: torch.Tensor,
        reconstruction: torch.Tensor,
        kl: torch.Tensor,
        objective: torch.Tensor | None = None,
    ) -> LossTerms:
        self = super().__new__(cls, total, reconstruction, kl)
        self.objective = total if objective is None else objective
        return self

    def __getattr__(self, name: str) -> Any:  # a copy made by _replace/_make has no objective
        if name == "objective":
            return self.total
        raise AttributeError(name)


def vae_loss(
    output: Any, x: torch.Tensor, beta: float = 1.0, likelihood: str = "bernoulli", free_bits: float = 0.0
) -> LossTerms:
    """The beta-VAE loss of a batch (Higgins et al., 2017; lessons 14-3 and 14-7):

        total = mean_n reconstruction_loss(x_n) + beta * mean_n KL_n      (beta = 1: -ELBO)

    ``output`` is what a model's ``forward`` returns: a ``VAEOutput`` (logits, mu, logvar, z),
    or an ``AEOutput`` (logits, z), whose KL is 0. With ``free_bits`` = lambda > 0 nats per
    latent dimension (Kingma et al., 2016), training minimises instead

        objective = reconstruction + beta * sum_j max(KL_j, lambda),   KL_j = mean_n KL_nj,

    so no dimension is pushed below lambda nats; ``kl`` and ``total`` stay the true values.
    """
    beta, free_bits = validation.loss_options(output, beta, free_bits)
    rec = reconstruction_loss(output.logits, x, likelihood).mean()
    if not hasattr(output, "mu"):  # an autoencoder: no q(z|x), no KL
        zero = torch.zeros((), dtype=rec.dtype, device=rec.device)
        return LossTerms(rec, rec, zero)
    if free_bits == 0:
        kl = kl_divergence(output.mu, output.logvar).mean()
        return LossTerms(rec + beta * kl, rec, kl)
    kl_j = kl_divergence(output.mu.unsqueeze(-1), output.logvar.unsqueeze(-1)).mean(0)  # [d]
    kl = kl_j.sum()
    return LossTerms(rec + beta * kl, rec, kl, objective=rec + beta * kl_j.clamp(min=free_bits).sum())


def __getattr__(name: str) -> object:
    if name == "_kl":
        warnings.warn(
            "vae_lib.losses._kl is deprecated: use vae_lib.kl_divergence", DeprecationWarning, stacklevel=2
        )
        return kl_divergence
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
