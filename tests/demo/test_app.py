"""The demo agent server over real HTTP: listing, completions, streaming, magic texts, errors."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from robutler_monitoring.demo import DEFAULT_PROMPT, create_demo_app
from tests.support.servers import run_asgi

pytestmark = pytest.mark.slow


def _tokens(text: str) -> int:
    # The documented rule, written out again here: runs of word characters, or one
    # punctuation character each.
    return len(re.findall(r"\w+|[^\w\s]", text))


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    app = create_demo_app(slow_seconds=0.4, stream_delay=0.01)
    with run_asgi(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        http.app = app  # type: ignore[attr-defined]  # tests peek at app.state.caches
        yield http


def _stream(
    http: httpx.Client, path: str, body: dict[str, Any]
) -> tuple[httpx.Response, list[tuple[float, str]]]:
    """POST with stream=true; every `data:` payload with its arrival time."""
    events: list[tuple[float, str]] = []
    with http.stream("POST", path, json={**body, "stream": True}) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append((time.monotonic(), line.removeprefix("data: ")))
    return response, events


def test_agents_lists_each_agent_with_its_tools(client: httpx.Client) -> None:
    response = client.get("/agents")
    assert response.status_code == 200
    body = response.json()
    agents = {agent["name"]: agent for agent in body["agents"]}
    assert set(agents) == {"assistant", "echo"}
    assert body["total_count"] == 2
    assert agents["assistant"]["tools"] == ["calculator", "weather"]
    assert agents["assistant"]["skills"] == ["calculator", "weather"]
    assert agents["assistant"]["endpoints"]["chat_completions"] == "/assistant/chat/completions"
    assert agents["echo"]["tools"] == []
    assert all(agent["model"] and agent["description"] for agent in agents.values())
    root = client.get("/").json()
    assert root["agents"] == ["assistant", "echo"]
    assert "/agents" in root["endpoints"]


def test_agent_info_and_unknown_agent(client: httpx.Client) -> None:
    info = client.get("/assistant")
    assert info.status_code == 200
    assert info.json()["name"] == "assistant"
    assert info.json()["url"] == "/assistant"

    missing = client.get("/nobody")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "agent 'nobody' not found", "type": "not_found"}}
    posted = client.post("/nobody/chat/completions", json=_user("hi"))
    assert posted.status_code == 404
    assert posted.json()["error"]["message"] == "agent 'nobody' not found"


def test_completion_calls_the_calculator_and_counts_tokens(client: httpx.Client) -> None:
    prompt = "What is (12 + 3) * 7?"
    response = client.post("/assistant/chat/completions", json=_user(prompt))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert str((12 + 3) * 7) in content
    assert "calculator" in content

    [call] = body["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {"expression": "(12 + 3) * 7"}
    assert call["output"] == "105"

    # "What is (12 + 3) * 7?" -> What, is, (, 12, +, 3, ), *, 7, ? = 10 tokens
    assert body["usage"]["prompt_tokens"] == 10
    assert body["usage"]["completion_tokens"] == _tokens(content)
    assert body["usage"]["total_tokens"] == 10 + _tokens(content)


def test_prompt_tokens_count_every_message_and_earlier_turns_are_cached(client: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "echo me!"},
    ]
    body = client.post("/echo/chat/completions", json={"messages": messages}).json()
    assert body["choices"][0]["message"]["content"] == "echo me!"
    assert body["usage"] == {
        "prompt_tokens": 3 + 2 + 0 + 3,
        "completion_tokens": 3,
        "total_tokens": 11,
        "prompt_tokens_details": {"cached_tokens": 3 + 2 + 0},  # the messages before the last user one
    }
    assert body["tool_calls"] == []


def test_think_spends_reasoning_tokens_inside_the_completion(client: httpx.Client) -> None:
    body = client.post("/echo/chat/completions", json=_user("why? !think")).json()
    assert body["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": 4 + 4,  # the echoed text, then as many tokens of thinking
        "total_tokens": 12,
        "completion_tokens_details": {"reasoning_tokens": 4},
    }


def test_default_prompt_calls_both_tools_and_weather_is_cached(client: httpx.Client) -> None:
    cache = client.app.state.caches["weather"]  # type: ignore[attr-defined]
    first = client.post("/assistant/chat/completions", json=_user(DEFAULT_PROMPT)).json()
    second = client.post("/assistant/chat/completions", json=_user(DEFAULT_PROMPT)).json()
    names = [call["function"]["name"] for call in first["tool_calls"]]
    assert names == ["calculator", "weather"]
    weather = first["tool_calls"][1]["output"]
    assert weather["city"] == "Paris"
    assert f"{weather['temperature_c']} °C" in first["choices"][0]["message"]["content"]
    # Offline and deterministic: the same city gets the same report, the second from cache.
    assert second["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    assert (cache.misses, cache.hits, cache.size) == (1, 1, 1)


def test_stream_sends_chunks_as_they_are_made(client: httpx.Client) -> None:
    delay = 0.15
    app = create_demo_app(stream_delay=delay)
    prompt = "one two three four five six"
    with run_asgi(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        plain = http.post("/echo/chat/completions", json=_user(prompt)).json()
        response, events = _stream(http, "/echo/chat/completions", _user(prompt))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == plain["choices"][0]["message"]["content"] == prompt
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == plain["usage"]
    # Six words are six content chunks, `delay` apart: the first must arrive long before
    # the last, which it would not if the server buffered the whole answer.
    content_times = [
        t for (t, _), chunk in zip(events[:-1], chunks, strict=True) if chunk["choices"][0]["delta"]
    ]
    assert len(content_times) == 6
    assert content_times[-1] - content_times[0] >= 4 * delay


def test_stream_content_matches_completion_with_tools(client: httpx.Client) -> None:
    plain = client.post("/assistant/chat/completions", json=_user(DEFAULT_PROMPT)).json()
    _, events = _stream(client, "/assistant/chat/completions", _user(DEFAULT_PROMPT))
    chunks = [json.loads(data) for _, data in events[:-1]]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"] == plain["usage"]
    assert chunks[-1]["tool_calls"] == plain["tool_calls"]


def test_error_text_gives_500_json_and_logs(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="robutler_monitoring.demo")
    response = client.post("/assistant/chat/completions", json=_user("what is 2 + 2 !error"))
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "agent_error"
    assert "assistant" in error["message"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "robutler_monitoring.demo"
    assert record.exc_info is not None
    assert type(record.exc_info[1]).__name__ == "DemoAgentError"
    # The tool call that happened before the failure was logged at DEBUG.
    assert any(r.levelno == logging.DEBUG and "calculator" in r.getMessage() for r in caplog.records)


def test_completion_is_logged_at_info(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="robutler_monitoring.demo")
    client.post("/echo/chat/completions", json=_user("hi"))
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1
    assert "echo" in infos[0].getMessage()


def test_error_text_in_stream_sends_an_error_event_then_done(client: httpx.Client) -> None:
    response, events = _stream(client, "/echo/chat/completions", _user("fail please !error"))
    assert response.status_code == 200
    payloads = [data for _, data in events]
    assert payloads[-1] == "[DONE]"
    first, error = json.loads(payloads[0]), json.loads(payloads[1])
    assert first["choices"][0]["delta"]["content"] == "fail "
    assert error["error"]["type"] == "agent_error"
    assert len(payloads) == 3


def test_crash_text_is_unhandled_and_the_server_keeps_serving(client: httpx.Client) -> None:
    response = client.post("/assistant/chat/completions", json=_user("!crash"))
    assert response.status_code == 500
    assert "agent_error" not in response.text  # uvicorn's/Starlette's plain 500, not ours
    with pytest.raises(httpx.TransportError):  # the stream is cut off, no [DONE]
        _stream(client, "/assistant/chat/completions", _user("!crash"))
    assert client.get("/agents").status_code == 200
    assert client.post("/echo/chat/completions", json=_user("still here")).status_code == 200


@pytest.mark.parametrize(("text", "seconds"), [("!slow=0.3 hi", 0.3), ("hi !slow", 0.4)])
def test_slow_text_delays_the_answer(client: httpx.Client, text: str, seconds: float) -> None:
    started = time.monotonic()
    response = client.post("/echo/chat/completions", json=_user(text))
    assert response.status_code == 200
    assert time.monotonic() - started >= seconds
    fast_started = time.monotonic()
    client.post("/echo/chat/completions", json=_user("hi"))
    assert time.monotonic() - fast_started < seconds


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"{}", 400, "'messages' is required"),
        (b'{"messages": []}', 400, "'messages' must be a non-empty list"),
        (b'{"messages": "hi"}', 400, "'messages' must be a non-empty list"),
        (b'{"messages": ["hi"]}', 400, "'messages[0]' must be an object"),
        (b'{"messages": [{"role": "wizard", "content": "x"}]}', 400, "'messages[0].role'"),
        (b'{"messages": [{"role": "user", "content": 5}]}', 400, "'messages[0].content'"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "'stream'"),
        (b"[" * 100_000, 400, "not valid JSON"),
        (
            b'{"messages": [{"role": "user", "content": "' + b"a" * 1_000_001 + b'"}]}',
            413,
            "larger than",
        ),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(
    client: httpx.Client, body: bytes, status: int, names: str
) -> None:
    response = client.post("/assistant/chat/completions", content=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert names in error["message"]
    assert error["type"] == "invalid_request_error"


def test_wrong_method_and_unknown_route_are_json(client: httpx.Client) -> None:
    wrong = client.get("/assistant/chat/completions")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["type"] == "method_not_allowed"
    assert "GET /assistant/chat/completions" in wrong.json()["error"]["message"]
    unknown = client.get("/assistant/chat/completions/extra")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "no route for GET /assistant/chat/completions/extra"


def test_create_demo_app_rejects_negative_timings() -> None:
    with pytest.raises(ValueError, match="stream_delay must be >= 0"):
        create_demo_app(stream_delay=-1)
