"""Tracing: OpenTelemetry spans for requests, agent runs, tool calls and LLM calls.

The only package that imports OpenTelemetry (the optional ``tracing`` extra), and only in
:mod:`.otel`, :mod:`.processor` and :mod:`.spans`; :mod:`.settings`, :mod:`.env` and
:mod:`.api` load without it, so a missing extra is reported as one clear message.
"""
