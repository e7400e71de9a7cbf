"""Cached `verify` of a reference PoC (target: median <= 100 ms), and a cold `challenges validate` of the corpus.

Baseline in the same run: the same two binaries (vulnerable and patched) run directly on the host,
unsandboxed, which is the floor any verifier pays.
Run: .venv/bin/python benchmarks/verify.py [--runs N] [--skip-validate]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time

from aslgate.cyber.corpus import build, builtin_challenges, resolve_challenge
from aslgate.cyber.verify import sanitizer_env, validate_challenge, verify_poc


async def cached_verify(runs: int) -> None:
    c = resolve_challenge("stack-name-copy")
    poc = c.pocs()[0]
    data = poc.read_bytes()
    vuln, fixed = await build(c, "sanitizer"), await build(c, "sanitizer", fixed=True)
    assert (await verify_poc(c, data)).verdict == "reproduced"  # warm: builds + reference identity cached
    env = {**os.environ, **sanitizer_env()}
    base, timed = [], []
    for _ in range(runs):
        t = time.perf_counter()
        for b in (vuln, fixed):
            subprocess.run([str(b.binary), str(poc)], capture_output=True, env=env)
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        v = await verify_poc(c, data)
        timed.append(time.perf_counter() - t)
        assert v.verdict == "reproduced"
    b, s = statistics.median(base) * 1000, statistics.median(timed) * 1000
    print(f"cached verify, runs                  {runs}")
    print(f"baseline: both binaries, unsandboxed {b:7.1f} ms (median)")
    print(f"aslgate verify (cached builds)       {s:7.1f} ms (median; target <= 100)")
    print(f"ratio verify/baseline                {s / b:7.2f}x")


async def cold_validate(jobs: int) -> None:
    cs = builtin_challenges()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["ASLGATE_CACHE"] = cache
        sem = asyncio.Semaphore(jobs)

        async def one(c):
            async with sem:
                return await validate_challenge(c)

        t = time.perf_counter()
        reports = await asyncio.gather(*(one(c) for c in cs))
        cold = time.perf_counter() - t
        t = time.perf_counter()
        await asyncio.gather(*(one(c) for c in cs))
        warm = time.perf_counter() - t
    ok = sum(r.ok for r in reports)
    print(f"challenges validate, {len(cs)} challenges, {jobs} jobs: {ok} valid")
    print(f"  cold cache (3 builds each + PoCs, tests, exploits) {cold:6.1f} s")
    print(
        f"  warm cache (runs only)                             {warm:6.1f} s   ratio cold/warm {cold / warm:.1f}x"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-validate", action="store_true")
    args = ap.parse_args()
    asyncio.run(cached_verify(args.runs))
    if not args.skip_validate:
        asyncio.run(cold_validate(args.jobs))
