"""The grader's front door: ``minidl-grade {grade, package, release, public-data, mistakes, mutants} ...``.

``minidl-grade`` is the console command of the ``minidl-grader`` distribution
(``pip install ./grader``); ``python -m minidl_grader ...`` is the same command.
"""

import importlib
import sys

# each command and the module whose ``main`` (or the function after a colon) runs it, imported
# only when that command is given
_MAINS = {
    "grade": "cli",
    "package": "reports.gradescope",
    "release": "release",
    "public-data": "public",
    "mistakes": "catalogue",
    "mutants": "catalogue:mutants_main",  # loads --course, then judge.mutants.main
}
COMMANDS = tuple(_MAINS)
USAGE = """usage: minidl-grade grade NOTEBOOK ... [options]   grade submissions (see minidl-grade grade --help)
       minidl-grade package --chapter NN -o autograder.zip   a Gradescope autograder
       minidl-grade release [--check] [--out DIR]      regenerate exercises/ from solutions/; a student release
       minidl-grade public-data                        the public cases minidl's check() uses (data)
       minidl-grade mistakes --chapter NN [--course DIR]   the wrong answers each exercise's cases catch
       minidl-grade mutants --chapter NN [--exercise NAME] [--course DIR]   the mutants the cases kill
       (python -m minidl_grader ... is the same command)"""


def main(argv=None) -> int:
    """Run ``argv`` = ``[command, *arguments]`` with command one of ``COMMANDS``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _MAINS:
        module, _, function = _MAINS[argv[0]].partition(":")
        return getattr(importlib.import_module(f"minidl_grader.{module}"), function or "main")(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
