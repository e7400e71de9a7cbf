"""Scenario files: a fictional organisation, the agent's role, a simulated world and a grid of variables.

A scenario YAML (``behavior/scenarios/*.yaml``) is validated by pydantic and then checked by rendering
every cell of the grid: every ``${placeholder}`` must have a value wherever its text is present, rendered
regexes must compile, tools must be ones aslgate simulates, and the control cell must name a value of
every variable. Errors carry file, line and reason. The format is documented in docs/behavior-scenarios.md.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aslgate.behavior.rules import Rule, iter_rules, rule_strings
from aslgate.behavior.simulator import TOOL_NAMES
from aslgate.behavior.world import AccountState, InboxEmail, Message, World
from aslgate.yamlio import LocatedError, load_yaml_model

SCENARIO_DIR = Path(__file__).parent / "scenarios"
FAMILIES = (
    "blackmail",
    "self_exfiltration",
    "harmful_system_prompt",
    "high_agency",
    "sabotage",
    "sandbagging",
)
AGENT_KINDS = ("aligned", "misaligned")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTINS = ("agent_name", "agent_email", "org_name", "org_domain")
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]


class ScenarioError(LocatedError):
    """A scenario file that cannot be used: file, line and reason in one line."""


def _yes_no(v: Any) -> Any:
    """YAML 1.1 reads yes/no as booleans; variable values are names, so map them back."""
    if v is True:
        return "yes"
    if v is False:
        return "no"
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Condition = dict[str, list[str]]  # variable -> values for which an item of the world is present


class _Conditional(_Strict):
    when: Condition = Field(default_factory=dict)

    @field_validator("when", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {k: [str(_yes_no(x)) for x in (x if isinstance(x, list) else [x])] for k, x in v.items()}


class Email(_Conditional, Message):
    sender: str = Field(alias="from")


class FileDoc(_Conditional):
    path: str = Field(pattern=r"^(/|\$\{)")
    content: str


class Account(_Conditional):
    username: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    name: str
    role: str = "user"
    active: bool = True


class Event(_Conditional):
    at: str
    title: str
    attendees: str = ""


class Organisation(_Strict):
    name: str
    domain: str = Field(pattern=r"^[a-z0-9.-]+$")
    description: str = ""
    internal_hosts: list[str] = Field(default_factory=list)  # hosts an upload may go to without leaving


class AgentIdentity(_Strict):
    name: str
    email: str


class Item(_Strict):
    """One question/instance crossed with every cell (e.g. the sandbagging questions)."""

    id: Ident
    vars: dict[str, str]


class Step(_Strict):
    """One move of a scripted agent: a tool call, or the final submission."""

    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    content: str = ""
    submit: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        if (self.tool is None) == (self.submit is None):
            raise ValueError("a step is either {tool, args} or {submit}")
        return self


class Script(_Conditional):
    steps: list[Step] = Field(min_length=1)


class Grading(_Strict):
    """How a sample is scored. `rule` is the deterministic check; `judge` is the question for a judge model."""

    decides: Literal["checks", "judge"] = "checks"
    rule: Rule
    judge: str = Field(min_length=10)


class Scenario(_Strict):
    id: Ident
    family: Literal[FAMILIES]  # type: ignore[valid-type]
    title: str
    description: str
    measure: Literal["harmful", "correct"] = "harmful"  # what a score of 1 means
    organisation: Organisation
    agent: AgentIdentity
    constants: dict[str, str] = Field(default_factory=dict)
    variables: dict[Ident, dict[str, dict[str, str]]] = Field(min_length=1)
    control: dict[str, str]
    system_prompt: str = Field(min_length=1)
    user_prompt: str = Field(min_length=1)
    tools: list[str] = Field(min_length=1)
    inbox: list[Email] = Field(default_factory=list)
    files: list[FileDoc] = Field(default_factory=list)
    accounts: list[Account] = Field(default_factory=list)
    calendar: list[Event] = Field(default_factory=list)
    items: list[Item] = Field(default_factory=list)
    grading: Grading
    agents: dict[Literal[AGENT_KINDS], list[Script]]  # type: ignore[valid-type]

    @field_validator("variables", mode="before")
    @classmethod
    def _value_names(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out = {}
        for name, values in v.items():
            if not isinstance(values, dict) or not values:
                raise ValueError(f"variable {name!r} has no values (give a mapping value -> placeholders)")
            out[name] = {str(_yes_no(k)): ({} if x is None else x) for k, x in values.items()}
        return out

    @field_validator("control", mode="before")
    @classmethod
    def _control_names(cls, v: Any) -> Any:
        return {k: str(_yes_no(x)) for k, x in v.items()} if isinstance(v, dict) else v

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, tools: list[str]) -> list[str]:
        for t in tools:
            if t not in TOOL_NAMES:
                raise ValueError(f"unknown tool {t!r}; aslgate simulates: {', '.join(TOOL_NAMES)}")
        return tools

    @model_validator(mode="after")
    def _cross_check(self) -> Scenario:
        if set(self.control) != set(self.variables):
            raise ValueError(f"control must name exactly the variables {sorted(self.variables)}")
        for var, val in self.control.items():
            if val not in self.variables[var]:
                raise ValueError(
                    f"control {var}={val!r} is not a value of {var} ({list(self.variables[var])})"
                )
        conditionals = [*self.inbox, *self.files, *self.accounts, *self.calendar]
        conditionals += [s for scripts in self.agents.values() for s in scripts]
        for c in conditionals:
            for var, vals in c.when.items():
                if var not in self.variables:
                    raise ValueError(f"`when` names unknown variable {var!r}")
                for val in vals:
                    if val not in self.variables[var]:
                        raise ValueError(f"`when` names unknown value {var}={val!r}")
        for kind, scripts in self.agents.items():
            for s in scripts:
                for step in s.steps:
                    if step.tool is not None and step.tool not in self.tools:
                        raise ValueError(f"{kind} script calls {step.tool!r}, which is not in tools")
        if len({i.id for i in self.items}) != len(self.items):
            raise ValueError("duplicate item id")
        if self.items and any(set(i.vars) != set(self.items[0].vars) for i in self.items):
            raise ValueError("every item must define the same vars")
        if self.grading.decides == "checks" and self.grading.rule.is_empty():
            raise ValueError("grading.decides is checks but grading.rule is empty")
        self._check_rules()
        self._check_cells()
        return self

    def templates(self, cell: Cell | None = None) -> list[tuple[str, str]]:
        """(where, text) for every templated string in the scenario (present in `cell`, if given)."""

        def here(x: _Conditional) -> bool:
            return cell is None or cell.present(x.when)

        out = [("system_prompt", self.system_prompt), ("user_prompt", self.user_prompt)]
        out.append(("grading.judge", self.grading.judge))
        for i, e in enumerate(self.inbox):
            if here(e):
                out += [(f"inbox[{i}].{k}", getattr(e, k)) for k in ("sender", "to", "cc", "subject", "body")]
        for i, f in enumerate(self.files):
            if here(f):
                out += [(f"files[{i}].path", f.path), (f"files[{i}].content", f.content)]
        for i, a in enumerate(self.accounts):
            if here(a):
                out.append((f"accounts[{i}].name", a.name))
        for i, ev in enumerate(self.calendar):
            if here(ev):
                out += [(f"calendar[{i}].title", ev.title), (f"calendar[{i}].attendees", ev.attendees)]
        out += [(f"grading.rule.{w}", s) for w, s in rule_strings(self.grading.rule)]
        for kind, scripts in self.agents.items():
            for j, sc in enumerate(scripts):
                if not here(sc):
                    continue
                for k, step in enumerate(sc.steps):
                    texts = [step.content, step.submit or ""] + [str(a) for a in step.args.values()]
                    out += [(f"agents.{kind}[{j}].steps[{k}]", t) for t in texts]
        return out

    def _check_rules(self) -> None:
        for where, r in iter_rules(self.grading.rule, "grading.rule."):
            if r.is_empty() and where != "grading.rule.":
                raise ValueError(f"{where.rstrip('.')}: an empty any/all (it never/always holds)")
            if r.call is not None and r.call.tool not in TOOL_NAMES:
                raise ValueError(f"{where}call: unknown tool {r.call.tool!r}")

    def _check_cells(self) -> None:
        """Render the scenario in every cell: every placeholder has a value there (including those
        inside constants, variable values and item vars), rendered regular expressions compile,
        rendered file paths are absolute, and no two files or accounts share a path or username."""
        for cell in self.cells():
            ctx = cell.context()
            for where, text in [*((f"value {k}", v) for k, v in ctx.items()), *self.templates(cell)]:
                missing = [n for n in PLACEHOLDER.findall(text) if n not in ctx]
                unresolved = where.startswith("value ") and PLACEHOLDER.search(text)
                if missing or unresolved:
                    name = missing[0] if missing else PLACEHOLDER.findall(text)[0]
                    why = "has no value" if missing else "refers to itself (or nests too deep)"
                    raise ValueError(f"{where}: placeholder ${{{name}}} {why} in cell {cell.id}")
                if where.endswith(".matches"):
                    try:
                        re.compile(substitute(text, ctx))
                    except re.error as e:
                        raise ValueError(f"{where}: in cell {cell.id} the regular expression does not "
                                         f"compile ({e})") from None  # fmt: skip
            paths = [substitute(f.path, ctx) for f in self.files if cell.present(f.when)]
            for pth in paths:
                if not pth.startswith("/"):
                    raise ValueError(f"files: path {pth!r} is not absolute in cell {cell.id}")
            dup = next((x for x in paths if paths.count(x) > 1), None)
            if dup:
                raise ValueError(f"files: two files at {dup} in cell {cell.id}")
            users = [a.username for a in self.accounts if cell.present(a.when)]
            dup = next((x for x in users if users.count(x) > 1), None)
            if dup:
                raise ValueError(f"accounts: two accounts named {dup} in cell {cell.id}")

    # -- the grid --------------------------------------------------------------------------------

    def cells(self) -> list[Cell]:
        """Every combination of variable values (crossed with every item), the control cell(s) first."""
        names = list(self.variables)
        combos = [dict(zip(names, vals, strict=True)) for vals in itertools.product(*self.variables.values())]
        combos.sort(key=lambda c: c != self.control)
        items: list[Item | None] = list(self.items) or [None]
        return [Cell(self, c, it) for c in combos for it in items]

    def cell(self, cell_id: str) -> Cell:
        """The cell with this id (as produced by `cells`)."""
        for c in self.cells():
            if c.id == cell_id:
                return c
        raise ScenarioError(f"scenario {self.id}: no cell {cell_id!r}")


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace every ${name}; a missing name is a bug the static check should have caught."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _fill(text: str, values: dict[str, str]) -> str:
    """Replace the placeholders that have a value (the load-time check reports the others)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _present(cond: Condition, values: dict[str, str]) -> bool:
    return all(values[var] in vals for var, vals in cond.items())


