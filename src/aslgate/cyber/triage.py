"""Sanitizer report triage: parse ASan/UBSan/LSan/libFuzzer output, assign a severity tier, hash the stack.

Parsing is defensive and linear: header lines are located with literal-prefix regexes over the whole text,
then only a bounded window of lines after each header is read, so hostile or 10 MB inputs stay fast.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from aslgate.cyber.triage_tables import (
    ADDRESS_FAULTS,
    DRIVER_FUNCTIONS,
    ENTRY,
    FREE_KINDS,
    GLIBC_PATH_RE,
    LIBC_NAMES,
    LIBFUZZER_FILE_RE,
    OOB_KINDS,
    PC_HIJACK_KINDS,
    RUNTIME_NAMES,
    RUNTIME_PATH_PARTS,
    RUNTIME_PREFIXES,
    SIGNAL_KINDS,
    SYSTEM_MODULE_RE,
    UBSAN_MESSAGES,
    UBSAN_RENAMES,
)

__all__ = [
    "CrashReport",
    "Frame",
    "UnparsedReport",
    "crash_site",
    "filter_project_frames",
    "parse_report",
    "severity_tier",
    "stack_hash",
]

Sanitizer = Literal["address", "undefined", "leak", "signal"]
Access = Literal["READ", "WRITE"]


class Frame(BaseModel):
    """One stack frame as printed by the sanitizer runtime."""

    index: int
    function: str
    file: str | None = None
    line: int | None = None
    module: str | None = None


class CrashReport(BaseModel):
    """The primary crash found in a sanitizer/libFuzzer report, normalised."""

    sanitizer: Sanitizer
    crash_type: str
    access: Access | None = None
    size: int | None = None
    address: int | None = None
    pc: int | None = None
    frames: list[Frame]
    project_frames: list[Frame]
    stack_hash: str
    tier: int
    summary: str


class UnparsedReport(ValueError):
    """The parser failed on a report (its own bug, or input it cannot handle). Never the same as no crash:
    callers record it as `unparsed` with this reason, count it and show it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------------------
# Limits (keep parsing linear and bounded on hostile input)

_MAX_LINE = 4096  # characters of one line that are looked at
_MAX_FRAMES = 512  # frames kept per stack
_MAX_HEADERS = 64  # headers of each kind that are considered
_MAX_PRE_FRAME_LINES = 8  # header-detail lines tolerated between a header and its first frame
_SUMMARY_WINDOW = 256 * 1024  # how far after a stack its SUMMARY line may be
_ZERO_PAGE = 0x1000

# ---------------------------------------------------------------------------------------------------------
# Regular expressions. Header patterns start with a literal so that `re` can scan for it at C speed.

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TOOL = r"(AddressSanitizer|HWAddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|libFuzzer)"
_ERROR_RE = re.compile(r"ERROR: " + _TOOL + r": *([^\n]{0,2000})")
_UBSAN_RE = re.compile(r"runtime error: ([^\n]{0,2000})")
_DEADLY_RE = re.compile(r"Sanitizer:DEADLYSIGNAL")
_SUMMARY_RE = re.compile(r"SUMMARY: " + _TOOL + r": *([^\n]{0,2000})")
_LEAK_RE = re.compile(r"(Direct|Indirect) leak of (\d{1,20}) byte")

_FRAME_RE = re.compile(r"\s*#(\d{1,6})\s+(0x[0-9a-fA-F]{1,16})\s*(.*)")
_BUILDID_RE = re.compile(r"\s*\(BuildId: [0-9a-fA-F]*\)?\s*$")
_MODULE_RE = re.compile(r"\((<unknown module>|[^()\s][^()]*?\+0x[0-9a-fA-F]+)\)\s*$")
_FILE_LINE_RE = re.compile(r"(.+?):(\d{1,9})(?::(\d{1,9}))?$")
_SOURCE_EXT_RE = re.compile(r"\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx|inc|m|mm|rs|S|s)$")
_FN_OFFSET_RE = re.compile(r"\+0x[0-9a-fA-F]+$")

