"""Containment probes: small C and shell programs run inside the sandbox through `Sandbox.run` (the path
a PoC takes), each trying one escape or exhaustion, judged from the host side.

Shared by `aslgate sandbox check` (a user runs it before pointing a real model at aslgate) and
tests/test_containment.py. A probe is contained only when the host-side evidence says so: the host's
files, sysctls, cache and processes are unchanged, its environment did not leak, the limit held.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from aslgate.sandbox.core import RunResult, Sandbox, SandboxError
from aslgate.sandbox.host import host_mode
from aslgate.sandbox.limits import Limits

SMALL = Limits(wall_seconds=10, cpu_seconds=4, memory_mb=256, max_processes=64, max_output_bytes=64 * 1024)
CANARY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY")

PROBE_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static int allowed = 0;
/* a call counts as an escape when it succeeds; `eperm_only`: also when it fails other than with EPERM/ENOSYS
   (the seccomp filter's answers), i.e. the kernel looked at it */
static void check(const char *what, long rc, int eperm_only) {
  int e = errno;
  int bad = rc >= 0 || (eperm_only && e != EPERM && e != ENOSYS);
  printf("%s %s (%s)\n", what, bad ? "ALLOWED" : "denied", rc >= 0 ? "ok" : strerror(e));
  allowed += bad;
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "";
  if (!strcmp(m, "keyring")) {
    check("keyctl(GET_KEYRING_ID, session)", syscall(SYS_keyctl, 0, -3, 0), 0);
    check("keyctl(JOIN_SESSION_KEYRING)", syscall(SYS_keyctl, 1, 0), 0);
    check("keyctl(DESCRIBE, user keyring)", syscall(SYS_keyctl, 6, -4, 0, 0), 0);
    check("add_key(user, session)", syscall(SYS_add_key, "user", "aslgate-probe", "x", 1, -3), 0);
    check("request_key", syscall(SYS_request_key, "user", "aslgate-probe", 0, 0), 0);
  } else if (!strcmp(m, "userns")) {
    check("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), 0);
    check("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), 0);
    check("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), 0);
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, 0, 0);
    check("clone(CLONE_NEWUSER)", pid, 0);
    int fd = open("/proc/1/ns/user", O_RDONLY);
    check("setns(/proc/1/ns/user)", fd < 0 ? -1 : setns(fd, 0), 0);
  } else if (!strcmp(m, "mount")) {
    check("mount(tmpfs, /tmp)", mount("tmpfs", "/tmp", "tmpfs", 0, 0), 0);
    check("mount(MS_REMOUNT|MS_BIND, /usr rw)", mount("/usr", "/usr", 0, MS_REMOUNT | MS_BIND, 0), 0);
    check("umount2(/work)", umount2("/work", MNT_DETACH), 0);
    check("chroot(/tmp)", chroot("/tmp"), 0);
  } else if (!strcmp(m, "kernel")) {
    char attr[128] = {0};
    check("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, 0, attr, sizeof attr), 1);
    check("perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0), 1);
    check("init_module", syscall(SYS_init_module, attr, sizeof attr, ""), 1);
    check("finit_module", syscall(SYS_finit_module, 0, "", 0), 1);
    check("delete_module", syscall(SYS_delete_module, "loop", 0), 1);
    check("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0), 1);
    check("userfaultfd", syscall(SYS_userfaultfd, 0), 1);
    check("io_uring_setup", syscall(425, 1, attr), 1);
    check("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, attr, 0), 1);
    check("personality(ADDR_NO_RANDOMIZE)", personality(ADDR_NO_RANDOMIZE) < 0 ? -1 : 0, 0);
  } else if (!strcmp(m, "ptrace")) {
    long rc = ptrace(PTRACE_ATTACH, 1, 0, 0);
    printf("PTRACE_ATTACH pid 1: %s\n", rc == 0 ? "attached (read-only requests are allowed: LeakSanitizer)" : strerror(errno));
    if (rc == 0) waitpid(1, 0, __WALL);
    check("PTRACE_POKEDATA pid 1", ptrace(PTRACE_POKEDATA, 1, (void *)0x1000, 0), 1);
    check("PTRACE_POKEUSER pid 1", ptrace(PTRACE_POKEUSER, 1, 0, 0), 1);
#ifdef __x86_64__
    struct user_regs_struct regs;
    memset(&regs, 0, sizeof regs);
    ptrace(PTRACE_GETREGS, 1, 0, &regs);
    check("PTRACE_SETREGS pid 1", ptrace(PTRACE_SETREGS, 1, 0, &regs), 1);
#endif
    check("PTRACE_SETOPTIONS pid 1", ptrace(PTRACE_SETOPTIONS, 1, 0, 0), 1);
    check("PTRACE_CONT pid 1", ptrace(PTRACE_CONT, 1, 0, 0), 1);
    if (rc == 0) ptrace(PTRACE_DETACH, 1, 0, 0);
    check("PTRACE_SEIZE pid 1", ptrace(PTRACE_SEIZE, 1, 0, 0), 1);
    check("PTRACE_TRACEME", ptrace(PTRACE_TRACEME, 0, 0, 0), 1);
    check("open(/proc/1/mem, O_RDWR)", open("/proc/1/mem", O_RDWR), 0);
    check("open(/proc/1/task/1/mem, O_RDWR)", open("/proc/1/task/1/mem", O_RDWR), 0);
    char word[8] = {0};
    struct iovec local = {word, sizeof word}, remote = {(void *)0x10000, sizeof word};
    check("process_vm_writev pid 1", process_vm_writev(1, &local, 1, &remote, 1, 0), 1);
  } else if (!strcmp(m, "forkburst")) {
    int n = argc > 2 ? atoi(argv[2]) : 1000, ok = 0;
    for (int i = 0; i < n; i++) {
      pid_t p = fork();
      if (p == 0) { pause(); _exit(0); }
      if (p > 0) ok++;
    }
    printf("forked %d of %d\n", ok, n);
    fflush(stdout);
    kill(0, SIGKILL);
  } else if (!strcmp(m, "inotify")) {
    int n = 0;
    while (inotify_init1(0) >= 0 && n < 100000) n++;
    printf("inotify instances %d (%s)\n", n, strerror(errno));
    fflush(stdout);
    close(open("/work/ready", O_CREAT | O_WRONLY, 0644));
    sleep(3);
  } else {
    fprintf(stderr, "unknown probe %s\n", m);
    return 2;
  }
  fflush(stdout);
  return allowed ? 1 : 0;
}
"""


