"""The process's engine, built from the settings at start-up and rebuilt when they change."""

from __future__ import annotations

import logging
import os
import threading

from firsttoken import Engine, FirstTokenError, Settings, SettingsError

from .conf import load_settings

__all__ = ["close_engine", "get_engine", "get_settings", "refuse_to_serve", "reload_engine"]

logger = logging.getLogger("firsttoken_django")

_lock = threading.Lock()
_engine: Engine | None = None
# Why the last build failed; raised again on every use so a bad setting cannot be missed, while
# `ready()` stays quiet and lets the system checks explain it.
_failure: FirstTokenError | None = None
# The engine and process that warmed up last (a rebuilt engine or a forked worker warms again).
_warmed: tuple[int, int] | None = None


def reload_engine() -> None:
    """Build a new engine from the current settings and close the old one (idempotent on failure)."""
    global _engine, _failure
    with _lock:
        old, _engine, _failure = _engine, None, None
        try:
            _engine = Engine(load_settings())
        except FirstTokenError as exc:
            _failure = exc
            logger.debug("firsttoken engine not built: %s", exc)
    if old is not None:
        old.close()


def get_engine() -> Engine:
    """The engine built from `settings.FIRSTTOKEN`; raises the settings error if that failed."""
    engine = _engine
    if engine is not None:
        return engine
    with _lock:
        if _engine is not None:
            return _engine
        if _failure is not None:
            raise _failure
    # Used before the app's ready() ran (a script that calls django.setup() later, say).
    reload_engine()
    return get_engine()


def refuse_to_serve() -> None:
    """Raise a start-up failure that came from the environment (no API key outside development,
    a mistyped `FIRSTTOKEN_*` variable): a server must not start with it. `ready()` keeps it quiet
    for `check` and `migrate`; a bad `settings.FIRSTTOKEN` key is the system checks' to report,
    and raises on every use of the engine."""
    failure = _failure
    if isinstance(failure, SettingsError) and failure.key.startswith(("ANTHROPIC_", "FIRSTTOKEN_")):
        raise failure


def _to_warm() -> Engine | None:
    """The engine, if this process has not warmed it yet (a rebuilt engine or a fork warms again)."""
    global _warmed
    engine = _engine
    if engine is None or _warmed == (id(engine), os.getpid()):
        return None
    _warmed = (id(engine), os.getpid())
    return engine


def warm_up() -> None:
    """Warm the engine once per process as a WSGI server loads the app (`FirstTokenMiddleware`),
    for at most `warm_up_timeout` seconds. A test client builds the middleware for each client:
    the engine warms once, at the first."""
    engine = _to_warm()
    if engine is not None:
        engine.warm_up()


async def awarm_up() -> None:
    """Warm the engine on the ASGI server's loop, at its lifespan startup (`asgi.py`)."""
    engine = _to_warm()
    if engine is not None:
        await engine.awarm_up()


def get_settings() -> Settings:
    return get_engine().settings


def close_engine() -> None:
    global _engine
    with _lock:
        engine, _engine = _engine, None
    if engine is not None:
        engine.close()
