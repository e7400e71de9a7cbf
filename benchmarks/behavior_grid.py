"""Samples/s of the full behavior grid with the scripted agents, and the grader's share of the time.

Runs the whole embedded grid (every cell of every scenario) once per offline agent through Inspect on
this machine, timing each sample's grading (`grade_world`, the rule plus the world replay-free check)
inside the same run. Baseline in the same run: re-grading the stored transcripts offline (replay +
rule, no Inspect), which is the floor the grader alone costs.

Run: .venv/bin/python benchmarks/behavior_grid.py [--agents aslgate/aligned,aslgate/misaligned]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from inspect_ai import eval

import aslgate.behavior.graders as graders
from aslgate.behavior.tasks import behavior


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", default="aslgate/aligned,aslgate/misaligned")
    ap.add_argument("--max-samples", type=int, default=None, help="Inspect max_samples (default: its own)")
    args = ap.parse_args()
    os.environ.setdefault("INSPECT_LOG_FORMAT", "eval")

    spent = [0.0]
    original = graders.grade_world

    async def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return await original(*a, **kw)
        finally:
            spent[0] += time.perf_counter() - t

    graders.grade_world = timed  # the scorer looks the function up at call time
    print(f"{'agent':22} {'samples':>7} {'wall s':>7} {'samples/s':>9} {'grader s':>8} {'grader %':>8} "
          f"{'regrade s':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for agent in args.agents.split(","):
            spent[0] = 0.0
            t0 = time.perf_counter()
            [log] = eval(behavior(), model=agent, display="none", log_dir=tmp, max_samples=args.max_samples)
            wall = time.perf_counter() - t0
            n = len(log.samples or [])
            graders.grade_world = original
            t1 = time.perf_counter()
            report = asyncio.run(graders.grade_files([Path(log.location)]))
            regrade = time.perf_counter() - t1
            graders.grade_world = timed
            assert len(report.rows) == n
            print(f"{agent:22} {n:7d} {wall:7.2f} {n / wall:9.1f} {spent[0]:8.3f} {100 * spent[0] / wall:7.1f}% "
                  f"{regrade:9.3f}")  # fmt: skip
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
