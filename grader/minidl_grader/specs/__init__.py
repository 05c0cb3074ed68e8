"""The exercises, one module per chapter.

Each module registers its exercises with ``registry.function_exercise`` (or builds an
``Exercise`` by hand when the check needs more than a function call). The references
here are written independently of the rest of minidl, in plain NumPy, so a bug in the
library cannot make a wrong answer pass.
"""
