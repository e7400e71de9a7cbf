"""Ray scale-out: wall time of CPU-bound shards (the libFuzzer baseline) on 1 worker versus 2, same run.

Starts a loopback Ray cluster (a head with no CPUs and worker nodes of one CPU each), runs
`aslgate assess --model aslgate/fuzzer --ray ...` with one sample per shard, first on one worker,
then with a second worker added, each into a fresh output directory (nothing resumed). A warm-up run
fills the build cache first, so both timed runs measure fuzzing, not compiling. Ray's own start-up
(head, nodes, driver connection) is reported separately, and so is the serial rest of `assess` (planning,
ingest, determination, card), which no number of workers shortens.

    python benchmarks/ray_scale.py [--limit 4] [--fuzz-seconds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
COMMON = ["--node-ip-address=127.0.0.1", "--object-store-memory=100000000", "--disable-usage-stats"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return time.perf_counter() - t, r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=4, help="samples per task (4 tasks)")
    ap.add_argument("--fuzz-seconds", type=float, default=3.0, help="fuzzing budget per sample")
    args = ap.parse_args()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "CI": "1"}
    work = Path(tempfile.mkdtemp(prefix="ray-scale-"))
    env.setdefault("ASLGATE_CACHE", str(work / "cache"))
    port = _port()
    address = f"127.0.0.1:{port}"
    subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True)
    try:
        head_s, _ = _timed([RAY, "start", "--head", f"--port={port}", "--num-cpus=0",
                            "--include-dashboard=false", *COMMON], env)  # fmt: skip
        node_s, _ = _timed([RAY, "start", f"--address={address}", "--num-cpus=1", *COMMON], env)

        def assess(name: str) -> tuple[float, float, float]:
            cmd = [sys.executable, "-m", "aslgate", "assess", "--model", "aslgate/fuzzer", "--baseline",
                   "none", "--suite", "cyber", "--framework", "preparedness", "--limit", str(args.limit),
                   "--fuzz-seconds", str(args.fuzz_seconds), "--ray", address, "--ray-group-size", "1",
                   "--out", str(work / name), "--db", str(work / f"{name}.db")]  # fmt: skip
            wall, err = _timed(cmd, {**env, "CI": ""})
            m = re.search(r"in ([\d.]+) s; cluster start-up ([\d.]+) s", err)
            return wall, float(m[1]) if m else float("nan"), float(m[2]) if m else float("nan")

        assess("warm-up")  # builds into the cache; not timed
        one_wall, one, connect1 = assess("one-worker")
        node2_s, _ = _timed([RAY, "start", f"--address={address}", "--num-cpus=1", *COMMON], env)
        time.sleep(2)  # let the new node register
        two_wall, two, connect2 = assess("two-workers")
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True)
    shards = 4 * args.limit
    print(f"ray start: head {head_s:.1f} s, first worker node {node_s:.1f} s, second {node2_s:.1f} s")
    print(f"driver connect: {connect1:.1f} s / {connect2:.1f} s")
    print(f"{shards} CPU-bound shards (aslgate/fuzzer, {args.fuzz_seconds:g} s each, one sample per shard)")
    print(
        f"shard phase (Ray tasks, merge): 1 worker {one:6.1f} s, 2 workers {two:6.1f} s, "
        f"speed-up {one / two:.2f}x  (target >= 1.7x on a 2-core machine)"
    )
    print(
        f"whole assess (+ plan, ingest, determination, card): 1 worker {one_wall:6.1f} s, "
        f"2 workers {two_wall:6.1f} s, speed-up {one_wall / two_wall:.2f}x"
    )


if __name__ == "__main__":
    main()
