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
    objectives, summary, exercises = (text.find(s) for s in ("Learning objectives", "## Summary", "## Exercises"))
    assert 0 <= objectives < summary < exercises, "objectives, then the sections, a summary, then exercises"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_two_to_four_exercises_each_with_a_solution(path):
    text = markdown(read(path))
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    assert 2 <= len(labels) <= 4, labels
    for label in labels:
        assert re.search(rf"```\{{solution(-start)?\}} {re.escape(label)}\b", text), f"{label} has no solution"


def test_the_chapter_has_at_least_fifteen_exercises():
    count = sum(len(re.findall(r"```\{exercise\}", markdown(read(p)))) for p in LESSONS)
    assert count >= 15


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_first_code_cell_installs_vae_lib_from_the_configured_repository(path):
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    first = next(c for c in read(path).cells if c.cell_type == "code")
    assert "import vae_lib" in first.source and "except ImportError" in first.source
    assert f"git+{url}" in first.source, f"the install cell must use the repository url of _config.yml ({url})"
    assert "vae_lib[widgets] @" in first.source, "the install cell installs the widgets extra for the explorers"


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
    hidden = [c for c in read(path).cells if c.cell_type == "code" and "remove-cell" in c.metadata.get("tags", [])
              and "assert" in c.source]
    assert len(hidden) >= 3


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_widget_cells_never_reach_the_site(path):
    for c in read(path).cells:
        if c.cell_type == "code" and re.search(r"widgets\.\w+_explorer\(", c.source):
            assert "remove-cell" in c.metadata.get("tags", []), "an ipywidget on the site would be dead"


@pytest.mark.parametrize("name", ["14-3-variational-autoencoders"])
def test_the_explorer_lesson_holds_the_site_explorer_and_the_notebook_sliders(name):
    cells = read(REPO / "lessons" / f"{name}.ipynb").cells
    assert any(c.cell_type == "markdown" and 'class="vae-explorer"' in c.source for c in cells)
    assert any(c.cell_type == "code" and "widgets.latent_explorer(" in c.source for c in cells)
