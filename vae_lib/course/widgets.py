"""Interactive explorers for the notebooks (lessons 14-3 and 14-6), built on ipywidgets.

    from vae_lib import pretrained, widgets
    widgets.latent_explorer(pretrained.load("vae-2d"))          # drag z1, z2; watch the digit
    widgets.interpolation_explorer({"AE": ae2, "VAE": vae2}, x_a, x_b)

Keyboard: click a slider (or tab to it), then use the arrow keys.

Both explorers are ipywidgets containers: the last expression of a cell shows them. They
stay fast by drawing with matplotlib only once: the latent scatter (and, for the
interpolation explorer, each path) is rendered to a pixel array when the explorer is built;
a slider change only decodes one point, stamps a marker onto a copy of that array and
sends two small PNGs. Their state is public for tests and curious students:
``explorer.z``, ``explorer.current_image()``.

(The site has a kernel-free version of the latent explorer in JavaScript,
``book/_static/latent-explorer.js``; see :mod:`vae_lib.explorer`.)
"""
from __future__ import annotations

import io
from typing import Mapping

import ipywidgets as W
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from . import plots
from ..data import load_mnist, to_tensor
from ..latent import encode_dataset, slerp
from ..models import VAE, _LatentModel

__all__ = ["LatentExplorer", "InterpolationExplorer", "latent_explorer", "interpolation_explorer"]

KEYBOARD_HELP = "Click a slider (or tab to it), then use the arrow keys to move it."
DIGIT_SCALE = 6  # the decoded 28 x 28 digit is shown at 168 x 168 pixels


# ----------------------------------------------------------------------------- helpers


def _check_model(model, name: str = "model") -> _LatentModel:
    if not isinstance(model, _LatentModel):
        raise TypeError(f"{name} must be a vae_lib VAE or Autoencoder, got {type(model).__name__}")
    return model


def _default_test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 2,000 test digits of the subset shipped in the package."""
    return load_mnist("test", subset="small")


def _map_digits(images, labels) -> tuple[torch.Tensor, np.ndarray | None]:
    """The digits drawn on a latent map: ``images`` as a float tensor [N, 784] and their labels
    (default: the 2,000 test digits of the shipped subset)."""
    if images is None:
        if labels is not None:
            raise ValueError("labels: give images too (labels alone have nothing to label)")
        images, labels = _default_test_digits()
    x = to_tensor(images) if not (isinstance(images, torch.Tensor) and images.is_floating_point()) else images
    if labels is not None:
        labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(int)
        if len(labels) != len(x):
            raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(x)} images")
    return x, labels


def _codes(model: _LatentModel, images) -> np.ndarray:
    """Codes of ``images`` (means of q(z|x) for a VAE), numpy [N, d]."""
    return encode_dataset(model, images).numpy()


def _decode(model: _LatentModel, z: np.ndarray) -> np.ndarray:
    """The image shown for the point z: ``model.decode_images(z)`` as float32 [28, 28]."""
    zt = torch.as_tensor(np.asarray(z, dtype=np.float32).reshape(1, -1))
    device = next(model.parameters()).device
    return model.decode_images(zt.to(device))[0].cpu().numpy().reshape(28, 28)


def _png(rgb: np.ndarray) -> bytes:
    """uint8 [H, W, 3] (or [H, W]) -> PNG bytes (fast compression: the images are small)."""
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def _digit_png(image: np.ndarray) -> bytes:
    """A decoded digit (ink = 1) drawn dark on white, enlarged without smoothing."""
    grey = np.round((1.0 - np.clip(image, 0.0, 1.0)) * 255).astype(np.uint8)
    return _png(np.kron(grey, np.ones((DIGIT_SCALE, DIGIT_SCALE), dtype=np.uint8)))


def _ring_stamp(radius: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel offsets of a marker: a black ring and dot with a white halo, visible on any colour."""
    r = radius + 3
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    d = np.hypot(dx, dy)
    black = (np.abs(d - radius) <= 1.1) | (d <= 1.6)
    white = ((np.abs(d - radius) <= 2.4) | (d <= 2.8)) & ~black
    return dx[black], dy[black], dx[white], dy[white]


