"""The command line: python -m vae_lib ..."""

import json
import subprocess
import sys

import pytest

from vae_lib import load
from vae_lib.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vae_lib", *args], capture_output=True, text=True, timeout=300
    )


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("train", "train-pretrained", "evaluate", "info"):
        assert command in result.stdout


def test_train_writes_a_loadable_checkpoint_with_its_metrics(tmp_path, capsys):
    out = tmp_path / "vae.pt"
    code = main(
        [
            "train",
            "--subset",
            "small",
            "--epochs",
            "1",
            "--hidden",
            "32",
            "--latent-dim",
            "2",
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
        ]
    )
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
    result = run(
        "train", "--latent-dim", "0", "--subset", "small", "--out", str(tmp_path / "x.pt"), "--quiet"
    )
    assert result.returncode == 2 and "--latent-dim: must be a positive integer" in result.stderr
    assert not (tmp_path / "x.pt").exists()


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_an_unwritable_output_path_is_reported_before_training(tmp_path):
    # /dev/null is a file, so /dev/null/m.pt can never be written: said at once, not after training
    line = _one_line_error(
        run("train", "--subset", "small", "--epochs", "50", "--out", "/dev/null/m.pt", "--quiet")
    )
    assert "--out" in line and "is a file" in line


def test_asking_for_a_device_that_is_not_there_says_so(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    line = _one_line_error(
        run("train", "--subset", "small", "--out", str(tmp_path / "m.pt"), "--device", "cuda", "--quiet")
    )
    assert "CUDA is not available" in line and not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("limit", ["0", "-5", "two"])
def test_limit_must_be_a_positive_integer(limit):
    line = _one_line_error(run("evaluate", "vae-2d", "--subset", "small", "--limit", limit))
    assert "--limit: must be a positive integer" in line


def test_a_file_given_as_the_data_folder_is_one_line(tmp_path):
    a_file = tmp_path / "data.txt"
    a_file.write_text("not MNIST")
    line = _one_line_error(run("evaluate", "vae-2d", "--data", str(a_file), "--limit", "5"))
    assert "is a file" in line


def test_export_explorer_to_an_unwritable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line_error(run("export-explorer", "--out", str(blocker / "explorer")))
    assert "--out" in line


def test_a_multi_line_library_error_is_printed_on_one_line(capsys, monkeypatch):
    import vae_lib.cli as cli

    def fail(args):
        raise RuntimeError("could not download x; every mirror failed:\n  a: boom\n  b: boom")

    monkeypatch.setattr(cli, "_cmd_info", fail)
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a: boom; b: boom" in err
