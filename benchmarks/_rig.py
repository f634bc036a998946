"""The rig the server benchmarks share: the four setups' servers pinned to core 0, the emulator and
a lean load generator on core 1, and the figures they read.

For each setup (Starlette on uvicorn, Django ASGI on uvicorn, Flask and Django WSGI on gunicorn
gthread) one server process, pinned to core 0, serves firsttoken's relay (`/api/chat`), the relay
the SDK's helper leads a user to write (`/api/helper`) and a hand-written relay on the SDK in the
same framework (`/api/bare`), all from `_capacity_apps.py`. The emulator (`firsttoken emulate`,
`_support.emulator_process`) and the load generator are pinned to core 1.

A trial (`run_trial`) holds N streams at the API's pace (sonnet: first token after 400 ms, then 90
tokens/s; each stream restarting when its answer ends, starts staggered so they arrive evenly).
While it runs, probes measure time to first token one request at a time, alternately through the
endpoint and straight at the emulator, on a model whose first token is due 20 ms after the request
(so a probe is quick); the added TTFT is the difference of the two at each percentile. The load
generator is asyncio streams over raw sockets, HTTP/1.1 with `Connection: close`, no parsing beyond
finding a marker. CPU per token is the server process's CPU time (user + system, workers included)
over a trial's measurement window, divided by the tokens the emulator sent in it.

Used by `capacity.py`, `cpu_per_token.py`, `ttft_open_streams.py`, `cpu_full_speed.py` and
`coalescing.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil

HERE = Path(__file__).resolve().parent

SERVER_CORE, RIG_CORE = 0, 1
TPS = 90.0
STREAM_MODEL = "claude-sonnet-5-5"
PROBE_MODEL = "claude-haiku-5-5"
# sonnet as the issue asks (400 ms, 90 tokens/s, fixed so every stream is paced alike); haiku is
# the probes' model: a first token 20 ms after the request keeps each probe short.
PROFILES = ("--model-profile", "sonnet:400,400,90", "--model-profile", "haiku:20,20,90")

SETUPS: dict[str, list[str]] = {
    "starlette": ["-m", "uvicorn", "--factory", "_capacity_apps:starlette_app"],
    "django-asgi": ["-m", "uvicorn", "--factory", "_capacity_apps:django_asgi"],
    "flask": ["-m", "gunicorn", "_capacity_apps:flask_app()"],
    "django-wsgi": ["-m", "gunicorn", "_capacity_apps:django_wsgi()"],
}
LABELS = {
    "starlette": "Starlette, uvicorn",
    "django-asgi": "Django ASGI, uvicorn",
    "flask": "Flask, gunicorn gthread",
    "django-wsgi": "Django WSGI, gunicorn gthread",
}
# The same apps on Granian (its ASGI and WSGI interfaces, one worker), and the async ones with the
# SDK's aiohttp transport (`async_http_client: aiohttp`; the hand-written relay's client as well):
# `--setups starlette/granian,flask/granian,starlette/aiohttp,...`.
_GRANIAN = ["-m", "granian", "--factory", "--interface"]
VARIANTS: dict[str, list[str]] = {
    **SETUPS,
    "starlette/granian": [*_GRANIAN, "asgi", "_capacity_apps:starlette_app"],
    "django-asgi/granian": [*_GRANIAN, "asgi", "_capacity_apps:django_asgi"],
    "flask/granian": [*_GRANIAN, "wsgi", "_capacity_apps:flask_app"],
    "django-wsgi/granian": [*_GRANIAN, "wsgi", "_capacity_apps:django_wsgi"],
}
for _name in ("starlette", "django-asgi", "starlette/granian", "django-asgi/granian"):
    VARIANTS[f"{_name}/aiohttp"] = VARIANTS[_name]
for _name in list(VARIANTS):
    if _name not in LABELS:
        _base, *_rest = _name.split("/")
        _label = LABELS[_base].rsplit(", ", 1)[0]
        _server = "Granian" if "granian" in _rest else LABELS[_base].rsplit(", ", 1)[1]
        LABELS[_name] = f"{_label}, {_server}" + (", aiohttp" if "aiohttp" in _rest else "")


AIOHTTP = {"FIRSTTOKEN_ASYNC_HTTP_CLIENT": "aiohttp", "BENCH_TRANSPORT": "aiohttp"}


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A tool's command line: its docstring as the help, `--setups` and `--json`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--setups", default=",".join(SETUPS), help="comma-separated subset of " + ", ".join(VARIANTS)
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON results")
    return parser


def run_facts(script: str) -> dict[str, Any]:
    """What a run's results start with: its command line, the machine's cores and its load."""
    return {
        "command": " ".join([f"benchmarks/{script}", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }


def rig_process() -> None:
    """This process as the load generator: on the rig's core, with as many sockets as it may open."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {RIG_CORE})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin_to_server_core() -> None:
    os.sched_setaffinity(0, {SERVER_CORE})


