"""Adversarial tests of the bwrap sandbox: each escape or exhaustion attempt is contained and reported."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aslgate.cyber.corpus import CHALLENGES_DIR
from aslgate.sandbox.bwrap import BwrapConfig, BwrapSandboxEnvironment
from aslgate.sandbox.core import Sandbox
from aslgate.sandbox.limits import Limits

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap not installed")

SMALL = Limits(wall_seconds=8, cpu_seconds=4, memory_mb=256, max_processes=64, max_output_bytes=64 * 1024)


@pytest.fixture(params=["cgroup", "watchdog"])
def sbx(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose memory/process limits are enforced by a cgroup or (the weak sandbox, chosen
    explicitly) by the polling watchdog."""
    if request.param == "watchdog":
        monkeypatch.setenv("ASLGATE_NO_CGROUP", "1")
        monkeypatch.setenv("ASLGATE_WEAK_SANDBOX", "1")
    box = Sandbox(limits=SMALL)
    yield box
    box.cleanup()


def test_runs_a_command_in_work(sbx: Sandbox) -> None:
    r = sbx.run_sync(["sh", "-c", "pwd; id -u; echo data > f.txt"])
    assert r.returncode == 0 and r.limit is None
    assert r.text().split() == ["/work", "1000"]
    assert (sbx.workdir / "f.txt").read_text() == "data\n"


