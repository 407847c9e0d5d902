"""Student copies of the lesson notebooks, without the solutions, in plain Jupyter Markdown.

    python -m vae_lib assign lessons/ --out notebooks/       # regenerate the student notebooks
    python -m vae_lib assign lessons/14-4-kl-divergence.ipynb --out /tmp/s --answer-key /tmp/key
    python -m vae_lib assign --nbgrader-metadata lessons/   # stamp nbgrader cell metadata into the masters

The masters in ``lessons/`` follow the chapter's exercise conventions (nbgrader's markers plus
MyST directives for the site). A student copy is what ``nbgrader generate_assignment`` would
release, and more:

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the indentation of the
  BEGIN marker, so the cell stays valid Python; a code cell tagged ``solution``
  without markers is replaced as a whole (nbgrader's rule);
- code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is removed;
- written solutions are removed: Markdown cells tagged ``solution``, and every
  ``{solution}`` directive (backtick or colon fence, at any nesting) in other Markdown cells;
- gated solutions: the ``{solution-start}`` and ``{solution-end}`` markers are removed,
  with any Markdown between them; the code cells between them keep their place with
  the solution stripped;
- hidden assert cells are removed: cells tagged ``assert-solution``, and every code cell
  tagged ``remove-cell`` that holds an ``assert`` statement;
- cells tagged ``site-only`` are removed; a ``remove-cell`` code cell without an assert (a
  widget, for example) is kept, and so is any cell tagged ``notebook-only`` (its purpose:
  hidden on the site, run in Jupyter);
- the Markdown is parsed with markdown-it-py (with the MyST plugins) and rewritten as plain
  Markdown that renders in JupyterLab, Notebook 7, VS Code and Colab with no extension:
  ``{exercise}`` becomes a bold numbered title ("Exercise 14-4.2 — Title"), admonitions
  become quotes, figures images with their captions, ``{raw}`` blocks (site-only HTML) and
  label targets are dropped, ``{cite}`` becomes the authors and year linked to the site's
  references page, ``{numref}``/``{ref}``/``{eq}`` the number or title they point to, and a
  labelled display equation gets ``\\tag{...}``; each figure cell is followed by its caption;
- outputs, execution counts and nbgrader metadata are cleared; every other cell is copied
  (the check cells that call ``vae_lib.checks`` stay, so students get instant feedback).

A converted cell is parsed again before it is written: a directive left in it, or a
``{solution}`` whose code fence is not closed where the author meant (a nested fence with as
many backticks as the outer one), is an error naming the notebook and cell, never a leak.

The output folder is written atomically (into a temporary folder beside it, then renamed);
it may not be the input folder or lie inside it. An existing non-empty output folder is
replaced only with ``force=True``, or when it holds nothing but an earlier output of this
command (its notebooks and README.md). Only notebooks (and that README.md) are written.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from ..checkpoint import umask

__all__ = [
    "AssignError",
    "assign",
    "convert_markdown",
    "student_notebook",
    "answer_key_notebook",
    "with_assert_cells",
    "stamp_nbgrader",
    "nbgrader_metadata",
]

_BEGIN_SOLUTION = re.compile(r"^(?P<indent>[ \t]*)#+[ \t]*BEGIN SOLUTION[ \t]*$")
_END_SOLUTION = re.compile(r"^[ \t]*#+[ \t]*END SOLUTION[ \t]*$")
_BEGIN_HIDDEN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS[ \t]*$")
_END_HIDDEN = re.compile(r"^[ \t]*#+[ \t]*END HIDDEN TESTS[ \t]*$")
# The same markers in Markdown cells (nbgrader allows them there too).
_MD_BEGIN_SOLUTION = re.compile(r"^[ \t]*(?:#+|<!--)?[ \t]*BEGIN SOLUTION[ \t]*(?:-->)?[ \t]*$")
_MD_END_SOLUTION = re.compile(r"^[ \t]*(?:#+|<!--)?[ \t]*END SOLUTION[ \t]*(?:-->)?[ \t]*$")

STUB_CODE = ("# YOUR CODE HERE", "raise NotImplementedError()")
STUB_MARKDOWN = "YOUR ANSWER HERE"
# What replaces a written solution in a student notebook: a cell for the student's own answer.
STUDENT_ANSWER = "*Your answer (double-click this cell to write it):*"


class AssignError(ValueError):
    """A notebook that cannot be assigned as it is, or an output folder that must not be written."""


# --------------------------------------------------------------------------- cell helpers


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []) or [])


def _where(name: str, index: int, cell) -> str:
    cell_id = cell.get("id")
    return f"{name}: cell {index + 1}" + (f" (id {cell_id})" if cell_id else "")


def _strip_code(source: str, where: str) -> tuple[str, bool]:
    """Replace BEGIN/END SOLUTION blocks by the stub and drop hidden tests; (source, had markers)."""
    out: list[str] = []
    lines = source.split("\n")
    mode = None  # None, "solution" or "hidden"
    start = 0
    found = False
    for number, line in enumerate(lines, 1):
        begin = _BEGIN_SOLUTION.match(line)
        if begin or _BEGIN_HIDDEN.match(line):
            if mode is not None:
                raise AssignError(
                    f"{where}: line {number} opens a new block inside the {mode} block opened on "
                    f"line {start} ('### END {'SOLUTION' if mode == 'solution' else 'HIDDEN TESTS'}'"
                    " is missing)"
                )
            mode, start, found = ("solution" if begin else "hidden"), number, True
            if begin:
                indent = begin.group("indent")
                out.extend(indent + stub for stub in STUB_CODE)
            continue
        if _END_SOLUTION.match(line) or _END_HIDDEN.match(line):
            kind = "solution" if _END_SOLUTION.match(line) else "hidden"
            if mode != kind:
                marker = "### END SOLUTION" if kind == "solution" else "### END HIDDEN TESTS"
                opener = "### BEGIN SOLUTION" if kind == "solution" else "### BEGIN HIDDEN TESTS"
                raise AssignError(
                    f"{where}: '{marker}' on line {number} has no matching '{opener}' before it"
                )
            mode = None
            continue
        if mode is None:
            out.append(line)
    if mode is not None:
        marker = "### BEGIN SOLUTION" if mode == "solution" else "### BEGIN HIDDEN TESTS"
        closer = "### END SOLUTION" if mode == "solution" else "### END HIDDEN TESTS"
        raise AssignError(f"{where}: '{marker}' on line {start} has no matching '{closer}'")
    return "\n".join(out), found


def _drop_marker_lines(source: str, where: str) -> str:
    """The answer key: keep the solutions, drop the marker lines (after checking they balance)."""
    _strip_code(source, where)  # raises on unbalanced markers
    keep = [
        line
        for line in source.split("\n")
        if not (
            _BEGIN_SOLUTION.match(line)
            or _END_SOLUTION.match(line)
            or _BEGIN_HIDDEN.match(line)
            or _END_HIDDEN.match(line)
        )
    ]
    return "\n".join(keep)


def _strip_markdown_markers(source: str, where: str) -> str:
    out, inside, start = [], False, 0
    for number, line in enumerate(source.split("\n"), 1):
        if _MD_BEGIN_SOLUTION.match(line):
            if inside:
                raise AssignError(
                    f"{where}: 'BEGIN SOLUTION' on line {number} inside the block opened on line {start}"
                )
            inside, start = True, number
            out.append(STUB_MARKDOWN)
        elif _MD_END_SOLUTION.match(line):
            if not inside:
                raise AssignError(
                    f"{where}: 'END SOLUTION' on line {number} has no matching 'BEGIN SOLUTION'"
                )
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AssignError(f"{where}: 'BEGIN SOLUTION' on line {start} has no matching 'END SOLUTION'")
    return "\n".join(out)


def _compiles(source: str) -> bool:
    try:
        compile(python_source(source), "<cell>", "exec")
        return True
    except SyntaxError:
        return False


def python_source(source: str) -> str:
    """A code cell's source as plain Python: IPython magics and shell escapes become calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        lines = []
        for line in source.split("\n"):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                line = line[: len(line) - len(stripped)] + "pass"
            lines.append(line)
        return "\n".join(lines)
    return TransformerManager().transform_cell(source)


