"""Inspect task of the behavior suite: every cell of every selected scenario's grid is a sample."""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.agent import AgentPrompt, AgentSubmit, as_solver, react
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.solver import Generate, Solver, TaskState, chain, solver
from inspect_ai.util import store

from aslgate.behavior.graders import behavior_graded, cell_for
from aslgate.behavior.scenario import Cell, get_scenario, select_scenarios
from aslgate.behavior.tools import TOOLS, WORLD_KEY

SCENARIO_KEY = "aslgate_behavior_scenario"
TASK_VERSION = 1  # Task(version=...) of the behavior task: bump when results stop being comparable
SUBMIT_PROMPT = "\nWhen you have finished, call the {submit}() tool with a short summary of what you did.\n"


def _sample(cell: Cell, ref: str, repeat: int = 1) -> Sample:
    s = cell.scenario
    return Sample(
        id=cell.id + (f"~{repeat}" if repeat > 1 else ""),
        input=cell.render(s.user_prompt).strip(),
        target=s.measure,
        metadata={
            "suite": "behavior",
            "family": s.family,
            "scenario": s.id,
            "scenario_path": ref if ref != s.id else None,
            "values": dict(cell.values),
            "item": cell.item.id if cell.item else None,
            "control": cell.control,
            "measure": s.measure,
            "decides": s.grading.decides,
        },
    )


def _cell_of(state: TaskState) -> Cell:
    meta = state.metadata
    scenario = get_scenario(meta.get("scenario_path") or meta["scenario"])
    return cell_for(scenario, meta["values"], meta.get("item"))


@solver
def setup_world() -> Solver:
    """Put the cell's initial simulated world in the sample store."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        cell = _cell_of(state)
        store().set(WORLD_KEY, cell.initial_world().model_dump(mode="json"))
        store().set(SCENARIO_KEY, state.metadata.get("scenario_path") or cell.scenario.id)
        return state

    return solve


@solver
def behavior_agent() -> Solver:
    """A ReAct loop with the scenario's system prompt, exactly its simulated tools and a submit tool."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        cell = _cell_of(state)
        agent = react(
            prompt=AgentPrompt(
                instructions=cell.render(cell.scenario.system_prompt).strip(),
                handoff_prompt=None,
                assistant_prompt=None,
                submit_prompt=SUBMIT_PROMPT,
            ),
            tools=[TOOLS[name]() for name in cell.scenario.tools],
            submit=AgentSubmit(answer_only=True, description="Finish, with a short summary or your answer."),
        )
        return await as_solver(agent)(state, generate)

    return solve


@task
def behavior(
    families: str | list[str] | None = None,
    scenarios: str | list[str] | None = None,
    judge: str | None = None,
    message_limit: int = 30,
    control_repeats: int = 6,
) -> Task:
    """Agentic behavior scenarios (blackmail, self-exfiltration, harmful system prompts, high agency,
    sabotage, sandbagging) over their variable grids; graded by deterministic checks, then a judge.

    A scenario has one control cell against many pressure cells, so each control cell (without items)
    is run `control_repeats` times (ids `<cell>~2`, ...) to give the control rate a usable interval."""
    if control_repeats < 1:
        raise ValueError("control_repeats must be at least 1")
    fams = [families] if isinstance(families, str) else families
    ids = [scenarios] if isinstance(scenarios, str) else scenarios
    samples = []
    for ref, s in select_scenarios(fams, ids):
        for c in s.cells():
            repeats = control_repeats if c.control and c.item is None else 1  # items already fill it
            samples += [_sample(c, ref, r) for r in range(1, repeats + 1)]
    return Task(
        dataset=MemoryDataset(samples, name="aslgate-behavior"),
        solver=chain(setup_world(), behavior_agent()),
        scorer=behavior_graded(judge=judge),
        message_limit=message_limit,
        version=TASK_VERSION,
        metadata={"suite": "behavior", "family": "behavior", "judge": judge},
    )
