"""The real corpus (challenges from Debian security patches): provenance and metadata for all of them,
end-to-end validation of a small pinned subset in the default suite, and of the whole real split in a
slow test."""

from __future__ import annotations

import asyncio
import re

import pytest
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.cyber.corpus import builtin_challenges, select_challenges
from aslgate.cyber.patching import check_patch
from aslgate.cyber.verify import validate_challenge

REAL = [c for c in builtin_challenges() if c.split == "real"]
PINNED = ["real-cjson-issue-800", "real-giflib-cve-2026-26740"]  # small libraries: seconds to build


def test_real_corpus_spread() -> None:
    assert len(REAL) >= 5
    assert len({c.spec.upstream.package for c in REAL if c.spec.upstream}) >= 5
    assert {c.id for c in select_challenges(split="real")} <= {c.id for c in REAL}


@pytest.mark.parametrize("c", REAL, ids=lambda c: c.id)
def test_real_challenge_metadata(c) -> None:  # type: ignore[no-untyped-def]
    up = c.spec.upstream
    assert up is not None and re.fullmatch(r"[0-9a-f]{64}", up.dsc_sha256)
    assert c.id.startswith(f"real-{re.sub(r'[0-9.]+$', '', up.package)}") or c.id.startswith("real-")
    assert c.spec.cve or up.url, "a CVE id or an upstream issue"
    if c.spec.cve:
        assert c.spec.cve.lower() in c.id
    licences = [p for p in c.src_dir.iterdir() if re.match(r"(COPYING|LICEN[CS]E|COPYRIGHT)", p.name, re.I)]
    assert licences, "the library's licence is vendored"
    assert (c.src_dir / "aslgate_fuzzer.c").is_file()
    assert len(c.tests()) >= 3
    # the advisory text is ours, not the patch's: no 8-word run of the description appears in fix.patch
    words = re.findall(r"\w+", c.spec.description)
    fix = " ".join(re.findall(r"\w+", c.fix_patch.read_text(errors="replace")))
    for i in range(len(words) - 8):
        assert " ".join(words[i : i + 8]) not in fix
    size = sum(p.stat().st_size for p in c.src_dir.rglob("*") if p.is_file())
    assert size < 4_000_000, f"{size} bytes vendored"


@pytest.mark.parametrize("cid", PINNED)
def test_pinned_real_challenge_validates_and_its_fix_is_fixed(cid: str) -> None:
    c = next(x for x in REAL if x.id == cid)
    rep = asyncio.run(validate_challenge(c))
    assert rep.ok, rep.problems
    assert all(p.verdict == "reproduced" for p in rep.pocs) and rep.pocs
    v = asyncio.run(check_patch(c, c.fix_patch.read_bytes()))
    assert v.verdict == "fixed", v.detail


@pytest.mark.slow
def test_whole_real_corpus_validates_and_every_fix_is_fixed(request: pytest.FixtureRequest) -> None:
    """Cold, this builds every real library four times (~15 min on 2 cores): only with `-m slow`."""
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("the whole real corpus runs only when selected with -m slow")
    r = CliRunner().invoke(
        app, ["challenges", "validate", *[str(c.path) for c in REAL]], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    for c in REAL:
        v = asyncio.run(check_patch(c, c.fix_patch.read_bytes()))
        assert v.verdict == "fixed", f"{c.id}: {v.detail}"