class ProbeResult(BaseModel):
    """One probe: what it tried, whether the sandbox held, and the evidence."""

    name: str
    tried: str
    contained: bool
    detail: str


@dataclass
class Context:
    """What probes share: the compiled probe kit and a scratch directory on the host."""

    kit: Path
    scratch: Path

    def sandbox(self, limits: Limits = SMALL) -> Sandbox:
        sbx = Sandbox(limits=limits)
        sbx.add_readonly(self.kit, "probe")
        return sbx


ProbeFn = Callable[[Context], Awaitable[tuple[bool, str]]]
PROBES: list[tuple[str, str, ProbeFn]] = []


def probe(name: str, tried: str) -> Callable[[ProbeFn], ProbeFn]:
    def register(fn: ProbeFn) -> ProbeFn:
        PROBES.append((name, tried, fn))
        return fn

    return register


async def _run(ctx: Context, cmd: list[str], limits: Limits = SMALL, **kw):
    sbx = ctx.sandbox(limits)
    try:
        return await sbx.run(cmd, **kw)
    finally:
        sbx.cleanup()


def _calls(r: RunResult) -> tuple[bool, str]:
    """Judge a C probe's `check` lines: contained when every call was refused."""
    lines = [ln for ln in r.text().splitlines() if " denied " in ln or " ALLOWED " in ln]
    bad = [ln.split(" ALLOWED ")[0] for ln in lines if " ALLOWED " in ln]
    errs = sorted({ln.rsplit("(", 1)[-1].rstrip(")") for ln in lines if " denied " in ln})
    if bad or not lines or r.returncode != 0:
        return False, "allowed: " + ", ".join(bad) if bad else f"probe did not run (exit {r.returncode})"
    return True, f"all {len(lines)} calls refused ({', '.join(errs)})"


