"""`aslgate hunt`: point the harness at a user's own C project and return verified, deduplicated findings.

A project is one C file defining LLVMFuzzerTestOneInput, or a directory with an OSS-Fuzz style build command
(run in the sandbox with CC, CFLAGS, LIB_FUZZING_ENGINE and OUT set) that writes fuzz targets into $OUT.
Every target is fuzzed in the sandbox (libFuzzer fork mode, so one campaign can find several bugs); each
crashing input is re-run, symbolized and triaged; findings are deduplicated by stack hash and written as
reproducer files, JSON and SARIF 2.1.0.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from aslgate import __version__
from aslgate.cyber.corpus import BUILD_FLAGS, MAX_POC_BYTES, Build
from aslgate.cyber.fuzz import FuzzStats, parse_fuzzer_output
from aslgate.cyber.triage import Frame
from aslgate.cyber.verify import run_triaged
from aslgate.errors import UserError
from aslgate.sandbox.core import FileTooLarge, Sandbox, SandboxError, read_nofollow
from aslgate.sandbox.limits import Limits

_HARNESS = re.compile(r"\bLLVMFuzzerTestOneInput\s*\(")
SANITIZE = " ".join(
    [*BUILD_FLAGS["sanitizer"], "-fsanitize=fuzzer-no-link"]
)  # coverage for every object (OSS-Fuzz)
BUILD_LIMITS = Limits(wall_seconds=600, cpu_seconds=600, memory_mb=4096, max_output_bytes=512 * 1024)
MAX_CRASHES_PER_TARGET = 50


class HuntError(UserError, ValueError):
    """The project cannot be hunted as given (no entry point, no build command, build failed)."""


class HuntFinding(BaseModel):
    """One distinct bug: where it fires, how bad it is, and an input that reproduces it."""

    target: str
    stack_hash: str
    crash_type: str
    access: str | None = None
    tier: int
    summary: str
    frames: list[Frame] = Field(default_factory=list)
    reproducer: str  # path of the saved input, relative to the output directory
    inputs: int = 1


class HuntReport(BaseModel):
    """Everything one hunt found, per target and overall."""

    project: str
    targets: dict[str, FuzzStats]
    findings: list[HuntFinding]
    unparsed: list[str] = []  # crashing inputs whose sanitizer report could not be read: target, reason


def _check_project(path: Path, build_cmd: str | None) -> None:
    if not path.exists():
        raise HuntError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix != ".c":
            raise HuntError(f"{path}: a single-file project must be a .c file")
        if not _HARNESS.search(path.read_text(errors="replace")):
            raise HuntError(
                f"{path}: defines no fuzz entry point (int LLVMFuzzerTestOneInput(const uint8_t*, size_t))"
            )
    elif not build_cmd:
        raise HuntError(
            f"{path}: a project directory needs --build CMD (OSS-Fuzz style: compile with $CC $CFLAGS, link fuzz "
            "targets with $LIB_FUZZING_ENGINE into $OUT), or point hunt at a single harness .c file"
        )


async def build_targets(path: Path, build_cmd: str | None, work: Path) -> dict[str, Path]:
    """Build the project's fuzz targets in the sandbox; returns target name -> binary (copied out under
    `work` by the host side, regular files only)."""
    sbx = Sandbox(limits=BUILD_LIMITS)
    try:
        # the project is copied without following links: a symlink stays a link, resolved inside the sandbox
        if path.is_file():
            sbx.put_file(f"src/{path.name}", read_nofollow(path))
        else:
            try:
                sbx.put_tree(path, "src", symlinks=True, ignore=(".git", "*.o", "*.a"))
            except SandboxError as e:
                raise HuntError(str(e)) from None
        sbx.put_file("out/.keep", "")
        if path.is_file():
            build_cmd = f'$CC $CFLAGS $LIB_FUZZING_ENGINE "{path.name}" -o "$OUT/{path.stem}"'
        env = {"CC": "clang", "CXX": "clang++", "CFLAGS": SANITIZE, "CXXFLAGS": SANITIZE,
               "LIB_FUZZING_ENGINE": "-fsanitize=fuzzer", "OUT": "/work/out", "SRC": "/work/src"}  # fmt: skip
        r = await sbx.run(["sh", "-c", build_cmd or "false"], cwd="src", env=env)
        if r.returncode != 0:
            lines = [ln for ln in (r.text("stderr") + r.text()).splitlines() if ln.strip()]
            reason = next(
                (ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else f"exit {r.returncode}"
            )
            raise HuntError(f"{path}: the build failed: {reason.strip()[:300]}")
        listing = await sbx.run(
            ["find", "out", "-maxdepth", "1", "-type", "f", "-perm", "-u+x", "-printf", "%f\\n"]
        )
        (work / "out").mkdir(parents=True, exist_ok=True)
        targets: dict[str, Path] = {}
        for name in sorted(set(listing.text().split("\n")) & set(sbx.list_files("out"))):
            if not name or name.startswith("."):
                continue
            dest = work / "out" / name
            dest.write_bytes(sbx.get_file(f"out/{name}", max_bytes=512 * 1024 * 1024))
            os.chmod(dest, 0o755)
            targets[name] = dest
    finally:
        sbx.cleanup()
    if not targets:
        raise HuntError(f"{path}: the build produced no executable fuzz target in $OUT")
    return targets


def hunt_script(seconds: float, max_len: int = 4096) -> str:
    """Fork-mode libFuzzer that keeps going after crashes, saving each crashing input under crashes/."""
    return (
        "mkdir -p corpus crashes\n"
        f"./prog -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time={max(1, round(seconds))} "
        f"-max_len={max_len} -timeout=5 -rss_limit_mb=1536 -close_fd_mask=1 -seed=1 -artifact_prefix=crashes/ "
        "corpus > fuzz.log 2>&1\n"
        "tail -c 262144 fuzz.log\ntrue\n"
    )


async def fuzz_target(binary: Path, seconds: float) -> tuple[FuzzStats, list[bytes]]:
    """One fork-mode campaign in a fresh sandbox: stats and every crashing input it saved."""
    sbx = Sandbox(limits=Limits(wall_seconds=seconds + 90, cpu_seconds=int(2 * seconds) + 90, memory_mb=3072))
    try:
        sbx.add_readonly(binary, "prog")
        r = await sbx.run(["sh", "-c", hunt_script(seconds)])
        stats = parse_fuzzer_output(r.text(), seconds)
        inputs = []
        for name in sbx.list_files("crashes")[:MAX_CRASHES_PER_TARGET]:
            with contextlib.suppress(OSError, FileTooLarge):
                data = sbx.get_file(f"crashes/{name}", max_bytes=MAX_POC_BYTES)
                if data:
                    inputs.append(data)
        stats.crashed = bool(inputs)
        return stats, inputs
    finally:
        sbx.cleanup()


async def model_crashes(
    binaries: dict[str, Path],
    path: Path,
    model: str,
    log_dir: Path,
    model_args: dict[str, Any] | None = None,
    display: str | None = None,
) -> dict[str, list[bytes]]:
    """Let a model hunt through Inspect (the discovery agent on the user's project); the inputs it wrote."""
    from inspect_ai import eval_async as inspect_eval_async

    from aslgate.cyber.hunt_task import hunt_task

    if display:  # eval_async takes no display argument: set Inspect's global display type, and quiet
        # its rich console, which is configured only once per process (by the first display created)
        from inspect_ai._display.core.rich import rich_initialise
        from inspect_ai.util._display import init_display_type

        rich_initialise(init_display_type(display))
    [log] = await inspect_eval_async(
        hunt_task(str(path), {k: str(v) for k, v in binaries.items()}), model=model, model_args=model_args or {},
        log_dir=str(log_dir),
    )  # fmt: skip
    out: dict[str, list[bytes]] = {}
    for sample in log.samples or []:
        for score in (sample.scores or {}).values():
            for target, items in ((score.metadata or {}).get("inputs") or {}).items():
                out.setdefault(target, []).extend(base64.b64decode(x) for x in items)
    return out


async def hunt(
    path: Path,
    out: Path,
    *,
    build_cmd: str | None = None,
    seconds: float = 30.0,
    model: str | None = None,
    model_args: dict[str, Any] | None = None,
    display: str | None = None,
) -> HuntReport:
    """Build, then fuzz every target (or let `model` hunt), triage and deduplicate; writes reproducers and
    report.json under `out`."""
    path = path.resolve()
    _check_project(path, build_cmd)
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".build"
    shutil.rmtree(work, ignore_errors=True)
    try:
        binaries = await build_targets(path, build_cmd, work)
        targets: dict[str, FuzzStats] = {}
        crashes: dict[str, list[bytes]] = {}
        if model is None or model.startswith("aslgate/fuzzer"):
            for name, binary in binaries.items():
                targets[name], crashes[name] = await fuzz_target(binary, seconds)
        else:
            crashes = await model_crashes(binaries, path, model, out / "logs", model_args, display)
        findings: dict[str, HuntFinding] = {}
        unparsed: list[str] = []
        for name, inputs in crashes.items():
            if name not in binaries:
                continue
            binary = binaries[name]
            b = Build("fuzzer", hashlib.sha256(binary.read_bytes()).hexdigest()[:24], binary, "")
            usable = [d for d in inputs[:MAX_CRASHES_PER_TARGET] if 0 < len(d) <= MAX_POC_BYTES]
            runs = await asyncio.gather(*(run_triaged(b, data) for data in usable))
            for data, (_, run, report) in zip(usable, runs, strict=True):
                if run.unparsed:
                    unparsed.append(f"{name}: {run.unparsed}")
                if report is None:
                    continue
                key = f"{name}:{report.stack_hash}"
                if key in findings:
                    findings[key].inputs += 1
                    continue
                repro = Path("findings") / f"{name}-{report.stack_hash}.bin"
                (out / "findings").mkdir(exist_ok=True)
                (out / repro).write_bytes(data)
                findings[key] = HuntFinding(
                    target=name, stack_hash=report.stack_hash, crash_type=report.crash_type,
                    access=report.access, tier=report.tier, summary=report.summary,
                    frames=[_relative(f) for f in report.project_frames[:10]], reproducer=str(repro),
                )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ordered = sorted(findings.values(), key=lambda f: (-f.tier, f.target, f.stack_hash))
    report = HuntReport(project=str(path), targets=targets, findings=ordered, unparsed=unparsed)
    (out / "report.json").write_text(report.model_dump_json(indent=2))
    return report


def _relative(frame: Frame) -> Frame:
    """Frame file paths as the user knows them (relative to the project root)."""
    if frame.file and frame.file.startswith("/work/src/"):
        return frame.model_copy(update={"file": frame.file.removeprefix("/work/src/")})
    return frame


def to_sarif(report: HuntReport) -> dict:
    """SARIF 2.1.0: one rule per crash type, one result per distinct bug, with the stack and the reproducer."""
    rules = sorted({f.crash_type for f in report.findings})
    results = []
    for f in report.findings:
        top = f.frames[0] if f.frames else None
        location = {
            "physicalLocation": {
                "artifactLocation": {"uri": top.file if top and top.file else f.target},
                **({"region": {"startLine": top.line}} if top and top.line else {}),
            }
        }
        results.append({
            "ruleId": f.crash_type,
            "ruleIndex": rules.index(f.crash_type),
            "level": "error" if f.tier >= 2 else "warning",
            "message": {"text": f"T{f.tier} {f.summary} (fuzz target {f.target})"},
            "locations": [location],
            "partialFingerprints": {"aslgateStackHash/v1": f.stack_hash},
            "stacks": [{
                "message": {"text": "crash stack (project frames)"},
                "frames": [
                    {"location": {"physicalLocation": {"artifactLocation": {"uri": fr.file or "unknown"},
                                                       **({"region": {"startLine": fr.line}} if fr.line else {})},
                                  "message": {"text": fr.function}}}
                    for fr in f.frames
                ],
            }],
            "properties": {"tier": f"T{f.tier}", "access": f.access, "reproducer": f.reproducer,
                           "target": f.target, "inputs": f.inputs},
        })  # fmt: skip
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aslgate", "version": __version__,
                "rules": [{"id": r, "name": r, "shortDescription": {"text": f"Sanitizer-detected {r}"},
                           "properties": {"tags": ["security", "memory-safety"]}} for r in rules],
            }},
            "results": results,
        }],
    }  # fmt: skip


def write_sarif(report: HuntReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_sarif(report), indent=2))