_STAMP = _ring_stamp()


class _Map:
    """A matplotlib axes rendered once to pixels, plus the data -> pixel transform.

    ``draw(fn)`` calls ``fn(fig, ax)`` to fill the axes, renders with Agg and keeps the
    RGB array; ``marked(points)`` returns PNG bytes of a copy with markers stamped at the
    given data points (clipped at the border).
    """

    def __init__(self, draw, size=(4.6, 3.9), dpi: int = 90):
        fig = Figure(figsize=size, dpi=dpi, layout="constrained")
        canvas = FigureCanvasAgg(fig)
        ax = fig.subplots()
        draw(fig, ax)
        canvas.draw()
        self.rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        self.height, self.width = self.rgb.shape[:2]
        self._transform = ax.transData.frozen()  # data -> display (origin bottom left)
        self._clip = ax.bbox.frozen()

    def pixel(self, point) -> tuple[int, int]:
        x, y = self._transform.transform(np.asarray(point, dtype=float)[:2])
        x = min(max(x, self._clip.x0), self._clip.x1)
        y = min(max(y, self._clip.y0), self._clip.y1)
        return int(round(x)), int(round(self.height - y))

    def marked(self, *points) -> bytes:
        rgb = self.rgb.copy()
        bx, by, wx, wy = _STAMP
        for point in points:
            col, row = self.pixel(point)
            for xs, ys, value in ((wx, wy, 255), (bx, by, 0)):
                r, c = row + ys, col + xs
                ok = (r >= 0) & (r < self.height) & (c >= 0) & (c < self.width)
                rgb[r[ok], c[ok]] = value
        return _png(rgb)


def _scatter_into(ax, codes: np.ndarray, labels: np.ndarray | None, legend: bool = True) -> None:
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=3, alpha=0.5, color=plots.DIGIT_COLOURS[-1], rasterized=True)
    else:
        plots.latent_scatter(codes, labels, ax=ax, legend=legend, s=3)


# ----------------------------------------------------------------------- latent explorer


