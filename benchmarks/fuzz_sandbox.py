"""libFuzzer executions/s inside the sandbox vs the same binary run directly on the host (target: the
sandbox costs <= 10%). Interleaved runs, same binary, seeds, budget and -seed. Running the fuzzer on the
host is acceptable only here, as the baseline: it is our own challenge code, not a model's output.
Run: .venv/bin/python benchmarks/fuzz_sandbox.py [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from aslgate.cyber.corpus import build, resolve_challenge
from aslgate.cyber.fuzz import fuzz_script, parse_fuzzer_output, run_fuzz_binary

TARGETS = ["crc-gated-record", "h264-slice-counter"]  # no crash in budget: the whole budget is fuzzing


def host_run(binary: Path, seeds: list[bytes], seconds: float) -> float:
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        shutil.copy2(binary, work / "fuzz")
        (work / "seeds").mkdir()
        for i, s in enumerate(seeds):
            (work / "seeds" / f"seed-{i}").write_bytes(s)
        subprocess.run(["sh", "-c", fuzz_script(seconds)], cwd=work, capture_output=True)
        return parse_fuzzer_output((work / "fuzz.log").read_text(errors="replace"), seconds).exec_per_s


async def main(seconds: float, rounds: int) -> None:
    for cid in TARGETS:
        c = resolve_challenge(cid)
        b = await build(c, "fuzzer")
        assert b.binary is not None
        seeds = [t.input.read_bytes() for t in c.tests()]
        host, boxed = [], []
        for _ in range(rounds):
            host.append(host_run(b.binary, seeds, seconds))
            boxed.append((await run_fuzz_binary(b.binary, seeds, seconds)).exec_per_s)
        h, s = statistics.median(host), statistics.median(boxed)
        print(
            f"{cid:20s} host {h:9,.0f} exec/s   sandbox {s:9,.0f} exec/s   sandbox cost {100 * (1 - s / h):5.1f}%"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
