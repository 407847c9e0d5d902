"""Student copies of the lesson notebooks, without the solutions.

    python -m vae_lib assign lessons/ --out student/
    python -m vae_lib assign lessons/14-4-kl-divergence.ipynb --out student/ --answer-key key/

The lessons use nbgrader's markup (see the instructor guide), so this does what
``nbgrader generate_assignment`` does, with no nbgrader installation and no course database:

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the indentation of the
  BEGIN marker, so the cell stays valid Python; a code cell tagged ``solution``
  without markers is replaced as a whole (nbgrader's rule);
- code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is removed;
- written solutions are removed: Markdown cells tagged ``solution``, and every
  ```` ```{solution} ```` (or ``:::{solution}``) directive in other Markdown cells;
- gated solutions: the ``{solution-start}`` and ``{solution-end}`` markers are removed,
  with any Markdown between them; the code cells between them keep their place with
  the solution stripped;
- cells tagged ``assert-solution`` (hidden asserts that need the solutions) are removed;
- outputs and execution counts are cleared; every other cell is copied unchanged
  (the check cells that call ``vae_lib.checks`` stay, so students get instant feedback).

The output folder is written atomically (into a temporary folder beside it, then renamed);
it may not be the input folder or lie inside it, and an existing non-empty output folder is
replaced only with ``force=True``. Only notebooks are written: other files of the input
folder are not copied.
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from ..checkpoint import umask

__all__ = ["AssignError", "assign", "student_notebook", "answer_key_notebook", "with_assert_cells"]

_BEGIN_SOLUTION = re.compile(r"^(?P<indent>[ \t]*)#+[ \t]*BEGIN SOLUTION[ \t]*$")
_END_SOLUTION = re.compile(r"^[ \t]*#+[ \t]*END SOLUTION[ \t]*$")
_BEGIN_HIDDEN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS[ \t]*$")
_END_HIDDEN = re.compile(r"^[ \t]*#+[ \t]*END HIDDEN TESTS[ \t]*$")
# The same markers in Markdown cells (nbgrader allows them there too).
_MD_BEGIN_SOLUTION = re.compile(r"^[ \t]*(?:#+|<!--)?[ \t]*BEGIN SOLUTION[ \t]*(?:-->)?[ \t]*$")
_MD_END_SOLUTION = re.compile(r"^[ \t]*(?:#+|<!--)?[ \t]*END SOLUTION[ \t]*(?:-->)?[ \t]*$")
# A MyST directive fence opening a (gated) solution: ```{solution} label, ::::{solution-start} label
_SOLUTION_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|:{3,})[ \t]*\{(?P<name>solution(?:-start|-end)?)\}(?P<arg>.*)$")

STUB_CODE = ("# YOUR CODE HERE", "raise NotImplementedError()")
STUB_MARKDOWN = "YOUR ANSWER HERE"


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
                raise AssignError(f"{where}: line {number} opens a new block inside the {mode} block opened on "
                                  f"line {start} ('### END {'SOLUTION' if mode == 'solution' else 'HIDDEN TESTS'}'"
                                  " is missing)")
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
                raise AssignError(f"{where}: '{marker}' on line {number} has no matching '{opener}' before it")
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
    keep = [line for line in source.split("\n")
            if not (_BEGIN_SOLUTION.match(line) or _END_SOLUTION.match(line)
                    or _BEGIN_HIDDEN.match(line) or _END_HIDDEN.match(line))]
    return "\n".join(keep)


def _strip_markdown_markers(source: str, where: str) -> str:
    out, inside, start = [], False, 0
    for number, line in enumerate(source.split("\n"), 1):
        if _MD_BEGIN_SOLUTION.match(line):
            if inside:
                raise AssignError(f"{where}: 'BEGIN SOLUTION' on line {number} inside the block opened on line {start}")
            inside, start = True, number
            out.append(STUB_MARKDOWN)
        elif _MD_END_SOLUTION.match(line):
            if not inside:
                raise AssignError(f"{where}: 'END SOLUTION' on line {number} has no matching 'BEGIN SOLUTION'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AssignError(f"{where}: 'BEGIN SOLUTION' on line {start} has no matching 'END SOLUTION'")
    return "\n".join(out)


def _solution_blocks(source: str, where: str) -> tuple[str, list[str]]:
    """Remove every {solution}, {solution-start} and {solution-end} directive block from Markdown.

    Returns the remaining text and the names of the removed directives, in order.
    """
    lines = source.split("\n")
    out: list[str] = []
    names: list[str] = []
    i = 0
    while i < len(lines):
        match = _SOLUTION_FENCE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        fence = match.group("fence")
        closing = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
        for j in range(i + 1, len(lines)):
            if closing.match(lines[j]):
                break
        else:
            raise AssignError(f"{where}: the {{{match.group('name')}}} directive opened on line {i + 1} "
                              f"has no closing {fence}")
        names.append(match.group("name"))
        i = j + 1
    return "\n".join(out), names


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


# --------------------------------------------------------------------------- notebooks


def student_notebook(nb, name: str = "notebook"):
    """The student version of ``nb`` (a ``nbformat.NotebookNode``; not modified). See the module doc."""
    nb = copy.deepcopy(nb)
    cells = []
    gate = None  # (label, index) of an open {solution-start}
    for index, cell in enumerate(nb.cells):
        where = _where(name, index, cell)
        tags = _tags(cell)
        kind = cell.get("cell_type")
        if "assert-solution" in tags:
            continue
        if kind == "markdown":
            source = cell.get("source", "")
            text, names = _solution_blocks(source, where)
            for directive in names:
                if directive == "solution-start":
                    if gate is not None:
                        raise AssignError(f"{where}: a {{solution-start}} inside the gated solution opened in "
                                          f"cell {gate + 1} (its {{solution-end}} is missing)")
                    gate = index
                elif directive == "solution-end":
                    if gate is None:
                        raise AssignError(f"{where}: a {{solution-end}} with no {{solution-start}} before it")
                    gate = None
            if "solution" in tags or (gate is not None and not names):
                continue  # a written solution, or prose inside a gated solution
            text = _strip_markdown_markers(text, where)
            if not text.strip():
                continue
            cell["source"] = text
        elif kind == "code":
            source = cell.get("source", "")
            stripped, found = _strip_code(source, where)
            if not found and ("solution" in tags or gate is not None):
                indent = ""
                stripped, found = "\n".join(indent + stub for stub in STUB_CODE), True
            if found and _compiles(source) and not _compiles(stripped):
                raise AssignError(f"{where}: the cell is not valid Python once its solution is stripped; put "
                                  "'### BEGIN SOLUTION' at the indentation of the code it encloses")
            cell["source"] = stripped
        elif gate is not None or "solution" in tags:
            continue  # a raw cell that belongs to a solution
        _clear(cell)
        cells.append(cell)
    if gate is not None:
        raise AssignError(f"{_where(name, gate, nb.cells[gate])}: the {{solution-start}} has no {{solution-end}}")
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # saved widget state is output too
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
        raise FileNotFoundError(f"source {str(source)!r} does not exist: give a folder of notebooks or one .ipynb file")
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
        raise AssignError(f"refusing to write the {what} into the input folder {str(inputs)!r}: "
                          "choose another --out folder")
    if out_r in in_r.parents:
        raise AssignError(f"refusing to write the {what} to {str(out)!r}: it contains the input folder")
    if out.exists() and not out.is_dir():
        raise AssignError(f"{what} folder {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise AssignError(f"{what} folder {str(out)!r} exists and is not empty: use --force to replace it "
                              "(its contents will be deleted)")
        if out_r == Path.home().resolve() or out_r == Path(out_r.anchor) or out_r == Path.cwd().resolve():
            raise AssignError(f"refusing to replace {str(out)!r} (the home, current or root folder)")
        if (out / ".git").exists():
            raise AssignError(f"refusing to replace {str(out)!r}: it holds a git repository")


def _write_atomically(out: Path, notebooks: dict[str, object]) -> list[Path]:
    """Write {file name: notebook} into a temporary folder beside ``out``, then swap it in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~umask())
        for file_name, nb in notebooks.items():
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
    return [out / file_name for file_name in notebooks]


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
    students, keys = {}, {}
    for path in paths:
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook
            raise AssignError(f"{path}: not a readable notebook ({exc})") from None
        students[path.name] = student_notebook(nb, str(path))
        if answer_key is not None:
            keys[path.name] = answer_key_notebook(nb, str(path))
        for nb_out in (students[path.name], keys.get(path.name)):
            if nb_out is not None:
                try:
                    nbformat.validate(nb_out)
                except nbformat.ValidationError as exc:
                    raise AssignError(f"{path}: the converted notebook is not valid: {exc.message}") from None
    written = _write_atomically(out, students)
    if answer_key is not None:
        written += _write_atomically(answer_key, keys)
    return written
