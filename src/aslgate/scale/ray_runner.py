"""Scale-out on Ray: the assessment's evals cut into shards that Ray workers run, merged back into one log per task.

A shard is (model, task, sample group), with every epoch of those samples. Each worker runs the
Inspect eval set of its shard in its own log directory on shared storage (a directory all nodes see,
or any fsspec URL Inspect accepts), with its own bwrap sandboxes. A worker that dies has its shard
retried by Ray; the retry resumes the shard's log, so finished samples are reused and none is run
twice. A shard that keeps failing is reported, and its samples enter the merged log as errored samples,
so the determination says its evidence is incomplete instead of pretending it is whole.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalError,
    EvalLog,
    EvalMetric,
    EvalSample,
    EvalSpec,
    list_eval_logs,
    read_eval_log,
    write_eval_log,
)
from pydantic import BaseModel

from aslgate.errors import UserError

if TYPE_CHECKING:
    from inspect_ai import Task

    from aslgate.assess import AssessConfig

# What one shard asks Ray for, per suite: a cyber shard runs compilers, sanitizers and the fuzzer in
# sandboxes (one CPU, the sandbox memory limit plus the worker); a behavior shard is pure Python.
SHARD_RESOURCES: dict[str, dict[str, float]] = {
    "cyber": {"num_cpus": 1, "memory": 1.5 * 2**30},
    "behavior": {"num_cpus": 1, "memory": 0.5 * 2**30},
}
SHARD_RETRIES = 2  # a shard is tried 1 + this many times (worker deaths and exceptions alike)
_FORWARDED_ENV = re.compile(r"^(ASLGATE_|INSPECT_)")


class RayError(UserError):
    """Ray is missing, unreachable, or misconfigured: one line for the user."""


class Shard(BaseModel):
    """One unit of Ray work: some samples of one task for one model, all epochs."""

    id: str
    model: str
    suite: str
    task: str
    sample_ids: list[str | int]
    log_dir: str
    task_metadata: dict[str, Any] = {}  # the task's metadata (suite, family, level): names its metrics
    eval_task: dict[str, Any] | None = None  # `aslgate eval`: {"name", "args"} of the one task (else assess)


@dataclass
class ShardOutcome:
    """What a shard came back with: its log, or the error it kept failing with."""

    shard: Shard
    log: str | None = None
    error: str | None = None
    attempts: int = 1


@dataclass
class RayRun:
    """The whole Ray run: merged logs (one per model and task) and the outcome of every shard."""

    logs: list[EvalLog] = field(default_factory=list)
    shards: list[ShardOutcome] = field(default_factory=list)
    startup_s: float = 0.0

    @property
    def failed(self) -> list[ShardOutcome]:
        return [o for o in self.shards if o.error is not None]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def plan_shards(cfg: AssessConfig, storage: str, group_size: int | None = None) -> list[Shard]:
    """Cut every (model, task) of the config into sample groups (after --limit, in dataset order)."""
    from aslgate.assess import build_tasks

    return [
        sh
        for model in cfg.all_models()
        for suite, task in build_tasks(cfg, model)
        for sh in _task_shards(model, suite, task, cfg.limit, storage, group_size)
    ]


def _task_shards(
    model: str,
    suite: str,
    task: Task,
    limit: int | None,
    storage: str,
    group_size: int | None,
    eval_task: dict[str, Any] | None = None,
) -> list[Shard]:
    """One task's samples (after --limit, in dataset order) cut into groups."""
    ids = [s.id for s in task.dataset if s.id is not None]
    if limit is not None:
        ids = ids[:limit]
    size = group_size or max(1, math.ceil(len(ids) / 4))
    shards = []
    for i in range(0, len(ids), size):
        sid = f"{_slug(model)}/{_slug(task.name)}/{i // size:03d}"
        shards.append(
            Shard(
                id=sid,
                model=model,
                suite=suite,
                task=task.name,
                sample_ids=ids[i : i + size],
                log_dir=_join(storage, *sid.split("/")),
                task_metadata=dict(task.metadata or {}),
                eval_task=eval_task,
            )
        )
    return shards


