"""What every framework's `console()` mount must answer, checked the same way in the three.

Each test module hands `served` and `refused` a `get(path) -> (status, headers, body)` over its own
test client and mount prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from firsttoken.console import CONTENT_SECURITY_POLICY, OWNER_COOKIE, REFUSAL, STATIC_DIR

Get = Callable[[str], tuple[int, Mapping[str, str], bytes]]

# Every path a browser loads from the console, and one of the chat API's.
PATHS = (
    "",
    "dashboard",
    "static/chat.js",
    "static/vendor/uPlot.iife.min.js",
    "api/metrics",
    "api/chat/held-1/messages",
)


def served(get: Get) -> None:
    status, headers, body = get("")
    assert status == 200, body[:300]
    assert headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert OWNER_COOKIE in headers.get("set-cookie", "")
    # Relative URLs only: the page works under any prefix.
    assert b'src="static/chat.js"' in body and b'src="/' not in body
    status, headers, body = get("dashboard")
    assert status == 200 and b"static/dashboard.js" in body
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    status, headers, body = get("static/chat.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert body == (STATIC_DIR / "chat.js").read_bytes()
    status, headers, body = get("static/vendor/uPlot.min.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    # Only the package's own files: no other name reaches the file system.
    for name in ("nope.js", "../__init__.py", "..%2F__init__.py", "vendor/../../__init__.py"):
        status, _, body = get(f"static/{name}")
        assert status == 404, (name, status)


def refused(get: Get) -> None:
    for path in PATHS:
        status, headers, body = get(path)
        assert status == 403, (path, status, body[:300])
        assert headers["content-type"].startswith("application/json")
        assert REFUSAL["error"] in body.decode()
        assert "set-cookie" not in headers
