"""The checkpoints shipped in the package: present, small, loadable, and as good as recorded."""
import json

import pytest
import torch

from vae_lib import VAE, Autoencoder, elbo, load_mnist, pretrained, to_tensor


@pytest.mark.parametrize("name", pretrained.available())
def test_shipped_checkpoint_loads_and_is_at_most_3_mb(name):
    assert pretrained.path(name).stat().st_size <= 3 * 2**20
    model = pretrained.load(name)
    recipe = pretrained.RECIPES[name]
    assert isinstance(model, VAE if recipe["kind"] == "vae" else Autoencoder)
    assert model.latent_dim == recipe["latent_dim"] and list(model.hidden) == recipe["hidden"]
    assert not model.training


def test_quality_targets_on_the_full_test_set_are_met():
    assert -pretrained.info("vae-2d")["test_elbo"] <= 150.0
    assert -pretrained.info("vae-20d")["test_elbo"] <= 103.0


@pytest.mark.parametrize("name", ["vae-2d", "vae-20d"])
def test_recorded_test_elbo_is_reproduced(name):
    try:
        images, _ = load_mnist("test", subset="full", download=False)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        pytest.skip(f"full MNIST not available: {e}")
    value = elbo(pretrained.load(name), to_tensor(images), samples=10)
    assert value == pytest.approx(pretrained.info(name)["test_elbo"], abs=0.05)


def test_metrics_file_beside_each_checkpoint_matches_it():
    for name in pretrained.available():
        side = json.loads(pretrained.path(name).with_suffix(".json").read_text())
        info = pretrained.info(name)
        assert side["recipe"] == pretrained.RECIPES[name]
        for key, value in side.items():
            if key != "recipe":
                assert info[key] == value


def test_unknown_name_is_rejected_with_the_available_names():
    with pytest.raises(ValueError, match=r"name must be one of \['ae-2d', 'vae-20d', 'vae-2d'\]"):
        pretrained.load("vae-3d")
