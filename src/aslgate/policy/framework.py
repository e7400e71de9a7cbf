"""Framework files: the pydantic schema for policy/frameworks/*.yaml and a loader that reports file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from aslgate.errors import UserError
from aslgate.policy.catalogue import is_known, spec
from aslgate.yamlio import parse_yaml_model, read_yaml_text

FRAMEWORKS_DIR = Path(__file__).parent / "frameworks"
# Built-in files, one per published version (the file stem is the framework id)
BUILTIN_FILES = ("rsp-3.4", "rsp-2.2", "preparedness-2", "fsf-3.1", "fsf-2.0")
# Short names resolve to the current version of each framework; pinned versions keep their own names
CURRENT = {"rsp": "rsp-3.4", "preparedness": "preparedness-2", "fsf": "fsf-3.1"}
BUILTIN_FRAMEWORKS = tuple(CURRENT)  # the default set: the current version of each framework
MAX_FILE_BYTES = 256_000  # built-ins are ~10 kB; PyYAML parses ~25k nodes/s, so this bounds parse time
MAX_NODES = 20_000  # cap on YAML nodes after alias expansion (built-ins have ~400; billion-laughs guard)

Tier = Literal["public", "verified_defender", "partner"]
TIER_ORDER: tuple[Tier, ...] = ("public", "verified_defender", "partner")
Op = Literal[">=", ">", "<=", "<"]
Statistic = Literal["point", "upper95", "lower95"]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)]
Text = Annotated[str, Field(min_length=1)]
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
ThresholdKind = Literal["capability", "finding", "ongoing_assessment"]


class FrameworkError(UserError, ValueError):
    """A framework file that cannot be used; the message is one line: `<file>:<line>: <reason>`."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        self.file, self.line, self.reason = file, line, " ".join(reason.split())
        super().__init__(f"{file}:{line}: {self.reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Source(_Strict):
    """Where a threshold or principle comes from: a faithful quote and the public document it is in."""

    text: Text
    url: Text
    document: Text
    version: Text
    section: str | None = None


class Safeguard(_Strict):
    """One safeguard a level requires."""

    id: Ident
    kind: Literal["deployment", "security", "development"]
    text: Text


class AccessPolicy(_Strict):
    """What the gateway enforces: tiers allowed to call the model, the offense classifier, a halt."""

    allowed_tiers: list[Tier]
    offense_classifier: bool = False
    halt_development: bool = False

    @field_validator("allowed_tiers")
    @classmethod
    def _canonical(cls, tiers: list[Tier]) -> list[Tier]:
        if len(set(tiers)) != len(tiers):
            raise ValueError("allowed_tiers lists a tier twice")
        return [t for t in TIER_ORDER if t in tiers]


class Level(_Strict):
    """One level of a framework (levels are ordered, lowest first)."""

    id: Ident
    name: Text
    description: Text
    safeguards: list[Safeguard]
    access: AccessPolicy


class Rule(_Strict):
    """A comparison over one metric's statistic; `metric: null` marks a capability we do not measure."""

    metric: str | None
    op: Op | None = None
    value: float | None = None
    statistic: Statistic = "point"
    min_n: Annotated[int, Field(ge=1)] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str | None) -> str | None:
        if metric is not None and not is_known(metric):
            raise ValueError(f"unknown metric {metric!r} (see aslgate.policy.catalogue)")
        return metric

    @model_validator(mode="after")
    def _complete(self) -> Rule:
        if self.metric is None:
            if self.op is not None or self.value is not None:
                raise ValueError("op/value given but metric is null (nothing to compare)")
            return self
        if self.op is None or self.value is None:
            raise ValueError(f"rule on {self.metric!r} needs both op and value")
        low, high = spec(self.metric).bounds
        if not low <= self.value <= high:
            raise ValueError(f"value {self.value} outside [{low:g}, {high:g}] for {self.metric!r}")
        return self


