"""The behavior package is a one-way stack: each module imports only the modules below it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import aslgate.behavior

PACKAGE = Path(aslgate.behavior.__file__).parent
# bottom first: a module may import only modules to its left
LAYERS = [
    "world",
    "rules",
    "shell_syntax",
    "shell",
    "simulator",
    "scenario",
    "tools",
    "graders",
    "tasks",
    "agents",
    "suite",
]


def behavior_imports(source: str) -> set[str]:
    """The behavior modules a module's source imports anywhere (top level, functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "aslgate.behavior":
                found |= {a.name for a in node.names}
            elif node.module.startswith("aslgate.behavior."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("aslgate.behavior.")}
    return found


def graph() -> dict[str, set[str]]:
    return {p.stem: behavior_imports(p.read_text()) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def violations(g: dict[str, set[str]]) -> list[str]:
    """Imports that go sideways or up the stack (or name a module the stack does not place)."""
    out = []
    for mod, deps in sorted(g.items()):
        if mod not in LAYERS:
            out.append(f"{mod}: not placed in LAYERS")
            continue
        below = set(LAYERS[: LAYERS.index(mod)])
        out += [f"{mod} imports {d}" for d in sorted(deps - below)]
    return out


def test_every_module_is_placed_and_imports_only_downwards() -> None:
    g = graph()
    assert set(g) == set(LAYERS)
    assert violations(g) == []


def test_world_imports_nothing_else_from_behavior() -> None:
    assert graph()["world"] == set()


def test_the_checker_sees_an_upward_import_and_a_circle() -> None:
    src = "from aslgate.behavior.shell import FakeShell\nfrom aslgate.behavior import scenario\n"
    assert behavior_imports(src) == {"shell", "scenario"}
    circle = {"world": {"shell"}, "shell": {"world"}}  # the old world <-> shell circle
    assert violations(circle) == ["world imports shell"]
    assert violations({"world": set(), "extra": {"world"}}) == ["extra: not placed in LAYERS"]


@pytest.mark.parametrize("module", LAYERS)
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    r = subprocess.run([sys.executable, "-c", f"import aslgate.behavior.{module}"], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(PACKAGE.parents[1])})  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_one_tool_table() -> None:
    from aslgate.behavior import scenario, simulator, tools

    assert list(tools.TOOLS) == list(simulator.TOOLS) and tuple(simulator.TOOLS) == scenario.TOOL_NAMES


def test_each_inspect_tool_is_its_simulator_function() -> None:
    """What the model sees (name, description, parameters) comes from the simulator function itself."""
    import inspect

    from inspect_ai.tool import ToolDef

    from aslgate.behavior import simulator, tools

    for name, handler in simulator.TOOLS.items():
        d = ToolDef(tools.TOOLS[name]())
        assert d.name == name and d.description == inspect.getdoc(handler).split("\n")[0]
        params = list(inspect.signature(handler).parameters)[1:]  # without the world
        assert list(d.parameters.properties) == params
        assert set(d.parameters.required) == {
            p for p in params if inspect.signature(handler).parameters[p].default is inspect.Parameter.empty
        }
        assert all(d.parameters.properties[p].description for p in params)  # documented for the model
