"""The lesson notebooks as committed: structure, exercises, the Colab install cell, hidden asserts."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("14-*.ipynb"))


def read(path: Path):
    return nbformat.read(path, as_version=4)


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_lessons_14_1_to_14_6_exist_and_others_may_follow():
    names = [p.name[:4] for p in LESSONS]
    assert names[:6] == ["14-1", "14-2", "14-3", "14-4", "14-5", "14-6"], names
    assert len(set(names)) == len(names), "one notebook per lesson"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_objectives_first_and_summary_and_exercises_last(path):
    text = markdown(read(path))
    objectives, summary, exercises = (
        text.find(s) for s in ("Learning objectives", "## Summary", "## Exercises")
    )
    assert 0 <= objectives < summary < exercises, "objectives, then the sections, a summary, then exercises"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_two_to_four_exercises_each_with_a_solution(path):
    text = markdown(read(path))
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    assert 2 <= len(labels) <= 4, labels
    for label in labels:
        assert re.search(rf"```\{{solution(-start)?\}} {re.escape(label)}\b", text), (
            f"{label} has no solution"
        )


def test_the_chapter_has_at_least_fifteen_exercises():
    count = sum(len(re.findall(r"```\{exercise\}", markdown(read(p)))) for p in LESSONS)
    assert count >= 15


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_first_code_cell_installs_vae_lib_from_the_configured_repository(path):
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    first = next(c for c in read(path).cells if c.cell_type == "code")
    assert "import vae_lib" in first.source and "except ImportError" in first.source
    assert f"git+{url}" in first.source, (
        f"the install cell must use the repository url of _config.yml ({url})"
    )
    assert "vae_lib[widgets] @" in first.source, (
        "the install cell installs the widgets extra for the explorers"
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_code_exercises_use_nbgrader_markup_and_a_check(path):
    cells = read(path).cells
    solutions = [c for c in cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    assert solutions, "no code exercise"
    for c in solutions:
        assert c.source.count("### BEGIN SOLUTION") == c.source.count("### END SOLUTION")
        assert "solution" in c.metadata.get("tags", [])


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_guards_its_numbers_with_hidden_assert_cells(path):
    hidden = [
        c
        for c in read(path).cells
        if c.cell_type == "code" and "remove-cell" in c.metadata.get("tags", []) and "assert" in c.source
    ]
    assert len(hidden) >= 3


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_widget_cells_never_reach_the_site(path):
    for c in read(path).cells:
        if c.cell_type == "code" and re.search(r"widgets\.\w+_explorer\(", c.source):
            assert "remove-cell" in c.metadata.get("tags", []), "an ipywidget on the site would be dead"


def test_the_latent_explorer_lives_in_lesson_14_3():
    cells = read(REPO / "lessons" / "14-3-variational-autoencoders.ipynb").cells
    assert any(c.cell_type == "code" and "widgets." in c.source and "Explorer" in c.source for c in cells)


SIX = [p for p in LESSONS if p.name[:4] in {"14-1", "14-2", "14-3", "14-4", "14-5", "14-6"}]


def code_cells(path):
    return [c for c in read(path).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", SIX, ids=lambda p: p.stem)
def test_lesson_never_switches_the_global_default_dtype(path):
    # a global switch breaks every cell run out of order (erratum 10 of issue 11)
    assert not any("set_default_dtype" in c.source for c in code_cells(path))


@pytest.mark.parametrize("path", SIX, ids=lambda p: p.stem)
def test_lesson_uses_only_public_names_of_vae_lib(path):
    for c in code_cells(path):
        assert not re.search(r"vae_lib(\.\w+)*\._\w", c.source), c.source[:200]
        assert not re.search(r"from vae_lib[\w.]* import[^\n]*\b_\w", c.source), c.source[:200]


@pytest.mark.parametrize("path", SIX, ids=lambda p: p.stem)
def test_lesson_code_compiles_without_invalid_escape_sequences(path):
    import warnings

    for c in code_cells(path):
        src = "\n".join(
            line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
            for line in c.source.splitlines()
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", SyntaxWarning)
            warnings.simplefilter("error", DeprecationWarning)
            compile(src, f"{path.stem}:{c.get('id')}", "exec")


@pytest.mark.parametrize("path", SIX, ids=lambda p: p.stem)
def test_every_figure_has_a_per_lesson_name_a_caption_and_alt_text(path):
    prefix = f"fig-{path.name[:4]}-"
    for c in code_cells(path):
        fig = c.metadata.get("mystnb", {}).get("figure")
        if fig is None:
            continue
        assert fig.get("name", "").startswith(prefix), fig.get("name")
        alt = c.metadata.get("mystnb", {}).get("image", {}).get("alt") or c.metadata.get("image", {}).get(
            "alt"
        )
        assert fig.get("caption") and alt, fig.get("name")


@pytest.mark.parametrize("path", SIX, ids=lambda p: p.stem)
def test_every_code_exercise_has_a_visible_instant_feedback_check(path):
    cells = read(path).cells
    for i, c in enumerate(cells):
        if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source:
            following = [
                d
                for d in cells[i + 1 : i + 4]
                if d.cell_type == "code" and "remove-cell" not in d.metadata.get("tags", [])
            ]
            assert any("checks.check_" in d.source for d in following), c.source[:120]


def test_the_transcription_exercises_of_the_first_edition_are_gone():
    text = "\n".join(c.source for p in SIX for c in read(p).cells)
    for name in ("kl_by_hand", "def my_kl(", "def my_reparameterize("):
        assert name not in text, name


def test_the_general_kl_guard_tests_the_students_function():
    cells = read(REPO / "lessons" / "14-4-kl-divergence.ipynb").cells
    hidden = [c.source for c in cells if "assert-solution" in c.metadata.get("tags", [])]
    assert any("my_kl_general" in s for s in hidden)
    assert not any("def kl_general" in s for s in hidden), "a hidden cell must not define its own answer"


@pytest.mark.parametrize("path", SIX, ids=lambda p: p.stem)
def test_every_solution_belongs_to_an_exercise_of_the_same_lesson(path):
    text = markdown(read(path))
    exercises = set(re.findall(r"`{3,}\{exercise\}[^\n]*\n:label: (\S+)", text))
    solutions = re.findall(r"`{3,}\{solution(?:-start)?\} (\S+)", text)
    assert solutions and set(solutions) <= exercises, set(solutions) - exercises
    assert text.count("{solution-start}") == text.count("{solution-end}")
