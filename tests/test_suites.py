"""Running one suite task: the log format is passed to Inspect, the process environment is left alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aslgate.suites import LOG_FORMAT, run_task


def test_log_format_is_an_argument_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INSPECT_LOG_FORMAT", raising=False)
    r = run_task("cyber-reproduce", model="aslgate/null", log_dir=tmp_path, challenges=["stack-name-copy"])
    assert "INSPECT_LOG_FORMAT" not in os.environ
    assert LOG_FORMAT == "eval" and r.log.location.endswith(".eval") and r.samples == 1
    monkeypatch.setenv("INSPECT_LOG_FORMAT", "json")  # a stray setting does not change what we write
    r = run_task(
        "cyber-reproduce", model="aslgate/null", log_dir=tmp_path / "b", challenges=["stack-name-copy"]
    )
    assert r.log.location.endswith(".eval")
