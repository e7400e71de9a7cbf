"""Resource limits for one sandboxed command, and how they are enforced on this host."""

from __future__ import annotations

import atexit
import contextlib
import os
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

MiB = 1024 * 1024


class Limits(BaseModel, frozen=True):
    """Per-command limits. Memory and process counts use a cgroup where the host allows one,
    otherwise a watchdog that polls the sandbox's process tree."""

    wall_seconds: float = Field(60.0, gt=0)
    cpu_seconds: int = Field(60, gt=0)
    memory_mb: int = Field(2048, gt=0)
    max_processes: int = Field(256, gt=0)
    max_output_bytes: int = Field(1 * MiB, gt=0)  # per stream kept; the rest is counted and dropped
    max_file_mb: int = Field(256, gt=0)  # RLIMIT_FSIZE: largest file a command may write
    tmpfs_mb: int = Field(256, gt=0)  # size of the private /tmp


def launch_prefix(limits: Limits, cgroup: Cgroup | None) -> list[str]:
    """A /bin/sh prefix that joins the cgroup, sets CPU, file-size and core rlimits (inherited by bwrap
    and the sandbox), then execs the rest of the command line.

    (One small shell rather than a preexec_fn: forking a large Python process costs ~10 ms a command.)
    """
    blocks = limits.max_file_mb * MiB // 512
    script = (
        'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
        f'ulimit -c 0 && ulimit -f {blocks} && ulimit -S -t {limits.cpu_seconds} && ulimit -H -t {limits.cpu_seconds + 1} && exec "$@"'
    )
    procs = [str(d / "cgroup.procs") for d in cgroup.dirs] if cgroup else []
    return ["/bin/sh", "-c", script, "sh", *procs, "--"]


class Cgroup:
    """A cgroup (v2, or v1 memory+pids hierarchies) limiting memory and process count. Reused through a
    small pool: creating and removing one per command costs ~3 ms, reconfiguring one costs ~0.2 ms."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self._base: dict[str, int] = {}
        self._configured: Limits | None = None
        events = (("memory.events", "oom_kill", "oom"), ("memory.oom_control", "oom_kill", "oom"),
                  ("pids.events", "max", "pids"))  # fmt: skip
        self._event_files = [(d / f, key, name) for d in dirs for f, key, name in events if (d / f).exists()]

    @classmethod
    def create(cls, name: str) -> Cgroup | None:
        """Make the cgroup, or return None when this host does not let us (the watchdog then applies)."""
        made: list[Path] = []
        try:
            for parent in _cgroup_parents():
                d = parent / name
                d.mkdir()
                made.append(d)
        except OSError:
            Cgroup(made).remove()
            return None
        return cls(made) if made else None

    def configure(self, limits: Limits) -> None:
        """Write the limits and remember the event counters, so this run's events can be told apart."""
        if (limits.memory_mb, limits.max_processes) != (
            (self._configured.memory_mb, self._configured.max_processes) if self._configured else None
        ):
            mem, pids = str(limits.memory_mb * MiB), str(limits.max_processes)
            for d in self.dirs:
                for key, value in (("memory.max", mem), ("memory.swap.max", "0"), ("memory.limit_in_bytes", mem),
                                   ("pids.max", pids)):  # fmt: skip
                    if (d / key).exists():
                        (d / key).write_text(value)
            self._configured = limits
        self._base = self._counters()

    def _counters(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for path, key, name in self._event_files:
            try:
                with open(path) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k == key:
                            out[name] = out.get(name, 0) + int(v or 0)
            except (OSError, ValueError):
                continue
        return out

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer acted in this cgroup since `configure`."""
        return self._counters().get("oom", 0) > self._base.get("oom", 0)

    def pids_exhausted(self) -> bool:
        """Whether a fork was refused by the process-count limit since `configure`."""
        return self._counters().get("pids", 0) > self._base.get("pids", 0)

    def empty(self) -> bool:
        """Kill anything left behind; True once no process remains."""
        alive = False
        for d in self.dirs:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    alive = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), 9)
            except OSError:
                continue
        return not alive

    def remove(self) -> None:
        """Kill anything left in the cgroup and delete it."""
        self.empty()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


_pool: list[Cgroup] = []
_swept = False


def _sweep_stale() -> None:
    """Remove empty cgroups left by aslgate processes that died without draining their pool."""
    for parent in _cgroup_parents():
        try:
            entries = list(parent.glob("aslgate-*"))
        except OSError:
            continue
        for d in entries:
            owner = d.name.split("-")[1] if d.name.count("-") >= 2 else ""
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                with contextlib.suppress(OSError):
                    d.rmdir()  # fails (and is left alone) while processes remain in it


def acquire_cgroup(limits: Limits) -> Cgroup | None:
    """A configured cgroup from the pool (or a new one), or None where cgroups are unavailable."""
    global _swept
    if not _swept:
        _swept = True
        _sweep_stale()
    while True:
        cg = _pool.pop() if _pool else Cgroup.create(f"aslgate-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        if cg is None:
            return None
        try:
            cg.configure(limits)
            return cg
        except OSError:  # e.g. a v1 memory limit below what the old group still holds
            cg.remove()


def release_cgroup(cg: Cgroup) -> None:
    """Return an emptied cgroup to the pool; one that still holds processes is removed instead."""
    if cg.empty() and len(_pool) < 16:
        _pool.append(cg)
    else:
        cg.remove()


@atexit.register
def _drain_pool() -> None:
    while _pool:
        _pool.pop().remove()


def _own_cgroup(controller: str) -> str:
    """This process's path in a v1 hierarchy (or the v2 one for controller '')."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller == "" and ctrls == "") or controller in ctrls.split(","):
            return path
    return "/"


def _cgroup_parents() -> list[Path]:
    """Where to create sandbox cgroups on this host (none when ASLGATE_NO_CGROUP is set)."""
    if os.environ.get("ASLGATE_NO_CGROUP"):
        return []
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        parent = root / _own_cgroup("").lstrip("/")
        try:
            ctrls = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            return []
        return [parent] if "memory" in ctrls and "pids" in ctrls else []
    out = [root / c / _own_cgroup(c).lstrip("/") for c in ("memory", "pids") if (root / c).is_dir()]
    return out if len(out) == 2 else []
