"""Cross-references in the chapters' prose, resolved from the files: figures numbered by their
chapter, sections that exist, and sentences that look back ("so far", "as chapter 7 showed")
naming a chapter that comes earlier in the reading order.

The chapters' numbers follow the reading order (tests/course/test_notebooks.py checks it), so
"earlier" is "a smaller number"; ``tools/renumber_chapters.py`` rewrites "chapter N" and
"Figure N.M" when it moves a chapter, and sections are numbered within their chapter ("## 3. ...",
"section 3", "chapter 7, section 6"), so a move breaks no sentence here.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BY_NUMBER = {int(path.name[:2]): path for path in CHAPTERS}
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def markdown(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")


def prose(text):
    """The text without its list of references (other books' sections), code spans, fenced code,
    comments and formulas."""
    text = re.sub(r"^## References\n.*?(?=^## |\Z)", " ", text, flags=re.S | re.M)
    text = re.sub(r"```.*?```|`[^`\n]*`|<!--.*?-->|\$\$.*?\$\$|\$[^$\n]*\$", " ", text, flags=re.S)
    return text


def cites_another_book(text, start):
    """The clause before ``start`` has a year or an *italic title*: a reference to another book."""
    line = text[text.rfind("\n", 0, start) + 1 : start]
    clause = re.split(r"(?<=[a-z)])\.\s|;", line)[-1]
    return bool(re.search(r"\b(?:19|20)\d\d\b|\*[^*\n]+\*,\s*", clause))


# ------------------------------------------------------------------------------------- figures
CAPTION = re.compile(r"^\*Figure (\d+)\.(\d+)\.\*", re.M)
FIGURE_REFERENCE = re.compile(r"\bFig(?:ure|\.)s? (\d+)\.(\d+)")


def captions(path):
    return [tuple(map(int, c)) for c in CAPTION.findall(markdown(path))]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_figures_are_numbered_by_their_chapter_in_order(path):
    number = int(path.name[:2])
    found = captions(path)
    assert [c for c, _ in found] == [number] * len(found), f"{path.name}: captions {found}"
    assert [f for _, f in found] == list(range(1, len(found) + 1)), f"{path.name}: captions {found}"


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_figure_reference_names_a_figure(path):
    text = prose(markdown(path))
    for match in FIGURE_REFERENCE.finditer(text):
        if cites_another_book(text, match.start()):
            continue
        chapter, figure = map(int, match.groups())
        assert chapter in BY_NUMBER and (chapter, figure) in captions(BY_NUMBER[chapter]), (
            f"{path.parent.name}/{path.name}: {match.group(0)!r} names no figure of the course"
        )


# ------------------------------------------------------------------------------------ sections
NUMBERED_SECTION = re.compile(r"^## (\d+(?:\.\d+)?)\.? ", re.M)
SUBSECTION = re.compile(r"^#{3,4} (\d+\.\d+(?:\.\d+)?) ", re.M)
_NUM = r"\d+(?:\.\d+)?"
SECTION_REFERENCE = re.compile(
    rf"\b(?P<word>[Ss]ections?|§) ?(?P<list>{_NUM}(?:(?:,\s*and\s+|,\s*|\s+and\s+|\s*[–-]\s*|\s+to\s+){_NUM})*)"
)
# "chapter 22, section 9", "chapter 22's section 9" / "section 9 of chapter 22"
OF_CHAPTER_BEFORE = re.compile(r"[Cc]hapter (\d+)(?:,|'s)\s*$")
OF_CHAPTER_AFTER = re.compile(r"^\s*(?:of|in) [Cc]hapter (\d+)")


def sections(path):
    text = markdown(path)
    return {s for s in NUMBERED_SECTION.findall(text)} | set(SUBSECTION.findall(text))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_sections_are_numbered_one_way_in_every_chapter(path):
    """One style across the course: "## 1. Title", numbered from 1 within the chapter (a
    chapter's number never prefixes its sections, so a renumbering leaves them alone)."""
    headings = NUMBERED_SECTION.findall(markdown(path))
    assert all("." not in h for h in headings), f"{path.name}: sections numbered {headings}, not '## 1.'"
    assert [int(h) for h in headings] == list(range(1, len(headings) + 1)), f"{path.name}: {headings}"
    assert all(
        re.match(r"^## \d+\. \S", line)
        for line in markdown(path).splitlines()
        if NUMBERED_SECTION.match(line)
    ), f"{path.name}: a numbered section is written without its '.' ('## 1. Title')"


def chapter_of_solutions(path):
    return BY_NUMBER[int(path.name[:2])]


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_section_reference_names_a_section(path):
    """ "section 5" names a section of the chapter it is written in (of the chapter a solutions
    notebook belongs to), "chapter 22, section 9" one of chapter 22; "section 1.4" a subsection."""
    text = prose(markdown(path))
    home = chapter_of_solutions(path) if path.parent.name == "solutions" else path
    problems = []
    for match in SECTION_REFERENCE.finditer(text):
        if cites_another_book(text, match.start()):
            continue
        target = home
        before = OF_CHAPTER_BEFORE.search(text[max(0, match.start() - 30) : match.start()])
        after = OF_CHAPTER_AFTER.match(text[match.end() : match.end() + 30])
        named = before or after
        if named:
            target = BY_NUMBER.get(int(named.group(1)))
            if target is None:
                problems.append(f"{match.group(0)!r}: chapter {named.group(1)} does not exist")
                continue
        for number in re.findall(_NUM, match.group("list")):
            if number not in sections(target):
                problems.append(f"{match.group(0)!r} names no section of {target.name}")
    assert not problems, f"{path.parent.name}/{path.name}: " + "; ".join(problems)


# ------------------------------------------------------------------ sentences that look back
LOOKING_BACK = re.compile(
    r"\bso far\b|\buntil now\b|\bas we saw\b|\bwe have seen\b|\b(?:earlier|previous) chapters\b|"
    r"\bchapters? \d+(?:\s*(?:,|and|to|–)\s*\d+)* (?:showed|saw|found|measured|trained|built)\b",
    re.I,
)
CHAPTER_NUMBERS = re.compile(r"\b[Cc]hapters? (\d+(?:(?:,\s*and\s+|,\s*|\s+and\s+|\s*[–-]\s*|\s+to\s+)\d+)*)")


def sentences(text):
    return re.split(r"(?<=[.!?:])\s+(?=[A-Z*(])|\n\s*\n|\n[*-] ", text)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_sentences_that_look_back_name_an_earlier_chapter(path):
    """ "Every network so far learned from labels" is true of some chapters only: the sentence
    names them ("every network so far (chapters 1 to 8) ..."), or its own sections, and every
    chapter it names comes before this one in the reading order."""
    number = int(path.name[:2])
    problems = []
    for sentence in sentences(prose(markdown(path))):
        if not LOOKING_BACK.search(sentence):
            continue
        named = [int(n) for listing in CHAPTER_NUMBERS.findall(sentence) for n in re.findall(r"\d+", listing)]
        own = re.search(r"\b(?:this chapter|[Ss]ections? \d|above|below)\b", sentence)
        if not named and not own:
            problems.append(f"names no chapter: {' '.join(sentence.split())[:120]!r}")
        later = [n for n in named if n >= number]
        if later:
            problems.append(f"looks back to chapter(s) {later}: {' '.join(sentence.split())[:120]!r}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_a_sentence_that_looks_back_to_a_later_chapter_is_caught():
    text = "Every network so far (chapters 3 and 14) learned from labels."
    (sentence,) = sentences(text)
    assert LOOKING_BACK.search(sentence)
    assert [int(n) for n in re.findall(r"\d+", CHAPTER_NUMBERS.findall(sentence)[0])] == [3, 14]
    assert LOOKING_BACK.search("As chapter 7 showed, filters are edges.")
    assert not LOOKING_BACK.search("Dosovitskiy et al. showed the same.")


# ------------------------------------------------------------------------------ times in prose
# "trained in under two minutes on 2 cores", "runs in about a minute": a time that no cell beside it
# measures, on a machine the reader does not have. A chapter prints its times (and never asserts
# them); its prose does not quote them.
RUN_TIME = re.compile(
    r"\b(?:in|under|within|about|takes?|took|costs?)\s+(?:about\s+|under\s+|less than\s+|a few\s+)?"
    r"(?:a|an|one|two|three|four|five|ten|\d+(?:\.\d+)?)\s+(?:minutes?|seconds?|hours?|s|ms)\b"
    r"(?:\s+on\s+(?:\w+\s+)?(?:cores?|CPUs?|machines?|laptops?))?",
    re.I,
)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_run_time_is_quoted_in_prose(path):
    text = prose(markdown(path))
    found = [
        " ".join(text[max(0, m.start() - 50) : m.end() + 10].split())
        for m in RUN_TIME.finditer(text)
        if re.search(r"\b(?:cores?|CPUs?|machines?|laptops?)\b", m.group(0))
        or re.search(
            r"\b(?:run|runs|train|trains|trained|takes?|took|step|epoch|costs?)\b",
            text[max(0, m.start() - 80) : m.end()],
        )
    ]
    assert not found, f"{path.name} quotes run times in its prose (print them in a cell): {found}"


def test_the_run_time_check_catches_a_quoted_time():
    caught = (
        "Everything is trained on the bundled MNIST in under two minutes on 2 cores, so the models are small."
    )
    assert RUN_TIME.search(caught)
    assert not RUN_TIME.search("Each clip is 0.8 s of speech")  # a duration of the data, no run time
