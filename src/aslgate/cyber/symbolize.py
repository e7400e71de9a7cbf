"""Offline symbolization of sanitizer reports with a per-binary cache.

Runs use ``symbolize=0``; the frames of the program itself are then symbolized with llvm-symbolizer
(inside the sandbox) once per address and remembered next to the cached build. Symbolizing in-process
costs ~100 ms a crash (loading libLLVM and the DWARF); a warm cache costs nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from aslgate.sandbox.core import Sandbox
from aslgate.sandbox.limits import Limits

_FRAME = re.compile(
    r"^(?P<indent>\s*)#(?P<n>\d+) (?P<pc>0x[0-9a-f]+)\s+\((?P<module>[^)+]+)\+(?P<off>0x[0-9a-f]+)\)(?P<rest>.*)$"
)
_LIMITS = Limits(wall_seconds=30, cpu_seconds=30, memory_mb=2048, max_output_bytes=4 * 1024 * 1024)
Frames = list[tuple[str, str]]  # (function, "file:line:col"), innermost inline frame first


def _recorded_sha256(binary: Path) -> str | None:
    """The sha256 the build cache recorded for this binary, if it is a cached build."""
    try:
        return (binary.parent / f"{binary.name}.sha256").read_text().strip() or None
    except OSError:
        return None


def _cache_path(binary: Path) -> Path:
    return binary.parent / "symbols.json"


def _load(binary: Path) -> dict[str, Frames]:
    try:
        return {k: [tuple(f) for f in v] for k, v in json.loads(_cache_path(binary).read_text()).items()}  # type: ignore[misc]
    except (OSError, ValueError):
        return {}


def _save(binary: Path, table: dict[str, Frames]) -> None:
    tmp = _cache_path(binary).with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table))
    os.replace(tmp, _cache_path(binary))


def _parse_symbolizer(text: str, offsets: list[str]) -> dict[str, Frames]:
    """llvm-symbolizer's default output: per address, (function, location) line pairs, blank-line separated."""
    blocks = [b for b in text.strip("\n").split("\n\n")]
    table: dict[str, Frames] = {}
    for off, block in zip(offsets, blocks, strict=False):
        lines = block.splitlines()
        table[off] = [
            (lines[i], lines[i + 1] if i + 1 < len(lines) else "??:0:0") for i in range(0, len(lines), 2)
        ]
    return table


async def symbolize(report: str, binary: Path, module: str = "/work/prog") -> str:
    """Rewrite the program's unsymbolized frames of `report` as 'in function file:line:col' (inlines expanded)."""
    wanted: list[str] = []
    for line in report.splitlines():
        m = _FRAME.match(line)
        if m and m["module"] == module:
            wanted.append(_lookup_offset(m))
    if not wanted:
        return report
    table = _load(binary)
    missing = sorted({o for o in wanted if o not in table})
    if missing and shutil.which("llvm-symbolizer"):
        sbx = Sandbox(limits=_LIMITS)
        try:
            sbx.add_readonly(binary, "prog", _recorded_sha256(binary))
            r = await sbx.run(["llvm-symbolizer", "--obj=prog", *missing])
        finally:
            sbx.cleanup()
        if r.returncode == 0:
            table.update(_parse_symbolizer(r.text(), missing))
            _save(binary, table)
    return _rewrite(report, module, table)


def _lookup_offset(m: re.Match[str]) -> str:
    """Return addresses (frames after #0) point after the call; look up the call instruction instead."""
    off = int(m["off"], 16)
    return hex(off - 1 if int(m["n"]) > 0 and off > 0 else off)


def _rewrite(report: str, module: str, table: dict[str, Frames]) -> str:
    out: list[str] = []
    n = 0
    for line in report.splitlines():
        m = _FRAME.match(line)
        if not m:
            out.append(line)
            continue
        if m["n"] == "0":
            n = 0  # a new stack starts
        frames = table.get(_lookup_offset(m)) if m["module"] == module else None
        if not frames:
            out.append(f"{m['indent']}#{n} {m['pc']} ({m['module']}+{m['off']}){m['rest']}")
            n += 1
            continue
        for func, loc in frames:
            where = loc if not loc.startswith("??") else f"({m['module']}+{m['off']})"
            out.append(f"{m['indent']}#{n} {m['pc']} in {func} {where}")
            n += 1
    return "\n".join(out) + ("\n" if report.endswith("\n") else "")
