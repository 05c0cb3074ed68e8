"""``minidl-grade package --chapter 03 -o autograder.zip``: a Gradescope autograder.

The zip holds, at its top level (Gradescope unpacks it into ``/autograder/source``):

* ``setup.sh`` -- run once when the image is built: installs Python, bubblewrap and
  minidl's dependencies (and IPython, whose input transformation reads magics) from
  ``requirements-3.X.txt``, the file of the image's Python;
* ``requirements-3.X.txt`` -- one per Python the package is built for (``--python``,
  default 3.10, 3.11 and 3.12): each requirement pinned to the version installed where the
  package is built (what the instructor grades with) where that version has a wheel for
  that Python, else to the newest that has one and satisfies the project's own bound
  (``resolve``: pip itself is asked, the way the image's pip will be: ``pip download
  --only-binary :all: --no-deps --python-version 3.X``); a requirement that resolves for
  none stops the packaging with its name;
* ``run_autograder`` -- run for each submission: makes the grader's files readable by
  root only, then grades the notebook in ``/autograder/submission/`` for the pinned chapter
  into ``/autograder/results/results.json`` (one Gradescope object, always written); of
  several notebooks it grades the chapter's (``--one-notebook``) and says which in the output;
  it refuses to grade where bubblewrap cannot isolate a submission (``--require-isolation``,
  unless the package was built with ``--allow-unisolated``), and ``extra_data.isolation``
  says how each upload ran; the questions' results are shown after the due date
  (``--questions``);
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
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..confinement.isolation import library_dir
from ..judge.registry import parse_chapter

__all__ = ["build_package", "main", "resolve", "requirements_for", "Unresolvable", "PYTHONS"]

PYTHONS = ("3.10", "3.11", "3.12")  # Gradescope's Ubuntu 22.04 and 24.04 images, and between
# the wheels pip may install on Gradescope's images (x86-64 Linux): the tags of manylinux
# wheels built for glibc 2.17 to 2.35 (Ubuntu 22.04), and pure-Python ones
PLATFORMS = (
    "manylinux_2_35_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "linux_x86_64",
)
QUESTIONS = {"after-due-date": "after_due_date", "hidden": "hidden", "visible": "visible"}

_GRADER_DIR = Path(__file__).resolve().parents[1]  # .../minidl_grader

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
PYTHON="${{PYTHON:-python3}}"
if [ -z "${{SKIP_APT:-}}" ]; then
  apt-get update -qq
  apt-get install -y -qq python3 python3-pip bubblewrap >/dev/null
fi
# the requirements resolved for this image's Python when the package was built
VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
REQUIREMENTS="$SOURCE/requirements-$VERSION.txt"
if [ ! -f "$REQUIREMENTS" ]; then
  echo "this image's Python is $VERSION; this autograder was built for Python {pythons}:" >&2
  echo "rebuild it with: minidl-grade package ... --python $VERSION" >&2
  exit 1
fi
echo "installing the requirements for Python $VERSION: $REQUIREMENTS"
"$PYTHON" -m pip install --quiet --break-system-packages -r "$REQUIREMENTS" \\
  || "$PYTHON" -m pip install --quiet -r "$REQUIREMENTS"
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
  --timeout {timeout} {limits}{isolation}--no-published --question-visibility {questions} \\
  --one-notebook --json "$ROOT/results/results.json" "$ROOT/submission"
"""


