"""The site's kernel-free latent explorer in a real browser (headless Chromium, playwright).

A small dedicated book is built in a temporary folder: the repository's _config.yml, a
one-page _toc.yml, book/_static/ (the explorer's script, styles and exported data), and one
page, lessons/explorer.md, made of the Markdown cell of book/_static/explorer-snippet.md, so
the snippet the lessons paste is the snippet tested here (at the lessons' depth). The page
is served over http on 127.0.0.1 and driven like a reader would: drag, arrow keys,
interpolation; the JavaScript decoder is checked against vae_lib's decoder.

The last test loads the real lesson 14-3 from the full book build (the ``book_build``
fixture of conftest.py) when that page embeds the explorer.

Fixtures ``chromium`` and ``serve_directory`` live in conftest.py. Deselect with
``-m "not browser"``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]
STATIC = REPO_ROOT / "book" / "_static"
SNIPPET = STATIC / "explorer-snippet.md"
PAGE = "lessons/explorer.html"
TIMEOUT_MS = 60_000  # the machine is shared and slow at times
_JB_CLI = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"


def snippet_markdown() -> str:
    """The Markdown cell the lessons paste (the ````markdown block of the snippet file)."""
    match = re.search(r"````markdown\n(.*?)\n````", SNIPPET.read_text(encoding="utf-8"), re.S)
    assert match, f"{SNIPPET} has no ````markdown block"
    return match.group(1)


@pytest.fixture(scope="module")
def mini_site(tmp_path_factory) -> Path:
    """A one-page book holding the snippet, built with warnings as errors; returns its html."""
    assert (STATIC / "explorer" / "vae-2d.js").is_file(), (
        "book/_static/explorer/vae-2d.js is missing: run `python -m vae_lib export-explorer`"
    )
    root = tmp_path_factory.mktemp("explorer-book")
    shutil.copy(REPO_ROOT / "_config.yml", root / "_config.yml")
    (root / "book").mkdir()
    shutil.copy(REPO_ROOT / "book" / "references.bib", root / "book" / "references.bib")
    shutil.copytree(STATIC, root / "book" / "_static")
    (root / "_toc.yml").write_text("format: jb-book\nroot: lessons/explorer\n", encoding="utf-8")
    (root / "lessons").mkdir()
    (root / "lessons" / "explorer.md").write_text(
        "# Latent explorer test page\n\n## Interactive example\n\n" + snippet_markdown() + "\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _JB_CLI, "build", str(root), "-W", "-n", "--keep-going"],
        cwd=root, env=dict(os.environ, NO_COLOR="1"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"the explorer test book failed to build:\n{proc.stdout[-4000:]}"
    return root / "_build" / "html"


@pytest.fixture(scope="module")
def site_url(mini_site, serve_directory) -> str:
    return serve_directory(mini_site)


@pytest.fixture
def page(chromium):
    """A fresh page that records every console error and uncaught exception."""
    context = chromium.new_context(viewport={"width": 1200, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.problems = []
    pg.on("console", lambda m: m.type == "error" and pg.problems.append(f"console.error: {m.text} ({m.location})"))
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    yield pg
    context.close()


def open_explorer(pg, url: str) -> None:
    pg.goto(url)
    pg.wait_for_function("() => window.vaeExplorer && window.vaeExplorer.ready")
    pg.evaluate("() => window.vaeExplorer.ready")
    pg.wait_for_selector(".vae-explorer[data-vae-explorer=ready]")
    pg.locator(".vae-explorer__map").scroll_into_view_if_needed()


def state(pg, i: int = 0) -> dict:
    return pg.evaluate(f"""() => {{ const s = window.vaeExplorer.instances[{i}].state();
                                   s.image = Array.from(s.image); return s; }}""")


def shown_digit(pg, i: int = 0) -> np.ndarray:
    """The pixels of the decoded-digit canvas as the reader sees them (grey, 28 x 28)."""
    data = pg.evaluate(f"""() => {{ const c = window.vaeExplorer.instances[{i}].digit;
        return Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data); }}""")
    return np.asarray(data, dtype=np.uint8).reshape(28, 28, 4)[..., 0]


def map_point(pg, fx: float, fy: float) -> tuple[float, float]:
    """Viewport coordinates of the fraction (fx, fy) of the latent map's box."""
    box = pg.locator(".vae-explorer__map").bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


