"""Prometheus metrics of one app (its own registry; multi-process collection under several workers)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "aslgate_requests_total",
            "Requests by status, tier and decision",
            ["status", "tier", "decision"],
            registry=r,
        )
        self.latency = Histogram(
            "aslgate_request_seconds",
            "Request latency (to the last byte)",
            ["stream"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.tokens = Counter("aslgate_tokens_total", "Tokens billed", ["kind"], registry=r)
        self.cost = Counter("aslgate_cost_usd_total", "USD charged", registry=r)
        self.verdicts = Counter(
            "aslgate_classifier_verdicts_total", "Classifier verdicts", ["label", "stage"], registry=r
        )
        self.inflight = Gauge(
            "aslgate_inflight_requests", "Requests being served", registry=r, multiprocess_mode="livesum"
        )
        self.reloads = Counter(
            "aslgate_policy_reloads_total", "Determination reloads", ["result"], registry=r
        )

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            reg = CollectorRegistry()
            multiprocess.MultiProcessCollector(reg)
            return generate_latest(reg)
        return generate_latest(self.registry)
