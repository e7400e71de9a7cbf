"""Median overhead of one sandboxed exec against the same command run directly (target: <= 10 ms added).

Run: .venv/bin/python benchmarks/sandbox_exec.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from aslgate.sandbox.core import Sandbox


async def direct(cmd: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await proc.communicate()


async def main(runs: int) -> None:
    sbx = Sandbox()
    cmd = ["/bin/true"]
    try:
        for _ in range(5):  # warm-up
            await direct(cmd)
            await sbx.run(cmd)
        base, boxed = [], []
        for _ in range(runs):  # interleaved so machine noise hits both alike
            t = time.perf_counter()
            await direct(cmd)
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = await sbx.run(cmd)
            boxed.append(time.perf_counter() - t)
            assert r.returncode == 0
    finally:
        sbx.cleanup()
    b, s = statistics.median(base) * 1000, statistics.median(boxed) * 1000
    print(f"runs                      {runs}")
    print(f"direct exec   median ms   {b:.2f}")
    print(f"sandbox exec  median ms   {s:.2f}")
    print(f"added by the sandbox ms   {s - b:.2f}   (target <= 10)")
    print(f"ratio sandbox/direct      {s / b:.1f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    asyncio.run(main(ap.parse_args().runs))