def _clear(cell) -> None:
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    cell.get("metadata", {}).pop("execution", None)


# --------------------------------------------------------------------------- MyST -> plain Markdown

SITE_URL = "https://vae-course.github.io/chapter-14-vae/"  # html.baseurl of _config.yml (a test compares)
REFERENCES_URL = SITE_URL + "book/references.html"

_ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "margin": "",
    "sidebar": "",
    "topic": "",
    "epigraph": "",
    "pull-quote": "",
    "admonition": "",
    "card": "",
    "aside": "",
}
_DROPPED_DIRECTIVES = {
    "raw",
    "bibliography",
    "tableofcontents",
    "toctree",
    "glue:figure",
    "glue:math",
    "embed",
    "code-cell",
    "eval-rst",
    "include",
    "literalinclude",
    "only",
}
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode"}
_SOLUTION_DIRECTIVES = {"solution", "solution-start", "solution-end"}


def _md_parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.colon_fence import colon_fence_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.myst_blocks import myst_block_plugin
    from mdit_py_plugins.myst_role import myst_role_plugin

    return (
        MarkdownIt("commonmark", {"html": True})
        .use(colon_fence_plugin)
        .use(dollarmath_plugin, allow_labels=True, allow_space=True, allow_digits=True, double_inline=True)
        .use(myst_role_plugin)
        .use(myst_block_plugin)
        .enable("table")
    )


_PARSER = None


def _parse(text: str):
    global _PARSER
    if _PARSER is None:
        _PARSER = _md_parser()
    return _PARSER.parse(text)


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _directive(token) -> tuple[str, str] | None:
    """(name, argument) of a MyST directive fence token, or None for an ordinary code fence."""
    if token.type not in ("fence", "colon_fence"):
        return None
    info = token.info.strip()
    if not info.startswith("{") or "}" not in info:
        return None
    name, _, arg = info[1:].partition("}")
    return name.strip(), arg.strip()


