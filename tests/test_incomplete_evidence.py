"""A failed run never looks like a result: errored and unscored samples are counted, a threshold with no
scored sample is never crossed, `eval` and `assess` exit 3, and re-running `assess` retries what failed.

The failing model is real: Inspect's `openai-api` provider and the `openai` SDK against the scripted
server (tests/support/openai_server.py) answering 500s, some 500s, or too slowly."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from inspect_ai.log import EvalError, list_eval_logs, read_eval_log, write_eval_log
from support.openai_server import Faults, ScriptedOpenAI, call, fail
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.evidence import metrics_from_log, task_counts, uplift_rows
from aslgate.metrics import TaskCounts
from aslgate.policy.engine import determine_all
from aslgate.policy.framework import load_frameworks
from aslgate.policy.stats import rate_row
from aslgate.store.db import Store

AGENT = "openai-api/scripted/agent"
FAIL_FAST = ["--max-retries", "0", "-M", "max_retries=0"]  # Inspect's retries and the SDK's, off


# ------------------------------------------------------------------------------------------ engine


def _no_evidence(metric: str, errored: int = 4, unscored: int = 0):
    return rate_row("m", metric, 0, 0).model_copy(update={"errored": errored, "unscored": unscored})


def test_a_threshold_with_no_scored_sample_is_never_crossed() -> None:
    """The reported failure: Preparedness cyber.high.exploitation crossed on k=0, n=0 (upper95 of nothing = 1)."""
    frameworks = load_frameworks(["rsp", "preparedness", "fsf"])
    metrics = ["cyber.exploit.t1", "cyber.exploit.t4", "cyber.exploit.t5", "cyber.reproduce.l1.success",
               "cyber.patch.fixed", "cyber.discover.found"]  # fmt: skip
    det = determine_all(frameworks, [_no_evidence(m) for m in metrics], "m")
    results = [t for f in det.frameworks for t in f.thresholds]
    assert not [t.id for t in results if t.status == "crossed"]
    assert not [t.id for t in results if t.status in ("below", "alert") and t.metric in metrics]
    [exploitation] = [t for f in det.frameworks if f.framework.startswith("preparedness") for t in f.thresholds
                      if t.id == "cyber.high.exploitation"]  # fmt: skip
    assert exploitation.status == "cannot_rule_out" and exploitation.statistic_value is None
    assert exploitation.notes[0] == "no evidence: 4 of 4 samples errored"
    assert (exploitation.k, exploitation.n) == (0, 0)


def test_a_scored_row_still_crosses_and_failed_samples_are_noted() -> None:
    [fw] = load_frameworks(["preparedness"])
    row = rate_row("m", "cyber.exploit.t5", 9, 10).model_copy(update={"errored": 2})
    [t] = [
        t
        for t in determine_all([fw], [row], "m").frameworks[0].thresholds
        if t.id == "cyber.high.exploitation"
    ]
    assert t.status == "crossed"
    assert "2 errored and 0 unscored samples are not among the n trials" in t.notes


def test_no_evidence_reason_counts_unscored_samples() -> None:
    [fw] = load_frameworks(["preparedness"])
    det = determine_all([fw], [_no_evidence("cyber.exploit.t5", errored=1, unscored=2)], "m")
    [t] = [t for t in det.frameworks[0].thresholds if t.id == "cyber.high.exploitation"]
    assert t.notes[0] == "no evidence: 1 of 3 samples errored, 2 not scored"


def test_determination_is_complete_only_when_every_sample_was_scored() -> None:
    [fw] = load_frameworks(["rsp"])
    good = TaskCounts(task="cyber_patch", model="m", samples=3, scored=3)
    bad = TaskCounts(task="cyber_exploit", model="m", samples=3, scored=1, errored=1, unscored=1)
    assert determine_all([fw], [], "m", tasks=[good]).complete
    det = determine_all([fw], [], "m", tasks=[good, bad])
    assert not det.complete and det.summary.startswith(
        "INCOMPLETE EVIDENCE (1 samples errored, 1 not scored)"
    )
    body = json.loads(det.model_dump_json())
    assert body["complete"] is False
    assert body["tasks"][1] == {"task": "cyber_exploit", "model": "m", "log": None, "samples": 3, "scored": 1,
                                "errored": 1, "unscored": 1}  # fmt: skip


def test_uplift_over_a_side_without_evidence_is_unknown() -> None:
    model = [_no_evidence("cyber.discover.found")]
    base = [rate_row("fuzzer", "cyber.discover.found", 3, 10)]
    [up] = uplift_rows(model, base)
    assert up.metric == "cyber.discover.uplift" and up.no_evidence and (up.low, up.high) == (-1.0, 1.0)
    [ok] = uplift_rows([rate_row("m", "cyber.discover.found", 8, 10)], base)
    assert not ok.no_evidence and ok.estimate == pytest.approx(0.5)


# ------------------------------------------------------------------------------ evidence from logs


@pytest.fixture(scope="module")
def reference_log(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("ref")
    r = CliRunner().invoke(app, ["eval", "cyber-exploit", "--challenge", "stack-name-copy", "--challenge", "heap-session-fnptr",
                                 "--log-dir", str(d)], env={"CI": "1"}, catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.output  # complete evidence: exit 0
    [info] = list_eval_logs(str(d))
    return read_eval_log(info)


def test_errored_samples_are_counted_not_trials(reference_log, tmp_path: Path) -> None:
    log = reference_log.model_copy(deep=True)
    log.samples[0].error = EvalError(message="boom", traceback="", traceback_ansi="")
    log.samples[0].scores = None
    path = tmp_path / "one-errored.eval"
    write_eval_log(log, str(path))
    counts = task_counts(read_eval_log(str(path)), str(path))
    assert (counts.samples, counts.scored, counts.errored, counts.unscored) == (2, 1, 1, 0)
    rows = {r.metric: r for r in metrics_from_log(read_eval_log(str(path)), str(path))}
    assert (rows["cyber.exploit.t5"].k, rows["cyber.exploit.t5"].n, rows["cyber.exploit.t5"].errored) == (
        1,
        1,
        1,
    )
    log.samples = log.samples[1:]  # an interrupted eval: one selected sample never ran
    write_eval_log(log, str(path))
    assert task_counts(read_eval_log(str(path)), str(path)).unscored == 1


def test_a_behavior_family_whose_samples_all_errored_has_no_evidence_rows(tmp_path: Path) -> None:
    from inspect_ai import eval

    from aslgate.behavior.tasks import behavior

    [log] = eval(behavior(families="sandbagging", control_repeats=1), model="aslgate/aligned",
                 display="none", log_dir=str(tmp_path), limit=4)  # fmt: skip
    log = read_eval_log(log.location)
    for s in log.samples:
        s.error, s.scores = EvalError(message="boom", traceback="", traceback_ansi=""), None
    rows = {r.metric: r for r in metrics_from_log(log, "x.eval")}
    gap = rows["behavior.sandbagging.gap"]
    assert gap.no_evidence and gap.errored == len(log.samples)
    assert rows["behavior.sandbagging.accuracy_eval"].no_evidence


# ---------------------------------------------------------------- a failing real provider, end to end


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    s = ScriptedOpenAI.shared()
    for k, v in s.env("scripted").items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CI", "1")
    yield s
    s.reset()


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_eval_against_an_endpoint_that_always_fails_exits_3(server: ScriptedOpenAI, tmp_path: Path) -> None:
    server.script([call("submit", answer="/work/x")])
    server.faults = Faults(always=True)
    r = _cli("eval", "cyber-reproduce", "--model", AGENT, "--challenge", "stack-name-copy",
             "--log-dir", str(tmp_path), *FAIL_FAST)  # fmt: skip
    assert r.exit_code == 3, r.output
    assert _last_line(r.output).startswith(
        "INCOMPLETE EVIDENCE (exit 3): 1 of 1 samples errored, 0 not scored"
    )
    [sample] = read_eval_log(list_eval_logs(str(tmp_path))[0]).samples
    assert sample.error is not None and "InternalServerError" in sample.error.message  # the SDK's 500
    assert {q.status for q in server.chat_requests()} == {500}


def test_eval_against_an_endpoint_that_times_out_exits_3(server: ScriptedOpenAI, tmp_path: Path) -> None:
    server.script([call("submit", answer="/work/x")])
    server.faults = Faults(delay=5)
    r = _cli("eval", "cyber-reproduce", "--model", AGENT, "--challenge", "stack-name-copy",
             "--log-dir", str(tmp_path), *FAIL_FAST, "-M", "client_timeout=1")  # fmt: skip
    assert r.exit_code == 3, r.output
    [sample] = read_eval_log(list_eval_logs(str(tmp_path))[0]).samples
    assert sample.error is not None and "APITimeoutError" in sample.error.message


def _assess(tmp_path: Path, *extra: str):
    return _cli("assess", "--model", AGENT, "--suite", "cyber", "--challenge", "stack-name-copy",
                "--baseline", "none", "--framework", "rsp,preparedness,fsf", "--out", str(tmp_path / "out"),
                "--db", str(tmp_path / "a.db"), *FAIL_FAST, *extra)  # fmt: skip


def test_assess_against_an_endpoint_that_always_fails(server: ScriptedOpenAI, tmp_path: Path) -> None:
    server.script([call("submit", answer="/work/x")])
    server.faults = Faults(always=True)
    r = _assess(tmp_path)
    assert r.exit_code == 3, r.output
    assert "Completed all tasks" not in r.output
    assert _last_line(r.output).startswith("INCOMPLETE EVIDENCE (exit 3): 4 of 4 samples errored")
    det = json.loads((tmp_path / "out" / "determination.json").read_text())
    assert det["complete"] is False and det["summary"].startswith("INCOMPLETE EVIDENCE")
    assert sorted((t["task"].split("/")[-1], t["errored"], t["scored"]) for t in det["tasks"]) == [
        ("cyber_discover", 1, 0), ("cyber_exploit", 1, 0), ("cyber_patch", 1, 0), ("cyber_reproduce", 1, 0)]  # fmt: skip
    statuses = [(t["id"], t["status"], t["notes"]) for f in det["frameworks"] for t in f["thresholds"]]
    assert not [s for s in statuses if s[1] == "crossed"]
    [exploitation] = [s for s in statuses if s[0] == "cyber.high.exploitation"]
    assert (
        exploitation[1] == "cannot_rule_out" and exploitation[2][0] == "no evidence: 1 of 1 samples errored"
    )
    card = (tmp_path / "out" / "system-card.html").read_text()
    page1 = card[: card.index('<section class="framework"')]
    assert "Evidence incomplete" in page1 and "cyber_exploit" in page1
    r = _cli("report", "--model", AGENT, "--db", str(tmp_path / "a.db"), "--out", str(tmp_path / "card"))
    assert r.exit_code == 0, r.output  # the card rebuilt from the store says so too
    assert "Evidence incomplete" in (tmp_path / "card" / "system-card.html").read_text()


def test_rerunning_assess_retries_errored_samples_and_reuses_finished_ones(
    server: ScriptedOpenAI, tmp_path: Path
) -> None:
    """Some calls fail (the patch task's); the second run asks the model only for the patch sample."""
    server.script([fail(500)], contains="Task: patch")
    server.script([call("submit", answer="/work/nothing")])
    r = _assess(tmp_path)
    assert r.exit_code == 3, r.output
    assert "cyber_patch" in _last_line(r.output)
    first = json.loads((tmp_path / "out" / "determination.json").read_text())
    assert [t["task"].split("/")[-1] for t in first["tasks"] if t["errored"]] == ["cyber_patch"]
    finished_at = {}
    for info in list_eval_logs(str(tmp_path / "out" / "logs")):
        log = read_eval_log(info)
        finished_at.update({(log.eval.task, s.id): s.started_at for s in log.samples if s.error is None})
    assert len(finished_at) == 3

    server.reset()  # the endpoint recovers
    server.script([call("submit", answer="/work/nothing")])
    r = _assess(tmp_path)
    assert r.exit_code == 0, r.output
    asked = server.chat_requests()
    assert asked and all("Task: patch" in json.dumps(q.messages) for q in asked)  # only the errored sample
    det = json.loads((tmp_path / "out" / "determination.json").read_text())
    assert det["complete"] is True and all(t["errored"] == 0 and t["scored"] == 1 for t in det["tasks"])
    patch = {r.metric: r for r in Store(str(tmp_path / "a.db")).metrics(AGENT)}["cyber.patch.fixed"]
    assert (patch.n, patch.errored) == (1, 0)  # the retried sample's row, not the errored one's
    for info in list_eval_logs(str(tmp_path / "out" / "logs")):
        log = read_eval_log(info)
        for s in log.samples:
            assert s.error is None and s.scores
            if (log.eval.task, s.id) in finished_at:  # reused, not redone
                assert datetime.fromisoformat(str(s.started_at)) == datetime.fromisoformat(
                    str(finished_at[(log.eval.task, s.id)])
                )
