"""Old name of ``judging.py`` (judging one exercise, ``check()``), kept so imports keep working."""
from .judging import *  # noqa: F401,F403
from .judging import Result, SubmissionError, check, evaluate, judge_exercise  # noqa: F401
