"""The bubblewrap sandbox: every command run on a model's behalf goes through `Sandbox.run`.

No network, no host files but a read-only toolchain, a private writable /work and /tmp, and
CPU, wall-time, memory, process-count, file-size and output limits. Free of Inspect imports so the
CLI's verifier starts fast; `bwrap.py` wraps it as Inspect's sandbox environment ``bwrap``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aslgate.errors import UserError
from aslgate.sandbox.limits import Limits, acquire_cgroup, launch_prefix, release_cgroup

WORKDIR = "/work"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
)
_WATCH_INTERVAL = 0.05


class SandboxError(UserError, RuntimeError):
    """The sandbox itself could not be started (bwrap missing, bad mount, ...)."""


class FileTooLarge(RuntimeError):
    """A file read from the sandbox is larger than the caller allows."""


@dataclass
class RunResult:
    """Outcome of one sandboxed command, with which limit (if any) stopped it."""

    returncode: int
    stdout: bytes
    stderr: bytes
    wall_seconds: float
    limit: Literal["wall", "cpu", "memory", "processes", "file_size"] | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @property
    def signal(self) -> int | None:
        """The signal that ended the command, if any (bwrap reports 128+N)."""
        if self.returncode < 0:
            return -self.returncode
        return self.returncode - 128 if self.returncode > 128 else None

    def text(self, stream: Literal["stdout", "stderr"] = "stdout") -> str:
        """A stream decoded as UTF-8 with replacement characters."""
        return getattr(self, stream).decode("utf-8", errors="replace")


def bwrap_available() -> bool:
    """Whether bubblewrap is installed."""
    return shutil.which("bwrap") is not None


def _mask_paths() -> list[str]:
    """Parts of this package visible under /usr (a system-wide install) that must stay hidden:
    the challenge corpus holds reference PoCs and fixes."""
    here = Path(__file__).resolve().parent.parent
    return [str(here)] if str(here).startswith("/usr/") else []


class Sandbox:
    """A private working directory on the host, mounted at /work in each bwrap'd command."""

    def __init__(self, workdir: Path | None = None, limits: Limits | None = None) -> None:
        self._owned = workdir is None
        root = os.environ.get("ASLGATE_SANDBOX_ROOT")
        if root:
            Path(root).mkdir(parents=True, exist_ok=True)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="aslgate-sbx-", dir=root))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()

    def cleanup(self) -> None:
        """Delete the working directory if this sandbox created it."""
        if self._owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def bwrap_args(self, limits: Limits, cwd: str | None, env: dict[str, str] | None) -> list[str]:
        """The bwrap command line (everything before the sandboxed command)."""
        args = [
            "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--uid",
            "1000",
            "--gid",
            "1000",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            p = Path(top)
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), top]
            elif p.is_dir():
                args += ["--ro-bind", top, top]
        for f in _ETC_FILES:
            if os.path.exists(f):
                args += ["--ro-bind", f, f]
        for m in _mask_paths():
            args += ["--tmpfs", m, "--remount-ro", m]
        args += [
            "--bind",
            str(self.workdir),
            WORKDIR,
            "--size",
            str(limits.tmpfs_mb * 1024 * 1024),
            "--tmpfs",
            "/tmp",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--chdir",
            _resolve_cwd(cwd),
            "--clearenv",
        ]
        base_env = {"PATH": SANDBOX_PATH, "HOME": WORKDIR, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
        for k, v in {**base_env, **(env or {})}.items():
            args += ["--setenv", k, v]
        return [*args, "--"]

    async def run(
        self,
        cmd: list[str],
        *,
        input: bytes | str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        limits: Limits | None = None,
    ) -> RunResult:
        """Run `cmd` inside the sandbox and report how it ended; never raises on the command's failure."""
        if not bwrap_available():
            raise SandboxError("bubblewrap (bwrap) is not installed: run the README's set-up command")
        lim = limits or self.limits
        cgroup = acquire_cgroup(lim)

        prefix = launch_prefix(lim, cgroup)
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            proc = await asyncio.create_subprocess_exec(
                *prefix,
                *self.bwrap_args(lim, cwd, env),
                *cmd,
                stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            if cgroup is not None:
                release_cgroup(cgroup)
            if e.errno == errno.E2BIG:  # the command itself is too large: the caller's failure, not ours
                return RunResult(126, b"", b"aslgate sandbox: argument list too long\n", 0.0)
            raise SandboxError(f"cannot start bwrap: {e}") from e

        limit_hit: list[str] = []
        out = _Capped(lim.max_output_bytes)
        err = _Capped(lim.max_output_bytes)

        async def feed() -> None:
            if input is not None and proc.stdin is not None:
                data = input.encode() if isinstance(input, str) else input
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    proc.stdin.write(data)
                    await proc.stdin.drain()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    proc.stdin.close()

        async def watchdog() -> None:
            while True:
                await asyncio.sleep(_WATCH_INTERVAL)
                if cgroup is None:
                    rss, count = _tree_usage(proc.pid)
                    if rss > lim.memory_mb * 1024 * 1024:
                        limit_hit.append("memory")
                    elif count > lim.max_processes:
                        limit_hit.append("processes")
                    if limit_hit:
                        _kill(proc.pid)
                        return

        tasks = [
            asyncio.ensure_future(proc.wait()),
            asyncio.ensure_future(feed()),
            asyncio.ensure_future(out.drain(proc.stdout)),
            asyncio.ensure_future(err.drain(proc.stderr)),
        ]
        dog = asyncio.ensure_future(watchdog())
        try:
            _, pending = await asyncio.wait(tasks, timeout=lim.wall_seconds)
            if pending:
                limit_hit.append("wall")
                _kill(proc.pid)
                await asyncio.wait(pending, timeout=5)
        except asyncio.CancelledError:
            _kill(proc.pid)
            raise
        finally:
            dog.cancel()
            for t in tasks:
                t.cancel()
            if cgroup is not None:
                if cgroup.oom_killed():
                    limit_hit.append("memory")
                elif cgroup.pids_exhausted():
                    limit_hit.append("processes")
                release_cgroup(cgroup)
        rc = proc.returncode if proc.returncode is not None else -9
        if not limit_hit and rc in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            limit_hit.append("cpu")
        if not limit_hit and rc in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
            limit_hit.append("file_size")
        return RunResult(
            returncode=rc,
            stdout=out.data(),
            stderr=err.data(),
            wall_seconds=loop.time() - start,
            limit=limit_hit[0] if limit_hit else None,  # type: ignore[arg-type]
            stdout_truncated=out.truncated,
            stderr_truncated=err.truncated,
        )

    def run_sync(self, cmd: list[str], **kwargs: Any) -> RunResult:
        """`run` for callers outside an event loop (the CLI, tests)."""
        return asyncio.run(self.run(cmd, **kwargs))

    async def read(self, path: str, max_bytes: int = 100 * 1024 * 1024) -> bytes:
        """Read a file as the sandbox sees it (so symlinks cannot point outside it)."""
        lim = self.limits.model_copy(update={"max_output_bytes": max_bytes + 1, "wall_seconds": 30})
        r = await self.run(["cat", "--", path], limits=lim)
        if r.returncode != 0:
            msg = r.text("stderr").strip()
            if "Is a directory" in msg:
                raise IsADirectoryError(path)
            if "Permission denied" in msg:
                raise PermissionError(path)
            raise FileNotFoundError(path)
        if r.stdout_truncated or len(r.stdout) > max_bytes:
            raise FileTooLarge(f"{path} is larger than {max_bytes} bytes")
        return r.stdout

    async def write(self, path: str, contents: bytes | str) -> None:
        """Write a file inside the sandbox, creating parent directories."""
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        r = await self.run(["sh", "-c", script, "sh", path], input=contents)
        if r.returncode != 0:
            msg = r.text("stderr").strip()
            if "Is a directory" in msg:
                raise IsADirectoryError(path)
            raise PermissionError(f"{path}: {msg}")


def _resolve_cwd(cwd: str | None) -> str:
    if not cwd:
        return WORKDIR
    return cwd if cwd.startswith("/") else f"{WORKDIR}/{cwd}"


class _Capped:
    """Collects a stream up to a byte cap; counts and drops the rest so the child never blocks."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            room = self.cap - self.size
            if room > 0:
                self.chunks.append(chunk[:room])
                self.size += min(room, len(chunk))
            if len(chunk) > room:
                self.truncated = True

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _kill(pid: int) -> None:
    """Kill bwrap's process group; --die-with-parent and the pid namespace take the rest down."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _tree_usage(root: int) -> tuple[int, int]:
    """Resident bytes and process count of `root` and its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    rss, count, stack = 0, 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        count += 1
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, ()))
    return rss, count