class Threshold(_Strict):
    """What a framework asks about one capability, with its source, our rule and an early-warning alert.

    - capability: a threshold of the framework; it raises the framework to `level`, and/or requires
      named safeguards of the levels (`requires`, e.g. RSP 2.2's AI R&D-4 requires the ASL-3 Security
      Standard only) and safeguards of its own (e.g. an RSP 3.x row's mitigations);
    - finding: aslgate's behavior evidence; it adds its own safeguards, never a level;
    - ongoing_assessment: a capability the framework only investigates, with no threshold (RSP 2.2's
      cyber row); the cut-off is aslgate's, and reaching it adds the framework's stated commitment
      (its own safeguards) and the access policy aslgate enforces for it, never a level.
    `access` (not for findings) is combined with the level's access policy, most restrictive wins."""

    id: Ident
    name: Text
    domain: Ident
    kind: ThresholdKind = "capability"
    level: Ident | None = None  # the level a capability threshold raises the framework to
    requires: list[Ident] = Field(default_factory=list)  # ids of level safeguards required without the level
    safeguards: list[Safeguard] = Field(default_factory=list)  # safeguards of its own, when triggered
    access: AccessPolicy | None = None  # an access policy of its own, when triggered
    source: Source
    rule: Rule
    alert: Rule | None = None
    rationale: str | None = None
    evaluated: bool = False  # derived: True iff rule.metric is a metric aslgate produces

    @model_validator(mode="after")
    def _derive(self) -> Threshold:
        if len(set(self.requires)) != len(self.requires):
            raise ValueError("requires lists a safeguard twice")
        if self.kind == "capability" and self.level is None and not (self.requires or self.safeguards):
            raise ValueError(
                "a capability threshold names the level it triggers, or the safeguards it requires"
            )
        if self.kind == "finding" and (
            self.level is not None or not self.safeguards or self.requires or self.access is not None
        ):
            raise ValueError(
                "a finding names the safeguards it requires, and no level (it raises none),"
                " requires or access"
            )
        if self.kind == "ongoing_assessment" and (self.level is not None or not self.safeguards):
            raise ValueError(
                "an ongoing assessment names the commitment it triggers (safeguards), and no level"
                " (the framework sets no threshold for it)"
            )
        derived = self.rule.metric is not None
        if "evaluated" in self.model_fields_set and self.evaluated != derived:
            raise ValueError(f"evaluated is derived from rule.metric and must be {str(derived).lower()}")
        object.__setattr__(self, "evaluated", derived)
        if derived and not (self.rationale and self.rationale.strip()):
            raise ValueError("an evaluated threshold needs a rationale for its cut-off")
        if self.alert is not None and (self.alert.metric is None or not derived):
            raise ValueError("an alert needs a metric, on a threshold whose rule has one")
        return self


class Principle(_Strict):
    """A framework-wide rule we apply (e.g. the precautionary rule), with its source."""

    id: Ident
    summary: Text
    source: Source


class Framework(_Strict):
    """A whole framework: ordered levels, thresholds that trigger them, and the rules we take from it."""

    id: Ident
    name: Text
    publisher: Text
    version: Text
    published: IsoDate | None = None  # publication (or effective) date of this version, YYYY-MM-DD
    url: Text
    description: Text
    principles: list[Principle] = Field(default_factory=list)
    levels: Annotated[list[Level], Field(min_length=1)]
    thresholds: list[Threshold]

    @model_validator(mode="after")
    def _cross_references(self) -> Framework:
        def fail(path: tuple[Any, ...], msg: str) -> None:
            raise PydanticCustomError("framework", msg, {"path": path})

        levels: dict[str, int] = {}
        safeguards: dict[str, Safeguard] = {}
        for i, lv in enumerate(self.levels):
            if lv.id in levels:
                fail(("levels", i, "id"), f"duplicate level id {lv.id!r}")
            levels[lv.id] = i
            for j, sg in enumerate(lv.safeguards):
                if sg.id in safeguards:
                    fail(("levels", i, "safeguards", j, "id"), f"duplicate safeguard id {sg.id!r}")
                safeguards[sg.id] = sg
        seen: set[str] = set()
        for i, th in enumerate(self.thresholds):
            if th.id in seen:
                fail(("thresholds", i, "id"), f"duplicate threshold id {th.id!r}")
            seen.add(th.id)
            for j, sg in enumerate(th.safeguards):
                # thresholds may share a safeguard (a YAML alias), but one id means one safeguard
                if safeguards.get(sg.id, sg) != sg:
                    fail(
                        ("thresholds", i, "safeguards", j, "id"),
                        f"duplicate safeguard id {sg.id!r} (a different safeguard has this id)",
                    )
                safeguards[sg.id] = sg
            if th.level is not None and th.level not in levels:
                fail(
                    ("thresholds", i, "level"),
                    f"threshold {th.id!r} names level {th.level!r}, which is not one of {list(levels)}",
                )
        level_safeguards = {sg.id for lv in self.levels for sg in lv.safeguards}
        for i, th in enumerate(self.thresholds):
            for j, ref in enumerate(th.requires):
                if ref not in level_safeguards:
                    fail(
                        ("thresholds", i, "requires", j),
                        f"threshold {th.id!r} requires {ref!r}, which is not a safeguard of any level",
                    )
        return self

    def required_safeguards(self, threshold: Threshold) -> list[Safeguard]:
        """What a triggered threshold adds beyond its level: the level safeguards it names, then its own."""
        by_id = {sg.id: sg for lv in self.levels for sg in lv.safeguards}
        return [by_id[ref] for ref in threshold.requires] + list(threshold.safeguards)

    def level_index(self, level_id: str) -> int:
        """Position of a level in the order (0 = lowest)."""
        for i, lv in enumerate(self.levels):
            if lv.id == level_id:
                return i
        raise KeyError(level_id)

    def level(self, level_id: str) -> Level:
        """The level with this id."""
        return self.levels[self.level_index(level_id)]