class LatentExplorer(W.VBox):
    """Two sliders z1, z2; the decoded digit at z; the point z on the latent map of test digits.

    Public state: ``z1`` and ``z2`` (the ``FloatSlider`` widgets), ``z`` (numpy [2]),
    ``current_image()`` (the float image shown, ``sigmoid(model.decode(z))`` as [28, 28]),
    ``codes`` and ``labels`` (the points of the map), ``map_image`` and ``digit_image``
    (the ``ipywidgets.Image`` widgets).
    """

    def __init__(self, model, images=None, labels=None, *, limits=(-3.0, 3.0), step: float = 0.05,
                 start=(0.0, 0.0)):
        model = _check_model(model)
        if model.latent_dim != 2:
            raise ValueError(f"model must have a 2-D latent space (latent_dim=2), got latent_dim={model.latent_dim}"
                             " (for higher dimensions use interpolation_explorer)")
        lo, hi = (float(v) for v in limits)
        if not lo < hi:
            raise ValueError(f"limits must be (low, high) with low < high, got {limits!r}")
        x, labels = _map_digits(images, labels)
        self.model = model
        self.codes = _codes(model, x)
        self.labels = labels
        title = "VAE latent space: means of q(z|x)" if isinstance(model, VAE) else "autoencoder latent space"

        def draw(fig, ax):
            _scatter_into(ax, self.codes, labels)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(f"{title}\n({len(self.codes):,} test digits)", fontsize=9)

        self._map = _Map(draw)
        slider = dict(min=lo, max=hi, step=step, continuous_update=True, readout_format=".2f", tabbable=True,
                      layout=W.Layout(width="320px"))
        self.z1 = W.FloatSlider(value=float(np.clip(start[0], lo, hi)), description="z1",
                                tooltip="z1: click, then use the left/right arrow keys", **slider)
        self.z2 = W.FloatSlider(value=float(np.clip(start[1], lo, hi)), description="z2",
                                tooltip="z2: click, then use the left/right arrow keys", **slider)
        self.map_image = W.Image(format="png", layout=W.Layout(width=f"{self._map.width}px"))
        self.digit_image = W.Image(format="png", width=28 * DIGIT_SCALE, height=28 * DIGIT_SCALE)
        self.readout = W.HTML()
        help_text = W.HTML(f"<small>{KEYBOARD_HELP} The marker on the map is the point z; "
                           "the digit is what the decoder draws there.</small>")
        digit_box = W.VBox([W.HTML("<b>decoded digit</b>"), self.digit_image, self.readout],
                           layout=W.Layout(align_items="center", justify_content="center"))
        super().__init__([W.HBox([self.map_image, digit_box]), self.z1, self.z2, help_text])
        self._image = None
        self.z1.observe(self._on_change, names="value")
        self.z2.observe(self._on_change, names="value")
        self._on_change()

    @property
    def z(self) -> np.ndarray:
        """The current point (z1, z2), float32."""
        return np.array([self.z1.value, self.z2.value], dtype=np.float32)

    def current_image(self) -> np.ndarray:
        """The decoded image shown now: pixel means in [0, 1], float32 [28, 28] (ink = 1)."""
        return self._image.copy()

    def nearest_label(self) -> int | None:
        """The label of the test digit whose code is nearest to z (None without labels)."""
        if self.labels is None:
            return None
        return int(self.labels[np.argmin(((self.codes - self.z) ** 2).sum(1))])

    def _on_change(self, change=None) -> None:
        z = self.z
        self._image = _decode(self.model, z)
        self.digit_image.value = _digit_png(self._image)
        self.map_image.value = self._map.marked(z)
        near = self.nearest_label()
        near_text = "" if near is None else f"<br>nearest test digit: {near}"
        self.readout.value = f"z = ({z[0]:.2f}, {z[1]:.2f}){near_text}"


def latent_explorer(model, images=None, labels=None, **kwargs) -> LatentExplorer:
    """Sliders for z1 and z2 of a 2-D model; shows the decoded digit and z on the latent map.

    ``images``/``labels``: the digits whose codes make the map (default: the 2,000 test
    digits of the shipped subset, ``load_mnist("test", subset="small")``). Keyword
    arguments: ``limits=(-3, 3)``, ``step=0.05``, ``start=(0, 0)``.
    Keyboard: click a slider, then use the arrow keys.
    """
    return LatentExplorer(model, images, labels, **kwargs)


# ---------------------------------------------------------------- interpolation explorer


def _one_image(x, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) and x.is_floating_point() else to_tensor(x)
    t = t.reshape(-1, 784) if t.numel() == 784 else t
    if t.dim() != 2 or t.shape != (1, 784):
        raise ValueError(f"{name} must be one image ([28, 28], [784] or [1, 784]), got {list(t.shape)}")
    return t.float()


