"""`firsttoken emulate`: serve the Messages API emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

__all__ = ["emulate"]


def _parse_each(param: click.Parameter | None, values: tuple[str, ...], parse: Any) -> list[Any]:
    out = []
    for value in values:
        try:
            out.append(parse(value))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param=param) from None
    return out


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default)."
)
@click.option(
    "--port", default=8787, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Multiplies every delay; 0 answers as fast as possible.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of generated text, timing and faults."
)
@click.option(
    "--fault", "faults", multiple=True, metavar="KIND[:RATE][@MODEL]", help="Inject a fault; repeatable."
)
@click.option(
    "--model-profile",
    "profiles",
    multiple=True,
    metavar="FAMILY:P50_MS,P95_MS,TPS[,MIN_CACHE]",
    help="Override a family's timing, e.g. haiku:200,600,150; repeatable.",
)
@click.option(
    "--rate-limit",
    "rate_limits",
    multiple=True,
    metavar="[GLOB:]rpm=N,itpm=N,otpm=N",
    help="Per-minute limits for matching models; repeatable.",
)
@click.option(
    "--max-body-size",
    default=32 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest request body in bytes; larger ones get 413.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="uvicorn's access log.")
@click.option(
    "--tls/--no-tls",
    default=False,
    show_default=True,
    help="Serve HTTPS with a self-signed certificate made at start; prints the CA file clients must "
    "trust (SSL_CERT_FILE=<it>).",
)
@click.pass_context
def emulate(
    ctx: click.Context,
    host: str,
    port: int,
    time_scale: float,
    seed: int,
    faults: tuple[str, ...],
    profiles: tuple[str, ...],
    rate_limits: tuple[str, ...],
    max_body_size: int,
    access_log: bool,
    tls: bool,
) -> None:
    """Serve an emulator of Anthropic's Messages API on HOST:PORT."""
    # Imported here so `firsttoken --help` stays fast and works even if the emulator is broken.
    from ..testing.emulator import EmulatorConfig, parse_fault, parse_model_profile, parse_rate_limit
    from ..testing.emulator.app import create_app
    from ..testing.emulator.server import bind_socket, make_server
    from ..testing.emulator.tls import SelfSigned

    params = {p.name: p for p in ctx.command.params}
    parsed_faults = _parse_each(params["faults"], faults, parse_fault)
    timings = dict(_parse_each(params["profiles"], profiles, parse_model_profile))
    limits = _parse_each(params["rate_limits"], rate_limits, parse_rate_limit)
    config = EmulatorConfig(
        time_scale=time_scale,
        seed=seed,
        faults=parsed_faults,
        timings=timings,
        rate_limits=limits,
        max_body_bytes=max_body_size,
    )
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.BadParameter(f"cannot bind {host}:{port}: {exc.strerror}", param=params["port"]) from None
    bound_port = sock.getsockname()[1]
    try:
        certificate = SelfSigned() if tls else None
    except RuntimeError as exc:  # trustme missing: the message says what to install
        sock.close()
        raise click.ClickException(str(exc)) from None
    server = make_server(
        create_app(config),
        access_log=access_log,
        log_level="info" if access_log else "warning",
        tls=certificate,
    )

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        # uvicorn offers a flag, not an event, for "listening"; polling it is the only way in.
        while not server.started and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if server.started:
            shown = f"[{host}]" if ":" in host else host
            scheme = "https" if certificate is not None else "http"
            click.echo(f"firsttoken emulator listening on {scheme}://{shown}:{bound_port}")
            if certificate is not None:
                click.echo(f"firsttoken emulator CA certificate: {certificate.ca_path}")
            sys.stdout.flush()
        await task

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it handled once it has shut down cleanly.
        pass
    finally:
        sock.close()
        if certificate is not None:
            certificate.close()
