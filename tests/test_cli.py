"""python -m minidl: info and demo."""

import subprocess
import sys

from minidl.__main__ import main


def test_info_reports_versions_backend_and_gpu(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "minidl 0.1.0" in out and "kernel backend:" in out and "GPU:" in out


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


def test_grade_and_grade_package_are_reached_through_python_dash_m_minidl(tmp_path, capsys):
    out = tmp_path / "autograder.zip"
    assert main(["grade", "package", "--chapter", "3", "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000 and "03_backpropagation" in capsys.readouterr().out
    assert main(["grade", "--chapter", "99", str(tmp_path)]) == 2
    assert "unknown chapter '99'" in capsys.readouterr().err


def test_grading_has_one_front_door(capsys):
    """``python -m minidl grade|release`` hands over to ``python -m minidl.grading``'s main."""
    from minidl.grading.__main__ import main as grading_main

    assert main(["release", "--check"]) == 0 and "up to date" in capsys.readouterr().out
    assert grading_main(["release", "--check"]) == 0 and "up to date" in capsys.readouterr().out
    assert grading_main(["nonsense"]) == 2 and "python -m minidl.grading grade" in capsys.readouterr().err
    assert main(["grade", "--chapter", "99", "x"]) == grading_main(["grade", "--chapter", "99", "x"]) == 2
