"""tools/check_commit_msg.py: the commit-msg hook that keeps subjects at 72 characters or fewer."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "check_commit_msg.py"


def _load():
    spec = importlib.util.spec_from_file_location("check_commit_msg", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load()
EDITOR_HELP = (
    "# Please enter the commit message for your changes. Lines starting\n"
    "# with '#' will be ignored, and an empty message aborts the commit.\n"
    "#\n# On branch main\n# Changes to be committed:\n#\tmodified:   a/very/long/path/" + "x" * 80 + ".py\n"
)


def test_a_short_subject_with_a_body_passes():
    assert (
        check.problem("grader: floors without upward imports\n\n" + "A long body line. " * 20 + "\n") is None
    )
    assert check.problem("x" * 72) is None
    assert check.problem("é" * 72 + "\n") is None  # characters, not bytes (144 bytes in UTF-8)


def test_a_subject_over_72_characters_is_refused_with_its_length():
    why = check.problem("y" * 73 + "\n\nbody\n")
    assert why is not None and "73 characters" in why and "72" in why
    assert "179 characters" in check.problem("z" * 179)


def test_an_empty_subject_is_refused():
    for message in ("", "\n\n", "   \n", EDITOR_HELP, "\n# only a comment\n"):
        assert check.problem(message) == "the commit message has no subject line", repr(message)


def test_comment_lines_and_leading_blank_lines_are_not_the_subject():
    assert check.subject(
        "\n# a comment that is much longer than seventy-two characters, as git's are\nfix: x\n"
    ) == ("fix: x")
    assert check.problem("fix the loader  \n" + EDITOR_HELP) is None  # trailing spaces: git strips them
    assert "80 characters" in check.problem("# note\n" + "w" * 80 + "\n" + EDITOR_HELP)


def test_below_the_scissors_line_is_not_the_message():
    verbose = f"{check.SCISSORS}\n# Do not modify or remove the line above.\ndiff --git a/x b/x\n"
    assert check.problem("\n" + verbose) == "the commit message has no subject line"
    assert check.problem("short subject\n" + verbose + "+" * 200 + "\n") is None


def test_autosquash_subjects_are_measured_without_their_prefix():
    subject = "v" * 70
    assert check.problem(f"fixup! {subject}") is None and check.problem(f"squash! fixup! {subject}") is None
    assert "73 characters" in check.problem("fixup! " + "v" * 73)
    assert check.problem("fixup! ") == "the commit message has no subject line"


def test_the_script_exits_1_naming_the_length(tmp_path):
    message = tmp_path / "COMMIT_EDITMSG"
    message.write_text("q" * 90 + "\n" + EDITOR_HELP, encoding="utf-8")
    out = subprocess.run([sys.executable, str(SCRIPT), str(message)], capture_output=True, text=True)
    assert out.returncode == 1 and "commit-msg: the subject line is 90 characters" in out.stderr
    message.write_text("a subject\n", encoding="utf-8")
    out = subprocess.run([sys.executable, str(SCRIPT), str(message)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == ""
    assert check.main([]) == 2


def test_pre_commit_installs_and_runs_the_hook():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert "commit-msg" in config["default_install_hook_types"]
    assert config["default_stages"] == ["pre-commit"]  # ruff and mypy: not on the message
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    hook = hooks["commit-subject"]
    assert hook["stages"] == ["commit-msg"] and hook["entry"].endswith("tools/check_commit_msg.py")
