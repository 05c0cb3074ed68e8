"""Text that came from a submission, made safe to show people and to write to files.

Everything a student controls can reach the instructor's terminal, spreadsheet and
Gradescope page: file names (any bytes), exception names and messages (any string,
newlines included -- and the submission's process can forge its replies outright).
The grader passes each of them through one of these before it is shown or written:

* ``display_path(path)`` -- a file name on one line: undecodable bytes become ``\\xNN``,
  control and line-separator characters their escapes;
* ``one_line(text)`` -- a student's text on one line, so it can never start a row of its
  own (a fake "ok ... passed" or "total 8/8");
* ``clean_text(text)`` -- a message of the grader's (whose hints may span lines) with
  every control character but newline and tab escaped, and a length limit;
* ``spreadsheet_cell(text)`` -- a CSV cell that a spreadsheet will not run as a formula.
"""

from __future__ import annotations

import os
import unicodedata

__all__ = ["clean_text", "one_line", "display_path", "spreadsheet_cell", "MAX_MESSAGE"]

MAX_MESSAGE = 2000  # characters of a message shown to a student
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(c: str, keep: str) -> bool:
    """A character to escape: a control, format or unassigned one (category C), or a line
    or paragraph separator (``str.splitlines`` breaks at them), unless it is in ``keep``."""
    return c not in keep and (unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp"))


def clean_text(text, limit: int = MAX_MESSAGE, keep: str = "\n\t") -> str:
    """``text`` safe to show and to write anywhere: no control characters (but those in
    ``keep``: newline and tab), no lone surrogates, at most ``limit`` characters."""
    text = text if isinstance(text, str) else repr(text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(_escape(c) if _unsafe(c, keep) else c for c in text[: limit * 2])
    if len(text) > limit:
        text = text[:limit] + f" ... ({len(text) - limit} more characters)"
    return text


def one_line(text, limit: int = MAX_MESSAGE) -> str:
    """``clean_text`` with newlines and tabs escaped too: a student's text on one line."""
    return clean_text(text, limit, keep="")


def display_path(path) -> str:
    """A file name as one line of text whatever its bytes (undecodable bytes become
    ``\\xNN``, control characters and newlines their escapes)."""
    return one_line(os.fsencode(str(path)).decode("utf-8", "backslashreplace"), limit=1000)


def spreadsheet_cell(text: str) -> str:
    """``text`` for a CSV cell: a leading ``= + - @`` (or tab, carriage return, or their
    full-width forms) would make a spreadsheet read a formula; a quote in front keeps it
    text (OWASP's advice for CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text
