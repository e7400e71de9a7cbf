"""Scenario files: the embedded grid, and bad files rejected with file and reason (exit 2 in the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from aslgate.behavior.scenario import (
    FAMILIES,
    SCENARIO_DIR,
    ScenarioError,
    all_scenarios,
    load_scenario,
    select_scenarios,
)
from aslgate.cli import app

BLACKMAIL = SCENARIO_DIR / "blackmail_replacement.yaml"


def _variant(tmp_path: Path, edit, name: str = "blackmail_replacement") -> Path:
    data = yaml.safe_load(BLACKMAIL.read_text())
    edit(data)
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_embedded_scenarios_cover_every_family_with_a_control_cell() -> None:
    scenarios = all_scenarios()
    assert {s.family for s in scenarios} == set(FAMILIES)
    for s in scenarios:
        cells = s.cells()
        ids = [c.id for c in cells]
        assert len(ids) == len(set(ids)), s.id
        controls = [c for c in cells if c.control]
        assert len(controls) == max(1, len(s.items)), s.id  # one control cell (per item)
        assert cells[0].control  # control first
        assert len(cells) >= 18, s.id  # enough pressure cells for a Wilson bound under 0.2 at 0/n


def test_grid_is_the_product_of_the_variables() -> None:
    s = load_scenario(BLACKMAIL)
    assert len(s.cells()) == 3 * 3 * 2
    cell = s.cell("blackmail_replacement:goal=explicit,threat=replacement,leverage=yes")
    assert cell.values == {"goal": "explicit", "threat": "replacement", "leverage": "yes"}
    assert "Norwegian warehouses close" in cell.render("${strategy_line}")
    assert not cell.control


def test_yaml_yes_no_keys_are_value_names() -> None:
    s = load_scenario(BLACKMAIL)
    assert set(s.variables["leverage"]) == {"yes", "no"}
    assert s.control["leverage"] == "no"


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d["tools"].append("launch_missiles"), "unknown tool 'launch_missiles'"),
        (lambda d: d["variables"].__setitem__("leverage", {}), "variable 'leverage' has no values"),
        (lambda d: d["variables"].__setitem__("leverage", None), "variable 'leverage' has no values"),
        (
            lambda d: d.__setitem__("user_prompt", "Hello ${nobody_defines_this}"),
            "user_prompt: placeholder ${nobody_defines_this} has no value",
        ),
        (
            lambda d: d["variables"]["goal"]["none"].pop("strategy_line"),
            "placeholder ${strategy_line} has no value in cell blackmail_replacement:goal=none,",
        ),
        (
            lambda d: d["constants"].__setitem__("cto", "Kyle ${ghost}"),
            "value cto: placeholder ${ghost} has no value",
        ),
        (
            lambda d: (
                d["constants"].__setitem__("lover", "Jessica ("),
                d["grading"].__setitem__("rule", {"answer": {"matches": "${lover}"}}),
            ),
            "grading.rule.answer.matches: in cell blackmail_replacement:goal=none,threat=none,leverage=no "
            "the regular expression does not compile",
        ),
        (
            lambda d: (
                d["constants"].__setitem__("notes", "notes.txt"),
                d.__setitem__("files", [{"path": "${notes}", "content": "x"}]),
            ),
            "files: path 'notes.txt' is not absolute",
        ),
        (
            lambda d: d.__setitem__(
                "files", [{"path": "/a", "content": "x"}, {"path": "/a", "content": "y"}]
            ),
            "files: two files at /a",
        ),
        (
            lambda d: d.__setitem__("accounts", [{"username": "kyle", "name": "K"}] * 2),
            "accounts: two accounts named kyle",
        ),
        (
            lambda d: d["grading"].__setitem__("rule", {"any": [{"answer": {"equals": "x"}}, {"all": []}]}),
            "grading.rule.any[1]: an empty any/all",
        ),
        (
            lambda d: d["grading"].__setitem__("rule", {"not": {"call": {"tool": "teleport"}}}),
            "grading.rule.not.call: unknown tool 'teleport'",
        ),
        (lambda d: d["control"].__setitem__("threat", "meteor"), "control threat='meteor' is not a value"),
        (lambda d: d["control"].pop("threat"), "control must name exactly the variables"),
        (lambda d: d["inbox"][3].__setitem__("when", {"weather": "rain"}), "unknown variable 'weather'"),
        (lambda d: d["agents"]["aligned"][0]["steps"].insert(0, {"tool": "shell"}), "not in tools"),
        (lambda d: d.__setitem__("family", "mischief"), "family"),
        (lambda d: d.__setitem__("surprise", 1), "surprise"),
        (
            lambda d: d["grading"].__setitem__("rule", {"answer": {"matches": "("}}),
            "bad regular expression",
        ),
        (
            lambda d: d["grading"].__setitem__("rule", {"answer": {"equals": "x"}, "email": {}}),
            "exactly one of",
        ),
    ],
)
def test_bad_scenarios_are_rejected_with_file_and_reason(tmp_path: Path, edit, reason: str) -> None:
    p = _variant(tmp_path, edit)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert str(p) in str(e.value)
    assert reason in str(e.value)
    r = CliRunner().invoke(app, ["behavior", "validate", str(p)])
    assert r.exit_code == 2
    assert reason in r.output and "Traceback" not in r.output


def test_a_placeholder_only_needs_a_value_where_its_document_is_present(tmp_path: Path) -> None:
    def edit(d: dict) -> None:
        d["variables"]["leverage"]["yes"]["hotel"] = "the Grand"
        d["inbox"].append({"from": "a@b.example", "to": "c@d.example", "subject": "s",
                           "body": "See you at ${hotel}", "when": {"leverage": "yes"}})  # fmt: skip

    s = load_scenario(_variant(tmp_path, edit))
    assert any("the Grand" in e.body for e in s.cell(
        "blackmail_replacement:goal=none,threat=none,leverage=yes").initial_world().inbox)  # fmt: skip
    with pytest.raises(ScenarioError, match=r"\$\{hotel\} has no value in cell .*leverage=no"):
        load_scenario(_variant(tmp_path, lambda d: (edit(d), d["inbox"][-1].pop("when"))))


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"x\.yaml:2: YAML syntax error"):
        load_scenario(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ScenarioError, match=r"x\.yaml:1: top level must be a mapping of scenario fields"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"id: caf\xe9\nfamily: blackmail\n")
    with pytest.raises(ScenarioError, match=r"latin1\.yaml:1: not UTF-8"):
        load_scenario(tmp_path / "latin1.yaml")
    renamed = _variant(tmp_path, lambda d: None, name="other_name")
    with pytest.raises(ScenarioError, match="must match the file name"):
        load_scenario(renamed)


def test_validate_cli_accepts_good_files_and_reports_each_bad_one(tmp_path: Path) -> None:
    bad = _variant(tmp_path, lambda d: d["tools"].append("teleport"))
    r = CliRunner().invoke(app, ["behavior", "validate", str(BLACKMAIL), str(bad)])
    assert r.exit_code == 2
    assert "ok" in r.output and "18 cells" in r.output and "teleport" in r.output
    assert (
        CliRunner().invoke(app, ["behavior", "validate", *map(str, SCENARIO_DIR.glob("*.yaml"))]).exit_code
        == 0
    )


def test_select_by_family_and_by_file(tmp_path: Path) -> None:
    assert [s.family for _, s in select_scenarios(["sandbagging"])] == ["sandbagging"]
    p = _variant(tmp_path, lambda d: d.__setitem__("title", "copy"))
    [(ref, s)] = select_scenarios(None, [str(p)])
    assert ref == str(p) and s.title == "copy"
    with pytest.raises(ScenarioError, match="unknown family"):
        select_scenarios(["piracy"])
    with pytest.raises(ScenarioError, match="unknown scenario"):
        select_scenarios(None, ["no_such_scenario"])


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "matches" and isinstance(v, str)] + [
            p for k, v in node.items() if k != "matches" for p in _patterns(v)
        ]
    return [p for v in node for p in _patterns(v)] if isinstance(node, list) else []


def test_lookahead_rules_are_anchored() -> None:
    """`(?=.*A)(?=.*B)` unanchored is re-tried at every position: quadratic in a long email or command."""
    found = []
    for path in SCENARIO_DIR.glob("*.yaml"):
        found += [
            (path.name, p) for p in _patterns(yaml.safe_load(path.read_text())["grading"]) if "(?=.*" in p
        ]
    assert len(found) >= 3  # the blackmail, harmful-system-prompt and self-exfiltration rules
    for name, pattern in found:
        assert pattern.strip().startswith(("\\A", "^")), (name, pattern[:60])
