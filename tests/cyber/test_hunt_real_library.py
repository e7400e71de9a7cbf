"""`aslgate hunt` on a real open-source C library: LZ4 (BSD-2-Clause) as vendored in the `lz4` PyPI sdist,
with one bounds check removed. The planted build must yield a verified overflow inside lz4.c; the
unmodified library, fuzzed with the same budget, must yield nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aslgate.cli import app

SDIST = "lz4==4.4.5"
CHECK = "if ((ip+length != iend) || (cpy > oend)) {"
PLANTED = "if (ip+length != iend) {"  # the last literal run may now overrun the output buffer
HARNESS = textwrap.dedent(
    r"""
    #include <stdint.h>
    #include <stdlib.h>
    #include "lz4.h"

    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
      char *out = malloc(8);
      LZ4_decompress_safe((const char *)data, out, (int)size, 8);
      free(out);
      return 0;
    }
    """
)
BUILD = '$CC $CFLAGS -c lz4.c -o lz4.o && $CC $CFLAGS $LIB_FUZZING_ENGINE harness.c lz4.o -o "$OUT/lz4_decompress"'


@pytest.fixture(scope="module")
def lz4_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sdist")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", SDIST, "-d", str(d)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    archives = list(d.glob("lz4-*.tar.gz"))
    if r.returncode != 0 or not archives:
        pytest.skip(f"cannot download the {SDIST} sdist from PyPI: {r.stderr.strip()[-200:]}")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(d, filter="data")
    [libs] = list(d.glob("lz4-*/lz4libs"))
    return libs


def _project(root: Path, libs: Path, planted: bool) -> Path:
    root.mkdir()
    source = (libs / "lz4.c").read_text()
    assert CHECK in source
    (root / "lz4.c").write_text(source.replace(CHECK, PLANTED) if planted else source)
    (root / "lz4.h").write_text((libs / "lz4.h").read_text())
    (root / "harness.c").write_text(HARNESS)
    return root


@pytest.mark.slow
def test_planted_bug_in_lz4_is_found_and_the_original_is_clean(lz4_sources: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    results = {}
    for planted in (True, False):
        proj = _project(tmp_path / f"lz4-{planted}", lz4_sources, planted)
        out = tmp_path / f"out-{planted}"
        r = runner.invoke(
            app, ["hunt", str(proj), "--build", BUILD, "--seconds", "5", "--out", str(out), "--json"]
        )
        assert r.exit_code in (0, 1), r.output
        results[planted] = json.loads(r.output)
    [finding, *_] = results[True]["findings"]
    assert finding["tier"] >= 3 and finding["access"] == "WRITE"
    assert any(f["file"] == "lz4.c" for f in finding["frames"])
    assert results[False]["findings"] == []
