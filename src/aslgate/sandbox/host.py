"""What this host gives the sandbox, and whether that is enough for the strong sandbox.

The strong sandbox (the default) needs: aslgate running as root (to switch to the sandbox's own
unprivileged uid and to mount each sandbox's size-limited /work), the sandbox user (created by
scripts/setup.sh), and cgroups for memory (tmpfs included), process count and total CPU. Without one of
them aslgate refuses to run code unless the weak sandbox is chosen explicitly (`--weak-sandbox` or
ASLGATE_WEAK_SANDBOX=1); the choice is recorded in every score's metadata.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from aslgate.errors import UserError

SANDBOX_USER = "aslgate-sbx"
WEAK_ENV = "ASLGATE_WEAK_SANDBOX"


class SandboxUnavailable(UserError, RuntimeError):
    """The strong sandbox cannot run on this host and the weak one was not chosen."""


@dataclass(frozen=True)
class HostMode:
    """How sandboxes run on this host: as which host uid, with a mounted /work, with cgroups."""

    mode: Literal["strong", "weak"]
    uid: int | None  # host uid the sandbox runs as (None: the current one)
    gid: int | None
    mount_work: bool  # /work is a size-limited tmpfs mounted by the host side
    cgroups: bool  # memory, pids and CPU accounting through cgroups (else the polling watchdog)
    missing: list[str] = field(default_factory=list)


def weak_chosen() -> bool:
    """Whether the user opted into the weak sandbox (ASLGATE_WEAK_SANDBOX=1, set by --weak-sandbox)."""
    return os.environ.get(WEAK_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sandbox_user() -> str:
    return os.environ.get("ASLGATE_SANDBOX_USER") or SANDBOX_USER


def _identity() -> tuple[int, int] | None:
    return _lookup(sandbox_user())


@cache
def _lookup(name: str) -> tuple[int, int] | None:
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None
    return (pw.pw_uid, pw.pw_gid) if pw.pw_uid != 0 else None


@cache
def _userns_problem(uid: int, gid: int) -> str | None:
    """Run bwrap once as the sandbox user (once per process, ~10 ms): unprivileged user namespaces may be
    disabled (kernel.unprivileged_userns_clone=0, an AppArmor restriction). None when it works."""
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if not bwrap or not setpriv:
        return "bwrap is not installed"
    cmd = [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all", "--no-new-privs",
           bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "--", "/bin/true"]  # fmt: skip
    try:
        r = subprocess.run(cmd, env={}, cwd="/", capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if r.returncode == 0:
        return None
    return (r.stderr.decode(errors="replace").strip().splitlines() or [f"exit {r.returncode}"])[-1]


def host_mode() -> HostMode:
    """Inspect the host (cheap: a passwd lookup and a few stat calls)."""
    from aslgate.sandbox.limits import cgroups_available

    missing: list[str] = []
    root = os.geteuid() == 0
    ident = _identity() if root else None
    if not root:
        missing.append("aslgate is not running as root (needed to switch to the sandbox uid and mount /work)")
    elif ident is None:
        missing.append(f"no unprivileged user {sandbox_user()!r} (run scripts/setup.sh)")
    elif not shutil.which("setpriv"):
        missing.append("setpriv is not installed (util-linux; run scripts/setup.sh)")
        ident = None
    else:
        problem = _userns_problem(*ident)
        if problem:
            missing.append(f"bubblewrap cannot build a sandbox as {sandbox_user()!r}: {problem}")
            ident = None
    cg = cgroups_available()
    if not cg:
        missing.append(
            "no writable cgroups with memory, pids and cpu accounting (v2, or v1 memory+pids+cpuacct)"
        )
    return HostMode(
        mode="weak" if missing else "strong",
        uid=ident[0] if ident else None,
        gid=ident[1] if ident else None,
        mount_work=root,
        cgroups=cg,
        missing=missing,
    )


def require_host() -> HostMode:
    """The host mode, or SandboxUnavailable when it is weak and the weak sandbox was not chosen."""
    m = host_mode()
    if m.mode == "weak" and not weak_chosen():
        raise SandboxUnavailable(
            "the strong sandbox is unavailable: " + "; ".join(m.missing)
            + f". Fix that, or accept a weaker sandbox with --weak-sandbox ({WEAK_ENV}=1): it is recorded in "
            "every score and on the card"
        )  # fmt: skip
    return m


def mode_label() -> str:
    """'strong' or 'weak', for score metadata and logs."""
    return host_mode().mode
