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

import itertools
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from . import validation
from .data import IMAGE_SIZE
from .reparam import reparameterize

IMAGE_DIM = IMAGE_SIZE  # 28 * 28, defined once in vae_lib.data
LIKELIHOODS = ("bernoulli", "gaussian")


MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights: far beyond any model of the course


def check_config(latent_dim: int, hidden: Sequence[int], input_dim: int) -> tuple[int, ...]:
    """Validate a model's sizes; returns ``hidden`` as a tuple.

    Refuses a model of more than ``MAX_PARAMETERS`` weights with a clear error, before any
    memory is asked for (a huge ``hidden`` would otherwise end in the allocator's message
    or the out-of-memory killer).
    """
    validation.positive_int(latent_dim, "latent_dim")
    validation.positive_int(input_dim, "input_dim")
    widths = validation.layer_sizes(hidden, "hidden", maximum=MAX_PARAMETERS)
    sizes = [input_dim, *widths, 2 * latent_dim]
    n = 2 * sum((a + 1) * b for a, b in itertools.pairwise(sizes))  # encoder and decoder, roughly
    if n > MAX_PARAMETERS:
        raise ValueError(
            f"hidden={list(widths)}, input_dim={input_dim}: the model would have about {n:,}"
            f" weights ({4 * n / 1e9:.1f} GB), more than vae_lib builds ({MAX_PARAMETERS:,})"
        )
    return widths


_check_config = check_config  # the old private name, still used by other modules


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def check_images(x: torch.Tensor, input_dim: int = IMAGE_DIM, name: str = "x") -> None:
    """Raise a clear error unless ``x`` is a float tensor [N, input_dim] of pixels in [0, 1].

    Kept for other modules; new code calls :func:`vae_lib.validation.images`.
    """
    validation.images(x, input_dim, name)


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


class LatentModel(nn.Module):
    """What the autoencoder and the VAE share: configuration, decoding, input checks.

    The one way to tell the kinds apart is the class attribute ``variational``: True for a
    model whose ``encode`` returns ``(mu, logvar)`` of q(z|x) and whose ``forward`` returns a
    :class:`VAEOutput`, False for one whose ``encode`` returns a point ``z`` (:class:`AEOutput`).
    ``kind`` is the model's name in checkpoints (a key of :data:`vae_lib.models.MODELS`).

    Inputs: ``encode``/``forward`` take pixels as a float tensor [N, input_dim] in [0, 1]
    (``vae_lib.to_tensor`` makes one from uint8 images); another float dtype (float64 from
    ``torch.from_numpy``, float16) is cast to the model's dtype; integer dtypes, NaN, values
    outside [0, 1] and a tensor on another device are rejected with a message naming the argument.
    """

    kind: ClassVar[str] = "base"
    variational: ClassVar[bool] = False
    encoder: Encoder
    decoder: Decoder

    def __init__(self, latent_dim: int, hidden: Sequence[int], likelihood: str, input_dim: int):
        super().__init__()
        self.hidden = check_config(latent_dim, hidden, input_dim)
        validation.choice(likelihood, "likelihood", LIKELIHOODS)
        self.latent_dim = int(latent_dim)
        self.likelihood = likelihood
        self.input_dim = int(input_dim)
        self.decoder = Decoder(latent_dim, self.hidden, input_dim)

    @property
    def config(self) -> dict:
        """Everything needed to rebuild the model (saved in checkpoints)."""
        return {
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "hidden": list(self.hidden),
            "likelihood": self.likelihood,
            "input_dim": self.input_dim,
        }

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the model's parameters (inputs are cast to it)."""
        return next(self.parameters()).dtype

    def check_input(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """``x`` validated as pixels for this model, cast to its dtype (see the class docstring)."""
        p = next(self.parameters())
        return validation.images(x, self.input_dim, name, dtype=p.dtype, device=p.device)

    def encode(self, x: torch.Tensor) -> Any:
        """x [N, input_dim] -> the code: ``(mu, logvar)`` for a VAE, ``z`` for an autoencoder."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, latent_dim] -> logits [N, D]; ``torch.sigmoid(logits)`` is the image."""
        p = next(self.parameters())
        z = validation.latents(z, self.latent_dim, "z", dtype=p.dtype, device=p.device)
        return self.decoder(z)

    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, latent_dim] -> pixel means in [0, 1], shape [N, D] (no gradient)."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(z))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws from the prior z ~ N(0, I); returns pixel means [n, D] in [0, 1]."""
        validation.positive_int(n, "n")
        device = self.device
        z = torch.randn(
            n,
            self.latent_dim,
            generator=generator,
            device=generator.device if generator is not None else device,
        ).to(device)
        return self.decode_images(z)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, likelihood={self.likelihood!r}"


