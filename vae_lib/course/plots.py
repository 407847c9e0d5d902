"""The figures of the lessons. Each function returns a matplotlib ``Figure`` and never calls
``plt.show()``: a notebook shows the returned figure, a script saves it.

Colours: digits 0-9 use Paul Tol's colour-blind-safe "muted" scheme (plus a mid grey for
the tenth class), and every scatter also labels each cluster with its digit, so colour is
never the only cue.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt  # noqa: F401  (sets up the notebook's figure display)
import matplotlib.ticker
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Ellipse

# Paul Tol's "muted" qualitative scheme (colour-blind safe) + a grey for the tenth class.
DIGIT_COLOURS = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
    "#777777",
)
# Okabe-Ito colours for two-series comparisons (AE vs VAE, linear vs slerp, ...).
PAIR_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _as_images(images) -> np.ndarray:
    """Anything image-like -> float array [N, 28, 28] in [0, 1]."""
    a = _np(images)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    if a.ndim == 1:
        a = a[None]
    if a.ndim == 2 and a.shape[-1] == 784:
        a = a.reshape(-1, 28, 28)
    if a.ndim != 3 or a.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape [N, 784] or [N, 28, 28], got {list(a.shape)}")
    return a


def latent_scatter(
    z,
    labels,
    *,
    ax=None,
    title: str | None = None,
    s: float = 3.0,
    alpha: float = 0.6,
    annotate: bool = True,
    legend: bool = True,
) -> Figure:
    """2-D codes ``z`` [N, 2] coloured by digit label, each cluster labelled at its median."""
    z, labels = _np(z), _np(labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape [N, 2], got {list(z.shape)}")
    if len(labels) != len(z):
        raise ValueError(f"labels must have one entry per point: {len(labels)} labels for {len(z)} points")
    fig, ax = _fig_ax(ax, (5, 5))
    for digit in range(10):
        pts = z[labels == digit]
        if len(pts) == 0:
            continue
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=s,
            alpha=alpha,
            color=DIGIT_COLOURS[digit],
            label=str(digit),
            rasterized=True,
        )
        if annotate:
            cx, cy = np.median(pts, axis=0)
            ax.text(
                cx,
                cy,
                str(digit),
                fontsize=12,
                weight="bold",
                ha="center",
                va="center",
                color="black",
                clip_on=True,
                bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec=DIGIT_COLOURS[digit], alpha=0.85),
            )
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_aspect("equal", adjustable="datalim")
    if legend:
        ax.legend(
            title="digit",
            markerscale=4,
            fontsize=8,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
        )
    if title:
        ax.set_title(title)
    return fig


def latent_ellipses(mu, logvar, labels, *, ax=None, n_sigma: float = 2.0, title: str | None = None) -> Figure:
    """Each q(z|x) = N(mu, diag sigma^2) drawn as the ellipse mu +- n_sigma * sigma (2-D latent)."""
    mu, sigma, labels = _np(mu), np.exp(0.5 * _np(logvar)), _np(labels)
    if mu.ndim != 2 or mu.shape[1] != 2 or sigma.shape != mu.shape:
        raise ValueError(
            f"mu and logvar must both have shape [N, 2], got {list(mu.shape)} and {list(sigma.shape)}"
        )
    fig, ax = _fig_ax(ax, (5, 5))
    for m, s_, y in zip(mu, sigma, labels):
        ax.add_patch(
            Ellipse(
                tuple(m),
                2 * n_sigma * s_[0],
                2 * n_sigma * s_[1],
                fc=DIGIT_COLOURS[int(y)],
                ec=DIGIT_COLOURS[int(y)],
                alpha=0.25,
                lw=0.8,
            )
        )
        ax.plot(*m, "+", color="black", ms=3, mew=0.6)
    pad = n_sigma * sigma.max()
    ax.set_xlim(mu[:, 0].min() - pad, mu[:, 0].max() + pad)
    ax.set_ylim(mu[:, 1].min() - pad, mu[:, 1].max() + pad)
    ax.set_aspect("equal", adjustable="box")  # keep the limits just set
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    handles = [
        matplotlib.patches.Patch(color=DIGIT_COLOURS[d], alpha=0.5, label=str(d))
        for d in sorted(set(int(y) for y in labels))
    ]
    ax.legend(
        handles=handles,
        title="digit",
        fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
    )
    if title:
        ax.set_title(title)
    return fig


def image_grid(
    images,
    nrow: int | None = None,
    *,
    ax=None,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    pad: int = 2,
) -> Figure:
    """Images [N, 784] or [N, 28, 28] tiled in rows of ``nrow`` (grey, white = 1)."""
    imgs = _as_images(images)
    if titles is not None:
        pad = max(pad, 12)  # room for each title above its image
    n = len(imgs)
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    canvas = np.ones((rows * (28 + pad) - pad, nrow * (28 + pad) - pad))
    for i, im in enumerate(imgs):
        r, c = divmod(i, nrow)
        canvas[r * (28 + pad) : r * (28 + pad) + 28, c * (28 + pad) : c * (28 + pad) + 28] = 1 - im
    fig, ax = _fig_ax(ax, (max(2.0, nrow * 0.6), max(1.0, rows * 0.6)))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if titles is not None:
        for i, t in enumerate(titles):
            r, c = divmod(i, nrow)
            ax.text(c * (28 + pad) + 14, r * (28 + pad) - 2, t, ha="center", va="bottom", fontsize=7)
    if title:
        ax.set_title(title)
    return fig


def reconstructions(model, x, n: int = 10, *, title: str | None = None) -> Figure:
    """Top row: ``n`` inputs; bottom row: the model's reconstructions (the decoded mean code)."""
    from ..models import VAE

    x = x[:n]
    with torch.no_grad():
        code = model.encode(x)
        z = code[0] if isinstance(model, VAE) else code
        rec = model.decode_images(z)
    fig = image_grid(torch.cat([x, rec]), nrow=len(x))
    ax = fig.axes[0]
    ax.text(-4, 14, "input", ha="right", va="center", fontsize=9)
    ax.text(-4, 44, "decoded", ha="right", va="center", fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def decoded_grid(
    model, n: int = 15, *, low: float = 0.05, high: float = 0.95, title: str | None = None
) -> Figure:
    """The decoded manifold of a 2-D latent space: an n x n grid through the inverse Gaussian CDF."""
    from ..latent import latent_grid

    z = latent_grid(n, low=low, high=high, latent_dim=model.latent_dim)
    fig = image_grid(model.decode_images(z), nrow=n, pad=0)
    ax = fig.axes[0]
    ticks = np.arange(n) * 28 + 14
    q = torch.special.ndtri(torch.linspace(low, high, n, dtype=torch.float64)).numpy()
    every = max(1, n // 5)
    ax.set_axis_on()
    ax.set_xticks(ticks[::every], [f"{v:.1f}" for v in q[::every]])
    ax.set_yticks(ticks[::every], [f"{v:.1f}" for v in q[::-1][::every]])
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def interpolation_strip(rows: dict[str, object], *, title: str | None = None) -> Figure:
    """One row of decoded images per entry of ``rows`` (label -> images [steps, 784])."""
    labels = list(rows)
    arrays = [_as_images(rows[k]) for k in labels]
    steps = len(arrays[0])
    fig = image_grid(np.concatenate(arrays), nrow=steps)
    ax = fig.axes[0]
    for i, label in enumerate(labels):
        ax.text(-4, i * 30 + 14, label, ha="right", va="center", fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def loss_curves(history, *, ax=None, title: str | None = None) -> Figure:
    """Train (solid) and test (dashed) total, reconstruction and KL per epoch, in nats."""
    fig, ax = _fig_ax(ax, (6, 3.5))
    epochs = np.arange(1, history.epochs + 1)
    # An autoencoder has no KL term: its total is its reconstruction error, drawn once.
    terms = ("total", "reconstruction", "kl") if any(history.train["kl"]) else ("reconstruction",)
    for colour, term in zip(PAIR_COLOURS, terms):
        if any(history.train[term]):
            ax.plot(epochs, history.train[term], color=colour, marker="o", ms=3, label=f"train {term}")
        if history.test[term] and any(history.test[term]):
            ax.plot(epochs, history.test[term], color=colour, ls="--", marker="s", ms=3, label=f"test {term}")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("nats per image")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def latent_usage(
    kl_per_dim, activity, *, threshold: float = 0.01, ax=None, title: str | None = None
) -> Figure:
    """Per latent dimension: the KL to the prior (bars) and the activity Var_x(E_q[z_j])
    (diamonds), on a log scale, with the threshold of an active unit dashed (lessons 14-6, 14-7).

    ``kl_per_dim`` and ``activity`` are [d] (for example the fields of
    :func:`vae_lib.active_units`); inactive dimensions are drawn hatched, so the split does not
    rest on colour alone.
    """
    kl, act = _np(kl_per_dim).astype(float), _np(activity).astype(float)
    if kl.ndim != 1 or kl.shape != act.shape:
        raise ValueError(
            f"kl_per_dim and activity must be vectors of one length, got {list(kl.shape)} "
            f"and {list(act.shape)}"
        )
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    fig, ax = _fig_ax(ax, (7.5, 3.2))
    j = np.arange(1, len(kl) + 1)
    active = act > threshold
    floor = min(threshold / 10, float(np.min(np.r_[kl, act][np.r_[kl, act] > 0], initial=threshold)) / 2)
    ax.bar(j[active], kl[active], color=PAIR_COLOURS[0], label="KL of an active dimension (nats)")
    ax.bar(
        j[~active],
        np.maximum(kl[~active], floor),
        color="white",
        ec=PAIR_COLOURS[1],
        hatch="///",
        label="KL of an inactive dimension (nats)",
    )
    ax.plot(
        j,
        np.maximum(act, floor),
        "D",
        color="black",
        ms=5,
        ls="none",
        label=r"activity $\mathrm{Var}_x(\mathbb{E}_q[z_j])$",
    )
    ax.axhline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xticks(j)
    ax.set_xlabel("latent dimension $j$")
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    return fig


def vae_architecture() -> Figure:
    """The diagram of lesson 14-3: the training path of a VAE (encode, sample, decode, loss,
    backpropagate) above its generation path (sample the prior, decode)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    def box(ax, xy, text, colour, w=1.7, h=0.9, fc="white"):
        x0, y0 = xy
        ax.add_patch(
            FancyBboxPatch((x0 - w / 2, y0 - h / 2), w, h, boxstyle="round,pad=0.05", ec=colour, fc=fc, lw=2)
        )
        ax.text(x0, y0, text, ha="center", va="center", fontsize=9.5)

    def arrow(ax, a, b, colour="black", ls="-", text=None, dy=0.18, rad=0.0):
        ax.add_patch(
            FancyArrowPatch(
                a,
                b,
                arrowstyle="-|>",
                mutation_scale=14,
                color=colour,
                lw=1.5,
                ls=ls,
                connectionstyle=f"arc3,rad={rad}",
            )
        )
        if text:
            ax.text(
                (a[0] + b[0]) / 2,
                (a[1] + b[1]) / 2 + dy,
                text,
                ha="center",
                va="bottom",
                fontsize=8.5,
                color=colour,
            )

    train_c, gen_c = PAIR_COLOURS[0], PAIR_COLOURS[1]
    fig = Figure(figsize=(9.5, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.set(xlim=(-0.2, 13.6), ylim=(0.2, 6.7))
    ax.set_axis_off()

    # Training path (top)
    y = 4.6
    ax.text(-0.1, 5.9, "training", fontsize=12, weight="bold", color=train_c)
    xs = [0.85, 2.95, 5.15, 7.6, 10.0, 12.55]
    box(ax, (xs[0], y), "image $x$\n(784 pixels)", train_c, w=1.65)
    box(ax, (xs[1], y), "encoder\n$q_\\phi(z\\mid x)$", train_c, w=1.6)
    box(ax, (xs[2], y), "$\\mu$, $\\log\\sigma^2$\n($2d$ numbers)", train_c, w=1.8)
    box(ax, (xs[3], y), "sample\n$z = \\mu + \\sigma \\odot \\epsilon$", train_c, w=2.2)
    box(ax, (xs[4], y), "decoder\n$p_\\theta(x\\mid z)$", train_c, w=1.6)
    box(ax, (xs[5], y), "reconstruction\n$\\hat x$", train_c, w=1.95)
    for a, b, wa, wb in [
        (0, 1, 1.65, 1.6),
        (1, 2, 1.6, 1.8),
        (2, 3, 1.8, 2.2),
        (3, 4, 2.2, 1.6),
        (4, 5, 1.6, 1.95),
    ]:
        arrow(ax, (xs[a] + wa / 2 + 0.05, y), (xs[b] - wb / 2 - 0.05, y))
    ax.text(
        xs[3], y + 0.75, "$\\epsilon \\sim \\mathcal{N}(0, I)$   (lesson 14-5)", ha="center", fontsize=8.5
    )
    # The loss and the backward pass
    box(
        ax,
        (6.6, 2.75),
        "loss = reconstruction$(x, \\hat x)$ + $\\beta\\cdot$KL$(q_\\phi(z\\mid x)\\,\\Vert\\,\\mathcal{N}(0, I))$",
        train_c,
        w=8.4,
        h=0.7,
        fc="#E8F1F8",
    )
    arrow(ax, (xs[5], y - 0.5), (9.9, 3.15), train_c)
    arrow(ax, (xs[0], y - 0.5), (3.3, 3.15), train_c)
    arrow(ax, (xs[2], y - 0.5), (6.2, 3.15), train_c)
    ax.text(
        6.0,
        3.75,
        r"KL term:" "\n" r"$\mu$, $\log\sigma^2$",
        fontsize=8.5,
        color=train_c,
        ha="left",
        va="center",
    )
    ax.text(0.15, 3.4, "reconstruction\nterm: $x$", fontsize=8.5, color=train_c, ha="left", va="center")
    ax.text(12.0, 3.4, "reconstruction\nterm: $\\hat x$", fontsize=8.5, color=train_c, ha="left", va="center")
    ax.annotate(
        "",
        xy=(xs[1], y + 0.55),
        xytext=(xs[4], y + 0.55),
        arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.2, ls="--", connectionstyle="arc3,rad=0.25"),
    )
    ax.text(
        (xs[1] + xs[4]) / 2,
        6.3,
        "backpropagate: update decoder $\\theta$ and encoder $\\phi$ together",
        ha="center",
        fontsize=8.5,
        color="0.25",
    )

    # Generation path (bottom)
    y = 1.0
    ax.text(-0.1, 2.0, "generation", fontsize=12, weight="bold", color=gen_c)
    box(ax, (xs[3], y), "sample\n$z \\sim \\mathcal{N}(0, I)$", gen_c, w=2.2, fc="#FBEDE3")
    box(ax, (xs[4], y), "decoder\n(same weights $\\theta$)", gen_c, w=1.9, fc="#FBEDE3")
    box(ax, (xs[5], y), "new image", gen_c, w=1.95, fc="#FBEDE3")
    arrow(ax, (xs[3] + 1.15, y), (xs[4] - 1.0, y), gen_c)
    arrow(ax, (xs[4] + 1.0, y), (xs[5] - 1.02, y), gen_c)
    ax.text(
        2.9,
        y,
        "no encoder,\nno input image",
        ha="center",
        va="center",
        fontsize=10,
        color=gen_c,
        style="italic",
    )
    return fig


def autoencoder_architecture() -> Figure:
    """The diagram of lesson 14-1: the layer widths of the chapter's autoencoder
    (784, 512, 256, 2, 256, 512, 784), encoder and decoder in two colours and hatchings."""
    from matplotlib.patches import FancyArrowPatch, Rectangle

    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.subplots()
    layers = [
        (784, "$x$\n784"),
        (512, "512"),
        (256, "256"),
        (2, "$z$\n2"),
        (256, "256"),
        (512, "512"),
        (784, "$\\hat x$\n784"),
    ]
    blue, orange = PAIR_COLOURS[:2]
    colours = [blue] * 3 + ["black"] + [orange] * 3
    hatches = ["", "", "", "", "//", "//", "//"]
    for i, ((size, label), c, hatch) in enumerate(zip(layers, colours, hatches)):
        h = 0.3 + 2.7 * np.sqrt(size / 784)  # bar height grows with the width
        ax.add_patch(Rectangle((i * 1.5 - 0.25, -h / 2), 0.5, h, fc=c, alpha=0.35, ec=c, lw=1.5, hatch=hatch))
        ax.text(i * 1.5, -1.75, label, ha="center", va="top", fontsize=10)
        if i:
            ax.add_patch(
                FancyArrowPatch(
                    ((i - 1) * 1.5 + 0.3, 0), (i * 1.5 - 0.3, 0), arrowstyle="-|>", mutation_scale=12
                )
            )
    ax.text(1.5, 1.75, "encoder $f_\\phi$", ha="center", fontsize=12, color=blue)
    ax.text(7.5, 1.75, "decoder $g_\\theta$ (then sigmoid)", ha="center", fontsize=12, color=orange)
    ax.text(4.5, 1.0, "bottleneck", ha="center", fontsize=10)
    ax.set_xlim(-0.6, 9.6)
    ax.set_ylim(-2.6, 2.1)
    ax.set_axis_off()
    return fig


def reparameterization_graph() -> Figure:
    """The diagram of lesson 14-5: the computation graph of f(z) with z sampled (torch defines
    dz/dmu as 0, no gradient reaches mu and sigma) and with z = mu + sigma * eps reparameterized."""
    from matplotlib.lines import Line2D

    BLUE, ORANGE = PAIR_COLOURS[:2]

    def node(ax, xy, text, kind):
        style = {
            "param": dict(boxstyle="round,pad=0.4", fc="#E8F1FA", ec=BLUE, lw=1.5),
            "det": dict(boxstyle="round,pad=0.4", fc="white", ec="black", lw=1.5),
            "random": dict(boxstyle="circle,pad=0.3", fc="#FBE3D6", ec=ORANGE, lw=2),
            "noise": dict(boxstyle="round,pad=0.4", fc="white", ec="grey", lw=1.5, ls="--"),
        }[kind]
        ax.text(*xy, text, ha="center", va="center", fontsize=13, bbox=style, zorder=3)

    def arrow(ax, start, end, colour="black", ls="-", rad=0.0):
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            zorder=2,
            arrowprops=dict(
                arrowstyle="-|>",
                color=colour,
                lw=1.6,
                ls=ls,
                shrinkA=22,
                shrinkB=22,
                connectionstyle=f"arc3,rad={rad}",
            ),
        )

    fig = Figure(figsize=(7, 7.6), layout="constrained")
    ax_s, ax_r = fig.subplots(2, 1)
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # layout="constrained"
    engine.set(h_pad=0.3)  # room between the two graphs
    for ax in (ax_s, ax_r):
        ax.set_xlim(-0.12, 1.08)
        ax.set_ylim(-0.04, 1.0)
        ax.set_axis_off()

    # Top: z drawn by a sampler, a stochastic node.
    ax_s.set_title(r"sampled: $z \sim \mathcal{N}(\mu, \sigma^2)$ is a stochastic node", fontsize=12)
    node(ax_s, (0.0, 0.82), r"$\mu$", "param")
    node(ax_s, (0.0, 0.28), r"$\sigma$", "param")
    node(ax_s, (0.5, 0.55), r"$z$", "random")
    node(ax_s, (0.95, 0.55), r"$f(z)$", "det")
    arrow(ax_s, (0.0, 0.82), (0.5, 0.55))
    arrow(ax_s, (0.0, 0.28), (0.5, 0.55))
    arrow(ax_s, (0.5, 0.55), (0.95, 0.55))
    arrow(ax_s, (0.95, 0.55), (0.5, 0.55), BLUE, "--", rad=0.4)
    arrow(ax_s, (0.5, 0.55), (0.0, 0.82), ORANGE, ":", rad=0.3)
    arrow(ax_s, (0.5, 0.55), (0.0, 0.28), ORANGE, ":", rad=-0.3)
    for y in (0.88, 0.2):
        ax_s.text(0.25, y, "✗", color=ORANGE, fontsize=20, ha="center", va="center", weight="bold")
    ax_s.text(
        0.48,
        0.0,
        r"torch defines $\partial z / \partial \mu$ as 0: no gradient"
        r" reaches $\mu$, $\sigma$",
        ha="center",
        fontsize=11.5,
        color=ORANGE,
    )

    # Bottom: z = mu + sigma * eps, a deterministic node with the noise as an input.
    ax_r.set_title(r"reparameterized: $z = \mu + \sigma\epsilon$ is a deterministic node", fontsize=12)
    node(ax_r, (0.0, 0.86), r"$\mu$", "param")
    node(ax_r, (0.0, 0.55), r"$\sigma$", "param")
    node(ax_r, (0.02, 0.2), r"$\epsilon \sim \mathcal{N}(0, 1)$", "noise")
    node(ax_r, (0.52, 0.55), r"$z = \mu + \sigma\epsilon$", "det")
    node(ax_r, (0.95, 0.55), r"$f(z)$", "det")
    for y in (0.86, 0.55, 0.2):
        arrow(ax_r, (0.0, y), (0.52, 0.55))
    arrow(ax_r, (0.52, 0.55), (0.95, 0.55))
    arrow(ax_r, (0.95, 0.55), (0.52, 0.55), BLUE, "--", rad=0.4)
    arrow(ax_r, (0.52, 0.55), (0.0, 0.86), BLUE, "--", rad=0.3)
    arrow(ax_r, (0.52, 0.55), (0.0, 0.55), BLUE, "--", rad=0.45)
    ax_r.set_ylim(-0.04, 1.08)  # room for the label above the arrows
    ax_r.text(0.3, 0.96, r"$\partial z/\partial\mu = 1$", color=BLUE, fontsize=12, ha="center")
    ax_r.text(0.2, 0.43, r"$\partial z/\partial\sigma = \epsilon$", color=BLUE, fontsize=12, ha="center")
    ax_r.text(
        0.48,
        0.0,
        r"the noise is an input: the gradient reaches $\mu$ and $\sigma$",
        ha="center",
        fontsize=11.5,
        color=BLUE,
    )

    handles = [
        Line2D([], [], color="black", lw=1.5, label="forward pass"),
        Line2D([], [], color=BLUE, lw=1.5, ls="--", label="gradient"),
        Line2D([], [], color=ORANGE, lw=1.5, ls=":", label="gradient blocked"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=11)
    return fig


def posterior_panels(panels: Sequence[dict]) -> Figure:
    """The figure of lesson 14-2 that sets the encoder's q(z|x) against the exact posterior of
    a 2-D VAE: one panel per dict with ``z1``, ``z2`` (the grid, [n, n]), ``log_post`` (log
    posterior density on it), ``mu``, ``logvar`` ([2], the encoder's q), ``image`` ([784]) and
    ``title``. The posterior is grey shading with its 1 %-of-peak contour; q is drawn as the
    ellipses mu +- sigma (solid) and mu +- 2 sigma (dashed) with its mean as a cross."""
    if not panels:
        raise ValueError("panels must hold at least one panel")
    orange = PAIR_COLOURS[1]
    fig = Figure(figsize=(3 * len(panels) - 0.5, 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, p in zip(axes, panels):
        post = p["log_post"].exp()
        peak = post.max().item()
        mu, sigma = p["mu"].numpy(), (0.5 * p["logvar"]).exp().numpy()
        levels = peak * np.linspace(0.01, 1, 9)
        ax.contourf(p["z1"], p["z2"], post, levels=levels, cmap="Greys")
        ax.contour(p["z1"], p["z2"], post, levels=[0.01 * peak], colors="black", linewidths=0.8)
        for k, ls in ((1, "-"), (2, "--")):
            ax.add_patch(
                Ellipse(mu, 2 * k * sigma[0], 2 * k * sigma[1], fill=False, ec=orange, lw=1.8, ls=ls)
            )
        ax.plot(*mu, "+", color=orange, ms=10, mew=2)
        # a square window around the posterior (above 1% of its peak) and q
        inside = post > 0.01 * peak
        corners = torch.from_numpy(np.stack([mu - 2 * sigma, mu + 2 * sigma]))
        pts = torch.cat([torch.stack([p["z1"][inside], p["z2"][inside]], 1), corners])
        lo, hi = pts.min(0).values, pts.max(0).values
        centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * 1.5
        ax.set(
            xlim=(centre[0] - half, centre[0] + half),
            ylim=(centre[1] - half, centre[1] + half),
            aspect="equal",
            title=p.get("title"),
            xlabel="$z_1$",
        )
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        inset = ax.inset_axes([0.01, 0.77, 0.22, 0.22])
        inset.imshow(1 - _as_images(p["image"])[0], cmap="gray")
        inset.set(xticks=[], yticks=[])
    axes[0].set_ylabel("$z_2$")
    axes[0].plot([], [], color=orange, label="$q_\\phi$: $\\mu \\pm \\sigma$")
    axes[0].plot([], [], color=orange, ls="--", label="$\\mu \\pm 2\\sigma$")
    axes[0].legend(fontsize=7, loc="lower right", framealpha=0.9)
    return fig


def _fig_ax(ax, size):
    if ax is not None:
        return ax.figure, ax
    # A bare Figure, not a pyplot one: notebooks show the returned figure exactly once.
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()
