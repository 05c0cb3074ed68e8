"""Refuse a commit whose subject line is empty or longer than 72 characters.

    python3 tools/check_commit_msg.py .git/COMMIT_EDITMSG

pre-commit runs it as the ``commit-msg`` hook (``.pre-commit-config.yaml``; ``pre-commit
install`` installs that hook too). The subject is the first line git keeps: comment lines
(``#``) and blank lines before it are left out, as git leaves them out, and so is everything
below the scissors line of ``git commit -v``. Characters are counted, not bytes. A
``fixup!``/``squash!``/``amend!`` subject is measured without those words (``git rebase
--autosquash`` removes the commit). The detail goes in the body, after a blank line.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_SUBJECT = 72
SCISSORS = "# ------------------------ >8 ------------------------"
AUTOSQUASH = ("fixup!", "squash!", "amend!")


def subject(message: str) -> str:
    """The subject line of ``message`` as git records it ('' if there is none)."""
    for line in message.splitlines():
        if line.startswith(SCISSORS):
            break
        if line.startswith("#") or not line.strip():
            continue
        return line.rstrip()
    return ""


def problem(message: str) -> str | None:
    """Why ``message`` is refused, or None."""
    line = subject(message)
    while line.split(" ", 1)[0] in AUTOSQUASH:
        line = line.partition(" ")[2]
    if not line.strip():
        return "the commit message has no subject line"
    if len(line) > MAX_SUBJECT:
        return (
            f"the subject line is {len(line)} characters, more than {MAX_SUBJECT}: shorten it "
            f"and put the detail in the body, after a blank line\n  {line}"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: check_commit_msg.py COMMIT_MESSAGE_FILE", file=sys.stderr)
        return 2
    why = problem(Path(args[0]).read_text(encoding="utf-8", errors="replace"))
    if why is not None:
        print(f"commit-msg: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
