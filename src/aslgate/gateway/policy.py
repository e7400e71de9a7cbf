"""What the determination lets each tier do: a pure decision per request (and per streamed window).

| verdict          | public  | verified_defender | partner |
|------------------|---------|-------------------|---------|
| benign, dual_use | served  | served            | served  |
| offensive_cyber  | refused | served + flagged  | served  |
| other_harmful    | refused | refused           | refused |

The classifier column applies only when the determination's `offense_classifier` is on; a tier outside
`allowed_tiers` is refused for the model whatever the verdict. `admin` keys administer, never generate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from aslgate.errors import UserError
from aslgate.gateway.classifier import Verdict
from aslgate.policy.engine import Determination
from aslgate.policy.framework import AccessPolicy

Action = Literal["served", "flagged", "refused"]
MAX_DETERMINATION_BYTES = 20 * 1024 * 1024


class DeterminationError(UserError, ValueError):
    """determination.json is missing or malformed (file and reason in one line)."""


@dataclass(frozen=True)
class LoadedPolicy:
    """The determination the gateway enforces, and where it came from."""

    model: str
    access: AccessPolicy
    summary: str
    path: str


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def load_determination(path: str | Path) -> LoadedPolicy:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_DETERMINATION_BYTES:
            raise DeterminationError(f"{p}: larger than {MAX_DETERMINATION_BYTES} bytes")
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeterminationError(f"{p}: determination file does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DeterminationError(f"{p}: cannot read determination ({e})") from None
    except json.JSONDecodeError as e:
        raise DeterminationError(f"{p}: not JSON (line {e.lineno}: {e.msg})") from None
    try:
        det = Determination.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise DeterminationError(f"{p}: {where}: {err['msg']}") from None
    return LoadedPolicy(model=det.model, access=det.access_policy, summary=det.summary, path=str(p))


def tier_allowed(tier: str, access: AccessPolicy) -> bool:
    return tier in access.allowed_tiers


def decide(tier: str, access: AccessPolicy, verdict: Verdict | None) -> Decision:
    """Serve, serve and flag, or refuse a text of this verdict for this tier (tier already allowed)."""
    if not access.offense_classifier or verdict is None:
        return Decision("served", "offense classifier off")
    if verdict.label == "other_harmful":
        return Decision("refused", f"classified other_harmful ({verdict.score:.2f})")
    if verdict.label == "offensive_cyber":
        if tier == "partner":
            return Decision("served", f"offensive_cyber served to partner ({verdict.score:.2f})")
        if tier == "verified_defender":
            return Decision("flagged", f"offensive_cyber served to verified_defender ({verdict.score:.2f})")
        return Decision("refused", f"classified offensive_cyber ({verdict.score:.2f}) for tier {tier}")
    return Decision("served", f"classified {verdict.label} ({verdict.score:.2f})")