def run_shard(cfg_json: dict[str, Any], shard_json: dict[str, Any]) -> dict[str, Any]:
    """Run one shard's eval set (resuming its log directory) and return where its log is."""
    from inspect_ai import eval_set, task_with
    from inspect_ai.model import get_model

    import aslgate._registry  # noqa: F401  (providers, sandbox and tasks in this worker process)
    from aslgate.assess import AssessConfig, build_tasks
    from aslgate.suites import LOG_FORMAT

    cfg = AssessConfig.model_validate(cfg_json)
    shard = Shard.model_validate(shard_json)
    if "://" not in shard.log_dir:
        os.makedirs(shard.log_dir, exist_ok=True)
        with open(os.path.join(shard.log_dir, "worker.pid"), "a") as f:
            f.write(f"{os.getpid()}\n")  # one line per attempt: lets tests and operators find the worker
    if shard.eval_task is not None:
        from aslgate.suites import TASKS

        task = TASKS[shard.eval_task["name"]](**shard.eval_task["args"])
    else:
        [task] = [t for s, t in build_tasks(cfg, shard.model) if t.name == shard.task and s == shard.suite]
    model = get_model(shard.model, **cfg.args_for(shard.model))
    _, logs = eval_set(
        [task_with(task, model=model)],
        log_dir=shard.log_dir,
        sample_id=list(shard.sample_ids),
        epochs=cfg.epochs,
        display="none",
        retry_attempts=1,
        fail_on_error=True,  # an errored sample marks the shard's log failed: the next run retries it
        continue_on_fail=True,
        log_dir_allow_dirty=True,
        log_buffer=1,  # every finished sample is on shared storage before the next starts
        log_format=LOG_FORMAT,
        **cfg.retry_config(),
    )
    [log] = logs
    return {"shard": shard.id, "log": log.location, "status": str(log.status)}


def _forwarded_env(cfg: AssessConfig) -> dict[str, str]:
    """Environment the workers need: aslgate/Inspect settings and the providers' URL and key variables."""
    names = {k for k in os.environ if _FORWARDED_ENV.match(k)}
    for model in [*cfg.all_models(), *([cfg.judge] if cfg.judge else [])]:
        parts = model.split("/")
        provider = parts[1] if parts[0] == "openai-api" and len(parts) > 2 else parts[0]
        prefix = re.sub(r"[^A-Z0-9]", "_", provider.upper())
        names |= {f"{prefix}_BASE_URL", f"{prefix}_API_KEY"}
    return {k: os.environ[k] for k in sorted(names) if k in os.environ}


