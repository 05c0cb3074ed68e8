"""Count the lines of Python a distribution installs, and hold minidl to its budget.

    python tools/line_budget.py           # minidl, the grader and the Keras door, per subpackage
    python tools/line_budget.py --check   # exit 1 when minidl is over its budget

A student installs ``minidl`` and may read all of it, so it has a size it must stay under (as
tinygrad's line counter holds tinygrad in its CI): at most ``BUDGET["lines"]`` lines as ``wc -l``
counts them and at most ``BUDGET["code"]`` lines of code (``GOAL`` is where the budget is
headed). A line of code is a line that holds a piece of Python (a name, an operator, a number, a string) other than a docstring: blank lines,
comments and docstrings are not code. Docstrings that teach are not what the budget is against;
tools that a student never runs and things written twice are.

What is counted is what ``pip install`` puts on disk: the ``.py`` files of the packages that
``[tool.setuptools.packages.find]`` in the distribution's ``pyproject.toml`` finds, and those its
``[tool.setuptools.package-data]`` globs copy beside them (``tests/tools/test_line_budget.py``
builds the wheel once to check that this is the same list).
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The installed minidl, at most (docs/ARCHITECTURE.md, "The library's budget"). The goal is
# 20,000 lines and 13,000 of code (issue 67); both are met.
# The ceiling follows the lines as they leave, never up again: 22,653 before issue 67; 20,702
# once bench/ and the maintainers' scripts left and the gallery's second Huber loss and ROC AUC
# went; raised once (21,400 -> 21,600) when three chapters' losses and the learner's help landed
# together (21,491); then 21,506 -> 20,960 when the layers no chapter uses (Conv1D and its
# pools, DepthwiseConv2D, SeparableConv2D) moved to the Keras door, over minidl's public
# ``Convolution``/``Pooling``; later chapters' work brought it to 21,132, and 21,132 -> 20,932
# when what only the door offers moved there too (the activations SELU, Swish, Softplus, ReLU6;
# the constraints UnitNorm, MinMaxNorm, NonNeg; the callbacks ModelCheckpoint, CSVLogger), the
# second orthogonal initializer and confusion matrix went, and ``python -m minidl``'s messages
# for what moved became one table; 20,932 -> 20,868 when three functions that only their own
# tests called (make_moons, make_circles, train_test_split) were removed; 20,868 -> 20,523 when
# the zoo's training script became tools/zoo_train.py and the public data's writer the grader's
# (minidl only reads it), what only its own tests called went (sentence_bleu, shift_images,
# GradCheckReport.max_error), the changed-input check was written once, and Fashion-MNIST,
# the mean absolute error loss, RMSprop(centered) and Adam(amsgrad) moved to the Keras door;
# 20,625 -> 20,475 when fitting on generators (BatchStream, steps_per_epoch, validation_steps)
# moved to the door over a public seam (fit reads any re-iterable source of batches), the
# downloaders only chapters' prose named (load_imdb, load_tatoeba_pairs) became
# tools/real_text.py, and the diffusion gallery's U-Net was built on layers.UNet (written once;
# the options it needs cost about as many lines as the second walk did); 20,475 -> 19,850 when
# each area wrote its repeated parts once: the Numba tier's twins compiled by one decorator and
# the CUDA tier's sequence launchers made one; every public case of check() judged in
# probes.py; the losses' configuration, from_logits and positive-parameter checks, the
# optimizers' kernel calls; the trainer's callback checks and validation, one walk over a
# model's arrays (Feeding moved to the door, its only user); the denoisers' base, the GAN's and
# VAE's epoch loop, the datasets' count and exclusion checks; the layers' rank and gradient
# checks and their (N, T, features) and (N, C, H, W) layouts. The goal is met: the ceiling
# is 19,850 (19,843 lines, rounded up to the next 25; 11,655 of code). Raised to the goal,
# 20,000, and no further, when the one thread pool landed (issue 73: kernels/blas_pool.py,
# 143 lines, OpenBLAS's products on Numba's threads; 19,984 lines then), its room made by shorter
# comments on the thread settings it replaced.
GOAL = {"lines": 20_000, "code": 13_000}
BUDGET = {"lines": 20_000, "code": 13_000}

# The distributions of the repository: their folder (holding pyproject.toml).
DISTRIBUTIONS = {"minidl": ROOT, "grader": ROOT / "grader", "keras_door": ROOT / "keras_door"}

# Tokens that are a piece of Python on a line (tinygrad's measure); NEWLINE, NL, INDENT, DEDENT,
# COMMENT and ENDMARKER are layout or comments.
CODE_TOKENS = {tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING}
if sys.version_info >= (3, 12):  # f-strings are split into tokens of their own from 3.12 on
    CODE_TOKENS |= {tokenize.FSTRING_START, tokenize.FSTRING_MIDDLE, tokenize.FSTRING_END}


@dataclass(frozen=True)
class Count:
    """The size of some Python: ``lines`` as ``wc -l`` counts them, ``code`` without docstrings,
    comments and blank lines."""

    lines: int
    code: int

    def __add__(self, other: Count) -> Count:
        return Count(self.lines + other.lines, self.code + other.code)


def docstring_lines(tree: ast.Module) -> set[int]:
    """The line numbers of every docstring: a string standing alone as a statement at the
    start of a module, class or function (and any other bare string statement: one more
    paragraph of documentation is not code either)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            assert node.end_lineno is not None
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def count_source(source: str) -> Count:
    """Count one file's text: lines (newline characters, as ``wc -l``) and lines of code."""
    docs = docstring_lines(ast.parse(source))
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in CODE_TOKENS:
            code.update(range(token.start[0], token.end[0] + 1))
    return Count(lines=source.count("\n"), code=len(code - docs))


