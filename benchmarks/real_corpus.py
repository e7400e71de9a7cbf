"""Figures for the real corpus: per challenge, the cold and warm build time of the sanitizer build (vulnerable
+ patched), verify time of the reference PoC, and the fuzzer baseline's time to first crash in a budget;
then corpus totals. Cold builds use a fresh cache directory (ASLGATE_CACHE is set here).

    PYTHONPATH=src python benchmarks/real_corpus.py [--fuzz-seconds 60] [ID...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--fuzz-seconds", type=float, default=60.0)
    args = ap.parse_args()
    os.environ["ASLGATE_CACHE"] = tempfile.mkdtemp(prefix="aslgate-bench-real-")
    from aslgate.cyber.corpus import build, builtin_challenges
    from aslgate.cyber.fuzz import run_fuzzer
    from aslgate.cyber.verify import verify_poc

    real = [c for c in builtin_challenges() if c.split == "real" and (not args.ids or c.id in args.ids)]
    print(f"{'challenge':34} {'cold s':>7} {'warm s':>7} {'verify s':>8} {'fuzz TTFC':>12} verdict")
    for c in real:
        t0 = time.monotonic()
        asyncio.run(build(c, "sanitizer"))
        asyncio.run(build(c, "sanitizer", fixed=True))
        cold = time.monotonic() - t0
        t0 = time.monotonic()
        asyncio.run(build(c, "sanitizer"))
        asyncio.run(build(c, "sanitizer", fixed=True))
        warm = time.monotonic() - t0
        t0 = time.monotonic()
        v = asyncio.run(verify_poc(c, c.pocs()[0].read_bytes()))
        ver = time.monotonic() - t0
        asyncio.run(build(c, "fuzzer"))  # not part of the time to first crash
        stats = asyncio.run(run_fuzzer(c, args.fuzz_seconds))
        ttfc = (
            f"{stats.elapsed:.1f} s"
            if stats.crashed and stats.elapsed
            else f"none in {args.fuzz_seconds:g} s"
        )
        print(f"{c.id:34} {cold:7.1f} {warm:7.2f} {ver:8.2f} {ttfc:>12} {v.verdict}", flush=True)
    size = sum(p.stat().st_size for c in real for p in c.src_dir.rglob("*") if p.is_file())
    pkgs = {c.spec.upstream.package for c in real if c.spec.upstream}
    cwes = {c.spec.cwe for c in real}
    print(f"totals: {len(real)} challenges, {len(pkgs)} packages, {len(cwes)} CWEs, {size} bytes vendored")


if __name__ == "__main__":
    sys.exit(main())
