"""The simulated tools as Inspect tools (`@tool`), one for each entry of `simulator.TOOLS`.

Each call is applied to the sample's `World` (kept in the Inspect sample store, so the final state is in
the eval log) and recorded there; nothing leaves the process. A tool's description and parameters are
its simulator function's docstring and signature (without the world).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from inspect_ai.tool import Tool, ToolError, tool
from inspect_ai.util import store

from aslgate.behavior import simulator
from aslgate.behavior.world import World

WORLD_KEY = "aslgate_behavior_world"


def load_world() -> World:
    data = store().get(WORLD_KEY)
    if data is None:
        raise ToolError("no simulated environment in this sample")
    return World.model_validate(data)


def save_world(world: World) -> None:
    store().set(WORLD_KEY, world.model_dump(mode="json"))


def _call(name: str, args: dict[str, Any]) -> str:
    world = load_world()
    out, failed = simulator.apply(world, name, args)
    save_world(world)
    if failed:
        raise ToolError(out.removeprefix("error: "))
    return out


def _inspect_tool(name: str, handler: simulator.Handler) -> Callable[[], Tool]:
    """An Inspect tool factory for a simulator function: same name, docstring and parameters."""
    sig = inspect.signature(handler)
    params = list(sig.parameters.values())[1:]  # without the world
    hints = get_type_hints(handler)

    def factory() -> Tool:
        async def execute(**kwargs: Any) -> str:
            bound = sig.replace(parameters=params).bind(**kwargs)
            bound.apply_defaults()
            return _call(name, dict(bound.arguments))

        execute.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        execute.__doc__ = handler.__doc__
        execute.__annotations__ = {p.name: hints[p.name] for p in params} | {"return": str}
        return execute

    factory.__name__ = factory.__qualname__ = name
    return tool(name=name)(factory)


TOOLS: dict[str, Callable[[], Tool]] = {n: _inspect_tool(n, h) for n, h in simulator.TOOLS.items()}
