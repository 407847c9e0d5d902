"""Interactive figures for the notebooks: one JavaScript module each, shared with the site.

    from vae_lib import pretrained, widgets
    widgets.LatentExplorer(pretrained.load("vae-2d"))       # lessons 14-3 and 14-6: the whole VAE
    widgets.KLFigure(mu=0.5, var=0.25)                      # lesson 14-4: KL(N(mu, var) || N(0, 1))
    widgets.GradientFigure(mu=0.5, sigma=1.0, k=2.0)        # lesson 14-5: pathwise vs score function
    widgets.interpolation_explorer({"AE": ae2, "VAE": vae2}, x_a, x_b)   # lesson 14-6, any latent size

:class:`LatentExplorer`, :class:`KLFigure` and :class:`GradientFigure` are anywidgets: in
Jupyter (JupyterLab, Notebook 7, VS Code, Colab) their view is the same ES module the site
runs (``book/_static/latent-explorer.js``, ``book/_static/explorer-figures.js``, shipped in
the package under ``vae_lib/course/static/``). The explorer gets the weights of the model it
is given (one that a student trained works too) and encodes, samples and decodes in the
browser, with no round trip to the kernel. Each object also has a ``text/html`` form: the
kernel-free markup the site shows (the book's ``nb_mime_priority_overrides`` puts it first
for the html builder), so one notebook cell gives the live widget in Jupyter and the
kernel-free figure on the site.

The interpolation explorer (AE against VAE, linear against slerp, latent spaces of any size)
is an ipywidgets container drawn with matplotlib.
"""

from __future__ import annotations

import functools
import html
import io
import warnings
from collections.abc import Mapping
from importlib import resources
from typing import cast

import anywidget
import ipywidgets as W
import numpy as np
import torch
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from ..data import load_mnist, to_tensor
from ..latent import encode_dataset, slerp
from ..models import VAE, LatentModel
from . import plots

__all__ = [
    "LatentExplorer",
    "KLFigure",
    "GradientFigure",
    "InterpolationExplorer",
    "latent_explorer",
    "interpolation_explorer",
    "SITE_STATIC",
]

KEYBOARD_HELP = "Click a slider (or tab to it), then use the arrow keys to move it."
DIGIT_SCALE = 6  # the decoded 28 x 28 digit is shown at 168 x 168 pixels
SITE_STATIC = "../_static/"  # the site's _static folder seen from a lesson page (lessons/*.html)
FALLBACK_ALT = (
    "A 15 by 15 grid of digits decoded from evenly spaced points of the 2-D VAE latent space: each "
    "digit class occupies its own region of the grid, and neighbouring cells differ only slightly, so "
    "one digit morphs smoothly into another."
)


def _static(name: str) -> str:
    """The text of a file of vae_lib/course/static/ (the site's copy lives in book/_static/)."""
    return resources.files("vae_lib.course").joinpath("static").joinpath(name).read_text(encoding="utf-8")


def _module(script: str) -> str:
    """A classic script of the site as an ES module for anywidget: the script, then its render."""
    api = {"latent-explorer.js": "vaeExplorer", "explorer-figures.js": "vaeFigures"}[script]
    return _static(script) + f"\nexport default {{ render: (ctx) => globalThis.{api}.render(ctx) }};\n"


# ----------------------------------------------------------------------------- helpers


def _check_model(model, name: str = "model") -> LatentModel:
    if not isinstance(model, LatentModel):
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
            raise ValueError(
                f"labels must have one entry per image: {len(labels)} labels for {len(x)} images"
            )
    return x, labels


def _codes(model: LatentModel, images) -> np.ndarray:
    """Codes of ``images`` (means of q(z|x) for a VAE), numpy [N, d]."""
    return encode_dataset(model, images).numpy()


def _decode(model: LatentModel, z: np.ndarray) -> np.ndarray:
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
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
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
        # matplotlib's stubs type Transform.frozen() as TransformNode (it returns a Transform)
        x, y = self._transform.transform(np.asarray(point, dtype=float)[:2])  # type: ignore[attr-defined]
        x = min(max(x, self._clip.x0), self._clip.x1)
        y = min(max(y, self._clip.y0), self._clip.y1)
        return round(x), round(self.height - y)

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


@functools.lru_cache(maxsize=1)
def _shipped_hash() -> str:
    from .. import pretrained
    from .explorer import weights_sha256

    return weights_sha256(cast(LatentModel, pretrained.load("vae-2d")))


