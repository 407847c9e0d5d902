"""Build the small MNIST subset shipped in the package: ``vae_lib/_data/mnist-small.npz``.

Class-balanced and seeded, so that anyone can rebuild it from the four standard IDX files:
1,000 training images per digit (10,000) and 200 test images per digit (2,000), drawn
without replacement with ``numpy.random.default_rng(0)`` (one generator: training digits
0..9, then test digits 0..9), kept in their original order. The ``*_index`` arrays record
each image's position in the full split.

    python scripts/make_subset.py --root ../shared/data/mnist

then copy the printed SHA-256 into ``SUBSET_SHA256`` in ``vae_lib/data.py`` and into
``vae_lib/_data/README.md`` if it changed. ``np.savez_compressed`` writes fixed zip
timestamps, so the same numpy and zlib give the same bytes on every run.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing vae_lib

from vae_lib.data import MNIST_FILES, SHA256, SUBSET_FILE, read_idx  # noqa: E402

PER_CLASS = {"train": 1000, "test": 200}
SEED = 0
DEFAULT_OUT = REPO / "vae_lib" / "_data" / SUBSET_FILE
MAX_BYTES = 3 * 1024 * 1024


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each digit 0..9, drawn without replacement, sorted."""
    chosen = [
        rng.choice(np.flatnonzero(labels == digit), size=per_class, replace=False) for digit in range(10)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def build_subset(root: Path) -> dict[str, np.ndarray]:
    """The subset's arrays, from the verified full IDX files in ``root``."""
    rng = np.random.default_rng(SEED)
    arrays = {}
    for split in ("train", "test"):
        images_name, labels_name = MNIST_FILES[split]
        images = read_idx(root / images_name, SHA256[images_name])
        labels = read_idx(root / labels_name, SHA256[labels_name])
        index = balanced_indices(labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index]
        arrays[f"{split}_index"] = index
    return arrays


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)

    arrays = build_subset(args.root)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    size = args.out.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{args.out} is {size:,} bytes, over the {MAX_BYTES:,}-byte budget")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({size:,} bytes)")
    print(f"SHA-256 {digest}")


if __name__ == "__main__":
    main()
