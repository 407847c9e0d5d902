"""Tests of ``python -m vae_lib assign``: student copies of the lesson notebooks.

Unit tests build small synthetic notebooks in a temporary folder; the last tests run
over the real ``lessons/*.ipynb`` (each skipped while its lesson does not exist yet).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from vae_lib import cli
from vae_lib.assign import (
    AssignError,
    answer_key_notebook,
    assign,
    python_source,
    student_notebook,
    with_assert_cells,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
LESSONS = REPO_ROOT / "lessons"
LESSON_FILES = [
    "14-1-autoencoders.ipynb",
    "14-2-latent-variable-models-elbo.ipynb",
    "14-3-variational-autoencoders.ipynb",
    "14-4-kl-divergence.ipynb",
    "14-5-reparameterization-trick.ipynb",
    "14-6-exploring-latent-space.ipynb",
]

# Lines of the synthetic solutions: none may survive in a student copy.
SECRET_CODE = [
    "return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)",
    "scaled = value * 2  # secret",
    "total = scaled + offset_secret",
    "kl_by_hand = 0.5 * ((0.25 + 0.25 - math.log(0.25) - 1) + (1 + 2 - math.log(2) - 1))",
    "answer_from_gate_without_markers = 42",
    "assert secret_hidden_test()",
]
SECRET_PROSE = [
    "The secret written answer: the KL is never negative.",
    "Gated prose that explains the secret solution.",
    "An inline secret solution inside an exercise cell.",
]


def tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


def synthetic_notebook():
    """A small lesson with every kind of solution markup the course uses."""
    cells = [
        new_markdown_cell("# 14-9 A synthetic lesson\n\nSome prose."),
        new_code_cell(
            "import math\nimport torch\nfrom vae_lib import checks\n"
            "%config InlineBackend.figure_format = 'png'"
        ),
        new_markdown_cell("```{exercise} Implement the KL\n:label: ex-kl\n\nWrite `my_kl(mu, logvar)`.\n```"),
        new_markdown_cell("```{solution-start} ex-kl\n:class: dropdown\n```"),
        tagged(
            new_code_cell(
                "def my_kl(mu, logvar):\n"
                "    ### BEGIN SOLUTION\n"
                "    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)\n"
                "    ### END SOLUTION"
            ),
            "solution",
        ),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell("checks.check_kl(my_kl)"),
        tagged(
            new_code_cell("assert checks.check_kl(my_kl, verbose=False)"), "remove-cell", "assert-solution"
        ),
        # a solution nested two levels deep, with code after it
        tagged(
            new_code_cell(
                "def nested(value, offset_secret=1):\n"
                "    if value > 0:\n"
                "        ### BEGIN SOLUTION\n"
                "        scaled = value * 2  # secret\n"
                "        total = scaled + offset_secret\n"
                "        ### END SOLUTION\n"
                "        return total\n"
                "    return 0"
            ),
            "solution",
        ),
        # a top-level solution followed by more code
        tagged(
            new_code_cell(
                "### BEGIN SOLUTION\n"
                "kl_by_hand = 0.5 * ((0.25 + 0.25 - math.log(0.25) - 1) + (1 + 2 - math.log(2) - 1))\n"
                "### END SOLUTION\n"
                "print(kl_by_hand)"
            ),
            "solution",
        ),
        new_code_cell("checks.check_worked_example(kl_by_hand)"),
        # a written exercise with its solution
        new_markdown_cell("```{exercise} Why?\n:label: ex-why\n\nExplain.\n```"),
        tagged(
            new_markdown_cell(
                "```{solution} ex-why\n:class: dropdown\n\nThe secret written answer: the KL is never negative.\n```"
            ),
            "solution",
        ),
        # a gated solution with prose and a code cell without markers
        new_markdown_cell("````{solution-start} ex-gate\n:class: dropdown\n````"),
        new_markdown_cell("Gated prose that explains the secret solution."),
        new_code_cell("answer_from_gate_without_markers = 42"),
        new_markdown_cell("````{solution-end}\n````"),
        # an untagged cell mixing an exercise with an inline solution directive
        new_markdown_cell(
            "```{exercise} Inline\n:label: ex-inline\n\nA question.\n```\n\n"
            ":::{solution} ex-inline\n:class: dropdown\n\nAn inline secret solution inside an exercise cell.\n:::\n\n"
            "Text after the solution stays."
        ),
        # hidden tests (nbgrader) inside an ordinary test cell
        new_code_cell(
            "def secret_hidden_test():\n    return True\n\nassert True\n"
            "### BEGIN HIDDEN TESTS\nassert secret_hidden_test()\n### END HIDDEN TESTS"
        ),
        # a hidden assert about the prose (not about a solution): stays
        tagged(new_code_cell("assert round(math.log(2), 3) == 0.693"), "remove-cell"),
        new_raw_cell("raw text stays"),
        new_markdown_cell("## Summary\n\nThe end."),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    # outputs and execution counts, as in an executed instructor notebook
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = number + 1
        cell.outputs = [new_output("stream", name="stdout", text="solution output 1.096574\n")]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def write_nb(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def all_text(nb) -> str:
    parts = [c.source for c in nb.cells]
    for c in nb.cells:
        for out in c.get("outputs", []):
            parts.append(str(out))
    return "\n".join(parts)


@pytest.fixture
def student():
    return student_notebook(synthetic_notebook(), "synthetic.ipynb")


# --------------------------------------------------------------------------- the conversion


def test_solution_code_is_stripped_and_cells_stay_valid_python(student):
    for cell in student.cells:
        if cell.cell_type == "code":
            compile(python_source(cell.source), "<cell>", "exec")
    sources = [c.source for c in student.cells]
    assert ("def my_kl(mu, logvar):\n    # YOUR CODE HERE\n    raise NotImplementedError()") in sources
    assert (
        "def nested(value, offset_secret=1):\n    if value > 0:\n        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n        return total\n    return 0"
    ) in sources
    assert "# YOUR CODE HERE\nraise NotImplementedError()\nprint(kl_by_hand)" in sources
    # a code cell inside a gated solution without markers is replaced as a whole (nbgrader's rule)
    assert sources.count("# YOUR CODE HERE\nraise NotImplementedError()") == 1


def test_no_solution_text_anywhere(student):
    text = all_text(student)
    for line in SECRET_CODE + SECRET_PROSE:
        assert line not in text
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "{solution" not in text  # no solution, solution-start or solution-end directive left


def test_written_solutions_gates_and_assert_solution_cells_removed(student):
    original = synthetic_notebook()
    assert len(student.cells) == len(original.cells) - 7
    assert not any("assert-solution" in c.metadata.get("tags", []) for c in student.cells)
    assert not any(
        c.cell_type == "markdown" and "solution" in c.metadata.get("tags", []) for c in student.cells
    )
    # a written solution leaves a cell for the student's own answer, in its place
    answers = [c for c in student.cells if "answer" in c.metadata.get("tags", [])]
    assert [c.source for c in answers] == ["*Your answer (double-click this cell to write it):*"]
    inline = next(c for c in student.cells if "— Inline" in c.source)
    assert (
        inline.source.startswith("**Exercise 3 — Inline**")
        and "Text after the solution stays." in inline.source
    )
    hidden = next(c for c in student.cells if "secret_hidden_test():" in c.source)
    assert hidden.source.rstrip().endswith("assert True")


def test_other_cells_unchanged():
    original = synthetic_notebook()
    student = student_notebook(original, "synthetic.ipynb")
    kept = [
        c
        for c in original.cells
        if "solution" not in c.metadata.get("tags", [])
        and "assert-solution" not in c.metadata.get("tags", [])
        and "{solution" not in c.source
        and "BEGIN" not in c.source
        and "```{" not in c.source
        and "remove-cell" not in c.metadata.get("tags", [])
        and c.source
        not in ("Gated prose that explains the secret solution.", "answer_from_gate_without_markers = 42")
    ]
    assert len(kept) >= 6
    by_id = {c.id: c for c in student.cells}
    for cell in kept:
        copy = by_id[cell.id]
        assert copy.source == cell.source
        assert copy.metadata == cell.metadata
        assert copy.cell_type == cell.cell_type
    assert any(c.source == "checks.check_kl(my_kl)" for c in student.cells)
    assert any(c.source == "checks.check_worked_example(kl_by_hand)" for c in student.cells)
    # a hidden assert (remove-cell with an assert) is not in the student copy
    assert not any(c.source == "assert round(math.log(2), 3) == 0.693" for c in student.cells)
    assert student.metadata["kernelspec"] == original.metadata["kernelspec"]
    # the solution cells keep their place and metadata
    stub = next(c for c in student.cells if c.source.startswith("def my_kl"))
    assert stub.metadata["tags"] == ["solution"]


def test_outputs_cleared(student):
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "widgets" not in student.metadata
    nbformat.validate(student)


def test_input_notebook_not_modified():
    nb = synthetic_notebook()
    before = nbformat.writes(nb)
    student_notebook(nb, "x.ipynb")
    answer_key_notebook(nb, "x.ipynb")
    assert nbformat.writes(nb) == before


def test_answer_key_keeps_solutions_without_markers():
    key = answer_key_notebook(synthetic_notebook(), "synthetic.ipynb")
    text = all_text(key)
    for line in SECRET_CODE[:5] + SECRET_PROSE:
        assert line in text
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert all(c.outputs == [] for c in key.cells if c.cell_type == "code")
    for cell in key.cells:
        if cell.cell_type == "code":
            compile(python_source(cell.source), "<cell>", "exec")


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n",
            "'### BEGIN SOLUTION' on line 2 has no matching '### END SOLUTION'",
        ),
        (
            "def f():\n    return 1\n    ### END SOLUTION\n",
            "'### END SOLUTION' on line 3 has no matching '### BEGIN SOLUTION'",
        ),
        (
            "### BEGIN SOLUTION\nx = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n",
            "line 3 opens a new block",
        ),
        ("### BEGIN HIDDEN TESTS\nassert x\n", "'### BEGIN HIDDEN TESTS' on line 1 has no matching"),
    ],
)
def test_unbalanced_markers_name_notebook_and_cell(source, message):
    nb = new_notebook(cells=[new_markdown_cell("# Title"), new_code_cell("x = 0"), new_code_cell(source)])
    with pytest.raises(AssignError) as info:
        student_notebook(nb, "lessons/bad.ipynb")
    text = str(info.value)
    assert "lessons/bad.ipynb" in text and "cell 3" in text and nb.cells[2].id in text
    assert message in text


@pytest.mark.parametrize(
    "cells, message",
    [
        (["```{solution-start} ex\n```", "x = 1"], "has no {solution-end}"),
        (["```{solution-end}\n```"], "with no {solution-start} before it"),
        (
            ["```{solution-start} a\n```", "```{solution-start} b\n```", "```{solution-end}\n```"],
            "inside the gated solution opened in cell 1",
        ),
        (["```{solution} ex\nunclosed answer"], "has no closing ```"),
    ],
)
def test_unbalanced_gates_name_notebook_and_cell(cells, message):
    nb = new_notebook(cells=[new_code_cell(c) if c == "x = 1" else new_markdown_cell(c) for c in cells])
    with pytest.raises(AssignError) as info:
        student_notebook(nb, "gates.ipynb")
    assert "gates.ipynb: cell" in str(info.value) and message in str(info.value)


def test_marker_at_the_wrong_indentation_is_an_error():
    nb = new_notebook(cells=[new_code_cell("def f():\n### BEGIN SOLUTION\n    return 1\n### END SOLUTION")])
    with pytest.raises(AssignError, match="not valid Python once its solution is stripped"):
        student_notebook(nb, "indent.ipynb")


# --------------------------------------------------------------------------- folders


def make_lessons(folder: Path, n: int = 2) -> list[Path]:
    return [write_nb(synthetic_notebook(), folder / f"14-{i}-lesson.ipynb") for i in range(1, n + 1)]


def test_assign_folder(tmp_path):
    paths = make_lessons(tmp_path / "lessons")
    out = tmp_path / "student"
    written = assign(tmp_path / "lessons", out)
    assert sorted(p.name for p in written) == sorted(p.name for p in paths)
    assert sorted(os.listdir(out)) == sorted([p.name for p in paths] + ["README.md"])
    for path in written:
        nb = nbformat.read(str(path), as_version=4)
        assert "return 0.5 * (mu**2" not in all_text(nb)
    assert sorted(os.listdir(tmp_path)) == ["lessons", "student"]  # no temporary folder left


def test_assign_one_notebook(tmp_path):
    first, _ = make_lessons(tmp_path / "lessons")
    written = assign(first, tmp_path / "out")
    assert [p.name for p in written] == [first.name]


def test_refuses_the_input_folder_and_folders_around_it(tmp_path):
    lessons = tmp_path / "lessons"
    make_lessons(lessons)
    for out in (lessons, lessons / "student", tmp_path):
        with pytest.raises(AssignError, match="refusing"):
            assign(lessons, out, force=True)
    with pytest.raises(AssignError, match="refusing"):
        assign(lessons / "14-1-lesson.ipynb", lessons)


def test_non_empty_output_needs_force(tmp_path):
    make_lessons(tmp_path / "lessons")
    out = tmp_path / "student"
    out.mkdir()
    (out / "old-file.txt").write_text("keep me unless --force")
    with pytest.raises(AssignError, match="use --force"):
        assign(tmp_path / "lessons", out)
    assert (out / "old-file.txt").read_text() == "keep me unless --force"
    assign(tmp_path / "lessons", out, force=True)
    assert sorted(os.listdir(out)) == ["14-1-lesson.ipynb", "14-2-lesson.ipynb", "README.md"]
    assert sorted(os.listdir(tmp_path)) == ["lessons", "student"]


def test_empty_output_folder_is_fine(tmp_path):
    make_lessons(tmp_path / "lessons", 1)
    (tmp_path / "student").mkdir()
    assign(tmp_path / "lessons", tmp_path / "student")
    assert sorted(os.listdir(tmp_path / "student")) == ["14-1-lesson.ipynb", "README.md"]


def test_a_bad_notebook_writes_nothing(tmp_path):
    make_lessons(tmp_path / "lessons")
    bad = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")])
    write_nb(bad, tmp_path / "lessons" / "14-9-bad.ipynb")
    out = tmp_path / "student"
    with pytest.raises(AssignError, match="14-9-bad.ipynb: cell 1"):
        assign(tmp_path / "lessons", out)
    assert not out.exists()
    # an existing output is left as it was
    out.mkdir()
    (out / "previous.ipynb").write_text("{}")
    with pytest.raises(AssignError):
        assign(tmp_path / "lessons", out, force=True)
    assert os.listdir(out) == ["previous.ipynb"]
    assert sorted(os.listdir(tmp_path)) == ["lessons", "student"]


def test_missing_or_empty_source(tmp_path):
    with pytest.raises(FileNotFoundError):
        assign(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssignError, match="no notebooks"):
        assign(tmp_path / "empty", tmp_path / "out")


def test_answer_key_folder(tmp_path):
    make_lessons(tmp_path / "lessons", 1)
    written = assign(tmp_path / "lessons", tmp_path / "student", answer_key=tmp_path / "key")
    assert [p.parent.name for p in written] == ["student", "key"]
    key = nbformat.read(str(tmp_path / "key" / "14-1-lesson.ipynb"), as_version=4)
    assert "return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)" in all_text(key)
    with pytest.raises(AssignError, match="separate"):
        assign(tmp_path / "lessons", tmp_path / "s2", answer_key=tmp_path / "s2" / "key")


def test_cli(tmp_path, capsys):
    make_lessons(tmp_path / "lessons")
    out = tmp_path / "student"
    assert cli.main(["assign", str(tmp_path / "lessons"), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert str(out / "14-1-lesson.ipynb") in printed.out
    # an earlier output of assign is replaced without --force ...
    assert cli.main(["assign", str(tmp_path / "lessons"), "--out", str(out)]) == 0
    # ... a folder with anything else in it is not
    (out / "my-notes.txt").write_text("mine")
    assert cli.main(["assign", str(tmp_path / "lessons"), "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert cli.main(["assign", str(tmp_path / "lessons"), "--out", str(out), "--force"]) == 0
    assert cli.main(["assign", str(tmp_path / "lessons"), "--out", str(tmp_path / "lessons")]) == 2
    assert "refusing" in capsys.readouterr().err


# --------------------------------------------------------------------------- execution


def _execute(nb, cwd: Path, monkeypatch, allow_errors: bool, timeout: int = 120):
    nbclient = pytest.importorskip("nbclient")
    # the kernel imports vae_lib from this checkout, installed or not
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def _output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        elif "data" in out:
            parts.append(str(out.data.get("text/plain", "")))
    return "".join(parts)


def test_student_copy_runs_and_checks_report_failure(tmp_path, monkeypatch):
    make_lessons(tmp_path / "lessons", 1)
    assign(tmp_path / "lessons", tmp_path / "student")
    nb = nbformat.read(str(tmp_path / "student" / "14-1-lesson.ipynb"), as_version=4)
    _execute(nb, tmp_path / "student", monkeypatch, allow_errors=True)
    cells = {c.source: c for c in nb.cells if c.cell_type == "code"}
    check = _output_text(cells["checks.check_kl(my_kl)"])
    assert "✗" in check and "NotImplementedError" in check
    assert "replace `raise NotImplementedError()` with your code" in check
    assert "Traceback" not in check
    # a top-level stub raises where the student has to write code
    stub = next(
        c for c in nb.cells if c.source.startswith("# YOUR CODE HERE\nraise NotImplementedError()\nprint")
    )
    assert "NotImplementedError" in _output_text(stub)
    # cells without solutions run normally
    assert (
        _output_text(
            cells[
                "import math\nimport torch\nfrom vae_lib import checks\n"
                "%config InlineBackend.figure_format = 'png'"
            ]
        )
        == ""
    )


def test_instructor_notebook_passes_every_check(tmp_path, monkeypatch):
    nb = synthetic_notebook()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    _execute(nb, tmp_path, monkeypatch, allow_errors=False)
    check_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("checks.check_")]
    assert len(check_cells) == 2
    for cell in check_cells:
        text = _output_text(cell)
        assert "✗" not in text and "✓" in text, text
    # the result is not displayed a second time after the printout
    assert all(out.output_type == "stream" for c in check_cells for out in c.outputs)


def test_with_assert_cells_grades_a_submission(tmp_path, monkeypatch):
    instructor = synthetic_notebook()
    student = student_notebook(instructor, "synthetic.ipynb")
    merged = with_assert_cells(student, instructor)
    assert len(merged.cells) == len(student.cells) + 1
    index = next(i for i, c in enumerate(merged.cells) if "assert-solution" in c.metadata.get("tags", []))
    assert merged.cells[index - 1].source == "checks.check_kl(my_kl)"
    assert with_assert_cells(instructor, instructor).cells == instructor.cells  # nothing added twice
    # an unanswered submission fails the hidden assert ...
    _execute(merged, tmp_path, monkeypatch, allow_errors=True)
    assert merged.cells[index].outputs[0].output_type == "error"
    # ... and a correct answer passes it
    answered = with_assert_cells(student, instructor)
    stub = next(c for c in answered.cells if c.source.startswith("def my_kl"))
    stub.source = "def my_kl(mu, logvar):\n    return 0.5 * (mu ** 2 + logvar.exp() - logvar - 1).sum(-1)"
    _execute(answered, tmp_path, monkeypatch, allow_errors=True)
    assert answered.cells[index].outputs == []


# --------------------------------------------------------------------------- the real lessons


def _solution_lines(nb) -> tuple[set[str], set[str]]:
    """(non-trivial solution lines, lines that also appear outside solutions) of an instructor notebook."""
    solution, elsewhere = set(), set()
    for cell in nb.cells:
        lines = cell.source.split("\n")
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code":
            inside = False
            for line in lines:
                if re.match(r"^\s*#+\s*BEGIN SOLUTION\s*$", line):
                    inside = True
                elif re.match(r"^\s*#+\s*END SOLUTION\s*$", line):
                    inside = False
                elif inside:
                    solution.add(line.strip())
                else:
                    elsewhere.add(line.strip())
        elif cell.cell_type == "markdown" and "solution" in tags:
            solution.update(
                line.strip()
                for line in lines
                if not line.strip().startswith(("```", ":::", ":class:", ":label:"))
            )
        else:
            elsewhere.update(line.strip() for line in lines)
    elsewhere_text = "\n".join(elsewhere)
    trivial = {line for line in solution if len(line) < 12 or line.startswith("#") or line in elsewhere_text}
    return solution - trivial, elsewhere


@pytest.fixture(scope="module")
def assigned_lessons(tmp_path_factory):
    present = [name for name in LESSON_FILES if (LESSONS / name).is_file()]
    if not present:
        pytest.skip("no lesson notebooks yet")
    out = tmp_path_factory.mktemp("assign") / "student"
    assign(LESSONS, out)
    return out


@pytest.mark.parametrize("name", LESSON_FILES)
def test_real_lesson_student_copy(name, assigned_lessons):
    if not (LESSONS / name).is_file():
        pytest.skip(f"lessons/{name} does not exist yet")
    instructor = nbformat.read(str(LESSONS / name), as_version=4)
    student = nbformat.read(str(assigned_lessons / name), as_version=4)
    solution, _ = _solution_lines(instructor)
    text = "\n".join(c.source for c in student.cells)
    leaked = sorted(line for line in solution if line in text)
    assert not leaked, f"solution text left in the student copy of {name}: {leaked[:5]}"
    assert "BEGIN SOLUTION" not in text and "{solution" not in text
    for index, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            try:
                with warnings.catch_warnings():  # e.g. "invalid escape sequence" in a lesson's strings
                    warnings.simplefilter("ignore")
                    compile(python_source(cell.source), f"{name} cell {index + 1}", "exec")
            except SyntaxError as exc:  # pragma: no cover - the failure message
                pytest.fail(f"{name}: code cell {index + 1} does not compile: {exc}")
            assert cell.outputs == [] and cell.execution_count is None
    assert not any("assert-solution" in c.metadata.get("tags", []) for c in student.cells)


@pytest.mark.parametrize("name", LESSON_FILES)
def test_real_lesson_student_copy_runs(name, assigned_lessons, monkeypatch):
    if not (LESSONS / name).is_file():
        pytest.skip(f"lessons/{name} does not exist yet")
    nb = nbformat.read(str(assigned_lessons / name), as_version=4)
    check_cells = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and "checks.check_" in c.source
        and "remove-cell" not in c.metadata.get("tags", [])
    ]
    assert check_cells, f"{name} has no check cell"
    # The student copy runs up to its first exercise and that exercise's check, which fails.
    nb.cells = nb.cells[: check_cells[0] + 1]
    # run in the student folder, so that nothing a lesson writes can land in the repository
    _execute(nb, assigned_lessons, monkeypatch, allow_errors=False, timeout=120)
    first = _output_text(nb.cells[-1])
    assert "✗" in first or "Error" in first, (
        f"{name}: the first check did not fail in the student copy:\n{first}"
    )


# --------------------------------------------------------------------------- plain Markdown


def _md_notebook(*sources, tags=None):
    cells = [new_markdown_cell(s) for s in sources]
    if tags:
        cells[-1].metadata["tags"] = list(tags)
    return new_notebook(cells=cells)


def _student_text(*sources, name="14-9-x.ipynb", tags=None) -> str:
    return "\n\n".join(c.source for c in student_notebook(_md_notebook(*sources, tags=tags), name).cells)


def test_crlf_line_endings_never_leak_a_solution():
    crlf = (
        "```{exercise} Q\r\n:label: ex-q\r\n\r\nAsk.\r\n```\r\n\r\n"
        "```{solution} ex-q\r\n:class: dropdown\r\n\r\nThe secret CRLF answer.\r\n```\r\n\r\nAfter."
    )
    text = _student_text(crlf)
    assert "secret CRLF answer" not in text and "{solution" not in text and "\r" not in text
    assert text.startswith("**Exercise 14-9.1 — Q**") and "After." in text
    # a lone CR (old Mac line endings) too
    assert "secret CRLF answer" not in _student_text(crlf.replace("\r\n", "\r"))


def test_code_fences_nested_in_a_solution_never_leak():
    nested = (
        "Question text.\n\n````{solution} ex-q\n:class: dropdown\n\n```python\nsecret_code = 1\n```\n\n"
        "The secret prose after the code.\n````\n\nAfter."
    )
    text = _student_text(nested)
    assert "secret_code" not in text and "secret prose" not in text and text.endswith("After.")
    colon = ":::{solution} ex-q\n```python\nsecret_code = 1\n```\nThe secret prose.\n:::\nAfter."
    text = _student_text(colon)
    assert "secret" not in text and "After." in text
    # a nested fence as long as the solution's own would close it early: an error, not a leak
    early = (
        "```{solution} ex-q\n```python\nsecret_code = 1\n```\nThe secret prose after the code.\n```\nAfter."
    )
    with pytest.raises(AssignError, match="as long as the directive's own"):
        _student_text(early)


def test_solution_nested_in_a_list_or_quote_is_removed():
    text = _student_text(
        "- item one\n\n  ```{solution} ex-q\n  The secret listed answer.\n  ```\n- item two\n\n"
        "> ```{solution} ex-q\n> The secret quoted answer.\n> ```\n"
    )
    assert "secret" not in text and "item two" in text


def test_myst_becomes_plain_markdown():
    text = _student_text(
        "(sec-x)=\n## A section\n\n% a comment\n\nAs {cite}`kingma2013auto` and {cite:t}`higgins2017beta` show, "
        "see {numref}`fig-x`, {eq}`eq-x`, {ref}`sec-x`, {ref}`the exercise <ex-q>`, `{cite}` in code and "
        "$\\{a\\}$.\n\n$$\na = b\n$$ (eq-x)\n\n"
        "```{note}\nA note with **bold**.\n```\n\n:::{figure} ../book/_static/x.svg\n:alt: An alt text\n:name: fig-x\n\n"
        'A caption.\n:::\n\n```{raw} html\n<div class="vae-explorer"></div>\n```\n\n'
        "```{exercise} Title with $x$\n:label: ex-q\n\nDo it.\n```"
    )
    assert "{" + "cite}" not in text.replace("`{cite}`", "")
    assert "[[KW13]](https://vae-course.github.io/chapter-14-vae/book/references.html)" in text
    assert "Higgins et al. [[HMP+17]](" in text
    assert "see Figure 1, (1), A section, the exercise, `{cite}` in code and $\\{a\\}$." in text
    assert "$$\na = b\n\\tag{1}\n$$" in text
    assert "> **Note**\n>\n> A note with **bold**." in text
    assert "![An alt text](../book/_static/x.svg)\n\n*Figure 1: A caption.*" in text
    assert "vae-explorer" not in text and "(sec-x)=" not in text and "a comment" not in text
    assert "**Exercise 14-9.1 — Title with $x$**\n\nDo it." in text
    assert ":label:" not in text and ":alt:" not in text


def test_site_only_and_notebook_only_cells():
    nb = new_notebook(
        cells=[
            tagged(new_markdown_cell("Only on the site."), "site-only"),
            tagged(new_code_cell("from vae_lib import widgets\nwidgets.latent_explorer()"), "remove-cell"),
            tagged(new_code_cell("assert 1 + 1 == 2  # a guard of the prose"), "remove-cell"),
            tagged(new_code_cell("x = 1\nassert x == 1  # kept on purpose"), "remove-cell", "notebook-only"),
            tagged(new_code_cell("print('site')"), "site-only"),
        ]
    )
    sources = [c.source for c in student_notebook(nb, "t.ipynb").cells]
    assert sources == [
        "from vae_lib import widgets\nwidgets.latent_explorer()",
        "x = 1\nassert x == 1  # kept on purpose",
    ]


def test_figure_cells_get_their_caption():
    cell = new_code_cell("plot()")
    cell.metadata["mystnb"] = {
        "figure": {"caption": "Codes, see {cite}`white2016sampling`.", "name": "fig-a"}
    }
    nb = new_notebook(cells=[new_markdown_cell("See {numref}`fig-a`."), cell])
    cells = student_notebook(nb, "14-9-x.ipynb").cells
    assert cells[0].source == "See Figure 1."
    assert cells[2].source.startswith("*Figure 1: Codes, see [[Whi16]](")


def test_site_url_is_the_books_baseurl():
    from vae_lib.course.assign import SITE_URL

    assert f"baseurl: {SITE_URL}" in (REPO_ROOT / "_config.yml").read_text()


# --------------------------------------------------------------------------- notebooks/ (committed)

STUDENT_DIR = REPO_ROOT / "notebooks"


def test_committed_student_notebooks_are_up_to_date(tmp_path):
    """notebooks/ is what `python -m vae_lib assign lessons/ --out notebooks/` writes from lessons/ now."""
    fresh = tmp_path / "notebooks"
    assign(LESSONS, fresh)
    expected = sorted(os.listdir(fresh))
    committed = (
        sorted(p for p in os.listdir(STUDENT_DIR) if not p.startswith(".")) if STUDENT_DIR.is_dir() else []
    )
    stale = [
        name
        for name in expected
        if name not in committed or (STUDENT_DIR / name).read_bytes() != (fresh / name).read_bytes()
    ]
    extra = sorted(set(committed) - set(expected))
    assert not stale and not extra, (
        f"notebooks/ is stale (changed: {stale}, extra: {extra}): regenerate it with "
        "`python -m vae_lib assign lessons/ --out notebooks/` and commit it"
    )


def _names_defined(source: str) -> set[str]:
    """Names a cell binds at its top level (not inside comprehensions, lambdas or function bodies)."""
    import ast

    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    names: set[str] = set()
    scoped = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, scoped):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _names_read(source: str) -> set[str]:
    import ast

    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    stores = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return loads - stores  # a name bound in the cell itself (a comprehension variable, ...) is its own


@pytest.mark.parametrize("name", LESSON_FILES)
def test_dropped_hidden_cells_define_nothing_the_student_copy_reads(name):
    """A hidden assert cell left out of the student copy must not define a name a later kept cell reads."""
    if not (LESSONS / name).is_file():
        pytest.skip(f"lessons/{name} does not exist yet")
    from vae_lib.course.assign import _hidden_assert

    nb = nbformat.read(str(LESSONS / name), as_version=4)
    problems = []
    for i, cell in enumerate(nb.cells):
        if not _hidden_assert(cell):
            continue
        defined = _names_defined(cell.source)
        for later in nb.cells[i + 1 :]:
            if later.cell_type != "code" or _hidden_assert(later):
                continue
            used = (_names_read(later.source) & defined) - _names_defined(later.source)
            if used:
                problems.append(f"cell {i + 1} defines {sorted(used)}, read by a later cell")
                break
    assert not problems, f"{name}: {problems}"


# --------------------------------------------------------------------------- the site's buttons


def test_site_buttons_of_a_lesson_open_the_student_notebook(tmp_path):
    import importlib.util
    import types

    spec = importlib.util.spec_from_file_location(
        "student_links", REPO_ROOT / "book" / "_ext" / "student_links.py"
    )
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "14-4-kl.ipynb").write_text("{}")
    app = types.SimpleNamespace(srcdir=str(tmp_path))
    buttons = [
        {
            "type": "group",
            "label": "launch-buttons",
            "buttons": [
                {
                    "url": "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/lessons/14-4-kl.ipynb",
                    "label": "binder",
                },
                {
                    "url": "https://colab.research.google.com/github/o/r/blob/main/lessons/14-4-kl.ipynb",
                    "label": "colab",
                },
            ],
        },
        {
            "type": "group",
            "label": "download-buttons",
            "buttons": [
                {"url": "../_sources/lessons/14-4-kl.ipynb", "label": "download-source-button"},
                {"type": "javascript", "javascript": "window.print()", "label": "download-pdf-button"},
            ],
        },
    ]
    context = {"header_buttons": buttons, "pathto": lambda name, resource=0: "../" + name}
    ext._page_context(app, "lessons/14-4-kl", "page.html", context, None)
    urls = [b.get("url") for group in buttons for b in group["buttons"]]
    assert urls == [
        "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/notebooks/14-4-kl.ipynb",
        "https://colab.research.google.com/github/o/r/blob/main/notebooks/14-4-kl.ipynb",
        "../notebooks/14-4-kl.ipynb",
        None,
    ]
    # a page without a student copy keeps the theme's links
    other = [{"url": "https://colab.research.google.com/github/o/r/blob/main/lessons/14-9-x.ipynb"}]
    ext._page_context(app, "lessons/14-9-x", "page.html", {"header_buttons": other, "pathto": str}, None)
    assert other[0]["url"].endswith("lessons/14-9-x.ipynb")
    # at the end of the build the site's copy of the master is the student notebook
    out = tmp_path / "_build" / "html"
    (out / "_sources" / "lessons").mkdir(parents=True)
    (out / "_sources" / "lessons" / "14-4-kl.ipynb").write_text('{"master": "with solutions"}')
    builder = types.SimpleNamespace(format="html")
    ext._build_finished(types.SimpleNamespace(srcdir=str(tmp_path), outdir=str(out), builder=builder), None)
    assert (out / "_sources" / "lessons" / "14-4-kl.ipynb").read_text() == "{}"
    assert (out / "notebooks" / "14-4-kl.ipynb").read_text() == "{}"


def test_student_links_is_registered_in_the_book_config():
    config = (REPO_ROOT / "_config.yml").read_text()
    assert "- student_links" in config and "book/_ext" in config


# --------------------------------------------------------------------------- set-up


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_binder_installs_the_cpu_torch_with_the_course_pins():
    binder = REPO_ROOT / "binder" / "requirements.txt"
    text = binder.read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    course, ours = _pins(REPO_ROOT / "requirements.txt"), _pins(binder)
    assert ours["torch"] == course["torch"].split("+")[0] + "+cpu"
    shared = {name for name in ours if name in course and name != "torch"}
    assert shared >= {"numpy", "matplotlib", "ipywidgets"}
    assert {n: ours[n] for n in shared} == {n: course[n] for n in shared}
    post = REPO_ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK) and "pip install" in post.read_text()


def test_one_python_version_everywhere():
    import tomllib

    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.10"
    for doc in ("README.md", "book/how-to-use.md"):
        text = (REPO_ROOT / doc).read_text()
        assert "Python 3.10 or newer" in text, doc
        assert "Python 3.11." not in text and "Python 3.11 " not in text.replace("tested with 3.11", "")


def test_student_instructions_open_the_student_notebooks():
    for doc in ("README.md", "book/how-to-use.md"):
        text = (REPO_ROOT / doc).read_text()
        assert "jupyter lab notebooks/" in text, doc
        assert "jupyter lab lessons/" not in text, doc
        assert (
            "git clone" in text and "python3 -m venv .venv" in text and "download.pytorch.org/whl/cpu" in text
        )
