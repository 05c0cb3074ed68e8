"""The grader's temporary folders: locked while their grader lives, removed by the next
grader once it is gone -- however it died."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from minidl_grader.confinement import folders

GRADER = str(Path(folders.__file__).resolve().parents[2])  # the folder that holds minidl_grader

# a grader that makes its folders and waits: it prints them, then blocks on its stdin
HOLDER = """
import sys
from minidl_grader.confinement import folders
print(folders.make("minidl-runtime-"), folders.make("minidl-grade-"), flush=True)
sys.stdin.read()
"""


def _holder(parent):
    env = dict(os.environ, TMPDIR=str(parent), PYTHONPATH=GRADER)
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    return process, process.stdout.readline().split()


@pytest.mark.skipif(folders.fcntl is None, reason="no flock on this system")
def test_a_killed_graders_folders_go_and_a_live_ones_stay(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(folders.tempfile, "tempdir", None)  # read TMPDIR again
    process, theirs = _holder(tmp_path)
    ours = folders.make("minidl-runtime-forbids-")
    try:
        assert [os.path.basename(p).split("-")[-2] for p in theirs] == [str(process.pid)] * 2
        assert folders.remove_stale(str(tmp_path), older_than=0) == []  # both graders live
        process.send_signal(signal.SIGKILL)  # no cleanup runs
        process.wait(timeout=10)
        assert all(os.path.isdir(p) for p in theirs)
        removed = folders.remove_stale(str(tmp_path), older_than=0)
        assert removed == sorted(os.path.basename(p) for p in theirs)
        assert os.listdir(tmp_path) == [os.path.basename(ours)]  # ours is held: it stays
    finally:
        process.kill()
        process.wait(timeout=10)
        folders.release(ours)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(folders.fcntl is None, reason="no flock on this system")
def test_links_other_names_other_users_and_young_folders_are_left_alone(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    (tmp_path / "minidl-grade-1-link").symlink_to(target)  # planted by someone: never followed
    (tmp_path / "other-1-folder").mkdir()
    (tmp_path / "minidl-runtime-1-young").mkdir()  # made a moment ago: maybe not locked yet
    (tmp_path / "minidl-runtime-1-old").mkdir()
    os.utime(tmp_path / "minidl-runtime-1-old", (0, 0))
    assert folders.remove_stale(str(tmp_path), owners={os.getuid() + 1}, older_than=0) == []
    assert folders.remove_stale(str(tmp_path)) == ["minidl-runtime-1-old"]
    assert sorted(os.listdir(tmp_path)) == [
        "elsewhere",
        "minidl-grade-1-link",
        "minidl-runtime-1-young",
        "other-1-folder",
    ]
    assert (target / "keep.txt").read_text() == "mine"


def test_a_folder_deeper_than_the_recursion_limit_is_removed(tmp_path):
    path = str(tmp_path / "deep")  # a submission's working folder can hold one
    os.mkdir(path)
    level = path
    for _ in range(sys.getrecursionlimit() + 50):
        level = os.path.join(level, "d")
        os.mkdir(level)
    folders.remove_tree(path)
    assert not os.path.exists(path)
