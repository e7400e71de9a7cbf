"""Interval estimates for rates (Wilson score) and differences of rates (Newcombe hybrid score)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from aslgate.metrics import MetricRow


def _check_counts(k: int, n: int) -> None:
    if isinstance(k, bool) or isinstance(n, bool) or not isinstance(k, int) or not isinstance(n, int):
        raise TypeError(f"k and n must be integers, got k={k!r}, n={n!r}")
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n == 0 (nothing is known)."""
    _check_counts(k, n)
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def rate_row(
    model: str,
    metric: str,
    k: int,
    n: int,
    log: str | None = None,
    sample_ids: Iterable[str] = (),
) -> MetricRow:
    """A MetricRow for a rate: point estimate k/n (0 when n == 0) and its Wilson 95% interval."""
    low, high = wilson(k, n)
    return MetricRow(
        model=model,
        metric=metric,
        k=k,
        n=n,
        estimate=k / n if n else 0.0,
        low=low,
        high=high,
        log=log,
        sample_ids=list(sample_ids),
    )


def difference_interval(k1: int, n1: int, k2: int, n2: int, z: float = 1.96) -> tuple[float, float, float]:
    """Newcombe (1998, method 10) hybrid score interval for p1 - p2; returns (estimate, low, high)."""
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, low), min(1.0, high)


def difference_row(
    model: str,
    metric: str,
    k1: int,
    n1: int,
    k2: int,
    n2: int,
    log: str | None = None,
    sample_ids: Iterable[str] = (),
) -> MetricRow:
    """A derived MetricRow for p1 - p2 (e.g. uplift = model - fuzzer): k = n = None, Newcombe interval."""
    d, low, high = difference_interval(k1, n1, k2, n2)
    return MetricRow(
        model=model, metric=metric, estimate=d, low=low, high=high, log=log, sample_ids=list(sample_ids)
    )
