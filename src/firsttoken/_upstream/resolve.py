"""Where calls go: a base URL, the real API, or the embedded emulator (the examples' contract).

Resolving opens nothing. The embedded emulator (a uvicorn thread on a loopback port) starts when
its address is first needed: the first client the engine builds, which comes right before the
first request, or `Upstream.start()` from a server about to serve. A `manage.py migrate`, a shell
or a test that makes no call never binds a port.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Literal

from .._errors import EngineClosedError, SettingsError
from .._redact import redact_url
from .._settings import Settings

if TYPE_CHECKING:
    from ..testing.emulator import Emulator

__all__ = ["Upstream", "resolve_upstream"]

logger = logging.getLogger("firsttoken")

ANTHROPIC_API = "https://api.anthropic.com"
# The emulator accepts any key; this one says in logs and request dumps what it is.
EMULATOR_KEY = "firsttoken-emulator-no-key"
# What keys shared state (response cache, warm locks) for every embedded emulator: their ports
# differ per process and per run, their answers do not.
EMULATOR_IDENTITY = "firsttoken-emulator"

Kind = Literal["base_url", "anthropic", "emulator"]

# The "no key, simulated answers" notice is said once per process: a command that builds its
# engine again (Django's `firsttoken_check` re-reads the settings) has nothing new to say.
_told = threading.Event()
_told_lock = threading.Lock()


def _first_time() -> bool:
    with _told_lock:
        if _told.is_set():
            return False
        _told.set()
        return True


class _Embedded:
    """The embedded emulator, started once, by the first thread that needs it.

    A forked child forgets the parent's emulator: the thread serving it does not exist in the
    child and the parent may exit first; the child starts its own at its first call, as the
    client pool builds its own clients (`clients.py`).
    """

    def __init__(self, time_scale: float) -> None:
        self._time_scale = time_scale
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._emulator: Emulator | None = None
        self._closed = False
        _embedded.add(self)

    def _forget_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._emulator = None

    @property
    def running(self) -> Emulator | None:
        return self._emulator if self._pid == os.getpid() else None

    def address(self) -> str:
        """The running emulator's URL, starting it first if this process has none."""
        emulator = self.running
        if emulator is not None:
            return emulator.base_url
        if self._pid != os.getpid():
            # A fork that bypassed os.register_at_fork (a raw syscall from C code).
            self._forget_after_fork()
        with self._lock:
            if self._closed:
                raise EngineClosedError(
                    "the embedded emulator was stopped with its engine; build a new Engine"
                )
            if self._emulator is None:
                # The server stack is imported here, not at start-up: most processes never need it.
                from ..testing.emulator import Emulator

                self._emulator = Emulator(time_scale=self._time_scale).start()
                logger.info("firsttoken: the embedded emulator is serving at %s", self._emulator.base_url)
            return self._emulator.base_url

    def close(self) -> None:
        with self._lock:
            self._closed = True
            emulator, self._emulator = self.running, None
        if emulator is not None:
            emulator.stop()


_embedded: weakref.WeakSet[_Embedded] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for each in list(_embedded):
        each._forget_after_fork()


os.register_at_fork(after_in_child=_forget_all_after_fork)


class Upstream:
    """Where calls go and with which key; building one opens nothing.

    `base_url` is the address the SDK clients use: for the embedded emulator, reading it is the
    emulator's first use and starts it. `describe()`, `identity` and `repr()` never start it.
    """

    __slots__ = ("_embedded", "_url", "api_key", "kind")

    def __init__(self, kind: Kind, base_url: str, api_key: str, *, emulator_time_scale: float = 1.0) -> None:
        self.kind: Kind = kind
        self._url = base_url
        # Never part of repr or any JSON we produce.
        self.api_key = api_key
        self._embedded = _Embedded(emulator_time_scale) if kind == "emulator" else None

    @property
    def base_url(self) -> str:
        if self._embedded is None:
            return self._url
        return self._embedded.address()

    @property
    def emulator(self) -> Emulator | None:
        """The embedded emulator while it runs in this process; None before its first use."""
        return None if self._embedded is None else self._embedded.running

    @property
    def identity(self) -> str:
        """What shared state is keyed by: the URL, or one name for every embedded emulator."""
        return self._url if self._embedded is None else EMULATOR_IDENTITY

    def start(self) -> Upstream:
        """Start the embedded emulator now (a server about to serve); nothing for other upstreams."""
        if self._embedded is not None:
            self._embedded.address()
        return self

    def close(self) -> None:
        """Stop the embedded emulator if it runs; it does not start again."""
        if self._embedded is not None:
            self._embedded.close()

    def __repr__(self) -> str:
        return f"Upstream(kind={self.kind!r}, base_url={self._known_url()!r})"

    def _known_url(self) -> str:
        """`base_url` without credentials if nothing has to start for it, else ""."""
        emulator = self.emulator
        if emulator is None:
            # What we print or return (repr, /api/metrics, start-up lines) never shows a password.
            return redact_url(self._url)
        try:
            return emulator.base_url
        except RuntimeError:  # stopped by a close() in another thread since
            return ""

    def describe(self) -> dict[str, str]:
        """JSON-safe: what a page banner or a start-up line may say. Starts nothing."""
        url = self._known_url()
        labels = {
            "base_url": f"the endpoint at {url}",
            "anthropic": "the Anthropic API",
            "emulator": f"the embedded firsttoken emulator at {url} (no API key set)"
            if url
            else "the embedded firsttoken emulator, started at the first call (no API key set)",
        }
        return {"kind": self.kind, "base_url": url, "description": labels[self.kind]}


def resolve_upstream(settings: Settings) -> Upstream:
    """`base_url` first, then an API key for the real API, then the emulator where development was
    asked for (fail closed: anywhere else, no key is an error naming ANTHROPIC_API_KEY)."""
    if settings.emulator != "always":
        if settings.base_url:
            return Upstream("base_url", settings.base_url.rstrip("/"), settings.api_key or EMULATOR_KEY)
        if settings.api_key:
            return Upstream("anthropic", ANTHROPIC_API, settings.api_key)
        if settings.emulator == "off":
            raise SettingsError(
                "ANTHROPIC_API_KEY",
                "not set, and no base URL, and the embedded emulator is off: set ANTHROPIC_API_KEY "
                "(or the api_key setting), or ANTHROPIC_BASE_URL",
            )
        if not settings.in_development:
            raise SettingsError(
                "ANTHROPIC_API_KEY",
                "not set (nor ANTHROPIC_BASE_URL), and this is not a development server: firsttoken "
                "will not answer with simulated text in production. Set ANTHROPIC_API_KEY, or for "
                "development set FIRSTTOKEN_DEVELOPMENT=1 (or run the framework in debug mode)",
            )
    if _first_time():
        logger.warning(
            "firsttoken: no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL set; the embedded emulator answers, "
            "started at the first call. Answers are simulated."
        )
    return Upstream("emulator", "", EMULATOR_KEY, emulator_time_scale=settings.emulator_time_scale)