def _dependencies(pyproject: Path, distribution: str, default: list[str]) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject`` (a source tree), else those the
    installed ``distribution``'s metadata lists (an install from a wheel: no pyproject.toml
    beside the package; its extras left out), else ``default``."""
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    except (ImportError, OSError, KeyError):
        pass
    from importlib import metadata

    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return default
    # "numba>=0.58", "aclsum>=0.1.2; python_version >= \"3.11\"": the marker as the pyproject writes it
    listed = [r.replace('"', "'") for r in requires if "extra ==" not in r]
    return [r.replace(" ; ", "; ") for r in listed] or default


class Unresolvable(ValueError):
    """A requirement that no wheel satisfies for a Python (its name and the Python)."""


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0]


def _pinned(requirement: str) -> str:
    """``requirement`` pinned to the version installed here, the one the instructor grades
    with (``numba>=0.58`` -> ``numba==0.61.2``), its marker kept; as given where it is not
    installed here."""
    from importlib import metadata

    spec, semicolon, marker = requirement.partition(";")
    name = _name(spec)
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return requirement
    return f"{name}=={version}" + (f";{marker}" if semicolon else "")


def _applies(requirement: str, python: str) -> bool:
    """Whether ``requirement``'s environment marker (if any) holds on CPython ``python``
    on Linux (``aclsum; python_version >= '3.11'`` is left out of 3.10's list)."""
    _, semicolon, marker = requirement.partition(";")
    if not semicolon:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # pip's own copy, wherever pip is
        from pip._vendor.packaging.markers import Marker  # type: ignore[assignment]
    return Marker(marker.strip()).evaluate(
        {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
         "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
         "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    )  # fmt: skip


def _pip_download(requirements: list[str], python: str, folder: Path) -> tuple[bool, str]:
    """``pip download`` of ``requirements`` (no dependencies, wheels only) for CPython
    ``python`` on Gradescope's platform into ``folder``: ``(it worked, pip's error text)``."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
               "--python-version", python, "--implementation", "cp",
               *(f"--platform={p}" for p in PLATFORMS), "-d", str(folder), *requirements]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    errors = "\n".join(line for line in run.stderr.splitlines() if line.startswith("ERROR"))
    return run.returncode == 0, errors or run.stderr[-2000:]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _pin_to_wheel(requirement: str, folder: Path) -> str:
    """``requirement`` pinned to the version of its wheel in ``folder`` where it is not pinned."""
    if "==" in requirement:
        return requirement
    name = _normal(_name(requirement))
    for wheel in sorted(folder.glob("*.whl")):
        if _normal(wheel.name.split("-")[0]) == name:
            return f"{_name(requirement)}=={wheel.name.split('-')[1]}"
    return requirement


def _failed(errors: str) -> str | None:
    found = re.search(r"satisf(?:y|ies) the requirement (\S+)", errors)
    return _name(found.group(1)) if found else None


def resolve(requirements: list[str], python: str, bounds: dict[str, str] | None = None) -> list[str]:
    """``requirements`` (pinned, markers allowed) made installable on CPython ``python``: those
    whose marker holds there, each kept as pinned where pip finds a wheel of that version
    for it, else pinned to the newest wheel pip finds within the project's own bound
    (``bounds``: name -> the requirement as the pyproject.toml writes it). Asks the package index
    the way the image's pip will (``_pip_download``); ``Unresolvable`` names the first
    requirement that nothing satisfies for ``python``."""
    wanted = [r.partition(";")[0].strip() for r in requirements if _applies(r, python)]
    with tempfile.TemporaryDirectory(prefix="minidl-resolve-") as folder:
        for _ in range(len(wanted) + 1):
            ok, errors = _pip_download(wanted, python, Path(folder))
            if ok:  # a requirement not installed here is pinned to the wheel pip chose
                return [_pin_to_wheel(r, Path(folder)) for r in wanted]
            name = _failed(errors)
            index = next((i for i, r in enumerate(wanted) if name and _name(r).lower() == name.lower()), None)
            if index is None:
                raise Unresolvable(f"pip cannot resolve the requirements for Python {python}: {errors}")
            loose = (bounds or {}).get(_name(wanted[index]).lower(), _name(wanted[index]))
            if loose == wanted[index]:
                raise Unresolvable(
                    f"{_name(loose)} does not resolve for Python {python}: no wheel of "
                    f"{loose!r} for CPython {python} on x86-64 Linux ({errors.splitlines()[-1] if errors else ''})"
                )
            newest = Path(folder) / "newest"
            ok, more = _pip_download([loose], python, newest)
            if not ok:
                raise Unresolvable(
                    f"{_name(loose)} does not resolve for Python {python}: neither {wanted[index]!r} "
                    f"(the version installed here) nor any {loose!r} has a wheel for CPython {python} "
                    "on x86-64 Linux"
                )
            wheels = sorted(newest.glob("*.whl"))
            if not wheels:
                raise Unresolvable(f"{_name(loose)}: pip found no wheel for Python {python}")
            wheel = wheels[0]
            wanted[index] = f"{_name(loose)}=={wheel.name.split('-')[1]}"
            shutil.rmtree(newest)
    raise Unresolvable(f"the requirements do not resolve for Python {python}")


def _requirement_list(extra: tuple[str, ...] = (), bounds: dict[str, str] | None = None) -> list[str]:
    """minidl's and the grader's dependencies (from the pyproject.toml next to each
    package; the grader's ``minidl`` is the copy in the zip), plus IPython and ``extra``
    (``--allow-import``, a course's requirements.txt), each pinned to the version installed
    where the package is built (``_pinned``); ``bounds`` is filled with each one unpinned."""
    library = _dependencies(
        library_dir().parent / "pyproject.toml", "minidl", ["numpy", "numba", "matplotlib", "tqdm"]
    )
    grader = _dependencies(
        _GRADER_DIR.parent / "pyproject.toml", "minidl-grader", ["tomli>=2; python_version < '3.11'"]
    )
    deps = [*library, *(d for d in grader if d.split(";")[0].strip() != "minidl" and d not in library)]
    deps = [
        *deps,
        "ipython>=8",
        *(e for e in extra if _name(e).lower() not in {_name(d).lower() for d in deps}),
    ]
    if bounds is not None:
        bounds.update((_name(r).lower(), r.partition(";")[0].strip()) for r in deps)
    return [_pinned(d) for d in deps]


def requirements_for(pythons: tuple[str, ...], extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """``{python: its requirements}`` (``resolve``) for each of ``pythons``; ``Unresolvable``
    names a requirement that does not resolve for one of them."""
    bounds: dict[str, str] = {}
    pinned = _requirement_list(extra, bounds)
    return {python: resolve(pinned, python, bounds) for python in pythons}


def _course_requirements(course) -> tuple[str, ...]:
    """The lines of a course's ``requirements.txt`` (what its notebooks import beyond minidl)."""
    path = Path(course) / "requirements.txt" if course is not None else None
    if path is None or not path.is_file():
        return ()
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line)


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
    pythons: tuple[str, ...] = PYTHONS,
    check_index: bool = True,
    require_isolation: bool = True,
    questions: str = "after-due-date",
    allow_import: tuple[str, ...] = (),
) -> Path:
    """Write the autograder zip for ``chapter`` to ``output`` and return its path.

    seed : the grading seed of every upload (default: a fresh one per upload)
    memory, budget : passed on to ``grade`` (GiB per submission's process; seconds per
        submission)
    course : a private course's folder (``--course``): its ``specs/``, ``solutions/`` and ``hidden/`` go
        into the package as ``course/``, readable by root (the grader) only; the lines of
        its ``requirements.txt`` are installed with minidl's
    pythons : the Pythons the image may have: a ``requirements-3.X.txt`` each
    check_index : ask the package index that every requirement resolves for each Python
        (``resolve``) before writing anything; without, the pins are written unchecked
    require_isolation : the upload is refused (a results.json that says why) where
        bubblewrap cannot isolate it
    questions : ``QUESTIONS``' key: when students see the questions' results
    allow_import : modules the notebooks may import beyond minidl's dependencies (pip
        requirements), installed by ``setup.sh``

    ``ValueError`` (``Unresolvable``: the requirement and the Python) where it cannot."""
    if questions not in QUESTIONS:
        raise ValueError(f"--questions takes one of {', '.join(QUESTIONS)}, got {questions!r}")
    bad = [v for v in pythons if not re.fullmatch(r"3\.\d{1,2}", v)]
    if bad or not pythons:
        raise ValueError(f"--python takes versions such as 3.10 or 3.10,3.12, got {list(pythons)}")
    if course is not None:
        from ..course import load

        load(course)
    chapter = parse_chapter(chapter)
    output = Path(output)
    extra = (*allow_import, *_course_requirements(course))
    if check_index:
        by_python = requirements_for(tuple(pythons), extra)
    else:
        pinned = _requirement_list(extra)
        by_python = {v: [r.partition(";")[0].strip() for r in pinned if _applies(r, v)] for v in pythons}
    checks_arg = '--checks "$SOURCE/private_checks" ' if checks else ""
    files = {
        "setup.sh": SETUP_SH.format(pythons=", ".join(pythons)),
        **{
            f"requirements-{v}.txt": f"# resolved for CPython {v} by minidl-grade package"
            + ("" if check_index else " (NOT checked against the package index)")
            + "\n"
            + "".join(f"{r}\n" for r in reqs)
            for v, reqs in by_python.items()
        },
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
            isolation="--require-isolation " if require_isolation else "",
            questions=QUESTIONS[questions],
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if not name.endswith(".txt") else 0o644) << 16
            archive.writestr(info, text)
        for package in (library_dir(), _GRADER_DIR):
            for path in sorted(package.rglob("*")):
                inside = path.relative_to(package).parts
                if (
                    path.is_file()
                    and "__pycache__" not in inside
                    and path.suffix != ".pyc"
                    and inside[0] != "published"  # an installed grader's copy of the notebooks
                ):
                    archive.write(path, Path(package.name) / path.relative_to(package))
        for path in sorted(Path(checks).glob("*.py")) if checks else []:
            archive.write(path, Path("private_checks") / path.name)
        # hidden/: a private project's own hidden data (projects.py), for the grader only
        folders = (("specs", "*.py"), ("solutions", "*.ipynb"), ("hidden", "*"))
        for folder, pattern in folders if course is not None else ():
            for path in sorted((Path(course) / folder).glob(pattern)):
                archive.write(path, Path("course") / folder / path.name)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(buffer.getvalue())
    shutil.move(tmp.name, output)
    return output


def _versions(text: str) -> tuple[str, ...]:
    """``3.10,3.12`` or ``3.10-3.12`` (every minor version between) as a tuple."""
    versions: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, dash, high = part.partition("-")
        if dash and re.fullmatch(r"3\.\d+", low) and re.fullmatch(r"3\.\d+", high):
            versions += [f"3.{m}" for m in range(int(low[2:]), int(high[2:]) + 1)]
        else:
            versions.append(part)
    return tuple(dict.fromkeys(versions))


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
        "--course",
        type=Path,
        help="a private course (specs/, solutions/, and an optional requirements.txt) to include "
        "and grade with",
    )
    parser.add_argument(
        "--python",
        default=",".join(PYTHONS),
        help="the Python(s) of the Gradescope image: 3.10, a list 3.10,3.12 or a range 3.10-3.12 "
        f"(default {','.join(PYTHONS)}): a requirements file each, which setup.sh picks from",
    )
    parser.add_argument(
        "--no-index-check",
        dest="check_index",
        action="store_false",
        help="do not ask the package index that every requirement resolves for each Python "
        "(offline; the pins are written unchecked)",
    )
    parser.add_argument(
        "--allow-unisolated",
        dest="require_isolation",
        action="store_false",
        help="grade even where bubblewrap cannot isolate an upload (as an ordinary process; "
        "results.json's extra_data says so). Default: refuse, with a results.json that says why",
    )
    parser.add_argument(
        "--questions",
        choices=tuple(QUESTIONS),
        default="after-due-date",
        help="when students see the questions' results (Gradescope's per-test visibility; "
        "default after-due-date: an answer cannot be found by uploading each choice in turn)",
    )
    parser.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="a package the notebooks may import beyond minidl's dependencies (e.g. seaborn): "
        "installed by setup.sh, resolved like the others; repeat for several",
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
            pythons=_versions(args.python),
            check_index=args.check_index,
            require_isolation=args.require_isolation,
            questions=args.questions,
            allow_import=tuple(args.allow_import),
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {path}: upload it as the autograder of chapter {parse_chapter(args.chapter)} "
        f"(for Python {args.python}"
        + ("" if args.check_index else ", requirements NOT checked against the package index")
        + ")"
    )
    return 0