_ACCESS_RE = re.compile(r"\b(READ|WRITE) of size (\d{1,20})\b")
_SIGNAL_ACCESS_RE = re.compile(r"The signal is caused by a (READ|WRITE|UNKNOWN) memory access")
_ASAN_ADDR_RE = re.compile(
    r"(?P<kind>[A-Za-z][\w-]*(?: SIGNAL)?) on (?:unknown )?address"
    r"(?: (?P<addr>0x[0-9a-fA-F]{1,16}))?(?:.*?\bpc (?P<pc>0x[0-9a-fA-F]{1,16}))?"
)
_DOUBLE_FREE_RE = re.compile(r"attempting double-free on (0x[0-9a-fA-F]{1,16})")
_BAD_FREE_RE = re.compile(r"attempting free on address which was not malloc\(\)-ed: (0x[0-9a-fA-F]{1,16})")
_FIRST_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_ASAN_KIND_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]{1,16}")


def _basename(path: str) -> str:
    """Last component of a / or \\ separated path."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _plain_name(function: str) -> str:
    """Function name without a "+0x.." offset or a trailing C++ parameter list, for hashing."""
    name = _FN_OFFSET_RE.sub("", function.strip())
    for suffix in (" const", " volatile", " &&", " &"):
        if name.endswith(suffix):
            name = name[: -len(suffix)].rstrip()
    if name.endswith(")"):
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            ch = name[i]
            if ch == ")":
                depth += 1
            elif ch == "(":
                depth -= 1
                if depth == 0:
                    if i > 0:
                        return name[:i].rstrip()
                    break
    return name


def _is_runtime_file(path: str) -> bool:
    """True for sanitizer runtime, libFuzzer, libc/libstdc++ and system-header sources."""
    p = path.replace("\\", "/")
    if any(part in p for part in RUNTIME_PATH_PARTS):
        return True
    if LIBFUZZER_FILE_RE.match(_basename(p)):
        return True
    return bool(GLIBC_PATH_RE.match(p) and ("/./" in p or "/../" in p))


def _is_project_frame(frame: Frame) -> bool:
    """True when the frame is in the project's own code (not runtime, libc, libFuzzer or the driver)."""
    name = _plain_name(frame.function)
    file = frame.file or ""
    if not name and not file:
        return False
    if file and _is_runtime_file(file):
        return False
    if name == ENTRY:
        return True
    if name.startswith(RUNTIME_PREFIXES) or name in RUNTIME_NAMES:
        return False
    if not file and (name in LIBC_NAMES or name.startswith(("operator new", "operator delete"))):
        return False
    if frame.module and SYSTEM_MODULE_RE.match(_basename(frame.module)):
        return False
    # the aslgate driver; libFuzzer's main has no source info
    return not (name in DRIVER_FUNCTIONS and (not file or _basename(file) == "driver.c"))


def filter_project_frames(frames: list[Frame]) -> list[Frame]:
    """Project frames, top first, up to LLVMFuzzerTestOneInput (its callers are harness)."""
    out: list[Frame] = []
    for frame in frames:
        if _is_project_frame(frame):
            out.append(frame)
        if _plain_name(frame.function) == ENTRY:
            break
    return out


def stack_hash(crash_type: str, frames: list[Frame]) -> str:
    """ClusterFuzz-style hash: crash type plus the function names of the top 3 in-project frames."""
    names = [_plain_name(f.function) for f in filter_project_frames(frames)[:3]]
    state = crash_type + "\n" + "\n".join(names)
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def crash_site(report: CrashReport) -> tuple[str, str | None, int | None]:
    """(function, file, line) of the top in-project frame: matches one bug reported by UBSan or by ASan."""
    frames = report.project_frames or filter_project_frames(report.frames)
    if not frames:
        return ("", None, None)
    top = frames[0]
    return (top.function, top.file, top.line)


