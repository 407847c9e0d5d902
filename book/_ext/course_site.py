"""Site tweaks of "Chapter 14: Variational Autoencoders" (issue 15), as one small Sphinx extension.

- Figures and display equations are numbered per page: "Figure 1" and "(1)" restart on every
  lesson (Sphinx numbers them across the whole book when the table of contents is not numbered).
- No ipywidgets state in the pages: the executed notebooks' widget state (hundreds of KB of JSON
  that no widget manager on the site reads) is dropped before the pages are written.
- Retina figures: the build's kernels start with matplotlib's inline backend set to 2x PNG
  (PYTHONSTARTUP=book/_ext/kernel_startup.py), so no lesson has to say so.
- The theme's 1.5 MB Font Awesome script is replaced by a CSS subset holding only the icons the
  pages use (``_static/fa-subset.css``, generated from that same script at the end of the build).
- A meta description and OpenGraph tags on every page; a titled root ``index.html``.
- The download menu of every page links to the PDF of the chapter and of the page (written by
  ``scripts/build_pdf.py`` into ``_build/html/_static/pdf/`` after the build).
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PDF_DIR = "_static/pdf"  # relative to the html output; scripts/build_pdf.py writes here
CHAPTER_PDF = "chapter-14-vae.pdf"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Icons that the theme's JavaScript inserts after load (not in the HTML): keep them too.
ICONS_FROM_SCRIPTS = {("fa-solid", "fa-xmark")}
_FA_STYLE = {
    "fa-solid": "solid",
    "fas": "solid",
    "fa": "solid",
    "fa-regular": "regular",
    "far": "regular",
    "fa-brands": "brands",
    "fab": "brands",
}
# modifier classes that are not icon names
_FA_MODIFIERS = {"fa-lg", "fa-xs", "fa-sm", "fa-fw", "fa-spin", "fa-pulse", "fa-2x", "fa-3x"}


# ----------------------------------------------------------------------------- numbering


def number_per_document(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Rewrite env.toc_fignumbers so that each document's figures, tables, code blocks and
    labelled equations count from 1, in the order Sphinx numbered them."""
    for by_type in env.toc_fignumbers.values():
        for figtype, numbers in by_type.items():
            ordered = sorted(numbers.items(), key=lambda kv: kv[1])
            by_type[figtype] = {node_id: (i,) for i, (node_id, _) in enumerate(ordered, start=1)}
    return []


# ------------------------------------------------------------------------- widget state


def drop_widget_state(app: Sphinx, env: BuildEnvironment) -> None:
    """Forget the ipywidgets state myst-nb collected for each notebook (see module doc)."""
    for data in getattr(env, "nb_metadata", {}).values():
        js = data.get("js_files", {})
        for key in [
            k
            for k, (uri, kw) in js.items()
            if k.startswith("ipywidgets") or (kw or {}).get("type") == WIDGET_STATE
        ]:
            del js[key]


LAZY_IMG = re.compile(r"<img (?![^>]*\bloading=)")


def postprocess_html(app: Sphinx, exception) -> None:
    """Fix the written pages where no configuration reaches.

    - remove any widget-state script that still reached a page (belt and braces);
    - docutils writes the bibliography as role="list" holding role="doc-biblioentry" (a role
      ARIA 1.2 deprecates, and not a list item: axe's critical aria-required-children):
      entries of a citation list become role="listitem";
    - every image gets loading="lazy" (scripts/build_pdf.py makes them eager before printing).
    """
    if exception or app.builder.format != "html":
        return
    widget = re.compile(
        r'<script[^>]*type="application/vnd\.jupyter\.widget-state\+json"[^>]*>.*?</script>\s*',
        re.S,
    )
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = text
        if WIDGET_STATE in new:
            new = widget.sub("", new)
        if 'role="doc-biblioentry"' in new:
            new = new.replace('role="doc-biblioentry"', 'role="listitem"')
        # images load when the reader scrolls near them (Chromium fetches those within about
        # one to two screens at once), not all before the page can be read
        new = LAZY_IMG.sub('<img loading="lazy" decoding="async" ', new)
        if new != text:
            page.write_text(new, encoding="utf-8")


# --------------------------------------------------------------------- Font Awesome subset


def _fontawesome_packs(source: str) -> dict[str, dict[str, tuple[int, int, str]]]:
    """{style: {icon name: (width, height, svg path)}} parsed from the theme's fontawesome.js."""
    packs: dict[str, dict[str, tuple[int, int, str]]] = {}
    icon = re.compile(
        r'(?:"([a-z0-9-]+)"|([a-z0-9]+)):\[(\d+),(\d+),\[[^\]]*\],"[0-9a-f]*",("(?:[^"\\]|\\.)*"|\[[^\]]*\])\]'
    )
    for marker in re.finditer(r'd\("(fab|far|fas)",p\)', source):
        style = {"fab": "brands", "far": "regular", "fas": "solid"}[marker.group(1)]
        start = source.rfind("var p={", 0, marker.start())
        chunk = source[start : marker.start()]
        icons = packs.setdefault(style, {})
        for m in icon.finditer(chunk):
            name = m.group(1) or m.group(2)
            path = json.loads(m.group(5))
            if isinstance(path, list):  # duotone: both layers
                path = " ".join(path)
            icons[name] = (int(m.group(3)), int(m.group(4)), path)
    return packs


