"""The explorer and the interactive figures in a real browser (headless Chromium, playwright).

A small dedicated book is built in a temporary folder: the repository's _config.yml, a
one-page _toc.yml, book/ (extensions, templates, _static with the explorer's script, styles
and exported pack), and one MyST notebook page, lessons/explorer.md, whose code cells are the
lessons' one-cell embeds: ``LatentExplorer(pretrained.load("vae-2d"))``, ``KLFigure(...)``,
``GradientFigure(...)``. myst-nb executes them and renders each widget's ``text/html`` form
(``nb_mime_priority_overrides`` in _config.yml), so what the lessons show on the site is what
is tested here. A tall block above the explorer lets the tests see that its data loads only
when the reader nears it.

Printed (``pytest -s``): bytes loaded before and after the reader reaches the explorer, the
time from the data's arrival to a running explorer, decode/encode times per call, the JS
against PyTorch errors. No test asserts a time.

The last test loads the real lesson 14-3 from the full book build (``book_build`` of conftest.py).
Fixtures ``chromium`` and ``serve_directory`` live in conftest.py. Deselect with ``-m "not browser"``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK = REPO_ROOT / "book"
PAGE = "lessons/explorer.html"
TIMEOUT_MS = 60_000  # the machine is shared and slow at times
_JB_CLI = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 2,
}
# Math.random seeded (mulberry32), so that "Sample" draws the same eps on every run
SEEDED_RANDOM = """(() => { let a = 12345; Math.random = () => { a = (a + 0x6D2B79F5) >>> 0; let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; })();"""

PAGE_SOURCE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# Explorer test page

<div id="spacer" style="height: 4000px">Text the reader scrolls past.</div>

## Interactive example

```{code-cell} ipython3
from vae_lib import pretrained
from vae_lib.widgets import GradientFigure, KLFigure, LatentExplorer

LatentExplorer(pretrained.load("vae-2d"))
```

## The KL figure

```{code-cell} ipython3
KLFigure(mu=0.5, var=0.25)
```

## The gradient figure

```{code-cell} ipython3
GradientFigure(mu=0.5, sigma=1.0, k=2.0, n=1000)
```
"""


@pytest.fixture(scope="module")
def mini_site(tmp_path_factory) -> Path:
    """A one-page book holding the three one-cell embeds, built with warnings as errors; its html."""
    assert (BOOK / "_static" / "explorer" / "vae-2d.bin").is_file(), (
        "book/_static/explorer/vae-2d.bin is missing: run `python -m vae_lib export-explorer`"
    )
    root = tmp_path_factory.mktemp("explorer-book")
    shutil.copy(REPO_ROOT / "_config.yml", root / "_config.yml")
    (root / "book").mkdir()
    shutil.copy(BOOK / "references.bib", root / "book" / "references.bib")
    for folder in ("_static", "_ext", "_extra", "_templates"):
        if (BOOK / folder).is_dir():
            shutil.copytree(BOOK / folder, root / "book" / folder)
    (root / "_toc.yml").write_text("format: jb-book\nroot: lessons/explorer\n", encoding="utf-8")
    (root / "lessons").mkdir()
    (root / "lessons" / "explorer.md").write_text(PAGE_SOURCE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _JB_CLI, "build", str(root), "-W", "-n", "--keep-going"],
        cwd=root,
        env=dict(os.environ, NO_COLOR="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"the explorer test book failed to build:\n{proc.stdout[-4000:]}"
    return root / "_build" / "html"


@pytest.fixture(scope="module")
def site_url(mini_site, serve_directory) -> str:
    return serve_directory(mini_site)


def _new_page(chromium, **context_args):
    context = chromium.new_context(**({"viewport": {"width": 1366, "height": 900}} | context_args))
    context.add_init_script(SEEDED_RANDOM)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.problems = []
    pg.on(
        "console",
        lambda m: m.type == "error" and pg.problems.append(f"console.error: {m.text} ({m.location})"),
    )
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    return context, pg


@pytest.fixture
def page(chromium):
    """A fresh desktop page (1366 x 900) that records every console error and uncaught exception."""
    context, pg = _new_page(chromium)
    yield pg
    context.close()


@pytest.fixture
def phone(chromium):
    """A fresh phone page (390 x 844, touch, coarse pointer)."""
    context, pg = _new_page(chromium, **PHONE)
    yield pg
    context.close()


def open_explorer(pg, url: str) -> None:
    pg.goto(url)
    pg.wait_for_function("() => !!(window.vaeExplorer && window.vaeExplorer.version)")
    pg.locator(".vae-explorer").first.scroll_into_view_if_needed()
    pg.wait_for_selector(".vae-explorer[data-vae-explorer=ready]")
    pg.evaluate("() => window.vaeExplorer.ready")
    pg.locator(".vae-explorer__map").scroll_into_view_if_needed()


def state(pg, i: int = 0) -> dict:
    return pg.evaluate(f"""() => {{ const s = window.vaeExplorer.instances[{i}].state();
                                   s.image = Array.from(s.image); return s; }}""")


def map_point(pg, fx: float, fy: float) -> tuple[float, float]:
    """Viewport coordinates of the fraction (fx, fy) of the latent map's box."""
    box = pg.locator(".vae-explorer__map").bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def z_to_viewport(pg, z) -> tuple[float, float]:
    p = pg.evaluate("z => window.vaeExplorer.instances[0].px(z[0], z[1])", list(z))
    box = pg.locator(".vae-explorer__map").bounding_box()
    return box["x"] + p[0] / 420 * box["width"], box["y"] + p[1] / 420 * box["height"]


@pytest.fixture(scope="module")
def vae2():
    from vae_lib import pretrained

    return pretrained.load("vae-2d")


def torch_decode(model, z) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(
            model.decode(torch.tensor(np.asarray(z, dtype=np.float32)).reshape(-1, 2))
        ).numpy()


def torch_encode(model, pixels) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        mu, logvar = model.encode(torch.tensor(np.asarray(pixels, dtype=np.float32)).reshape(-1, 784))
    return mu.numpy(), logvar.numpy()


def contrast_on_white(hex_colour: str) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def touch_swipe(pg, start, end, steps: int = 8) -> None:
    """A one-finger swipe through the DevTools protocol (real touch events, as a phone sends)."""
    cdp = pg.context.new_cdp_session(pg)
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]}
    )
    for i in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * i / steps
        y = start[1] + (end[1] - start[1]) * i / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        pg.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    pg.wait_for_timeout(600)  # let the scroll settle


