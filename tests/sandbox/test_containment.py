"""The containment suite: every probe of aslgate.sandbox.probes runs inside the sandbox (through
Sandbox.run, the path a PoC takes) and must be contained; negative controls show a probe notices an escape
when a layer is removed; the strong sandbox is refused without its prerequisites; the cache and challenge
loading hold against tampering and links."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.cyber.corpus import ChallengeError, build, load_challenge
from aslgate.cyber.patching import poc_variants
from aslgate.cyber.verify import run_binary, verify_poc
from aslgate.sandbox import probes
from aslgate.sandbox.core import IntegrityError, Sandbox, SandboxError
from aslgate.sandbox.host import SandboxUnavailable, host_mode

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap not installed"),
    pytest.mark.skipif(host_mode().mode != "strong", reason="the strong sandbox is unavailable on this host"),
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[probes.Context]:
    scratch = tmp_path_factory.mktemp("probes")
    os.chmod(scratch, 0o755)
    yield probes.Context(asyncio.run(probes.build_kit(scratch)), scratch)


@pytest.mark.parametrize("name", [p[0] for p in probes.PROBES])
def test_probe_is_contained(name: str, ctx: probes.Context) -> None:
    fn = next(f for n, _, f in probes.PROBES if n == name)
    contained, detail = asyncio.run(fn(ctx))
    assert contained, f"{name} ESCAPED: {detail}"


def test_every_probe_of_the_issue_is_in_the_suite() -> None:
    names = {p[0] for p in probes.PROBES}
    assert {
        "sysctl", "host environment", "cache poisoning", "ptrace pid 1", "fork burst", "tmpfs memory",
        "disk /work", "disk /tmp /dev/shm /", "inotify", "multi-process CPU", "keyrings", "nested userns",
        "symlinked challenge", "network", "unix sockets", "host files", "host file writes", "host processes",
        "daemon", "fork bomb", "memory", "output size", "concurrent sandboxes",
    } <= names  # fmt: skip


# ---------------------------------------------------------------- negative controls: a probe can fail


def test_environment_probe_notices_a_leaked_variable(
    ctx: probes.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Sandbox.bwrap_args

    def leaky(self: Sandbox, *a, **kw) -> list[str]:
        args = original(self, *a, **kw)
        return [*args, "--setenv", "OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY", "")]

    monkeypatch.setattr(Sandbox, "bwrap_args", leaky)
    contained, detail = asyncio.run(probes._environ(ctx))
    assert not contained and "OPENAI_API_KEY" in detail


def test_cpu_probe_notices_a_per_process_limit(ctx: probes.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    from aslgate.sandbox.limits import Cgroup

    monkeypatch.setattr(Cgroup, "accounts_cpu", property(lambda self: False))
    contained, _ = asyncio.run(probes._cpu(ctx))
    assert not contained


def test_disk_probe_notices_an_unbounded_work(ctx: probes.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Sandbox.__init__

    def big(self: Sandbox, workdir=None, limits=None) -> None:
        original(self, workdir, (limits or probes.SMALL).model_copy(update={"work_mb": 4096}))

    monkeypatch.setattr(Sandbox, "__init__", big)
    contained, detail = asyncio.run(probes._disk_work(ctx))
    assert not contained, detail


# ---------------------------------------------------------------- the strong sandbox is required


def test_strong_sandbox_refused_without_its_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASLGATE_SANDBOX_USER", "aslgate-no-such-user")
    monkeypatch.delenv("ASLGATE_WEAK_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable, match="--weak-sandbox"):
        Sandbox()
    monkeypatch.setenv("ASLGATE_WEAK_SANDBOX", "1")
    sbx = Sandbox()
    try:
        assert sbx.host.mode == "weak"
        assert sbx.run_sync(["true"]).returncode == 0
    finally:
        sbx.cleanup()


def test_cli_refuses_without_the_strong_sandbox_in_one_line(
    make_challenge: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = make_challenge()
    monkeypatch.setenv("ASLGATE_SANDBOX_USER", "aslgate-no-such-user")
    monkeypatch.delenv("ASLGATE_WEAK_SANDBOX", raising=False)
    poc = tmp_path / "poc.bin"
    poc.write_bytes(b"S\x40")
    r = CliRunner().invoke(app, ["verify", "--challenge", str(d), "--poc", str(poc)])
    assert r.exit_code == 2, r.output
    assert "strong sandbox is unavailable" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(
        app, ["--weak-sandbox", "verify", "--challenge", str(d), "--poc", str(poc), "--json"]
    )
    assert r.exit_code == 0, r.output


def test_sandbox_check_command(monkeypatch: pytest.MonkeyPatch) -> None:
    r = CliRunner().invoke(app, ["sandbox", "check", "--probe", "sysctl,keyrings", "--json"])
    assert r.exit_code == 0, r.output
    assert '"contained": true' in r.output and '"contained": false' not in r.output
    r = CliRunner().invoke(app, ["sandbox", "check", "--probe", "no-such-probe"])
    assert r.exit_code == 2 and "no such probe" in r.output
    original = Sandbox.bwrap_args
    monkeypatch.setattr(
        Sandbox,
        "bwrap_args",
        lambda self, *a, **kw: [
            *original(self, *a, **kw),
            "--setenv",
            "HF_TOKEN",
            os.environ.get("HF_TOKEN", ""),
        ],
    )
    r = CliRunner().invoke(app, ["sandbox", "check", "--probe", "host environment"])
    assert r.exit_code == 1 and "ESCAPED" in r.output


# ---------------------------------------------------------------- the build cache


def test_tampered_cached_binary_is_refused_and_rebuilt(make_challenge: Callable[..., Path]) -> None:
    c = load_challenge(make_challenge())
    b = asyncio.run(build(c, "sanitizer"))
    assert b.binary is not None and b.sha256
    assert b.binary.stat().st_uid == os.geteuid() and not b.binary.stat().st_mode & 0o222  # read-only
    os.chmod(b.binary, 0o755)
    with open(b.binary, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(IntegrityError):
        asyncio.run(run_binary(b, b"S\x40"))
    again = asyncio.run(build(c, "sanitizer"))  # the entry no longer matches its hash: rebuilt
    assert again.binary is not None and not again.binary.read_bytes().endswith(b"tampered")
    assert asyncio.run(verify_poc(c, b"S\x40")).verdict == "reproduced"
    assert asyncio.run(verify_poc(c, b"P\x01")).verdict == "no_crash"


def test_variant_cache_is_keyed_by_the_whole_folder(make_challenge: Callable[..., Path]) -> None:
    a = load_challenge(make_challenge("two-a", poc=b"S\x40"))
    b = load_challenge(make_challenge("two-b", poc=b"L\x40"))  # same sources, other reference PoC
    va = asyncio.run(poc_variants(a, count=2, tries=6, fuzz_runs=0))
    vb = asyncio.run(poc_variants(b, count=2, tries=6, fuzz_runs=0))
    binary = asyncio.run(build(a, "sanitizer")).binary
    assert binary is not None
    assert len(list(binary.parent.glob("variants-*.json"))) == 2
    assert va and vb and va != vb


# ---------------------------------------------------------------- challenge folders


@pytest.mark.parametrize("kind", ["symlink-file", "symlink-dir", "fifo"])
def test_challenge_with_links_or_special_files_is_refused(
    kind: str, make_challenge: Callable[..., Path], tmp_path: Path
) -> None:
    d = make_challenge()
    if kind == "symlink-file":
        os.symlink("/etc/shadow", d / "src" / "extra.h")
    elif kind == "symlink-dir":
        os.symlink("/etc", d / "tests" / "etc")
    else:
        os.mkfifo(d / "poc" / "pipe")
    with pytest.raises(ChallengeError, match=r"(not allowed|are allowed) in a challenge folder"):
        load_challenge(d)
    poc = tmp_path / "p.bin"
    poc.write_bytes(b"S\x40")
    r = CliRunner().invoke(app, ["verify", "--challenge", str(d), "--poc", str(poc)])
    assert r.exit_code == 2 and "allowed in a challenge folder" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_host_side_reads_never_follow_links_planted_by_the_sandbox() -> None:
    sbx = Sandbox(limits=probes.SMALL)
    try:
        sbx.run_sync(["sh", "-c", "ln -s /etc/shadow leak; mkdir d; ln -s /etc dir; echo ok > d/f"])
        with pytest.raises(FileNotFoundError):
            sbx.get_file("leak")
        with pytest.raises(FileNotFoundError):
            sbx.get_file("dir/shadow")
        assert sbx.get_file("d/f") == b"ok\n"
        with pytest.raises(OSError):
            sbx.put_file("dir/planted", "x")  # a link in the way is refused, never followed
        sbx.put_file("leak", "replaced")  # a link at the last component is replaced, not written through
        assert sbx.get_file("leak") == b"replaced"
    finally:
        sbx.cleanup()
    assert not Path("/etc/planted").exists()


def test_a_private_sandbox_root_is_refused_in_one_line(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(SandboxError, match="not traversable by the sandbox user"):
        Sandbox(private / "work")


def test_the_weak_sandbox_is_weaker_and_the_probes_say_so(
    ctx: probes.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without cgroups (the weak sandbox, chosen explicitly) tmpfs memory escapes the memory limit and CPU
    is limited per process only: both probes must report it."""
    monkeypatch.setenv("ASLGATE_NO_CGROUP", "1")
    monkeypatch.setenv("ASLGATE_WEAK_SANDBOX", "1")
    assert host_mode().mode == "weak"
    assert not asyncio.run(probes._cpu(ctx))[0]
    assert not asyncio.run(probes._tmpfs_memory(ctx))[0]
    assert asyncio.run(probes._ptrace(ctx))[0]  # the seccomp and /proc/1/mem layers do not need cgroups
    assert asyncio.run(probes._daemon(ctx))[0]
