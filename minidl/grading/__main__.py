"""``python -m minidl.grading release`` | ``python -m minidl.grading grade ...``."""
import sys

USAGE = """usage: python -m minidl.grading release [--check]       regenerate exercises/ from solutions/
       python -m minidl.grading grade NOTEBOOK ... [options]  grade submissions (see --help)"""


def main(argv=None) -> int:
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
