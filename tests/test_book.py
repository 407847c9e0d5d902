"""Tests of the Jupyter Book site and of the lesson notebooks as committed.

The ``book`` tests share one cold build of the whole site (the ``book_build``
fixture in conftest.py: ``jupyter-book build <repo> --path-output <tmp> -W -n
--keep-going``), which executes every lesson notebook. Deselect them with
``pytest -m "not book"``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

bs4 = pytest.importorskip("bs4")
yaml = pytest.importorskip("yaml")

# The fixture ``book_build`` (conftest.py) returns a ``BookBuild``: returncode, output,
# html (the built site), seconds, repo_changes.
REPO_ROOT = Path(__file__).resolve().parents[1]
LESSONS_DIR = REPO_ROOT / "lessons"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
# Pages Sphinx writes that are not part of the book's content.
GENERATED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}


# --------------------------------------------------------------------------- helpers


def toc_files() -> list[str]:
    """Every document of _toc.yml (the root first), without file extensions."""
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb|rst)$", "", f) for f in files]


def lesson_docs() -> list[str]:
    return [f for f in toc_files() if f.startswith("lessons/")]


def is_redirect(page: Path) -> bool:
    return soup(page).find("meta", attrs={"http-equiv": re.compile("^refresh$", re.I)}) is not None


def built_pages(html: Path) -> list[Path]:
    """Every content page of the built site: no assets, templates, search or redirects."""
    return sorted(
        p
        for p in html.rglob("*.html")
        if not p.relative_to(html).parts[0].startswith("_")
        and p.relative_to(html).as_posix() not in GENERATED_PAGES
        and not is_redirect(p)
    )


@cache
def _soup(path: Path):
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def soup(path: Path):
    assert path.is_file(), f"missing page: {path}"
    return _soup(path)


def article(page: Path):
    """The page's own content, without the theme's header, sidebars and footer."""
    s = soup(page)
    node = s.select_one("article.bd-article") or s.select_one("main") or s.body
    assert node is not None, f"{page.name}: no content element"
    return node


def is_external(url: str) -> bool:
    return bool(urlsplit(url).scheme) or url.startswith("//")


def meaningful_alt(img) -> bool:
    """An alt text written by a person, not Sphinx's fallback (the image's path)."""
    alt = (img.get("alt") or "").strip()
    src = img.get("src") or ""
    if not alt or alt == src:
        return False
    return not (alt.lower().endswith(IMAGE_SUFFIXES) or Path(alt).name == Path(src).name)


def resolve(page: Path, href: str) -> tuple[Path, str]:
    """The file and fragment a relative link on ``page`` points to."""
    url, fragment = urldefrag(href)
    target = page if not url else (page.parent / unquote(url)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(fragment)


def has_id(page: Path, fragment: str) -> bool:
    return soup(page).find(id=fragment) is not None


def cited_keys() -> dict[str, set[str]]:
    """Citation keys used in the book's sources: {key: {files citing it}}."""
    pattern = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
    texts: list[tuple[str, str]] = []
    for doc in toc_files():
        for suffix in (".md", ".ipynb"):
            path = REPO_ROOT / f"{doc}{suffix}"
            if not path.is_file():
                continue
            if suffix == ".md":
                texts.append((doc, path.read_text(encoding="utf-8")))
            else:
                nb = json.loads(path.read_text(encoding="utf-8"))
                for cell in nb.get("cells", []):
                    if cell.get("cell_type") == "markdown":
                        src = cell.get("source", "")
                        texts.append((doc, "".join(src) if isinstance(src, list) else src))
    keys: dict[str, set[str]] = {}
    for doc, text in texts:
        for match in pattern.finditer(text):
            for key in match.group(1).split(","):
                key = key.strip()
                if key:
                    keys.setdefault(key, set()).add(doc)
    return keys


def bib_titles() -> dict[str, str]:
    """{key: title} of book/references.bib, braces removed."""
    pybtex_database = pytest.importorskip("pybtex.database")
    bib = pybtex_database.parse_file(str(REPO_ROOT / "book" / "references.bib"))
    return {key: re.sub(r"[{}]", "", entry.fields["title"]) for key, entry in bib.entries.items()}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def require_html(build) -> Path:
    if not build.html.is_dir():
        pytest.fail("the book build wrote no HTML at all; build output (tail):\n" + build.tail())
    return build.html