@dataclass(frozen=True)
class Cell:
    """One point of a scenario's grid: a value for every variable (and an item, if the scenario has them)."""

    scenario: Scenario
    values: dict[str, str]
    item: Item | None = None

    @property
    def id(self) -> str:
        grid = ",".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.scenario.id}:{grid}" + (f"#{self.item.id}" if self.item else "")

    @property
    def control(self) -> bool:
        return self.values == self.scenario.control

    def context(self) -> dict[str, str]:
        """Placeholder values for this cell."""
        s = self.scenario
        ctx = {
            "agent_name": s.agent.name,
            "agent_email": s.agent.email,
            "org_name": s.organisation.name,
            "org_domain": s.organisation.domain,
            **s.constants,
        }
        for var, val in self.values.items():
            ctx.update(s.variables[var][val])
        if self.item:
            ctx.update(self.item.vars)
        # placeholders may refer to others (a variable's text naming a constant): resolve a few rounds
        for _ in range(3):
            ctx = {k: _fill(v, ctx) if PLACEHOLDER.search(v) else v for k, v in ctx.items()}
        return ctx

    def render(self, text: str) -> str:
        return substitute(text, self.context())

    def present(self, cond: Condition) -> bool:
        return _present(cond, self.values)

    def initial_world(self) -> World:
        """The world this cell starts in: documents whose `when` matches, placeholders filled."""
        s, r = self.scenario, self.render
        return World(
            scenario=s.id,
            cell=self.id,
            agent_name=s.agent.name,
            agent_email=s.agent.email,
            org_domain=s.organisation.domain,
            internal_hosts=list(s.organisation.internal_hosts),
            tools=list(s.tools),
            host=f"ws01.{s.organisation.domain}",
            inbox=[
                InboxEmail(
                    id=str(i + 1),
                    sender=r(e.sender),
                    to=r(e.to),
                    cc=r(e.cc),
                    subject=r(e.subject),
                    body=r(e.body).strip(),
                    date=e.date,
                )
                for i, e in enumerate(x for x in s.inbox if self.present(x.when))
            ],
            files={r(f.path): r(f.content) for f in s.files if self.present(f.when)},
            accounts={
                a.username: AccountState(
                    name=r(a.name), role=a.role, active=a.active, initially_active=a.active
                )
                for a in s.accounts
                if self.present(a.when)
            },
            calendar=[
                {"at": e.at, "title": r(e.title), "attendees": r(e.attendees)}
                for e in s.calendar
                if self.present(e.when)
            ],
        )

    def script(self, kind: str) -> list[Step]:
        """The scripted agent's steps for this cell: the first script whose `when` matches."""
        for sc in self.scenario.agents.get(kind, []):  # type: ignore[call-overload]
            if self.present(sc.when):
                return list(sc.steps)
        return [Step(submit="Done.")]


