"""Resource limits for one sandboxed command, and how they are enforced on this host."""

from __future__ import annotations

import contextlib
import os
import time
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
    """A throw-away cgroup (v2, or v1 memory+pids hierarchies) limiting memory and process count."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup | None:
        """Make the cgroup, or return None when this host does not let us (the watchdog then applies)."""
        made: list[Path] = []
        try:
            for parent, settings in _cgroup_parents(limits):
                d = parent / name
                d.mkdir()
                made.append(d)
                for key, value in settings.items():
                    (d / key).write_text(value)
        except OSError:
            Cgroup(made).remove()
            return None
        return cls(made) if made else None

    def oom_killed(self) -> bool:
        """Whether the kernel hit the memory limit in this cgroup."""
        for d in self.dirs:
            for f, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                p = d / f
                if p.exists():
                    for line in p.read_text().splitlines():
                        k, _, v = line.partition(" ")
                        if k == key and int(v or 0) > 0:
                            return True
            p = d / "memory.failcnt"
            if p.exists() and int(p.read_text().strip() or 0) > 0:
                return True
        return False

    def pids_exhausted(self) -> bool:
        """Whether a fork was refused by the process-count limit."""
        for d in self.dirs:
            p = d / "pids.events"
            if p.exists():
                for line in p.read_text().splitlines():
                    k, _, v = line.partition(" ")
                    if k == "max" and int(v or 0) > 0:
                        return True
        return False

    def remove(self) -> None:
        """Kill anything left in the cgroup and delete it."""
        for d in self.dirs:
            procs = d / "cgroup.procs"
            try:
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), 9)
            except OSError:
                pass
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.01)


def _own_cgroup(controller: str) -> str:
    """This process's path in a v1 hierarchy (or the v2 one for controller '')."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller == "" and ctrls == "") or controller in ctrls.split(","):
            return path
    return "/"


def _cgroup_parents(limits: Limits) -> list[tuple[Path, dict[str, str]]]:
    """Where to create the sandbox cgroups on this host, with their limit files."""
    if os.environ.get("ASLGATE_NO_CGROUP"):
        return []
    root = Path("/sys/fs/cgroup")
    mem = str(limits.memory_mb * MiB)
    pids = str(limits.max_processes)
    v2 = root / "cgroup.controllers"
    if v2.exists():
        parent = root / _own_cgroup("").lstrip("/")
        ctrls = (parent / "cgroup.subtree_control").read_text().split()
        if "memory" in ctrls and "pids" in ctrls:
            return [(parent, {"memory.max": mem, "memory.swap.max": "0", "pids.max": pids})]
        return []
    out: list[tuple[Path, dict[str, str]]] = []
    if (root / "memory").is_dir():
        parent = root / "memory" / _own_cgroup("memory").lstrip("/")
        out.append((parent, {"memory.limit_in_bytes": mem}))
    if (root / "pids").is_dir():
        parent = root / "pids" / _own_cgroup("pids").lstrip("/")
        out.append((parent, {"pids.max": pids}))
    return out if len(out) == 2 else []
