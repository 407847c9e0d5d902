"""PDFs of the chapter, printed from the built site by headless Chromium.

Run it after the book build::

    jupyter-book build .
    python scripts/build_pdf.py            # writes _build/html/_static/pdf/

It serves the built site on 127.0.0.1, opens every page of _toc.yml in Chromium (Debian's
/usr/bin/chromium driven by playwright) with print media (book/_static/custom.css: no
navigation; latent-explorer.css: the explorer's static figure), waits for MathJax and every
image, and prints it with page numbers. It writes one PDF per lesson,
``_static/pdf/<lesson>.pdf``, and the whole chapter in _toc.yml's order as
``_static/pdf/chapter-14-vae.pdf`` (the pages' PDFs joined with pypdf, with an outline entry
per page). The site's download menus and the landing page link to these files, so run this
script before publishing the site. Solutions stay folded, as on the site.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import site_report  # noqa: E402  (same folder: page list, local server, Chromium launch)

CHAPTER_PDF = "chapter-14-vae.pdf"  # the name book/_ext/course_site.py links to
PDF_SUBDIR = Path("_static") / "pdf"
FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555;">'
    '<span class="title"></span> &middot; <span class="pageNumber"></span>'
    ' / <span class="totalPages"></span></div>'
)
READY_JS = """async () => {
  document.querySelectorAll('img[loading="lazy"]').forEach(img => img.loading = 'eager');
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(ok => { img.addEventListener('load', ok); img.addEventListener('error', ok); })));
  if (document.fonts && document.fonts.ready) await document.fonts.ready;
  return document.title;
}"""


def print_page(browser, url: str, target: Path) -> str:
    """Print one page to ``target``; returns the page's title."""
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.emulate_media(media="print")
        page.goto(url, wait_until="networkidle")
        title = page.evaluate(READY_JS)
        page.pdf(
            path=str(target),
            format="A4",
            print_background=True,
            margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
            display_header_footer=True,
            header_template="<div></div>",
            footer_template=FOOTER,
        )
        return title
    finally:
        context.close()


def build_pdfs(html: Path, out: Path | None = None, quiet: bool = False, browser=None) -> dict[str, Path]:
    """Write every lesson's PDF and the chapter PDF; returns {page or 'chapter': path}.

    ``browser``: a playwright Chromium to use (tests pass theirs); default: launch one.
    """
    from pypdf import PdfWriter

    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"html={html}: no built site there (run `jupyter-book build .`)")
    out = out or html / PDF_SUBDIR
    out.mkdir(parents=True, exist_ok=True)
    pages = [p for p in site_report.site_pages(html) if p != "index.html"]
    written: dict[str, Path] = {}
    parts: list[tuple[str, Path]] = []
    tmp = out / ".parts"
    tmp.mkdir(exist_ok=True)
    with site_report.serve(html) as base, contextlib.ExitStack() as stack:
        if browser is None:
            from playwright.sync_api import sync_playwright

            p = stack.enter_context(sync_playwright())
            browser = site_report.launch(p)
            stack.callback(browser.close)
        for rel in pages:
            start = time.monotonic()
            name = Path(rel).stem
            is_lesson = rel.startswith("lessons/")
            target = (out if is_lesson else tmp) / f"{name}.pdf"
            title = print_page(browser, f"{base}/{rel}", target)
            parts.append((title.split(" — ")[0].strip(), target))
            if is_lesson:
                written[rel] = target
            if not quiet:
                print(f"{rel}: {target.name} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
    writer = PdfWriter()
    for title, part in parts:
        first = len(writer.pages)
        writer.append(str(part))
        writer.add_outline_item(title=title, page_number=first)
    writer.add_metadata({"/Title": "Chapter 14: Variational Autoencoders"})
    chapter = out / CHAPTER_PDF
    with open(chapter, "wb") as fh:
        writer.write(fh)
    for part in tmp.iterdir():
        part.unlink()
    tmp.rmdir()
    written["chapter"] = chapter
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Print the built site's chapter and lessons to PDF.")
    ap.add_argument(
        "--html",
        type=Path,
        default=REPO_ROOT / "_build" / "html",
        help="the built site (default: _build/html)",
    )
    ap.add_argument("--out", type=Path, help="output folder (default: <html>/_static/pdf)")
    args = ap.parse_args(argv)
    try:
        written = build_pdfs(args.html, args.out)
    except FileNotFoundError as exc:
        ap.error(str(exc))
    from pypdf import PdfReader

    for key, path in written.items():
        print(f"{path}  ({len(PdfReader(str(path)).pages)} pages)  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
