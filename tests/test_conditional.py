"""The conditional VAE of lesson 14-8: shapes, label conditioning, determinism, training, errors."""

import pytest
import torch

from vae_lib import VAEOutput, load_mnist, pretrained, to_tensor, vae_loss
from vae_lib.conditional import ConditionalVAE, conditional_elbo, fit_conditional


@pytest.fixture(scope="module")
def small():
    images, labels = load_mnist("train", subset="small")
    return to_tensor(images)[:1000], torch.as_tensor(labels).long()[:1000]


def test_methods_return_the_shapes_of_vae_with_labels():
    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=3, hidden=(32,))
    x, y = torch.rand(5, 784), torch.tensor([0, 1, 2, 3, 9])
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decode(mu, y).shape == (5, 784)
    images = model.decode_images(mu, y)
    assert images.shape == (5, 784) and images.min() >= 0 and images.max() <= 1
    out = model(x, y)
    assert isinstance(out, VAEOutput) and out.z.shape == (5, 3)
    assert torch.isfinite(vae_loss(out, x).total)
    assert model.sample(4, 7).shape == (4, 784)


def test_the_label_changes_the_decoded_image():
    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=2, hidden=(16,))
    z = torch.zeros(10, 2)
    images = model.decode_images(z, torch.arange(10))
    assert (images[0] - images[1]).abs().max() > 0


def test_sampling_with_a_seeded_generator_is_deterministic():
    model = pretrained.load("cvae-2d")
    a = model.sample(6, 3, generator=torch.Generator().manual_seed(1))
    b = model.sample(6, 3, generator=torch.Generator().manual_seed(1))
    c = model.sample(6, 3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_shipped_model_writes_the_digit_it_is_asked_for():
    cvae, clf = pretrained.load("cvae-2d"), pretrained.load("mnist-classifier")
    labels = torch.arange(10).repeat_interleave(50)
    images = cvae.sample(len(labels), labels, generator=torch.Generator().manual_seed(0))
    assert (clf.predict(images) == labels).double().mean() >= 0.95


def test_fit_conditional_lowers_the_loss_and_is_reproducible(small):
    x, y = small
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = ConditionalVAE(latent_dim=2, hidden=(64,))
        runs.append((fit_conditional(model, x, y, epochs=3, batch_size=100, seed=0), model))
    (losses, model), (losses2, _) = runs
    assert losses == losses2
    assert losses[-1] < losses[0]
    assert not model.training
    assert conditional_elbo(model, x[:200], y[:200]) < 0


@pytest.mark.parametrize(
    "labels, message",
    [
        (torch.tensor([0.0, 1.0]), "integer digits"),
        (torch.tensor([0, 10]), "digits 0-9"),
        (torch.tensor([0, 1, 2]), "one label per row"),
        ([0, 1], "torch.Tensor"),
    ],
)
def test_bad_labels_are_rejected_naming_the_argument(labels, message):
    model = ConditionalVAE(latent_dim=2, hidden=(8,))
    with pytest.raises((TypeError, ValueError), match=f"labels.*{message}|{message}"):
        model.encode(torch.rand(2, 784), labels)


def test_bad_z_is_rejected_naming_the_argument():
    model = ConditionalVAE(latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match=r"z must be a tensor of shape \[N, 2\]"):
        model.decode(torch.zeros(3, 5), torch.zeros(3, dtype=torch.long))
