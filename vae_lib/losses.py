"""The VAE loss: reconstruction + beta * KL (lessons 14-3 and 14-4).

One convention, used everywhere in this package and the book:

    sum over pixels and over latent dimensions, mean over the batch, in nats.

``reconstruction_loss`` and ``kl_divergence`` return one value per example;
``vae_loss`` averages them over the batch, and ``total == reconstruction + beta * kl``
exactly, so logged terms add up to the total. The negative ELBO is the total at beta = 1.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .reparam import check_mu_logvar

LOG_2PI = math.log(2 * math.pi)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per example, in nats (derived in lesson 14-4).

        KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)

    ``mu`` and ``logvar`` (= log sigma^2) have shape [..., d]; the result has shape [...].
    It is 0 exactly when mu = 0 and logvar = 0 in every dimension, and positive otherwise.
    """
    check_mu_logvar(mu, logvar)
    return _kl(mu, logvar)


def _kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    # The closed form without the input checks (they synchronise; the training loop skips them).
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=-1)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor,
                        likelihood: str = "bernoulli") -> torch.Tensor:
    """-log p(x|z) per example, summed over pixels, in nats.

    bernoulli: binary cross-entropy of x in [0, 1] against ``sigmoid(logits)``
        = sum_i [softplus(l_i) - x_i * l_i]   (computed stably from the logits).
    gaussian: unit-variance Gaussian with mean ``sigmoid(logits)``
        = sum_i [(x_i - m_i)^2 / 2 + log(2 pi) / 2]   (squared error plus a constant).
    """
    if likelihood not in ("bernoulli", "gaussian"):
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
    if not isinstance(logits, torch.Tensor) or not isinstance(x, torch.Tensor):
        raise TypeError("logits and x must be torch.Tensors")
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape, got logits {list(logits.shape)}"
                         f" and x {list(x.shape)}")
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)
    mean = torch.sigmoid(logits)
    return 0.5 * ((x - mean).pow(2) + LOG_2PI).sum(dim=-1)


class LossTerms(NamedTuple):
    """Batch means in nats; ``total == reconstruction + beta * kl``."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def vae_loss(output, x: torch.Tensor, beta: float = 1.0, likelihood: str = "bernoulli") -> LossTerms:
    """The beta-VAE loss for a batch (Higgins et al., 2017); beta = 1 is the negative ELBO.

    ``output`` is what ``VAE.forward`` returns (``logits, mu, logvar, z``); an autoencoder's
    output (no ``mu``) gives kl = 0.
    """
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    rec = reconstruction_loss(output.logits, x, likelihood).mean()
    if hasattr(output, "mu"):
        kl = _kl(output.mu, output.logvar).mean()
    else:
        kl = torch.zeros((), dtype=rec.dtype, device=rec.device)
    return LossTerms(rec + beta * kl, rec, kl)
