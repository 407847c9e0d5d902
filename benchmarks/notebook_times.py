"""How long each lesson notebook takes to execute top to bottom (target: at most 60 s each).

    python benchmarks/notebook_times.py            # all lessons, one after another
    python benchmarks/notebook_times.py 14-3       # the lessons whose file name contains 14-3

Runs each notebook in a fresh kernel with nbclient from the lessons folder (as the book build
does) and prints the wall-clock seconds, kernel start-up included, then the total.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parents[1] / "lessons"


def main() -> None:
    wanted = sys.argv[1:]
    paths = [p for p in sorted(LESSONS.glob("14-*.ipynb")) if not wanted or any(w in p.name for w in wanted)]
    total = 0.0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(LESSONS)}}
        ).execute()
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{path.name:45s} {seconds:6.1f} s", flush=True)
    print(f"{'total':45s} {total:6.1f} s")


if __name__ == "__main__":
    main()
