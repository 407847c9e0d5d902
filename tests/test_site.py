"""The built site as readers get it: phone widths, keyboard, page weight, accessibility, PDFs,
numbering and metadata (issue 15), checked in headless Chromium.

Every page of _toc.yml (and the root index.html) of the session's book build (the
``book_build`` fixture of conftest.py) is loaded once, at 390 x 844 and at 1280 x 900, by
``scripts/site_report.py`` (the same code that writes the per-page table), and the tests read
those measurements. The PDFs are printed once by ``scripts/build_pdf.py`` into the build's
``_static/pdf``. axe-core comes from $AXE_CORE_JS or ``.axe/`` (``npm install --prefix .axe
axe-core@4.14``); the axe test skips, saying so, without it.

Deselect with ``-m "not book"`` (or ``-m "not browser"``).
"""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

import pytest

bs4 = pytest.importorskip("bs4")

pytestmark = [pytest.mark.book, pytest.mark.browser]

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = REPO_ROOT / "scripts"
MAX_GZIP_BYTES = 3_000_000  # no page transfers more than 3 MB gzipped before interaction
MAX_RATIO_TO_LIGHTEST = 1.5  # no lesson page is more than 1.5x the lightest lesson page


def _load(name: str):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


site_report = _load("site_report")
build_pdf = _load("build_pdf")


def soup(path: Path):
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def site(book_build) -> Path:
    if not book_build.ok or not (book_build.html / "index.html").is_file():
        pytest.fail(
            f"the book build failed (exit {book_build.returncode}); tail:\n{book_build.tail()}",
            pytrace=False,
        )
    return book_build.html


@pytest.fixture(scope="module")
def pages(site) -> list[str]:
    return site_report.site_pages(site)


@pytest.fixture(scope="module")
def base_url(site, serve_directory) -> str:
    return serve_directory(site)


@pytest.fixture(scope="module")
def report(site, pages, base_url, chromium) -> dict[str, dict]:
    """{page: measurements} for every page, each page loaded once per viewport."""
    axe = site_report.axe_path()
    return {rel: site_report.measure_page(chromium, base_url, rel, axe) for rel in pages}


@pytest.fixture(scope="module")
def pdfs(site, chromium) -> dict[str, Path]:
    return build_pdf.build_pdfs(site, quiet=True, browser=chromium)


def lesson_pages(pages: list[str]) -> list[str]:
    return [p for p in pages if p.startswith("lessons/")]


# ------------------------------------------------------------------------------- phone


def test_no_code_block_scrolls_sideways_on_a_phone(report):
    wide = [
        f"{page}: {c['scroll']} px in {c['client']} px: {c['start']!r}"
        for page, r in report.items()
        for c in r["code_over"]
    ]
    assert not wide, "code blocks wider than the column at 390 px:\n" + "\n".join(wide)


def test_no_page_scrolls_sideways_on_a_phone(report):
    wide = [page for page, r in report.items() if r["page_over"]]
    assert not wide, f"pages wider than a 390 px phone screen: {wide}"


def test_display_equations_fit_the_column_on_a_phone(report):
    """Every display equation fits the 358 px column at 390 px (break long ones with aligned).

    The list of those that do not is also written by ``python scripts/site_report.py
    --wide-equations FILE``.
    """
    wide = [
        f"{page}: {e['width']:.0f} px in {e['column']:.0f} px: {e['tex'][:70]}"
        for page, r in report.items()
        for e in r["eq_over"]
    ]
    assert not wide, f"{len(wide)} display equations wider than the column at 390 px:\n" + "\n".join(wide)


# ---------------------------------------------------------------------------- keyboard


def test_formulas_are_not_tab_stops(report):
    with_math = {page: r["math_tabs"] for page, r in report.items() if r["math_tabs"]}
    assert not with_math, f"formulas in the tab order (page: stops): {with_math}"


def test_links_exercise_toggles_and_explorer_stay_reachable_by_keyboard(site, report):
    problems = []
    for page, r in report.items():
        html = soup(site / page)
        article = html.select_one("article.bd-article") or html
        if article.select("a[href]") and not r["link_tabs"]:
            problems.append(f"{page}: no link reachable with Tab")
        if article.select("div.dropdown, details") and not r["toggle_tabs"]:
            problems.append(f"{page}: no exercise/solution toggle reachable with Tab")
        if article.select(".vae-explorer"):
            if not r["explorer_tabs"]:
                problems.append(f"{page}: the latent explorer is not reachable with Tab")
            elif r["math_before_explorer"]:
                problems.append(f"{page}: {r['math_before_explorer']} formulas before the explorer")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------ weight


def test_no_ipywidgets_state_in_the_pages(site, pages):
    heavy = {p: site_report.widget_state_bytes(site / p) for p in pages}
    heavy = {p: n for p, n in heavy.items() if n}
    assert not heavy, f"pages carrying ipywidgets state (bytes): {heavy}"


