"""Measure the built site the way a reader's browser sees it (headless Chromium).

For every page of _toc.yml (and the root index.html) this reports:

- ``bytes`` / ``gzip``: what the browser transfers before any interaction (every response
  until the network is idle, HTML, scripts, styles, fonts, images), raw and gzip-compressed
  (each response compressed on its own at level 6, as a web server would send it);
- ``eq>col``: display equations wider than their text column on a 390 x 844 phone viewport;
- ``code>col``: code blocks (``pre``, collapsed cells opened) wider than their column at 390 px;
- ``page>col``: whether the page itself scrolls sideways at 390 px;
- ``tabs`` / ``math tabs``: tab stops, walked with real Tab presses at 1280 x 900, and how many
  of them are formulas (a too-wide equation's scroll box, one stop, is counted apart);
  ``tabs before explorer``: stops before the first latent explorer;
- ``axe``: critical and serious axe-core violations (rule: affected nodes).

Usage (after ``jupyter-book build .``)::

    python scripts/site_report.py                        # table on stdout
    python scripts/site_report.py --markdown report.md --json report.json \
        --wide-equations /work/team/wide-equations.txt

axe-core is looked up at $AXE_CORE_JS, then ``.axe/node_modules/axe-core/axe.min.js`` under the
repository (``npm install --prefix .axe axe-core@4.14``); without it the axe columns are "n/a".
tests/test_site.py imports this module, so the test and the table measure the same things.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import http.server
import json
import os
import re
import sys
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 90_000
MAX_TABS = 3000


def axe_path() -> Path | None:
    """axe.min.js from $AXE_CORE_JS or the repository's ignored .axe/ folder, else None."""
    candidates = [os.environ.get("AXE_CORE_JS"), REPO_ROOT / ".axe/node_modules/axe-core/axe.min.js"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    return None


def toc_docs(repo: Path = REPO_ROOT) -> list[str]:
    """The documents of _toc.yml, root first, without suffix."""
    import yaml

    toc = yaml.safe_load((repo / "_toc.yml").read_text(encoding="utf-8"))
    docs = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                docs.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb|rst)$", "", d) for d in docs]


def site_pages(html: Path, repo: Path = REPO_ROOT) -> list[str]:
    """Relative URLs of the content pages that exist in the build (index.html first)."""
    pages = ["index.html"] if (html / "index.html").is_file() else []
    pages += [f"{d}.html" for d in toc_docs(repo) if (html / f"{d}.html").is_file()]
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (ephemeral port); yields the base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------- in-page scripts

WAIT_FOR_MATH_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  if (document.fonts && document.fonts.ready) { await document.fonts.ready; }
  return true;
}"""

WIDTHS_JS = """() => {
  const out = {equations: [], code: [], figures: []};
  const article = document.querySelector('article.bd-article') || document.body;
  // every display equation MathJax typeset, with its TeX source
  const items = (window.MathJax && MathJax.startup && MathJax.startup.document)
    ? Array.from(MathJax.startup.document.math) : [];
  for (const item of items) {
    if (!item.display) continue;
    const root = item.typesetRoot;
    if (!root || !root.isConnected) continue;
    const math = root.querySelector('mjx-math') || root;
    const w = math.getBoundingClientRect().width;
    const col = root.getBoundingClientRect().width;
    out.equations.push({tex: item.math.trim().replace(/\\s+/g, ' '), width: w, column: col,
                        over: w > col + 1});
  }
  // open collapsed cells so hidden code is measured too
  document.querySelectorAll('details').forEach(d => d.open = true);
  for (const pre of article.querySelectorAll('pre')) {
    if (!pre.getClientRects().length) continue;
    const over = pre.scrollWidth > pre.clientWidth + 1;
    out.code.push({over, scroll: pre.scrollWidth, client: pre.clientWidth,
                   start: pre.textContent.trim().slice(0, 60)});
  }
  for (const img of article.querySelectorAll('img')) {
    if (!img.naturalWidth || !img.getClientRects().length) continue;
    const r = img.getBoundingClientRect();
    // the width the figure is meant to be seen at: 2x PNGs carry it in style/width
    const meant = parseFloat(img.style.width) || parseFloat(img.getAttribute('width')) || img.naturalWidth;
    out.figures.push({src: img.getAttribute('src'), scale: r.width / meant,
                      natural: img.naturalWidth, shown: r.width});
  }
  document.querySelectorAll('details').forEach(d => d.open = false);
  out.pageOver = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;
  return out;
}"""

FOCUS_INFO_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  if (!el.dataset.wTab) { window.__wTab = (window.__wTab || 0) + 1; el.dataset.wTab = window.__wTab; }
  return {id: el.dataset.wTab, tag: el.tagName.toLowerCase(),
          math: !!el.closest('mjx-container') && !el.matches('.course-wide-math'),
          scrollbox: el.matches('.course-wide-math'),
          explorer: !!el.closest('.vae-explorer'),
          toggle: el.matches('button.toggle-button, summary, .admonition-title'),
          link: el.matches('a[href]'),
          label: (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40)};
}"""


