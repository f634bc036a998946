"""Streams per core: the most concurrent answers one server process on one core sustains.

    .venv/bin/python benchmarks/capacity.py            # four setups, ~25 min
    .venv/bin/python benchmarks/capacity.py --quick    # shorter trials, coarser search, ~8 min
    .venv/bin/python benchmarks/capacity.py --setups starlette,flask --json
    .venv/bin/python benchmarks/capacity.py --cpu-only --rounds 3   # CPU per token only, ~6 min
    .venv/bin/python benchmarks/capacity.py --ttft-only              # the TTFT table only, ~6 min
    .venv/bin/python benchmarks/capacity.py --full-speed --rounds 3  # CPU per token at time-scale 0, ~4 min

For each setup (Starlette on uvicorn, Django ASGI on uvicorn, Flask and Django WSGI on gunicorn
gthread) one server process, pinned to core 0, serves firsttoken's relay (`/api/chat`) and a
hand-written relay on the SDK in the same framework (`/api/bare`, `_capacity_apps.py`). The
emulator (`firsttoken emulate`) and this script, the load generator, are pinned to core 1.

A trial holds N streams at the API's pace (sonnet: first token after 400 ms, then 90 tokens/s;
answers of `--tokens` tokens, each stream restarting when its answer ends, starts staggered so
they arrive evenly). While it runs, probes measure time to first token: one request at a time,
alternately through the endpoint and straight at the emulator, on a model whose first token is
due 20 ms after the request (so a probe is quick), and the added TTFT is the difference of the
two at each percentile. N is sustained when the added p99 is under 20 ms and no gap between
tokens at the client is over 3x the emulator's own (3 x 11.1 ms). The search doubles N from
`--start` until a trial fails, then bisects, within a time cap per endpoint.

The load generator is lean (asyncio streams over raw sockets, HTTP/1.1 with `Connection: close`,
no parsing beyond finding a marker), and its headroom is checked by the same trials run straight
at the emulator (no server between): the "rig" row is the most streams the emulator and load
generator sustain by themselves on their core, so a server figure at that ceiling means "at least".

CPU per token is the server process's CPU time (user + system, workers included) over a trial's
measurement window, divided by the tokens the emulator sent in it. `--cpu-only` measures just that,
at `--cpu-at` streams, for three endpoints of each server in turn, `--rounds` times: firsttoken,
the relay the SDK's helper leads a user to write (`/api/helper`: `messages.stream()` and its
`text_stream`), and the bare floor (`/api/bare`); the medians, and firsttoken's CPU above the floor
as a share of the helper's.

`--ttft-only` measures the issue's TTFT goal the way it was first measured (`starlette_relay.py`):
1, 64 and 256 open streams held through firsttoken's endpoint, each mid-answer at 2 tokens/s (an
opus answer the emulator paces so; 256 streams of the API's 90 tokens/s would be past every server's
core, see the capacity search), while probes take turns through firsttoken, the hand-written relay
and straight at the emulator, one at a time (first token due 20 ms after the request). A row has
firsttoken's added TTFT p50 minus the hand-written relay's (goal: at most +0.3 ms) and the ratio of
their added p99s (goal: at most 1.5x).

`--full-speed` is the issue's first CPU measure (`starlette_relay.py`'s, where the 17.6 and 42.9 µs
came from): the emulator at time-scale 0, writing up to 512 events at a time, 200 answers of 500
tokens, 8 at once, through each server's firsttoken and hand-written endpoints, beside a bare
script on the same core reading the same answers with the SDK's `messages.stream()` helper (the
"bare SDK-helper consumer" the goal of 0.5x is set against). Medians of `--rounds` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
sys.path.insert(0, str(HERE))
from _support import emulator_process, hold_streams  # noqa: E402

SERVER_CORE, RIG_CORE = 0, 1
TPS = 90.0
GAP_LIMIT_MS = 3 * 1000 / TPS
ADDED_P99_LIMIT_MS = 20.0
STREAM_MODEL = "claude-sonnet-5-5"
PROBE_MODEL = "claude-haiku-5-5"
# sonnet as the issue asks (400 ms, 90 tokens/s, fixed so every stream is paced alike); haiku is
# the probes' model: a first token 20 ms after the request keeps each probe short.
PROFILES = ("--model-profile", "sonnet:400,400,90", "--model-profile", "haiku:20,20,90")
# `--ttft-only`'s open streams: answers that stay open for minutes at 2 tokens/s.
HOLD_MODEL = "claude-opus-5"
HOLD_PROFILE = ("--model-profile", "opus:20,20,2")

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin_to_server_core() -> None:
    os.sched_setaffinity(0, {SERVER_CORE})


@contextmanager
def server(
    setup: str, base_url: str, env_extra: dict[str, str] | None = None
) -> Iterator[tuple[int, psutil.Process]]:
    port = free_port()
    cmd = [sys.executable, *SETUPS[setup]]
    if "uvicorn" in cmd:
        cmd += ["--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--http", "httptools", "--log-level", "warning", "--backlog", "4096"]
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
        **(env_extra or {}),
    }
    proc = subprocess.Popen(cmd, env=env, preexec_fn=_pin_to_server_core)
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


async def _read_stream(
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
                await _read_stream(background, STREAM_MODEL, tokens, on_token)
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
                    probe = _read_stream(probes[name], PROBE_MODEL, 1, _ignore, first_only=True)
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


def _ignore(now: float, count: int) -> None:
    return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(int(q * 10) - 1, 0)]


def verdict(trial: Trial, through: str) -> dict[str, Any]:
    """The trial's figures, and whether it sustained its streams."""
    added = (
        {q: pct(trial.probe_ms[through], q) - pct(trial.probe_ms["direct"], q) for q in (50, 99)}
        if through != "direct"
        else {50: 0.0, 99: 0.0}
    )
    max_gap = max(trial.gaps_ms, default=float("inf"))
    ok = (
        trial.errors == 0
        and added[99] < ADDED_P99_LIMIT_MS
        and max_gap <= GAP_LIMIT_MS
        and len(trial.probe_ms["direct"]) >= 5
    )
    return {
        "streams": trial.streams,
        "ok": ok,
        "added_p50_ms": round(added[50], 2),
        "added_p99_ms": round(added[99], 2),
        "max_gap_ms": round(max_gap, 1),
        "gap_p999_ms": round(pct(trial.gaps_ms, 99.9), 1),
        "errors": trial.errors,
        "probes": len(trial.probe_ms[through]),
        "cpu_us_per_token": round(trial.cpu_s / trial.tokens * 1e6, 1) if trial.tokens else None,
        "tokens": trial.tokens,
        "cpu_s": round(trial.cpu_s, 3),
    }


