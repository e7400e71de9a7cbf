"""The bubblewrap sandbox: every command run on a model's behalf goes through `Sandbox.run`.

No network, no host files but a read-only toolchain, no host environment, no host privileges (bwrap runs
as the unprivileged host user aslgate-sbx, with a seccomp filter, read-only /proc/sys and no nested user
namespaces), a private size-limited /work, /tmp and /dev/shm and a read-only /, and CPU (total),
wall-time, memory (tmpfs included), process-count, file-size and output limits. Host artefacts (cached
binaries) enter read-only, checked by hash. See docs/sandbox.md. Free of Inspect imports so the CLI's
verifier starts fast; `bwrap.py` wraps it as Inspect's sandbox environment ``bwrap``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import errno
import hashlib
import os
import shutil
import signal
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aslgate.errors import UserError
from aslgate.sandbox import seccomp
from aslgate.sandbox.host import HostMode, require_host
from aslgate.sandbox.limits import Limits, MiB, acquire_cgroup, launch_prefix, release_cgroup

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
    cpu_seconds: float | None = None  # total CPU of every process of the command (cgroup accounting only)

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


class IntegrityError(SandboxError):
    """A host artefact (a cached binary) does not have the hash it was recorded with."""


class Sandbox:
    """A private working directory on the host (a size-limited tmpfs in the strong sandbox), mounted at
    /work in each bwrap'd command. Host code moves files in and out with `put_file`/`put_tree`/`get_file`,
    which never follow links the sandbox may have planted; host artefacts enter read-only via `add_readonly`."""

    def __init__(self, workdir: Path | None = None, limits: Limits | None = None) -> None:
        self.host: HostMode = require_host()
        self.limits = limits or Limits()
        self._owned = workdir is None
        root = os.environ.get("ASLGATE_SANDBOX_ROOT")
        if root:
            Path(root).mkdir(parents=True, exist_ok=True)
        _sweep_stale_mounts()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"aslgate-sbx-{os.getpid()}-", dir=root))
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.host.uid is not None:
            _check_traversable(self.workdir.parent)
        self._mounted = False
        uid, gid = self.host.uid, self.host.gid
        if self.host.mount_work:
            if any(self.workdir.iterdir()):
                raise SandboxError(f"{self.workdir}: a sandbox's working directory must start empty")
            try:
                _mount_tmpfs(self.workdir, self.limits.work_mb * MiB, uid or 0, gid or 0)
                self._mounted = True
            except SandboxError:
                if self.host.mode == "strong":
                    raise
                if uid is not None and gid is not None:  # the weak sandbox: an unbounded host directory
                    os.chown(self.workdir, uid, gid)
        elif uid is not None and gid is not None:
            os.chown(self.workdir, uid, gid)
        os.chmod(self.workdir, 0o700)

    def cleanup(self) -> None:
        """Unmount the working directory; delete it if this sandbox created it."""
        if self._mounted:
            _umount(self.workdir)
            self._mounted = False
        if self._owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ files in and out (host side)

    def _owner(self) -> tuple[int, int] | None:
        if self.host.uid is None or self.host.gid is None or os.geteuid() != 0:
            return None
        return self.host.uid, self.host.gid

    def _dir_fd(self, parts: list[str], create: bool) -> int:
        """An fd of /work/<parts> opened component by component without following links."""
        fd = os.open(self.workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        owner = self._owner()
        try:
            for part in parts:
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                        if owner:
                            os.chown(part, *owner, dir_fd=fd, follow_symlinks=False)
                    except FileExistsError:
                        pass
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except OSError:
            os.close(fd)
            raise
        return fd

    def put_file(self, rel: str, data: bytes | str, *, executable: bool = False) -> None:
        """Write /work/<rel> from the host, owned by the sandbox user; links in the way are not followed."""
        *parents, name = _rel_parts(rel)
        payload = data.encode() if isinstance(data, str) else data
        dfd = self._dir_fd(parents, create=True)
        try:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(name, dir_fd=dfd)  # replace, never write through, whatever is there
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if executable else 0o644,
                         dir_fd=dfd)  # fmt: skip
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                owner = self._owner()
                if owner:
                    os.fchown(fd, *owner)
            finally:
                os.close(fd)
        finally:
            os.close(dfd)

    def put_tree(self, src: Path, rel: str, *, symlinks: bool = False, ignore: tuple[str, ...] = ()) -> None:
        """Copy a host directory into /work/<rel> without following links: regular files and directories;
        symlinks are recreated as links (that resolve inside the sandbox) when `symlinks`, else rejected;
        devices, fifos and sockets are rejected."""
        for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
            here = Path(dirpath).relative_to(src)
            dirnames[:] = sorted(d for d in dirnames if not any(Path(d).match(p) for p in ignore))
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                if any(Path(name).match(p) for p in ignore):
                    continue
                path = Path(dirpath) / name
                dest = f"{rel}/{(here / name).as_posix()}"
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    if not symlinks:
                        raise SandboxError(f"{path}: is a symbolic link (not copied into the sandbox)")
                    self.put_symlink(dest, os.readlink(path))
                elif stat.S_ISREG(st.st_mode):
                    self.put_file(dest, read_nofollow(path), executable=bool(st.st_mode & 0o111))
                else:
                    raise SandboxError(
                        f"{path}: not a regular file or directory (not copied into the sandbox)"
                    )
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            if not filenames and not dirnames:  # an empty directory: create it too
                os.close(self._dir_fd(_rel_parts(f"{rel}/{here.as_posix()}"), create=True))

    def put_symlink(self, rel: str, target: str) -> None:
        """Create the link /work/<rel> -> target (it resolves inside the sandbox, never on the host side)."""
        *parents, name = _rel_parts(rel)
        dfd = self._dir_fd(parents, create=True)
        try:
            os.symlink(target, name, dir_fd=dfd)
            owner = self._owner()
            if owner:
                os.chown(name, *owner, dir_fd=dfd, follow_symlinks=False)
        finally:
            os.close(dfd)

    def get_file(self, rel: str, max_bytes: int = 100 * MiB) -> bytes:
        """Read /work/<rel> on the host side: a regular file only, reached without following any link."""
        *parents, name = _rel_parts(rel)
        try:
            dfd = self._dir_fd(parents, create=False)
        except NotADirectoryError:
            raise FileNotFoundError(rel) from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise FileNotFoundError(rel) from None
            raise
        try:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise FileNotFoundError(rel) from None
                raise
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectoryError(rel)
                if not stat.S_ISREG(st.st_mode):
                    raise FileNotFoundError(f"{rel}: not a regular file")
                if st.st_size > max_bytes:
                    raise FileTooLarge(f"{rel} is larger than {max_bytes} bytes")
                chunks, size = [], 0
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(f"{rel} is larger than {max_bytes} bytes")
                return b"".join(chunks)
            finally:
                os.close(fd)
        finally:
            os.close(dfd)

    def list_files(self, rel: str) -> list[str]:
        """Names of the regular files directly in /work/<rel> (none if it is missing or not a directory)."""
        try:
            dfd = self._dir_fd(_rel_parts(rel) if rel.strip("/") not in ("", ".") else [], create=False)
        except OSError:
            return []
        try:
            names = []
            for name in sorted(os.listdir(dfd)):
                with contextlib.suppress(OSError):
                    if stat.S_ISREG(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
                        names.append(name)
            return names
        finally:
            os.close(dfd)

    def add_readonly(self, host_path: Path, dest: str, sha256: str | None = None) -> None:
        """Copy a host artefact (a cached binary) to /work/<dest>, owned by root and read-only for the
        sandbox: a PoC can only ever change this sandbox's copy, never the cache. When `sha256` is given
        the artefact must still have it (a changed artefact is refused, never run)."""
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise IntegrityError(f"{host_path}: not a regular file")
            if sha256 is not None and fd_sha256(fd) != sha256:
                raise IntegrityError(f"{host_path}: sha256 differs from the one recorded when it was built")
            *parents, name = _rel_parts(dest)
            dfd = self._dir_fd(parents, create=True)
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=dfd)
                out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o555, dir_fd=dfd)
                try:
                    off = 0
                    while off < st.st_size:
                        n = os.sendfile(out, fd, off, st.st_size - off)
                        if n <= 0:
                            break
                        off += n
                    os.fchmod(out, 0o555)
                finally:
                    os.close(out)
            finally:
                os.close(dfd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------ running

    def bwrap_args(
        self,
        limits: Limits,
        cwd: str | None,
        env: dict[str, str] | None,
        *,
        work_fd: int | None = None,
        seccomp_fd: int | None = None,
    ) -> list[str]:
        """bwrap's options (passed through --args FD, so no host path shows in the sandbox's /proc/1/cmdline)."""
        args = [
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
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
        if work_fd is not None:
            args += ["--bind-fd", str(work_fd), WORKDIR]
        else:
            args += ["--bind", str(self.workdir), WORKDIR]
        args += [
            "--size",
            str(limits.tmpfs_mb * MiB),
            "--tmpfs",
            "/tmp",
            "--proc",
            "/proc",
            # bwrap's own pid 1 (its init, which carries the death signal): its memory is masked, so no code
            # can be written into it (ptrace writes and process_vm_writev are refused by seccomp)
            "--ro-bind",
            "/dev/null",
            "/proc/1/mem",
            "--ro-bind",
            "/dev/null",
            "/proc/1/task/1/mem",
            "--ro-bind",
            "/proc/sys",
            "/proc/sys",
            "--dev",
            "/dev",
            "--size",
            str(limits.shm_mb * MiB),
            "--tmpfs",
            "/dev/shm",
            "--remount-ro",
            "/dev",
            "--remount-ro",
            "/",
            "--chdir",
            _resolve_cwd(cwd),
            "--clearenv",
        ]
        base_env = {"PATH": SANDBOX_PATH, "HOME": WORKDIR, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
        for k, v in {**base_env, **(env or {})}.items():
            args += ["--setenv", k, v]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        return args

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
        bwrap = shutil.which("bwrap")
        if not bwrap:
            raise SandboxError("bubblewrap (bwrap) is not installed: run the README's set-up command")
        lim = limits or self.limits
        fds: list[int] = []
        cgroup = None
        try:
            fds.append(seccomp_fd := seccomp.filter_fd())
            fds.append(work_fd := os.open(self.workdir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW))
            opts = self.bwrap_args(lim, cwd, env, work_fd=work_fd, seccomp_fd=seccomp_fd)
            fds.append(args_fd := os.memfd_create("aslgate-bwrap-args", 0))
            os.write(args_fd, b"".join(a.encode() + b"\0" for a in opts))
            os.lseek(args_fd, 0, os.SEEK_SET)
            cgroup = acquire_cgroup(lim) if self.host.cgroups else None
            prefix = launch_prefix(lim, cgroup, self.host.uid, self.host.gid)
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *prefix,
                    bwrap,
                    "--args",
                    str(args_fd),
                    "--",
                    *cmd,
                    stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,
                    env={},  # bwrap's own environment is visible inside as /proc/1/environ
                    cwd="/",  # the launcher shell exports PWD: not the host's working directory
                    pass_fds=fds,
                )
            except OSError as e:
                if cgroup is not None:
                    release_cgroup(cgroup)
                if e.errno == errno.E2BIG:  # the command itself is too large: the caller's failure, not ours
                    return RunResult(126, b"", b"aslgate sandbox: argument list too long\n", 0.0)
                raise SandboxError(f"cannot start bwrap: {e}") from e
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        for fd in fds:
            os.close(fd)

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
                if cgroup is not None:
                    if cgroup.accounts_cpu and cgroup.cpu_seconds() > lim.cpu_seconds:
                        limit_hit.append("cpu")  # the total over every process, not per process
                        _kill(proc.pid)
                        cgroup.kill()
                        return
                    continue
                rss, count = _tree_usage(proc.pid)
                if count > lim.max_processes:  # first: a fork bomb's summed RSS also grows past the limit
                    limit_hit.append("processes")
                elif rss > lim.memory_mb * 1024 * 1024:
                    limit_hit.append("memory")
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
                if cgroup is not None:
                    cgroup.kill()
                await asyncio.wait(pending, timeout=5)
        except asyncio.CancelledError:
            _kill(proc.pid)
            raise
        finally:
            dog.cancel()
            for t in tasks:
                t.cancel()
            cpu_used = None
            if cgroup is not None:
                if cgroup.accounts_cpu:
                    cpu_used = round(cgroup.cpu_seconds(), 3)
                if cgroup.oom_killed():
                    limit_hit.append("memory")
                elif cgroup.pids_exhausted():
                    limit_hit.append("processes")
                release_cgroup(cgroup)  # kills whatever is left: daemons do not outlive their command
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
            cpu_seconds=cpu_used,
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


def _check_traversable(d: Path) -> None:
    """bwrap runs as the sandbox user and resolves /work's host path itself: every ancestor must let others
    through (x for others), as /tmp does; a private root such as /root/... cannot hold sandboxes."""
    for p in [d, *d.parents]:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            raise SandboxError(
                f"{p}: not traversable by the sandbox user (mode {stat.filemode(os.stat(p).st_mode)}); "
                "put sandboxes elsewhere with ASLGATE_SANDBOX_ROOT (e.g. /tmp or /var/tmp)"
            )


def _rel_parts(rel: str) -> list[str]:
    """The components of a path under /work; refuses '..' and empty names."""
    p = rel.removeprefix(WORKDIR + "/") if rel.startswith(WORKDIR + "/") else rel
    parts = [x for x in p.split("/") if x not in ("", ".")]
    if not parts or ".." in parts or p.startswith("/"):
        raise ValueError(f"{rel!r} is not a path inside {WORKDIR}")
    return parts


def read_nofollow(path: Path, max_bytes: int = 256 * MiB) -> bytes:
    """A regular file's bytes, refusing a symlink (or fifo, device) at the last component."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SandboxError(f"{path}: not a regular file")
        if st.st_size > max_bytes:
            raise SandboxError(f"{path}: larger than {max_bytes} bytes")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