def _connect(address: str, cfg: AssessConfig) -> float:
    """ray.init for 'local' (a throw-away cluster in this process), 'auto' or an address; returns seconds taken."""
    try:
        import ray
    except ImportError:
        raise RayError("--ray needs the ray package: pip install 'aslgate[ray]'") from None
    start = time.perf_counter()
    if ray.is_initialized():
        return 0.0
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": _forwarded_env(cfg)},
        "log_to_driver": False,
        "include_dashboard": False,
    }
    _probe(address)
    try:
        if address == "local":  # this machine only: bind to loopback
            ray.init(_node_ip_address="127.0.0.1", **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise RayError(f"cannot reach the Ray cluster at {address!r}: {first}") from None
    return time.perf_counter() - start


def _probe(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on (ray.init would retry for minutes)."""
    import socket

    m = re.fullmatch(r"(?:ray://)?\[?([^\]]+?)\]?:(\d+)", address)
    if not m:
        if address not in ("local", "auto"):
            raise RayError(f"--ray {address!r}: expected 'local', 'auto' or HOST:PORT")
        return
    try:
        with socket.create_connection((m[1], int(m[2])), timeout=5):
            pass
    except OSError as e:
        raise RayError(f"cannot reach the Ray cluster at {address!r}: {e.strerror or e}") from None


def run_on_ray(
    cfg: AssessConfig,
    storage: str,
    merged_dir: str,
    *,
    address: str = "auto",
    group_size: int | None = None,
    progress: Callable[[int, int, ShardOutcome], None] | None = None,
) -> RayRun:
    """Run the config's evals as Ray shards and merge them into one log per (model, task) in merged_dir."""
    return run_shards(
        cfg, plan_shards(cfg, storage, group_size), merged_dir, address=address, progress=progress
    )


def run_shards(
    cfg: AssessConfig,
    shards: list[Shard],
    merged_dir: str,
    *,
    address: str = "auto",
    progress: Callable[[int, int, ShardOutcome], None] | None = None,
) -> RayRun:
    """Run planned shards as Ray tasks and merge them into one log per (model, task) in merged_dir."""
    import ray

    run = RayRun(startup_s=_connect(address, cfg))
    remote = ray.remote(run_shard)
    cfg_json = cfg.model_dump(mode="json")
    pending: dict[Any, Shard] = {}
    for sh in shards:
        ref = remote.options(
            **SHARD_RESOURCES.get(sh.suite, SHARD_RESOURCES["cyber"]),
            max_retries=SHARD_RETRIES,
            retry_exceptions=True,
            name=f"aslgate:{sh.id}",
        ).remote(cfg_json, sh.model_dump(mode="json"))
        pending[ref] = sh
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            sh = pending.pop(ref)
            try:
                got = ray.get(ref)
                outcome = ShardOutcome(sh, log=got["log"])
            except Exception as e:  # RayTaskError, WorkerCrashedError, ...: the shard failed every try
                first = (str(e).strip().splitlines() or [type(e).__name__])[-1][:300]
                outcome = ShardOutcome(sh, error=f"{type(e).__name__}: {first}", attempts=1 + SHARD_RETRIES)
            outcome.attempts = max(outcome.attempts, _attempts(sh))
            run.shards.append(outcome)
            if progress:
                progress(len(run.shards), len(shards), outcome)
    run.shards.sort(key=lambda o: o.shard.id)
    run.logs = merge_shard_logs(run.shards, merged_dir, epochs=cfg.epochs)
    return run


def _attempts(sh: Shard) -> int:
    """How many workers started this shard (from its pid file, when the storage is a local directory)."""
    p = os.path.join(sh.log_dir, "worker.pid")
    try:
        with open(p) as f:
            return max(1, sum(1 for line in f if line.strip()))
    except OSError:
        return 1


def _groups(outcomes: list[ShardOutcome]) -> Iterator[tuple[tuple[str, str], list[ShardOutcome]]]:
    keys: dict[tuple[str, str], list[ShardOutcome]] = {}
    for o in outcomes:
        keys.setdefault((o.shard.model, o.shard.task), []).append(o)
    yield from keys.items()


def merge_shard_logs(outcomes: list[ShardOutcome], merged_dir: str, *, epochs: int = 1) -> list[EvalLog]:
    """One log per (model, task): the shards' samples in dataset order; a failed shard's samples as errors."""
    merged: list[EvalLog] = []
    for (model, task), group in _groups(outcomes):
        group.sort(key=lambda o: o.shard.id)
        logs = [lg for o in group if (lg := _shard_log(o)) is not None]
        base = logs[0].model_copy(deep=True) if logs else _skeleton_log(group[0].shard, epochs)
        samples: list[EvalSample] = [s for lg in logs for s in lg.samples or []]
        have = {(s.id, s.epoch) for s in samples}
        for o in group:
            if o.error is None:
                continue
            for sid in o.shard.sample_ids:
                for ep in range(1, epochs + 1):
                    if (sid, ep) not in have:  # finished before the shard gave up: kept, not replaced
                        samples.append(_errored_sample(sid, ep, f"shard {o.shard.id} failed: {o.error}"))
        order = {sid: i for i, sid in enumerate(x for o in group for x in o.shard.sample_ids)}
        samples.sort(key=lambda s: (order.get(s.id, len(order)), s.epoch))
        base.samples = samples
        failed = any(o.error for o in group) or any(lg.status != "success" for lg in logs)
        base.status = "error" if failed else "success"
        if failed:
            errors = [o.error for o in group if o.error] + [lg.error.message for lg in logs if lg.error]
            base.error = EvalError(message="; ".join(errors)[:2000], traceback="", traceback_ansi="")
        if base.results is not None:
            _merge_results(base, logs, samples)
        name = f"{_slug(model)}_{_slug(task)}.eval"
        location = _join(merged_dir, name)
        write_eval_log(base, location, format="eval")
        base.location = location
        merged.append(base)
    return merged


def _shard_log(o: ShardOutcome) -> EvalLog | None:
    """The shard's log: the one it returned, else whatever a failed shard left in its directory."""
    if o.log:
        return read_eval_log(o.log)
    try:
        infos = list_eval_logs(o.shard.log_dir)
    except (OSError, ValueError):
        return None
    for info in infos:
        try:
            return read_eval_log(info)
        except (
            OSError,
            EOFError,
            KeyError,
            ValueError,
            zipfile.BadZipFile,
        ):  # cut off mid-write by the dying
            # worker: its samples count as errored
            continue
    return None


def _merge_results(base: EvalLog, logs: list[EvalLog], samples: list[EvalSample]) -> None:
    """Sample counts summed; each mean-like metric (accuracy, mean) weighted by the shards' scored samples."""
    assert base.results is not None
    base.results.total_samples = len(samples)
    base.results.completed_samples = sum(1 for s in samples if s.scores and s.error is None)
    for i, score in enumerate(base.results.scores):
        for name, metric in score.metrics.items():
            parts = []
            for lg in logs:
                if not lg.results or i >= len(lg.results.scores):
                    continue
                m = lg.results.scores[i].metrics.get(name)
                n = lg.results.completed_samples
                if m is not None and n:
                    parts.append((float(m.value), n))
            if name in ("accuracy", "mean") and parts:
                total = sum(n for _, n in parts)
                score.metrics[name] = EvalMetric(
                    name=name, value=sum(v * n for v, n in parts) / total, params=metric.params
                )
        score.metrics = {k: v for k, v in score.metrics.items() if k in ("accuracy", "mean")}


def _skeleton_log(shard: Shard, epochs: int) -> EvalLog:
    """A log for a task none of whose shards left one: its header, so its samples can be counted as errored."""
    from datetime import UTC, datetime

    return EvalLog(
        eval=EvalSpec(
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            task=shard.task,
            dataset=EvalDataset(name=shard.task),
            model=shard.model,
            config=EvalConfig(epochs=epochs),
            metadata=shard.task_metadata,
        ),
        status="error",
    )


def _errored_sample(sid: str | int, epoch: int, message: str) -> EvalSample:
    return EvalSample(
        id=sid,
        epoch=epoch,
        input="",
        target="",
        error=EvalError(message=message, traceback="", traceback_ansi=""),
    )


def run_assessment_on_ray(
    cfg: AssessConfig, log_dir: Any, *, display: str | None = None
) -> tuple[bool, list[EvalLog]]:
    """`aslgate assess --ray`: shards on the cluster, merged logs beside the local run's, progress on stderr."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    log_dir = Path(log_dir)
    storage = cfg.ray_storage or str(log_dir.parent.parent / "ray-shards" / log_dir.name)
    merged_dir = str(log_dir.parent / f"{log_dir.name}-ray")
    if "://" not in merged_dir:
        os.makedirs(merged_dir, exist_ok=True)
    console = Console(stderr=True)
    quiet = display == "none" or bool(os.environ.get("CI"))
    with Progress(
        TextColumn("[bold]ray[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as bar:
        job = bar.add_task("shards", total=None)

        def progress(done: int, total: int, o: ShardOutcome) -> None:
            bar.update(job, completed=done, total=total)
            if o.error:
                console.print(f"[red]shard failed[/red] {o.shard.id}: {o.error}", highlight=False)

        started = time.perf_counter()
        run = run_on_ray(
            cfg,
            storage,
            merged_dir,
            address=cfg.ray or "auto",
            group_size=cfg.ray_group_size,
            progress=progress,
        )
        elapsed = time.perf_counter() - started
    if not quiet or run.failed:
        console.print(
            f"ray: {len(run.shards)} shards, {len(run.failed)} failed, in {elapsed:.1f} s; "
            f"cluster start-up {run.startup_s:.1f} s",
            highlight=False,
        )
    complete = not run.failed and all(lg.status == "success" for lg in run.logs)
    return complete, run.logs


def run_task_on_ray(
    name: str,
    task: Task,
    task_args: dict[str, Any],
    cfg: AssessConfig,
    log_dir: str,
    *,
    storage: str | None = None,
    group_size: int | None = None,
) -> EvalLog:
    """`aslgate eval TASK --ray`: one task's samples as Ray shards, merged into one log in log_dir."""
    [model] = cfg.models
    storage = storage or _join(log_dir, "ray-shards")
    suite = str((task.metadata or {}).get("suite", "cyber"))
    shards = _task_shards(model, suite, task, cfg.limit, storage, group_size,
                          eval_task={"name": name, "args": task_args})  # fmt: skip
    if "://" not in log_dir:
        os.makedirs(log_dir, exist_ok=True)
    run = run_shards(cfg, shards, log_dir, address=cfg.ray or "auto")
    for o in run.failed:
        print(f"shard failed {o.shard.id}: {o.error}", file=sys.stderr)
    if not run.logs:
        raise RayError(f"{name}: no shard produced a log")
    return run.logs[0]