@contextmanager
def server(
    setup: str, base_url: str, env_extra: dict[str, str] | None = None
) -> Iterator[tuple[int, psutil.Process]]:
    port = free_port()
    cmd = [sys.executable, *VARIANTS[setup]]
    if "uvicorn" in cmd:
        cmd += ["--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--http", "httptools", "--log-level", "warning", "--backlog", "4096"]
    elif "granian" in cmd:
        cmd += ["--working-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        cmd += ["--no-ws", "--log-level", "warning", "--backlog", "4096", "--backpressure", "4096"]
        if "wsgi" in cmd:
            # As gthread's: a thread per open stream, above the largest trial.
            cmd += ["--blocking-threads", "1200"]
    else:
        # gthread: a thread per open stream; the worker's connection cap above the largest trial.
        cmd += ["-k", "gthread", "--threads", "1200", "--worker-connections", "4096", "-w", "1"]
        cmd += ["--chdir", str(HERE), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        cmd += ["--backlog", "4096", "--timeout", "120"]
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "bench",
        "FIRSTTOKEN_MAX_RETRIES": "0",
        "FIRSTTOKEN_ADVISOR": "0",
        **(AIOHTTP if setup.endswith("/aiohttp") else {}),
        **(env_extra or {}),
    }
    proc = subprocess.Popen(cmd, env=env, preexec_fn=pin_to_server_core)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# -- the load generator --------------------------------------------------------------------------


@dataclass
class Target:
    """Where a request goes and how its first token looks in the response bytes."""

    port: int
    path: str
    direct: bool  # straight at the emulator (the Messages API) rather than through a relay

    def request(self, model: str, tokens: int) -> bytes:
        if self.direct:
            body = json.dumps(
                {
                    "model": model,
                    "max_tokens": 100_000,
                    "stream": True,
                    "messages": [{"role": "user", "content": "Explain streaming."}],
                }
            ).encode()
            extra = "x-api-key: bench\r\nanthropic-version: 2023-06-01\r\n"
        else:
            body = b"{}"
            extra = f"x-bench-model: {model}\r\n"
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}"
            f"x-emulator-output-tokens: {tokens}\r\n\r\n"
        )
        return head.encode() + body

    @property
    def marker(self) -> bytes:
        return b"content_block_delta" if self.direct else b"event: token"


@dataclass
class Trial:
    streams: int
    seconds: float
    gaps_ms: list[float] = field(default_factory=list)
    probe_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    cpu_s: float = 0.0
    tokens: int = 0
    events: int = 0  # token events (writes of text) the background streams received


