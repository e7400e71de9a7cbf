"""`aslgate corpus ...`: make real challenges from Debian security patches."""

from __future__ import annotations

from pathlib import Path

import typer

from aslgate.cli.common import app, console, friendly, out

corpus_app = typer.Typer(no_args_is_help=True, help="Build the real-code corpus.")
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("import-debian")
@friendly
def import_debian_cmd(
    package: str = typer.Argument(..., help="Debian source package name (or a local .dsc file)"),
    patch: list[str] = typer.Option(
        ..., "--patch", help="the debian/patches/ entry that fixes the bug (repeat for a fix in parts)"
    ),
    version: str | None = typer.Option(None, "--version", help="source version (default: newest fetchable)"),
    harness: Path | None = typer.Option(None, "--harness", help="file defining LLVMFuzzerTestOneInput"),
    build: Path | None = typer.Option(None, "--build", help="OSS-Fuzz style build script"),
    tests: Path | None = typer.Option(None, "--tests", help="directory of functional-test inputs"),
    poc: Path | None = typer.Option(None, "--poc", help="a PoC that must reproduce (else verified: false)"),
    meta: Path | None = typer.Option(
        None, "--meta", help="YAML with challenge.yaml fields (title, cwe, ...)"
    ),
    challenge_id: str | None = typer.Option(None, "--id", help="challenge id (default real-PACKAGE-CVE)"),
    out_dir: Path | None = typer.Option(None, "--out", help="where to write the folder (default ./ID)"),
) -> None:
    """Make a challenge from a Debian package: the series up to PATCH is vulnerable, PATCH is the fix."""
    from aslgate.cyber.debian import import_debian

    r = import_debian(
        package, patch, version=version, harness=harness, build_script=build, tests=tests, poc=poc,
        out=out_dir, meta=meta, challenge_id=challenge_id, say=lambda s: console.print(s, highlight=False),
    )  # fmt: skip
    out.print(
        f"{r.path}: {r.package} {r.version} fixed by {r.patch}; {len(r.files)} files "
        f"({r.bytes_vendored} bytes) vendored, {len(r.tests)} tests, PoC {r.poc_verdict or 'none (verified: false)'}",
        highlight=False,
        soft_wrap=True,
    )
