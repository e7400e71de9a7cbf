"""The corpus meets its brief, and bad challenge folders are rejected with file and reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from aslgate.cyber.corpus import ChallengeError, builtin_challenges, load_challenge, resolve_challenge


def test_corpus_size_and_spread() -> None:
    cs = builtin_challenges()
    assert len(cs) >= 24
    assert len({c.spec.bug_class for c in cs}) >= 8
    assert len({c.id for c in cs}) == len(cs)
    for c in cs:
        assert len(c.tests()) >= 3, c.id
        assert c.pocs(), c.id
        assert c.spec.description.strip(), c.id


def test_news_modelled_challenges_present() -> None:
    ids = {c.id for c in builtin_challenges()}
    assert {"tcp-sack-options", "h264-slice-counter", "rpc-auth-creds"} <= ids


def test_at_least_eight_exploitable() -> None:
    exploitable = [c for c in builtin_challenges() if c.spec.exploit]
    assert len(exploitable) >= 8
    assert all(c.exploit_script is not None for c in exploitable)


def test_sources_do_not_announce_the_bug() -> None:
    for c in builtin_challenges():  # our own text: real code is upstream's, only our harness is checked
        for s in c.spec.sources if c.split == "synthetic" else ["src/aslgate_fuzzer.c"]:
            if not (c.path / s).is_file():
                continue
            text = (c.path / s).read_text().lower()
            for word in (r"\bbug\b", "vulnerab", "overflow here", "exploit", r"\bfixme\b"):
                assert not re.search(word, text), f"{c.id}/{s} mentions {word!r}"


def test_resolve_by_id_and_path(make_challenge: Callable[..., Path]) -> None:
    assert resolve_challenge("stack-name-copy").id == "stack-name-copy"
    d = make_challenge()
    assert resolve_challenge(str(d)).id == "two-bugs"
    with pytest.raises(ChallengeError, match="no such challenge"):
        resolve_challenge("no-such-thing")


def _expect(d: Path, pattern: str) -> None:
    with pytest.raises(ChallengeError, match=pattern) as e:
        load_challenge(d)
    assert "\n" not in str(e.value)


def test_missing_yaml(make_challenge: Callable[..., Path]) -> None:
    d = make_challenge()
    (d / "challenge.yaml").unlink()
    _expect(d, r"challenge\.yaml: missing")


def test_invalid_yaml_names_line(make_challenge: Callable[..., Path]) -> None:
    d = make_challenge(yaml_text="id: x\ntitle: [unclosed\n")
    _expect(d, r"challenge\.yaml:3: YAML syntax error")


@pytest.mark.parametrize(
    ("yaml_text", "pattern"),
    [
        ("- a list\n", r"challenge\.yaml:1: top level must be a mapping of challenge fields"),
        ("", r"challenge\.yaml:1: empty file: expected a mapping of challenge fields"),
        ("id: two-bugs\n", r"challenge\.yaml:1: \(top level\): missing field 'title'"),
        (
            "id: two-bugs\ntitle: t\nbug_class: b\ncwe: CWE-1\ndescription: d\nseverity_expected: T9\nsources: [src/two.c]\n",
            "severity_expected",
        ),
        (
            "id: two-bugs\ntitle: t\nbug_class: b\ncwe: CWE-1\ndescription: d\nseverity_expected: T3\nsources: [../../etc/passwd]\n",
            "must be a .c file under src/",
        ),
        (
            "id: two-bugs\ntitle: t\nbug_class: b\ncwe: CWE-1\ndescription: d\nseverity_expected: T3\nsources: [src/two.c]\ncflags: -fplugin=/tmp/x.so\n",
            "not allowed",
        ),
        (
            "id: two-bugs\ntitle: t\nbug_class: b\ncwe: CWE-1\ndescription: d\nseverity_expected: T3\nsources: [src/two.c]\nsurprise: 1\n",
            "surprise",
        ),
        (
            "id: two-bugs\ntitle: t\nbug_class: b\ncwe: CWE-1\ndescription: d\nseverity_expected: T3\nsources: [src/missing.c]\n",
            "missing.c: source listed in challenge.yaml is missing",
        ),
    ],
)
def test_bad_fields(make_challenge: Callable[..., Path], yaml_text: str, pattern: str) -> None:
    _expect(make_challenge(yaml_text=yaml_text), pattern)


def test_missing_parts_are_all_reported(make_challenge: Callable[..., Path]) -> None:
    d = make_challenge()
    (d / "fix.patch").unlink()
    for p in (d / "poc").iterdir():
        p.unlink()
    (d / "tests" / "t0.in").unlink()
    (d / "tests" / "t1.expected").unlink()
    with pytest.raises(ChallengeError) as e:
        load_challenge(d)
    msg = str(e.value)
    for part in ("fix.patch: missing", "no reference PoC", "2 functional tests", "t1.expected"):
        assert part in msg


def test_exploit_needs_generator(make_challenge: Callable[..., Path]) -> None:
    d = make_challenge()
    (d / "challenge.yaml").write_text((d / "challenge.yaml").read_text() + "exploit: true\n")
    _expect(d, "exploit.py")


def test_not_a_directory(tmp_path: Path) -> None:
    _expect(tmp_path / "nope", "no such directory")
