"""The metric names aslgate produces: what each measures and whether it is a rate or a difference.

The entries come from the registered suites (`aslgate.suites`): each suite lists its own families'
metrics, so a suite registered later (or a test's toy family) shows here without editing this file.
"""

from __future__ import annotations

from collections.abc import Mapping

from aslgate.metrics import MetricKind, MetricSpec
from aslgate.suites import _Live, catalogue

__all__ = ["METRICS", "MetricKind", "MetricSpec", "is_known", "known_names", "spec"]

METRICS: Mapping[str, MetricSpec] = _Live(catalogue)


def is_known(name: str) -> bool:
    """True if a registered suite produces a metric of this exact dotted name."""
    return name in catalogue()


def spec(name: str) -> MetricSpec:
    """The spec of a known metric; KeyError for an unknown name."""
    return catalogue()[name]


def known_names() -> list[str]:
    """All known metric names, sorted."""
    return sorted(catalogue())
