"""Which answers look copied: winnowed token fingerprints, as MOSS does.

The method is Schleimer, Wilkerson and Aiken's "Winnowing: local algorithms for document
fingerprinting" (SIGMOD 2003), the one behind MOSS, in four steps:

1. **normalise** -- read the cell with Python's own ``tokenize``; drop comments,
   docstrings and layout; every identifier becomes ``V``, every number ``N``, every
   string ``S`` (keywords and operators stay); a string of several lines (chapter 10's
   CUDA C) is read as C the same way. Renaming variables, changing constants or
   rewriting comments changes nothing after this step.
2. **k-grams** -- every run of ``k`` consecutive normalised tokens, hashed (CRC-32, so the
   same text gives the same hash in every run).
3. **winnowing** -- in every window of ``w`` consecutive k-gram hashes keep the smallest
   (the rightmost one on a tie). Any common run of at least ``w + k - 1`` tokens shares
   at least one kept hash, and a document keeps about ``2 / (w + 1)`` of its hashes.
4. **compare** -- per exercise, the kept hashes of two answers: ``containment`` =
   shared / the smaller answer's (a copy with extra code around it still scores 1),
   ``jaccard`` = shared / all.

What every submission receives (the exercise notebook's cell: the ``def`` line, its
docstring) is the *base*: its hashes are removed from every answer first, as MOSS's
``-b`` does. An answer with fewer than ``MIN_FINGERPRINTS`` hashes left is too short to
tell a copy from the one obvious way of writing it (``return w - lr * dw``), and is not
compared. Before step 1 the cell is rewritten in one spelling (``ast.unparse``: the
parentheses, quotes and line breaks Python's printer puts), its lines mapped back to the
cell's for the report.

A pair is reported at or above its exercise's threshold (``threshold``), set per exercise
on independent right answers (short formulaic exercises have their own baseline) by
``tools/similarity_thresholds.py``, which writes ``similarity_thresholds.json`` and the
false-positive and false-negative rates measured on a held-out half (``grader/README.md``,
"Similarity"). ``THRESHOLD``: the floor of every threshold, and the threshold of an
exercise the file does not name (a private course's).
"""

from __future__ import annotations

import ast
import bisect
import html
import io
import itertools
import json
import keyword
import re
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .judge import reading

__all__ = [
    "K",
    "W",
    "THRESHOLD",
    "THRESHOLDS_FILE",
    "threshold",
    "MIN_FINGERPRINTS",
    "SOLUTIONS",
    "normalized_tokens",
    "fingerprint",
    "Fingerprint",
    "compare",
    "Match",
    "compare_batch",
    "highest",
    "write_report",
]

# K, W and MIN_FINGERPRINTS were set on tests/grader/grading_similarity_data.py; the
# thresholds per exercise by tools/similarity_thresholds.py (grader/README.md, "Similarity").
K = 7  # tokens per k-gram
W = 6  # k-gram hashes per winnowing window: any common run of W + K - 1 = 12 tokens is found
THRESHOLD = 0.5  # the lowest threshold, and that of an exercise not in THRESHOLDS_FILE
THRESHOLDS_FILE = Path(__file__).with_name("similarity_thresholds.json")
MIN_FINGERPRINTS = 8  # fewer kept hashes than this (after the base): too short to compare
SOLUTIONS = "published solution"  # how the published solutions are named in a pair

_LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def normalized_tokens(source: str, depth: int = 0) -> list[tuple[str, int]]:
    """``(token, line)`` for each token of ``source`` that carries meaning, normalised:
    identifiers -> ``V``, numbers -> ``N``, strings -> ``S``; comments, docstrings and
    layout dropped; ``line`` counts from 1 in ``source``.

    Magics are read for the code they run (``reading.readable_source``: ``%time f(x)`` is
    ``f(x)``, a ``%%time`` cell its body); a string whose contents are Python of at least
    ``K`` tokens (``exec("...")``, a solution pasted into a string) is read as that code,
    ``reading.MAX_DEPTH`` strings deep; code Python cannot tokenize (an unclosed bracket)
    gives the tokens read before the problem."""
    text, lines_of = _canonical(reading.readable_source(source))
    tokens: list[tuple[str, int]] = []
    statement_start = True  # a string alone at the start of a statement is a docstring
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _LAYOUT:
                if tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                    statement_start = True
                continue
            if tok.type == tokenize.STRING and statement_start:
                continue  # a docstring (or a bare string statement): it reads as a comment
            statement_start = False
            code = _python_in_string(tok.string, depth) if tok.type == tokenize.STRING else None
            if code is not None:  # exec("..."): the code's own tokens, on the string's line
                tokens += [(word, lines_of(tok.start[0]) + line - 1) for word, line in code]
                continue
            value = _string_value(tok.string) if tok.type == tokenize.STRING else None
            if value is not None and "\n" in value:  # CUDA C: its own tokens
                tokens += _source_in_string(value, lines_of(tok.start[0]))
                continue
            if tok.type == tokenize.NAME:
                word = tok.string if keyword.iskeyword(tok.string) else "V"
            elif tok.type == tokenize.NUMBER:
                word = "N"
            elif tok.type == tokenize.STRING:
                word = "S"
            else:
                word = tok.string
            tokens.append((word, lines_of(tok.start[0])))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tokens


def _canonical(source: str):
    """``(text, lines_of)``: the cell as ``ast.unparse`` writes it (one spelling of every
    construct: parentheses, quotes, line breaks and comments as Python's own printer puts
    them, so that ``a, b = x, y`` and ``(a, b) = (x, y)`` are the same tokens), and a
    function from a line of that text to the line of ``source`` it comes from (the report
    marks the student's lines). A cell that does not parse is read as it is."""
    try:
        tree = ast.parse(source)
        text = ast.unparse(tree) + "\n"
        again = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source, lambda line: line
    origin: dict[int, int] = {}
    for new, old in zip(ast.walk(again), ast.walk(tree)):  # the same tree, node for node
        new_line, old_line = getattr(new, "lineno", None), getattr(old, "lineno", None)
        if new_line is not None and old_line is not None:
            origin.setdefault(new_line, old_line)
    known = sorted(origin)

    def lines_of(line: int) -> int:
        at = bisect.bisect_right(known, line)
        return origin[known[at - 1]] + (line - known[at - 1]) if at else line

    return text, lines_of


def _string_value(literal: str) -> str | None:
    """The text a string literal holds (None for an f-string or bytes that are not text)."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _python_in_string(literal: str, depth: int) -> list[tuple[str, int]] | None:
    """The normalised tokens of the Python a string literal holds, if it holds at least
    ``K`` tokens of it (prose, a format or a shape does not parse); None otherwise."""
    if depth >= reading.MAX_DEPTH or len(literal) < 2 * K:
        return None
    value = _string_value(literal)  # None: an f-string, its contents are not one constant text
    if value is None or reading.parse_cell(value) is None:
        return None
    found = normalized_tokens(value, depth + 1)
    return found if len(found) >= K else None


# A string of several lines is code in another language (chapter 10's CUDA C kernels):
# its C tokens are normalised the same way (comments dropped, identifiers -> V).
_C_TOKEN = re.compile(r"//[^\n]*|/\*.*?\*/|[A-Za-z_]\w*|\d[\w.]*|\S", re.S)
_C_KEYWORDS = {
    "if", "else", "for", "while", "do", "return", "break", "continue", "int", "float", "double",
    "const", "void", "unsigned", "long", "extern", "__global__", "__device__", "__shared__",
}  # fmt: skip


def _source_in_string(code: str, first_line: int) -> list[tuple[str, int]]:
    tokens = []
    for match in _C_TOKEN.finditer(code):
        text = match.group()
        line = first_line + code.count("\n", 0, match.start())
        if text.startswith(("//", "/*")):
            continue
        if text[0].isalpha() or text[0] == "_":
            text = text if text in _C_KEYWORDS else "V"
        elif text[0].isdigit():
            text = "N"
        tokens.append((text, line))
    return tokens


_thresholds: dict[str, float] = {}


def threshold(exercise: str) -> float:
    """The containment at or above which a pair of answers to ``exercise`` is reported: its
    own (``THRESHOLDS_FILE``; above 1: never), else ``THRESHOLD``."""
    if not _thresholds:
        _thresholds.update(json.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))["exercises"])
    return _thresholds.get(exercise, THRESHOLD)


@dataclass
class Fingerprint:
    """An answer's kept hashes, each with the lines (first, last) of its k-gram(s)."""

    source: str
    hashes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.hashes)


