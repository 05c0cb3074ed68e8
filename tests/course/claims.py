"""Numbers in a chapter's prose, bound to the outputs that computed them.

A chapter's markdown binds a number to its evidence with an HTML comment right after it (the
comment is invisible in JupyterLab and in the book)::

    from 5.17 to 1.82<!-- claim: out("vocabulary +1000: ([\\d.]+) tokens") --> tokens per word
    the model misses 44.5<!-- claim: 100 * (1 - out("sensitivity ([\\d.]+)")) ± 1 --> % of them

``EXPR`` is arithmetic (``+ - * / **``, parentheses, numbers) over ``out("regex")``: the number
that the regex's first group captures in the chapter's outputs (the regex is read as a raw
string: one backslash before ``d`` means a digit), the text that the code cells
print (streams and ``text/plain``). The regex must match exactly once in all the outputs
(``out("regex", k)`` takes the k-th match, from 0, where a table prints several); a thousands
comma in the captured number is dropped. The prose's number (the last number written before
the comment, a thousands comma allowed) stands for what rounds to it: "44.5" for anything within
half a unit of its last digit, "58,000" (a whole number whose last comma group is zeros) for
anything within 500.

Two checks read the bindings. ``tests/course/test_claims.py`` evaluates them against the
stored outputs (``make test-unit``: no execution): there the prose must say what the output
beside it says, to the digits it writes, so prose edited away from its outputs, or outputs
re-stored without the prose, fail. The repository's ``conftest.py`` evaluates them against the
outputs that nbval has just recomputed (``make test``, ``make test-portable``: every CPU path
CI runs), within the tolerance after ``±`` where one is written: absolute (``± 2``) or relative
(``± 10%``). A training result, which differs in its last digits from CPU to CPU, needs the
tolerance that holds on every machine; the reader of the stored chapter still sees the prose and
its output agree.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "ClaimError", "claims_in", "outputs_of_cells", "check", "failures"]

# NUMBER then the marker; the number may be bold, followed by a unit or a "%" or "×".
MARKER = re.compile(r"<!--\s*claim:\s*(?P<body>.*?)\s*-->", re.S)
PROSE_NUMBER = re.compile(r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(?![\d])")
# What may stand between the number and its marker: a unit, a sign, emphasis.
BETWEEN = re.compile(r"^(?:\s*(?:%|×|x|\*\*|\*|\$|s|ms|bits?|points?|times)\s*)*$")
TOLERANCE = re.compile(r"^(?P<expr>.*?)\s*±\s*(?P<tol>\d+(?:\.\d+)?)\s*(?P<rel>%?)$", re.S)


class ClaimError(ValueError):
    """A claim that cannot be evaluated: a bad expression, a regex that matches no output or
    several, or a marker with no number before it."""


@dataclass(frozen=True)
class Claim:
    """One bound number: the prose's text, the expression and the tolerance it is checked with."""

    written: str  # the number as the prose writes it ("44.5", "19,493")
    expr: str  # the arithmetic over out("regex")
    tolerance: float  # absolute, or relative when `relative`
    relative: bool
    context: str  # the prose around the number, for the failure message

    @property
    def value(self) -> float:
        return float(self.written.replace(",", ""))

    @property
    def rounding(self) -> float:
        """Half a unit of the last digit written: 0.05 for "44.5", 0.5 for "19,493", 500 for "58,000"."""
        if "." in self.written:
            return 0.5 * 10.0 ** -len(self.written.split(".")[1])
        zero_groups = len(re.search(r"(?:,000)*$", self.written).group(0)) // 4
        return 0.5 * 1000.0**zero_groups

    def allowed(self, computed: float, stored: bool = False) -> float:
        """How far the computed value may be from the written one: its rounding for a stored
        output (what the reader sees beside the prose), else the tolerance where it is larger."""
        tolerance = 0.0 if stored else self.tolerance * abs(computed) if self.relative else self.tolerance
        return max(self.rounding, tolerance) * (1 + 1e-9)


def claims_in(markdown: str) -> list[Claim]:
    """Every claim marker of a chapter's markdown, with the number written before it."""
    found = []
    for marker in MARKER.finditer(markdown):
        before = markdown[: marker.start()]
        numbers = list(PROSE_NUMBER.finditer(before[-40:]))
        context = " ".join(before[-70:].split())
        if not numbers or not BETWEEN.match(before[-40:][numbers[-1].end() :]):
            raise ClaimError(f"claim marker with no number right before it: ...{context!r}")
        body = marker.group("body")
        tolerance = TOLERANCE.match(body)
        expr, tol, rel = (
            (tolerance["expr"], float(tolerance["tol"]), bool(tolerance["rel"]))
            if tolerance
            else (body, 0.0, False)
        )
        found.append(Claim(numbers[-1].group(1), expr.strip(), tol / 100 if rel else tol, rel, context))
    return found


def outputs_of_cells(cells) -> list[str]:
    """The printed text of each code cell (streams and ``text/plain``), stored or fresh."""
    texts = []
    for cell in cells:
        if cell.get("cell_type", "code") != "code":
            continue
        text = ""
        for output in cell.get("outputs", []) or []:
            text += "".join(output.get("text", ""))
            text += "".join(output.get("data", {}).get("text/plain", ""))
        texts.append(text)
    return texts


_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
)


def evaluate(expr: str, outputs: list[str]) -> float:
    """The value of a claim's expression over a chapter's outputs."""
    expr = re.sub(r"\bout\(\s*([\"'])", r"out(r\1", expr)  # the regex is read as a raw string
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as error:
        raise ClaimError(f"claim {expr!r} is not an expression: {error}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED) or (isinstance(node, ast.Name) and node.id != "out"):
            raise ClaimError(f"claim {expr!r}: only arithmetic over out('regex') is allowed")
    text = "\n".join(outputs)

    def out(pattern: str, index: int | None = None) -> float:
        matches = list(re.finditer(pattern, text))
        if index is None and len(matches) != 1:
            raise ClaimError(f"out({pattern!r}) matches {len(matches)} times in the outputs, not once")
        if index is not None and index >= len(matches):
            raise ClaimError(f"out({pattern!r}, {index}) but it matches {len(matches)} times")
        return float(matches[index or 0].group(1).replace(",", ""))

    return float(eval(compile(tree, "<claim>", "eval"), {"__builtins__": {}}, {"out": out}))


def check(claim: Claim, outputs: list[str], stored: bool = False) -> str | None:
    """None when the claim holds on these outputs (``stored``: the chapter's own, checked to the
    written digits), else what is wrong."""
    try:
        computed = evaluate(claim.expr, outputs)
    except ClaimError as error:
        return f"...{claim.context}: {error}"
    allowed = claim.allowed(computed, stored)
    if abs(claim.value - computed) <= allowed:
        return None
    where = "its stored output gives" if stored else "its output gives"
    return (
        f"...{claim.context}: the prose says {claim.written}, {where} {computed:.6g} "
        f"(claim: {claim.expr}; allowed difference {allowed:.3g})"
    )


def markdown_of(notebook: dict) -> str:
    return "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")


def failures(notebook: dict, cells=None) -> list[str]:
    """The claims of a notebook that its outputs do not support: the stored outputs, to the
    digits the prose writes, or those of ``cells`` (code cells as nbval ran them, in order),
    within each claim's tolerance."""
    stored = cells is None
    outputs = outputs_of_cells(notebook["cells"] if stored else cells)
    try:
        claims = claims_in(markdown_of(notebook))
    except ClaimError as error:
        return [str(error)]
    return [problem for claim in claims if (problem := check(claim, outputs, stored))]


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
