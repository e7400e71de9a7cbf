"""`aslgate assess` takes its defaults from AssessConfig: what is not given on the command line is the
config's own default, never a second copy of it in the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aslgate import assess as assess_module
from aslgate.assess import AssessConfig
from aslgate.cli import app


class _Stop(Exception):
    pass


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[AssessConfig]:
    seen: list[AssessConfig] = []

    def fake_assess(cfg: AssessConfig, **_: object) -> None:
        seen.append(cfg)
        raise _Stop  # nothing runs: only the config the CLI built is looked at

    monkeypatch.setattr(assess_module, "assess", fake_assess)
    return seen


def test_no_options_is_the_default_config(captured: list[AssessConfig]) -> None:
    r = CliRunner().invoke(app, ["assess"])
    assert isinstance(r.exception, _Stop), r.output
    assert captured == [AssessConfig()]


def test_given_options_override_only_themselves(captured: list[AssessConfig]) -> None:
    r = CliRunner().invoke(
        app,
        ["assess", "-m", "a/x,b/y", "--epochs", "3", "--baseline", "none", "--suite", "cyber", "-M", "k=v"],
    )
    assert isinstance(r.exception, _Stop), r.output
    [cfg] = captured
    assert cfg == AssessConfig(
        models=["a/x", "b/y"], epochs=3, baseline=None, suites=["cyber"], model_args={"k": "v"}
    )
    assert cfg.level == AssessConfig().level and cfg.frameworks == AssessConfig().frameworks
    assert CliRunner().invoke(app, ["assess", "--epochs", "0"]).exit_code == 2  # bounds still checked
