"""nbgrader, unchanged, on the lesson notebooks: release, autograde and feedback with no configuration.

The masters in lessons/ carry nbgrader cell metadata stamped by
``python -m vae_lib assign --nbgrader-metadata lessons/`` (see book/instructor-guide.md). This
test stamps a copy of the current masters, puts them in a fresh course folder made by
``nbgrader quickstart``, and runs nbgrader's own commands, each once over all the lessons:

- ``generate_assignment``: the release holds no solution text and no hidden assert;
- ``autograde`` of three submissions: the release as it is scores 0 on every autograded cell,
  the master scores full marks, and a typical wrong answer scores 0 on its cell;
- ``generate_feedback``: the wrong answer's feedback carries the check's hint.

nbgrader is an optional test dependency (``pip install nbgrader==0.9.6``); without it the
test is skipped. It executes every lesson twice (a few minutes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from vae_lib.course.assign import nbgrader_metadata, stamp_nbgrader

REPO_ROOT = Path(__file__).resolve().parents[1]
LESSONS = REPO_ROOT / "lessons"
ASSIGNMENT = "ch14"
# The typical wrong answer graded: lesson 14-1's reconstruction loss averaged instead of summed.
WRONG_LESSON = "14-1-autoencoders.ipynb"
WRONG_STUB = "def my_reconstruction_loss(logits, x):"
WRONG_ANSWER = (
    "import torch.nn.functional as F\n\n\ndef my_reconstruction_loss(logits, x):\n"
    "    return F.binary_cross_entropy_with_logits(logits, x, reduction='none').mean(dim=-1)\n"
)
WRONG_HINT = "averaged over the pixels"


def test_masters_carry_the_nbgrader_metadata_of_the_tool():
    """Every lesson is stamped: rerunning the tool would change nothing."""
    changed, _ = stamp_nbgrader(LESSONS, check=True)
    assert not changed, (
        f"{[p.name for p in changed]} lack their nbgrader metadata: run "
        "`python -m vae_lib assign --nbgrader-metadata lessons/` and commit"
    )


def _nbgrader(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "MPLBACKEND": "Agg",
    }
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _grade_cells(nb):
    return [c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade")]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (pip install nbgrader==0.9.6)")
    root = tmp_path_factory.mktemp("nbgrader")
    done = _nbgrader("quickstart", "course", cwd=root)
    assert done.returncode == 0, done.stderr
    course = root / "course"
    shutil.rmtree(course / "source" / "ps1")
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    lessons = sorted(LESSONS.glob("14-*.ipynb"))
    for path in lessons:
        nbformat.write(
            nbgrader_metadata(nbformat.read(str(path), as_version=4), str(path)), str(source / path.name)
        )
    timings = {}
    start = time.perf_counter()
    done = _nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)
    timings["generate_assignment"] = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    release = course / "release" / ASSIGNMENT
    submitted = course / "submitted"
    shutil.copytree(release, submitted / "release_as_is" / ASSIGNMENT)
    shutil.copytree(source, submitted / "master" / ASSIGNMENT)
    wrong = submitted / "wrong_answer" / ASSIGNMENT
    wrong.mkdir(parents=True)
    nb = nbformat.read(str(release / WRONG_LESSON), as_version=4)
    stub = next(
        c
        for c in nb.cells
        if c.cell_type == "code"
        and c.source.lstrip().startswith(("import torch.nn", WRONG_STUB))
        and WRONG_STUB in c.source
    )
    stub.source = WRONG_ANSWER
    nbformat.write(nb, str(wrong / WRONG_LESSON))
    start = time.perf_counter()
    done = _nbgrader("autograde", ASSIGNMENT, "--force", cwd=course)
    timings["autograde"] = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    start = time.perf_counter()
    done = _nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course)
    timings["generate_feedback"] = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print("nbgrader timings (s):", {k: round(v, 1) for k, v in timings.items()})
    return course, [p.name for p in lessons]


def _scores(course: Path, student: str) -> dict[tuple[str, str], tuple[float, float]]:
    """{(notebook, grade_id): (score, max)} of the autograded test cells of a student."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(ASSIGNMENT, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code" and grade.auto_score is not None and grade.max_score > 0:
                    out[notebook.name, grade.name] = (grade.auto_score, grade.max_score)
    return out


def test_release_holds_no_solution_and_no_hidden_assert(course):
    course, names = course
    from test_assign import _solution_lines

    for name in names:
        master = nbformat.read(str(course / "source" / ASSIGNMENT / name), as_version=4)
        release = nbformat.read(str(course / "release" / ASSIGNMENT / name), as_version=4)
        solution, _ = _solution_lines(master)
        text = "\n".join(c.source for c in release.cells)
        leaked = sorted(line for line in solution if line in text)
        assert not leaked, f"{name}: solution text in the release: {leaked[:3]}"
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        for cell in release.cells:
            tags = cell.metadata.get("tags", [])
            if "assert-solution" in tags or ("remove-cell" in tags and cell.cell_type == "code"):
                assert "assert" not in cell.source, f"{name}: a hidden assert cell in the release"
        assert not any(c.cell_type == "markdown" and "{solution}" in c.source for c in release.cells)


def test_release_as_it_is_scores_zero_and_the_master_full_marks(course):
    course, names = course
    empty, master = _scores(course, "release_as_is"), _scores(course, "master")
    assert set(empty) == set(master) and len(master) >= len(names)
    assert {k: v for k, v in empty.items() if v[0] != 0} == {}
    assert {k: v for k, v in master.items() if v[0] != v[1]} == {}


def test_a_typical_wrong_answer_scores_zero_and_its_feedback_has_the_hint(course):
    course, _ = course
    wrong = _scores(course, "wrong_answer")
    cell = ("14-1-autoencoders", "ex-14-1-bce-check")
    assert wrong[cell] == (0, 1)
    feedback = (
        course / "feedback" / "wrong_answer" / ASSIGNMENT / WRONG_LESSON.replace(".ipynb", ".html")
    ).read_text()
    assert WRONG_HINT in feedback
