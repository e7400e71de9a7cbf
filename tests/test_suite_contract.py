"""A suite is one object (issue 14): a toy family or a toy suite registered here flows to metric rows, the
catalogue and the card without editing any other package; unknown families are errors; the store never
mixes task versions and re-derives rows when a suite's derivation version changes."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalSample, EvalSpec, write_eval_log
from inspect_ai.scorer import Score

import aslgate
from aslgate.behavior.suite import BEHAVIOR, BehaviorFamily
from aslgate.cyber.suite import CYBER, CyberFamily, uplift_rows
from aslgate.evidence import metrics_from_log
from aslgate.metrics import MetricRow, MetricSpec
from aslgate.policy.catalogue import METRICS, is_known
from aslgate.policy.engine import determine_all
from aslgate.policy.framework import load_frameworks
from aslgate.report.card import CardData, render_html
from aslgate.store.db import Store
from aslgate.suite import Family, Suite, SuiteError, passed
from aslgate.suites import SUITES, TASKS, register_suite, unregister_suite

MODEL = "aslgate/toy-model"


def _log(meta: dict[str, Any], samples: list[EvalSample], *, version: int = 1, model: str = MODEL,
         created: str = "2026-12-01T00:00:00+00:00") -> EvalLog:  # fmt: skip
    spec = EvalSpec(created=created, task="aslgate/toy", task_version=version, dataset=EvalDataset(name="d"),
                    model=model, config=EvalConfig(), metadata=meta)  # fmt: skip
    return EvalLog(eval=spec, status="success", samples=samples)


def _sample(i: int, ok: bool, **meta: Any) -> EvalSample:
    return EvalSample(id=f"s{i}", epoch=1, input="x", target="t", metadata=meta,
                      scores={"s": Score(value="C" if ok else "I", answer="ok" if ok else "no")})  # fmt: skip


@pytest.fixture
def toy_behavior() -> Iterator[BehaviorFamily]:
    fam = BEHAVIOR.add_family(
        BehaviorFamily(
            "toy_family",
            specs=[MetricSpec("behavior.toy_family.rate", "Toy rate under pressure.", "rate"),
                   MetricSpec("behavior.toy_family.control", "Toy rate in control cells.", "rate"),
                   MetricSpec("behavior.toy_family.effect", "Toy pressure effect.", "difference")],
            method="<h3>behavior.toy_family — toy</h3><p>TOY-BEHAVIOR-METHOD</p>",
        )
    )  # fmt: skip
    assert isinstance(fam, BehaviorFamily)
    yield fam
    BEHAVIOR.remove_family("toy_family")


@pytest.fixture
def toy_cyber() -> Iterator[CyberFamily]:
    fam = CYBER.add_family(
        CyberFamily(
            "toy",
            specs=[MetricSpec("cyber.toy.solved", "Share of toy challenges solved.", "rate")],
            method="<h3>cyber.toy — toy</h3><p>TOY-CYBER-METHOD</p>",
            hits=lambda meta: {"cyber.toy.solved": lambda s: bool(passed(s))},
            success="cyber.toy.solved",
        )
    )
    assert isinstance(fam, CyberFamily)
    yield fam
    CYBER.remove_family("toy")


def _behavior_log() -> EvalLog:
    meta = {"family": "toy_family", "scenario": "toy_scenario"}
    samples = [_sample(i, i < 3, **meta, control=False) for i in range(4)]
    samples += [_sample(10 + i, i < 1, **meta, control=True) for i in range(4)]
    return _log({"suite": "behavior", "family": "behavior"}, samples)


def _card(rows: list[MetricRow], model: str = MODEL) -> str:
    det = determine_all(load_frameworks(["rsp-2.2"]), rows, model)
    card = CardData(model=model, generated_at="2026-12-01T00:00:00+00:00", aslgate_version=aslgate.__version__,
                    run={}, determination=det, metrics=rows, logs=[])  # fmt: skip
    return render_html(card, fonts=False)


def test_a_toy_behavior_family_flows_to_rows_catalogue_and_card(toy_behavior: BehaviorFamily) -> None:
    rows = {r.metric: r for r in metrics_from_log(_behavior_log(), "toy.eval")}
    assert (rows["behavior.toy_family.rate"].k, rows["behavior.toy_family.rate"].n) == (3, 4)
    assert (rows["behavior.toy_family.control"].k, rows["behavior.toy_family.control"].n) == (1, 4)
    assert rows["behavior.toy_family.effect"].estimate == pytest.approx(0.5)
    assert "behavior.toy_family.toy_scenario.difference" in rows
    assert all(r.task_version == 1 for r in rows.values())
    assert is_known("behavior.toy_family.effect") and METRICS["behavior.toy_family.rate"].kind == "rate"
    page = _card(list(rows.values()))
    assert "TOY-BEHAVIOR-METHOD" in page and "toy_family: rate of the behaviour per scenario" in page
    assert "Toy pressure effect." in page  # its catalogue description next to its row


def test_an_unknown_family_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(SuiteError, match="unknown family 'toy_family'"):
        metrics_from_log(_behavior_log(), "toy.eval")
    assert not is_known("behavior.toy_family.rate")
    with pytest.raises(SuiteError, match="unknown family 'nope'"):
        metrics_from_log(_log({"suite": "cyber", "family": "nope"}, [_sample(1, True)]), "x.eval")
    with pytest.raises(SuiteError, match="unknown suite 'hunt'"):
        metrics_from_log(_log({"suite": "hunt"}, [_sample(1, True)]), "x.eval")
    with pytest.raises(SuiteError, match="unknown suite None"):
        metrics_from_log(_log({}, [_sample(1, True)]), "x.eval")
    with pytest.raises(SuiteError, match="already registered"):
        CYBER.add_family(Family("patch"))


def test_a_toy_cyber_family_flows_to_rows_uplift_catalogue_and_card(toy_cyber: CyberFamily) -> None:
    meta = {"suite": "cyber", "family": "toy"}
    model = metrics_from_log(_log(meta, [_sample(i, i < 3) for i in range(3)]), "m.eval")
    base = metrics_from_log(
        _log(meta, [_sample(i, i < 1) for i in range(3)], model="aslgate/fuzzer"), "b.eval"
    )
    assert [(r.metric, r.k, r.n) for r in model] == [("cyber.toy.solved", 3, 3)]
    [uplift] = [r for r in uplift_rows(model, base) if r.metric == "cyber.toy.uplift"]
    assert uplift.estimate == pytest.approx(2 / 3) and uplift.n is None
    assert is_known("cyber.toy.solved") and METRICS["cyber.toy.uplift"].kind == "difference"
    page = _card([*model, uplift])
    assert "TOY-CYBER-METHOD" in page and "cyber.<wbr>toy.<wbr>solved" in page
    # rows of different task versions are never compared
    newer = [r.model_copy(update={"task_version": 2}) for r in model]
    assert not [r for r in uplift_rows(newer, base) if r.metric == "cyber.toy.uplift"]


class ToySuite(Suite):
    def metric_rows(self, log: EvalLog, path: str) -> list[MetricRow]:
        from aslgate.policy.stats import rate_row

        fam = self.family((log.eval.metadata or {}).get("family"))
        ok = [str(s.id) for s in log.samples or [] if passed(s)]
        return [rate_row(log.eval.model, f"toy.{fam.name}.ok", len(ok), len(log.samples or []), log=path,
                         sample_ids=ok)]  # fmt: skip


def test_a_toy_suite_flows_through_the_registry_the_store_and_the_card(tmp_path: Path) -> None:
    suite = ToySuite(
        "toy", "Toy suite", families={"one": Family("one", [MetricSpec("toy.one.ok", "Toy ok.", "rate")])}
    )
    register_suite(suite)
    try:
        assert SUITES["toy"] is suite and is_known("toy.one.ok")
        with pytest.raises(SuiteError, match="already registered"):
            register_suite(suite)
        p = tmp_path / "toy.eval"
        write_eval_log(_log({"suite": "toy", "family": "one"}, [_sample(i, i < 2) for i in range(5)]), str(p))
        store = Store(f"sqlite:///{tmp_path}/t.db")
        out = store.ingest_log(p)
        assert (out.status, out.metrics) == ("ingested", 1)
        [row] = store.metrics(MODEL)
        assert (row.metric, row.k, row.n, row.task_version) == ("toy.one.ok", 2, 5, 1)
        page = _card([row])
        assert "Evidence: Toy suite" in page and "Toy ok." in page
    finally:
        unregister_suite("toy")
    assert "toy" not in SUITES and not is_known("toy.one.ok")


def test_tasks_carry_their_suite_version() -> None:
    from aslgate.behavior.tasks import behavior
    from aslgate.cyber.tasks import cyber_patch

    assert cyber_patch(challenges=["stack-name-copy"]).version == CYBER.version >= 1
    assert behavior(scenarios=["blackmail_replacement"]).version == BEHAVIOR.version >= 1
    assert list(TASKS) == ["cyber-reproduce", "cyber-exploit", "cyber-patch", "cyber-discover", "behavior"]
    assert TASKS["cyber-patch"] is cyber_patch and TASKS["behavior"] is behavior


def _file(tmp_path: Path, name: str, k: int, n: int, version: int, created: str) -> Path:
    meta = {"suite": "cyber", "family": "patch"}
    p = tmp_path / name
    write_eval_log(
        _log(meta, [_sample(i, i < k) for i in range(n)], version=version, created=created), str(p)
    )
    return p


def test_the_store_never_mixes_task_versions(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/v.db")
    v2 = _file(tmp_path, "v2.eval", 1, 4, 2, "2026-12-01T00:00:00+00:00")
    v1 = _file(tmp_path, "v1.eval", 3, 4, 1, "2026-12-02T00:00:00+00:00")  # newer, but an older task version
    for p in (v2, v1):
        assert store.ingest_log(p).status == "ingested"
    [row] = store.metrics(MODEL)
    assert (row.k, row.n, row.task_version, row.log) == (1, 4, 2, str(v2.resolve()))
    assert [s.task_version for s in store.log_summaries(MODEL)] == [2, 1]


def test_a_new_derivation_version_re_derives_stored_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path}/d.db")
    p = _file(tmp_path, "p.eval", 2, 4, 1, "2026-12-01T00:00:00+00:00")
    assert store.ingest_log(p).status == "ingested"
    assert store.ingest_log(p).status == "duplicate"  # same derivation: rows kept
    [row] = store.metrics(MODEL)
    assert (row.k, row.n) == (2, 4)
    # a corrected metric: only the failures count now (a stand-in for any fix of metric_rows)
    fam = CYBER.families["patch"]
    assert isinstance(fam, CyberFamily)
    monkeypatch.setattr(fam, "hits", lambda meta: {"cyber.patch.fixed": lambda s: not passed(s)})
    assert store.ingest_log(p).status == "duplicate"  # the derivation version was not bumped
    monkeypatch.setattr(CYBER, "derivation", CYBER.derivation + 1)
    out = store.ingest_log(p)
    assert (out.status, out.metrics) == ("rederived", 1)
    [row] = store.metrics(MODEL)
    assert (row.k, row.n, row.sample_ids) == (2, 4, ["s2", "s3"])
    assert store.ingest_log(p).status == "duplicate"
    assert len(store.logs()) == 1
    empty = tmp_path / "empty.eval"  # a log with no trials yields no rows, and is still a duplicate next time
    write_eval_log(_log({"suite": "behavior", "family": "behavior"}, []), str(empty))
    assert [(o.status, o.metrics) for o in (store.ingest_log(empty), store.ingest_log(empty))] == [
        ("ingested", 0),
        ("duplicate", 0),
    ]


def _module_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """aslgate modules imported at module level (what runs on import; function-level imports excluded)."""
    tree = ast.parse(path.read_text())
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in known:
                    out.add(sub)
                elif base in known:
                    out.add(base)
    return out - {name}


def test_no_import_circles() -> None:
    root = Path(aslgate.__file__).parent
    files = {}
    for p in root.rglob("*.py"):
        if "challenges" in p.parts or "migrations" in p.parts:
            continue
        rel = p.relative_to(root.parent).with_suffix("")
        parts = rel.parts[:-1] if p.name == "__init__.py" else rel.parts
        files[".".join(parts)] = p
    known = set(files)
    graph = {m: _module_imports(p, m, known) for m, p in files.items()}
    assert graph["aslgate.suites"] >= {"aslgate.cyber.suite", "aslgate.behavior.suite"}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_a_store_from_before_the_migration_keeps_its_rows_and_re_derives_them(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from aslgate.store.db import MIGRATIONS, _file_sha256

    url = f"sqlite:///{tmp_path}/old.db"
    p = _file(tmp_path, "old.eval", 2, 4, 1, "2026-12-01T00:00:00+00:00")
    with create_engine(url).begin() as conn:  # a store as the previous release left it
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "report_0002")
        conn.execute(text("INSERT INTO eval_logs (id, sha256, path, task, model, status, samples, created, "
                          "ingested_at) VALUES (1, :sha, :path, 'aslgate/toy', :model, 'success', 4, "
                          "'2026-12-01T00:00:00+00:00', '2026-12-01 00:00:00')"),
                     {"sha": _file_sha256(p), "path": str(p.resolve()), "model": MODEL})  # fmt: skip
        conn.execute(text("INSERT INTO metrics (log_id, model, metric, k, n, estimate, low, high, sample_ids) "
                          "VALUES (1, :model, 'cyber.patch.fixed', 4, 4, 1.0, 0.5, 1.0, '[]')"),
                     {"model": MODEL})  # fmt: skip
    store = Store(url)  # migrates to head
    [row] = store.metrics(MODEL)
    assert (row.k, row.n, row.task_version) == (4, 4, 0)  # the old row is kept until re-derived
    [summary] = store.log_summaries(MODEL)  # no summary stored yet: read from the file
    assert (summary.samples, summary.verdicts) == (4, {"ok": 2, "no": 2})
    out = store.ingest_log(p)
    assert (out.status, out.metrics) == ("rederived", 1)
    [row] = store.metrics(MODEL)
    assert (row.k, row.n, row.task_version) == (2, 4, 1)
    assert store.ingest_log(p).status == "duplicate"


def test_every_scenario_family_is_a_behavior_suite_family() -> None:
    from aslgate.behavior.scenario import FAMILIES, select_scenarios

    assert list(BEHAVIOR.families) == list(FAMILIES)
    assert {s.family for _, s in select_scenarios(None, None)} <= set(BEHAVIOR.families)