def _split_options(body: str) -> tuple[dict[str, str], str]:
    """A directive body's ``:key: value`` lines (or a ``---`` YAML block) and the rest."""
    lines = body.split("\n")
    options: dict[str, str] = {}
    i = 0
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() == "---":
                for line in lines[1:j]:
                    key, sep, value = line.partition(":")
                    if sep:
                        options[key.strip()] = value.strip()
                i = j + 1
                break
    else:
        while i < len(lines) and lines[i].startswith(":") and lines[i].count(":") >= 2:
            key, _, value = lines[i][1:].partition(":")
            options[key.strip()] = value.strip()
            i += 1
    return options, "\n".join(lines[i:]).strip("\n")


def _fence_closed(token, lines: list[str]) -> bool:
    """Whether the fence ``token`` ends with a closing fence line (markdown-it runs an unclosed one to the end)."""
    start, end = token.map
    if end - start < 2:
        return False
    last = lines[end - 1].strip().lstrip(">").strip()
    char = token.markup[0]
    return len(last) >= len(token.markup) and set(last) == {char}


def _nested_fence_problem(token) -> int | None:
    """Line (1-based, within the body) of a fence opener as long as the directive's own fence."""
    char, size = token.markup[0], len(token.markup)
    for number, line in enumerate(token.content.split("\n"), 1):
        stripped = line.strip()
        run = len(stripped) - len(stripped.lstrip(char))
        if run >= size and stripped[run:].strip():
            return number
    return None


def _lesson_prefix(name: str) -> str:
    stem = Path(str(name)).name
    digits = []
    for part in stem.split("-")[:2]:
        if not part.isdigit():
            break
        digits.append(part)
    return "-".join(digits)


class _Context:
    """What the conversion of one notebook needs: its numbering, the labels and the bibliography."""

    def __init__(
        self, name: str, labels: dict[str, str] | None = None, bib: dict[str, tuple[str, str]] | None = None
    ):
        self.name = name
        self.prefix = _lesson_prefix(name)
        self.labels: dict[str, str] = dict(labels or {})
        self.bib = bib if bib is not None else _bibliography()
        self.exercises = 0
        self.equations = 0
        self.figures = 0

    def number(self, kind: str) -> str:
        setattr(self, kind, getattr(self, kind) + 1)
        n = getattr(self, kind)
        # exercises read "Exercise 14-4.2"; figures and equations restart on every page of the site
        # ("Figure 3", "(4)"), and so here
        return f"{self.prefix}.{n}" if self.prefix and kind == "exercises" else str(n)


def _bibliography() -> dict[str, tuple[str, str]]:
    """{key: (authors as cited, alpha label as on the site)} from book/references.bib of this checkout."""
    bib = Path(__file__).resolve().parents[2] / "book" / "references.bib"
    if not bib.is_file():
        return {}
    try:
        from pybtex.database import parse_file
        from pybtex.style.labels.alpha import LabelStyle
    except ImportError:  # pragma: no cover - pybtex comes with sphinxcontrib-bibtex
        return {}
    try:
        data = parse_file(str(bib))
        labels = list(LabelStyle().format_labels(list(data.entries.values())))
    except Exception:
        return {}
    out = {}
    for (key, entry), label in zip(data.entries.items(), labels):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        if not last:
            authors = key
        elif len(last) == 1:
            authors = last[0]
        elif len(last) == 2:
            authors = f"{last[0]} and {last[1]}"
        else:
            authors = f"{last[0]} et al."
        out[key] = (authors, label)
    return out


def _cite(name: str, content: str, ctx: _Context) -> str:
    """A citation as the site shows it (label style, e.g. [KW13]), linked to the references page."""
    keys = [k.strip() for k in content.split(",") if k.strip()]
    found = [ctx.bib.get(key, (key, key)) for key in keys]
    link = "[[" + ", ".join(label for _, label in found) + f"]]({REFERENCES_URL})"
    if name in ("cite:t", "cite:ts", "cite:ct"):
        return " and ".join(authors for authors, _ in found) + " " + link
    if name in ("cite:author", "cite:authors"):
        return " and ".join(authors for authors, _ in found)
    return link


def _role(name: str, content: str, ctx: _Context) -> str:
    text, label = content, content
    if content.endswith(">") and "<" in content:
        text, _, label = content[:-1].rpartition("<")
        text, label = text.strip(), label.strip()
    else:
        text = ""
    if name.startswith("cite"):
        return _cite(name, content, ctx)
    if name == "eq":
        number = ctx.labels.get(label)
        if number and not number.startswith("("):
            number = f"({number})"
        return text or number or label
    if name in ("numref", "ref"):
        target = ctx.labels.get(label, label)
        if text:
            return text.replace("%s", target.split(" ")[-1]).replace("{number}", target.split(" ")[-1])
        return target
    if name == "doc":
        return text or label
    if name == "math":
        return f"${content}$"
    if name == "download":
        return f"[{text or label}]({label})"
    return text or content  # term, abbr, sub, sup, kbd, ... : their text