def _kgram_hashes(tokens: list[tuple[str, int]], k: int) -> list[tuple[int, int, int]]:
    """``(hash, first line, last line)`` of each run of ``k`` tokens."""
    return [
        (
            zlib.crc32(" ".join(t for t, _ in tokens[i : i + k]).encode()),
            tokens[i][1],
            tokens[i + k - 1][1],
        )
        for i in range(len(tokens) - k + 1)
    ]


def _winnow(hashes: list[tuple[int, int, int]], w: int) -> list[tuple[int, int, int]]:
    """The smallest hash of every window of ``w`` (rightmost on a tie), each position once."""
    if not hashes:
        return []
    kept, last = [], -1
    for start in range(max(1, len(hashes) - w + 1)):
        window = hashes[start : start + w]
        smallest = min(h for h, _, _ in window)
        position = start + max(i for i, (h, _, _) in enumerate(window) if h == smallest)
        if position != last:
            kept.append(hashes[position])
            last = position
    return kept


def fingerprint(source: str, base: str = "", k: int = K, w: int = W) -> Fingerprint:
    """The winnowed fingerprint of ``source`` without the hashes that ``base`` (the code
    every student was given) has."""
    given = {h for h, _, _ in _kgram_hashes(normalized_tokens(base), k)} if base else set()
    found = Fingerprint(source)
    for h, first, last in _winnow(_kgram_hashes(normalized_tokens(source), k), w):
        if h not in given:
            found.hashes.setdefault(h, []).append((first, last))
    return found


@dataclass
class Match:
    """How much two answers to one exercise share; ``lines_*``: the lines that match."""

    exercise: str
    left: str
    right: str
    containment: float  # shared hashes / the smaller answer's
    jaccard: float  # shared hashes / all hashes
    left_source: str = ""
    right_source: str = ""
    left_lines: set[int] = field(default_factory=set)
    right_lines: set[int] = field(default_factory=set)

    @property
    def score(self) -> float:
        return self.containment


def compare(
    a: Fingerprint, b: Fingerprint, exercise: str = "", left: str = "", right: str = ""
) -> Match | None:
    """The match between two fingerprints; ``None`` when either is too short to tell."""
    if min(len(a), len(b)) < MIN_FINGERPRINTS:
        return None
    shared = a.hashes.keys() & b.hashes.keys()
    match = Match(
        exercise,
        left,
        right,
        containment=len(shared) / min(len(a), len(b)),
        jaccard=len(shared) / len(a.hashes.keys() | b.hashes.keys()),
        left_source=a.source,
        right_source=b.source,
    )
    for h in shared:
        for lines, spans in ((match.left_lines, a.hashes[h]), (match.right_lines, b.hashes[h])):
            for first, last in spans:
                lines.update(range(first, last + 1))
    return match


def compare_batch(
    answers: dict[str, dict[str, str]],
    solutions: dict[str, str] | None = None,
    base: dict[str, str] | None = None,
) -> list[Match]:
    """Every comparable pair, the highest score first.

    answers : ``{submission: {exercise: its cell's source}}``
    solutions : ``{exercise: the published solution's cell}``, compared with every submission
    base : ``{exercise: the cell as handed out}``, removed from every answer first
    """
    solutions, base = solutions or {}, base or {}
    prints = {
        who: {name: fingerprint(source, base.get(name, "")) for name, source in cells.items()}
        for who, cells in answers.items()
    }
    published = {name: fingerprint(source, base.get(name, "")) for name, source in solutions.items()}
    found = []
    for left, right in itertools.combinations(sorted(prints), 2):
        for name in sorted(prints[left].keys() & prints[right].keys()):
            match = compare(prints[left][name], prints[right][name], name, left, right)
            if match:
                found.append(match)
    for who in sorted(prints):
        for name in sorted(prints[who].keys() & published.keys()):
            match = compare(prints[who][name], published[name], name, who, SOLUTIONS)
            if match:
                found.append(match)
    return sorted(found, key=lambda m: (-m.score, m.exercise, m.left, m.right))