async def search(
    background: Target,
    probes: dict[str, Target],
    through: str,
    proc: psutil.Process | None,
    emulator_url: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Double N until a trial fails, then bisect, within the time cap."""
    started = time.monotonic()
    trials: list[dict[str, Any]] = []

    async def attempt(n: int) -> bool:
        trial = await run_trial(background, probes, n, args.tokens, args.seconds, proc, emulator_url)
        result = verdict(trial, through)
        trials.append(result)
        print(f"    {through:>6} {n:>5} streams: {json.dumps(result)}", flush=True)
        return result["ok"] is True

    def out_of_time() -> bool:
        return bool(time.monotonic() - started > args.time_cap)

    lo, hi = 0, None
    n = args.start
    while n <= args.max_streams and not out_of_time():
        if await attempt(n):
            lo = n
            n *= 2
        else:
            hi = n
            break
    if hi is None and lo == 0:
        hi = args.start
    if lo == 0 and hi is not None:
        # Failed at the start: halve until a trial passes.
        n = hi // 2
        while n >= 1 and not out_of_time():
            if await attempt(n):
                lo = n
                break
            hi = n
            n //= 2
    while hi is not None and lo and hi - lo > max(1, lo * args.resolution) and not out_of_time():
        mid = (lo + hi) // 2
        if await attempt(mid):
            lo = mid
        else:
            hi = mid
    # CPU per token and added TTFT at one load for every endpoint, passed or not, so the two
    # relays compare at the same number of streams even where the search ends apart.
    if not any(t["streams"] == args.cpu_at for t in trials):
        await attempt(args.cpu_at)
    best = next((t for t in trials if t["streams"] == lo and t["ok"]), None)
    return {
        "at_fixed": next(t for t in trials if t["streams"] == args.cpu_at),
        "streams_per_core": lo,
        "capped": hi is None,
        "at_best": best,
        "trials": trials,
        "seconds": round(time.monotonic() - started, 1),
    }


def _ttft_targets(port: int, emulator_port: int) -> dict[str, Target]:
    return {
        "chat": Target(port, "/api/chat", False),
        "bare": Target(port, "/api/bare", False),
        "direct": Target(emulator_port, "/v1/messages", True),
    }


def _added(samples: dict[str, list[float]]) -> dict[str, float]:
    """TTFT added over the emulator straight, through firsttoken and the hand-written relay."""
    row = {
        f"{name}_added_p{q}_ms": round(pct(samples[name], q) - pct(samples["direct"], q), 2)
        for name in ("chat", "bare")
        for q in (50, 99)
    }
    row["direct_p50_ms"] = round(pct(samples["direct"], 50), 2)
    return row


async def ttft_rows(
    port: int, emulator_port: int, rows: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """Added TTFT through firsttoken and the hand-written relay, N-1 streams held on firsttoken."""
    probes = _ttft_targets(port, emulator_port)
    out: dict[str, Any] = {}
    for n in rows:
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        trial = await run_trial(
            probes["chat"],
            probes,
            n - 1,
            args.tokens,
            args.ttft_seconds,
            None,
            emulator_url,
            args.ttft_probes,
        )
        row = {"open": n, "probes": len(trial.probe_ms["direct"]), **_added(trial.probe_ms)}
        out[str(n)] = row
        print(f"    TTFT {n:>4} open: {json.dumps(row)}", flush=True)
    return out


async def held_ttft_rows(port: int, emulator_port: int, rows: list[int], probes: int) -> dict[str, Any]:
    """TTFT through firsttoken, the hand-written relay and straight, N-1 slow streams held open."""
    targets = _ttft_targets(port, emulator_port)
    out: dict[str, Any] = {}
    for n in rows:
        for _ in range(5):  # warm both relays' pools and code before the row's clock
            for target in targets.values():
                await _read_stream(target, PROBE_MODEL, 1, _ignore, first_only=True)
        # In batches, so that opening them is not what the first probes measure.
        request = Target(port, "/api/chat", False).request(HOLD_MODEL, 100_000)
        writers = await hold_streams(port, request, n - 1, batch=32)
        await asyncio.sleep(1.0)
        samples: dict[str, list[float]] = {name: [] for name in targets}
        try:
            # One at a time, in turns, so the machine's noise falls on the three alike.
            for _ in range(probes):
                for name, target in targets.items():
                    ttft = await _read_stream(target, PROBE_MODEL, 1, _ignore, first_only=True)
                    assert ttft is not None
                    samples[name].append(ttft * 1000)
        finally:
            for writer in writers:
                writer.close()
            await asyncio.sleep(1.0)  # the server sees the disconnects before the next row
        row: dict[str, Any] = {"open": n, "probes": probes, **_added(samples)}
        row["p50_over_bare_ms"] = round(row["chat_added_p50_ms"] - row["bare_added_p50_ms"], 2)
        bare99 = row["bare_added_p99_ms"]
        row["p99_ratio"] = round(row["chat_added_p99_ms"] / bare99, 2) if bare99 > 0 else None
        out[str(n)] = row
        print(f"    TTFT {n:>4} open: {json.dumps(row)}", flush=True)
    return out


def ttft_table(results: dict[str, Any], setups: list[str]) -> str:
    lines = [
        "| setup | open streams | firsttoken added p50 / p99 | hand-written added p50 / p99 "
        "| p50: firsttoken minus hand-written | p99: firsttoken ÷ hand-written |",
        "|---|---|---|---|---|---|",
    ]
    for setup in setups:
        for n, row in results[setup].items():
            ratio = (
                "n/a (hand-written p99 at or under the emulator's)"
                if row["p99_ratio"] is None
                else f"{row['p99_ratio']}x"
            )
            lines.append(
                f"| {LABELS[setup]} | {n} | {row['chat_added_p50_ms']:+} / {row['chat_added_p99_ms']:+} ms "
                f"| {row['bare_added_p50_ms']:+} / {row['bare_added_p99_ms']:+} ms "
                f"| {row['p50_over_bare_ms']:+} ms | {ratio} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter trials and a coarser search")
    parser.add_argument(
        "--setups", default=",".join(SETUPS), help="comma-separated subset of " + ", ".join(SETUPS)
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON results")
    parser.add_argument("--no-ttft", action="store_true", help="skip the TTFT table")
    parser.add_argument("--ttft-open", default="1,64,256", help="open streams per TTFT row")
    parser.add_argument("--start", type=int, default=32, help="streams of the first trial (default 32)")
    parser.add_argument("--max-streams", type=int, default=2048, help="stop doubling here (default 2048)")
    parser.add_argument(
        "--time-cap", type=float, help="seconds of search per endpoint (default 240, quick 75)"
    )
    parser.add_argument("--cpu-at", type=int, default=32, help="streams of the fixed-load trial (default 32)")
    parser.add_argument("--rig-ceiling", type=int, help="skip the rig search and take this as its ceiling")
    parser.add_argument(
        "--cpu-only", action="store_true", help="only CPU per token, three endpoints side by side"
    )
    parser.add_argument("--rounds", type=int, default=3, help="--cpu-only trials per endpoint (default 3)")
    parser.add_argument(
        "--ttft-only", action="store_true", help="only the TTFT table, open streams at 2 tokens/s"
    )
    parser.add_argument("--probes", type=int, help="--ttft-only probes per endpoint and row (default 200)")
    parser.add_argument(
        "--full-speed", action="store_true", help="only CPU per token at time-scale 0, beside the SDK helper"
    )
    args = parser.parse_args()
    args.tokens = 180 if args.quick else 270  # 2 s or 3 s answers
    args.seconds = 3.0 if args.quick else 6.0
    args.ttft_seconds = 4.0 if args.quick else 10.0
    args.ttft_probes = 25 if args.quick else 100
    args.resolution = 0.25 if args.quick else 0.12
    args.time_cap = args.time_cap or (75.0 if args.quick else 240.0)
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {RIG_CORE})
    started = time.monotonic()
    results: dict[str, Any] = {
        "command": " ".join(["benchmarks/capacity.py", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "tokens_per_answer": args.tokens,
        "trial_seconds": args.seconds,
    }
    with emulator_process(time_scale=1.0, cpu=RIG_CORE, extra=(*PROFILES, *HOLD_PROFILE)) as base_url:
        emulator_port = int(base_url.rsplit(":", 1)[1])
        direct = Target(emulator_port, "/v1/messages", True)
        if args.ttft_only:
            rows = [int(n) for n in args.ttft_open.split(",")]
            probes = args.probes or (60 if args.quick else 200)
            for setup in args.setups.split(","):
                print(f"{LABELS[setup]}:", flush=True)
                with server(setup, base_url) as (port, _proc):
                    results[setup] = asyncio.run(held_ttft_rows(port, emulator_port, rows, probes))
            results["load_average_at_end"] = os.getloadavg()
            print(json.dumps(results) if args.json else ttft_table(results, args.setups.split(",")))
            return
        if args.full_speed:
            results.update(full_speed_cpu(args.setups.split(","), args.rounds))
            results["load_average_at_end"] = os.getloadavg()
            print(json.dumps(results))
            if not args.json:
                print(full_speed_table(results, args.setups.split(",")))
            return
        if args.cpu_only:
            for setup in args.setups.split(","):
                results[setup] = cpu_side_by_side(setup, base_url, direct, args)
                print(f"{LABELS[setup]}: {json.dumps(results[setup])}", flush=True)
            results["load_average_at_end"] = os.getloadavg()
            print(
                json.dumps(results) if args.json else cpu_table(results, args.setups.split(","), args.cpu_at)
            )
            return
        if args.rig_ceiling:
            results["rig"] = {"streams_per_core": args.rig_ceiling, "capped": False, "given": True}
        else:
            print("rig (emulator + load generator, no server):", flush=True)
            results["rig"] = asyncio.run(search(direct, {"direct": direct}, "direct", None, base_url, args))
        for setup in args.setups.split(","):
            print(f"{LABELS[setup]}:", flush=True)
            entry: dict[str, Any] = {}
            with server(setup, base_url) as (port, proc):
                for name, path in (("firsttoken", "/api/chat"), ("hand-written", "/api/bare")):
                    target = Target(port, path, False)
                    entry[name] = asyncio.run(
                        search(target, {"through": target, "direct": direct}, "through", proc, base_url, args)
                    )
                if not args.no_ttft:
                    rows = [int(n) for n in args.ttft_open.split(",")]
                    entry["ttft"] = asyncio.run(ttft_rows(port, emulator_port, rows, args))
            results[setup] = entry
    results["seconds"] = round(time.monotonic() - started, 1)
    results["load_average_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(json.dumps(results))
    print()
    print(table(results, args.setups.split(","), args.cpu_at))


ENDPOINTS = {"firsttoken": "/api/chat", "sdk helper": "/api/helper", "bare": "/api/bare"}

# Answers, tokens in each, and how many at once: starlette_relay.py's CPU measure.
FULL_SPEED = (200, 500, 8)


def full_speed_cpu(setups: list[str], rounds: int) -> dict[str, Any]:
    """CPU per token at time-scale 0: each setup's two endpoints and the bare SDK-helper consumer."""
    streams, tokens, concurrency = FULL_SPEED
    samples: dict[str, list[float]] = {"consumer": []}
    for setup in setups:
        samples[f"{setup} firsttoken"], samples[f"{setup} hand-written"] = [], []
    with emulator_process(time_scale=0.0, cpu=RIG_CORE) as base_url:
        for _ in range(rounds):
            # The consumer on the servers' core too, so every figure is one core's time.
            cmd = [sys.executable, str(HERE / "starlette_relay.py"), "--bare", base_url]
            cmd += [str(streams), str(tokens), str(concurrency)]
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=True, preexec_fn=_pin_to_server_core
            ).stdout
            consumed = json.loads(out)
            assert consumed["tokens"] == streams * tokens, consumed
            samples["consumer"].append(consumed["cpu_s"] / consumed["tokens"] * 1e6)
            for setup in setups:
                with server(setup, base_url) as (port, proc):
                    for name, path in (("firsttoken", "/api/chat"), ("hand-written", "/api/bare")):
                        used = asyncio.run(_full_speed(port, path, proc, streams, tokens, concurrency))
                        samples[f"{setup} {name}"].append(used / (streams * tokens) * 1e6)
    medians = {name: round(statistics.median(v), 1) for name, v in samples.items()}
    return {
        "full_speed": {"streams": streams, "tokens": tokens, "concurrency": concurrency},
        "cpu_us_per_token": medians,
        "samples": {name: [round(x, 1) for x in v] for name, v in samples.items()},
    }


