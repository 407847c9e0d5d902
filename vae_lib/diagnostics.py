"""Diagnostics of a trained VAE: inactive units, the inference gaps, ELBO surgery (lesson 14-7).

Everything in the lessons' notation: q(z|x) = N(mu, diag sigma^2) with logvar = log sigma^2
from the encoder, prior p(z) = N(0, I), d latent dimensions, N images x_1..x_N, nats.

- :func:`active_units`: which latent dimensions carry information. Per dimension j, the KL
  averaged over the images, KL_j = mean_n 1/2 (mu_nj^2 + sigma_nj^2 - log sigma_nj^2 - 1),
  and Burda et al.'s activity statistic A_j = Cov_x(E_q[z_j]) = Var_n(mu_nj) (2015).
- :func:`refine_posterior`: optimise a diagonal Gaussian q(z) per image, starting from the
  encoder's q(z|x), to split the gap log p(x) - ELBO into the approximation and the
  amortisation gaps (Cremer et al., 2018).
- :func:`elbo_surgery`: average KL = I(x; z) + KL(q(z) || p(z)), with q(z) the aggregate
  posterior (1/N) sum_n q(z|x_n) of the images given (Hoffman & Johnson, 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import validation
from .data import to_tensor
from .losses import LOG_2PI, kl_divergence, reconstruction_loss
from .models import VAE, evaluating

__all__ = [
    "ActiveUnits",
    "RefinedPosterior",
    "ElboSurgery",
    "active_units",
    "refine_posterior",
    "elbo_surgery",
    "aggregate_log_density",
]


# --------------------------------------------------------------------------- argument checks


def _check_vae(model) -> None:
    if not isinstance(model, VAE):
        raise TypeError(
            f"model must be a vae_lib.VAE (the diagnostics need q(z|x)), got {type(model).__name__}"
        )


def _check_int(value, name: str, low: int = 1) -> int:
    return validation.positive_int(value, name, minimum=low)


def _check_positive(value, name: str) -> float:
    return validation.finite_number(value, name, strictly_positive=True)


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _images(model: VAE, x) -> torch.Tensor:
    """The images as a float32 tensor [N, 784] in [0, 1] on the model's device (uint8 images converted)."""
    device = next(model.parameters()).device
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        try:
            x = to_tensor(x)
        except (TypeError, ValueError) as err:
            raise type(err)(f"x: {err}") from None
    x = validation.images(x.to(device), model.input_dim, "x", dtype=torch.float32)
    if len(x) == 0:
        raise ValueError("x must hold at least one image, got 0")
    return x


@torch.no_grad()
def _encode_all(model: VAE, x: torch.Tensor, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    with evaluating(model):
        parts = [model.encode(xb) for xb in x.split(batch_size)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


# --------------------------------------------------------------------------- active units


@dataclass(frozen=True)
class ActiveUnits:
    """The result of :func:`active_units` (tensors on the CPU, one value per latent dimension).

    ``kl_per_dim[j]``: KL(q(z_j|x) || N(0, 1)) averaged over the images (nats);
    ``activity[j]``: A_j = Var_x(mu_j), Burda et al.'s activity statistic;
    ``mask``: A_j > threshold (Burda et al.'s definition of an active unit), ``count`` its sum;
    ``kl_mask``: KL_j > threshold, ``kl_count`` its sum. ``kl_per_dim.sum()`` is the average KL.
    """

    kl_per_dim: torch.Tensor
    activity: torch.Tensor
    threshold: float

    @property
    def mask(self) -> torch.Tensor:
        return self.activity > self.threshold

    @property
    def count(self) -> int:
        return int(self.mask.sum())

    @property
    def kl_mask(self) -> torch.Tensor:
        return self.kl_per_dim > self.threshold

    @property
    def kl_count(self) -> int:
        return int(self.kl_mask.sum())

    def __repr__(self) -> str:
        d = len(self.activity)
        return (
            f"ActiveUnits({self.count} of {d} active by activity > {self.threshold:g},"
            f" {self.kl_count} by KL > {self.threshold:g} nats;"
            f" total KL {self.kl_per_dim.sum():.2f} nats)"
        )


def active_units(model: VAE, x, threshold: float = 0.01) -> ActiveUnits:
    """Per-dimension KL and activity of the latent dimensions of ``model`` over images ``x``.

    For the N images x_n, with (mu_n, logvar_n) from the encoder (lesson 14-7):

        KL_j = (1/N) sum_n 1/2 (mu_nj^2 + exp(logvar_nj) - logvar_nj - 1)
        A_j  = Cov_x(E_{q(z|x)}[z_j]) = (1/N) sum_n (mu_nj - mean_m mu_mj)^2

    A dimension is *active* when A_j > ``threshold`` (Burda et al., 2015, use 0.01): its mean
    moves with the input. A dimension whose q(z_j|x) is the prior for every x has A_j = 0 and
    KL_j = 0 (it has *collapsed*); one whose mean ignores x but whose q is not the prior has
    A_j = 0 yet KL_j > 0 (it pays rate for nothing). ``x``: images [N, 784] in [0, 1] (or
    uint8 [N, 28, 28]), N >= 2.
    """
    _check_vae(model)
    _check_positive(threshold, "threshold")
    x = _images(model, x)
    if len(x) < 2:
        raise ValueError(f"x must hold at least 2 images (the activity is a variance over x), got {len(x)}")
    mu, logvar = _encode_all(model, x)
    mu, logvar = mu.double(), logvar.double()
    kl_per_dim = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)).mean(0)
    activity = mu.var(0, correction=0)
    return ActiveUnits(kl_per_dim.float().cpu(), activity.float().cpu(), float(threshold))


