"""Wall time and peak RSS of `aslgate assess` on the embedded default (targets: <= 3 min, <= 2 GiB on 2 cores).

Baseline in the same run: `aslgate challenges list` (interpreter + imports, no evaluation), so the figure
that matters is what the assessment adds. Run: .venv/bin/python benchmarks/assess.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) of the largest child process, exit code."""
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if r.returncode not in (0, 1):
        print(r.stderr[-3000:], file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, r.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, help="write the output here instead of a temporary directory")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("aslgate"))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "out"
        env = {**os.environ, "ASLGATE_CACHE": str(Path(tmp) / "cache"), "CI": "1"}
        base_wall, base_rss, _ = timed([exe, "challenges", "list"], env)
        wall, rss, rc = timed([exe, "assess", "--out", str(out), "--db", str(Path(tmp) / "a.db")], env)
        again, _, _ = timed([exe, "assess", "--out", str(out), "--db", str(Path(tmp) / "a.db")], env)
    print(f"baseline (aslgate challenges list)   {base_wall:6.1f} s   peak RSS {base_rss:7.0f} MiB")
    print(f"aslgate assess, embedded default     {wall:6.1f} s   peak RSS {rss:7.0f} MiB   exit {rc}")
    print("  targets: <= 180 s, <= 2048 MiB")
    print(f"  assess / baseline wall             {wall / base_wall:6.1f}x")
    print(f"re-run (everything resumed)          {again:6.1f} s")


if __name__ == "__main__":
    main()
