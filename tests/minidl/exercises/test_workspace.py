"""``python -m minidl exercises copy|reset|where``: a learner's copies in workspace/."""

import pytest

from minidl import __main__ as cli
from minidl.exercises import workspace


@pytest.fixture
def folders(tmp_path):
    originals = tmp_path / "exercises"
    originals.mkdir()
    for name in ("01_linear_models", "03_backpropagation"):
        (originals / f"{name}.ipynb").write_text(f'{{"original": "{name}"}}')
    return originals, tmp_path / "workspace"


def test_copy_makes_missing_copies_and_never_overwrites_work(folders):
    originals, work = folders
    made = workspace.copy((), originals, work)
    assert [p.name for p in made] == [
        "01_linear_models_exercises.ipynb",
        "03_backpropagation_exercises.ipynb",
    ]
    (work / "03_backpropagation_exercises.ipynb").write_text("my answers")
    assert workspace.copy((), originals, work) == []
    assert (work / "03_backpropagation_exercises.ipynb").read_text() == "my answers"
    assert workspace.where(originals, work) == [
        f"{work / '01_linear_models_exercises.ipynb'}: copied, unchanged",
        f"{work / '03_backpropagation_exercises.ipynb'}: your work",
    ]


def test_a_copy_is_named_apart_from_its_chapter_for_labs_tabs(folders):
    """Lab's tab shows the file name: the copy must not read like the chapter's NN_topic.ipynb."""
    originals, work = folders
    made = workspace.copy(("01",), originals, work)
    assert made == [work / "01_linear_models_exercises.ipynb"]
    assert not (work / "01_linear_models.ipynb").exists()


def test_a_copy_made_under_the_old_name_is_renamed_with_the_work_in_it(folders):
    originals, work = folders
    work.mkdir()
    (work / "03_backpropagation.ipynb").write_text("my answers")  # as copies were named before
    made = workspace.copy((), originals, work)
    assert sorted(p.name for p in work.iterdir()) == [
        "01_linear_models_exercises.ipynb",
        "03_backpropagation_exercises.ipynb",
    ]
    assert (work / "03_backpropagation_exercises.ipynb").read_text() == "my answers"
    assert work / "03_backpropagation_exercises.ipynb" in made


def test_reset_starts_again_and_keeps_the_old_copy(folders):
    originals, work = folders
    workspace.copy(("3",), originals, work)
    assert [p.name for p in work.iterdir()] == ["03_backpropagation_exercises.ipynb"]
    (work / "03_backpropagation_exercises.ipynb").write_text("my answers")
    workspace.reset(("03_backpropagation",), originals, work)
    assert (work / "03_backpropagation_exercises.ipynb").read_text() == '{"original": "03_backpropagation"}'
    assert (work / "03_backpropagation_exercises.ipynb.bak").read_text() == "my answers"


def test_unknown_chapter_and_missing_number_are_explained(folders):
    originals, work = folders
    with pytest.raises(ValueError, match="no exercises for chapter 07; chapters with exercises: 01, 03"):
        workspace.copy(("7",), originals, work)
    with pytest.raises(ValueError, match="reset which chapter"):
        workspace.reset((), originals, work)
    assert not work.exists()  # nothing made for a mistake


def test_the_command_line(folders, monkeypatch, capsys):
    originals, work = folders
    monkeypatch.setattr(workspace, "ORIGINALS", originals)
    monkeypatch.setattr(workspace, "WORKSPACE", work)
    monkeypatch.setattr(workspace.copy, "__defaults__", ((), originals, work))
    monkeypatch.setattr(workspace.reset, "__defaults__", (originals, work))
    monkeypatch.setattr(workspace.where, "__defaults__", (originals, work))
    assert cli.main(["exercises", "copy", "01"]) == 0
    assert f"copied: {work / '01_linear_models_exercises.ipynb'}" in capsys.readouterr().out
    assert cli.main(["exercises", "reset", "9"]) == 2
    assert "problem: no exercises for chapter 09" in capsys.readouterr().out
    assert cli.main(["exercises", "where"]) == 0
    assert "03_backpropagation_exercises.ipynb: no copy yet" in capsys.readouterr().out


def test_the_repository_ignores_the_workspace():
    import subprocess

    root = workspace.ORIGINALS.parent
    probe = "workspace/01_linear_models_exercises.ipynb"
    result = subprocess.run(["git", "check-ignore", "-q", probe], cwd=root)
    assert result.returncode == 0, f"{probe} is not ignored by git"
