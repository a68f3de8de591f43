"""What users run, measured: `robutler serve` against plain uvicorn, under wrk.

One command: ``.venv/bin/python benchmarks/bench_serve.py`` (about 12 minutes with the
defaults; ``--quick`` for a 2-minute smoke run; ``--write-readme`` puts the table into
README.md's performance section). Needs ``wrk`` (Debian package ``wrk``) and ``taskset``.

Servers (one worker each, uvicorn's defaults: uvloop + httptools, the same tiny Starlette
app ``benchmarks/serve_app.py``), all started once and pinned to core 0; wrk (one thread,
``--connections``) and the pipe reader run on core 1:

- plain uvicorn, access log off (``--no-access-log``) and on (its default);
- ``robutler serve`` with its defaults (JSON access record on), ``--no-access-log``,
  and ``--log-output FILE``, started through the installed ``robutler`` script.

Each server's stdout goes either to a file or to a pipe read by another process (``cat``,
as a container runtime reads stdout); the two are reported apart. Routes: ``/items/42``
(a small JSON answer) and ``/stream`` (a two-chunk stream). Each figure is the median of
``--rounds`` interleaved rounds (every server runs once per round, in a rotated order, so
machine noise hits all of them alike). Then, unless skipped:

- time to first byte of ``/stream``, sequential requests on an idle server (median);
- side by side: all five servers loaded at once on core 0, their CPU per request in the
  same seconds (the ratios that neighbours on a shared machine disturb least);
- event-loop lag: ``robutler serve`` (defaults, then ``--no-access-log`` for comparison;
  stdout to a pipe) under ``--lag-seconds`` of load at ``--connections``, sampling
  ``robutler_event_loop_lag_seconds`` every second (with ``collect_interval: 1`` so each
  sample is the maximum of its own second); and the baseline: plain uvicorn serving the
  same app with the same probe (``serve_app.probed``), i.e. the lag a saturated loop has
  with no monitoring at all;
- in process: the access record's CPU cost per request over the monitoring wrapper alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVERS = {
    "uvicorn, access log off": ["uvicorn", "--no-access-log"],
    "uvicorn, access log on": ["uvicorn"],
    "robutler serve (defaults)": ["robutler"],
    "robutler serve --no-access-log": ["robutler", "--no-access-log"],
    "robutler serve --log-output FILE": ["robutler", "--log-output", "{logfile}"],
}
#: the lag baseline: plain uvicorn measuring its own loop with the same probe (``serve_app.probed``)
LAG_BASELINE = "uvicorn, access log off (lag probe only)"
LAG_SERVERS = {**SERVERS, LAG_BASELINE: ["uvicorn", "--no-access-log", "app=serve_app:probed_app"]}
ROUTES = {"json": "/items/42", "stream": "/stream"}
OUTPUTS = ("file", "pipe")
_README_START = "<!-- bench_serve:start -->"
_README_END = "<!-- bench_serve:end -->"


def _pin(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core)]
    return []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


@dataclass
class Server:
    """One running server process, its stdout sink and its figures."""

    name: str
    output: str
    port: int
    proc: subprocess.Popen[bytes]
    reader: subprocess.Popen[bytes] | None
    rps: dict[str, list[float]] = field(default_factory=dict)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)  #: server CPU per request
    ttfb_ms: list[float] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.reader is not None:
            self.reader.wait(10)


def _robutler_script() -> list[str]:
    """The installed `robutler` script users type (beside this Python), else the module."""
    script = Path(sys.executable).with_name("robutler")
    return [str(script)] if script.exists() else [sys.executable, "-m", "robutler_monitoring"]


def _argv(kind: list[str], port: int, logfile: str, extra_env: dict[str, str]) -> list[str]:
    if kind[0] == "uvicorn":
        target = next((a[4:] for a in kind if a.startswith("app=")), "serve_app:app")
        return [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--app-dir",
            str(ROOT / "benchmarks"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *(a for a in kind[1:] if not a.startswith("app=")),
        ]
    opts = [a.format(logfile=logfile) for a in kind[1:]]
    return [
        *_robutler_script(),
        "serve",
        "serve_app:app",
        "--app-dir",
        str(ROOT / "benchmarks"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *opts,
    ]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROBUTLER_", "PROMETHEUS_MULTIPROC"))}
    return {**env, **(extra or {})}


def start(name: str, output: str, scratch: Path, env: dict[str, str] | None = None) -> Server:
    """Start one server (pinned to core 0), stdout to a file or to a pipe read by `cat` on core 1."""
    port = _free_port()
    tag = re.sub(r"\W+", "-", name) + "-" + output
    logfile = str(scratch / f"{tag}.log")
    argv = [*_pin(0), *_argv(LAG_SERVERS[name], port, logfile, env or {})]
    reader = None
    if output == "file":
        with open(scratch / f"{tag}.out", "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_env(env),
                cwd=scratch,
            )
    else:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_env(env),
            cwd=scratch,
        )
        reader = subprocess.Popen([*_pin(1), "cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        assert proc.stdout is not None
        proc.stdout.close()  # the reader owns it now
    server = Server(name, output, port, proc, reader)
    if not _wait_for_port(port):
        server.stop()
        raise SystemExit(f"{name} ({output}) did not start; see {scratch}")
    return server


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_argv(url: str, seconds: float, connections: int) -> list[str]:
    """wrk with one thread, pinned to core 1, for ``seconds`` (whole seconds, at least 1)."""
    return [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url]


def wrk_result(url: str, output: str) -> tuple[float, int]:
    """(requests per second, requests) from wrk's report."""
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not found or not total:
        raise SystemExit(f"wrk failed on {url}: {output}")
    return float(found.group(1)), int(total.group(1))


