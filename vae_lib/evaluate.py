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

from . import validation
from .data import as_images
from .losses import LOG_2PI, kl_divergence, reconstruction_loss
from .models import LatentModel, evaluating


def _prepare(model, images, seed: int, reduction: str) -> tuple[torch.Tensor, torch.Generator]:
    """Check the arguments both estimates share; the images on the model's device and a seeded generator."""
    if not (isinstance(model, LatentModel) and model.variational):
        raise TypeError(f"model must be a vae_lib.VAE (the ELBO needs q(z|x)), got {type(model).__name__}")
    validation.choice(reduction, "reduction", ("mean", "none"))
    validation.positive_int(seed, "seed", minimum=0)
    x = as_images(images, model.input_dim, "images").to(model.device)
    return x, torch.Generator(device=model.device).manual_seed(seed)


def _reduce(values: list[torch.Tensor], reduction: str) -> float | torch.Tensor:
    out = torch.cat(values).cpu()
    return out.mean().item() if reduction == "mean" else out


def _chunks(n_images: int, samples: int, pixels: int, max_elements: int) -> tuple[int, int]:
    """(images, samples) per chunk so that one chunk decodes at most ``max_elements`` pixels."""
    n_img = max(1, min(n_images, max_elements // (samples * pixels)))
    return n_img, max(1, min(samples, max_elements // (n_img * pixels)))


@torch.no_grad()
def elbo(
    model: LatentModel,
    images,
    *,
    samples: int = 1,
    batch_size: int = 1000,
    seed: int = 0,
    reduction: str = "mean",
    max_elements: int = 2**23,
) -> float | torch.Tensor:
    """ELBO in nats (lesson 14-2): the mean over images (``reduction="mean"``) or one per image:

        ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z)),   z_s = mu + sigma * eps_s

    The KL term is exact; E_q[log p(x|z)] is averaged over ``samples`` draws of z. Memory is
    bounded like :func:`log_likelihood`: at most ``max_elements`` decoded pixels at a time
    (and ``batch_size`` decoded images, as before).
    """
    samples = validation.positive_int(samples, "samples", maximum=1_000_000)
    batch_size = validation.positive_int(batch_size, "batch_size")
    x, gen = _prepare(model, images, seed, reduction)
    n_img, s_chunk = _chunks(min(len(x), max(1, batch_size // samples)), samples, x.shape[1], max_elements)
    out = []
    with evaluating(model):
        for xb in x.split(n_img):
            mu, logvar = model.encode(xb)
            sigma = (0.5 * logvar).exp()
            eps_all = torch.randn(
                samples, *mu.shape, generator=gen, device=x.device
            )  # chunking can't change it
            rec = torch.zeros(len(xb), dtype=torch.float64, device=x.device)
            for start in range(0, samples, s_chunk):
                z = mu + sigma * eps_all[start : start + s_chunk]  # [s, b, d]
                logits = model.decoder(z.reshape(-1, model.latent_dim)).reshape(len(z), len(xb), -1)
                rec += (
                    reconstruction_loss(logits, xb.expand(len(z), -1, -1), model.likelihood).double().sum(0)
                )
            out.append((-rec / samples).to(mu.dtype) - kl_divergence(mu, logvar))
    return _reduce(out, reduction)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension (lesson 14-2):

    log q(z) = -1/2 * sum_j [log(2 pi) + logvar_j + (z_j - mu_j)^2 / exp(logvar_j)]
    """
    validation.mu_logvar(mu, logvar)
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


_log_normal = log_normal  # the old private name


@torch.no_grad()
def log_likelihood(
    model: LatentModel,
    images,
    k: int = 1000,
    *,
    seed: int = 0,
    reduction: str = "mean",
    max_elements: int = 2**23,
) -> float | torch.Tensor:
    """Importance-weighted estimate of log p(x) in nats with ``k`` samples per image
    (Burda et al., 2015; lesson 14-2):

        log p(x) ~= log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x)

    Computed with log-sum-exp for stability, in chunks of at most ``max_elements`` decoded
    pixels so that memory stays bounded for any k (up to 5000 is fine on a laptop).
    """
    k = validation.positive_int(k, "k", maximum=100_000)
    x, gen = _prepare(model, images, seed, reduction)
    d = model.latent_dim
    n_img, k_chunk = _chunks(len(x), k, x.shape[1], max_elements)
    out = []
    with evaluating(model):
        for xb in x.split(n_img):
            mu, logvar = model.encode(xb)
            sigma = (0.5 * logvar).exp()
            eps_all = torch.randn(
                k, *mu.shape, generator=gen, device=x.device
            )  # drawn once: chunking can't change it
            log_w = []
            for start in range(0, k, k_chunk):
                kc = min(k_chunk, k - start)
                z = mu + sigma * eps_all[start : start + kc]  # [kc, b, d]
                logits = model.decoder(z.reshape(-1, d)).reshape(kc, len(xb), -1)
                log_px_z = -reconstruction_loss(logits, xb.expand(kc, -1, -1), model.likelihood)
                log_pz = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)
                log_qz = log_normal(z, mu.expand_as(z), logvar.expand_as(z))
                log_w.append(log_px_z + log_pz - log_qz)  # [kc, b]
            out.append(torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k))
    return _reduce(out, reduction)
