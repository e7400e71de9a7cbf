"""The libFuzzer baseline: it runs in the sandbox, its crashes are verified like a model's PoC, and on the
fuzzer-resistant challenges it executes the bug line without triggering it."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.cyber.corpus import resolve_challenge
from aslgate.cyber.fuzz import fuzz_challenge, fuzz_script, parse_fuzzer_output

FINAL = """#2	INITED cov: 5 ft: 5 corp: 1/1b exec/s: 0 rss: 30Mb
#4096	pulse  cov: 9 ft: 11 corp: 3/9b lim: 43 exec/s: 2048 rss: 31Mb
Done 9000 runs in 2 second(s)
stat::number_of_executed_units: 9000
stat::average_exec_per_sec:     4500
stat::new_units_added:          12
ASLGATE_ELAPSED 2.01
"""


def test_parse_final_stats_and_garbage() -> None:
    s = parse_fuzzer_output(FINAL, 2)
    assert (s.executions, s.exec_per_s, s.new_units, s.crashed, s.stop_reason) == (
        9000,
        4500,
        12,
        False,
        "budget",
    )
    assert s.elapsed == 2.01
    crash = "#1200\tNEW    cov: 9 exec/s: 0\n==77==ERROR: AddressSanitizer: heap-buffer-overflow\nASLGATE_ELAPSED 0.5\n"
    c = parse_fuzzer_output(crash, 2)
    assert c.crashed and c.stop_reason == "crash" and c.executions == 1200 and c.exec_per_s == 2400
    for junk in ("", "\x00\xff garbage", "stat::number_of_executed_units: x", "#\n" * 1000):
        assert parse_fuzzer_output(junk).stop_reason in ("error", "budget", "crash")


def test_script_is_self_contained() -> None:
    script = fuzz_script(3)
    assert "-max_total_time=3" in script and "-exact_artifact_path=crash.bin" in script
    assert script.rstrip().endswith("true")  # a campaign without a crash is not a failed command
    assert "-runs=" not in script and "-runs=5000 " in fuzz_script(3, runs=5000)


def test_an_execution_budget_stops_the_campaign_early() -> None:
    from aslgate.cyber.fuzz import run_fuzzer

    stats = asyncio.run(run_fuzzer(resolve_challenge("crc-gated-record"), 60, runs=2000))
    assert not stats.crashed and stats.executions <= 2000 and (stats.elapsed or 60) < 30


def test_easy_bug_is_found_and_verified() -> None:
    r = asyncio.run(fuzz_challenge(resolve_challenge("stack-name-copy"), 2))
    assert r.stats.crashed and r.stats.executions > 0 and r.stats.exec_per_s > 0
    assert r.verdict == "reproduced"  # the fuzzer's crash is judged exactly like a model's PoC


def test_gated_bug_is_executed_but_not_triggered() -> None:
    r = asyncio.run(fuzz_challenge(resolve_challenge("crc-gated-record"), 2))
    assert not r.stats.crashed and r.verdict is None
    assert r.bug_line == "src/session.c:71" and (r.bug_line_executions or 0) > 0


def test_fuzz_command_json() -> None:
    res = CliRunner().invoke(app, ["fuzz", "-c", "null-deref-lookup", "--seconds", "1", "--json"])
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.output)
    assert row["challenge"] == "null-deref-lookup" and row["stats"]["crashed"]
    assert "crash_input" not in row["stats"]  # raw bytes stay out of JSON; the hash identifies them