# --------------------------------------------------------------------------- refined posteriors


@dataclass(frozen=True)
class RefinedPosterior:
    """The result of :func:`refine_posterior` (CPU tensors, one row or value per image).

    ``mu``, ``logvar`` [N, d]: the optimised q(z) of each image; ``elbo`` [N]: its ELBO;
    ``encoder_elbo`` [N]: the ELBO of the encoder's q(z|x), estimated with the same noise;
    ``gain`` = elbo - encoder_elbo, the part of the amortisation gap that the optimisation closed;
    ``iw_bound`` and ``encoder_iw_bound`` [N]: the importance-weighted bound L_k (k =
    ``eval_samples``) with the refined q and with the encoder's q as the proposal, from the
    same draws: both are lower bounds on log p(x), and the larger is the tighter.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    elbo: torch.Tensor
    encoder_elbo: torch.Tensor
    iw_bound: torch.Tensor
    encoder_iw_bound: torch.Tensor

    @property
    def gain(self) -> torch.Tensor:
        return self.elbo - self.encoder_elbo

    def __repr__(self) -> str:
        return (
            f"RefinedPosterior({len(self.elbo)} images: mean ELBO {self.elbo.mean():.2f} nats,"
            f" encoder's {self.encoder_elbo.mean():.2f})"
        )


def _log_px_z(model: VAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p(x|z) for z [S, N, d] and x [N, D]: [S, N]."""
    s, n, d = z.shape
    logits = model.decoder(z.reshape(-1, d)).reshape(s, n, -1)
    return -reconstruction_loss(logits, x.expand(s, -1, -1), model.likelihood)