def wrk(url: str, seconds: float, connections: int) -> tuple[float, int]:
    """(requests per second, requests) that wrk reached."""
    done = subprocess.run(wrk_argv(url, seconds, connections), capture_output=True, text=True, check=False)
    return wrk_result(url, done.stdout + done.stderr)


def ttfb_ms(port: int, n: int) -> float:
    """Median milliseconds from sending a GET /stream to reading its first body byte."""
    request = b"GET /stream HTTP/1.1\r\nHost: bench\r\n\r\n"
    samples = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            started = time.perf_counter()
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            _, _, body = data.partition(b"\r\n\r\n")
            while not body:
                body += sock.recv(65536)
            samples.append((time.perf_counter() - started) * 1000)
            while not body.endswith(b"0\r\n\r\n"):  # the rest of the chunked stream
                body += sock.recv(65536)
    return statistics.median(samples)


def throughput(args: argparse.Namespace, scratch: Path) -> list[Server]:
    servers = [start(name, output, scratch) for output in OUTPUTS for name in SERVERS]
    try:
        for server in servers:  # warm up: imports, route caches, first connections
            for path in ROUTES.values():
                wrk(server.base + path, 1, args.connections)  # result not kept
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers) :] + servers[: rnd % len(servers)]
            for route, path in ROUTES.items():
                for server in order:
                    cpu = cpu_seconds(server.proc.pid)
                    rps, requests = wrk(server.base + path, args.duration, args.connections)
                    cpu = cpu_seconds(server.proc.pid) - cpu
                    server.rps.setdefault(route, []).append(rps)
                    server.cpu_us.setdefault(route, []).append(cpu / max(requests, 1) * 1e6)
            for server in order:
                server.ttfb_ms.append(ttfb_ms(server.port, args.ttfb_requests))
            print(f"  round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for server in servers:
            server.stop()
    return servers


def side_by_side(args: argparse.Namespace, scratch: Path, output: str) -> dict[str, list[float]]:
    """CPU us per request of every server loaded at the same time, all pinned to core 0.

    The servers share one core and its noise: a neighbour that slows the machine slows
    all of them alike, so the ratios of their CPU per request hold far better than those
    of separate runs (absolute figures are higher: the servers also share the caches).
    """
    servers = [start(name, output, scratch) for name in SERVERS]
    path = ROUTES["json"]
    cpu_us: dict[str, list[float]] = {name: [] for name in SERVERS}

    def load(seconds: float) -> list[int]:
        urls = [s.base + path for s in servers]
        procs = [
            subprocess.Popen(wrk_argv(url, seconds, args.connections), stdout=subprocess.PIPE, text=True)
            for url in urls
        ]
        return [wrk_result(url, proc.communicate()[0])[1] for url, proc in zip(urls, procs, strict=True)]

    try:
        load(1)  # warm up
        for _ in range(args.rounds):
            before = [cpu_seconds(s.proc.pid) for s in servers]
            counts = load(args.duration)
            for server, cpu, n in zip(servers, before, counts, strict=True):
                cpu_us[server.name].append((cpu_seconds(server.proc.pid) - cpu) / max(n, 1) * 1e6)
    finally:
        for server in servers:
            server.stop()
    return cpu_us


def lag(args: argparse.Namespace, scratch: Path, name: str) -> list[float]:
    """Each second's robutler_event_loop_lag_seconds (ms) while wrk loads `robutler serve`."""
    env = {"ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL": "1"}
    server = start(name, "pipe", scratch, env)
    samples: list[float] = []
    try:
        import httpx

        url = server.base + "/items/42"
        load = subprocess.Popen(
            wrk_argv(url, args.lag_seconds, args.connections),
            stdout=subprocess.DEVNULL,
        )
        with httpx.Client(timeout=10) as client:
            time.sleep(1.5)
            while load.poll() is None:
                text = client.get(server.base + "/metrics").text
                found = re.search(r"^robutler_event_loop_lag_seconds(?:\{[^}]*\})? (\S+)$", text, re.M)
                if found:
                    samples.append(float(found.group(1)) * 1000)
                time.sleep(1.0)
        load.wait()
    finally:
        server.stop()
    return samples


def in_process(rounds: int, requests: int) -> dict[str, float]:
    """CPU us per request of each part (median over interleaved rounds), and their sums.

    CPU time of the whole process (the writer thread included), not wall time: on a
    shared machine, wall time mostly measures the neighbours. Parts: the bare app; the
    wrapper (metrics, request id, endpoints); one more subscriber to the end of each
    request on the event bus; noting the access line's values on the request path; queueing
    them for the writer thread, which formats the line and writes it to /dev/null.
    """
    from prometheus_client import CollectorRegistry

    from benchmarks.bench_middleware import _scope, make_app
    from robutler_monitoring.events import EventBus
    from robutler_monitoring.host.settings import ServeSettings
    from robutler_monitoring.plugin.config.schema import LoggingConfig, MonitoringConfig
    from robutler_monitoring.plugin.logging.access import AccessLogger
    from robutler_monitoring.plugin.logging.setup import configure_logging
    from robutler_monitoring.plugin.runtime import Runtime

    handle = configure_logging(LoggingConfig(output=os.devnull), route_stdlib=False)
    queued_only = AccessLogger(handle.sink)
    queued_only._write = lambda item: None  # the request path's part: values noted, then dropped

    def wrapped(*listeners: Any) -> Any:
        # the app wrapped as the plugin wraps it (metrics and HTTP concerns), plus listeners
        # on the end of each request, as the logging concern subscribes its access log
        concerns = [
            "robutler_monitoring.plugin.metrics.concern:MetricsConcern",
            "robutler_monitoring.plugin.http.concern:HttpConcern",
        ]
        rt = Runtime(
            ServeSettings(),
            MonitoringConfig(),
            bus=EventBus(),
            registry=CollectorRegistry(),
            concerns=concerns,
        )
        app: Any = make_app()
        for concern in rt.concerns:
            concern.subscribe(rt)
        for listener in listeners:
            rt.bus.subscribe("http", on_end=listener)
        for concern in rt.concerns:
            rt.endpoints.extend(concern.endpoints(rt))
        for concern in rt.concerns:
            app = concern.wrap(app, rt)
        return app

    apps = [
        make_app(),
        wrapped(),
        wrapped(lambda record: None),
        wrapped(queued_only),
        wrapped(AccessLogger(handle.sink)),
    ]
    scope = _scope("/items/42", [(b"host", b"bench"), (b"user-agent", b"bench")])
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> Any:
        return request

    async def send(message: Any) -> None:
        return None

    async def drive(app: Any, n: int) -> float:
        started = time.process_time()
        for _ in range(n):
            await app(dict(scope), receive, send)
        handle.flush(30)  # the writer thread's share counts too
        return (time.process_time() - started) / n * 1e6

    runs: list[list[float]] = [[] for _ in apps]

    async def run() -> None:
        for app in apps:
            await drive(app, 1000)
        for i in range(rounds):
            for k in range(len(apps)):  # rotated, so noise hits every variant alike
                j = (i + k) % len(apps)
                runs[j].append(await drive(apps[j], requests))

    try:
        asyncio.run(run())
    finally:
        handle.close()

    def step(a: int, b: int) -> float:
        return statistics.median(y - x for x, y in zip(runs[a], runs[b], strict=True))

    return {
        "bare app": statistics.median(runs[0]),
        "wrapper: metrics, request id, endpoints": step(0, 1),
        "an end-of-request subscriber (the event bus call)": step(1, 2),
        "the access record's values, noted on the request path": step(2, 3),
        "queue, then the writer thread formats and writes the line (to /dev/null)": step(3, 4),
        "access record over the wrapper alone": step(1, 4),
    }


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}), load average {load} at the end"


