"""The embedded demo agent server that ``robutler serve`` runs when given no TARGET.

No network, no API key: a deterministic fake LLM (``llm.py``) and offline skills
(``skills.py``). Routes, shaped like the Robutler SDK server:

- ``GET /agents`` lists the agents; ``GET /{agent}`` describes one (404 JSON when unknown).
- ``POST /{agent}/chat/completions`` is OpenAI-compatible, with ``"stream": true`` for
  server-sent ``chat.completion.chunk`` events ending in ``data: [DONE]``; the final chunk
  carries ``usage``. Tools the agent ran are listed in the top-level ``tool_calls`` key
  (OpenAI ``tool_calls`` items plus ``output`` or ``error``) and quoted in the answer.

Agents: ``assistant`` (tools ``calculator`` and ``weather``) and ``echo``. The assistant
calls the calculator for arithmetic in the last user message ("what is 12 * 7") and the
weather tool for "weather in <city>" (canned, deterministic, cached per city).

Magic texts in the last user message:

- ``!error``: the agent raises ``DemoAgentError``; the server answers 500
  ``{"error": {"message": ..., "type": "agent_error"}}`` and logs it at ERROR. When
  streaming, the first chunk is sent, then an error event, then ``data: [DONE]``.
- ``!crash``: the agent raises ``DemoCrash``, which nothing catches: it leaves the app
  (uvicorn answers a plain 500, or drops a stream) so unhandled-error monitoring shows it.
- ``!slow`` / ``!slow=0.5``: answer after ``slow_seconds`` (default 3) or the given
  seconds, at most 30.

Token usage: a token is a run of word characters or one punctuation character;
``prompt_tokens`` counts the content of all request messages, ``completion_tokens``
the answer.
"""

from __future__ import annotations

from robutler_monitoring.demo.agents import DemoAgent, DemoAgentError, DemoCrash
from robutler_monitoring.demo.app import create_demo_app
from robutler_monitoring.demo.cache import LRUCache

#: A prompt that makes the assistant call both of its tools.
DEFAULT_PROMPT = "What is 12 * 7, and what is the weather in Paris?"

__all__ = [
    "DEFAULT_PROMPT",
    "DemoAgent",
    "DemoAgentError",
    "DemoCrash",
    "LRUCache",
    "create_demo_app",
]
