"""Median overhead of one sandboxed exec against the same command run directly (target: <= 10 ms added),
for the hardened sandbox and for the pre-hardening configuration (bwrap as root with a host-directory
/work, no setpriv, no seccomp, no --args), interleaved in the same run; with --fuzz, libFuzzer exec/s in
the hardened sandbox against the same binary run directly on the host (target: <= 10% slower).

Run: .venv/bin/python benchmarks/sandbox_exec.py [--runs N] [--fuzz] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from aslgate.sandbox.core import SANDBOX_PATH, WORKDIR, Sandbox
from aslgate.sandbox.limits import Limits, acquire_cgroup, launch_prefix, release_cgroup


async def direct(cmd: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await proc.communicate()


def legacy_args(workdir: Path, limits: Limits) -> list[str]:
    """The bwrap command line before the hardening (issue #12), for the baseline."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--uid", "1000",
            "--gid", "1000", "--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]  # fmt: skip
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    args += ["--bind", str(workdir), WORKDIR, "--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
             "--proc", "/proc", "--dev", "/dev", "--chdir", WORKDIR, "--clearenv"]  # fmt: skip
    for k, v in {"PATH": SANDBOX_PATH, "HOME": WORKDIR, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}.items():
        args += ["--setenv", k, v]
    return [*args, "--"]


async def legacy(workdir: Path, limits: Limits, cmd: list[str]) -> None:
    """One command the old way: a pooled cgroup, the launcher shell (no setpriv), bwrap as the caller."""
    cg = acquire_cgroup(limits)
    try:
        proc = await asyncio.create_subprocess_exec(
            *launch_prefix(limits, cg), *legacy_args(workdir, limits), *cmd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        await proc.communicate()
    finally:
        if cg is not None:
            release_cgroup(cg)


async def exec_overhead(runs: int) -> None:
    sbx = Sandbox()
    old_work = Path(tempfile.mkdtemp(prefix="aslgate-bench-legacy-"))
    cmd = ["/bin/true"]
    try:
        for _ in range(5):  # warm-up
            await direct(cmd)
            await legacy(old_work, sbx.limits, cmd)
            await sbx.run(cmd)
        base, old, new = [], [], []
        for _ in range(runs):  # interleaved so machine noise hits all three alike
            t = time.perf_counter()
            await direct(cmd)
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            await legacy(old_work, sbx.limits, cmd)
            old.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = await sbx.run(cmd)
            new.append(time.perf_counter() - t)
            assert r.returncode == 0, r.stderr
    finally:
        sbx.cleanup()
        shutil.rmtree(old_work, ignore_errors=True)
    b, o, n = (statistics.median(x) * 1000 for x in (base, old, new))
    print(
        f"sandbox mode                       {sbx.host.mode} (uid {sbx.host.uid}, cgroups {sbx.host.cgroups})"
    )
    print(f"runs                               {runs}")
    print(f"direct exec            median ms   {b:.2f}")
    print(f"pre-hardening sandbox  median ms   {o:.2f}   (+{o - b:.2f} ms)")
    print(f"hardened sandbox       median ms   {n:.2f}   (+{n - b:.2f} ms, target <= 10)")
    print(f"hardening costs        ms          {n - o:.2f}   ratio hardened/pre-hardening {n / o:.2f}x")


def host_fuzz(binary: Path, seeds: list[bytes], seconds: float) -> float:
    from aslgate.cyber.fuzz import fuzz_script, parse_fuzzer_output

    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        shutil.copy2(binary, work / "fuzz")
        (work / "seeds").mkdir()
        for i, s in enumerate(seeds):
            (work / "seeds" / f"seed-{i}").write_bytes(s)
        subprocess.run(["sh", "-c", fuzz_script(seconds)], cwd=work, capture_output=True)
        return parse_fuzzer_output((work / "fuzz.log").read_text(errors="replace"), seconds).exec_per_s


async def fuzz_throughput(seconds: float, rounds: int) -> None:
    """Running the fuzzer on the host is acceptable only here, as the baseline: it is our own challenge
    code, not a model's output."""
    from aslgate.cyber.corpus import build, resolve_challenge
    from aslgate.cyber.fuzz import run_fuzz_binary

    for cid in ("crc-gated-record", "h264-slice-counter"):  # no crash in budget: all of it is fuzzing
        c = resolve_challenge(cid)
        b = await build(c, "fuzzer")
        assert b.binary is not None
        seeds = [t.input.read_bytes() for t in c.tests()]
        host, boxed = [], []
        for _ in range(rounds):
            host.append(host_fuzz(b.binary, seeds, seconds))
            boxed.append((await run_fuzz_binary(b.binary, seeds, seconds, sha256=b.sha256)).exec_per_s)
        h, s = statistics.median(host), statistics.median(boxed)
        print(
            f"{cid:20s} host {h:9,.0f} exec/s   sandbox {s:9,.0f} exec/s   sandbox cost {100 * (1 - s / h):5.1f}%"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--fuzz", action="store_true", help="also measure libFuzzer exec/s inside vs outside")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(exec_overhead(args.runs))
    if args.fuzz:
        asyncio.run(fuzz_throughput(args.seconds, args.rounds))
