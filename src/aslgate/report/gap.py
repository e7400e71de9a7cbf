"""Open-vs-closed lag: how long after a closed model sets a new best score an open-weights model matches it.

Pure functions on typed data: `read_gap_csv` turns a long or wide CSV into `Entry` rows (every problem is
a one-line `GapError` naming the file, row and column), `analyse` computes the closed frontier (running
maximum), the first open match of each frontier step and the lag distribution with seeded bootstrap
intervals, and `gap_plot` draws both frontiers with the lags.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aslgate.errors import UserError

DAYS_PER_MONTH = 30.44
MAX_CSV_BYTES = 50 * 1024 * 1024
DEFAULT_BOOTSTRAP = 2000
DEFAULT_SEED = 0
_EPS = 1e-9  # an open score within this of the closed step counts as a tie (a match)

# Column names recognised without --columns (compared case-insensitively, spaces and _ ignored).
ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("model", "system", "name", "modelname"),
    "date": ("date", "releasedate", "release", "published", "publicationdate"),
    "open": ("open", "open/closed", "openclosed", "openweights", "accessibility", "weights"),
    "score": ("score", "value", "result"),
    "benchmark": ("benchmark", "task", "eval", "capability"),
}
# Numeric columns of a wide CSV that are not benchmark scores (Epoch's file has several).
_NOT_A_SCORE = re.compile(r"param|size|compute|flop|trust|notes?\b|\bci\b|date|token|cost|price|\bn\b", re.I)
_OPEN = {"open", "yes", "true", "y", "1", "open-weights", "open weights"}
_CLOSED = {"closed", "no", "false", "n", "0", "api", "proprietary"}


class GapError(UserError, ValueError):
    """Unusable gap input (missing column, bad date or score, a benchmark without open or closed models)."""


@dataclass(frozen=True)
class Entry:
    """One model's score on one benchmark."""

    model: str
    date: date
    open: bool
    benchmark: str
    score: float


@dataclass
class Step:
    """One step of the closed frontier and the first open model that matched it (if any)."""

    closed_model: str
    closed_date: date
    score: float
    open_model: str | None = None
    open_date: date | None = None
    open_score: float | None = None
    lag_months: float = 0.0  # open_date - closed_date; for an unmatched step, last date - closed_date
    censored: bool = False  # not yet matched: the lag is at least lag_months
    tie: bool = False  # the open score equals the step's score
    open_led: bool = False  # an open model had this score before the closed model


@dataclass
class LagStats:
    """Lag distribution over the matched steps, with seeded bootstrap 95% intervals."""

    n: int
    censored: int
    median: float | None
    median_ci: tuple[float, float] | None
    mean: float | None
    mean_ci: tuple[float, float] | None
    # the same with unmatched steps entered at their censoring time (a lower bound on the true lag)
    median_with_censored: float | None = None
    lags: list[float] = field(default_factory=list)


@dataclass
class BenchmarkGap:
    """Frontiers and lags on one benchmark."""

    benchmark: str
    n_open: int
    n_closed: int
    last_date: date
    steps: list[Step]
    stats: LagStats
    open_frontier: list[tuple[date, float, str]]  # running maximum of open models
    closed_frontier: list[tuple[date, float, str]]


