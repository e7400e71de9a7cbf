"""Scoring a classifier on the dataset's test split: per-class precision, recall, F1 and false-positive
rate, the confusion matrix, and the majority-label baseline the numbers should be read against."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from aslgate.gateway.classifier import LABELS, Classifier
from aslgate.gateway.classifier_data import DatasetError, Example, load_dataset, split


class ClassMetrics(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    fpr: float  # of the texts not of this label, the share labeled as it
    support: int


class Miss(BaseModel):
    id: str
    label: str
    predicted: str
    score: float
    text: str


class ClassifierReport(BaseModel):
    classifier: str
    dataset: str
    n_train: int
    n_test: int
    accuracy: float
    macro_f1: float
    majority_label: str
    majority_accuracy: float
    majority_macro_f1: float
    classes: list[ClassMetrics]
    labels: list[str]
    confusion: list[list[int]]  # rows: true label, columns: predicted label, in `labels` order
    hard_negatives: int
    hard_negatives_correct: int
    hard_negatives_offensive: int
    calibration_error: float  # expected calibration error of the winning label's score (10 bins)
    fallbacks: int  # texts a judge model gave no usable verdict on (its fallback classifier answered)
    mean_ms_per_text: float
    misses: list[Miss]

    def recall_of(self, label: str) -> float:
        return next(c.recall for c in self.classes if c.label == label)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def calibration_error(scores: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: the mean gap between stated confidence and accuracy, per score bin."""
    total, n = 0.0, len(scores)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, s in enumerate(scores) if lo < s <= hi or (b == 0 and s == 0.0)]
        if idx:
            conf = sum(scores[i] for i in idx) / len(idx)
            acc = sum(correct[i] for i in idx) / len(idx)
            total += len(idx) / n * abs(conf - acc)
    return round(total, 4)


def per_class(truth: Sequence[str], pred: Sequence[str]) -> tuple[list[ClassMetrics], list[list[int]]]:
    index = {lab: i for i, lab in enumerate(LABELS)}
    confusion = [[0] * len(LABELS) for _ in LABELS]
    for t, p in zip(truth, pred, strict=True):
        confusion[index[t]][index[p]] += 1
    n = len(truth)
    rows = []
    for lab, i in index.items():
        tp = confusion[i][i]
        fp = sum(confusion[r][i] for r in range(len(LABELS))) - tp
        fn = sum(confusion[i]) - tp
        tn = n - tp - fp - fn
        prec, rec = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0
        rows.append(
            ClassMetrics(
                label=lab, precision=prec, recall=rec, f1=f1, fpr=_ratio(fp, fp + tn), support=tp + fn
            )
        )
    return rows, confusion


async def _predict(clf: Classifier, texts: Sequence[str], concurrency: int) -> list[tuple[str, float, bool]]:
    sem = asyncio.Semaphore(concurrency)

    async def one(text: str) -> tuple[str, float, bool]:
        async with sem:
            v = await clf.classify(text)
            return v.label, v.score, str(getattr(v, "source", "")).startswith("fallback")

    return await asyncio.gather(*(one(t) for t in texts))


async def evaluate(
    clf: Classifier,
    examples: Sequence[Example] | None = None,
    *,
    dataset: Path | str | None = None,
    concurrency: int = 8,
) -> ClassifierReport:
    """Score a classifier on the test split of `examples` (default: the shipped dataset)."""
    data = list(examples) if examples is not None else load_dataset(dataset)
    train, test = split(data, "train"), split(data, "test")
    if not test:
        raise DatasetError(f"{dataset or 'the dataset'}: no example has split 'test'; nothing to score")
    t0 = time.perf_counter()
    predicted = await _predict(clf, [e.text for e in test], concurrency)
    elapsed = time.perf_counter() - t0
    truth = [e.label for e in test]
    pred = [p for p, _, _ in predicted]
    classes, confusion = per_class(truth, pred)
    majority = Counter(e.label for e in train or test).most_common(1)[0][0]
    base_classes, _ = per_class(truth, [majority] * len(truth))
    hard = [(e, p) for e, p in zip(test, pred, strict=True) if e.hard_negative]
    misses = [
        Miss(id=e.id, label=e.label, predicted=p, score=s, text=e.text[:200])
        for e, (p, s, _) in zip(test, predicted, strict=True)
        if p != e.label
    ]
    return ClassifierReport(
        classifier=clf.name,
        dataset=str(dataset or "shipped"),
        n_train=len(train),
        n_test=len(test),
        accuracy=_ratio(sum(t == p for t, p in zip(truth, pred, strict=True)), len(test)),
        macro_f1=round(sum(c.f1 for c in classes) / len(classes), 4),
        majority_label=majority,
        majority_accuracy=_ratio(sum(t == majority for t in truth), len(test)),
        majority_macro_f1=round(sum(c.f1 for c in base_classes) / len(base_classes), 4),
        classes=classes,
        labels=list(LABELS),
        confusion=confusion,
        hard_negatives=len(hard),
        hard_negatives_correct=sum(e.label == p for e, p in hard),
        hard_negatives_offensive=sum(p == "offensive_cyber" for _, p in hard),
        calibration_error=calibration_error(
            [s for _, s, _ in predicted], [t == p for t, p in zip(truth, pred, strict=True)]
        ),
        fallbacks=sum(f for _, _, f in predicted),
        mean_ms_per_text=round(elapsed * 1000 / len(test), 3),
        misses=misses,
    )
