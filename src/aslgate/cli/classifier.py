"""Classifier commands: score the gateway's request/response classifier and label a text."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aslgate.cli.common import BadInput, app, friendly, model_args, out

classifier_app = typer.Typer(
    no_args_is_help=True,
    help="The gateway's request/response classifier (benign · dual-use · offensive · harmful).",
)
app.add_typer(classifier_app, name="classifier")

MAX_TEXT_BYTES = 1024 * 1024


def _classifier(model: str | None, margs: list[str] | None, dataset: Path | None) -> Any:
    from aslgate.gateway.judge import build_classifier

    return build_classifier(model, model_args(margs), dataset=dataset)


@classifier_app.command("eval")
@friendly
def classifier_eval(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="A dataset file (JSONL) instead of the shipped one.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Score this judge model (any Inspect model) instead.")
    ] = None,
    margs: Annotated[list[str] | None, typer.Option("-M", help="Judge model argument KEY=VALUE.")] = None,
    misses: Annotated[bool, typer.Option("--misses", help="Also list the misclassified test texts.")] = False,
) -> None:
    """Precision, recall, F1 and false-positive rate per class on the test split, and the confusion matrix."""
    from aslgate.gateway.classifier_data import load_dataset
    from aslgate.gateway.classifier_eval import evaluate

    examples = load_dataset(data)
    clf = _classifier(model, margs, data)
    report = asyncio.run(evaluate(clf, examples, dataset=data))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    out.print(
        f"{report.classifier}, test split of the {report.dataset} dataset: "
        f"{report.n_test} texts (train split: {report.n_train})",
        highlight=False,
        soft_wrap=True,
    )
    table = Table("class", "precision", "recall", "F1", "FPR", "support")
    for c in report.classes:
        table.add_row(
            c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", f"{c.fpr:.3f}", str(c.support)
        )
    out.print(table)
    out.print(
        f"accuracy {report.accuracy:.3f}, macro F1 {report.macro_f1:.3f}; majority baseline "
        f"({report.majority_label}) accuracy {report.majority_accuracy:.3f}, macro F1 {report.majority_macro_f1:.3f}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"hard negatives: {report.hard_negatives_correct}/{report.hard_negatives} right, "
        f"{report.hard_negatives_offensive} called offensive_cyber; calibration error {report.calibration_error:.3f}; "
        f"{report.mean_ms_per_text:.3f} ms per text",
        highlight=False,
        soft_wrap=True,
    )
    if report.fallbacks:
        out.print(
            f"{report.fallbacks} of {report.n_test} texts got no usable judge verdict; the fallback classifier answered",
            highlight=False,
            soft_wrap=True,
        )
    confusion = Table("true \\ predicted", *report.labels, title="confusion matrix")
    for label, row in zip(report.labels, report.confusion, strict=True):
        confusion.add_row(label, *(str(n) for n in row))
    out.print(confusion)
    if misses:
        for m in report.misses:
            text = " ".join(m.text.split())[:100]
            out.print(
                f"{m.id}: {m.label} -> {m.predicted} ({m.score:.2f}) {text}", highlight=False, soft_wrap=True
            )


@classifier_app.command("classify")
@friendly
def classifier_classify(
    text: Annotated[
        str | None, typer.Argument(help="The text to label ('-' reads it from standard input).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Ask this judge model (any Inspect model) instead.")
    ] = None,
    margs: Annotated[list[str] | None, typer.Option("-M", help="Judge model argument KEY=VALUE.")] = None,
) -> None:
    """Label one text: the verdict, its score and every label's score."""
    if text is None:
        raise BadInput("TEXT: missing; give the text to label, or '-' to read it from standard input")
    if text == "-":
        raw = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        if len(raw) > MAX_TEXT_BYTES:
            raise BadInput(f"standard input: larger than the {MAX_TEXT_BYTES} byte limit")
        text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise BadInput("TEXT: empty text, nothing to classify")
    verdict = asyncio.run(_classifier(model, margs, None).classify(text))
    row = {"label": verdict.label, "score": verdict.score, "scores": verdict.scores}
    for extra in ("source", "detail"):
        if hasattr(verdict, extra):
            row[extra] = getattr(verdict, extra)
    if as_json:
        typer.echo(json.dumps(row, indent=2))
        return
    others = ", ".join(f"{k} {v:.3f}" for k, v in sorted(verdict.scores.items(), key=lambda kv: -kv[1]))
    line = f"{verdict.label} {verdict.score:.3f} ({others})"
    if row.get("source", "model") != "model":
        line += f" [{row['source']}: {row['detail']}]"
    out.print(line, highlight=False, soft_wrap=True)
