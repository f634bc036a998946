"""What this process has open (threads, sockets, files), to show that a step opened nothing.

Used in-process and by the subprocess scripts of `test_no_io_at_construction.py`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields

import psutil


@dataclass(frozen=True)
class Opened:
    threads: frozenset[str]
    # The kernel's view too: a thread started from C code is not in threading.enumerate().
    native_threads: frozenset[int]
    sockets: frozenset[str]
    files: frozenset[str]

    def new_since(self, before: Opened) -> dict[str, list[str]]:
        """What is open now and was not `before`, by kind; empty when nothing was opened."""
        new = {
            f.name: sorted(map(str, getattr(self, f.name) - getattr(before, f.name))) for f in fields(self)
        }
        return {kind: items for kind, items in new.items() if items}


def opened() -> Opened:
    process = psutil.Process()
    return Opened(
        threads=frozenset(f"{t.name}#{t.ident}" for t in threading.enumerate()),
        native_threads=frozenset(t.id for t in process.threads()),
        # kind="all" takes Unix sockets too; a listening port shows as its laddr with LISTEN.
        sockets=frozenset(
            f"fd={c.fd} {c.type.name} {c.laddr} -> {c.raddr} {c.status}"
            for c in process.net_connections(kind="all")
        ),
        files=frozenset(f"fd={f.fd} {f.path}" for f in process.open_files()),
    )


def emulator_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("firsttoken-emulator")]
