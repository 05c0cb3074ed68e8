"""The seccomp filter of the submission's process (``grader/minidl_grader/confinement/seccomp.py``).

Three ways to check it: its system-call numbers against the kernel headers, its BPF
program run by a small interpreter on made-up calls, and a real sandbox (bubblewrap) in
which refused calls fail while what a notebook does -- threads, subprocesses, NumPy --
still works; the same script without the filter is the control that shows the test can fail.
(The grader's own path, runner.py, is exercised by the isolated batch of tests/grader/test_runner_attacks.py.)
"""

import os
import platform
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from minidl_grader.confinement import isolation, seccomp

pytestmark = pytest.mark.sandbox  # grades in confined processes: make test, not make test-unit

HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


@pytest.mark.parametrize("machine, column", [("x86_64", 1), ("aarch64", 2)])
def test_the_refused_numbers_are_the_kernels(machine, column):
    header = HEADERS[machine]
    if not header.exists():
        pytest.skip(f"{header} not installed (linux-libc-dev)")
    numbers = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)\b", header.read_text()))
    for row in seccomp.REFUSED:
        name, number = row[0], row[column]
        assert (int(numbers[name]) if name in numbers else None) == number, (machine, name)
    assert int(numbers["clone"]) == seccomp.CLONE[machine] and int(numbers["clone3"]) == seccomp.CLONE3


def run_filter(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """What the kernel would do: interpret the classic-BPF ``program`` on one call."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    code = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    pc, A = 0, 0
    while True:
        op, jt, jf, k = code[pc]
        pc += 1
        if op == seccomp.LD_W_ABS:
            A = struct.unpack_from("=I", data, k)[0]
        elif op == seccomp.RET_K:
            return k
        else:
            taken = {seccomp.JEQ_K: A == k, seccomp.JGE_K: A >= k, seccomp.JSET_K: bool(A & k)}[op]
            pc += jt if taken else jf


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_program_refuses_allows_and_kills_what_it_says(machine):
    program = seccomp.program(machine)
    arch, column = seccomp.ARCHITECTURES[machine]
    deny, allow = seccomp.RET_ERRNO | seccomp.EPERM, seccomp.RET_ALLOW
    for row in seccomp.REFUSED:
        if row[column] is not None:
            assert run_filter(program, row[column], arch) == deny, row[0]
    getpid, read, mmap = {"x86_64": (39, 0, 9), "aarch64": (172, 63, 222)}[machine]
    for nr in (getpid, read, mmap):
        assert run_filter(program, nr, arch) == allow
    clone = seccomp.CLONE[machine]
    thread_flags = 0x3D0F00  # what pthread_create passes: no namespace
    assert run_filter(program, clone, arch, thread_flags) == allow
    for flag in (0x10000000, 0x20000000, 0x40000000, 0x00020000):  # NEWUSER, NEWPID, NEWNET, NEWNS
        assert run_filter(program, clone, arch, thread_flags | flag) == deny
    assert run_filter(program, seccomp.CLONE3, arch) == seccomp.RET_ERRNO | seccomp.ENOSYS
    assert run_filter(program, getpid, 0x40000003) == seccomp.RET_KILL_PROCESS  # i386
    if machine == "x86_64":
        assert run_filter(program, 39 | seccomp.X32_SYSCALL_BIT, arch) == deny
    assert seccomp.program("riscv64") is None


SCRIPT = r"""
import ctypes, errno, subprocess, threading
import numpy
libc = ctypes.CDLL(None, use_errno=True)
results = {}
for name, nr, args in [("keyctl", 250, (0, -3, 0)), ("io_uring_setup", 425, (1, ctypes.create_string_buffer(120))),
                       ("unshare", 272, (0x10000000,)), ("perf_event_open", 298, (0, 0, -1, -1, 0)),
                       ("clone3", 435, (0, 0))]:
    ok = libc.syscall(nr, *args) != -1
    results[name] = "ok" if ok else errno.errorcode.get(ctypes.get_errno(), "?")
thread = threading.Thread(target=lambda: None)
thread.start(); thread.join()
results["thread"] = "ok"
results["subprocess"] = subprocess.run(["/bin/true"]).returncode
results["numpy"] = float(numpy.ones((64, 64)).dot(numpy.ones(64)).sum())
print(results)
"""


def _in_sandbox(with_filter: bool) -> dict:
    fd = seccomp.program_fd() if with_filter else None
    command = isolation.bwrap_command(
        isolation.build_runtime(), 2**24, {"PYTHONPATH": isolation.RUNTIME_MOUNT}, fd
    )
    try:
        run = subprocess.run(
            command + [sys.executable, "-s", "-c", SCRIPT],
            capture_output=True,
            text=True,
            timeout=120,
            pass_fds=() if fd is None else (fd,),
        )
    finally:
        if fd is not None:
            os.close(fd)
    assert run.returncode == 0, run.stderr[-2000:]
    return eval(run.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the script's system-call numbers are x86-64's")
@pytest.mark.skipif(
    isolation.bwrap_missing(), reason=f"bubblewrap cannot isolate here: {isolation.isolation_status()[1]}"
)
def test_in_the_sandbox_refused_calls_fail_and_a_notebooks_work_still_runs():
    filtered = _in_sandbox(with_filter=True)
    for name in ("keyctl", "io_uring_setup", "unshare", "perf_event_open"):
        assert filtered[name] == "EPERM", (name, filtered)
    assert filtered["clone3"] == "ENOSYS"
    assert (filtered["thread"], filtered["subprocess"], filtered["numpy"]) == ("ok", 0, 4096.0)
    control = _in_sandbox(with_filter=False)  # the same script, no filter
    assert any(control[name] == "ok" for name in ("keyctl", "io_uring_setup")), control
    assert control["clone3"] != "ENOSYS"
