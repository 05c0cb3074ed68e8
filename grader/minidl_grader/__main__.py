"""The grader's front door: ``minidl-grade {grade, package, release, public-data, mistakes, mutants} ...``.

``minidl-grade`` is the console command of the ``minidl-grader`` distribution
(``pip install ./grader``); ``python -m minidl_grader ...`` is the same command.
"""

import sys

COMMANDS = ("grade", "package", "release", "public-data", "mistakes", "mutants")
USAGE = """usage: minidl-grade grade NOTEBOOK ... [options]   grade submissions (see minidl-grade grade --help)
       minidl-grade package --chapter NN -o autograder.zip   a Gradescope autograder
       minidl-grade release [--check] [--out DIR]      regenerate exercises/ from solutions/; a student release
       minidl-grade public-data                        the public cases minidl's check() uses (data)
       minidl-grade mistakes --chapter NN              the wrong answers each exercise's cases catch
       minidl-grade mutants --chapter NN [--exercise NAME]   the mutants of the references the cases kill
       (python -m minidl_grader ... is the same command)"""


def main(argv=None) -> int:
    """Run ``argv`` = ``[command, *arguments]`` with command one of ``COMMANDS``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "release":
        from .release import main as release_main

        return release_main(argv[1:])
    if argv and argv[0] == "package":
        from .reports.gradescope import main as package_main

        return package_main(argv[1:])
    if argv and argv[0] == "public-data":
        from .public import main as public_main

        return public_main(argv[1:])
    if argv and argv[0] == "mistakes":
        from .catalogue import main as mistakes_main

        return mistakes_main(argv[1:])
    if argv and argv[0] == "mutants":
        from .judge.mutants import main as mutants_main

        return mutants_main(argv[1:])
    if argv and argv[0] == "grade":
        from .cli import main as grade_main

        return grade_main(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