def highest(matches: list[Match], who: str) -> str:
    """The CSV's ``similarity`` cell for submission ``who``: its highest score, with whom
    and on which exercise (``0.93 bob.ipynb: im2col``); empty when nothing was comparable or
    nothing is shared."""
    mine = [m for m in matches if who in (m.left, m.right)]
    if not mine:
        return ""
    best = max(mine, key=lambda m: m.score)
    if best.score <= 0:  # nothing shared: no one to name
        return ""
    other = best.right if best.left == who else best.left
    return f"{best.score:.2f} {other}: {best.exercise}"


# ---------------------------------------------------------------------- the report
def write_report(path, matches: list[Match], limit: float | None = None) -> int:
    """Write the pairs at or above ``limit`` (None: their exercise's ``threshold``) to
    ``path`` (``.html``, else Markdown), with their matching lines side by side. Returns how
    many pairs it lists.

    Everything a submission controls (its code, its file name) is escaped: HTML by
    ``html.escape``; Markdown inside a fence longer than any run of backticks in it."""
    flagged = [m for m in matches if m.score >= (threshold(m.exercise) if limit is None else limit)]
    path = Path(path)
    text = _html(flagged, limit) if path.suffix.lower() in (".html", ".htm") else _markdown(flagged, limit)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return len(flagged)


def _summary(m: Match) -> str:
    return (
        f"{m.exercise}: {m.left} and {m.right}: containment {m.containment:.2f} "
        f"(threshold {threshold(m.exercise):.2f}), jaccard {m.jaccard:.2f}"
    )


def _heading(count: int, limit: float | None) -> str:
    at = "its exercise's threshold" if limit is None else f"containment {limit:.2f}"
    return (
        f"{count} pair(s) of answers at or above {at} (winnowed token "
        f"fingerprints, k={K}, w={W}; identifiers, literals and comments normalised away). "
        "Matching lines are marked. A high score is a reason to read both answers, not a verdict."
    )


def _html(flagged: list[Match], limit: float | None) -> str:
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Similarity report</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;width:100%}"
        "td{vertical-align:top;border:1px solid #ccc;width:50%}pre{margin:0;white-space:pre-wrap}"
        ".same{background:#ffe08a}</style></head><body>",
        f"<h1>Similarity report</h1><p>{html.escape(_heading(len(flagged), limit))}</p>",
    ]
    for m in flagged:
        parts.append(f"<h2>{html.escape(_summary(m))}</h2><table><tr>")
        parts.append(f"<th>{html.escape(m.left)}</th><th>{html.escape(m.right)}</th></tr><tr>")
        for source, same in ((m.left_source, m.left_lines), (m.right_source, m.right_lines)):
            rows = []
            for number, line in enumerate(source.splitlines(), 1):
                marked = " class='same'" if number in same else ""
                rows.append(f"<span{marked}>{number:3d} {html.escape(line)}</span>")
            parts.append("<td><pre>" + "\n".join(rows) + "</pre></td>")
        parts.append("</tr></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _markdown_cell(text: str) -> str:
    """Text for a Markdown heading or table cell: no markup a file name could inject."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", " ".join(text.split()))


def _side_by_side(m: Match, width: int = 60) -> str:
    """The two answers in two columns, line by line; ``>`` marks a matching line."""
    left, right = m.left_source.splitlines(), m.right_source.splitlines()
    rows = []
    for number in range(1, max(len(left), len(right)) + 1):
        cells = []
        for lines, same in ((left, m.left_lines), (right, m.right_lines)):
            text = lines[number - 1].expandtabs(4) if number <= len(lines) else ""
            text = text if len(text) <= width else text[: width - 1] + "…"
            mark = ">" if number in same and number <= len(lines) else " "
            cells.append(f"{mark}{number:3d} {text:<{width}}")
        rows.append(" | ".join(cells).rstrip())
    return "\n".join(rows)


def _markdown(flagged: list[Match], limit: float | None) -> str:
    parts = ["# Similarity report", "", _markdown_cell(_heading(len(flagged), limit)), ""]
    for m in flagged:
        body = _side_by_side(m)
        fence = _fence(body)
        parts += [
            f"## {_markdown_cell(_summary(m))}",
            "",
            f"left: {_markdown_cell(m.left)}; right: {_markdown_cell(m.right)}; `>`: a matching line",
            "",
            fence,
            body,
            fence,
            "",
        ]
    return "\n".join(parts) + "\n"