async def _full_speed(
    port: int, path: str, proc: psutil.Process, streams: int, tokens: int, concurrency: int
) -> float:
    """Server CPU seconds over `streams` whole answers read `concurrency` at once."""
    headers = {"x-emulator-output-tokens": str(tokens), "x-bench-model": "claude-haiku-5-5"}
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = f"http://127.0.0.1:{port}{path}"
    async with httpx2.AsyncClient(timeout=120, limits=limits) as http:
        limit = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with limit, http.stream("POST", url, json={}, headers=headers) as response:
                assert response.status_code == 200, await response.aread()
                tail = b""
                async for chunk in response.aiter_raw():
                    tail = (tail + chunk)[-4096:]
                # Every answer read to its end: firsttoken's closes with `done`, the bare relay's
                # with the emulator's last token.
                assert b"event: done" in tail or path == "/api/bare", tail

        await one()  # the connection and the first request's imports are not per token
        before = cpu_seconds(proc)
        await asyncio.gather(*(one() for _ in range(streams)))
        return cpu_seconds(proc) - before


def full_speed_table(results: dict[str, Any], setups: list[str]) -> str:
    cpu = results["cpu_us_per_token"]
    consumer = cpu["consumer"]
    lines = [
        "| setup | server CPU per token: firsttoken / hand-written relay | firsttoken ÷ the bare "
        "SDK-helper consumer (goal ≤ 0.5x) | hand-written ÷ consumer |",
        "|---|---|---|---|",
    ]
    for setup in setups:
        ours, floor = cpu[f"{setup} firsttoken"], cpu[f"{setup} hand-written"]
        ratios = f"{ours / consumer:.2f}x | {floor / consumer:.2f}x"
        lines.append(f"| {LABELS[setup]} | **{ours}** / {floor} µs | {ratios} |")
    lines.append(f"| the bare SDK-helper consumer (a script, no server) | {consumer} µs | | |")
    return "\n".join(lines)