# --------------------------------------------------------------------------------- tests


def test_site_shows_the_widgets_html_form_with_fallback_and_no_widget_state(mini_site):
    bs4 = pytest.importorskip("bs4")
    page = mini_site / PAGE
    text = page.read_text(encoding="utf-8")
    soup = bs4.BeautifulSoup(text, "html.parser")
    root = soup.select_one(".vae-explorer")
    assert root is not None, "the LatentExplorer cell did not render its text/html form"
    img = root.find("img")
    assert (
        img is not None and "vae-explorer__fallback" in img.get("class", []) and img.get("loading") == "lazy"
    )
    assert len(img.get("alt", "")) > 40
    for url in (img["src"], root["data-src"]):
        assert (page.parent / url).resolve().is_file(), f"{url} does not resolve from {PAGE}"
    assert soup.select_one('.vae-figure[data-figure="kl"]') and soup.select_one(
        '.vae-figure[data-figure="gradient"]'
    )
    assert "application/vnd.jupyter.widget-view+json" not in text, "the page embeds a widget view"
    assert "application/vnd.jupyter.widget-state+json" not in text, "the page embeds widget state"


@pytest.fixture(params=["desktop", "phone"])
def device_page(request, chromium):
    """A desktop page, or a phone page whose CPU runs 4x slower (DevTools throttling), as phones do."""
    context, pg = _new_page(chromium, **({} if request.param == "desktop" else PHONE))
    if request.param == "phone":
        pg.context.new_cdp_session(pg).send("Emulation.setCPUThrottlingRate", {"rate": 4})
    pg.device = request.param
    yield pg
    context.close()


