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
from dataclasses import dataclass, field
from typing import Callable

import torch

from .data import to_tensor
from .losses import vae_loss
from .models import _LatentModel, evaluating

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

    ``train["total"][e] == train["reconstruction"][e] + beta * train["kl"][e]`` up to
    float rounding; ``test`` is empty when ``fit`` had no test set.
    """

    beta: float
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


def _as_data(images, name: str) -> torch.Tensor:
    x = images if isinstance(images, torch.Tensor) and images.is_floating_point() else to_tensor(images)
    if x.dim() != 2 or x.shape[1] != 784 or len(x) == 0:
        raise ValueError(f"{name} must be images of shape [N, 784] (or uint8 [N, 28, 28]) with N > 0,"
                         f" got {list(x.shape)}")
    if not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(f"{name} must hold pixel values in [0, 1]; got values in"
                         f" [{x.min().item():.3g}, {x.max().item():.3g}] (use vae_lib.to_tensor)")
    return x.float()


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@torch.no_grad()
def evaluate_loss(model: _LatentModel, x: torch.Tensor, beta: float = 1.0, batch_size: int = 2000,
                  generator: torch.Generator | None = None) -> dict[str, float]:
    """Mean loss terms over ``x`` (one z sample per image, as during training)."""
    sums = torch.zeros(3, dtype=torch.float64, device=x.device)
    with evaluating(model):
        for xb in x.split(batch_size):
            out = model(xb, generator=generator) if model.kind == "vae" else model(xb)
            terms = vae_loss(out, xb, beta, model.likelihood)
            sums += torch.stack(terms).double() * len(xb)
    return dict(zip(TERMS, (sums / len(x)).tolist()))


def fit(model: _LatentModel, train, *, epochs: int, batch_size: int = 128, lr: float = 1e-3,
        beta: float = 1.0, test=None, seed: int = 0, device: str | torch.device | None = None,
        progress: bool = True, callback: Callable[[History], None] | None = None) -> History:
    """Train ``model`` (a ``VAE`` or an ``Autoencoder``) with Adam on ``vae_loss``.

    ``train`` and ``test`` are images: uint8 [N, 28, 28] arrays or float tensors [N, 784]
    in [0, 1]. Batches come from a permutation drawn with ``seed``, and the VAE's noise
    from a generator seeded with it too, so the same model, data and seed give the same
    result bit for bit on the same machine. The model is trained in place (moved to
    ``device``, default: cuda, else mps, else cpu, and left in eval mode) with a fresh Adam
    optimizer, and the returned :class:`History` holds every term of every epoch.
    ``callback(history)``, if given, runs after each epoch (and its test evaluation) with the
    history so far, outside the timed part: to plot live curves, save a checkpoint, and so on.
    Raises ``FloatingPointError`` if the loss becomes NaN or infinite.
    """
    if not isinstance(model, _LatentModel):
        raise TypeError(f"model must be a vae_lib VAE or Autoencoder, got {type(model).__name__}")
    _check_positive_int(epochs, "epochs")
    _check_positive_int(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not (isinstance(beta, (int, float)) and not isinstance(beta, bool) and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function of the History, got {type(callback).__name__}")
    device = torch.device(device) if device is not None else default_device()
    x = _as_data(train, "train").to(device)
    x_test = _as_data(test, "test").to(device) if test is not None else None

    model.to(device).train()
    perm_gen = torch.Generator().manual_seed(seed)  # on the CPU: the same batches on every device
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)
    is_vae = model.kind == "vae"
    n = len(x)
    steps = math.ceil(n / batch_size)
    history = History(beta=float(beta), images=n)
    bar = _progress_bar(epochs * steps, progress)
    check_every = 50

    for epoch in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n, generator=perm_gen).to(device)
        sums = torch.zeros(3, device=device)
        for step in range(steps):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            xb = x.index_select(0, idx)
            out = model(xb, generator=noise_gen) if is_vae else model(xb)
            terms = vae_loss(out, xb, beta, model.likelihood)
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            optimizer.step()
            sums += torch.stack(terms).detach() * len(idx)
            if step % check_every == check_every - 1 or step == steps - 1:
                total = terms.total.item()
                if not math.isfinite(total):
                    bar.close()
                    raise FloatingPointError(
                        f"the loss became {total} at epoch {epoch + 1}, step {step + 1}: try a smaller lr"
                        f" (got {lr}) or check the data for NaNs")
                bar.update(min(check_every, step % check_every + 1))
                bar.set_postfix(epoch=epoch + 1, loss=f"{total:.2f}")
        if device.type == "cuda":
            torch.cuda.synchronize()
        history.seconds.append(time.perf_counter() - start)
        for name, value in zip(TERMS, (sums / n).tolist()):
            history.train[name].append(value)
        if x_test is not None:
            for name, value in evaluate_loss(model, x_test, beta, generator=noise_gen).items():
                history.test[name].append(value)
        if callback is not None:
            model.eval()
            callback(history)
            model.train()
    bar.close()
    model.eval()
    return history


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def set_postfix(self, **kwargs) -> None: ...
    def close(self) -> None: ...


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm  # a widget in notebooks, text in terminals

    return tqdm(total=total, unit="batch", desc="training", leave=True)
