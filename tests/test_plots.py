"""The lesson figures: each returns a Figure, none calls plt.show() or registers with pyplot."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from vae_lib import VAE, Autoencoder, fit, plots


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(16,)).eval()


def _relative_luminance(colour: str) -> float:
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_digit_colours_are_ten_distinct_colours_visible_on_white():
    assert len(set(plots.DIGIT_COLOURS)) == 10
    # every colour keeps some contrast against a white page (WCAG contrast ratio > 1.5)
    assert all((1.05) / (_relative_luminance(c) + 0.05) > 1.5 for c in plots.DIGIT_COLOURS)


def test_every_plot_returns_a_figure_without_touching_pyplot(vae):
    plt.close("all")
    g = torch.Generator().manual_seed(0)
    z, labels = torch.randn(200, 2, generator=g), torch.arange(200) % 10
    x = torch.rand(6, 784, generator=g)
    history = fit(Autoencoder(latent_dim=2, hidden=(8,)), x, epochs=2, progress=False)
    figures = [
        plots.latent_scatter(z, labels),
        plots.latent_ellipses(z[:20], torch.full((20, 2), -2.0), labels[:20]),
        plots.image_grid(x, nrow=3),
        plots.reconstructions(vae, x, n=4),
        plots.decoded_grid(vae, n=5),
        plots.interpolation_strip({"linear": x[:4], "slerp": x[2:6]}),
        plots.loss_curves(history),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    assert plt.get_fignums() == []  # nothing for a notebook to show twice


def test_image_grid_puts_each_image_in_its_cell():
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    images[3] = 255
    fig = plots.image_grid(images, nrow=2, pad=0)
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (56, 56)
    assert canvas[28:, 28:].max() == 0 and canvas[:28, :28].min() == 1  # inverted: ink is dark


def test_latent_scatter_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels must have one entry per point"):
        plots.latent_scatter(torch.zeros(5, 2), torch.zeros(4))
    with pytest.raises(ValueError, match=r"z must have shape \[N, 2\]"):
        plots.latent_scatter(torch.zeros(5, 3), torch.zeros(5))


def test_latent_usage_marks_inactive_dimensions_by_hatching_and_checks_its_inputs():
    kl = torch.tensor([2.0, 0.001, 1.5, 0.0005])
    activity = torch.tensor([1.0, 0.0008, 0.9, 0.0006])
    fig = plots.latent_usage(kl, activity)
    assert isinstance(fig, Figure) and fig not in [plt.figure(n) for n in plt.get_fignums()]
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 4 and sum(bool(b.get_hatch()) for b in bars) == 2
    with pytest.raises(ValueError, match="kl_per_dim and activity"):
        plots.latent_usage(kl, activity[:3])
    with pytest.raises(ValueError, match="threshold"):
        plots.latent_usage(kl, activity, threshold=0)


@pytest.mark.parametrize("name", ["autoencoder_architecture", "vae_architecture", "reparameterization_graph"])
def test_lesson_diagrams_are_bare_figures_drawn_without_pyplot(name):
    before = plt.get_fignums()
    fig = getattr(plots, name)()
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    assert fig.axes and any(ax.texts or ax.patches for ax in fig.axes)


def test_posterior_panels_draws_one_panel_per_posterior_and_needs_one():
    z1, z2 = torch.meshgrid(torch.linspace(-1, 1, 21), torch.linspace(-1, 1, 21), indexing="xy")
    log_post = -(z1**2 + z2**2) / 0.1
    panel = dict(
        z1=z1,
        z2=z2,
        log_post=log_post,
        mu=torch.zeros(2),
        logvar=torch.full((2,), -3.0),
        image=torch.rand(784),
        title="a panel",
    )
    fig = plots.posterior_panels([panel, panel])
    assert isinstance(fig, Figure)
    main_axes = [ax for ax in fig.axes if ax.get_title() == "a panel"]
    assert len(main_axes) == 2 and all(len(ax.patches) == 2 for ax in main_axes)  # two ellipses each
    with pytest.raises(ValueError, match="at least one panel"):
        plots.posterior_panels([])