def _roles(chunk: str, ctx: _Context) -> str:
    """Replace the MyST roles of a piece of Markdown (outside code spans and math) by plain text."""
    if "{" not in chunk:
        return chunk
    tokens = _parse(chunk)
    inline = [child for tok in tokens if tok.type == "inline" for child in (tok.children or [])]
    out, pos = [], 0
    for child in inline:
        if child.type in ("code_inline", "math_inline", "math_inline_double"):
            found = chunk.find(child.content, pos)
            if found >= 0:
                out.append(chunk[pos : found + len(child.content)])
                pos = found + len(child.content)
        elif child.type == "myst_role":
            name = child.meta.get("name", "")
            opener = "{" + name + "}"
            search = pos
            while True:
                found = chunk.find(opener, search)
                if found < 0:
                    break
                tick = found + len(opener)
                run = len(chunk[tick:]) - len(chunk[tick:].lstrip("`"))
                close = chunk.find("`" * run, tick + run) if run else -1
                if run and close >= 0 and chunk[tick + run : close].strip() == child.content.strip():
                    out.append(chunk[pos:found])
                    out.append(_role(name, child.content, ctx))
                    pos = close + run
                    break
                search = tick
    out.append(chunk[pos:])
    return "".join(out)


def _longest_run(text: str, char: str) -> int:
    best = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        best = max(best, run)
    return best


def _quote(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in text.split("\n"))


def _convert_directive(name: str, arg: str, body: str, ctx: _Context, where: str) -> str | None:
    """Plain Markdown for one directive (None: drop it)."""
    options, content = _split_options(body)
    if name in _DROPPED_DIRECTIVES:
        return None
    if name in _CODE_DIRECTIVES:
        fence = "`" * max(3, _longest_run(body, "`") + 1)
        return f"{fence}{arg}\n{content}\n{fence}"
    if name == "math":
        label = options.get("label")
        tag = ""
        if label:
            tag = f"\n\\tag{{{ctx.labels.get(label, ctx.number('equations'))}}}".replace("(", "").replace(
                ")", ""
            )
        return f"$$\n{content}{tag}\n$$"
    if name in ("exercise", "exercise-start"):
        label = options.get("label")
        number = ctx.labels.get(label, "") if label else ""
        if not number:
            number = "Exercise " + ctx.number("exercises")
        else:
            ctx.exercises += 1
        title = _roles(arg, ctx)
        head = f"**{number} — {title}**" if title else f"**{number}**"
        inner = convert_markdown(content, ctx, where) if content.strip() else ""
        return head + ("\n\n" + inner if inner else "")
    if name == "exercise-end":
        return None
    if name in ("figure", "image"):
        alt = options.get("alt", "")
        image = f"![{alt}]({arg})"
        if name == "figure":
            figure = ctx.labels.get(options.get("name", ""), "") or "Figure " + ctx.number("figures")
            caption = convert_markdown(content, ctx, where) if content.strip() else ""
            return image + (f"\n\n*{figure}: {caption}*" if caption else "")
        return image
    if name in ("dropdown", "toggle"):
        inner = convert_markdown(content, ctx, where)
        return f"<details>\n<summary>{_roles(arg, ctx) or 'Show'}</summary>\n\n{inner}\n\n</details>"
    inner = convert_markdown(content, ctx, where) if content.strip() else ""
    if name in _ADMONITIONS or name.startswith("admonition"):
        title = _roles(arg, ctx) if arg else _ADMONITIONS.get(name, "")
        text = (f"**{title}**" + ("\n\n" + inner if inner else "")) if title else inner
        return _quote(text) if text else None
    return inner or None  # an unknown directive: its content as plain text


def _solution_problem(token, lines, where: str, name: str) -> None:
    if not _fence_closed(token, lines):
        raise AssignError(
            f"{where}: the {{{name}}} directive opened on line {token.map[0] + 1} "
            f"has no closing {token.markup}"
        )
    nested = _nested_fence_problem(token)
    if nested is not None:
        raise AssignError(
            f"{where}: a code fence inside the {{{name}}} directive opened on line "
            f"{token.map[0] + 1} is as long as the directive's own {token.markup}: it would close "
            f"the solution early; fence the solution with more (e.g. {token.markup[0] * (len(token.markup) + 1)})"
        )


def convert_markdown(
    text: str, ctx: _Context | None = None, where: str = "markdown", removed: list[str] | None = None
) -> str:
    """``text`` (MyST Markdown) as plain Jupyter Markdown; solution directives removed.

    The names of the removed solution directives are appended to ``removed``, in order.
    """
    ctx = ctx or _Context("notebook")
    text = _normalize(text)
    lines = text.split("\n")
    tokens = _parse(text)
    replace: list[tuple[int, int, list[str] | None]] = []  # (start, end, new lines or None to keep)
    covered = -1
    for tok in tokens:
        if tok.map is None or tok.map[0] < covered:
            continue
        start, end = tok.map
        prefix_len = len(lines[start]) - len(lines[start].lstrip(" \t>")) if start < len(lines) else 0
        prefix = lines[start][:prefix_len] if start < len(lines) else ""
        directive = _directive(tok)
        new: list[str] | None
        if directive is not None:
            name, arg = directive
            if name in _SOLUTION_DIRECTIVES:
                _solution_problem(tok, lines, where, name)
                if removed is not None:
                    removed.append(name)
                new = []
            else:
                if not _fence_closed(tok, lines):
                    raise AssignError(
                        f"{where}: the {{{name}}} directive opened on line {start + 1} "
                        f"has no closing {tok.markup}"
                    )
                converted = _convert_directive(name, arg, tok.content, ctx, where)
                new = (
                    []
                    if converted is None
                    else [
                        (prefix + line).rstrip() if line else prefix.rstrip()
                        for line in converted.split("\n")
                    ]
                )
        elif tok.type in ("myst_target", "myst_line_comment", "myst_block_break"):
            new = []
        elif tok.type == "math_block_label":
            number = ctx.labels.get(tok.info) or ctx.number("equations")
            ctx_tag = number.strip("()")
            new = [
                prefix + "$$",
                *[prefix + line for line in tok.content.strip("\n").split("\n")],
                prefix + f"\\tag{{{ctx_tag}}}",
                prefix + "$$",
            ]
        elif tok.type == "html_block" and ("<script" in tok.content or "vae-explorer" in tok.content):
            new = []
        else:
            continue
        replace.append((start, end, new))
        covered = end
    out: list[str] = []
    pos = 0
    for start, end, new in replace:
        if start > pos:
            out.append(_roles("\n".join(lines[pos:start]), ctx))
        if new:
            out.append("\n" + "\n".join(new) + "\n")  # a converted block stands apart from its neighbours
        pos = max(pos, end)
    if pos < len(lines):
        out.append(_roles("\n".join(lines[pos:]), ctx))
    result = "\n".join(part for part in out)
    # blank-line runs left by removed blocks: at most one blank line
    while "\n\n\n" in result:
        result = result.replace("\n\n\n", "\n\n")
    return result.strip("\n")


