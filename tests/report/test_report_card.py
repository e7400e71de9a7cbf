"""System card v2: page 1 of the PDF (rendered with poppler) carries the executive summary, the decision per
framework (name and version from the determination) and the offline-agent banner; every plot is a real,
non-blank image; the HTML loads nothing from the network; fuzzer stats, the lag, costs, published rows,
evidence completeness and the appendix are on the card."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalSample, EvalSpec
from inspect_ai.model import ChatMessageTool, ChatMessageUser
from inspect_ai.scorer import Score
from PIL import Image

from aslgate.metrics import MetricRow
from aslgate.policy.engine import determine_all
from aslgate.policy.framework import load_frameworks
from aslgate.policy.stats import rate_row
from aslgate.report.card import (
    CardData,
    LagEntry,
    LogSummary,
    fuzzer_runs,
    offline_banner,
    render_html,
    render_system_card,
)

needs_poppler = pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils not installed")
LOG = "/data/logs/2026-11-23T22-33-53-00-00_cyber-reproduce_WWKuihsZEJtPwBw6hBjGbk.eval"
FUZZ_OUT = """INFO: Running with entropic power schedule (0xFF, 100).
#2048\tpulse  cov: 40 ft: 50 corp: 6/40b lim: 4096 exec/s: 1024 rss: 40Mb
==12==ERROR: AddressSanitizer: stack-buffer-overflow on address 0x7ffd
SUMMARY: AddressSanitizer: stack-buffer-overflow
stat::number_of_executed_units: 53211
stat::average_exec_per_sec:     26605
ASLGATE_ELAPSED 2.02
"""


def _rows(model: str) -> list[MetricRow]:
    return [
        rate_row(
            model, "cyber.reproduce.l1.success", 24, 24, log=LOG, sample_ids=[f"c{i}@l1" for i in range(24)]
        ),
        rate_row(model, "cyber.exploit.t5", 9, 9, log=LOG, sample_ids=[f"x{i}@exploit" for i in range(9)]),
    ]


def _card(model: str = "aslgate/reference", frameworks: list[str] | None = None, **extra) -> CardData:
    rows = _rows(model)
    det = determine_all(load_frameworks(frameworks or ["rsp", "preparedness", "fsf"]), rows, model)
    logs = [LogSummary(task="aslgate/cyber_reproduce", path=LOG, model=model, status="success", samples=24,
                       accuracy=1.0, verdicts={"reproduced": 24}, level=1)]  # fmt: skip
    base = [rate_row("aslgate/fuzzer", "cyber.reproduce.l1.success", 14, 24, log=LOG)]
    lag = [
        LagEntry(model="closed-a", date=date(2025, 1, 1), open=False, benchmark="CyberGym-L1", score=0.2),
        LagEntry(model="open-b", date=date(2025, 8, 1), open=True, benchmark="CyberGym-L1", score=0.25),
        LagEntry(model="closed-c", date=date(2025, 9, 1), open=False, benchmark="CyberGym-L1", score=0.6),
    ]
    published = MetricRow(model="Frontier X", metric="cyber.reproduce.l1.success", k=1252, n=1507, estimate=0.831,
                          low=0.81, high=0.85, published=True, source_url="https://example.org/system-card")  # fmt: skip
    fields = dict(model=model, generated_at="2026-12-01T00:00:00+00:00", aslgate_version="0.1.0",
                  run={"suites": ["cyber"]}, determination=det, metrics=rows, logs=logs, baseline="aslgate/fuzzer",
                  baseline_metrics=base, others=[published], lag=lag, lag_source="published results in the store")  # fmt: skip
    fields.update(extra)
    return CardData(**fields)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[CardData, dict[str, Path], str]:
    card = _card()
    files = render_system_card(card, tmp_path_factory.mktemp("card"))
    return card, files, files["html"].read_text()


def _pdftext(pdf: Path, first: int, last: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(first), "-l", str(last), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


@needs_poppler
def test_page_one_has_the_summary_decisions_and_the_banner(rendered, tmp_path: Path) -> None:
    card, files, _ = rendered
    page1 = _pdftext(files["pdf"], 1, 1)
    assert "Executive summary" in page1 and "OFFLINE ORACLE, NOT A MODEL" in page1
    assert "replays the known solutions" in page1
    for f in card.determination.frameworks:
        assert f.name.split()[0] in page1 and f"version {f.version.split()[0]}" in page1
        assert f.required_level.split("-")[0] in page1
    assert "Who may access the model" in page1 and "Evidence completeness" in page1
    assert "cyber.reproduce.l1.success" in page1  # what drove the decision
    assert "Thresholds" not in page1  # the decision tables start on page 2
    # every page renders to a non-empty PNG
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(files["pdf"]), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    info = subprocess.run(["pdfinfo", str(files["pdf"])], capture_output=True, text=True).stdout
    assert len(pages) == int(re.search(r"Pages:\s+(\d+)", info)[1]) > 3
    first = Image.open(pages[0]).convert("L")
    assert first.getextrema()[0] < 100  # ink on the page, not a blank render


def test_every_plot_is_a_non_empty_image(rendered) -> None:
    _, _, page = rendered
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', page)
    alts = [a for _, a in uris]
    assert any(a.startswith("cyber: headline metrics") for a in alts)  # against the fuzzer baseline
    assert any("open-vs-closed" in a for a in alts)  # the lag plot
    for data, alt in uris:
        img = Image.open(io.BytesIO(base64.b64decode(data))).convert("L")
        lo, hi = img.getextrema()
        assert img.size[0] > 200 and img.size[1] > 100 and hi - lo > 100, alt  # drawn, not blank


def test_html_is_self_contained(rendered) -> None:
    _, _, page = rendered
    assert not re.search(r"<(script|link|iframe)\b", page, re.I)
    assert not re.search(r'\bsrc="(?!data:)', page)  # every image is inline
    assert not re.search(r"url\((?!\"?data:)", page)  # fonts too
    if Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():
        assert page.count("@font-face") >= 2 and "data:font/woff;base64," in page


def test_lag_cost_fuzzer_published_and_appendix_sections(rendered) -> None:
    _, _, page = rendered
    lag = page[page.index('id="lag"') : page.index('id="cost"')]
    assert "Median lag over 1 matched steps" in lag and "CyberGym-L1" in lag
    cost = page[page.index('id="cost"') : page.index('id="method"')]
    assert "8T-parameter MoE" in cost and "dense 70B" in cost and "× H100" in cost
    appendix = page[page.index('id="appendix"') :]
    assert "c23@l1" in appendix and "x8@exploit" in appendix
    assert 'id="limitations"' in page


def test_published_rows_are_marked_on_the_card() -> None:
    rows = [MetricRow(model="Frontier X", metric="cyber.reproduce.l1.success", k=1252, n=1507, estimate=0.831,
                      low=0.81, high=0.85, published=True, source_url="https://example.org/system-card")]  # fmt: skip
    det = determine_all(load_frameworks(["preparedness"]), rows, "Frontier X")
    card = _card("Frontier X", ["preparedness"]).model_copy(
        update={"determination": det, "metrics": rows, "logs": []}
    )
    page = render_html(card, fonts=False)
    summary = page[page.index('id="determination"') : page.index('id="fw-')]
    assert "1 of 1 metric rows are published results" in summary and "(published)" in summary
    assert 'id="offline-banner"' not in page
    assert '<a href="https://example.org/system-card">' in page


def test_framework_name_and_version_come_from_the_determination() -> None:
    card = _card()
    det = card.determination
    det.frameworks[0].name, det.frameworks[0].version = "Made-up Policy", "9.9-test"
    page = render_html(card.model_copy(update={"determination": det}), fonts=False)
    summary = page[page.index('id="determination"') : page.index('id="fw-')]
    assert "Made-up Policy" in summary and "version 9.9-test" in summary


def test_incomplete_evidence_is_shown_in_its_box() -> None:
    card = _card()
    bad = card.logs[0].model_copy(update={"verdicts": {"reproduced": 20, "error": 3, "unscored": 1}})
    page = render_html(card.model_copy(update={"logs": [bad]}), fonts=False)
    box = page[page.index('id="evidence-completeness"') :][:600]
    assert "incomplete" in box and "3 errored, 1 unscored of 24" in box


@pytest.mark.parametrize("model,title", [("aslgate/reference", "oracle"), ("aslgate/null", "never solves"),
                                         ("aslgate/fuzzer", "baseline"), ("openai/gpt-x", None)])  # fmt: skip
def test_offline_banner(model: str, title: str | None) -> None:
    b = offline_banner(model)
    assert (b is None) if title is None else (title in b["title"].lower())


def test_fuzzer_stats_come_from_the_baseline_transcript() -> None:
    spec = EvalSpec(created="2026-12-01T00:00:00+00:00", task="aslgate/cyber_reproduce",
                    dataset=EvalDataset(name="d"), model="aslgate/fuzzer", config=EvalConfig())  # fmt: skip
    smp = EvalSample(id="stack-name-copy@l1", epoch=1, input="x", target="reproduced",
                     metadata={"challenge": "stack-name-copy"},
                     messages=[ChatMessageUser(content="go"), ChatMessageTool(content=FUZZ_OUT, tool_call_id="1")],
                     scores={"poc_verified": Score(value="C", answer="reproduced")})  # fmt: skip
    quiet = smp.model_copy(update={"id": "x@l1", "messages": [ChatMessageUser(content="go")]})
    [run] = fuzzer_runs(EvalLog(eval=spec, status="success", samples=[smp, quiet]))
    assert (run.challenge, run.executions, run.exec_per_s, run.crashed) == (
        "stack-name-copy",
        53211,
        26605,
        True,
    )
    assert run.seconds == pytest.approx(2.02) and run.verdict == "reproduced"
    page = render_html(_card(fuzzer=[run]), fonts=False)
    table = page[page.index("The fuzzer baseline per challenge") :][:3000]
    assert "stack-name-copy" in table and "26,605" in table and "2.02 s" in table and "53,211" in table


def test_lag_comes_from_the_store_else_the_shipped_cyber_results(tmp_path: Path) -> None:
    from aslgate.report.card import SHIPPED_PUBLISHED, lag_entries
    from aslgate.store.db import Store

    store = Store(f"sqlite:///{tmp_path}/s.db")
    entries, source = lag_entries(store)
    assert SHIPPED_PUBLISHED.is_file() and source and "data/published/cyber.csv" in source
    assert any(e.open for e in entries) and any(not e.open for e in entries)
    p = tmp_path / "p.csv"
    p.write_text("model,developer,open_weights,release_date,benchmark,score,n,source_url\n"
                 "A,L,open,2025-01-01,B,0.5,,https://x.org\nC,L,closed,2024-01-01,B,0.4,,https://x.org\n")  # fmt: skip
    store.ingest_published(p)
    entries, source = lag_entries(store)
    assert [e.model for e in entries] == ["A", "C"] and source == "published results in the store"
