"""Inspect entry point: importing this registers aslgate's providers, sandbox and tasks."""

from aslgate.providers import offline as _offline  # noqa: F401
from aslgate.sandbox import bwrap as _bwrap  # noqa: F401
