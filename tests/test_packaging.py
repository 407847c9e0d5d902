"""The built wheel declares every import: installed into a fresh virtual environment with only
its declared dependencies (no system site-packages), every module imports.

Offline and fast: torch comes from the local wheel folder of pip's configuration
(``/opt/wheels``) and the other dependencies from the local package indexes; where those are
missing the test is skipped with the reason, since pip could not install without a network.
"""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import vae_lib

REPO = Path(__file__).resolve().parents[1]
LOCAL_WHEELS = Path("/opt/wheels")
LOCAL_INDEXES = [Path("/opt/pypi/simple"), Path("/opt/pypi-more/simple")]

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(
        not (LOCAL_WHEELS.is_dir() and list(LOCAL_WHEELS.glob("torch-*.whl")) and LOCAL_INDEXES[0].is_dir()),
        reason="no local torch wheel / package index: pip cannot install offline here",
    ),
]

COURSE = "vae_lib.course"
ALIASES = {"vae_lib.assign", "vae_lib.checks", "vae_lib.explorer", "vae_lib.plots", "vae_lib.widgets"}


def all_modules() -> list[str]:
    names = ["vae_lib"]
    for info in pkgutil.walk_packages(vae_lib.__path__, "vae_lib."):
        if info.name != "vae_lib.__main__":
            names.append(info.name)
    return sorted(names)


def core_modules() -> list[str]:
    return [m for m in all_modules() if not m.startswith(COURSE) and m not in ALIASES]


def _pip(python: Path, *args: str) -> None:
    index = [f"--index-url=file://{LOCAL_INDEXES[0]}"]
    index += [f"--extra-index-url=file://{p}" for p in LOCAL_INDEXES[1:] if p.is_dir()]
    cmd = [
        str(python),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        f"--find-links={LOCAL_WHEELS}",
        *index,
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # only the sources given here, no network index
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if result.returncode != 0 and "No matching distribution" in result.stderr:
        pytest.skip(f"pip could not install offline: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, result.stderr[-3000:]


def _imports(python: Path, modules: list[str]) -> subprocess.CompletedProcess:
    code = "\n".join(
        [
            "import importlib, sys",
            "bad = []",
            "for m in sys.argv[1:]:",
            "    try:",
            "        importlib.import_module(m)",
            "    except Exception as e:",
            "        bad.append(f'{m}: {type(e).__name__}: {e}')",
            "print(chr(10).join(bad))",
            "sys.exit(1 if bad else 0)",
        ]
    )
    return subprocess.run(
        [str(python), "-c", code, *modules], capture_output=True, text=True, timeout=600, cwd="/"
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")  # a copy: setuptools writes build/ beside the sources
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "vae_lib", source / "vae_lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = out.glob("vae_lib-*.whl")
    return built


def test_the_wheel_carries_the_version_from_its_one_source(wheel):
    assert wheel.name.startswith(f"vae_lib-{vae_lib.__version__}-")


def test_a_fresh_venv_with_the_declared_dependencies_imports_every_module(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _pip(python, str(wheel))
    core = _imports(python, core_modules())
    assert core.returncode == 0, f"core modules need undeclared packages:\n{core.stdout}{core.stderr[-2000:]}"
    _pip(python, f"{wheel}[course,widgets]")
    everything = _imports(python, all_modules())
    assert everything.returncode == 0, (
        f"with the extras, still missing:\n{everything.stdout}{everything.stderr[-2000:]}"
    )
