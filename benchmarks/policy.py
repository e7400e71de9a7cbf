"""Time determine_all over 1,000,000 metric rows against a baseline that only iterates the rows once.

Run: .venv/bin/python benchmarks/policy.py [--rows N] [--models M] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import time

from aslgate.metrics import MetricRow
from aslgate.policy.catalogue import METRICS, known_names
from aslgate.policy.engine import determine_all
from aslgate.policy.framework import load_frameworks
from aslgate.policy.stats import difference_interval, wilson


def make_rows(count: int, models: int, seed: int = 0) -> list[MetricRow]:
    """Distinct rows with mixed metric names and many models (intervals precomputed per (k, n))."""
    rng = random.Random(seed)
    names = known_names()
    rates: dict[tuple[int, int], tuple[float, float]] = {}
    rows: list[MetricRow] = []
    for i in range(count):
        name = names[rng.randrange(len(names))]
        n = rng.choice((5, 10, 20, 40, 100))
        k = rng.randint(0, n)
        if METRICS[name].kind == "rate":
            low, high = rates.setdefault((k, n), wilson(k, n))
            est, kk, nn = k / n, k, n
        else:
            est, low, high = difference_interval(k, n, rng.randint(0, n), n)
            kk = nn = None
        # model_construct with every field given: validation would only re-check our own numbers
        rows.append(
            MetricRow.model_construct(
                model=f"model-{i % models}",
                metric=name,
                k=kk,
                n=nn,
                estimate=est,
                low=low,
                high=high,
                log=f"logs/run-{i % 997}.eval",
                sample_ids=[f"s{i}"],
            )
        )
    return rows


def baseline(rows: list[MetricRow], model: str) -> int:
    """The floor: one pass over the rows reading one attribute of each."""
    hits = 0
    for row in rows:
        if row.model == model:
            hits += 1
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    rows = make_rows(args.rows, args.models)
    frameworks = load_frameworks()
    print(
        f"set-up: {len(rows):,} rows, {args.models} models, {len(known_names())} metric names "
        f"({time.perf_counter() - t0:.1f} s, not timed)"
    )

    model = "model-7"
    best_base = best_engine = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        baseline(rows, model)
        best_base = min(best_base, time.perf_counter() - t)
        t = time.perf_counter()
        det = determine_all(frameworks, rows, model)
        best_engine = min(best_engine, time.perf_counter() - t)

    print(f"baseline (iterate rows once):  {best_base:.3f} s")
    print(f"determine_all (3 frameworks):  {best_engine:.3f} s")
    print(f"ratio engine / baseline:       {best_engine / best_base:.2f}x   (best of {args.repeat})")
    print(f"budget 2 s: {'OK' if best_engine <= 2.0 else 'EXCEEDED'}")
    print(det.summary)


if __name__ == "__main__":
    main()
