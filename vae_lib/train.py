"""Training loop for the autoencoder and the VAE (lessons 14-1 and 14-3).

The whole data set lives as one float tensor on the device; each epoch draws a seeded
permutation and slices batches from it, so there is no per-item ``Dataset``/``DataLoader``
work. With a fused Adam step this trains about 2.5x as many images per second as the
official PyTorch VAE example on a 2-core CPU, and 1.5x a leaner per-item loop
(``benchmarks/train_speed.py`` measures both, side by side).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm  # a widget in notebooks, text in terminals

from . import validation
from .data import IMAGE_SIZE, as_images
from .losses import vae_loss
from .models import LatentModel, evaluating

TERMS = ("total", "reconstruction", "kl")


def default_device() -> torch.device:
    """cuda if available, else Apple's mps, else cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass
class History:
    """Per-epoch loss terms (batch means in nats, as in ``vae_loss``) and timings.

    ``train["total"][e] == train["reconstruction"][e] + betas[e] * train["kl"][e]`` up to
    float rounding, with ``betas[e]`` the beta actually used in epoch ``e`` (below ``beta``
    during a KL warm-up); ``kl`` is the true KL even with free bits. ``test`` (the same terms
    with the same beta) is empty when ``fit`` had no test set.
    """

    beta: float
    betas: list[float] = field(default_factory=list)  # the beta used in each epoch
    free_bits: float = 0.0
    train: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TERMS})
    test: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TERMS})
    seconds: list[float] = field(default_factory=list)  # training time of each epoch
    images: int = 0  # training images per epoch

    @property
    def epochs(self) -> int:
        return len(self.seconds)

    @property
    def images_per_second(self) -> float:
        """Training throughput over all epochs (test evaluation excluded)."""
        return self.images * self.epochs / max(sum(self.seconds), 1e-12)

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no epochs)"
        last = f"train total {self.train['total'][-1]:.2f}"
        if self.test["total"]:
            last += f", test total {self.test['total'][-1]:.2f}"
        return f"History({self.epochs} epochs, {last} nats, {self.images_per_second:,.0f} images/s)"


def _as_data(images, name: str, input_dim: int = IMAGE_SIZE) -> torch.Tensor:
    """Old private name kept for other modules: use :func:`vae_lib.data.as_images`."""
    return as_images(images, input_dim, name)


def beta_schedule(epoch: int, beta: float, kl_warmup: int) -> float:
    """The beta of epoch ``epoch`` (0-based) with a linear KL warm-up over ``kl_warmup`` epochs:

        beta_e = beta * min(1, e / kl_warmup)      (beta_e = beta when kl_warmup = 0)

    so epoch 0 trains the plain autoencoder objective and epoch ``kl_warmup`` on uses ``beta``
    (Bowman et al., 2016; Sonderby et al., 2016). Constant within an epoch, so every epoch's
    logged terms add up with one beta.
    """
    return beta if kl_warmup == 0 else beta * min(1.0, epoch / kl_warmup)


