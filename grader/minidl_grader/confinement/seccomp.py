"""A seccomp filter for the submission's process: the system calls no notebook needs.

Namespaces (``isolation.bwrap_command``) decide what the process can *see*; this filter
decides what it can *ask the kernel*. It refuses, with ``EPERM``, the calls that exist to
administer a machine or to reach into other processes -- debugging others (``ptrace``,
``process_vm_*``), kernel keyrings, BPF programs, performance counters, ``userfaultfd``
and ``io_uring`` (two favourite doors of kernel exploits), mounting and namespaces
(``mount``, ``unshare``, ``setns``, ``clone`` with a new-namespace flag), kernel modules,
rebooting, clocks, swap -- much like Docker's default profile -- and the two ways to hold
memory outside the address-space limit and the tmpfs (``memfd_create``, ``shmget``). ``clone3`` answers
``ENOSYS``: its flags sit in memory the filter cannot read, and on that answer the C
library falls back to ``clone``, whose flags the filter does read. A system call of
another architecture (32-bit calls on x86-64) ends the process.

``bwrap --seccomp FD`` installs the program just before it starts the sandbox's Python.
The program is classic BPF (``struct sock_filter`` records of 8 bytes), built here for
x86-64 and arm64; elsewhere ``program()`` returns None and the sandbox runs without it.
"""

from __future__ import annotations

import os
import platform
import struct

# what a filter returns (linux/seccomp.h)
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
EPERM, ENOSYS = 1, 38

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16

# classic BPF instructions used (linux/filter.h)
LD_W_ABS = 0x20  # A = 32-bit word of seccomp_data at k
JEQ_K = 0x15  # if A == k: jump jt else jf
JGE_K = 0x35  # if A >= k
JSET_K = 0x45  # if A & k
RET_K = 0x06  # return k

# clone()'s flags that make a new namespace (linux/sched.h)
CLONE_NEW_NAMESPACE = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
X32_SYSCALL_BIT = 0x40000000

# (name, x86-64 number, arm64 number); None where the call does not exist
REFUSED: list[tuple[str, int | None, int | None]] = [
    ("ptrace", 101, 117),
    ("process_vm_readv", 310, 270),
    ("process_vm_writev", 311, 271),
    ("kcmp", 312, 272),
    ("keyctl", 250, 219),
    ("add_key", 248, 217),
    ("request_key", 249, 218),
    ("bpf", 321, 280),
    ("perf_event_open", 298, 241),
    ("userfaultfd", 323, 282),
    ("io_uring_setup", 425, 425),
    ("io_uring_enter", 426, 426),
    ("io_uring_register", 427, 427),
    ("mount", 165, 40),
    ("umount2", 166, 39),
    ("pivot_root", 155, 41),
    ("chroot", 161, 51),
    ("open_tree", 428, 428),
    ("move_mount", 429, 429),
    ("fsopen", 430, 430),
    ("fsconfig", 431, 431),
    ("fsmount", 432, 432),
    ("fspick", 433, 433),
    ("mount_setattr", 442, 442),
    ("unshare", 272, 97),
    ("setns", 308, 268),
    ("name_to_handle_at", 303, 264),
    ("open_by_handle_at", 304, 265),
    ("lookup_dcookie", 212, 18),
    ("kexec_load", 246, 104),
    ("kexec_file_load", 320, 294),
    ("init_module", 175, 105),
    ("finit_module", 313, 273),
    ("delete_module", 176, 106),
    ("reboot", 169, 142),
    ("swapon", 167, 224),
    ("swapoff", 168, 225),
    ("acct", 163, 89),
    ("syslog", 103, 116),
    ("quotactl", 179, 60),
    ("vhangup", 153, 58),
    ("iopl", 172, None),
    ("ioperm", 173, None),
    ("settimeofday", 164, 170),
    ("clock_settime", 227, 112),
    ("clock_adjtime", 305, 266),
    ("adjtimex", 159, 171),
    # memory that no address-space limit and no tmpfs size counts (a memfd, a System V
    # segment never attached): refused, so only a memory cgroup's bound is not needed
    ("memfd_create", 319, 279),
    ("shmget", 29, 194),
]
CLONE = {"x86_64": 56, "aarch64": 220}
CLONE3 = 435

# AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64 (linux/audit.h)
ARCHITECTURES = {"x86_64": (0xC000003E, 1), "aarch64": (0xC00000B7, 2)}  # value, column of REFUSED


# one line of the program: (op, k), or (op, k, where to jump if true, if false)
_Step = tuple[str, int] | tuple[str, int, str, str]


def _instruction(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this one) as bytes, or None for an architecture
    it is not written for."""
    machine = machine or platform.machine()
    if machine not in ARCHITECTURES:
        return None
    arch, column = ARCHITECTURES[machine]
    refused = [nr for row in REFUSED if isinstance(nr := row[column], int)]
    # The program, one test per line; each jumps forward to the next test or to one of the
    # four returns at its end (allow, deny = EPERM, nosys = ENOSYS, kill). BPF counts jump
    # offsets from the next instruction; "skip2" steps over the two-line clone-flags test.
    code: list[_Step] = [("ld", OFFSET_ARCH), ("jeq", arch, "next", "kill"), ("ld", OFFSET_NR)]
    if machine == "x86_64":
        code.append(("jge", X32_SYSCALL_BIT, "deny", "next"))  # the x32 ABI
    code += [
        ("jeq", CLONE3, "nosys", "next"),
        ("jeq", CLONE[machine], "next", "skip2"),
        ("ld", OFFSET_ARG0),
        ("jset", CLONE_NEW_NAMESPACE, "deny", "allow"),
    ]
    code += [("jeq", nr, "deny", "next") for nr in refused]
    code += [
        ("ret", RET_ALLOW),
        ("ret", RET_ERRNO | EPERM),
        ("ret", RET_ERRNO | ENOSYS),
        ("ret", RET_KILL_PROCESS),
    ]
    labels = {"allow": len(code) - 4, "deny": len(code) - 3, "nosys": len(code) - 2, "kill": len(code) - 1}

    def offset(at: int, target: str) -> int:
        if target == "next":
            return 0
        if target == "skip2":  # past the two instructions of the clone test
            return 2
        distance = labels[target] - at - 1
        assert 0 <= distance < 256, distance
        return distance

    out = []
    for at, (op, k, *jumps) in enumerate(code):
        if op == "ld":
            out.append(_instruction(LD_W_ABS, k))
        elif op == "ret":
            out.append(_instruction(RET_K, k))
        else:
            opcode = {"jeq": JEQ_K, "jge": JGE_K, "jset": JSET_K}[op]
            out.append(_instruction(opcode, k, offset(at, jumps[0]), offset(at, jumps[1])))
    return b"".join(out)


def program_fd() -> int | None:
    """A file descriptor, at offset 0, holding ``program()`` (for ``bwrap --seccomp FD``),
    or None where there is no program. The caller passes it to the child and closes it."""
    data = program()
    if data is None:
        return None
    fd = os.memfd_create("minidl-seccomp")  # Linux, as bubblewrap: a file in memory only
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
