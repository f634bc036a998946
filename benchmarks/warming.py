"""Warming, against the HTTPS emulator (a certificate made at start, so handshakes are paid).

1. Start-up warm-up: a fresh server's first `POST /api/chat` time to first token minus the same
   server's steady one (median of the next ones), with `FIRSTTOKEN_WARM_UP` on and off, per
   framework and server: Starlette and FastAPI under uvicorn, Flask and Django under gunicorn
   (gthread), Django under uvicorn (ASGI). Emulator at time-scale 0: TTFT is transport and code.
   A fresh process per round; rounds alternate on and off.
2. Warming while the user types: the next turn's TTFT after a conversation of about 20K tokens
   whose prefix is not in the cache (the user came back after the TTL, or reloaded the page),
   without and with a `POST /api/warm` while they type, against the TTFT of the same turn when the
   whole conversation is a cache hit; and what the warms wrote to the cache. Emulator at time
   scale 1 with a fixed base TTFT (p50 = p95 = 400 ms on sonnet), so the difference is the
   emulator's prefill model: 0.16 ms per uncached token, a twentieth of that per cached one.

TTFT is measured by the client, from sending the request to reading the first `token` event, over
a connection to the server opened (by `GET /healthz`) before the clock starts.

The first request comes after a pause (the 0.5 s a deploy gives the warm-up), and a process that
has been idle answers its next request more slowly than one answering back to back (its caches
have gone cold, whatever the code has done before). So beside "steady" (the median of the next
requests, back to back), each process also answers three requests after the same pause: "first
minus paused" is what a cold start costs over that, and is the figure warm-up can bring to zero.

Run: .venv/bin/python benchmarks/warming.py [--rounds N]   (about 4 minutes)
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firsttoken.testing.emulator.process import EmulatorProcess
from tests.e2e.servers import run_server

GUNICORN = ("-m", "gunicorn", "--bind", "127.0.0.1:{port}", "-k", "gthread", "--threads", "8", "-w", "1")
SERVERS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "starlette (uvicorn)": (("-m", "example_projects.starlette_chat"), {}),
    "fastapi (uvicorn)": (("-m", "example_projects.starlette_chat"), {"APP": "fastapi"}),
    "flask (gunicorn)": ((*GUNICORN, "example_projects.flask_chat.wsgi:app"), {}),
    "django wsgi (gunicorn)": (
        (*GUNICORN, "example_projects.django_chat.wsgi:application"),
        {"DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings"},
    ),
    "django asgi (uvicorn)": (
        (
            "-m",
            "uvicorn",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "example_projects.django_chat.asgi:application",
        ),
        {"DJANGO_SETTINGS_MODULE": "example_projects.django_chat.settings"},
    ),
}
STEADY = 10
PAUSE = 0.5
PAUSED = 3
HELLO = {"messages": [{"role": "user", "content": "Hello there"}], "profile": "fast"}
# Sonnet's input price ($/MTok) and the 5-minute cache write multiplier, for the warms' cost.
SONNET_INPUT = 3.0
WRITE = 1.25


def ttft(client: httpx2.Client, body: dict[str, Any]) -> float:
    """Seconds from sending the request to the first `token` event; the stream is read to its end."""
    started = time.perf_counter()
    first = None
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200, response.read()
        buffer = b""
        for chunk in response.iter_bytes():
            if first is None:
                buffer += chunk
                if b"event: token" in buffer:
                    first = time.perf_counter() - started
    assert first is not None, "no token"
    return first


def server_env(emulator: EmulatorProcess, extra: dict[str, str]) -> dict[str, str]:
    assert emulator.ca_path is not None
    return {
        "ANTHROPIC_BASE_URL": emulator.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key",
        # The SDK's httpx trusts the emulator's throwaway CA, and only through this variable.
        "SSL_CERT_FILE": emulator.ca_path,
        "FIRSTTOKEN_DEVELOPMENT": "1",
        **extra,
    }


def warm_the_emulator(emulator: EmulatorProcess) -> None:
    """The emulator's own first requests are cold too; that is not the server's cold start."""
    assert emulator.ca_path is not None
    context = ssl.create_default_context(cafile=emulator.ca_path)
    with anthropic.Anthropic(
        api_key="k", base_url=emulator.base_url, http_client=httpx2.Client(verify=context)
    ) as client:
        for _ in range(5):
            with client.messages.stream(
                model="claude-haiku-5", max_tokens=20, messages=[{"role": "user", "content": "Hello there"}]
            ) as s:
                s.until_done()


def first_minus_steady(
    emulator: EmulatorProcess, rounds: int, only: list[str] | None = None
) -> dict[str, dict[str, list[float]]]:
    warm_the_emulator(emulator)
    results: dict[str, dict[str, list[float]]] = {}
    for name, (argv, env) in SERVERS.items():
        if only and not any(part in name for part in only):
            continue
        results[name] = {
            "on": [],
            "off": [],
            "on_first": [],
            "off_first": [],
            "on_steady": [],
            "off_steady": [],
            "on_paused": [],
            "off_paused": [],
        }
        for r in range(rounds):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                warm = {"FIRSTTOKEN_WARM_UP": "1" if mode == "on" else "0"}
                with (
                    run_server(argv, env=server_env(emulator, {**env, **warm})) as server,
                    httpx2.Client(base_url=server.url, timeout=30) as client,
                ):
                    client.get("/healthz")
                    # The warm-up runs while the server starts; give it the time a deploy would.
                    time.sleep(PAUSE)
                    first = ttft(client, HELLO)
                    steady = statistics.median(ttft(client, HELLO) for _ in range(STEADY))
                    paused = []
                    for _ in range(PAUSED):
                        time.sleep(PAUSE)
                        paused.append(ttft(client, HELLO))
                results[name][mode].append((first - steady) * 1000)
                results[name][f"{mode}_paused"].append((first - statistics.median(paused)) * 1000)
                results[name][f"{mode}_first"].append(first * 1000)
                results[name][f"{mode}_steady"].append(steady * 1000)
        m = {key: statistics.median(values) for key, values in results[name].items()}
        print(
            f"{name:24s} first - steady: warm-up on {m['on']:7.2f} ms, off {m['off']:7.2f} ms; "
            f"first - paused: on {m['on_paused']:7.2f} ms, off {m['off_paused']:7.2f} ms  "
            f"(first on {m['on_first']:.1f}, off {m['off_first']:.1f}; steady {m['on_steady']:.1f} ms)",
            flush=True,
        )
    return results


def conversation(i: int) -> list[dict[str, str]]:
    # About 20K tokens by the 4-characters rule, different in every round so nothing is cached.
    text = f"Round {i}: notes on streaming, caching and latency in web endpoints. " * 1150
    return [
        {"role": "user", "content": text},
        {
            "role": "assistant",
            "content": f"Round {i}: the notes say that a cached prefix is read, not prefilled.",
        },
    ]


def typing_ahead(emulator: EmulatorProcess, rounds: int) -> None:
    warm_the_emulator(emulator)
    argv, env = SERVERS["starlette (uvicorn)"]
    cold, warmed, hit, written = [], [], [], []
    with (
        run_server(argv, env=server_env(emulator, env)) as server,
        httpx2.Client(base_url=server.url, timeout=120) as client,
    ):
        client.get("/healthz")
        for i in range(rounds):
            # Without warming: the next turn of a conversation whose prefix is not in the cache.
            so_far = conversation(2 * i)
            turn = {"messages": [*so_far, {"role": "user", "content": "So what next?"}], "profile": "chat"}
            cold.append(ttft(client, turn))
            # With warming: the page's `/api/warm` while the user types, then the same next turn.
            so_far = conversation(2 * i + 1)
            answer = client.post("/api/warm", json={"messages": so_far, "profile": "chat"}).json()
            assert answer == {"warmed": True}, answer
            turn = {"messages": [*so_far, {"role": "user", "content": "So what next?"}], "profile": "chat"}
            warmed.append(ttft(client, turn))
            # The same turn again: the whole conversation is read from the cache.
            hit.append(ttft(client, turn))
        ahead = client.get("/api/metrics").json()["warm_ahead"]
        written.append(ahead["warm_cache_creation_input_tokens"])
    c, w, h = (statistics.median(x) * 1000 for x in (cold, warmed, hit))
    tokens = written[0] / max(1, rounds)
    print(
        f"next turn after ~20K tokens: no warm {c:7.1f} ms, warmed while typing {w:7.1f} ms, "
        f"cache hit {h:7.1f} ms -> warmed is {100 * (w / h - 1):+.1f}% of a hit; no warm is {c / h:.1f}x"
    )
    dollars = tokens * SONNET_INPUT * WRITE / 1e6
    print(
        f"each warm wrote {tokens:.0f} tokens to the cache: ${dollars:.4f} on sonnet (the turn without "
        f"a warm writes the same prefix itself: {SONNET_INPUT * WRITE:.2f} $/MTok either way)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--start-up-only", action="store_true", help="skip warming while typing")
    parser.add_argument("--servers", help="comma-separated substrings of the server names to run")
    args = parser.parse_args()
    with EmulatorProcess(time_scale=0.0, tls=True) as fast:
        print(f"HTTPS emulator at {fast.base_url}, time-scale 0", flush=True)
        first_minus_steady(fast, args.rounds, args.servers.split(",") if args.servers else None)
    if args.start_up_only:
        return
    fixed = ("--model-profile", "sonnet:400,400,90", "--model-profile", "haiku:200,200,150")
    with EmulatorProcess(time_scale=1.0, tls=True, extra=fixed) as real:
        print(f"HTTPS emulator at {real.base_url}, time-scale 1, fixed base TTFT", flush=True)
        typing_ahead(real, args.rounds)


if __name__ == "__main__":
    main()
