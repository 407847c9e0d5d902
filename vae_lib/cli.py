"""The command line: ``python -m vae_lib --help``.

python -m vae_lib train --model vae --latent-dim 2 --epochs 30 --out vae.pt
python -m vae_lib train-pretrained vae-2d          # rebuild a shipped checkpoint from its seed
python -m vae_lib evaluate vae-2d                  # test ELBO and log p(x) of a checkpoint
python -m vae_lib info                             # the shipped checkpoints and their figures
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from . import validation


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``prog: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    """argparse type: a positive integer, with the same message as the library's checks."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _check_out_dir(folder: Path, name: str = "--out") -> None:
    """Fail now, not after the work, if files cannot be written into ``folder``."""
    validation.writable_path(Path(folder) / ".vae_lib-write-check", name)


def _cmd_train(args) -> int:
    import torch

    from .checkpoint import save
    from .data import load_mnist, to_tensor
    from .evaluate import elbo
    from .train import fit

    out = validation.writable_path(args.out, "--out")  # before training, so the model is not lost
    device = validation.device(args.device, "--device") if args.device is not None else None
    train_x, _ = load_mnist("train", root=args.data, subset=args.subset)
    test_x, _ = load_mnist("test", root=args.data, subset=args.subset)
    torch.manual_seed(args.seed)
    from .models import VAE, Autoencoder

    kind = VAE if args.model == "vae" else Autoencoder
    model = kind(latent_dim=args.latent_dim, hidden=args.hidden, likelihood=args.likelihood)
    history = fit(
        model,
        train_x,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        test=test_x,
        seed=args.seed,
        device=device,
        progress=not args.quiet,
    )
    metrics = {
        "epochs": args.epochs,
        "test_loss": history.test["total"][-1],
        "images_per_second": round(history.images_per_second),
    }
    if model.variational:
        metrics["test_elbo"] = elbo(model.cpu(), to_tensor(test_x), samples=10)
    save(model, out, metrics=metrics)
    print(json.dumps({"saved": str(out), **metrics}, indent=2))
    return 0


def _cmd_train_pretrained(args) -> int:
    from .pretrained import available, train_pretrained

    names = available() if args.name == "all" else [args.name]
    validation.choice(args.name, "name", (*available(), "all"))
    if args.out_dir:
        _check_out_dir(Path(args.out_dir), "--out-dir")
    if args.device is not None:
        validation.device(args.device, "--device")
    for name in names:
        out = Path(args.out_dir) / f"{name}.pt" if args.out_dir else None
        _, metrics = train_pretrained(name, out, root=args.data, device=args.device, progress=not args.quiet)
        print(json.dumps({"name": name, **metrics}, indent=2))
    return 0


def _load_model(name_or_path: str):
    from .checkpoint import load
    from .pretrained import available
    from .pretrained import load as load_pretrained

    return load_pretrained(name_or_path) if name_or_path in available() else load(name_or_path)


def _cmd_evaluate(args) -> int:
    from .data import load_mnist, to_tensor
    from .evaluate import elbo, log_likelihood
    from .models import LatentModel
    from .train import evaluate_loss

    model = _load_model(args.model)
    if not isinstance(model, LatentModel):
        raise ValueError(
            f"model: evaluate needs a VAE or an autoencoder, {args.model} is a {type(model).__name__}"
        )
    x = to_tensor(load_mnist("test", root=args.data, subset=args.subset)[0])
    if args.limit is not None:
        x = x[: args.limit]
    result = {
        "model": args.model,
        "images": len(x),
        "reconstruction": evaluate_loss(model, x)["reconstruction"],
    }
    if model.variational:
        result["elbo"] = elbo(model, x, samples=args.samples)
        result[f"log_likelihood_k{args.k}"] = log_likelihood(model, x, k=args.k)
    print(json.dumps(result, indent=2))
    return 0


