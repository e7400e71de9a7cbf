"""Ray scale-out: shards cover every sample once, a Ray run gives the local run's answer, a killed worker
loses and duplicates no sample, and a shard that keeps failing is reported as missing evidence.

The cluster tests start a real local Ray cluster (`ray start --head` plus two worker nodes of one CPU
each, all on 127.0.0.1) and stop it afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from aslgate.assess import AssessConfig, build_tasks
from aslgate.evidence import metrics_from_log
from aslgate.scale.ray_runner import ShardOutcome, merge_shard_logs, plan_shards, run_shard
from aslgate.store.db import Store

pytest.importorskip("ray")
RAY = str(Path(sys.executable).with_name("ray"))
IDS = "stack-name-copy,null-deref-lookup,uaf-list-iterate"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_shards_cover_every_sample_once_after_the_limit(tmp_path: Path) -> None:
    cfg = AssessConfig(challenges=IDS.split(","), limit=2, suites=["cyber"], baseline="aslgate/fuzzer")
    shards = plan_shards(cfg, str(tmp_path), group_size=1)
    for model in cfg.all_models():
        for _, task in build_tasks(cfg, model):
            want = [s.id for s in task.dataset][:2]
            got = [i for sh in shards if sh.model == model and sh.task == task.name for i in sh.sample_ids]
            assert got == want  # every sample once, in dataset order, the limit applied before sharding
    assert len({sh.log_dir for sh in shards}) == len(shards)
    assert all(sh.task_metadata.get("suite") == "cyber" for sh in shards)
    with pytest.raises(ValueError):
        AssessConfig(ray_group_size=0)


def test_merge_keeps_finished_samples_and_counts_a_failed_shards_as_errored(tmp_path: Path) -> None:
    cfg = AssessConfig(challenges=IDS.split(","), suites=["cyber"], baseline=None)
    shards = [s for s in plan_shards(cfg, str(tmp_path / "shards"), group_size=1) if "reproduce" in s.task]
    assert len(shards) == 3
    got = run_shard(cfg.model_dump(mode="json"), shards[0].model_dump(mode="json"))
    ok = ShardOutcome(shards[0], log=got["log"])
    bad = [ShardOutcome(sh, error="WorkerCrashedError: killed") for sh in shards[1:]]
    [merged] = merge_shard_logs([bad[1], ok, bad[0]], str(tmp_path / "merged"))
    assert [s.id for s in merged.samples] == [sh.sample_ids[0] for sh in shards]  # dataset order
    assert merged.samples[0].error is None and merged.samples[0].scores
    assert all("shard" in s.error.message for s in merged.samples[1:])
    assert merged.status == "error"
    reread = read_eval_log(merged.location)  # the merged log is a real log on disk
    [row] = metrics_from_log(reread, merged.location)
    assert (row.k, row.n) == (1, 1)  # errored samples are no trials: the evidence is incomplete, not 1/3
    # a task none of whose shards left a log still yields a log, with every sample errored
    [only_errors] = merge_shard_logs(bad, str(tmp_path / "merged2"))
    assert len(only_errors.samples) == 2 and all(s.error for s in only_errors.samples)
    assert only_errors.eval.metadata["family"] == "reproduce"
    [none] = metrics_from_log(read_eval_log(only_errors.location), only_errors.location)
    assert none.n == 0


def _stop_cluster(port: int) -> None:
    """Stop this cluster's processes only (every one names its GCS port); `ray stop` would stop every
    Ray cluster on the machine."""
    mine = re.compile(rf"(--gcs_server_port={port}|--gcs-address=[^ ]+:{port}|--address=[^ ]+:{port})\b")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if mine.search(args):
                pids.append(int(proc.name))
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        if not pids:
            return
        time.sleep(2)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head (no CPUs: it only schedules) and two worker nodes of one CPU each, on loopback."""
    port = _free_port()
    # loopback-only throw-away cluster: no token auth (drivers started by the tests inherit this too)
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--node-ip-address=127.0.0.1", "--object-store-memory=100000000", "--disable-usage-stats"]
    head = [RAY, "start", "--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false", *common]
    subprocess.run(head, env=env, check=True, capture_output=True, timeout=120)
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(2):
            node = [RAY, "start", f"--address={address}", "--num-cpus=1", *common]
            subprocess.run(node, env=env, check=True, capture_output=True, timeout=120)
        yield address
    finally:
        _stop_cluster(port)
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def _assess(tmp_path: Path, name: str, *extra: str, wait: bool = True) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "aslgate", "assess", "--out", str(tmp_path / name),
            "--db", str(tmp_path / f"{name}.db"), *extra]  # fmt: skip
    return subprocess.run(args, env={**os.environ, "CI": "1"}, capture_output=True, text=True, timeout=900)


