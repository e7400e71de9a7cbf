"""The `aslgate` command line: argument parsing only; each command calls one function.

One module per capability registers its commands on the shared `app`."""

from __future__ import annotations

import sys

from aslgate.cli import assess, behavior, classifier, corpus, cyber, report, sandbox, serve  # noqa: F401  (registers the commands)
from aslgate.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point for `python -m aslgate`."""
    sys.exit(app())
