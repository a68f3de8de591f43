"""The standard ``OTEL_*`` variables, read as settings of ``monitoring.tracing``.

They sit in the environment layer with ``ROBUTLER_MONITORING__TRACING__*``; where both
name the same key, this package's own variable wins (it is the more specific one), and
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` wins over ``OTEL_EXPORTER_OTLP_ENDPOINT``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

#: variable -> (key path under ``monitoring``, conversion of its text), in order of precedence
OTEL_VARIABLES: dict[str, tuple[tuple[str, ...], Callable[[str], Any]]] = {}


def _text(raw: str) -> str:
    return raw.strip()


def _base_endpoint(raw: str) -> str:
    # The spec: the base URL gets the signal's path appended (OTLP/HTTP)
    return raw.strip().rstrip("/") + "/v1/traces"


def _ratio(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("expected a number between 0 and 1") from None


def parse_resource_attributes(raw: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (values percent-encoded, as the specification says) -> dict.

    >>> parse_resource_attributes("deployment.environment=prod, team=a%2Cb")
    {'deployment.environment': 'prod', 'team': 'a,b'}
    """
    out: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by commas, got {item.strip()!r}")
        out[unquote(key.strip())] = unquote(value.strip())
    return out


OTEL_VARIABLES.update(
    {
        "OTEL_SERVICE_NAME": (("tracing", "service_name"), _text),
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": (("tracing", "otlp_endpoint"), _text),
        "OTEL_EXPORTER_OTLP_ENDPOINT": (("tracing", "otlp_endpoint"), _base_endpoint),
        "OTEL_TRACES_SAMPLER": (("tracing", "sampler"), _text),
        "OTEL_TRACES_SAMPLER_ARG": (("tracing", "sampling_ratio"), _ratio),
        "OTEL_RESOURCE_ATTRIBUTES": (("tracing", "resource_attributes"), parse_resource_attributes),
    }
)
