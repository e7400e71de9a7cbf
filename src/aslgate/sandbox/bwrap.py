"""Inspect sandbox environment ``bwrap``: one private /work per sample, every command via `Sandbox.run`."""

from __future__ import annotations

from typing import Any, Literal, Union, overload

from inspect_ai.util import ExecResult, OutputLimitExceededError, SandboxEnvironment, sandboxenv
from inspect_ai.util._sandbox.environment import SandboxEnvironmentConfigType
from pydantic import BaseModel

from aslgate.sandbox.core import FileTooLarge, Sandbox
from aslgate.sandbox.host import require_host
from aslgate.sandbox.limits import Limits


class BwrapConfig(BaseModel, frozen=True):
    """Inspect sandbox config for ``bwrap``: limits for every command of a sample."""

    limits: Limits = Limits()


@sandboxenv(name="bwrap")
class BwrapSandboxEnvironment(SandboxEnvironment):
    """Inspect sandbox environment backed by `Sandbox` (one private /work per sample)."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    @classmethod
    async def task_init(cls, task_name: str, config: SandboxEnvironmentConfigType | None) -> None:
        require_host()  # fail before any sample when the strong sandbox is unavailable and not waived

    @classmethod
    def config_deserialize(cls, config: dict[str, Any]) -> BaseModel:
        return BwrapConfig(**config)

    @classmethod
    async def sample_init(
        cls, task_name: str, config: SandboxEnvironmentConfigType | None, metadata: dict[str, str]
    ) -> dict[str, SandboxEnvironment]:
        cfg = config if isinstance(config, BwrapConfig) else BwrapConfig()
        sbx = Sandbox(limits=cfg.limits)
        return {"default": cls(sbx)}

    @classmethod
    async def sample_cleanup(
        cls,
        task_name: str,
        config: SandboxEnvironmentConfigType | None,
        environments: dict[str, SandboxEnvironment],
        interrupted: bool,
    ) -> None:
        for env in environments.values():
            env.as_type(BwrapSandboxEnvironment).sandbox.cleanup()

    async def exec(
        self,
        cmd: list[str],
        input: str | bytes | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        timeout: int | None = None,
        timeout_retry: bool = True,
        concurrency: bool = True,
    ) -> ExecResult[str]:
        lim = self.sandbox.limits
        if timeout is not None:
            lim = lim.model_copy(update={"wall_seconds": float(timeout)})
        r = await self.sandbox.run(cmd, input=input, cwd=cwd, env=env, limits=lim)
        if r.limit == "wall":
            raise TimeoutError(f"command timed out after {lim.wall_seconds:g}s")
        stderr = r.text("stderr")
        notes = []
        if r.limit:
            notes.append(f"[aslgate sandbox: {r.limit} limit reached; process killed]")
        if r.stdout_truncated or r.stderr_truncated:
            notes.append(f"[aslgate sandbox: output truncated to {lim.max_output_bytes} bytes]")
        if notes:
            stderr = (stderr + "\n" + "\n".join(notes)).lstrip("\n")
        return ExecResult(success=r.returncode == 0, returncode=r.returncode, stdout=r.text(), stderr=stderr)

    async def write_file(self, file: str, contents: str | bytes) -> None:
        await self.sandbox.write(file, contents)

    @overload
    async def read_file(self, file: str, text: Literal[True] = True) -> str: ...

    @overload
    async def read_file(self, file: str, text: Literal[False]) -> bytes: ...

    async def read_file(self, file: str, text: bool = True) -> Union[str | bytes]:  # noqa: UP007
        try:
            data = await self.sandbox.read(file)
        except FileTooLarge as e:
            raise OutputLimitExceededError(limit_str=str(e), truncated_output=None) from None
        return data.decode("utf-8") if text else data

    def default_polling_interval(self) -> float:
        return 0.2
