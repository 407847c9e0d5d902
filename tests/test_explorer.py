"""The export behind the site's latent explorer (vae_lib.explorer, book/_static/explorer/).

The site must never show a stale explorer: the committed export records the SHA-256 of the
weights it was made from, and ``test_exported_explorer_matches_the_shipped_checkpoint``
fails as soon as ``vae_lib/_weights/vae-2d.pt`` changes without
``python -m vae_lib export-explorer``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_lib import VAE, Autoencoder, encode_dataset, load_mnist, pretrained
from vae_lib.cli import main as cli_main
from vae_lib.explorer import (DATA_FILE, FALLBACK_PNG, FORMAT, decode_array, decoder_from_export,
                              export_explorer, read_export, weights_sha256)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPORT_DIR = REPO_ROOT / "book" / "_static" / "explorer"
REEXPORT = "re-run `python -m vae_lib export-explorer` from the repository root and commit book/_static/explorer/"


@pytest.fixture(scope="module")
def vae2():
    return pretrained.load("vae-2d")


@pytest.fixture(scope="module")
def committed():
    path = EXPORT_DIR / DATA_FILE
    assert path.is_file(), f"the site explorer's data file {path} is missing: {REEXPORT}"
    return read_export(path)


@pytest.fixture
def small_vae():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(16, 8)).half().float().eval()


def test_exported_explorer_matches_the_shipped_checkpoint(committed, vae2):
    model = committed["model"]
    assert model["name"] == "vae-2d"
    assert model["weights_sha256"] == weights_sha256(vae2), (
        "book/_static/explorer/vae-2d.js was exported from other weights than "
        f"vae_lib/_weights/vae-2d.pt (stale explorer): {REEXPORT}"
    )
    # the hash is not all: the arrays in the file are the checkpoint's decoder, bit for bit
    linears = [m for m in vae2.decoder.net if isinstance(m, torch.nn.Linear)]
    layers = committed["decoder"]["layers"]
    assert [(L["in"], L["out"]) for L in layers] == [(2, 256), (256, 512), (512, 784)]
    for layer, linear in zip(layers, linears):
        for key in ("weight", "bias"):
            exported = decode_array(layer[key]).astype(np.float32)
            assert np.array_equal(exported, getattr(linear, key).detach().numpy()), f"decoder {key} differs: {REEXPORT}"
    assert model["lossless"] is True
    # the map's points are this model's codes of the shipped test subset
    images, labels = load_mnist("test", subset="small")
    z = decode_array(committed["points"]["z"])
    np.testing.assert_allclose(z, encode_dataset(vae2, images).numpy(), atol=1e-4,
                               err_msg=f"exported points differ from the checkpoint's codes: {REEXPORT}")
    assert np.array_equal(decode_array(committed["points"]["labels"]), labels)
    assert (EXPORT_DIR / FALLBACK_PNG).is_file(), f"the fallback figure is missing: {REEXPORT}"


def test_committed_export_is_compact_and_complete(committed):
    data = EXPORT_DIR / DATA_FILE
    png = EXPORT_DIR / FALLBACK_PNG
    assert data.stat().st_size + png.stat().st_size <= 2_000_000
    assert committed["format"] == FORMAT
    assert committed["points"]["count"] == 2000
    assert committed["colours"] == ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933",
                                    "#DDCC77", "#CC6677", "#882255", "#AA4499", "#777777"]
    lo, hi = committed["view"]["z1"]
    z = decode_array(committed["points"]["z"])
    assert lo <= -3 and hi >= 3 and np.mean((np.abs(z) <= hi).all(1)) >= 0.99
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_exported_decoder_computes_what_the_model_computes(tmp_path, small_vae):
    export_explorer(small_vae, tmp_path)
    header = read_export(tmp_path)
    decoder = decoder_from_export(header)
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0)) * 2
    with torch.no_grad():
        np.testing.assert_array_equal(decoder(z).numpy(), small_vae.decode(z).numpy())


def test_export_is_deterministic(tmp_path, vae2):
    """Same checkpoint, same bytes: re-exporting never makes a spurious change to commit."""
    first = export_explorer(None, tmp_path / "a")
    again = export_explorer(None, tmp_path / "b")
    for name in (DATA_FILE, FALLBACK_PNG):
        a, b = tmp_path / "a" / name, tmp_path / "b" / name
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between two exports"
        assert a.stat().st_mode & 0o777 == 0o644  # served by the site: world-readable
    assert first == {**again, "data": first["data"], "fallback": first["fallback"]}
    assert first["data_bytes"] <= 2_000_000
    # the same weights handed in as a model give the same arrays (only the source differs)
    export_explorer(vae2, tmp_path / "c")
    direct, default = read_export(tmp_path / "c"), read_export(tmp_path / "a")
    assert direct["decoder"] == default["decoder"] and direct["points"] == default["points"]
    assert direct["model"]["weights_sha256"] == default["model"]["weights_sha256"]


def test_default_export_records_the_checkpoint(tmp_path):
    export_explorer(out_dir=tmp_path)
    model = read_export(tmp_path)["model"]
    checkpoint = pretrained.path("vae-2d")
    assert model["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert model["config"] == {"kind": "vae", "latent_dim": 2, "hidden": [512, 256],
                               "likelihood": "bernoulli", "input_dim": 784}


def test_weights_hash_sees_any_change(small_vae):
    before = weights_sha256(small_vae)
    with torch.no_grad():
        small_vae.decoder.net[0].bias[3] += 2 ** -10
    assert weights_sha256(small_vae) != before


def test_cli_export_explorer(tmp_path, capsys):
    assert cli_main(["export-explorer", "--out", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert Path(summary["data"]).is_file() and Path(summary["fallback"]).is_file()
    assert summary["points"] == 2000 and summary["lossless"] is True


def test_export_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="latent"):
        export_explorer(VAE(latent_dim=3, hidden=(8,)), tmp_path)
    with pytest.raises(TypeError, match="model"):
        export_explorer("vae-2d", tmp_path)
    with pytest.raises(ValueError, match="labels"):
        export_explorer(Autoencoder(latent_dim=2, hidden=(8,)), tmp_path,
                        images=np.zeros((3, 28, 28), np.uint8), labels=[1, 2])
    with pytest.raises(FileNotFoundError, match="export-explorer"):
        read_export(tmp_path / "nowhere")
    assert not list(tmp_path.iterdir()), "a failed export left files behind"
