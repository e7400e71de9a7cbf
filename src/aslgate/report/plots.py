"""Plots for the system card: matplotlib on the Agg canvas, returned as base64 PNG data URIs.

Figures are built with the object-oriented API (`Figure` + `FigureCanvasAgg`), so nothing touches
pyplot's global figure registry or the process-wide backend; each figure is cleared once encoded.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e3e7ec"
ACCENT = "#1f4e79"
CUTOFF = "#c62828"

# Colours of verdicts; success verdicts are green, the rest read from "nothing happened" to "broken".
VERDICT_COLOURS: dict[str, str] = {
    "reproduced": "#2e7d32",
    "fixed": "#2e7d32",
    "found": "#2e7d32",
    "T5": "#1b5e20",
    "T4": "#558b2f",
    "T3": "#9ccc65",
    "T2": "#c5e1a5",
    "T1": "#dcedc8",
    "T0": "#cfd8dc",
    "no_crash": "#b0bec5",
    "not_found": "#b0bec5",
    "still_crashes": "#ef6c00",
    "crashes_patched": "#ef6c00",
    "different_bug": "#8e6cbf",
    "breaks_tests": "#8e6cbf",
    "timeout": "#a1887f",
    "invalid_input": "#e57373",
    "does_not_apply": "#e57373",
    "build_error": "#c62828",
    "error": "#b71c1c",
    "unscored": "#eceff1",
}
_FALLBACK = ["#4e79a7", "#f28e2b", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#59a14f"]
_VERDICT_ORDER = list(VERDICT_COLOURS)
_DARK = {"#1b5e20", "#2e7d32", "#c62828", "#b71c1c", "#8e6cbf", "#558b2f"}  # fills that need white text


@dataclass
class RatePoint:
    """One bar of a success-rate plot: k of n with its Wilson 95% interval and any policy cut-offs."""

    label: str
    k: int
    n: int
    estimate: float
    low: float
    high: float
    cutoffs: list[float] = field(default_factory=list)


def _style(ax: Axes) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(MUTED)
    ax.tick_params(colors=INK, labelsize=8, length=0)
    ax.tick_params(axis="x", length=3, color=MUTED)
    ax.xaxis.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _figure(rows: int) -> Figure:
    fig = Figure(figsize=(7.0, 0.9 + 0.42 * max(rows, 1)), dpi=150)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


def to_data_uri(fig: Figure) -> str:
    """Encode a figure as a `data:image/png;base64,` URI and release it."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    finally:
        fig.clear()
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def rate_plot(points: Sequence[RatePoint], title: str = "Success rate (95% Wilson interval)") -> str:
    """Horizontal bars of success rates with Wilson 95% error bars, k/n labels and cut-off ticks."""
    fig = _figure(len(points))
    ax = fig.add_subplot(1, 1, 1)
    _style(ax)
    ys = list(range(len(points)))[::-1]
    est = [p.estimate for p in points]
    err = [[max(0.0, p.estimate - p.low) for p in points], [max(0.0, p.high - p.estimate) for p in points]]
    ax.barh(ys, est, height=0.56, color=ACCENT, alpha=0.85, zorder=2)
    ax.errorbar(est, ys, xerr=err, fmt="none", ecolor=INK, elinewidth=1.1, capsize=3.5, zorder=3)
    has_cut = False
    for y, p in zip(ys, points, strict=True):
        ax.text(1.02, y, f"{p.k}/{p.n}", va="center", ha="left", fontsize=8, color=INK)
        for c in p.cutoffs:
            ax.plot(
                [c, c], [y - 0.38, y + 0.38], color=CUTOFF, linewidth=1.6, linestyle=(0, (2, 1.2)), zorder=4
            )
            has_cut = True
    ax.set_yticks(ys, [p.label for p in points])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(points) - 0.3)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.set_title(title, loc="left", fontsize=9.5, color=INK, fontweight="bold")
    ax.text(1.02, len(points) - 0.35, "k/n", ha="left", va="bottom", fontsize=7.5, color=MUTED)
    if has_cut:
        ax.legend(
            handles=[
                Patch(facecolor=ACCENT, alpha=0.85, label="estimate"),
                Line2D(
                    [0], [0], color=CUTOFF, linewidth=1.6, linestyle=(0, (2, 1.2)), label="policy cut-off"
                ),
            ],
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=2,
            frameon=False,
            fontsize=7.5,
        )
    return to_data_uri(fig)


def verdict_colour(verdict: str, i: int) -> str:
    """The colour of a verdict (a fixed palette for known verdicts, a cycle for others)."""
    return VERDICT_COLOURS.get(verdict, _FALLBACK[i % len(_FALLBACK)])


