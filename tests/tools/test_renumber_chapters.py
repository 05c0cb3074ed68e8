"""tools/renumber_chapters.py: its rewriting of text and notebooks, and whole runs on small trees."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("renumber_chapters", ROOT / "tools" / "renumber_chapters.py")
rc = importlib.util.module_from_spec(_spec)
sys.modules["renumber_chapters"] = rc  # dataclasses look their module up there
_spec.loader.exec_module(rc)

# five chapters; "deep" (04) is read after "conv" (01), "attn" (03) after "rnn" (02)
SLUGS = {0: "welcome", 1: "conv", 2: "rnn", 3: "attn", 4: "deep"}
MOVES = ["04_deep:02", "02_rnn:03", "03:04"]  # a cycle 2 -> 3 -> 4 -> 2


def renumbering(moves=MOVES, slugs=SLUGS):
    r, _ = rc.plan(dict(slugs), rc.parse_moves(moves))
    return r


def rewrite(text, moves=MOVES):
    r = renumbering(moves)
    return rc.rewrite_text(text, r, "t"), r.notes


@pytest.mark.parametrize(
    "before, after",
    [
        ("see chapter 4", "see chapter 2"),
        ("Chapter 2's LSTM", "Chapter 3's LSTM"),
        ("as chapter 1 showed", "as chapter 1 showed"),  # not moved
        ("chapters 2 and 4", "chapters 2 and 3"),  # 3 and 2, sorted again
        ("Chapters 1, 4, 3 (all of them)", "Chapters 1, 2, 4 (all of them)"),
        ("a chapter-4 kernel", "a chapter-2 kernel"),
        ("ch. 3", "ch. 4"),
        ("notebooks/04_deep.ipynb", "notebooks/02_deep.ipynb"),
        ('chapter = "02_rnn"', 'chapter = "03_rnn"'),
        ("from minidl_grader.specs import ch04", "from minidl_grader.specs import ch02"),
        ("tests/test_ch03_exercises.py", "tests/test_ch04_exercises.py"),
        ('"id": "ch02-05"', '"id": "ch03-05"'),
        ("# 4 · Going deep\n", "# 2 · Going deep\n"),
        (
            "| 4 | [Going deep](04_deep.ipynb) | 2 | [RNN](02_rnn.ipynb) |",
            "| 2 | [Going deep](02_deep.ipynb) | 3 | [RNN](03_rnn.ipynb) |",
        ),
        ("CHAPTER4 = ROOT / '04_deep.ipynb'", "CHAPTER2 = ROOT / '02_deep.ipynb'"),
        ("*Next:* [4 · Going deep](04_deep.ipynb)", "*Next:* [2 · Going deep](02_deep.ipynb)"),
        ("| [04 Going deep](notebooks/04_deep.ipynb) |", "| [02 Going deep](notebooks/02_deep.ipynb) |"),
        ("minidl-grade grade --chapter 04 x", "minidl-grade grade --chapter 02 x"),
        ("minidl-grade grade --chapter 4 x", "minidl-grade grade --chapter 2 x"),
        ('["--chapter", "2"]', '["--chapter", "3"]'),
        ("def chapter4_with():", "def chapter2_with():"),
        ("*Figure 4.1.* A block (*Figure 4.2*)", "*Figure 2.1.* A block (*Figure 2.2*)"),
        ("Figs. 3.1", "Figs. 4.1"),
    ],
)
def test_references_are_renumbered(before, after):
    assert rewrite(before)[0] == after


@pytest.mark.parametrize(
    "text",
    [
        "4,000 images in chapter 1",  # a thousands separator is no chapter
        "the 2 layers of 4 units",  # numbers without the word chapter
        "an array of shape (4, 3)",
        "04_other.ipynb",  # an id of no chapter here
        "scratch04 and batch04",  # ch inside a word
        "section 13.4 and 4_000 steps",
        "figure 4 and Figure 7.1",  # a figure without its chapter's number; a chapter not moved
        "Goodfellow et al. (2016), figure 4.2",  # a figure of another book
        "# 4 layers\n",  # a heading, but not a chapter's
    ],
)
def test_what_is_no_chapter_reference_stays(text):
    assert rewrite(text)[0] == text


def test_a_citation_of_another_book_is_left_alone_and_reported():
    text = "Goodfellow, I. (2016). *Deep Learning*, chapter 4 (optimization) and chapter 3 (more).\n"
    out, notes = rewrite(text)
    assert out == text
    assert len(notes) == 2 and all("citation" in note for note in notes)
    # a year in the clause marks a citation too; a later sentence is the course's own again
    out, _ = rewrite("(Sutton & Barto, 2018, ch. 4). As chapter 4 shows")
    assert out == "(Sutton & Barto, 2018, ch. 4). As chapter 2 shows"


def test_a_range_that_is_no_longer_one_is_reported_not_rewritten():
    out, notes = rewrite("chapters 2 to 4 build it")  # 3, 4, 2: still 2 to 4
    assert out == "chapters 2 to 4 build it" and not notes
    text = "chapters 1 to 2 build it"  # 1 and 3: not a range any more
    out, notes = rewrite(text)
    assert out == text and "no longer a range" in notes[0]


def test_lines_of_ids_are_sorted_again():
    text = (
        'CHAPTERS = (\n    "00_welcome",\n    "01_conv",\n    "02_rnn",\n    "03_attn",\n    "04_deep",\n)\n'
    )
    out, _ = rewrite(text)
    assert (
        out
        == 'CHAPTERS = (\n    "00_welcome",\n    "01_conv",\n    "02_deep",\n    "03_rnn",\n    "04_attn",\n)\n'
    )


def test_each_span_is_rewritten_once_in_a_cycle():
    # 2 -> 3 and 3 -> 4: a second pass would turn the new 3 into 4
    assert rewrite("chapter 2, then chapter 3")[0] == "chapter 3, then chapter 4"
    assert rewrite("02_rnn 03_attn ch02 ch03")[0] == "03_rnn 04_attn ch03 ch04"


def test_a_swap_and_an_opened_gap():
    assert rewrite("chapter 1 and 2", ["01:02", "02:01"])[0] == "chapter 1 and 2"
    assert rewrite("chapter 1; chapter 2", ["01:02", "02:01"])[0] == "chapter 2; chapter 1"
    # room for a new chapter 04 after attn: deep moves to 05
    assert rewrite("see 04_deep and chapter 4", ["04_deep:05"])[0] == "see 05_deep and chapter 5"


def test_the_plan_refuses_what_cannot_be():
    with pytest.raises(ValueError, match="would both be chapter"):
        rc.plan(dict(SLUGS), rc.parse_moves(["04:02"]))
    with pytest.raises(ValueError, match="no chapter"):
        rc.plan(dict(SLUGS), rc.parse_moves(["07_gans:02"]))
    with pytest.raises(ValueError, match="moved twice"):
        rc.plan(dict(SLUGS), rc.parse_moves(["04:05", "04_deep:06"]))
    with pytest.raises(ValueError, match="cannot read"):
        rc.parse_moves(["04"])
    assert rc.parse_moves(["04_deep -> 02", "3 4", "2:3"]) == [("04_deep", 2), ("3", 4), ("2", 3)]
    assert rc.parse_moves(["| 04_deep | 02_deep |"]) == [("04_deep", 2)]
    with pytest.raises(ValueError, match="cannot read"):
        rc.parse_moves(["04_deep:02_rnn"])  # the slug stays


def test_a_notebook_is_rewritten_as_data_and_its_images_are_not_touched():
    image = "iVBORw0/ch02+chapter 2"  # base64 may hold anything that looks like a reference
    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "ch02-00",
                "metadata": {},
                "source": ["# 2 · RNN\n", "As chapter 4 shows"],
            },
            {
                "cell_type": "code",
                "execution_count": 1,
                "id": "ch02-01",
                "metadata": {},
                "outputs": [
                    {"name": "stdout", "output_type": "stream", "text": ["see chapter 2\n"]},
                    {
                        "data": {"image/png": image, "text/plain": ["<Figure>"]},
                        "metadata": {},
                        "output_type": "display_data",
                    },
                ],
                "source": ['print("see chapter 2")'],
            },
        ],
        "metadata": {"minidl": {"chapter": "02_rnn"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    raw = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    out = json.loads(rc.rewrite_notebook(raw, renumbering()))
    markdown, code = out["cells"]
    assert markdown["source"] == ["# 3 · RNN\n", "As chapter 2 shows"] and markdown["id"] == "ch03-00"
    assert code["source"] == ['print("see chapter 3")']
    assert code["outputs"][0]["text"] == ["see chapter 3\n"]  # the stored output follows its source
    assert code["outputs"][1]["data"]["image/png"] == image
    assert out["metadata"]["minidl"]["chapter"] == "03_rnn"
    unchanged = json.dumps({"cells": [], "metadata": {}}, indent=2)
    assert rc.rewrite_notebook(unchanged, renumbering()) == unchanged  # not even re-laid out


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for number, slug in SLUGS.items():
        nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [f"# {number} · {slug}\n"]}]}
        for folder in ("notebooks", "solutions"):
            path = root / folder / f"{number:02d}_{slug}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(nb, indent=1) + "\n")
        spec = root / "specs" / f"ch{number:02d}.py"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(f'"""Chapter {number}, {slug}."""\n')
    (root / "README.md").write_text("Read chapter 4 after chapter 1: [04 Deep](notebooks/04_deep.ipynb)\n")
    (root / "CHANGELOG.md").write_text("- chapter 4 added\n")
    (root / "data.bin").write_bytes(b"\0chapter 4")
    return root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_a_whole_run_on_a_git_tree_then_a_second_run_changes_nothing(tmp_path, capsys):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = _tree(tmp_path)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tree")
    moves = ["04_deep:02", "02_rnn:03", "03_attn:04"]
    assert rc.main(["--root", str(root), *moves]) == 0
    printed = capsys.readouterr().out
    assert "move notebooks/04_deep.ipynb -> notebooks/02_deep.ipynb" in printed
    names = sorted(p.name for p in (root / "notebooks").iterdir())
    assert names == ["00_welcome.ipynb", "01_conv.ipynb", "02_deep.ipynb", "03_rnn.ipynb", "04_attn.ipynb"]
    assert (root / "specs" / "ch02.py").read_text() == '"""Chapter 2, deep."""\n'
    assert (root / "specs" / "ch04.py").read_text() == '"""Chapter 4, attn."""\n'
    assert json.loads((root / "notebooks" / "02_deep.ipynb").read_text())["cells"][0]["source"] == [
        "# 2 · deep\n"
    ]
    assert (
        root / "README.md"
    ).read_text() == "Read chapter 2 after chapter 1: [02 Deep](notebooks/02_deep.ipynb)\n"
    assert (root / "CHANGELOG.md").read_text() == "- chapter 4 added\n"  # history is kept
    assert (root / "data.bin").read_bytes() == b"\0chapter 4"  # binary files are not read
    assert "R" in _git(root, "status", "--porcelain", "notebooks")  # moved by git, history kept
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "renumbered")
    assert rc.main(["--root", str(root), *moves]) == 0
    assert "nothing to move" in capsys.readouterr().out
    assert _git(root, "status", "--porcelain") == ""


def test_a_run_refuses_a_dirty_tree_and_a_half_done_renumbering(tmp_path, capsys):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = _tree(tmp_path)
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tree")
    (root / "README.md").write_text("edited\n")
    assert rc.main(["--root", str(root), "04_deep:02", "02_rnn:04"]) == 2
    assert "uncommitted" in capsys.readouterr().err
    # deep went to 02 and rnn to 04 by hand already, attn not yet
    assert rc.main(["--root", str(root), "--allow-dirty", "--dry-run", "04_deep:02", "02_rnn:04"]) == 0
    for folder in ("notebooks", "solutions"):
        (root / folder / "04_deep.ipynb").rename(root / folder / "05_deep.ipynb")
    assert rc.main(["--root", str(root), "--allow-dirty", "04_deep:05", "03_attn:06"]) == 2
    assert "half renumbered" in capsys.readouterr().err


def test_a_table_file_and_a_tree_without_git(tmp_path, capsys):
    root = _tree(tmp_path)
    table = tmp_path / "moves.txt"
    table.write_text(
        "# old  new\n04_deep  02\n| old | new |\n|---|---|\n| 02_rnn | 03_rnn |\n03_attn -> 04\n"
    )
    assert rc.main(["--root", str(root), "--table", str(table)]) == 0
    names = sorted(p.name for p in (root / "solutions").iterdir())
    assert names == ["00_welcome.ipynb", "01_conv.ipynb", "02_deep.ipynb", "03_rnn.ipynb", "04_attn.ipynb"]
    assert not list(root.rglob("*" + rc._TMP))
