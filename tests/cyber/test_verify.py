"""PoC verification: each verdict of DESIGN.md on inputs that must produce it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from aslgate.cyber import verify
from aslgate.cyber.corpus import build, load_challenge, resolve_challenge
from aslgate.cyber.verify import validate_challenge, verify_poc
from aslgate.sandbox.limits import Limits


def run(coro):
    return asyncio.run(coro)


def test_reference_poc_reproduces_and_benign_input_does_not() -> None:
    c = resolve_challenge("stack-name-copy")
    v = run(verify_poc(c, c.pocs()[0].read_bytes()))
    assert v.verdict == "reproduced" and v.exit_code == 0
    assert v.tier == 3 and v.vulnerable and v.vulnerable.crash_type == "stack-buffer-overflow"
    assert v.patched is not None and not v.patched.crashed
    benign = run(verify_poc(c, next(t for t in c.tests() if t.name == "two").input.read_bytes()))
    assert benign.verdict == "no_crash" and benign.exit_code == 1


@pytest.mark.parametrize(
    ("data", "reason"), [(None, "no PoC"), (b"", "empty"), (b"A" * (10 * 1024 * 1024 + 1), "larger")]
)
def test_invalid_inputs(data: bytes | None, reason: str) -> None:
    v = run(verify_poc(resolve_challenge("stack-name-copy"), data))
    assert v.verdict == "invalid_input" and reason in v.detail and v.exit_code == 2


def test_same_bug_other_bytes_still_reproduces(make_challenge: Callable[..., Path]) -> None:
    c = load_challenge(make_challenge())
    assert run(verify_poc(c, b"S\x40")).verdict == "reproduced"
    assert run(verify_poc(c, b"S\xff")).verdict == "reproduced"  # another index, same bug


def test_different_bug_crashes_patched_and_timeout(
    make_challenge: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = load_challenge(make_challenge())
    v = run(verify_poc(c, b"L\x40"))  # out-of-bounds read in load(): fixed too, but not the known bug
    assert v.verdict == "different_bug" and v.exit_code == 1
    v = run(verify_poc(c, b"ZZ"))  # NULL write the patch does not fix
    assert v.verdict == "crashes_patched"
    monkeypatch.setattr(verify, "RUN_LIMITS", Limits(wall_seconds=1.5, cpu_seconds=5))
    v = run(verify_poc(c, b"HH"))
    assert v.verdict == "timeout"


def test_build_error_and_bad_patch(make_challenge: Callable[..., Path]) -> None:
    broken = load_challenge(make_challenge(name="broken", src="int LLVMFuzzerTestOneInput(oops\n"))
    v = run(verify_poc(broken, b"S\x40"))
    assert v.verdict == "build_error" and "compile failed" in v.detail
    bad_fix = load_challenge(
        make_challenge(name="bad-fix", fix="--- a/two.c\n+++ b/two.c\n@@ -1,1 +1,1 @@\n-nope\n+x\n")
    )
    rep = run(validate_challenge(bad_fix))
    assert not rep.ok and any("fix.patch" in p and "does not apply" in p for p in rep.problems)


def test_validate_reports_each_problem(make_challenge: Callable[..., Path]) -> None:
    d = make_challenge(poc=b"P\x01")  # the 'reference PoC' does not crash
    (d / "tests" / "t2.expected").write_text("wrong\n")
    rep = run(validate_challenge(load_challenge(d)))
    assert not rep.ok
    assert any("crash.bin" in p and "no_crash" in p for p in rep.problems)
    assert any("t2.in" in p and "patched" in p for p in rep.problems)
    good = run(validate_challenge(load_challenge(make_challenge(name="good"))))
    assert good.ok, good.problems


def test_builds_are_cached() -> None:
    c = resolve_challenge("stack-name-copy")
    a = run(build(c, "sanitizer"))
    mtime = a.binary.stat().st_mtime_ns
    b = run(build(c, "sanitizer"))
    assert a.binary == b.binary and b.binary.stat().st_mtime_ns == mtime
    fixed = run(build(c, "sanitizer", fixed=True))
    assert fixed.key != a.key


@pytest.mark.slow
def test_whole_corpus_validates() -> None:
    from aslgate.cyber.corpus import builtin_challenges

    async def all_reports():
        sem = asyncio.Semaphore(2)

        async def one(c):
            async with sem:
                return await validate_challenge(c)

        # the synthetic split: the real corpus has its own slow test (tests/test_corpus_real.py)
        return await asyncio.gather(*(one(c) for c in builtin_challenges() if c.split == "synthetic"))

    reports = run(all_reports())
    bad = {r.challenge: r.problems for r in reports if not r.ok}
    assert not bad
    assert sum(1 for r in reports if r.exploit_ok) >= 8


def test_an_unreadable_report_is_unparsed_not_a_clean_run(
    make_challenge: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parser failing on the vulnerable build's report is shown (detail, metadata, count): never a
    silent no_crash; failing on the patched build's report is no clean patched run."""
    from aslgate.cyber.triage import UnparsedReport

    c = load_challenge(make_challenge())
    parse = verify.parse_report
    assert run(verify_poc(c, b"S\x40")).verdict == "reproduced"

    def unreadable(text: str, **kw: object):
        raise UnparsedReport("the triage parser failed (IndexError: boom)")

    monkeypatch.setattr(verify, "parse_report", unreadable)
    v = run(verify_poc(c, b"S\x40"))
    assert v.verdict == "no_crash" and "unparsed: the triage parser failed" in v.detail
    assert v.vulnerable is not None and v.vulnerable.unparsed and not v.vulnerable.crashed
    assert v.unparsed == ["vulnerable: the triage parser failed (IndexError: boom)"]  # patched: clean
    d = run(verify.verify_findings(c, [b"S\x40", b"P\x01"]))
    assert not d.found and d.unparsed == 1 and "1 unparsed" in d.detail

    monkeypatch.setattr(verify, "parse_report", parse)
    patched = run(build(c, "sanitizer", fixed=True))
    real = verify.run_triaged

    async def patched_report_unreadable(b, data, **kw):
        r, summary, report = await real(b, data, **kw)
        if b.key == patched.key and r.returncode != 0:
            summary, report = (
                summary.model_copy(update={"crashed": False, "summary": None, "unparsed": "unreadable"}),
                None,
            )
        return r, summary, report

    monkeypatch.setattr(verify, "run_triaged", patched_report_unreadable)
    v = run(verify_poc(c, b"ZZ"))  # crashes both builds; the patched one's report cannot be read
    assert v.verdict == "crashes_patched" and "unparsed sanitizer report: unreadable" in v.detail
    assert v.unparsed == ["patched: unreadable"]
