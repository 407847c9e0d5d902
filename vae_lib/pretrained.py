"""Small checkpoints shipped inside the package, trained on the full MNIST training split.

``load("vae-2d")`` returns a trained model in eval mode with no download. ``RECIPES`` says
exactly how each was made; ``python -m vae_lib train-pretrained NAME`` reproduces one from
its seed (with ``VAE_LIB_DATA`` pointing at the full MNIST files), and ``info(NAME)`` gives
the test-set figures recorded when it was made.

Lessons 14-1 to 14-7 use "ae-2d", "vae-2d" and "vae-20d"; lesson 14-8 adds "cvae-2d" (a
:class:`~vae_lib.conditional.ConditionalVAE`), "latent-diffusion-20d" (a
:class:`~vae_lib.diffusion.LatentDiffusion` prior for "vae-20d", trained on codes
z ~ q(z|x) of the training images, a fresh draw each epoch: the aggregate posterior that
the prior should match) and "mnist-classifier" (an
:class:`~vae_lib.classifier.MNISTClassifier`, for evaluation only). "latent-diffusion-20d"
is trained from the shipped "vae-20d"; retrain "vae-20d" and you must retrain it too.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from .checkpoint import FORMAT, read_checkpoint, save, write_atomic
from .checkpoint import load as load_checkpoint
from .models import LatentModel, build_model

if TYPE_CHECKING:
    from .classifier import MNISTClassifier
    from .conditional import ConditionalVAE
    from .diffusion import LatentDiffusion

RECIPES: dict[str, dict] = {
    "ae-2d": {
        "kind": "autoencoder",
        "latent_dim": 2,
        "hidden": [512, 256],
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "beta": 1.0,
        "seed": 0,
    },
    "vae-2d": {
        "kind": "vae",
        "latent_dim": 2,
        "hidden": [512, 256],
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "beta": 1.0,
        "seed": 0,
    },
    "vae-20d": {
        "kind": "vae",
        "latent_dim": 20,
        "hidden": [512, 256],
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "beta": 1.0,
        "seed": 0,
    },
    "cvae-2d": {
        "kind": "conditional-vae",
        "latent_dim": 2,
        "hidden": [512, 256],
        "epochs": 10,
        "batch_size": 128,
        "lr": 1e-3,
        "beta": 1.0,
        "seed": 0,
    },
    "latent-diffusion-20d": {
        "kind": "latent-diffusion",
        "vae": "vae-20d",
        "codes": "posterior-samples",
        "dim": 20,
        "steps": 100,
        "beta_start": 1e-3,
        "beta_end": 0.1,
        "width": 256,
        "depth": 3,
        "epochs": 100,
        "batch_size": 256,
        "lr": 1e-3,
        "seed": 0,
    },
    "mnist-classifier": {
        "kind": "mnist-classifier",
        "hidden": [512, 128],
        "dropout": 0.2,
        "epochs": 12,
        "batch_size": 128,
        "lr": 1e-3,
        "max_shift": 2,
        "seed": 0,
    },
}
NEW_KINDS = ("conditional-vae", "latent-diffusion", "mnist-classifier")  # lesson 14-8's models
WEIGHTS = "_weights"  # package folder holding NAME.pt


def available() -> list[str]:
    """Names that :func:`load` accepts."""
    return sorted(RECIPES)


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {available()}, got {type(name).__name__} {name!r}")
    if name not in RECIPES:
        raise ValueError(f"name must be one of {available()}, got {name!r}")


def path(name: str) -> Path:
    """Where the shipped checkpoint ``name`` lives."""
    _check_name(name)
    return Path(str(resources.files("vae_lib").joinpath(WEIGHTS).joinpath(f"{name}.pt")))


def _build(config: dict) -> nn.Module:
    """Rebuild one of lesson 14-8's models from its saved ``config``."""
    from .classifier import MNISTClassifier
    from .conditional import ConditionalVAE
    from .diffusion import LatentDiffusion

    c = dict(config)
    kind = c.pop("kind")
    if kind == "conditional-vae":
        return ConditionalVAE(
            latent_dim=int(c["latent_dim"]),
            hidden=tuple(int(h) for h in c["hidden"]),
            input_dim=int(c["input_dim"]),
        )
    if kind == "latent-diffusion":
        return LatentDiffusion(**c)
    if kind == "mnist-classifier":
        return MNISTClassifier(hidden=tuple(c["hidden"]), dropout=c["dropout"])
    raise ValueError(f"config['kind'] must be one of {NEW_KINDS}, got {kind!r}")


