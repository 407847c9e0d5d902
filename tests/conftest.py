"""Shared pytest set-up for the book tests.

Only book-related things live here: the ``book`` marker and the session-scoped
``book_build`` fixture, which builds the site once per test session into a
temporary folder (never into the repository's ``_build``), so that the book
tests and any browser tests share one build.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 1200  # a cold build executes every lesson; 2 shared cores are slow

# Run the Jupyter Book CLI with the interpreter running pytest, so the build sees
# the same environment (and the same vae_lib) as the tests.
_JB_CLI = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"


# Folders that are not the book's sources (or are rewritten by other tools) and are
# left out of the before/after comparison of the repository.
_SNAPSHOT_SKIP = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "_build",
    "__pycache__",
    ".pytest_cache",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".ruff_cache",
}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime)} of every file under root, skipping _SNAPSHOT_SKIP."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SNAPSHOT_SKIP and not d.endswith(".egg-info")]
        for name in filenames:
            path = Path(dirpath, name)
            try:
                st = path.stat()
            except OSError:
                continue
            files[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return files


def _changes(before: dict, after: dict) -> tuple[str, ...]:
    added = [f"added: {p}" for p in sorted(after.keys() - before.keys())]
    removed = [f"removed: {p}" for p in sorted(before.keys() - after.keys())]
    changed = [f"changed: {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return tuple(added + removed + changed)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "book: builds the Jupyter Book site (slow: executes every lesson notebook); "
        'deselect with -m "not book"',
    )


@dataclasses.dataclass(frozen=True)
class BookBuild:
    """The outcome of ``jupyter-book build``."""

    returncode: int | None  # None: killed after BUILD_TIMEOUT_S
    output: str  # stdout and stderr, interleaved
    html: Path  # the built site (may be incomplete if the build failed)
    seconds: float
    command: tuple[str, ...]
    repo_changes: tuple[str, ...]  # files of the repo the build added, changed or removed

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, n: int = 3000) -> str:
        return self.output[-n:]

    def problems(self) -> list[str]:
        """The warning and error lines of the build (the kernels' own log lines left out)."""
        return [
            line
            for line in self.output.splitlines()
            if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b|Error:", line) and "[IPKernelApp]" not in line
        ]


@pytest.fixture(scope="session")
def book_build(tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """Build the book cold, warnings as errors, into a temporary folder.

    ``--path-output`` puts both the HTML and the notebook execution cache under
    the temporary folder, so every session executes every notebook afresh.
    """
    reuse = os.environ.get("BOOK_BUILD_REUSE")
    if reuse:
        # Development only: BOOK_BUILD_REUSE=<folder holding _build/html> reuses that build
        # instead of building cold (the build-warning tests then say nothing about the build).
        html = Path(reuse).resolve() / "_build" / "html"
        if not (html / "index.html").is_file():
            pytest.fail(f"BOOK_BUILD_REUSE={reuse}: no built site at {html}", pytrace=False)
        return BookBuild(
            returncode=0,
            output=f"[book_build] reused {html}\n",
            html=html,
            seconds=0.0,
            command=("reused", str(html)),
            repo_changes=(),
        )
    out = tmp_path_factory.mktemp("book")
    command = (
        sys.executable,
        "-c",
        _JB_CLI,
        "build",
        str(REPO_ROOT),
        "--path-output",
        str(out),
        "-W",
        "-n",
        "--keep-going",
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1")
    before = _snapshot(REPO_ROOT)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            command,
            cwd=out,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=BUILD_TIMEOUT_S,
        )
        returncode, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout or b""
        if isinstance(partial, bytes):
            partial = partial.decode(errors="replace")
        returncode = None
        output = partial + f"\n[book_build] killed after {BUILD_TIMEOUT_S} s\n"
    return BookBuild(
        returncode=returncode,
        output=re.sub(r"\x1b\[[0-9;]*m", "", output),  # no terminal colours
        html=out / "_build" / "html",
        seconds=time.monotonic() - start,
        command=command,
        repo_changes=_changes(before, _snapshot(REPO_ROOT)),
    )


# =====================================================================================
# Browser fixtures (tests/test_browser.py; owner: the latent-explorer engineer).
# Appended here so that any test can drive headless Chromium against a built site:
#   ``chromium``: one headless Debian Chromium per test module (skips with the reason when
#                 /usr/bin/chromium or the playwright package is missing);
#   ``serve_directory``: serve_directory(path) -> base URL of an http.server on
#                 127.0.0.1 (ephemeral port) serving that folder, stopped at session end.
# =====================================================================================

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Debian's /usr/bin/chromium driven by playwright), per test module.

    Module scope on purpose: while playwright's sync API is open it marks its asyncio loop
    as running in the main thread, which would break later tests that run an event loop
    (nbval's notebook kernels); closing it at the end of the module avoids that.
    """
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright Python package (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def serve_directory():
    """serve_directory(folder) -> "http://127.0.0.1:PORT": a quiet static server per folder.

    A request for /favicon.ico that the folder cannot answer gets "204 No Content" (the
    browser asks for it by itself; the page never does), so that it does not show up as a
    console error in tests that require none.
    """
    import functools
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/favicon.ico" and not Path(self.translate_path(self.path)).is_file():
                self.send_response(204)
                self.end_headers()
                return
            super().do_GET()

    servers = []

    def serve(folder) -> str:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
