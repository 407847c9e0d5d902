"""Saving and loading models: the configuration plus the ``state_dict``.

Files are written atomically (a temporary file in the same folder, then ``os.replace``),
so an interrupted save never leaves a half-written checkpoint under the final name, and
loaded with ``torch.load(..., weights_only=True)``, which runs no pickled code.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from . import validation
from .models import LatentModel, build_model

FORMAT = "vae_lib-checkpoint-v1"
STALE_SECONDS = 24 * 3600  # a temporary file untouched this long is stale even if its writer lives


def save(model: LatentModel, path, *, metrics: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write ``model``'s config and weights (and optional ``metrics``) to ``path``, atomically.

    ``metrics`` is a dict with str keys of plain values: numbers (numpy scalars and 0-d tensors
    become floats or ints), strings, booleans, None, lists and dicts of those, and a
    ``History`` (stored as a dict); anything else is refused before writing, so ``load`` can
    always read what ``save`` wrote. ``dtype=torch.float16`` halves the file; :func:`load`
    returns float32 weights either way.
    """
    if not (isinstance(model, torch.nn.Module) and isinstance(getattr(model, "config", None), dict)):
        raise TypeError(
            f"model must be a vae_lib model (a VAE, an Autoencoder or another kind in"
            f" vae_lib.models.MODELS), got {type(model).__name__}"
        )
    path = validation.writable_path(path, "path")
    clean = plain_metrics(metrics if metrics is not None else {}, "metrics")
    state = {
        k: (v.detach().cpu().to(dtype) if dtype is not None else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    payload = {"format": FORMAT, "config": model.config, "state_dict": state, "metrics": clean}
    write_atomic(path, lambda f: torch.save(payload, f))
    return path


def plain_metrics(value: Any, name: str = "metrics") -> Any:
    """``value`` made of types ``torch.load(weights_only=True)`` reads back, else a TypeError naming it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{name} keys must be strings, got {key!r}")
        return {k: plain_metrics(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_metrics(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{name} must be a number, string, bool, None, list or dict (or a History), got"
        f" {type(value).__name__}: convert it before saving"
    )


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def sweep_stale(path: Path) -> list[Path]:
    """Remove temporary files of interrupted writes to ``path`` (``.NAME.PID.*.part`` beside it).

    One is stale when the process that made it is gone, or when it has not been touched for
    ``STALE_SECONDS``; a live writer's file is kept. Returns the removed paths.
    """
    removed: list[Path] = []
    prefix = _temp_prefix(path)
    try:
        candidates = [
            p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".part")
        ]
    except OSError:
        return removed
    for p in candidates:
        pid_text = p.name[len(prefix) :].split(".", 1)[0]
        try:
            alive = pid_text.isdigit() and _process_alive(int(pid_text))
            if not alive or time.time() - p.stat().st_mtime > STALE_SECONDS:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def write_atomic(
    path: Path, write: Callable[[BinaryIO], object], verify: Callable[[Path], object] | None = None
) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it to ``path``.

    The package's one atomic writer (checkpoints, downloads, the explorer export, student
    copies). Readers see the old file or the complete new one, never a half-written file; on
    any error the temporary file is removed and ``path`` is left as it was. ``verify(tmp)``,
    if given, runs on the complete temporary file before the rename (raise to refuse it).
    The temporary file is named ``.NAME.PID.XXXX.part``, so one left by a killed process is
    recognised and removed by the next write to ``path`` (:func:`sweep_stale`).
    """
    path = Path(path)
    sweep_stale(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if verify is not None:
            verify(Path(tmp))
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
        raise ValueError(
            f"path: {path} is not a readable vae_lib checkpoint ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"path: {path} is not a vae_lib checkpoint (expected format {FORMAT!r});"
            " save models with vae_lib.save(model, path)"
        )
    return payload


def load(path, model: LatentModel | None = None) -> LatentModel:
    """Load a checkpoint written by :func:`save`; returns the model in eval mode, float32.

    Without ``model``, the model is rebuilt from the checkpoint's config through the registry
    ``vae_lib.models.MODELS`` (``config["kind"]`` -> class): a new model kind becomes loadable
    with one line, ``MODELS["my-kind"] = MyModel``.
    With ``model`` given, its configuration must match the checkpoint's (a clear error
    says what differs) and the weights are loaded into it.
    """
    payload = read_checkpoint(path)
    config = payload.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"path: {path} has no model config (got {type(config).__name__})")
    if model is None:
        try:
            model = build_model(config)  # type: ignore[assignment]  # any kind in MODELS
        except (TypeError, ValueError) as e:
            raise ValueError(f"path: the config in {path} does not describe a model: {e}") from None
    elif model.config != config:
        diff = {
            k: (config.get(k), model.config.get(k))
            for k in set(config) | set(model.config)
            if config.get(k) != model.config.get(k)
        }
        raise ValueError(
            f"model: the checkpoint {path} holds a different model; (checkpoint, given) differ in {diff}"
        )
    try:
        state = {k: v.float() for k, v in payload["state_dict"].items()}
    except (KeyError, AttributeError, TypeError) as e:
        raise ValueError(f"path: {path} has no valid state_dict ({type(e).__name__}: {e})") from None
    try:
        model.load_state_dict(state)  # type: ignore[union-attr]
    except RuntimeError as e:
        raise ValueError(f"path: the weights in {path} do not fit a {config}: {e}") from None
    model.checkpoint_metrics = payload.get("metrics", {})  # type: ignore[union-attr]
    return model.eval()  # type: ignore[union-attr]