def _rows(db: Path, model: str) -> list[tuple[str, int, int, list[str]]]:
    return [(r.metric, r.k, r.n, sorted(r.sample_ids)) for r in Store(str(db)).metrics(model)]


def _statuses(det_path: Path) -> dict[str, tuple[str, int | None, int | None]]:
    det = json.loads(det_path.read_text())
    return {
        f"{f['framework']}:{t['id']}": (t["status"], t.get("k"), t.get("n"))
        for f in det["frameworks"]
        for t in f["thresholds"]
    }


def test_a_ray_run_gives_the_local_runs_answer(tmp_path: Path, ray_cluster: str) -> None:
    config = [
        "--challenge",
        IDS,
        "--limit",
        "2",
        "--framework",
        "rsp,preparedness",
        "--suite",
        "cyber,behavior",
    ]
    local = _assess(tmp_path, "local", *config)
    assert local.returncode == 0, local.stderr[-3000:]
    on_ray = _assess(tmp_path, "ray", *config, "--ray", ray_cluster, "--ray-group-size", "1")
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    for model in ("aslgate/reference", "aslgate/fuzzer"):
        assert _rows(tmp_path / "ray.db", model) == _rows(tmp_path / "local.db", model)
        assert _rows(tmp_path / "ray.db", model)  # not vacuously equal
    assert _statuses(tmp_path / "ray" / "determination.json") == _statuses(
        tmp_path / "local" / "determination.json"
    )
    shard_logs = list((tmp_path / "ray" / "ray-shards").rglob("*.eval"))
    assert len(shard_logs) > 8  # the work really was cut into shards


