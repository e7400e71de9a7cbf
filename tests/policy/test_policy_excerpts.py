"""Published wording: every quote in a built-in framework is in the excerpts the project ships, and the
excerpts are verbatim copies of the published texts (checked when the shared copies are present)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from aslgate.policy.excerpts import EXCERPTS_DIR, load_excerpts, normalise, quoted_in, quotes, unquoted
from aslgate.policy.framework import BUILTIN_FILES, Framework, load_framework

SHARED = Path("/work/shared/data/frameworks")  # the extracted texts; optional (the project never reads it)
MAX_GAP = 30  # lines between two pieces of one passage (a table cell continued after a page break)


@pytest.mark.parametrize("name", BUILTIN_FILES)
def test_every_quote_is_in_the_published_text(name: str) -> None:
    fw = load_framework(name)
    assert unquoted(fw) == []
    ex = load_excerpts(name)
    assert ex is not None and (ex.version, ex.published, ex.url) == (fw.version, fw.published, fw.url)
    found = quotes(fw, ex.document, ex.version)
    assert len(found) > len(fw.thresholds)  # sources, plus the quotes inside safeguards and levels


def _edit(fw: Framework, threshold: str, text: str) -> Framework:
    data = fw.model_dump()
    for t in data["thresholds"]:
        if t["id"] == threshold:
            t["source"]["text"] = text
    return Framework.model_validate(data)


def test_a_paraphrase_or_an_edit_is_caught() -> None:
    pf = load_framework("preparedness-2")
    # the wording the file had before (a paraphrase presented as a quote)
    old = (
        "The model can provide meaningful assistance to novice actors with basic relevant training, "
        "enabling them to create known biological or chemical threats."
    )
    [problem] = unquoted(_edit(pf, "bio.high", old))
    assert problem.startswith("preparedness-2: thresholds.bio.high: not in the published text")
    one_word = pf.model_dump()["thresholds"][3]["source"]["text"].replace("hardened", "unhardened")
    assert unquoted(_edit(pf, "cyber.critical.zero-day", one_word))
    # a quote inside a safeguard's text is checked too
    data = pf.model_dump()
    data["levels"][1]["safeguards"][0]["text"] = "“Require security controls meeting Low standard”"
    assert any("levels.high.high-security-controls" in p for p in unquoted(Framework.model_validate(data)))
    data["levels"][1]["safeguards"][0]["text"] = "“Require “security” controls meeting High standard”"
    assert any("straight quotes" in p for p in unquoted(Framework.model_validate(data)))
    # a source citing another version, or a file of another version than its excerpts
    data = pf.model_dump()
    data["thresholds"][0]["source"]["version"] = "3"
    assert any("cites OpenAI Preparedness Framework 3" in p for p in unquoted(Framework.model_validate(data)))
    data = pf.model_dump()
    data["id"] = "preparedness-9"
    [problem] = unquoted(Framework.model_validate(data))
    assert "preparedness-9: no excerpt file" in problem
    data = pf.model_dump()
    data["published"] = "2025-04-16"
    assert any("excerpts are of 2 of 2025-04-15" in p for p in unquoted(Framework.model_validate(data)))


def test_the_items_fixed_from_memory_are_not_in_the_published_texts() -> None:
    fsf2, fsf3 = load_excerpts("fsf-2.0"), load_excerpts("fsf-3.1")
    assert fsf2 is not None and fsf3 is not None
    mixed = (
        "Has been used to accelerate AI development, resulting in AI progress substantially "
        "accelerating (e.g. 2x) from 2020-2024 rates."
    )  # the old file's ML R&D text: 3.x opening, 2.0 ending
    assert quoted_in(mixed, fsf2.passages) is None and quoted_in(mixed, fsf3.passages) is None
    autonomy = "Can be used to drastically reduce the cost (e.g. through full automation)"
    assert quoted_in(autonomy, fsf2.passages) == "cyber-autonomy-1"
    assert quoted_in(autonomy, fsf3.passages) is None  # dropped in 3.0
    rsp22 = load_excerpts("rsp-2.2")
    assert rsp22 is not None
    assert quoted_in("The ASL-3 Security Standard is required.", rsp22.passages) == "ai-rnd-4-safeguards"
    assert quoted_in("The ASL-3 Deployment Standard is required.", rsp22.passages) is None


def test_comparison_forgives_layout_not_words() -> None:
    ex = load_excerpts("preparedness-2")
    assert ex is not None
    # "pro-\nvide", "counterfac-\ntual", typographic quotes in the text, ASCII in the quote
    q = 'The model can provide meaningful counterfactual assistance (relative to unlimited access to baseline of tools available in 2021) to "novice" actors'
    assert quoted_in(q, ex.passages) == "bio-high"
    assert quoted_in(q.replace("meaningful", "significant"), ex.passages) is None
    assert quoted_in("The model can provide … to “novice” actors", ex.passages) == "bio-high"
    assert quoted_in("to “novice” actors … The model can provide", ex.passages) is None  # order matters
    fsf = load_excerpts("fsf-2.0")
    assert fsf is not None  # a footnote marker glued to a word ("cyberattacks11 on") is not part of it
    assert (
        quoted_in("carrying out end-to-end cyberattacks on organizations", fsf.passages) == "cyber-autonomy-1"
    )
    assert (
        quoted_in("carrying out end-to-end cyberattacks11 on organizations", fsf.passages)
        == "cyber-autonomy-1"
    )
    assert normalise("B ackground  and uswhen we") == normalise("Background and us when we")
    assert quoted_in("", ex.passages) is None


def test_excerpt_files_are_self_describing() -> None:
    files = sorted(p.stem for p in EXCERPTS_DIR.glob("*.yaml"))
    assert files == sorted(BUILTIN_FILES)
    for name in files:
        ex = load_excerpts(name)
        assert ex is not None and ex.url.startswith("https://") and len(ex.passages) >= 5
        assert len({p.id for p in ex.passages}) == len(ex.passages)
        assert ex.extraction.repository == "caiitlinm/PRISM"


# ---------------------------------------------------------------- against the shared copies (optional)


def _source_table() -> dict[str, tuple[str, str]]:
    """SOURCE.md: identifier -> (date, PDF sha256)."""
    rows = re.findall(r"^\| (\S+) \([^)]*\) \| (\d{4}-\d{2}-\d{2}) \| \d+ \| ([0-9a-f]{64}) \|$",
                      (SHARED / "SOURCE.md").read_text(encoding="utf-8"), re.M)  # fmt: skip
    return {ident: (date, sha) for ident, date, sha in rows}


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared framework texts are not on this machine")
@pytest.mark.parametrize("name", BUILTIN_FILES)
def test_excerpts_are_verbatim_copies_of_the_shared_texts(name: str) -> None:
    ex = load_excerpts(name)
    assert ex is not None
    ident = Path(ex.extraction.path).name.removesuffix(".clean.txt")
    local = SHARED / Path(ex.extraction.path).name
    raw = local.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == ex.extraction.sha256
    assert _source_table()[ident] == (ex.published, ex.pdf.sha256)
    manifest = {
        r["identifier"]: r
        for r in map(json.loads, (SHARED / "manifest.jsonl").read_text(encoding="utf-8").splitlines())
    }
    assert manifest[ident]["sha256"] == ex.pdf.sha256 and manifest[ident]["date"] == ex.published
    lines = raw.decode("utf-8").split("\n")
    for p in ex.passages:
        starts = [i for i, line in enumerate(lines) if p.lines[0] in line]
        assert starts, f"{name}:{p.id}: {p.lines[0]!r} is not in {local.name}"
        assert any(_follows(lines, i, p.lines[1:]) for i in starts), f"{name}:{p.id}: pieces not in order"


def _follows(lines: list[str], at: int, pieces: list[str]) -> bool:
    """Each piece is part of a later line, at most MAX_GAP lines after the previous piece's line."""
    for piece in pieces:
        nxt = next((j for j in range(at + 1, min(len(lines), at + 1 + MAX_GAP)) if piece in lines[j]), None)
        if nxt is None:
            return False
        at = nxt
    return True


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared framework texts are not on this machine")
def test_verbatim_check_fails_on_a_piece_that_is_not_in_the_text() -> None:
    lines = (SHARED / "OAI-PF-v2.clean.txt").read_text(encoding="utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if "[High] The model can pro-" in line)
    assert _follows(lines, at, ["vide meaningful counterfac-", "tual assistance (relative to"])
    assert not _follows(lines, at, ["vide meaningful assistance"])
    assert not _follows(lines, at, ["tual assistance (relative to", "vide meaningful counterfac-"])
