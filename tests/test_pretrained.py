"""The checkpoints shipped in the package: present, small, loadable, and as good as recorded."""

import json

import pytest
import torch

from vae_lib import VAE, Autoencoder, elbo, load_mnist, pretrained, to_tensor
from vae_lib.classifier import MNISTClassifier
from vae_lib.conditional import ConditionalVAE, conditional_elbo
from vae_lib.diffusion import LatentDiffusion

CLASSES = {
    "vae": VAE,
    "autoencoder": Autoencoder,
    "conditional-vae": ConditionalVAE,
    "latent-diffusion": LatentDiffusion,
    "mnist-classifier": MNISTClassifier,
}


def full_test_set():
    try:
        images, labels = load_mnist("test", subset="full", download=False)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        pytest.skip(f"full MNIST not available: {e}")
    return to_tensor(images), torch.as_tensor(labels).long()


@pytest.mark.parametrize("name", pretrained.available())
def test_shipped_checkpoint_loads_and_is_at_most_3_mb(name):
    assert pretrained.path(name).stat().st_size <= 3 * 2**20
    model = pretrained.load(name)
    recipe = pretrained.RECIPES[name]
    assert isinstance(model, CLASSES[recipe["kind"]])
    if recipe["kind"] in ("vae", "autoencoder", "conditional-vae"):
        assert model.latent_dim == recipe["latent_dim"] and list(model.hidden) == recipe["hidden"]
    assert not model.training


@pytest.mark.parametrize("name", pretrained.available())
def test_shipped_checkpoint_is_readable_with_weights_only(name):
    payload = torch.load(pretrained.path(name), map_location="cpu", weights_only=True)
    assert payload["config"]["kind"] == pretrained.RECIPES[name]["kind"]
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values() if v.is_floating_point())


def test_quality_targets_on_the_full_test_set_are_met():
    assert -pretrained.info("vae-2d")["test_elbo"] <= 150.0
    assert -pretrained.info("vae-20d")["test_elbo"] <= 103.0
    assert pretrained.info("mnist-classifier")["test_accuracy"] >= 0.98


@pytest.mark.parametrize("name", ["vae-2d", "vae-20d"])
def test_recorded_test_elbo_is_reproduced(name):
    images, _ = full_test_set()
    value = elbo(pretrained.load(name), images, samples=10)
    assert value == pytest.approx(pretrained.info(name)["test_elbo"], abs=0.05)


def test_recorded_conditional_elbo_and_classifier_accuracy_are_reproduced():
    images, labels = full_test_set()
    cvae = pretrained.load("cvae-2d")
    assert conditional_elbo(cvae, images, labels, samples=10) == pytest.approx(
        pretrained.info("cvae-2d")["test_elbo"], abs=0.05
    )
    clf = pretrained.load("mnist-classifier")
    assert clf.accuracy(images, labels) == pytest.approx(
        pretrained.info("mnist-classifier")["test_accuracy"], abs=1e-4
    )


def test_recorded_denoising_loss_of_the_diffusion_prior_is_reproduced():
    images, _ = full_test_set()
    prior, vae = pretrained.load("latent-diffusion-20d"), pretrained.load("vae-20d")
    codes = pretrained.diffusion_codes(vae, images, seed=0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        loss = sum(prior.loss(codes, gen).item() for _ in range(10)) / 10
    assert loss == pytest.approx(pretrained.info("latent-diffusion-20d")["test_denoising_loss"], abs=1e-3)


def test_metrics_file_beside_each_checkpoint_matches_it():
    for name in pretrained.available():
        side = json.loads(pretrained.path(name).with_suffix(".json").read_text())
        info = pretrained.info(name)
        assert side["recipe"] == pretrained.RECIPES[name]
        for key, value in side.items():
            if key != "recipe":
                assert info[key] == value


def test_diffusion_prior_is_trained_for_the_shipped_vae_20d():
    recipe = pretrained.RECIPES["latent-diffusion-20d"]
    assert recipe["vae"] == "vae-20d" and recipe["dim"] == pretrained.RECIPES["vae-20d"]["latent_dim"]
    codes = pretrained.load("latent-diffusion-20d").sample(8, generator=torch.Generator().manual_seed(0))
    images = pretrained.load("vae-20d").decode_images(codes)
    assert images.shape == (8, 784) and images.min() >= 0 and images.max() <= 1


def test_unknown_name_is_rejected_with_the_available_names():
    with pytest.raises(
        ValueError,
        match=r"name must be one of \['ae-2d', 'cvae-2d', 'latent-diffusion-20d', "
        r"'mnist-classifier', 'vae-20d', 'vae-2d'\]",
    ):
        pretrained.load("vae-3d")


@pytest.mark.parametrize("bad", [["vae-2d"], 2, None])
def test_a_name_that_is_not_a_string_is_rejected_naming_the_argument(bad):
    with pytest.raises(TypeError, match=r"name must be a string"):
        pretrained.load(bad)