def test_a_killed_worker_loses_and_duplicates_no_sample(tmp_path: Path, ray_cluster: str) -> None:
    script = tmp_path / "slow.yaml"
    script.write_text(  # staggered finishes, so some samples are done and some are not when the worker dies
        "- tool: bash\n  args: {command: 'sleep $((3 + RANDOM % 12)); echo A > p.bin'}\n"
        "- tool: submit\n  args: {answer: p.bin}\n"
    )
    storage = tmp_path / "shards"
    ids = "stack-name-copy,null-deref-lookup,uaf-list-iterate,heap-overread-strings"
    args = [sys.executable, "-m", "aslgate", "assess", "--model", "aslgate/scripted", "-M", f"script={script}",
            "--challenge", ids, "--baseline", "none", "--suite", "cyber", "--framework", "rsp",
            "--out", str(tmp_path / "out"), "--db", str(tmp_path / "k.db"),
            "--ray", ray_cluster, "--ray-storage", str(storage), "--ray-group-size", "4"]  # fmt: skip
    proc = subprocess.Popen(
        args, env={**os.environ, "CI": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    victim, killed_at, done_before = None, 0.0, set()
    deadline = time.time() + 240
    while time.time() < deadline and victim is None and proc.poll() is None:
        time.sleep(0.3)
        for pid_file in storage.rglob("worker.pid"):
            logs = list(pid_file.parent.rglob("*.eval"))
            if not logs:
                continue
            try:
                log = read_eval_log(str(logs[0]))
            except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
                continue  # being written: a zip cut short, or JSON not yet complete
            finished = {str(s.id) for s in log.samples or [] if s.scores}
            if finished and len(finished) < 4:
                victim, done_before = pid_file, finished
                pid = int(pid_file.read_text().split()[-1])
                os.kill(pid, signal.SIGKILL)
                killed_at = time.time()
                break
    _, err = proc.communicate(timeout=600)
    assert victim is not None, f"no shard was caught mid-way: {err.decode()[-2000:]}"
    assert proc.returncode == 0, err.decode()[-3000:]
    assert len(victim.read_text().split()) >= 2  # Ray started the shard again
    task_dir = victim.parent.parent.name  # e.g. aslgate_cyber_patch
    merged = [p for p in (tmp_path / "out" / "logs").rglob("*.eval") if task_dir in p.name]
    [path] = merged
    log = read_eval_log(str(path))
    got = [str(s.id).split("@")[0] for s in log.samples]  # reproduce ids carry their level
    assert sorted(got) == sorted(ids.split(",")) and len(got) == len(set(got))  # none lost, none twice
    assert all(s.scores and s.error is None for s in log.samples)
    for s in log.samples:
        if str(s.id) in done_before:  # finished before the kill: reused by the retry, not run again
            assert datetime.fromisoformat(str(s.started_at)).timestamp() < killed_at


def test_a_shard_that_keeps_failing_is_reported_as_missing_evidence(tmp_path: Path, ray_cluster: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the shard storage should be")
    r = _assess(tmp_path, "fail", "--challenge", "stack-name-copy", "--suite", "cyber", "--baseline", "none",
                "--framework", "rsp", "--ray", ray_cluster, "--ray-storage", str(blocker / "shards"))  # fmt: skip
    assert r.returncode != 0
    assert "shard failed" in r.stderr
    merged = list((tmp_path / "fail" / "logs").rglob("*.eval"))
    assert merged
    for p in merged:
        log = read_eval_log(str(p))
        assert log.status == "error" and log.samples and all(s.error for s in log.samples)
    det = _statuses(tmp_path / "fail" / "determination.json")
    assert det and all(status != "crossed" for status, _, _ in det.values())


def test_ray_unreachable_is_one_line(tmp_path: Path) -> None:
    if shutil.which("ray") is None and not Path(RAY).exists():
        pytest.skip("ray CLI missing")
    r = _assess(tmp_path, "x", "--challenge", "stack-name-copy", "--suite", "cyber", "--baseline", "none",
                "--ray", f"127.0.0.1:{_free_port()}")  # fmt: skip
    assert r.returncode == 2
    assert "cannot reach the Ray cluster" in r.stderr and "Traceback" not in r.stderr


def test_eval_on_ray_gives_the_local_eval_s_samples(tmp_path: Path, ray_cluster: str) -> None:
    base = [sys.executable, "-m", "aslgate", "eval", "cyber-reproduce", "--challenge", IDS, "--level", "1"]
    env = {**os.environ, "CI": "1"}
    local = subprocess.run([*base, "--log-dir", str(tmp_path / "local")], env=env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    on_ray = subprocess.run([*base, "--log-dir", str(tmp_path / "ray"), "--ray", ray_cluster,
                             "--ray-group-size", "1"], env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert "1.000" in on_ray.stdout
    merged = [p for p in (tmp_path / "ray").glob("*.eval")]
    [log] = [read_eval_log(str(p)) for p in merged]
    shards = list((tmp_path / "ray" / "ray-shards").rglob("*.eval"))
    assert len(shards) == 3  # one shard per challenge
    [local_path] = list((tmp_path / "local").glob("*.eval"))
    want = read_eval_log(str(local_path))
    verdicts = lambda lg: sorted((str(s.id), s.scores["poc_verified"].value) for s in lg.samples)  # noqa: E731
    assert verdicts(log) == verdicts(want)
