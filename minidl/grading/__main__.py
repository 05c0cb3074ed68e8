"""The grading front door: ``python -m minidl.grading {grade, release} ...``.

``python -m minidl grade ...`` and ``python -m minidl release ...`` come here too
(``minidl/__main__.py`` hands its ``grade`` and ``release`` commands to ``main``), so
there is one place that knows the grading commands.
"""

import sys

COMMANDS = ("grade", "release")
USAGE = """usage: python -m minidl.grading release [--check]       regenerate exercises/ from solutions/
       python -m minidl.grading grade NOTEBOOK ... [options]  grade submissions (see --help)
       (python -m minidl grade ... and python -m minidl release ... are the same commands)"""


def main(argv=None) -> int:
    """Run ``argv`` = ``[command, *arguments]`` with command one of ``COMMANDS``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "release":
        from .release import main as release_main

        return release_main(argv[1:])
    if argv and argv[0] == "grade":
        from .cli import main as grade_main

        return grade_main(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