def _left_directives(text: str) -> list[str]:
    return [d[0] for tok in _parse(text) if (d := _directive(tok)) is not None]


def _collect_labels(nb, name: str) -> dict[str, str]:
    """{label: what a reference to it reads} for the exercises, equations, figures and headings of ``nb``."""
    ctx = _Context(name, bib={})
    labels: dict[str, str] = {}
    for cell in nb.cells:
        tags = _tags(cell)
        if "solution" in tags or "site-only" in tags or "assert-solution" in tags:
            continue
        if cell.get("cell_type") == "code":
            figure = (cell.get("metadata", {}).get("mystnb") or {}).get("figure") or {}
            if figure.get("name"):
                labels[figure["name"]] = "Figure " + ctx.number("figures")
            continue
        if cell.get("cell_type") != "markdown":
            continue
        tokens = _parse(_normalize(cell.get("source", "")))
        pending = None
        for tok in tokens:
            directive = _directive(tok)
            if tok.type == "myst_target":
                pending = tok.content.strip()
            elif tok.type == "inline" and pending:
                labels[pending] = tok.content.strip()
                pending = None
            elif tok.type == "math_block_label":
                labels[tok.info] = "(" + ctx.number("equations") + ")"
            elif directive is not None:
                options, _ = _split_options(tok.content)
                if directive[0] in ("exercise", "exercise-start"):
                    number = "Exercise " + ctx.number("exercises")
                    if options.get("label"):
                        labels[options["label"]] = number
                elif directive[0] == "figure":
                    number = "Figure " + ctx.number("figures")
                    if options.get("name"):
                        labels[options["name"]] = number
                elif directive[0] == "math" and options.get("label"):
                    labels[options["label"]] = "(" + ctx.number("equations") + ")"
    return labels


def _has_assert(source: str) -> bool:
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return "assert" in source
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def _hidden_assert(cell) -> bool:
    """An assert cell the site hides: tagged assert-solution, or remove-cell with an assert in it."""
    tags = _tags(cell)
    if "notebook-only" in tags or cell.get("cell_type") != "code":
        return False
    return "assert-solution" in tags or ("remove-cell" in tags and _has_assert(cell.get("source", "")))


def _caption_cell(cell, ctx: _Context, where: str):
    figure = (cell.get("metadata", {}).get("mystnb") or {}).get("figure") or {}
    caption = figure.get("caption")
    if not caption:
        return None
    number = ctx.labels.get(figure.get("name", ""), "") or "Figure " + ctx.number("figures")
    text = convert_markdown(str(caption), ctx, where).replace("\n\n", " ")
    new = nbformat.v4.new_markdown_cell(f"*{number}: {text}*")
    cell_id = cell.get("id")
    if cell_id:
        new["id"] = str(cell_id)[:56] + "-caption"
    new["metadata"] = {"tags": ["figure-caption"]}
    return new


# --------------------------------------------------------------------------- notebooks


