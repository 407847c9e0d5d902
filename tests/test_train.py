"""The training loop: it learns, it is repeatable, it stops on NaN, it names bad input."""

import numpy as np
import pytest
import torch

from vae_lib import VAE, Autoencoder, beta_schedule, fit, load_mnist, to_tensor


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
            history.train["reconstruction"][e] + history.train["kl"][e], rel=1e-5
        )
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
        history.train["reconstruction"][0] + 4.0 * history.train["kl"][0], rel=1e-5
    )


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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(epochs=1, batch_size=0), "batch_size must be a positive integer"),
        (dict(epochs=1, lr=-1.0), "lr must be a positive number"),
        (dict(epochs=1, beta=float("nan")), "beta must be a finite number"),
    ],
)
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


# -- KL warm-up, free bits, input_dim ------------------------------------------------------------


def test_kl_warmup_raises_beta_linearly_per_epoch_and_the_terms_add_up_with_the_beta_used(small):
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(32,))
    history = fit(model, small[:512], epochs=5, beta=2.0, kl_warmup=4, test=small[:128], progress=False)
    assert history.betas == [0.0, 0.5, 1.0, 1.5, 2.0] and history.beta == 2.0
    for part in (history.train, history.test):
        for e, b in enumerate(history.betas):
            assert part["total"][e] == pytest.approx(part["reconstruction"][e] + b * part["kl"][e], rel=1e-5)


def test_without_warmup_every_epoch_uses_beta(small):
    history = fit(VAE(latent_dim=2, hidden=(16,)), small[:256], epochs=2, beta=0.5, progress=False)
    assert history.betas == [0.5, 0.5]


def test_beta_schedule_is_zero_first_and_beta_from_the_warmup_length_on():
    assert [beta_schedule(e, 1.0, 3) for e in range(5)] == pytest.approx([0, 1 / 3, 2 / 3, 1, 1])
    assert beta_schedule(0, 4.0, 0) == 4.0


def test_free_bits_keep_more_kl_per_dimension_and_the_history_logs_the_true_kl(small):
    kls = {}
    for fb in (0.0, 2.0):
        torch.manual_seed(0)
        model = VAE(latent_dim=4, hidden=(32,))
        history = fit(model, small, epochs=3, free_bits=fb, progress=False)
        kls[fb] = history.train["kl"][-1]
        for e in range(3):
            assert history.train["total"][e] == pytest.approx(
                history.train["reconstruction"][e] + history.train["kl"][e], rel=1e-5
            )
        assert history.free_bits == fb
    assert kls[2.0] > kls[0.0]


def test_fit_takes_the_image_size_from_the_model():
    x = torch.rand(200, 64)
    history = fit(VAE(latent_dim=2, hidden=(16,), input_dim=64), x, epochs=1, test=x[:50], progress=False)
    assert history.epochs == 1
    with pytest.raises(ValueError, match=r"shape \[N, 64\]"):
        fit(VAE(latent_dim=2, hidden=(16,), input_dim=64), torch.rand(10, 784), epochs=1, progress=False)


@pytest.mark.parametrize("name", ["epochs", "batch_size", "kl_warmup", "seed"])
def test_booleans_are_rejected_for_integer_arguments(small, name):
    kwargs = {"epochs": 1, name: True}
    with pytest.raises(ValueError, match=name):
        fit(VAE(hidden=(8,)), small[:64], progress=False, **kwargs)


@pytest.mark.parametrize("name", ["lr", "beta", "free_bits"])
def test_booleans_are_rejected_for_numeric_arguments(small, name):
    with pytest.raises(ValueError, match=name):
        fit(VAE(hidden=(8,)), small[:64], epochs=1, progress=False, **{name: True})


@pytest.mark.parametrize(
    ("name", "value"),
    [("kl_warmup", -1), ("free_bits", -0.5), ("free_bits", float("nan")), ("kl_warmup", 1.5)],
)
def test_negative_or_non_finite_warmup_and_free_bits_are_named(small, name, value):
    with pytest.raises(ValueError, match=name):
        fit(VAE(hidden=(8,)), small[:64], epochs=1, progress=False, **{name: value})


def test_float64_and_numpy_float_training_data_are_cast_to_float32(small):
    model = VAE(latent_dim=2, hidden=(8,))
    fit(model, small[:128].double(), epochs=1, progress=False)
    fit(model, small[:128].numpy().astype(np.float64), epochs=1, progress=False)
    assert next(model.parameters()).dtype == torch.float32


def test_nan_training_pixels_are_rejected_before_training(small):
    x = small[:64].clone()
    x[3, 5] = float("nan")
    with pytest.raises(ValueError, match=r"train must hold pixel values in \[0, 1\]; got NaN"):
        fit(VAE(hidden=(8,)), x, epochs=1, progress=False)


def test_a_device_that_is_not_there_is_named(small):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        fit(VAE(hidden=(8,)), small[:64], epochs=1, device="cuda", progress=False)