class LatentExplorer(anywidget.AnyWidget):
    """The whole 2-D VAE in the browser: pick a test digit's dot or draw a digit, see its region
    mu +- 2 sigma of q(z|x) on the latent map (with a zoom), sample z = mu + sigma * eps from it,
    and decode any point; interpolate from A to B.

    ``model``: a 2-D VAE (or autoencoder: no region then) with a Bernoulli decoder, e.g.
    ``pretrained.load("vae-2d")`` or one you trained. ``images``/``labels``: the digits on the map
    (default: the 2,000 test digits of the shipped subset). The weights go to the browser as
    float32; encoding and decoding run there (``vaeExplorer.encode``/``decode`` in the browser's
    console). Synced back: ``z`` (the decoded point) and ``mu`` (of the current input).

    ``site_static``: where the site's ``_static`` folder is, seen from the page (for the
    ``text/html`` form). The site shows the shipped model from its quantised export
    (``python -m vae_lib export-explorer``); for another model or other images the ``text/html``
    form says that the explorer needs a running notebook.
    """

    _esm = traitlets.Unicode().tag(sync=True)
    _css = traitlets.Unicode().tag(sync=True)
    pack = traitlets.Bytes().tag(sync=True)
    z = traitlets.List(traitlets.Float(), default_value=[0.0, 0.0]).tag(sync=True)
    mu = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)

    def __init__(self, model, images=None, labels=None, *, site_static: str = SITE_STATIC):
        from .explorer import pack_model, weights_sha256

        model = _check_model(model)
        if model.latent_dim != 2:
            raise ValueError(
                f"model must have a 2-D latent space (latent_dim=2), got latent_dim={model.latent_dim}"
                " (for higher dimensions use interpolation_explorer)"
            )
        pack = pack_model(model, images, labels, quantize=False)
        super().__init__(_esm=_module("latent-explorer.js"), _css=_static("latent-explorer.css"), pack=pack)
        self.model = model
        self.site_static = str(site_static)
        self._on_site = images is None and labels is None and weights_sha256(model) == _shipped_hash()

    def embed_html(self) -> str:
        """The kernel-free markup of the site (``text/html``)."""
        s = html.escape(self.site_static, quote=True)
        if not self._on_site:
            return (
                '<p class="vae-explorer__note">The latent explorer of this model runs in a live notebook '
                "(Jupyter, Colab, VS Code): run the cell there.</p>"
            )
        return (
            f'<div class="vae-explorer" data-src="{s}explorer/vae-2d.bin">\n'
            f'<img class="vae-explorer__fallback" src="{s}explorer/decoded-grid.png" '
            'width="640" height="640" loading="lazy" style="max-width: 100%; height: auto;" '
            f'alt="{html.escape(FALLBACK_ALT)}">\n</div>\n'
            f'<link rel="stylesheet" href="{s}latent-explorer.css">\n'
            f'<script src="{s}latent-explorer.js"></script>'
        )

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, None)
        data = dict(data or {})
        data["text/html"] = self.embed_html()
        return (data, meta) if meta is not None else data


def latent_explorer(model, images=None, labels=None, **kwargs) -> LatentExplorer:
    """Deprecated: use ``LatentExplorer(model, images, labels)`` (the matplotlib explorer is gone)."""
    warnings.warn(
        "widgets.latent_explorer is deprecated: use widgets.LatentExplorer(model)",
        DeprecationWarning,
        stacklevel=2,
    )
    return LatentExplorer(model, images, labels, **kwargs)


# ------------------------------------------------------------ figures of 14-4 and 14-5


class _Figure(anywidget.AnyWidget):
    _esm = traitlets.Unicode().tag(sync=True)
    _css = traitlets.Unicode().tag(sync=True)
    figure = traitlets.Unicode().tag(sync=True)
    site_static = SITE_STATIC

    def __init__(self, **traits):
        super().__init__(_esm=_module("explorer-figures.js"), _css=_static("explorer-figures.css"), **traits)

    def _data_attributes(self) -> dict:
        raise NotImplementedError

    def embed_html(self) -> str:
        """The kernel-free markup of the site (``text/html``)."""
        s = html.escape(self.site_static, quote=True)
        attrs = " ".join(f'data-{k}="{v}"' for k, v in self._data_attributes().items())
        return (
            f'<div class="vae-figure" data-figure="{self.figure}" {attrs}>'
            "<noscript><p>This interactive figure needs JavaScript.</p></noscript></div>\n"
            f'<link rel="stylesheet" href="{s}explorer-figures.css">\n'
            f'<script src="{s}explorer-figures.js"></script>'
        )

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, None)
        data = dict(data or {})
        data["text/html"] = self.embed_html()
        return (data, meta) if meta is not None else data


class KLFigure(_Figure):
    """Lesson 14-4: q = N(mu, var) against the prior N(0, 1), sliders for mu and var = sigma^2;
    the KL and its two parts, 1/2 mu^2 and 1/2 (var - log var - 1), update as they move.

    ``mu``, ``var`` are synced with the sliders; ``kl``, ``mean_term`` and ``variance_term`` are
    computed here with :func:`vae_lib.kl_divergence`.
    """

    mu = traitlets.Float(0.5).tag(sync=True)
    var = traitlets.Float(0.25).tag(sync=True)

    def __init__(self, mu: float = 0.5, var: float = 0.25):
        if not -3 <= float(mu) <= 3:
            raise ValueError(f"mu must be in [-3, 3] (the slider's range), got {mu!r}")
        if not 0.05 <= float(var) <= 4:
            raise ValueError(f"var must be in [0.05, 4] (the slider's range), got {var!r}")
        super().__init__(figure="kl", mu=float(mu), var=float(var))

    @property
    def kl(self) -> float:
        from ..losses import kl_divergence

        t = torch.tensor([[self.mu]], dtype=torch.float64)
        return float(kl_divergence(t, torch.log(torch.tensor([[self.var]], dtype=torch.float64)))[0])

    @property
    def mean_term(self) -> float:
        return 0.5 * self.mu**2

    @property
    def variance_term(self) -> float:
        return 0.5 * (self.var - float(np.log(self.var)) - 1.0)

    def _data_attributes(self) -> dict:
        return {"mu": repr(self.mu), "var": repr(self.var)}


