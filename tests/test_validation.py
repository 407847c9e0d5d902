"""No silent failure, no lost data: each class of bad input found by the black-box attack of
issue 9 gets a clear error naming the argument (or a documented cast), one test per case."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from vae_lib import (
    VAE,
    Autoencoder,
    History,
    elbo,
    fit,
    interpolate,
    kl_divergence,
    latent_grid,
    load,
    load_mnist,
    log_likelihood,
    reconstruction_loss,
    reparameterize,
    save,
    slerp,
    vae_loss,
    validation,
)
from vae_lib.checkpoint import FORMAT, sweep_stale, write_atomic
from vae_lib.models import build_model

PIXELS = r"must hold pixel values in \[0, 1\]"


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(16,)).eval()


# -- the validation module itself ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [True, False, 1.0, "3", None, 0, -2])
def test_positive_int_rejects_booleans_floats_and_non_positive_values(bad):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        validation.positive_int(bad, "epochs")


def test_positive_int_accepts_numpy_integers_and_returns_an_int():
    value = validation.positive_int(np.int64(3), "n")
    assert value == 3 and type(value) is int


@pytest.mark.parametrize("bad", [True, float("nan"), float("inf"), "1", None])
def test_finite_number_rejects_booleans_and_non_finite_values(bad):
    with pytest.raises(ValueError, match="lr must be a finite number"):
        validation.finite_number(bad, "lr")


def test_the_value_checks_are_skipped_only_inside_skipped():
    x = torch.full((1, 4), 2.0)
    with validation.skipped():
        assert validation.images(x, 4) is x and not validation.enabled()
    assert validation.enabled()
    with pytest.raises(ValueError, match=PIXELS):
        validation.images(x, 4)


def test_exp_limits_are_the_log_of_the_largest_float():
    assert validation.exp_limit(torch.float32) == pytest.approx(88.72, abs=0.01)
    assert validation.exp_limit(torch.float16) == pytest.approx(11.09, abs=0.01)
    assert torch.isfinite(torch.tensor(validation.exp_limit(torch.float32)).exp())


# -- data lost: save never writes what load cannot read ------------------------------------------


def test_save_converts_numpy_scalars_and_tensors_in_metrics_to_plain_numbers(tmp_path, vae):
    path = save(
        vae,
        tmp_path / "m.pt",
        metrics={
            "test_elbo": np.float64(-101.5),
            "epochs": np.int64(3),
            "loss": torch.tensor(2.5),
            "curve": [np.float32(1.0)],
        },
    )
    metrics = load(path).checkpoint_metrics
    assert metrics == {"test_elbo": -101.5, "epochs": 3, "loss": 2.5, "curve": [1.0]}
    assert type(metrics["test_elbo"]) is float and type(metrics["epochs"]) is int


def test_save_stores_a_history_in_metrics_as_a_plain_dict(tmp_path, vae):
    history = History(beta=1.0, betas=[1.0], seconds=[0.5], images=10)
    history.train["total"].append(np.float64(3.0))
    path = save(vae, tmp_path / "m.pt", metrics={"history": history})
    stored = load(path).checkpoint_metrics["history"]
    assert stored["train"]["total"] == [3.0] and stored["betas"] == [1.0]


def test_save_refuses_other_metric_values_before_writing(tmp_path, vae):
    with pytest.raises(TypeError, match=r"metrics\['model'\] must be a number"):
        save(vae, tmp_path / "m.pt", metrics={"model": object()})
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_files_of_a_killed_writer_are_swept_by_the_next_write(tmp_path):
    target = tmp_path / "m.pt"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = tmp_path / f".m.pt.{dead.stdout.strip()}.abcd.part"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".m.pt.{__import__('os').getpid()}.efgh.part"  # a writer still running
    live.write_bytes(b"in progress")
    unrelated = tmp_path / ".other.pt.1.x.part"
    unrelated.write_bytes(b"someone else's")
    write_atomic(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and not stale.exists() and live.exists() and unrelated.exists()
    assert sweep_stale(target) == []


def test_a_refused_verification_leaves_the_target_as_it_was(tmp_path):
    target = tmp_path / "file"
    target.write_bytes(b"old")

    def refuse(tmp):
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        write_atomic(target, lambda f: f.write(b"new"), verify=refuse)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file"]


def test_a_checkpoint_whose_config_lacks_a_key_gets_a_clear_error(tmp_path, vae):
    config = dict(vae.config)
    del config["latent_dim"]
    path = tmp_path / "broken.pt"
    torch.save({"format": FORMAT, "config": config, "state_dict": vae.state_dict(), "metrics": {}}, path)
    with pytest.raises(ValueError, match="latent_dim"):
        load(path)


def test_a_huge_hidden_layer_is_refused_before_any_memory_is_asked_for():
    with pytest.raises(ValueError, match="more than vae_lib builds"):
        VAE(hidden=(60_000, 60_000))
    with pytest.raises(ValueError, match=r"hidden\[0\]"):
        build_model({"kind": "vae", "latent_dim": 2, "hidden": [10**12]})


# -- silent wrong results: pixels ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["255", "nan", "negative"])
def test_every_model_entry_point_rejects_pixels_outside_the_unit_interval_like_fit(vae, bad):
    x = torch.rand(4, 784)
    if bad == "255":
        x = x * 255
    elif bad == "nan":
        x[1, 3] = float("nan")
    else:
        x[0, 0] = -0.5
    calls = {
        "encode": lambda: vae.encode(x),
        "forward": lambda: vae(x),
        "elbo": lambda: elbo(vae, x),
        "log_likelihood": lambda: log_likelihood(vae, x, k=2),
        "ae.encode": lambda: Autoencoder(hidden=(8,)).encode(x),
        "fit": lambda: fit(VAE(hidden=(8,)), x, epochs=1, progress=False),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=PIXELS):
            call()
        assert name


def test_reconstruction_loss_of_pixels_in_0_255_is_an_error_not_a_negative_loss():
    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\]"):
        reconstruction_loss(torch.zeros(2, 784), torch.full((2, 784), 200.0))


def test_reconstruction_loss_of_integer_pixels_names_the_dtype():
    with pytest.raises(ValueError, match="got dtype torch.int64"):
        reconstruction_loss(torch.zeros(2, 4), torch.ones(2, 4, dtype=torch.int64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_float_dtypes_are_cast_to_the_models_dtype(vae, dtype):
    x = torch.rand(3, 784)
    mu, _ = vae.encode(x.to(dtype))
    assert mu.dtype == torch.float32
    torch.testing.assert_close(mu, vae.encode(x)[0], atol=1e-2, rtol=1e-2)
    assert vae.decode(mu.double()).dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8])
def test_integer_inputs_are_rejected_naming_the_dtype(vae, dtype):
    with pytest.raises(ValueError, match=f"got dtype {dtype}"):
        vae.encode(torch.ones(2, 784, dtype=dtype))
    with pytest.raises(ValueError, match=f"got dtype {dtype}"):
        vae.decode(torch.ones(2, 2, dtype=dtype))


def test_nan_latent_codes_are_rejected_by_decode(vae):
    with pytest.raises(ValueError, match="z must be finite"):
        vae.decode(torch.tensor([[float("nan"), 0.0]]))


# -- KL and reparameterization: overflow and NaN ------------------------------------------------


def test_a_logvar_that_overflows_exp_is_an_error_not_an_infinite_kl():
    with pytest.raises(ValueError, match=r"logvar must be <= 88.7"):
        kl_divergence(torch.zeros(2), torch.tensor([0.0, 100.0]))
    assert torch.isfinite(kl_divergence(torch.zeros(1), torch.tensor([88.0])))  # the documented limit


def test_the_overflow_limit_is_that_of_the_input_dtype():
    with pytest.raises(ValueError, match=r"logvar must be <= 11.09 in torch.float16"):
        kl_divergence(torch.zeros(1, dtype=torch.float16), torch.tensor([12.0], dtype=torch.float16))


def test_reparameterize_rejects_a_logvar_that_overflows():
    with pytest.raises(ValueError, match="logvar must be <="):
        reparameterize(torch.zeros(2), torch.tensor([0.0, 200.0]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("fn", [kl_divergence, reparameterize])
def test_nan_or_inf_mu_is_rejected_like_logvar(fn, bad):
    with pytest.raises(ValueError, match="mu must be finite"):
        fn(torch.tensor([0.0, bad]), torch.zeros(2))
    with pytest.raises(ValueError, match="logvar must be finite"):
        fn(torch.zeros(2), torch.tensor([0.0, bad]))


def test_a_mu_whose_square_overflows_is_rejected():
    with pytest.raises(ValueError, match=r"mu \*\* 2 overflows"):
        kl_divergence(torch.tensor([1e20]), torch.zeros(1))


# -- unbounded: elbo's memory ---------------------------------------------------------------------


def test_elbo_is_computed_in_bounded_chunks_that_do_not_change_the_result(vae):
    x = torch.rand(1, 784)
    whole = elbo(vae, x, samples=40, seed=3)
    chunked = elbo(vae, x, samples=40, seed=3, max_elements=3 * 784)  # three samples at a time
    assert chunked == pytest.approx(whole, abs=1e-4)


def test_elbo_refuses_an_absurd_number_of_samples(vae):
    with pytest.raises(ValueError, match="samples must be an integer between 1 and 1000000"):
        elbo(vae, torch.rand(1, 784), samples=3_000_000_000)


# -- unclear errors ----------------------------------------------------------------------------


def test_vae_loss_of_a_plain_tuple_is_a_type_error_naming_output():
    with pytest.raises(TypeError, match="output must be what a vae_lib model's forward returns"):
        vae_loss((torch.zeros(2, 4), torch.zeros(2, 2), torch.zeros(2, 2)), torch.rand(2, 4))


def test_slerp_names_mismatched_dimensions_nan_endpoints_and_accepts_a_list_for_t():
    with pytest.raises(ValueError, match="z0 and z1 must have the same shape"):
        slerp(torch.zeros(2), torch.ones(3), torch.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="z0 must be finite"):
        slerp(torch.tensor([float("nan"), 1.0]), torch.ones(2), torch.linspace(0, 1, 3))
    assert slerp(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), [0.0, 0.5, 1.0]).shape == (3, 2)
    with pytest.raises(ValueError, match="t must be a finite 1-D tensor"):
        slerp(torch.ones(2), torch.zeros(2) + 2, torch.tensor([[0.5]]))


def test_interpolate_rejects_boolean_steps():
    with pytest.raises(ValueError, match="steps"):
        interpolate(torch.zeros(2), torch.ones(2), steps=True)


def test_latent_grid_with_dims_none_is_named():
    with pytest.raises(ValueError, match="dims must be two different indices"):
        latent_grid(dims=None)


def test_load_mnist_with_a_file_for_root_says_it_is_a_file(tmp_path):
    not_a_folder = tmp_path / "mnist.txt"
    not_a_folder.write_text("hello")
    with pytest.raises(NotADirectoryError, match="is a file"):
        load_mnist("test", root=not_a_folder)
