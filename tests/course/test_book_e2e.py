"""End to end: the book of `make html` as a reader opens it, in headless Chromium.

The site is built into a temporary folder and opened from disk (file://, no server, as a
reader with no network would). Every chapter page must load without a console error or a
failed request, every figure must have decoded (naturalWidth > 0), formulas must have been
typeset when the site carries MathJax, and the "next" links must lead from the first chapter
to the last. Chromium and playwright are found as in tests/course/test_lab_e2e.py (never
`playwright install`); without them the test is skipped saying which is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.course.test_lab_e2e import CHROMIUM_ARGS, browser_tools  # noqa: F401  (a fixture)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOAD_MS = 60_000

MATHJAX_DONE = """() => new Promise(resolve => {
    if (!window.MathJax || !MathJax.Hub) { resolve(false); return; }
    MathJax.Hub.Queue(() => resolve(true));
})"""
FIGURES = """() => Array.from(document.images)
    .filter(img => img.getAttribute('src').startsWith('figures/'))
    .map(img => [img.getAttribute('src'), img.complete, img.naturalWidth])"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    out = tmp_path_factory.mktemp("book") / "html"
    builder.build(out)
    return out


def test_every_chapter_page_loads_with_its_figures_and_next_links_reach_the_end(browser_tools, site):  # noqa: F811
    chromium, playwright_api = browser_tools
    has_mathjax = (site / "_static" / "mathjax" / "MathJax.js").is_file()
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    expected = [chapter.stem + ".html" for chapter in builder.chapters()]  # the reading order
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))

            figures_seen = 0
            typeset_pages = 0
            for name in expected:
                page.goto((site / name).as_uri(), wait_until="load", timeout=LOAD_MS)
                typeset = page.evaluate(MATHJAX_DONE)
                assert typeset == has_mathjax, (
                    f"{name}: MathJax ran: {typeset}, expected {has_mathjax} (site carries it: {has_mathjax})"
                )
                if has_mathjax:
                    typeset_pages += (
                        page.evaluate("document.querySelectorAll('.MathJax, .MathJax_Display').length") > 0
                    )
                for src, complete, width in page.evaluate(FIGURES):
                    assert complete and width > 0, f"{name}: figure {src} did not load (width {width})"
                    figures_seen += 1
                assert not problems, f"{name}: {problems}"
            n_figures = len(list((ROOT / "notebooks" / "figures").glob("*.svg")))
            assert figures_seen >= n_figures, f"expected {n_figures} figures shown, saw {figures_seen}"
            if has_mathjax:
                assert typeset_pages >= len(expected) - 1, (
                    f"expected typeset formulas on (almost) every chapter, found on {typeset_pages}"
                )

            page.goto((site / "index.html").as_uri(), wait_until="load", timeout=LOAD_MS)
            page.click(f"a[href='{expected[0]}']")
            page.wait_for_load_state("load")
            page.evaluate(MATHJAX_DONE)
            visited = [page.url.rsplit("/", 1)[-1]]
            while page.locator("nav.top a[rel=next]").count():
                page.locator("nav.top a[rel=next]").click()
                page.wait_for_load_state("load")
                page.evaluate(MATHJAX_DONE)  # let the page finish before leaving it
                visited.append(page.url.rsplit("/", 1)[-1])
                assert len(visited) <= len(expected), f"next links do not end: {visited}"
            assert visited == expected, f"next links visit {visited}, expected {expected}"
            assert not problems, problems
        finally:
            browser.close()