def installed_files(project: Path) -> list[Path]:
    """The ``.py`` files ``pip install`` copies from ``project`` (a folder with pyproject.toml):
    every package ``packages.find`` includes (a folder with an ``__init__.py`` whose dotted name
    matches an ``include`` pattern) and the ``.py`` files its ``package-data`` globs name."""
    config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = config["packages"]["find"]["include"]
    packages = []
    tops = sorted({pattern.split(".")[0] for pattern in include})  # "minidl" of "minidl.*"
    for init in sorted(init for top in tops for init in (project / top).rglob("__init__.py")):
        folder = init.parent
        name = ".".join(folder.relative_to(project).parts)
        if any(fnmatchcase(name, pattern) for pattern in include):
            packages.append((name, folder))
    files = {path for _, folder in packages for path in folder.glob("*.py")}
    for package, patterns in config.get("package-data", {}).items():
        folder = project.joinpath(*package.split("."))
        for pattern in patterns:
            files.update(path for path in folder.glob(pattern) if path.suffix == ".py")
    return sorted(files)


def count_distribution(project: Path) -> dict[str, Count]:
    """The count of each top-level subpackage (``minidl/nn``, ...) of what ``project`` installs;
    the modules directly in the package's own folder are counted under its name (``minidl``)."""
    per_part: dict[str, Count] = defaultdict(lambda: Count(0, 0))
    for path in installed_files(project):
        parts = path.relative_to(project).parts
        part = "/".join(parts[:2]) if len(parts) > 2 else parts[0]
        per_part[part] += count_source(path.read_text(encoding="utf-8"))
    return dict(sorted(per_part.items()))


def total(counts: dict[str, Count]) -> Count:
    return sum(counts.values(), Count(0, 0))


def over_budget(counts: dict[str, Count], budget: dict[str, int] = BUDGET) -> list[str]:
    """What is over ``budget`` in minidl's counts (empty when it is within)."""
    whole = total(counts)
    return [
        f"{kind}: {getattr(whole, kind)} > {limit}"
        for kind, limit in budget.items()
        if getattr(whole, kind) > limit
    ]


def table(counts: dict[str, Count]) -> str:
    """One row per subpackage and a total: ``lines`` (wc -l) and ``code``."""
    rows = [f"{'':24} {'lines':>7} {'code':>7}"]
    rows += [f"{part:24} {c.lines:7d} {c.code:7d}" for part, c in counts.items()]
    whole = total(counts)
    rows.append(f"{'total':24} {whole.lines:7d} {whole.code:7d}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when minidl is over its budget")
    args = parser.parse_args(argv)
    for name, project in DISTRIBUTIONS.items():
        print(f"== {name} (installed .py files)\n{table(count_distribution(project))}\n")
    problems = over_budget(count_distribution(ROOT))
    budget = f"minidl's budget: {BUDGET['lines']} lines, {BUDGET['code']} of code"
    if problems:
        print(f"OVER {budget}: " + "; ".join(problems))
        return 1 if args.check else 0
    print(f"within {budget}")
    still = over_budget(count_distribution(ROOT), GOAL)
    print(f"the goal, {GOAL['lines']} lines and {GOAL['code']} of code: " + ("; ".join(still) or "reached"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
