"""A small MNIST classifier, used only to *evaluate* generated digits (lesson 14-8).

A VAE never sees it. Lesson 14-8 asks it three questions about decoded images:

- does it read the digit a conditional VAE was asked for (:meth:`MNISTClassifier.predict`)?
- how sure is it (:meth:`MNISTClassifier.predict_proba`: "confidence > 0.9" rates)?
- how far are generated images from real ones in its feature space
  (:meth:`MNISTClassifier.features` and :func:`frechet_distance`, the Fréchet distance of
  Heusel et al. (2017), computed here on this classifier's features instead of Inception's)?

The network is an MLP, 784 -> 512 -> 128 -> 10 with ReLU and dropout, trained with
random shifts of up to two pixels (:func:`fit_classifier`); the 128 penultimate
activations are the features.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import IMAGE_DIM, check_images, evaluating


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_labels(labels, n: int | None = None, name: str = "labels") -> torch.Tensor:
    """Raise a clear error unless ``labels`` are integer digits 0-9 of shape [n]; return int64."""
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of integer digits 0-9, shape [N], got {type(labels).__name__}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer digits 0-9 (dtype int64), got dtype {labels.dtype}")
    if labels.dim() != 1:
        raise ValueError(f"{name} must have shape [N], got {list(labels.shape)}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} must have one label per row: expected {n}, got {len(labels)}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) > 9):
        raise ValueError(
            f"{name} must be digits 0-9, got values in [{int(labels.min())}, {int(labels.max())}]"
        )
    return labels.long()


class MNISTClassifier(nn.Module):
    """An MLP digit classifier for evaluation (lesson 14-8): images [N, 784] in [0, 1] -> 10 logits."""

    kind = "mnist-classifier"

    def __init__(self, hidden: tuple[int, int] = (512, 128), dropout: float = 0.2):
        super().__init__()
        h1, h2 = (int(h) for h in hidden)
        self.hidden = (h1, h2)
        self.dropout = float(dropout)
        self.body = nn.Sequential(
            nn.Linear(IMAGE_DIM, h1), nn.ReLU(), nn.Dropout(dropout), nn.Linear(h1, h2), nn.ReLU()
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(h2, 10))

    @property
    def config(self) -> dict:
        return {"kind": self.kind, "hidden": list(self.hidden), "dropout": self.dropout}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, 784] -> logits [N, 10]."""
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """The penultimate activations [N, 128] (eval mode, no gradient): the Fréchet-distance features."""
        check_images(images, name="images")
        with evaluating(self):
            return (
                torch.cat([self.body(b) for b in images.split(batch_size)])
                if len(images)
                else images.new_zeros(0, self.hidden[1])
            )

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Class probabilities [N, 10] (rows sum to 1) for images [N, 784] in [0, 1]."""
        check_images(images, name="images")
        with evaluating(self):
            return torch.cat([F.softmax(self(b), dim=1) for b in images.split(batch_size)])

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """The most probable digit, int64 [N]."""
        return self.predict_proba(images).argmax(dim=1)

    def accuracy(self, images: torch.Tensor, labels) -> float:
        """Fraction of ``images`` whose predicted digit equals ``labels``."""
        labels = check_labels(labels, len(images))
        return (self.predict(images) == labels).double().mean().item()


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image [N, 784] shifted by up to ``max_shift`` pixels in each direction (zeros fill in)."""
    n = len(x)
    pad = F.pad(x.view(n, 1, 28, 28), (max_shift,) * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(28))[:, :, None].expand(n, 28, 28)
    cols = (dx[:, None] + torch.arange(28))[:, None, :].expand(n, 28, 28)
    out = pad[torch.arange(n)[:, None, None], 0, rows, cols]
    return out.reshape(n, IMAGE_DIM)


def fit_classifier(
    model: MNISTClassifier,
    images: torch.Tensor,
    labels,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    max_shift: int = 2,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Train with Adam on the cross-entropy, with random shifts; returns the mean loss per epoch."""
    check_images(images, name="images")
    labels = check_labels(labels, len(images))
    _check_positive_int(epochs, "epochs")
    _check_positive_int(batch_size, "batch_size")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=epochs * math.ceil(len(images) / batch_size)
    )
    model.train()
    losses = []
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        perm = torch.randperm(len(images), generator=gen)
        for idx in perm.split(batch_size):
            xb = images[idx]
            if max_shift:
                xb = random_shift(xb, max_shift, gen)
            loss = F.cross_entropy(model(xb), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(total / len(images))
        if progress:
            print(
                f"classifier epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}"
                f" ({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
    model.eval()
    return losses


def _gaussian_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    f = features.double().cpu().numpy()
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N, k] (Heusel et al., 2017).

        FD = |m_a - m_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^{1/2})

    0 for identical sets; lesson 14-8 computes it on :meth:`MNISTClassifier.features`.
    """
    for name, f in (("features_a", features_a), ("features_b", features_b)):
        if not isinstance(f, torch.Tensor) or f.dim() != 2 or len(f) < 2:
            got = list(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
            raise ValueError(f"{name} must be a tensor of shape [N, k] with N >= 2, got {got}")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"features_a and features_b must have the same width, got {features_a.shape[1]}"
            f" and {features_b.shape[1]}"
        )
    ma, ca = _gaussian_stats(features_a)
    mb, cb = _gaussian_stats(features_b)
    # tr (C_a C_b)^{1/2} = sum of square roots of the eigenvalues of C_a^{1/2} C_b C_a^{1/2} (symmetric PSD)
    w, v = np.linalg.eigh(ca)
    sa = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(sa @ cb @ sa)
    tr_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt)
