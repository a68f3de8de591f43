"""The OpenAI chat-completions wire format: request validation, response and chunk bodies."""

from __future__ import annotations

import json
from typing import Any

from robutler_monitoring.demo.agents import Completion
from robutler_monitoring.demo.llm import Message

MAX_BODY_BYTES = 1_000_000
_ROLES = ("system", "developer", "user", "assistant", "tool")


class ApiError(Exception):
    """A request the server answers with an OpenAI-style JSON error.

    >>> ApiError(404, "agent 'x' not found", "not_found").body()
    {'error': {'message': "agent 'x' not found", 'type': 'not_found'}}
    """

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind

    def body(self) -> dict[str, Any]:
        """The JSON error object."""
        return {"error": {"message": self.message, "type": self.kind}}


def parse_chat_request(body: bytes) -> tuple[list[Message], bool]:
    """The messages and the ``stream`` flag of a request body; ApiError naming any problem."""
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, f"request body must be a JSON object, got {type(data).__name__}")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, f"'stream' must be true or false, got {json.dumps(stream)[:80]}")
    if "messages" not in data:
        raise ApiError(400, "'messages' is required")
    raw = data["messages"]
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, f"'messages' must be a non-empty list, got {json.dumps(raw)[:80]}")
    return [_parse_message(i, item) for i, item in enumerate(raw)], stream


def _parse_message(index: int, item: Any) -> Message:
    where = f"messages[{index}]"
    if not isinstance(item, dict):
        raise ApiError(400, f"'{where}' must be an object with 'role' and 'content'")
    role = item.get("role")
    if role not in _ROLES:
        raise ApiError(400, f"'{where}.role' must be one of {', '.join(_ROLES)}; got {role!r}")
    content = item.get("content")
    if content is None or isinstance(content, str):
        return Message(role, content or "")
    if isinstance(content, list):
        texts = [part.get("text") if isinstance(part, dict) else None for part in content]
        if all(isinstance(text, str) for text in texts):
            return Message(role, "".join(str(text) for text in texts))
    raise ApiError(400, f"'{where}.content' must be a string, null or a list of text parts")


def completion_body(completion: Completion, completion_id: str, created: int) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": completion.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.content},
                "finish_reason": "stop",
            }
        ],
        "usage": completion.usage.to_dict(),
        # Tools the agent ran server-side; OpenAI clients ignore unknown top-level keys.
        "tool_calls": [result.to_dict() for result in completion.tool_results],
    }


def chunk_event(completion_id: str, created: int, model: str, item: str | Completion, *, first: bool) -> str:
    """One server-sent event: a content delta, or the final chunk with usage for a Completion."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    if isinstance(item, Completion):
        body["choices"] = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
        body["usage"] = item.usage.to_dict()
        body["tool_calls"] = [result.to_dict() for result in item.tool_results]
    else:
        delta = {"role": "assistant", "content": item} if first else {"content": item}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    return sse(body)


def sse(data: dict[str, Any] | str) -> str:
    """A ``data:`` line of a server-sent event stream."""
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
