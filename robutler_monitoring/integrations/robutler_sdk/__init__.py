"""The Robutler SDK (``robutler`` 0.2.0, extra ``[sdk]``): the only package that imports it.

``serving`` turns SDK agents into the ASGI app ``robutler serve`` runs and imports
no monitoring code, so serving with the monitoring plugin disabled stays free of
it. Instrumenting SDK agents (usage, tool calls) belongs in a module of its own
beside it. This ``__init__`` imports neither the SDK nor its modules.
"""