def save_model(model: nn.Module, out: Path, metrics: dict) -> Path:
    """Save one of lesson 14-8's models (config + float16 state_dict) in the checkpoint format."""
    state = {k: v.detach().cpu().half() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "config": model.config, "state_dict": state, "metrics": dict(metrics)}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda f: torch.save(payload, f))
    return out


def _load_new(p: Path) -> nn.Module:
    payload = read_checkpoint(p)  # torch.load(..., weights_only=True): runs no pickled code
    model = _build(payload["config"])
    model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    model.checkpoint_metrics = payload.get("metrics", {})
    return model.eval()


def load(name: str) -> nn.Module:
    """The shipped model ``name`` (see :func:`available`), float32, eval mode, on the CPU."""
    p = path(name)
    if not p.is_file():
        raise FileNotFoundError(
            f"name: the checkpoint for {name!r} is missing from the package ({p});"
            f" rebuild it with `python -m vae_lib train-pretrained {name}`"
        )
    if RECIPES[name]["kind"] in NEW_KINDS:
        return _load_new(p)
    return load_checkpoint(p)


def info(name: str) -> dict:
    """The recipe and the figures recorded when ``name`` was trained (test ELBO, etc.)."""
    model = load(name)
    return {"name": name, "recipe": RECIPES[name], **cast(dict, model.checkpoint_metrics)}


def train_pretrained(
    name: str, out: Path | None = None, *, root=None, device=None, progress: bool = True
) -> tuple[nn.Module, dict]:
    """Train ``name`` from its recipe on the full training split; save it (float16) to ``out``.

    The recorded metrics (test ELBO, importance-weighted log-likelihood for VAEs, test
    reconstruction error) are measured on the weights as stored, on the full test split.
    """
    from .data import load_mnist, to_tensor
    from .evaluate import elbo, log_likelihood
    from .train import evaluate_loss, fit

    _check_name(name)
    recipe = RECIPES[name]
    if recipe["kind"] in NEW_KINDS:
        return _train_new(name, out, root=root, progress=progress)
    train_x, _ = load_mnist("train", root=root, subset="full")
    test_x, _ = load_mnist("test", root=root, subset="full")
    torch.manual_seed(recipe["seed"])
    model = cast(LatentModel, build_model({k: recipe[k] for k in ("kind", "latent_dim", "hidden")}))
    history = fit(
        model,
        train_x,
        epochs=recipe["epochs"],
        batch_size=recipe["batch_size"],
        lr=recipe["lr"],
        beta=recipe["beta"],
        seed=recipe["seed"],
        device=device,
        progress=progress,
    )
    model = model.cpu().half().float()  # measure what is stored (float16 weights)
    x_test = to_tensor(test_x)
    metrics = {
        "train_epochs": recipe["epochs"],
        "train_seconds": round(sum(history.seconds), 1),
        "final_train_loss": round(history.train["total"][-1], 3),
    }
    if model.kind == "vae":
        metrics["test_elbo"] = round(cast(float, elbo(model, x_test, samples=10)), 3)
        metrics["test_log_likelihood_k1000"] = round(
            cast(float, log_likelihood(model, x_test[:1000], k=1000)), 3
        )
    metrics["test_reconstruction"] = round(evaluate_loss(model.eval(), x_test)["reconstruction"], 3)
    out = Path(out) if out is not None else path(name)
    save(model, out, metrics=metrics, dtype=torch.float16)
    (out.parent / f"{name}.json").write_text(json.dumps({"recipe": recipe, **metrics}, indent=2) + "\n")
    return model, metrics


