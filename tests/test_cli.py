"""The command line: python -m vae_lib ..."""
import json
import subprocess
import sys

import pytest

from vae_lib import load
from vae_lib.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vae_lib", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("train", "train-pretrained", "evaluate", "info"):
        assert command in result.stdout


def test_train_writes_a_loadable_checkpoint_with_its_metrics(tmp_path, capsys):
    out = tmp_path / "vae.pt"
    code = main(["train", "--subset", "small", "--epochs", "1", "--hidden", "32", "--latent-dim", "2",
                 "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["saved"] == str(out) and printed["test_elbo"] < 0
    model = load(out)
    assert model.latent_dim == 2 and model.hidden == (32,)
    assert model.checkpoint_metrics["test_elbo"] == printed["test_elbo"]


def test_evaluate_reports_elbo_below_log_likelihood(tmp_path, capsys):
    code = main(["evaluate", "vae-2d", "--subset", "small", "--limit", "100", "--k", "50"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 100
    assert result["elbo"] <= result["log_likelihood_k50"]


def test_bad_input_gives_a_one_line_error_and_exit_code_2(tmp_path):
    result = run("evaluate", "vae-3d")
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    result = run("train", "--latent-dim", "0", "--subset", "small", "--out", str(tmp_path / "x.pt"), "--quiet")
    assert result.returncode == 2 and "--latent-dim: must be a positive integer" in result.stderr
    assert not (tmp_path / "x.pt").exists()