def cpu_side_by_side(setup: str, base_url: str, direct: Target, args: argparse.Namespace) -> dict[str, Any]:
    """CPU per token of the three endpoints of one server at `--cpu-at` streams, in turns."""
    samples: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    with server(setup, base_url) as (port, proc):
        for _ in range(args.rounds):
            for name, path in ENDPOINTS.items():
                trial = asyncio.run(
                    run_trial(
                        Target(port, path, False),
                        {"direct": direct},
                        args.cpu_at,
                        args.tokens,
                        args.seconds,
                        proc,
                        base_url,
                    )
                )
                if trial.tokens and not trial.errors:
                    samples[name].append(trial.cpu_s / trial.tokens * 1e6)
    medians = {name: round(statistics.median(v), 1) if v else None for name, v in samples.items()}
    ours, helper, bare = medians["firsttoken"], medians["sdk helper"], medians["bare"]
    above = None
    if ours is not None and helper is not None and bare is not None and helper > bare:
        above = round((ours - bare) / (helper - bare), 2)
    return {
        "cpu_us_per_token": medians,
        "samples": {name: [round(x, 1) for x in v] for name, v in samples.items()},
        "firsttoken_over_helper": round(ours / helper, 2) if ours and helper else None,
        "above_floor_share": above,
    }


