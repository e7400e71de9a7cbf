"""The classifier's labeled dataset: hand-written requests and response snippets with a fixed split.

`data/classifier.jsonl` holds one example a line: id, label, kind (request|response), hard_negative,
split (train|test) and text. The split was drawn once (seed 15, 25% test, stratified by label, kind and
hard_negative) and is stored in the file, so every run and every machine scores the same test set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aslgate.errors import UserError
from aslgate.gateway.classifier import Label

DATASET_PATH = Path(__file__).parent / "data" / "classifier.jsonl"
MAX_DATASET_BYTES = 20 * 1024 * 1024


class DatasetError(UserError, ValueError):
    """The dataset file is missing or a line is malformed (the message names file, line and field)."""


class Example(BaseModel):
    """One labeled text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: Label
    kind: Literal["request", "response"]
    hard_negative: bool = False
    split: Literal["train", "test"]
    text: str = Field(min_length=1, max_length=100_000)


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "line"
    return f"{where}: {err['msg']}"


def load_dataset(path: Path | str | None = None) -> list[Example]:
    """Read and validate a dataset file (default: the shipped one); ids must be unique."""
    p = Path(path) if path is not None else DATASET_PATH
    try:
        if p.stat().st_size > MAX_DATASET_BYTES:
            raise DatasetError(f"{p}: larger than the {MAX_DATASET_BYTES} byte limit")
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{p}: dataset does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"{p}: dataset is a directory, not a file") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{p}: dataset is not UTF-8 text") from None
    except OSError as e:
        raise DatasetError(f"{p}: cannot read dataset ({e.strerror})") from None
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            ex = Example.model_validate(json.loads(line))
        except json.JSONDecodeError as e:
            raise DatasetError(f"{p}:{n}: not JSON ({e.msg})") from None
        except ValidationError as e:
            raise DatasetError(f"{p}:{n}: {_first_error(e)}") from None
        if ex.id in seen:
            raise DatasetError(f"{p}:{n}: id {ex.id!r} already used on line {seen[ex.id]}")
        seen[ex.id] = n
        examples.append(ex)
    if not examples:
        raise DatasetError(f"{p}: dataset has no examples")
    return examples


def split(examples: Iterable[Example], name: Literal["train", "test"]) -> list[Example]:
    return [e for e in examples if e.split == name]


def dataset_sha256(path: Path | str | None = None) -> str:
    """Content hash of a dataset file: the key of the trained-model cache."""
    return hashlib.sha256(Path(path or DATASET_PATH).read_bytes()).hexdigest()
