"""Old name of ``private_checks.py``, kept so instructors' ``--checks`` files that say
``from minidl.grading.checks import Case, private_check`` keep working."""
from .private_checks import *  # noqa: F401,F403
from .private_checks import Case, load_checks, private_check  # noqa: F401
