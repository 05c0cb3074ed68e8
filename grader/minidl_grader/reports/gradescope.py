"""``minidl-grade package --chapter 03 -o autograder.zip``: a Gradescope autograder.

The zip holds, at its top level (Gradescope unpacks it into ``/autograder/source``):

* ``setup.sh`` -- run once when the image is built: installs Python, bubblewrap and
  minidl's dependencies (and IPython, whose input transformation reads magics), each pinned
  to the version installed where the package was built;
* ``run_autograder`` -- run for each submission: makes the grader's files readable by
  root only, then grades the notebook in ``/autograder/submission/`` for the pinned chapter
  into ``/autograder/results/results.json`` (one Gradescope object, always written); of
  several notebooks it grades the chapter's (``--one-notebook``) and says which in the output;
* ``minidl/`` -- the library, and ``minidl_grader/`` -- the grader (references included:
  they never leave the grader's process; the submission's process gets the stripped
  runtime, under bubblewrap where the image allows it, else as the unprivileged user
  ``nobody``);
* ``private_checks/`` -- the ``--checks`` files, if any.

``AUTOGRADER_ROOT`` (default ``/autograder``) and ``PYTHON`` (default ``python3``) may be
set to run the same script elsewhere, as the tests do.
"""

from __future__ import annotations

import argparse
import io
import re
import shlex
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from ..confinement.isolation import library_dir
from ..judge.registry import parse_chapter

__all__ = ["build_package", "main"]

_GRADER_DIR = Path(__file__).resolve().parents[1]  # .../minidl_grader

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-pip bubblewrap >/dev/null
python3 -m pip install --quiet --break-system-packages {requirements} \\
  || python3 -m pip install --quiet {requirements}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-python3}}"
SOURCE="$ROOT/source"
mkdir -p "$ROOT/results"
# the references and private checks: readable by root (the grader) only
chmod -R go-rwx "$SOURCE/minidl" "$SOURCE/minidl_grader" "$SOURCE/private_checks" "$SOURCE/course" 2>/dev/null || true
cd "$SOURCE"
# Gradescope takes one results object: of several notebooks, the chapter's is graded
PYTHONPATH="$SOURCE" exec "$PYTHON" -m minidl_grader grade --chapter {chapter} {checks}{course}{forbid}{allow}\\
  --timeout {timeout} {limits}--one-notebook --json "$ROOT/results/results.json" "$ROOT/submission"
"""


def _dependencies(pyproject: Path, default: list[str]) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject`` (``default`` where it cannot be read)."""
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    except (ImportError, OSError, KeyError):
        return default


def _pinned(requirement: str) -> str:
    """``requirement`` pinned to the version installed here, the one the instructor grades
    with (``numba>=0.58`` -> ``numba==0.61.2``), its marker kept; as given where it is not
    installed here."""
    from importlib import metadata

    spec, semicolon, marker = requirement.partition(";")
    name = re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0]
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return requirement
    return f"{name}=={version}" + (f";{marker}" if semicolon else "")


def _requirements() -> str:
    """minidl's and the grader's dependencies (from the pyproject.toml next to each
    package; the grader's ``minidl`` is the copy in the zip), plus IPython, each pinned to
    the version installed where the package is built (``_pinned``)."""
    library = _dependencies(library_dir().parent / "pyproject.toml", ["numpy", "numba", "matplotlib", "tqdm"])
    grader = _dependencies(_GRADER_DIR.parent / "pyproject.toml", ["tomli>=2; python_version < '3.11'"])
    deps = [*library, *(d for d in grader if d.split(";")[0].strip() != "minidl" and d not in library)]
    return " ".join(f'"{_pinned(d)}"' for d in [*deps, "ipython>=8"])


def build_package(
    output,
    chapter: str,
    checks=None,
    timeout: float = 60.0,
    forbid: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
    course=None,
    seed: int | None = None,
    memory: float | None = None,
    budget: float | None = None,
) -> Path:
    """Write the autograder zip for ``chapter`` to ``output`` and return its path.

    seed : the grading seed of every upload (default: a fresh one per upload)
    memory, budget : passed on to ``grade`` (GiB per submission's process; seconds per
        submission)

    course : a private course's folder (``--course``): its ``specs/`` and ``solutions/`` go
        into the package as ``course/``, readable by root (the grader) only"""
    if course is not None:
        from ..course import load

        load(course)
    chapter = parse_chapter(chapter)
    output = Path(output)
    checks_arg = '--checks "$SOURCE/private_checks" ' if checks else ""
    files = {
        "setup.sh": SETUP_SH.format(requirements=_requirements()),
        "run_autograder": RUN_AUTOGRADER.format(
            chapter=chapter,
            checks=checks_arg,
            course='--course "$SOURCE/course" ' if course is not None else "",
            forbid="".join(f"--forbid {shlex.quote(f)} " for f in forbid),
            allow="".join(f"--allow {shlex.quote(a)} " for a in allow),
            timeout=f"{timeout:g}",
            limits="".join(
                f"{option} {value:g} "
                for option, value in (("--seed", seed), ("--memory", memory), ("--budget", budget))
                if value is not None
            ),
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            archive.writestr(info, text)
        for package in (library_dir(), _GRADER_DIR):
            for path in sorted(package.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    archive.write(path, Path(package.name) / path.relative_to(package))
        for path in sorted(Path(checks).glob("*.py")) if checks else []:
            archive.write(path, Path("private_checks") / path.name)
        for folder, pattern in (("specs", "*.py"), ("solutions", "*.ipynb")) if course is not None else ():
            for path in sorted((Path(course) / folder).glob(pattern)):
                archive.write(path, Path("course") / folder / path.name)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(buffer.getvalue())
    shutil.move(tmp.name, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minidl-grade package",
        description="Build a Gradescope autograder zip for one chapter.",
    )
    parser.add_argument("--chapter", required=True, help="the assignment, e.g. 03")
    parser.add_argument("-o", "--output", type=Path, default=Path("autograder.zip"))
    parser.add_argument("--checks", type=Path, help="folder of private checks (*.py) to include")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per cell and call")
    parser.add_argument(
        "--seed", type=int, help="the seed every upload is graded with (default: a fresh one per upload)"
    )
    parser.add_argument("--memory", type=float, help="address-space limit of a submission's process, GiB")
    parser.add_argument("--budget", type=float, help="seconds for a whole submission (default 10 timeouts)")
    parser.add_argument(
        "--forbid",
        action="append",
        default=[],
        metavar="MODULE[.NAME]",
        help="passed on to the grader (see `minidl-grade grade --help`)",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAME",
        help="passed on to the grader (see `minidl-grade grade --help`)",
    )
    parser.add_argument(
        "--course", type=Path, help="a private course (specs/, solutions/) to include and grade with"
    )
    args = parser.parse_args(argv)
    try:
        path = build_package(
            args.output,
            args.chapter,
            args.checks,
            args.timeout,
            tuple(args.forbid),
            tuple(args.allow),
            args.course,
            args.seed,
            args.memory,
            args.budget,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it as the autograder of chapter {parse_chapter(args.chapter)}")
    return 0
