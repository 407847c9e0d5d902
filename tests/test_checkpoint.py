"""Saving and loading: round trip, atomic writes, a clear error for the wrong file or model."""

import pytest
import torch

from vae_lib import VAE, Autoencoder, load, save


def test_save_load_round_trip_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=(16, 8), likelihood="gaussian")
    save(model, tmp_path / "m.pt", metrics={"test_elbo": -100.0})
    loaded = load(tmp_path / "m.pt")
    assert loaded.config == model.config and not loaded.training
    z = torch.randn(4, 3)
    torch.testing.assert_close(loaded.decode(z), model.decode(z))
    assert loaded.checkpoint_metrics == {"test_elbo": -100.0}


def test_float16_checkpoints_load_as_float32(tmp_path):
    model = VAE(latent_dim=2, hidden=(16,))
    save(model, tmp_path / "h.pt", dtype=torch.float16)
    loaded = load(tmp_path / "h.pt")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    torch.testing.assert_close(loaded.decoder.net[0].weight, model.decoder.net[0].weight.half().float())


def test_loading_into_a_different_model_names_what_differs(tmp_path):
    save(VAE(latent_dim=2, hidden=(16,)), tmp_path / "vae.pt")
    with pytest.raises(ValueError, match="different model.*latent_dim"):
        load(tmp_path / "vae.pt", model=VAE(latent_dim=20, hidden=(16,)))
    with pytest.raises(ValueError, match="different model.*kind"):
        load(tmp_path / "vae.pt", model=Autoencoder(latent_dim=2, hidden=(16,)))


def test_a_file_that_is_not_a_checkpoint_is_rejected(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable vae_lib checkpoint"):
        load(bad)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a vae_lib checkpoint"):
        load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load(tmp_path / "missing.pt")


def test_truncated_checkpoint_is_rejected(tmp_path):
    save(VAE(latent_dim=2, hidden=(16,)), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable vae_lib checkpoint"):
        load(tmp_path / "t.pt")


def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save(VAE(latent_dim=2, hidden=(16,)), path)
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save(VAE(latent_dim=2, hidden=(16,)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind
