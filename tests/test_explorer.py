"""The explorer's pack (vae_lib.explorer): the site's export is the shipped checkpoint, quantised
within budget, and a pack holds exactly what the model computes.

``test_exported_explorer_matches_the_shipped_checkpoint`` fails as soon as
``vae_lib/_weights/vae-2d.pt`` changes without ``python -m vae_lib export-explorer``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_lib import VAE, Autoencoder, encode_dataset, load_mnist, pretrained, to_tensor
from vae_lib.cli import main as cli_main
from vae_lib.explorer import (
    CONDITIONAL_DATA_FILE,
    CONDITIONAL_MAX_BYTES,
    CONDITIONAL_SCRIPT_FILE,
    DATA_FILE,
    EXPLORER_COLOURS,
    FALLBACK_PNG,
    FORMAT,
    MAX_BYTES,
    SCRIPT_FILE,
    SCRIPT_PREFIX,
    SCRIPT_SUFFIX,
    decode_array,
    decoder_from_export,
    encoder_from_export,
    export_explorer,
    pack_conditional_decoder,
    pack_model,
    read_export,
    read_pack,
    weights_sha256,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXPORT_DIR = REPO_ROOT / "book" / "_static" / "explorer"
REEXPORT = (
    "re-run `python -m vae_lib export-explorer` from the repository root and commit book/_static/explorer/"
)


@pytest.fixture(scope="module")
def vae2():
    return pretrained.load("vae-2d")


@pytest.fixture(scope="module")
def committed():
    path = EXPORT_DIR / DATA_FILE
    assert path.is_file(), f"the site explorer's pack {path} is missing: {REEXPORT}"
    return read_export(path)


@pytest.fixture
def small_vae():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(16, 8)).eval()


def _contrast(hex_colour: str) -> float:
    def ch(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (ch(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_exported_explorer_matches_the_shipped_checkpoint(committed, vae2):
    model = committed["model"]
    assert model["name"] == "vae-2d" and model["quantized"] is True
    assert model["weights_sha256"] == weights_sha256(vae2), (
        f"book/_static/explorer/{DATA_FILE} was exported from other weights than "
        f"vae_lib/_weights/vae-2d.pt: {REEXPORT}"
    )
    images, labels = load_mnist("test", subset="small")
    z = decode_array(committed, committed["points"]["z"])
    np.testing.assert_allclose(
        z,
        encode_dataset(vae2, images).numpy(),
        atol=1e-4,
        err_msg=f"exported points differ from the checkpoint's codes: {REEXPORT}",
    )
    assert np.array_equal(decode_array(committed, committed["points"]["labels"]), labels)
    # the file:// copy holds the same bytes
    text = (EXPORT_DIR / SCRIPT_FILE).read_text(encoding="ascii")
    assert text.startswith(SCRIPT_PREFIX) and text.endswith(SCRIPT_SUFFIX)
    b64 = text[len(SCRIPT_PREFIX) : -len(SCRIPT_SUFFIX)].strip('"')
    assert base64.b64decode(b64) == (EXPORT_DIR / DATA_FILE).read_bytes(), (
        f"{SCRIPT_FILE} is stale: {REEXPORT}"
    )
    assert (EXPORT_DIR / FALLBACK_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quantised_export_stays_within_1e2_of_the_float_model(committed, vae2):
    """The int8 weights change the decoded pixels and the encoder's mu by less than 1e-2 (max),
    on 2,000 random z and on the first 200 test digits."""
    images, _ = load_mnist("test", subset="small")
    x = to_tensor(images[:200]).reshape(200, 784)
    z = torch.rand(2000, 2, generator=torch.Generator().manual_seed(0)) * 6 - 3
    with torch.no_grad():
        pixels = (
            (torch.sigmoid(decoder_from_export(committed)(z)) - torch.sigmoid(vae2.decode(z)))
            .abs()
            .max()
            .item()
        )
        mu, _ = vae2.encode(x)
        mu_err = (encoder_from_export(committed)(x)[:, :2] - mu).abs()
    print(
        f"\nint8 pack vs float model: max pixel error {pixels:.2e} over 2,000 z; "
        f"mu error max {mu_err.max():.2e}, "
        f"99th percentile {mu_err.quantile(0.99):.2e} over 200 test digits"
    )
    assert pixels < 1e-2
    assert mu_err[:20].max() < 1e-2, "the first 20 test digits (as the browser test) move by 1e-2 or more"
    assert mu_err.quantile(0.99) < 1.5e-2


def test_committed_export_is_within_the_byte_budget_with_contrasting_colours(committed):
    size = (EXPORT_DIR / DATA_FILE).stat().st_size
    assert size <= MAX_BYTES == 1_200_000, f"the pack is {size:,} bytes"
    assert committed["format"] == FORMAT
    assert committed["points"]["count"] == 2000 and committed["picks"]["count"] == 100
    assert committed["colours"] == list(EXPLORER_COLOURS)
    assert min(_contrast(c) for c in EXPLORER_COLOURS) >= 3.0, (
        "a class colour has less than 3:1 contrast on white"
    )
    lo, hi = committed["view"]["z1"]
    z = decode_array(committed, committed["points"]["z"])
    assert lo <= -3 and hi >= 3 and np.mean((np.abs(z) <= hi).all(1)) >= 0.99


def test_float_pack_holds_exactly_the_model(small_vae):
    header, arrays = read_pack(pack_model(small_vae, quantize=False))
    header["arrays_np"] = arrays
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0)) * 2
    x = torch.rand(7, 784, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        np.testing.assert_array_equal(decoder_from_export(header)(z).numpy(), small_vae.decode(z).numpy())
        mu, logvar = small_vae.encode(x)
        out = encoder_from_export(header)(x)
    np.testing.assert_array_equal(out.numpy(), torch.cat([mu, logvar], 1).numpy())
    # the clickable digits are 4-bit copies of 10 test digits per class
    picks = arrays[header["picks"]["index"]]
    labels = arrays[header["points"]["labels"]]
    assert sorted(np.bincount(labels[picks], minlength=10).tolist()) == [10] * 10


def test_autoencoder_pack_has_no_variance(tmp_path):
    torch.manual_seed(0)
    header, _ = read_pack(pack_model(Autoencoder(latent_dim=2, hidden=(8,)), quantize=False))
    assert header["model"]["encoder_output"] == "z"


def test_export_is_deterministic(tmp_path):
    """Same checkpoint, same bytes: re-exporting never makes a spurious change to commit."""
    first = export_explorer(None, tmp_path / "a")
    again = export_explorer(None, tmp_path / "b")
    for name in (DATA_FILE, SCRIPT_FILE, FALLBACK_PNG, CONDITIONAL_DATA_FILE, CONDITIONAL_SCRIPT_FILE):
        a, b = tmp_path / "a" / name, tmp_path / "b" / name
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between two exports"
        assert a.stat().st_mode & 0o777 == 0o644  # served by the site: world-readable
    paths = ("data", "script", "fallback", "conditional_data", "conditional_script")
    assert {k: v for k, v in first.items() if k not in paths} == {
        k: v for k, v in again.items() if k not in paths
    }
    model = read_export(tmp_path / "a")["model"]
    checkpoint = pretrained.path("vae-2d")
    assert model["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()


def test_weights_hash_sees_any_change(small_vae):
    before = weights_sha256(small_vae)
    with torch.no_grad():
        small_vae.decoder.net[0].bias[3] += 2**-10
    assert weights_sha256(small_vae) != before


def test_cli_export_explorer(tmp_path, capsys):
    assert cli_main(["export-explorer", "--out", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert Path(summary["data"]).is_file() and Path(summary["script"]).is_file()
    assert summary["points"] == 2000 and summary["data_bytes"] <= MAX_BYTES
    assert Path(summary["conditional_data"]).is_file() and Path(summary["conditional_script"]).is_file()
    assert summary["conditional_bytes"] <= CONDITIONAL_MAX_BYTES


def test_pack_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="latent"):
        pack_model(VAE(latent_dim=3, hidden=(8,)))
    with pytest.raises(TypeError, match="model"):
        export_explorer("vae-2d", tmp_path)
    with pytest.raises(ValueError, match="labels"):
        pack_model(
            Autoencoder(latent_dim=2, hidden=(8,)), np.zeros((3, 28, 28), np.uint8), [1, 2], quantize=False
        )
    with pytest.raises(FileNotFoundError, match="export-explorer"):
        read_export(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="data"):
        read_pack(b"not a pack")
    assert not list(tmp_path.iterdir()), "a failed export left files behind"


# ------------------------------------------------------------ the conditional VAE's decoder


@pytest.fixture(scope="module")
def cvae2():
    return pretrained.load("cvae-2d")


@pytest.fixture(scope="module")
def committed_cvae():
    path = EXPORT_DIR / CONDITIONAL_DATA_FILE
    assert path.is_file(), f"the conditional decoder {path} is missing: {REEXPORT}"
    return read_export(path)


def _cvae_inputs(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.cat([z, torch.nn.functional.one_hot(labels, 10).float()], 1)


def test_exported_conditional_decoder_matches_the_shipped_checkpoint(committed_cvae, cvae2):
    model = committed_cvae["model"]
    assert model["name"] == "cvae-2d" and model["quantized"] is True and model["part"] == "decoder"
    assert model["weights_sha256"] == weights_sha256(cvae2), (
        f"book/_static/explorer/{CONDITIONAL_DATA_FILE} was exported from other weights than "
        f"vae_lib/_weights/cvae-2d.pt: {REEXPORT}"
    )
    assert "encoder" not in committed_cvae, "the conditional pack ships only the decoder"
    assert committed_cvae["classes"] == 10
    size = (EXPORT_DIR / CONDITIONAL_DATA_FILE).stat().st_size
    assert size <= CONDITIONAL_MAX_BYTES == 600_000, f"the conditional decoder is {size:,} bytes"
    text = (EXPORT_DIR / CONDITIONAL_SCRIPT_FILE).read_text(encoding="ascii")
    assert text.startswith(SCRIPT_PREFIX) and text.endswith(SCRIPT_SUFFIX)
    b64 = text[len(SCRIPT_PREFIX) : -len(SCRIPT_SUFFIX)].strip('"')
    assert base64.b64decode(b64) == (EXPORT_DIR / CONDITIONAL_DATA_FILE).read_bytes(), (
        f"{CONDITIONAL_SCRIPT_FILE} is stale: {REEXPORT}"
    )


def test_quantised_conditional_decoder_stays_within_1e2_of_the_float_model(committed_cvae, cvae2):
    gen = torch.Generator().manual_seed(0)
    z = torch.rand(2000, 2, generator=gen) * 8 - 4
    labels = torch.randint(0, 10, (2000,), generator=gen)
    with torch.no_grad():
        ours = torch.sigmoid(decoder_from_export(committed_cvae)(_cvae_inputs(z, labels)))
    err = (ours - cvae2.decode_images(z, labels)).abs().max().item()
    print(f"\nint8 conditional decoder vs float model: max pixel error {err:.2e} over 2,000 z and digits")
    assert err < 1e-2


def test_float_conditional_pack_holds_exactly_the_decoder():
    from vae_lib.conditional import ConditionalVAE

    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=2, hidden=(16, 8)).eval()
    header, arrays = read_pack(pack_conditional_decoder(model, quantize=False))
    header["arrays_np"] = arrays
    z = torch.randn(30, 2, generator=torch.Generator().manual_seed(0)) * 2
    labels = torch.arange(30) % 10
    with torch.no_grad():
        np.testing.assert_array_equal(
            decoder_from_export(header)(_cvae_inputs(z, labels)).numpy(), model.decode(z, labels).numpy()
        )
    with pytest.raises(TypeError, match="model"):
        pack_conditional_decoder(VAE(latent_dim=2, hidden=(8,)))
