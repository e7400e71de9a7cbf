"""`aslgate assess`: run the suites, ingest the logs, determine under each framework, write the system card.

Resumable: the suites run as an Inspect eval set in a log directory keyed by the run configuration, so
running the same command again after an interruption reuses every finished sample.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from inspect_ai import Task, eval_set, task_with
from inspect_ai.model import get_model
from pydantic import BaseModel, Field

from aslgate.cyber.tasks import LEVELS
from aslgate.metrics import TaskCounts
from aslgate.policy.engine import Determination, determine_all
from aslgate.policy.framework import BUILTIN_FRAMEWORKS, load_frameworks
from aslgate.store.db import IngestOutcome, Store
from aslgate.suites import DEFAULT_MODEL, LOG_FORMAT, SUITES, SuiteError, check_model

BASELINE_SUITES = {n for n, s in SUITES.items() if s.baseline}  # capability suites the baseline runs
DEFAULT_FRAMEWORKS = list(BUILTIN_FRAMEWORKS)  # rsp, preparedness, fsf: the current version of each
DEFAULT_SUITES = ["cyber", "behavior"]
DEFAULT_BASELINE: str | None = "aslgate/fuzzer"
DEFAULT_FUZZ_SECONDS = 2.0


class AssessConfig(BaseModel):
    """Everything that defines an assessment run (its hash names the resumable log directory)."""

    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL])
    baseline: str | None = DEFAULT_BASELINE  # the non-AI baseline every model's uplift is measured against
    suites: list[str] = Field(default_factory=lambda: list(DEFAULT_SUITES))
    frameworks: list[str] = Field(default_factory=lambda: list(DEFAULT_FRAMEWORKS))
    epochs: int = Field(1, ge=1)
    limit: int | None = Field(None, ge=1)
    level: int = 1
    challenges: list[str] = Field(default_factory=list)
    split: Literal["synthetic", "real", "all"] = "all"  # which part of the challenge corpus
    model_args: dict[str, Any] = Field(default_factory=dict)  # for the assessed models, not the baseline
    judge: str | None = None  # the behavior suite's judge model (None: deterministic checks only)
    fuzz_seconds: float = Field(
        DEFAULT_FUZZ_SECONDS, gt=0, le=3600
    )  # the fuzzer baseline's budget per sample
    out: Path = Path("out")
    db: str | None = None
    ray: str | None = None  # run on Ray: 'local', 'auto' or a cluster address (None: this machine only)
    ray_storage: str | None = None  # shard logs: a directory every node sees, or an fsspec URL
    ray_group_size: int | None = Field(None, ge=1)  # samples per shard (default: a quarter of a task)
    # how hard to try a failing model API (Inspect's defaults when None); not part of the run key
    max_retries: int | None = Field(None, ge=0)
    timeout: int | None = Field(None, ge=1)

    def retry_config(self) -> dict[str, int]:
        """How hard Inspect tries a failing model API: only what was set (Inspect's defaults otherwise)."""
        return {
            k: v for k, v in (("max_retries", self.max_retries), ("timeout", self.timeout)) if v is not None
        }

    def all_models(self) -> list[str]:
        """The models to run: those assessed, then the baseline."""
        extra = [self.baseline] if self.baseline and self.baseline not in self.models else []
        return [*self.models, *extra]

    def args_for(self, model: str) -> dict[str, Any]:
        """Model arguments: the fuzzer baseline gets its budget, assessed models get -M arguments."""
        if model == self.baseline and model.startswith("aslgate/fuzzer"):
            return {"seconds": self.fuzz_seconds}
        return dict(self.model_args)

    def run_key(self) -> str:
        """Hash of what determines the eval logs (not where reports go)."""
        what = self.model_dump(
            mode="json",
            include={
                "models",
                "baseline",
                "suites",
                "epochs",
                "limit",
                "level",
                "challenges",
                "split",
                "model_args",
                "fuzz_seconds",
                "judge",
            },
        )
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class ModelOutcome:
    """What assess produced for one model."""

    model: str
    determination: Determination
    files: dict[str, Path]


@dataclass
class AssessResult:
    """The whole run: per-model outcomes and the ingest report of every log."""

    out: Path
    log_dir: Path
    outcomes: list[ModelOutcome] = field(default_factory=list)
    ingested: list[IngestOutcome] = field(default_factory=list)
    complete: bool = True  # every eval finished, every log was ingested, every sample was scored

    def counts(self) -> list[TaskCounts]:
        """Scored / errored / unscored samples of every ingested log."""
        return [i.counts for i in self.ingested if i.counts is not None]


def model_slug(model: str) -> str:
    """A file-system-safe name for a model."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_") or "model"


def build_tasks(cfg: AssessConfig, model: str) -> list[tuple[str, Task]]:
    """The (suite, task) pairs one model runs: every suite for an assessed model, the baseline's for the baseline."""
    suites = [s for s in cfg.suites if model in cfg.models or SUITES[s].baseline]
    return [(s, t) for s in suites for t in SUITES[s].tasks(cfg)]


def _check(cfg: AssessConfig) -> None:
    unknown = [s for s in cfg.suites if s not in SUITES]
    if unknown:
        raise SuiteError(f"unknown suite {unknown[0]!r}; choose from: {', '.join(SUITES)}")
    if cfg.level not in LEVELS:
        raise SuiteError(f"--level must be one of {sorted(LEVELS)}")
    for m in cfg.models:
        check_model(m, cfg.model_args)
    if cfg.judge:
        check_model(cfg.judge)
    if cfg.baseline:
        check_model(cfg.baseline, cfg.args_for(cfg.baseline))


def assess(cfg: AssessConfig, *, display: str | None = None) -> AssessResult:
    """Run the suites for every model, then determine and report. Inputs are all checked before any work."""
    frameworks = load_frameworks(list(cfg.frameworks))  # a bad framework file fails before any eval runs
    _check(cfg)
    store = Store(cfg.db)
    out = cfg.out.resolve()
    log_dir = out / "logs" / cfg.run_key()
    log_dir.mkdir(parents=True, exist_ok=True)
    if cfg.ray:
        from aslgate.scale.ray_runner import run_assessment_on_ray

        complete, logs = run_assessment_on_ray(cfg, log_dir, display=display)
    else:
        complete, logs = _run_here(cfg, log_dir, display)
    result = AssessResult(out=out, log_dir=log_dir, complete=complete)
    run_id = store.run(f"{out}#{cfg.run_key()}", cfg.model_dump(mode="json"))
    for log in logs:  # logs eval_set reused are located by a file: URI, the ones it ran by a path
        path = unquote(urlparse(log.location).path) if log.location.startswith("file:") else log.location
        result.ingested.append(store.ingest_log(path, run_id=run_id))
    counts = result.counts()
    result.complete = (
        complete and all(i.status != "error" for i in result.ingested) and all(c.complete for c in counts)
    )
    many = len(cfg.models) > 1
    baseline_rows = store.metrics(cfg.baseline, run_id=run_id) if cfg.baseline else []
    for model in cfg.models:
        metrics = store.metrics(model, run_id=run_id)
        if baseline_rows and model != cfg.baseline:
            for suite in cfg.suites:
                store.add_derived(SUITES[suite].derived_rows(metrics, baseline_rows, cfg))
            metrics = store.metrics(model, run_id=run_id)
        behind = [c for c in counts if c.model in (model, cfg.baseline)]  # the baseline feeds the uplift
        det = determine_all(frameworks, metrics, model, tasks=behind)
        target = out / model_slug(model) if many else out
        target.mkdir(parents=True, exist_ok=True)
        paths = [
            c.log for c in counts if c.model == model and c.log
        ]  # this run's logs (a retry replaces one)
        files = write_outputs(det, target, store=store, run_id=run_id, cfg=cfg, logs=paths)
        store.save_determination(model, det.model_dump(mode="json"), run_id=run_id)
        result.outcomes.append(ModelOutcome(model, det, files))
    return result


def _run_here(cfg: AssessConfig, log_dir: Path, display: str | None) -> tuple[bool, list[Any]]:
    """Every model's tasks as one resumable Inspect eval set on this machine."""
    tasks = []
    for m in cfg.all_models():  # fresh task objects per model: task_with binds the model in place
        model = get_model(m, **cfg.args_for(m))
        tasks += [task_with(t, model=model) for _, t in build_tasks(cfg, m)]
    # a sample that errors marks its log failed (after every sample ran), so running the same command
    # again retries the errored samples and reuses the finished ones
    return eval_set(
        tasks,
        log_format=LOG_FORMAT,
        log_dir=str(log_dir),
        epochs=cfg.epochs,
        limit=cfg.limit,
        display=display or ("none" if os.environ.get("CI") else "rich"),  # type: ignore[arg-type]
        retry_attempts=1,
        fail_on_error=True,
        continue_on_fail=True,
        log_dir_allow_dirty=True,
        log_buffer=1,  # flush every finished sample so an interrupted run loses none
        **cfg.retry_config(),
    )


def write_outputs(
    det: Determination,
    target: Path,
    *,
    store: Store,
    run_id: int,
    cfg: AssessConfig,
    logs: list[str] | None = None,
) -> dict[str, Path]:
    """determination.json, then the system card (HTML + PDF), written atomically."""
    path = target / "determination.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(det.model_dump(mode="json"), indent=2))
    os.replace(tmp, path)
    files = {"determination": path}
    from aslgate.report.card import build_card, render_system_card

    run = cfg.model_dump(mode="json", exclude={"db", "out"})
    card = build_card(store, det, run_id, run, cfg.baseline if cfg.baseline != det.model else None, logs=logs)
    files.update(render_system_card(card, target))
    return files
