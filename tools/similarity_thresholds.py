"""Set the similarity report's thresholds per exercise, and measure its error rates.

    python tools/similarity_thresholds.py          # rewrite the thresholds and the README's rates
    python tools/similarity_thresholds.py --check  # exit 1 if either is not what the data give

The data (issue 56, item 4):

- **independent right answers** -- ``tests/grader/specs/wrong_answers.py``'s ``RIGHT`` (an
  independent TA's answers, written from the task alone) and
  ``tests/grader/grading_similarity_data.py``'s ``HONEST`` (independent rewrites). An honest
  *pair* is one answer with the published solution, or two ``HONEST`` rewrites of one
  exercise with each other (``RIGHT``'s answers of one exercise share an author: not
  independent of each other).
- **copies** of every published solution, made by ``copies()`` (renamed and reformatted;
  independent statements reordered; no-op statements padded in; the reordered copy inside
  ``exec("...")``), and ``grading_similarity_data.COPIES`` (made by hand).

Each honest answer and each copy is in the *training* or the *held-out* half (CRC-32 of its
text; copies by seed), never both. The thresholds are set on the training half only:

1. an exercise is *formulaic* when its published solution keeps fewer than
   ``FORMULAIC_BELOW`` hashes after the base (short answers share runs by chance: Adam in
   four lines); the others are *long*;
2. each class's baseline is its training honest pairs' ``QUANTILE`` plus ``MARGIN`` (never
   below ``similarity.THRESHOLD``);
3. an exercise whose own training honest pairs reach its class's baseline gets its highest
   plus ``MARGIN`` (at most 1.0: above that it is not reported).

The held-out half then gives the rates written in ``grader/README.md`` (between the
``similarity-rates`` markers) and the thresholds in
``grader/minidl_grader/similarity_thresholds.json``, which the grader reads.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import itertools
import json
import random
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "grader"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from minidl_grader import cli, similarity  # noqa: E402

THRESHOLDS = ROOT / "grader" / "minidl_grader" / "similarity_thresholds.json"
README = ROOT / "grader" / "README.md"
BEGIN, END = "<!-- similarity-rates: tools/similarity_thresholds.py -->", "<!-- /similarity-rates -->"

FORMULAIC_BELOW = 3 * similarity.MIN_FINGERPRINTS  # kept hashes of the published solution
QUANTILE = 0.95  # of a class's training honest scores
MARGIN = 0.05
TRAIN_SEEDS, HELD_OUT_SEEDS = (0, 1), (2, 3)
LEVELS = ("renamed", "reordered", "padded", "in exec", "rewritten")
_FILLERS = ("pass", "_unused = None", "assert True", "print(end='')")


# ------------------------------------------------------------------ copies of a solution
def _names(node: ast.AST, ctx: type) -> set[str]:
    """Names ``node`` reads (``ast.Load``) or writes (``ast.Store``; ``x[i] = ...`` writes ``x``)."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ctx):
            found.add(n.id)
        if (
            ctx is ast.Store
            and isinstance(n, (ast.Subscript, ast.Attribute))
            and isinstance(n.ctx, ast.Store)
        ):
            base = n.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                found.add(base.id)
    return found


def independent(a: ast.stmt, b: ast.stmt) -> bool:
    """Two assignments that can swap places: neither reads or writes what the other writes."""
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign)
    if not (isinstance(a, simple) and isinstance(b, simple)):
        return False
    writes_a, writes_b = _names(a, ast.Store), _names(b, ast.Store)
    reads_a = _names(a, ast.Load) | (writes_a if isinstance(a, ast.AugAssign) else set())
    reads_b = _names(b, ast.Load) | (writes_b if isinstance(b, ast.AugAssign) else set())
    return not (writes_a & reads_b or writes_b & reads_a or writes_a & writes_b)