def _elbo_estimate(
    model: VAE, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """ELBO per image with the noise ``eps`` [S, N, d]: exact KL, Monte Carlo reconstruction."""
    z = mu + torch.exp(0.5 * logvar) * eps
    return _log_px_z(model, x, z).mean(0) - kl_divergence(mu, logvar)


@torch.no_grad()
def _final_bounds(
    model, x, mu, logvar, samples, generator, max_elements=2**22
) -> tuple[torch.Tensor, torch.Tensor]:
    """ELBO and L_k (k = ``samples``) per image from the same draws, in chunks of images.

    L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i),  z_i ~ q  (Burda et al., 2015).
    """
    per = max(1, max_elements // (samples * x.shape[1]))
    elbos, iws = [], []
    for sl in torch.arange(len(x), device=x.device).split(per):
        m, lv = mu[sl], logvar[sl]
        eps = torch.randn(samples, len(sl), mu.shape[1], generator=generator, device=x.device)
        z = m + torch.exp(0.5 * lv) * eps
        log_px_z = _log_px_z(model, x[sl], z)  # [S, n]
        elbos.append(log_px_z.mean(0) - kl_divergence(m, lv))
        log_pz = _log_normal(z, torch.zeros_like(m), torch.zeros_like(lv))
        log_w = log_px_z + log_pz - _log_normal(z, m, lv)
        iws.append(torch.logsumexp(log_w, 0) - math.log(samples))
    return torch.cat(elbos), torch.cat(iws)


def refine_posterior(
    model: VAE,
    x,
    steps: int = 300,
    lr: float = 0.05,
    samples: int = 10,
    generator: torch.Generator | None = None,
    eval_samples: int = 500,
) -> RefinedPosterior:
    """Optimise a diagonal Gaussian q(z) = N(mu, diag exp(logvar)) for each image separately.

    The encoder gives every image its q(z|x) in one pass (amortised inference); here each
    image gets its own free parameters (mu, logvar), started at the encoder's and moved by
    ``steps`` Adam steps uphill on its ELBO (lesson 14-7), with a learning rate that falls
    linearly from ``lr`` to 0,

        ELBO(x; mu, logvar) = E_{z ~ N(mu, sigma^2)}[log p(x|z)] - KL(N(mu, sigma^2) || N(0, I)),

    with the KL in closed form and the expectation estimated with ``samples`` reparameterised
    draws per step. The decoder is not changed. At the end, the ELBO and the importance-weighted
    bound L_k (k = ``eval_samples``) of the refined q and of the encoder's q are estimated with
    the same ``eval_samples`` draws of eps per image.

    Cremer et al. (2018) split the inference gap log p(x) - ELBO(encoder's q) into the
    *approximation gap* log p(x) - max ELBO over diagonal Gaussians (the family is too narrow),
    estimated from below as L_k - ``elbo`` with the tightest importance-weighted bound L_k at hand
    (``iw_bound``, or :func:`vae_lib.log_likelihood` with a large k), and the *amortisation
    gap* ``elbo - encoder_elbo`` (the encoder does not find the best member). ``generator``
    seeds all the noise (on the model's device); ``x``: images [N, 784] in [0, 1].
    """
    _check_vae(model)
    _check_int(steps, "steps", low=0)
    _check_positive(lr, "lr")
    _check_int(samples, "samples")
    _check_int(eval_samples, "eval_samples")
    _check_generator(generator)
    x = _images(model, x)
    device = x.device
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(0)
    mu0, logvar0 = _encode_all(model, x)
    mu = mu0.clone().requires_grad_(True)
    logvar = logvar0.clone().requires_grad_(True)
    params = list(model.parameters())
    was_grad = [p.requires_grad for p in params]
    with evaluating(model):
        try:
            for p in params:  # the decoder stays fixed; no gradients needed for it
                p.requires_grad_(False)
            optimizer = torch.optim.Adam([mu, logvar], lr=lr)
            # the step size falls linearly to 0: late steps average out the Monte Carlo noise
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1 - t / max(steps, 1))
            for _ in range(steps):
                eps = torch.randn(samples, *mu.shape, generator=generator, device=device)
                # each image's loss depends only on its own (mu, logvar): summing keeps them separate
                loss = -_elbo_estimate(model, x, mu, logvar, eps).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
        finally:
            for p, g in zip(params, was_grad):
                p.requires_grad_(g)
        mu, logvar = mu.detach(), logvar.detach()
        state = generator.get_state()
        elbo, iw = _final_bounds(model, x, mu, logvar, eval_samples, generator)
        generator.set_state(state)  # the same eps for both: a paired comparison
        encoder_elbo, encoder_iw = _final_bounds(model, x, mu0, logvar0, eval_samples, generator)
    return RefinedPosterior(
        mu.cpu(), logvar.cpu(), elbo.cpu(), encoder_elbo.cpu(), iw.cpu(), encoder_iw.cpu()
    )


# --------------------------------------------------------------------------- ELBO surgery


@dataclass(frozen=True)
class ElboSurgery:
    """The result of :func:`elbo_surgery` (nats per image).

    ``average_kl`` = mean_n KL(q(z|x_n) || p(z)) (exact) = ``mutual_information`` +
    ``marginal_kl`` exactly; both parts share the standard error ``stderr`` of the Monte Carlo
    estimate of I(x; z). ``n`` images, ``samples`` draws of z per image.
    """

    average_kl: float
    mutual_information: float
    marginal_kl: float
    stderr: float
    n: int
    samples: int

    @property
    def max_mutual_information(self) -> float:
        """log N: I(x; z) over N equally likely images can never exceed it."""
        return math.log(self.n)

    def __repr__(self) -> str:
        return (
            f"ElboSurgery(average KL {self.average_kl:.3f} = I(x;z) {self.mutual_information:.3f}"
            f" + KL(q(z)||p(z)) {self.marginal_kl:.3f} nats, each +- {self.stderr:.3f}; N = {self.n})"
        )


@torch.no_grad()
def elbo_surgery(
    model: VAE, x, samples: int = 10, generator: torch.Generator | None = None, max_elements: int = 2**24
) -> ElboSurgery:
    """Split the average KL into I(x; z) and KL(q(z) || p(z)) (Hoffman & Johnson, 2016).

    With the N images as the data distribution (each with probability 1/N) and the aggregate
    posterior q(z) = (1/N) sum_m q(z|x_m), lesson 14-7's identity reads

        (1/N) sum_n KL(q(z|x_n) || p(z)) = I(x; z) + KL(q(z) || p(z)),
        I(x; z) = (1/N) sum_n E_{q(z|x_n)}[log q(z|x_n) - log q(z)].

    Method: the average KL is computed exactly (closed form); I(x; z) by Monte Carlo, with
    ``samples`` draws z ~ q(z|x_n) for every image n and log q(z) computed exactly with
    log-sum-exp over all N encoder Gaussians (no minibatch approximation); then
    KL(q(z) || p(z)) = average KL - I(x; z). Given the images, the per-image averages are
    independent, so the standard error is their standard deviation over sqrt(N); it applies
    to both parts. I(x; z) <= log N: a few thousand images cannot show more than log N nats
    of information, so the split describes these N images. Cost: N^2 * samples * d; chunked to
    ``max_elements`` per step. ``generator`` seeds the draws (on the model's device).
    """
    _check_vae(model)
    _check_int(samples, "samples")
    _check_generator(generator)
    _check_int(max_elements, "max_elements")
    x = _images(model, x)
    n = len(x)
    if n < 2:
        raise ValueError(f"x must hold at least 2 images (q(z) is a mixture over them), got {n}")
    device = x.device
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(0)
    mu, logvar = (t.double() for t in _encode_all(model, x))
    d = mu.shape[1]
    average_kl = kl_divergence(mu, logvar)  # [N], exact
    eps = torch.randn(samples, n, d, generator=generator, device=device, dtype=torch.float64)
    z = (mu + torch.exp(0.5 * logvar) * eps).reshape(-1, d)  # [S*N, d], row s*N + n
    log_q_own = _log_normal(z, mu.repeat(samples, 1), logvar.repeat(samples, 1))
    inv_var = torch.exp(-logvar)  # [N, d]
    const = -0.5 * (d * LOG_2PI + logvar.sum(1))  # [N]
    log_q_agg_parts: list[torch.Tensor] = []
    rows = max(1, max_elements // (n * d))
    for zc in z.split(rows):
        # log q(z|x_m) for every z in the chunk and every m: [rows, N]
        quad = zc.pow(2) @ inv_var.T - 2 * zc @ (mu * inv_var).T + (mu.pow(2) * inv_var).sum(1)
        log_q_agg_parts.append(torch.logsumexp(const - 0.5 * quad, dim=1) - math.log(n))
    log_q_agg = torch.cat(log_q_agg_parts)
    per_image = (log_q_own - log_q_agg).reshape(samples, n).mean(0)  # [N]
    mi = per_image.mean().item()
    stderr = (per_image.std() / math.sqrt(n)).item()
    avg = average_kl.mean().item()
    return ElboSurgery(avg, mi, avg - mi, stderr, n, samples)


@torch.no_grad()
def aggregate_log_density(model: VAE, x, z: torch.Tensor, max_elements: int = 2**24) -> torch.Tensor:
    """log q(z) of the aggregate posterior q(z) = (1/N) sum_n q(z|x_n) at the points ``z`` [M, d].

    Exact: log-sum-exp over all N encoder Gaussians of the images ``x`` (lesson 14-7). Where
    log q(z) is far below log p(z), the prior puts mass that the data do not use (a *hole*).
    Returns [M] on the CPU, in float64.
    """
    _check_vae(model)
    x = _images(model, x)
    validation.latents(z, model.latent_dim, "z")
    mu, logvar = (t.double() for t in _encode_all(model, x))
    z = z.to(mu.device).double()
    n, d = mu.shape
    inv_var = torch.exp(-logvar)
    const = -0.5 * (d * LOG_2PI + logvar.sum(1))
    out = []
    for zc in z.split(max(1, max_elements // (n * d))):
        quad = zc.pow(2) @ inv_var.T - 2 * zc @ (mu * inv_var).T + (mu.pow(2) * inv_var).sum(1)
        out.append(torch.logsumexp(const - 0.5 * quad, dim=1) - math.log(n))
    return torch.cat(out).cpu()
