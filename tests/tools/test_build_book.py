"""`make html`: the chapters as a static site (tools/build_book.py).

The real chapters are built once into a temporary folder: every chapter has its page, the
contents page lists them in order under their first headings, the previous/next links chain
them, every link and image inside the site resolves to a file of the site, and no page loads
a script or a style sheet from the network. A small made-up notebook folder checks that a
new chapter appears by itself and that links leaving the site become plain text.
"""

from __future__ import annotations

import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

# builds the whole book from the stored notebooks: make test, not make test-unit
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def load_builder():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chapters():
    """The reading order: the README's chapter table. (A fixture, so that collecting this module,
    which `make test-unit` deselects, imports neither the builder nor nbconvert.)"""
    return load_builder().chapters()


def test_the_reading_order_is_the_readme_table_and_holds_every_chapter(chapters):
    on_disk = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(chapters) == on_disk
    stems = [c.stem for c in chapters]
    assert stems[0] == "00_welcome"
    assert stems.index("08_going_deep") == stems.index("07_convolutional_networks") + 1
    assert stems.index("13_attention") == stems.index("12_recurrent_networks") + 1
    assert stems.index("24_game_playing") == stems.index("22_detection_segmentation") + 1


class Links(HTMLParser):
    """Every URL a page refers to: (tag, attribute, url, rel/class)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.found.append((tag, name, attrs[name], attrs.get("rel") or ""))


def links_of(page: Path):
    parser = Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.found


def first_heading(path: Path) -> str:
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    raise AssertionError(f"{path.name} has no heading")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "html"
    load_builder().build(out)
    return out


def test_every_chapter_has_a_page_and_the_contents_list_them_in_order(site, chapters):
    assert chapters, "expected chapter notebooks in notebooks/"
    for chapter in chapters:
        page = site / (chapter.stem + ".html")
        assert page.is_file(), f"expected {page.name} for {chapter.name}"
    index = site / "index.html"
    toc = [(url, rel) for tag, _, url, rel in links_of(index) if tag == "a"]
    expected = [chapter.stem + ".html" for chapter in chapters]
    assert [url for url, _ in toc] == expected, f"contents list {toc}, expected {expected}"
    text = index.read_text(encoding="utf-8")
    for chapter in chapters:
        title = first_heading(chapter).replace("&", "&amp;")
        assert title in text, f"expected the title {title!r} of {chapter.name} in index.html"


def test_next_links_chain_the_chapters_from_first_to_last(site, chapters):
    expected = [chapter.stem + ".html" for chapter in chapters]
    order, page = [expected[0]], expected[0]
    while True:
        nexts = {url for tag, _, url, rel in links_of(site / page) if rel == "next"}
        if not nexts:
            break
        assert len(nexts) == 1, f"{page}: expected one next page, found {nexts}"
        page = nexts.pop()
        assert page not in order, f"next links loop back to {page}"
        order.append(page)
    assert order == expected, f"following next links gives {order}, expected {expected}"
    prevs = [url for tag, _, url, rel in links_of(site / expected[-1]) if rel == "prev"]
    assert prevs and prevs[0] == (expected[-2] if len(expected) > 1 else None), prevs


def test_every_link_and_image_inside_the_site_resolves(site):
    pages = sorted(site.glob("*.html"))
    images = 0
    for page in pages:
        for tag, attr, url, _ in links_of(page):
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto", "data") or not parts.path:
                continue
            assert not parts.scheme, f"{page.name}: unexpected URL scheme in {url!r}"
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), f"{page.name}: <{tag} {attr}={url!r}> points to no file"
            assert site.resolve() in target.parents, f"{page.name}: {url!r} leaves the site"
            images += tag == "img"
    figures = sorted((ROOT / "notebooks" / "figures").glob("*.svg"))
    assert images >= len(figures), f"expected at least {len(figures)} figure images, found {images}"


def test_no_page_loads_scripts_or_styles_from_the_network(site):
    remote = re.compile(
        r"""<script[^>]*\ssrc=["']?(https?:)?//|<link[^>]*\shref=["']?(https?:)?//"""
        r"""|@import\s+(url\()?["']?(https?:)?//|import\(\s*["'](https?:)?//""",
        re.I,
    )
    for page in sorted(site.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        match = remote.search(text)
        assert match is None, (
            f"{page.name} loads from the network: {text[match.start() : match.start() + 120]!r}"
        )


def test_a_new_chapter_appears_and_offsite_links_become_text(tmp_path):
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    builder = load_builder()
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "figures").mkdir()
    (folder / "figures" / "f.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    chapters = {
        "00_intro": "# 0 · Intro\n\nSee [the next one](01_more.ipynb#part) and ![f](figures/f.svg).",
        "01_more": "# 1 · More & more\n\nThe [exercises](../exercises/01_more.ipynb), "
        "[a paper](https://arxiv.org/abs/1412.6980).",
    }
    for name, text in chapters.items():
        nbformat.write(new_notebook(cells=[new_markdown_cell(text)]), folder / f"{name}.ipynb")
    out = tmp_path / "site"
    pages = builder.build(out, folder)
    assert [p.name for p in pages] == ["00_intro.html", "01_more.html"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "1 · More &amp; more" in index, "expected the new chapter's heading in the contents"
    first = (out / "00_intro.html").read_text(encoding="utf-8")
    assert 'href="01_more.html#part"' in first, "expected the chapter link rewritten to .html"
    assert 'src="figures/f.svg"' in first and (out / "figures" / "f.svg").is_file()
    second = (out / "01_more.html").read_text(encoding="utf-8")
    assert "../exercises" not in re.sub(r'title="[^"]*"', "", second), (
        "expected the link to a file outside the site to become plain text"
    )
    assert ">exercises<" in second and 'href="https://arxiv.org/abs/1412.6980"' in second


def test_a_notebook_without_a_heading_is_an_error():
    from nbformat.v4 import new_markdown_cell, new_notebook

    builder = load_builder()
    with pytest.raises(ValueError, match="heading"):
        builder.title_of(new_notebook(cells=[new_markdown_cell("no heading here")]))
