"""Prometheus metrics: registry, HTTP/agent/skill metrics, custom metrics API."""