class GradientFigure(_Figure):
    """Lesson 14-5: histograms of ``n`` pathwise estimates 2 (z - k) and score-function estimates
    (z - k)^2 (z - mu) / sigma^2 of d/dmu E[(z - k)^2], z ~ N(mu, sigma^2), from fresh samples, with
    their variances against the closed forms (:meth:`closed_forms`).
    """

    mu = traitlets.Float(0.5).tag(sync=True)
    sigma = traitlets.Float(1.0).tag(sync=True)
    k = traitlets.Float(2.0).tag(sync=True)
    n = traitlets.Int(1000).tag(sync=True)
    seed = traitlets.Int(1).tag(sync=True)

    def __init__(self, mu: float = 0.5, sigma: float = 1.0, k: float = 2.0, n: int = 1000, seed: int = 1):
        for name, v, lo, hi in (
            ("mu", mu, -3, 3),
            ("sigma", sigma, 0.1, 3),
            ("k", k, -3, 3),
            ("n", n, 20, 5000),
        ):
            if not lo <= float(v) <= hi:
                raise ValueError(f"{name} must be in [{lo}, {hi}] (the slider's range), got {v!r}")
        super().__init__(
            figure="gradient", mu=float(mu), sigma=float(sigma), k=float(k), n=int(n), seed=int(seed)
        )

    def closed_forms(self) -> dict:
        """The true gradient 2 (mu - k) and the variances of one estimate of each kind."""
        d, s2 = self.mu - self.k, self.sigma**2
        return {"gradient": 2 * d, "var_pathwise": 4 * s2, "var_score": d**4 / s2 + 14 * d**2 + 15 * s2}

    def estimates(self, generator: torch.Generator | None = None) -> dict:
        """``n`` fresh estimates of each kind, drawn here with torch (as the figure draws them in JS)."""
        eps = torch.randn(self.n, dtype=torch.float64, generator=generator)
        z = self.mu + self.sigma * eps
        return {
            "pathwise": (2 * (z - self.k)).numpy(),
            "score": ((z - self.k) ** 2 * (z - self.mu) / self.sigma**2).numpy(),
        }

    def _data_attributes(self) -> dict:
        return {
            "mu": repr(self.mu),
            "sigma": repr(self.sigma),
            "k": repr(self.k),
            "n": str(self.n),
            "seed": str(self.seed),
        }


# ---------------------------------------------------------------- interpolation explorer


def _one_image(x, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) and x.is_floating_point() else to_tensor(x)
    t = t.reshape(-1, 784) if t.numel() == 784 else t
    if t.dim() != 2 or t.shape != (1, 784):
        raise ValueError(f"{name} must be one image ([28, 28], [784] or [1, 784]), got {list(t.shape)}")
    return t.float()


class _Panel:
    """One model's part of the interpolation explorer."""

    def __init__(self, label: str, model: LatentModel, x_a, x_b, images, labels):
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
        self.box = W.VBox(
            [W.HTML(f"<b>{label}</b>"), self.image, self.map_image, self.readout],
            layout=W.Layout(align_items="center", margin="0 12px 0 0"),
        )

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
            style = {
                "linear": dict(color=plots.PAIR_COLOURS[0], ls="-"),
                "slerp": dict(color=plots.PAIR_COLOURS[1], ls="--"),
            }[method]

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
                ax.set_title(
                    f"{self.label}: {self.d}-D latent" + ("" if self.basis is None else ", projected"),
                    fontsize=9,
                )

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
        self.t = W.FloatSlider(
            value=float(start),
            min=0.0,
            max=1.0,
            step=0.01,
            description="t",
            continuous_update=True,
            readout_format=".2f",
            tabbable=True,
            tooltip="t: click, then use the left/right arrow keys",
            layout=W.Layout(width="360px"),
        )
        self.method = W.ToggleButtons(
            options=["linear", "slerp"],
            value="linear",
            description="path",
            tabbable=True,
            tooltips=[
                "(1 - t) z_A + t z_B: the straight line",
                "spherical interpolation: along the great circle",
            ],
        )
        help_text = W.HTML(
            f"<small>t = 0 decodes z_A (the code of image A), t = 1 decodes z_B. {KEYBOARD_HELP}</small>"
        )
        super().__init__([W.HBox([p.box for p in self._panels.values()]), self.t, self.method, help_text])
        self.t.observe(self._on_change, names="value")
        self.method.observe(self._on_change, names="value")
        self._images: dict[str, np.ndarray] = {}
        self._on_change()

    def _panel(self, label: str | None) -> _Panel:
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
