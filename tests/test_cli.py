"""The command line: verdict exit codes, JSON output, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.cyber.corpus import resolve_challenge

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    for f in fragments:
        assert f in text


def test_challenges_list_json() -> None:
    r = invoke("challenges", "list", "--json")
    rows = json.loads(r.output)
    assert r.exit_code == 0 and len(rows) >= 24 and {"id", "cwe", "exploit"} <= set(rows[0])


def test_verify_exit_codes_and_json(tmp_path: Path) -> None:
    c = resolve_challenge("stack-name-copy")
    r = invoke("verify", "--challenge", "stack-name-copy", "--poc", str(c.pocs()[0]), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["verdict"] == "reproduced"
    benign = tmp_path / "benign.bin"
    benign.write_bytes(b"\x03abc")
    r = invoke("verify", "--challenge", str(c.path), "--poc", str(benign))
    assert r.exit_code == 1 and r.output.startswith("no_crash")


def test_verify_bad_inputs(tmp_path: Path) -> None:
    assert_one_line_error(invoke("verify", "-c", "stack-name-copy", "--poc", str(tmp_path)), "is a directory")
    assert_one_line_error(
        invoke("verify", "-c", "stack-name-copy", "--poc", str(tmp_path / "x")), "does not exist"
    )
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as f:
        f.truncate(10 * 1024 * 1024 + 1)
    assert_one_line_error(invoke("verify", "-c", "stack-name-copy", "--poc", str(huge)), "larger than")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    r = invoke("verify", "-c", "stack-name-copy", "--poc", str(empty))
    assert r.exit_code == 2 and "empty" in r.output
    assert_one_line_error(invoke("verify", "-c", "nope", "--poc", str(empty)), "no such challenge")


def test_verify_challenge_that_does_not_compile(make_challenge, tmp_path: Path) -> None:
    d = make_challenge(name="broken", src="int LLVMFuzzerTestOneInput(oops\n")
    poc = tmp_path / "p.bin"
    poc.write_bytes(b"S\x40")
    assert_one_line_error(
        invoke("verify", "-c", str(d), "--poc", str(poc)), "does not build", "compile failed"
    )


def test_validate_bad_folder_reports_file_and_reason(make_challenge) -> None:
    d = make_challenge(yaml_text="id: [\n")
    r = invoke("challenges", "validate", str(d))
    assert r.exit_code == 1
    assert "challenge.yaml:2: YAML syntax error" in r.output


def test_triage_real_and_garbage(tmp_path: Path) -> None:
    reports = Path(__file__).parent / "data" / "reports"
    real = reports / "challenge_stack-name-copy.txt"
    r = invoke("triage", str(real), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["crash_type"] == "stack-buffer-overflow"
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 100)
    r = invoke("triage", str(junk))
    assert r.exit_code == 1 and "T0" in r.output


def test_unknown_model_is_one_line() -> None:
    assert_one_line_error(
        invoke("eval", "cyber-reproduce", "--model", "nosuchprovider/x"), "nosuchprovider/x"
    )
    assert_one_line_error(
        invoke("eval", "cyber-reproduce", "--model", "aslgate/oracle"), "unknown offline agent"
    )
    assert_one_line_error(invoke("eval", "no-such-task"), "unknown task")


@pytest.mark.parametrize("level", ["7", "-1"])
def test_bad_level(level: str) -> None:
    assert_one_line_error(invoke("eval", "cyber-reproduce", "--level", level), "level")
