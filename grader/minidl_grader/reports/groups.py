"""Similar submissions by groups: what ``--similarity`` writes, and the CSV's group columns.

``similarity.py`` scores pairs of answers (the detector). Five copies of one answer are ten
pairs per exercise they share; an instructor reads them as one group. Here a group is a
connected component of the graph whose nodes are the submissions (and the published
solution) and whose edges are the pairs at or above their exercise's threshold (or
``limit``), on any exercise: two submissions are in one group when a chain of such pairs
joins them. Each group is shown once: its members, the table of their highest scores, and,
per exercise, every member's answer beside the group's most connected member's (``n - 1``
side-by-sides for ``n`` members, not ``n (n - 1) / 2``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import similarity
from ..similarity import SOLUTIONS, Match

__all__ = ["Group", "groups", "group_columns", "write_group_report"]


@dataclass
class Group:
    """One connected component: ``members`` sorted (the published solution last, if in it),
    ``pairs`` its flagged pairs, the highest score first."""

    number: int
    members: list[str]
    pairs: list[Match] = field(default_factory=list)

    @property
    def submissions(self) -> list[str]:
        return [m for m in self.members if m != SOLUTIONS]

    @property
    def exercises(self) -> list[str]:
        return sorted({m.exercise for m in self.pairs})

    @property
    def highest(self) -> float:
        return max(m.score for m in self.pairs)


def _limit(m: Match, limit: float | None) -> float:
    return similarity.threshold(m.exercise) if limit is None else limit


def groups(matches: list[Match], limit: float | None = None) -> list[Group]:
    """The groups of ``matches`` (``similarity.compare_batch``) joined by pairs at or above
    ``limit`` (None: each exercise's threshold), the largest first (then the highest
    score), numbered from 1. A submission in no flagged pair is in no group."""
    flagged = [m for m in matches if m.score >= _limit(m, limit)]
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for m in flagged:
        a, b = root(m.left), root(m.right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = {}
    for node in parent:
        members.setdefault(root(node), []).append(node)
    found = []
    for nodes in members.values():
        ordered = sorted(n for n in nodes if n != SOLUTIONS) + [n for n in nodes if n == SOLUTIONS]
        inside = set(nodes)
        pairs = sorted(
            (m for m in flagged if m.left in inside),
            key=lambda m: (-m.score, m.exercise, m.left, m.right),
        )
        found.append(Group(0, ordered, pairs))
    found.sort(key=lambda g: (-len(g.submissions), -g.highest, g.members))
    for number, group in enumerate(found, 1):
        group.number = number
    return found


def group_columns(found: list[Group]) -> dict[str, tuple[int, int]]:
    """``{submission: (its group's number, how many submissions the group holds)}`` for the
    CSV's ``similarity_group`` and ``group_size`` columns."""
    return {who: (g.number, len(g.submissions)) for g in found for who in g.submissions}


def _center(group: Group, exercise: str) -> str:
    """The member with the most flagged pairs on ``exercise`` (the published solution first
    where it is in one): every other answer is shown beside it."""
    degree: dict[str, int] = {}
    for m in group.pairs:
        if m.exercise == exercise:
            for who in (m.left, m.right):
                degree[who] = degree.get(who, 0) + 1
    return max(degree, key=lambda who: (who == SOLUTIONS, degree[who], -group.members.index(who)))


def _beside(group: Group, exercise: str, matches: list[Match]) -> list[tuple[Match, bool]]:
    """``(match, flipped)`` of each member's answer with the center's on ``exercise``
    (``flipped``: the center is the match's right side), those that were compared."""
    center = _center(group, exercise)
    by_pair = {(m.left, m.right): m for m in matches if m.exercise == exercise}
    shown = []
    for who in group.members:
        if who == center:
            continue
        if (center, who) in by_pair:
            shown.append((by_pair[(center, who)], False))
        elif (who, center) in by_pair:
            shown.append((by_pair[(who, center)], True))
    return shown


def _sides(m: Match, flipped: bool):
    left = (m.left, m.left_source, m.left_lines)
    right = (m.right, m.right_source, m.right_lines)
    return (right, left) if flipped else (left, right)


def _scores(group: Group) -> dict[tuple[str, str], Match]:
    """The highest flagged pair of each two members (either order)."""
    best: dict[tuple[str, str], Match] = {}
    for m in group.pairs:
        key = tuple(sorted((m.left, m.right)))
        if key not in best or m.score > best[key].score:
            best[key] = m  # type: ignore[index]
    return best


def _heading(found: list[Group], limit: float | None) -> str:
    at = "its exercise's threshold" if limit is None else f"containment {limit:.2f}"
    count = sum(len(g.submissions) for g in found)
    return (
        f"{len(found)} group(s) of similar answers, {count} submission(s) in all: two submissions "
        f"are in one group when a chain of pairs at or above {at} joins them (on any exercise; "
        f"winnowed token fingerprints, k={similarity.K}, w={similarity.W}). Each group is shown "
        "once: every answer beside its most connected member's, matching lines marked. A group "
        "is a reason to read the answers, not a verdict."
    )


_SAME = " class='same'"


def _marked(source: str, same: set[int]) -> str:
    """``source`` escaped, numbered, its matching lines marked."""
    return "\n".join(
        "<span" + (_SAME if number in same else "") + f">{number:3d} {html.escape(line)}</span>"
        for number, line in enumerate(source.splitlines(), 1)
    )


def _html(found: list[Group], matches: list[Match], limit: float | None) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Similarity report</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{vertical-align:top;border:1px solid #ccc;padding:2px 6px}.code td{width:50%}"
        "pre{margin:0;white-space:pre-wrap}.same{background:#ffe08a}</style></head><body>",
        f"<h1>Similarity report</h1><p>{e(_heading(found, limit))}</p>",
    ]
    for g in found:
        parts.append(
            f"<h2>Group {g.number}: {len(g.submissions)} submission(s)"
            + (" and the published solution" if SOLUTIONS in g.members else "")
            + f", highest {g.highest:.2f}</h2>"
        )
        parts.append("<p>" + e(", ".join(g.members)) + "; exercises: " + e(", ".join(g.exercises)) + "</p>")
        parts.append("<table><tr><th>pair</th><th>highest</th><th>exercise</th></tr>")
        for (a, b), m in sorted(_scores(g).items(), key=lambda item: -item[1].score):
            parts.append(
                f"<tr><td>{e(a)} &ndash; {e(b)}</td><td>{m.score:.2f}</td><td>{e(m.exercise)}</td></tr>"
            )
        parts.append("</table>")
        for exercise in g.exercises:
            parts.append(
                f"<h3>{e(exercise)} (threshold {similarity.threshold(exercise):.2f})</h3><table class='code'>"
            )
            for m, flipped in _beside(g, exercise, matches):
                sides = _sides(m, flipped)
                parts.append(
                    f"<tr><th>{e(sides[0][0])}</th><th>{e(sides[1][0])}: {m.score:.2f}</th></tr><tr>"
                )
                for _who, source, same in sides:
                    parts.append("<td><pre>" + _marked(source, same) + "</pre></td>")
                parts.append("</tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _md(text: str) -> str:
    """Text for a Markdown heading or table cell: no markup a file name could inject."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", " ".join(text.split()))


def _side_by_side(sides, width: int = 60) -> str:
    (_, left_source, left_same), (_, right_source, right_same) = sides
    left, right = left_source.splitlines(), right_source.splitlines()
    rows = []
    for n in range(1, max(len(left), len(right)) + 1):
        cells = []
        for lines, same in ((left, left_same), (right, right_same)):
            text = lines[n - 1].expandtabs(4) if n <= len(lines) else ""
            text = text if len(text) <= width else text[: width - 1] + "…"
            cells.append(f"{'>' if n in same and n <= len(lines) else ' '}{n:3d} {text:<{width}}")
        rows.append(" | ".join(cells).rstrip())
    return "\n".join(rows)


def _markdown(found: list[Group], matches: list[Match], limit: float | None) -> str:
    parts = ["# Similarity report", "", _md(_heading(found, limit)), ""]
    for g in found:
        with_solution = " and the published solution" if SOLUTIONS in g.members else ""
        parts += [
            f"## Group {g.number}: {len(g.submissions)} submission(s){with_solution}, highest {g.highest:.2f}",
            "",
            f"members: {_md(', '.join(g.members))}; exercises: {_md(', '.join(g.exercises))}",
            "",
            "| pair | highest | exercise |",
            "|---|---|---|",
            *(
                f"| {_md(a)} – {_md(b)} | {m.score:.2f} | {_md(m.exercise)} |"
                for (a, b), m in sorted(_scores(g).items(), key=lambda item: -item[1].score)
            ),
            "",
        ]
        for exercise in g.exercises:
            parts += [f"### {_md(exercise)} (threshold {similarity.threshold(exercise):.2f})", ""]
            for m, flipped in _beside(g, exercise, matches):
                sides = _sides(m, flipped)
                body = _side_by_side(sides)
                longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
                fence = "`" * max(3, longest + 1)
                parts += [
                    f"left: {_md(sides[0][0])}; right: {_md(sides[1][0])}; {m.score:.2f}; `>`: a matching line",
                    "",
                    fence,
                    body,
                    fence,
                    "",
                ]
    return "\n".join(parts) + "\n"


def write_group_report(path, matches: list[Match], limit: float | None = None) -> list[Group]:
    """Write the groups of ``matches`` to ``path`` (``.html``, else Markdown) and return
    them. Everything a submission controls (its code, its file name) is escaped: HTML by
    ``html.escape``; Markdown inside a fence longer than any run of backticks in it."""
    found = groups(matches, limit)
    path = Path(path)
    html_file = path.suffix.lower() in (".html", ".htm")
    text = _html(found, matches, limit) if html_file else _markdown(found, matches, limit)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return found