def _cmd_info(args) -> int:
    from .pretrained import available, info

    print(json.dumps([info(name) for name in available()], indent=2))
    return 0


def _cmd_export_explorer(args) -> int:
    from .course.explorer import export_explorer

    _check_out_dir(args.out)
    model = None if args.model == "vae-2d" else _load_model(args.model)
    print(json.dumps(export_explorer(model, args.out), indent=2))
    return 0


def _cmd_assign(args) -> int:
    from .course.assign import assign

    if args.nbgrader_metadata:
        from .course.assign import stamp_nbgrader

        changed, warnings = stamp_nbgrader(args.source)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        print(f"stamped nbgrader metadata into {len(changed)} notebooks", file=sys.stderr)
        return 0
    if args.out is None:
        raise ValueError("assign needs --out FOLDER (or --nbgrader-metadata)")
    written = assign(args.source, args.out, force=args.force, answer_key=args.answer_key)
    for path in written:
        print(path)
    print(f"wrote {len(written)} notebooks", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m vae_lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def data_options(p):
        p.add_argument(
            "--data", default=None, help="folder with the MNIST IDX files (default: $VAE_LIB_DATA)"
        )
        p.add_argument(
            "--subset",
            choices=("full", "small"),
            default=None,
            help="full MNIST, or the subset shipped in the package (default: full if available)",
        )

    p = sub.add_parser("train", help="train an autoencoder or a VAE and save a checkpoint")
    p.add_argument("--model", choices=("vae", "ae"), default="vae")
    p.add_argument("--latent-dim", type=_positive_int, default=2)
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=[512])
    p.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli")
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the fastest available)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    data_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("train-pretrained", help="retrain a shipped checkpoint from its recipe and seed")
    p.add_argument("name", help="ae-2d, vae-2d, vae-20d or all")
    p.add_argument("--out-dir", default=None, help="where to write NAME.pt (default: inside the package)")
    p.add_argument("--device", default=None)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files (default: $VAE_LIB_DATA)")
    p.set_defaults(func=_cmd_train_pretrained)

    p = sub.add_parser("evaluate", help="test-set ELBO and importance-weighted log p(x) of a model")
    p.add_argument("model", help="a shipped name (vae-2d, ...) or a checkpoint path")
    p.add_argument("--k", type=_positive_int, default=100, help="importance samples for log p(x)")
    p.add_argument(
        "--samples", type=_positive_int, default=10, help="z samples for the ELBO's reconstruction term"
    )
    p.add_argument("--limit", type=_positive_int, default=None, help="evaluate on the first N test images")
    data_options(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("info", help="list the shipped checkpoints with their recipes and test figures")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "export-explorer",
        help="write the site's latent explorer data (decoder weights, test codes) and its fallback PNG",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("book/_static/explorer"),
        help="folder for vae-2d.bin/.js, cvae-2d.bin/.js, decoded-grid.png (default: book/_static/explorer)",
    )
    p.add_argument(
        "--model", default="vae-2d", help="a 2-D shipped name or a checkpoint path (default: vae-2d)"
    )
    p.set_defaults(func=_cmd_export_explorer)

    p = sub.add_parser("assign", help="write student copies of the lesson notebooks, without the solutions")
    p.add_argument("source", type=Path, help="a folder of notebooks (e.g. lessons/) or one notebook")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to write the student notebooks to (not the input folder)",
    )
    p.add_argument(
        "--nbgrader-metadata",
        action="store_true",
        help="instead: stamp nbgrader cell metadata into the masters in SOURCE, in place (rerunnable)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the output folder if it exists and is not empty (its contents are deleted)",
    )
    p.add_argument(
        "--answer-key",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write answer keys (solutions kept, nbgrader markers and outputs removed) to DIR",
    )
    p.set_defaults(func=_cmd_assign)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error is one line on stderr and exit status 2, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, RuntimeError, FloatingPointError, KeyError) as e:
        message = "; ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print(f"error: {message or type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
