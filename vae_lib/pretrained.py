"""Small checkpoints shipped inside the package, trained on the full MNIST training split.

``load("vae-2d")`` returns a trained model in eval mode with no download. ``RECIPES`` says
exactly how each was made; ``python -m vae_lib train-pretrained NAME`` reproduces one from
its seed (with ``VAE_LIB_DATA`` pointing at the full MNIST files), and ``info(NAME)`` gives
the test-set figures recorded when it was made.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch

from .checkpoint import load as load_checkpoint
from .checkpoint import save
from .models import _LatentModel, build_model

RECIPES: dict[str, dict] = {
    "ae-2d": {"kind": "autoencoder", "latent_dim": 2, "hidden": [512, 256], "epochs": 30,
              "batch_size": 128, "lr": 1e-3, "beta": 1.0, "seed": 0},
    "vae-2d": {"kind": "vae", "latent_dim": 2, "hidden": [512, 256], "epochs": 30,
               "batch_size": 128, "lr": 1e-3, "beta": 1.0, "seed": 0},
    "vae-20d": {"kind": "vae", "latent_dim": 20, "hidden": [512, 256], "epochs": 30,
                "batch_size": 128, "lr": 1e-3, "beta": 1.0, "seed": 0},
}
WEIGHTS = "_weights"  # package folder holding NAME.pt


def available() -> list[str]:
    """Names that :func:`load` accepts."""
    return sorted(RECIPES)


def _check_name(name: str) -> None:
    if name not in RECIPES:
        raise ValueError(f"name must be one of {available()}, got {name!r}")


def path(name: str) -> Path:
    """Where the shipped checkpoint ``name`` lives."""
    _check_name(name)
    return Path(str(resources.files("vae_lib").joinpath(WEIGHTS, f"{name}.pt")))


def load(name: str) -> _LatentModel:
    """The shipped model ``name`` ("ae-2d", "vae-2d" or "vae-20d"), float32, eval mode, on the CPU."""
    p = path(name)
    if not p.is_file():
        raise FileNotFoundError(f"name: the checkpoint for {name!r} is missing from the package ({p});"
                                f" rebuild it with `python -m vae_lib train-pretrained {name}`")
    return load_checkpoint(p)


def info(name: str) -> dict:
    """The recipe and the figures recorded when ``name`` was trained (test ELBO, etc.)."""
    model = load(name)
    return {"name": name, "recipe": RECIPES[name], **model.checkpoint_metrics}


def train_pretrained(name: str, out: Path | None = None, *, root=None, device=None,
                     progress: bool = True) -> tuple[_LatentModel, dict]:
    """Train ``name`` from its recipe on the full training split; save it (float16) to ``out``.

    The recorded metrics (test ELBO, importance-weighted log-likelihood for VAEs, test
    reconstruction error) are measured on the weights as stored, on the full test split.
    """
    from .data import load_mnist, to_tensor
    from .evaluate import elbo, log_likelihood
    from .train import evaluate_loss, fit

    _check_name(name)
    recipe = RECIPES[name]
    train_x, _ = load_mnist("train", root=root, subset="full")
    test_x, _ = load_mnist("test", root=root, subset="full")
    torch.manual_seed(recipe["seed"])
    model = build_model({k: recipe[k] for k in ("kind", "latent_dim", "hidden")})
    history = fit(model, train_x, epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
                  beta=recipe["beta"], seed=recipe["seed"], device=device, progress=progress)
    model = model.cpu().half().float()  # measure what is stored (float16 weights)
    x_test = to_tensor(test_x)
    metrics = {"train_epochs": recipe["epochs"], "train_seconds": round(sum(history.seconds), 1),
               "final_train_loss": round(history.train["total"][-1], 3)}
    if model.kind == "vae":
        metrics["test_elbo"] = round(elbo(model, x_test, samples=10), 3)
        metrics["test_log_likelihood_k1000"] = round(log_likelihood(model, x_test[:1000], k=1000), 3)
    metrics["test_reconstruction"] = round(evaluate_loss(model.eval(), x_test)["reconstruction"], 3)
    out = Path(out) if out is not None else path(name)
    save(model, out, metrics=metrics, dtype=torch.float16)
    (out.parent / f"{name}.json").write_text(json.dumps({"recipe": recipe, **metrics}, indent=2) + "\n")
    return model, metrics
