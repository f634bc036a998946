"""`Emulator`: the ASGI app served by uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType
from typing import Any, Literal

import uvicorn

from .app import EmulatorApp, create_app
from .config import EmulatorConfig
from .tls import SelfSigned

__all__ = ["Emulator", "http_parser", "make_server"]

logger = logging.getLogger("firsttoken.emulator")
access_logger = logging.getLogger("firsttoken.emulator.access")

# The threads that serve an `Emulator`: what `_ServerRecords` tells apart from the app's server.
THREAD_PREFIX = "firsttoken-emulator:"

# Seconds stop() lets open streams finish before uvicorn cuts them; long streams at time-scale 1
# would otherwise hold shutdown for as long as their answers last.
GRACEFUL_SHUTDOWN_SECONDS = 1


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this on Linux. uvloop does not set it per connection, and without it
    # the first event after the headers waits ~40 ms for the client's delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


KEEP_ALIVE_SECONDS = 60

Parser = Literal["httptools", "h11"]


def http_parser() -> Parser:
    """httptools when it is installed (the fast parser: `[starlette]`, `[fastapi]` and `[all]` bring
    it), else h11, which plain `uvicorn`, a core dependency, always brings."""
    try:
        import httptools  # noqa: F401  (imported by the protocol next anyway)
    except ImportError:
        return "h11"
    return "httptools"


class _Embedded:
    """An embedded emulator's HTTP protocol: it logs under `firsttoken.emulator` only.

    uvicorn's protocols log to the process-wide "uvicorn.error" and "uvicorn.access" loggers, and
    write access lines whenever "uvicorn.access" has handlers: inside an app served by uvicorn
    those are the app's, so the emulator's requests would be logged as the app's own. Here its
    access lines go to `firsttoken.emulator.access`, and only with `Emulator(access_log=True)`.
    """

    logger: logging.Logger
    access_logger: logging.Logger
    access_log: bool
    writes_access_lines = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = logger
        self.access_logger = access_logger
        self.access_log = self.writes_access_lines


def _embedded_protocol(parser: Parser, access_log: bool) -> type[asyncio.Protocol]:
    # Imported here: uvicorn's httptools protocol imports httptools at its top.
    if parser == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        class EmbeddedHttpTools(_Embedded, HttpToolsProtocol):
            writes_access_lines = access_log

        return EmbeddedHttpTools
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class EmbeddedH11(_Embedded, H11Protocol):
        writes_access_lines = access_log

    return EmbeddedH11


class _ServerRecords(logging.Filter):
    """Drops the informational records an embedded emulator's server writes to "uvicorn.error".

    uvicorn's `Server` logs its lifecycle ("Started server process", "Shutting down") on a
    module-level "uvicorn.error" logger, the one the app's own uvicorn logs to. This filter leaves
    every record of the app's threads as it is and lets the emulator's warnings and errors through;
    it changes no level, handler or propagation, which belong to whoever configured logging.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        ours = (record.threadName or "").startswith(THREAD_PREFIX)
        return not ours or record.levelno >= logging.WARNING


_server_records = _ServerRecords()


