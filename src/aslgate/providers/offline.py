"""Offline Inspect model providers: ``aslgate/reference``, ``null``, ``scripted``, ``fuzzer``, ``aligned``
and ``misaligned``.

They act through the same tools as a real model, need no network, and count tokens without tiktoken.
The reference agent plays the known solution (the corpus's reference PoC) so every suite can be run
end to end with no model; the null agent never solves anything; the scripted agent replays a list of
steps given in ``-M script=FILE`` (JSON or YAML) or ``get_model(..., script=[...])``. In behavior
scenarios the reference and aligned agents play each scenario's aligned script, the misaligned agent
its misaligned one (see aslgate.behavior.agents). They learn the cyber task family and challenge from what
the task's setup solver recorded for the sample (aslgate.cyber.context), never from the prompt text.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from aslgate.behavior.agents import scripted_move
from aslgate.cyber.context import current_sample
from aslgate.cyber.corpus import ChallengeError, resolve_challenge
from aslgate.cyber.fuzz import DEFAULT_SECONDS, fuzz_script, fuzzer_build_command
from aslgate.errors import UserError

AGENTS = ("reference", "null", "scripted", "fuzzer", "aligned", "misaligned")


class OfflineAgentError(UserError, ValueError):
    """The offline provider was misconfigured (unknown agent name, unreadable script)."""


def _tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters a token), good enough for usage accounting."""
    return max(1, len(text) // 4)


def _conversation_text(messages: list[ChatMessage]) -> str:
    return "\n".join(m.text for m in messages)


def _task_of() -> tuple[str, str] | None:
    """(family, challenge folder) of the running cyber sample, from what its setup solver recorded."""
    s = current_sample()
    return (s.family, s.challenge_path) if s else None


def _steps_taken(messages: list[ChatMessage]) -> int:
    return sum(1 for m in messages if isinstance(m, ChatMessageAssistant) and m.tool_calls)


def _load_script(script: Any) -> list[dict[str, Any]]:
    if isinstance(script, list):
        return script
    path = Path(str(script))
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise OfflineAgentError(f"{path}: cannot read script ({e})") from None
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        raise OfflineAgentError(f"{path}: a script is a list of steps ({{tool, args}} or {{content}})")
    return data


class OfflineAgent(ModelAPI):
    """An Inspect model whose 'generations' are decided by a deterministic policy."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.agent = model_name.split("/")[-1]
        if self.agent not in AGENTS:
            raise OfflineAgentError(f"unknown offline agent aslgate/{model_name}; choose one of {AGENTS}")
        self.script = _load_script(model_args["script"]) if self.agent == "scripted" else []
        self.fuzz_seconds = float(model_args.get("seconds", DEFAULT_SECONDS))
        if self.agent == "scripted" and "script" not in model_args:
            raise OfflineAgentError("aslgate/scripted needs -M script=FILE")

    async def count_text_tokens(self, text: str) -> int:
        return _tokens(text)

    def max_connections(self) -> int:
        return 8

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        step = _steps_taken(input)
        behaving = None
        if self.agent in ("reference", "aligned", "misaligned"):  # the reference agent behaves aligned
            kind = "misaligned" if self.agent == "misaligned" else "aligned"
            behaving = scripted_move(kind, input, f"aslgate/{self.agent}")
        if behaving is not None:
            output = behaving  # a behavior scenario: play the scenario's script
        elif self.agent in ("aligned", "misaligned"):
            output = ModelOutput.from_content(
                model=f"aslgate/{self.agent}", content="Not a behavior scenario."
            )
        elif self.agent == "scripted":
            output = self._scripted(step)
        elif self.agent == "null":
            output = self._call("submit", {"answer": "I cannot do this task."})
        elif self.agent == "fuzzer":
            output = self._fuzzer(input, step)
        else:
            output = self._reference(input, step)
        prompt_tokens = _tokens(_conversation_text(input))
        completion_tokens = _tokens(
            output.message.text + json.dumps([tc.arguments for tc in output.message.tool_calls or []])
        )
        output.usage = ModelUsage(
            input_tokens=prompt_tokens,
            output_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        return output

    def _call(self, tool: str, args: dict[str, Any], content: str = "") -> ModelOutput:
        return ModelOutput.for_tool_call(
            model=f"aslgate/{self.agent}", tool_name=tool, tool_arguments=args, content=content or None
        )

    def _scripted(self, step: int) -> ModelOutput:
        if not self.script:
            return ModelOutput.from_content(model="aslgate/scripted", content="(empty script)")
        s = self.script[min(step, len(self.script) - 1)]
        if "tool" in s:
            return self._call(str(s["tool"]), dict(s.get("args") or {}), str(s.get("content") or ""))
        return ModelOutput.from_content(model="aslgate/scripted", content=str(s.get("content", "")))

    def _fuzzer(self, messages: list[ChatMessage], step: int) -> ModelOutput:
        """The non-AI baseline: build the libFuzzer target, fuzz from the functional-test inputs, submit the
        first crash. It cannot write patches, so it gives up on patch tasks."""
        found = _task_of()
        if found is None or found[0] not in ("reproduce", "discover", "exploit"):
            return self._call("submit", {"answer": "none (a fuzzer cannot do this task)"})
        task, cid = found
        try:
            challenge = resolve_challenge(cid)
        except ChallengeError:
            return self._call("submit", {"answer": f"unknown challenge {cid}"})
        if step == 0:
            seeds = " && ".join(
                f"echo {base64.b64encode(t.input.read_bytes()).decode()} | base64 -d > seeds/{i}"
                for i, t in enumerate(challenge.tests())
            )
            cmd = (
                f"cd /work && mkdir -p seeds && {seeds or 'true'} && {fuzzer_build_command(challenge)} && "
                f"{fuzz_script(self.fuzz_seconds)}"
                "[ -f crash.bin ] && mkdir -p findings && cp crash.bin findings/; true"
            )
            return self._call(
                "bash", {"command": cmd}, f"Fuzzing for {self.fuzz_seconds:g} s with libFuzzer."
            )
        return self._call("submit", {"answer": "/work/findings" if task == "discover" else "/work/crash.bin"})

    def _reference(self, messages: list[ChatMessage], step: int) -> ModelOutput:
        found = _task_of()
        if found is None:
            return ModelOutput.from_content(model="aslgate/reference", content="No task I know how to solve.")
        task, cid = found
        try:
            challenge = resolve_challenge(cid)
        except ChallengeError:
            return self._call("submit", {"answer": f"unknown challenge {cid}"})
        if task == "reproduce":
            if step == 0:
                return self._write_b64("/work/poc.bin", challenge.pocs()[0].read_bytes())
            if self._last_tool_ok(messages):
                return self._call("submit", {"answer": "/work/poc.bin"})
        if task == "discover":
            if step == 0:
                return self._write_b64("/work/findings/crash-1.bin", challenge.pocs()[0].read_bytes())
            if self._last_tool_ok(messages):
                return self._call("submit", {"answer": "/work/findings"})
        if task == "patch":
            if step == 0:
                fix = base64.b64encode(challenge.fix_patch.read_bytes()).decode()
                cmd = (
                    f"echo {fix} | base64 -d > /work/fix.diff && cd src && patch -p1 --dry-run < ../fix.diff"
                )
                return self._call("bash", {"command": cmd}, "I will write the known fix.")
            if self._last_tool_ok(messages):
                return self._call("submit", {"answer": "/work/fix.diff"})
        if task == "exploit" and challenge.exploit_script is not None:
            if step == 0:
                script = base64.b64encode(challenge.exploit_script.read_bytes()).decode()
                cmd = (
                    f"echo {script} | base64 -d > /tmp/exploit.py && "
                    'win=$(nm /work/prog | awk \'$3=="aslgate_win"{print "0x"$1}\') && '
                    'python3 /tmp/exploit.py "$win" > /work/exploit.bin && ASLGATE_NONCE=test ./prog exploit.bin'
                )
                return self._call("bash", {"command": cmd}, "I will run the known exploit generator.")
            if self._last_tool_ok(messages):
                return self._call("submit", {"answer": "/work/exploit.bin"})
        return self._call("submit", {"answer": "none"})

    def _write_b64(self, path: str, data: bytes) -> ModelOutput:
        """Write bytes through the write_file tool (no argv size limit, unlike a bash command)."""
        args = {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}
        return self._call("write_file", args, "I will write the known crashing input.")

    @staticmethod
    def _last_tool_ok(messages: list[ChatMessage]) -> bool:
        last_tool = next((m for m in reversed(messages) if isinstance(m, ChatMessageTool)), None)
        return last_tool is not None and last_tool.error is None


@modelapi(name="aslgate")
def aslgate_offline() -> type[ModelAPI]:
    return OfflineAgent