def walk_tabs(page) -> dict:
    """Press Tab from the top of the page until focus cycles; count the stops."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    seen: set[str] = set()
    stops = []
    empty_run = 0
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS_INFO_JS)
        if info is None:
            empty_run += 1
            if stops and empty_run >= 2:
                break
            continue
        empty_run = 0
        if info["id"] in seen:
            break
        seen.add(info["id"])
        stops.append(info)
    before = next((i for i, s in enumerate(stops) if s["explorer"]), None)
    return {
        "tabs": len(stops),
        "math_tabs": sum(s["math"] for s in stops),
        "explorer_tabs": sum(s["explorer"] for s in stops),
        "toggle_tabs": sum(s["toggle"] for s in stops),
        "wide_math_tabs": sum(s["scrollbox"] for s in stops),
        "link_tabs": sum(s["link"] for s in stops),
        "tabs_before_explorer": before,
        "math_before_explorer": None if before is None else sum(s["math"] for s in stops[:before]),
    }


def run_axe(page, axe_js: Path) -> list[dict]:
    """Critical and serious axe violations: [{rule, impact, nodes, targets, help}]."""
    page.add_script_tag(path=str(axe_js))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.length, targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),"
        " html: v.nodes.slice(0, 3).map(n => n.html.slice(0, 160))})); }"
    )
    return [v for v in result if v["impact"] in ("critical", "serious")]


def transfer(responses) -> tuple[int, int]:
    """Total raw and gzip-compressed bytes of the responses' bodies."""
    raw = zipped = 0
    for r in responses:
        try:
            body = r.body()
        except Exception:  # redirects and aborted requests have no body
            continue
        raw += len(body)
        zipped += len(gzip.compress(body, compresslevel=6))
    return raw, zipped


def measure_page(browser, base: str, rel: str, axe_js: Path | None, tabs: bool = True) -> dict:
    """Every column of the table for one page (two fresh contexts: phone, desktop)."""
    row: dict = {"page": rel}
    # phone: weight and widths
    ctx = browser.new_context(viewport=PHONE, service_workers="block")
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        responses = []
        errors = []
        page.on("response", lambda r: responses.append(r))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/{rel}", wait_until="networkidle")
        page.evaluate(WAIT_FOR_MATH_JS)
        page.wait_for_load_state("networkidle")
        row["bytes"], row["gzip"] = transfer(responses)
        row["requests"] = len(responses)
        row["external"] = [r.url for r in responses if not r.url.startswith(base)]
        w = page.evaluate(WIDTHS_JS)
        row["equations"] = len(w["equations"])
        row["eq_over"] = [e for e in w["equations"] if e["over"]]
        row["code"] = len(w["code"])
        row["code_over"] = [c for c in w["code"] if c["over"]]
        row["page_over"] = w["pageOver"]
        row["min_figure_scale"] = min((f["scale"] for f in w["figures"]), default=None)
        row["console_errors"] = errors
    finally:
        ctx.close()
    # desktop: keyboard and axe
    ctx = browser.new_context(viewport=DESKTOP, service_workers="block")
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{base}/{rel}", wait_until="networkidle")
        page.evaluate(WAIT_FOR_MATH_JS)
        if tabs:
            row.update(walk_tabs(page))
        row["axe"] = run_axe(page, axe_js) if axe_js else None
    finally:
        ctx.close()
    return row


