"""Published results: numbers from system cards, papers and leaderboards as metric rows with their source.

A published CSV has one row per (model, benchmark): model, developer, open_weights, release_date,
benchmark, score, n (if known) and source_url (where the number is printed); optional columns `metric`
(the aslgate metric the number stands for), `agent` and `note` are kept. A benchmark that measures the
same task as an aslgate metric maps onto it (CyberGym level 1 is our `cyber.reproduce.l1.success`), so
the frameworks read published numbers the way they read measured ones, marked as published.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from aslgate.errors import UserError
from aslgate.metrics import MetricRow
from aslgate.policy.stats import wilson
from aslgate.report.gap import parse_date, parse_open, parse_score

REQUIRED = ("model", "developer", "open_weights", "release_date", "benchmark", "score", "source_url")
OPTIONAL = ("n", "metric", "agent", "note")
MAX_BYTES = 10 * 1024 * 1024
# Benchmarks whose task is the task of an aslgate metric (same inputs, same success criterion).
METRIC_FOR_BENCHMARK = {
    "cybergym-l1": "cyber.reproduce.l1.success",  # description + source -> a PoC that crashes pre- not post-patch
}


class PublishedError(UserError, ValueError):
    """A published-results CSV that cannot be read: one line naming the file, row and column."""


class PublishedResult(BaseModel):
    model: str
    developer: str
    open_weights: bool
    release_date: date
    benchmark: str
    metric: str
    score: float  # a fraction in [0, 1]
    n: int | None = None
    source_url: str
    agent: str | None = None
    note: str | None = None

    def row(self) -> MetricRow:
        """The metric row: k of n with a Wilson interval when n is known, else the point alone."""
        if self.n:
            k = round(self.score * self.n)
            low, high = wilson(k, self.n)
            return MetricRow(model=self.model, metric=self.metric, k=k, n=self.n, estimate=self.score, low=low,
                             high=high, published=True, source_url=self.source_url)  # fmt: skip
        return MetricRow(model=self.model, metric=self.metric, estimate=self.score, low=self.score, high=self.score,
                         published=True, source_url=self.source_url)  # fmt: skip


def metric_for(benchmark: str) -> str:
    """The aslgate metric a benchmark's number stands for, else `published.<benchmark>`."""
    slug = re.sub(r"[^a-z0-9]+", "-", benchmark.lower()).strip("-")
    return METRIC_FOR_BENCHMARK.get(slug, "published." + slug.replace("-", "_"))


def read_published_csv(path: Path | str) -> list[PublishedResult]:
    """Every row of a published-results CSV, checked; the first problem is an error naming row and column."""
    p = Path(path)
    if not p.is_file():
        raise PublishedError(f"{p}: no such file")
    if p.stat().st_size > MAX_BYTES:
        raise PublishedError(f"{p}: larger than {MAX_BYTES} bytes")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise PublishedError(f"{p}: cannot read ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PublishedError(
            f"{p}: missing column {missing[0]!r} (needs {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})"
        )
    out: list[PublishedResult] = []
    seen: dict[tuple[str, str, str], int] = {}
    for i, raw in enumerate(reader, start=2):
        r = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}

        def bad(col: str, why: str, i: int = i, r: dict[str, str] = r) -> PublishedError:
            return PublishedError(f"{p}: row {i}, column {col!r}: {r.get(col)!r} {why}")

        for col in REQUIRED:
            if not r.get(col):
                raise PublishedError(f"{p}: row {i}, column {col!r}: blank")
        is_open = parse_open(r["open_weights"])
        if is_open is None:
            raise bad("open_weights", "is not open/closed, yes/no or true/false")
        d = parse_date(r["release_date"])
        if d is None:
            raise bad("release_date", "is not an ISO date (YYYY-MM-DD)")
        s = parse_score(r["score"])
        if s is None:
            raise bad("score", "is not a number")
        if not 0.0 <= s <= 1.0:
            raise bad("score", "is outside 0-1 (write a fraction, or a percentage with %)")
        n = None
        if r.get("n"):
            if not re.fullmatch(r"\d+", r["n"]) or int(r["n"]) == 0:
                raise bad("n", "is not a positive whole number")
            n = int(r["n"])
        if not re.match(r"https?://\S+$", r["source_url"]):
            raise bad("source_url", "is not an http(s) URL")
        key = (r["model"], r["benchmark"], r["source_url"])
        if key in seen:
            raise PublishedError(f"{p}: row {i} repeats row {seen[key]} (same model, benchmark and source)")
        seen[key] = i
        out.append(
            PublishedResult(
                model=r["model"], developer=r["developer"], open_weights=is_open, release_date=d,
                benchmark=r["benchmark"], metric=r.get("metric") or metric_for(r["benchmark"]), score=s, n=n,
                source_url=r["source_url"], agent=r.get("agent") or None, note=r.get("note") or None,
            )
        )  # fmt: skip
    if not out:
        raise PublishedError(f"{p}: no rows")
    return out
