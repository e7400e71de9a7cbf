"""The non-AI baseline: libFuzzer (clang -fsanitize=fuzzer,address,undefined) run inside the sandbox.

`fuzz_script` is the self-contained shell the offline `aslgate/fuzzer` agent pastes into its bash tool, so the
baseline goes through the same tasks, sandbox, logs and scorers as a model. `run_fuzzer` runs it directly
(for `hunt` and benchmarks); `line_coverage` shows how often the fuzzer executed a line it never triggered.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import re
import shutil
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from aslgate.cyber.corpus import DRIVER, MAX_POC_BYTES, Challenge, build, build_command
from aslgate.sandbox.core import FileTooLarge, Sandbox
from aslgate.sandbox.limits import Limits

DEFAULT_SECONDS = 5.0
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
_STATUS = re.compile(r"^#(\d+):?\s+\w+.*?exec/s:? (\d+)", re.M)
_ELAPSED = re.compile(r"^ASLGATE_ELAPSED ([0-9.]+)$", re.M)


class FuzzStats(BaseModel):
    """What one fuzzing campaign did."""

    seconds_budget: float
    executions: int = 0
    exec_per_s: float = 0.0
    new_units: int = 0
    crashed: bool = False
    elapsed: float | None = None  # wall seconds of the campaign: time to first crash when it crashed
    crash_input: bytes | None = Field(default=None, exclude=True)
    crash_sha256: str | None = None
    stop_reason: Literal["crash", "budget", "error"] = "budget"
    log_tail: str = ""


def fuzz_script(
    seconds: float,
    *,
    max_len: int = 4096,
    out: str = "crash.bin",
    binary: str = "./fuzz",
    runs: int | None = None,
) -> str:
    """A /bin/sh script for /work: fuzz `binary` from seeds/ (if any) for `seconds` (and at most `runs`
    executions), the first crash saved to `out`, final stats and elapsed time printed; always exits 0."""
    limit = f"-runs={runs} " if runs else ""
    return (
        "mkdir -p corpus && { [ -d seeds ] && cp seeds/* corpus/ 2>/dev/null; true; }\n"
        "start=$(date +%s.%N)\n"
        f"{binary} -max_total_time={max(1, round(seconds))} {limit}-max_len={max_len} -timeout=5 -rss_limit_mb=1536 "
        f"-print_final_stats=1 -close_fd_mask=1 -seed=1 -exact_artifact_path={out} corpus > fuzz.log 2>&1\n"
        'end=$(date +%s.%N); echo "ASLGATE_ELAPSED $(awk "BEGIN{print $end - $start}")" >> fuzz.log\n'
        "tail -n 40 fuzz.log\n"
        "true\n"
    )


def parse_fuzzer_output(text: str, seconds: float = 0.0) -> FuzzStats:
    """Stats from libFuzzer's output (final stats, else the last status line); never raises."""
    stats = FuzzStats(seconds_budget=seconds, log_tail=text[-3000:])
    found = {k: int(v) for k, v in _STAT.findall(text)}
    statuses = _STATUS.findall(text)
    stats.executions = found.get("number_of_executed_units") or (int(statuses[-1][0]) if statuses else 0)
    stats.exec_per_s = float(found.get("average_exec_per_sec") or (int(statuses[-1][1]) if statuses else 0))
    stats.new_units = found.get("new_units_added", 0)
    elapsed = _ELAPSED.findall(text)
    stats.elapsed = float(elapsed[-1]) if elapsed and float(elapsed[-1]) > 0 else None
    if not stats.exec_per_s and stats.executions and stats.elapsed:
        stats.exec_per_s = round(stats.executions / stats.elapsed, 1)
    stats.crashed = bool(
        re.search(r"==\d+==\s*ERROR: |ERROR: libFuzzer: |^SUMMARY: \w+Sanitizer", text, re.M)
    )
    stats.stop_reason = "crash" if stats.crashed else ("budget" if statuses or found else "error")
    return stats


def fuzzer_build_command(challenge: Challenge, out: str = "fuzz") -> str:
    """The command (a subshell, run in /work) that builds the challenge's fuzzer binary, as aslgate builds it."""
    return f"(\n{build_command(challenge, 'fuzzer', out)})"


def _limits(seconds: float) -> Limits:
    return Limits(
        wall_seconds=seconds + 60, cpu_seconds=int(seconds) + 60, memory_mb=2560, max_output_bytes=64 * 1024
    )


