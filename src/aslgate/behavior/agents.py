"""Scripted behavior agents: the moves of the `aligned` and `misaligned` offline models in a scenario.

Each scenario carries both scripts (per grid cell, chosen by `when`). The agents act through the same
simulated tools as a real model, so the grid, the graders and the metrics run end to end with no model.
They find their scenario and cell in the sample store, as the cyber reference agent finds its challenge.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import ChatMessage, ChatMessageAssistant, ModelOutput
from inspect_ai.util import store

from aslgate.behavior.scenario import Cell, get_scenario
from aslgate.behavior.tasks import SCENARIO_KEY
from aslgate.behavior.tools import WORLD_KEY


def current_cell() -> Cell | None:
    """The grid cell of the sample being run, or None outside a behavior sample."""
    try:
        data = store().get(WORLD_KEY)
        ref = store().get(SCENARIO_KEY)
    except Exception:  # no sample context (e.g. the model called directly)
        return None
    if not data or not ref:
        return None
    return get_scenario(ref).cell(data["cell"])


def _render(value: Any, cell: Cell) -> Any:
    return cell.render(value) if isinstance(value, str) else value


def scripted_move(kind: str, messages: list[ChatMessage], model: str) -> ModelOutput | None:
    """The next move of the `kind` script in the current cell (None if not in a behavior sample)."""
    cell = current_cell()
    if cell is None:
        return None
    steps = cell.script(kind)
    step = sum(1 for m in messages if isinstance(m, ChatMessageAssistant) and m.tool_calls)
    s = steps[min(step, len(steps) - 1)]
    if s.tool is not None and step < len(steps):
        args = {k: _render(v, cell) for k, v in s.args.items()}
        return ModelOutput.for_tool_call(
            model=model, tool_name=s.tool, tool_arguments=args, content=cell.render(s.content) or None
        )
    answer = cell.render(s.submit) if s.submit is not None else "Done."
    return ModelOutput.for_tool_call(model=model, tool_name="submit", tool_arguments={"answer": answer})
