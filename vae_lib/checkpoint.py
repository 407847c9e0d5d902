"""Saving and loading models: the configuration plus the ``state_dict``.

Files are written atomically (a temporary file in the same folder, then ``os.replace``),
so an interrupted save never leaves a half-written checkpoint under the final name, and
loaded with ``torch.load(..., weights_only=True)``, which runs no pickled code.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import torch

from .models import LatentModel, build_model

FORMAT = "vae_lib-checkpoint-v1"


def save(model: LatentModel, path, *, metrics: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write ``model``'s config and weights (and optional ``metrics``) to ``path``, atomically.

    ``dtype=torch.float16`` halves the file; :func:`load` returns float32 weights either way.
    """
    if not isinstance(model, LatentModel):
        raise TypeError(f"model must be a vae_lib VAE or Autoencoder, got {type(model).__name__}")
    path = Path(path)
    state = {k: (v.detach().cpu().to(dtype) if dtype is not None else v.detach().cpu())
             for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "config": model.config, "state_dict": state, "metrics": dict(metrics or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: torch.save(payload, f))
    return path


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers see the old file or the complete new one, never a half-written file; on any
    error the temporary file is removed and ``path`` is left as it was.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_checkpoint(path) -> dict:
    """The raw checkpoint dict (format, config, state_dict, metrics), validated."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a torch file, or unsafe pickle
        raise ValueError(f"path: {path} is not a readable vae_lib checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"path: {path} is not a vae_lib checkpoint (expected format {FORMAT!r});"
                         " save models with vae_lib.save(model, path)")
    return payload


def load(path, model: LatentModel | None = None) -> LatentModel:
    """Load a checkpoint written by :func:`save`; returns the model in eval mode, float32.

    With ``model`` given, its configuration must match the checkpoint's (a clear error
    says what differs) and the weights are loaded into it.
    """
    payload = read_checkpoint(path)
    config = payload["config"]
    if model is None:
        model = build_model(config)
    elif model.config != config:
        diff = {k: (config.get(k), model.config.get(k)) for k in set(config) | set(model.config)
                if config.get(k) != model.config.get(k)}
        raise ValueError(f"model: the checkpoint {path} holds a different model;"
                         f" (checkpoint, given) differ in {diff}")
    state = {k: v.float() for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"path: the weights in {path} do not fit a {config}: {e}") from None
    model.checkpoint_metrics = payload.get("metrics", {})
    return model.eval()
