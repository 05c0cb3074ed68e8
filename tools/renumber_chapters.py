"""Renumber the course's chapters: move the files and rewrite every reference to them.

    python tools/renumber_chapters.py 16_going_deep:08 08_fast_cpu_kernels:09 ...
    python tools/renumber_chapters.py --table moves.md   # "OLD NEW" lines, or a Markdown table
    python tools/renumber_chapters.py --dry-run 16:08 08:09 ...   # print, change nothing

A chapter is a notebook ``notebooks/NN_slug.ipynb``; its id is ``NN_slug`` and its number
``NN``. Each move ``OLD:NEW`` names a chapter by its id (``16_going_deep``) or by its number
(``16``) and gives its new number; the slug never changes. Chapters not named keep their
number. The moves are applied all at once, so any permutation works (cycles included:
``08:09 09:08`` swaps two chapters), and a gap may be opened for a new chapter (``16:17
17:18 18:19 19:20 20:21``, then add ``16_vae``). The result must give every chapter its own
number.

What it changes, in every file of the tree (``git ls-files``, untracked files that git does
not ignore included; binary files and ``--exclude`` paths skipped):

* **paths**: a path with an old id (``solutions/16_going_deep.ipynb``) or an old ``chNN``
  token (``grader/minidl_grader/specs/ch16.py``, ``tests/test_ch18_exercises.py``) is moved
  (``git mv`` for a tracked file), in two steps through temporary names, so that cycles are safe;
* **ids** ``NN_slug`` wherever they stand (links, metadata, ``quiz.toml``, public data);
* ``chNN`` tokens (``specs.ch16``, cell ids ``ch11-04``);
* prose: ``chapter 16``, ``Chapter 16's``, ``chapters 10 and 17`` (a list is sorted again
  after its numbers change), ``chapter-8 kernel``, ``ch. 16``, ``chapter16`` and ``CHAPTER16`` (identifiers);
  a range (``chapters 3 to 5``) whose chapters no longer follow each other is left as it
  was and reported. A reference in a citation of another book -- its clause has a year or
  an ``*italic title*,`` before it (``Goodfellow et al. (2016). *Deep Learning*, chapter 6``)
  -- is left alone and reported;
* a figure's number ``Figure 16.2`` (figures are numbered by their chapter; not in a citation);
* a heading ``# 16 · Going deep`` and a link's number ``[16 · Going deep](16_going_deep.ipynb)``
  or ``[16 Going deep](notebooks/16_going_deep.ipynb)``, and the number in a table's cell just
  before a cell with a chapter's link (``| 16 | [Going deep](16_going_deep.ipynb) |``);
* ``--chapter 16`` (also ``"--chapter", "16"``), zero-padded as it was written;
* lines that list chapter ids one per line (``"08_fast_cpu_kernels",``) are sorted again.

A notebook is rewritten as data (the cells' sources, their text outputs, cell ids, metadata;
never the base64 of an image) and written back in nbformat's layout, so a cell that prints a
chapter's number keeps its stored output consistent with its source (nbval). ``CHANGELOG.md``
is skipped by default: its entries say what happened under the numbers of their time (and
so are this tool and its test, which hold example ids).

Run it on a clean git tree (it refuses a dirty one unless ``--allow-dirty``) and review the
diff. Re-running is safe when the moves name ids: a move whose id is gone and whose target
exists is done already and skipped; if every move is done, nothing changes. A move given by
a bare number cannot be told from a new one, so the tool prints the id form to re-run with.

What it cannot know, and leaves to a person: sentences about the numbering itself
("chapter 16 comes right after 7"), numbers that stand for chapters with no word "chapter"
before them (the README's table of items per chapter: regenerate it from
``registry.counts()``), links whose words say where a chapter stands ("after [7 · ...]"),
and the text of a chapter inserted into the gap. Then run ``minidl-grade release --check``
(exercises/ is rewritten like solutions/, so it stays in step) and the tests. The public
cases are drawn by exercise name, not chapter, so ``minidl/exercises/data`` needs no new
draw: ``public.json``'s chapter ids are rewritten, and ``public.npz`` may stay as it is
(``minidl-grade public-data`` would only rename its arrays, which follow the chapters' order).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Renumbering",
    "chapters_in",
    "parse_moves",
    "plan",
    "rewrite_text",
    "rewrite_notebook",
    "main",
]

# CHANGELOG.md is history: its entries keep the numbers of their time; the tool and its test
# hold example ids on purpose. A name without a folder matches that file name anywhere.
EXCLUDE = ("CHANGELOG.md", "renumber_chapters.py", "test_renumber_chapters.py")
_SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
_TMP = ".renumber-tmp"


@dataclass
class Renumbering:
    """Old number -> new number for every chapter (those not moved map to themselves)."""

    slugs: dict[int, str]  # old number -> slug
    new: dict[int, int]  # old number -> new number
    notes: list[str] = field(default_factory=list)  # what was left alone, and why

    @property
    def moved(self) -> dict[int, int]:
        return {old: new for old, new in self.new.items() if old != new}

    def old_id(self, number: int) -> str:
        return f"{number:02d}_{self.slugs[number]}"

    def new_id(self, number: int) -> str:
        return f"{self.new[number]:02d}_{self.slugs[number]}"


def chapters_in(root: Path) -> dict[int, str]:
    """``{number: slug}`` of the chapters in ``root/notebooks``."""
    found: dict[int, str] = {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        number = int(path.name[:2])
        if number in found:
            raise ValueError(f"two chapters numbered {number:02d}: {found[number]} and {path.stem[3:]}")
        found[number] = path.stem[3:]
    return found


def parse_moves(items: list[str]) -> list[tuple[str, int]]:
    """``["16_going_deep:08", "8:9"]`` -> ``[("16_going_deep", 8), ("8", 9)]``; a move
    may also be written ``OLD NEW``, ``OLD -> NEW``, ``| OLD | NEW |`` (a row of a Markdown
    table), and NEW as an id with the same slug (``16_going_deep -> 08_going_deep``)."""
    moves = []
    for item in items:
        parts = re.split(r"\s*(?::|->|→|\s)\s*", item.replace("|", " ").strip())
        target = re.fullmatch(r"(\d{1,2})(?:_(\w+))?", parts[-1]) if len(parts) == 2 else None
        if target is None or (target.group(2) and not parts[0].endswith("_" + target.group(2))):
            raise ValueError(f"cannot read the move {item!r}: write OLD:NEW, e.g. 16_going_deep:08")
        moves.append((parts[0], int(target.group(1))))
    return moves


def plan(chapters: dict[int, str], moves: list[tuple[str, int]]) -> tuple[Renumbering, list[str]]:
    """The renumbering that ``moves`` asks of ``chapters``, and the moves already done
    (named by an id that is gone while the id it would become exists). ``ValueError`` when
    a move names no chapter, two moves name one chapter, or two chapters would share a
    number; also when some moves are done and others are not (a half-renumbered tree)."""
    by_id = {f"{n:02d}_{slug}": n for n, slug in chapters.items()}
    by_slug = {slug: n for n, slug in chapters.items()}
    new = {n: n for n in chapters}
    named: set[int] = set()
    done, pending = [], []
    for old, target in moves:
        if old.isdigit():
            if int(old) not in chapters:
                raise ValueError(f"no chapter numbered {old}: the chapters are {sorted(chapters)}")
            number = int(old)
        elif old in by_id:
            number = by_id[old]
        elif re.fullmatch(r"\d\d_\w+", old) and by_slug.get(old[3:]) == target:
            done.append(old)
            continue
        else:
            raise ValueError(f"no chapter {old!r} in notebooks/")
        if number in named:
            raise ValueError(f"chapter {chapters[number]!r} is moved twice")
        named.add(number)
        new[number] = target
        pending.append(old)
    if done and pending and any(new[n] != n for n in named):
        raise ValueError(
            f"half renumbered: {', '.join(done)} already moved, {', '.join(pending)} not; "
            "finish by hand or restore the tree (git checkout) and run again"
        )
    targets: dict[int, int] = {}
    for old, target in new.items():
        if target in targets:
            raise ValueError(
                f"{chapters[targets[target]]} and {chapters[old]} would both be chapter {target:02d}"
            )
        if not 0 <= target <= 99:
            raise ValueError(f"chapter numbers are two digits, not {target}")
        targets[target] = old
    return Renumbering(dict(chapters), new), done


# ------------------------------------------------------------------------------ text
_NUM = r"\d{1,2}(?![\d_]|[.,]\d)"  # a chapter number: not 4,000 nor 13.5 nor 64_000
_LIST_SEP = r"(?:,\s+and\s+|,\s*|\s+and\s+|\s+or\s+|\s+to\s+|\s*[–-]\s*)"


def _pattern(r: Renumbering) -> re.Pattern:
    ids = "|".join(re.escape(slug) for slug in sorted(set(r.slugs.values()), key=len, reverse=True))
    return re.compile(
        rf"(?P<id>(?<![0-9A-Za-z])(?P<id_n>\d\d)_(?P<id_slug>{ids})(?![0-9A-Za-z]))"
        rf"|(?P<ch>(?<![A-Za-z0-9])ch(?P<ch_n>\d\d)(?!\d))"
        rf"|(?P<link>\[(?P<link_n>\d{{1,2}})(?P<link_rest>(?: · | )[^\]\n]*\]\([^)\s]*?"
        rf"(?P<link_id>\d\d)_(?:{ids})(?:_exercises)?\.(?:ipynb|html)\)))"  # a learner's copy too
        rf"|(?P<cell>\|[ ]*(?P<cell_n>\d{{1,2}})(?P<cell_rest>[ ]*\|[ ]*\[[^\]\n]*\]\([^)\s]*?"
        rf"(?P<cell_id>\d\d)_(?:{ids})\.(?:ipynb|html)\)))"
        rf"|(?P<head>^(?P<head_pre>\#{{1,6}}[ ]+)(?P<head_n>\d{{1,2}})(?= · ))"
        rf"|(?P<opt>--chapter(?P<opt_sep>[ =]|\",\s*\")(?P<opt_n>\d{{1,2}})(?![\d_]))"
        rf"|(?P<prose>(?P<word>\b(?:[Cc]hapters?|[Cc]h\.))(?P<sep>[ \u00a0]+|-)"
        rf"(?P<list>{_NUM}(?:{_LIST_SEP}{_NUM})*))"
        rf"|(?P<ident>(?<![A-Za-z0-9])(?P<ident_w>chapter|Chapter|CHAPTER)(?P<ident_n>\d{{1,2}})(?!\d))"
        rf"|(?P<fig>(?P<fig_w>\b(?:[Ff]igures?|[Ff]igs?\.)[ \u00a0]+)(?P<fig_n>\d{{1,2}})(?=\.\d))",
        re.MULTILINE,
    )


def _is_citation(text: str, start: int) -> bool:
    """Whether the reference at ``start`` cites another book: its clause (back to a line
    start, a sentence end or a semicolon) holds a year or an ``*italic title*,``."""
    line = text[text.rfind("\n", 0, start) + 1 : start]
    clause = re.split(r"(?<=[a-z)])\.\s|;", line)[-1]
    return bool(re.search(r"\b(?:19|20)\d\d\b|\*[^*\n]+\*,\s*", clause))


def _renumber_list(r: Renumbering, listing: str) -> tuple[str | None, str | None]:
    """``"10 and 17"`` -> ``("11 and 12", None)``; ``(None, why)`` when it cannot be said."""
    numbers = [int(n) for n in re.findall(r"\d+", listing)]
    seps = re.split(r"\d+", listing)[1:-1]
    if any(n not in r.new for n in numbers):
        return None, f"{listing!r} names a number that is no chapter"
    mapped = [r.new[n] for n in numbers]
    if mapped == numbers:
        return listing, None
    if any(re.search(r"to|[–-]", sep) for sep in seps):
        if len(numbers) != 2:
            return None, f"a range inside a list, {listing!r}"
        low, high = numbers
        inside = sorted(r.new[n] for n in range(low, high + 1) if n in r.new)
        if inside != list(range(inside[0], inside[-1] + 1)) or len(inside) != high - low + 1:
            return None, f"the range {listing!r} is no longer a range"
        mapped = [inside[0], inside[-1]]
    elif len(mapped) > 1:
        mapped = sorted(mapped)
    out = str(mapped[0])
    for sep, n in zip(seps, mapped[1:], strict=True):
        out += sep + str(n)
    return out, None


def rewrite_text(text: str, r: Renumbering, where: str = "") -> str:
    """``text`` with every reference to a moved chapter renumbered (see the module's doc);
    what it leaves alone on purpose is appended to ``r.notes``."""
    if not r.moved:
        return text
    pattern = _pattern(r)
    by_slug = {slug: n for n, slug in r.slugs.items()}

    def pad(old: str, number: int) -> str:  # "03" stays padded, "3" not
        return f"{number:02d}" if old.startswith("0") and len(old) == 2 else str(number)

    def sub(m: re.Match) -> str:
        whole = m.group(0)
        if m.group("id"):
            n = int(m.group("id_n"))
            if by_slug.get(m.group("id_slug")) != n:
                return whole  # 07_gans is no chapter of this course
            return f"{r.new[n]:02d}_{r.slugs[n]}"
        if m.group("ch"):
            n = int(m.group("ch_n"))
            return f"ch{r.new[n]:02d}" if n in r.new else whole
        if m.group("link"):
            n, target = int(m.group("link_n")), int(m.group("link_id"))
            rest = _pattern_sub(m.group("link_rest"))
            if n != target or n not in r.new:
                return "[" + m.group("link_n") + rest
            # "[7 · Title](07_x.ipynb)" is written as a number, "[07 Title](...)" as the file's
            number_only = rest.startswith(" · ") or len(m.group("link_n")) == 1
            return "[" + (str(r.new[n]) if number_only else f"{r.new[n]:02d}") + rest
        if m.group("cell"):  # | 16 | [Going deep](16_going_deep.ipynb) |: a table of chapters
            n, target = int(m.group("cell_n")), int(m.group("cell_id"))
            rest = _pattern_sub(m.group("cell_rest"))
            if n != target or n not in r.new:
                return whole[: m.start("cell_n") - m.start()] + m.group("cell_n") + rest
            return whole[: m.start("cell_n") - m.start()] + pad(m.group("cell_n"), r.new[n]) + rest
        if m.group("head"):
            n = int(m.group("head_n"))
            return m.group("head_pre") + (str(r.new[n]) if n in r.new else m.group("head_n"))
        if m.group("opt"):
            n = int(m.group("opt_n"))
            if n not in r.new:
                return whole
            return "--chapter" + m.group("opt_sep") + pad(m.group("opt_n"), r.new[n])
        if m.group("ident"):
            n = int(m.group("ident_n"))
            return f"{m.group('ident_w')}{r.new[n]}" if n in r.new else whole
        if m.group("fig"):  # "Figure 12.1": figures are numbered by their chapter
            n = int(m.group("fig_n"))
            if n not in r.new or _is_citation(m.string, m.start()):
                return whole
            return m.group("fig_w") + str(r.new[n])
        listing = m.group("list")
        if _is_citation(m.string, m.start()):
            numbers = [int(n) for n in re.findall(r"\d+", listing)]
            if any(r.new.get(n, n) != n for n in numbers):
                r.notes.append(f"{where}: left alone (a citation): {_context(m)}")
            return whole
        out, why = _renumber_list(r, listing)
        if out is None:
            r.notes.append(f"{where}: left alone ({why}): {_context(m)}")
            return whole
        return m.group("word") + m.group("sep") + out

    def _pattern_sub(s: str) -> str:  # a link's text and target, after its number
        return pattern.sub(sub, s)

    return _sort_id_runs(pattern.sub(sub, text), r)


def _context(m: re.Match) -> str:
    s = m.string
    return repr(s[max(0, m.start() - 30) : m.end() + 20])


_ID_LINE = re.compile(r"^(?P<pre>\s*[\"'])(?P<id>\d\d_\w+)(?P<post>[\"'],?\s*)$")


def _sort_id_runs(text: str, r: Renumbering) -> str:
    """Runs of two or more lines that each hold one chapter id literal (a tuple of the
    chapters, one per line) sorted by number, each line keeping its quotes and comma."""
    known = {f"{new:02d}_{r.slugs[old]}" for old, new in r.new.items()}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and (m := _ID_LINE.match(lines[j])) and m.group("id") in known:
            j += 1
        if j - i >= 2:
            matches = [_ID_LINE.match(line) for line in lines[i:j]]
            ids = sorted(m.group("id") for m in matches if m)
            lines[i:j] = [
                m.group("pre") + id_ + m.group("post") for m, id_ in zip(matches, ids, strict=True) if m
            ]
        i = max(j, i + 1)
    return "\n".join(lines)


def rewrite_notebook(raw: str, r: Renumbering, where: str = "") -> str:
    """A notebook's JSON with its text rewritten (sources, text outputs, cell ids, metadata;
    never an image's base64), written back as nbformat lays it out."""
    nb = json.loads(raw)

    def text(value, key: str = ""):
        if key.startswith("image/") and not key.endswith("svg+xml"):
            return value
        if isinstance(value, str):
            return rewrite_text(value, r, where)
        if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
            joined = "".join(value)
            out = rewrite_text(joined, r, where)
            if out == joined:
                return value
            return [line for line in re.split(r"(?<=\n)", out) if line]  # nbformat's split
        if isinstance(value, list):
            return [text(v) for v in value]
        if isinstance(value, dict):
            return {k: text(v, k) for k, v in value.items()}
        return value

    new = text(nb)
    if new == nb:
        return raw
    return json.dumps(new, indent=1, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------ files
def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _is_git(root: Path) -> bool:
    return (root / ".git").exists()


def tree_files(root: Path) -> tuple[list[str], set[str]]:
    """``(every file, the tracked ones)``, as paths relative to ``root``."""
    if _is_git(root):
        tracked = set(_git(root, "ls-files", "-z").split("\0")) - {""}
        others = set(_git(root, "ls-files", "-z", "--others", "--exclude-standard").split("\0")) - {""}
        files = sorted(p for p in tracked | others if (root / p).is_file())
        return files, tracked
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        files += [os.path.relpath(os.path.join(folder, n), root) for n in names]
    return sorted(files), set()


def new_path(path: str, r: Renumbering) -> str:
    """Where ``path`` goes: its ids and ``chNN`` tokens renumbered."""
    notes: list[str] = []
    probe = Renumbering(r.slugs, r.new, notes)
    return rewrite_text(path, probe)


def apply(root: Path, r: Renumbering, exclude: tuple[str, ...], dry_run: bool) -> list[str]:
    """Rewrite the files' text, then move them; return one line per change."""
    files, tracked = tree_files(root)
    excluded = {os.path.normpath(e) for e in exclude}

    def is_excluded(path: str) -> bool:
        return os.path.normpath(path) in excluded or os.path.basename(path) in excluded

    report = []
    for path in files:
        if is_excluded(path) or path.endswith(_TMP):
            continue
        full = root / path
        data = full.read_bytes()
        if b"\0" in data:
            continue
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        before = len(r.notes)
        if path.endswith(".ipynb"):
            out = rewrite_notebook(raw, r, path)
        else:
            out = rewrite_text(raw, r, path)
        for note in r.notes[before:]:
            report.append("  note " + note)
        if out != raw:
            changed = sum(a != b for a, b in zip(raw.splitlines(), out.splitlines(), strict=False))
            report.append(f"  edit {path} ({changed} lines)")
            if not dry_run:
                full.write_text(out, encoding="utf-8")
    moves = [(p, new_path(p, r)) for p in files if not is_excluded(p)]
    moves = [(a, b) for a, b in moves if a != b]
    for a, b in moves:
        report.append(f"  move {a} -> {b}")
    if not dry_run:
        for a, _ in moves:  # two steps: a cycle never overwrites a file not yet moved
            _move(root, a, a + _TMP, a in tracked)
        for a, b in moves:
            if (root / b).exists():
                raise RuntimeError(f"{b} exists: cannot move {a} there")
            _move(root, a + _TMP, b, a in tracked)
            _remove_empty_parents(root, Path(a).parent)
    return report


def _move(root: Path, a: str, b: str, tracked: bool) -> None:
    (root / b).parent.mkdir(parents=True, exist_ok=True)
    if tracked:
        _git(root, "mv", a, b)
    else:
        os.replace(root / a, root / b)


def _remove_empty_parents(root: Path, folder: Path) -> None:
    while str(folder) not in ("", ".") and (root / folder).is_dir() and not any((root / folder).iterdir()):
        (root / folder).rmdir()
        folder = folder.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="renumber_chapters.py",
        description="Renumber chapters: move notebooks, solutions, exercises, specs, tests and "
        "rewrite every reference (see the module's docstring).",
    )
    parser.add_argument("moves", nargs="*", help="OLD:NEW, OLD an id (16_going_deep) or a number")
    parser.add_argument(
        "--table", type=Path, help="a file of moves, one 'OLD NEW' per line or a Markdown table of them"
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    parser.add_argument(
        "--allow-dirty", action="store_true", help="run on a git tree with uncommitted changes"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=None,
        help=f"a path to leave as it is (repeatable; default {', '.join(EXCLUDE)})",
    )
    args = parser.parse_args(argv)
    items = list(args.moves)
    if args.table:
        for line in args.table.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if re.search(r"\d", line):  # a Markdown table's header and rule have no digit
                items.append(line)
    if not items:
        parser.error("no moves given")
    root = args.root.resolve()
    try:
        renumbering, done = plan(chapters_in(root), parse_moves(items))
    except ValueError as err:
        print(f"renumber_chapters: {err}", file=sys.stderr)
        return 2
    if done:
        print(f"already done: {', '.join(done)}")
    if not renumbering.moved:
        print("nothing to move")
        return 0
    if not args.dry_run and not args.allow_dirty and _is_git(root) and _git(root, "status", "--porcelain"):
        print(
            "renumber_chapters: the tree has uncommitted changes; commit first or --allow-dirty",
            file=sys.stderr,
        )
        return 2
    print("moves (re-runnable form):")
    print("  " + " ".join(f"{renumbering.old_id(o)}:{n:02d}" for o, n in sorted(renumbering.moved.items())))
    for old in sorted(renumbering.moved):
        print(f"  {renumbering.old_id(old)} -> {renumbering.new_id(old)}")
    exclude = tuple(args.exclude) if args.exclude is not None else EXCLUDE
    for line in apply(root, renumbering, exclude, args.dry_run):
        print(line)
    print(
        "then: read the notes above, fix what only a person can (the module's docstring lists it), "
        "run minidl-grade release --check and the tests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