def cpu_table(results: dict[str, Any], setups: list[str], cpu_at: int) -> str:
    lines = [
        f"| setup | CPU per token at {cpu_at} streams: firsttoken / SDK helper / bare floor | firsttoken ÷ "
        "helper | firsttoken's CPU above the floor ÷ the helper's |",
        "|---|---|---|---|",
    ]
    for setup in setups:
        row = results[setup]
        cpu = row["cpu_us_per_token"]
        lines.append(
            f"| {LABELS[setup]} | **{cpu['firsttoken']}** / {cpu['sdk helper']} / {cpu['bare']} µs "
            f"| {row['firsttoken_over_helper']}x | {row['above_floor_share']}x |"
        )
    return "\n".join(lines)


def table(results: dict[str, Any], setups: list[str], cpu_at: int) -> str:
    def cell(found: dict[str, Any]) -> dict[str, str]:
        fixed = found["at_fixed"]
        cpu = fixed["cpu_us_per_token"]
        return {
            "streams": f"{found['streams_per_core']}{'+' if found['capped'] else ''}",
            "cpu": f"{cpu} µs" if cpu else "n/a",
            # What the CPU per token alone allows: one core's second over 90 tokens/s per stream.
            "implied": f"{1e6 / (cpu * TPS):.0f}" if cpu else "n/a",
            "ttft": f"+{fixed['added_p50_ms']} / +{fixed['added_p99_ms']} ms",
            "gap": f"{fixed['max_gap_ms']} ms",
        }

    lines = [
        f"| setup | streams per core (criteria met) | CPU per token at {cpu_at} streams | streams per core "
        f"that CPU allows | added TTFT p50 / p99 at {cpu_at} streams | largest gap at {cpu_at} streams |",
        "|---|---|---|---|---|---|",
    ]
    for setup in setups:
        fw, bare = cell(results[setup]["firsttoken"]), cell(results[setup]["hand-written"])
        lines.append(
            f"| {LABELS[setup]}: firsttoken / hand-written | **{fw['streams']}** / {bare['streams']} "
            f"| **{fw['cpu']}** / {bare['cpu']} | {fw['implied']} / {bare['implied']} "
            f"| {fw['ttft']} / {bare['ttft']} | {fw['gap']} / {bare['gap']} |"
        )
    rig = results["rig"]
    lines.append(f"| rig alone (emulator + load generator, no server) | {rig['streams_per_core']} | | | | |")
    out = "\n".join(lines)
    if any("ttft" in results[s] for s in setups):
        rows = [
            "",
            "",
            "| setup | open streams | firsttoken added p50 / p99 | hand-written added p50 / p99 |",
            "|---|---|---|---|",
        ]
        for setup in setups:
            for n, row in results[setup].get("ttft", {}).items():
                rows.append(
                    f"| {LABELS[setup]} | {n} | +{row['chat_added_p50_ms']} / +{row['chat_added_p99_ms']} ms "
                    f"| +{row['bare_added_p50_ms']} / +{row['bare_added_p99_ms']} ms |"
                )
        out += "\n".join(rows)
    return out


if __name__ == "__main__":
    main()
