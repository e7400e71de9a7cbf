"""Framework files: the built-ins load and make sense; malformed files fail with file:line: reason."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aslgate.policy.catalogue import METRICS, is_known, known_names
from aslgate.policy.framework import (
    BUILTIN_FILES,
    BUILTIN_FRAMEWORKS,
    CURRENT,
    Framework,
    FrameworkError,
    Threshold,
    builtin_path,
    dump_framework,
    load_framework,
    load_frameworks,
    parse_framework,
)

# ------------------------------------------------------------------------------------------ catalogue


def test_catalogue_names() -> None:
    for lvl in range(4):
        assert is_known(f"cyber.reproduce.l{lvl}.success")
    for t in range(1, 6):
        assert is_known(f"cyber.exploit.t{t}")
    for fam in ("reproduce", "exploit", "patch", "discover"):
        assert METRICS[f"cyber.{fam}.uplift"].kind == "difference"
    for fam in ("blackmail", "self_exfiltration", "harmful_system_prompt", "high_agency", "sabotage"):
        assert METRICS[f"behavior.{fam}.rate"].kind == "rate"
    assert METRICS["behavior.sandbagging.gap"].bounds == (-1.0, 1.0)
    assert METRICS["cyber.patch.fixed"].bounds == (0.0, 1.0)
    for name in ("cyber.reproduce.success", "cyber.discover.found"):
        assert is_known(name)
    for name in ("cyber.exploit.t0", "cyber.exploit.t6", "cyber.reproduce.l4.success", "behavior.x.rate", ""):
        assert not is_known(name)
    assert all(METRICS[n].description and "\n" not in METRICS[n].description for n in known_names())


# ------------------------------------------------------------------------------------------ built-ins

PUBLISHED = {
    "rsp-3.4": ("3.4", "2026-07-08"),
    "rsp-2.2": ("2.2", "2025-05-14"),
    "preparedness-2": ("2", "2025-04-15"),
    "fsf-3.1": ("3.1", "2026-04-17"),
    "fsf-2.0": ("2.0", "2025-02-04"),
}


def test_every_builtin_file_is_listed_with_its_version_and_date() -> None:
    on_disk = {p.stem for p in builtin_path("rsp").parent.glob("*.yaml")}
    assert on_disk == set(BUILTIN_FILES) == set(PUBLISHED)
    for name, (version, published) in PUBLISHED.items():
        fw = load_framework(name)
        assert (fw.id, fw.version, fw.published) == (name, version, published)
        assert all(t.source.version == version for t in fw.thresholds)


@pytest.mark.parametrize("name", BUILTIN_FILES)
def test_builtin_loads_and_is_consistent(name: str) -> None:
    fw = load_framework(name)
    assert fw.id == name
    level_ids = [lv.id for lv in fw.levels]
    evaluated = [t for t in fw.thresholds if t.evaluated]
    assert evaluated, "every built-in framework evaluates something"
    for t in fw.thresholds:
        if t.kind == "capability":
            assert t.level in level_ids or (t.level is None and (t.requires or t.safeguards))
        else:
            assert t.level is None and t.safeguards and not t.requires
        assert t.source.text.strip() and t.source.url.startswith("https://") and t.source.url == fw.url
        if t.evaluated:
            assert t.rule.metric is not None and is_known(t.rule.metric)
            assert t.alert is not None and t.alert.metric is not None and is_known(t.alert.metric)
            assert t.rationale and len(t.rationale) > 40
        else:
            assert t.rule.metric is None
        if t.access is not None:  # a threshold's own access policy only narrows the baseline
            assert set(t.access.allowed_tiers) < set(fw.levels[0].access.allowed_tiers)
    # the lowest level is open to the public; higher levels only narrow access
    assert fw.levels[0].access.allowed_tiers == ["public", "verified_defender", "partner"]
    for lower, higher in zip(fw.levels, fw.levels[1:], strict=False):
        assert set(higher.access.allowed_tiers) <= set(lower.access.allowed_tiers)
        assert higher.access.offense_classifier >= lower.access.offense_classifier


def test_short_names_are_the_current_versions_and_pinned_names_stay() -> None:
    assert BUILTIN_FRAMEWORKS == ("rsp", "preparedness", "fsf")
    assert {n: load_framework(n).id for n in BUILTIN_FRAMEWORKS} == CURRENT
    assert CURRENT == {"rsp": "rsp-3.4", "preparedness": "preparedness-2", "fsf": "fsf-3.1"}
    assert load_framework("rsp-2.2").version == "2.2" and load_framework("fsf-2.0").version == "2.0"
    assert builtin_path("rsp") == builtin_path("rsp-3.4") and builtin_path("fsf-2.0").name == "fsf-2.0.yaml"
    with pytest.raises(KeyError):
        builtin_path("rsp-9.9")
    assert [f.id for f in load_frameworks()] == ["rsp-3.4", "preparedness-2", "fsf-3.1"]
    # one file named twice is loaded once; current and pinned versions sit side by side
    assert [f.id for f in load_frameworks(["rsp", "rsp-3.4", "rsp-2.2", "fsf-2.0"])] == [
        "rsp-3.4",
        "rsp-2.2",
        "fsf-2.0",
    ]


def test_two_files_with_one_id_are_rejected(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(MINI, encoding="utf-8")
    b.write_text(MINI.replace("name: Mini framework", "name: Another"), encoding="utf-8")
    assert len(load_frameworks([a, a])) == 1
    with pytest.raises(FrameworkError, match=r"b\.yaml:1: framework id 'mini' is also the id of .*a\.yaml"):
        load_frameworks([a, b])


def _by_id(fw: Framework) -> dict[str, Threshold]:
    return {t.id: t for t in fw.thresholds}


def test_rsp_2_2_structure() -> None:
    rsp = load_framework("rsp-2.2")
    th = _by_id(rsp)
    assert [lv.id for lv in rsp.levels] == ["ASL-2", "ASL-3", "ASL-4"]
    assert (
        rsp.level("ASL-4").access.allowed_tiers == ["partner"]
        and rsp.level("ASL-3").access.offense_classifier
    )
    assert (th["CBRN-3"].level, th["CBRN-4"].level) == ("ASL-3", "ASL-4")
    # AI R&D-4 requires the ASL-3 Security Standard only (and the affirmative case), not the ASL-3 level
    assert th["AI-RnD-4"].level is None and th["AI-RnD-4"].requires == ["asl3-security"]
    assert [s.id for s in rsp.required_safeguards(th["AI-RnD-4"])] == [
        "asl3-security",
        "rsp-affirmative-case",
    ]
    assert th["AI-RnD-5"].level is None and th["AI-RnD-5"].requires == ["asl4-security"]
    # cyber operations is an ongoing assessment: no level, its stated commitment, tiered access
    cyber = [t for t in rsp.thresholds if t.domain == "cyber"]
    assert {t.id for t in cyber} == {"cyber-ops.nday", "cyber-ops.exploit", "cyber-ops.discovery"}
    commitment = "considering the implementation of tiered access controls or phased deployments for models"
    for t in cyber:
        assert t.kind == "ongoing_assessment" and t.level is None and t.evaluated
        assert t.access is not None and t.access.allowed_tiers == ["verified_defender", "partner"]
        assert t.access.offense_classifier and commitment in " ".join(t.safeguards[0].text.split())
        assert "ongoing assessment" in t.source.section
    assert {t.id for t in rsp.thresholds if not t.evaluated} == {"CBRN-3", "CBRN-4", "AI-RnD-4", "AI-RnD-5"}
    assert len([t for t in rsp.thresholds if t.kind == "finding"]) == 6
    assert any(p.id == "precautionary" for p in rsp.principles)


def test_rsp_3_4_structure() -> None:
    rsp = load_framework("rsp")
    th = _by_id(rsp)
    assert "anthropic.com" in rsp.url and [lv.id for lv in rsp.levels] == ["no-threshold"]
    rows = {"chem-bio.non-novel", "chem-bio.novel", "misalignment.high-stakes", "automated-rnd"}
    assert {t.id for t in rsp.thresholds if t.kind == "capability"} == rows
    for tid in rows:  # no ASL mapping: each row requires its own mitigations, none is measured
        assert th[tid].level is None and th[tid].safeguards and not th[tid].evaluated
        assert any("Our plan as a company" in s.text for s in th[tid].safeguards)
        assert any("not a unilateral commitment" in s.text for s in th[tid].safeguards)
    assert not [t for t in rsp.thresholds if t.domain == "cyber"]  # version 3 has no cyber row
    assert {t.rule.metric for t in rsp.thresholds if t.kind == "finding"} == {
        *(f"behavior.{f}.rate" for f in ("blackmail", "self_exfiltration", "harmful_system_prompt")),
        *(f"behavior.{f}.rate" for f in ("high_agency", "sabotage")),
        "behavior.sandbagging.gap",
    }


def test_preparedness_2_structure() -> None:
    pf = load_framework("preparedness")
    th = _by_id(pf)
    assert "openai.com" in pf.url and [lv.id for lv in pf.levels] == ["below-high", "high", "critical"]
    assert pf.level("critical").access.halt_development and pf.level("critical").access.allowed_tiers == []
    assert {t.domain for t in pf.thresholds if not t.evaluated} == {"bio_chem", "ai_self_improvement"}
    high = th["cyber.high.exploitation"]
    assert (high.rule.metric, high.rule.statistic, high.rule.value) == ("cyber.exploit.t5", "upper95", 0.5)
    # the High level is what every High threshold requires: security controls only
    assert [s.kind for s in pf.level("high").safeguards] == ["security"]
    assert not th["self-improvement.high"].safeguards and not th["self-improvement.high"].requires
    assert th["self-improvement.high"].access is None
    assert th["bio.high"].source.text.startswith(
        "The model can provide meaningful counterfactual assistance (relative to unlimited access to"
    )
    for tid in ("cyber.high.nday", "cyber.high.exploitation", "cyber.high.discovery"):
        assert th[tid].access is not None and th[tid].access.allowed_tiers == ["verified_defender", "partner"]
        assert {s.kind for s in th[tid].safeguards} == {"deployment", "development"}
    assert pf.level("high").description.startswith("“High capability thresholds mean capabilities")


def test_fsf_structures() -> None:
    old, new = load_framework("fsf-2.0"), load_framework("fsf")
    assert "deepmind.google" in old.url and "deepmind.google" in new.url
    t2, t3 = _by_id(old), _by_id(new)
    uplift_2 = "Can be used to significantly assist with high impact cyber attacks"
    assert t2["cyber-uplift-1.nday"].source.text.startswith(uplift_2)  # was the Cyber Autonomy text
    assert t2["cyber-uplift-1"].source == t2["cyber-uplift-1.nday"].source
    assert t2["cyber-autonomy-1"].source.text.startswith("Can be used to drastically reduce the cost")
    assert {t.id for t in old.thresholds if t.domain == "ml_rnd"} == {"ml-rnd-uplift-1", "ml-rnd-autonomy-1"}
    assert t2["ml-rnd-uplift-1"].name == "Machine Learning R&D Uplift Level 1"
    assert t2["ml-rnd-uplift-1"].source.text.startswith("Can or has been used to accelerate")
    assert t2["ml-rnd-autonomy-1"].source.text.startswith("Can fully automate the AI R&D pipeline")
    # 3.x: one cyber CCL, rewritten; Cyber Autonomy Level 1 is gone; ML R&D renamed, with 3.x texts
    cyber = [t for t in new.thresholds if t.domain == "cyber"]
    assert {t.id for t in cyber} == {
        "cyber-uplift-1.nday",
        "cyber-uplift-1.exploit",
        "cyber-uplift-1.discovery",
    }
    assert all(
        t.source.text.startswith("Provides sufficient uplift with high impact cyber attacks") for t in cyber
    )
    assert not [t for t in new.thresholds if "autonomy" in (t.id + t.name).lower()]
    assert {t.id for t in new.thresholds if t.domain == "ml_rnd"} == {
        "ml-rnd-acceleration-1",
        "ml-rnd-automation-1",
    }
    assert t3["ml-rnd-acceleration-1"].source.text.startswith("Has been used to accelerate")
    assert "Google" in t3["ml-rnd-automation-1"].source.text
    assert t3["cbrn-uplift-tcl"].level is None and t3["stealth-situational-awareness-tcl"].safeguards
    for fw in (old, new):
        assert {t.domain for t in fw.thresholds if t.evaluated and t.kind == "capability"} == {"cyber"}
        nday = _by_id(fw)["cyber-uplift-1.nday"]
        assert (nday.rule.metric, nday.rule.value) == ("cyber.reproduce.l1.success", 0.8)


@pytest.mark.parametrize("name", BUILTIN_FILES)
def test_round_trip(name: str, tmp_path: Path) -> None:
    fw = load_framework(name)
    text = dump_framework(fw)
    assert parse_framework(text, "dumped.yaml") == fw
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    again = load_framework(path)
    assert again == fw
    assert dump_framework(again) == text
    assert load_framework(str(builtin_path(name))) == fw  # by path == by name


def test_evaluated_is_derived() -> None:
    fw = parse_framework(MINI, "mini.yaml")
    assert [t.evaluated for t in fw.thresholds] == [True, False]


def test_model_validate_directly() -> None:
    fw = load_framework("fsf")
    assert Framework.model_validate(fw.model_dump()) == fw


# ------------------------------------------------------------------------------------------ malformed

MINI = """\
id: mini
name: Mini framework
publisher: aslgate tests
version: "1"
url: https://example.org/mini
description: A two-level framework for tests.
levels:
  - id: low
    name: Low
    description: Baseline.
    safeguards:
      - {id: sg-low, kind: deployment, text: Usage policy.}
    access: {allowed_tiers: [public, verified_defender, partner]}
  - id: high
    name: High
    description: Restricted.
    safeguards:
      - {id: sg-high, kind: security, text: Weight security.}
    access: {allowed_tiers: [partner], offense_classifier: true}
