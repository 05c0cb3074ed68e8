"""Render the chapters, with their stored outputs, into a static site that works offline.

    python tools/build_book.py [OUT]          # default: build/html  (`make html`)

Every notebooks/NN_*.ipynb becomes NN_*.html (nothing is re-executed), with links to the
previous and next chapter and to the contents page, index.html, which lists the chapters by
the first heading of each notebook. A new chapter appears by being in notebooks/. The
reading order is the README's chapter table, which lists the chapters in the order of their
numbers (tests/course/test_notebooks.py checks it); chapters the table does not list follow in the
order of their numbers.

Offline: nbconvert's "lab" template is used without its CDN scripts (require.js, Mermaid).
Math is typeset by MathJax 2 copied into the site when one is installed -- the Python
package jupyter-server-mathjax (`pip install -e ".[book]"`), Debian's libjs-mathjax, or a
folder named by $MINIDL_MATHJAX; without one, formulas stay as their TeX source. Links to
other chapters point to their pages; links to files outside notebooks/ (exercises, library
source), which the site does not hold, are kept as plain text.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "html"
MATHJAX_CONFIGS = ["TeX-AMS-MML_HTMLorMML-full", "TeX-AMS-MML_HTMLorMML", "TeX-AMS_CHTML"]

CSS = """
body { max-width: 60rem; margin: 0 auto; }
.book-nav { display: flex; justify-content: space-between; gap: 1rem; padding: 0.6rem 1rem;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 0.95rem;
  border-bottom: 1px solid #ddd; }
.book-nav.bottom { border-top: 1px solid #ddd; border-bottom: none; margin-top: 2rem; }
.book-nav a { text-decoration: none; color: #2b6cb0; }
.jp-RenderedMarkdown img { max-width: 100%; height: auto; }
"""

# The "lab" template minus its CDN scripts, plus the navigation bars.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% from 'mathjax.html.j2' import mathjax %}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
{%- if resources.mathjax_url -%}{{ mathjax(resources.mathjax_url) }}{{ resources.book_mathjax_fonts }}{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style type="text/css">{{ resources.book_css }}</style>{% endblock extra_css %}
{%- block body_header -%}{{ super() }}{{ resources.book_nav_top }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.book_nav_bottom }}{{ super() }}{% endblock body_footer %}
"""

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.5; color: #222; }}
a {{ color: #2b6cb0; text-decoration: none; }}
ul.book-toc {{ list-style: none; padding-left: 0; }}
li {{ margin: 0.4rem 0; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>The chapters of the course with their stored outputs. To run them, open the notebooks
in JupyterLab (<code>make lab</code>).</p>
<ul class="book-toc">
{items}
</ul>
</body>
</html>
"""


def reading_order(readme: Path = ROOT / "README.md") -> list[str]:
    """The notebook stems in the order the README's chapter table links them (empty without one)."""
    if not readme.is_file():
        return []
    stems = re.findall(
        r"^\| \[[^\]]*\]\(notebooks/([0-9][0-9]_[^)/]*)\.ipynb\)",
        readme.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    return list(dict.fromkeys(stems))


def chapters(folder: Path = NOTEBOOKS) -> list[Path]:
    """The chapter notebooks, in reading order: the README's table first, then by number."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    rank = {stem: i for i, stem in enumerate(reading_order())}
    return sorted(found, key=lambda p: (rank.get(p.stem, len(rank)), p.name))


def title_of(notebook) -> str:
    """The text of the notebook's first markdown heading."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    raise ValueError("expected a markdown heading in the notebook, found none")


def find_mathjax() -> Path | None:
    """A folder holding MathJax 2's MathJax.js, or None."""
    candidates = [os.environ.get("MINIDL_MATHJAX")]
    try:
        import jupyter_server_mathjax

        candidates.append(str(Path(jupyter_server_mathjax.__file__).parent / "static"))
    except ImportError:
        pass
    candidates.append("/usr/share/javascript/mathjax")
    for folder in filter(None, candidates):
        if (Path(folder) / "MathJax.js").is_file():
            return Path(folder)
    return None


def mathjax_url(folder: Path) -> str:
    """The URL, relative to a chapter page, of the copied MathJax with a config it has."""
    config = next(c for c in MATHJAX_CONFIGS + [""] if not c or (folder / "config" / f"{c}.js").is_file())
    safe = ",Safe" if (folder / "config" / "Safe.js").is_file() else ""
    return f"_static/mathjax/MathJax.js?config={config}{safe}" if config else "_static/mathjax/MathJax.js"


def mathjax_config(folder: Path) -> str:
    """MathJax settings for an offline copy: its own web fonts, nothing fetched that is absent."""
    # jupyter-server-mathjax ships only the STIX web fonts; MathJax_Blank's url('about:blank')
    # is refused on file:// pages, so it points at nothing instead; no hidden MathML copies.
    stix = (
        ""
        if (folder / "fonts" / "HTML-CSS" / "TeX").is_dir()
        else 'availableFonts: [], preferredFont: null, imageFont: null, webFont: "STIX-Web", '
    )
    return (
        '<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {'
        + stix
        + 'styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local(\'MathJax_Blank\')"}}}, '
        "menuSettings: {assistiveMML: false}});</script>"
    )


def nav(pages: list[tuple[str, str]], i: int, where: str) -> str:
    """Previous / contents / next links for page i of (file, title) pages."""

    def link(k, rel, text):
        if not 0 <= k < len(pages):
            return "<span></span>"
        return f'<a class="book-{rel}" rel="{rel}" href="{pages[k][0]}">{text}</a>'

    prev = link(i - 1, "prev", "&larr; " + html.escape(pages[i - 1][1]) if i > 0 else "")
    nxt = link(i + 1, "next", html.escape(pages[i + 1][1]) + " &rarr;" if i + 1 < len(pages) else "")
    return (
        f'<nav class="book-nav {where}">{prev}'
        f'<a class="book-contents" href="index.html">Contents</a>{nxt}</nav>'
    )


LINK = re.compile(r'<a\s([^>]*?)href="([^"]*)"([^>]*)>(.*?)</a>', re.S)


def fix_links(page: str, site_files: set[str]) -> str:
    """Chapter links to .html; links to files the site does not hold become plain text."""

    def repl(match):
        before, href, after, text = match.groups()
        if re.match(r"(https?:|mailto:|#|data:)", href):
            return match.group(0)
        target, hash_, anchor = href.partition("#")
        if target.endswith(".ipynb") and "/" not in target:
            target = target[: -len(".ipynb")] + ".html"
        if target in site_files:
            return f'<a {before}href="{target}{hash_}{anchor}"{after}>{text}</a>'
        return f'<span class="book-offsite" title="{href} (in the repository)">{text}</span>'

    return LINK.sub(repl, page)


def build(out: Path = OUT, folder: Path = NOTEBOOKS) -> list[Path]:
    """Write the site into out; return the chapter pages written."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if (folder / "figures").is_dir():
        shutil.copytree(folder / "figures", out / "figures")
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})])
    exporter.template_file = "book.html.j2"
    exporter.require_js_url = ""
    mathjax = find_mathjax()
    exporter.mathjax_url, fonts = "", ""
    if mathjax is not None:
        shutil.copytree(mathjax, out / "_static" / "mathjax")
        exporter.mathjax_url = mathjax_url(mathjax)
        fonts = mathjax_config(mathjax)
    else:
        print(
            "MathJax not found (pip install -e '.[book]' or apt-get install libjs-mathjax): "
            "formulas are shown as TeX source",
            file=sys.stderr,
        )

    paths = chapters(folder)
    notebooks = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(p.stem + ".html", title_of(nb)) for p, nb in zip(paths, notebooks)]
    site_files = (
        {"index.html"}
        | {name for name, _ in pages}
        | {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    )
    written = []
    for i, (nb, (name, title)) in enumerate(zip(notebooks, pages)):
        resources = {
            "metadata": {"name": title},
            "book_css": CSS,
            "book_mathjax_fonts": fonts,
            "book_nav_top": nav(pages, i, "top"),
            "book_nav_bottom": nav(pages, i, "bottom"),
        }
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        (out / name).write_text(fix_links(body, site_files), encoding="utf-8")
        written.append(out / name)
    items = "\n".join(f'<li><a href="{name}">{html.escape(title)}</a></li>' for name, title in pages)
    (out / "index.html").write_text(
        INDEX.format(title="minidl — deep learning, written by hand", items=items), encoding="utf-8"
    )
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    pages = build(target)
    print(f"{len(pages)} chapters -> {target / 'index.html'}")