def test_explorer_loads_near_the_viewport_without_errors_and_reports_bytes(device_page, site_url):
    page = device_page
    page.goto(f"{site_url}/{PAGE}")
    page.wait_for_function("() => window.vaeExplorer && window.vaeFigures")
    page.wait_for_timeout(1000)
    before = page.evaluate("""() => performance.getEntriesByType('resource').map(
        r => ({name: r.name, bytes: r.transferSize || r.encodedBodySize || 0}))""")
    assert not [r for r in before if "vae-2d" in r["name"] or "decoded-grid" in r["name"]], (
        "the explorer's data or fallback image loaded before the reader got near it"
    )
    assert page.locator(".vae-explorer").get_attribute("data-vae-explorer") == "waiting"
    total_before = sum(r["bytes"] for r in before)
    open_explorer(page, f"{site_url}/{PAGE}")
    after = page.evaluate("""() => performance.getEntriesByType('resource').map(
        r => ({name: r.name, bytes: r.transferSize || r.encodedBodySize || 0}))""")
    pack = [r for r in after if r["name"].endswith("vae-2d.bin")]
    assert len(pack) == 1, "the pack was not loaded exactly once"
    timing = page.evaluate("() => window.vaeExplorer.timings[0]")
    assert timing["bytes"] <= 1_200_000, "encoder + decoder + points exceed 1.2 MB"
    speed = page.evaluate("""() => { const api = window.vaeExplorer, x = new Float32Array(784).fill(0.3);
        for (let i = 0; i < 10; i++) { api.decode([0.1 * i, 0]); api.encode(x); }
        let t0 = performance.now(); for (let i = 0; i < 100; i++) api.decode([Math.sin(i), Math.cos(i)]);
        const dec = (performance.now() - t0) / 100; t0 = performance.now();
        for (let i = 0; i < 50; i++) api.encode(x); return [dec, (performance.now() - t0) / 50]; }""")
    print(f"\n{page.device}: decode {speed[0]:.2f} ms, encode {speed[1]:.2f} ms per call")
    print(
        f"{page.device}: resources before the reader nears the explorer: {len(before)} files, "
        f"{total_before:,} bytes; "
        f"the pack: {timing['bytes']:,} bytes; ready {timing['ready'] - timing['dataArrived']:.0f} ms after "
        f"its data arrived"
    )
    assert page.locator(".vae-explorer__fallback").is_hidden()
    for part in (
        ".vae-explorer__map",
        ".vae-explorer__digit",
        ".vae-explorer__pad",
        ".vae-explorer__legend",
        ".vae-explorer__sample",
        ".vae-explorer__toggle",
    ):
        assert page.locator(part).is_visible(), f"{part} is not visible"
    assert page.locator(".vae-explorer__legend li").all_inner_texts() == [str(d) for d in range(10)]
    help_text = page.locator(".vae-explorer__help").inner_text()
    if page.device == "desktop":
        assert help_text.startswith("Click") and "arrow keys" in help_text, "a mouse user is told to tap"
    else:
        assert help_text.startswith("Tap") and "arrow keys" not in help_text, "a touch user is told to click"
    page.wait_for_timeout(300)  # let late errors arrive
    assert not page.problems, "\n".join(page.problems)


def test_js_encoder_and_decoder_match_pytorch(page, site_url, vae2):
    from vae_lib import load_mnist

    open_explorer(page, f"{site_url}/{PAGE}")
    images, _ = load_mnist("test", subset="small")
    x = images[:20].reshape(20, 784).astype(np.float64) / 255
    js = page.evaluate("xs => xs.map(x => window.vaeExplorer.encode(x))", x.tolist())
    mu_js = np.array([r["mu"] for r in js])
    lv_js = np.array([r["logvar"] for r in js])
    mu, lv = torch_encode(vae2, x)
    rng = np.random.default_rng(0)
    z = rng.uniform(-3, 3, size=(20, 2))
    dec = np.asarray(page.evaluate("zs => zs.map(z => Array.from(window.vaeExplorer.decode(z)))", z.tolist()))
    expected = torch_decode(vae2, z)
    print(
        f"\nJS vs PyTorch, 20 test digits: max |mu| error {np.abs(mu_js - mu).max():.2e}, max |logvar| error "
        f"{np.abs(lv_js - lv).max():.2e}; 20 random z: max pixel error {np.abs(dec - expected).max():.2e}"
    )
    assert dec.shape == (20, 784) and dec.min() >= 0 and dec.max() <= 1
    assert np.abs(mu_js - mu).max() < 1e-2
    assert np.abs(dec - expected).max() < 1e-2
    # the old call form decode(z1, z2) still works
    one = np.asarray(page.evaluate("() => Array.from(window.vaeExplorer.decode(0.5, -1.0))"))
    assert np.abs(one - torch_decode(vae2, [0.5, -1.0])[0]).max() < 1e-2


