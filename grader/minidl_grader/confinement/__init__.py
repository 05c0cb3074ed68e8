"""Confinement: where and under which limits a submission's process runs.

``isolation.py`` (the stripped runtime, bubblewrap's command line, every copy of minidl
masked), ``overlay.py`` (the runtime without what an exercise forbids), ``seccomp.py`` (the system-call filter), ``limits.py`` (pids, memory and cpu
cgroups), ``process.py`` (starting the process under all of them and talking to it
through two pipes, with deadlines) and ``folders.py`` (the temporary folders, removed by the
next grader where a killed one could not).
"""