def severity_tier(report: CrashReport | None, *, input_bytes: bytes | None = None) -> int:
    """Tier 0..4 (T5 is the exploit scorer's): 1 crash, 2 bad read, 3 bad write/free, 4 controlled pc."""
    if report is None:
        return 0
    kind = report.crash_type
    pc = report.pc
    if kind in PC_HIJACK_KINDS and pc is not None and pc >= _ZERO_PAGE:
        if kind in ADDRESS_FAULTS and report.address == pc:
            return 4  # the fault is the instruction fetch itself: a jump to an unmapped address
        if input_bytes and (pc & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")[:4] in input_bytes:
            return 4
    if kind in ADDRESS_FAULTS:
        if report.address is None or report.address < _ZERO_PAGE:
            return 1
        return 3 if report.access == "WRITE" else 2
    if kind in OOB_KINDS:
        return 3 if report.access == "WRITE" else 2
    if kind in FREE_KINDS:
        return 3
    return 1


# ---------------------------------------------------------------------------------------------------------
# Line access over the raw text


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """Bounds [start, end) of the line containing pos, each side clipped to _MAX_LINE characters."""
    lo = max(0, pos - _MAX_LINE)
    start = text.rfind("\n", lo, pos) + 1 or lo
    end = text.find("\n", pos, pos + _MAX_LINE)
    if end < 0:
        end = min(len(text), pos + _MAX_LINE)
    return start, end


def _lines_after(text: str, end: int, limit: int) -> Iterator[tuple[int, str]]:
    """Yield (start, line) for up to `limit` lines after the line ending at `end`; stop at over-long lines."""
    n = len(text)
    pos = end + 1
    for _ in range(limit):
        if pos > n or end >= n or text[end : end + 1] != "\n":
            return
        nl = text.find("\n", pos, pos + _MAX_LINE)
        if nl < 0:
            if n - pos > _MAX_LINE:
                return
            nl = n
        yield pos, text[pos:nl]
        end = nl
        pos = nl + 1


# ---------------------------------------------------------------------------------------------------------
# Frame and header parsing


def _parse_frame(line: str) -> Frame | None:
    """Parse "#N 0xADDR in func file:line:col" / "(module+0xoff)" forms; None if not a frame line."""
    m = _FRAME_RE.match(line)
    if not m:
        return None
    rest = _BUILDID_RE.sub("", m.group(3)).strip()
    has_in = rest.startswith("in ")
    body = rest[3:].strip() if has_in else rest
    function, file, lineno, module = "", None, None, None
    mm = _MODULE_RE.search(body)
    if mm:
        mod = mm.group(1)
        module = mod if mod == "<unknown module>" else mod[: mod.rfind("+0x")]
        function = body[: mm.start()].strip() if has_in else ""
    elif has_in:
        head, _, last = body.rpartition(" ")
        fm = _FILE_LINE_RE.match(last) if head else None
        if fm:
            function, file, lineno = head.strip(), fm.group(1), int(fm.group(2))
        elif head and ("/" in last or _SOURCE_EXT_RE.search(last)):
            function, file = head.strip(), last
        else:
            function = body
    elif body:
        fm = _FILE_LINE_RE.match(body)
        if fm and ("/" in body or _SOURCE_EXT_RE.search(fm.group(1))):
            file, lineno = fm.group(1), int(fm.group(2))
    return Frame(
        index=int(m.group(1)), function=_FN_OFFSET_RE.sub("", function), file=file, line=lineno, module=module
    )


@dataclass
class _Candidate:
    """One sanitizer report found in the text, before it becomes a CrashReport."""

    order: int
    priority: int
    sanitizer: Sanitizer
    crash_type: str
    access: Access | None = None
    size: int | None = None
    address: int | None = None
    pc: int | None = None
    frames: list[Frame] = field(default_factory=list)
    location: tuple[str, str | None, int | None] | None = None  # (function, file, line) when no stack


def _hex(s: str | None) -> int | None:
    """Parse a hex literal, None on failure."""
    if not s:
        return None
    try:
        return int(s, 16)
    except ValueError:
        return None


def _access(word: str) -> Access | None:
    """READ/WRITE, or None for anything else (e.g. UNKNOWN)."""
    if word == "READ":
        return "READ"
    if word == "WRITE":
        return "WRITE"
    return None


def _slug(words: str) -> str:
    """Lower-case dash-separated crash type from free text (first few words)."""
    parts = re.findall(r"[A-Za-z0-9]+", words)[:4]
    return "-".join(p.lower() for p in parts) or "unknown"


def _read_stack(text: str, header_end: int) -> tuple[list[Frame], list[str], int]:
    """The first contiguous stack after a header: (frames, detail lines before it, end position)."""
    frames: list[Frame] = []
    details: list[str] = []
    last_end = header_end
    pre = 0
    for start, line in _lines_after(text, header_end, _MAX_PRE_FRAME_LINES + _MAX_FRAMES + 1):
        frame = _parse_frame(line) if "#" in line else None
        if frame is None:
            if frames:
                break
            stripped = line.strip()
            if (
                not stripped
                or pre >= _MAX_PRE_FRAME_LINES
                or "ERROR: " in line
                or "runtime error: " in line
                or "SUMMARY: " in line
                or "DEADLYSIGNAL" in line
            ):
                break
            details.append(line)
            pre += 1
            last_end = start + len(line)
            continue
        if (frames and frame.index == 0) or len(frames) >= _MAX_FRAMES:
            break  # a new stack (e.g. the frame description that follows) or enough frames
        frames.append(frame)
        last_end = start + len(line)
    return frames, details, last_end


def _ubsan_kind(message: str) -> str:
    """Normalise a UBSan "runtime error:" message to a dashed crash type."""
    for needle, kind in UBSAN_MESSAGES:
        if needle in message:
            if kind == "signed-integer-overflow" and (
                "unsigned integer overflow" in message
                or (needle == "negation of " and "type 'unsigned" in message)
            ):
                return "unsigned-integer-overflow"
            if kind == "invalid-enum-load" and ("'bool'" in message or "'_Bool'" in message):
                return "invalid-bool-load"
            return kind
    return "undefined-behavior"


def _parse_location(loc: str) -> tuple[str | None, int | None]:
    """Split "file.c:12:5" (or "file.c:12") into (file, line)."""
    loc = loc.strip()
    m = _FILE_LINE_RE.match(loc)
    if m:
        return m.group(1), int(m.group(2))
    return (loc or None), None


def _parse_summary(message: str) -> tuple[str, tuple[str, str | None, int | None] | None]:
    """From "KIND file.c:12:5 in func" return (kind, (func, file, line) or None)."""
    kind, _, rest = message.strip().partition(" ")
    rest = _BUILDID_RE.sub("", rest).strip()
    func = ""
    idx = rest.rfind(" in ")
    if idx >= 0:
        where, func = rest[:idx].strip(), rest[idx + 4 :].strip()
    elif rest.endswith(" in") or rest == "in":
        where = rest[:-2].strip()
    else:
        where = rest
    if where.startswith("(") or not where:
        return kind, ((func, None, None) if func else None)
    file, line = _parse_location(where)
    if file is None and not func:
        return kind, None
    return kind, (func, file, line)


# ---------------------------------------------------------------------------------------------------------
# Section parsers: each turns one header into a _Candidate


def _from_error_header(
    text: str, order: int, tool: str, message: str, line_end: int, limit: int, summaries: list[re.Match[str]]
) -> _Candidate | None:
    """ASan/HWASan/UBSan "ERROR:" headers (memory errors and deadly signals) and LSan/libFuzzer headers."""
    if tool == "LeakSanitizer":
        return _from_leak_header(text, order, line_end, limit)
    if tool == "libFuzzer":
        return _from_libfuzzer_header(text, order, message, line_end)
    sanitizer: Sanitizer = "undefined" if tool == "UndefinedBehaviorSanitizer" else "address"
    address = pc = None
    kind = ""
    if m := _DOUBLE_FREE_RE.search(message):
        kind, address = "double-free", _hex(m.group(1))
    elif m := _BAD_FREE_RE.search(message):
        kind, address = "bad-free", _hex(m.group(1))
    elif m := _ASAN_ADDR_RE.match(message):
        kind = m.group("kind").replace(" ", "-")
        address, pc = _hex(m.group("addr")), _hex(m.group("pc"))
    elif message.startswith("requested allocation size"):
        kind = "allocation-size-too-big"
    elif "out of memory" in message or message.startswith("out-of-memory"):
        kind = "out-of-memory"
    elif " parameters overflow" in message:
        kind = _slug(message.split(" parameters overflow")[0]) + "-overflow"
    elif (fw := _FIRST_WORD_RE.match(message)) and "-" in fw.group(0):
        kind = fw.group(0).rstrip("-_")  # e.g. "memcpy-param-overlap: memory ranges ..."
    else:
        kind = _slug(message) if message.strip() else "unknown-crash"
    frames, details, stack_end = _read_stack(text, line_end)
    access: Access | None = None
    size = None
    for d in details:
        if am := _ACCESS_RE.search(d):
            access, size = _access(am.group(1)), int(am.group(2))
        elif sm := _SIGNAL_ACCESS_RE.search(d):
            access = _access(sm.group(1))
    location = None
    summary = _summary_between(summaries, stack_end, min(limit, stack_end + _SUMMARY_WINDOW))
    if summary is not None and summary.group(1) in ("AddressSanitizer", "HWAddressSanitizer", tool):
        s_kind, location = _parse_summary(summary.group(2))
        if _ASAN_KIND_RE.fullmatch(s_kind) and kind.upper() not in SIGNAL_KINDS:
            kind = s_kind  # SUMMARY carries ASan's canonical bug-type name
    if kind.upper() in SIGNAL_KINDS:
        kind = kind.upper()
    return _Candidate(
        order=order,
        priority=5,
        sanitizer=sanitizer,
        crash_type=kind,
        access=access,
        size=size,
        address=address,
        pc=pc,
        frames=frames,
        location=location,
    )


def _from_leak_header(text: str, order: int, line_end: int, limit: int) -> _Candidate:
    """LeakSanitizer: the first direct leak (else the first indirect one) and its allocation stack."""
    window_end = min(limit, len(text))
    chosen = None
    first_any = None
    for i, m in enumerate(_LEAK_RE.finditer(text, line_end, window_end)):
        if first_any is None:
            first_any = m
        if m.group(1) == "Direct":
            chosen = m
            break
        if i >= _MAX_HEADERS:
            break
    chosen = chosen or first_any
    if chosen is None:
        return _Candidate(order=order, priority=3, sanitizer="leak", crash_type="memory-leak")
    _, end = _line_at(text, chosen.start())
    frames, _, _ = _read_stack(text, end)
    return _Candidate(
        order=order,
        priority=3,
        sanitizer="leak",
        crash_type="memory-leak",
        size=int(chosen.group(2)),
        frames=frames,
    )


_ABORT_FUNCTIONS = frozenset(
    {"abort", "raise", "gsignal", "__assert_fail", "__assert_fail_base", "__pthread_kill_implementation"}
)


def _from_libfuzzer_header(text: str, order: int, message: str, line_end: int) -> _Candidate:
    """libFuzzer's own reports: deadly signal, timeout, out-of-memory, ..."""
    frames, _, _ = _read_stack(text, line_end)
    msg = message.strip()
    if msg.startswith("deadly signal"):
        aborted = any(_plain_name(f.function).startswith(tuple(_ABORT_FUNCTIONS)) for f in frames)
        kind = "ABRT" if aborted else "deadly-signal"
    elif msg.startswith("timeout"):
        kind = "timeout"
    elif msg.startswith("out-of-memory"):
        kind = "out-of-memory"
    elif msg.startswith("fuzz target exited"):
        kind = "fuzz-target-exited"
    elif "overwrites its const input" in msg:
        kind = "overwrites-const-input"
    else:
        kind = _slug(msg)
    return _Candidate(order=order, priority=2, sanitizer="signal", crash_type=kind, frames=frames)


def _from_ubsan_line(
    text: str, order: int, match: re.Match[str], limit: int, summaries: list[re.Match[str]]
) -> _Candidate:
    """A UBSan "file:line:col: runtime error: MESSAGE" line and the stack printed after it."""
    start, end = _line_at(text, match.start())
    prefix = text[start : match.start()].rstrip(": \t")
    tokens = prefix.split()
    loc_file, loc_line = _parse_location(tokens[-1]) if tokens else (None, None)
    if loc_file and loc_file.startswith("<"):
        loc_file = None
    message = match.group(1)
    kind = _ubsan_kind(message)
    frames, _, stack_end = _read_stack(text, end)
    func = ""
    summary = _summary_between(summaries, stack_end, min(limit, stack_end + _SUMMARY_WINDOW))
    if summary is not None and summary.group(1) == "UndefinedBehaviorSanitizer":
        s_kind, s_loc = _parse_summary(summary.group(2))
        if kind == "undefined-behavior" and _FIRST_WORD_RE.fullmatch(s_kind):
            kind = UBSAN_RENAMES.get(s_kind, s_kind)
        if s_loc:
            func = s_loc[0]
    location = (func, loc_file, loc_line) if (loc_file or func) else None
    return _Candidate(
        order=order, priority=4, sanitizer="undefined", crash_type=kind, frames=frames, location=location
    )


def _from_summary(order: int, match: re.Match[str]) -> _Candidate | None:
    """Fallback for a report whose header was cut off: build what the SUMMARY line says."""
    tool, message = match.group(1), match.group(2)
    if tool == "libFuzzer":
        msg = message.strip()
        kind = next((k for k in ("timeout", "out-of-memory") if msg.startswith(k)), _slug(msg))
        return _Candidate(order=order, priority=1, sanitizer="signal", crash_type=kind)
    leak = re.match(r"(\d{1,20}) byte\(s\) leaked", message.strip())
    if leak or tool == "LeakSanitizer":
        size = int(leak.group(1)) if leak else None
        return _Candidate(order=order, priority=1, sanitizer="leak", crash_type="memory-leak", size=size)
    kind, location = _parse_summary(message)
    if not _FIRST_WORD_RE.fullmatch(kind):
        return None
    if tool == "UndefinedBehaviorSanitizer":
        kind = UBSAN_RENAMES.get(kind, kind)
        sanitizer: Sanitizer = "undefined"
    else:
        sanitizer = "address"
    if kind.upper() in SIGNAL_KINDS:
        kind = kind.upper()
    return _Candidate(order=order, priority=1, sanitizer=sanitizer, crash_type=kind, location=location)


def _summary_between(summaries: list[re.Match[str]], lo: int, hi: int) -> re.Match[str] | None:
    """First SUMMARY match starting in [lo, hi)."""
    for m in summaries:
        if lo <= m.start() < hi:
            return m
        if m.start() >= hi:
            break
    return None


# ---------------------------------------------------------------------------------------------------------
# Assembly


def _prepare(text: str | bytes) -> str:
    """Decode bytes, strip ANSI colour codes and normalise line endings."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    if not isinstance(text, str):
        return ""
    if "\x1b" in text:
        text = _ANSI_RE.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _finditer_capped(pattern: re.Pattern[str], text: str, cap: int = _MAX_HEADERS) -> list[re.Match[str]]:
    """The first `cap` matches of pattern in text."""
    out: list[re.Match[str]] = []
    for m in pattern.finditer(text):
        out.append(m)
        if len(out) >= cap:
            break
    return out


def _candidates(text: str) -> list[_Candidate]:
    """All sanitizer reports found in text, in order of appearance."""
    errors = _finditer_capped(_ERROR_RE, text)
    ubsans = _finditer_capped(_UBSAN_RE, text)
    summaries = _finditer_capped(_SUMMARY_RE, text, 4 * _MAX_HEADERS)
    headers = sorted(
        [(m.start(), "error", m) for m in errors] + [(m.start(), "ubsan", m) for m in ubsans],
        key=lambda h: h[0],
    )
    starts = [h[0] for h in headers]
    out: list[_Candidate] = []
    for i, (pos, kind, m) in enumerate(headers):
        limit = starts[i + 1] if i + 1 < len(starts) else len(text)
        if kind == "error":
            _, end = _line_at(text, pos)
            cand = _from_error_header(text, i, m.group(1), m.group(2), end, limit, summaries)
        else:
            cand = _from_ubsan_line(text, i, m, limit, summaries)
        if cand is not None:
            out.append(cand)
    if not out:
        for m in summaries:
            cand = _from_summary(len(out), m)
            if cand is not None:
                out.append(cand)
                break
    if not out and _DEADLY_RE.search(text):
        tool_sanitizer: Sanitizer = (
            "undefined" if "UndefinedBehaviorSanitizer:DEADLYSIGNAL" in text else "address"
        )
        out.append(_Candidate(order=0, priority=0, sanitizer=tool_sanitizer, crash_type="deadly-signal"))
    return out


def _summary_line(
    report_type: str, access: str | None, size: int | None, site: Frame | None, pc: int | None
) -> str:
    """One-line description, e.g. "heap-buffer-overflow WRITE 4 in parse_opts tcp.c:42"."""
    parts = [report_type]
    if access:
        parts.append(access)
    if size is not None:
        parts.append(str(size))
    if site is not None and (site.function or site.file):
        parts.append("in")
        if site.function:
            parts.append(site.function)
        if site.file:
            parts.append(_basename(site.file) + (f":{site.line}" if site.line is not None else ""))
    elif pc is not None:
        parts.append(f"at pc 0x{pc:x}")
    return " ".join(parts)


def _build(cand: _Candidate, input_bytes: bytes | None) -> CrashReport:
    """Turn a candidate into a CrashReport with project frames, hash, tier and summary."""
    frames = cand.frames
    if not frames and cand.location is not None:
        func, file, line = cand.location
        frames = [Frame(index=0, function=func, file=file, line=line)]
    project = filter_project_frames(frames)
    report = CrashReport(
        sanitizer=cand.sanitizer,
        crash_type=cand.crash_type,
        access=cand.access,
        size=cand.size,
        address=cand.address,
        pc=cand.pc,
        frames=frames,
        project_frames=project,
        stack_hash=stack_hash(cand.crash_type, project),
        tier=0,
        summary=_summary_line(
            cand.crash_type, cand.access, cand.size, project[0] if project else None, cand.pc
        ),
    )
    return report.model_copy(update={"tier": severity_tier(report, input_bytes=input_bytes)})


def parse_report(text: str, *, input_bytes: bytes | None = None) -> CrashReport | None:
    """Parse sanitizer/libFuzzer output; the most severe report wins. None when no report is found;
    UnparsedReport (with the reason) when the parser itself fails, so a report it cannot read is never
    taken for "no crash"."""
    try:
        prepared = _prepare(text)
        if not prepared:
            return None
        cands = _candidates(prepared)
        if not cands:
            return None
        built = [(_build(c, input_bytes), c) for c in cands]
        best, _ = max(built, key=lambda rc: (rc[0].tier, rc[1].priority, -rc[1].order))
        return best
    except Exception as e:  # hostile input must never crash the caller, nor pass for a clean run
        raise UnparsedReport(f"the triage parser failed ({type(e).__name__}: {e})") from e
