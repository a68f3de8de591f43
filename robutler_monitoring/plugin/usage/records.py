"""Usage records in the shape of the Robutler SDK's ``context.usage``, built from operations.

An LLM record::

    {"type": "llm", "id": "3f2a...c1-0", "index": 0, "server_request_id": "3f2a...c1",
     "request_id": "<client X-Request-ID or generated>", "trace_id": null, "timestamp": 1764566400.1,
     "agent": "assistant", "caller": "u-42", "model": "gpt-4o-mini", "provider": null, "prompt_tokens": 12,
     "completion_tokens": 5, "total_tokens": 17, "cached_tokens": 0, "cache_write_tokens": 0,
     "reasoning_tokens": null, "streaming": false, "status": "success", "error_type": null,
     "duration_s": 0.31, "ttft_s": null, "cost_usd": 4.8e-06, "priced": true,
     "price_source": "genai-prices", "price_version": "0.2.3"}

``id`` is deterministic: the server-generated id of the request (never the client's
``X-Request-ID``, which retries reuse) and the record's index within that request, so a
receiver that dedupes by ``id`` drops re-sent copies and only those. ``caller`` is who the call
was for, when known (:mod:`.caller`), else null. The cost fields are
filled later, by the writer thread (:mod:`.cost` is too slow for the request path).
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from ...events import LLMCall, Operation, ToolCall
from .caller import caller_of

__all__ = ["RECORD_KEY", "llm_record", "server_request_id", "tool_record", "trace_id"]

#: ``op.state`` key holding ``[server_request_id, next_index]`` on a request's root operation
RECORD_KEY = "usage.record_ids"


def server_request_id(op: Operation) -> tuple[str, int]:
    """The server-generated id of ``op``'s request and the next record index in it.

    The id lives on the outermost operation (the HTTP request; an agent run or the
    call itself when there is none), made on first use.
    """
    root = op
    while root.parent is not None:
        root = root.parent
    ids = root.state.get(RECORD_KEY)
    if ids is None:
        ids = root.state[RECORD_KEY] = [uuid.uuid4().hex, 0]
    index = ids[1]
    ids[1] = index + 1
    return ids[0], index


def trace_id() -> str | None:
    """The current OpenTelemetry trace id (hex), when tracing is in use."""
    trace = sys.modules.get("opentelemetry.trace")  # never imported here
    if trace is None:
        return None
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def _base(op: Operation, kind: str, trace: str | None, caller_header: bytes | None) -> dict[str, Any]:
    srid, index = server_request_id(op)
    return {
        "type": kind,
        "id": f"{srid}-{index}",
        "index": index,
        "server_request_id": srid,
        "request_id": op.request_id,
        "trace_id": trace,
        "timestamp": op.start_ns / 1e9 + (op.duration_s or 0.0),
        "agent": op.agent,
        "caller": caller_of(op, caller_header),
        "status": op.outcome,
        "error_type": op.error_type,
        "duration_s": op.duration_s,
    }


def llm_record(op: LLMCall, trace: str | None = None, caller_header: bytes | None = None) -> dict[str, Any]:
    """The usage record of a finished LLM call (cost fields not yet filled)."""
    record = _base(op, "llm", trace, caller_header)
    prompt = op.input_tokens or 0
    completion = op.output_tokens or 0
    record.update(
        model=op.model,
        response_model=op.response_model,
        provider=op.provider,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=op.cache_read_tokens or 0,
        cache_write_tokens=op.cache_write_tokens or 0,
        reasoning_tokens=op.reasoning_tokens,
        streaming=op.streaming,
        ttft_s=op.ttft_s,
        cost_usd=None,
        priced=False,
        price_source=None,
        price_version=None,
    )
    return record


def tool_record(op: ToolCall, trace: str | None = None, caller_header: bytes | None = None) -> dict[str, Any]:
    """The usage record of a finished tool call, with any pricing the tool reported."""
    record = _base(op, "tool", trace, caller_header)
    record["tool"] = op.name
    record["call_id"] = op.call_id
    if op.pricing:
        record["pricing"] = dict(op.pricing)
    return record