def diffusion_codes(vae, images: torch.Tensor, seed: int) -> torch.Tensor:
    """One draw z ~ q(z|x) per image from ``vae``'s encoder: codes of the aggregate posterior q(z)."""
    with torch.no_grad():
        mu, logvar = vae.encode(images)
    return _posterior_draw(mu, logvar, seed)


def _posterior_draw(mu: torch.Tensor, logvar: torch.Tensor, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen)


def _train_new(name: str, out: Path | None, *, root=None, progress: bool = True) -> tuple[nn.Module, dict]:
    """Train one of lesson 14-8's models from its recipe (on the CPU) and save it with its metrics."""
    import time

    from .data import load_mnist, to_tensor

    recipe = RECIPES[name]
    train_x, train_y = load_mnist("train", root=root, subset="full")
    test_x, test_y = load_mnist("test", root=root, subset="full")
    x, y = to_tensor(train_x), torch.as_tensor(train_y).long()
    xt, yt = to_tensor(test_x), torch.as_tensor(test_y).long()
    torch.manual_seed(recipe["seed"])
    start = time.perf_counter()
    model: MNISTClassifier | ConditionalVAE | LatentDiffusion
    if recipe["kind"] == "mnist-classifier":
        from .classifier import MNISTClassifier, fit_classifier

        model = MNISTClassifier(hidden=tuple(recipe["hidden"]), dropout=recipe["dropout"])
        losses = fit_classifier(
            model,
            x,
            y,
            epochs=recipe["epochs"],
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            max_shift=recipe["max_shift"],
            seed=recipe["seed"],
            progress=progress,
        )
        seconds = time.perf_counter() - start
        model = model.half().float()  # measure what is stored (float16 weights)
        metrics = {"test_accuracy": round(model.accuracy(xt, yt), 4)}
    elif recipe["kind"] == "conditional-vae":
        from .conditional import ConditionalVAE, conditional_elbo, fit_conditional

        model = ConditionalVAE(latent_dim=recipe["latent_dim"], hidden=tuple(recipe["hidden"]))
        losses = fit_conditional(
            model,
            x,
            y,
            epochs=recipe["epochs"],
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            beta=recipe["beta"],
            seed=recipe["seed"],
            progress=progress,
        )
        seconds = time.perf_counter() - start
        model = model.half().float()
        metrics = {"test_elbo": round(conditional_elbo(model, xt, yt, samples=10), 3)}
    else:
        from .diffusion import LatentDiffusion

        vae = cast(LatentModel, load(recipe["vae"]))  # "vae-20d": a VAE
        keys = ("dim", "steps", "beta_start", "beta_end", "width", "depth")
        model = LatentDiffusion(**{k: recipe[k] for k in keys})
        with torch.no_grad():
            mu, logvar = vae.encode(x)  # q(z|x) of every training image, once
        codes = _posterior_draw(mu, logvar, recipe["seed"])
        losses = model.fit(
            codes,
            epochs=recipe["epochs"],
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            seed=recipe["seed"],
            progress=progress,  # a fresh z ~ q(z|x) per image each epoch
            resample=lambda epoch: _posterior_draw(mu, logvar, recipe["seed"] + epoch),
        )
        seconds = time.perf_counter() - start
        model = model.half().float()
        gen = torch.Generator().manual_seed(recipe["seed"])
        test_codes = diffusion_codes(vae, xt, recipe["seed"])
        with torch.no_grad():
            test_loss = sum(model.loss(test_codes, gen).item() for _ in range(10)) / 10
        metrics = {"test_denoising_loss": round(test_loss, 4)}
    metrics = {
        "train_epochs": recipe["epochs"],
        "train_seconds": round(seconds, 1),
        "final_train_loss": round(losses[-1], 4),
        **metrics,
    }
    out = Path(out) if out is not None else path(name)
    save_model(model, out, metrics)
    (out.parent / f"{name}.json").write_text(json.dumps({"recipe": recipe, **metrics}, indent=2) + "\n")
    return model, metrics
