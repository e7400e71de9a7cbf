"""Median time to judge a patch on cached builds (apply + build are cached by content; PoCs, variants and
functional tests run every time). Baseline in the same run: one cached `verify` of the reference PoC.
Run: .venv/bin/python benchmarks/patch.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from aslgate.cyber.corpus import resolve_challenge
from aslgate.cyber.patching import check_patch
from aslgate.cyber.verify import verify_poc

IDS = ["stack-name-copy", "heap-session-fnptr", "tcp-sack-options", "double-free-cache"]


async def main(runs: int) -> None:
    for cid in IDS:
        c = resolve_challenge(cid)
        patch, poc = c.fix_patch.read_bytes(), c.pocs()[0].read_bytes()
        assert (await check_patch(c, patch)).verdict == "fixed"  # warm: builds, variants, symbols cached
        judge, verify = [], []
        for _ in range(runs):
            t = time.perf_counter()
            v = await check_patch(c, patch)
            judge.append(time.perf_counter() - t)
            t = time.perf_counter()
            await verify_poc(c, poc)
            verify.append(time.perf_counter() - t)
        j, b = statistics.median(judge) * 1000, statistics.median(verify) * 1000
        print(
            f"{cid:22s} judge patch {j:7.1f} ms  ({v.pocs_checked} PoCs, {len(v.tests)} tests)   "
            f"verify PoC {b:6.1f} ms   ratio {j / b:4.1f}x"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    asyncio.run(main(ap.parse_args().runs))