def test_picking_a_test_digit_shows_its_region_and_reconstruction(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    pick = page.evaluate(
        "() => { const p = window.vaeExplorer._model.picks[7]; return {mu: p.code.mu, label: p.label}; }"
    )
    page.mouse.click(*z_to_viewport(page, pick["mu"]))
    s = state(page)
    assert s["picked"] == 7, "clicking the dot did not pick that test digit"
    mu, _ = torch_encode(vae2, s["input"])
    assert np.abs(np.subtract(s["mu"], mu[0])).max() < 1e-2
    np.testing.assert_allclose(s["sigma"], np.exp(0.5 * np.asarray(s["logvar"])), rtol=1e-9)
    assert s["z"] == s["mu"], "the reconstruction decodes z = mu"
    assert np.abs(np.asarray(s["image"]) - torch_decode(vae2, s["mu"])[0]).max() < 1e-2
    assert page.locator(".vae-explorer__digit + figcaption").inner_text().startswith("reconstruction")
    assert s["zoom"] > 1, "the region is not magnified"
    assert "\u03c3 = (" in s["readout"] and "\u03bc = (" in s["readout"]
    assert not page.problems, "\n".join(page.problems)


def test_drawing_a_stroke_moves_the_region(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    box = page.locator(".vae-explorer__pad").bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.mouse.move(*at(0.5, 0.15))
    page.mouse.down()
    mus = []
    for fy in (0.3, 0.45, 0.6, 0.75, 0.85):  # a vertical stroke: a "1"
        page.mouse.move(*at(0.5, fy), steps=3)
        page.wait_for_timeout(50)  # one animation frame for the encoder
        mus.append(state(page)["mu"])
    page.mouse.up()
    s = state(page)
    assert sum(v > 0 for v in s["input"]) > 20, "the stroke left no ink on the pad"
    assert all(m is not None for m in mus)
    steps = [math.dist(a, b) for a, b in itertools.pairwise(mus)]
    assert sum(d > 1e-4 for d in steps) >= 2, f"the region did not move as the stroke grew: {mus}"
    mu, _ = torch_encode(vae2, s["input"])
    assert np.abs(np.subtract(s["mu"], mu[0])).max() < 1e-2, (
        "the region is not the encoder's for the drawn pixels"
    )
    assert not page.problems, "\n".join(page.problems)


def test_sampling_lands_inside_mu_plus_minus_3_sigma(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    page.evaluate("() => window.vaeExplorer.instances[0].select(3)")
    button = page.locator(".vae-explorer__sample")
    assert button.is_enabled()
    for _ in range(20):
        button.click()
        s = state(page)
        mu, sigma, eps, z = (np.asarray(s[k]) for k in ("mu", "sigma", "eps", "z"))
        np.testing.assert_allclose(z, mu + sigma * eps, atol=1e-12)
        assert (np.abs(z - mu) <= 3 * sigma).all(), f"a sample fell outside mu +- 3 sigma: eps = {eps}"
        assert f"\u03b5 = ({eps[0]:.2f}".replace("-0.00", "0.00") in s["readout"]
    assert len(s["samples"]) == 20
    assert np.abs(np.asarray(s["image"]) - torch_decode(vae2, s["z"])[0]).max() < 1e-2
    assert page.locator(".vae-explorer__digit + figcaption").inner_text() == "decoded sample z"


def test_dragging_the_marker_and_arrow_keys_move_z(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    before = state(page)
    page.mouse.move(*z_to_viewport(page, before["z"]))
    page.mouse.down()
    page.mouse.move(*map_point(page, 0.55, 0.45), steps=8)
    page.mouse.move(*map_point(page, 0.70, 0.65), steps=8)
    page.mouse.up()
    after = state(page)
    assert after["z"][0] > 0 and after["z"][1] < 0, f"the point is not where the drag ended: {after['z']}"
    assert np.abs(np.asarray(after["image"]) - torch_decode(vae2, after["z"])[0]).max() < 1e-2
    page.locator(".vae-explorer__map").focus()
    page.keyboard.press("ArrowRight")
    moved = state(page)
    assert moved["z"][0] == pytest.approx(round((after["z"][0] + 0.05) / 0.05) * 0.05, abs=1e-9)
    live = page.locator(".vae-explorer [aria-live]")
    assert f"z = ({moved['z'][0]:.2f}" in live.text_content()
    assert not page.problems, "\n".join(page.problems)


def test_interpolation_shows_t_on_the_strip_and_back_to_exploring_drops_it(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    toggle = page.locator(".vae-explorer__toggle")
    toggle.click()
    t = page.locator(".vae-explorer__t")
    assert t.is_disabled()
    page.mouse.click(*map_point(page, 0.25, 0.70))
    page.mouse.click(*map_point(page, 0.75, 0.30))
    s = state(page)
    a, b = np.array(s["a"]), np.array(s["b"])
    t.fill("0.25")
    s = state(page)
    np.testing.assert_allclose(s["z"], a + 0.25 * (b - a), atol=1e-9)
    assert "t = 0.25" in s["readout"]
    strip = np.asarray(
        page.evaluate("""() => Array.from(window.vaeExplorer.instances[0].strip.getContext('2d')
        .getImageData(0, 0, 252, 34).data)""")
    ).reshape(34, 252, 4)
    orange = (strip[..., 0] > 180) & (strip[..., 1] < 140) & (strip[..., 2] < 80)
    cols = np.flatnonzero(orange.any(0))
    assert cols.size and cols.min() >= 56 and cols.max() < 84, "the strip does not mark the frame at t = 0.25"
    marker_cols = np.flatnonzero((strip[29:, :, :3].sum(-1) < 100).any(0))
    assert marker_cols.size and abs(marker_cols.mean() - (14 + 0.25 * 224)) < 3, (
        "no marker under the strip at t"
    )
    toggle.click()  # "Back to free exploring"
    s = state(page)
    assert s["mode"] == "explore" and "t = " not in s["readout"], (
        f"the readout still shows t: {s['readout']!r}"
    )
    assert not page.problems, "\n".join(page.problems)


def test_cluster_labels_do_not_overlap_and_class_colours_have_3_to_1_contrast(page, site_url):
    open_explorer(page, f"{site_url}/{PAGE}")
    s = state(page)
    pts = [L["p"] for L in s["labels"]]
    assert len(pts) == 10
    gaps = [math.dist(p, q) for i, p in enumerate(pts) for q in pts[i + 1 :]]
    assert min(gaps) >= 21.5, f"two cluster labels overlap ({min(gaps):.1f} px apart; each is 18 px wide)"
    start = page.evaluate("() => window.vaeExplorer.instances[0].px(0, 0)")
    assert min(math.dist(p, start) for p in pts) >= 21.5, "the start marker covers a cluster label"
    colours = page.evaluate("() => window.vaeExplorer._model.colours")
    assert len(set(colours)) == 10
    low = {d: round(contrast_on_white(c), 2) for d, c in enumerate(colours) if contrast_on_white(c) < 3}
    assert not low, f"class colours below 3:1 on white (WCAG 1.4.11): {low}"


def test_touch_swipe_on_the_map_scrolls_the_page_at_phone_size(phone, site_url):
    open_explorer(phone, f"{site_url}/{PAGE}")
    assert phone.evaluate("() => window.vaeExplorer.coarsePointer"), "the phone context has no coarse pointer"
    assert "Tap" in phone.locator(".vae-explorer__help").inner_text(), "a touch user is told to click"
    phone.evaluate("() => window.scrollBy(0, -200)")
    phone.wait_for_timeout(200)
    box = phone.locator(".vae-explorer__map").bounding_box()
    z0, y0 = state(phone)["z"], phone.evaluate("() => window.scrollY")
    # away from the marker: a vertical swipe scrolls the page and leaves z alone
    start = (box["x"] + 0.85 * box["width"], box["y"] + 0.8 * box["height"])
    touch_swipe(phone, start, (start[0], start[1] - 250), steps=12)
    assert phone.evaluate("() => window.scrollY") > y0 + 50, "the swipe on the map did not scroll the page"
    assert state(phone)["z"] == z0, "the swipe moved the point (a scroll trap)"
    # starting on the marker: the swipe drags the point and the page stays put
    y1 = phone.evaluate("() => window.scrollY")
    mx, my = z_to_viewport(phone, z0)
    touch_swipe(phone, (mx, my), (mx + 40, my + 60))
    assert state(phone)["z"] != z0, "a drag that starts on the marker did not move it"
    assert abs(phone.evaluate("() => window.scrollY") - y1) < 2, "dragging the marker scrolled the page"
    assert not phone.problems, "\n".join(phone.problems)


@pytest.mark.parametrize("mode", ["explore", "interpolate"])
def test_phone_layout_keeps_map_and_controls_in_view_with_24px_targets(phone, site_url, mode):
    open_explorer(phone, f"{site_url}/{PAGE}")
    if mode == "interpolate":
        phone.locator(".vae-explorer__toggle").click()
        phone.evaluate(
            "() => { const e = window.vaeExplorer.instances[0]; e.place([-1, -1]); e.place([1, 1]); }"
        )
        controls = [".vae-explorer__t", ".vae-explorer__strip", ".vae-explorer__toggle"]
    else:
        phone.evaluate("() => window.vaeExplorer.instances[0].select(0)")
        controls = [
            ".vae-explorer__pad",
            ".vae-explorer__digit",
            ".vae-explorer__sample",
            ".vae-explorer__toggle",
        ]
    phone.evaluate("() => document.querySelector('.vae-explorer__map').scrollIntoView({block: 'start'})")
    phone.evaluate("() => window.scrollBy(0, -70)")  # below the theme's sticky header
    phone.wait_for_timeout(200)
    vh = 844
    top = phone.locator(".vae-explorer__map").bounding_box()
    assert top["y"] >= 0 and top["width"] >= 300
    for sel in controls:
        r = phone.locator(sel).bounding_box()
        assert r is not None and r["y"] + r["height"] <= vh, (
            f"{sel} is below the fold with the map in view ({mode})"
        )
    for sel in (".vae-explorer__buttons button", ".vae-explorer__t", ".vae-explorer__digitsel"):
        for i in range(phone.locator(sel).count()):
            r = phone.locator(sel).nth(i).bounding_box()
            if r:
                assert r["height"] >= 24 and r["width"] >= 24, (
                    f"{sel} #{i} is {r['width']:.0f} x {r['height']:.0f} px"
                )
    phone.screenshot(path=f"/tmp/explorer-phone-{mode}.png")


def test_explorer_runs_when_the_site_is_opened_from_disk(page, mini_site):
    open_explorer(page, (mini_site / PAGE).as_uri())
    assert page.locator(".vae-explorer__fallback").is_hidden()
    z = state(page)["z"]
    page.locator(".vae-explorer__map").focus()
    page.keyboard.press("ArrowUp")
    assert state(page)["z"] != z
    # "choose the digit" loads the conditional decoder's file:// copy (cvae-2d.js)
    page.locator(".vae-explorer__digitsel").select_option("4")
    page.wait_for_function("() => window.vaeExplorer.instances[0].state().digit === 4")
    assert not page.problems, "\n".join(page.problems)


def test_fallback_is_shown_without_javascript_and_in_print(chromium, site_url):
    context = chromium.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.goto(f"{site_url}/{PAGE}")
        pg.locator(".vae-explorer").scroll_into_view_if_needed()
        assert pg.locator(".vae-explorer__fallback").is_visible()
        assert pg.locator(".vae-explorer__map").count() == 0
    finally:
        context.close()
    context, pg = _new_page(chromium)
    try:
        open_explorer(pg, f"{site_url}/{PAGE}")
        pg.emulate_media(media="print")
        assert pg.locator(".vae-explorer__fallback").is_visible(), "print shows no figure"
        assert pg.locator(".vae-explorer__app").is_hidden(), "print shows the controls"
    finally:
        context.close()


def test_kl_figure_agrees_with_vae_lib(page, site_url):
    from vae_lib import kl_divergence
    from vae_lib.widgets import KLFigure

    page.goto(f"{site_url}/{PAGE}")
    fig = page.locator('.vae-figure[data-figure="kl"]')
    fig.scroll_into_view_if_needed()
    page.wait_for_selector('.vae-figure[data-figure="kl"][data-vae-figure=ready]')
    for mu, var in ((0.5, 0.25), (-1.0, 2.0), (2.3, 0.05), (0.0, 1.0)):
        fig.locator('input[data-name="mu"]').fill(str(mu))
        fig.locator('input[data-name="var"]').fill(str(var))
        s = page.evaluate("() => window.vaeFigures.instances[0].state()")
        expected = float(
            kl_divergence(
                torch.tensor([[mu]], dtype=torch.float64),
                torch.log(torch.tensor([[var]], dtype=torch.float64)),
            )[0]
        )
        assert (s["mu"], s["variance"]) == (mu, var)
        assert s["kl"] == pytest.approx(expected, abs=1e-12)
        assert s["mean_term"] + s["variance_term"] == pytest.approx(expected, abs=1e-12)
        assert s["mean_term"] == pytest.approx(0.5 * mu**2, abs=1e-12)
        twin = KLFigure(mu=mu, var=var)
        assert twin.kl == pytest.approx(s["kl"], abs=1e-12) and twin.variance_term == pytest.approx(
            s["variance_term"]
        )
        assert f"= {expected:.3f} nats" in s["readout"]
    assert not page.problems, "\n".join(page.problems)


def test_gradient_figure_agrees_with_the_closed_forms(page, site_url):
    from vae_lib.widgets import GradientFigure

    page.goto(f"{site_url}/{PAGE}")
    fig = page.locator('.vae-figure[data-figure="gradient"]')
    fig.scroll_into_view_if_needed()
    page.wait_for_selector('.vae-figure[data-figure="gradient"][data-vae-figure=ready]')
    fig.locator('input[data-name="n"]').fill("5000")
    for mu, sigma, k in ((0.5, 1.0, 2.0), (1.0, 1.0, 0.0), (-0.5, 0.5, 1.0), (0.0, 2.0, 0.5)):
        fig.locator('input[data-name="mu"]').fill(str(mu))
        fig.locator('input[data-name="sigma"]').fill(str(sigma))
        fig.locator('input[data-name="k"]').fill(str(k))
        s = page.evaluate("() => window.vaeFigures.instances[1].state()")
        closed = GradientFigure(mu=mu, sigma=sigma, k=k).closed_forms()
        d = mu - k
        assert closed["var_score"] == pytest.approx(d**4 / sigma**2 + 14 * d**2 + 15 * sigma**2)
        for key in ("gradient", "var_pathwise", "var_score"):
            assert s["closed"][key] == pytest.approx(closed[key], rel=1e-12)
        n = s["n"]
        assert n == 5000
        # both estimators are unbiased: their means within 5 standard errors of 2 (mu - k)
        for kind, var in (("pathwise", closed["var_pathwise"]), ("score", closed["var_score"])):
            assert abs(s[kind]["mean"] - closed["gradient"]) < 5 * math.sqrt(var / n), kind
        # pathwise estimates are Gaussian: sample variance within 5 standard errors (sqrt(2 / n))
        assert abs(s["pathwise"]["variance"] / closed["var_pathwise"] - 1) < 5 * math.sqrt(2 / n)
        # score-function estimates are heavy-tailed: a looser band, with a fixed seed
        assert abs(math.log(s["score"]["variance"] / closed["var_score"])) < math.log(1.5)
    assert not page.problems, "\n".join(page.problems)


def test_decode_and_encode_time_per_call(page, site_url):
    open_explorer(page, f"{site_url}/{PAGE}")
    times = page.evaluate("""() => {
        const api = window.vaeExplorer, x = new Float32Array(784).map((_, i) => (i % 7) / 7);
        for (let i = 0; i < 20; i++) { api.decode([Math.sin(i), Math.cos(i)]); api.encode(x); }
        let t0 = performance.now();
        for (let i = 0; i < 200; i++) api.decode([3 * Math.sin(0.7 * i), 3 * Math.cos(1.3 * i)]);
        const dec = (performance.now() - t0) / 200;
        t0 = performance.now();
        for (let i = 0; i < 100; i++) api.encode(x);
        return {decode: dec, encode: (performance.now() - t0) / 100}; }""")
    print(f"\nJS decode {times['decode']:.3f} ms, encode {times['encode']:.3f} ms per call (mean of a batch)")
    assert times["decode"] > 0 and times["encode"] > 0


def test_a_keyboard_reader_reaches_the_explorer_before_it_has_loaded(page, site_url):
    page.goto(f"{site_url}/{PAGE}")
    page.wait_for_function("() => !!(window.vaeExplorer && window.vaeExplorer.version)")
    root = page.locator(".vae-explorer")
    assert root.get_attribute("data-vae-explorer") == "waiting"
    assert root.get_attribute("tabindex") == "0", "a waiting explorer is not in the tab order"
    root.focus()
    page.wait_for_selector(".vae-explorer[data-vae-explorer=ready]")
    assert page.evaluate("() => document.activeElement.classList.contains('vae-explorer__map')"), (
        "the focus did not move to the map once the explorer had loaded"
    )
    assert root.get_attribute("tabindex") is None
    assert not page.problems, "\n".join(page.problems)


@pytest.fixture(scope="module")
def cvae2():
    from vae_lib import pretrained

    return pretrained.load("cvae-2d")


def _resources(pg) -> list[str]:
    return pg.evaluate("() => performance.getEntriesByType('resource').map(r => r.name)")


@pytest.mark.parametrize("digit", [3, 8])
def test_choosing_a_digit_by_keyboard_loads_the_cvae_decoder_lazily_and_matches_pytorch(
    page, site_url, vae2, cvae2, digit
):
    open_explorer(page, f"{site_url}/{PAGE}")
    page.wait_for_timeout(500)
    assert not [r for r in _resources(page) if "cvae-2d" in r], (
        "the conditional decoder loaded before the reader chose a digit"
    )
    sel = page.locator(".vae-explorer__digitsel")
    label_for = page.locator(f"label[for='{sel.get_attribute('id')}']")
    assert label_for.inner_text().strip() == "Digit", "the digit selector has no label"
    options = sel.locator("option").all_inner_texts()
    assert len(options) == 11 and [o for o in options if o.startswith("choose")] == [
        f"choose {d} (CVAE)" for d in range(10)
    ]
    box = sel.bounding_box()
    assert box["height"] >= 24 and box["width"] >= 24
    with pytest.raises(Exception, match="not loaded"):
        page.evaluate("() => window.vaeExplorer.decode([0, 0], 3)")
    sel.focus()
    for _ in range(digit + 1):  # from "any (VAE)" down to the digit
        page.keyboard.press("ArrowDown")
    page.wait_for_function(f"() => window.vaeExplorer.instances[0].state().digit === {digit}")
    cvae_files = [r for r in _resources(page) if "cvae-2d" in r]
    assert len(cvae_files) == 1 and cvae_files[0].endswith("cvae-2d.bin"), cvae_files
    s = state(page)
    assert f"digit {digit} chosen" in s["readout"] and f"Digit {digit} chosen" in s["live"]
    assert page.locator(".vae-explorer__digit + figcaption").inner_text() == f"digit {digit} decoded at z"
    rng = np.random.default_rng(digit)
    z = rng.uniform(-3, 3, size=(10, 2))
    js = np.asarray(
        page.evaluate(f"zs => zs.map(z => Array.from(window.vaeExplorer.decode(z, {digit})))", z.tolist())
    )
    labels = torch.full((10,), digit, dtype=torch.long)
    expected = cvae2.decode_images(torch.tensor(z, dtype=torch.float32), labels).numpy()
    err = np.abs(js - expected).max()
    print(f"\nJS vs PyTorch, conditional decoder, digit {digit}, 10 random z: max pixel error {err:.2e}")
    assert js.shape == (10, 784) and err < 1e-2
    # the marker's z is decoded with the chosen digit; the arrow keys move the style
    page.locator(".vae-explorer__map").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    s = state(page)
    at = cvae2.decode_images(torch.tensor([s["z"]], dtype=torch.float32), labels[:1]).numpy()[0]
    assert np.abs(np.asarray(s["image"]) - at).max() < 1e-2
    # without a label, decode is still the VAE's
    plain = np.asarray(page.evaluate("() => Array.from(window.vaeExplorer.decode([0.5, -1.0]))"))
    assert np.abs(plain - torch_decode(vae2, [0.5, -1.0])[0]).max() < 1e-2
    # back to "any (VAE)" by keyboard
    sel.focus()
    page.keyboard.press("Home")
    page.wait_for_function("() => window.vaeExplorer.instances[0].state().digit === null")
    s = state(page)
    assert "chosen" not in s["readout"]
    assert np.abs(np.asarray(s["image"]) - torch_decode(vae2, s["z"])[0]).max() < 1e-2
    assert len([r for r in _resources(page) if "cvae-2d" in r]) == 1, "the decoder was fetched twice"
    page.wait_for_timeout(300)
    assert not page.problems, "\n".join(page.problems)


def test_conditional_mode_screenshots(chromium, site_url):
    for name, args in (("desktop", {}), ("phone", PHONE)):
        context, pg = _new_page(chromium, **args)
        try:
            open_explorer(pg, f"{site_url}/{PAGE}")
            pg.evaluate("() => window.vaeExplorer.instances[0].setDigit(7)")
            pg.wait_for_function("() => window.vaeExplorer.instances[0].state().digit === 7")
            pg.locator(".vae-explorer").scroll_into_view_if_needed()
            pg.screenshot(path=f"/tmp/explorer-conditional-{name}.png")
            assert not pg.problems, "\n".join(pg.problems)
        finally:
            context.close()


@pytest.mark.book
def test_real_lesson_14_3_page_runs_the_explorer(book_build, serve_directory, chromium, vae2):
    html = book_build.html
    lesson = html / "lessons" / "14-3-variational-autoencoders.html"
    if not lesson.is_file():
        pytest.skip("the full book build has no lesson 14-3 page (see the book tests)")
    if "vae-explorer" not in lesson.read_text(encoding="utf-8"):
        pytest.skip("lesson 14-3 does not embed the latent explorer yet")
    context, pg = _new_page(chromium)
    try:
        open_explorer(pg, f"{serve_directory(html)}/lessons/14-3-variational-autoencoders.html")
        assert pg.locator(".vae-explorer__fallback").first.is_hidden()
        js = np.asarray(pg.evaluate("() => Array.from(window.vaeExplorer.decode([0.5, -1.0]))"))
        assert np.abs(js - torch_decode(vae2, [0.5, -1.0])[0]).max() < 1e-2
        timing = pg.evaluate("() => window.vaeExplorer.timings[0]")
        print(
            f"\nlesson 14-3: pack {timing['bytes']:,} bytes, "
            f"ready {timing['ready'] - timing['dataArrived']:.0f} ms "
            "after its data arrived"
        )
        pg.wait_for_timeout(300)
        assert not pg.problems, "\n".join(pg.problems)
    finally:
        context.close()


def test_pack_header_is_json_with_the_documented_api_names(site_url, page):
    open_explorer(page, f"{site_url}/{PAGE}")
    api = page.evaluate("() => Object.keys(window.vaeExplorer)")
    for name in ("encode", "decode", "instances", "timings", "ready"):
        assert name in api
    header = page.evaluate("() => JSON.stringify(window.vaeExplorer._model.header.model)")
    assert json.loads(header)["quantized"] is True
