"""The challenge corpus: load and validate challenge folders, and build their binaries in the sandbox.

A folder's format is a public interface (DESIGN.md): challenge.yaml, src/, fix.patch, poc/, tests/.
Builds run inside the bwrap sandbox (a patch may come from a model) and are cached by content hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aslgate.sandbox.core import FileTooLarge, Sandbox, file_sha256
from aslgate.sandbox.limits import Limits
from aslgate.yamlio import LocatedError, load_yaml_model

CHALLENGES_DIR = Path(__file__).parent / "challenges"
DRIVER = Path(__file__).parent / "driver.c"
MAX_POC_BYTES = 10 * 1024 * 1024

BuildKind = Literal["sanitizer", "fuzzer", "plain"]
BUILD_FLAGS: dict[BuildKind, list[str]] = {
    "sanitizer": [
        "-g",
        "-O1",
        "-fno-omit-frame-pointer",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=undefined",
    ],
    "fuzzer": [
        "-g",
        "-O1",
        "-fno-omit-frame-pointer",
        "-fsanitize=fuzzer,address,undefined",
        "-fno-sanitize-recover=undefined",
        "-DASLGATE_NO_MAIN",
    ],
    "plain": [
        "-g",
        "-O0",
        "-fno-stack-protector",
        "-fno-pie",
        "-no-pie",
        "-fcf-protection=none",
        "-U_FORTIFY_SOURCE",
        "-DASLGATE_PLAIN",
    ],
}
BUILD_LIMITS = Limits(wall_seconds=120, cpu_seconds=120, memory_mb=2048, max_output_bytes=256 * 1024)
# a `build:` script compiles a real library: more time, the same memory
SCRIPT_BUILD_LIMITS = Limits(wall_seconds=600, cpu_seconds=600, memory_mb=2048, max_output_bytes=256 * 1024)
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_SRC_RE = re.compile(r"^src/[A-Za-z0-9_./-]+\.c$")
Split = Literal["synthetic", "real"]
SPLITS = ("synthetic", "real", "all")


class ChallengeError(LocatedError):
    """A challenge folder is unusable; the message is one line naming the file and the reason."""


class Upstream(BaseModel):
    """Where a real challenge comes from: a Debian source package and its fix patch."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$")
    version: str = Field(pattern=r"^[A-Za-z0-9.+~:-]+$")
    patch: str  # the debian/patches/ entry that is fix.patch
    dsc_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    url: str | None = None  # upstream issue or advisory


class ChallengeSpec(BaseModel):
    """The fields of challenge.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    bug_class: str
    cwe: str = Field(pattern=r"^CWE-\d+$")
    description: str
    severity_expected: Literal["T1", "T2", "T3", "T4", "T5"]
    sources: list[str] = Field(min_length=1)
    cflags: str = ""
    exploit: bool = False
    bug_line: str | None = Field(
        None, pattern=r"^src/[A-Za-z0-9_./-]+\.c:\d+$"
    )  # where the planted bug fires
    # real code (docs/challenges.md): an OSS-Fuzz style build script, provenance, and whether it is verified
    build: str | None = None
    upstream: Upstream | None = None
    cve: str | None = Field(None, pattern=r"^CVE-\d{4}-\d{4,}$")
    verified: bool = True
    split: Split | None = None  # default: real with an upstream, else synthetic

    @property
    def corpus_split(self) -> Split:
        """Which split the challenge belongs to (metrics are kept per split)."""
        return self.split or ("real" if self.upstream else "synthetic")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("id must be lowercase letters, digits and dashes")
        return v

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        out = []
        for s in v:
            s = s if s.startswith("src/") else f"src/{s}"  # written relative to src/ or with the prefix
            if not _SRC_RE.match(s) or ".." in s.split("/"):
                raise ValueError(f"source {s!r} must be a .c file under src/")
            out.append(s)
        return out

    @field_validator("build")
    @classmethod
    def _build(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("build script is empty")
        if v is not None and BUILD_EOF in v:
            raise ValueError(f"build script must not contain {BUILD_EOF}")
        return v

    @field_validator("cflags")
    @classmethod
    def _cflags(cls, v: str) -> str:
        for flag in v.split():
            if not re.match(r"^-(D[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_]*)?|W[a-z-]+|std=[a-z0-9]+)$", flag):
                raise ValueError(f"cflag {flag!r} is not allowed (only -D, -W and -std flags)")
        return v


@dataclass(frozen=True)
class FunctionalTest:
    """One functional test: the driver's expected stdout on an input file."""

    name: str
    input: Path
    expected: Path


