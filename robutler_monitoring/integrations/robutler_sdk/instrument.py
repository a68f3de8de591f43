"""Monitoring for Robutler SDK 0.2.0 agents without a change to the user's code.

:func:`instrument_agent` wraps, on the agent instance only:

- ``run`` and ``run_streaming``: one :class:`~robutler_monitoring.events.AgentRun` per
  call; a stream runs until it ends, fails or is closed (``finalize_connection`` is
  skipped when the client disconnects, so the stream wrapper ends the run, not a hook);
- the ``primary_llm`` skill's ``chat_completion`` and ``chat_completion_stream``: one
  :class:`~robutler_monitoring.events.LLMCall` each (0.2.0 has no LLM hook). A streamed
  tool round is abandoned by the SDK at ``finish_reason == "tool_calls"`` before its usage
  is read, so the stream wrapper reads the rest of the model's stream (the usage chunk)
  before it hands the finish chunk on. Usage comes from what the model returned, once:
  the SDK's ``context.usage`` lists a LiteLLM call twice (the skill and BaseAgent both
  append it), this does not read it;
- every registered ``@tool`` function: one :class:`~robutler_monitoring.events.ToolCall`
  each, with the error type (the SDK turns an exception into ``"Tool execution error"``
  text) and any pricing the tool returned as ``(result, usage)``.

Everything goes to the event bus, so SDK agents and the demo fill the same series.
Imported only when SDK agents are served (the SDK takes seconds to import).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ...events import AgentRun, EventBus, LLMCall, ToolCall
from .logs import inherit_levels
from .serving import llm_model

__all__ = ["instrument_agent", "instrument_server", "usage_of"]

_MARK = "_robutler_monitoring_instrumented"


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def usage_of(response: Any) -> dict[str, int | None] | None:
    """Token counts from an OpenAI-style response or chunk (dict or object), or None.

    >>> usage_of({"usage": {"prompt_tokens": 10, "completion_tokens": 2,
    ...           "prompt_tokens_details": {"cached_tokens": 4}}})["cache_read_tokens"]
    4
    """
    usage = _get(response, "usage")
    if not usage:
        return None
    prompt_details = _get(usage, "prompt_tokens_details") or {}
    completion_details = _get(usage, "completion_tokens_details") or {}
    cache_read = _get(prompt_details, "cached_tokens")
    if cache_read is None:
        cache_read = _get(usage, "cache_read_input_tokens")  # Anthropic through LiteLLM
    cache_write = _get(usage, "cache_creation_input_tokens")
    return {
        "input_tokens": _int(_get(usage, "prompt_tokens")),
        "output_tokens": _int(_get(usage, "completion_tokens")),
        "cache_read_tokens": _int(cache_read),
        "cache_write_tokens": _int(cache_write),
        "reasoning_tokens": _int(_get(completion_details, "reasoning_tokens")),
    }


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _finish_reason(chunk: Any) -> Any:
    choices = _get(chunk, "choices")
    if not choices:
        return None
    return _get(choices[0], "finish_reason")


def _has_content(chunk: Any) -> bool:
    choices = _get(chunk, "choices")
    if not choices:
        return False
    delta = _get(choices[0], "delta") or {}
    return bool(_get(delta, "content") or _get(delta, "tool_calls"))


def _model_of(skill: Any, kwargs: Mapping[str, Any]) -> str:
    return str(kwargs.get("model") or llm_model(skill) or "unknown")


def _set_usage(call: LLMCall, response: Any) -> None:
    usage = usage_of(response)
    model = _get(response, "model")
    if usage is not None:
        call.set_usage(**usage, response_model=str(model) if model else None)


def _instrument_llm(skill: Any, bus: EventBus | None) -> None:
    if getattr(skill, _MARK, False):
        return
    complete = skill.chat_completion
    stream = getattr(skill, "chat_completion_stream", None)

    @functools.wraps(complete)
    async def chat_completion(*args: Any, **kwargs: Any) -> Any:
        call = LLMCall(_model_of(skill, kwargs), streaming=False, bus=bus).begin()
        try:
            response = await complete(*args, **kwargs)
        except BaseException as exc:
            call.end(exc)
            raise
        _set_usage(call, response)
        call.end()
        return response

    skill.chat_completion = chat_completion
    if stream is not None:

        @functools.wraps(stream)
        async def chat_completion_stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            call = LLMCall(_model_of(skill, kwargs), streaming=True, bus=bus).begin()
            source = stream(*args, **kwargs)
            try:
                async for chunk in source:
                    if _has_content(chunk):
                        call.first_token()
                    _set_usage(call, chunk)
                    if _finish_reason(chunk) is None:
                        yield chunk
                        continue
                    # The SDK stops reading at a tool round's finish chunk: read the usage now.
                    rest = [chunk]
                    async for later in source:
                        _set_usage(call, later)
                        rest.append(later)
                    call.end()
                    for item in rest:
                        yield item
                    return
            except BaseException as exc:
                call.end(exc)
                raise
            finally:
                call.end()

        skill.chat_completion_stream = chat_completion_stream
    setattr(skill, _MARK, True)


def _tool_wrapper(name: str, func: Callable[..., Any], bus: EventBus | None) -> Callable[..., Any]:
    def _finish(call: ToolCall, result: Any) -> None:
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            call.pricing = dict(result[1])  # the SDK's (result, usage) convention
        call.end()

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            call = ToolCall(name, bus=bus).begin()
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                call.end(exc)
                raise
            _finish(call, result)
            return result

        return run_async

    @functools.wraps(func)
    def run_sync(*args: Any, **kwargs: Any) -> Any:
        call = ToolCall(name, bus=bus).begin()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            call.end(exc)
            raise
        _finish(call, result)
        return result

    return run_sync


def _wrap_tools(agent: Any, bus: EventBus | None) -> None:
    lock = getattr(agent, "_registration_lock", None)
    with lock if lock is not None else _nolock():
        for config in getattr(agent, "_registered_tools", []):
            func = config.get("function")
            if callable(func) and not getattr(func, _MARK, False):
                wrapped = _tool_wrapper(str(config.get("name") or func.__name__), func, bus)
                setattr(wrapped, _MARK, True)
                config["function"] = wrapped


def instrument_agent(agent: Any, *, bus: EventBus | None = None) -> Any:
    """Attach monitoring to one ``BaseAgent`` (idempotent); returns the agent."""
    if getattr(agent, _MARK, False):
        return agent
    name = str(getattr(agent, "name", None) or type(agent).__name__)
    llm = getattr(agent, "skills", {}).get("primary_llm")
    if llm is not None:
        _instrument_llm(llm, bus)
    _wrap_tools(agent, bus)
    run = agent.run
    run_streaming = agent.run_streaming

    async def prepare() -> None:
        # skills register their tools when first initialized, inside the first run
        initialize = getattr(agent, "_ensure_skills_initialized", None)
        if initialize is not None:
            await initialize()
        _wrap_tools(agent, bus)

    @functools.wraps(run)
    async def run_monitored(*args: Any, **kwargs: Any) -> Any:
        with AgentRun(name, bus=bus):
            await prepare()
            return await run(*args, **kwargs)

    @functools.wraps(run_streaming)
    async def run_streaming_monitored(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        op = AgentRun(name, bus=bus).begin()
        try:
            await prepare()
            async for chunk in run_streaming(*args, **kwargs):
                yield chunk
        except BaseException as exc:
            op.end(exc)
            raise
        finally:
            op.end()

    agent.run = run_monitored
    agent.run_streaming = run_streaming_monitored
    setattr(agent, _MARK, True)
    inherit_levels()  # building the agent set its logger's level from the SDK's LOG_LEVEL
    return agent


class _nolock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def instrument_server(server: Any, *, bus: EventBus | None = None) -> Any:
    """Attach monitoring to every agent of a ``RobutlerServer``, dynamic ones when resolved."""
    for agent in getattr(server, "static_agents", {}).values():
        instrument_agent(agent, bus=bus)
    resolve = getattr(server, "dynamic_agents", None)
    if resolve is not None and not getattr(resolve, _MARK, False):
        if inspect.iscoroutinefunction(resolve):

            async def resolve_async(agent_name: str) -> Any:
                agent = await resolve(agent_name)
                return instrument_agent(agent, bus=bus) if agent else agent

            wrapped: Any = resolve_async
        else:

            def resolve_sync(agent_name: str) -> Any:
                agent = resolve(agent_name)
                return instrument_agent(agent, bus=bus) if agent else agent

            wrapped = resolve_sync
        setattr(wrapped, _MARK, True)
        server.dynamic_agents = wrapped
    return server
