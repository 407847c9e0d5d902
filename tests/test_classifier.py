"""The evaluation classifier of lesson 14-8 and the Fréchet distance on its features."""

import numpy as np
import pytest
import torch

from vae_lib import load_mnist, pretrained, to_tensor
from vae_lib.classifier import MNISTClassifier, fit_classifier, frechet_distance, random_shift


@pytest.fixture(scope="module")
def test_subset():
    images, labels = load_mnist("test", subset="small")
    return to_tensor(images), torch.as_tensor(labels).long()


def test_predict_proba_gives_a_distribution_over_ten_digits(test_subset):
    x, _ = test_subset
    p = pretrained.load("mnist-classifier").predict_proba(x[:50])
    assert p.shape == (50, 10) and bool((p >= 0).all())
    assert torch.allclose(p.sum(1), torch.ones(50), atol=1e-5)


def test_shipped_classifier_reads_at_least_98_percent_of_the_test_subset(test_subset):
    x, y = test_subset
    assert pretrained.load("mnist-classifier").accuracy(x, y) >= 0.98


def test_features_are_the_128_penultimate_activations(test_subset):
    x, _ = test_subset
    clf = pretrained.load("mnist-classifier")
    f = clf.features(x[:20])
    assert f.shape == (20, 128) and bool((f >= 0).all())  # after a ReLU


def test_frechet_distance_is_zero_for_the_same_set_and_symmetric():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(3000, 4, generator=gen), torch.randn(3000, 4, generator=gen) + 1
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # N(0, I) vs N(m, 4 I) in k dims: |m|^2 + k (1 + 4 - 2 * 2) = |m|^2 + k
    gen = torch.Generator().manual_seed(0)
    k, n = 3, 200_000
    a = torch.randn(n, k, generator=gen, dtype=torch.float64)
    b = 2 * torch.randn(n, k, generator=gen, dtype=torch.float64) + torch.tensor(
        [1.0, 0.0, 2.0], dtype=torch.float64
    )
    assert frechet_distance(a, b) == pytest.approx(5 + k, rel=0.02)


def test_random_shift_moves_the_ink_without_losing_it_when_it_fits():
    img = torch.zeros(1, 28, 28)
    img[0, 10:14, 10:14] = 1
    out = random_shift(img.reshape(1, 784), 2, torch.Generator().manual_seed(0))
    assert out.sum() == img.sum()


def test_fit_classifier_learns_the_training_subset():
    images, labels = load_mnist("train", subset="small")
    x, y = to_tensor(images)[:2000], torch.as_tensor(labels).long()[:2000]
    torch.manual_seed(0)
    model = MNISTClassifier(hidden=(64, 32))
    losses = fit_classifier(model, x, y, epochs=3, batch_size=32, lr=3e-3, max_shift=0, seed=0)
    assert losses[-1] < losses[0] and model.accuracy(x, y) > 0.8


def test_bad_inputs_are_rejected_naming_the_argument():
    clf = MNISTClassifier()
    with pytest.raises(ValueError, match="images must have shape"):
        clf.predict_proba(torch.rand(3, 28, 28))
    with pytest.raises(ValueError, match="features_a must be a tensor"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="labels must be digits 0-9"):
        clf.accuracy(torch.rand(2, 784), np.array([0, 11]))
