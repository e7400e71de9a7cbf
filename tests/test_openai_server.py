"""The scripted OpenAI-compatible test server itself, through the real `openai` SDK: what other tests
(and the gateway's) rely on it to do."""

from __future__ import annotations

import openai
import pytest
from support.openai_server import Faults, ScriptedOpenAI, ToolCall, Turn, call, fail, say


@pytest.fixture
def server():
    with ScriptedOpenAI(models=["m1", "m2"]) as s:
        yield s


def _client(server: ScriptedOpenAI, key: str = "test-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0, timeout=5)


def test_turns_follow_the_conversation_and_routes_pick_the_script(server: ScriptedOpenAI) -> None:
    server.script([call("lookup", q="x"), say("done")])
    server.script([say("judged: VERDICT: NO")], model="judge")
    c = _client(server)
    first = c.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
    [tc] = first.choices[0].message.tool_calls
    assert (tc.function.name, tc.function.arguments, first.choices[0].finish_reason) == (
        "lookup",
        '{"q": "x"}',
        "tool_calls",
    )
    history = [{"role": "user", "content": "hi"}, first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": tc.id, "content": "42"}]  # fmt: skip
    second = c.chat.completions.create(model="m1", messages=history)
    assert second.choices[0].message.content == "done" and second.usage.total_tokens > 0
    judge = c.chat.completions.create(model="judge", messages=[{"role": "user", "content": "grade"}])
    assert judge.choices[0].message.content.endswith("VERDICT: NO")
    assert [r.model for r in server.chat_requests()] == ["m1", "m1", "judge"]
    assert server.chat_requests()[1].messages[-1]["content"] == "42"


def test_streaming_reassembles_text_and_tool_calls(server: ScriptedOpenAI) -> None:
    server.script([Turn("thinking aloud", [ToolCall("write_file", {"path": "/w/p.bin", "content": "QQ=="})])])
    stream = _client(server).chat.completions.create(
        model="m1",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, args, names, usage = "", "", [], None
    for chunk in stream:
        usage = chunk.usage or usage
        for ch in chunk.choices:
            text += ch.delta.content or ""
            for t in ch.delta.tool_calls or []:
                names += [t.function.name] if t.function.name else []
                args += t.function.arguments or ""
    assert (text, names, args) == (
        "thinking aloud",
        ["write_file"],
        '{"path": "/w/p.bin", "content": "QQ=="}',
    )
    assert usage is not None and server.chat_requests()[0].stream


def test_models_auth_unknown_paths_and_faults(server: ScriptedOpenAI) -> None:
    server.script([say("ok"), fail(503)])
    c = _client(server)
    assert [m.id for m in c.models.list()] == ["m1", "m2"]
    with pytest.raises(openai.AuthenticationError):
        _client(server, key="wrong").models.list()
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="m1", input="hi")  # most local servers have no Responses API
    assert server.requests[-1].path == "/v1/responses"
    msgs = [{"role": "user", "content": "hi"}]
    server.faults = Faults(every=2)
    assert c.chat.completions.create(model="m1", messages=msgs).choices[0].message.content == "ok"
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="m1", messages=msgs)  # the 2nd chat request
    with pytest.raises(openai.InternalServerError):  # a scripted turn's own status: 503
        c.chat.completions.create(model="m1", messages=[*msgs, {"role": "assistant", "content": "ok"}])
    assert [r.status for r in server.chat_requests()] == [200, 500, 503]
    server.faults = Faults(delay=2)
    with pytest.raises(openai.APITimeoutError):
        openai.OpenAI(
            base_url=server.url, api_key="test-key", max_retries=0, timeout=0.5
        ).chat.completions.create(model="m1", messages=msgs)