def student_notebook(nb, name: str = "notebook", labels: dict[str, str] | None = None):
    """The student version of ``nb`` (a ``nbformat.NotebookNode``; not modified). See the module doc.

    ``labels`` maps labels of other notebooks to their text (``assign`` passes those of every
    notebook it converts), for references across lessons.
    """
    nb = copy.deepcopy(nb)
    ctx = _Context(name, {**(labels or {}), **_collect_labels(nb, name)})
    cells = []
    gate = None  # (label, index) of an open {solution-start}
    for index, cell in enumerate(nb.cells):
        where = _where(name, index, cell)
        tags = _tags(cell)
        kind = cell.get("cell_type")
        if "site-only" in tags or _hidden_assert(cell):
            continue
        if kind == "markdown":
            source = _normalize(cell.get("source", ""))
            names: list[str] = []
            text = convert_markdown(source, ctx, where, removed=names)
            for directive in names:
                if directive == "solution-start":
                    if gate is not None:
                        raise AssignError(
                            f"{where}: a {{solution-start}} inside the gated solution opened in "
                            f"cell {gate + 1} (its {{solution-end}} is missing)"
                        )
                    gate = index
                elif directive == "solution-end":
                    if gate is None:
                        raise AssignError(f"{where}: a {{solution-end}} with no {{solution-start}} before it")
                    gate = None
            if gate is not None and not names:
                continue  # prose inside a gated solution
            if "solution" in tags:  # a written solution: the student's answer goes here
                cell["source"] = STUDENT_ANSWER
                _clear(cell)
                cell.get("metadata", {}).pop("nbgrader", None)
                cell["metadata"]["tags"] = [
                    t for t in cell["metadata"].get("tags", []) if t != "solution"
                ] + ["answer"]
                cells.append(cell)
                continue
            text = _strip_markdown_markers(text, where)
            left = _left_directives(text)
            if left:
                raise AssignError(
                    f"{where}: the {{{left[0]}}} directive is left in the student copy "
                    "(a directive nested where the conversion does not reach)"
                )
            if not text.strip():
                continue
            cell["source"] = text
        elif kind == "code":
            source = cell.get("source", "")
            stripped, found = _strip_code(source, where)
            if not found and ("solution" in tags or gate is not None):
                stripped, found = "\n".join(STUB_CODE), True
            if found and _compiles(source) and not _compiles(stripped):
                raise AssignError(
                    f"{where}: the cell is not valid Python once its solution is stripped; put "
                    "'### BEGIN SOLUTION' at the indentation of the code it encloses"
                )
            cell["source"] = stripped
        elif gate is not None or "solution" in tags:
            continue  # a raw cell that belongs to a solution
        _clear(cell)
        cell.get("metadata", {}).pop("nbgrader", None)
        cells.append(cell)
        if kind == "code":
            caption = _caption_cell(cell, ctx, where)
            if caption is not None:
                cells.append(caption)
    if gate is not None:
        raise AssignError(
            f"{_where(name, gate, nb.cells[gate])}: the {{solution-start}} has no {{solution-end}}"
        )
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # saved widget state is output too
    nb.metadata["vae_lib"] = {
        "student_copy_of": Path(str(name)).name,
        "generated_by": "python -m vae_lib assign (edit the master, not this copy)",
    }
    return nb


def answer_key_notebook(nb, name: str = "notebook"):
    """The answer key: solutions kept, nbgrader marker lines removed, outputs cleared."""
    nb = copy.deepcopy(nb)
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            cell["source"] = _drop_marker_lines(cell.get("source", ""), _where(name, index, cell))
        _clear(cell)
    nb.metadata.pop("widgets", None)
    return nb


def with_assert_cells(submission, instructor):
    """``submission`` (a student's notebook) with the instructor's ``assert-solution`` cells put back.

    Each hidden assert goes right after the cell that precedes it in the instructor notebook
    (found by cell id; student copies keep the ids), or at the end if the student deleted that
    cell. Run the result with ``pytest --nbval-lax`` or nbclient to grade it: every assert cell
    that fails marks an exercise not done. Neither notebook is modified.
    """
    merged = copy.deepcopy(submission)
    previous_id = None
    for cell in instructor.cells:
        if "assert-solution" in _tags(cell):
            hidden = copy.deepcopy(cell)
            _clear(hidden)
            ids = [c.get("id") for c in merged.cells]
            position = ids.index(previous_id) + 1 if previous_id in ids else len(merged.cells)
            if hidden.get("id") in ids:  # already there (an instructor notebook): keep one copy
                continue
            merged.cells.insert(position, hidden)
            previous_id = hidden.get("id")
        else:
            previous_id = cell.get("id")
    return merged


# --------------------------------------------------------------------------- folders