def _last_lines(text: str, n: int = 3) -> str:
    return "; ".join(ln.strip() for ln in text.strip().splitlines()[-n:] if ln.strip())


# ---------------------------------------------------------------- privileges


@probe(
    "sysctl", "write kernel.core_pattern (pipe to a helper), core_uses_pid, modprobe, hostname via /proc/sys"
)
async def _sysctl(ctx: Context) -> tuple[bool, str]:
    keys = [k for k in ("kernel/core_pattern", "kernel/core_uses_pid", "kernel/modprobe", "kernel/hostname",
                        "vm/overcommit_memory", "kernel/randomize_va_space") if Path("/proc/sys", k).exists()]  # fmt: skip
    before = {k: Path("/proc/sys", k).read_text() for k in keys}
    script = (
        "printf '#!/bin/sh\\nid > /tmp/pwned\\n' > /work/helper; chmod +x /work/helper; n=0; "
        "for k in " + " ".join(keys) + "; do "
        'if echo "|/work/helper %p" > /proc/sys/$k 2>/dev/null || echo 1 > /proc/sys/$k 2>/dev/null; '
        'then echo "wrote $k"; n=$((n+1)); fi; done; echo "writes $n"'
    )
    r = await _run(ctx, ["sh", "-c", script])
    after = {k: Path("/proc/sys", k).read_text() for k in keys}
    changed = [k for k in keys if before[k] != after[k]]
    for k in changed:  # put the host back before reporting
        with contextlib.suppress(OSError):
            Path("/proc/sys", k).write_text(before[k])
    ok = not changed and "wrote" not in r.text()
    detail = (
        f"host sysctls changed: {changed}"
        if changed
        else f"{len(keys)} sysctls refused, host values unchanged"
    )
    return ok, detail + ("" if "wrote" not in r.text() else f" ({_last_lines(r.text())})")


@probe("host uid", "create a file in /work and check its owner on the host; read /proc/self/uid_map")
async def _uid(ctx: Context) -> tuple[bool, str]:
    sbx = ctx.sandbox()
    try:
        r = await sbx.run(["sh", "-c", "touch /work/mine; id -u; cat /proc/self/uid_map"])
        uid = (sbx.workdir / "mine").stat().st_uid
    finally:
        sbx.cleanup()
    return uid != 0, f"a file made inside is owned by host uid {uid} (inside: uid {r.text().split()[0]})"


@probe("cmdline", "look for host paths in /proc/1/cmdline and the sandbox's environment")
async def _cmdline(ctx: Context) -> tuple[bool, str]:
    sbx = ctx.sandbox()
    try:
        r = await sbx.run(["sh", "-c", "cat /proc/1/cmdline /proc/1/environ; echo; env"])
        leaks = [p for p in (str(sbx.workdir), os.getcwd(), tempfile.gettempdir() + "/") if p in r.text()]
    finally:
        sbx.cleanup()
    return (
        not leaks,
        f"host paths visible: {leaks}" if leaks else "no host path in /proc/1/cmdline or environ",
    )


@probe("keyrings", "keyctl/add_key/request_key on the session and user keyrings")
async def _keyring(ctx: Context) -> tuple[bool, str]:
    return _calls(await _run(ctx, ["./probe", "keyring"]))


