"""The course's schematic figures: the committed SVGs are what tools/figures.py draws.

Regenerating every figure into a temporary folder must give the committed files byte for
byte, so the drawing code and the pictures in notebooks/figures/ never drift apart (after
changing a drawing, run `python tools/figures.py` and commit both). Every image a chapter's
markdown shows must exist, and every committed figure must be shown somewhere. (The bytes
depend on matplotlib's SVG writer: after a matplotlib upgrade that changes them, redraw.)
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "notebooks" / "figures"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img[^>]*\ssrc=\"([^\"]+)\"")


def load_figures_module():
    spec = importlib.util.spec_from_file_location("figures", ROOT / "tools" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_images(path: Path) -> list[str]:
    import nbformat  # here, not at collection: its schema checks take seconds to import

    notebook = nbformat.read(path, as_version=4)
    found = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found += [a or b for a, b in IMAGE.findall(cell.source)]
    return [src for src in found if not src.startswith(("http:", "https:", "data:"))]


@pytest.mark.slow
def test_committed_figures_are_what_the_script_draws(tmp_path):
    figures = load_figures_module()
    written = figures.write_all(tmp_path)
    names = sorted(p.name for p in written)
    committed = sorted(p.name for p in FIGURES.glob("*.svg"))
    assert names == committed, (
        f"expected the committed SVGs {committed} to be exactly the drawn ones {names}; "
        "run `python tools/figures.py` and commit notebooks/figures/"
    )
    for path in written:
        fresh, stored = path.read_bytes(), (FIGURES / path.name).read_bytes()
        assert fresh == stored, (
            f"{path.name}: drawing gives {len(fresh)} bytes that differ from the committed "
            f"{len(stored)} (matplotlib {matplotlib.__version__}); run `python tools/figures.py` "
            "and commit the result"
        )


@pytest.mark.slow
def test_drawing_twice_gives_the_same_bytes(tmp_path):
    figures = load_figures_module()
    first = {p.name: p.read_bytes() for p in figures.write_all(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in figures.write_all(tmp_path / "b")}
    assert first == second, "expected byte-identical SVGs from two runs (salt and date fixed)"
    for name, data in first.items():
        assert b"<dc:date>" not in data, f"{name} carries a date; expected metadata Date=None"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_image_a_chapter_shows_exists(chapter):
    for src in markdown_images(chapter):
        target = (chapter.parent / src).resolve()
        assert target.is_file(), f"{chapter.name} shows {src!r}, expected a file at {target}"


def test_every_figure_is_shown_in_a_chapter():
    shown = {(c.parent / src).resolve() for c in CHAPTERS for src in markdown_images(c)}
    unused = [p.name for p in sorted(FIGURES.glob("*.svg")) if p.resolve() not in shown]
    assert not unused, f"expected every figure in notebooks/figures/ in a chapter, unused: {unused}"