def report(
    servers: list[Server],
    together: dict[str, dict[str, list[float]]],
    lag_ms: dict[str, list[float]],
    inproc: dict[str, float] | None,
    args: argparse.Namespace,
) -> str:
    med = {(s.name, s.output, r): statistics.median(v) for s in servers for r, v in s.rps.items()}
    cpu = {(s.name, s.output, r): statistics.median(v) for s in servers for r, v in s.cpu_us.items()}
    ttfb = {(s.name, s.output): statistics.median(s.ttfb_ms) for s in servers}
    versions = ", ".join(f"{p} {version(p)}" for p in ("uvicorn", "uvloop", "httptools", "starlette"))
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_serve.py` "
        f"(median of {args.rounds} interleaved rounds of {args.duration:g} s, wrk -t1 -c{args.connections}); "
        f"Python {platform.python_version()}, {versions}; {_machine()}.",
        "",
        "| server | output | JSON req/s | vs uvicorn off | vs uvicorn access log | stream req/s "
        "| vs uvicorn off | vs uvicorn access log | stream TTFB ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for output in OUTPUTS:
        for name in SERVERS:
            row = [name, "file" if output == "file" else "pipe (cat)"]
            for route in ROUTES:
                value = med[(name, output, route)]
                off = med[("uvicorn, access log off", output, route)]
                on = med[("uvicorn, access log on", output, route)]
                row += [f"{value:,.0f}", f"{value / off:.2f}", f"{value / on:.2f}"]
            row.append(f"{ttfb[(name, output)]:.2f}")
            lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Server CPU time per request (from /proc, wrk's request count), which neighbours on a "
        "shared machine disturb far less than requests per second; the ratio is uvicorn-with-access-log's "
        "CPU per request over this server's, i.e. the throughput ratio of a CPU-bound server:",
        "",
        "| server | output | JSON us/req | vs uvicorn access log | stream us/req | vs uvicorn access log |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for output in OUTPUTS:
        for name in SERVERS:
            row = [name, "file" if output == "file" else "pipe (cat)"]
            for route in ROUTES:
                value = cpu[(name, output, route)]
                on = cpu[("uvicorn, access log on", output, route)]
                row += [f"{value:.0f}", f"{on / value:.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    for output, cpu_us in sorted(together.items()):
        on = cpu_us["uvicorn, access log on"]
        lines += [
            "",
            f"Side by side ({'file' if output == 'file' else 'pipe (cat)'}): the five servers loaded at the "
            f"same time, all on core 0, one wrk each on core 1, {args.rounds} rounds of {args.duration:g} s; "
            "CPU time per request of the JSON route, and uvicorn-with-access-log's over each server's "
            "(median of the rounds' ratios; they share the core's noise, so these ratios vary least):",
            "",
            "| server | JSON us/req | vs uvicorn access log | each round |",
            "|---|---:|---:|---|",
        ]
        for name, values in cpu_us.items():
            ratios = [a / b for a, b in zip(on, values, strict=True)]
            each = " ".join(f"{r:.2f}" for r in ratios)
            lines.append(
                f"| {name} | {statistics.median(values):.0f} | {statistics.median(ratios):.2f} | {each} |"
            )
    for name, samples in lag_ms.items():
        if not samples:
            continue
        lines += [
            "",
            f"Event-loop lag, {name} under {args.lag_seconds:g} s of wrk -c{args.connections} "
            f"(stdout to a pipe), {len(samples)} one-second samples: max **{max(samples):.1f} ms**, "
            f"median {statistics.median(samples):.1f} ms, {sum(s >= 20 for s in samples)} of them >= 20 ms.",
        ]
    if inproc:
        lines += [
            "",
            f"In process, CPU time per request (writer thread included; median of {args.inproc_rounds} "
            "interleaved rounds of the same request through the ASGI interface):",
            "",
            "| part | us |",
            "|---|---:|",
            *(f"| {part} | {us:.1f} |" for part, us in inproc.items()),
        ]
    return "\n".join(lines)


def write_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if _README_START not in text:
        raise SystemExit(f"README.md has no {_README_START} marker")
    head, rest = text.split(_README_START, 1)
    _, tail = rest.split(_README_END, 1)
    readme.write_text(f"{head}{_README_START}\n{table}\n{_README_END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of each wrk run (3)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--ttfb-requests", type=int, default=200, help="stream requests per TTFB figure")
    parser.add_argument("--lag-seconds", type=float, default=60.0, help="lag run seconds; 0 skips (60)")
    parser.add_argument("--inproc-rounds", type=int, default=9, help="in-process rounds; 0 skips them (9)")
    parser.add_argument("--quick", action="store_true", help="1 s runs, 3 rounds, 10 s lag: a smoke run")
    parser.add_argument("--write-readme", action="store_true", help="put the table into README.md")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds, args.lag_seconds, args.inproc_rounds = 1.0, 3, 10.0, 3
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        scratch = Path(tmp)
        inproc = in_process(args.inproc_rounds, 20_000) if args.inproc_rounds else None
        servers = throughput(args, scratch)
        together = {output: side_by_side(args, scratch, output) for output in OUTPUTS}
        lag_ms = {}
        if args.lag_seconds > 0:  # the access record's share: the same server without it
            for name in ("robutler serve (defaults)", "robutler serve --no-access-log", LAG_BASELINE):
                lag_ms[f"`{name}`"] = lag(args, scratch, name)
    table = report(servers, together, lag_ms, inproc, args)
    print(table)
    if args.write_readme:
        write_readme(table)


if __name__ == "__main__":
    main()
