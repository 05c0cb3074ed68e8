"""What runs inside the sandbox: the one part of the grader a submission's process gets.

``probes.py`` (how to call an answer), ``codec.py`` (the wire format of replies) and
``sandbox.py`` (the process that runs the cells and obeys the grader's requests).
``isolation.build_runtime()`` copies this folder, and no other file of ``minidl_grader``,
into the stripped copy of minidl that the submission imports. Nothing here knows an answer.
"""