def test_no_page_transfers_more_than_3_mb_gzipped(report):
    heavy = {p: r["gzip"] for p, r in report.items() if r["gzip"] > MAX_GZIP_BYTES}
    assert not heavy, f"pages over {MAX_GZIP_BYTES} gzipped bytes before interaction: {heavy}"


def test_lesson_pages_transfer_at_most_1_5x_the_lightest_lesson(report, pages):
    lessons = {p: report[p]["gzip"] for p in lesson_pages(pages)}
    lightest = min(lessons.values())
    heavy = {
        p: f"{n / lightest:.2f}x ({n} of {lightest} gzipped bytes)"
        for p, n in lessons.items()
        if n > MAX_RATIO_TO_LIGHTEST * lightest
    }
    assert not heavy, f"lesson pages over {MAX_RATIO_TO_LIGHTEST}x the lightest lesson: {heavy}"


def test_pages_load_no_external_resources(report):
    external = {p: r["external"] for p, r in report.items() if r["external"]}
    assert not external, f"requests that leave the site: {external}"


def test_the_theme_icon_script_is_replaced_by_a_css_subset(site, pages, base_url, chromium):
    """fontawesome.js (1.5 MB) is not loaded, and every icon on a page still draws."""
    loading = [p for p in pages if "fontawesome.js" in (site / p).read_text(encoding="utf-8")]
    assert not loading, f"pages still loading fontawesome.js: {loading}"
    context = chromium.new_context(viewport=site_report.DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/{lesson_pages(pages)[0]}", wait_until="networkidle")
        blank = page.evaluate("""() => Array.from(document.querySelectorAll(
            '[class*="fa-"]'))
            .filter(el => /\\bfa-(solid|regular|brands)\\b|\\bfa[srb]\\b/.test(el.className))
            .filter(el => { const s = getComputedStyle(el);
                            const m = s.maskImage || s.webkitMaskImage;
                            return !m || m === 'none'; })
            .map(el => el.className)""")
    finally:
        context.close()
    assert not blank, f"icons without a drawing: {blank}"


# ------------------------------------------------------------------------------- axe


def test_axe_finds_no_critical_or_serious_violation(report):
    if site_report.axe_path() is None:
        pytest.skip(
            "axe-core not installed: npm install --prefix .axe axe-core@4.14 "
            "(or set AXE_CORE_JS to axe.min.js)"
        )
    found = [
        f"{page}: {v['impact']} {v['rule']} ({v['nodes']} nodes, e.g. {v['targets'][:2]}): {v['help']}"
        for page, r in report.items()
        for v in r["axe"] or []
    ]
    assert not found, "axe violations:\n" + "\n".join(found)


# --------------------------------------------------------------------------- figures


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_notebook_figures_are_high_density(site, pages):
    """Matplotlib output is 2x PNG: twice as many pixels as the width it is shown at."""
    soft = []
    checked = 0
    for page in lesson_pages(pages):
        for img in soup(site / page).select("article .cell_output img"):
            src = img.get("src", "")
            if "_images/" not in src or not src.endswith(".png"):
                continue  # only the notebooks' own output
            style = re.search(r"width:\s*([\d.]+)px", img.get("style", ""))
            width = float(style.group(1)) if style else float(img.get("width") or 0)
            png = (site / page).parent / src
            checked += 1
            if not width or _png_size(png)[0] < 1.9 * width:
                soft.append(f"{page}: {src} ({_png_size(png)[0]} px, shown at {width} px)")
    assert checked, "no notebook figure found"
    assert not soft, "figures not at 2x density:\n" + "\n".join(soft)


def test_figures_are_not_dimmed_in_dark_mode(pages, base_url, chromium):
    context = chromium.new_context(viewport=site_report.DESKTOP)
    try:
        page = context.new_page()
        page.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
        page.goto(f"{base_url}/{lesson_pages(pages)[0]}", wait_until="networkidle")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        filters = page.evaluate("""() => Array.from(document.querySelectorAll(
            'article .cell_output img')).map(img => getComputedStyle(img).filter)""")
    finally:
        context.close()
    assert filters, "no figure on the page"
    assert set(filters) == {"none"}, f"figure filters in dark mode: {sorted(set(filters))}"


# ------------------------------------------------------------------------- numbering


def _numbers(texts: list[str]) -> list[int]:
    return [int(m.group(1)) for t in texts if (m := re.search(r"(\d+)", t))]


def test_figures_and_equations_are_numbered_per_page(site, pages):
    problems = []
    numbered_pages = 0
    for page in pages:
        html = soup(site / page)
        figs = _numbers([s.get_text() for s in html.select("figure .caption-number")])
        eqs = _numbers([s.get_text() for s in html.select("article span.eqno")])
        for kind, nums in (("figure", figs), ("equation", eqs)):
            if nums:
                numbered_pages += 1
                if nums != list(range(1, len(nums) + 1)):
                    problems.append(f"{page}: {kind} numbers {nums}")
    assert not problems, "numbers that do not run 1, 2, 3 ... on their page:\n" + "\n".join(problems)
    assert numbered_pages, "no page has a numbered figure or equation"


# ---------------------------------------------------------------------------------- PDF


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(str(path)).pages))