@probe("nested userns", "unshare/clone a new user, mount or net namespace; setns into pid 1's")
async def _userns(ctx: Context) -> tuple[bool, str]:
    return _calls(await _run(ctx, ["./probe", "userns"]))


@probe("mounts", "mount a tmpfs, remount /usr read-write, unmount /work, chroot")
async def _mounts(ctx: Context) -> tuple[bool, str]:
    return _calls(await _run(ctx, ["./probe", "mount"]))


@probe(
    "kernel surface",
    "bpf, perf_event_open, module loading, kexec, userfaultfd, io_uring, open_by_handle_at, personality",
)
async def _kernel(ctx: Context) -> tuple[bool, str]:
    return _calls(await _run(ctx, ["./probe", "kernel"]))


@probe(
    "ptrace pid 1",
    "attach to the sandbox's pid 1 and inject (POKEDATA/POKEUSER/SETREGS/SETOPTIONS/CONT, SEIZE, /proc/1/mem, process_vm_writev)",
)
async def _ptrace(ctx: Context) -> tuple[bool, str]:
    r = await _run(ctx, ["./probe", "ptrace"])
    ok, detail = _calls(r)
    attach = next(
        (ln.split(": ", 1)[1] for ln in r.text().splitlines() if ln.startswith("PTRACE_ATTACH")), "?"
    )
    return ok, f"attach: {attach.split(' (')[0]}; injection: {detail}"


# ---------------------------------------------------------------- secrets and host data


