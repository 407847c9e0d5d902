"""The training loop: it learns, it is repeatable, it stops on NaN, it names bad input."""
import numpy as np
import pytest
import torch

from vae_lib import VAE, Autoencoder, fit, load_mnist, to_tensor


@pytest.fixture(scope="module")
def small():
    images, _ = load_mnist("train", subset="small")
    return to_tensor(images[:1024])


def test_fit_lowers_the_vae_loss_and_records_every_term(small):
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(64,))
    history = fit(model, small, epochs=3, test=small[:256], progress=False)
    assert history.epochs == 3
    assert history.train["total"][-1] < history.train["total"][0] - 20
    for e in range(3):
        assert history.train["total"][e] == pytest.approx(
            history.train["reconstruction"][e] + history.train["kl"][e], rel=1e-5)
        assert history.train["kl"][e] > 0
    assert len(history.test["total"]) == 3 and history.images_per_second > 0


def test_fit_trains_an_autoencoder_with_zero_kl(small):
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=2, hidden=(64,))
    history = fit(model, small, epochs=2, progress=False)
    assert history.train["kl"] == [0.0, 0.0]
    assert history.train["total"][-1] < history.train["total"][0]


def test_fit_is_bit_for_bit_repeatable_with_the_same_seed(small):
    def run(seed):
        torch.manual_seed(0)
        model = VAE(latent_dim=2, hidden=(32,))
        history = fit(model, small[:512], epochs=2, seed=seed, progress=False)
        return history.train["total"], [p.detach().clone() for p in model.parameters()]

    loss_a, params_a = run(seed=5)
    loss_b, params_b = run(seed=5)
    loss_c, _ = run(seed=6)
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(params_a, params_b))
    assert loss_a != loss_c


def test_beta_weights_the_kl_term_in_the_total(small):
    torch.manual_seed(0)
    history = fit(VAE(latent_dim=2, hidden=(32,)), small[:512], epochs=1, beta=4.0, progress=False)
    assert history.train["total"][0] == pytest.approx(
        history.train["reconstruction"][0] + 4.0 * history.train["kl"][0], rel=1e-5)


def test_fit_accepts_uint8_images_as_load_mnist_returns_them():
    images, _ = load_mnist("train", subset="small")
    history = fit(VAE(latent_dim=2, hidden=(16,)), images[:256], epochs=1, progress=False)
    assert np.isfinite(history.train["total"][0])


def test_fit_stops_with_a_clear_error_when_the_loss_diverges(small):
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(32,))
    with torch.no_grad():
        model.encoder.net[0].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="the loss became nan"):
        fit(model, small[:256], epochs=1, progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(epochs=1, batch_size=0), "batch_size must be a positive integer"),
    (dict(epochs=1, lr=-1.0), "lr must be a positive number"),
    (dict(epochs=1, beta=float("nan")), "beta must be a finite number"),
])
def test_bad_arguments_are_named(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(VAE(latent_dim=2, hidden=(8,)), small[:64], progress=False, **kwargs)


def test_images_outside_the_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"train must hold pixel values in \[0, 1\]"):
        fit(VAE(latent_dim=2, hidden=(8,)), torch.full((4, 784), 2.0), epochs=1, progress=False)


def test_wrongly_shaped_training_data_is_rejected():
    with pytest.raises(ValueError, match="images"):
        fit(VAE(latent_dim=2, hidden=(8,)), torch.rand(4, 100), epochs=1, progress=False)


def test_callback_sees_the_history_after_every_epoch_with_the_model_in_eval_mode(small):
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(16,))
    seen = []

    def callback(history):
        seen.append((history.epochs, len(history.test["total"]), model.training))

    fit(model, small[:256], epochs=3, test=small[:64], progress=False, callback=callback)
    assert seen == [(1, 1, False), (2, 2, False), (3, 3, False)]


def test_callback_does_not_change_the_result(small):
    def run(callback):
        torch.manual_seed(0)
        model = VAE(latent_dim=2, hidden=(16,))
        return fit(model, small[:256], epochs=2, progress=False, callback=callback).train["total"]

    assert run(None) == run(lambda history: torch.randn(3))  # a callback drawing random numbers


def test_a_callback_that_is_not_callable_is_named(small):
    with pytest.raises(TypeError, match="callback must be a function of the History"):
        fit(VAE(latent_dim=2, hidden=(8,)), small[:64], epochs=1, progress=False, callback="plot")
