"""Smoke run of the training-speed benchmark (the full run is a script, never a timed test)."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_train_speed_quick_mode_prints_the_table_and_the_ratio_last():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--quick"],
                            capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[-1])
    table = {line.split()[0]: line.split() for line in lines if line.startswith(("reference", "vae_lib.fit"))}
    assert set(table) == {"reference", "vae_lib.fit"}
    for row in table.values():  # images/s, fraction of the compute bound, test loss
        assert float(row[1].replace(",", "")) > 0 and row[2].endswith("%") and 80 < float(row[3]) < 400