# ---------------------------------------------------------------------------------------------- loading


def parse_framework(text: str, file: str = "<string>") -> Framework:
    """Validate framework YAML text; FrameworkError (`file:line: reason`) if it is malformed."""
    if len(text) > MAX_FILE_BYTES:
        raise FrameworkError(file, 1, f"file larger than {MAX_FILE_BYTES} bytes")
    return parse_yaml_model(
        text, Framework, FrameworkError, file, fields="framework fields", max_nodes=MAX_NODES
    )


def builtin_names() -> list[str]:
    """Every name a built-in framework answers to: the short names (current versions), then each file."""
    return [*CURRENT, *BUILTIN_FILES]


def builtin_path(name: str) -> Path:
    """Path of a built-in framework file: `rsp`, `preparedness`, `fsf` are the current versions;
    `rsp-2.2`, `fsf-2.0`, ... name one version."""
    stem = CURRENT.get(name, name)
    if stem not in BUILTIN_FILES:
        raise KeyError(name)
    return FRAMEWORKS_DIR / f"{stem}.yaml"


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, str) and name_or_path in builtin_names() and not Path(name_or_path).is_file():
        return builtin_path(name_or_path)
    return Path(name_or_path)


def load_framework(name_or_path: str | Path) -> Framework:
    """Load a built-in framework by name or a framework file by path; FrameworkError if malformed."""
    path = _resolve(name_or_path)
    hint = f" (built-ins: {', '.join(builtin_names())})" if not path.suffix else ""
    text = read_yaml_text(path, FrameworkError, max_bytes=MAX_FILE_BYTES, what="framework file", hint=hint)
    return parse_framework(text, str(path))


def load_frameworks(names_or_paths: list[str | Path] | None = None) -> list[Framework]:
    """Load several frameworks (default: the current version of each built-in, in order). A file named
    twice (`rsp` and `rsp-3.4`) is loaded once; two different files with the same id are an error."""
    out: list[Framework] = []
    seen: dict[Path, str] = {}
    ids: dict[str, str] = {}
    for x in names_or_paths or list(BUILTIN_FRAMEWORKS):
        path = _resolve(x)
        key = path.resolve() if path.exists() else path
        if key in seen:
            continue
        fw = load_framework(x)
        if fw.id in ids:
            raise FrameworkError(
                str(path), 1, f"framework id {fw.id!r} is also the id of {ids[fw.id]}; ids must be unique"
            )
        seen[key], ids[fw.id] = str(x), str(path)
        out.append(fw)
    return out


def dump_framework(framework: Framework) -> str:
    """Serialise a framework back to YAML that load_framework/parse_framework accept unchanged."""
    return yaml.safe_dump(
        framework.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100, indent=2
    )