def _notebooks(source: Path) -> list[Path]:
    if not source.exists():
        raise FileNotFoundError(
            f"source {str(source)!r} does not exist: give a folder of notebooks or one .ipynb file"
        )
    if source.is_file():
        if source.suffix != ".ipynb":
            raise AssignError(f"source must be a folder of notebooks or one .ipynb file, got {str(source)!r}")
        return [source]
    found = sorted(p for p in source.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    if not found:
        raise AssignError(f"no notebooks (*.ipynb) in {str(source)!r}")
    return found


def _check_output(out: Path, inputs: Path, force: bool, what: str) -> None:
    out_r, in_r = out.resolve(), inputs.resolve()
    if out_r == in_r or in_r in out_r.parents:
        raise AssignError(
            f"refusing to write the {what} into the input folder {str(inputs)!r}: choose another --out folder"
        )
    if out_r in in_r.parents:
        raise AssignError(f"refusing to write the {what} to {str(out)!r}: it contains the input folder")
    if out.exists() and not out.is_dir():
        raise AssignError(f"{what} folder {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force and _generated_folder(out):
            return
        if not force:
            raise AssignError(
                f"{what} folder {str(out)!r} exists and is not empty: use --force to replace it "
                "(its contents will be deleted)"
            )
        if out_r == Path.home().resolve() or out_r == Path(out_r.anchor) or out_r == Path.cwd().resolve():
            raise AssignError(f"refusing to replace {str(out)!r} (the home, current or root folder)")
        if (out / ".git").exists():
            raise AssignError(f"refusing to replace {str(out)!r}: it holds a git repository")


README_MARKER = "<!-- generated by python -m vae_lib assign: do not edit, regenerate -->"
STUDENT_README = (
    README_MARKER
    + """
# Student notebooks

These are the lesson notebooks for students: the exercises are stubs, there are no
solutions and no hidden checks, and the Markdown is plain (it renders in JupyterLab,
Notebook 7, VS Code and Colab with no extension). Open them with

    jupyter lab notebooks/

Each exercise has a check cell right after it (`checks.check_...`): run it for instant
feedback. The solutions are on the course website, in the dropdowns under each exercise.

Do not edit these files: they are generated from the masters in `lessons/` by

    python -m vae_lib assign lessons/ --out notebooks/

(see book/instructor-guide.md).
"""
)


def _generated_folder(out: Path) -> bool:
    """Whether ``out`` holds nothing but an earlier output of ``assign`` (which may be replaced)."""
    for entry in out.iterdir():
        if entry.name == "README.md" and entry.is_file():
            if not entry.read_text(encoding="utf-8", errors="replace").startswith(README_MARKER):
                return False
        elif entry.suffix == ".ipynb" and entry.is_file():
            try:
                nb = nbformat.read(str(entry), as_version=4)
            except Exception:
                return False
            if "student_copy_of" not in nb.metadata.get("vae_lib", {}):
                return False
        elif entry.name in (".ipynb_checkpoints", "__pycache__") and entry.is_dir():
            continue
        else:
            return False
    return True


def _write_atomically(out: Path, notebooks: dict[str, object]) -> list[Path]:
    """Write {file name: notebook} into a temporary folder beside ``out``, then swap it in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~umask())
        for file_name, nb in notebooks.items():
            if isinstance(nb, str):
                (tmp / file_name).write_text(nb, encoding="utf-8")
            else:
                nbformat.write(nb, str(tmp / file_name))
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rmdir(old)
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / file_name for file_name in notebooks if file_name.endswith(".ipynb")]


def assign(source, out, *, force: bool = False, answer_key=None) -> list[Path]:
    """Write student copies of the notebooks in ``source`` (a folder or one notebook) to ``out``.

    With ``answer_key`` (a folder), also write answer keys there. Every notebook is converted
    before anything is written, so a bad notebook leaves no output. Returns the paths written.
    """
    source, out = Path(source), Path(out)
    paths = _notebooks(source)
    inputs = source if source.is_dir() else source.parent
    _check_output(out, inputs, force, "student copies")
    if answer_key is not None:
        answer_key = Path(answer_key)
        _check_output(answer_key, inputs, force, "answer keys")
        a, o = answer_key.resolve(), out.resolve()
        if a == o or o in a.parents or a in o.parents:
            raise AssignError("the answer-key folder must be separate from the --out folder")
    students: dict[str, object] = {}
    keys: dict[str, object] = {}
    masters = {}
    for path in paths:
        try:
            masters[path] = nbformat.read(str(path), as_version=4)
        except Exception as exc:
            raise AssignError(f"{path}: not a readable notebook ({exc})") from None
    labels: dict[str, str] = {}
    for path, nb in masters.items():  # references across lessons read "Exercise 14-3.1 (14-3-....ipynb)"
        labels.update({k: f"{v} ({path.name})" for k, v in _collect_labels(nb, str(path)).items()})
    for path, nb in masters.items():
        students[path.name] = student_notebook(nb, str(path), labels)
        if answer_key is not None:
            keys[path.name] = answer_key_notebook(nb, str(path))
        for nb_out in (students[path.name], keys.get(path.name)):
            if nb_out is not None:
                try:
                    nbformat.validate(nb_out)
                except nbformat.ValidationError as exc:
                    raise AssignError(f"{path}: the converted notebook is not valid: {exc.message}") from None
    if source.is_dir():
        students["README.md"] = STUDENT_README
    written = _write_atomically(out, students)
    if answer_key is not None:
        written += _write_atomically(answer_key, keys)
    return written


# --------------------------------------------------------------------------- nbgrader metadata

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_CHECK_CALL = "checks.check_"


def _grade_id(text: str) -> str:
    out = "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")
    return out or "cell"


def _exercise_label(cell, fallback: str) -> str | None:
    """The label of the first {exercise} directive of a Markdown cell (``fallback`` if it has none)."""
    for tok in _parse(_normalize(cell.get("source", ""))):
        directive = _directive(tok)
        if directive and directive[0] in ("exercise", "exercise-start"):
            options, _ = _split_options(tok.content)
            return options.get("label") or fallback
    return None


def _top_level_names(source: str) -> set[str]:
    """Names a cell binds at its top level (functions, classes, assignments, loop variables, imports)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        for sub in ast.walk(node):
            if isinstance(sub, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)):
                break
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
    return names


def _names_read(source: str) -> set[str]:
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _with_hidden_markers(source: str) -> str:
    if HIDDEN_BEGIN in source:
        return source
    return f"{HIDDEN_BEGIN}\n{source.rstrip()}\n{HIDDEN_END}"


def nbgrader_metadata(nb, name: str = "notebook", warnings_out: list[str] | None = None):
    """``nb`` with nbgrader cell metadata stamped from the chapter's exercise conventions (a copy).

    - an exercise statement (Markdown with ``{exercise}``): read-only;
    - a code cell tagged ``solution`` (or holding ``### BEGIN SOLUTION``): an nbgrader solution cell;
    - the visible check cell after it (``checks.check_...(...)``): an autograded test cell, 1 point
      (the check raises AssertionError under nbgrader when a case fails);
    - a written answer (Markdown tagged ``solution``): a manually graded answer, 1 point;
    - a hidden assert cell (``assert-solution``, or ``remove-cell`` with an assert): its source is
      put between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` (nbgrader removes it from
      the release and puts it back to grade) in an autograded cell worth 1 point if it grades an
      exercise that has no visible check, else 0 points; one that defines the names it tests (it
      tests its own answer, not the student's) is worth 0 points and reported in ``warnings_out``.

    Points already in the metadata are kept (an instructor's choice); every other cell loses any
    nbgrader metadata. Running it again changes nothing.
    """
    nb = copy.deepcopy(nb)
    stem = Path(str(name)).stem
    prefix = _lesson_prefix(name) or _grade_id(stem)
    used: set[str] = set()
    label = None
    exercise_no = 0
    has_solution = has_check = False
    solution_names: set[str] = set()

    def unique(base: str) -> str:
        gid, n = _grade_id(base), 2
        while gid in used:
            gid, n = f"{_grade_id(base)}-{n}", n + 1
        used.add(gid)
        return gid

    def stamp(cell, *, grade: bool, solution: bool, locked: bool, gid: str, points: float | None = None):
        old = cell.get("metadata", {}).get("nbgrader") or {}
        meta = {
            "grade": grade,
            "grade_id": unique(gid),
            "locked": locked,
            "schema_version": 3,
            "solution": solution,
            "task": False,
        }
        if grade:
            meta["points"] = old.get("points", points) if points else (points or 0)
        cell.setdefault("metadata", {})["nbgrader"] = meta

    for index, cell in enumerate(nb.cells):
        tags = _tags(cell)
        kind = cell.get("cell_type")
        where = _where(name, index, cell)
        meta = cell.setdefault("metadata", {})
        if kind == "markdown":
            found = _exercise_label(cell, f"ex-{prefix}-{exercise_no + 1}")
            if found is not None and "solution" not in tags:
                exercise_no += 1
                label, has_solution, has_check = found, False, False
                removed: list[str] = []
                convert_markdown(cell.get("source", ""), _Context(name, bib={}), where, removed=removed)
                if "solution" in removed:
                    raise AssignError(
                        f"{where}: a {{solution}} inside the exercise's own cell would stay in the "
                        "nbgrader release: put it in a Markdown cell of its own tagged 'solution'"
                    )
                stamp(cell, grade=False, solution=False, locked=True, gid=f"{label}-task")
                continue
            if "solution" in tags:
                stamp(
                    cell, grade=True, solution=True, locked=False, gid=f"{label or prefix}-answer", points=1
                )
                continue
        elif kind == "code":
            source = cell.get("source", "")
            if _hidden_assert(cell):
                # a hidden assert grades the student only if it reads a name a solution cell defines
                reads_work = bool(_names_read(source) & (solution_names - _top_level_names(source)))
                if "assert-solution" in tags and not reads_work and warnings_out is not None:
                    warnings_out.append(
                        f"{where}: the hidden assert reads nothing a solution cell defines (it "
                        "tests its own copy of the answer, not the student's work): worth 0 points"
                    )
                grades_exercise = "assert-solution" in tags and has_solution and reads_work
                points = 1 if grades_exercise and not has_check else 0
                cell["source"] = _with_hidden_markers(source)
                stamp(
                    cell,
                    grade=True,
                    solution=False,
                    locked=True,
                    gid=f"{label or prefix}-hidden" if grades_exercise else f"{prefix}-guard",
                    points=points,
                )
                continue
            _, markers = _strip_code(source, where)
            if "solution" in tags or (markers and "### BEGIN SOLUTION" in source):
                has_solution = True
                solution_names.update(_top_level_names(source))
                stamp(cell, grade=False, solution=True, locked=False, gid=f"{label or prefix}-code")
                continue
            if _CHECK_CALL in source and has_solution and not has_check and "remove-cell" not in tags:
                has_check = True
                stamp(cell, grade=True, solution=False, locked=True, gid=f"{label or prefix}-check", points=1)
                continue
        meta.pop("nbgrader", None)
    return nb


def stamp_nbgrader(source, *, check: bool = False) -> tuple[list[Path], list[str]]:
    """Stamp nbgrader metadata into the notebooks of ``source`` (a folder or one notebook), in place.

    Each notebook is read, stamped and written back at once, and only if it changed. Returns
    (the notebooks changed, warnings). With ``check=True`` nothing is written: the paths are
    those that would change (for a test that the masters are stamped).
    """
    changed: list[Path] = []
    warnings_out: list[str] = []
    for path in _notebooks(Path(source)):
        nb = nbformat.read(str(path), as_version=4)
        stamped = nbgrader_metadata(nb, str(path), warnings_out)
        if nbformat.writes(stamped) != nbformat.writes(nb):
            changed.append(path)
            if not check:
                nbformat.validate(stamped)
                nbformat.write(stamped, str(path))
    return changed, warnings_out
