"""A Python snippet that imports a module with every non-loopback network attempt refused and recorded.

Run it in a fresh interpreter (``python -c OFFLINE_IMPORT.format(module=...)``): it prints one
JSON object, ``{"cost_map_env": ..., "litellm": <imported?>, "reached": [hosts]}``.
"""

from __future__ import annotations

OFFLINE_IMPORT = """
import json, os, sys

LOOPBACK = ("127.0.0.1", "::1", "localhost")
reached = []


def refuse_network(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) else None
    else:
        return
    if isinstance(host, bytes):
        host = host.decode()
    if isinstance(host, str) and host not in LOOPBACK:
        reached.append(host)
        raise OSError("network refused by the test: " + host)


sys.addaudithook(refuse_network)
import {module}
print(json.dumps({{
    "cost_map_env": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"),
    "litellm": "litellm" in sys.modules,
    "reached": reached,
}}))
"""