class Autoencoder(LatentModel):
    """A plain autoencoder (lesson 14-1): ``z = encoder(x)``, one point per input."""

    kind = "autoencoder"
    variational = False

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: Sequence[int] = (512,),
        likelihood: str = "bernoulli",
        input_dim: int = IMAGE_DIM,
    ):
        super().__init__(latent_dim, hidden, likelihood, input_dim)
        self.encoder = Encoder(input_dim, self.hidden, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, D] in [0, 1] -> z [N, latent_dim]."""
        return self.encoder(self.check_input(x))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> AEOutput:
        """Encode and decode; ``generator`` is ignored (accepted so both kinds share a call)."""
        z = self.encode(x)
        return AEOutput(self.decoder(z), z)


class AEOutput(NamedTuple):
    logits: torch.Tensor  # [N, D]
    z: torch.Tensor  # [N, d]


class VAEOutput(NamedTuple):
    logits: torch.Tensor  # [N, D] decoder output for the sampled z
    mu: torch.Tensor  # [N, d] mean of q(z|x)
    logvar: torch.Tensor  # [N, d] log sigma^2 of q(z|x)
    z: torch.Tensor  # [N, d] the sample z = mu + sigma * eps


class VAE(LatentModel):
    """A variational autoencoder (Kingma & Welling, 2013; lesson 14-3).

    ``encode(x)`` returns ``(mu, logvar)`` of q(z|x) = N(mu, diag(exp(logvar))): one
    linear head on the encoder's features gives both, split in half. The log variance
    is unconstrained, whereas sigma^2 > 0 would need a constraint.
    """

    kind = "vae"
    variational = True

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: Sequence[int] = (512,),
        likelihood: str = "bernoulli",
        input_dim: int = IMAGE_DIM,
    ):
        super().__init__(latent_dim, hidden, likelihood, input_dim)
        self.encoder = Encoder(input_dim, self.hidden, 2 * latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, D] in [0, 1] -> (mu, logvar), each [N, latent_dim]."""
        mu, logvar = self.encoder(self.check_input(x)).chunk(2, dim=1)
        return mu, logvar

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, sample z = mu + sigma * eps, decode: everything the loss needs."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
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


#: The registry of model kinds, ``config["kind"]`` -> class, through which ``checkpoint.load``
#: and ``pretrained`` rebuild models. A new kind is added with one line in its own module,
#: e.g. ``MODELS["conditional-vae"] = ConditionalVAE``; the class's ``__init__`` must accept
#: its ``config`` (less ``"kind"``) as keyword arguments.
MODELS: dict[str, type[nn.Module]] = {"autoencoder": Autoencoder, "vae": VAE}


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from its ``config`` (as saved by :func:`vae_lib.save`).

    The class comes from the registry :data:`vae_lib.models.MODELS`.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    kind = config.get("kind")
    validation.choice(kind, "config['kind']", tuple(MODELS))
    cls = MODELS[kind]  # type: ignore[index]
    if issubclass(cls, LatentModel):
        missing = [k for k in ("latent_dim", "hidden") if k not in config]
        if missing:
            raise ValueError(
                f"config must have the keys 'latent_dim' and 'hidden'; missing {missing} in {config}"
            )
        return cls(
            latent_dim=config["latent_dim"],
            hidden=tuple(config["hidden"]),
            likelihood=config.get("likelihood", "bernoulli"),
            input_dim=config.get("input_dim", IMAGE_DIM),
        )
    try:
        return cls(**{k: v for k, v in config.items() if k != "kind"})
    except TypeError as err:
        raise ValueError(f"config {config} does not describe a {cls.__name__}: {err}") from None


def __getattr__(name: str) -> object:
    if name == "_LatentModel":
        warnings.warn(
            "vae_lib.models._LatentModel is deprecated: use vae_lib.LatentModel",
            DeprecationWarning,
            stacklevel=2,
        )
        return LatentModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
