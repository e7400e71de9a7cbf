"""The sandbox's seccomp filter: a classic-BPF program, loaded by bwrap (`--seccomp FD`) just before it
execs the sandboxed command.

A denylist of the calls a PoC has no business making (kernel attack surface and escapes): ptrace beyond
what LeakSanitizer needs, keyrings, mounts, namespaces, bpf, perf, kexec, modules, userfaultfd, io_uring,
open_by_handle_at, personality changes. Emitted here rather than through libseccomp so that it needs no
system package and no Python binding (libseccomp's binding exists only for Debian's system python).
"""

from __future__ import annotations

import errno
import os
import platform
import struct
from functools import cache

# seccomp return values and BPF opcodes (linux/seccomp.h, linux/filter.h)
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

# offsets in struct seccomp_data (little-endian on both supported architectures)
_NR, _ARCH = 0, 4


def _arg_lo(i: int) -> int:
    return 16 + 8 * i


def _arg_hi(i: int) -> int:
    return 20 + 8 * i


DENIED = [
    "keyctl",
    "add_key",
    "request_key",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "userfaultfd",
    "iopl",
    "ioperm",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "syslog",
    "open_by_handle_at",
    "name_to_handle_at",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "lookup_dcookie",
    "uselib",
    "nfsservctl",
    "vhangup",
    "process_vm_writev",
]

# syscall numbers: x86_64 from asm/unistd_64.h, aarch64 from asm-generic/unistd.h
_X86_64 = dict(
    ptrace=101, keyctl=250, add_key=248, request_key=249, mount=165, umount2=166, pivot_root=155, chroot=161,
    move_mount=429, open_tree=428, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
    unshare=272, setns=308, bpf=321, perf_event_open=298, kexec_load=246, kexec_file_load=320,
    init_module=175, finit_module=313, delete_module=176, userfaultfd=323, personality=135, iopl=172,
    ioperm=173, swapon=167, swapoff=168, reboot=169, acct=163, quotactl=179, syslog=103,
    open_by_handle_at=304, name_to_handle_at=303, io_uring_setup=425, io_uring_enter=426,
    io_uring_register=427, process_vm_writev=311, clone=56, clone3=435, lookup_dcookie=212, uselib=134, nfsservctl=180, vhangup=153,
)  # fmt: skip
_AARCH64 = dict(
    ptrace=117, keyctl=219, add_key=217, request_key=218, mount=40, umount2=39, pivot_root=41, chroot=51,
    move_mount=429, open_tree=428, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
    unshare=97, setns=268, bpf=280, perf_event_open=241, kexec_load=104, kexec_file_load=294,
    init_module=105, finit_module=273, delete_module=106, userfaultfd=282, personality=92, swapon=224,
    swapoff=225, reboot=142, acct=89, quotactl=60, syslog=116, open_by_handle_at=265, name_to_handle_at=264,
    io_uring_setup=425, io_uring_enter=426, io_uring_register=427, process_vm_writev=271, clone=220, clone3=435, lookup_dcookie=18,
    nfsservctl=42, vhangup=58,
)  # fmt: skip
ARCHES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64)}

# ptrace requests LeakSanitizer's StopTheWorld makes (attach, read registers, detach): no PTRACE_POKE*,
# SETREGS, SEIZE or CONT, so no code can be injected into another process (bwrap's pid 1 included)
PTRACE_ALLOWED = (16, 17, 12, 14, 0x4204)  # ATTACH, DETACH, GETREGS, GETFPREGS, GETREGSET
PERSONALITY_ALLOWED = (0, 0xFFFFFFFF)  # PER_LINUX and the query; no ADDR_NO_RANDOMIZE and friends
CLONE_NEW_FLAGS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET and NEWTIME
_X32_BIT = 0x40000000


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def _ret(value: int) -> tuple[int, int, int, int]:
    return _ins(_RET_K, value)


def program(arch: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions for `arch` (default: this machine)."""
    name = arch or platform.machine()
    if name not in ARCHES:
        raise RuntimeError(f"no seccomp filter for architecture {name!r} (x86_64 and aarch64 are supported)")
    audit_arch, nr = ARCHES[name]
    eperm = _ret(_RET_ERRNO | errno.EPERM)
    p = [
        _ins(_LD_W_ABS, _ARCH),
        _ins(_JEQ_K, audit_arch, 1, 0),
        _ret(_RET_KILL_PROCESS),
        _ins(_LD_W_ABS, _NR),
    ]
    if name == "x86_64":  # the x32 ABI shares the arch value: refuse it outright
        p += [_ins(_JGE_K, _X32_BIT, 0, 1), eperm]
    for call in DENIED:
        if call in nr:
            p += [_ins(_JEQ_K, nr[call], 0, 1), eperm]
    p += [
        _ins(_JEQ_K, nr["clone3"], 0, 1),
        _ret(_RET_ERRNO | errno.ENOSYS),
    ]  # flags unreadable: libc falls back
    # clone: refuse any namespace flag (args[0] low word)
    p += [_ins(_JEQ_K, nr["clone"], 0, 4), _ins(_LD_W_ABS, _arg_lo(0)), _ins(_JSET_K, CLONE_NEW_FLAGS, 0, 1),
          eperm, _ret(_RET_ALLOW)]  # fmt: skip
    # personality: only the allowed values (the kernel reads an unsigned int: the low word)
    block = [_ins(_LD_W_ABS, _arg_lo(0))]
    for i, v in enumerate(PERSONALITY_ALLOWED):
        block.append(_ins(_JEQ_K, v, len(PERSONALITY_ALLOWED) - i, 0))
    block += [eperm, _ret(_RET_ALLOW)]
    p += [_ins(_JEQ_K, nr["personality"], 0, len(block)), *block]
    # ptrace: only the allowed requests (args[0], high word 0)
    block = [
        _ins(_LD_W_ABS, _arg_hi(0)),
        _ins(_JEQ_K, 0, 0, len(PTRACE_ALLOWED) + 1),
        _ins(_LD_W_ABS, _arg_lo(0)),
    ]
    for i, v in enumerate(PTRACE_ALLOWED):
        block.append(_ins(_JEQ_K, v, len(PTRACE_ALLOWED) - i, 0))
    block += [eperm, _ret(_RET_ALLOW)]
    p += [_ins(_JEQ_K, nr["ptrace"], 0, len(block)), *block]
    p.append(_ret(_RET_ALLOW))
    return p


@cache
def filter_bytes(arch: str | None = None) -> bytes:
    """The filter as the struct sock_filter array bwrap's --seccomp reads."""
    return b"".join(struct.pack("<HBBI", *ins) for ins in program(arch))


def filter_fd() -> int:
    """A memfd holding the filter, positioned at 0, for bwrap --seccomp (the caller closes it)."""
    fd = os.memfd_create("aslgate-seccomp", 0)
    os.write(fd, filter_bytes())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