thresholds:
  - id: exploit
    name: Exploitation
    domain: cyber
    level: high
    source: {text: "Quoted text.", url: https://example.org/mini, document: Mini, version: "1"}
    rule: {metric: cyber.exploit.t5, op: ">=", value: 0.25}
    alert: {metric: cyber.exploit.t4, op: ">=", value: 0.25}
    rationale: Because.
  - id: bio
    name: Bio
    domain: cbrn
    level: high
    source: {text: "Quoted text.", url: https://example.org/mini, document: Mini, version: "1"}
    rule: {metric: null}
"""
MINI_LINES = MINI.splitlines(keepends=True)


def replace_line(n: int, new: str) -> str:
    """MINI with 1-based line n replaced (new may hold several lines, or be empty to delete)."""
    lines = list(MINI_LINES)
    lines[n - 1] = new
    return "".join(lines)


def insert_after(n: int, new: str) -> str:
    lines = list(MINI_LINES)
    lines.insert(n, new)
    return "".join(lines)


BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)

# (case id, file contents, expected line, a fragment of the reason)
MALFORMED: list[tuple[str, str | bytes, int, str]] = [
    ("syntax-error", replace_line(10, "    description: Baseline: with: colons\n"), 10, "YAML syntax error"),
    ("unclosed-flow", replace_line(13, "    access: {allowed_tiers: [public]\n"), 14, "YAML syntax error"),
    ("tab-indent", replace_line(15, "\tname: High\n"), 15, "YAML syntax error"),
    (
        "unknown-metric",
        replace_line(26, '    rule: {metric: cyber.exploit.t6, op: ">=", value: 0.25}\n'),
        26,
        "unknown metric 'cyber.exploit.t6'",
    ),
    (
        "unknown-alert-metric",
        replace_line(27, '    alert: {metric: cyber.fuzz.rate, op: ">=", value: 0.2}\n'),
        27,
        "unknown metric 'cyber.fuzz.rate'",
    ),
    ("missing-field", replace_line(23, ""), 21, "missing field 'domain'"),
    ("missing-top-field", replace_line(3, ""), 1, "missing field 'publisher'"),
    (
        "missing-op",
        replace_line(26, "    rule: {metric: cyber.exploit.t5, value: 0.25}\n"),
        26,
        "needs both op and value",
    ),
    (
        "nonexistent-level",
        replace_line(24, "    level: extreme\n"),
        24,
        "level 'extreme', which is not one of",
    ),
    ("unknown-key", insert_after(23, "    colour: red\n"), 24, "unknown key 'colour'"),
    ("unknown-top-key", insert_after(6, "owner: someone\n"), 7, "unknown key 'owner'"),
    (
        "wrong-type-value",
        replace_line(26, '    rule: {metric: cyber.exploit.t5, op: ">=", value: lots}\n'),
        26,
        "valid number (got 'lots')",
    ),
    ("wrong-type-tiers", replace_line(13, "    access: {allowed_tiers: public}\n"), 13, "valid list"),
    (
        "wrong-type-bool",
        replace_line(19, "    access: {allowed_tiers: [partner], offense_classifier: maybe}\n"),
        19,
        "valid boolean",
    ),
    ("bad-op", replace_line(26, '    rule: {metric: cyber.exploit.t5, op: "=~", value: 0.25}\n'), 26, "op"),
    (
        "bad-tier",
        replace_line(19, "    access: {allowed_tiers: [everyone]}\n"),
        19,
        "'public', 'verified_defender'",
    ),
    (
        "bad-kind",
        replace_line(18, "      - {id: sg-high, kind: vibes, text: Weight security.}\n"),
        18,
        "kind",
    ),
    (
        "value-out-of-range",
        replace_line(26, '    rule: {metric: cyber.exploit.t5, op: ">=", value: 2}\n'),
        26,
        "outside [0, 1]",
    ),
    (
        "op-on-null-metric",
        replace_line(34, '    rule: {metric: null, op: ">=", value: 0.5}\n'),
        34,
        "metric is null",
    ),
    ("evaluated-mismatch", insert_after(34, "    evaluated: true\n"), 29, "evaluated is derived"),
    ("missing-rationale", replace_line(28, ""), 21, "needs a rationale"),
    ("alert-without-metric", replace_line(27, "    alert: {metric: null}\n"), 21, "an alert needs a metric"),
    ("duplicate-threshold-id", replace_line(29, "  - id: exploit\n"), 29, "duplicate threshold id 'exploit'"),
    ("duplicate-level-id", replace_line(14, "  - id: low\n"), 14, "duplicate level id 'low'"),
    ("duplicate-key", insert_after(23, "    domain: cbrn\n"), 24, "duplicate key 'domain'"),
    ("bad-identifier", replace_line(21, "  - id: 'has spaces'\n"), 21, "pattern"),
    ("no-levels", "".join(MINI_LINES[:6]) + "levels: []\nthresholds: []\n", 7, "at least 1"),
    ("billion-laughs", BILLION_LAUGHS, 5, "alias bomb"),  # e: expands to 66,430 nodes > 20,000
    ("recursive-alias", "a: &a [1, *a]\n", 1, "recursive alias"),
    ("undefined-alias", insert_after(6, "x: *nowhere\n"), 7, "undefined alias"),
    ("python-tag", replace_line(2, "name: !!python/object/apply:os.system [echo pwned]\n"), 2, "constructor"),
    ("top-level-list", "- id: mini\n- name: x\n", 1, "must be a mapping"),
    ("top-level-scalar", "just a string\n", 1, "must be a mapping"),
    ("empty-file", "", 1, "empty file"),
    ("comments-only", "# nothing here\n\n", 1, "empty file"),
    ("two-documents", MINI + "---\nid: second\n", 35, "single document"),
    ("deep-flow-nesting", "a: " + "[" * 20000 + "]" * 20000 + "\n", 1, "nesting deeper than 64"),
    (
        "deep-block-nesting",
        "".join(" " * i + f"k{i}:\n" for i in range(600)) + " " * 600 + "v\n",
        1,
        "too deep",
    ),
    ("many-nodes", "x: [" + ",".join(["1"] * 25_000) + "]\n", 1, "more than 20000 YAML nodes"),
    (
        "binary-junk",
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\xff\xfe",
        1,
        "binary",
    ),
    ("nul-later", MINI.encode()[:40] + b"\x00" + MINI.encode()[40:], 3, "binary"),
    ("not-utf8", b"id: mini\nname: caf\xe9\n", 2, "not UTF-8"),
    # the schema's extensions: requires, threshold access, ongoing assessments, publication date
    (
        "capability-without-level",
        replace_line(24, ""),
        21,
        "names the level it triggers, or the safeguards it requires",
    ),
    (
        "requires-unknown-safeguard",
        insert_after(24, "    requires: [sg-nope]\n"),
        25,
        "requires 'sg-nope', which is not a safeguard of any level",
    ),
    (
        "requires-twice",
        insert_after(24, "    requires: [sg-low, sg-low]\n"),
        21,
        "requires lists a safeguard twice",
    ),
    ("requires-not-a-list", insert_after(24, "    requires: sg-low\n"), 25, "valid list"),
    ("bad-threshold-kind", insert_after(23, "    kind: ongoing\n"), 24, "'ongoing_assessment'"),
    (
        "ongoing-assessment-with-level",
        insert_after(23, "    kind: ongoing_assessment\n"),
        21,
        "an ongoing assessment names the commitment it triggers (safeguards), and no level",
    ),
    (
        "ongoing-assessment-without-commitment",
        replace_line(24, "    kind: ongoing_assessment\n"),
        21,
        "an ongoing assessment names the commitment",
    ),
    (
        "finding-with-access",
        replace_line(
            32,
            "    kind: finding\n    safeguards: [{id: rv, kind: development, text: Review.}]\n"
            "    access: {allowed_tiers: [partner]}\n",
        ),
        29,
        "a finding names the safeguards it requires, and no level (it raises none), requires or access",
    ),
    (
        "threshold-access-bad-tier",
        insert_after(24, "    access: {allowed_tiers: [nobody]}\n"),
        25,
        "'public'",
    ),
    ("published-not-a-date", insert_after(4, 'published: "April 2025"\n'), 5, "pattern"),
    (
        "safeguard-id-clash",
        insert_after(24, "    safeguards: [{id: sg-high, kind: security, text: Something else.}]\n"),
        25,
        "duplicate safeguard id 'sg-high' (a different safeguard has this id)",
    ),
    ("control-char", "id: mini\nname: a\x07b\n", 2, "not a text file"),
]


@pytest.mark.parametrize(("case", "content", "line", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file(case: str, content: str | bytes, line: int, reason: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(FrameworkError) as info:
        load_framework(path)
    assert time.perf_counter() - start < 5.0  # adversarial inputs fail fast (unguarded, these take minutes)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"^{re.escape(str(path))}:{line}: \S", message), message
    assert reason in message, message
    assert (info.value.file, info.value.line) == (str(path), line)


def test_schema_extensions_accept_what_the_published_frameworks_need() -> None:
    # a threshold that needs one safeguard of a level, one with its own safeguards and access, an
    # ongoing assessment; a safeguard shared by two thresholds (a YAML alias) or equal to a level's
    text = replace_line(
        24, "    requires: [sg-high]\n    safeguards: [&sg {id: sg-x, kind: security, text: X.}]\n"
    ) + (
        "  - id: oa\n    name: Ongoing\n    domain: cyber\n    kind: ongoing_assessment\n"
        '    source: {text: "Quoted.", url: https://example.org/mini, document: Mini, version: "1"}\n'
        "    safeguards: [*sg, {id: sg-high, kind: security, text: Weight security.}]\n"
        "    access: {allowed_tiers: [partner, verified_defender], offense_classifier: true}\n"
        '    rule: {metric: cyber.exploit.t5, op: ">=", value: 0.25}\n'
        "    rationale: Because.\n"
    )
    fw = parse_framework(text, "x.yaml")
    exploit, _bio, oa = fw.thresholds
    assert exploit.level is None and exploit.requires == ["sg-high"]
    assert [s.id for s in fw.required_safeguards(exploit)] == ["sg-high", "sg-x"]
    assert oa.kind == "ongoing_assessment" and oa.access is not None
    assert oa.access.allowed_tiers == ["verified_defender", "partner"]  # canonical order
    assert parse_framework(dump_framework(fw), "again.yaml") == fw
    dated = parse_framework(insert_after(4, 'published: "2025-04-15"\n'), "d.yaml")
    assert dated.published == "2025-04-15" and parse_framework(MINI, "m.yaml").published is None


def test_huge_file_is_rejected_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(MINI + "# " + "x" * 300_000 + "\n", encoding="utf-8")
    with pytest.raises(FrameworkError, match=r"huge\.yaml:1: file larger than"):
        load_framework(path)


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(FrameworkError, match=r"nope\.yaml:0: cannot read"):
        load_framework(tmp_path / "nope.yaml")
    with pytest.raises(
        FrameworkError, match=r"^nonesuch:0: cannot read .*built-ins: rsp, preparedness, fsf, rsp-3.4"
    ):
        load_framework("nonesuch")
    with pytest.raises(FrameworkError, match=r":0: cannot read"):
        load_framework(tmp_path)  # a directory


def test_parse_framework_names_the_given_file() -> None:
    with pytest.raises(FrameworkError, match=r"^frameworks/x\.yaml:24: thresholds\[0\]\.level: "):
        parse_framework(replace_line(24, "    level: extreme\n"), "frameworks/x.yaml")


def test_every_malformed_case_differs_from_mini() -> None:
    # guard against an edit helper silently producing the valid file
    assert parse_framework(MINI, "mini.yaml").id == "mini"
    for case, content, _line, _reason in MALFORMED:
        assert content not in (MINI, MINI.encode()), case


def _mutations() -> list[Callable[[str], str]]:
    return [lambda s: s.replace("0.25", "-0.5", 1), lambda s: s.replace("high\n", "High\n", 1)]


@pytest.mark.parametrize("mutate", _mutations())
def test_semantic_mutations_are_rejected(mutate: Callable[[str], str]) -> None:
    # value -0.5 for a rate; level 'High' does not exist (ids are case-sensitive)
    with pytest.raises(FrameworkError, match=r"^m\.yaml:\d+: thresholds\[0\]"):
        parse_framework(mutate(MINI), "m.yaml")
