"""Every student path from the site leads to the student notebooks, never to the masters.

The lesson pages are built from the masters in ``lessons/`` (the site shows the solutions in
dropdowns: there the reader chooses to reveal them). sphinx-book-theme's launch buttons (Binder,
Colab) and its download button point at the page's source, that is, at the master with every
solution filled in. This extension, run after the theme has made its buttons
(``html-page-context``, priority 502 > the theme's 501):

- rewrites ``lessons/X.ipynb`` to ``notebooks/X.ipynb`` in the URLs of every header button of
  a lesson page that has a student copy (Binder's ``urlpath=...``, Colab's ``/blob/main/...``);
- points the ``.ipynb`` download button at a copy of the student notebook, served from
  ``notebooks/X.ipynb`` in the built site;
- replaces the site's copy of the master (``_sources/lessons/X.ipynb``) with the student
  notebook at the end of the build, so that no file of the site holds the master.

The student notebooks are generated with ``python -m vae_lib assign lessons/ --out notebooks/``
(see book/instructor-guide.md); a lesson without a student copy keeps the theme's links.

Register it in ``_config.yml`` under ``sphinx: config: extensions`` (``book/_ext`` is on the path
through ``sphinx: local_extensions``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

STUDENT_DIR = "notebooks"
MASTER_DIR = "lessons"


def _student_copy(app, pagename: str) -> Path | None:
    if not pagename.startswith(MASTER_DIR + "/"):
        return None
    path = Path(app.srcdir) / STUDENT_DIR / (pagename[len(MASTER_DIR) + 1 :] + ".ipynb")
    return path if path.is_file() else None


def _rewrite(buttons, master: str, student: str, download_url: str) -> int:
    """Rewrite the URLs of ``buttons`` (nested groups too) in place; the number of URLs changed."""
    changed = 0
    for button in buttons or []:
        if not isinstance(button, dict):
            continue
        url = button.get("url")
        if isinstance(url, str):
            if button.get("label") in ("download-source-button", "download-notebook-button") and url.endswith(
                ".ipynb"
            ):
                button["url"] = download_url
                button["tooltip"] = "Download the student notebook (no solutions)"
                changed += 1
            elif master in url:
                button["url"] = url.replace(master, student)
                changed += 1
        changed += _rewrite(button.get("buttons"), master, student, download_url)
    return changed


def _page_context(app, pagename, templatename, context, doctree) -> None:
    student_file = _student_copy(app, pagename)
    if student_file is None or "header_buttons" not in context:
        return
    name = student_file.name
    download_url = context["pathto"](f"{STUDENT_DIR}/{name}", 1)
    _rewrite(context["header_buttons"], f"{MASTER_DIR}/{name}", f"{STUDENT_DIR}/{name}", download_url)


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = Path(app.srcdir) / STUDENT_DIR
    if not source.is_dir():
        return
    out = Path(app.outdir)
    (out / STUDENT_DIR).mkdir(parents=True, exist_ok=True)
    for notebook in sorted(source.glob("*.ipynb")):
        shutil.copyfile(notebook, out / STUDENT_DIR / notebook.name)
        master_copy = out / "_sources" / MASTER_DIR / notebook.name
        if master_copy.is_file():
            shutil.copyfile(notebook, master_copy)


def setup(app):
    app.connect("html-page-context", _page_context, priority=502)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
