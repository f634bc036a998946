"""A client that can vanish mid-stream: raw sockets, so a test decides exactly when the peer goes away."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any


def open_stream(port: int, path: str, body: dict[str, Any]) -> socket.socket:
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    sock.sendall(head.encode() + payload)
    return sock


def read_until(sock: socket.socket, marker: bytes, count: int) -> bytes:
    """Read until `marker` was seen `count` times (or the server ended the response)."""
    received = b""
    while received.count(marker) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def drop(sock: socket.socket) -> None:
    """Vanish like a closed browser tab: a reset, so the server's next write fails at once."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