@dataclass(frozen=True)
class Challenge:
    """A loaded, structurally valid challenge folder."""

    spec: ChallengeSpec
    path: Path

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def src_dir(self) -> Path:
        return self.path / "src"

    @property
    def fix_patch(self) -> Path:
        return self.path / "fix.patch"

    def pocs(self) -> list[Path]:
        """Reference PoC inputs (poc/exploit.py is an exploit generator, not a PoC)."""
        d = self.path / "poc"
        return sorted(p for p in d.iterdir() if p.is_file() and p.suffix != ".py") if d.is_dir() else []

    @property
    def exploit_script(self) -> Path | None:
        p = self.path / "poc" / "exploit.py"
        return p if p.is_file() else None

    def tests(self) -> list[FunctionalTest]:
        return [
            FunctionalTest(p.stem, p, p.with_suffix(".expected"))
            for p in sorted((self.path / "tests").glob("*.in"))
        ]

    def content_digest(self) -> str:
        """Hash of every file of the folder (challenge.yaml, src/, fix.patch, poc/, tests/): keys caches
        that depend on more than the build, such as the PoC variant set."""
        h = hashlib.sha256()
        for p in sorted(self.path.rglob("*")):
            if p.is_file() and not p.is_symlink():
                h.update(p.relative_to(self.path).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
        return h.hexdigest()

    def source_digest(self) -> str:
        """Hash of everything a build depends on in the folder (src/ and fix.patch)."""
        h = hashlib.sha256()
        for p in sorted(self.src_dir.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(self.path).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
        h.update(self.spec.cflags.encode())
        if self.spec.build is not None:
            h.update(b"\0build\0" + self.spec.build.encode())
        return h.hexdigest()

    @property
    def split(self) -> Split:
        return self.spec.corpus_split


def load_challenge(path: Path | str) -> Challenge:
    """Load and structurally check a challenge folder; raises ChallengeError naming file and reason."""
    d = Path(path)
    if not d.is_dir():
        raise ChallengeError(f"{d}: not a challenge folder (no such directory)")
    check_folder_files(d)
    cfg = d / "challenge.yaml"
    if not cfg.is_file():
        raise ChallengeError(f"{cfg}: missing")
    spec = load_yaml_model(cfg, ChallengeSpec, ChallengeError, fields="challenge fields")
    if spec.id != d.name and d.parent.resolve() == CHALLENGES_DIR.resolve():
        raise ChallengeError(f"{cfg}: id {spec.id!r} does not match folder name {d.name!r}")
    problems = []
    for s in spec.sources:
        if not (d / s).is_file():
            problems.append(f"{d / s}: source listed in challenge.yaml is missing")
    if not (d / "fix.patch").is_file():
        problems.append(f"{d / 'fix.patch'}: missing")
    poc_dir = d / "poc"
    has_poc = poc_dir.is_dir() and [p for p in poc_dir.iterdir() if p.is_file() and p.suffix != ".py"]
    if not has_poc and spec.verified:  # an unverified challenge (no PoC yet) is kept out of every task
        problems.append(f"{poc_dir}: no reference PoC")
    tests = sorted((d / "tests").glob("*.in")) if (d / "tests").is_dir() else []
    if len(tests) < 3:
        problems.append(f"{d / 'tests'}: {len(tests)} functional tests, at least 3 required")
    for t in tests:
        if not t.with_suffix(".expected").is_file():
            problems.append(f"{t.with_suffix('.expected')}: missing expected output for {t.name}")
    if spec.exploit and not (poc_dir / "exploit.py").is_file():
        problems.append(f"{poc_dir / 'exploit.py'}: exploit: true needs a reference exploit generator")
    if problems:
        raise ChallengeError("; ".join(problems))
    return Challenge(spec=spec, path=d.resolve())


def check_folder_files(d: Path) -> None:
    """Refuse a folder holding anything but regular files and directories: a symlink (which could pull a
    host file such as /etc/shadow into a build or a model's workspace), a device, a fifo or a socket."""
    for dirpath, dirnames, filenames in os.walk(d, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            try:
                mode = os.lstat(p).st_mode
            except OSError as e:
                raise ChallengeError(f"{p}: cannot read ({e.strerror})") from None
            if stat.S_ISLNK(mode):
                raise ChallengeError(f"{p}: symbolic links are not allowed in a challenge folder")
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ChallengeError(
                    f"{p}: a device, fifo or socket: only regular files and directories are allowed in a challenge folder"
                )


@cache
def builtin_challenges() -> tuple[Challenge, ...]:
    """The embedded corpus, sorted by id."""
    return tuple(
        load_challenge(p) for p in sorted(CHALLENGES_DIR.iterdir()) if (p / "challenge.yaml").exists()
    )


def resolve_challenge(ref: str | Path) -> Challenge:
    """A built-in challenge id, or a path to a challenge folder."""
    p = Path(ref)
    if p.is_dir():
        return load_challenge(p)
    for c in builtin_challenges():
        if c.id == str(ref):
            return c
    raise ChallengeError(f"{ref}: no such challenge (not a built-in id nor a folder)")


def select_challenges(
    ids: list[str] | None = None, *, exploit_only: bool = False, split: str = "all"
) -> list[Challenge]:
    """Built-in challenges by id (all when ids is empty), or folders given as paths; with `split`, only
    that split's (synthetic: self-written, real: from upstream code). Unverified challenges (verified:
    false) are left out of the built-in selection and refused by id: they count in no metric."""
    if split not in SPLITS:
        raise ChallengeError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    chosen = (
        [resolve_challenge(i) for i in ids] if ids else [c for c in builtin_challenges() if c.spec.verified]
    )
    for c in chosen:
        if not c.spec.verified:
            raise ChallengeError(
                f"{c.path}: verified: false (no reproduced PoC), so it is kept out of every task"
            )
    return [c for c in chosen if (c.spec.exploit or not exploit_only) and split in ("all", c.split)]


# ---------------------------------------------------------------- builds


def cache_dir() -> Path:
    """Where builds are cached (ASLGATE_CACHE, else ~/.cache/aslgate)."""
    root = os.environ.get("ASLGATE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "aslgate")
    return Path(root) / "builds"


@dataclass(frozen=True)
class Build:
    """A built binary (or the reason it failed to build)."""

    kind: BuildKind
    key: str
    binary: Path | None
    log: str
    sha256: str | None = None  # of the binary, recorded when it was built; checked before every use

    @property
    def ok(self) -> bool:
        return self.binary is not None


class BuildError(RuntimeError):
    """A build failed at `stage` ("patch" or "compile"); the message carries the tool's complaint."""

    def __init__(self, stage: Literal["patch", "compile"], message: str) -> None:
        super().__init__(message)
        self.stage = stage


@cache
def _compiler_id() -> str:
    cc = shutil.which("clang") or "clang-missing"
    return f"{cc}:{os.stat(cc).st_mtime_ns if os.path.exists(cc) else 0}"


_locks: dict[str, asyncio.Lock] = {}


async def build(
    challenge: Challenge, kind: BuildKind, patch: bytes | None = None, *, fixed: bool = False
) -> Build:
    """Build the challenge in the sandbox: vulnerable, with its fix.patch (fixed=True), or with `patch`."""
    if fixed:
        patch = challenge.fix_patch.read_bytes()
    h = hashlib.sha256()
    for part in (
        _compiler_id().encode(),
        DRIVER.read_bytes(),
        challenge.source_digest().encode(),
        " ".join(BUILD_FLAGS[kind]).encode(),
        patch or b"",
    ):
        h.update(hashlib.sha256(part).digest())
    key = h.hexdigest()[:24]
    out = cache_dir() / key
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        cached = _read_cached(out, kind, key)
        if cached is not None:
            return cached
        out.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(out.parent, 0o755)
        sbx = Sandbox(limits=BUILD_LIMITS)
        try:
            sbx.put_tree(challenge.src_dir, "src")
            sbx.put_file("driver.c", DRIVER.read_bytes())
            log = ""
            if patch is not None:
                sbx.put_file("change.patch", patch)
                r = await sbx.run(
                    [
                        "patch",
                        "-p1",
                        "--batch",
                        "--forward",
                        "--no-backup-if-mismatch",
                        "-d",
                        "src",
                        "-i",
                        "../change.patch",
                    ]
                )
                log += r.text() + r.text("stderr")
                if r.returncode != 0:
                    raise BuildError("patch", f"patch does not apply: {_last_line(log)}")
            limits = SCRIPT_BUILD_LIMITS if challenge.spec.build is not None else BUILD_LIMITS
            r = await sbx.run(["sh", "-c", build_command(challenge, kind)], limits=limits)
            log += r.text() + r.text("stderr")
            why = f" ({r.limit} limit)" if r.limit else ""
            try:
                binary = sbx.get_file("prog", max_bytes=MAX_BINARY_BYTES) if r.returncode == 0 else None
            except (FileNotFoundError, IsADirectoryError, FileTooLarge):
                binary = None
            if binary is None:
                raise BuildError("compile", f"compile failed{why}: {_first_error(log)}")
            _publish(out, binary, log, kind)
        finally:
            sbx.cleanup()
        cached = _read_cached(out, kind, key)
        assert cached is not None
        return cached


MAX_BINARY_BYTES = 512 * 1024 * 1024


def _publish(out: Path, binary: bytes, log: str, kind: str) -> None:
    """Write a cache entry from the host side: a private temporary directory renamed into place (atomic),
    root-owned and read-only, with the binary's sha256 recorded next to it."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.", dir=out.parent))
    try:
        (tmp / "prog").write_bytes(binary)
        os.chmod(tmp / "prog", 0o555)
        (tmp / "prog.sha256").write_text(hashlib.sha256(binary).hexdigest())
        (tmp / "build.log").write_text(log)
        (tmp / "kind").write_text(kind)
        os.chmod(tmp, 0o755)
        try:
            os.replace(tmp, out)  # atomic publish
        except OSError:
            if not (out / "prog").is_file():  # another process published the same key first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


BUILD_EOF = "ASLGATE_BUILD_EOF"


def _script_flags(kind: BuildKind) -> tuple[list[str], list[str]]:
    """CFLAGS and the link part of LIB_FUZZING_ENGINE for a `build:` script (the OSS-Fuzz split:
    compile with -fsanitize=fuzzer-no-link, link the engine with -fsanitize=fuzzer)."""
    flags = [f for f in BUILD_FLAGS[kind] if f not in ("-DASLGATE_NO_MAIN", "-DASLGATE_PLAIN", "-no-pie")]
    if kind == "fuzzer":
        flags = [f.replace("fuzzer,", "fuzzer-no-link,") for f in flags]
        return flags, ["-fsanitize=fuzzer"]
    return flags, (["-no-pie"] if kind == "plain" else [])


def build_command(challenge: Challenge, kind: BuildKind, out: str = "prog") -> str:
    """The shell script (run in /work, with src/ and driver.c there) that builds one kind of binary into
    /work/`out`: aslgate's own clang line over `sources`, or the challenge's `build:` script with the
    OSS-Fuzz variables ($CC $CFLAGS $SRC $OUT $WORK $LIB_FUZZING_ENGINE) and the driver as the engine."""
    flags = " ".join([*BUILD_FLAGS[kind], *challenge.spec.cflags.split()])
    if challenge.spec.build is None:
        return f"set -e\ncd /work\nclang {flags} -Isrc -o {out} driver.c {' '.join(challenge.spec.sources)}\n"
    cflags, link = _script_flags(kind)
    cflags += ["-Wno-unused-command-line-argument", *challenge.spec.cflags.split()]
    engine = " ".join(["/work/driver.o", *link])
    return (
        "set -e\ncd /work\n"
        f"clang {' '.join(BUILD_FLAGS[kind])} -c -o driver.o driver.c\n"
        "rm -rf /work/out /work/build && mkdir -p /work/out /work/build\n"
        f"export CC=clang CXX=clang++ CFLAGS='{' '.join(cflags)}' CXXFLAGS='{' '.join(cflags)}' "
        f"LIB_FUZZING_ENGINE='{engine}' SRC=/work/src OUT=/work/out WORK=/work/build SANITIZER_BUILD={kind}\n"
        f"(cd /work/src && sh -e <<'{BUILD_EOF}'\n{challenge.spec.build.rstrip()}\n{BUILD_EOF}\n)\n"
        f'cp /work/out/prog /work/{out} 2>/dev/null || {{ echo "error: the build script wrote no $OUT/prog" >&2; exit 1; }}\n'
    )


def _read_cached(out: Path, kind: BuildKind, key: str) -> Build | None:
    """A published cache entry; one whose binary no longer has its recorded sha256 is discarded (rebuilt)."""
    prog, digest = out / "prog", out / "prog.sha256"
    if prog.is_file() and not prog.is_symlink() and digest.is_file():
        want = digest.read_text().strip()
        if file_sha256(prog) == want:
            return Build(kind, key, prog, (out / "build.log").read_text(errors="replace"), want)
    if out.exists():
        shutil.rmtree(out, ignore_errors=True)
    return None


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _first_error(log: str) -> str:
    for ln in log.splitlines():
        if "error:" in ln:
            return ln.strip()
    return _last_line(log)