class _Copier(ast.NodeTransformer):
    """Renames every local name, swaps independent neighbours, pads in no-op statements."""

    def __init__(self, rng: random.Random, local: set[str], reorder: bool, pad: float):
        self.rng, self.local, self.reorder, self.pad = rng, local, reorder, pad
        self.renames: dict[str, str] = {}

    def _renamed(self, name: str) -> str:
        if name not in self.local or hasattr(builtins, name):
            return name
        if name not in self.renames:
            self.renames[name] = f"{self.rng.choice('abcdefghkmnpqrstuvwxyz')}{len(self.renames)}_"
        return self.renames[name]

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._renamed(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._renamed(node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            if isinstance(node.body[0].value.value, str):
                node.body[0].value.value = "My answer."  # the docstring rewritten
        return self.generic_visit(node)  # type: ignore[return-value]

    def _statements(self, body: list) -> list:
        body = [self.visit(s) for s in body]
        if self.reorder:
            i = 0
            while i < len(body) - 1:
                if independent(body[i], body[i + 1]) and self.rng.random() < 0.7:
                    body[i], body[i + 1] = body[i + 1], body[i]
                    i += 2
                else:
                    i += 1
        if self.pad:
            padded = []
            for statement in body:
                padded.append(statement)
                if self.rng.random() < self.pad:
                    padded.append(ast.parse(self.rng.choice(_FILLERS)).body[0])
            body = padded
        return body

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._statements(value))
            elif isinstance(value, list):
                setattr(node, name, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
        return node


def copies(source: str, seed: int) -> dict[str, str]:
    """What a student who pasted ``source`` might hand in, ``{level: cell}``: ``renamed``
    (every local name, the docstring and a comment changed, the layout reformatted),
    ``reordered`` (and independent neighbouring assignments swapped), ``padded`` (and a
    no-op statement after about one statement in four), ``in exec`` (the reordered copy as
    one ``exec("...")`` line). The names the cell defines or reads from outside are kept
    (the grader calls the function by its name)."""
    tree = ast.parse(source)
    local = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    outer = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    keep = (outer - local) | {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    keep |= {
        t.id for s in tree.body if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)
    }
    made = {}
    for level, reorder, pad in (("renamed", False, 0.0), ("reordered", True, 0.0), ("padded", True, 0.25)):
        copier = _Copier(random.Random(f"{seed}-{level}"), local - keep, reorder, pad)
        made[level] = "# my own work\n" + ast.unparse(copier.visit(ast.parse(source))) + "\n"
    made["in exec"] = f"exec({made['reordered']!r})\n"
    rewritten = _Rewriter(random.Random(f"{seed}-rewritten"), local).visit(ast.parse(made["reordered"]))
    made["rewritten"] = (
        "def _i(v):\n    return v\n\n\n" + ast.unparse(ast.fix_missing_locations(rewritten)) + "\n"
    )
    return made


class _Rewriter(ast.NodeTransformer):
    """The meaning-preserving rewrites of issue 68, on a copy: every read of a local name
    wrapped in an identity helper ``_i(...)``; the operands of + and * swapped; ``a @ b`` as
    ``np.matmul(a, b)``; ``x.f(...)`` as ``np.f(x, ...)`` and back; ``x ** 2`` as ``x * x``."""

    _METHODS = {"sum", "mean", "max", "min", "prod", "std", "var", "argmax", "argmin", "cumsum", "ravel"}

    def __init__(self, rng: random.Random, local: set[str]):
        self.rng, self.local = rng, {f"{c}{i}_" for c in "abcdefghkmnpqrstuvwxyz" for i in range(64)} | local

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.local:
            return ast.Call(func=ast.Name("_i", ast.Load()), args=[node], keywords=[])
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        if isinstance(node.op, (ast.Add, ast.Mult)) and self.rng.random() < 0.7:
            return ast.BinOp(left=node.right, op=node.op, right=node.left)
        if isinstance(node.op, ast.MatMult):
            func = ast.Attribute(value=ast.Name("np", ast.Load()), attr="matmul", ctx=ast.Load())
            return ast.Call(func=func, args=[node.left, node.right], keywords=[])
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and node.right.value == 2:
            if isinstance(node.left, (ast.Name, ast.Call, ast.Attribute)):
                return ast.BinOp(left=node.left, op=ast.Mult(), right=node.left)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = self.generic_visit(node)  # type: ignore[assignment]
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in self._METHODS:
            if isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy") and node.args:
                method = ast.Attribute(value=node.args[0], attr=func.attr, ctx=ast.Load())
                return ast.Call(func=method, args=node.args[1:], keywords=node.keywords)
            if not (isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy", "math")):
                np_func = ast.Attribute(value=ast.Name("np", ast.Load()), attr=func.attr, ctx=ast.Load())
                return ast.Call(func=np_func, args=[func.value, *node.args], keywords=node.keywords)
        return node


# ------------------------------------------------------------------ the data
def _held_out(text: str) -> bool:
    return zlib.crc32(text.encode()) % 2 == 1


def corpus() -> dict:
    """``honest`` and ``copies``: lists of ``(exercise, kind, source, held_out)``; a pair of
    two rewrites is ``(exercise, "pair", (a, b), held_out)``; ``solutions`` and ``base``."""
    from tests.grader.grading_similarity_data import COPIES, HONEST
    from tests.grader.specs.wrong_answers import RIGHT

    solutions, base = cli.published_solutions(ROOT / "solutions")
    honest, seen = [], set()
    for exercise, _, source in RIGHT:
        if exercise in solutions and (exercise, source) not in seen:
            seen.add((exercise, source))
            honest.append((exercise, "right answer", source, _held_out(source)))
    for exercise, answers in HONEST.items():
        for source in answers:
            if (exercise, source) not in seen:
                seen.add((exercise, source))
                honest.append((exercise, "rewrite", source, _held_out(source)))
        for a, b in itertools.combinations(answers, 2):
            if _held_out(a) == _held_out(b):  # a pair across the halves is in neither
                honest.append((exercise, "pair", (a, b), _held_out(a)))
    made = []
    for exercise, source in sorted(solutions.items()):
        for seed in TRAIN_SEEDS + HELD_OUT_SEEDS:
            for level, copy in copies(source, seed).items():
                made.append((exercise, level, copy, seed in HELD_OUT_SEEDS))
    for exercise, answers in COPIES.items():
        made += [(exercise, "by hand", source, _held_out(source)) for source in answers]
    return {"honest": honest, "copies": made, "solutions": solutions, "base": base}


def scores(data: dict) -> tuple[list, list]:
    """``(exercise, kind, held_out, score or None)`` of every honest pair and every copy
    (a copy against the solution it copies)."""
    solutions, base = data["solutions"], data["base"]
    prints: dict[tuple[str, str], similarity.Fingerprint] = {}

    def fp(exercise: str, source: str) -> similarity.Fingerprint:
        if (exercise, source) not in prints:
            prints[exercise, source] = similarity.fingerprint(source, base.get(exercise, ""))
        return prints[exercise, source]

    def score(exercise: str, a: str, b: str) -> float | None:
        match = similarity.compare(fp(exercise, a), fp(exercise, b))
        return match.score if match else None

    honest = [
        (e, kind, held, score(e, *s) if kind == "pair" else score(e, s, solutions[e]))
        for e, kind, s, held in data["honest"]
    ]
    made = [(e, kind, held, score(e, s, solutions[e])) for e, kind, s, held in data["copies"]]
    return honest, made


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def set_thresholds(data: dict, honest: list) -> dict:
    """The thresholds, from the training half (see the module's docstring)."""
    size = {e: len(similarity.fingerprint(s, data["base"].get(e, ""))) for e, s in data["solutions"].items()}
    kind = {e: "formulaic" if n < FORMULAIC_BELOW else "long" for e, n in size.items()}
    train = [(e, s) for e, _, held, s in honest if not held and s is not None]
    classes = {
        c: round(
            max(similarity.THRESHOLD, _quantile([s for e, s in train if kind[e] == c], QUANTILE) + MARGIN), 2
        )
        for c in ("formulaic", "long")
    }
    exercises = {}
    for e in sorted(size):
        own = max((s for x, s in train if x == e), default=0.0)
        exercises[e] = round(min(1.01, max(classes[kind[e]], own + MARGIN)), 2)
    return {
        "formulaic_below": FORMULAIC_BELOW,
        "classes": classes,
        "formulaic": sorted(e for e in size if kind[e] == "formulaic"),
        "exercises": exercises,
    }


def rates(thresholds: dict, honest: list, made: list, held_out: bool = True) -> dict:
    """False positives (honest pairs at or above their exercise's threshold) and false
    negatives (copies below it, or too short to compare) of one half."""
    limit = thresholds["exercises"]
    mine = [h for h in honest if h[2] == held_out]
    copies_ = [c for c in made if c[2] == held_out]
    fp = [h for h in mine if h[3] is not None and h[3] >= limit[h[0]]]
    fn = [c for c in copies_ if c[3] is None or c[3] < limit[c[0]]]
    short = [c for c in copies_ if c[3] is None]
    by_level = {}
    for level in (*LEVELS, "by hand"):
        these = [c for c in copies_ if c[1] == level]
        by_level[level] = (sum(c in fn for c in these), len(these))
    return {
        "honest": len(mine),
        "false positives": fp,
        "copies": len(copies_),
        "false negatives": fn,
        "too short": short,
        "by level": by_level,
        "global": {  # the one threshold of before, on the same half
            "false positives": sum(h[3] is not None and h[3] >= similarity.THRESHOLD for h in mine),
            "false negatives": sum(c[3] is None or c[3] < similarity.THRESHOLD for c in copies_),
        },
    }


def _percent(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.1f}%)" if n else "0/0"


def report(thresholds: dict, honest: list, made: list) -> str:
    """The README's block: the classes, the exercises above their class, the rates."""
    held, train = rates(thresholds, honest, made, True), rates(thresholds, honest, made, False)
    classes = thresholds["classes"]
    raised = {
        e: t
        for e, t in thresholds["exercises"].items()
        if t > classes["formulaic" if e in thresholds["formulaic"] else "long"]
    }
    short = sorted({c[0] for c in held["too short"]})
    lines = [
        BEGIN,
        f"Thresholds (`grader/minidl_grader/similarity_thresholds.json`): formulaic exercises (a published "
        f"solution of fewer than {thresholds['formulaic_below']} kept hashes, "
        f"{len(thresholds['formulaic'])} exercises) {classes['formulaic']:.2f}, the other "
        f"{len(thresholds['exercises']) - len(thresholds['formulaic'])} {classes['long']:.2f}; raised "
        "on their own answers: "
        + ", ".join(
            f"`{e}` {t:.2f}" + (" (never reported)" if t > 1 else "") for e, t in sorted(raised.items())
        )
        + ".",
        "",
        "| half | honest pairs | false positives | copies | false negatives | of which too short to compare |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in (("training", train), ("held-out", held)):
        lines.append(
            f"| {name} | {r['honest']} | {_percent(len(r['false positives']), r['honest'])} | {r['copies']} | "
            f"{_percent(len(r['false negatives']), r['copies'])} | {len(r['too short'])} |"
        )
    lines += [
        "",
        "Held-out false negatives by kind of copy: "
        + "; ".join(f"{level} {_percent(*held['by level'][level])}" for level in (*LEVELS, "by hand"))
        + f". Too short to compare: {', '.join(f'`{e}`' for e in short) or 'none'}.",
        f"The held-out false positives: {', '.join(sorted(f'`{h[0]}` {h[3]:.2f}' for h in held['false positives'])) or 'none'}.",
        f"With one threshold of {similarity.THRESHOLD} for every exercise (before), the held-out half "
        f"had {_percent(held['global']['false positives'], held['honest'])} false positives and "
        f"{_percent(held['global']['false negatives'], held['copies'])} false negatives.",
        END,
    ]
    return "\n".join(lines)


def measure() -> tuple[dict, str]:
    data = corpus()
    honest, made = scores(data)
    thresholds = set_thresholds(data, honest)
    return thresholds, report(thresholds, honest, made)


def _with_block(text: str, block: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    args = parser.parse_args(argv)
    thresholds, block = measure()
    written = json.dumps(thresholds, indent=1, sort_keys=True) + "\n"
    readme = _with_block(README.read_text(encoding="utf-8"), block)
    stale = [
        path
        for path, text in ((THRESHOLDS, written), (README, readme))
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run python tools/similarity_thresholds.py)")
        return 1 if stale else 0
    THRESHOLDS.write_text(written, encoding="utf-8")
    README.write_text(readme, encoding="utf-8")
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
