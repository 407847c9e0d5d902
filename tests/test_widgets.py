"""The notebook explorers (vae_lib.widgets): what they show is what the decoder says.

Small random models keep these fast and independent of the shipped checkpoints; the
property under test (the image shown equals ``sigmoid(model.decode(z))`` for the z the
sliders say) does not depend on training.
"""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch

W = pytest.importorskip("ipywidgets")
PIL_Image = pytest.importorskip("PIL.Image")

from vae_lib import VAE, Autoencoder, encode_dataset, load_mnist, slerp, to_tensor  # noqa: E402
from vae_lib import widgets  # noqa: E402


@pytest.fixture(scope="module")
def vae2():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(32,)).eval()


@pytest.fixture(scope="module")
def ae2():
    torch.manual_seed(1)
    return Autoencoder(latent_dim=2, hidden=(32,)).eval()


@pytest.fixture(scope="module")
def test_digits():
    return load_mnist("test", subset="small")


@pytest.fixture(scope="module")
def explorer(vae2):
    return widgets.latent_explorer(vae2)


def decoded(model, z) -> np.ndarray:
    zt = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1)
    with torch.no_grad():
        return torch.sigmoid(model.decode(zt)).numpy().reshape(28, 28)


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(PIL_Image.open(io.BytesIO(data)))


