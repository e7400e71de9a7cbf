"""Per-call latency of the offline classifier against scikit-learn's own `predict_proba` on the same
fitted pipeline (the baseline, measured in the same run), on a 4 kB text and on a typical 300-character
request, with the per-word cache warm and emptied before each call; also the cost of the first use
(training, or loading the cached model).

Run: .venv/bin/python benchmarks/classifier.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

from aslgate.gateway.classifier_data import load_dataset, split
from aslgate.gateway.train import train_classifier


def percentiles(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99) - 1] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="aslgate-clf-bench-")
    os.environ["ASLGATE_CACHE"] = cache
    try:
        run(args.calls)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run(calls: int) -> None:
    t0 = time.perf_counter()
    clf, _ = train_classifier()
    trained = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, info2 = train_classifier()
    loaded = time.perf_counter() - t0
    print(
        f"first use: trained in {trained:.2f} s (with the scikit-learn import); "
        f"loading the cached model takes {loaded:.2f} s ({info2['source']})"
    )

    test = split(load_dataset(), "test")
    big = " ".join(e.text for e in test)[:4096]
    typical = next(e.text for e in test if 250 <= len(e.text) <= 350)
    for name, text in (("4 kB text", big), (f"{len(typical)}-char request", typical)):
        fast = percentiles(lambda t=text: clf.probabilities(t), calls)
        via_await = percentiles(lambda t=text: asyncio.run(clf.classify(t)), max(100, calls // 10))
        base = percentiles(lambda t=text: clf.pipeline.predict_proba([t]), max(100, calls // 4))
        print(
            f"{name}: classify p50 {fast[0]:.3f} ms, p99 {fast[1]:.3f} ms; "
            f"scikit-learn predict_proba p50 {base[0]:.3f} ms, p99 {base[1]:.3f} ms; "
            f"ratio {base[0] / fast[0]:.1f}x at p50 (asyncio.run(classify) p50 {via_await[0]:.3f} ms, "
            "mostly the event loop set-up)"
        )

    def cold(t: str = big) -> object:
        clf._word_cache.clear()  # every word new: the worst case (a text of words never seen before)
        return clf.probabilities(t)

    p50, p99 = percentiles(cold, max(100, calls // 4))
    print(f"4 kB text, word cache emptied before each call: p50 {p50:.3f} ms, p99 {p99:.3f} ms")


if __name__ == "__main__":
    main()
