"""What can be told of the server a Django project runs under, for the deployment checks.

gunicorn's default worker class, `sync`, serves one request at a time per process and cannot
stream safely: one client that never reads blocks the worker until gunicorn's `timeout` kills
it, and every answer longer than that timeout is cut. `gthread` (or an async worker) streams.

gunicorn reads its settings from its command line, `GUNICORN_CMD_ARGS` and `./gunicorn.conf.py`
(its default config file). `manage.py check` run beside the server (a deploy step, a container
with the same environment) sees the last two; a check run in the server's own process sees its
command line too. At request time the WSGI environ says it for sure: gunicorn's sync worker is
the one that sets `wsgi.multithread` false.
"""

from __future__ import annotations

import ast
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GunicornConfig", "gunicorn_config", "is_sync_gunicorn"]

_SETTINGS = ("worker_class", "threads", "timeout", "graceful_timeout")


@dataclass(frozen=True)
class GunicornConfig:
    worker_class: str = "sync"
    threads: int = 1
    timeout: float = 30.0
    graceful_timeout: float = 30.0
    source: str = ""

    @property
    def streams_safely(self) -> bool:
        # gunicorn runs the sync class with more than one thread as gthread.
        return not (self.worker_class in ("sync", "gunicorn.workers.sync.SyncWorker") and self.threads <= 1)


def gunicorn_config(
    *, environ: Mapping[str, str] | None = None, argv: list[str] | None = None, cwd: Path | None = None
) -> GunicornConfig | None:
    """gunicorn's settings where they can be found (later sources win, as in gunicorn), or None."""
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    found: dict[str, Any] = {}
    sources: list[str] = []
    conf = (cwd or Path.cwd()) / "gunicorn.conf.py"
    if conf.is_file():
        values = _from_conf_file(conf)
        if values:
            found.update(values)
            sources.append(str(conf.name))
    if environ.get("GUNICORN_CMD_ARGS"):
        given = _from_args(shlex.split(environ["GUNICORN_CMD_ARGS"]))
        if given is not None:
            found.update(given)
            sources.append("GUNICORN_CMD_ARGS")
    if argv and "gunicorn" in Path(argv[0]).name:
        given = _from_args(argv[1:])
        if given is not None:
            found.update(given)
            sources.append("the command line")
    if not sources:
        return None
    return GunicornConfig(
        worker_class=str(found.get("worker_class") or "sync"),
        threads=int(found.get("threads") or 1),
        timeout=float(found["timeout"]) if found.get("timeout") is not None else 30.0,
        graceful_timeout=float(found["graceful_timeout"])
        if found.get("graceful_timeout") is not None
        else 30.0,
        source=" and ".join(sources),
    )


def is_sync_gunicorn(meta: Mapping[str, Any]) -> bool:
    """A request served by gunicorn's sync worker (its environ is the only one without threads)."""
    return (
        str(meta.get("SERVER_SOFTWARE", "")).startswith("gunicorn") and meta.get("wsgi.multithread") is False
    )


def _from_args(args: list[str]) -> dict[str, Any] | None:
    try:
        from gunicorn.config import Config
    except ImportError:
        return None
    try:
        parsed, _ = Config().parser().parse_known_args(args)
    except SystemExit:  # a bad flag: gunicorn itself will say so at start-up
        return None
    return {name: getattr(parsed, name) for name in _SETTINGS if getattr(parsed, name, None) is not None}


def _from_conf_file(path: Path) -> dict[str, Any]:
    """Plain assignments of literals (`worker_class = "gthread"`): read, never executed."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return {}
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in _SETTINGS:
                try:
                    values[name] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return values