def all_children(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_children(child)


# ----------------------------------------------------------------------- latent explorer


def test_importing_vae_lib_does_not_import_widgets():
    code = ("import sys, vae_lib; bad = [m for m in ('ipywidgets', 'vae_lib.widgets', 'vae_lib.explorer')"
            " if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_latent_explorer_is_a_container_with_two_keyboard_sliders(explorer):
    assert isinstance(explorer, W.Box)
    children = list(all_children(explorer))
    for slider, name in ((explorer.z1, "z1"), (explorer.z2, "z2")):
        assert isinstance(slider, W.FloatSlider)
        assert slider in children, f"the {name} slider is not shown"
        assert slider.description == name
        assert slider.continuous_update is True
        assert (slider.min, slider.max, slider.step) == (-3.0, 3.0, 0.05)
        # ipywidgets sliders move with the arrow keys once focused; make sure nothing turns that off
        assert slider.tabbable is True and slider.disabled is False
    assert explorer.map_image in children and explorer.digit_image in children
    help_text = " ".join(c.value for c in children if isinstance(c, W.HTML))
    assert "arrow keys" in help_text


@pytest.mark.parametrize("z", [(0.0, 0.0), (1.25, -0.5), (-3.0, 3.0), (2.95, 0.05)])
def test_shown_image_is_the_decoder_output_at_the_slider_values(explorer, vae2, z):
    explorer.z1.value, explorer.z2.value = z
    assert np.array_equal(explorer.z, np.array(z, dtype=np.float32))
    expected = decoded(vae2, z)
    assert np.array_equal(explorer.current_image(), expected)
    # ... and the PNG sent to the page is that image, dark ink on white, enlarged 6x
    shown = png_array(explorer.digit_image.value)
    assert shown.shape == (28 * 6, 28 * 6)
    assert np.array_equal(shown[::6, ::6], np.round((1 - expected) * 255).astype(np.uint8))


def test_marker_on_the_map_follows_the_sliders(explorer):
    explorer.z1.value, explorer.z2.value = -2.0, -2.0
    before = png_array(explorer.map_image.value).astype(int)
    explorer.z1.value, explorer.z2.value = 2.0, 1.0
    after = png_array(explorer.map_image.value).astype(int)
    rows, cols = np.nonzero(np.abs(after - before).sum(-1))
    assert len(rows), "the map did not change when z changed"
    # every changed pixel lies within the marker's reach of the old or the new point
    old, new = explorer._map.pixel((-2.0, -2.0)), explorer._map.pixel((2.0, 1.0))
    near = lambda p: (np.abs(cols - p[0]) <= 11) & (np.abs(rows - p[1]) <= 11)  # noqa: E731
    assert (near(old) | near(new)).all()
    assert near(new).any() and near(old).any()
    assert new[0] > old[0] and new[1] < old[1], "z1 grows to the right, z2 upwards"


def test_default_map_is_the_shipped_test_subset(explorer, vae2, test_digits):
    images, labels = test_digits
    assert explorer.codes.shape == (2000, 2)
    assert np.array_equal(explorer.labels, labels)
    np.testing.assert_allclose(explorer.codes, encode_dataset(vae2, images).numpy(), atol=1e-6)
    explorer.z1.value, explorer.z2.value = (float(np.clip(v, -3, 3)) for v in explorer.codes[7])
    assert explorer.nearest_label() in set(labels.tolist())


def test_latent_explorer_takes_other_images_and_an_autoencoder(ae2, test_digits):
    images, labels = test_digits
    ex = widgets.latent_explorer(ae2, images[:50], labels[:50])
    assert ex.codes.shape == (50, 2)
    ex.z2.value = 1.5
    assert np.array_equal(ex.current_image(), decoded(ae2, (0.0, 1.5)))


def test_latent_explorer_errors_name_the_argument():
    with pytest.raises(ValueError, match="latent_dim"):
        widgets.latent_explorer(VAE(latent_dim=3, hidden=(8,)))
    with pytest.raises(TypeError, match="model"):
        widgets.latent_explorer("vae-2d")
    with pytest.raises(ValueError, match="labels"):
        widgets.latent_explorer(VAE(latent_dim=2, hidden=(8,)), np.zeros((3, 28, 28), np.uint8), [1, 2])


# ----------------------------------------------------------------- interpolation explorer


@pytest.fixture(scope="module")
def pair(test_digits):
    images, labels = test_digits
    return images[np.argmax(labels == 1)], images[np.argmax(labels == 0)]


@pytest.fixture(scope="module")
def interp(vae2, ae2, pair):
    return widgets.interpolation_explorer({"AE": ae2, "VAE": vae2}, *pair)


def test_interpolation_explorer_has_t_and_a_linear_slerp_toggle(interp):
    assert isinstance(interp, W.Box)
    children = list(all_children(interp))
    assert isinstance(interp.t, W.FloatSlider) and interp.t in children
    assert (interp.t.min, interp.t.max) == (0.0, 1.0) and interp.t.continuous_update
    assert interp.t.tabbable is True
    assert isinstance(interp.method, W.ToggleButtons) and interp.method in children
    assert tuple(interp.method.options) == ("linear", "slerp")
    assert interp.labels == ["AE", "VAE"]


@pytest.mark.parametrize("method", ["linear", "slerp"])
@pytest.mark.parametrize("t", [0.0, 0.3, 0.5, 1.0])
def test_each_model_shows_its_decoder_output_along_the_path(interp, vae2, ae2, pair, method, t):
    interp.method.value = method
    interp.t.value = t
    for label, model in (("AE", ae2), ("VAE", vae2)):
        z_a, z_b = (encode_dataset(model, to_tensor(x))[0] for x in pair)
        expected_z = ((1 - t) * z_a + t * z_b) if method == "linear" else slerp(z_a, z_b, torch.tensor([t]))[0]
        np.testing.assert_allclose(interp.z(label), expected_z.numpy(), atol=1e-5)
        assert np.array_equal(interp.current_image(label), decoded(model, interp.z(label)))


def test_toggling_slerp_changes_the_path(interp):
    interp.t.value = 0.5
    interp.method.value = "linear"
    linear, map_linear = interp.path("VAE"), interp._panels["VAE"].map_image.value
    interp.method.value = "slerp"
    spherical, map_slerp = interp.path("VAE"), interp._panels["VAE"].map_image.value
    z_a, z_b = interp.endpoints("VAE")
    for path in (linear, spherical):
        np.testing.assert_allclose(path[0], z_a, atol=1e-5)
        np.testing.assert_allclose(path[-1], z_b, atol=1e-5)
    assert np.abs(linear - spherical).max() > 1e-3, "slerp and linear paths coincide"
    # slerp keeps the norm between the endpoints' norms; the chord dips below it
    lo = min(np.linalg.norm(z_a), np.linalg.norm(z_b))
    assert np.linalg.norm(spherical, axis=1).min() >= lo - 1e-4
    assert map_linear != map_slerp, "the drawn path did not change"
    interp.method.value = "linear"


def test_interpolation_explorer_takes_one_model_and_higher_dimensions(pair):
    torch.manual_seed(2)
    vae20 = VAE(latent_dim=20, hidden=(32,)).eval()
    ex = widgets.interpolation_explorer(vae20, *pair, start=0.25)
    assert ex.labels == ["VAE"]
    assert ex.z().shape == (20,)
    assert np.array_equal(ex.current_image(), decoded(vae20, ex.z()))
    with pytest.raises(ValueError, match="x_a"):
        widgets.interpolation_explorer(vae20, np.zeros((2, 28, 28), np.uint8), pair[1])