def widget_state_bytes(page: Path) -> int:
    """Bytes of ipywidgets state (<script type="application/vnd.jupyter.widget-state+json">)."""
    text = page.read_text(encoding="utf-8", errors="replace")
    return sum(
        len(m.group(0).encode())
        for m in re.finditer(
            r"<script[^>]*application/vnd\.jupyter\.widget-state\+json.*?</script>", text, re.S
        )
    )


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def measure_site(html: Path, pages: list[str] | None = None, axe_js: Path | None = None) -> list[dict]:
    from playwright.sync_api import sync_playwright

    pages = pages or site_pages(html)
    rows = []
    with serve(html) as base, sync_playwright() as p:
        browser = launch(p)
        try:
            for rel in pages:
                print(f"measuring {rel} ...", file=sys.stderr, flush=True)
                row = measure_page(browser, base, rel, axe_js)
                row["widget_state"] = widget_state_bytes(html / rel)
                rows.append(row)
        finally:
            browser.close()
    return rows


# ------------------------------------------------------------------------------ output


def _kb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def _axe_cell(v) -> str:
    if v is None:
        return "n/a"
    if not v:
        return "0"
    return "; ".join(f"{x['impact'][0].upper()} {x['rule']} x{x['nodes']}" for x in v)


def markdown_table(rows: list[dict]) -> str:
    head = (
        "| page | bytes | gzip | widget state | eq>col (of display eqs) | code>col (of pre) "
        "| page scrolls sideways "
        "| min figure scale | tab stops | of them formulas | tabs before explorer (formulas) "
        "| axe critical | axe serious | axe rules (C/S rule xnodes) |\n"
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        axe = r.get("axe")
        crit = "n/a" if axe is None else str(sum(1 for v in axe if v["impact"] == "critical"))
        ser = "n/a" if axe is None else str(sum(1 for v in axe if v["impact"] == "serious"))
        before = r.get("tabs_before_explorer")
        before_s = "-" if before is None else f"{before} ({r['math_before_explorer']})"
        scale = r.get("min_figure_scale")
        lines.append(
            f"| {r['page']} | {_kb(r['bytes'])} | {_kb(r['gzip'])} | {_kb(r.get('widget_state', 0))} | "
            f"{len(r['eq_over'])} ({r['equations']}) | {len(r['code_over'])} ({r['code']}) | "
            f"{'yes' if r['page_over'] else 'no'} | {'-' if scale is None else f'{scale:.2f}'} | "
            f"{r.get('tabs', '-')} | {r.get('math_tabs', '-')} | {before_s} | {crit} | {ser} | "
            f"{_axe_cell(axe)} |"
        )
    return head + "\n".join(lines) + "\n"


def wide_equations_text(rows: list[dict]) -> str:
    out = [
        "# Display equations wider than the text column on a 390 x 844 phone viewport",
        "# (regenerated by scripts/site_report.py after each build; page | width px / column px | TeX start)",
    ]
    n = 0
    for r in rows:
        for e in r["eq_over"]:
            n += 1
            out.append(f"{r['page']} | {e['width']:.0f} / {e['column']:.0f} | {e['tex'][:90]}")
    out.append(f"# total: {n}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--html", type=Path, default=REPO_ROOT / "_build" / "html")
    ap.add_argument("--markdown", type=Path, help="write the table here")
    ap.add_argument("--json", type=Path, help="write every measurement here")
    ap.add_argument("--wide-equations", type=Path, help="write the too-wide equations here")
    ap.add_argument("pages", nargs="*", help="relative page URLs (default: every page)")
    args = ap.parse_args(argv)
    if not (args.html / "index.html").is_file():
        ap.error(f"--html {args.html}: no built site there (run `jupyter-book build .` first)")
    axe_js = axe_path()
    if axe_js is None:
        print("axe-core not found: npm install --prefix .axe axe-core@4.14", file=sys.stderr)
    rows = measure_site(args.html, args.pages or None, axe_js)
    table = markdown_table(rows)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.wide_equations:
        args.wide_equations.write_text(wide_equations_text(rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
