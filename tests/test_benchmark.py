"""The training-speed benchmark: its reference data path, and a smoke run (the full run is a
script, never a timed test)."""
import re
import subprocess
import sys
from pathlib import Path

import torch

import vae_lib

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import train_speed  # noqa: E402


def test_reference_datasets_give_the_images_vae_lib_trains_on_bit_for_bit():
    images, labels = vae_lib.load_mnist("train", subset="small")
    images, labels = images[:64], labels[:64]
    expected = vae_lib.to_tensor(images)
    for dataset in (train_speed.TorchvisionMNIST(images, labels), train_speed.MNISTItems(images, labels)):
        loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=False)
        batches = list(loader)
        x = torch.cat([data for data, _ in batches])
        assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
        assert torch.equal(x.view(64, 784), expected)
        assert torch.equal(torch.cat([target for _, target in batches]), torch.from_numpy(labels))


def test_pil_to_tensor_scales_uint8_to_the_unit_interval_as_torchvision_does():
    from PIL import Image
    import numpy as np

    pixels = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    tensor = train_speed.pil_to_tensor(Image.fromarray(pixels, mode="L"))
    assert tensor.shape == (1, 1, 4)
    assert torch.equal(tensor, torch.tensor([[[0, 1, 128, 255]]], dtype=torch.float32) / 255)


def test_train_speed_quick_mode_prints_the_table_and_the_ratio_last():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--quick"],
                            capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[-1])
    assert re.fullmatch(r"ratio to reference-lean: \d+\.\d\d", lines[-2])
    rows = {"reference", "reference-lean", "vae_lib.fit"}
    table = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in rows}
    assert set(table) == rows
    for row in table.values():  # images/s, fraction of the compute bound, test loss
        assert float(row[1].replace(",", "")) > 0 and row[2].endswith("%") and 80 < float(row[3]) < 400
    # the two references are the same loop on the same pixels: the same seed gives the same loss
    assert table["reference"][3] == table["reference-lean"][3]
    images_per_second = {name: float(row[1].replace(",", "")) for name, row in table.items()}
    ratio = images_per_second["vae_lib.fit"] / images_per_second["reference"]  # one repeat: no median
    assert abs(float(lines[-1].split()[1]) - ratio) < 0.006