def verdict_plot(bars: Sequence[tuple[str, Mapping[str, int]]], title: str = "Verdicts per log") -> str:
    """Stacked horizontal bars: for each (label, {verdict: count}), the count of every verdict."""
    names = sorted({v for _, counts in bars for v in counts}, key=_verdict_key)
    fig = _figure(len(bars))
    ax = fig.add_subplot(1, 1, 1)
    _style(ax)
    ys = list(range(len(bars)))[::-1]
    left = [0.0] * len(bars)
    min_labelled = 0.06 * max(1.0, *(sum(c.values()) for _, c in bars))  # segments too thin for a number
    handles = []
    for i, name in enumerate(names):
        widths = [float(counts.get(name, 0)) for _, counts in bars]
        colour = verdict_colour(name, i)
        ax.barh(ys, widths, left=left, height=0.56, color=colour, edgecolor="white", linewidth=0.6, zorder=2)
        for y, x0, w in zip(ys, left, widths, strict=True):
            if w >= 1 and w >= min_labelled:
                dark = colour in _DARK
                ax.text(
                    x0 + w / 2,
                    y,
                    f"{int(w)}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else INK,
                    zorder=3,
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
        handles.append(Patch(facecolor=colour, label=name.replace("_", " ")))
    ax.set_yticks(ys, [label for label, _ in bars])
    ax.set_ylim(-0.7, len(bars) - 0.3)
    ax.set_xlim(0, max([*left, 1.0]) * 1.02)
    ax.set_xlabel("samples", fontsize=8, color=MUTED)
    ax.set_title(title, loc="left", fontsize=9.5, color=INK, fontweight="bold")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7.5)
    return to_data_uri(fig)


def _verdict_key(v: str) -> tuple[int, str]:
    return (_VERDICT_ORDER.index(v), v) if v in VERDICT_COLOURS else (len(_VERDICT_ORDER), v)


@dataclass
class IntervalPoint:
    """One estimate with its 95% interval, in a group (a metric), drawn by kind."""

    group: str
    label: str
    estimate: float
    low: float
    high: float
    kind: str = "model"  # model · baseline · other · published


_KIND_STYLE = {
    "model": (ACCENT, "o", "this model"),
    "baseline": ("#ef6c00", "s", "non-AI baseline (fuzzer)"),
    "other": ("#6b7785", "D", "other models (measured)"),
    "published": ("#8e6cbf", "^", "published results"),
}


def interval_plot(points: Sequence[IntervalPoint], title: str = "Estimates with 95% intervals") -> str:
    """A forest plot: one row per (metric, model) with its point estimate and 95% interval, coloured by kind
    (this model, the fuzzer baseline, other measured models, published results)."""
    groups: list[str] = []
    for p in points:
        if p.group not in groups:
            groups.append(p.group)
    rows: list[IntervalPoint | str] = []
    for g in groups:
        rows.append(g)
        rows += [p for p in points if p.group == g]
    fig = _figure(len(rows))
    ax = fig.add_subplot(1, 1, 1)
    _style(ax)
    labels = []
    used = set()
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        if isinstance(r, str):
            labels.append((y, r, True))
            continue
        colour, marker, _ = _KIND_STYLE.get(r.kind, _KIND_STYLE["other"])
        used.add(r.kind)
        ax.errorbar([r.estimate], [y], xerr=[[max(0.0, r.estimate - r.low)], [max(0.0, r.high - r.estimate)]],
                    fmt=marker, color=colour, ecolor=colour, elinewidth=1.2, capsize=3, markersize=5, zorder=3)  # fmt: skip
        ax.text(1.02, y, f"{r.estimate:.2f}", va="center", ha="left", fontsize=7.5, color=INK)
        labels.append((y, r.label, False))
    ax.set_yticks([y for y, _, _ in labels], [t for _, t, _ in labels])
    for tick, (_, _, bold) in zip(ax.get_yticklabels(), labels, strict=True):
        if bold:
            tick.set_fontweight("bold")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.set_title(title, loc="left", fontsize=9.5, color=INK, fontweight="bold")
    handles = [
        Line2D(
            [0], [0], color=_KIND_STYLE[k][0], marker=_KIND_STYLE[k][1], linestyle="", label=_KIND_STYLE[k][2]
        )
        for k in _KIND_STYLE
        if k in used
    ]
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(handles), frameon=False,
              fontsize=7)  # fmt: skip
    return to_data_uri(fig)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
