"""Inspect entry point: importing this registers aslgate's providers, sandbox and every task.

So `inspect eval aslgate/cyber_reproduce --model aslgate/reference` works with no file path."""

from aslgate.behavior import tasks as _behavior_tasks  # noqa: F401  (aslgate/behavior)
from aslgate.cyber import hunt_task as _hunt_task  # noqa: F401  (aslgate/hunt_task)
from aslgate.cyber import tasks as _cyber_tasks  # noqa: F401  (aslgate/cyber_reproduce, _exploit, _patch, _discover)
from aslgate.providers import offline as _offline  # noqa: F401  (aslgate/reference, null, scripted, ...)
from aslgate.sandbox import bwrap as _bwrap  # noqa: F401  (sandbox "bwrap")