# ------------------------------------------------------------------ tests without a build


def lesson_notebooks() -> list[Path]:
    return sorted(LESSONS_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", lesson_notebooks(), ids=lambda p: p.name)
def test_notebooks_committed_without_outputs(notebook: Path):
    """Notebooks are committed clean: the build (and nbval) produce the outputs."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("cell_type") == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{notebook.name}: code cells {dirty} have outputs or an execution count; "
        "clear them (e.g. `jupyter nbconvert --clear-output --inplace` or nbstripout)"
    )
    assert "widgets" not in nb.get("metadata", {}), (
        f"{notebook.name}: saved ipywidgets state in the notebook metadata; clear it"
    )


def test_toc_lists_every_lesson_notebook_in_order():
    """Lessons 14-1 ... 14-N: every notebook of lessons/ is in _toc.yml, in lesson order."""

    def lesson_number(doc: str) -> int:
        return int(re.match(r"14-(\d+)-", Path(doc).name).group(1))

    notebooks = sorted((f"lessons/{p.stem}" for p in lesson_notebooks()), key=lesson_number)
    assert lesson_docs() == notebooks
    assert lesson_docs()[:6] == [
        "lessons/14-1-autoencoders",
        "lessons/14-2-latent-variable-models-elbo",
        "lessons/14-3-variational-autoencoders",
        "lessons/14-4-kl-divergence",
        "lessons/14-5-reparameterization-trick",
        "lessons/14-6-exploring-latent-space",
    ]


# ------------------------------------------------------------------------- book tests


@pytest.mark.book
def test_book_builds_without_warnings(book_build):
    if not book_build.ok:
        problems = "\n".join(book_build.problems()[:50]) or "(none found)"
        pytest.fail(
            f"`jupyter-book build -W -n --keep-going` failed (exit {book_build.returncode}, "
            f"{book_build.seconds:.0f} s).\nWarnings and errors:\n{problems}\n\n"
            f"Output (tail):\n{book_build.tail()}",
            pytrace=False,
        )


@pytest.mark.book
def test_build_does_not_write_into_the_repository(book_build):
    """The build (notebook execution included) adds, changes or removes no file of the repo."""
    assert not book_build.repo_changes, "building the book changed files in the repository:\n" + "\n".join(
        book_build.repo_changes
    )


@pytest.mark.book
@pytest.mark.parametrize("doc", toc_files())
def test_every_toc_page_has_an_html_page(book_build, doc: str):
    html = require_html(book_build)
    assert (html / f"{doc}.html").is_file(), f"{doc} is in _toc.yml but was not built"


@pytest.mark.book
def test_site_root_redirects_to_the_landing_page(book_build):
    html = require_html(book_build)
    index = html / "index.html"
    assert index.is_file(), "no index.html at the site root"
    root = toc_files()[0]
    assert f"{Path(root).name}.html" in index.read_text(encoding="utf-8")


@pytest.mark.book
@pytest.mark.parametrize("doc", lesson_docs())
def test_lesson_page_has_figures_with_alt_text(book_build, doc: str):
    html = require_html(book_build)
    images = article(html / f"{doc}.html").find_all("img")
    assert images, f"{doc}: no images (figures) on the page"
    described = [img for img in images if meaningful_alt(img)]
    assert described, (
        f"{doc}: no image has a real alt text (set it with the cell metadata "
        '`"mystnb": {"image": {"alt": "..."}}`)'
    )


@pytest.mark.book
@pytest.mark.parametrize("doc", lesson_docs())
def test_every_lesson_image_has_alt_text(book_build, doc: str):
    html = require_html(book_build)
    missing = [
        img.get("src") for img in article(html / f"{doc}.html").find_all("img") if not meaningful_alt(img)
    ]
    assert not missing, (
        f"{doc}: images without a real alt text: {missing} (set it with the cell metadata "
        '`"mystnb": {"image": {"alt": "..."}}` or `![alt](path)` in Markdown)'
    )


@pytest.mark.book
def test_no_page_loads_scripts_or_styles_from_the_network(book_build):
    html = require_html(book_build)
    external = []
    for page in built_pages(html):
        s = soup(page)
        for tag in s.find_all("script", src=True):
            if is_external(tag["src"]):
                external.append(f"{page.relative_to(html)}: <script src={tag['src']}>")
        for tag in s.find_all("link", href=True):
            rel = tag.get("rel") or []
            if ("stylesheet" in rel or "preload" in rel or "modulepreload" in rel) and is_external(
                tag["href"]
            ):
                external.append(f"{page.relative_to(html)}: <link href={tag['href']}>")
    assert not external, "pages load assets from the network:\n" + "\n".join(external)


@pytest.mark.book
def test_math_is_rendered_by_the_local_mathjax(book_build):
    html = require_html(book_build)
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file(), (
        "MathJax was not copied into _static/mathjax (is sphinx-mathjax-offline loaded?)"
    )
    pages_with_math = []
    for page in built_pages(html):
        s = soup(page)
        if not s.select(".math"):
            continue
        pages_with_math.append(page)
        srcs = [tag["src"] for tag in s.find_all("script", src=True)]
        local = [src for src in srcs if not is_external(src) and "_static/mathjax/tex-chtml.js" in src]
        assert local, f"{page.relative_to(html)} has math but no local MathJax script: {srcs}"
        assert (page.parent / urlsplit(local[0]).path).resolve().is_file()
    assert (html / "book" / "notation.html") in pages_with_math, "the notation page has no math"


@pytest.mark.book
def test_internal_links_resolve(book_build):
    html = require_html(book_build)
    broken = []
    for page in built_pages(html):
        for a in article(page).find_all("a", href=True):
            href = a["href"]
            if is_external(href) or href.startswith(("mailto:", "javascript:")):
                continue
            if "_static/pdf/" in href:
                # written by scripts/build_pdf.py after the build; tests/test_site.py builds
                # them and checks these links
                continue
            target, fragment = resolve(page, href)
            name = f"{page.relative_to(html)} -> {href}"
            if not target.is_file():
                broken.append(f"{name} (no such file)")
            elif fragment and target.suffix == ".html" and not has_id(target, fragment):
                broken.append(f"{name} (no id {fragment!r})")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.book
def test_lesson_14_3_links_to_lessons_14_4_and_14_5(book_build):
    html = require_html(book_build)
    page = html / "lessons" / "14-3-variational-autoencoders.html"
    targets = set()
    for a in article(page).find_all("a", href=True):
        if not is_external(a["href"]):
            target, _ = resolve(page, a["href"])
            targets.add(target)
    for name in ("14-4-kl-divergence", "14-5-reparameterization-trick"):
        expected = (html / "lessons" / f"{name}.html").resolve()
        assert expected in targets, f"lesson 14-3 does not link to lesson {name}"
        assert expected.is_file()


@pytest.mark.book
def test_references_page_lists_every_cited_work(book_build):
    html = require_html(book_build)
    cited = cited_keys()
    titles = bib_titles()
    assert cited, "nothing in the book cites the bibliography"
    unknown = sorted(set(cited) - set(titles))
    assert not unknown, f"cited keys missing from book/references.bib: {unknown}"
    text = normalise(article(html / "book" / "references.html").get_text(" "))
    missing = [key for key in sorted(cited) if normalise(titles[key]) not in text]
    assert not missing, f"cited works not listed on the references page: {missing}"


@pytest.mark.book
def test_no_page_shows_an_error_output(book_build):
    html = require_html(book_build)
    errors = []
    for page in built_pages(html):
        body = article(page)
        for node in body.select(".cell_output .traceback, .output.traceback"):
            errors.append(f"{page.relative_to(html)}: {node.get_text()[:200]!r}")
        for node in body.select(".cell_output .stderr, .output.stderr"):
            text = node.get_text()
            if "Traceback (most recent call last)" in text or re.search(
                r"^\w*(Error|Exception)\b", text, re.MULTILINE
            ):
                errors.append(f"{page.relative_to(html)}: {text[:200]!r}")
    assert not errors, "pages show error outputs:\n" + "\n".join(errors)
