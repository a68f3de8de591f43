"""The app `bench_serve.py` serves: one small JSON route and one short stream (Starlette)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["id"], "ok": True})


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


app = Starlette(routes=[Route("/items/{id}", item), Route("/stream", stream)])


def probed(inner: object, period: float = 0.25) -> object:
    """``inner`` plus the package's event-loop lag probe, read at ``/metrics`` (gauge line only).

    For the lag baseline: plain uvicorn serving this app measures its own event-loop lag
    with the very probe (``LagProbe``) that ``robutler serve`` runs, and answers
    ``/metrics`` with the same gauge line, so ``bench_serve.py`` samples both alike.
    """
    import asyncio

    from robutler_monitoring.plugin.metrics.runtime import LagProbe

    probe = LagProbe(period)
    tasks: list[asyncio.Task[None]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if not tasks and scope["type"] == "http":
            tasks.append(asyncio.ensure_future(probe.run()))
        if scope["type"] == "http" and scope["path"] == "/metrics":
            body = f"robutler_event_loop_lag_seconds {probe.take_window_max()}\n".encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await inner(scope, receive, send)  # type: ignore[operator]

    return app


probed_app = probed(app)
