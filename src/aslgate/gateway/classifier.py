"""Request/response classifier for the gateway: the interface shared by the offline model and a judge.

Labels: benign · dual_use_cyber · offensive_cyber · other_harmful. A verdict carries the winning
label, its score (probability-like, 0..1) and the score of every label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Label = Literal["benign", "dual_use_cyber", "offensive_cyber", "other_harmful"]
LABELS: tuple[Label, ...] = ("benign", "dual_use_cyber", "offensive_cyber", "other_harmful")


@dataclass(frozen=True)
class Verdict:
    """What a classifier says of one text."""

    label: Label
    score: float
    scores: dict[str, float] = field(default_factory=dict)


class Classifier(Protocol):
    """Anything that labels a text; the gateway awaits it on requests and on streamed windows."""

    name: str

    async def classify(self, text: str) -> Verdict: ...


def load_default_classifier() -> Classifier:
    """The offline classifier trained on the shipped dataset (aslgate.gateway.train; trained at first use,
    then cached on disk and in the process). Call it at start-up: the first call may train for seconds."""
    from aslgate.gateway.train import load_default_classifier as load

    return load()


def build_classifier(model: str | None = None, model_args: dict[str, str] | None = None) -> Classifier:
    """The offline classifier, or a judge model (any Inspect model name) that falls back to it."""
    from aslgate.gateway.judge import build_classifier as build

    return build(model, model_args)