@probe(
    "host environment",
    "read /proc/1/environ, /proc/self/environ and env for canary API keys set in the parent",
)
async def _environ(ctx: Context) -> tuple[bool, str]:
    canaries = {k: f"aslgate-canary-{secrets.token_hex(8)}" for k in CANARY_VARS}
    saved = {k: os.environ.get(k) for k in canaries}
    os.environ.update(canaries)
    try:
        r = await _run(
            ctx,
            [
                "sh",
                "-c",
                "cat /proc/1/environ /proc/self/environ; for p in /proc/[0-9]*; do cat $p/environ; done 2>/dev/null; env",
            ],
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    leaked = [k for k, v in canaries.items() if v in r.text()]
    return not leaked, f"leaked: {leaked}" if leaked else f"none of {len(canaries)} canary keys visible"


@probe("host files", "read /etc/shadow, /root, the challenge corpus (reference PoCs), $HOME")
async def _host_reads(ctx: Context) -> tuple[bool, str]:
    from aslgate.cyber.corpus import CHALLENGES_DIR

    paths = [
        "/etc/shadow",
        "/root",
        str(CHALLENGES_DIR),
        str(Path.home()),
        "/work/../etc/hostname",
        "/proc/1/root/etc/shadow",
    ]
    script = 'for p in "$@"; do if cat "$p" >/dev/null 2>&1 || ls "$p" >/dev/null 2>&1; then echo "read $p"; fi; done'
    r = await _run(ctx, ["sh", "-c", script, "sh", *paths])
    return "read " not in r.text(), _last_lines(r.text()) or f"{len(paths)} host paths unreadable"


@probe("host file writes", "write into /usr, /etc, / and /tmp and look for the files on the host")
async def _host_writes(ctx: Context) -> tuple[bool, str]:
    name = f"aslgate-probe-{secrets.token_hex(4)}"
    await _run(
        ctx,
        [
            "sh",
            "-c",
            f"for d in /usr /etc / /tmp /dev /proc/sys; do echo x > $d/{name}; done 2>/dev/null; true",
        ],
    )
    found = [d for d in ("/usr", "/etc", "/", "/tmp", "/dev") if Path(d, name).exists()]
    for d in found:
        with contextlib.suppress(OSError):
            Path(d, name).unlink()
    return not found, f"written on the host: {found}" if found else "no file reached the host"


@probe("host processes", "list /proc and look for the host's processes (this aslgate process)")
async def _host_procs(ctx: Context) -> tuple[bool, str]:
    r = await _run(ctx, ["sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"])
    lines = [ln for ln in r.text().splitlines() if ln.strip()]
    me = (
        Path(f"/proc/{os.getpid()}/cmdline")
        .read_bytes()
        .replace(b"\0", b" ")
        .decode(errors="replace")
        .strip()
    )
    seen = me in r.text() or len(lines) > 6
    return not seen, f"{len(lines)} processes visible, all the sandbox's own"


@probe(
    "symlinked challenge",
    "load a challenge whose src/ holds a symlink to /etc/shadow; copy a hunt project with one",
)
async def _symlinked_challenge(ctx: Context) -> tuple[bool, str]:
    from aslgate.cyber.corpus import ChallengeError, load_challenge

    d = ctx.scratch / "evil-challenge"
    (d / "src").mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink("/etc/shadow", d / "src" / "x.c")
    (d / "challenge.yaml").write_text("id: evil\n")
    try:
        load_challenge(d)
        return False, "a challenge with a symlinked source was loaded"
    except ChallengeError as e:
        refused = str(e)
    # hunt copies a user's project keeping links as links: inside the sandbox they resolve in its own root
    sbx = ctx.sandbox()
    try:
        sbx.put_tree(d / "src", "src", symlinks=True)
        r = await sbx.run(["sh", "-c", "cat src/x.c && echo READ"])
    finally:
        sbx.cleanup()
    leaked = "READ" in r.text() or b"root:" in r.stdout
    return not leaked, refused.split(": ", 1)[-1] + ("" if not leaked else "; but the link was followed")


@probe(
    "cache poisoning",
    "a PoC that reaches execve (run by the verifier's run_binary) rewrites and replaces ./prog, the cached binary",
)
async def _cache(ctx: Context) -> tuple[bool, str]:
    from aslgate.cyber.corpus import Build
    from aslgate.cyber.verify import run_binary
    from aslgate.sandbox.core import file_sha256

    cached = ctx.scratch / "cache" / "prog"
    cached.parent.mkdir(exist_ok=True)
    # stands in for a cached build whose input handling an exploit has hijacked: it runs the input as code
    cached.write_bytes(b'#!/bin/sh\necho original; sh "$1"\n')
    os.chmod(cached, 0o555)
    b = Build("plain", "probe", cached, "", file_sha256(cached))
    poc = b"echo 'echo forged' >> ./prog; cp ./prog /tmp/p; rm -f ./prog; printf '#!/bin/sh\\necho forged\\n' > ./prog; chmod +x ./prog"
    await run_binary(b, poc)
    again = (await run_binary(b, b"true")).text().strip()
    intact = file_sha256(cached) == b.sha256 and again == "original"
    return (
        intact,
        "the cached binary is unchanged and the next run sees the original"
        if intact
        else f"cache changed ({again!r})",
    )


# ---------------------------------------------------------------- network and IPC


@probe("network", "connect to a listener on the host's 127.0.0.1 and list interfaces")
async def _network(ctx: Context) -> tuple[bool, str]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.setblocking(False)
    port = srv.getsockname()[1]
    try:
        r = await _run(
            ctx,
            [
                "bash",
                "-c",
                f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED; cut -d: -f1 /proc/net/dev | tail -n +3",
            ],
        )
        try:
            srv.accept()
            reached = True
        except BlockingIOError:
            reached = False
    finally:
        srv.close()
    ok = not reached and "CONNECTED" not in r.text()
    return ok, f"interfaces: {' '.join(r.text().split())}; the host listener saw no connection"


@probe("unix sockets", "connect to unix sockets bound on the host under /run and /tmp, and an abstract one")
async def _unix(ctx: Context) -> tuple[bool, str]:
    tag = secrets.token_hex(4)
    paths = [Path(tempfile.gettempdir()) / f"aslgate-probe-{tag}.sock"]
    if Path("/run").is_dir():
        paths.append(Path("/run") / f"aslgate-probe-{tag}.sock")
    socks = []
    for p in paths:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.listen(1)
        s.setblocking(False)
        socks.append(s)
    ab = socket.socket(socket.AF_UNIX)
    ab.bind(f"\0aslgate-probe-{tag}")
    ab.listen(1)
    ab.setblocking(False)
    socks.append(ab)
    code = (
        "import socket,sys\n"
        "for a in sys.argv[1:]:\n"
        "    s=socket.socket(socket.AF_UNIX)\n"
        "    try:\n"
        "        s.connect(a.replace('@','\\0',1)); print('CONNECTED', a)\n"
        "    except OSError as e: print('refused', a, e.strerror)\n"
    )
    try:
        r = await _run(ctx, ["python3", "-c", code, *map(str, paths), f"@aslgate-probe-{tag}"])
        reached = []
        for s in socks:
            try:
                s.accept()
                reached.append(s.getsockname())
            except BlockingIOError:
                pass
    finally:
        for s in socks:
            s.close()
        for p in paths:
            with contextlib.suppress(OSError):
                p.unlink()
    ok = not reached and "CONNECTED" not in r.text()
    return ok, "no host socket reached (filesystem and abstract)" if ok else f"reached: {reached} {r.text()}"


# ---------------------------------------------------------------- limits


@probe("fork burst", "fork 1000 processes as fast as possible (limit 64)")
async def _fork_burst(ctx: Context) -> tuple[bool, str]:
    r = await _run(ctx, ["./probe", "forkburst", "1000"])
    got = next((int(ln.split()[1]) for ln in r.text().splitlines() if ln.startswith("forked")), None)
    ok = (got is not None and got < SMALL.max_processes) or (r.limit == "processes" and got is None)
    return (
        ok,
        f"forked {got} of 1000 (limit {r.limit})" if got is not None else f"stopped by the {r.limit} limit",
    )


@probe("fork bomb", "the classic shell fork bomb, then check the host still forks and nothing survives")
async def _fork_bomb(ctx: Context) -> tuple[bool, str]:
    r = await _run(
        ctx, ["bash", "-c", ":(){ :|:& };:; sleep 30"], SMALL.model_copy(update={"wall_seconds": 5})
    )
    ok = r.limit in ("processes", "wall") and r.wall_seconds < 15 and os.system("true") == 0
    return ok, f"stopped by the {r.limit} limit after {r.wall_seconds:.1f} s"


@probe("daemon", "double-fork a setsid daemon that keeps writing to /work after the command returns")
async def _daemon(ctx: Context) -> tuple[bool, str]:
    sbx = ctx.sandbox()
    try:
        script = "( setsid sh -c 'trap \"\" HUP TERM; while :; do date +%s%N > /work/alive; sleep 0.05; done' & ) ; sleep 0.3"
        await sbx.run(["sh", "-c", script])
        first = _mtime(sbx.workdir / "alive")
        await asyncio.sleep(0.5)
        later = _mtime(sbx.workdir / "alive")
    finally:
        sbx.cleanup()
    ok = first is not None and first == later
    return ok, "the daemon died with its command" if ok else "the daemon kept running after its command"


def _mtime(p: Path) -> int | None:
    try:
        return p.stat().st_mtime_ns
    except OSError:
        return None


@probe("memory", "allocate 8 GiB (limit 256 MiB)")
async def _memory(ctx: Context) -> tuple[bool, str]:
    r = await _run(
        ctx,
        [
            "python3",
            "-c",
            "b = bytearray(8 * 1024**3); b[::4096] = b'x' * (len(b) // 4096); print('allocated')",
        ],
    )
    ok = "allocated" not in r.text()
    return ok, f"stopped ({r.limit or 'allocation failed'})"


@probe("tmpfs memory", "fill a 1 GiB /tmp with 600 MB under a 256 MiB memory limit (tmpfs pages must count)")
async def _tmpfs_memory(ctx: Context) -> tuple[bool, str]:
    lim = SMALL.model_copy(update={"tmpfs_mb": 1024, "max_file_mb": 1024, "wall_seconds": 20})
    r = await _run(
        ctx, ["sh", "-c", "head -c 600000000 /dev/zero > /tmp/fill; ls -l /tmp/fill; echo done"], lim
    )
    size = next((int(ln.split()[4]) for ln in r.text().splitlines() if ln.startswith("-")), 0)
    ok = "done" not in r.text() or size < 600_000_000
    return (
        ok,
        f"stopped ({r.limit or 'write failed'}), {size} bytes written"
        if ok
        else "600 MB of tmpfs outside the memory limit",
    )


@probe("disk /work", "write 1.2 GB into /work in 200 MB files (limit 1 GiB)")
async def _disk_work(ctx: Context) -> tuple[bool, str]:
    lim = SMALL.model_copy(update={"memory_mb": 2048, "wall_seconds": 60, "cpu_seconds": 60})
    sbx = ctx.sandbox(Limits(**{**lim.model_dump(), "work_mb": 1024}))
    try:
        await sbx.run(
            [
                "sh",
                "-c",
                "for i in 1 2 3 4 5 6; do head -c 200000000 /dev/zero > /work/f$i || break; done; du -sb /work",
            ]
        )
        total = sum(p.stat().st_size for p in sbx.workdir.iterdir() if p.is_file())
    finally:
        sbx.cleanup()
    return total < 1_200_000_000, f"{total / 1e9:.2f} GB written before the limit"


@probe("disk /tmp /dev/shm /", "write past /tmp (256 MiB), /dev/shm (64 MiB) and into the read-only /")
async def _disk_tmp(ctx: Context) -> tuple[bool, str]:
    lim = SMALL.model_copy(update={"memory_mb": 1024, "max_file_mb": 1024, "wall_seconds": 30})
    script = (
        "head -c 300000000 /dev/zero > /tmp/f; stat -c 'tmp %s' /tmp/f; head -c 100000000 /dev/zero > /dev/shm/f; "
        "stat -c 'shm %s' /dev/shm/f; echo x > /root-file && echo ROOT-WRITABLE; true"
    )
    r = await _run(ctx, ["sh", "-c", script], lim)
    sizes = {ln.split()[0]: int(ln.split()[1]) for ln in r.text().splitlines() if ln[:3] in ("tmp", "shm")}
    ok = (
        sizes.get("tmp", 0) <= 256 * 2**20
        and sizes.get("shm", 0) <= 64 * 2**20
        and "ROOT-WRITABLE" not in r.text()
    )
    return ok, f"/tmp kept {sizes.get('tmp', 0)} B, /dev/shm {sizes.get('shm', 0)} B, / read-only"


@probe("output size", "print 100 MB on stdout (cap 64 KiB)")
async def _output(ctx: Context) -> tuple[bool, str]:
    r = await _run(ctx, ["sh", "-c", "head -c 100000000 /dev/zero"])
    return len(r.stdout) <= SMALL.max_output_bytes and r.stdout_truncated, f"{len(r.stdout)} bytes kept"


@probe("multi-process CPU", "6 busy processes under a 2 s total CPU limit")
async def _cpu(ctx: Context) -> tuple[bool, str]:
    lim = SMALL.model_copy(update={"cpu_seconds": 2, "wall_seconds": 30})
    r = await _run(ctx, ["sh", "-c", "for i in 1 2 3 4 5 6; do (while :; do :; done) & done; wait"], lim)
    used = r.cpu_seconds
    ok = r.limit == "cpu" and used is not None and used < 2 + 1.0
    return (
        ok,
        f"stopped by the {r.limit} limit after {used} s of CPU in total"
        if used is not None
        else "no total-CPU accounting (weak sandbox)",
    )


@probe("inotify", "exhaust inotify instances; the host's root must still get one meanwhile")
async def _inotify(ctx: Context) -> tuple[bool, str]:
    sbx = ctx.sandbox()
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        task = asyncio.ensure_future(sbx.run(["./probe", "inotify"]))
        deadline = time.monotonic() + 8
        while not (sbx.workdir / "ready").exists() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.02)
        fd = libc.inotify_init1(0)
        host_ok = fd >= 0
        if host_ok:
            os.close(fd)
        r = await task
    finally:
        sbx.cleanup()
    return (
        host_ok,
        f"{_last_lines(r.text(), 1)}; the host still got one"
        if host_ok
        else "the host could not create an inotify instance",
    )


