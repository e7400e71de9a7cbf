"""One YAML loader for every format: each malformed file names its file, the line of the problem and why."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from aslgate.behavior.graders import GradeError, load_transcripts
from aslgate.behavior.scenario import SCENARIO_DIR, ScenarioError, load_scenario
from aslgate.cyber.corpus import ChallengeError, load_challenge
from aslgate.policy.framework import FrameworkError, builtin_path, load_framework
from aslgate.yamlio import LocatedError, load_yaml_model


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _raises(error: type[Exception], load: Callable[[], object], file: Path, line: int, reason: str) -> None:
    with pytest.raises(error) as info:
        load()
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"^{re.escape(str(file))}:{line}: ", message), message
    assert reason in message, message


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: int
    y: int = 0


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("x: 1\ny: two\n", 2, "y: Input should be a valid integer"),
        ("x: 1\n\nz: 3\n", 3, "unknown key 'z'"),
        ("y: 1\n", 1, "missing field 'x'"),
        ("x: 1\nx: 2\n", 2, "duplicate key 'x'"),
        ("x: 1\ny: [1,\n", 3, "YAML syntax error"),
        ("- 1\n", 1, "top level must be a mapping of fields, got a sequence"),
        ("", 1, "empty file"),
    ],
)
def test_the_shared_loader_gives_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    _raises(LocatedError, lambda: load_yaml_model(p, Point, LocatedError), p, line, reason)
    p.write_text("x: 1\n")
    assert load_yaml_model(p, Point, LocatedError) == Point(x=1)


def test_unreadable_and_non_text_files(tmp_path: Path) -> None:
    p = tmp_path / "b.yaml"
    p.write_bytes(b"x: 1\ny: caf\xe9\n")
    _raises(LocatedError, lambda: load_yaml_model(p, Point, LocatedError), p, 2, "not UTF-8")
    p.write_bytes(b"x: 1\n\n\x00\n")
    _raises(LocatedError, lambda: load_yaml_model(p, Point, LocatedError), p, 3, "NUL byte")
    missing = tmp_path / "none.yaml"
    _raises(LocatedError, lambda: load_yaml_model(missing, Point, LocatedError), missing, 0, "cannot read")


def test_framework_file_line(tmp_path: Path) -> None:
    text = builtin_path("rsp").read_text()
    bad = text.replace("statistic: point, min_n: 10", "statistic: median, min_n: 10", 1)
    p = tmp_path / "rsp.yaml"
    p.write_text(bad)
    _raises(FrameworkError, lambda: load_framework(p), p, _line_of(bad, "statistic: median"), "median")


def test_scenario_file_line(tmp_path: Path) -> None:
    text = (SCENARIO_DIR / "blackmail_replacement.yaml").read_text()
    bad = text.replace("family: blackmail", "family: blackmale", 1)
    assert bad != text
    p = tmp_path / "blackmail_replacement.yaml"
    p.write_text(bad)
    _raises(ScenarioError, lambda: load_scenario(p), p, _line_of(bad, "family: blackmale"), "family")
    nested = text.replace("  domain: ", "  domain_name: ", 1)
    p.write_text(nested)
    line = _line_of(nested, "organisation:") + 1  # where the mapping that lacks the field starts
    _raises(ScenarioError, lambda: load_scenario(p), p, line, "organisation: missing field 'domain'")


def test_challenge_file_line(make_challenge: Callable[..., Path]) -> None:
    d = make_challenge()
    cfg = d / "challenge.yaml"
    text = cfg.read_text()
    bad = text.replace("severity_expected: T3", "severity_expected: T9")
    cfg.write_text(bad)
    _raises(ChallengeError, lambda: load_challenge(d), cfg, _line_of(bad, "T9"), "severity_expected")


def test_transcript_file_line(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(
        "transcripts:\n"
        "  - id: a\n    scenario: blackmail_replacement\n    cell: {goal: none}\n"
        "  - id: b\n    scenario: blackmail_replacement\n    cell: {goal: none}\n    calls: [{tool: shell, argz: {}}]\n"
    )
    _raises(GradeError, lambda: load_transcripts(p), p, 8, "transcript 2: calls[0]: unknown key 'argz'")
    p.write_text("- id: a\n  scenario: s\n  cell: {}\n  answer: [1, 2]\n")
    _raises(
        GradeError, lambda: load_transcripts(p), p, 4, "transcript 1: answer: Input should be a valid string"
    )
