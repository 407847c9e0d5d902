"""The notebook widgets (vae_lib.widgets): the explorer and the 14-4/14-5 figures are the site's
JavaScript modules fed the student's model; the interpolation explorer shows what the decoder says.

Small random models keep these fast and independent of the shipped checkpoints; the
property under test (the image shown equals ``sigmoid(model.decode(z))`` for the z the
sliders say) does not depend on training.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

W = pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")
REPO_ROOT = Path(__file__).resolve().parents[1]
PIL_Image = pytest.importorskip("PIL.Image")

from vae_lib import (  # noqa: E402
    VAE,
    Autoencoder,
    encode_dataset,
    load_mnist,
    slerp,
    to_tensor,
    widgets,
)


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
    return widgets.LatentExplorer(vae2)


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
    code = (
        "import sys, vae_lib; bad = [m for m in "
        "('ipywidgets', 'anywidget', 'vae_lib.widgets', 'vae_lib.explorer')"
        " if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_latent_explorer_is_an_anywidget_running_the_sites_module(explorer):
    import anywidget

    from vae_lib.course.explorer import FORMAT

    assert isinstance(explorer, anywidget.AnyWidget)
    site = (REPO_ROOT / "book" / "_static" / "latent-explorer.js").read_text(encoding="utf-8")
    assert explorer._esm.startswith(site), "the widget's module is not the site's latent-explorer.js"
    assert "export default" in explorer._esm[len(site) :]
    assert explorer._css == (REPO_ROOT / "book" / "_static" / "latent-explorer.css").read_text(
        encoding="utf-8"
    )
    assert explorer.pack[:4] == b"VAEX" and FORMAT.encode() in explorer.pack[:4000]


def test_widget_pack_holds_the_students_model_exactly(explorer, vae2, test_digits):
    from vae_lib.explorer import decoder_from_export, encoder_from_export, read_pack

    header, arrays = read_pack(explorer.pack)
    header["arrays_np"] = arrays
    assert header["model"]["quantized"] is False
    z = torch.randn(30, 2, generator=torch.Generator().manual_seed(0)) * 2
    x = to_tensor(test_digits[0][:10]).reshape(10, 784)
    with torch.no_grad():
        assert torch.equal(decoder_from_export(header)(z), vae2.decode(z))
        mu, logvar = vae2.encode(x)
        assert torch.equal(encoder_from_export(header)(x), torch.cat([mu, logvar], 1))
    codes = arrays[header["points"]["z"]]
    np.testing.assert_allclose(codes, encode_dataset(vae2, test_digits[0]).numpy(), atol=1e-6)


def test_site_form_of_the_shipped_model_is_the_kernel_free_embed():
    from vae_lib import pretrained

    ex = widgets.LatentExplorer(pretrained.load("vae-2d"))
    data = ex._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in data, "Jupyter would not show the live widget"
    html = data["text/html"]
    assert 'class="vae-explorer" data-src="../_static/explorer/vae-2d.bin"' in html
    assert (
        '<script src="../_static/latent-explorer.js"></script>' in html and "vae-explorer__fallback" in html
    )
    assert len(html) < 2000, "the site form should reference the exported data, not embed it"


def test_site_form_of_another_model_says_it_needs_a_notebook(explorer):
    html = explorer.embed_html()
    assert "vae-explorer" in html and "data-src" not in html and "notebook" in html


def test_old_latent_explorer_name_is_a_deprecated_wrapper(vae2):
    with pytest.warns(DeprecationWarning, match="LatentExplorer"):
        ex = widgets.latent_explorer(vae2, *(a[:40] for a in load_mnist("test", subset="small")))
    assert isinstance(ex, widgets.LatentExplorer)


def test_latent_explorer_errors_name_the_argument():
    with pytest.raises(ValueError, match="latent_dim"):
        widgets.LatentExplorer(VAE(latent_dim=3, hidden=(8,)))
    with pytest.raises(TypeError, match="model"):
        widgets.LatentExplorer("vae-2d")
    with pytest.raises(ValueError, match="labels"):
        widgets.LatentExplorer(VAE(latent_dim=2, hidden=(8,)), np.zeros((3, 28, 28), np.uint8), [1, 2])


# ------------------------------------------------------------------- 14-4 and 14-5 figures


@pytest.mark.parametrize("mu, var", [(0.5, 0.25), (-1.0, 2.0), (0.0, 1.0)])
def test_kl_figure_twin_computes_the_kl_and_its_parts(mu, var):
    from vae_lib import kl_divergence

    fig = widgets.KLFigure(mu=mu, var=var)
    expected = float(
        kl_divergence(
            torch.tensor([[mu]], dtype=torch.float64), torch.log(torch.tensor([[var]], dtype=torch.float64))
        )[0]
    )
    assert fig.kl == pytest.approx(expected, abs=1e-12)
    assert fig.mean_term + fig.variance_term == pytest.approx(expected, abs=1e-12)
    assert f'data-figure="kl" data-mu="{mu!r}" data-var="{var!r}"' in fig.embed_html()
    assert fig._esm.startswith(
        (REPO_ROOT / "book" / "_static" / "explorer-figures.js").read_text(encoding="utf-8")
    )


def test_gradient_figure_twin_closed_forms_match_its_samples():
    fig = widgets.GradientFigure(mu=1.0, sigma=1.0, k=0.0, n=5000)
    closed = fig.closed_forms()
    assert closed == {"gradient": 2.0, "var_pathwise": 4.0, "var_score": 30.0}
    est = fig.estimates(torch.Generator().manual_seed(0))
    assert abs(est["pathwise"].mean() - 2.0) < 5 * (4.0 / 5000) ** 0.5
    assert abs(est["pathwise"].var(ddof=1) / 4.0 - 1) < 5 * (2 / 5000) ** 0.5
    assert 'data-figure="gradient"' in fig.embed_html()


def test_figure_errors_name_the_argument():
    with pytest.raises(ValueError, match="var"):
        widgets.KLFigure(var=0.0)
    with pytest.raises(ValueError, match="sigma"):
        widgets.GradientFigure(sigma=0.0)


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
        expected_z = (
            ((1 - t) * z_a + t * z_b) if method == "linear" else slerp(z_a, z_b, torch.tensor([t]))[0]
        )
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
