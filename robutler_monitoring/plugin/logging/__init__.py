"""Structured logging: one loguru sink, JSON or console, with stdlib routed in."""