@torch.no_grad()
def evaluate_loss(
    model: LatentModel,
    x: torch.Tensor,
    beta: float = 1.0,
    batch_size: int = 2000,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Mean loss terms over ``x`` (one z sample per image, as during training)."""
    x = model.check_input(x)
    batch_size = validation.positive_int(batch_size, "batch_size")
    sums = torch.zeros(3, dtype=torch.float64, device=x.device)
    with evaluating(model), validation.skipped():
        for xb in x.split(batch_size):
            terms = vae_loss(model(xb, generator=generator), xb, beta, model.likelihood)
            sums += torch.stack(terms).double() * len(xb)
    return dict(zip(TERMS, (sums / len(x)).tolist()))


def fit(
    model: LatentModel,
    train,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float = 1.0,
    kl_warmup: int = 0,
    free_bits: float = 0.0,
    test=None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    callback: Callable[[History], None] | None = None,
) -> History:
    """Train ``model`` (a ``VAE`` or an ``Autoencoder``) with Adam on ``vae_loss``.

    ``train`` and ``test`` are images: uint8 [N, 28, 28] arrays, or float tensors/arrays
    [N, model.input_dim] in [0, 1] (cast to float32). Batches come from a permutation drawn
    with ``seed``, and the VAE's noise from a generator seeded with it too, so the same model,
    data and seed give the same result bit for bit on the same machine. The model is trained
    in place (moved to ``device``, default: cuda, else mps, else cpu, and left in eval mode)
    with a fresh Adam optimizer, and the returned :class:`History` holds every term of every
    epoch and the beta each epoch used.

    ``kl_warmup``: number of epochs over which beta rises linearly from 0 to ``beta``, per
    epoch (see :func:`beta_schedule`). ``free_bits``: nats per latent dimension; the optimised
    objective is ``reconstruction + beta_e * sum_j max(KL_j, free_bits)`` with ``KL_j`` the
    batch mean KL of dimension j (Kingma et al., 2016; see ``vae_loss``), while the history logs
    the true KL, so ``total == reconstruction + betas[e] * kl`` still holds.

    ``callback(history)``, if given, runs after each epoch (and its test evaluation) with the
    history so far, outside the timed part: to plot live curves, save a checkpoint, and so on.
    Raises ``FloatingPointError`` if the loss becomes NaN or infinite.
    """
    if not isinstance(model, LatentModel):
        raise TypeError(f"model must be a vae_lib VAE or Autoencoder, got {type(model).__name__}")
    epochs, batch_size = (
        validation.positive_int(epochs, "epochs"),
        validation.positive_int(batch_size, "batch_size"),
    )
    lr = validation.finite_number(lr, "lr", strictly_positive=True)
    beta = validation.finite_number(beta, "beta", minimum=0)
    kl_warmup = validation.positive_int(kl_warmup, "kl_warmup", minimum=0)
    free_bits = validation.finite_number(free_bits, "free_bits", minimum=0)
    seed = validation.positive_int(seed, "seed", minimum=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function of the History, got {type(callback).__name__}")
    device = validation.device(device) if device is not None else default_device()
    x = as_images(train, model.input_dim, "train").to(device)
    x_test = as_images(test, model.input_dim, "test").to(device) if test is not None else None

    model.to(device).train()
    perm_gen = torch.Generator().manual_seed(seed)  # on the CPU: the same batches on every device
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)
    n = len(x)
    steps = math.ceil(n / batch_size)
    history = History(beta=beta, free_bits=free_bits, images=n)
    bar = tqdm(total=epochs * steps, unit="batch", desc="training", leave=True, disable=not progress)
    check_every = 50

    for epoch in range(epochs):
        beta_e = beta_schedule(epoch, beta, kl_warmup)
        start = time.perf_counter()
        perm = torch.randperm(n, generator=perm_gen).to(device)
        sums = torch.zeros(3, device=device)
        with validation.skipped():  # the data was checked once above
            for step in range(steps):
                idx = perm[step * batch_size : (step + 1) * batch_size]
                xb = x.index_select(0, idx)
                terms = vae_loss(model(xb, generator=noise_gen), xb, beta_e, model.likelihood, free_bits)
                optimizer.zero_grad(set_to_none=True)
                terms.objective.backward()
                optimizer.step()
                sums += torch.stack(terms).detach() * len(idx)
                if step % check_every == check_every - 1 or step == steps - 1:
                    total = terms.total.item()
                    if not math.isfinite(total):
                        bar.close()
                        raise FloatingPointError(
                            f"the loss became {total} at epoch {epoch + 1}, step {step + 1}: try a smaller lr"
                            f" (got {lr}) or check the data for NaNs"
                        )
                    bar.update(min(check_every, step % check_every + 1))
                    bar.set_postfix(epoch=epoch + 1, loss=f"{total:.2f}")
        if device.type == "cuda":
            torch.cuda.synchronize()
        history.seconds.append(time.perf_counter() - start)
        history.betas.append(beta_e)
        for name, value in zip(TERMS, (sums / n).tolist()):
            history.train[name].append(value)
        if x_test is not None:
            for name, value in evaluate_loss(model, x_test, beta_e, generator=noise_gen).items():
                history.test[name].append(value)
        if callback is not None:
            model.eval()
            callback(history)
            model.train()
    bar.close()
    model.eval()
    return history
