"""Resource limits for one sandboxed command, and how they are enforced on this host."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

MiB = 1024 * 1024


class Limits(BaseModel, frozen=True):
    """Per-command limits. Memory (tmpfs included), process count and total CPU use a cgroup (the strong
    sandbox); the weak sandbox falls back to a watchdog that polls the process tree and per-process rlimits."""

    wall_seconds: float = Field(60.0, gt=0)
    cpu_seconds: int = Field(60, gt=0)  # total over every process of the command (per process when weak)
    cpus: float = Field(2.0, gt=0)  # CPU bandwidth cap (cpu.max / cfs quota), in cores
    memory_mb: int = Field(2048, gt=0)
    max_processes: int = Field(256, gt=0)
    max_output_bytes: int = Field(1 * MiB, gt=0)  # per stream kept; the rest is counted and dropped
    max_file_mb: int = Field(256, gt=0)  # RLIMIT_FSIZE: largest file a command may write
    tmpfs_mb: int = Field(256, gt=0)  # size of the private /tmp
    shm_mb: int = Field(64, gt=0)  # size of /dev/shm
    work_mb: int = Field(1024, gt=0)  # size of /work (fixed when the sandbox is created)


def launch_prefix(
    limits: Limits, cgroup: Cgroup | None, uid: int | None = None, gid: int | None = None
) -> list[str]:
    """A /bin/sh prefix that joins the cgroup, sets CPU, file-size and core rlimits (inherited by bwrap
    and the sandbox), drops to the sandbox's host uid/gid (no groups, no capabilities, no new privileges),
    then execs the rest of the command line.

    (One small shell rather than a preexec_fn: forking a large Python process costs ~10 ms a command.)
    """
    blocks = limits.max_file_mb * MiB // 512
    drop = ""
    if uid is not None and gid is not None:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        drop = f"{setpriv} --reuid={uid} --regid={gid} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs "
    script = (
        'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
        f"ulimit -c 0 && ulimit -f {blocks} && ulimit -S -t {limits.cpu_seconds} && "
        f'ulimit -H -t {limits.cpu_seconds + 1} && exec {drop}"$@"'
    )
    procs = [str(d / "cgroup.procs") for d in cgroup.dirs] if cgroup else []
    return ["/bin/sh", "-c", script, "sh", *procs, "--"]


class Cgroup:
    """A cgroup (v2, or the v1 memory, pids, cpuacct and cpu hierarchies) limiting memory (tmpfs and shmem
    included: both memory.max and memory.limit_in_bytes count them), process count and CPU bandwidth, and
    accounting the CPU time of all its processes together. Reused through a small pool: creating and
    removing one per command costs ~3 ms, reconfiguring one costs ~0.2 ms."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self._base: dict[str, int] = {}
        self._cpu_base = 0.0
        self._configured: Limits | None = None
        events = (("memory.events", "oom_kill", "oom"), ("memory.oom_control", "oom_kill", "oom"),
                  ("pids.events", "max", "pids"))  # fmt: skip
        self._event_files = [(d / f, key, name) for d in dirs for f, key, name in events if (d / f).exists()]
        self._usage: tuple[Path, str] | None = None
        for d in dirs:
            if (d / "cpuacct.usage").exists():
                self._usage = (d / "cpuacct.usage", "ns")
            elif (d / "cgroup.controllers").exists() and (d / "cpu.stat").exists():  # v2: usage_usec
                self._usage = (d / "cpu.stat", "usec")

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
        """Write the limits and remember the counters, so this run's events and CPU time can be told apart."""
        mine = (limits.memory_mb, limits.max_processes, limits.cpus)
        old = self._configured
        if old is None or mine != (old.memory_mb, old.max_processes, old.cpus):
            mem, pids = str(limits.memory_mb * MiB), str(limits.max_processes)
            period = 100_000
            quota = str(max(1000, int(limits.cpus * period)))
            for d in self.dirs:
                for key, value in (("memory.max", mem), ("memory.swap.max", "0"), ("memory.limit_in_bytes", mem),
                                   ("memory.memsw.limit_in_bytes", mem), ("pids.max", pids),
                                   ("cpu.max", f"{quota} {period}"), ("cpu.cfs_period_us", str(period)),
                                   ("cpu.cfs_quota_us", quota)):  # fmt: skip
                    if (d / key).exists():
                        try:
                            (d / key).write_text(value)
                        except OSError:
                            if key == "memory.memsw.limit_in_bytes":
                                continue  # swap accounting off, or below the current memory limit
                            raise
            self._configured = limits
        self._base = self._counters()
        self._cpu_base = self._cpu_total()

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

    def _cpu_total(self) -> float:
        if self._usage is None:
            return 0.0
        path, unit = self._usage
        try:
            text = path.read_text()
        except OSError:
            return 0.0
        if unit == "ns":
            return int(text.strip() or 0) / 1e9
        for line in text.splitlines():
            if line.startswith("usage_usec"):
                return int(line.split()[1]) / 1e6
        return 0.0

    @property
    def accounts_cpu(self) -> bool:
        return self._usage is not None

    def cpu_seconds(self) -> float:
        """CPU time used by all processes of the cgroup since `configure`."""
        return self._cpu_total() - self._cpu_base

    def memory_bytes(self) -> int:
        """Memory currently charged (processes, page cache, tmpfs), 0 if unknown."""
        for d in self.dirs:
            for key in ("memory.current", "memory.usage_in_bytes"):
                try:
                    return int((d / key).read_text())
                except (OSError, ValueError):
                    continue
        return 0

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer acted in this cgroup since `configure`."""
        return self._counters().get("oom", 0) > self._base.get("oom", 0)

    def pids_exhausted(self) -> bool:
        """Whether a fork was refused by the process-count limit since `configure`."""
        return self._counters().get("pids", 0) > self._base.get("pids", 0)

    def kill(self) -> bool:
        """SIGKILL everything in the cgroup (cgroup.kill where the kernel has it); True if anything was there."""
        alive = False
        for d in self.dirs:
            if (d / "cgroup.kill").exists():
                try:
                    if (d / "cgroup.procs").read_text().strip():
                        alive = True
                        (d / "cgroup.kill").write_text("1")
                except OSError:
                    pass
                continue
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    alive = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), 9)
            except OSError:
                continue
        return alive

    def empty(self, tries: int = 200) -> bool:
        """Kill anything left behind (again, while forks race the kill); True once no process remains."""
        for i in range(tries):
            if not self.kill():
                return True
            if i:
                time.sleep(0.005)
        return not self.kill()

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
                    self.kill()
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
    if cg.empty() and len(_pool) < 16 and cg.memory_bytes() < 64 * MiB:  # e.g. a /work tmpfs's pages
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
    """Where to create sandbox cgroups on this host (none when ASLGATE_NO_CGROUP is set): the v2 hierarchy
    when it has the memory and pids controllers, else the v1 memory, pids, cpuacct (and cpu) hierarchies."""
    if os.environ.get("ASLGATE_NO_CGROUP"):
        return []
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        parent = root / _own_cgroup("").lstrip("/")
        try:
            ctrls = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            return []
        return [parent] if "memory" in ctrls and "pids" in ctrls and os.access(parent, os.W_OK) else []
    out: list[Path] = []
    seen: set[Path] = set()
    for c in ("memory", "pids", "cpuacct", "cpu"):
        d = root / c
        if not d.is_dir() or d.is_symlink():  # e.g. a combined cpu,cpuacct hierarchy
            d = next(
                (p for p in root.glob("*") if c in p.name.split(",") and p.is_dir() and not p.is_symlink()), d
            )
        if d.is_dir() and d not in seen and os.access(d, os.W_OK):
            seen.add(d)
            out.append(d / _own_cgroup(c).lstrip("/"))
    names = {n for d in seen for n in d.name.split(",")}
    return out if {"memory", "pids", "cpuacct"} <= names else []


def cgroups_available() -> bool:
    """Whether sandbox cgroups with memory, pids and CPU accounting can be used here."""
    parents = _cgroup_parents()
    return bool(parents) and all(p.is_dir() for p in parents)
