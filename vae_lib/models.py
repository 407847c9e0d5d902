"""Autoencoder and variational autoencoder (VAE) as small MLPs.

Lesson 14-1 trains the :class:`Autoencoder`: one point ``z = f(x)`` per input.
Lesson 14-3 trains the :class:`VAE`: the encoder outputs a Gaussian region
``q(z|x) = N(mu, diag(sigma^2))`` as two vectors ``mu`` and ``logvar = log sigma^2``;
training decodes a sample ``z = mu + sigma * eps`` (lesson 14-5), generation decodes
``z ~ N(0, I)``.

The decoder outputs *logits*: with ``likelihood="bernoulli"`` each pixel is a Bernoulli
with probability ``sigmoid(logit)``; with ``likelihood="gaussian"`` the decoder output
passed through a sigmoid is the mean of a unit-variance Gaussian.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, NamedTuple, Sequence

import torch
from torch import nn

from .reparam import _reparameterize

IMAGE_DIM = 28 * 28
LIKELIHOODS = ("bernoulli", "gaussian")


def _check_config(latent_dim: int, hidden: Sequence[int], input_dim: int) -> tuple[int, ...]:
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim <= 0:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    if isinstance(input_dim, bool) or not isinstance(input_dim, int) or input_dim <= 0:
        raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
    try:
        hidden = tuple(hidden)
    except TypeError:
        raise ValueError(f"hidden must be a sequence of positive integers, got {hidden!r}") from None
    if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
        raise ValueError(f"hidden must be a sequence of positive integers, got {hidden!r}")
    return hidden


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def check_images(x: torch.Tensor, input_dim: int = IMAGE_DIM, name: str = "x") -> None:
    """Raise a clear error unless ``x`` is a float tensor of shape [N, input_dim] in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [N, {input_dim}], got {type(x).__name__}"
                        " (use vae_lib.to_tensor(images) to convert uint8 images)")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}"
                         " (use vae_lib.to_tensor(images) to convert uint8 images)")
    if x.dim() != 2 or x.shape[1] != input_dim:
        raise ValueError(f"{name} must have shape [N, {input_dim}], got {list(x.shape)}"
                         " (use vae_lib.to_tensor(images) to flatten 28x28 images)")


class Encoder(nn.Module):
    """x [N, D] -> ``out_dim`` features per input through an MLP with ReLU hidden layers."""

    def __init__(self, input_dim: int, hidden: Sequence[int], out_dim: int):
        super().__init__()
        self.net = mlp([input_dim, *hidden, out_dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """z [N, d] -> logits [N, D] through an MLP (hidden sizes in reverse order)."""

    def __init__(self, latent_dim: int, hidden: Sequence[int], output_dim: int):
        super().__init__()
        self.net = mlp([latent_dim, *reversed(tuple(hidden)), output_dim])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class _LatentModel(nn.Module):
    """What the autoencoder and the VAE share: configuration, decoding, checks."""

    kind = "base"

    def __init__(self, latent_dim: int, hidden: Sequence[int], likelihood: str, input_dim: int):
        super().__init__()
        self.hidden = _check_config(latent_dim, hidden, input_dim)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.input_dim = input_dim
        self.decoder = Decoder(latent_dim, self.hidden, input_dim)

    @property
    def config(self) -> dict:
        """Everything needed to rebuild the model (saved in checkpoints)."""
        return {"kind": self.kind, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "likelihood": self.likelihood, "input_dim": self.input_dim}

    def _check_z(self, z: torch.Tensor) -> None:
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.latent_dim:
            got = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor of shape [N, {self.latent_dim}], got {got}")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, latent_dim] -> logits [N, D]; ``torch.sigmoid(logits)`` is the image."""
        self._check_z(z)
        return self.decoder(z)

    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, latent_dim] -> pixel means in [0, 1], shape [N, D] (no gradient)."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(z))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws from the prior z ~ N(0, I); returns pixel means [n, D] in [0, 1]."""
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator,
                        device=generator.device if generator is not None else device).to(device)
        return self.decode_images(z)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, likelihood={self.likelihood!r}"


class Autoencoder(_LatentModel):
    """A plain autoencoder (lesson 14-1): ``z = encoder(x)``, one point per input."""

    kind = "autoencoder"

    def __init__(self, latent_dim: int = 2, hidden: Sequence[int] = (512,),
                 likelihood: str = "bernoulli", input_dim: int = IMAGE_DIM):
        super().__init__(latent_dim, hidden, likelihood, input_dim)
        self.encoder = Encoder(input_dim, self.hidden, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, D] in [0, 1] -> z [N, latent_dim]."""
        check_images(x, self.input_dim)
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> "AEOutput":
        z = self.encode(x)
        return AEOutput(self.decoder(z), z)


class AEOutput(NamedTuple):
    logits: torch.Tensor  # [N, D]
    z: torch.Tensor       # [N, d]


class VAEOutput(NamedTuple):
    logits: torch.Tensor  # [N, D] decoder output for the sampled z
    mu: torch.Tensor      # [N, d] mean of q(z|x)
    logvar: torch.Tensor  # [N, d] log sigma^2 of q(z|x)
    z: torch.Tensor       # [N, d] the sample z = mu + sigma * eps


class VAE(_LatentModel):
    """A variational autoencoder (Kingma & Welling, 2013; lesson 14-3).

    ``encode(x)`` returns ``(mu, logvar)`` of q(z|x) = N(mu, diag(exp(logvar))): one
    linear head on the encoder's features gives both, split in half. The log variance
    is unconstrained, whereas sigma^2 > 0 would need a constraint.
    """

    kind = "vae"

    def __init__(self, latent_dim: int = 2, hidden: Sequence[int] = (512,),
                 likelihood: str = "bernoulli", input_dim: int = IMAGE_DIM):
        super().__init__(latent_dim, hidden, likelihood, input_dim)
        self.encoder = Encoder(input_dim, self.hidden, 2 * latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, D] in [0, 1] -> (mu, logvar), each [N, latent_dim]."""
        check_images(x, self.input_dim)
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, sample z = mu + sigma * eps, decode: everything the loss needs."""
        mu, logvar = self.encode(x)
        z = _reparameterize(mu, logvar, generator)  # vae_lib.reparameterize without its checks
        return VAEOutput(self.decoder(z), mu, logvar, z)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for a ``with`` block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


MODELS = {"autoencoder": Autoencoder, "vae": VAE}


def build_model(config: dict) -> _LatentModel:
    """Rebuild a model from its ``config`` (as saved by :func:`vae_lib.save`)."""
    kind = config.get("kind")
    if kind not in MODELS:
        raise ValueError(f"config['kind'] must be one of {tuple(MODELS)}, got {kind!r}")
    return MODELS[kind](latent_dim=int(config["latent_dim"]), hidden=tuple(int(h) for h in config["hidden"]),
                        likelihood=config.get("likelihood", "bernoulli"),
                        input_dim=int(config.get("input_dim", IMAGE_DIM)))