@pytest.fixture(scope="module")
def vae2():
    from vae_lib import pretrained

    return pretrained.load("vae-2d")


def torch_decode(model, z) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model.decode(torch.tensor(np.asarray(z, dtype=np.float32)).reshape(-1, 2))).numpy()


# --------------------------------------------------------------------------------- tests


def test_built_page_holds_the_fallback_figure_script_and_data(mini_site):
    bs4 = pytest.importorskip("bs4")
    page = mini_site / PAGE
    soup = bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    root = soup.select_one("article .vae-explorer") or soup.select_one(".vae-explorer")
    assert root is not None, "the snippet did not produce a .vae-explorer element"
    img = root.find("img")
    assert img is not None and "vae-explorer__fallback" in img.get("class", [])
    alt = img.get("alt", "")
    assert len(alt) > 40 and not alt.endswith(".png"), "the fallback figure needs a real alt text"
    for url in (img["src"], root["data-src"]):
        assert (page.parent / url).resolve().is_file(), f"{url} does not resolve from {PAGE}"
    scripts = [s["src"] for s in soup.find_all("script", src=True) if "latent-explorer.js" in s["src"]]
    assert scripts and (page.parent / scripts[0]).resolve().is_file()


def test_explorer_starts_without_errors_and_replaces_the_fallback(page, site_url):
    open_explorer(page, f"{site_url}/{PAGE}")
    assert page.evaluate("() => window.vaeExplorer.instances.length") == 1
    fallback = page.locator(".vae-explorer__fallback")
    assert fallback.count() == 1 and fallback.is_hidden(), "the static figure is still shown"
    for part in (".vae-explorer__map", ".vae-explorer__digit", ".vae-explorer__legend", ".vae-explorer__toggle"):
        assert page.locator(part).is_visible(), f"{part} is not visible"
    assert page.locator(".vae-explorer__legend li").all_inner_texts() == [str(d) for d in range(10)]
    page.locator(".vae-explorer").screenshot(path="/tmp/explorer.png")
    page.wait_for_timeout(300)  # let late errors arrive
    assert not page.problems, "\n".join(page.problems)


def test_explorer_runs_when_the_site_is_opened_from_disk(page, mini_site):
    # Readers open _build/html/index.html straight from disk: the data must load without http.
    open_explorer(page, (mini_site / PAGE).as_uri())
    assert page.locator(".vae-explorer__fallback").is_hidden()
    z = state(page)["z"]
    page.locator(".vae-explorer__map").focus()
    page.keyboard.press("ArrowUp")
    assert state(page)["z"] != z
    assert not page.problems, "\n".join(page.problems)


def test_fallback_is_shown_without_javascript_and_in_print(chromium, site_url):
    context = chromium.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.goto(f"{site_url}/{PAGE}")
        assert pg.locator(".vae-explorer__fallback").is_visible()
        assert pg.locator(".vae-explorer__map").count() == 0
    finally:
        context.close()
    context = chromium.new_context()
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        open_explorer(pg, f"{site_url}/{PAGE}")
        pg.emulate_media(media="print")
        assert pg.locator(".vae-explorer__fallback").is_visible(), "print shows no figure"
        assert pg.locator(".vae-explorer__app").is_hidden(), "print shows the controls"
    finally:
        context.close()