@probe("concurrent sandboxes", "two sandboxes at once: one looks for the other's files and processes")
async def _concurrent(ctx: Context) -> tuple[bool, str]:
    tag = secrets.token_hex(6)
    a, b = ctx.sandbox(), ctx.sandbox()
    try:
        holder = [
            "sh",
            "-c",
            f"echo {tag} > /work/secret; echo {tag} > /tmp/secret; exec -a holder-{tag} sleep 2",
        ]
        # the tag comes through the environment, so the looking command's own cmdline does not hold it
        look = ["sh", "-c", 'sleep 0.5; grep -rls "$T" /work /tmp /dev/shm; for p in /proc/[0-9]*; do '
                "tr '\\0' ' ' < $p/cmdline; echo; done | grep -c \"holder[-]$T\"; true"]  # fmt: skip
        _, rb = await asyncio.gather(a.run(holder), b.run(look, env={"T": tag}))
    finally:
        a.cleanup()
        b.cleanup()
    lines = rb.text().split()
    seen = not lines or lines[-1] != "0" or len(lines) > 1
    return not seen, "neither files nor processes of the other sandbox visible" if not seen else rb.text()


# ---------------------------------------------------------------- running them


async def build_kit(scratch: Path) -> Path:
    """Compile the C probes inside the sandbox and copy the binary out."""
    sbx = Sandbox(limits=Limits(wall_seconds=60, cpu_seconds=60))
    try:
        sbx.put_file("probe.c", PROBE_C)
        r = await sbx.run(["clang", "-O1", "-o", "probe", "probe.c"])
        if r.returncode != 0:
            raise SandboxError(f"cannot compile the probes in the sandbox: {r.text('stderr').strip()[-300:]}")
        kit = scratch / "probe"
        kit.write_bytes(sbx.get_file("probe"))
        os.chmod(kit, 0o555)
        return kit
    finally:
        sbx.cleanup()


async def run_probes(names: list[str] | None = None) -> list[ProbeResult]:
    """Run the probes (all, or those named) one after the other; a probe that errors counts as escaped."""
    wanted = [p for p in PROBES if not names or p[0] in names]
    scratch = Path(tempfile.mkdtemp(prefix="aslgate-probes-"))
    os.chmod(scratch, 0o755)
    results = []
    try:
        ctx = Context(await build_kit(scratch), scratch)
        for name, tried, fn in wanted:
            try:
                ok, detail = await fn(ctx)
            except Exception as e:
                ok, detail = False, f"probe failed to run: {type(e).__name__}: {e}"
            results.append(ProbeResult(name=name, tried=tried, contained=ok, detail=detail))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def check_summary() -> str:
    """One line on how this host runs sandboxes."""
    m = host_mode()
    who = f"host uid {m.uid}" if m.uid is not None else f"host uid {os.geteuid()} (the invoking user)"
    s = f"sandbox: {m.mode} ({who}; /work {'tmpfs' if m.mount_work else 'host directory'}; cgroups {'yes' if m.cgroups else 'no'})"
    return s + (f"; missing: {'; '.join(m.missing)}" if m.missing else "")
