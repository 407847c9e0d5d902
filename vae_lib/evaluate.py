"""How good is a trained VAE? The ELBO and an importance-weighted estimate of log p(x).

For each image, with q(z|x) = N(mu, diag sigma^2) from the encoder (lesson 14-2):

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

and the importance-weighted bound of Burda et al. (2015) with k samples z_i ~ q(z|x),

    log p(x) ~= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),

which is exact as k -> infinity, equals the ELBO in expectation at k = 1 and grows with k.
Both are in nats per image; the negative ELBO is the loss of ``vae_loss`` at beta = 1.
"""
from __future__ import annotations

import math

import torch

from .losses import LOG_2PI, kl_divergence, reconstruction_loss
from .models import VAE, evaluating
from .train import _as_data


def _prepare(model, images, seed: int, reduction: str) -> tuple[torch.Tensor, torch.Generator]:
    """Check the arguments both estimates share; the images on the model's device and a seeded generator."""
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a vae_lib.VAE (the ELBO needs q(z|x)), got {type(model).__name__}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    device = next(model.parameters()).device
    x = _as_data(images, "images").to(device)
    return x, torch.Generator(device=device).manual_seed(seed)


def _reduce(values: list[torch.Tensor], reduction: str) -> float | torch.Tensor:
    values = torch.cat(values).cpu()
    return values.mean().item() if reduction == "mean" else values


@torch.no_grad()
def elbo(model: VAE, images, *, samples: int = 1, batch_size: int = 1000, seed: int = 0,
         reduction: str = "mean") -> float | torch.Tensor:
    """ELBO in nats: the mean over images (``reduction="mean"``) or one per image ("none").

    The KL term is exact; E_q[log p(x|z)] is averaged over ``samples`` draws of z, decoded
    together (``batch_size`` decoded images at a time).
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples <= 0:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    x, gen = _prepare(model, images, seed, reduction)
    out = []
    with evaluating(model):
        for xb in x.split(max(1, batch_size // samples)):  # batch_size decoded images at a time
            mu, logvar = model.encode(xb)
            z = mu + (0.5 * logvar).exp() * torch.randn(samples, *mu.shape, generator=gen, device=x.device)
            logits = model.decoder(z.reshape(-1, model.latent_dim)).reshape(samples, len(xb), -1)
            rec = reconstruction_loss(logits, xb.expand(samples, -1, -1), model.likelihood).mean(0)
            out.append(-rec - kl_divergence(mu, logvar))
    return _reduce(out, reduction)


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


@torch.no_grad()
def log_likelihood(model: VAE, images, k: int = 1000, *, seed: int = 0, reduction: str = "mean",
                   max_elements: int = 2**23) -> float | torch.Tensor:
    """Importance-weighted estimate of log p(x) in nats with ``k`` samples per image.

    Computed with log-sum-exp for stability, in chunks of at most ``max_elements`` decoded
    pixels so that memory stays bounded for any k (up to 5000 is fine on a laptop).
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100_000:
        raise ValueError(f"k must be an integer between 1 and 100000, got {k!r}")
    x, gen = _prepare(model, images, seed, reduction)
    d = model.latent_dim
    n_img = max(1, min(len(x), max_elements // (k * x.shape[1]) or 1))  # images per chunk
    k_chunk = max(1, min(k, max_elements // (n_img * x.shape[1])))      # samples per chunk
    out = []
    with evaluating(model):
        for xb in x.split(n_img):
            mu, logvar = model.encode(xb)
            sigma = (0.5 * logvar).exp()
            eps_all = torch.randn(k, *mu.shape, generator=gen, device=x.device)  # drawn once: chunking can't change it
            log_w = []
            for start in range(0, k, k_chunk):
                kc = min(k_chunk, k - start)
                z = mu + sigma * eps_all[start:start + kc]               # [kc, b, d]
                logits = model.decoder(z.reshape(-1, d)).reshape(kc, len(xb), -1)
                log_px_z = -reconstruction_loss(logits, xb.expand(kc, -1, -1), model.likelihood)
                log_pz = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)
                log_qz = _log_normal(z, mu, logvar)
                log_w.append(log_px_z + log_pz - log_qz)                 # [kc, b]
            out.append(torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k))
    return _reduce(out, reduction)
