"""Redaction of what may be a secret, before anything we print, log or return shows it.

Two things leak in practice: a URL with credentials in it (`http://user:pass@proxy`) and a key
pasted into the wrong variable (`FIRSTTOKEN_TIMEOUT=sk-ant-...`), which a settings error would
otherwise quote back. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["HIDDEN", "looks_secret", "redact_url", "scrub", "shown"]

HIDDEN = "<hidden: it looks like a secret>"

# Anthropic keys and the usual shapes of other providers' keys and tokens.
_KEY_PREFIXES = ("sk-", "sk_", "pk_", "rk_", "ghp_", "gho_", "xox", "AKIA", "Bearer ")
# A long run of token characters with letters and digits mixed, as random keys are; ordinary
# setting values (numbers, variable names, model ids with dashes between words, paths) do not
# look like it: few separators, and lower-case letters with digits.
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+/.]{24,}")
_SEPARATORS = frozenset("-_./+")


def looks_secret(value: object) -> bool:
    """Whether `value` may be a credential: a key's prefix, a URL with userinfo, or a long random token."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if text.startswith(_KEY_PREFIXES):
        return True
    if "://" in text and "@" in text.split("://", 1)[1].split("/", 1)[0]:
        return True
    for run in _TOKENISH.findall(text):
        separators = sum(c in _SEPARATORS for c in run)
        mixed = any(c.isdigit() for c in run) and any(c.islower() for c in run)
        if mixed and separators * 10 < len(run):
            return True
    return False


# What `scrub` looks at in a finished message: quoted values, URLs, and bare words.
_PIECES = re.compile(r"'[^']*'|\"[^\"]*\"|[A-Za-z][A-Za-z0-9+.-]*://\S+|\S+")


def scrub(text: str) -> str:
    """`text` with every piece that looks like a secret (quoted or bare) replaced by `HIDDEN`."""

    def one(match: re.Match[str]) -> str:
        piece = match.group(0)
        inner = piece[1:-1] if piece[:1] in "'\"" and len(piece) > 1 else piece
        return HIDDEN if looks_secret(inner) else piece

    return _PIECES.sub(one, text)


def shown(value: object) -> str:
    """`repr(value)` for an error message, unless it looks like a secret."""
    return HIDDEN if looks_secret(value) else repr(value)


def redact_url(url: str) -> str:
    """`url` with any user name and password replaced by `***` (and nothing else changed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "<an unparseable URL>"
    if "@" not in parts.netloc or host is None:
        return url
    netloc = host if ":" not in host else f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, f"***@{netloc}", parts.path, parts.query, parts.fragment))
