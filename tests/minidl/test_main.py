"""python -m minidl: info and demo (grade, release and bench say where they went); minidl-grade: the grader's commands."""

import subprocess
import sys

import pytest

from minidl.__main__ import main


def test_info_reports_versions_backend_and_gpu(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "minidl 0.2.0" in out and "kernel backend:" in out and "GPU:" in out


@pytest.mark.slow
def test_demo_trains_and_saves_curves(tmp_path):
    png = tmp_path / "curves.png"
    result = subprocess.run(
        [sys.executable, "-m", "minidl", "demo", "--epochs", "1", "--quiet", "--output", str(png)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy 0.9" in result.stdout or "test accuracy 0.8" in result.stdout
    assert png.exists() and png.stat().st_size > 1000


def test_grade_and_release_say_the_grader_moved(capsys):
    """``python -m minidl grade|release`` grade nothing: the grader is minidl-grade (grader/)."""
    for command in (["grade", "--chapter", "3", "x.ipynb"], ["release", "--check"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "pip install ./grader" in err and f"minidl-grade {command[0]}" in err


def test_bench_says_it_is_a_tool_of_the_repository(capsys):
    """``python -m minidl bench`` times nothing: the benchmarks are ``bench/`` (``make bench``),
    not installed with minidl."""
    assert main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "make bench" in err and "python -m bench" in err and "not part of the installed minidl" in err
    import importlib.util

    assert importlib.util.find_spec("minidl.bench") is None


def test_minidl_grade_is_the_grader_s_front_door(tmp_path, capsys):
    """``minidl-grade {grade, package, release}`` (``python -m minidl_grader``)."""
    from minidl_grader.__main__ import main as grader_main

    out = tmp_path / "autograder.zip"
    assert grader_main(["package", "--chapter", "3", "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000 and "03_backpropagation" in capsys.readouterr().out
    assert grader_main(["grade", "package", "--chapter", "3", "-o", str(out)]) == 0  # the old spelling
    capsys.readouterr()
    assert grader_main(["grade", "--chapter", "99", str(tmp_path)]) == 2
    assert "unknown chapter '99'" in capsys.readouterr().err
    assert grader_main(["release", "--check"]) == 0 and "up to date" in capsys.readouterr().out
    assert grader_main(["nonsense"]) == 2 and "minidl-grade grade" in capsys.readouterr().err