class _Panel:
    """One model's part of the interpolation explorer."""

    def __init__(self, label: str, model: _LatentModel, x_a, x_b, images, labels):
        self.label, self.model = label, model
        with torch.no_grad():
            self.z_a = _codes(model, x_a)[0]
            self.z_b = _codes(model, x_b)[0]
        self.codes = _codes(model, images)
        self.labels = labels
        self.d = model.latent_dim
        if self.d == 2:
            self.basis = None
        else:  # the plane through the origin, z_a and z_b: slerp is an arc there, linear a chord
            e1 = self.z_a / np.linalg.norm(self.z_a)
            e2 = self.z_b - (self.z_b @ e1) * e1
            n2 = np.linalg.norm(e2)
            if n2 < 1e-9:
                e2 = np.zeros_like(e1)
                e2[np.argmin(np.abs(e1))] = 1.0
                e2 -= (e2 @ e1) * e1
                n2 = np.linalg.norm(e2)
            self.basis = np.stack([e1, e2 / n2], axis=1)  # [d, 2]
        self._maps: dict[str, _Map] = {}
        self.image = W.Image(format="png", width=28 * DIGIT_SCALE, height=28 * DIGIT_SCALE)
        self.map_image = W.Image(format="png")
        self.readout = W.HTML()
        self.box = W.VBox([W.HTML(f"<b>{label}</b>"), self.image, self.map_image, self.readout],
                          layout=W.Layout(align_items="center", margin="0 12px 0 0"))

    def project(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return z[..., :2] if self.basis is None else z @ self.basis

    def point(self, t: float, method: str) -> np.ndarray:
        za, zb = torch.as_tensor(self.z_a), torch.as_tensor(self.z_b)
        if method == "linear":
            z = (1 - t) * za + t * zb
        else:
            z = slerp(za, zb, torch.tensor([float(t)], dtype=za.dtype))[0]
        return z.numpy().astype(np.float32)

    def path(self, method: str, steps: int = 101) -> np.ndarray:
        return np.stack([self.point(float(t), method) for t in np.linspace(0, 1, steps)])

    def map_for(self, method: str) -> _Map:
        if method not in self._maps:
            path2 = self.project(self.path(method))
            a2, b2 = self.project(self.z_a), self.project(self.z_b)
            shown = self.project(self.codes)
            style = {"linear": dict(color=plots.PAIR_COLOURS[0], ls="-"),
                     "slerp": dict(color=plots.PAIR_COLOURS[1], ls="--")}[method]

            def draw(fig, ax):
                _scatter_into(ax, shown, self.labels, legend=False)
                for coll in ax.collections:
                    coll.set_alpha(0.25)
                (line,) = ax.plot(path2[:, 0], path2[:, 1], lw=2.2, label=f"{method} path", **style)
                ax.plot(*a2, "o", color="black", ms=6)
                ax.plot(*b2, "s", color="black", ms=6)
                ax.annotate("A", a2, xytext=(6, 6), textcoords="offset points", weight="bold")
                ax.annotate("B", b2, xytext=(6, 6), textcoords="offset points", weight="bold")
                everything = np.concatenate([path2, np.quantile(shown, [0.005, 0.995], axis=0)])
                lo, hi = everything.min(0), everything.max(0)
                pad = 0.08 * (hi - lo).max()
                ax.set_xlim(lo[0] - pad, hi[0] + pad)
                ax.set_ylim(lo[1] - pad, hi[1] + pad)
                ax.set_aspect("equal", adjustable="box")
                if self.basis is None:
                    ax.set_xlabel("$z_1$")
                    ax.set_ylabel("$z_2$")
                else:
                    ax.set_xlabel("along $z_A$")
                    ax.set_ylabel(r"$\perp$, in the plane of $z_A, z_B$")
                ax.legend(handles=[line], fontsize=8, loc="best")
                ax.set_title(f"{self.label}: {self.d}-D latent" + ("" if self.basis is None else ", projected"),
                             fontsize=9)

            self._maps[method] = _Map(draw, size=(3.6, 3.4))
        return self._maps[method]


class InterpolationExplorer(W.VBox):
    """Slider t in [0, 1] and a linear / slerp toggle; per model the decoded image at t and the
    path from z_A (code of x_a) to z_B (code of x_b) in its latent space, side by side.

    Public state: ``t`` (``FloatSlider``), ``method`` (``ToggleButtons``: "linear" or "slerp"),
    ``labels`` (the model labels), ``z(label)``, ``path(label)``, ``current_image(label)``,
    ``endpoints(label)`` -> (z_A, z_B). Latent spaces with more than two dimensions are drawn
    in the plane through the origin, z_A and z_B (slerp is an arc there, linear a chord).
    """

    def __init__(self, models, x_a, x_b, *, images=None, labels=None, steps: int = 101, start: float = 0.5):
        if isinstance(models, Mapping):
            if not models:
                raise ValueError("models must hold at least one model")
            models = {str(k): _check_model(m, f"models[{k!r}]") for k, m in models.items()}
        else:
            models = {"VAE" if isinstance(models, VAE) else "AE": _check_model(models, "models")}
        xa, xb = _one_image(x_a, "x_a"), _one_image(x_b, "x_b")
        x, labels = _map_digits(images, labels)
        self._steps = steps
        self._panels = {k: _Panel(k, m, xa, xb, x, labels) for k, m in models.items()}
        self.labels = list(self._panels)
        self.t = W.FloatSlider(value=float(start), min=0.0, max=1.0, step=0.01, description="t",
                               continuous_update=True, readout_format=".2f", tabbable=True,
                               tooltip="t: click, then use the left/right arrow keys", layout=W.Layout(width="360px"))
        self.method = W.ToggleButtons(options=["linear", "slerp"], value="linear", description="path", tabbable=True,
                                      tooltips=["(1 - t) z_A + t z_B: the straight line",
                                                "spherical interpolation: along the great circle"])
        help_text = W.HTML(f"<small>t = 0 decodes z_A (the code of image A), t = 1 decodes z_B. {KEYBOARD_HELP}"
                           "</small>")
        super().__init__([W.HBox([p.box for p in self._panels.values()]), self.t, self.method, help_text])
        self.t.observe(self._on_change, names="value")
        self.method.observe(self._on_change, names="value")
        self._images: dict[str, np.ndarray] = {}
        self._on_change()

    def _panel(self, label: str) -> _Panel:
        if label is None:
            if len(self._panels) != 1:
                raise ValueError(f"label: choose one of {self.labels}")
            label = self.labels[0]
        if label not in self._panels:
            raise ValueError(f"label must be one of {self.labels}, got {label!r}")
        return self._panels[label]

    def z(self, label: str | None = None) -> np.ndarray:
        """The latent point at the current t and method for model ``label``, float32 [d]."""
        return self._panel(label).point(self.t.value, self.method.value)

    def endpoints(self, label: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(z_A, z_B): the codes of x_a and x_b under model ``label``."""
        p = self._panel(label)
        return p.z_a.copy(), p.z_b.copy()

    def path(self, label: str | None = None, steps: int | None = None) -> np.ndarray:
        """The whole path for the current method, [steps, d] (as drawn on the map)."""
        return self._panel(label).path(self.method.value, steps or self._steps)

    def current_image(self, label: str | None = None) -> np.ndarray:
        """The decoded image shown for model ``label``: float32 [28, 28] in [0, 1]."""
        return self._images[self._panel(label).label].copy()

    def _on_change(self, change=None) -> None:
        t, method = self.t.value, self.method.value
        for label, p in self._panels.items():
            z = p.point(t, method)
            image = _decode(p.model, z)
            self._images[label] = image
            p.image.value = _digit_png(image)
            p.map_image.value = p.map_for(method).marked(p.project(z))
            p.readout.value = f"t = {t:.2f}, |z| = {np.linalg.norm(z):.2f}"


def interpolation_explorer(models, x_a, x_b, **kwargs) -> InterpolationExplorer:
    """Interpolate from the code of ``x_a`` to the code of ``x_b`` with a slider t in [0, 1].

    ``models``: a model, or a dict label -> model (e.g. ``{"AE": ae2, "VAE": vae2}``), shown
    side by side: the decoded image at t and the path in each latent space. A toggle
    switches between linear interpolation and slerp. ``x_a``, ``x_b``: one image each
    (uint8 [28, 28] or float [784]). Keyword arguments: ``images``/``labels`` for the
    background scatter (default: the shipped subset's 2,000 test digits), ``start=0.5``.
    Keyboard: click the slider, then use the arrow keys.
    """
    return InterpolationExplorer(models, x_a, x_b, **kwargs)
