"""The grader's build: everything is in pyproject.toml but one step.

A wheel built from the repository carries the published notebooks -- ``solutions/`` and
``notebooks/`` beside ``grader/`` -- as ``minidl_grader/published/{solutions,notebooks}/``
(and ``bench/``, the benchmarks chapters 10 and 11 import, as ``published/bench/``),
so that an installed grader finds them whatever the current folder (``release.published``:
``minidl-grade release --out DIR`` and the similarity report of ``minidl-grade grade``).
An editable install reads them from the repository instead; a build from a folder without
them (an sdist) carries none, and those commands then say to pass ``--solutions`` /
``--notebooks``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

REPOSITORY = Path(__file__).resolve().parent.parent


class BuildWithPublishedNotebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in ("solutions", "notebooks"):
            source = REPOSITORY / name
            target = Path(self.build_lib) / "minidl_grader" / "published" / name
            if target.is_dir():
                shutil.rmtree(target)
            notebooks = sorted(source.glob("*.ipynb")) if source.is_dir() else []
            if notebooks:
                target.mkdir(parents=True)
            for path in notebooks:
                shutil.copy2(path, target / path.name)
        # the benchmarks that chapters 10 and 11 import (a tool of the repository, not of minidl)
        bench = Path(self.build_lib) / "minidl_grader" / "published" / "bench"
        if bench.is_dir():
            shutil.rmtree(bench)
        if (REPOSITORY / "bench").is_dir():
            shutil.copytree(
                REPOSITORY / "bench", bench, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )


setup(cmdclass={"build_py": BuildWithPublishedNotebooks})
