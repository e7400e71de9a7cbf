"""`aslgate hunt` on a user's project: OSS-Fuzz style build, several distinct bugs, SARIF out, clear errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.cyber.corpus import resolve_challenge

LIB = textwrap.dedent(
    r"""
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>

    int parse_record(const uint8_t *data, size_t size) {
      if (size < 2) return 0;
      if (data[0] == 'A') {            /* length byte trusted: heap overflow write */
        char *buf = malloc(2);
        memcpy(buf, data + 1, size - 1);
        int r = buf[0];
        free(buf);
        return r;
      }
      return 0;
    }

    int lookup(const uint8_t *data, size_t size) {
      if (size > 0 && data[0] == 'B') {  /* missing lookup result: NULL write */
        volatile int *slot = NULL;
        *slot = 1;
      }
      return 0;
    }
    """
)
HARNESS = textwrap.dedent(
    r"""
    #include <stddef.h>
    #include <stdint.h>
    int FN(const uint8_t *data, size_t size);
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { FN(data, size); return 0; }
    """
)
BUILD = (
    "$CC $CFLAGS -c lib.c -o lib.o && "
    '$CC $CFLAGS -DFN=parse_record $LIB_FUZZING_ENGINE harness.c lib.o -o "$OUT/parse_fuzzer" && '
    '$CC $CFLAGS -DFN=lookup $LIB_FUZZING_ENGINE harness.c lib.o -o "$OUT/lookup_fuzzer"'
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "lib.c").write_text(LIB)
    (d / "harness.c").write_text(HARNESS)
    return d


def run(*args: str):
    return CliRunner().invoke(app, ["hunt", *args], catch_exceptions=False)


def test_project_with_two_bugs(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(str(project), "--build", BUILD, "--seconds", "3", "--out", str(out), "--json")
    assert r.exit_code == 1, r.output  # findings: a negative verdict for the project
    report = json.loads(r.output)
    assert set(report["targets"]) == {"parse_fuzzer", "lookup_fuzzer"}
    kinds = {(f["target"], f["crash_type"]) for f in report["findings"]}
    assert {("parse_fuzzer", "heap-buffer-overflow"), ("lookup_fuzzer", "SEGV")} <= kinds
    for f in report["findings"]:
        assert (out / f["reproducer"]).is_file()
        assert f["frames"][0]["file"] == "lib.c"  # paths relative to the project
    sarif = json.loads((out / "results.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert len(results) == len(report["findings"])
    assert all(
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "lib.c" for res in results
    )
    rule_ids = [rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rule_ids[res["ruleIndex"]] == res["ruleId"] for res in results)
    assert not (out / ".build").exists() and not (project / "lib.o").exists()  # built in the sandbox copy


def test_single_harness_file(tmp_path: Path) -> None:
    src = resolve_challenge("stack-name-copy").src_dir / "greet.c"
    r = run(str(src), "--seconds", "3", "--out", str(tmp_path / "o"), "--sarif", str(tmp_path / "x.sarif"))
    assert r.exit_code == 1 and "stack-buffer-overflow" in r.output
    assert json.loads((tmp_path / "x.sarif").read_text())["runs"][0]["results"]


@pytest.mark.parametrize(
    ("setup", "build", "message"),
    [
        ("missing", None, "no such file"),
        ("dir", None, "needs --build"),
        ("noentry", None, "no fuzz entry point"),
        ("dir", "$CC $CFLAGS does_not_exist.c -o $OUT/x", "build failed"),
        ("dir", "true", "no executable fuzz target"),
    ],
)
def test_bad_projects(project: Path, tmp_path: Path, setup: str, build: str | None, message: str) -> None:
    target = {"missing": tmp_path / "nope", "dir": project, "noentry": project / "lib.c"}[setup]
    args = [str(target), "--out", str(tmp_path / "o")] + (["--build", build] if build else [])
    r = run(*args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_a_model_hunts_through_inspect(project: Path, tmp_path: Path) -> None:
    """A (scripted) agent writes a crashing input for one target; hunt triages it like a fuzzer's crash."""
    script = tmp_path / "agent.yaml"
    cmd = "printf BB > findings/lookup_fuzzer/b.bin && ./out/lookup_fuzzer findings/lookup_fuzzer/b.bin; true"
    steps = [
        {"tool": "bash", "args": {"command": cmd}},
        {"tool": "submit", "args": {"answer": "/work/findings"}},
    ]
    script.write_text(yaml.safe_dump(steps))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["hunt", str(project), "--build", BUILD, "--model", "aslgate/scripted",
                                 "-M", f"script={script}", "--out", str(out), "--json"],
                           catch_exceptions=False, env={"CI": "1"})  # fmt: skip
    assert r.exit_code == 1, r.output
    report = json.loads(r.output)
    [finding] = report["findings"]
    assert (
        finding["target"] == "lookup_fuzzer"
        and finding["crash_type"] == "SEGV"
        and finding["access"] == "WRITE"
    )
    assert (out / finding["reproducer"]).read_bytes() == b"BB"
    assert report["targets"] == {}  # no fuzzing happened: the agent's input was triaged