@dataclass
class GapReport:
    """The analysis of a whole file."""

    source: str
    benchmarks: list[BenchmarkGap]
    overall: LagStats
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    unmeasurable: dict[str, str] = field(default_factory=dict)  # benchmark -> why no lag (whole-file runs)
    seed: int = DEFAULT_SEED
    bootstrap: int = DEFAULT_BOOTSTRAP

    def to_json(self) -> dict[str, Any]:
        def conv(x: Any) -> Any:
            if isinstance(x, date):
                return x.isoformat()
            if isinstance(x, float):
                return round(x, 4)
            if isinstance(x, dict):
                return {k: conv(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [conv(v) for v in x]
            return x

        return conv(asdict(self))


# ------------------------------------------------------------------------------------------ reading


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lower())


def parse_columns(spec: str | None) -> dict[str, str]:
    """`model=System,date=Date` -> {"model": "System", "date": "Date"}."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise GapError(f"--columns: expected ROLE=COLUMN, got {part.strip()!r}")
        role, col = (x.strip() for x in part.split("=", 1))
        if role not in ALIASES:
            raise GapError(f"--columns: unknown role {role!r}; roles are {', '.join(ALIASES)}")
        if not col:
            raise GapError(f"--columns: {role}= needs a column name")
        out[role] = col
    return out


def parse_open(value: str) -> bool | None:
    """Open/Closed, yes/no, true/false in any case -> True/False; anything else -> None."""
    v = value.strip().lower()
    return True if v in _OPEN else False if v in _CLOSED else None


def parse_date(value: str) -> date | None:
    """An ISO date (YYYY-MM-DD, or YYYY-MM taken as the 1st); None if unparsable."""
    v = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}", v):
            return date.fromisoformat(v + "-01")
        return date.fromisoformat(v[:10]) if re.match(r"\d{4}-\d{2}-\d{2}", v) else None
    except ValueError:
        return None


def parse_score(value: str) -> float | None:
    """A finite number, percentages and thousands separators allowed; None if unparsable."""
    v = value.strip().replace(",", "")
    scale = 1.0
    if v.endswith("%"):
        v, scale = v[:-1], 0.01
    try:
        x = float(v) * scale
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _find(header: list[str], role: str, columns: dict[str, str], path: str) -> str | None:
    if role in columns:
        wanted = columns[role]
        for h in header:
            if h == wanted or _norm(h) == _norm(wanted):
                return h
        raise GapError(f"{path}: no column {wanted!r} (given for {role}=); columns are {', '.join(header)}")
    for h in header:
        if _norm(h) in ALIASES[role]:
            return h
    return None


def read_gap_csv(
    path: Path | str,
    *,
    columns: dict[str, str] | None = None,
    benchmarks: Sequence[str] | None = None,
    text: str | None = None,
) -> tuple[list[Entry], dict[str, int]]:
    """Entries of a long CSV (benchmark + score columns) or a wide one (a score column per benchmark).

    Rows with a blank model, date or open/closed cell are left out and counted (returned as `skipped`);
    a cell that is present but unparsable is an error naming the row and column.
    """
    p = str(path)
    columns = columns or {}
    if text is None:
        fp = Path(path)
        if not fp.is_file():
            raise GapError(f"{p}: no such file")
        if fp.stat().st_size > MAX_CSV_BYTES:
            raise GapError(f"{p}: larger than {MAX_CSV_BYTES} bytes")
        try:
            text = fp.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise GapError(f"{p}: cannot read ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h for h in (reader.fieldnames or []) if h is not None]
    if not header:
        raise GapError(f"{p}: empty file, no header row")
    found = {role: _find(header, role, columns, p) for role in ALIASES}
    for role in ("model", "date", "open"):
        if found[role] is None:
            raise GapError(
                f"{p}: missing the {role} column (looked for {', '.join(ALIASES[role])}; "
                f"name it with --columns {role}=COLUMN)"
            )
    long = found["benchmark"] is not None
    if long and found["score"] is None:
        raise GapError(f"{p}: has a benchmark column but no score column (use --columns score=COLUMN)")
    if long:
        score_cols: list[str] = [found["score"]]  # type: ignore[list-item]
    elif found["score"] is not None and not benchmarks:  # one score column, one benchmark: the file's
        score_cols = [found["score"]]  # type: ignore[list-item]
    else:
        used = {c for c in found.values() if c}
        if benchmarks:
            score_cols = []
            for b in benchmarks:
                col = next((h for h in header if h == b or _norm(h) == _norm(b)), None)
                if col is None:
                    raise GapError(f"{p}: no benchmark column {b!r}; columns are {', '.join(header)}")
                score_cols.append(col)
        else:
            score_cols = [h for h in header if h not in used and not _NOT_A_SCORE.search(h)]
    rows = list(reader)
    if (
        not long and not benchmarks and found["score"] is None
    ):  # keep only columns whose non-empty cells are all numbers
        score_cols = [
            c
            for c in score_cols
            if any((r.get(c) or "").strip() for r in rows)
            and all(parse_score(r[c]) is not None for r in rows if (r.get(c) or "").strip())
        ]
        if not score_cols:
            raise GapError(f"{p}: no score column found (give --columns score=COLUMN or --benchmark NAME)")
    entries: list[Entry] = []
    skipped: dict[str, int] = {}
    wanted = {_norm(b) for b in benchmarks or []}
    for i, r in enumerate(rows, start=2):  # row 1 is the header
        model = (r.get(found["model"]) or "").strip()  # type: ignore[arg-type]
        raw_date = (r.get(found["date"]) or "").strip()  # type: ignore[arg-type]
        raw_open = (r.get(found["open"]) or "").strip()  # type: ignore[arg-type]
        blank = [role for role, v in (("model", model), ("date", raw_date), ("open", raw_open)) if not v]
        if blank:
            key = f"blank {blank[0]}"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        d = parse_date(raw_date)
        if d is None:
            raise GapError(
                f"{p}: row {i}, column {found['date']!r}: {raw_date!r} is not an ISO date (YYYY-MM-DD)"
            )
        is_open = parse_open(raw_open)
        if is_open is None:
            raise GapError(
                f"{p}: row {i}, column {found['open']!r}: {raw_open!r} is not open/closed, yes/no or true/false"
            )
        for col in score_cols:
            raw = (r.get(col) or "").strip()
            if long:
                bench = (r.get(found["benchmark"]) or "").strip()  # type: ignore[arg-type]
                if not bench:
                    raise GapError(f"{p}: row {i}, column {found['benchmark']!r}: blank benchmark")
                if wanted and _norm(bench) not in wanted:
                    continue
            else:
                bench = col
            if not raw:
                if long:
                    raise GapError(f"{p}: row {i}, column {col!r}: blank score")
                continue
            s = parse_score(raw)
            if s is None:
                raise GapError(f"{p}: row {i}, column {col!r}: {raw!r} is not a number")
            entries.append(Entry(model=model, date=d, open=is_open, benchmark=bench, score=s))
    if wanted and long:
        have = {_norm(e.benchmark) for e in entries}
        missing = [b for b in benchmarks or [] if _norm(b) not in have]
        if missing:
            raise GapError(f"{p}: no rows for benchmark {missing[0]!r}")
    if not entries:
        raise GapError(f"{p}: no scored rows")
    return entries, skipped


# ----------------------------------------------------------------------------------------- analysis


def months(a: date, b: date) -> float:
    """b - a in months of 30.44 days."""
    return (b - a).days / DAYS_PER_MONTH


def frontier(entries: Iterable[Entry]) -> list[tuple[date, float, str]]:
    """Running maximum over time: each (date, score, model) that beats every earlier score."""
    best = -math.inf
    out = []
    for e in sorted(entries, key=lambda e: (e.date, -e.score, e.model)):
        if e.score > best + _EPS:
            best = e.score
            out.append((e.date, e.score, e.model))
    return out


def bootstrap_ci(
    values: Sequence[float], stat: str, *, reps: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED
) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of the median or mean (resampling values, seeded)."""
    if not values:
        return None
    if len(values) == 1:
        return (values[0], values[0])
    rng = random.Random(seed)
    f = statistics.median if stat == "median" else statistics.fmean
    n = len(values)
    draws = sorted(f(rng.choices(values, k=n)) for _ in range(reps))
    return draws[int(0.025 * (reps - 1))], draws[math.ceil(0.975 * (reps - 1))]


def lag_stats(steps: Sequence[Step], *, reps: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED) -> LagStats:
    """Median and mean of the matched lags with bootstrap intervals; unmatched steps counted apart."""
    lags = [s.lag_months for s in steps if not s.censored]
    all_lags = [s.lag_months for s in steps]
    return LagStats(
        n=len(lags),
        censored=sum(s.censored for s in steps),
        median=statistics.median(lags) if lags else None,
        median_ci=bootstrap_ci(lags, "median", reps=reps, seed=seed),
        mean=statistics.fmean(lags) if lags else None,
        mean_ci=bootstrap_ci(lags, "mean", reps=reps, seed=seed),
        median_with_censored=statistics.median(all_lags) if all_lags else None,
        lags=lags,
    )


def benchmark_gap(
    benchmark: str, entries: Sequence[Entry], *, reps: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED,
    source: str = "input",
) -> BenchmarkGap:  # fmt: skip
    """Closed frontier steps of one benchmark and, for each, the first open model scoring at least as much.

    An unmatched step is right-censored at the benchmark's last date (the newest score in the data)."""
    opened = [e for e in entries if e.open]
    closed = [e for e in entries if not e.open]
    if not opened or not closed:
        which = "open-weights" if not opened else "closed"
        raise GapError(f"{source}: benchmark {benchmark!r} has no {which} model, so no lag can be measured")
    last = max(e.date for e in entries)
    opened_sorted = sorted(opened, key=lambda e: (e.date, -e.score, e.model))
    steps = []
    for d, s, m in frontier(closed):
        match = next((o for o in opened_sorted if o.score >= s - _EPS), None)
        if match is None:
            steps.append(Step(m, d, s, lag_months=months(d, last), censored=True))
            continue
        steps.append(
            Step(
                m, d, s,
                open_model=match.model, open_date=match.date, open_score=match.score,
                lag_months=months(d, match.date), tie=abs(match.score - s) <= _EPS, open_led=match.date < d,
            )
        )  # fmt: skip
    return BenchmarkGap(
        benchmark=benchmark,
        n_open=len(opened),
        n_closed=len(closed),
        last_date=last,
        steps=steps,
        stats=lag_stats(steps, reps=reps, seed=seed),
        open_frontier=frontier(opened),
        closed_frontier=frontier(closed),
    )


def analyse(
    entries: Sequence[Entry],
    *,
    source: str = "input",
    skipped: dict[str, int] | None = None,
    reps: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    strict: bool | None = None,
) -> GapReport:
    """Per-benchmark lags and the pooled distribution over every matched frontier step.

    A benchmark without open or without closed models is an error when it was asked for (`strict`, the
    default with a single benchmark); in a whole-file run it is listed in `unmeasurable` instead."""
    if reps < 100 or reps > 100_000:
        raise GapError(f"--bootstrap {reps}: choose between 100 and 100000 resamples")
    by_bench: dict[str, list[Entry]] = {}
    for e in entries:
        by_bench.setdefault(e.benchmark, []).append(e)
    strict = len(by_bench) == 1 if strict is None else strict
    gaps, unmeasurable = [], {}
    for b, es in sorted(by_bench.items()):
        try:
            gaps.append(benchmark_gap(b, es, reps=reps, seed=seed, source=source))
        except GapError as e:
            if strict:
                raise
            unmeasurable[b] = "no open-weights model" if not any(x.open for x in es) else "no closed model"
    if not gaps:
        raise GapError(
            f"{source}: no benchmark has both open-weights and closed models, so no lag can be measured"
        )
    steps = [s for g in gaps for s in g.steps]
    return GapReport(
        source=source,
        benchmarks=gaps,
        overall=lag_stats(steps, reps=reps, seed=seed),
        skipped=dict(skipped or {}),
        unmeasurable=unmeasurable,
        seed=seed,
        bootstrap=reps,
    )


def gap_file(
    path: Path | str,
    *,
    columns: str | None = None,
    benchmarks: Sequence[str] | None = None,
    reps: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
) -> GapReport:
    """Read a CSV and analyse it (what `aslgate gap` calls)."""
    entries, skipped = read_gap_csv(path, columns=parse_columns(columns), benchmarks=benchmarks)
    return analyse(
        entries, source=str(path), skipped=skipped, reps=reps, seed=seed, strict=bool(benchmarks) or None
    )


# --------------------------------------------------------------------------------------------- text


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "—"


def fmt_months(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def summary_rows(report: GapReport) -> list[list[str]]:
    """One row per benchmark and one for all: steps, matched, not yet matched, median, mean with CIs."""
    rows = []
    for g in report.benchmarks:
        s = g.stats
        rows.append([g.benchmark, str(g.n_closed), str(g.n_open), str(len(g.steps)), str(s.n), str(s.censored),
                     fmt_months(s.median), fmt_ci(s.median_ci), fmt_months(s.mean), fmt_ci(s.mean_ci)])  # fmt: skip
    o = report.overall
    rows.append(["all", str(sum(g.n_closed for g in report.benchmarks)), str(sum(g.n_open for g in report.benchmarks)),
                 str(sum(len(g.steps) for g in report.benchmarks)), str(o.n), str(o.censored), fmt_months(o.median),
                 fmt_ci(o.median_ci), fmt_months(o.mean), fmt_ci(o.mean_ci)])  # fmt: skip
    return rows


SUMMARY_HEADER = ["benchmark", "closed", "open", "steps", "matched", "not yet", "median mo", "95% CI",
                  "mean mo", "95% CI"]  # fmt: skip


# --------------------------------------------------------------------------------------------- plot


def gap_figure(report: GapReport, max_panels: int = 12) -> Any:
    """A grid of step plots: the closed and open frontiers of each benchmark, each lag as an arrow."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    from aslgate.report.plots import ACCENT, CUTOFF, INK, MUTED

    gaps = report.benchmarks[:max_panels]
    cols = min(3, len(gaps))
    rows = math.ceil(len(gaps) / cols)
    fig = Figure(figsize=(4.2 * cols, 2.9 * rows), dpi=130)
    FigureCanvasAgg(fig)
    for i, g in enumerate(gaps):
        ax = fig.add_subplot(rows, cols, i + 1)
        for fr, colour, label in (
            (g.closed_frontier, ACCENT, "closed frontier"),
            (g.open_frontier, CUTOFF, "open frontier"),
        ):
            xs = [d for d, _, _ in fr] + [g.last_date]
            ys = [s for _, s, _ in fr] + [fr[-1][1]]
            ax.step(xs, ys, where="post", color=colour, linewidth=1.6, label=label)
            ax.plot(xs[:-1], ys[:-1], "o", color=colour, markersize=3)
        for st in g.steps:
            end = st.open_date if st.open_date else g.last_date
            style = "-" if not st.censored else ":"
            ax.annotate("", xy=(end, st.score), xytext=(st.closed_date, st.score),
                        arrowprops={"arrowstyle": "->", "color": MUTED, "linestyle": style, "linewidth": 0.9})  # fmt: skip
        med = g.stats.median
        title = (
            f"{g.benchmark}: median lag {med:.1f} mo" if med is not None else f"{g.benchmark}: no match yet"
        )
        ax.set_title(title, fontsize=8.5, color=INK, loc="left")
        ax.tick_params(labelsize=7, colors=INK)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if i == 0:
            ax.legend(fontsize=6.5, frameon=False, loc="lower right")
    fig.suptitle("Closed vs open-weights frontier; arrows: lag to the first open match (dotted: not yet)",
                 fontsize=9, color=INK)  # fmt: skip
    fig.tight_layout()
    return fig


def gap_plot_png(report: GapReport) -> bytes:
    """The gap figure as PNG bytes."""
    fig = gap_figure(report)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", facecolor="white")
    finally:
        fig.clear()
    return buf.getvalue()