def _used_icons(outdir: Path) -> set[tuple[str, str]]:
    used = set(ICONS_FROM_SCRIPTS)
    class_attr = re.compile(r'class="([^"]*\bfa-[^"]*)"')
    for page in outdir.rglob("*.html"):
        for m in class_attr.finditer(page.read_text(encoding="utf-8", errors="replace")):
            classes = m.group(1).split()
            style = next((c for c in classes if c in _FA_STYLE), "fa-solid")
            for c in classes:
                if c.startswith("fa-") and c not in _FA_STYLE and c not in _FA_MODIFIERS:
                    used.add((style, c))
    return used


def write_icon_subset(app: Sphinx, exception) -> None:
    """Write _static/fa-subset.css: each icon the pages use as a CSS mask of its SVG path."""
    if exception or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    fa_js = outdir / "_static" / "scripts" / "fontawesome.js"
    if not fa_js.is_file():
        logger.warning("course_site: no _static/scripts/fontawesome.js to take icons from")
        return
    packs = _fontawesome_packs(fa_js.read_text(encoding="utf-8"))
    rules = [
        "/* Generated by book/_ext/course_site.py from the theme's fontawesome.js: only the icons",
        "   this site's pages use, as CSS masks (Font Awesome Free, icons CC BY 4.0). */",
        ".fa-solid,.fa-regular,.fa-brands,.fas,.far,.fab{width:1em;"
        "height:1em;vertical-align:-0.125em;background-color:currentColor;"
        "-webkit-mask:var(--fa-icon) center/contain no-repeat;"
        "mask:var(--fa-icon) center/contain no-repeat;font-style:normal}",
        # the theme's CSS would draw the glyph with the icon webfont (and download it)
        ".fa-solid::before,.fa-regular::before,.fa-brands::before,.fas::before,.far::before,"
        ".fab::before{content:none!important}",
        ".fa-lg{font-size:1.25em;vertical-align:-0.2em}",
        # the theme shows the current mode's icon as display:inline, which has no box
        "html[data-mode=auto] .theme-switch-button .theme-switch[data-mode=auto],"
        "html[data-mode=dark] .theme-switch-button .theme-switch[data-mode=dark],"
        "html[data-mode=light] .theme-switch-button .theme-switch[data-mode=light]"
        "{display:inline-block}",
    ]
    missing = []
    for style_class, name in sorted(_used_icons(outdir)):
        style = _FA_STYLE[style_class]
        found = packs.get(style, {}).get(name[3:]) or packs.get("solid", {}).get(name[3:])
        if found is None:
            missing.append(f"{style_class} {name}")
            continue
        w, h, path = found
        svg = f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}'><path d='{path}'/></svg>"
        uri = "data:image/svg+xml," + re.sub(r'[<>#%"]', lambda m: f"%{ord(m.group()):02X}", svg)
        rules.append(f'.{style_class}.{name}{{--fa-icon:url("{uri}");width:{w / h:.4f}em}}')
    if missing:
        logger.warning("course_site: icons not found in fontawesome.js: %s", ", ".join(missing))
    (outdir / "_static" / "fa-subset.css").write_text("\n".join(rules) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------ page metadata


def _description(doctree: nodes.document) -> str:
    """The first plain paragraph of at least 60 characters, cut at about 160 characters."""
    for para in doctree.findall(nodes.paragraph):
        # the page's own prose: a paragraph right under a section (notebook Markdown cells
        # are not wrapped), not a list item, admonition, caption or cell output
        if not isinstance(para.parent, (nodes.section, nodes.document)):
            continue
        if para.next_node(nodes.math) is not None:
            continue
        text = re.sub(r"\s+", " ", para.astext()).strip()
        if len(text) < 60:
            continue
        if len(text) > 160:
            text = text[:157].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return text
    return ""


def remember_description(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    app.env.course_site_descriptions = getattr(app.env, "course_site_descriptions", {})
    app.env.course_site_descriptions[docname] = _description(doctree)


def page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Meta description, OpenGraph tags and the PDF links of the download menu."""
    descriptions = getattr(app.env, "course_site_descriptions", {})
    # a page's own `description:` (front matter / notebook metadata) wins over its first paragraph
    own = (app.env.metadata.get(pagename) or {}).get("description") if app.env else None
    desc = own or descriptions.get(pagename) or app.config.course_site_description
    title = re.sub(r"<[^>]+>", "", context.get("title") or app.config.html_title or "")
    base = (app.config.html_baseurl or "").rstrip("/")
    tags = [
        f'<meta name="description" content="{html.escape(desc)}" />',
        f'<meta property="og:title" content="{html.escape(html.unescape(title))}" />',
        '<meta property="og:type" content="article" />',
        f'<meta property="og:site_name" content="{html.escape(app.config.html_title or "")}" />',
        f'<meta property="og:description" content="{html.escape(desc)}" />',
    ]
    if base:
        tags.append(f'<meta property="og:url" content="{base}/{pagename}.html" />')
    context["metatags"] = context.get("metatags", "") + "\n".join(tags) + "\n"

    # PDF links in the theme's download menu
    buttons = context.get("header_buttons") or []
    pathto = context["pathto"]
    for group in buttons:
        if group.get("type") != "group" or "download" not in (group.get("icon") or ""):
            continue
        items = group.setdefault("buttons", [])
        extra = [
            {
                "type": "link",
                "url": pathto(f"{PDF_DIR}/{CHAPTER_PDF}", 1),
                "text": "PDF of the chapter",
                "tooltip": "The whole chapter as one PDF",
                "icon": "fas fa-file-pdf",
                "label": "chapter-pdf-button",
            }
        ]
        if pagename.startswith("lessons/"):
            extra.insert(
                0,
                {
                    "type": "link",
                    "url": pathto(f"{PDF_DIR}/{Path(pagename).name}.pdf", 1),
                    "text": "PDF of this lesson",
                    "tooltip": "This lesson as a PDF",
                    "icon": "fas fa-file-pdf",
                    "label": "lesson-pdf-button",
                },
            )
        items.extend(extra)


ROOT_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8" />
<title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1" />
<meta name="description" content="{desc}" />
<meta property="og:title" content="{title}" />
<meta property="og:type" content="website" />
<meta property="og:description" content="{desc}" />
{og_url}<link rel="icon" href="_static/favicon.svg" type="image/svg+xml" />
<meta http-equiv="Refresh" content="0; url={target}" />
</head>
<body>
<p>This site starts at <a href="{target}">{title}</a>.</p>
</body>
</html>
"""


def titled_root_page(app: Sphinx, exception) -> None:
    """Replace the bare redirect index.html (written by sphinx-external-toc) by a titled one."""
    if exception or app.builder.format != "html":
        return
    index = Path(app.outdir) / "index.html"
    if not index.is_file():
        return
    text = index.read_text(encoding="utf-8")
    m = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', text)
    if not m or "<title>" in text:
        return
    base = (app.config.html_baseurl or "").rstrip("/")
    index.write_text(
        ROOT_PAGE.format(
            lang=app.config.language or "en",
            title=html.escape(app.config.html_title or app.config.project),
            desc=html.escape(app.config.course_site_description),
            og_url=f'<meta property="og:url" content="{base}/" />\n' if base else "",
            target=html.escape(m.group(1)),
        ),
        encoding="utf-8",
    )


# ------------------------------------------------------------------- landing-page link


def link_pdf_from_root(app: Sphinx, doctree: nodes.document) -> None:
    """End the landing page with links to the chapter's PDFs (see scripts/build_pdf.py)."""
    docname = app.env.docname
    if docname != app.config.root_doc or not app.config.course_site_pdf_link:
        return
    up = "../" * docname.count("/")
    para = nodes.paragraph(classes=["course-pdf-link"])
    para += nodes.Text("To read offline or print: ")
    para += nodes.reference(
        "", "the whole chapter as one PDF", refuri=f"{up}{PDF_DIR}/{CHAPTER_PDF}", internal=False
    )
    para += nodes.Text(", or the PDF of one lesson from the download menu at the top of its page.")
    section = doctree.next_node(nodes.section)
    (section if section is not None else doctree).append(para)


# ---------------------------------------------------------------------------- set-up


def kernel_startup(app: Sphinx, config) -> None:
    """Kernels started by this build run kernel_startup.py first (2x PNG figures)."""
    startup = HERE / "kernel_startup.py"
    if startup.is_file() and config.course_site_retina:
        os.environ["PYTHONSTARTUP"] = str(startup)


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_site_description", "", "html")
    app.add_config_value("course_site_retina", True, "env")
    app.add_config_value("course_site_pdf_link", True, "env")
    app.connect("doctree-read", link_pdf_from_root)
    app.connect("config-inited", kernel_startup)
    # after the toctree collector (priority 500) has numbered the figures
    app.connect("env-get-updated", number_per_document, priority=900)
    app.connect("env-updated", drop_widget_state)
    app.connect("doctree-resolved", remember_description)
    app.connect("html-page-context", page_context, priority=900)
    app.connect("build-finished", postprocess_html)
    app.connect("build-finished", write_icon_subset, priority=900)
    # after sphinx-external-toc has written the redirect (priority 500)
    app.connect("build-finished", titled_root_page, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False, "env_version": 2}