def test_no_network_even_to_a_host_listener(sbx: Sandbox) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        r = sbx.run_sync(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED"])
        assert "CONNECTED" not in r.text()
        assert r.returncode != 0
        r = sbx.run_sync(["sh", "-c", "cat /proc/net/dev | tail -n +3 | cut -d: -f1"])
        assert r.text().split() == ["lo"]  # only a private loopback
        srv.setblocking(False)
        with pytest.raises(BlockingIOError):
            srv.accept()  # nothing ever reached the host listener
    finally:
        srv.close()


def test_host_files_are_invisible(sbx: Sandbox) -> None:
    poc = next(CHALLENGES_DIR.glob("*/poc/*"))
    for path in ("/etc/shadow", "/etc/passwd", "/root", str(poc), str(Path.home()), "/work/../etc/hostname"):
        r = sbx.run_sync(["cat", path])
        assert r.returncode != 0, path
        assert r.stdout == b""


def test_symlink_cannot_reach_host_files(sbx: Sandbox) -> None:
    poc = next(CHALLENGES_DIR.glob("*/poc/*.bin"))
    os.symlink(poc, sbx.workdir / "link")
    os.symlink("/etc/hostname", sbx.workdir / "link2")
    for name in ("link", "link2"):
        with pytest.raises(FileNotFoundError):
            asyncio.run(sbx.read(name))


def test_writes_outside_work_are_refused_or_private(sbx: Sandbox) -> None:
    name = f"aslgate-escape-{os.getpid()}"
    r = sbx.run_sync(["sh", "-c", f"echo x > /usr/{name}"])
    assert r.returncode != 0 and b"Read-only" in r.stderr
    sbx.run_sync(
        ["sh", "-c", f"echo x > /etc/{name}; echo x > /{name}"]
    )  # land in the private root, if at all
    r = sbx.run_sync(["sh", "-c", f"echo x > /tmp/{name} && cat /tmp/{name}"])
    assert r.text() == "x\n"  # /tmp is writable but private
    for d in ("/usr", "/etc", "/", "/tmp"):
        assert not Path(d, name).exists()


def test_fork_bomb_is_contained(sbx: Sandbox) -> None:
    r = sbx.run_sync(["bash", "-c", ":(){ :|:& };:; sleep 30"])
    assert r.limit in ("processes", "wall")
    assert r.wall_seconds < SMALL.wall_seconds + 6
    # the host still forks normally and nothing of the bomb survives
    assert os.system("true") == 0


def test_allocating_8_gib_is_killed(sbx: Sandbox) -> None:
    r = sbx.run_sync(["python3", "-c", "b = bytearray(8 * 1024**3); print('allocated')"])
    assert "allocated" not in r.text()
    assert r.limit == "memory" or (r.returncode != 0 and b"MemoryError" in r.stderr)


def test_gradual_memory_growth_is_killed(sbx: Sandbox) -> None:
    code = "import time\nl=[]\nfor i in range(80):\n    l.append(bytearray(32 * 1024**2)); time.sleep(0.02)\nprint('done')"
    r = sbx.run_sync(["python3", "-c", code])
    assert "done" not in r.text()
    assert r.limit == "memory"


def test_infinite_loop_hits_cpu_limit(sbx: Sandbox) -> None:
    # a generous wall limit: on a loaded 2-core machine 4 s of CPU can take well over 8 s of wall time
    r = sbx.run_sync(
        ["sh", "-c", "while :; do :; done"], limits=SMALL.model_copy(update={"wall_seconds": 60})
    )
    assert r.limit == "cpu"
    if r.cpu_seconds is not None:  # cgroup accounting: the total is reported, close to the limit
        assert SMALL.cpu_seconds - 0.5 <= r.cpu_seconds <= SMALL.cpu_seconds + 1.5


def test_sleeping_forever_hits_wall_limit(sbx: Sandbox) -> None:
    lim = SMALL.model_copy(update={"wall_seconds": 1.0})
    r = sbx.run_sync(["sleep", "60"], limits=lim)
    assert r.limit == "wall"
    assert r.wall_seconds < 4


def test_100_mb_of_output_is_capped(sbx: Sandbox) -> None:
    r = sbx.run_sync(["sh", "-c", "head -c 100000000 /dev/zero; echo tail >&2"])
    assert len(r.stdout) == SMALL.max_output_bytes
    assert r.stdout_truncated and not r.stderr_truncated
    assert r.text("stderr") == "tail\n"


def test_huge_file_hits_file_size_limit(sbx: Sandbox) -> None:
    lim = SMALL.model_copy(update={"max_file_mb": 4})
    r = sbx.run_sync(["sh", "-c", "head -c 10000000 /dev/zero > big"], limits=lim)
    assert r.returncode != 0
    assert (sbx.workdir / "big").stat().st_size <= 4 * 1024 * 1024


def test_stdin_and_env_are_passed(sbx: Sandbox) -> None:
    os.environ["SECRET_FROM_HOST"] = "leak"
    try:
        r = sbx.run_sync(
            ["sh", "-c", 'cat; echo "$SECRET_FROM_HOST|$MINE"'], input=b"in\n", env={"MINE": "yes"}
        )
    finally:
        del os.environ["SECRET_FROM_HOST"]
    assert r.text() == "in\n|yes\n"


async def test_inspect_environment_roundtrip_and_errors() -> None:
    envs = await BwrapSandboxEnvironment.sample_init("t", BwrapConfig(limits=SMALL), {})
    env = envs["default"]
    try:
        blob = bytes(range(256)) * 4
        await env.write_file("dir/sub/blob.bin", blob)
        assert await env.read_file("dir/sub/blob.bin", text=False) == blob
        await env.write_file("/work/t.txt", "héllo\r\n")
        assert await env.read_file("t.txt") == "héllo\r\n"
        with pytest.raises(FileNotFoundError):
            await env.read_file("missing")
        with pytest.raises(IsADirectoryError):
            await env.read_file("dir")
        with pytest.raises(FileNotFoundError):
            await env.read_file("/etc/shadow")
        with pytest.raises(PermissionError):
            await env.write_file("/usr/bin/evil", "x")
        r = await env.exec(["bash", "--login", "-c", "echo hi; exit 3"])
        assert (r.returncode, r.stdout, r.success) == (3, "hi\n", False)
        with pytest.raises(TimeoutError):
            await env.exec(["sleep", "10"], timeout=1)
    finally:
        await BwrapSandboxEnvironment.sample_cleanup("t", None, envs, False)
    assert not env.sandbox.workdir.exists()


def test_oversized_command_is_a_failed_run_not_an_error(sbx: Sandbox) -> None:
    r = sbx.run_sync(["echo", "x" * 3_000_000])
    assert r.returncode == 126 and b"argument list too long" in r.stderr


def test_stale_cgroups_of_dead_processes_are_swept() -> None:
    from aslgate.sandbox import limits

    parents = limits._cgroup_parents()
    if not parents:
        pytest.skip("no writable cgroups on this host (the watchdog is used instead)")
    stale = [p / "aslgate-999999999-deadbeef" for p in parents]
    for d in stale:
        d.mkdir()
    mine = [p / f"aslgate-{os.getpid()}-keepme00" for p in parents]
    for d in mine:
        d.mkdir()
    try:
        limits._sweep_stale()
        assert not any(d.exists() for d in stale)
        assert all(d.exists() for d in mine)  # a live owner's cgroups are left alone
    finally:
        for d in mine:
            d.rmdir()
