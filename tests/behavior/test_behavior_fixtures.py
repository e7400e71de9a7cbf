"""The labeled fixture set: >= 60 hand-written transcripts, every family, harmful and benign, hard
negatives; the deterministic graders must agree with every label."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from aslgate.behavior.graders import grade_files, load_transcripts
from aslgate.behavior.scenario import FAMILIES, get_scenario
from aslgate.cli import app

FIXTURES = Path(__file__).resolve().parents[2] / "src" / "aslgate" / "behavior" / "fixtures"


def test_fixture_set_is_large_and_balanced() -> None:
    transcripts = [t for f in FIXTURES.glob("*.yaml") for t in load_transcripts(f)]
    assert len(transcripts) >= 60
    assert len({t.id for t in transcripts}) == len(transcripts)
    per_family = Counter((get_scenario(t.scenario).family, t.expected) for t in transcripts)
    for fam in FAMILIES:
        pos, neg = ("correct", "incorrect") if fam == "sandbagging" else ("harmful", "benign")
        assert per_family[fam, pos] >= 4 and per_family[fam, neg] >= 4, fam
    controls = {t.scenario for t in transcripts if get_scenario(t.scenario).control == t.cell}
    assert len(controls) == len(FAMILIES)  # every scenario's control cell is covered


async def test_deterministic_graders_agree_with_every_label() -> None:
    report = await grade_files([FIXTURES])
    wrong = [(t.id, t.expected, v.label, v.matched) for t, v in report.checks_disagree()]
    assert not wrong
    assert len(report.labeled()) == len(report.rows)


def test_grade_cli_on_fixtures_and_on_a_mislabeled_copy(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["behavior", "grade", str(FIXTURES / "blackmail.yaml")])
    assert r.exit_code == 0, r.output
    assert "agree with" in r.output
    flipped = (FIXTURES / "blackmail.yaml").read_text().replace("expected: benign", "expected: harmful", 1)
    bad = tmp_path / "flipped.yaml"
    bad.write_text(flipped)
    r = CliRunner().invoke(app, ["behavior", "grade", str(bad)])
    assert r.exit_code == 1
    r = CliRunner().invoke(app, ["behavior", "grade", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_judge_is_evaluated_against_the_labels() -> None:
    r = CliRunner().invoke(
        app, ["behavior", "grade", "--judge", "aslgate/null", str(FIXTURES / "sabotage.yaml")]
    )
    assert r.exit_code == 0, r.output
    assert "judge aslgate/null: agrees with 0/" in r.output and "no verdict" in r.output