async def read_stream(
    target: Target, model: str, tokens: int, on_token: Any, *, first_only: bool = False
) -> float | None:
    """One request; calls `on_token(t, count)` for each read holding `count` token events. Returns
    the TTFT (s); `first_only` hangs up at the first token (a probe)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    marker = target.marker
    tail = b""
    first = None
    try:
        writer.write(target.request(model, tokens))
        status_checked = False
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.perf_counter()
            if not status_checked:
                status_checked = True
                if not data.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(data[:120].decode(errors="replace"))
            if marker in tail + data:
                if first is None:
                    first = now - started
                    if first_only:
                        break
                on_token(now, (tail + data).count(marker))
            tail = data[-len(marker) :]
    finally:
        writer.close()
    return first


async def run_trial(
    background: Target,
    probes: dict[str, Target],
    streams: int,
    tokens: int,
    seconds: float,
    proc: psutil.Process | None,
    emulator_url: str,
    min_probes: int = 0,
) -> Trial:
    trial = Trial(streams, seconds)
    trial.probe_ms = {name: [] for name in probes}
    cycle = 0.4 + tokens / TPS
    measuring = False
    stopping = False

    async def slot(index: int) -> None:
        await asyncio.sleep(cycle * index / streams)
        while not stopping:
            last: list[float] = []

            def on_token(now: float, count: int, last: list[float] = last) -> None:
                if measuring:
                    trial.events += count
                    if last:
                        trial.gaps_ms.append((now - last[0]) * 1000)
                last[:] = [now]

            try:
                await read_stream(background, STREAM_MODEL, tokens, on_token)
            except (OSError, RuntimeError):
                trial.errors += 1
                await asyncio.sleep(0.05)

    async def probe_loop() -> None:
        names = list(probes)
        while not stopping:
            for name in names:
                if stopping:
                    return
                try:
                    probe = read_stream(probes[name], PROBE_MODEL, 1, ignore, first_only=True)
                    ttft = await asyncio.wait_for(probe, 10)
                except (TimeoutError, OSError, RuntimeError):
                    trial.errors += 1
                    continue
                if measuring and ttft is not None:
                    trial.probe_ms[name].append(ttft * 1000)
            await asyncio.sleep(0.01)

    slots = [asyncio.ensure_future(slot(i)) for i in range(streams)]
    await asyncio.sleep(cycle + 0.5)  # every stream has started and is answering
    async with httpx2.AsyncClient() as http:
        before_tokens = (await http.get(emulator_url + "/_emulator/stats")).json()["output_tokens"]
        before_cpu = cpu_seconds(proc) if proc is not None else 0.0
        measuring = True
        prober = asyncio.ensure_future(probe_loop())
        await asyncio.sleep(seconds)
        # A TTFT row wants its probes, however slowly a loaded server answers them (up to 4x).
        waited = seconds
        while len(trial.probe_ms["direct"]) < min_probes and waited < 4 * seconds:
            await asyncio.sleep(0.5)
            waited += 0.5
        trial.seconds = waited
        measuring = False
        trial.cpu_s = (cpu_seconds(proc) - before_cpu) if proc is not None else 0.0
        after_tokens = (await http.get(emulator_url + "/_emulator/stats")).json()["output_tokens"]
        trial.tokens = after_tokens - before_tokens
    stopping = True
    for task in [*slots, prober]:
        task.cancel()
    await asyncio.gather(*slots, prober, return_exceptions=True)
    await asyncio.sleep(1.0)  # lets the server see the disconnects before the next trial
    return trial


def ignore(now: float, count: int) -> None:
    return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(int(q * 10) - 1, 0)]


def ttft_targets(port: int, emulator_port: int) -> dict[str, Target]:
    return {
        "chat": Target(port, "/api/chat", False),
        "bare": Target(port, "/api/bare", False),
        "direct": Target(emulator_port, "/v1/messages", True),
    }


def added_ttft(samples: dict[str, list[float]]) -> dict[str, float]:
    """TTFT added over the emulator straight, through firsttoken and the hand-written relay."""
    row = {
        f"{name}_added_p{q}_ms": round(pct(samples[name], q) - pct(samples["direct"], q), 2)
        for name in ("chat", "bare")
        for q in (50, 99)
    }
    row["direct_p50_ms"] = round(pct(samples["direct"], 50), 2)
    return row