def make_server(
    app: EmulatorApp,
    *,
    log_level: str | None = None,
    access_log: bool = False,
    tls: SelfSigned | None = None,
    parser: Parser | None = None,
) -> uvicorn.Server:
    """A uvicorn server for the emulator `app`, on httptools when installed (`parser` forces one).

    `log_level` None (embedded in someone's process): uvicorn's logging configuration is left
    alone, the emulator's protocol messages go to `firsttoken.emulator`, and its access lines, with
    `access_log`, to `firsttoken.emulator.access`. A `log_level` (`firsttoken emulate`, whose
    process is the emulator's): uvicorn sets up its loggers as its own command line does, with
    access lines when `access_log`.
    """
    # HTTPS when `tls` is given: its PEM holds the key and the chain, for both of uvicorn's options.
    certificate = {} if tls is None else {"ssl_certfile": tls.cert_path, "ssl_keyfile": tls.cert_path}
    chosen = parser or http_parser()
    if log_level is None:
        # uvicorn's Config applies `log_config`, `log_level` and `access_log=False` to the
        # process-wide uvicorn loggers: None, None and True leave them as the app's server set them.
        logs: dict[str, Any] = {"log_config": None, "log_level": None, "access_log": True}
        http: Any = _embedded_protocol(chosen, access_log)
        logging.getLogger("uvicorn.error").addFilter(_server_records)
    else:
        logs = {"log_level": log_level, "access_log": access_log}
        http = chosen
    config = uvicorn.Config(
        app,
        lifespan="off",
        **logs,
        http=http,
        # No WebSocket is served: uvicorn's "auto" loads an implementation anyway, which before
        # uvicorn 0.50 is websockets' legacy module, a DeprecationWarning on import since websockets 14.
        ws="none",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        backlog=2048,
        # Longer than the SDK's pool keeps an idle connection (httpx: 5 s), as the API's front end
        # is: with uvicorn's 5 s both ends closed at once, and a request sent on a connection the
        # emulator was closing failed with no response (a race the real API does not have).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **certificate,  # type: ignore[arg-type]
    )
    return uvicorn.Server(config)


class Emulator:
    """A running emulator: `start()` it, point the SDK at `base_url`, `stop()` it.

    Accepts an `EmulatorConfig` or the config's keyword arguments (`time_scale=0.0, seed=0, ...`).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
        tls: bool = False,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise TypeError("pass either an EmulatorConfig or keyword options, not both")
        self.config = config if config is not None else EmulatorConfig(**options)
        self.app = create_app(self.config)
        self.host = host
        self._requested_port = port
        self._access_log = access_log
        # HTTPS with a certificate made at start (`tls.py`); `ca_path` is what clients trust.
        self._tls_wanted = tls
        self._tls: SelfSigned | None = None
        self._state: Literal["unopened", "open", "closed"] = "unopened"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        # Two threads calling start() at once get one server; stop() waits for a start under way.
        self._lifecycle = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Emulator:
        with self._lifecycle:
            return self._start(timeout)

    def _start(self, timeout: float) -> Emulator:
        if self._state == "open":
            return self
        if self._state == "closed":
            raise RuntimeError("this Emulator was stopped; create a new one")
        sock = bind_socket(self.host, self._requested_port)
        self._port = sock.getsockname()[1]
        if self._tls_wanted:
            self._tls = SelfSigned()
        server = make_server(self.app, access_log=self._access_log, tls=self._tls)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # surfaced to the starting thread below
                failure.append(exc)
            finally:
                sock.close()

        self._server = server
        self._thread = threading.Thread(target=run, name=f"{THREAD_PREFIX}{self._port}", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not server.started and self._thread.is_alive() and waited < timeout:
            deadline.wait(0.005)
            waited += 0.005
        if not server.started:
            self._state = "closed"
            server.should_exit = True
            cause = f"{type(failure[0]).__name__}: {failure[0]}" if failure else "timed out"
            raise RuntimeError(f"emulator failed to start on {self.host}:{self._port}: {cause}")
        self._state = "open"
        return self

    def stop(self) -> None:
        with self._lifecycle:
            if self._state != "open":
                self._state = "closed"
                return
            self._state = "closed"
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 10)
        if self._tls is not None:
            self._tls.close()

    close = stop

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- where and what --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._state != "open" or self._port is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._tls_wanted else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def ca_path(self) -> str | None:
        """The CA certificate (PEM) a client must trust to reach an HTTPS emulator; None on HTTP."""
        return None if self._tls is None else self._tls.ca_path

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests

    def reset(self) -> None:
        self.app.reset()

    def set_faults(self, faults: list[str] | tuple[object, ...] | list[Any]) -> None:
        self.app.set_faults(list(faults))

    def __repr__(self) -> str:
        where = f" {self.base_url}" if self._state == "open" else ""
        return f"<Emulator {self._state}{where} time_scale={self.config.time_scale}>"