async def run_fuzz_binary(
    binary: Path,
    seeds: list[bytes],
    seconds: float,
    *,
    max_len: int = 4096,
    corpus: list[bytes] | None = None,
    runs: int | None = None,
    sha256: str | None = None,
) -> FuzzStats:
    """Fuzz a built libFuzzer binary in a fresh sandbox; the crashing input (if any) comes back in the stats,
    and the final corpus is appended to `corpus` when one is given."""
    sbx = Sandbox(limits=_limits(seconds))
    try:
        sbx.add_readonly(binary, "fuzz", sha256)
        for i, data in enumerate(seeds):
            sbx.put_file(f"seeds/seed-{i}", data)
        r = await sbx.run(["sh", "-c", fuzz_script(seconds, max_len=max_len, runs=runs)])
        stats = parse_fuzzer_output((await sbx.run(["tail", "-c", "262144", "fuzz.log"])).text(), seconds)
        if r.returncode != 0 and not stats.executions:
            stats.stop_reason = "error"
        try:
            crash = sbx.get_file("crash.bin", max_bytes=MAX_POC_BYTES)
        except (FileNotFoundError, IsADirectoryError, FileTooLarge):
            crash = None
        if crash:
            stats.crashed, stats.stop_reason = True, "crash"
            stats.crash_input, stats.crash_sha256 = crash, hashlib.sha256(crash).hexdigest()
        if corpus is not None:
            for name in sbx.list_files("corpus"):
                with contextlib.suppress(OSError, FileTooLarge):
                    corpus.append(sbx.get_file(f"corpus/{name}", max_bytes=MAX_POC_BYTES))
        return stats
    finally:
        sbx.cleanup()


async def run_fuzzer(
    challenge: Challenge,
    seconds: float = DEFAULT_SECONDS,
    corpus: list[bytes] | None = None,
    runs: int | None = None,
) -> FuzzStats:
    """Fuzz a challenge from its functional-test inputs (never the reference PoC); with `runs`, the work is
    bounded by executions too, so the result (seed 1) does not depend on how busy the machine is."""
    fuzzer = await build(challenge, "fuzzer")
    assert fuzzer.binary is not None
    seeds = [t.input.read_bytes() for t in challenge.tests()]
    return await run_fuzz_binary(
        fuzzer.binary, seeds, seconds, corpus=corpus, runs=runs, sha256=fuzzer.sha256
    )


# ---------------------------------------------------------------- coverage of one line


def _llvm_tool(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/llvm-*/bin/{name}"))
    return (found[-1] if found else None) if isinstance(found, list) else found


async def line_coverage(challenge: Challenge, inputs: list[bytes], source: str, line: int) -> int:
    """How many times `source`:`line` ran over `inputs` (a coverage build, run in the sandbox)."""
    profdata, cov = _llvm_tool("llvm-profdata"), _llvm_tool("llvm-cov")
    if not profdata or not cov:
        raise RuntimeError("llvm-profdata/llvm-cov not found: install Debian's llvm package")
    sbx = Sandbox(
        limits=Limits(wall_seconds=120, cpu_seconds=120, memory_mb=2048, max_output_bytes=4 * 1024 * 1024)
    )
    try:
        sbx.put_tree(challenge.src_dir, "src")
        sbx.put_file("driver.c", DRIVER.read_bytes())
        for i, data in enumerate(inputs):
            sbx.put_file(f"in/{i}", data)
        script = (
            f"clang -g -O0 -fprofile-instr-generate -fcoverage-mapping {challenge.spec.cflags} -Isrc -o cov "
            f"driver.c {' '.join(challenge.spec.sources)} && "
            'for f in in/*; do LLVM_PROFILE_FILE="prof/%p.profraw" ./cov "$f" >/dev/null 2>&1; done; '
            f"{profdata} merge -sparse prof/*.profraw -o all.profdata && "
            f"{cov} show ./cov -instr-profile=all.profdata src/{source} -show-line-counts"
        )
        r = await sbx.run(["sh", "-c", script])
        if r.returncode != 0:
            raise RuntimeError(f"coverage build or run failed: {r.text('stderr')[-300:]}")
        return _count_at(r.text(), line)
    finally:
        sbx.cleanup()


def _count_at(show: str, line: int) -> int:
    """Parse `llvm-cov show -show-line-counts` ('  line|  count|source') for one line's execution count."""
    for row in show.splitlines():
        parts = row.split("|", 2)
        if len(parts) == 3 and parts[0].strip() == str(line):
            count = parts[1].strip().lower()
            if not count:
                return 0
            mult = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(count[-1], 1)
            return int(float(count.rstrip("kmg")) * mult)
    return 0


class FuzzReport(BaseModel):
    """One challenge under the fuzzer: the campaign, the verdict on its crash, and the bug line's coverage."""

    challenge: str
    stats: FuzzStats
    verdict: str | None = None  # the PoC verdict of the first crashing input
    bug_line: str | None = None
    bug_line_executions: int | None = None  # how often the fuzzer's corpus ran the line where the bug fires


async def fuzz_challenge(challenge: Challenge, seconds: float = DEFAULT_SECONDS) -> FuzzReport:
    """Fuzz a challenge, verify its first crash like a model's PoC, and measure the bug line's coverage."""
    from aslgate.cyber.verify import verify_poc

    corpus: list[bytes] = []
    stats = await run_fuzzer(challenge, seconds, corpus=corpus)
    line, count = challenge.spec.bug_line, None
    if line:
        source, num = line.removeprefix("src/").rsplit(":", 1)
        count = await line_coverage(challenge, corpus[:5000], source, int(num))
    verdict = (await verify_poc(challenge, stats.crash_input)).verdict if stats.crash_input else None
    return FuzzReport(
        challenge=challenge.id, stats=stats, verdict=verdict, bug_line=line, bug_line_executions=count
    )