def test_js_decoder_matches_the_torch_decoder(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    rng = np.random.default_rng(0)
    z = rng.uniform(-3, 3, size=(20, 2))
    js = np.asarray(page.evaluate(
        "zs => zs.map(z => Array.from(window.vaeExplorer.decode(z[0], z[1])))", z.tolist()))
    expected = torch_decode(vae2, z)
    assert js.shape == (20, 784)
    err = np.abs(js - expected).max()
    print(f"max |JS - torch| over 20 random z: {err:.2e}")
    assert err < 1e-2


def test_dragging_the_point_changes_the_decoded_image(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    before = state(page)
    page.mouse.move(*map_point(page, 0.30, 0.30))
    page.mouse.down()
    page.mouse.move(*map_point(page, 0.55, 0.45), steps=8)
    page.mouse.move(*map_point(page, 0.70, 0.65), steps=8)
    page.mouse.up()
    after = state(page)
    assert after["z"] != before["z"]
    assert after["z"][0] > 0 and after["z"][1] < 0, f"the point is not where the drag ended: {after['z']}"
    assert np.abs(np.subtract(after["image"], before["image"])).max() > 0.05, "the digit did not change"
    # what is shown is the decoder's output at the point, dark ink on white
    expected = torch_decode(vae2, after["z"])[0]
    assert np.abs(np.asarray(after["image"]) - expected).max() < 1e-2
    shown = shown_digit(page).astype(int).ravel()
    assert np.abs(shown - np.round(255 * (1 - expected))).max() <= 3
    assert not page.problems, "\n".join(page.problems)


def test_arrow_keys_move_the_point_and_update_the_live_text(page, site_url):
    open_explorer(page, f"{site_url}/{PAGE}")
    canvas = page.locator(".vae-explorer__map")
    assert canvas.get_attribute("tabindex") == "0"
    assert len(canvas.get_attribute("aria-label") or "") > 20
    live = page.locator(".vae-explorer [aria-live]")
    assert live.count() == 1 and live.get_attribute("aria-live") == "polite"
    canvas.focus()
    before = state(page)
    page.keyboard.press("ArrowRight")
    after = state(page)
    assert after["z"][0] == pytest.approx(before["z"][0] + 0.05, abs=1e-9)
    assert after["z"][1] == pytest.approx(before["z"][1], abs=1e-9)
    assert after["image"] != before["image"], "the digit did not change"
    text = live.text_content()
    assert text != before["live"] and f"z = ({after['z'][0]:.2f}, {after['z'][1]:.2f})" in text
    page.keyboard.press("Shift+ArrowUp")
    assert state(page)["z"][1] == pytest.approx(before["z"][1] + 0.25, abs=1e-9)
    assert page.evaluate("() => document.activeElement.classList.contains('vae-explorer__map')")


def test_interpolation_mode_decodes_along_the_line_from_a_to_b(page, site_url, vae2):
    open_explorer(page, f"{site_url}/{PAGE}")
    toggle = page.locator(".vae-explorer__toggle")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    t = page.locator(".vae-explorer__t")
    assert t.is_disabled(), "t must wait for A and B"
    page.mouse.click(*map_point(page, 0.25, 0.70))
    page.mouse.click(*map_point(page, 0.75, 0.30))
    s = state(page)
    a, b = np.array(s["a"]), np.array(s["b"])
    assert a[0] < 0 < b[0] and a[1] < 0 < b[1]
    assert t.is_enabled() and page.locator(".vae-explorer__strip").is_visible()
    t.focus()
    page.keyboard.press("Home")
    np.testing.assert_allclose(state(page)["z"], a, atol=1e-9)
    page.keyboard.press("End")
    np.testing.assert_allclose(state(page)["z"], b, atol=1e-9)
    page.keyboard.press("ArrowLeft")  # t = 0.99
    t.fill("0.25")
    s = state(page)
    np.testing.assert_allclose(s["z"], a + 0.25 * (b - a), atol=1e-9)
    assert s["t"] == pytest.approx(0.25)
    assert np.abs(np.asarray(s["image"]) - torch_decode(vae2, s["z"])[0]).max() < 1e-2
    assert "t = 0.25" in s["live"]
    # keyboard only: back to exploring, into interpolation again, place A and B with Enter
    toggle.click()
    toggle.click()
    canvas = page.locator(".vae-explorer__map")
    canvas.focus()
    page.keyboard.press("Enter")
    for _ in range(4):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Enter")
    s = state(page)
    # four steps of 0.25 (the first press also snaps z to the 0.05 grid)
    assert s["b"][0] - s["a"][0] == pytest.approx(1.0, abs=0.05)
    assert s["b"][1] == pytest.approx(s["a"][1], abs=0.05)
    assert page.locator(".vae-explorer__t").is_enabled()
    assert not page.problems, "\n".join(page.problems)


def test_decode_time_per_frame(page, site_url):
    open_explorer(page, f"{site_url}/{PAGE}")
    times = page.evaluate("""() => {
        const dec = window.vaeExplorer.decode, ts = [];
        for (let i = 0; i < 20; i++) dec(Math.sin(i), Math.cos(i));   // warm up the JIT
        for (let i = 0; i < 200; i++) {
            const z1 = 3 * Math.sin(1.7 * i), z2 = 3 * Math.cos(2.3 * i);
            const t0 = performance.now(); dec(z1, z2); ts.push(performance.now() - t0);
        }
        // performance.now() is coarsened (0.1 ms) in pages that are not cross-origin
        // isolated: also time 200 decodes in one go
        const t0 = performance.now();
        for (let i = 0; i < 200; i++) dec(3 * Math.sin(0.7 * i), 3 * Math.cos(1.3 * i));
        ts.push((performance.now() - t0) / 200);
        return ts; }""")
    batch_mean = times.pop()
    median = float(np.median(times))
    print(f"JS decoder: median {median:.3f} ms per frame over {len(times)} timed decodes "
          f"(90th percentile {np.percentile(times, 90):.3f} ms; mean of a batch of 200: {batch_mean:.3f} ms)")
    assert median < 50, f"decoding one frame takes {median:.1f} ms (median)"


def test_explorer_without_data_src_finds_its_data_and_loads_once(page, site_url):
    open_explorer(page, f"{site_url}/{PAGE}")
    page.evaluate("""async () => {
        const div = document.createElement('div');
        div.className = 'vae-explorer';
        document.querySelector('article').appendChild(div);
        await window.vaeExplorer.scan(); }""")
    assert page.evaluate("() => window.vaeExplorer.instances.length") == 2
    assert page.locator(".vae-explorer[data-vae-explorer=ready]").count() == 2
    # a page that pastes the snippet twice loads the script twice: nothing starts twice
    page.evaluate("""() => new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = '../_static/latent-explorer.js'; s.onload = resolve; s.onerror = reject;
        document.body.appendChild(s); })""")
    assert page.evaluate("() => window.vaeExplorer.instances.length") == 2
    assert page.locator(".vae-explorer__app").count() == 2
    assert not page.problems, "\n".join(page.problems)


@pytest.mark.book
def test_real_lesson_14_3_page_runs_the_explorer(book_build, serve_directory, chromium, vae2):
    html = book_build.html
    lesson = html / "lessons" / "14-3-variational-autoencoders.html"
    if not lesson.is_file():
        pytest.skip("the full book build has no lesson 14-3 page (see the book tests)")
    if "vae-explorer" not in lesson.read_text(encoding="utf-8"):
        pytest.skip("lesson 14-3 does not embed the latent explorer yet (book/_static/explorer-snippet.md)")
    context = chromium.new_context(viewport={"width": 1200, "height": 1000})
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        problems = []
        pg.on("console", lambda m: m.type == "error" and problems.append(f"console.error: {m.text} ({m.location})"))
        pg.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        open_explorer(pg, f"{serve_directory(html)}/lessons/14-3-variational-autoencoders.html")
        assert pg.locator(".vae-explorer__fallback").first.is_hidden()
        js = np.asarray(pg.evaluate("() => Array.from(window.vaeExplorer.decode(0.5, -1.0))"))
        assert np.abs(js - torch_decode(vae2, [0.5, -1.0])[0]).max() < 1e-2
        pg.locator(".vae-explorer__map").first.focus()
        before = state(pg)
        pg.keyboard.press("ArrowRight")
        assert state(pg)["image"] != before["image"]
        pg.wait_for_timeout(300)
        assert not problems, "\n".join(problems)
    finally:
        context.close()