_digests: dict[tuple[int, int, int, int, int], str] = {}


def fd_sha256(fd: int) -> str:
    """sha256 of an open file, remembered per (device, inode, size, mtime, ctime): any write changes ctime."""
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        off = 0
        while chunk := os.pread(fd, 1 << 20, off):
            h.update(chunk)
            off += len(chunk)
        _digests[key] = h.hexdigest()
    return _digests[key]


def file_sha256(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        return fd_sha256(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- size-limited /work (host tmpfs mounts)

_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2
_mounts: set[str] = set()
_swept_mounts = False


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(path: Path, size: int, uid: int, gid: int) -> None:
    opts = f"size={size},mode=0700,uid={uid},gid={gid}".encode()
    if _libc().mount(b"tmpfs", os.fsencode(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts) != 0:
        e = ctypes.get_errno()
        raise SandboxError(
            f"cannot mount the sandbox's /work at {path}: {os.strerror(e)} (or accept a weaker sandbox with "
            "--weak-sandbox, ASLGATE_WEAK_SANDBOX=1)"
        )
    _mounts.add(str(path))


def _umount(path: Path | str) -> None:
    _libc().umount2(os.fsencode(str(path)), _MNT_DETACH)
    _mounts.discard(str(path))


@atexit.register
def _umount_all() -> None:
    for p in list(_mounts):
        _umount(p)
        with contextlib.suppress(OSError):
            os.rmdir(p)


def _sweep_stale_mounts() -> None:
    """Unmount the /work of sandboxes whose aslgate process died without cleaning up."""
    global _swept_mounts
    if _swept_mounts or os.geteuid() != 0:
        return
    _swept_mounts = True
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        name = os.path.basename(point)
        if not name.startswith("aslgate-sbx-"):
            continue
        owner = name.split("-")[2] if name.count("-") >= 3 else ""
        if owner.isdigit() and int(owner) != os.getpid() and not Path(f"/proc/{owner}").exists():
            _umount(point)
            with contextlib.suppress(OSError):
                os.rmdir(point)


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
