"""What an offline agent may know of the cyber sample it plays: the task family and the challenge.

The task's setup solver records them in the Inspect sample store (readable from a model call made
within the sample, as the behavior agents read their cell); the agents never parse the prompt text.
"""

from __future__ import annotations

from inspect_ai.util import store
from pydantic import BaseModel

CONTEXT_KEY = "aslgate_cyber_sample"


class CyberSample(BaseModel):
    """The family (reproduce, discover, exploit, patch) and challenge of the running sample."""

    family: str
    challenge: str
    challenge_path: str


def record_sample(sample: CyberSample) -> None:
    store().set(CONTEXT_KEY, sample.model_dump())


def current_sample() -> CyberSample | None:
    """The running cyber sample, or None outside one (another suite, or the model called directly)."""
    try:
        data = store().get(CONTEXT_KEY)
    except Exception:  # no sample context
        return None
    return CyberSample.model_validate(data) if data else None