def _title(site: Path, page: str) -> str:
    h1 = soup(site / page).select_one("article h1")
    return re.sub(r"\s+", " ", h1.get_text(" ")).replace("#", "").strip()


def test_pdfs_of_the_chapter_and_of_each_lesson(site, pages, pdfs):
    pypdf = pytest.importorskip("pypdf")
    lessons = lesson_pages(pages)
    assert sorted(k for k in pdfs if k != "chapter") == sorted(lessons)
    chapter = pdfs["chapter"]
    lesson_counts = {p: len(pypdf.PdfReader(str(pdfs[p])).pages) for p in lessons}
    chapter_count = len(pypdf.PdfReader(str(chapter)).pages)
    assert all(n >= 2 for n in lesson_counts.values()), lesson_counts
    assert chapter_count > sum(lesson_counts.values()), (chapter_count, lesson_counts)

    def letters(text: str) -> str:
        # a title may wrap (and hyphenate) across lines: compare letters and digits only
        # (NFKC also undoes the PDF's ligatures, "ﬁ" -> "fi")
        return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", text).lower())

    chapter_text = letters(_pdf_text(chapter))
    missing = []
    for page in lessons:
        title = _title(site, page)
        if letters(title) not in chapter_text:
            missing.append(f"chapter PDF lacks {title!r}")
        if letters(title) not in letters(_pdf_text(pdfs[page])):
            missing.append(f"{pdfs[page].name} lacks {title!r}")
    assert not missing, "\n".join(missing)


def test_pdf_links_of_the_landing_page_and_download_menus_resolve(site, pages, pdfs):
    broken = []
    seen = 0
    for page in pages:
        if page == "index.html":
            continue
        for a in soup(site / page).find_all("a", href=True):
            href = a["href"]
            if "_static/pdf/" not in href:
                continue
            seen += 1
            target = ((site / page).parent / urlsplit(href).path).resolve()
            if not target.is_file():
                broken.append(f"{page} -> {href}")
        if page.startswith("lessons/"):
            own = f"_static/pdf/{Path(page).stem}.pdf"
            if not any(own in a["href"] for a in soup(site / page).find_all("a", href=True)):
                broken.append(f"{page}: no link to {own}")
    root = site_report.toc_docs()[0] + ".html"
    landing = soup(site / root).select_one("article.bd-article")
    if not any(build_pdf.CHAPTER_PDF in a["href"] for a in landing.find_all("a", href=True)):
        broken.append(f"{root}: the page itself does not link to the chapter PDF")
    assert seen, "no page links to a PDF"
    assert not broken, "PDF links that do not resolve:\n" + "\n".join(broken)


# ----------------------------------------------------------------------------- metadata


def test_every_page_has_a_description_opengraph_tags_and_a_favicon(site, pages):
    problems = []
    for page in pages:
        html = soup(site / page)
        if not (html.title and html.title.get_text(strip=True)):
            problems.append(f"{page}: no <title>")
        desc = html.find("meta", attrs={"name": "description"})
        if not desc or len(desc.get("content", "")) < 40:
            problems.append(f"{page}: no meta description of 40+ characters")
        elif "\\" in desc["content"] or "$" in desc["content"]:
            problems.append(f"{page}: TeX in the description {desc['content']!r}")
        for prop in ("og:title", "og:description", "og:type"):
            if not html.find("meta", attrs={"property": prop}):
                problems.append(f"{page}: no {prop}")
        icon = html.find("link", rel=lambda r: r and "icon" in r)
        if not icon:
            problems.append(f"{page}: no favicon link")
        elif not ((site / page).parent / urlsplit(icon["href"]).path).resolve().is_file():
            problems.append(f"{page}: favicon {icon['href']} missing")
    assert (site / "favicon.ico").is_file(), "no favicon.ico at the site root"
    assert not problems, "\n".join(problems)


def test_descriptions_differ_between_lessons(site, pages):
    descs = [
        soup(site / p).find("meta", attrs={"name": "description"})["content"] for p in lesson_pages(pages)
    ]
    assert len(set(descs)) == len(descs), descs


def test_search_snippets_show_formulas_without_tex(base_url, chromium):
    context = chromium.new_context(viewport=site_report.DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/search.html?q=reparameterization", wait_until="networkidle")
        page.wait_for_selector("ul.search li p.context", timeout=60_000)
        page.wait_for_load_state("networkidle")
        snippets = page.eval_on_selector_all("ul.search li p.context", "els => els.map(e => e.textContent)")
        plain = page.evaluate(
            "window.courseSitePlainTeX('\\\\(\\\\mu + \\\\sigma \\\\odot \\\\epsilon\\\\)')"
        )
    finally:
        context.close()
    assert plain == "μ + σ ⊙ ε"
    assert snippets, "no search results"
    with_tex = [s for s in snippets if re.search(r"\\[A-Za-z]+|\\\(|\\\[", s)]
    assert not with_tex, f"snippets with raw TeX: {with_tex[:3]}"
