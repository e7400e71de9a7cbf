"""aslgate through plain Inspect: every task in Inspect's registry, `inspect eval aslgate/...`, and
`inspect view` / `inspect log dump` / `read_eval_log` on the logs `aslgate eval` writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from inspect_ai.log import list_eval_logs, read_eval_log
from typer.testing import CliRunner

from aslgate.cli import app

BIN = Path(sys.executable).parent
TASKS = {"behavior", "cyber_reproduce", "cyber_exploit", "cyber_patch", "cyber_discover", "hunt_task"}


def _env() -> dict[str, str]:
    # the installed (editable) package, as a user's `inspect` finds it: putting src/ on PYTHONPATH instead
    # makes Inspect register the tasks without their `aslgate/` package prefix
    return {**os.environ, "CI": "1"}


def test_importing_the_entry_point_registers_every_task_provider_and_the_sandbox() -> None:
    code = (
        "import json, aslgate._registry\n"
        "from inspect_ai._util.registry import registry_find, registry_info\n"
        "found = [registry_info(o) for o in registry_find(lambda i: i.name.startswith('aslgate/'))]\n"
        "print(json.dumps(sorted(f'{i.type}:{i.name}' for i in found)))\n"
    )  # a fresh interpreter: nothing imported before the entry point
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    found = set(json.loads(r.stdout))
    assert {f"task:aslgate/{t}" for t in TASKS} <= found
    assert {"modelapi:aslgate/aslgate", "sandboxenv:aslgate/bwrap"} <= found


def test_inspect_eval_runs_a_registered_cyber_task(tmp_path: Path) -> None:
    args = [str(BIN / "inspect"), "eval", "aslgate/cyber_reproduce", "--model", "aslgate/reference",
            "--limit", "1", "--log-dir", str(tmp_path), "--display", "none"]  # fmt: skip
    r = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    [info] = list_eval_logs(str(tmp_path))
    log = read_eval_log(info)
    assert log.eval.task == "aslgate/cyber_reproduce" and len(log.samples) == 1
    assert log.samples[0].scores["poc_verified"].answer == "reproduced"


def test_inspect_eval_of_an_unknown_aslgate_task_fails(tmp_path: Path) -> None:
    args = [str(BIN / "inspect"), "eval", "aslgate/cyber_nope", "--model", "aslgate/reference",
            "--log-dir", str(tmp_path), "--display", "none"]  # fmt: skip
    r = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode != 0 and not list_eval_logs(str(tmp_path))


@pytest.fixture(scope="module")
def aslgate_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log written by `aslgate eval` (the reference agent on one challenge)."""
    log_dir = tmp_path_factory.mktemp("logs")
    r = CliRunner().invoke(app, ["eval", "cyber-reproduce", "--challenge", "stack-name-copy",
                                 "--log-dir", str(log_dir)], env={"CI": "1"}, catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.output
    [info] = list_eval_logs(str(log_dir))
    return Path(urllib.parse.urlparse(info.name).path)


def test_read_eval_log_and_inspect_log_dump_read_aslgate_logs(aslgate_log: Path) -> None:
    log = read_eval_log(str(aslgate_log))
    assert log.status == "success" and log.samples[0].scores["poc_verified"].answer == "reproduced"
    r = subprocess.run([str(BIN / "inspect"), "log", "dump", str(aslgate_log)], env=_env(),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    dumped = json.loads(r.stdout)
    assert dumped["eval"]["task"] == log.eval.task
    assert dumped["samples"][0]["scores"]["poc_verified"]["answer"] == "reproduced"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=20) as resp:
        return json.loads(resp.read())


def test_inspect_view_serves_aslgate_logs(aslgate_log: Path) -> None:
    """The real `inspect view` server lists the log and returns it whole through its JSON API."""
    port = _free_port()
    args = [str(BIN / "inspect"), "view", "--log-dir", str(aslgate_log.parent), "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/api"
        listing = None
        deadline = time.time() + 90
        while listing is None and time.time() < deadline:
            try:
                listing = _get(f"{base}/log-files")
            except OSError:
                time.sleep(0.5)
        assert listing is not None, "inspect view did not start"
        [entry] = listing["files"]
        assert entry["name"].endswith(aslgate_log.name) and "reproduce" in entry["task"]
        log = _get(f"{base}/logs/{urllib.parse.quote(entry['name'], safe='')}")
        assert log["status"] == "success"
        assert log["samples"][0]["scores"]["poc_verified"]["answer"] == "reproduced"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
