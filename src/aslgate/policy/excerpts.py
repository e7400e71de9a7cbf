"""Published wording: the passages each built-in framework quotes, stored verbatim with their source,
and the check that every quote in a framework file is one of them (so an edit cannot drift silently)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from aslgate.policy.framework import FRAMEWORKS_DIR, Framework

EXCERPTS_DIR = FRAMEWORKS_DIR / "excerpts"
_QUOTE = re.compile(r"“([^”]+)”")  # a quoted passage inside a safeguard or level description
_ELLIPSIS = re.compile(r"\s*(?:…|\.\.\.)\s*")
# a footnote marker glued to a word in the extraction: "cyberattacks11 on", "harm.4 That", "more.13"
_MARKER = re.compile(r"(?<=[A-Za-z.,;:)”’])\d{1,2}(?=\s|$)")
_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "‚": ",", "\u00ad": None})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Pdf(_Strict):
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Extraction(_Strict):
    """The text the passages were copied from (the PDF as extracted by the PRISM project)."""

    repository: str
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Passage(_Strict):
    """Verbatim pieces of consecutive lines of the extraction (a table cell: read down its column)."""

    id: str
    where: str
    lines: list[str] = Field(min_length=1)

    @property
    def text(self) -> str:
        return " ".join(self.lines)


class Excerpts(_Strict):
    """One published framework document: where it is, and the passages aslgate quotes from it."""

    document: str
    version: str
    published: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    url: str
    pdf: Pdf
    extraction: Extraction
    passages: list[Passage] = Field(min_length=1)


def normalise(text: str) -> str:
    """Comparison form: Unicode-folded quotes, no whitespace and no hyphens (the extraction splits and
    joins words at line ends: "pro-\\nvide", "uswhenwe", "b e")."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    return re.sub(r"[\s\-‐‑]+", "", text)


def _forms(passage: str) -> tuple[str, str]:
    return normalise(passage), normalise(_MARKER.sub("", passage))


def quoted_in(quote: str, passages: list[Passage]) -> str | None:
    """Id of the passage that holds the quote (fragments split at "…" must appear in order), or None."""
    fragments = [normalise(f) for f in _ELLIPSIS.split(quote.strip()) if f.strip()]
    if not fragments:
        return None
    for p in passages:
        for form in _forms(p.text):
            at = 0
            for frag in fragments:
                at = form.find(frag, at)
                if at < 0:
                    break
                at += len(frag)
            else:
                return p.id
    return None


@lru_cache(maxsize=16)
def load_excerpts(framework_id: str, directory: Path = EXCERPTS_DIR) -> Excerpts | None:
    """The stored excerpts of a built-in framework (excerpts/<id>.yaml), or None if there are none."""
    path = directory / f"{framework_id}.yaml"
    if not path.is_file():
        return None
    return Excerpts.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def quotes(framework: Framework, document: str, version: str) -> list[tuple[str, str, str, str]]:
    """Every quote in a framework: (where, document, version, text). Source texts are quotes whole;
    in level descriptions and safeguard texts, what stands between “curly quotes” is a quote from the
    framework's own document (`document`, `version`)."""
    out = [
        (f"principles.{p.id}", p.source.document, p.source.version, p.source.text)
        for p in framework.principles
    ]
    for t in framework.thresholds:
        out.append((f"thresholds.{t.id}", t.source.document, t.source.version, t.source.text))
    doc, ver = document, version
    prose = [(f"levels.{lv.id}", lv.description) for lv in framework.levels]
    prose += [(f"levels.{lv.id}.{s.id}", s.text) for lv in framework.levels for s in lv.safeguards]
    prose += [(f"thresholds.{t.id}.{s.id}", s.text) for t in framework.thresholds for s in t.safeguards]
    out += [(where, doc, ver, m) for where, text in prose for m in _QUOTE.findall(text)]
    return out


def unquoted(framework: Framework, directory: Path = EXCERPTS_DIR) -> list[str]:
    """Problems, one line each: quotes not found in the framework's stored excerpts ([] if all are)."""
    ex = load_excerpts(framework.id, directory)
    if ex is None:
        return [f"{framework.id}: no excerpt file {directory / (framework.id + '.yaml')}"]
    problems = []
    if (ex.version, ex.published) != (framework.version, framework.published):
        problems.append(
            f"{framework.id}: version {framework.version} of {framework.published}, but the excerpts are of"
            f" {ex.version} of {ex.published}"
        )
    found = quotes(framework, ex.document, ex.version)
    inline = {where for where, *_ in found[len(framework.principles) + len(framework.thresholds) :]}
    for where, document, version, text in found:
        if (document, version) != (ex.document, ex.version):
            problems.append(
                f"{framework.id}: {where} cites {document} {version}, not {ex.document} {ex.version}"
            )
        elif where in inline and "“" in text:  # a nested curly quote cuts the outer one short
            problems.append(f"{framework.id}: {where}: a quote inside a quote must use straight quotes")
        elif quoted_in(text, ex.passages) is None:
            problems.append(
                f"{framework.id}: {where}: not in the published text: {' '.join(text.split())[:90]!r}"
            )
    return problems
