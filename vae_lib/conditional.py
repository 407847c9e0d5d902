"""A conditional VAE: the digit label enters the encoder and the decoder (lesson 14-8).

Kingma et al. (2014, model M2 with the label observed) and Sohn et al. (2015): with a label
y the model is p(x|z, y) p(z), the encoder q(z|x, y), and the ELBO

    log p(x|y) >= E_q[log p(x|z, y)] - KL(q(z|x, y) || N(0, I)).

Because the decoder is told the digit, z is free to hold what the label does not say: the
*style* (slant, thickness, width). ``decode(z, labels)`` with one z and every label writes the
same style as ten different digits. The loss is ``vae_lib.vae_loss`` unchanged (same
convention: sum over pixels and latent dimensions, mean over the batch, in nats), and
:func:`fit_conditional` is :func:`vae_lib.fit` with labels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import check_labels
from .losses import kl_divergence, reconstruction_loss, vae_loss
from .models import IMAGE_DIM, VAEOutput, _check_config, check_images, evaluating, mlp
from .reparam import reparameterize

N_CLASSES = 10


class ConditionalVAE(nn.Module):
    """A VAE whose encoder and decoder also see the digit (one-hot, concatenated to the input).

    ``encode(x, labels) -> (mu, logvar)``, ``decode(z, labels) -> logits``,
    ``decode_images(z, labels) -> pixels in [0, 1]``, ``forward(x, labels) -> VAEOutput``,
    ``sample(n, labels)``: the same methods as :class:`vae_lib.VAE`, each with ``labels``,
    int64 digits [N].
    """

    kind = "conditional-vae"

    def __init__(self, latent_dim: int = 2, hidden: Sequence[int] = (512, 256), input_dim: int = IMAGE_DIM):
        super().__init__()
        self.hidden = _check_config(latent_dim, hidden, input_dim)
        self.latent_dim = latent_dim
        self.input_dim = input_dim
        self.likelihood = "bernoulli"
        self.encoder = mlp([input_dim + N_CLASSES, *self.hidden, 2 * latent_dim])
        self.decoder = mlp([latent_dim + N_CLASSES, *reversed(self.hidden), input_dim])

    @property
    def config(self) -> dict:
        """Everything needed to rebuild the model (saved in checkpoints)."""
        return {
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "hidden": list(self.hidden),
            "input_dim": self.input_dim,
        }

    def _one_hot(self, labels, n: int) -> torch.Tensor:
        labels = check_labels(labels, n)
        return F.one_hot(labels.to(next(self.parameters()).device), N_CLASSES).float()

    def encode(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, D] in [0, 1] and labels [N] -> (mu, logvar) of q(z|x, y), each [N, latent_dim]."""
        check_images(x, self.input_dim)
        mu, logvar = self.encoder(torch.cat([x, self._one_hot(labels, len(x))], dim=1)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """z [N, latent_dim] and labels [N] -> logits [N, D]; ``torch.sigmoid(logits)`` is the image."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.latent_dim:
            got = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor of shape [N, {self.latent_dim}], got {got}")
        return self.decoder(torch.cat([z, self._one_hot(labels, len(z))], dim=1))

    def decode_images(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """z [N, latent_dim] and labels [N] -> pixel means in [0, 1], shape [N, D] (no gradient)."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(z, labels))

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> VAEOutput:
        """Encode, sample z = mu + sigma * eps, decode with the same labels: what ``vae_loss`` needs."""
        mu, logvar = self.encode(x, labels)
        z = reparameterize(mu, logvar, generator)
        return VAEOutput(self.decode(z, labels), mu, logvar, z)

    def sample(self, n: int, labels, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws z ~ N(0, I) with the given digits; pixel means [n, D] in [0, 1].

        ``labels`` is an int (the same digit for all) or int64 digits [n].
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if isinstance(labels, int) and not isinstance(labels, bool):
            labels = torch.full((n,), labels, dtype=torch.long)
        labels = check_labels(labels, n)
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.decode_images(z.to(next(self.parameters()).device), labels)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, classes={N_CLASSES}"


def fit_conditional(
    model: ConditionalVAE,
    images: torch.Tensor,
    labels,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Train ``model`` with Adam on ``vae_loss`` (beta-VAE, beta = 1 is the negative ELBO).

    As :func:`vae_lib.fit`, with the labels passed to the model: batches from a permutation
    drawn with ``seed``, the noise from a generator seeded with ``seed + 1``. Returns the
    mean training loss of each epoch (nats); the model ends in eval mode.
    """
    if not isinstance(model, ConditionalVAE):
        raise TypeError(f"model must be a vae_lib.ConditionalVAE, got {type(model).__name__}")
    check_images(images, model.input_dim, name="images")
    labels = check_labels(labels, len(images))
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    perm_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(images), generator=perm_gen).split(batch_size):
            xb, yb = images[idx], labels[idx]
            terms = vae_loss(model(xb, yb, generator=noise_gen), xb, beta)
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            optimizer.step()
            total += terms.total.item() * len(idx)
        losses.append(total / len(images))
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"the loss became {losses[-1]} at epoch {epoch + 1}: try a smaller lr")
        if progress:
            print(
                f"cvae epoch {epoch + 1}/{epochs}: loss {losses[-1]:.3f}"
                f" ({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
    model.eval()
    return losses


@torch.no_grad()
def conditional_elbo(
    model: ConditionalVAE,
    images: torch.Tensor,
    labels,
    *,
    samples: int = 1,
    seed: int = 0,
    batch_size: int = 1000,
) -> float:
    """Mean ELBO of log p(x|y) in nats over ``images`` (exact KL, ``samples`` draws of z each)."""
    check_images(images, model.input_dim, name="images")
    labels = check_labels(labels, len(images))
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    with evaluating(model):
        for xb, yb in zip(images.split(batch_size), labels.split(batch_size)):
            mu, logvar = model.encode(xb, yb)
            rec: torch.Tensor | float = 0.0
            for _ in range(samples):
                z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen)
                rec = rec + reconstruction_loss(model.decode(z, yb), xb)
            total += (-rec / samples - kl_divergence(mu, logvar)).sum().item()
    return total / len(images)