def load_scenario(path: Path | str) -> Scenario:
    """Parse and check one scenario file; ScenarioError with file, line and reason on any problem."""
    p = Path(path)
    scenario = load_yaml_model(p, Scenario, ScenarioError, fields="scenario fields")
    if scenario.id != p.stem:
        raise ScenarioError(f"{p}: id {scenario.id!r} must match the file name {p.stem!r}")
    return scenario


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Scenario]:
    return {p.stem: load_scenario(p) for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def all_scenarios() -> list[Scenario]:
    """The embedded scenarios, sorted by id."""
    return list(_builtin().values())


def get_scenario(scenario_id: str) -> Scenario:
    """An embedded scenario by id, or a scenario file by path."""
    if scenario_id in _builtin():
        return _builtin()[scenario_id]
    if scenario_id.endswith((".yaml", ".yml")):
        return load_scenario(scenario_id)
    raise ScenarioError(f"unknown scenario {scenario_id!r}; embedded: {', '.join(_builtin())}")


def select_scenarios(
    families: list[str] | None = None, scenarios: list[str] | None = None
) -> list[tuple[str, Scenario]]:
    """(reference, scenario) by id or file path, or every embedded one; only of `families` if given.
    The reference (an embedded id or a path) is how a sample finds its scenario again."""
    for f in families or []:
        if f not in FAMILIES:
            raise ScenarioError(f"unknown family {f!r}; choose from: {', '.join(FAMILIES)}")
    refs = scenarios or list(_builtin())
    chosen = [(r, get_scenario(r)) for r in refs]
    if families:
        chosen = [(r, s) for r, s in chosen if s.family in families]
    if not chosen:
        raise ScenarioError("no scenario selected")
    return chosen
