"""vae_lib: the small PyTorch library behind "Chapter 14: Variational Autoencoders".

    from vae_lib import VAE, kl_divergence, reparameterize, load_mnist, fit

Each module is short and follows the lessons' notation (mu, logvar = log sigma^2, beta, z);
the loss convention everywhere: sum over pixels and latent dimensions, mean over the batch,
in nats. Importing the package has no side effects (no downloads, no files written);
the figure and widget modules load matplotlib and ipywidgets only when imported:
``from vae_lib import plots, widgets``.
"""

from . import pretrained, validation
from .checkpoint import load, save
from .classifier import MNISTClassifier, frechet_distance  # lesson 14-8
from .conditional import ConditionalVAE, fit_conditional  # lesson 14-8
from .data import load_mnist, to_tensor
from .diagnostics import active_units, elbo_surgery, refine_posterior
from .diffusion import LatentDiffusion  # lesson 14-8
from .evaluate import elbo, log_likelihood
from .latent import encode_dataset, interpolate, latent_grid, slerp
from .losses import LossTerms, kl_divergence, reconstruction_loss, vae_loss
from .models import VAE, AEOutput, Autoencoder, Decoder, Encoder, LatentModel, VAEOutput
from .reparam import reparameterize
from .train import History, beta_schedule, default_device, fit

__version__ = "2.0.0.dev0"  # the one source of the version (pyproject.toml reads it)

__all__ = [
    "active_units",
    "elbo_surgery",
    "refine_posterior",
    "ConditionalVAE",
    "LatentDiffusion",
    "MNISTClassifier",
    "fit_conditional",
    "frechet_distance",
    "AEOutput",
    "Autoencoder",
    "Decoder",
    "Encoder",
    "History",
    "LatentModel",
    "LossTerms",
    "VAE",
    "VAEOutput",
    "beta_schedule",
    "default_device",
    "elbo",
    "encode_dataset",
    "fit",
    "interpolate",
    "kl_divergence",
    "latent_grid",
    "load",
    "load_mnist",
    "log_likelihood",
    "pretrained",
    "reconstruction_loss",
    "reparameterize",
    "save",
    "slerp",
    "to_tensor",
    "vae_loss",
    "validation",
]
