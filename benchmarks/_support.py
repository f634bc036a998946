"""Shared by the benchmark scripts: an emulator in its own process, so it never shares our CPU clock,
and streams held open through an endpoint while something else is measured."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from firsttoken.testing.emulator import EmulatorProcess


@contextmanager
def emulator_process(
    *, time_scale: float = 0.0, cpu: int | None = None, extra: Sequence[str] = ()
) -> Iterator[str]:
    """`firsttoken emulate` in a child process (optionally pinned to one core); yields its base URL."""
    with EmulatorProcess(time_scale=time_scale, cpu=cpu, extra=extra) as emulator:
        yield emulator.base_url


async def hold_streams(
    port: int, request: bytes, count: int, *, batch: int | None = None
) -> list[asyncio.StreamWriter]:
    """Send `request` (raw HTTP/1.1) on `count` connections to `port`; returns once each has its
    first `event: token`, leaving them open. `batch` opens them that many at a time."""
    writers: list[asyncio.StreamWriter] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        writer.write(request)
        seen = b""
        while b"event: token" not in seen:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError("a held stream closed early")
            seen += chunk

    step = batch or max(count, 1)
    for start in range(0, count, step):
        await asyncio.gather(*(one() for _ in range(min(step, count - start))))
    return writers
